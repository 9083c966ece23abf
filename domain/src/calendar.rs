//! The Chinese working-day calendar for T+1 settlement and deadlines in working days
//! (domain-notes §3.4). The data is `domain/data/holidays-cn.json`, compiled in: a day is off
//! if listed as a holiday, or if it is a weekend day not listed as a make-up workday. A date in
//! a year that is not loaded is refused rather than guessed.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use crate::error::DomainError;

const HOLIDAYS_JSON: &str = include_str!("../data/holidays-cn.json");
/// Furthest a working-day search walks before giving up (the longest holiday is 9 days).
const MAX_DAYS_SEARCHED: u32 = 400;

#[derive(Deserialize)]
struct File {
    years: Vec<Year>,
}

#[derive(Deserialize)]
struct Year {
    year: i32,
    days: Vec<Day>,
}

#[derive(Deserialize)]
struct Day {
    date: NaiveDate,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

/// The loaded calendar.
#[derive(Debug, Default)]
pub struct Calendar {
    years: BTreeSet<i32>,
    overrides: HashMap<NaiveDate, bool>,
}

impl Calendar {
    /// The calendar compiled into Lvyue.
    pub fn china() -> &'static Calendar {
        static CAL: OnceLock<Calendar> = OnceLock::new();
        CAL.get_or_init(|| Calendar::parse(HOLIDAYS_JSON).unwrap_or_default())
    }

    fn parse(json: &str) -> Result<Calendar, serde_json::Error> {
        let file: File = serde_json::from_str(json)?;
        let mut cal = Calendar::default();
        for y in file.years {
            cal.years.insert(y.year);
            for d in y.days {
                cal.overrides.insert(d.date, !d.is_off_day);
            }
        }
        Ok(cal)
    }

    /// The years this calendar knows.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// # Errors
    /// `VALIDATION` when the date's year is not loaded.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, DomainError> {
        if !self.years.contains(&date.year()) {
            return Err(DomainError::invalid(
                "date",
                format!(
                    "the holiday calendar for {} is not loaded; refusing to schedule on {date}",
                    date.year()
                ),
            ));
        }
        Ok(match self.overrides.get(&date) {
            Some(working) => *working,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        })
    }

    /// The first working day strictly after `date`: the settlement date of a payment made on
    /// `date` (T+1).
    ///
    /// # Errors
    /// A year on the way is not loaded.
    pub fn next_working_day(&self, date: NaiveDate) -> Result<NaiveDate, DomainError> {
        self.add_working_days(date, 1)
    }

    /// The `n`-th working day after `date` (a deadline of "15 working days").
    ///
    /// # Errors
    /// A year on the way is not loaded.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, DomainError> {
        let mut d = date;
        let mut left = n;
        let mut walked = 0;
        while left > 0 {
            d = d
                .succ_opt()
                .ok_or_else(|| DomainError::invalid("date", "out of range"))?;
            walked += 1;
            if walked > MAX_DAYS_SEARCHED + n {
                return Err(DomainError::invalid("date", "no working day found"));
            }
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// Working days strictly after `from` up to and including `to` (0 when `to ≤ from`).
    ///
    /// # Errors
    /// A year on the way is not loaded.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, DomainError> {
        let mut d = from;
        let mut n = 0;
        while d < to {
            d = d
                .succ_opt()
                .ok_or_else(|| DomainError::invalid("date", "out of range"))?;
            if self.is_working_day(d)? {
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_payment_on_the_eve_of_national_day_settles_after_the_holiday() {
        assert_eq!(
            Calendar::china().next_working_day(d("2026-09-30")).unwrap(),
            d("2026-10-08")
        );
    }

    #[test]
    fn a_friday_payment_before_spring_festival_settles_on_the_make_up_saturday() {
        assert_eq!(
            Calendar::china().next_working_day(d("2026-02-13")).unwrap(),
            d("2026-02-14")
        );
    }

    #[test]
    fn ordinary_weekends_roll_to_monday() {
        assert_eq!(
            Calendar::china().next_working_day(d("2026-11-20")).unwrap(),
            d("2026-11-23")
        );
        assert_eq!(
            Calendar::china().next_working_day(d("2026-11-21")).unwrap(),
            d("2026-11-23")
        );
    }

    #[test]
    fn every_loaded_year_has_its_published_make_up_days() {
        let cal = Calendar::china();
        assert_eq!(cal.years().collect::<Vec<_>>(), [2024, 2025, 2026]);
        for day in [
            "2024-02-04",
            "2024-10-12",
            "2025-01-26",
            "2025-10-11",
            "2026-01-04",
            "2026-10-10",
        ] {
            assert!(
                cal.is_working_day(d(day)).unwrap(),
                "{day} is a make-up workday"
            );
        }
        for day in [
            "2024-10-07",
            "2025-01-28",
            "2025-10-08",
            "2026-02-23",
            "2026-06-19",
        ] {
            assert!(!cal.is_working_day(d(day)).unwrap(), "{day} is a holiday");
        }
    }

    #[test]
    fn a_year_that_is_not_loaded_is_refused() {
        let err = Calendar::china()
            .next_working_day(d("2026-12-31"))
            .unwrap_err();
        assert!(err.to_string().contains("2027"), "{err}");
        assert!(Calendar::china().is_working_day(d("2023-06-01")).is_err());
    }

    #[test]
    fn deadlines_count_working_days_only() {
        // 15 working days from Wednesday 2026-09-23 skip Mid-Autumn and National Day.
        let due = Calendar::china()
            .add_working_days(d("2026-09-23"), 15)
            .unwrap();
        assert_eq!(due, d("2026-10-21"));
        assert_eq!(
            Calendar::china()
                .working_days_between(d("2026-09-23"), due)
                .unwrap(),
            15
        );
    }
}
