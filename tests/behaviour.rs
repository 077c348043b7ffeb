//! Behaviour metrics, failure patterns, the update schedule and change detection, all with
//! a fixed clock: every "today" and "now" below is a literal.

use std::collections::HashMap;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use grow::coach::behaviour::{
    Commitment, CommitmentStatus, Metrics, MetricsConfig, PatternKind, UpdatePolicy, checkin_days,
    compute_metrics, detect_change, is_update_due,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

/// Every day from `from` to `to`, inclusive.
fn span(from: &str, to: &str) -> Vec<NaiveDate> {
    d(from).iter_days().take_while(|x| *x <= d(to)).collect()
}

fn metrics(checkins: &[NaiveDate], commitments: &[Commitment], today: &str) -> Metrics {
    compute_metrics(checkins, commitments, d(today), &MetricsConfig::default())
}

fn commitment(id: i64, due: Option<&str>, status: CommitmentStatus) -> Commitment {
    Commitment {
        id,
        created: d("2026-01-01"),
        due: due.map(d),
        status,
    }
}

fn done(on: &str) -> CommitmentStatus {
    CommitmentStatus::Done { on: d(on) }
}

fn missed(on: &str) -> CommitmentStatus {
    CommitmentStatus::Missed { on: d(on) }
}

fn has(m: &Metrics, kind: PatternKind) -> bool {
    m.patterns.iter().any(|p| p.kind == kind)
}

fn summary(m: &Metrics, kind: PatternKind) -> String {
    m.patterns
        .iter()
        .find(|p| p.kind == kind)
        .map(|p| p.summary.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- streaks and consistency

#[test]
fn streak_runs_across_a_month_end() {
    let m = metrics(&span("2026-01-30", "2026-02-02"), &[], "2026-02-02");
    assert_eq!(m.current_streak, 4);
    assert_eq!(m.best_streak, 4);
    assert_eq!(m.last_checkin, Some(d("2026-02-02")));
    // Today is checked in: all 30 days observed, 4 with a check-in.
    assert_eq!((m.observed_days, m.checkin_days), (30, 4));
    assert!((m.logging_consistency - 4.0 / 30.0).abs() < 1e-12);
    assert_eq!(m.window_start, d("2026-01-04"));
}

#[test]
fn streak_runs_across_a_year_end_and_a_leap_day() {
    let m = metrics(&span("2025-12-29", "2026-01-02"), &[], "2026-01-02");
    assert_eq!(m.current_streak, 5);
    let m = metrics(&span("2028-02-27", "2028-03-01"), &[], "2028-03-01");
    assert_eq!(m.current_streak, 4, "Feb 29 2028 exists");
}

#[test]
fn today_without_a_check_in_does_not_break_a_streak_that_ran_to_yesterday() {
    let m = metrics(&span("2026-01-30", "2026-02-01"), &[], "2026-02-02");
    assert_eq!(m.current_streak, 3);
    // The empty today is not observed yet: 3 of 29 days.
    assert_eq!((m.observed_days, m.checkin_days), (29, 3));
    assert!((m.logging_consistency - 3.0 / 29.0).abs() < 1e-12);
    assert_eq!(m.gaps.days_since_last_checkin, Some(0));
}

#[test]
fn a_missed_yesterday_breaks_the_streak() {
    let mut days = span("2026-01-25", "2026-01-30");
    days.push(d("2026-02-01"));
    let m = metrics(&days, &[], "2026-02-02");
    assert_eq!(m.current_streak, 1, "Feb 1 only: Jan 31 is missing");
    assert_eq!(m.best_streak, 6);
    let m = metrics(&span("2026-01-25", "2026-01-30"), &[], "2026-02-02");
    assert_eq!(m.current_streak, 0);
}

#[test]
fn best_streak_covers_history_before_the_window_and_current_is_separate() {
    // 10 days in early December (before the 30-day window), then 3 days ending today.
    let mut days = span("2025-12-01", "2025-12-10");
    days.extend(span("2026-01-13", "2026-01-15"));
    days.extend(span("2026-01-13", "2026-01-14")); // repeats are harmless
    days.push(d("2026-02-20")); // after today: ignored
    let m = metrics(&days, &[], "2026-01-15");
    assert_eq!(m.current_streak, 3);
    assert_eq!(m.best_streak, 10);
    assert_eq!(m.checkin_days, 3, "December is outside the window");
    assert_eq!(m.last_checkin, Some(d("2026-01-15")));
}

#[test]
fn streak_depends_on_the_persons_time_zone() {
    let ms = |y, mo, da, h, mi| {
        Utc.with_ymd_and_hms(y, mo, da, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    };
    let sessions = [
        ms(2026, 1, 30, 12, 0),
        ms(2026, 1, 31, 12, 0),
        ms(2026, 1, 31, 23, 30), // Feb 1 07:30 in UTC+8; Jan 31 in UTC and UTC-5
        ms(2026, 2, 2, 2, 0),    // Feb 2 10:00 in UTC+8; Feb 1 21:00 in UTC-5
    ];
    let utc = FixedOffset::east_opt(0).unwrap();
    let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
    let west5 = FixedOffset::west_opt(5 * 3600).unwrap();

    // In UTC there is no session on Feb 1: the streak restarts on Feb 2.
    let m = metrics(&checkin_days(&sessions, utc), &[], "2026-02-02");
    assert_eq!((m.current_streak, m.best_streak), (1, 2));

    // In UTC+8 the late-evening session lands on Feb 1: four days in a row.
    let m = metrics(&checkin_days(&sessions, east8), &[], "2026-02-02");
    assert_eq!((m.current_streak, m.best_streak), (4, 4));

    // In UTC-5 the last session is Feb 1 evening; Feb 2 has not been checked in yet.
    let days = checkin_days(&sessions, west5);
    assert_eq!(days, span("2026-01-30", "2026-02-01"));
    let m = metrics(&days, &[], "2026-02-02");
    assert_eq!(m.current_streak, 3);
}

// ---------------------------------------------------------------- commitments and adherence

#[test]
fn adherence_counts_kept_late_missed_overdue_and_leaves_pending_ones_out() {
    let today = "2026-03-15";
    let commitments = [
        commitment(1, Some("2026-03-10"), done("2026-03-09")), // kept early
        commitment(2, Some("2026-03-10"), done("2026-03-12")), // late
        commitment(3, Some("2026-03-11"), missed("2026-03-12")), // missed
        commitment(4, Some("2026-03-12"), CommitmentStatus::Open), // overdue
        commitment(5, Some(today), CommitmentStatus::Open),    // due today: not judged yet
        commitment(6, Some("2026-03-20"), CommitmentStatus::Open), // future
        commitment(7, None, done("2026-03-14")),               // no date, done: kept
        commitment(8, Some("2026-01-10"), done("2026-01-09")), // before the window
        commitment(9, Some("2026-03-14"), done("2026-03-14")), // on the day: kept
        commitment(10, Some("2026-03-20"), done("2026-03-13")), // kept before it was due
        commitment(11, None, CommitmentStatus::Open),          // open, no date
        Commitment {
            created: d("2026-04-01"), // created after today: ignored
            ..commitment(12, Some("2026-03-12"), CommitmentStatus::Open)
        },
    ];
    let m = metrics(&[], &commitments, today);
    let c = m.commitments;
    assert_eq!((c.kept, c.late, c.missed, c.overdue), (4, 1, 1, 1));
    assert_eq!(c.due, 7);
    assert_eq!(c.open, 4, "4 overdue, 5 today, 6 future, 11 undated");
    assert!((m.adherence.unwrap() - 4.0 / 7.0).abs() < 1e-12);
}

#[test]
fn adherence_is_none_when_nothing_was_due() {
    let m = metrics(
        &[d("2026-03-15")],
        &[commitment(1, Some("2026-03-20"), CommitmentStatus::Open)],
        "2026-03-15",
    );
    assert_eq!(m.adherence, None);
    assert_eq!(m.commitments.due, 0);
    assert_eq!(m.commitments.open, 1);
}

#[test]
fn late_completions_are_flagged_with_a_sentence() {
    let commitments = [
        commitment(1, Some("2026-03-02"), done("2026-03-04")),
        commitment(2, Some("2026-03-05"), done("2026-03-07")),
        commitment(3, Some("2026-03-09"), done("2026-03-10")),
        commitment(4, Some("2026-03-11"), done("2026-03-11")),
    ];
    let m = metrics(
        &span("2026-03-01", "2026-03-15"),
        &commitments,
        "2026-03-15",
    );
    assert_eq!(
        summary(&m, PatternKind::LateCompletions),
        "commitments get done late: 3 of 4 completed were finished after their due date"
    );
    let m = metrics(
        &span("2026-03-01", "2026-03-15"),
        &commitments[1..],
        "2026-03-15",
    );
    assert!(!has(&m, PatternKind::LateCompletions), "2 late is too few");
}

// ---------------------------------------------------------------- weekend misses
// March 2026: Sun 1, Sat 7, Sun 8, Sat 14, Sun 15.

fn weekend_case(misses_on: &[&str], kept_on: &[&str]) -> Metrics {
    let mut commitments = Vec::new();
    for (i, day) in misses_on.iter().enumerate() {
        commitments.push(commitment(i as i64, Some(day), missed(day)));
    }
    for (i, day) in kept_on.iter().enumerate() {
        commitments.push(commitment(100 + i as i64, Some(day), done(day)));
    }
    metrics(
        &span("2026-02-20", "2026-03-15"),
        &commitments,
        "2026-03-15",
    )
}

#[test]
fn weekend_misses_are_flagged_when_clearly_above_the_base_rate() {
    let m = weekend_case(
        &[
            "2026-03-01",
            "2026-03-07",
            "2026-03-08",
            "2026-03-14",
            "2026-03-11",
        ],
        &[
            "2026-03-02",
            "2026-03-03",
            "2026-03-09",
            "2026-03-10",
            "2026-03-12",
        ],
    );
    let w = m.weekend_misses;
    assert_eq!(
        (w.misses, w.weekend_misses, w.due, w.weekend_due),
        (5, 4, 10, 4)
    );
    assert!(w.p_value.unwrap() < 0.05);
    assert!(w.flagged);
    assert_eq!(
        summary(&m, PatternKind::WeekendMisses),
        "misses cluster on weekends: 4 of 5 missed commitments were due on Sat/Sun \
         (4 of 4 weekend commitments missed vs 1 of 6 on weekdays)"
    );
}

#[test]
fn weekend_misses_are_not_flagged_on_thin_or_even_evidence() {
    // 3 of 4 on weekends: p ≈ 0.073 against 2/7.
    let m = weekend_case(
        &["2026-03-07", "2026-03-08", "2026-03-14", "2026-03-11"],
        &["2026-03-02", "2026-03-09"],
    );
    assert_eq!(m.weekend_misses.weekend_misses, 3);
    assert!(!m.weekend_misses.flagged);
    assert!(!has(&m, PatternKind::WeekendMisses));

    // 3 of 3: significant, but fewer than the 4 misses needed.
    let m = weekend_case(&["2026-03-07", "2026-03-08", "2026-03-14"], &["2026-03-02"]);
    assert!(!m.weekend_misses.flagged);

    // Misses spread like the week itself.
    let m = weekend_case(
        &[
            "2026-03-02",
            "2026-03-03",
            "2026-03-04",
            "2026-03-05",
            "2026-03-07",
        ],
        &["2026-03-09"],
    );
    assert!(!m.weekend_misses.flagged);

    // Someone who only commits on weekends only misses on weekends: no weekday to compare.
    let m = weekend_case(
        &["2026-03-01", "2026-03-07", "2026-03-08", "2026-03-14"],
        &["2026-02-28"],
    );
    assert!(m.weekend_misses.p_value.unwrap() < 0.05);
    assert!(!m.weekend_misses.flagged);
}

// ---------------------------------------------------------------- gaps

#[test]
fn drop_off_after_gaps_is_flagged_when_returns_do_not_stick() {
    // Daily until Mar 5; gap Mar 6–9; back Mar 10–11; gap Mar 12–15 (relapse);
    // back Mar 16–17; gap Mar 18–21 (relapse); back Mar 22 and daily to today (Mar 31).
    let mut days = span("2026-02-20", "2026-03-05");
    days.extend(span("2026-03-10", "2026-03-11"));
    days.extend(span("2026-03-16", "2026-03-17"));
    days.extend(span("2026-03-22", "2026-03-31"));
    let m = metrics(&days, &[], "2026-03-31");
    let g = m.gaps;
    assert_eq!((g.gaps, g.judged, g.relapses, g.longest_gap), (3, 3, 2, 4));
    // The 7 days after each return: Mar 11–17 (11, 16, 17), Mar 17–23 (17, 22, 23), Mar 23–29.
    assert!((g.after_return_checkin_share.unwrap() - 13.0 / 21.0).abs() < 1e-12);
    assert_eq!(
        summary(&m, PatternKind::DropOffAfterGaps),
        "drop-off after gaps: 2 of 3 breaks of 3+ days were followed by another within 7 days of coming back"
    );
}

#[test]
fn one_break_followed_by_a_steady_return_is_not_drop_off() {
    let mut days = span("2026-03-01", "2026-03-10");
    days.extend(span("2026-03-15", "2026-03-31"));
    let m = metrics(&days, &[], "2026-03-31");
    assert_eq!((m.gaps.gaps, m.gaps.judged, m.gaps.relapses), (1, 1, 0));
    assert!(!has(&m, PatternKind::DropOffAfterGaps));
}

#[test]
fn a_recent_return_is_not_judged_until_enough_days_are_seen() {
    // Back on Mar 28 after a gap: too early to know whether it sticks.
    let mut days = span("2026-03-01", "2026-03-20");
    days.extend(span("2026-03-28", "2026-03-31"));
    let m = metrics(&days, &[], "2026-03-31");
    assert_eq!((m.gaps.gaps, m.gaps.judged), (1, 0));
}

#[test]
fn days_before_the_first_check_in_are_not_a_gap() {
    let m = metrics(&span("2026-03-20", "2026-03-31"), &[], "2026-03-31");
    assert_eq!(m.gaps.gaps, 0);
    assert!(m.patterns.is_empty(), "{:?}", m.patterns);
}

#[test]
fn an_ongoing_gap_is_reported() {
    let m = metrics(&span("2026-03-01", "2026-03-25"), &[], "2026-03-31");
    // Mar 26..30 observed without a check-in; today (Mar 31) is not over.
    assert_eq!(m.gaps.days_since_last_checkin, Some(5));
    assert_eq!(m.current_streak, 0);
    assert_eq!(
        summary(&m, PatternKind::OngoingGap),
        "no check-in for 5 days (last on Wed 2026-03-25)"
    );
}

#[test]
fn weekday_only_routine_shows_a_weekend_check_in_dip() {
    let days: Vec<NaiveDate> = span("2026-03-02", "2026-03-31")
        .into_iter()
        .filter(|x| !matches!(chrono::Datelike::weekday(x), Weekday::Sat | Weekday::Sun))
        .collect();
    let m = metrics(&days, &[], "2026-03-31");
    assert_eq!(
        summary(&m, PatternKind::WeekendCheckinDip),
        "check-ins drop on weekends: 0 of 8 weekend days vs 22 of 22 weekdays"
    );
    let m = metrics(&span("2026-03-02", "2026-03-31"), &[], "2026-03-31");
    assert!(!has(&m, PatternKind::WeekendCheckinDip));
}

#[test]
fn metrics_round_trip_through_json() {
    let m = weekend_case(
        &[
            "2026-03-01",
            "2026-03-07",
            "2026-03-08",
            "2026-03-14",
            "2026-03-11",
        ],
        &["2026-03-02"],
    );
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"kind\":\"weekend_misses\""), "{json}");
    assert!(json.contains("\"today\":\"2026-03-15\""), "{json}");
    let back: Metrics = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn commitment_status_serialises_with_a_state_tag() {
    let c = commitment(7, Some("2026-03-10"), done("2026-03-09"));
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["status"]["state"], "done");
    assert_eq!(json["status"]["on"], "2026-03-09");
    let back: Commitment = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn the_window_is_configurable() {
    let config = MetricsConfig {
        window_days: 7,
        ..MetricsConfig::default()
    };
    let m = compute_metrics(
        &span("2026-03-01", "2026-03-31"),
        &[],
        d("2026-03-31"),
        &config,
    );
    assert_eq!(
        (m.window_start, m.observed_days, m.checkin_days),
        (d("2026-03-25"), 7, 7)
    );
    assert!((m.logging_consistency - 1.0).abs() < 1e-12);
    assert!(config.validate().is_ok());
    let bad = MetricsConfig {
        window_days: 3,
        ..MetricsConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("window_days 3"));
}

// ---------------------------------------------------------------- update policy

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn policy_defaults_match_the_issue() {
    let p = UpdatePolicy::from_env(&env(&[])).unwrap();
    assert_eq!(p, UpdatePolicy::default());
    assert_eq!(p.min_days_between_updates, 7);
    assert_eq!((p.update_day, p.update_hour), (Weekday::Sun, 3));
    assert_eq!(p.adherence_change_threshold, 0.10);
    assert_eq!(p.logging_change_threshold, 0.10);
    assert_eq!(p.streak_change_threshold, 7);
    assert!(p.enable_automatic_updates && p.enable_change_detection && p.enable_generic_fallback);
    assert_eq!(p.analysis_window_days, 30);
}

#[test]
fn policy_reads_every_env_name() {
    let p = UpdatePolicy::from_env(&env(&[
        ("MIN_DAYS_BETWEEN_UPDATES", "14"),
        ("PROMPT_UPDATE_DAY", "Mon"),
        ("PROMPT_UPDATE_HOUR", "9"),
        ("ADHERENCE_CHANGE_THRESHOLD", "0.15"),
        ("LOGGING_CHANGE_THRESHOLD", "0.2"),
        ("STREAK_CHANGE_THRESHOLD", "5"),
        ("ENABLE_AUTOMATIC_UPDATES", "false"),
        ("ENABLE_CHANGE_DETECTION", "off"),
        ("ENABLE_GENERIC_FALLBACK", "0"),
        ("BEHAVIORAL_ANALYSIS_DAYS", "60"),
    ]))
    .unwrap();
    assert_eq!(p.min_days_between_updates, 14);
    assert_eq!((p.update_day, p.update_hour), (Weekday::Mon, 9));
    assert_eq!(p.adherence_change_threshold, 0.15);
    assert_eq!(p.logging_change_threshold, 0.2);
    assert_eq!(p.streak_change_threshold, 5);
    assert!(!p.enable_automatic_updates && !p.enable_change_detection);
    assert!(!p.enable_generic_fallback);
    assert_eq!(p.metrics_config().window_days, 60);
    assert_eq!(
        UpdatePolicy::from_env(&env(&[("PROMPT_UPDATE_DAY", "sunday")]))
            .unwrap()
            .update_day,
        Weekday::Sun
    );
}

#[test]
fn policy_env_errors_name_the_variable_and_the_fix() {
    let err = |k: &str, v: &str| UpdatePolicy::from_env(&env(&[(k, v)])).unwrap_err();
    let e = err("PROMPT_UPDATE_HOUR", "24");
    assert!(
        e.starts_with("PROMPT_UPDATE_HOUR:") && e.contains("0..23"),
        "{e}"
    );
    let e = err("ADHERENCE_CHANGE_THRESHOLD", "ten percent");
    assert!(
        e.contains("ADHERENCE_CHANGE_THRESHOLD") && e.contains("0.10"),
        "{e}"
    );
    let e = err("LOGGING_CHANGE_THRESHOLD", "10");
    assert!(e.contains("out of range"), "{e}");
    let e = err("PROMPT_UPDATE_DAY", "0");
    assert!(e.contains("ambiguous"), "{e}");
    let e = err("PROMPT_UPDATE_DAY", "funday");
    assert!(e.contains("not a weekday"), "{e}");
    let e = err("ENABLE_CHANGE_DETECTION", "maybe");
    assert!(e.contains("not a boolean"), "{e}");
    let e = err("STREAK_CHANGE_THRESHOLD", "-1");
    assert!(e.contains("whole number"), "{e}");
    let e = err("STREAK_CHANGE_THRESHOLD", "0");
    assert!(e.contains("at least 1"), "{e}");
    let e = err("BEHAVIORAL_ANALYSIS_DAYS", "2");
    assert!(e.contains("7..366"), "{e}");
}

#[test]
fn policy_is_a_config_section() {
    #[derive(serde::Deserialize)]
    struct File {
        personalization: UpdatePolicy,
    }
    let f: File = toml::from_str(
        "[personalization]\nupdate_day = \"Sat\"\nupdate_hour = 22\nstreak_change_threshold = 10\n",
    )
    .unwrap();
    assert_eq!(f.personalization.update_day, Weekday::Sat);
    assert_eq!(f.personalization.update_hour, 22);
    assert_eq!(f.personalization.streak_change_threshold, 10);
    assert_eq!(
        f.personalization.min_days_between_updates, 7,
        "default kept"
    );

    let e = toml::from_str::<File>("[personalization]\nupdate_hours = 3\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("unknown field `update_hours`"), "{e}");
    let e = toml::from_str::<File>("[personalization]\nupdate_day = \"someday\"\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a weekday"), "{e}");

    let text = toml::to_string(&UpdatePolicy::default()).unwrap();
    assert!(text.contains("update_day = \"sunday\""), "{text}");
    let back: UpdatePolicy = toml::from_str(&text).unwrap();
    assert_eq!(back, UpdatePolicy::default());
}

// ---------------------------------------------------------------- schedule
// March 2026: Sun 8, Thu 12, Sun 15, Thu 19, Sun 22.

#[test]
fn not_due_before_min_days() {
    let p = UpdatePolicy::default();
    let due = is_update_due(&p, Some(dt("2026-03-12 10:00")), dt("2026-03-15 04:00"));
    assert!(!due.due, "{}", due.reason);
    assert!(due.reason.contains("3 day(s) ago"), "{}", due.reason);
    // The next slot at least 7 days after a Thursday update is the Sunday after next.
    assert_eq!(due.due_at, Some(dt("2026-03-22 03:00")));
    // Seven days later, but it's Thursday: the update waits for the Sunday slot.
    let due = is_update_due(&p, Some(dt("2026-03-12 10:00")), dt("2026-03-19 12:00"));
    assert!(!due.due, "{}", due.reason);
    let due = is_update_due(&p, Some(dt("2026-03-12 10:00")), dt("2026-03-22 03:00"));
    assert!(due.due, "{}", due.reason);
}

#[test]
fn due_once_sunday_03_00_has_passed() {
    let p = UpdatePolicy::default();
    // Last week's job ran a few minutes after the slot.
    let last = Some(dt("2026-03-08 03:10"));
    let due = is_update_due(&p, last, dt("2026-03-15 03:00"));
    assert!(due.due, "{}", due.reason);
    assert_eq!(due.due_at, Some(dt("2026-03-15 03:00")));
    // The machine was off on Sunday: due at the first check afterwards.
    let due = is_update_due(&p, last, dt("2026-03-17 09:30"));
    assert!(due.due, "{}", due.reason);
    assert!(
        due.reason.contains("Sun 2026-03-15 03:00"),
        "{}",
        due.reason
    );
}

#[test]
fn not_due_at_sunday_02_59() {
    let p = UpdatePolicy::default();
    let due = is_update_due(&p, Some(dt("2026-03-08 03:10")), dt("2026-03-15 02:59"));
    assert!(!due.due, "{}", due.reason);
    assert!(
        due.reason.contains("slot has not come round"),
        "{}",
        due.reason
    );
    assert_eq!(due.due_at, Some(dt("2026-03-15 03:00")));
}

#[test]
fn schedule_follows_the_configured_day_hour_and_spacing() {
    let p = UpdatePolicy {
        update_day: Weekday::Mon,
        update_hour: 9,
        min_days_between_updates: 14,
        ..UpdatePolicy::default()
    };
    // Mon Mar 2 09:00 update; Mar 9 is too soon; Mar 16 09:00 is due.
    let last = Some(dt("2026-03-02 09:00"));
    assert!(!is_update_due(&p, last, dt("2026-03-09 10:00")).due);
    assert!(!is_update_due(&p, last, dt("2026-03-16 08:59")).due);
    assert!(is_update_due(&p, last, dt("2026-03-16 09:00")).due);
}

#[test]
fn schedule_crosses_a_year_end() {
    let p = UpdatePolicy::default();
    let due = is_update_due(&p, Some(dt("2025-12-28 03:01")), dt("2026-01-04 03:00"));
    assert!(due.due, "{}", due.reason);
}

#[test]
fn never_updated_is_due_and_disabled_updates_never_are() {
    let p = UpdatePolicy::default();
    assert!(is_update_due(&p, None, dt("2026-03-11 12:00")).due);
    let off = UpdatePolicy {
        enable_automatic_updates: false,
        ..UpdatePolicy::default()
    };
    let due = is_update_due(&off, Some(dt("2026-01-01 00:00")), dt("2026-03-15 04:00"));
    assert!(!due.due);
    assert!(
        due.reason.contains("ENABLE_AUTOMATIC_UPDATES"),
        "{}",
        due.reason
    );
}

#[test]
fn a_last_update_in_the_future_is_not_due_and_says_why() {
    let due = is_update_due(
        &UpdatePolicy::default(),
        Some(dt("2026-03-20 03:00")),
        dt("2026-03-15 04:00"),
    );
    assert!(!due.due);
    assert!(due.reason.contains("clock or time zone"), "{}", due.reason);
}

// ---------------------------------------------------------------- change detection

/// A baseline snapshot: adherence 0.60, logging 0.50, streak 3.
fn baseline() -> Metrics {
    let mut m = metrics(&span("2026-03-01", "2026-03-15"), &[], "2026-03-15");
    m.adherence = Some(0.60);
    m.commitments.due = 10;
    m.logging_consistency = 0.50;
    m.current_streak = 3;
    m
}

fn with(f: impl FnOnce(&mut Metrics)) -> Metrics {
    let mut m = baseline();
    f(&mut m);
    m
}

#[test]
fn adherence_threshold_is_more_than_ten_points() {
    let p = UpdatePolicy::default();
    let prev = baseline();
    for (now, expect) in [
        (0.70, false),
        (0.50, false),
        (0.69, false),
        (0.71, true),
        (0.49, true),
    ] {
        let v = detect_change(&p, Some(&prev), &with(|m| m.adherence = Some(now)));
        assert_eq!(v.regenerate, expect, "0.60 → {now}: {:?}", v.reasons);
    }
    let v = detect_change(&p, Some(&prev), &with(|m| m.adherence = Some(0.45)));
    assert_eq!(
        v.reasons,
        vec!["adherence fell 0.15 (from 60% to 45%, threshold 0.10)"]
    );
    assert!((v.deltas.unwrap().adherence.unwrap() + 0.15).abs() < 1e-12);
}

#[test]
fn logging_threshold_is_more_than_ten_points() {
    let p = UpdatePolicy::default();
    let prev = baseline();
    for (now, expect) in [
        (0.60, false),
        (0.40, false),
        (0.59, false),
        (0.61, true),
        (0.39, true),
    ] {
        let v = detect_change(&p, Some(&prev), &with(|m| m.logging_consistency = now));
        assert_eq!(v.regenerate, expect, "0.50 → {now}: {:?}", v.reasons);
    }
    let v = detect_change(&p, Some(&prev), &with(|m| m.logging_consistency = 0.62));
    assert_eq!(
        v.reasons,
        vec!["logging consistency rose 0.12 (from 50% to 62%, threshold 0.10)"]
    );
}

#[test]
fn streak_threshold_is_seven_days_or_more() {
    let p = UpdatePolicy::default();
    let prev = baseline();
    for (now, expect) in [(9, false), (10, true), (0, false)] {
        let v = detect_change(&p, Some(&prev), &with(|m| m.current_streak = now));
        assert_eq!(v.regenerate, expect, "3 → {now}: {:?}", v.reasons);
    }
    let long = with(|m| m.current_streak = 12);
    let v = detect_change(&p, Some(&long), &with(|m| m.current_streak = 5));
    assert!(v.regenerate);
    assert_eq!(
        v.reasons,
        vec!["current streak fell by 7 day(s) (from 12 to 5, threshold 7)"]
    );
}

#[test]
fn below_every_threshold_skips_and_says_why() {
    let p = UpdatePolicy::default();
    let v = detect_change(
        &p,
        Some(&baseline()),
        &with(|m| {
            m.adherence = Some(0.65);
            m.logging_consistency = 0.45;
            m.current_streak = 6;
        }),
    );
    assert!(!v.regenerate);
    assert_eq!(v.reasons.len(), 3, "{:?}", v.reasons);
    assert!(
        v.reasons[0].starts_with("adherence rose 0.05"),
        "{:?}",
        v.reasons
    );
    let d = v.deltas.unwrap();
    assert_eq!(d.current_streak, 3);
}

#[test]
fn several_metrics_moving_give_several_reasons() {
    let v = detect_change(
        &UpdatePolicy::default(),
        Some(&baseline()),
        &with(|m| {
            m.adherence = Some(0.2);
            m.logging_consistency = 0.1;
            m.current_streak = 0;
        }),
    );
    assert!(v.regenerate);
    assert_eq!(v.reasons.len(), 2, "streak moved only 3: {:?}", v.reasons);
}

#[test]
fn adherence_is_not_compared_when_a_side_had_nothing_due() {
    let v = detect_change(
        &UpdatePolicy::default(),
        Some(&baseline()),
        &with(|m| {
            m.adherence = None;
            m.commitments.due = 0;
        }),
    );
    assert!(!v.regenerate);
    assert!(
        v.reasons
            .contains(&"adherence not compared (10 due before, 0 due now)".to_string()),
        "{:?}",
        v.reasons
    );
}

#[test]
fn disabled_detection_always_regenerates() {
    let p = UpdatePolicy {
        enable_change_detection: false,
        ..UpdatePolicy::default()
    };
    let v = detect_change(&p, Some(&baseline()), &baseline());
    assert!(v.regenerate);
    assert!(
        v.reasons[0].contains("change detection is off"),
        "{:?}",
        v.reasons
    );
}

#[test]
fn first_snapshot_regenerates() {
    let v = detect_change(&UpdatePolicy::default(), None, &baseline());
    assert!(v.regenerate);
    assert_eq!(v.deltas, None);
    assert!(v.reasons[0].contains("no previous"), "{:?}", v.reasons);
}

#[test]
fn custom_thresholds_apply() {
    let p = UpdatePolicy::from_env(&env(&[
        ("ADHERENCE_CHANGE_THRESHOLD", "0.05"),
        ("STREAK_CHANGE_THRESHOLD", "3"),
    ]))
    .unwrap();
    assert!(detect_change(&p, Some(&baseline()), &with(|m| m.adherence = Some(0.66))).regenerate);
    assert!(detect_change(&p, Some(&baseline()), &with(|m| m.current_streak = 6)).regenerate);
    assert!(!detect_change(&p, Some(&baseline()), &with(|m| m.current_streak = 5)).regenerate);
}

#[test]
fn slow_drift_is_caught_against_the_prompts_snapshot_not_week_to_week() {
    let p = UpdatePolicy::default();
    let week = |n: u32| with(|m| m.logging_consistency = 0.50 - 0.05 * f64::from(n));
    // Week to week, each step is 0.05: never a change.
    for n in 1..=4 {
        assert!(!detect_change(&p, Some(&week(n - 1)), &week(n)).regenerate);
    }
    // Against the snapshot the prompt was built from (week 0): 0.10 is not more than the
    // threshold, 0.15 is.
    assert!(!detect_change(&p, Some(&week(0)), &week(2)).regenerate);
    assert!(detect_change(&p, Some(&week(0)), &week(3)).regenerate);
}

#[test]
fn extreme_spacing_does_not_overflow() {
    let p = UpdatePolicy {
        min_days_between_updates: 366,
        ..UpdatePolicy::default()
    };
    let due = is_update_due(&p, Some(dt("2026-03-08 03:10")), dt("2026-03-15 03:00"));
    assert!(!due.due);
    let at = due.due_at.unwrap();
    assert_eq!(chrono::Datelike::weekday(&at), Weekday::Sun);
    assert!((at.date() - d("2026-03-08")).num_days() >= 366);
    assert!((at.date() - d("2026-03-08")).num_days() < 366 + 7);
}
