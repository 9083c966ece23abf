//! Schemes in the schema: what a regulator governs, with its versioned policy; and enrolling
//! merchants in them.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object};

use lvyue_domain::principal::Role;
use lvyue_domain::queries::{self, Page as DPage};
use lvyue_domain::scheme::{self as dscheme, SchemeRecord};

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlIndustry, GqlSchemeStatus};
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::party::Party;

pub struct Scheme(pub SchemeRecord);

#[Object]
impl Scheme {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn industry(&self) -> GqlIndustry {
        self.0.industry.into()
    }

    async fn region(&self) -> &str {
        self.0.region.as_str()
    }

    async fn status(&self) -> GqlSchemeStatus {
        self.0.status.into()
    }

    /// The version new orders are opened under.
    async fn policy_version(&self) -> i32 {
        self.0.current_version
    }

    /// The policy at `version` (default: the current one), as JSON.
    async fn policy(
        &self,
        ctx: &Context<'_>,
        version: Option<i32>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let p = dscheme::policy_at(
            ctx.escrow()?.db(),
            self.0.id,
            version.unwrap_or(self.0.current_version),
        )
        .await?;
        Ok(Json(serde_json::to_value(p)?))
    }

    async fn regulator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let Some(r) = self.0.regulator else {
            return Ok(None);
        };
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(r)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        time(self.0.created_at)
    }
}

#[derive(Default)]
pub struct SchemeQuery;

#[Object]
impl SchemeQuery {
    /// Schemes in your scope (bank: all; regulator: its regions and industries).
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn schemes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Scheme>> {
        let page = Page::new(first, after)?;
        let rows = queries::schemes(
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
            rows.items.into_iter().map(Scheme).collect(),
            rows.has_next,
            |s| s.0.id.0,
        ))
    }

    /// A scheme you may see (merchants and payers: the schemes they take part in).
    #[graphql(guard = "RoleGuard::AUTHENTICATED")]
    async fn scheme(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Scheme> {
        Ok(Scheme(
            queries::scheme_visible(ctx.escrow()?.db(), ctx.principal()?, self::id(&id)?).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct CreateSchemeInput {
    /// A short code, letters, digits, - and _.
    pub code: String,
    pub name: String,
    pub industry: GqlIndustry,
    /// GB/T 2260 region code of the scheme (e.g. 320100).
    pub region: String,
    pub regulator: Option<ID>,
    /// The policy, as JSON (see the README's policy reference).
    pub policy: Json<serde_json::Value>,
}

#[derive(Default)]
pub struct SchemeMutation;

#[Object]
impl SchemeMutation {
    /// Creates a scheme with the first version of its policy (validated: every problem named).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn create_scheme(
        &self,
        ctx: &Context<'_>,
        input: CreateSchemeInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Scheme> {
        let cmd = dscheme::CreateScheme {
            code: input.code,
            name: input.name,
            industry: input.industry.into(),
            region: input.region.parse()?,
            regulator: input.regulator.as_ref().map(id).transpose()?,
            policy: input.policy.0,
        };
        Ok(Scheme(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Adds a new policy version; orders already opened keep theirs.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn update_policy(
        &self,
        ctx: &Context<'_>,
        scheme: ID,
        policy: Json<serde_json::Value>,
        idempotency_key: String,
    ) -> async_graphql::Result<Scheme> {
        Ok(Scheme(
            run(
                ctx,
                &idempotency_key,
                dscheme::UpdatePolicy {
                    scheme: id(&scheme)?,
                    policy: policy.0,
                },
            )
            .await?,
        ))
    }

    /// Enrolls a merchant in a scheme, opening its accounts there. Returns the merchant.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn enroll_merchant(
        &self,
        ctx: &Context<'_>,
        scheme: ID,
        merchant: ID,
        settlement_account_number: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let e = run(
            ctx,
            &idempotency_key,
            dscheme::EnrollMerchant {
                scheme: id(&scheme)?,
                merchant: id(&merchant)?,
                settlement_account_number,
            },
        )
        .await?;
        let p = lvyue_domain::party::get_party(ctx.escrow()?.db(), e.merchant).await?;
        Ok(Party::for_viewer(p, ctx.principal()?))
    }
}
