//! Behaviour tracking: what the person actually does, and when that is worth a new prompt.
//!
//! This is the pure core of the weekly personalised-prompt update (issue 6):
//!
//! - [`days`]: UTC timestamps → local calendar days, so streaks follow the person's clock.
//! - [`metrics`]: logging consistency, streaks, commitment adherence and counts over a window.
//! - [`patterns`]: failure patterns (weekend misses, drop-off after gaps, …) with a sentence each.
//! - [`schedule`]: the update policy (config + env) and whether an update is due now.
//! - [`change`]: whether the metrics moved enough since the last prompt to pay for a new one.
//!
//! Everything here is synchronous and reads no clock, file or environment: "today", "now",
//! the time zone and the environment lookup are parameters, so tests use a fixed clock.
//!
//! The job that uses it (coach/jobs) runs, per profile:
//! `is_update_due` → `compute_metrics` → `detect_change(previous, current)` → regenerate or
//! store the snapshot only. `previous` should be the snapshot the *current prompt version was
//! generated from*, not simply last week's snapshot: compared week to week, a slow drift (a
//! person who slips 5 points a week) never crosses a 0.10 threshold, while compared to the
//! prompt's own baseline it does in the third week. `benches/update_simulation.rs` measures both.

pub mod change;
pub mod days;
pub mod metrics;
pub mod patterns;
pub mod schedule;

pub use change::{ChangeVerdict, MetricDeltas, detect_change};
pub use days::{checkin_days, local_date, local_date_in, local_datetime, system_local_datetime};
pub use metrics::{
    Commitment, CommitmentCounts, CommitmentStatus, Metrics, MetricsConfig, compute_metrics,
};
pub use patterns::{GapStats, Pattern, PatternKind, WeekendCheckinStats, WeekendMissStats};
pub use schedule::{Due, UpdatePolicy, env_names, is_update_due, parse_weekday};
