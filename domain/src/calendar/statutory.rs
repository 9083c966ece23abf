//! The statutory public holidays of a year by rule alone, for years whose State Council notice
//! is not loaded: New Year's Day (1 Jan), the Spring Festival (lunar New Year's Eve and the
//! first three days of the first lunar month), Qingming (the day of the solar term), Labour Day
//! (1–2 May), the Dragon Boat Festival (5th day of the 5th lunar month), Mid-Autumn (15th day of
//! the 8th lunar month) and National Day (1–3 Oct), as the national holiday measures set them
//! from 2025 on (docs/calendar.md). The notice each year adds bridging days and make-up
//! workdays that no rule predicts, which is why dates computed from these are provisional.
//!
//! Lunar dates and solar terms come from `tyme4rs` (the Rust port of 6tail's lunar calendar).

use chrono::{Days, NaiveDate};
use tyme4rs::tyme::lunar::LunarDay;
use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

use crate::error::{DomainError, DomainResult};

/// A statutory holiday: the date and its festival's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryHoliday {
    pub date: NaiveDate,
    pub name: &'static str,
}

/// Years the lunar tables place reliably; outside them a year is refused as out of range.
pub const YEARS: std::ops::RangeInclusive<i32> = 1901..=2099;

/// The statutory holidays of `year`, in date order.
///
/// # Errors
/// `VALIDATION` for a year outside [`YEARS`].
pub fn holidays(year: i32) -> DomainResult<Vec<StatutoryHoliday>> {
    if !YEARS.contains(&year) {
        return Err(DomainError::invalid(
            "year",
            format!(
                "{year} is outside the years the calendar can place ({}–{})",
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    let fixed = |month: u32, day: u32, name: &'static str| -> DomainResult<StatutoryHoliday> {
        Ok(StatutoryHoliday {
            date: NaiveDate::from_ymd_opt(year, month, day)
                .ok_or_else(|| DomainError::Invariant(format!("{year}-{month}-{day}")))?,
            name,
        })
    };
    let y = isize::try_from(year).map_err(|_| DomainError::Invariant("year".into()))?;
    let lunar = |month: isize, day: usize, name: &'static str| -> DomainResult<StatutoryHoliday> {
        let d = LunarDay::new(y, month, day)
            .map_err(|e| DomainError::Invariant(format!("lunar {year}-{month}-{day}: {e}")))?;
        Ok(StatutoryHoliday {
            date: solar(&d.get_solar_day())?,
            name,
        })
    };
    let new_year = lunar(1, 1, "春节")?;
    let eve = new_year
        .date
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| DomainError::Invariant("lunar new year's eve".into()))?;
    let qingming = SolarTerm::new(y, "清明")
        .map_err(|e| DomainError::Invariant(format!("solar term 清明 {year}: {e}")))?;
    let mut out = vec![
        fixed(1, 1, "元旦")?,
        StatutoryHoliday {
            date: eve,
            name: "春节",
        },
        new_year.clone(),
        StatutoryHoliday {
            date: day_after(new_year.date, 1)?,
            name: "春节",
        },
        StatutoryHoliday {
            date: day_after(new_year.date, 2)?,
            name: "春节",
        },
        StatutoryHoliday {
            date: solar(&qingming.get_solar_day())?,
            name: "清明节",
        },
        fixed(5, 1, "劳动节")?,
        fixed(5, 2, "劳动节")?,
        lunar(5, 5, "端午节")?,
        lunar(8, 15, "中秋节")?,
        fixed(10, 1, "国庆节")?,
        fixed(10, 2, "国庆节")?,
        fixed(10, 3, "国庆节")?,
    ];
    out.sort_by_key(|h| h.date);
    // Mid-Autumn can fall on 1–3 October: one day off, listed once.
    out.dedup_by_key(|h| h.date);
    Ok(out)
}

fn day_after(d: NaiveDate, n: u64) -> DomainResult<NaiveDate> {
    d.checked_add_days(Days::new(n))
        .ok_or_else(|| DomainError::Invariant(format!("{d} + {n} days")))
}

fn solar(d: &SolarDay) -> DomainResult<NaiveDate> {
    let year = i32::try_from(d.get_year()).map_err(|_| DomainError::Invariant("year".into()))?;
    let month = u32::try_from(d.get_month()).map_err(|_| DomainError::Invariant("month".into()))?;
    let day = u32::try_from(d.get_day()).map_err(|_| DomainError::Invariant("day".into()))?;
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| DomainError::Invariant(format!("solar day {year}-{month}-{day}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dates(year: i32, name: &str) -> Vec<String> {
        holidays(year)
            .unwrap()
            .into_iter()
            .filter(|h| h.name == name)
            .map(|h| h.date.to_string())
            .collect()
    }

    #[test]
    fn the_rules_place_each_festival_where_the_published_notices_put_it() {
        // Every published year's notice gives the festival day itself off; the rule must land
        // on that day (the notices around it add bridging days the rule does not know).
        assert_eq!(
            dates(2025, "春节"),
            ["2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31"]
        );
        assert_eq!(
            dates(2026, "春节"),
            ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19"]
        );
        assert_eq!(dates(2024, "清明节"), ["2024-04-04"]);
        assert_eq!(dates(2025, "清明节"), ["2025-04-04"]);
        assert_eq!(dates(2026, "清明节"), ["2026-04-05"]);
        assert_eq!(dates(2024, "端午节"), ["2024-06-10"]);
        assert_eq!(dates(2025, "端午节"), ["2025-05-31"]);
        assert_eq!(dates(2026, "端午节"), ["2026-06-19"]);
        assert_eq!(dates(2024, "中秋节"), ["2024-09-17"]);
        assert_eq!(dates(2026, "中秋节"), ["2026-09-25"]);
        assert_eq!(dates(2026, "劳动节"), ["2026-05-01", "2026-05-02"]);
        assert_eq!(
            dates(2026, "国庆节"),
            ["2026-10-01", "2026-10-02", "2026-10-03"]
        );
        assert_eq!(dates(2026, "元旦"), ["2026-01-01"]);
    }

    #[test]
    fn twenty_twenty_seven_by_rule() {
        // The lunar new year of 2027 is 6 February; Qingming 5 April; Dragon Boat 9 June;
        // Mid-Autumn 15 September.
        assert_eq!(
            dates(2027, "春节"),
            ["2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"]
        );
        assert_eq!(dates(2027, "清明节"), ["2027-04-05"]);
        assert_eq!(dates(2027, "端午节"), ["2027-06-09"]);
        assert_eq!(dates(2027, "中秋节"), ["2027-09-15"]);
        assert_eq!(holidays(2027).unwrap().len(), 13);
    }

    #[test]
    fn mid_autumn_on_national_day_is_one_day_off() {
        // 2020: Mid-Autumn fell on 1 October.
        let h = holidays(2020).unwrap();
        assert_eq!(h.len(), 12);
        assert_eq!(
            h.iter()
                .filter(|h| h.date.to_string() == "2020-10-01")
                .count(),
            1
        );
    }

    #[test]
    fn years_outside_the_tables_are_refused() {
        assert!(holidays(1900).is_err());
        assert!(holidays(2100).is_err());
        assert!(holidays(2099).is_ok());
    }
}
