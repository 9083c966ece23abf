//! Time. Every command reads "now" from a [`Clock`] so tests can move time forward (T+1
//! settlement, expiry, hold timeouts) without sleeping. Times are microseconds since the Unix
//! epoch, the precision both SQLite and PostgreSQL keep exactly.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A point in time, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn from_utc(t: DateTime<Utc>) -> Timestamp {
        Timestamp(t.timestamp_micros())
    }

    /// RFC 3339 in UTC with exactly six fractional digits: the form used in notarized events,
    /// so it must never change.
    pub fn rfc3339(self) -> String {
        self.to_utc().to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// RFC 3339 in China Standard Time to the second (`2026-03-05T10:00:00+08:00`): the form
    /// people read, in files they open (CSV reports). Never in notarized bytes: see
    /// [`Timestamp::rfc3339`].
    pub fn china_rfc3339(self) -> String {
        self.to_utc()
            .with_timezone(&china_offset())
            .to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    /// The calendar date in China Standard Time (UTC+8), which is what settlement dates,
    /// working days and deadlines count in.
    pub fn china_date(self) -> NaiveDate {
        self.to_utc().with_timezone(&china_offset()).date_naive()
    }

    /// Midnight at the start of `date` in China Standard Time.
    pub fn china_midnight(date: NaiveDate) -> Timestamp {
        let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        let local = china_offset().from_local_datetime(&naive).single();
        Timestamp(local.map(|t| t.timestamp_micros()).unwrap_or(0))
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(days.saturating_mul(86_400_000_000)))
    }

    pub fn plus_seconds(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
}

/// China Standard Time, UTC+8, with no daylight saving time.
const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

fn china_offset() -> FixedOffset {
    CHINA_STANDARD_TIME
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Where commands get the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The system clock, truncated to microseconds.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(Utc::now().timestamp_micros())
    }
}

/// A clock that stands still until moved: for tests and the demo loader, which replays months
/// of history in seconds.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.0))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    pub fn advance_days(&self, days: i64) {
        let now = self.now();
        self.set(now.plus_days(days));
    }

    pub fn advance_seconds(&self, secs: i64) {
        let now = self.now();
        self.set(now.plus_seconds(secs));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_times_have_a_fixed_microsecond_form() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            Timestamp(1_500_000).rfc3339(),
            "1970-01-01T00:00:01.500000Z"
        );
    }

    #[test]
    fn times_for_people_are_china_time_to_the_second() {
        let t = Timestamp::china_midnight(NaiveDate::from_ymd_opt(2026, 3, 5).unwrap())
            .plus_seconds(10 * 3600);
        assert_eq!(t.china_rfc3339(), "2026-03-05T10:00:00+08:00");
        assert_eq!(t.rfc3339(), "2026-03-05T02:00:00.000000Z");
        assert_eq!(
            Timestamp(t.0 + 999_999).china_rfc3339(),
            "2026-03-05T10:00:00+08:00"
        );
    }

    #[test]
    fn china_dates_roll_over_at_utc_sixteen() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let midnight = Timestamp::china_midnight(d);
        assert_eq!(midnight.rfc3339(), "2026-09-29T16:00:00.000000Z");
        assert_eq!(midnight.china_date(), d);
        assert_eq!(
            Timestamp(midnight.0 - 1).china_date(),
            d.pred_opt().unwrap()
        );
    }
}
