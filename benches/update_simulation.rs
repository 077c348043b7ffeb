//! The cost report of issue 6: how many weekly prompt regenerations change detection avoids
//! in a simulated population, and what that saves at catalog prices.
//!
//! `cargo bench --bench update_simulation` prints the report; the output is the same on every
//! run for the same seed (`UPDATE_SIM_SEED`, default 42; `UPDATE_SIM_USERS`, default 1000).
//!
//! Model: every user has 5 weeks of history before the simulation and 12 simulated weeks of
//! behaviour (daily check-ins, commitments and their outcomes) drawn from one of five
//! archetypes. Their personalised prompt (version 1) is created on a random day of the first
//! 11 weeks; from then on the weekly job runs every Sunday at 03:00 local:
//! `is_update_due` → `compute_metrics` → `detect_change` → regenerate or store the snapshot.
//! The report is for the last simulated week (plus the mean of the last four, for noise).
//! Behaviour is drawn once, so every policy variant sees exactly the same people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use grow::catalog::{Catalog, Usage};
use grow::coach::behaviour::{
    Commitment, CommitmentStatus, Metrics, MetricsConfig, UpdatePolicy, compute_metrics,
    detect_change, is_update_due,
};

const DEFAULT_SEED: u64 = 42;
const DEFAULT_USERS: usize = 1000;
const HISTORY_DAYS: i64 = 35;
const SIM_WEEKS: i64 = 12;
const REPORT_WEEKS: usize = 4;
/// Sunday, the first day of the simulation.
const START: (i32, u32, u32) = (2026, 1, 4);

/// Token assumptions for one regeneration on the upgrade model (see `print_cost`).
const REGEN_META_PROMPT: u64 = 900;
const REGEN_PROFILE: u64 = 300;
const REGEN_CURRENT_PROMPT: u64 = 1_050;
const REGEN_METRICS_AND_PATTERNS: u64 = 700;
const REGEN_RECENT_CONTEXT: u64 = 1_050;
const REGEN_OUTPUT: u64 = 1_000;
const UPGRADE_MODEL: &str = "claude-opus-4-6";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Archetype {
    Steady,
    Improving,
    Slipping,
    Erratic,
    Dormant,
}

impl Archetype {
    const ALL: [(Archetype, f64); 5] = [
        (Archetype::Steady, 0.40),
        (Archetype::Improving, 0.15),
        (Archetype::Slipping, 0.15),
        (Archetype::Erratic, 0.10),
        (Archetype::Dormant, 0.20),
    ];

    fn name(self) -> &'static str {
        match self {
            Archetype::Steady => "steady",
            Archetype::Improving => "improving",
            Archetype::Slipping => "slipping",
            Archetype::Erratic => "erratic",
            Archetype::Dormant => "dormant",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Archetype::Steady => "check in 55–90% of days, keep 60–90% of commitments, flat",
            Archetype::Improving => "from 20–40% to 70–90% check-ins (keeps 30%→80%) over 17 weeks",
            Archetype::Slipping => "70–90% until a random day, then down to 10–30% over 2 weeks",
            Archetype::Erratic => "a new check-in rate (10–95%) and keep rate every week",
            Archetype::Dormant => "check in 0–8% of days",
        }
    }
}

/// How likely a check-in and a kept commitment are on a given day.
struct Habit {
    archetype: Archetype,
    /// (check-in probability, keep probability) per day index from the first history day.
    daily: Vec<(f64, f64)>,
    /// Check-in probability multiplier on Sat/Sun (some people have weekday routines).
    weekend_factor: f64,
    /// Chance that a check-in day produces a commitment.
    commit_rate: f64,
    /// For slipping people: the day index their decline starts.
    turn: Option<usize>,
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t.clamp(0.0, 1.0)
}

fn uniform(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.f64()
}

fn pick_archetype(rng: &mut fastrand::Rng) -> Archetype {
    let mut x = rng.f64();
    for (a, share) in Archetype::ALL {
        if x < share {
            return a;
        }
        x -= share;
    }
    Archetype::Steady
}

fn habit(rng: &mut fastrand::Rng, total_days: i64) -> Habit {
    let archetype = pick_archetype(rng);
    let n = total_days as usize;
    let mut turn = None;
    let daily: Vec<(f64, f64)> = match archetype {
        Archetype::Steady => {
            let (p, k) = (uniform(rng, 0.55, 0.9), uniform(rng, 0.6, 0.9));
            vec![(p, k); n]
        }
        Archetype::Improving => {
            let (p0, p1) = (uniform(rng, 0.2, 0.4), uniform(rng, 0.7, 0.9));
            (0..n)
                .map(|i| {
                    let t = i as f64 / n as f64;
                    (lerp(p0, p1, t), lerp(0.3, 0.8, t))
                })
                .collect()
        }
        Archetype::Slipping => {
            let (p0, p1) = (uniform(rng, 0.7, 0.9), uniform(rng, 0.1, 0.3));
            let (k0, k1) = (uniform(rng, 0.6, 0.9), uniform(rng, 0.1, 0.4));
            let start = rng.usize(0..n);
            turn = Some(start);
            (0..n)
                .map(|i| {
                    let t = (i as f64 - start as f64) / 14.0;
                    (lerp(p0, p1, t), lerp(k0, k1, t))
                })
                .collect()
        }
        Archetype::Erratic => {
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                let week = (uniform(rng, 0.1, 0.95), uniform(rng, 0.2, 0.9));
                v.extend(std::iter::repeat_n(week, 7));
            }
            v.truncate(n);
            v
        }
        Archetype::Dormant => {
            let p = uniform(rng, 0.0, 0.08);
            vec![(p, 0.3); n]
        }
    };
    let weekend_factor = if rng.f64() < 0.25 {
        uniform(rng, 0.3, 0.7)
    } else {
        1.0
    };
    Habit {
        archetype,
        daily,
        weekend_factor,
        commit_rate: uniform(rng, 0.25, 0.6),
        turn,
    }
}

/// One simulated person: behaviour over the whole period, and when they got version 1.
struct Person {
    archetype: Archetype,
    checkins: Vec<NaiveDate>,
    /// Commitments with their final status; resolution dates may lie after a given "today".
    commitments: Vec<Commitment>,
    first_version: NaiveDateTime,
    /// For slipping people: the first day of their decline.
    turn: Option<NaiveDate>,
}

fn day(first: NaiveDate, i: i64) -> NaiveDate {
    first + TimeDelta::days(i)
}

fn simulate_person(rng: &mut fastrand::Rng, first: NaiveDate, sim_start: NaiveDate) -> Person {
    let total_days = HISTORY_DAYS + SIM_WEEKS * 7;
    let h = habit(rng, total_days);
    let mut checkins = Vec::new();
    let mut commitments = Vec::new();
    for i in 0..total_days {
        let today = day(first, i);
        let (p, keep) = h.daily[i as usize];
        let weekend = matches!(today.weekday(), Weekday::Sat | Weekday::Sun);
        let p = if weekend { p * h.weekend_factor } else { p };
        if rng.f64() >= p {
            continue;
        }
        checkins.push(today);
        if rng.f64() >= h.commit_rate {
            continue;
        }
        let due = today + TimeDelta::days(rng.i64(1..=4));
        // Keeping is a bit harder on weekends for everyone with a weekday routine.
        let keep = if matches!(due.weekday(), Weekday::Sat | Weekday::Sun) {
            keep * h.weekend_factor.max(0.8)
        } else {
            keep
        };
        let status = if rng.f64() < keep {
            CommitmentStatus::Done {
                on: due - TimeDelta::days(rng.i64(0..=1)),
            }
        } else {
            match rng.u8(0..10) {
                0..=2 => CommitmentStatus::Done {
                    on: due + TimeDelta::days(rng.i64(1..=3)),
                },
                3..=6 => CommitmentStatus::Missed {
                    on: due + TimeDelta::days(rng.i64(1..=2)),
                },
                _ => CommitmentStatus::Open,
            }
        };
        commitments.push(Commitment {
            id: commitments.len() as i64,
            created: today,
            due: Some(due),
            status,
        });
    }
    // Version 1 some time in the first 11 weeks, at a daytime hour.
    let onboard_day = day(sim_start, rng.i64(0..(SIM_WEEKS - 1) * 7));
    let first_version = onboard_day
        .and_time(NaiveTime::from_hms_opt(rng.u32(8..23), rng.u32(0..60), 0).unwrap_or_default());
    Person {
        archetype: h.archetype,
        checkins,
        commitments,
        first_version,
        turn: h.turn.map(|i| day(first, i as i64)),
    }
}

/// The person's record as the job sees it at 03:00 on `today`: check-ins before today
/// (nobody has checked in at 3am), and no resolution dated after today.
fn metrics_at(p: &Person, today: NaiveDate, config: &MetricsConfig) -> Metrics {
    let checkins: Vec<NaiveDate> = p.checkins.iter().copied().filter(|d| *d < today).collect();
    let commitments: Vec<Commitment> = p
        .commitments
        .iter()
        .filter(|c| c.created < today)
        .map(|c| {
            let resolved_later = match c.status {
                CommitmentStatus::Done { on } | CommitmentStatus::Missed { on } => on >= today,
                CommitmentStatus::Open => false,
            };
            let mut c = c.clone();
            if resolved_later {
                c.status = CommitmentStatus::Open;
            }
            c
        })
        .collect();
    compute_metrics(&checkins, &commitments, today, config)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Baseline {
    /// Compare with the snapshot the current prompt was generated from (recommended).
    PromptSnapshot,
    /// Compare with the latest stored snapshot (last week's), as the original design did.
    LastSnapshot,
}

#[derive(Default, Clone)]
struct WeekCount {
    due: u32,
    regenerated: u32,
    by_archetype: BTreeMap<Archetype, (u32, u32)>,
    reasons: BTreeMap<&'static str, u32>,
}

struct Run {
    /// One count per simulated Sunday.
    weeks: Vec<WeekCount>,
    /// Per person, the Sundays their prompt was regenerated.
    regenerations: Vec<Vec<NaiveDate>>,
}

/// Runs the weekly job for everyone over the simulated weeks.
fn run_policy(people: &[Person], policy: &UpdatePolicy, baseline: Baseline) -> Run {
    let config = policy.metrics_config();
    let sim_start = NaiveDate::from_ymd_opt(START.0, START.1, START.2).unwrap_or_default();
    let sundays: Vec<NaiveDate> = (1..=SIM_WEEKS).map(|w| day(sim_start, w * 7)).collect();
    let slot_time = NaiveTime::from_hms_opt(policy.update_hour, 0, 0).unwrap_or_default();
    let mut weeks = vec![WeekCount::default(); sundays.len()];
    let mut regenerations = vec![Vec::new(); people.len()];

    for (i, p) in people.iter().enumerate() {
        let mut last_update = p.first_version;
        let mut compare_with = metrics_at(p, p.first_version.date(), &config);
        for (w, sunday) in sundays.iter().enumerate() {
            let now = sunday.and_time(slot_time);
            if now <= p.first_version || !is_update_due(policy, Some(last_update), now).due {
                continue;
            }
            let current = metrics_at(p, *sunday, &config);
            let verdict = detect_change(policy, Some(&compare_with), &current);
            let week = &mut weeks[w];
            week.due += 1;
            let entry = week.by_archetype.entry(p.archetype).or_default();
            entry.0 += 1;
            if verdict.regenerate {
                week.regenerated += 1;
                entry.1 += 1;
                regenerations[i].push(*sunday);
                for r in &verdict.reasons {
                    let key = ["adherence", "logging", "current streak", "change detection"]
                        .into_iter()
                        .find(|k| r.starts_with(k))
                        .unwrap_or("other");
                    *week.reasons.entry(key).or_default() += 1;
                }
                // The job finishes a few minutes after the slot.
                last_update = now + TimeDelta::minutes(1 + (i % 20) as i64);
                compare_with = current;
            } else if baseline == Baseline::LastSnapshot {
                compare_with = current;
            }
        }
    }
    Run {
        weeks,
        regenerations,
    }
}

/// Responsiveness on slipping people whose decline began after their first prompt and at
/// least three weeks before the end: (people, median weeks from the decline's start to the
/// first regeneration after it, share regenerated within two weeks).
fn slip_response(people: &[Person], run: &Run, end: NaiveDate) -> (usize, Option<f64>, f64) {
    let mut delays: Vec<i64> = Vec::new();
    let mut eligible = 0;
    for (p, regens) in people.iter().zip(&run.regenerations) {
        let Some(turn) = p.turn else { continue };
        if turn <= p.first_version.date() || turn + TimeDelta::days(21) > end {
            continue;
        }
        eligible += 1;
        if let Some(first) = regens.iter().find(|d| **d > turn) {
            delays.push((*first - turn).num_days());
        }
    }
    delays.sort_unstable();
    let median = (!delays.is_empty()).then(|| delays[delays.len() / 2] as f64 / 7.0);
    let within_two_weeks = delays.iter().filter(|d| **d <= 14).count();
    let share = if eligible == 0 {
        0.0
    } else {
        within_two_weeks as f64 / eligible as f64
    };
    (eligible, median, share)
}

/// Share of due checks in the last weeks that regenerated for people whose behaviour is flat
/// (steady and dormant): regenerations caused by sampling noise alone.
fn noise_regen_rate(run: &Run) -> (u32, u32) {
    let mut due = 0;
    let mut regen = 0;
    for w in run.weeks.iter().skip(run.weeks.len() - REPORT_WEEKS) {
        for a in [Archetype::Steady, Archetype::Dormant] {
            if let Some((d, r)) = w.by_archetype.get(&a) {
                due += d;
                regen += r;
            }
        }
    }
    (regen, due)
}

fn pct(part: u32, whole: u32) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * f64::from(part) / f64::from(whole))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::var("UPDATE_SIM_SEED")
        .ok()
        .map(|s| s.parse::<u64>())
        .transpose()
        .map_err(|e| format!("UPDATE_SIM_SEED: {e}"))?
        .unwrap_or(DEFAULT_SEED);
    let users = std::env::var("UPDATE_SIM_USERS")
        .ok()
        .map(|s| s.parse::<usize>())
        .transpose()
        .map_err(|e| format!("UPDATE_SIM_USERS: {e}"))?
        .unwrap_or(DEFAULT_USERS);

    let catalog = Catalog::builtin()?;
    let model = catalog
        .get(UPGRADE_MODEL)
        .ok_or_else(|| format!("{UPGRADE_MODEL} is not in the built-in catalog"))?;
    let usage = Usage {
        input_tokens: REGEN_META_PROMPT
            + REGEN_PROFILE
            + REGEN_CURRENT_PROMPT
            + REGEN_METRICS_AND_PATTERNS
            + REGEN_RECENT_CONTEXT,
        output_tokens: REGEN_OUTPUT,
        ..Usage::default()
    };
    let per_regen = model.cost(&usage);

    let sim_start = NaiveDate::from_ymd_opt(START.0, START.1, START.2).ok_or("bad start date")?;
    let first = sim_start
        .checked_sub_days(Days::new(HISTORY_DAYS as u64))
        .ok_or("bad history start")?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let people: Vec<Person> = (0..users)
        .map(|_| simulate_person(&mut rng, first, sim_start))
        .collect();

    let policy = UpdatePolicy::default();
    let no_detection = UpdatePolicy {
        enable_change_detection: false,
        ..policy.clone()
    };
    let always_run = run_policy(&people, &no_detection, Baseline::PromptSnapshot);
    let detect_run = run_policy(&people, &policy, Baseline::PromptSnapshot);
    let week_to_week_run = run_policy(&people, &policy, Baseline::LastSnapshot);
    let (always, detect, week_to_week) = (
        &always_run.weeks,
        &detect_run.weeks,
        &week_to_week_run.weeks,
    );

    let mut out = String::new();
    let last = always.len() - 1;
    let last_sunday = day(sim_start, SIM_WEEKS * 7);
    writeln!(
        out,
        "update simulation: {users} users, seed {seed}, {HISTORY_DAYS} days of history + {SIM_WEEKS} simulated weeks"
    )?;
    writeln!(
        out,
        "measured week: job at {} {:02}:00 local (policy defaults: min {} days, thresholds adherence {:.2} / logging {:.2} / streak {} days, window {} days)",
        last_sunday.format("%a %Y-%m-%d"),
        policy.update_hour,
        policy.min_days_between_updates,
        policy.adherence_change_threshold,
        policy.logging_change_threshold,
        policy.streak_change_threshold,
        policy.analysis_window_days
    )?;
    writeln!(out)?;
    writeln!(out, "archetypes")?;
    for (a, _) in Archetype::ALL {
        let n = people.iter().filter(|p| p.archetype == a).count();
        writeln!(out, "  {:<10} {n:>5}  {}", a.name(), a.description())?;
    }
    writeln!(out)?;

    let row = |out: &mut String, label: &str, weeks: &[WeekCount]| -> std::fmt::Result {
        let w = &weeks[last];
        let tail = &weeks[weeks.len() - REPORT_WEEKS..];
        let (due4, regen4) = tail
            .iter()
            .fold((0, 0), |(d, r), w| (d + w.due, r + w.regenerated));
        writeln!(
            out,
            "  {label:<44} {:>5} {:>6} {:>8} {:>8}   {:>8} {:>8}",
            w.due,
            w.regenerated,
            w.due - w.regenerated,
            pct(w.due - w.regenerated, w.due),
            pct(due4 - regen4, due4),
            format!("${:.2}", f64::from(w.regenerated) * per_regen),
        )
    };
    writeln!(
        out,
        "  {:<44} {:>5} {:>6} {:>8} {:>8}   {:>8} {:>8}",
        "policy", "due", "regen", "skipped", "skipped", "last 4w", "cost"
    )?;
    row(&mut out, "no change detection", always)?;
    row(
        &mut out,
        "change detection vs the prompt's snapshot",
        detect,
    )?;
    row(
        &mut out,
        "change detection vs last week's snapshot",
        week_to_week,
    )?;
    writeln!(out)?;

    let base = &always[last];
    let with = &detect[last];
    let avoided = base.regenerated - with.regenerated;
    writeln!(
        out,
        "regenerations needed without change detection: {}; with it: {}; avoided: {} ({} — the original design estimated 90%)",
        base.regenerated,
        with.regenerated,
        avoided,
        pct(avoided, base.regenerated)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "by archetype (measured week, vs the prompt's snapshot)"
    )?;
    writeln!(
        out,
        "  {:<10} {:>5} {:>6} {:>8}",
        "archetype", "due", "regen", "skipped"
    )?;
    for (a, (due, regen)) in &with.by_archetype {
        writeln!(
            out,
            "  {:<10} {due:>5} {regen:>6} {:>8}",
            a.name(),
            pct(due - regen, *due)
        )?;
    }
    writeln!(
        out,
        "  triggers (a regeneration can have several): {}",
        with.reasons
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out)?;

    writeln!(
        out,
        "threshold sensitivity (last {REPORT_WEEKS} weeks, vs the prompt's snapshot)"
    )?;
    writeln!(
        out,
        "  {:<34} {:>8} {:>14} {:>22}",
        "adherence / logging / streak", "skipped", "flat regen", "slipping: median, ≤2w"
    )?;
    let end = last_sunday;
    for (adherence, logging, streak) in [
        (0.10, 0.10, 7),
        (0.15, 0.15, 10),
        (0.20, 0.20, 14),
        (0.25, 0.25, 21),
        (0.30, 0.30, 30),
    ] {
        let variant = UpdatePolicy {
            adherence_change_threshold: adherence,
            logging_change_threshold: logging,
            streak_change_threshold: streak,
            ..policy.clone()
        };
        let run = run_policy(&people, &variant, Baseline::PromptSnapshot);
        let tail = &run.weeks[run.weeks.len() - REPORT_WEEKS..];
        let (due, regen) = tail
            .iter()
            .fold((0, 0), |(d, r), w| (d + w.due, r + w.regenerated));
        let (flat_regen, flat_due) = noise_regen_rate(&run);
        let (slipping, median, within) = slip_response(&people, &run, end);
        writeln!(
            out,
            "  {:<34} {:>8} {:>14} {:>22}",
            format!("{adherence:.2} / {logging:.2} / {streak} days"),
            pct(due - regen, due),
            pct(flat_regen, flat_due),
            format!(
                "{} wk, {:.0}% of {slipping}",
                median.map_or("-".into(), |m| format!("{m:.1}")),
                within * 100.0
            ),
        )?;
    }
    writeln!(
        out,
        "  flat regen: share of due checks regenerated for steady + dormant people (behaviour unchanged: sampling noise)"
    )?;
    writeln!(
        out,
        "  slipping: weeks from the start of a decline to the first regeneration, and the share caught within 2 weeks"
    )?;
    writeln!(out)?;

    let input_price = model.input;
    let output_price = model.output;
    writeln!(
        out,
        "cost of one regeneration on {UPGRADE_MODEL} (${input_price}/${output_price} per 1M input/output tokens, {}):",
        model.price_source
    )?;
    writeln!(
        out,
        "  input {} tokens = meta-prompt {REGEN_META_PROMPT} + profile (~200 words) {REGEN_PROFILE} + current prompt (500–800 words) {REGEN_CURRENT_PROMPT} + metrics, deltas and patterns {REGEN_METRICS_AND_PATTERNS} + recent commitments and session notes {REGEN_RECENT_CONTEXT}",
        usage.input_tokens
    )?;
    writeln!(
        out,
        "  output {REGEN_OUTPUT} tokens (a 500–800-word prompt), no prompt caching (weekly calls outlive the cache)"
    )?;
    writeln!(out, "  = ${per_regen:.4} per regeneration")?;
    let cost_without = f64::from(base.regenerated) * per_regen;
    let cost_with = f64::from(with.regenerated) * per_regen;
    writeln!(
        out,
        "week: ${cost_without:.2} without change detection, ${cost_with:.2} with it, ${:.2} avoided; per 1,000 users per year ≈ ${:.0} avoided",
        cost_without - cost_with,
        (cost_without - cost_with) * 52.0 * 1000.0 / users.max(1) as f64
    )?;
    print!("{out}");
    Ok(())
}
