//! Alerts in the schema: listed and handled by the bank and regulators (within their
//! jurisdiction), pushed live over the `alerts` subscription.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Json, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use lvyue_domain::alert::{AlertRecord, HandleAlert};
use lvyue_domain::principal::{Principal, Role};
use lvyue_domain::queries::Page as DPage;

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlAlertKind, GqlAlertStatus, GqlIndustry, GqlSeverity};
use super::guard::RoleGuard;

crate::noted!(Alert(AlertRecord), "alert", |r| r.id, order: |r| r.order);

#[Object]
impl Alert {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn kind(&self) -> GqlAlertKind {
        self.0.kind.into()
    }

    async fn severity(&self) -> GqlSeverity {
        self.0.severity.into()
    }

    async fn status(&self) -> GqlAlertStatus {
        self.0.status.into()
    }

    async fn message(&self) -> &str {
        &self.0.message
    }

    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }

    async fn merchant_id(&self) -> Option<ID> {
        self.0.merchant.map(gid)
    }

    async fn order_id(&self) -> Option<ID> {
        self.0.order.map(gid)
    }

    async fn scheme_id(&self) -> Option<ID> {
        self.0.scheme.map(gid)
    }

    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }

    async fn industry(&self) -> Option<GqlIndustry> {
        self.0.industry.map(Into::into)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }

    async fn acknowledged_by(&self) -> Option<&str> {
        self.0.acknowledged_by.as_deref()
    }

    async fn acknowledged_at(&self) -> Option<DateTime<Utc>> {
        self.0.acknowledged_at.map(time)
    }

    async fn resolved_by(&self) -> Option<&str> {
        self.0.resolved_by.as_deref()
    }

    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at.map(time)
    }
}

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// Alerts in your scope, newest first.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        status: Option<GqlAlertStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Alert>> {
        let page = Page::new(first, after)?;
        let rows = lvyue_domain::alert::alerts(
            ctx.escrow()?.db(),
            ctx.principal()?,
            status.map(Into::into),
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Alert::from).collect(),
            rows.has_next,
            |a| a.0.id.0,
        ))
    }
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    /// Moves an alert along: OPEN → ACKNOWLEDGED → RESOLVED, recording who and when.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn handle_alert(
        &self,
        ctx: &Context<'_>,
        alert: ID,
        to: GqlAlertStatus,
        #[graphql(default)] note: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Alert> {
        Ok(Alert::from(
            run(
                ctx,
                &idempotency_key,
                HandleAlert {
                    alert: id(&alert)?,
                    to: to.into(),
                    note,
                },
            )
            .await?,
        ))
    }
}

#[derive(Default)]
pub struct AlertSubscription;

/// Whether a live alert is for this subscriber (the same rule as `alert::alert_scope`).
fn in_scope(p: &Principal, a: &AlertRecord) -> bool {
    match p.role {
        Role::Bank => true,
        Role::Regulator => match (&a.region, a.industry) {
            (Some(r), Some(i)) => p.jurisdiction.covers(r, i),
            _ => false,
        },
        Role::Merchant => a.merchant.is_some() && a.merchant == p.party_id,
        _ => false,
    }
}

#[Subscription]
impl AlertSubscription {
    /// Alerts as they are raised, for the bank and the regulators whose scope they fall in.
    /// Each is re-read from the database before it is sent, so only committed alerts arrive.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn alerts(&self, ctx: &Context<'_>) -> async_graphql::Result<impl Stream<Item = Alert>> {
        let p = ctx.principal()?.clone();
        let escrow = ctx.escrow()?.clone();
        let rx = escrow.subscribe_alerts();
        Ok(async_stream_alerts(rx, p, escrow))
    }
}

fn async_stream_alerts(
    rx: tokio::sync::broadcast::Receiver<AlertRecord>,
    p: Principal,
    escrow: std::sync::Arc<lvyue_domain::Escrow>,
) -> impl Stream<Item = Alert> {
    futures_util::stream::unfold((rx, p, escrow), |(mut rx, p, escrow)| async move {
        loop {
            match rx.recv().await {
                Ok(a) if in_scope(&p, &a) => {
                    // Raised inside a transaction that may have rolled back: wait for the commit.
                    for _ in 0..50 {
                        if let Ok(stored) =
                            lvyue_domain::alert::alert_visible(escrow.db(), &p, a.id).await
                        {
                            return Some((Alert::from(stored), (rx, p, escrow)));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alert subscriber fell behind");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
