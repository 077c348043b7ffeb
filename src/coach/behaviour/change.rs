//! Change detection: is the new behaviour different enough from the old to pay for a new
//! personalised prompt?
//!
//! Regenerate when any of these holds (thresholds from the [`UpdatePolicy`]):
//! - adherence moved by **more than** `adherence_change_threshold` (both snapshots must have
//!   something due: a window with no due commitment has no adherence, and coming and going
//!   of a single commitment is not a change in behaviour);
//! - logging consistency moved by **more than** `logging_change_threshold`;
//! - the current streak moved by **at least** `streak_change_threshold` days.
//!
//! No previous snapshot, or change detection off, always regenerates. Comparisons allow a
//! 1e-9 slack so that a move of exactly the threshold (0.7 → 0.6 is 0.0999… in f64) reads as
//! "exactly the threshold", i.e. not more than it.

use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use super::schedule::UpdatePolicy;

const SLACK: f64 = 1e-9;

/// How each metric moved between two snapshots (current − previous).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricDeltas {
    /// `None` when either snapshot had nothing due.
    pub adherence: Option<f64>,
    pub logging_consistency: f64,
    pub current_streak: i64,
}

/// The verdict, with the reasons to store next to a new prompt version or in the skip log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeVerdict {
    pub regenerate: bool,
    /// Which metrics moved and by how much (or why nothing counted).
    pub reasons: Vec<String>,
    /// `None` without a previous snapshot.
    pub deltas: Option<MetricDeltas>,
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn direction(delta: f64) -> &'static str {
    if delta < 0.0 { "fell" } else { "rose" }
}

/// Compares the snapshot the current prompt was built from (`previous`) with `current`.
pub fn detect_change(
    policy: &UpdatePolicy,
    previous: Option<&Metrics>,
    current: &Metrics,
) -> ChangeVerdict {
    let Some(prev) = previous else {
        return ChangeVerdict {
            regenerate: true,
            reasons: vec!["no previous behaviour snapshot to compare with".into()],
            deltas: None,
        };
    };
    let deltas = MetricDeltas {
        adherence: prev.adherence.zip(current.adherence).map(|(a, b)| b - a),
        logging_consistency: current.logging_consistency - prev.logging_consistency,
        current_streak: i64::from(current.current_streak) - i64::from(prev.current_streak),
    };

    let mut moved = Vec::new();
    let mut steady = Vec::new();

    match (deltas.adherence, prev.adherence, current.adherence) {
        (Some(d), Some(a), Some(b)) => {
            let t = policy.adherence_change_threshold;
            let line = format!(
                "adherence {} {:.2} (from {} to {}, threshold {t:.2})",
                direction(d),
                d.abs(),
                pct(a),
                pct(b)
            );
            if d.abs() > t + SLACK {
                moved.push(line);
            } else {
                steady.push(line);
            }
        }
        _ => steady.push(format!(
            "adherence not compared ({} due before, {} due now)",
            prev.commitments.due, current.commitments.due
        )),
    }

    let d = deltas.logging_consistency;
    let t = policy.logging_change_threshold;
    let line = format!(
        "logging consistency {} {:.2} (from {} to {}, threshold {t:.2})",
        direction(d),
        d.abs(),
        pct(prev.logging_consistency),
        pct(current.logging_consistency)
    );
    if d.abs() > t + SLACK {
        moved.push(line);
    } else {
        steady.push(line);
    }

    let d = deltas.current_streak;
    let t = policy.streak_change_threshold;
    let line = format!(
        "current streak {} by {} day(s) (from {} to {}, threshold {t})",
        if d < 0 { "fell" } else { "grew" },
        d.unsigned_abs(),
        prev.current_streak,
        current.current_streak
    );
    if d.unsigned_abs() >= u64::from(t) {
        moved.push(line);
    } else {
        steady.push(line);
    }

    if !policy.enable_change_detection {
        let mut reasons = vec!["change detection is off: every due update regenerates".into()];
        reasons.extend(moved);
        return ChangeVerdict {
            regenerate: true,
            reasons,
            deltas: Some(deltas),
        };
    }
    let regenerate = !moved.is_empty();
    ChangeVerdict {
        regenerate,
        reasons: if regenerate { moved } else { steady },
        deltas: Some(deltas),
    }
}
