//! The Chinese working-day calendar for T+1 settlement and deadlines in working days
//! (docs/calendar.md). The calendar is operational data: the years the bank has loaded live in
//! the database ([`store`]), each from a State Council notice; a day of a loaded year is off if
//! it is listed as a holiday, or if it is a weekend day not listed as a make-up workday.
//!
//! Money is never refused for want of a calendar. A date in a year that is not loaded is
//! computed by the statutory rules alone ([`statutory`]) and every date reached through such a
//! year is marked provisional; loading the year re-plans those dates ([`replan`]).

pub mod replan;
pub mod statutory;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

pub use store::HolidayDay;

/// Furthest a working-day search walks past its count before giving up (the longest holiday
/// is 9 days, so this is never reached by real data).
const MAX_DAYS_SEARCHED: u32 = 400;

/// Years a calendar read reaches past the year it starts in: enough for any deadline a policy
/// may set (at most 365 working days, checked when the policy is created).
pub const YEARS_AHEAD: i32 = 2;

/// A date computed from working days, and whether a year on the way was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingDate {
    pub date: NaiveDate,
    /// Some day on the way was judged by the statutory rules alone: the date may move when
    /// that year's calendar is loaded.
    pub provisional: bool,
}

/// A count of working days, and whether a year on the way was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingDays {
    pub days: u32,
    pub provisional: bool,
}

/// One year of the calendar as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct YearDays {
    loaded: bool,
    /// Days that differ from the plain week: `true` = working, `false` = off.
    overrides: HashMap<NaiveDate, bool>,
}

/// The calendar for a range of years, read once for one command or query.
#[derive(Debug, Clone)]
pub struct Calendar {
    years: BTreeMap<i32, YearDays>,
}

impl Calendar {
    /// Reads `years` from the database; the years in that range that are not loaded are
    /// filled in by the statutory rules.
    ///
    /// # Errors
    /// Database errors; a stored date that does not parse.
    pub async fn read<C: ConnectionTrait>(
        db: &C,
        years: RangeInclusive<i32>,
    ) -> DomainResult<Calendar> {
        let loaded = store::loaded_days(db, years.clone()).await?;
        Calendar::from_days(years, &loaded)
    }

    /// Reads the years a walk from `date` may reach ([`YEARS_AHEAD`] past its year).
    ///
    /// # Errors
    /// As [`Calendar::read`].
    pub async fn read_from<C: ConnectionTrait>(db: &C, date: NaiveDate) -> DomainResult<Calendar> {
        Calendar::read(db, date.year()..=date.year() + YEARS_AHEAD).await
    }

    /// A calendar of `years` from the listed days of the `loaded` ones; every other year in
    /// `years` follows the statutory rules.
    ///
    /// # Errors
    /// The statutory rules cannot place a year's lunar holidays.
    pub fn from_days(
        years: RangeInclusive<i32>,
        loaded: &BTreeMap<i32, Vec<HolidayDay>>,
    ) -> DomainResult<Calendar> {
        let mut cal = Calendar {
            years: BTreeMap::new(),
        };
        for year in years {
            let y = match loaded.get(&year) {
                Some(days) => YearDays {
                    loaded: true,
                    overrides: days.iter().map(|d| (d.date, !d.off_day)).collect(),
                },
                None => YearDays {
                    loaded: false,
                    overrides: statutory::holidays(year)?
                        .into_iter()
                        .map(|h| (h.date, false))
                        .collect(),
                },
            };
            cal.years.insert(year, y);
        }
        Ok(cal)
    }

    /// Whether `date` is a working day, and whether that is provisional.
    ///
    /// # Errors
    /// `INVARIANT` when the date's year was not read: a caller read too few years, which is a
    /// bug, not a reason to refuse the customer.
    pub fn is_working_day(&self, date: NaiveDate) -> DomainResult<(bool, bool)> {
        let y = self.years.get(&date.year()).ok_or_else(|| {
            DomainError::Invariant(format!(
                "the calendar for {} was not read before counting working days",
                date.year()
            ))
        })?;
        let working = match y.overrides.get(&date) {
            Some(working) => *working,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        };
        Ok((working, !y.loaded))
    }

    /// The first working day strictly after `date`: the settlement date of a payment made on
    /// `date` (T+1).
    ///
    /// # Errors
    /// As [`Calendar::is_working_day`].
    pub fn next_working_day(&self, date: NaiveDate) -> DomainResult<WorkingDate> {
        self.add_working_days(date, 1)
    }

    /// The `n`-th working day after `date` (a deadline of "15 working days").
    ///
    /// # Errors
    /// As [`Calendar::is_working_day`].
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> DomainResult<WorkingDate> {
        let mut d = date;
        let mut left = n;
        let mut walked = 0;
        let mut provisional = false;
        while left > 0 {
            d = d
                .succ_opt()
                .ok_or_else(|| DomainError::invalid("date", "out of range"))?;
            walked += 1;
            if walked > MAX_DAYS_SEARCHED + n {
                return Err(DomainError::Invariant(format!(
                    "no working day in {walked} days after {date}"
                )));
            }
            let (working, guessed) = self.is_working_day(d)?;
            provisional |= guessed;
            if working {
                left -= 1;
            }
        }
        Ok(WorkingDate {
            date: d,
            provisional,
        })
    }

    /// Working days strictly after `from` up to and including `to` (0 when `to ≤ from`).
    ///
    /// # Errors
    /// As [`Calendar::is_working_day`].
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> DomainResult<WorkingDays> {
        let mut d = from;
        let mut out = WorkingDays {
            days: 0,
            provisional: false,
        };
        while d < to {
            d = d
                .succ_opt()
                .ok_or_else(|| DomainError::invalid("date", "out of range"))?;
            let (working, guessed) = self.is_working_day(d)?;
            out.provisional |= guessed;
            if working {
                out.days += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
