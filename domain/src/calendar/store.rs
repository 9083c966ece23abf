//! The calendar's years in the database: reading them, the bank loading or replacing a year
//! from a State Council notice (a notarized `calendar.loaded` event, after which every pending
//! date derived from working days is re-planned in the same transaction), how far ahead the
//! loaded years reach, and the `CALENDAR_ENDING` alert when that reach runs short.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{holiday_day, holiday_year};

use super::replan::{self, Replanned};
use super::statutory;
use crate::Escrow;
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::idempotency::IdempotencyKey;
use crate::principal::{Principal, Role};

/// The bank is warned this many days before the last loaded day, and every day after.
pub const ENDING_WARNING_DAYS: i64 = 60;
/// Longest festival name accepted.
const MAX_NAME_CHARS: usize = 20;
/// Longest notice reference accepted.
const MAX_SOURCE_CHARS: usize = 500;

/// A listed day of a year: a holiday, or (not `off_day`) a weekend day worked in its place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HolidayDay {
    pub date: NaiveDate,
    pub name: String,
    pub off_day: bool,
}

/// One year of the calendar as readers see it: the loaded notice, or the statutory rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarYear {
    pub year: i32,
    /// Loaded from a notice; when not, `days` are the statutory holidays and every date in
    /// the year is provisional.
    pub loaded: bool,
    /// The notice the year was loaded from.
    pub source: Option<String>,
    /// When it was loaded (`None` for the years shipped with Lvyue and for years not loaded).
    pub loaded_at: Option<Timestamp>,
    pub days: Vec<HolidayDay>,
}

/// How far the loaded calendar reaches from a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// Every loaded year.
    pub years: Vec<i32>,
    /// The last day of the unbroken run of loaded years starting with the current one; when
    /// the current year is not loaded, the end of last year if that one is (`None` otherwise).
    pub last_day: Option<NaiveDate>,
    /// Days from `as_of` to `last_day` (negative once it has passed; `None` with no
    /// `last_day`).
    pub days_left: Option<i64>,
    pub as_of: NaiveDate,
}

impl Coverage {
    /// The bank should be warned: the loaded calendar ends within [`ENDING_WARNING_DAYS`].
    pub fn ending(&self) -> bool {
        self.days_left.is_none_or(|d| d <= ENDING_WARNING_DAYS)
    }
}

/// The listed days of the loaded years in `years`, by year (years not loaded are absent).
///
/// # Errors
/// Database errors; a stored date that does not parse.
pub async fn loaded_days<C: ConnectionTrait>(
    db: &C,
    years: RangeInclusive<i32>,
) -> DomainResult<BTreeMap<i32, Vec<HolidayDay>>> {
    let loaded: Vec<i32> = holiday_year::Entity::find()
        .select_only()
        .column(holiday_year::Column::Year)
        .filter(holiday_year::Column::Year.between(*years.start(), *years.end()))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: BTreeMap<i32, Vec<HolidayDay>> =
        loaded.into_iter().map(|y| (y, Vec::new())).collect();
    let days = holiday_day::Entity::find()
        .filter(holiday_day::Column::Year.between(*years.start(), *years.end()))
        .order_by_asc(holiday_day::Column::Date)
        .all(db)
        .await?;
    for d in days {
        let day = stored_day(d)?;
        let year = day.date.year();
        out.get_mut(&year)
            .ok_or_else(|| {
                DomainError::Invariant(format!("holiday {} listed for a year not loaded", day.date))
            })?
            .push(day);
    }
    Ok(out)
}

fn stored_day(d: holiday_day::Model) -> DomainResult<HolidayDay> {
    let date: NaiveDate = d
        .date
        .parse()
        .map_err(|_| DomainError::Invariant(format!("stored holiday date {:?}", d.date)))?;
    if date.year() != d.year {
        return Err(DomainError::Invariant(format!(
            "stored holiday {date} filed under {}",
            d.year
        )));
    }
    Ok(HolidayDay {
        date,
        name: d.name,
        off_day: d.is_off_day,
    })
}

/// A year of the calendar: as loaded, or by the statutory rules when it is not.
///
/// # Errors
/// `VALIDATION` for a year the rules cannot place; database errors.
pub async fn calendar_year<C: ConnectionTrait>(db: &C, year: i32) -> DomainResult<CalendarYear> {
    let stored = holiday_year::Entity::find_by_id(year).one(db).await?;
    match stored {
        Some(y) => {
            let days = loaded_days(db, year..=year)
                .await?
                .remove(&year)
                .unwrap_or_default();
            Ok(CalendarYear {
                year,
                loaded: true,
                source: Some(y.source),
                loaded_at: (y.loaded_at_us > 0).then_some(Timestamp(y.loaded_at_us)),
                days,
            })
        }
        None => Ok(CalendarYear {
            year,
            loaded: false,
            source: None,
            loaded_at: None,
            days: statutory::holidays(year)?
                .into_iter()
                .map(|h| HolidayDay {
                    date: h.date,
                    name: h.name.to_owned(),
                    off_day: true,
                })
                .collect(),
        }),
    }
}

/// How far the loaded calendar reaches from `today`.
///
/// # Errors
/// Database errors.
pub async fn coverage<C: ConnectionTrait>(db: &C, today: NaiveDate) -> DomainResult<Coverage> {
    let years: BTreeSet<i32> = holiday_year::Entity::find()
        .select_only()
        .column(holiday_year::Column::Year)
        .into_tuple::<i32>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut last = None;
    let mut y = today.year();
    if !years.contains(&y) && years.contains(&(y - 1)) {
        // Forgotten over New Year: the reach ended with last year.
        last = NaiveDate::from_ymd_opt(y - 1, 12, 31);
    }
    while years.contains(&y) {
        last = NaiveDate::from_ymd_opt(y, 12, 31);
        y += 1;
    }
    Ok(Coverage {
        years: years.into_iter().collect(),
        last_day: last,
        days_left: last.map(|l| (l - today).num_days()),
        as_of: today,
    })
}

/// The bank loads (or replaces) a year of the calendar from its State Council notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadHolidayCalendar {
    pub year: i32,
    /// Every holiday of the year, and every weekend day worked in exchange.
    pub days: Vec<HolidayDay>,
    /// The notice the days come from (its title, number or address).
    pub source: String,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarLoaded {
    pub calendar: CalendarYear,
    /// False when the year was already loaded with exactly these days and source.
    pub changed: bool,
    pub replanned: Replanned,
}

impl LoadHolidayCalendar {
    /// The days in date order, each checked: all in the year, none twice, a make-up workday
    /// only on a weekend, names and source plain text.
    ///
    /// # Errors
    /// `VALIDATION` naming the first problem.
    pub fn validated(&self) -> DomainResult<LoadHolidayCalendar> {
        if !statutory::YEARS.contains(&self.year) {
            return Err(DomainError::invalid(
                "year",
                format!(
                    "{} is outside the years the calendar can hold ({}–{})",
                    self.year,
                    statutory::YEARS.start(),
                    statutory::YEARS.end()
                ),
            ));
        }
        let source = crate::text::required("source", &self.source, MAX_SOURCE_CHARS)?;
        if self.days.is_empty() {
            return Err(DomainError::invalid(
                "days",
                format!(
                    "no days for {}: every year has public holidays; list them as the notice gives them",
                    self.year
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut days = Vec::with_capacity(self.days.len());
        for d in &self.days {
            if d.date.year() != self.year {
                return Err(DomainError::invalid(
                    "days",
                    format!("{} is not in {}", d.date, self.year),
                ));
            }
            if !seen.insert(d.date) {
                return Err(DomainError::invalid(
                    "days",
                    format!("{} is listed twice", d.date),
                ));
            }
            let weekend = matches!(d.date.weekday(), Weekday::Sat | Weekday::Sun);
            if !d.off_day && !weekend {
                return Err(DomainError::invalid(
                    "days",
                    format!(
                        "{} ({}) is a weekday: only a Saturday or Sunday can be a make-up workday",
                        d.date,
                        d.date.weekday()
                    ),
                ));
            }
            days.push(HolidayDay {
                date: d.date,
                name: crate::text::required("days.name", &d.name, MAX_NAME_CHARS)?,
                off_day: d.off_day,
            });
        }
        if !days.iter().any(|d| d.off_day) {
            return Err(DomainError::invalid(
                "days",
                format!(
                    "no holiday in {}: only make-up workdays were listed",
                    self.year
                ),
            ));
        }
        days.sort();
        Ok(LoadHolidayCalendar {
            year: self.year,
            days,
            source,
        })
    }
}

/// Loads a year unless it is already loaded exactly so, in which case nothing is written.
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank; `VALIDATION` for a bad year or day; database errors.
pub async fn load(
    escrow: &Escrow,
    principal: &Principal,
    key: Option<&IdempotencyKey>,
    cmd: &LoadHolidayCalendar,
) -> DomainResult<CalendarLoaded> {
    principal.require_role(&[Role::Bank])?;
    let cmd = cmd.validated()?;
    // A retry under a key already answered gets that first answer, not a fresh look.
    if let Some(k) = key
        && crate::idempotency::answered(escrow.db(), principal, k).await?
    {
        return escrow.execute(principal, key, &cmd).await;
    }
    let current = calendar_year(escrow.db(), cmd.year).await?;
    if same_as_stored(&current, &cmd) {
        return Ok(CalendarLoaded {
            calendar: current,
            changed: false,
            replanned: Replanned::default(),
        });
    }
    escrow.execute(principal, key, &cmd).await
}

fn same_as_stored(current: &CalendarYear, cmd: &LoadHolidayCalendar) -> bool {
    current.loaded
        && current.source.as_deref() == Some(cmd.source.as_str())
        && current.days == cmd.days
}

impl Command for LoadHolidayCalendar {
    type Output = CalendarLoaded;
    const NAME: &'static str = "loadHolidayCalendar";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<CalendarLoaded> {
        tx.principal.require_role(&[Role::Bank])?;
        let cmd = self.validated()?;
        let replaced = holiday_year::Entity::find_by_id(cmd.year)
            .one(tx.db())
            .await?
            .is_some();
        holiday_day::Entity::delete_many()
            .filter(holiday_day::Column::Year.eq(cmd.year))
            .exec(tx.db())
            .await?;
        holiday_year::Entity::delete_by_id(cmd.year)
            .exec(tx.db())
            .await?;
        holiday_year::Entity::insert(holiday_year::ActiveModel {
            year: Set(cmd.year),
            source: Set(cmd.source.clone()),
            loaded_at_us: Set(tx.now.0),
        })
        .exec_without_returning(tx.db())
        .await?;
        holiday_day::Entity::insert_many(cmd.days.iter().map(|d| holiday_day::ActiveModel {
            date: Set(d.date.to_string()),
            year: Set(cmd.year),
            name: Set(d.name.clone()),
            is_off_day: Set(d.off_day),
        }))
        .exec_without_returning(tx.db())
        .await?;
        tx.emit(NewEvent::new(
            "calendar.loaded",
            json!({
                "year": cmd.year,
                "source": cmd.source,
                "replaced": replaced,
                "days": cmd.days.iter().map(|d| json!({"date": d.date.to_string(), "name": d.name, "off_day": d.off_day})).collect::<Vec<_>>(),
            }),
        ));
        let replanned = replan::replan(tx).await?;
        Ok(CalendarLoaded {
            calendar: calendar_year(tx.db(), cmd.year).await?,
            changed: true,
            replanned,
        })
    }
}

/// Warns the bank once a day, from [`ENDING_WARNING_DAYS`] before the last loaded day on,
/// that the calendar is running out. Run by the scheduler; each day's warning is raised once
/// whatever the number of nodes (its idempotency key is the day).
///
/// # Errors
/// Database errors.
pub async fn warn_if_ending(escrow: &Escrow) -> DomainResult<Option<Coverage>> {
    let today = escrow.clock().now().china_date();
    let c = coverage(escrow.db(), today).await?;
    if !c.ending() {
        return Ok(None);
    }
    // Most ticks of the day find today's warning already raised: a read, not a write.
    let raised = lvyue_entity::alert::Entity::find()
        .filter(lvyue_entity::alert::Column::DedupeKey.eq(format!("calendar-ending:{today}")))
        .one(escrow.db())
        .await?
        .is_some();
    if raised {
        return Ok(Some(c));
    }
    let key = IdempotencyKey::new(&format!("calendar-ending-{today}"))?;
    escrow
        .execute(
            &Principal::system(),
            Some(&key),
            &WarnCalendarEnding { day: today },
        )
        .await?;
    Ok(Some(c))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WarnCalendarEnding {
    day: NaiveDate,
}

impl Command for WarnCalendarEnding {
    type Output = ();
    const NAME: &'static str = "warnCalendarEnding";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<()> {
        let c = coverage(tx.db(), self.day).await?;
        let next = c.last_day.map_or(self.day.year(), |l| l.year() + 1);
        let message = match (c.last_day, c.days_left) {
            (Some(last), Some(left)) if left >= 0 => format!(
                "the holiday calendar is loaded up to {last} ({left} days left): load {next} from the State Council's notice; until then settlement dates and refund deadlines in {next} are provisional"
            ),
            _ => format!(
                "the holiday calendar for {} is not loaded: settlement dates and refund deadlines are provisional until it is",
                self.day.year()
            ),
        };
        let severity = if c.days_left.is_none_or(|d| d < 0) {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let details = json!({
            "last_day": c.last_day.map(|d| d.to_string()),
            "days_left": c.days_left,
            "loaded_years": c.years,
            "next_year": next,
        });
        let raised = crate::alert::raise(
            tx,
            NewAlert::new(AlertKind::CalendarEnding, severity, message)
                .details(details.clone())
                .dedupe(format!("calendar-ending:{}", self.day)),
        )
        .await?;
        if raised.is_none() {
            // Today's warning is already open: the check itself is still on the record.
            tx.emit(NewEvent::new("calendar.ending", details));
        }
        Ok(())
    }
}
