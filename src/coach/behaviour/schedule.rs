//! The update policy (the `[personalization]` config section and its env names) and the
//! question the job asks every hour: is a prompt update due now?
//!
//! An update is due when both hold:
//! - the weekly slot (`update_day` at `update_hour`:00 local) has passed since the last
//!   update: the most recent slot at or before now is later than the last update;
//! - the last update is at least `min_days_between_updates` **calendar days** old, counted
//!   up to that slot. Calendar days (local dates), not 24-hour periods: a job that ran at
//!   03:05 last Sunday must be due again at 03:00 this Sunday, or a weekly cron would only
//!   fire every other week. Counted up to the slot, not up to now: after a manual
//!   regeneration on a Thursday the next update waits for the Sunday slot ten days later,
//!   instead of firing at midnight the next Thursday.
//!
//! `--force` is the caller's business; times are local wall-clock times the caller computed.

use chrono::{Datelike, Days, NaiveDateTime, NaiveTime};
use serde::Serialize;

use super::metrics::MetricsConfig;

/// The `[personalization]` config section is defined with the settings (bottom layer);
/// its behaviour lives here.
pub use crate::config::sections::{UpdatePolicy, parse_weekday, weekday_name};

/// The environment variables of the personalisation policy (names from the original design).
pub mod env_names {
    pub const MIN_DAYS_BETWEEN_UPDATES: &str = "MIN_DAYS_BETWEEN_UPDATES";
    pub const PROMPT_UPDATE_DAY: &str = "PROMPT_UPDATE_DAY";
    pub const PROMPT_UPDATE_HOUR: &str = "PROMPT_UPDATE_HOUR";
    pub const ADHERENCE_CHANGE_THRESHOLD: &str = "ADHERENCE_CHANGE_THRESHOLD";
    pub const LOGGING_CHANGE_THRESHOLD: &str = "LOGGING_CHANGE_THRESHOLD";
    pub const STREAK_CHANGE_THRESHOLD: &str = "STREAK_CHANGE_THRESHOLD";
    pub const ENABLE_AUTOMATIC_UPDATES: &str = "ENABLE_AUTOMATIC_UPDATES";
    pub const ENABLE_CHANGE_DETECTION: &str = "ENABLE_CHANGE_DETECTION";
    pub const ENABLE_GENERIC_FALLBACK: &str = "ENABLE_GENERIC_FALLBACK";
    pub const BEHAVIORAL_ANALYSIS_DAYS: &str = "BEHAVIORAL_ANALYSIS_DAYS";
}

impl UpdatePolicy {
    /// Defaults with every set env variable applied, validated. `get` looks a variable up
    /// (inject `config::process_env` at the edge, a map in tests).
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<UpdatePolicy, String> {
        let mut policy = UpdatePolicy::default();
        policy.apply_env(get)?;
        Ok(policy)
    }

    /// Applies set env variables over `self` (e.g. over the config file's section), then
    /// validates the result.
    pub fn apply_env(&mut self, get: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        use env_names::*;
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(MIN_DAYS_BETWEEN_UPDATES) {
            self.min_days_between_updates = parse_uint(MIN_DAYS_BETWEEN_UPDATES, &v)?;
        }
        if let Some(v) = get(PROMPT_UPDATE_DAY) {
            self.update_day = parse_weekday(&v).map_err(|e| format!("{PROMPT_UPDATE_DAY}: {e}"))?;
        }
        if let Some(v) = get(PROMPT_UPDATE_HOUR) {
            self.update_hour = parse_uint(PROMPT_UPDATE_HOUR, &v)?;
        }
        if let Some(v) = get(ADHERENCE_CHANGE_THRESHOLD) {
            self.adherence_change_threshold = parse_fraction(ADHERENCE_CHANGE_THRESHOLD, &v)?;
        }
        if let Some(v) = get(LOGGING_CHANGE_THRESHOLD) {
            self.logging_change_threshold = parse_fraction(LOGGING_CHANGE_THRESHOLD, &v)?;
        }
        if let Some(v) = get(STREAK_CHANGE_THRESHOLD) {
            self.streak_change_threshold = parse_uint(STREAK_CHANGE_THRESHOLD, &v)?;
        }
        if let Some(v) = get(ENABLE_AUTOMATIC_UPDATES) {
            self.enable_automatic_updates = parse_bool(ENABLE_AUTOMATIC_UPDATES, &v)?;
        }
        if let Some(v) = get(ENABLE_CHANGE_DETECTION) {
            self.enable_change_detection = parse_bool(ENABLE_CHANGE_DETECTION, &v)?;
        }
        if let Some(v) = get(ENABLE_GENERIC_FALLBACK) {
            self.enable_generic_fallback = parse_bool(ENABLE_GENERIC_FALLBACK, &v)?;
        }
        if let Some(v) = get(BEHAVIORAL_ANALYSIS_DAYS) {
            self.analysis_window_days = parse_uint(BEHAVIORAL_ANALYSIS_DAYS, &v)?;
        }
        self.validate()
            .map_err(|(var, message)| format!("{var}: {message}"))
    }

    /// Checks ranges; the error names the env variable and the config key of the bad value.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        use env_names::*;
        if self.update_hour > 23 {
            return Err((
                PROMPT_UPDATE_HOUR,
                format!(
                    "update_hour {} is out of range: use a local hour 0..23 (3 = 03:00)",
                    self.update_hour
                ),
            ));
        }
        for (var, key, v) in [
            (
                ADHERENCE_CHANGE_THRESHOLD,
                "adherence_change_threshold",
                self.adherence_change_threshold,
            ),
            (
                LOGGING_CHANGE_THRESHOLD,
                "logging_change_threshold",
                self.logging_change_threshold,
            ),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err((
                    var,
                    format!("{key} {v} is out of range: use a share 0..1 (0.10 = 10 points)"),
                ));
            }
        }
        if self.min_days_between_updates > 366 {
            return Err((
                MIN_DAYS_BETWEEN_UPDATES,
                format!(
                    "min_days_between_updates {} is out of range: use 0..366 days",
                    self.min_days_between_updates
                ),
            ));
        }
        if self.streak_change_threshold == 0 {
            return Err((
                STREAK_CHANGE_THRESHOLD,
                "streak_change_threshold must be at least 1 day (0 would regenerate every week)"
                    .into(),
            ));
        }
        if !(7..=366).contains(&self.analysis_window_days) {
            return Err((
                BEHAVIORAL_ANALYSIS_DAYS,
                format!(
                    "analysis_window_days {} is out of range: use 7..366 days",
                    self.analysis_window_days
                ),
            ));
        }
        Ok(())
    }

    /// The metrics settings this policy implies (its window, default pattern knobs).
    pub fn metrics_config(&self) -> MetricsConfig {
        MetricsConfig {
            window_days: self.analysis_window_days,
            ..MetricsConfig::default()
        }
    }

    /// The most recent update slot at or before `now`.
    pub fn last_slot(&self, now: NaiveDateTime) -> NaiveDateTime {
        let back =
            (7 + now.weekday().num_days_from_monday() - self.update_day.num_days_from_monday()) % 7;
        let hour = NaiveTime::from_hms_opt(self.update_hour.min(23), 0, 0).unwrap_or_default();
        let slot = minus_days(now.date(), u64::from(back)).and_time(hour);
        if slot > now {
            minus_days(slot.date(), 7).and_time(hour)
        } else {
            slot
        }
    }
}

fn minus_days(d: chrono::NaiveDate, n: u64) -> chrono::NaiveDate {
    d.checked_sub_days(Days::new(n))
        .unwrap_or(chrono::NaiveDate::MIN)
}

fn parse_uint(var: &str, v: &str) -> Result<u32, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{var}: `{v}` is not a whole number of at least 0"))
}

fn parse_fraction(var: &str, v: &str) -> Result<f64, String> {
    let hint = "use a share 0..1, e.g. 0.10 for 10 points";
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{var}: `{v}` is not a number: {hint}"))?;
    if x.is_finite() && (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{var}: {v} is out of range: {hint}"))
    }
}

fn parse_bool(var: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{var}: `{v}` is not a boolean: use true or false")),
    }
}

/// Whether an update is due, why, and when it is (or was) first due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    pub due: bool,
    pub reason: String,
    /// The earliest local time the update is due after the last one (≤ now when due);
    /// `None` when automatic updates are off or there was no previous update.
    pub due_at: Option<NaiveDateTime>,
}

/// Is the scheduled prompt update due at local time `now`, given the local time of the last
/// update (`None`: never updated, so due)?
pub fn is_update_due(
    policy: &UpdatePolicy,
    last_update: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Due {
    if !policy.enable_automatic_updates {
        return Due {
            due: false,
            reason: "automatic updates are off (ENABLE_AUTOMATIC_UPDATES=false)".into(),
            due_at: None,
        };
    }
    let slot_name = format!(
        "{} {:02}:00",
        weekday_name(policy.update_day),
        policy.update_hour
    );
    let Some(last) = last_update else {
        return Due {
            due: true,
            reason: "no update has been made yet".into(),
            due_at: None,
        };
    };
    if last > now {
        return Due {
            due: false,
            reason: format!(
                "the last update ({}) is later than now ({}); was the clock or time zone changed?",
                last.format("%Y-%m-%d %H:%M"),
                now.format("%Y-%m-%d %H:%M")
            ),
            due_at: None,
        };
    }
    let min_days = i64::from(policy.min_days_between_updates);
    let days_old = (now.date() - last.date()).num_days();
    let slot = policy.last_slot(now);
    let slot_days_after_last = (slot.date() - last.date()).num_days();
    let due_at = first_due_slot(policy, last);
    let fmt = |t: NaiveDateTime| t.format("%a %Y-%m-%d %H:%M").to_string();

    let not_due = |reason: String| Due {
        due: false,
        reason,
        due_at: Some(due_at),
    };
    if days_old < min_days {
        not_due(format!(
            "last update was {days_old} day(s) ago; updates are at least {min_days} days apart (next: {})",
            fmt(due_at)
        ))
    } else if slot <= last {
        not_due(format!(
            "the {slot_name} slot has not come round since the last update (next: {})",
            fmt(due_at)
        ))
    } else if slot_days_after_last < min_days {
        not_due(format!(
            "the last slot ({}) was only {slot_days_after_last} day(s) after the last update; updates are at least {min_days} days apart (next: {})",
            fmt(slot),
            fmt(due_at)
        ))
    } else {
        Due {
            due: true,
            reason: format!(
                "last update {days_old} days ago and the {slot_name} slot ({}) has passed",
                fmt(slot)
            ),
            due_at: Some(due_at),
        }
    }
}

/// The first slot after `last` that is at least `min_days_between_updates` calendar days
/// after it: the moment the update becomes due.
fn first_due_slot(policy: &UpdatePolicy, last: NaiveDateTime) -> NaiveDateTime {
    let min_days = i64::from(policy.min_days_between_updates);
    let after = |slot: NaiveDateTime, weeks: i64| {
        slot.checked_add_signed(chrono::Duration::weeks(weeks))
            .unwrap_or(NaiveDateTime::MAX)
    };
    let next = after(policy.last_slot(last), 1);
    let short = min_days - (next.date() - last.date()).num_days();
    if short <= 0 {
        next
    } else {
        // Whole weeks needed to make up the shortfall, rounded up.
        after(next, (short + 6) / 7)
    }
}
