//! Behaviour metrics over a window of local days: logging consistency, streaks, commitment
//! adherence and counts, and the failure patterns found in them.
//!
//! Definitions (all days are the person's local calendar days):
//! - **window**: the `window_days` days ending today, `[today - (window_days - 1), today]`.
//! - **today is not over**: today counts as a check-in day once it has one, but an empty
//!   today is never held against the person — not in consistency, streaks, gaps or
//!   commitments due today. A job running at 03:00 would otherwise see everyone slip.
//! - **logging consistency**: check-in days in the window / observed days, where observed
//!   days are the whole window when today has a check-in, else the window without today.
//!   The window does not shrink for someone new: days before their first check-in count
//!   as days without one (only the gap detector ignores them).
//! - **current streak**: consecutive check-in days ending today, or ending yesterday when
//!   today has none yet. **best streak**: the longest run in all the check-ins given (at
//!   least the current streak); pass as much history as the best streak should cover.
//! - **commitments** count on their *effective date*: the due date; for a resolved
//!   commitment the earlier of its due date and the day it was resolved (kept early counts
//!   now; marked missed early counts now); for one with no due date, the day it was
//!   resolved. One still open counts once its due date has passed (today is not over).
//!   A commitment is **due in the window** when its effective date lies in the window.
//!   **kept** = done on or before its due date (or done, when it had none); **late** = done
//!   after it; **missed** = marked missed; **overdue** = still open after its due date.
//!   `due = kept + late + missed + overdue`; **adherence** = kept / due (none when nothing
//!   was due). A **miss** (for patterns) is any due commitment that was not kept.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::patterns::{self, GapStats, Pattern, WeekendCheckinStats, WeekendMissStats};

/// A commitment: the GROW "will" step, `/commit <text> [by <date>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub id: i64,
    pub created: NaiveDate,
    pub due: Option<NaiveDate>,
    pub status: CommitmentStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CommitmentStatus {
    Open,
    Done { on: NaiveDate },
    Missed { on: NaiveDate },
}

/// How one commitment stands on a given day, and the day it counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Kept,
    Late,
    Missed,
    Overdue,
}

impl Commitment {
    /// The outcome and effective date of this commitment as seen on `today`, or `None`
    /// while it cannot be judged yet (open and not past due, or resolved in the future).
    pub(crate) fn judged(&self, today: NaiveDate) -> Option<(Outcome, NaiveDate)> {
        let (outcome, date) = match (self.status, self.due) {
            (CommitmentStatus::Done { on }, Some(due)) if on <= due => (Outcome::Kept, on.min(due)),
            (CommitmentStatus::Done { .. }, Some(due)) => (Outcome::Late, due),
            (CommitmentStatus::Done { on }, None) => (Outcome::Kept, on),
            (CommitmentStatus::Missed { on }, due) => {
                (Outcome::Missed, due.map_or(on, |d| d.min(on)))
            }
            (CommitmentStatus::Open, Some(due)) if due < today => (Outcome::Overdue, due),
            (CommitmentStatus::Open, _) => return None,
        };
        (date <= today).then_some((outcome, date))
    }
}

/// Knobs of the metrics and pattern detectors. The defaults are the documented behaviour;
/// `window_days` is also set from the update policy (`BEHAVIORAL_ANALYSIS_DAYS`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Days in the analysis window, today included.
    pub window_days: u32,
    /// Weekend misses: fewer misses than this say nothing.
    pub weekend_min_misses: u32,
    /// Weekend misses: flagged when a share this high would arise by chance with
    /// probability below this (one-sided binomial test against the base rate).
    pub weekend_significance: f64,
    /// A gap is at least this many consecutive days without a check-in.
    pub gap_days: u32,
    /// Drop-off: a gap "relapses" when another gap starts within this many days of the return.
    pub relapse_within_days: u32,
    /// Drop-off: judged gaps needed before the pattern can be flagged.
    pub dropoff_min_gaps: u32,
    /// Drop-off: flagged when at least this share of judged gaps relapsed.
    pub dropoff_min_share: f64,
    /// Weekend check-in dip: weekend days observed before the pattern can be flagged.
    pub weekend_dip_min_weekend_days: u32,
    /// Weekend check-in dip: flagged when the weekday rate exceeds the weekend rate by this.
    pub weekend_dip_min_difference: f64,
    /// Late completions: late commitments needed before the pattern can be flagged.
    pub late_min: u32,
    /// Late completions: flagged when at least this share of completed ones were late.
    pub late_min_share: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            window_days: 30,
            weekend_min_misses: 4,
            weekend_significance: 0.05,
            gap_days: 3,
            relapse_within_days: 7,
            dropoff_min_gaps: 2,
            dropoff_min_share: 0.5,
            weekend_dip_min_weekend_days: 6,
            weekend_dip_min_difference: 0.3,
            late_min: 3,
            late_min_share: 0.3,
        }
    }
}

impl MetricsConfig {
    /// Checks every knob is in a range that means something.
    pub fn validate(&self) -> Result<(), String> {
        if !(7..=366).contains(&self.window_days) {
            return Err(format!(
                "window_days {} is out of range: use 7..366 days",
                self.window_days
            ));
        }
        if self.gap_days == 0 || self.relapse_within_days == 0 {
            return Err("gap_days and relapse_within_days must be at least 1".into());
        }
        for (name, v) in [
            ("weekend_significance", self.weekend_significance),
            ("dropoff_min_share", self.dropoff_min_share),
            (
                "weekend_dip_min_difference",
                self.weekend_dip_min_difference,
            ),
            ("late_min_share", self.late_min_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} {v} is out of range 0..1"));
            }
        }
        Ok(())
    }
}

/// Commitment counts in the window (see the module docs for definitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentCounts {
    /// Due in the window: kept + late + missed + overdue.
    pub due: u32,
    pub kept: u32,
    pub late: u32,
    pub missed: u32,
    /// Still open after their due date (included in `due` and `open`).
    pub overdue: u32,
    /// All commitments open today, whatever their due date.
    pub open: u32,
}

/// One behaviour snapshot, stored as JSON and compared week to week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub today: NaiveDate,
    pub window_days: u32,
    pub window_start: NaiveDate,
    /// Days of the window that count (today only once it has a check-in).
    pub observed_days: u32,
    pub checkin_days: u32,
    /// checkin_days / observed_days, in 0..1.
    pub logging_consistency: f64,
    pub current_streak: u32,
    pub best_streak: u32,
    pub last_checkin: Option<NaiveDate>,
    pub commitments: CommitmentCounts,
    /// kept / due; `None` when nothing was due in the window.
    pub adherence: Option<f64>,
    pub weekend_misses: WeekendMissStats,
    pub weekend_checkins: WeekendCheckinStats,
    pub gaps: GapStats,
    /// The failure patterns that were flagged, each with a sentence for the prompt and UI.
    pub patterns: Vec<Pattern>,
}

/// Computes a snapshot. `checkins` are local days with at least one session (any order,
/// repeats allowed; days after `today` are ignored). `config` should be validated.
pub fn compute_metrics(
    checkins: &[NaiveDate],
    commitments: &[Commitment],
    today: NaiveDate,
    config: &MetricsConfig,
) -> Metrics {
    let days: BTreeSet<NaiveDate> = checkins.iter().copied().filter(|d| *d <= today).collect();
    let window_days = config.window_days.max(1);
    let window_start = back(today, window_days - 1);
    let checked_today = days.contains(&today);
    // Last observed day: today once it has a check-in, else yesterday.
    let observed_end = if checked_today { today } else { back(today, 1) };
    let observed_days = if checked_today {
        window_days
    } else {
        window_days - 1
    };
    let checkin_days = days.range(window_start..=today).count() as u32;
    let logging_consistency = ratio(checkin_days, observed_days).unwrap_or(0.0);

    let current_streak = run_ending_at(&days, observed_end);
    let best_streak = longest_run(&days).max(current_streak);

    let mut counts = CommitmentCounts::default();
    let mut judged = Vec::new();
    for c in commitments.iter().filter(|c| c.created <= today) {
        if c.status == CommitmentStatus::Open {
            counts.open += 1;
        }
        let Some((outcome, date)) = c.judged(today) else {
            continue;
        };
        if date < window_start {
            continue;
        }
        counts.due += 1;
        match outcome {
            Outcome::Kept => counts.kept += 1,
            Outcome::Late => counts.late += 1,
            Outcome::Missed => counts.missed += 1,
            Outcome::Overdue => counts.overdue += 1,
        }
        judged.push((outcome, date));
    }
    let adherence = ratio(counts.kept, counts.due);

    let weekend_misses = patterns::weekend_misses(&judged, config);
    let weekend_checkins = patterns::weekend_checkins(&days, window_start, observed_end);
    let gaps = patterns::gaps(&days, window_start, observed_end, config);

    let mut metrics = Metrics {
        today,
        window_days,
        window_start,
        observed_days,
        checkin_days,
        logging_consistency,
        current_streak,
        best_streak,
        last_checkin: days.last().copied(),
        commitments: counts,
        adherence,
        weekend_misses,
        weekend_checkins,
        gaps,
        patterns: Vec::new(),
    };
    metrics.patterns = patterns::flagged(&metrics, config);
    metrics
}

pub(crate) fn back(day: NaiveDate, n: u32) -> NaiveDate {
    day.checked_sub_days(Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MIN)
}

pub(crate) fn ratio(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) / f64::from(whole))
}

pub(crate) fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Length of the run of consecutive check-in days ending at `end` (0 when `end` has none).
fn run_ending_at(days: &BTreeSet<NaiveDate>, end: NaiveDate) -> u32 {
    let mut n = 0;
    let mut day = end;
    while days.contains(&day) {
        n += 1;
        match day.pred_opt() {
            Some(prev) => day = prev,
            None => break,
        }
    }
    n
}

fn longest_run(days: &BTreeSet<NaiveDate>) -> u32 {
    let mut best = 0;
    let mut run = 0;
    let mut prev: Option<NaiveDate> = None;
    for &d in days {
        run = match prev {
            Some(p) if p.succ_opt() == Some(d) => run + 1,
            _ => 1,
        };
        best = best.max(run);
        prev = Some(d);
    }
    best
}
