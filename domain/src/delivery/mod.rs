//! Alert delivery (docs/domain.md, "Checks on merchants"): alerts pushed to the bank's webhook endpoints, signed with
//! HMAC and retried with backoff for at least a day, and the on-call notifier that texts and
//! calls on incidents. Bank only: regulators see alerts (scoped in `alert::alerts`), not where
//! the bank sends them.
//!
//! - Endpoints are registered and deactivated by commands; the signing secret is stored
//!   encrypted by the escrow's vault and never leaves the domain except as a signature.
//! - [`crate::outbox::enqueue`] runs inside the transaction that raises an alert
//!   (`alert::raise`): one `webhook_delivery` row per active endpoint, so a delivery exists
//!   exactly when its alert was committed, and at most one per endpoint and alert (unique index).
//! - [`deliver_due`] (a worker the server runs periodically) sends due deliveries through a
//!   [`WebhookSender`] — the domain has no HTTP client — and records every attempt.
//! - [`page_on_call`] sends texts and calls through a [`Notifier`]; [`LocalNotifier`] only
//!   writes the `notification` log.

mod notifier;
mod worker;

pub use notifier::{
    ALERTS_PER_PAGE_RUN, LocalNotifier, NotificationChannel, NotificationRecord, Notifier,
    NotifyFuture, OnCall, PAGE_LEASE_SECS, PAGE_LOOKBACK_SECS, PageReport, notifications,
    page_on_call, record_notification,
};
pub use worker::{
    DELIVERY_HEADER, DELIVERY_LEASE_SECS, DeliveryRunReport, FIRST_RETRY_SECS, MAX_RETRY_SECS,
    RETRY_WINDOW_SECS, SIGNATURE_HEADER, SendFuture, WebhookRequest, WebhookSender, deliver_due,
    retry_delay_secs, signature,
};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{webhook_delivery, webhook_endpoint};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AlertId, DeliveryId, WebhookEndpointId};
use crate::page::{Page, Paged};
use crate::principal::{Principal, Role};

/// Longest endpoint URL.
pub const MAX_URL_CHARS: usize = 500;
/// Shortest and longest signing secret, in bytes of printable ASCII.
pub const MIN_SECRET_BYTES: usize = 32;
pub const MAX_SECRET_BYTES: usize = 256;
/// Most active endpoints: each alert writes one delivery per endpoint in its transaction.
pub const MAX_ACTIVE_ENDPOINTS: u64 = 20;

pub use crate::alert::alert_payload;
pub use crate::outbox::DeliveryStatus;

/// A webhook endpoint as readers see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub active: bool,
    pub created_at: Timestamp,
}

impl From<webhook_endpoint::Model> for EndpointRecord {
    fn from(m: webhook_endpoint::Model) -> EndpointRecord {
        EndpointRecord {
            id: WebhookEndpointId(m.id),
            url: m.url,
            description: m.description,
            active: m.active,
            created_at: Timestamp(m.created_at_us),
        }
    }
}

/// One alert's delivery to one endpoint, with its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub endpoint: WebhookEndpointId,
    pub alert: AlertId,
    /// The JSON body that is (or was) sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_status_code: Option<i32>,
    pub last_error: String,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

impl TryFrom<webhook_delivery::Model> for DeliveryRecord {
    type Error = DomainError;
    fn try_from(m: webhook_delivery::Model) -> DomainResult<DeliveryRecord> {
        Ok(DeliveryRecord {
            id: DeliveryId(m.id),
            endpoint: WebhookEndpointId(m.endpoint_id),
            alert: AlertId(m.alert_id),
            payload: m.payload,
            status: m.status.parse()?,
            attempts: m.attempts,
            next_attempt_at: Timestamp(m.next_attempt_at_us),
            last_status_code: m.last_status_code,
            last_error: m.last_error,
            created_at: Timestamp(m.created_at_us),
            delivered_at: m.delivered_at_us.map(Timestamp),
        })
    }
}

/// `https://host[:port][/path]`, or `http://localhost…` / `http://127.0.0.1…` for tests and a
/// receiver on the same machine. No credentials in the URL, no whitespace.
fn check_url(url: &str) -> DomainResult<String> {
    let url = url.trim();
    let bad = |why: &str| DomainError::invalid("url", why.to_owned());
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS {
        return Err(bad("must be 1 to 500 characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    let (rest, local_only) = if let Some(r) = url.strip_prefix("https://") {
        (r, false)
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, true)
    } else {
        return Err(bad("must start with https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return Err(bad("has a malformed port")),
        None => authority,
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if local_only && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Err(bad("must use https:// (plain http only to localhost)"));
    }
    Ok(url.to_owned())
}

fn check_secret(secret: &str) -> DomainResult<()> {
    if !crate::text::printable_ascii(secret, MIN_SECRET_BYTES..=MAX_SECRET_BYTES) {
        return Err(DomainError::invalid(
            "secret",
            format!("must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} printable ASCII characters"),
        ));
    }
    Ok(())
}

/// Registers a webhook endpoint that receives every alert from now on (bank only).
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterWebhookEndpoint {
    pub url: String,
    /// The HMAC-SHA256 signing key the receiver shares; stored encrypted.
    pub secret: String,
    pub description: String,
}

impl std::fmt::Debug for RegisterWebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterWebhookEndpoint")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("description", &self.description)
            .finish()
    }
}

impl Command for RegisterWebhookEndpoint {
    type Output = EndpointRecord;
    const NAME: &'static str = "registerWebhookEndpoint";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<EndpointRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let url = check_url(&self.url)?;
        check_secret(&self.secret)?;
        let description = crate::text::optional("description", &self.description, 200)?;
        let description = description.as_str();
        let active = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Active.eq(true))
            .count(tx.db())
            .await?;
        if active >= MAX_ACTIVE_ENDPOINTS {
            return Err(DomainError::LimitExceeded(format!(
                "at most {MAX_ACTIVE_ENDPOINTS} webhook endpoints may be active"
            )));
        }
        let row = webhook_endpoint::ActiveModel {
            url: Set(url),
            secret: Set(tx.escrow.vault().encrypt(&self.secret)?),
            description: Set(description.to_owned()),
            active: Set(true),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let e = EndpointRecord::from(row);
        tx.emit(NewEvent::new(
            "webhook.registered",
            json!({ "endpoint_id": e.id, "url": e.url, "description": e.description, "by": tx.principal.subject }),
        ));
        Ok(e)
    }
}

/// Deactivates an endpoint: it receives nothing more, and its pending deliveries are cancelled
/// (bank only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeactivateWebhookEndpoint {
    pub endpoint: WebhookEndpointId,
}

impl Command for DeactivateWebhookEndpoint {
    type Output = EndpointRecord;
    const NAME: &'static str = "deactivateWebhookEndpoint";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<EndpointRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let e = get_endpoint(tx.db(), self.endpoint).await?;
        if !e.active {
            return Err(DomainError::invalid_state(
                format!("webhook endpoint {}", e.id),
                "INACTIVE",
                "deactivate it",
            ));
        }
        webhook_endpoint::ActiveModel {
            id: Set(e.id.0),
            active: Set(false),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        let cancelled = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(DeliveryStatus::Cancelled.as_str()),
            )
            .filter(webhook_delivery::Column::EndpointId.eq(e.id.0))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(tx.db())
            .await?
            .rows_affected;
        tx.emit(NewEvent::new(
            "webhook.deactivated",
            json!({ "endpoint_id": e.id, "cancelled_deliveries": cancelled, "by": tx.principal.subject }),
        ));
        get_endpoint(tx.db(), e.id).await
    }
}

async fn get_endpoint<C: ConnectionTrait>(
    db: &C,
    id: WebhookEndpointId,
) -> DomainResult<EndpointRecord> {
    webhook_endpoint::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(EndpointRecord::from)
        .ok_or_else(|| DomainError::not_found("webhook endpoint", id))
}

/// Webhook endpoints, newest first (bank only).
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank.
pub async fn endpoints<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    page: Page,
) -> DomainResult<Paged<EndpointRecord>> {
    p.require_role(&[Role::Bank])?;
    let mut q = webhook_endpoint::Entity::find();
    if let Some(a) = page.after {
        q = q.filter(webhook_endpoint::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(webhook_endpoint::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    Ok(paged(
        rows.into_iter().map(EndpointRecord::from).collect(),
        page,
    ))
}

/// What deliveries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    pub endpoint: Option<WebhookEndpointId>,
    pub alert: Option<AlertId>,
    pub status: Option<DeliveryStatus>,
}

/// Deliveries with their attempts, newest first (bank only).
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank.
pub async fn deliveries<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &DeliveryFilter,
    page: Page,
) -> DomainResult<Paged<DeliveryRecord>> {
    p.require_role(&[Role::Bank])?;
    let mut q = webhook_delivery::Entity::find();
    if let Some(e) = f.endpoint {
        q = q.filter(webhook_delivery::Column::EndpointId.eq(e.0));
    }
    if let Some(a) = f.alert {
        q = q.filter(webhook_delivery::Column::AlertId.eq(a.0));
    }
    if let Some(s) = f.status {
        q = q.filter(webhook_delivery::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = page.after {
        q = q.filter(webhook_delivery::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?
        .into_iter()
        .map(DeliveryRecord::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(paged(rows, page))
}

pub(crate) fn paged<T>(mut rows: Vec<T>, page: Page) -> Paged<T> {
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Paged {
        items: rows,
        has_next,
    }
}

#[cfg(test)]
mod tests;
