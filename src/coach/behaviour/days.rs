//! UTC timestamps → the person's local calendar days.
//!
//! Sessions are stored with UTC millisecond timestamps; streaks and "days with a check-in"
//! are about the person's own calendar. 23:30 UTC on Jan 31 is already Feb 1 in UTC+8, so
//! a day must be computed in the person's offset before anything is counted.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone};

/// The local calendar day of a UTC millisecond timestamp at `offset`; `None` when the
/// timestamp is outside chrono's range (a corrupt row, not a real session).
pub fn local_date(ts_ms: i64, offset: FixedOffset) -> Option<NaiveDate> {
    local_datetime(ts_ms, offset).map(|dt| dt.date())
}

/// The local wall-clock time of a UTC millisecond timestamp at `offset`.
pub fn local_datetime(ts_ms: i64, offset: FixedOffset) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(ts_ms).map(|utc| utc.with_timezone(&offset).naive_local())
}

/// The local calendar day in any chrono time zone (a fixed offset, `Utc`, or `Local`).
pub fn local_date_in<Tz: TimeZone>(ts_ms: i64, tz: &Tz) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ts_ms).map(|utc| utc.with_timezone(tz).date_naive())
}

/// The system's local wall-clock time of a timestamp. Reads the machine's time zone, so it
/// belongs at the edge (the job runner, the TUI), never inside metrics or tests.
pub fn system_local_datetime(ts_ms: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp_millis(ts_ms).map(|utc| utc.with_timezone(&Local).naive_local())
}

/// Check-in days from session timestamps: local days at `offset`, sorted, without repeats.
/// Out-of-range timestamps are skipped.
pub fn checkin_days(timestamps_ms: &[i64], offset: FixedOffset) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = timestamps_ms
        .iter()
        .filter_map(|&ts| local_date(ts, offset))
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ms(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn late_utc_evening_is_next_day_east_and_same_day_west() {
        let ts = ms(2026, 1, 31, 23, 30);
        let east = FixedOffset::east_opt(8 * 3600).unwrap();
        let west = FixedOffset::west_opt(5 * 3600).unwrap();
        assert_eq!(local_date(ts, east), ymd(2026, 2, 1));
        assert_eq!(local_date(ts, west), ymd(2026, 1, 31));
        assert_eq!(local_date_in(ts, &Utc), ymd(2026, 1, 31));
        assert_eq!(local_date_in(ts, &east), ymd(2026, 2, 1));
    }

    #[test]
    fn checkin_days_are_sorted_and_deduplicated() {
        let utc8 = FixedOffset::east_opt(8 * 3600).unwrap();
        let days = checkin_days(
            &[
                ms(2026, 2, 1, 10, 0),
                ms(2026, 1, 31, 23, 30), // Feb 1 in UTC+8
                ms(2026, 1, 30, 1, 0),
                i64::MAX, // out of range: skipped
            ],
            utc8,
        );
        assert_eq!(
            days,
            vec![ymd(2026, 1, 30).unwrap(), ymd(2026, 2, 1).unwrap()]
        );
    }
}
