//! The webhook outbox: the rows an alert leaves for the bank's endpoints, written in the
//! transaction that raises it (a delivery exists exactly when its alert committed), and the
//! states a delivery passes through. [`crate::delivery`] drains it; this module sits below
//! `alert` so that raising an alert does not depend on the worker that sends it.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use lvyue_entity::{webhook_delivery, webhook_endpoint};

use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::DomainResult;
use crate::ids::AlertId;

string_enum!(
    /// A delivery's life: pending (waiting for its next attempt) until delivered, given up
    /// after the retry window, or cancelled with its endpoint.
    DeliveryStatus {
        Pending = "PENDING",
        Delivered = "DELIVERED",
        Failed = "FAILED",
        Cancelled = "CANCELLED",
    }
);

/// Webhook deliveries not yet made, queued or waiting to retry: the outbox's backlog (for the
/// metrics).
///
/// # Errors
/// Database errors.
pub async fn pending(db: &DatabaseConnection) -> DomainResult<u64> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .count(db)
        .await?)
}

/// Queues an alert's `payload` for every active endpoint, in the transaction that raises it.
/// Called by `alert::raise`; a second call for the same alert adds nothing.
///
/// # Errors
/// Database errors.
pub(crate) async fn enqueue(tx: &Tx<'_>, alert: AlertId, payload: String) -> DomainResult<u64> {
    let endpoints: Vec<i64> = webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Active.eq(true))
        .order_by_asc(webhook_endpoint::Column::Id)
        .into_tuple()
        .all(tx.db())
        .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let rows = endpoints
        .iter()
        .map(|&endpoint| webhook_delivery::ActiveModel {
            endpoint_id: Set(endpoint),
            alert_id: Set(alert.0),
            payload: Set(payload.clone()),
            status: Set(DeliveryStatus::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at_us: Set(tx.now.0),
            last_status_code: Set(None),
            last_error: Set(String::new()),
            created_at_us: Set(tx.now.0),
            delivered_at_us: Set(None),
            ..Default::default()
        });
    webhook_delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                webhook_delivery::Column::EndpointId,
                webhook_delivery::Column::AlertId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .try_insert()
        .exec(tx.db())
        .await?;
    Ok(endpoints.len() as u64)
}
