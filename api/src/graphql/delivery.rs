//! Alert delivery in the schema (bank only; docs/domain.md, "Checks on merchants"): the webhook endpoints that
//! receive every alert (payload signed with HMAC-SHA256, retried with backoff for a day), each
//! delivery with its attempts, and the log of texts and calls the on-call notifier sent.
//! Regulators see alerts (`alerts`), never where the bank sends them.
//!
//! The sending itself is done by the node's workers (`crate::workers`): the delivery worker
//! POSTs due deliveries, the pager texts and calls on-call people.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use lvyue_domain::delivery::{
    self as ddelivery, DeactivateWebhookEndpoint, DeliveryFilter, DeliveryRecord, EndpointRecord,
    NotificationRecord, RegisterWebhookEndpoint,
};
use lvyue_domain::ids::{AlertId, WebhookEndpointId};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::Page as DPage;

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlDeliveryStatus, GqlNotificationChannel};
use super::guard::RoleGuard;

/// A receiver of alerts. Its signing secret is never shown again after registration.
pub struct WebhookEndpoint(pub EndpointRecord);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Inactive endpoints receive nothing more.
    async fn active(&self) -> bool {
        self.0.active
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// One alert's delivery to one endpoint, with its attempts so far.
pub struct WebhookDelivery(pub DeliveryRecord);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn endpoint_id(&self) -> ID {
        gid(self.0.endpoint)
    }

    async fn alert_id(&self) -> ID {
        gid(self.0.alert)
    }

    /// The JSON body sent, signed in `X-Lvyue-Signature: sha256=<hex HMAC-SHA256>`.
    async fn payload(&self) -> &str {
        &self.0.payload
    }

    async fn status(&self) -> GqlDeliveryStatus {
        self.0.status.into()
    }

    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the next attempt is due (while pending).
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        time(self.0.next_attempt_at)
    }

    /// The HTTP status of the last answer, if one came.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    /// Why the last attempt failed (empty when it did not).
    async fn last_error(&self) -> &str {
        &self.0.last_error
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at.map(time)
    }
}

/// A text or call the on-call notifier sent.
pub struct Notification(pub NotificationRecord);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn channel(&self) -> GqlNotificationChannel {
        self.0.channel.into()
    }

    /// The number texted or called.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }

    async fn message(&self) -> &str {
        &self.0.message
    }

    async fn alert_id(&self) -> Option<ID> {
        self.0.alert.map(gid)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// Which deliveries to list.
#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilterInput {
    pub endpoint: Option<ID>,
    pub alert: Option<ID>,
    pub status: Option<GqlDeliveryStatus>,
}

#[derive(Default)]
pub struct DeliveryQuery;

#[Object]
impl DeliveryQuery {
    /// Webhook endpoints, newest first (bank).
    #[graphql(
        guard = "RoleGuard(&[Role::Bank])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, WebhookEndpoint>> {
        let page = Page::new(first, after)?;
        let rows = ddelivery::endpoints(
            ctx.escrow()?.db(),
            ctx.principal()?,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(WebhookEndpoint).collect(),
            rows.has_next,
            |e| e.0.id.0,
        ))
    }

    /// Alert deliveries with their attempts, newest first (bank).
    #[graphql(
        guard = "RoleGuard(&[Role::Bank])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<WebhookDeliveryFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, WebhookDelivery>> {
        let page = Page::new(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = DeliveryFilter {
            endpoint: f
                .endpoint
                .as_ref()
                .map(id::<WebhookEndpointId>)
                .transpose()?,
            alert: f.alert.as_ref().map(id::<AlertId>).transpose()?,
            status: f.status.map(Into::into),
        };
        let rows = ddelivery::deliveries(
            ctx.escrow()?.db(),
            ctx.principal()?,
            &filter,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(WebhookDelivery).collect(),
            rows.has_next,
            |d| d.0.id.0,
        ))
    }

    /// Texts and calls the on-call notifier sent, newest first, optionally about one alert
    /// (bank).
    #[graphql(
        guard = "RoleGuard(&[Role::Bank])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        alert: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Notification>> {
        let page = Page::new(first, after)?;
        let rows = ddelivery::notifications(
            ctx.escrow()?.db(),
            ctx.principal()?,
            alert.as_ref().map(id::<AlertId>).transpose()?,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Notification).collect(),
            rows.has_next,
            |n| n.0.id.0,
        ))
    }
}

/// A webhook endpoint to register.
#[derive(InputObject)]
pub struct RegisterWebhookEndpointInput {
    /// `https://…` (plain `http://` only to localhost).
    pub url: String,
    /// The HMAC-SHA256 key the receiver shares: 32 to 256 printable ASCII characters. Stored
    /// encrypted; never shown again.
    pub secret: String,
    #[graphql(default)]
    pub description: String,
}

#[derive(Default)]
pub struct DeliveryMutation;

#[Object]
impl DeliveryMutation {
    /// Registers an endpoint that receives every alert raised from now on (bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: RegisterWebhookEndpointInput,
        idempotency_key: String,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let cmd = RegisterWebhookEndpoint {
            url: input.url,
            secret: input.secret,
            description: input.description,
        };
        Ok(WebhookEndpoint(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Deactivates an endpoint: it receives nothing more and its pending deliveries are
    /// cancelled (bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn deactivate_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        endpoint: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let cmd = DeactivateWebhookEndpoint {
            endpoint: id(&endpoint)?,
        };
        Ok(WebhookEndpoint(run(ctx, &idempotency_key, cmd).await?))
    }
}
