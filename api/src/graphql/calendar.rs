//! The holiday calendar in the schema: any signed-in party reads a year (loaded from its State
//! Council notice, or by the statutory rules while it is not), and the bank loads or replaces a
//! year, which re-plans every pending settle date and refund deadline (docs/calendar.md).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use lvyue_domain::calendar::HolidayDay as DHolidayDay;
use lvyue_domain::calendar::store::{self, CalendarLoaded, CalendarYear, Coverage};
use lvyue_domain::idempotency::IdempotencyKey;
use lvyue_domain::principal::Role;

use super::common::time;
use super::context::ContextExt;
use super::guard::RoleGuard;

/// A listed day: a holiday, or a weekend day worked in exchange for one.
#[derive(SimpleObject, Debug, Clone)]
pub struct HolidayDay {
    pub date: NaiveDate,
    /// The festival (元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节).
    pub name: String,
    /// True for a day off; false for a make-up workday on a weekend.
    pub off_day: bool,
}

impl From<DHolidayDay> for HolidayDay {
    fn from(d: DHolidayDay) -> HolidayDay {
        HolidayDay {
            date: d.date,
            name: d.name,
            off_day: d.off_day,
        }
    }
}

/// One year of the working-day calendar. Days not listed follow the week.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "HolidayCalendar")]
pub struct HolidayCalendarView {
    pub year: i32,
    /// Loaded from the State Council's notice. When false, `days` are the statutory holidays
    /// by rule (no bridging days, no make-up workdays) and every date counted through this
    /// year is provisional.
    pub loaded: bool,
    /// The notice the year was loaded from.
    pub source: Option<String>,
    /// When the bank loaded it (absent for the years shipped with Lvyue).
    pub loaded_at: Option<DateTime<Utc>>,
    pub days: Vec<HolidayDay>,
}

impl From<CalendarYear> for HolidayCalendarView {
    fn from(c: CalendarYear) -> HolidayCalendarView {
        HolidayCalendarView {
            year: c.year,
            loaded: c.loaded,
            source: c.source,
            loaded_at: c.loaded_at.map(time),
            days: c.days.into_iter().map(HolidayDay::from).collect(),
        }
    }
}

/// How far ahead the loaded calendar reaches.
#[derive(SimpleObject, Debug, Clone)]
pub struct CalendarCoverage {
    pub loaded_years: Vec<i32>,
    /// The last day of the unbroken run of loaded years from the current one.
    pub last_day: Option<NaiveDate>,
    /// Days from today (China time) to `lastDay`.
    pub days_left: Option<i64>,
    /// True from 60 days before `lastDay`: the bank gets a CALENDAR_ENDING alert each day.
    pub ending: bool,
}

impl From<Coverage> for CalendarCoverage {
    fn from(c: Coverage) -> CalendarCoverage {
        CalendarCoverage {
            ending: c.ending(),
            loaded_years: c.years,
            last_day: c.last_day,
            days_left: c.days_left,
        }
    }
}

/// What loading a year did.
#[derive(SimpleObject, Debug, Clone)]
pub struct HolidayCalendarLoad {
    pub calendar: HolidayCalendarView,
    /// False when the year was already loaded with exactly these days and source: nothing
    /// was written.
    pub changed: bool,
    /// Payments in clearing whose settle date moved or stopped being provisional.
    pub replanned_payments: u32,
    /// Open refunds whose deadline moved or stopped being provisional.
    pub replanned_refunds: u32,
    /// More dates are being re-planned by a follow-up job.
    pub replanning_continues: bool,
}

impl From<CalendarLoaded> for HolidayCalendarLoad {
    fn from(l: CalendarLoaded) -> HolidayCalendarLoad {
        HolidayCalendarLoad {
            calendar: l.calendar.into(),
            changed: l.changed,
            replanned_payments: l.replanned.payments,
            replanned_refunds: l.replanned.refunds,
            replanning_continues: l.replanned.more,
        }
    }
}

#[derive(InputObject)]
pub struct HolidayDayInput {
    pub date: NaiveDate,
    pub name: String,
    /// True for a day off; false for a weekend day worked in exchange.
    pub off_day: bool,
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// A year of the working-day calendar that settlement dates and refund deadlines count in.
    #[graphql(guard = "RoleGuard::AUTHENTICATED")]
    async fn holiday_calendar(
        &self,
        ctx: &Context<'_>,
        year: i32,
    ) -> async_graphql::Result<HolidayCalendarView> {
        Ok(store::calendar_year(ctx.escrow()?.db(), year).await?.into())
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Loads or replaces a year from the State Council's notice: every holiday and every
    /// weekend day worked in exchange. Validated (all in the year, none twice, make-up days
    /// only on weekends); loading the same days and source again changes nothing. Pending
    /// settle dates and refund deadlines are re-planned in the same transaction. Bank only.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn load_holiday_calendar(
        &self,
        ctx: &Context<'_>,
        year: i32,
        days: Vec<HolidayDayInput>,
        source: String,
        idempotency_key: String,
    ) -> async_graphql::Result<HolidayCalendarLoad> {
        let key = IdempotencyKey::new(&idempotency_key)?;
        let cmd = store::LoadHolidayCalendar {
            year,
            days: days
                .into_iter()
                .map(|d| DHolidayDay {
                    date: d.date,
                    name: d.name,
                    off_day: d.off_day,
                })
                .collect(),
            source,
        };
        let escrow = ctx.escrow()?;
        Ok(store::load(escrow, ctx.principal()?, Some(&key), &cmd)
            .await?
            .into())
    }
}
