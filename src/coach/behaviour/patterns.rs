//! Failure patterns: regularities in how the person misses, each flagged only on enough
//! evidence and described in one sentence the coach and the profile screen can show.
//!
//! - **weekend misses**: misses (due commitments not kept on time) fall on Sat/Sun more
//!   than chance says. Flagged when all hold: at least `weekend_min_misses` misses; a
//!   one-sided binomial test against the 2/7 base rate (weekend days per week) puts the
//!   chance of that many weekend misses below `weekend_significance` (4 of 5: p ≈ 0.026,
//!   flagged; 3 of 4: p ≈ 0.073, not); and weekend commitments are missed at a higher rate
//!   than weekday ones (someone who only commits on weekends also only misses on weekends,
//!   which says nothing about weekends).
//! - **drop-off after gaps**: a *gap* is a run of at least `gap_days` days without a check-in
//!   after the first check-in ever seen (before it the person was not using grow yet). A gap
//!   that ended with a check-in (the *return*) *relapses* when another gap starts within
//!   `relapse_within_days` days of the return. A gap is *judged* once it relapsed or enough
//!   days after the return have been observed to know it did not. Flagged when at least
//!   `dropoff_min_gaps` gaps are judged and at least `dropoff_min_share` of them relapsed:
//!   coming back after a break does not stick. Also reported, not flagged: the share of
//!   days with a check-in in the `relapse_within_days` days after each return.
//! - **ongoing gap**: no check-in for `gap_days` or more observed days right now.
//! - **weekend check-in dip**: the weekday check-in rate beats the weekend rate by at least
//!   `weekend_dip_min_difference`, with at least `weekend_dip_min_weekend_days` weekend days
//!   observed: the routine lives on workdays.
//! - **late completions**: at least `late_min` commitments done after their due date, and
//!   at least `late_min_share` of those completed: things get done, but not by the date set.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::metrics::{Metrics, MetricsConfig, Outcome, is_weekend, ratio};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    WeekendMisses,
    DropOffAfterGaps,
    OngoingGap,
    WeekendCheckinDip,
    LateCompletions,
}

/// A flagged pattern and its sentence, e.g. "misses cluster on weekends: 4 of 5 missed
/// commitments were due on Sat/Sun (4 of 4 weekend commitments missed vs 1 of 6 on weekdays)".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    pub kind: PatternKind,
    pub summary: String,
}

/// The evidence for the weekend-misses pattern, kept whether or not it was flagged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WeekendMissStats {
    /// Due commitments in the window that were not kept on time.
    pub misses: u32,
    pub weekend_misses: u32,
    pub due: u32,
    pub weekend_due: u32,
    /// The share of misses expected on weekends by chance (2/7).
    pub base_rate: f64,
    /// P(at least `weekend_misses` of `misses` on weekends | base rate); `None` without misses.
    pub p_value: Option<f64>,
    pub flagged: bool,
}

/// Check-ins on weekend days vs weekdays, over the observed days of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekendCheckinStats {
    pub weekend_days: u32,
    pub weekend_checkins: u32,
    pub weekdays: u32,
    pub weekday_checkins: u32,
}

/// Gaps without check-ins that overlap the window (see the module docs for definitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GapStats {
    /// The minimum length of a gap, in days.
    pub gap_days: u32,
    /// Gaps overlapping the window, the ongoing one included.
    pub gaps: u32,
    pub longest_gap: u32,
    /// Ended gaps whose aftermath is known.
    pub judged: u32,
    /// Judged gaps followed by another gap within `relapse_within_days` of the return.
    pub relapses: u32,
    /// Share of days with a check-in in the days right after each return.
    pub after_return_checkin_share: Option<f64>,
    /// Observed days without a check-in since the last one (0 when the last observed day has
    /// one); `None` when there has never been a check-in.
    pub days_since_last_checkin: Option<u32>,
}

const WEEKEND_SHARE_OF_WEEK: f64 = 2.0 / 7.0;

pub(crate) fn weekend_misses(
    judged: &[(Outcome, NaiveDate)],
    config: &MetricsConfig,
) -> WeekendMissStats {
    let due = judged.len() as u32;
    let weekend_due = judged.iter().filter(|(_, d)| is_weekend(*d)).count() as u32;
    let misses: Vec<NaiveDate> = judged
        .iter()
        .filter(|(o, _)| *o != Outcome::Kept)
        .map(|(_, d)| *d)
        .collect();
    let weekend_misses = misses.iter().filter(|d| is_weekend(**d)).count() as u32;
    let misses = misses.len() as u32;
    let base_rate = WEEKEND_SHARE_OF_WEEK;
    let p_value = (misses > 0).then(|| binomial_tail(misses, weekend_misses, base_rate));
    let weekend_miss_rate = ratio(weekend_misses, weekend_due);
    let weekday_miss_rate = ratio(misses - weekend_misses, due - weekend_due);
    let flagged = misses >= config.weekend_min_misses
        && p_value.is_some_and(|p| p < config.weekend_significance)
        && matches!((weekend_miss_rate, weekday_miss_rate), (Some(we), Some(wd)) if we > wd);
    WeekendMissStats {
        misses,
        weekend_misses,
        due,
        weekend_due,
        base_rate,
        p_value,
        flagged,
    }
}

/// P(X ≥ k) for X ~ Binomial(n, p).
fn binomial_tail(n: u32, k: u32, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // Walk the pmf upwards from P(X = 0) = (1-p)^n; the terms stay well inside f64 range
    // for any n a 366-day window can produce.
    let odds = p / (1.0 - p);
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut below = 0.0;
    for i in 0..k {
        below += pmf;
        pmf *= f64::from(n - i) / f64::from(i + 1) * odds;
    }
    (1.0 - below).clamp(0.0, 1.0)
}

pub(crate) fn weekend_checkins(
    days: &BTreeSet<NaiveDate>,
    start: NaiveDate,
    end: NaiveDate,
) -> WeekendCheckinStats {
    let mut s = WeekendCheckinStats::default();
    for day in start.iter_days().take_while(|d| *d <= end) {
        let checked = u32::from(days.contains(&day));
        if is_weekend(day) {
            s.weekend_days += 1;
            s.weekend_checkins += checked;
        } else {
            s.weekdays += 1;
            s.weekday_checkins += checked;
        }
    }
    s
}

/// A maximal run of days without a check-in: first empty day, length, whether a check-in
/// followed it within the observed days.
struct Run {
    start: NaiveDate,
    len: u32,
    returned: bool,
}

fn plus(day: NaiveDate, n: u32) -> NaiveDate {
    day.checked_add_days(Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MAX)
}

pub(crate) fn gaps(
    days: &BTreeSet<NaiveDate>,
    window_start: NaiveDate,
    end: NaiveDate,
    config: &MetricsConfig,
) -> GapStats {
    let mut stats = GapStats {
        gap_days: config.gap_days,
        ..GapStats::default()
    };
    let Some(&first) = days.first() else {
        return stats;
    };
    if let Some(&last) = days.range(..=end).next_back() {
        stats.days_since_last_checkin = Some((end - last).num_days().max(0) as u32);
    }
    if first > end {
        return stats;
    }

    let mut runs: Vec<Run> = Vec::new();
    let mut open: Option<(NaiveDate, u32)> = None;
    for day in first.iter_days().take_while(|d| *d <= end) {
        if days.contains(&day) {
            if let Some((start, len)) = open.take() {
                runs.push(Run {
                    start,
                    len,
                    returned: true,
                });
            }
        } else {
            open = Some(open.map_or((day, 1), |(s, n)| (s, n + 1)));
        }
    }
    if let Some((start, len)) = open {
        runs.push(Run {
            start,
            len,
            returned: false,
        });
    }

    let qualifying: Vec<&Run> = runs.iter().filter(|r| r.len >= config.gap_days).collect();
    let mut after_days = 0u32;
    let mut after_checkins = 0u32;
    for (i, gap) in qualifying.iter().enumerate() {
        let gap_end = plus(gap.start, gap.len - 1);
        if gap_end < window_start {
            continue;
        }
        stats.gaps += 1;
        stats.longest_gap = stats.longest_gap.max(gap.len);
        if !gap.returned {
            continue;
        }
        let back_on = plus(gap_end, 1);
        let relapse_by = plus(back_on, config.relapse_within_days);
        let relapsed = qualifying
            .get(i + 1)
            .is_some_and(|next| next.start <= relapse_by);
        // Without a relapse, the gap is judged once a gap starting on the last allowed day
        // would already have reached full length.
        let observed_enough = plus(relapse_by, config.gap_days.saturating_sub(1)) <= end;
        if relapsed || observed_enough {
            stats.judged += 1;
            stats.relapses += u32::from(relapsed);
        }
        for day in back_on
            .iter_days()
            .skip(1)
            .take(config.relapse_within_days as usize)
            .take_while(|d| *d <= end)
        {
            after_days += 1;
            after_checkins += u32::from(days.contains(&day));
        }
    }
    stats.after_return_checkin_share = ratio(after_checkins, after_days);
    stats
}

/// The patterns the evidence in `m` supports, in a stable order.
pub(crate) fn flagged(m: &Metrics, config: &MetricsConfig) -> Vec<Pattern> {
    let mut out = Vec::new();
    let w = &m.weekend_misses;
    if w.flagged {
        out.push(Pattern {
            kind: PatternKind::WeekendMisses,
            summary: format!(
                "misses cluster on weekends: {} of {} missed commitments were due on Sat/Sun ({} of {} weekend commitments missed vs {} of {} on weekdays)",
                w.weekend_misses,
                w.misses,
                w.weekend_misses,
                w.weekend_due,
                w.misses - w.weekend_misses,
                w.due - w.weekend_due
            ),
        });
    }

    let g = &m.gaps;
    if g.judged >= config.dropoff_min_gaps
        && g.judged > 0
        && f64::from(g.relapses) / f64::from(g.judged) >= config.dropoff_min_share
    {
        out.push(Pattern {
            kind: PatternKind::DropOffAfterGaps,
            summary: format!(
                "drop-off after gaps: {} of {} breaks of {}+ days were followed by another within {} days of coming back",
                g.relapses, g.judged, g.gap_days, config.relapse_within_days
            ),
        });
    }
    if let (Some(n), Some(last)) = (g.days_since_last_checkin, m.last_checkin) {
        if n >= config.gap_days {
            out.push(Pattern {
                kind: PatternKind::OngoingGap,
                summary: format!(
                    "no check-in for {n} days (last on {} {})",
                    last.weekday(),
                    last.format("%Y-%m-%d")
                ),
            });
        }
    }

    let c = &m.weekend_checkins;
    let weekend = ratio(c.weekend_checkins, c.weekend_days).unwrap_or(0.0);
    let weekday = ratio(c.weekday_checkins, c.weekdays).unwrap_or(0.0);
    if c.weekend_days >= config.weekend_dip_min_weekend_days
        && c.weekdays > 0
        && weekday - weekend >= config.weekend_dip_min_difference
    {
        out.push(Pattern {
            kind: PatternKind::WeekendCheckinDip,
            summary: format!(
                "check-ins drop on weekends: {} of {} weekend days vs {} of {} weekdays",
                c.weekend_checkins, c.weekend_days, c.weekday_checkins, c.weekdays
            ),
        });
    }

    let k = &m.commitments;
    let completed = k.kept + k.late;
    if k.late >= config.late_min
        && ratio(k.late, completed).is_some_and(|s| s >= config.late_min_share)
    {
        out.push(Pattern {
            kind: PatternKind::LateCompletions,
            summary: format!(
                "commitments get done late: {} of {} completed were finished after their due date",
                k.late, completed
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::binomial_tail;

    #[test]
    fn binomial_tail_matches_hand_computed_values() {
        let p: f64 = 2.0 / 7.0;
        // 4 of 5: 5·p⁴·(1-p) + p⁵
        let expect = 5.0 * p.powi(4) * (1.0 - p) + p.powi(5);
        assert!((binomial_tail(5, 4, p) - expect).abs() < 1e-12);
        assert!((binomial_tail(5, 0, p) - 1.0).abs() < 1e-12);
        assert!((binomial_tail(3, 3, p) - p.powi(3)).abs() < 1e-12);
        assert!(binomial_tail(300, 290, p) < 1e-12);
    }
}
