//! The on-call notifier: the case study's bank also texts and calls its people on incidents
//! (docs/domain.md, "Checks on merchants"). Sending is an interface ([`Notifier`]) with SMS and voice; [`LocalNotifier`] only
//! writes the `notification` log, which is also what the bank (and the tests) read back.
//!
//! [`page_on_call`] is the worker: it finds open alerts of the last day at or above the
//! configured severities and texts or calls the configured numbers once per alert, channel and
//! number — also with several nodes paging from one database: a node takes a short lease on
//! an alert before it reads what was sent for it and sends the rest. Whom to page and from
//! which severity is configuration ([`OnCall`]), never constants.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use lvyue_entity::{alert, notification};

use crate::Escrow;
use crate::alert::{AlertStatus, Severity};
use crate::clock::{Clock, Timestamp};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AlertId, NotificationId};
use crate::page::{Page, Paged};
use crate::principal::{Principal, Role};

/// Alerts older than this are not paged any more (an on-call person paged a day late helps
/// no one; the alert is still in the list).
pub const PAGE_LOOKBACK_SECS: i64 = 86_400;
/// Longest a node holds an alert while it pages for it; a send that takes longer may be
/// repeated by another node.
pub const PAGE_LEASE_SECS: i64 = 60;
/// Alerts looked at per run.
pub const ALERTS_PER_PAGE_RUN: u64 = 1_000;
/// Longest text message and spoken message.
pub const MAX_SMS_CHARS: usize = 300;
pub const MAX_CALL_CHARS: usize = 200;
/// Most numbers per channel.
pub const MAX_ON_CALL_NUMBERS: usize = 10;

string_enum!(
    /// How someone was told.
    NotificationChannel { Sms = "SMS", Voice = "VOICE" }
);

/// A message sent, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: NotificationId,
    pub channel: NotificationChannel,
    pub recipient: String,
    pub message: String,
    pub alert: Option<AlertId>,
    pub created_at: Timestamp,
}

impl TryFrom<notification::Model> for NotificationRecord {
    type Error = DomainError;
    fn try_from(m: notification::Model) -> DomainResult<NotificationRecord> {
        Ok(NotificationRecord {
            id: NotificationId(m.id),
            channel: m.channel.parse()?,
            recipient: m.recipient,
            message: m.message,
            alert: m.alert_id.map(AlertId),
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// What a send returns.
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = DomainResult<()>> + Send + 'a>>;

/// Texts and calls. An implementation sends, then records what it sent with
/// [`record_notification`]: the log is what the bank reads and how [`page_on_call`] knows not
/// to page twice.
pub trait Notifier: Send + Sync {
    fn send_sms<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a>;
    fn place_call<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a>;
}

/// The local notifier: sends nothing, writes the log.
#[derive(Clone)]
pub struct LocalNotifier {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl LocalNotifier {
    pub fn new(escrow: &Escrow) -> LocalNotifier {
        LocalNotifier {
            db: escrow.db().clone(),
            clock: escrow.clock().clone(),
        }
    }
}

impl Notifier for LocalNotifier {
    fn send_sms<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a> {
        Box::pin(async move {
            record_notification(
                &self.db,
                NotificationChannel::Sms,
                to,
                message,
                alert,
                self.clock.now(),
            )
            .await
            .map(|_| ())
        })
    }

    fn place_call<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a> {
        Box::pin(async move {
            record_notification(
                &self.db,
                NotificationChannel::Voice,
                to,
                message,
                alert,
                self.clock.now(),
            )
            .await
            .map(|_| ())
        })
    }
}

/// Writes one line of the notification log.
///
/// # Errors
/// Database errors.
pub async fn record_notification<C: ConnectionTrait>(
    db: &C,
    channel: NotificationChannel,
    to: &str,
    message: &str,
    alert: Option<AlertId>,
    at: Timestamp,
) -> DomainResult<NotificationRecord> {
    notification::ActiveModel {
        channel: Set(channel.as_str().to_owned()),
        recipient: Set(to.chars().take(40).collect()),
        message: Set(message.chars().take(MAX_SMS_CHARS).collect()),
        alert_id: Set(alert.map(|a| a.0)),
        created_at_us: Set(at.0),
        ..Default::default()
    }
    .insert(db)
    .await?
    .try_into()
}

/// Whom to page, and from which severity on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    /// Numbers that get a text message.
    pub sms_to: Vec<String>,
    /// Numbers that get a voice call.
    pub call_to: Vec<String>,
    /// Texts for alerts of this severity and above.
    pub sms_from: Severity,
    /// Calls for alerts of this severity and above.
    pub call_from: Severity,
}

impl OnCall {
    /// The usual rota: one number texted from WARNING and called on CRITICAL.
    ///
    /// # Errors
    /// `VALIDATION` for a malformed number.
    pub fn standard(number: &str) -> DomainResult<OnCall> {
        let c = OnCall {
            sms_to: vec![number.to_owned()],
            call_to: vec![number.to_owned()],
            sms_from: Severity::Warning,
            call_from: Severity::Critical,
        };
        c.validate()?;
        Ok(c)
    }

    /// # Errors
    /// `VALIDATION` for a malformed number or too many of them.
    pub fn validate(&self) -> DomainResult<()> {
        for (field, numbers) in [
            ("onCall.smsTo", &self.sms_to),
            ("onCall.callTo", &self.call_to),
        ] {
            if numbers.len() > MAX_ON_CALL_NUMBERS {
                return Err(DomainError::invalid(
                    field,
                    format!("at most {MAX_ON_CALL_NUMBERS} numbers"),
                ));
            }
            for n in numbers {
                let digits = n.strip_prefix('+').unwrap_or(n);
                if !(5..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(DomainError::invalid(
                        field,
                        "each number is 5 to 15 digits, optionally after +",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

/// What one paging run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageReport {
    pub texts: u32,
    pub calls: u32,
    /// Sends that failed; retried on the next run.
    pub failed: u32,
}

/// Pages on-call for the open alerts of the last [`PAGE_LOOKBACK_SECS`] at or above the
/// configured severities, once per alert, channel and number.
///
/// # Errors
/// `VALIDATION` for a bad configuration; database errors.
pub async fn page_on_call(
    escrow: &Escrow,
    notifier: &dyn Notifier,
    on_call: &OnCall,
    now: Timestamp,
) -> DomainResult<PageReport> {
    on_call.validate()?;
    let floor = rank(on_call.sms_from).min(rank(on_call.call_from));
    let severities: Vec<&str> = Severity::ALL
        .iter()
        .filter(|s| rank(**s) >= floor)
        .map(|s| s.as_str())
        .collect();
    let alerts = alert::Entity::find()
        .filter(alert::Column::Status.eq(AlertStatus::Open.as_str()))
        .filter(alert::Column::Severity.is_in(severities))
        .filter(alert::Column::CreatedAtUs.gte(now.plus_seconds(-PAGE_LOOKBACK_SECS).0))
        .filter(alert::Column::CreatedAtUs.lte(now.0))
        .order_by_asc(alert::Column::Id)
        .limit(ALERTS_PER_PAGE_RUN)
        .all(escrow.db())
        .await?;
    let mut report = PageReport::default();
    if alerts.is_empty() {
        return Ok(report);
    }
    let sent_before = sent_for(escrow, alerts.iter().map(|a| a.id)).await?;
    for a in alerts {
        let severity: Severity = a.severity.parse()?;
        let wanted: Vec<(NotificationChannel, &String)> = [
            (NotificationChannel::Sms, &on_call.sms_to, on_call.sms_from),
            (
                NotificationChannel::Voice,
                &on_call.call_to,
                on_call.call_from,
            ),
        ]
        .into_iter()
        .filter(|(_, _, from)| rank(severity) >= rank(*from))
        .flat_map(|(channel, numbers, _)| numbers.iter().map(move |to| (channel, to)))
        .collect();
        let pending = |sent: &SentSet| -> Vec<(NotificationChannel, &String)> {
            wanted
                .iter()
                .filter(|(c, to)| !sent.contains(&(a.id, c.as_str().to_owned(), (*to).clone())))
                .copied()
                .collect()
        };
        // Everything already sent (the usual case on every run after the first): no write.
        if pending(&sent_before).is_empty() {
            continue;
        }
        // Another node paging for this alert right now: it is theirs this run.
        let Some(lease) = take_page_lease(escrow, a.id, now).await? else {
            continue;
        };
        // Read again under the lease, so what another node sent meanwhile is seen.
        let sent = sent_for(escrow, [a.id]).await?;
        let id = AlertId(a.id);
        let text: String = format!("[履约 Lvyue {severity}] {} ({id})", a.message)
            .chars()
            .take(MAX_SMS_CHARS)
            .collect();
        let spoken: String = format!("Lvyue {severity} alert. {}", a.message)
            .chars()
            .take(MAX_CALL_CHARS)
            .collect();
        for (channel, to) in pending(&sent) {
            let result = match channel {
                NotificationChannel::Sms => notifier.send_sms(to, &text, Some(id)).await,
                NotificationChannel::Voice => notifier.place_call(to, &spoken, Some(id)).await,
            };
            match (result, channel) {
                (Ok(()), NotificationChannel::Sms) => report.texts += 1,
                (Ok(()), NotificationChannel::Voice) => report.calls += 1,
                (Err(e), _) => {
                    tracing::warn!(alert = a.id, %channel, error = %e, "paging failed, will retry");
                    report.failed += 1;
                }
            }
        }
        release_page_lease(escrow, a.id, lease).await?;
    }
    Ok(report)
}

/// (alert, channel, recipient) of every message logged for these alerts.
type SentSet = std::collections::HashSet<(i64, String, String)>;

async fn sent_for(escrow: &Escrow, alerts: impl IntoIterator<Item = i64>) -> DomainResult<SentSet> {
    Ok(notification::Entity::find()
        .filter(notification::Column::AlertId.is_in(alerts))
        .all(escrow.db())
        .await?
        .into_iter()
        .filter_map(|n| n.alert_id.map(|a| (a, n.channel, n.recipient)))
        .collect())
}

/// Takes the alert for this run if no other node holds it: the lease ends at `now` +
/// [`PAGE_LEASE_SECS`], so a node that dies while paging holds it no longer than that.
async fn take_page_lease(escrow: &Escrow, alert: i64, now: Timestamp) -> DomainResult<Option<i64>> {
    let until = now.plus_seconds(PAGE_LEASE_SECS).0;
    let taken = alert::Entity::update_many()
        .col_expr(alert::Column::PageLeaseUntilUs, Expr::value(until))
        .filter(alert::Column::Id.eq(alert))
        .filter(
            Condition::any()
                .add(alert::Column::PageLeaseUntilUs.is_null())
                .add(alert::Column::PageLeaseUntilUs.lte(now.0)),
        )
        .exec(escrow.db())
        .await?;
    Ok((taken.rows_affected == 1).then_some(until))
}

/// Gives the alert back once its sends are done and logged (the next run retries a failed
/// send at once), unless the lease ran out and another node took it meanwhile.
async fn release_page_lease(escrow: &Escrow, alert: i64, lease: i64) -> DomainResult<()> {
    alert::Entity::update_many()
        .col_expr(
            alert::Column::PageLeaseUntilUs,
            Expr::value(Option::<i64>::None),
        )
        .filter(alert::Column::Id.eq(alert))
        .filter(alert::Column::PageLeaseUntilUs.eq(lease))
        .exec(escrow.db())
        .await?;
    Ok(())
}

/// The notification log, newest first (bank only).
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank.
pub async fn notifications<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    alert: Option<AlertId>,
    page: Page,
) -> DomainResult<Paged<NotificationRecord>> {
    p.require_role(&[Role::Bank])?;
    let mut q = notification::Entity::find();
    if let Some(a) = alert {
        q = q.filter(notification::Column::AlertId.eq(a.0));
    }
    if let Some(a) = page.after {
        q = q.filter(notification::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(notification::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?
        .into_iter()
        .map(NotificationRecord::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(super::paged(rows, page))
}
