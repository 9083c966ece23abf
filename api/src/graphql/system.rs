//! The business-free part of the schema: who am I (`me`), which API this is (`apiVersion`),
//! the bank operators' `serverStatus`, and the public `logSize` subscription. Everything else
//! is the domain's and is added beside these roots in [`super::schema`].

use async_graphql::{Context, ID, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use lvyue_domain::principal::{Principal, Role};

use super::calendar::CalendarCoverage;
use super::context::ContextExt;
use super::enums::{GqlIndustry, GqlRole};
use super::guard::RoleGuard;

/// Facts about this process, put into the schema data at start.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub started_at: DateTime<Utc>,
}

/// The caller as its token describes it.
#[derive(SimpleObject, Debug, Clone)]
pub struct Me {
    /// The token subject, recorded with everything you do.
    pub subject: String,
    pub role: GqlRole,
    /// The party you act for; absent for bank staff.
    pub party_id: Option<ID>,
    /// What a regulator may see; absent for other roles.
    pub jurisdiction: Option<JurisdictionView>,
}

/// A regulator's jurisdiction: rows whose region starts with one of the prefixes AND whose
/// industry is listed.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Jurisdiction")]
pub struct JurisdictionView {
    /// Region code prefixes (2, 4 or 6 digits of GB/T 2260).
    pub regions: Vec<String>,
    pub industries: Vec<GqlIndustry>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Me {
        let jurisdiction = (p.role == Role::Regulator).then(|| JurisdictionView {
            regions: p
                .jurisdiction
                .regions
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            industries: p
                .jurisdiction
                .industries
                .iter()
                .map(|i| GqlIndustry::from(*i))
                .collect(),
        });
        Me {
            subject: p.subject.clone(),
            role: p.role.into(),
            party_id: p.party_id.map(|id| ID(id.to_string())),
            jurisdiction,
        }
    }
}

#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// Who the bearer token says you are. Needs a token.
    #[graphql(guard = "RoleGuard::AUTHENTICATED")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Me>> {
        Ok(Some(Me::from(ctx.principal()?)))
    }
}

/// How this node is doing, for the bank's operators.
#[derive(SimpleObject, Debug, Clone)]
pub struct ServerStatus {
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database_backend: String,
    /// Leaves in the transparency log as this node last saw it.
    pub log_size: i64,
    pub started_at: DateTime<Utc>,
    /// How far ahead the loaded holiday calendar reaches.
    pub holiday_calendar: CalendarCoverage,
}

#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// The version of this API (the server build). Public.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// Operational status of the node that answered. Bank only.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn server_status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ServerStatus>> {
        let escrow = ctx.escrow()?;
        let started_at = ctx
            .data_opt::<ServerInfo>()
            .map_or_else(Utc::now, |i| i.started_at);
        let backend = if lvyue_domain::db::is_sqlite(escrow.db()) {
            "sqlite"
        } else {
            "postgres"
        };
        let log_size = *escrow.subscribe_log_size().borrow();
        let today = escrow.clock().now().china_date();
        let holiday_calendar = lvyue_domain::calendar::store::coverage(escrow.db(), today)
            .await?
            .into();
        Ok(Some(ServerStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database_backend: backend.to_owned(),
            log_size: i64::try_from(log_size).unwrap_or(i64::MAX),
            started_at,
            holiday_calendar,
        }))
    }
}

#[derive(Default)]
pub struct SystemSubscription;

#[Subscription]
impl SystemSubscription {
    /// The transparency log's size now, then each time this node commits events. Public: the
    /// size of the log is published in every checkpoint anyway.
    async fn log_size(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = i64> + use<>> {
        let rx = ctx.escrow()?.subscribe_log_size();
        Ok(futures_util::stream::unfold(
            (rx, true),
            |(mut rx, first)| async move {
                if !first && rx.changed().await.is_err() {
                    return None;
                }
                let size = *rx.borrow_and_update();
                Some((i64::try_from(size).unwrap_or(i64::MAX), (rx, false)))
            },
        ))
    }
}
