//! Time for the coach: the real clock in the app, a fixed one in tests. The routing core
//! never reads a clock; the coach reads this one and passes milliseconds down.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Datelike, Local, LocalResult, NaiveDate, TimeZone};

#[derive(Clone)]
pub enum Clock {
    System,
    /// A settable clock for tests, in unix milliseconds.
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    pub fn fixed(ms: i64) -> Clock {
        Clock::Fixed(Arc::new(AtomicI64::new(ms)))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            Clock::Fixed(ms) => ms.load(Ordering::Relaxed),
        }
    }

    /// Moves a fixed clock forward (no effect on the system clock).
    pub fn advance_ms(&self, by: i64) {
        if let Clock::Fixed(ms) = self {
            ms.fetch_add(by, Ordering::Relaxed);
        }
    }

    /// Unix ms of the start of the local day and of the local month containing `now_ms`.
    pub fn local_day_and_month_start(&self, now_ms: i64) -> (i64, i64) {
        let now = Local
            .timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or_else(Local::now);
        let day = now.date_naive();
        let month = NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day);
        (local_midnight_ms(day), local_midnight_ms(month))
    }
}

fn local_midnight_ms(day: NaiveDate) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match Local.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
        // A DST gap at midnight: the day starts at the first instant that exists.
        LocalResult::None => Local
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or(0, |t| t.timestamp_millis()),
    }
}
