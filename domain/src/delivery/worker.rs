//! The delivery worker: sends due webhook deliveries and records each attempt.
//!
//! A delivery is claimed before it is sent (a conditional update pushes its next attempt a lease
//! ahead), so two workers never send it at the same time; the HTTP call happens outside any
//! transaction (it must never hold the log head). A 2xx answer delivers it; anything else — an
//! error status, no answer — reschedules it after 1 minute, doubling to at most 1 hour, until
//! it has been retried for [`RETRY_WINDOW_SECS`] (a day); the attempt after that is the last,
//! and a failure there marks it FAILED. Delivered and failed are notarized events; the
//! attempts in between are recorded on the delivery row (count, last status code, last error),
//! as the scheduler records its retries.
//!
//! Receivers get the body with `X-Lvyue-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and
//! `X-Lvyue-Delivery: <delivery id>`; delivery is at least once (a worker that dies after
//! sending retries after the lease), so receivers deduplicate by the delivery id.

use std::future::Future;
use std::pin::Pin;

use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use lvyue_entity::{webhook_delivery, webhook_endpoint};

use super::DeliveryStatus;
use crate::Escrow;
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AlertId, DeliveryId, WebhookEndpointId};
use crate::principal::{Principal, Role};

pub const SIGNATURE_HEADER: &str = "X-Lvyue-Signature";
pub const DELIVERY_HEADER: &str = "X-Lvyue-Delivery";
/// Wait after the first failed attempt; doubles after each failure.
pub const FIRST_RETRY_SECS: i64 = 60;
/// Longest wait between attempts.
pub const MAX_RETRY_SECS: i64 = 3_600;
/// How long a delivery is retried before it is given up (at least a day, so that an outage overnight loses nothing).
pub const RETRY_WINDOW_SECS: i64 = 86_400;
/// How long a claimed delivery is left to its worker; a sender must time out well within it.
pub const DELIVERY_LEASE_SECS: i64 = 300;
/// Deliveries sent per run.
pub const DELIVERIES_PER_RUN: u64 = 100;
/// Longest error text kept.
const MAX_ERROR_CHARS: usize = 500;

/// A POST to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub delivery: DeliveryId,
    pub url: String,
    /// `Content-Type`, the signature and the delivery id.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What a send returns: the HTTP status of the answer, or why there was none.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<u16, String>> + Send + 'a>>;

/// Sends webhooks. The API crate implements it with an HTTP client; the domain has none.
pub trait WebhookSender: Send + Sync {
    /// POSTs `request`. `Ok(status)` for any HTTP answer; `Err(reason)` when none came
    /// (refused, timed out — within [`DELIVERY_LEASE_SECS`]). The reason is stored, so it must
    /// not contain secrets.
    fn post<'a>(&'a self, request: &'a WebhookRequest) -> SendFuture<'a>;
}

type HmacSha256 = Hmac<Sha256>;

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after the `attempt`-th failed attempt (1-based): 1 min, 2, 4, … capped at 1 hour.
pub fn retry_delay_secs(attempt: i32) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    FIRST_RETRY_SECS
        .saturating_mul(1i64 << doublings)
        .min(MAX_RETRY_SECS)
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryRunReport {
    pub delivered: u32,
    /// Failed this time, to be retried.
    pub retrying: u32,
    /// Given up after the retry window.
    pub failed: u32,
    /// Claimed or finished by another worker first.
    pub skipped: u32,
}

/// Sends every delivery due at `now` (at most [`DELIVERIES_PER_RUN`]).
///
/// # Errors
/// Database errors.
pub async fn deliver_due(
    escrow: &Escrow,
    sender: &dyn WebhookSender,
    now: Timestamp,
) -> DomainResult<DeliveryRunReport> {
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::NextAttemptAtUs.lte(now.0))
        .order_by_asc(webhook_delivery::Column::NextAttemptAtUs)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(DELIVERIES_PER_RUN)
        .all(escrow.db())
        .await?;
    let mut report = DeliveryRunReport::default();
    for d in due {
        if !claim(escrow, &d, now).await? {
            report.skipped += 1;
            continue;
        }
        let attempt = d.attempts + 1;
        let outcome = match request(escrow, &d).await? {
            Ok(req) => sender.post(&req).await,
            Err(reason) => Err(reason),
        };
        let (code, error) = match outcome {
            Ok(code) if (200..300).contains(&code) => {
                let done = finish(escrow, &d, attempt, Some(code), String::new(), true).await?;
                if done {
                    report.delivered += 1;
                } else {
                    report.skipped += 1;
                }
                continue;
            }
            Ok(code) => (Some(code), format!("HTTP {code}")),
            Err(reason) => (None, reason.chars().take(MAX_ERROR_CHARS).collect()),
        };
        if now.0 - d.created_at_us >= RETRY_WINDOW_SECS * 1_000_000 {
            if finish(escrow, &d, attempt, code, error, false).await? {
                report.failed += 1;
            } else {
                report.skipped += 1;
            }
            continue;
        }
        let next = now.plus_seconds(retry_delay_secs(attempt));
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempt))
            .col_expr(
                webhook_delivery::Column::LastStatusCode,
                Expr::value(code.map(i32::from)),
            )
            .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
            .col_expr(
                webhook_delivery::Column::NextAttemptAtUs,
                Expr::value(next.0),
            )
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::Attempts.eq(d.attempts))
            .exec(escrow.db())
            .await?;
        if updated.rows_affected == 1 {
            tracing::info!(
                delivery = d.id,
                attempt,
                "webhook delivery failed, will retry"
            );
            report.retrying += 1;
        } else {
            report.skipped += 1;
        }
    }
    Ok(report)
}

/// Takes a due delivery for this worker: pushes its next attempt a lease ahead, only if no one
/// else touched it since it was read.
async fn claim(escrow: &Escrow, d: &webhook_delivery::Model, now: Timestamp) -> DomainResult<bool> {
    let lease = now.plus_seconds(DELIVERY_LEASE_SECS);
    let updated = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::NextAttemptAtUs,
            Expr::value(lease.0),
        )
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(d.attempts))
        .filter(webhook_delivery::Column::NextAttemptAtUs.eq(d.next_attempt_at_us))
        .exec(escrow.db())
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The signed request, or why it cannot be built (stored as the attempt's error).
async fn request(
    escrow: &Escrow,
    d: &webhook_delivery::Model,
) -> DomainResult<Result<WebhookRequest, String>> {
    let Some(endpoint) = webhook_endpoint::Entity::find_by_id(d.endpoint_id)
        .one(escrow.db())
        .await?
    else {
        return Ok(Err("the endpoint no longer exists".into()));
    };
    let Ok(secret) = escrow.vault().decrypt(&endpoint.secret) else {
        tracing::error!(endpoint = endpoint.id, "webhook secret does not decrypt");
        return Ok(Err("the endpoint's secret does not decrypt".into()));
    };
    let id = DeliveryId(d.id);
    Ok(Ok(WebhookRequest {
        delivery: id,
        url: endpoint.url,
        headers: vec![
            ("Content-Type", "application/json".to_owned()),
            (
                SIGNATURE_HEADER,
                signature(secret.as_bytes(), d.payload.as_bytes()),
            ),
            (DELIVERY_HEADER, id.to_string()),
        ],
        body: d.payload.clone(),
    }))
}

/// Records the last attempt of a delivery (delivered, or given up) with its event. `false` when
/// another worker recorded it first.
async fn finish(
    escrow: &Escrow,
    d: &webhook_delivery::Model,
    attempt: i32,
    code: Option<u16>,
    error: String,
    delivered: bool,
) -> DomainResult<bool> {
    let cmd = FinishDelivery {
        delivery: DeliveryId(d.id),
        attempts: attempt,
        status_code: code.map(i32::from),
        error,
        delivered,
    };
    match escrow.execute(&Principal::system(), None, &cmd).await {
        Ok(()) => Ok(true),
        Err(DomainError::InvalidState { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The final state of a delivery, with its notarized event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FinishDelivery {
    delivery: DeliveryId,
    /// Attempts including this one.
    attempts: i32,
    status_code: Option<i32>,
    error: String,
    delivered: bool,
}

impl Command for FinishDelivery {
    type Output = ();
    const NAME: &'static str = "finishDelivery";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<()> {
        tx.principal.require_role(&[Role::Bank])?;
        let status = if self.delivered {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Failed
        };
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(status.as_str()),
            )
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::value(self.attempts),
            )
            .col_expr(
                webhook_delivery::Column::LastStatusCode,
                Expr::value(self.status_code),
            )
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(self.error.clone()),
            )
            .col_expr(
                webhook_delivery::Column::DeliveredAtUs,
                Expr::value(self.delivered.then_some(tx.now.0)),
            )
            .filter(webhook_delivery::Column::Id.eq(self.delivery.0))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_delivery::Column::Attempts.eq(self.attempts - 1))
            .exec(tx.db())
            .await?;
        if updated.rows_affected != 1 {
            return Err(DomainError::invalid_state(
                format!("delivery {}", self.delivery),
                "CHANGED",
                "record its outcome",
            ));
        }
        let d = webhook_delivery::Entity::find_by_id(self.delivery.0)
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("webhook delivery", self.delivery))?;
        let body_sha256 = hex::encode(Sha256::digest(d.payload.as_bytes()));
        tx.emit(NewEvent::new(
            if self.delivered {
                "webhook.delivered"
            } else {
                "webhook.failed"
            },
            json!({
                "delivery_id": self.delivery,
                "endpoint_id": WebhookEndpointId(d.endpoint_id),
                "alert_id": AlertId(d.alert_id),
                "attempts": self.attempts,
                "status_code": self.status_code,
                "error": self.error,
                "body_sha256": body_sha256,
            }),
        ));
        Ok(())
    }
}
