//! Parties in the schema: merchants, payers, regulators, courts; their registration by the bank,
//! onboarding, list imports, complaints. Personal data is masked for every viewer except the
//! person itself (and a court, through evidence bundles).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use lvyue_domain::ids::PartyId;
use lvyue_domain::list_import::{ImportList, ListImportResult};
use lvyue_domain::party::{self as dparty, PartyKind, PartyRecord};
use lvyue_domain::pii::mask_name;
use lvyue_domain::principal::{Jurisdiction, Principal, Role};
use lvyue_domain::queries::{self, Page as DPage};
use lvyue_domain::risk;

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlConfirmerKind, GqlIndustry, GqlListKind, GqlPartyKind, GqlPartyStatus};
use super::guard::RoleGuard;
use async_graphql::connection::Connection;

/// A party as one viewer may see it.
pub struct Party {
    pub record: PartyRecord,
    /// Whether the viewer sees the person's name in full.
    unmasked: bool,
}

impl Party {
    pub fn for_viewer(record: PartyRecord, viewer: &Principal) -> Party {
        let unmasked = record.kind != PartyKind::Payer
            || viewer.party_id == Some(record.id)
            || matches!(viewer.role, Role::Bank | Role::Court);
        super::trail::object("party", record.id);
        Party { record, unmasked }
    }
}

/// One feature of a risk score.
#[derive(SimpleObject)]
pub struct RiskReason {
    pub feature: String,
    pub points: i32,
    pub detail: String,
}

/// A merchant's risk score (0–100, higher is riskier) with its reasons.
#[derive(SimpleObject)]
pub struct RiskScore {
    pub score: i32,
    pub grade: String,
    pub reasons: Vec<RiskReason>,
    pub computed_at: chrono::DateTime<chrono::Utc>,
}

impl From<risk::RiskScore> for RiskScore {
    fn from(s: risk::RiskScore) -> RiskScore {
        RiskScore {
            score: s.score,
            grade: s.grade,
            reasons: s
                .reasons
                .into_iter()
                .map(|r| RiskReason {
                    feature: r.feature,
                    points: r.points,
                    detail: r.detail,
                })
                .collect(),
            computed_at: time(s.computed_at),
        }
    }
}

#[Object]
impl Party {
    async fn id(&self) -> ID {
        gid(self.record.id)
    }

    async fn kind(&self) -> GqlPartyKind {
        self.record.kind.into()
    }

    /// A person's name is masked (`段**`) for everyone but the person, the bank and courts.
    async fn name(&self) -> String {
        if self.unmasked {
            self.record.name.clone()
        } else {
            mask_name(&self.record.name)
        }
    }

    async fn status(&self) -> GqlPartyStatus {
        self.record.status.into()
    }

    /// GB/T 2260 region code (merchants, courts).
    async fn region(&self) -> Option<String> {
        self.record.region.as_ref().map(|r| r.as_str().to_owned())
    }

    async fn industry(&self) -> Option<GqlIndustry> {
        self.record.industry.map(Into::into)
    }

    /// Unified Social Credit Code (merchants).
    async fn uscc(&self) -> Option<String> {
        self.record.uscc.clone()
    }

    /// ID number, always masked (`110105********002X`).
    async fn id_number(&self) -> Option<String> {
        self.record
            .attributes
            .get("id_number_masked")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// Mobile number, always masked (`138****5678`).
    async fn phone(&self) -> Option<String> {
        self.record
            .attributes
            .get("phone_masked")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// A regulator's jurisdiction.
    async fn jurisdiction(&self) -> Option<super::system::JurisdictionView> {
        (self.record.kind == PartyKind::Regulator).then(|| {
            let j = self.record.jurisdiction();
            super::system::JurisdictionView {
                regions: j.regions.iter().map(|r| r.as_str().to_owned()).collect(),
                industries: j.industries.iter().map(|i| GqlIndustry::from(*i)).collect(),
            }
        })
    }

    /// A merchant's latest risk score (bank, regulators, the merchant itself).
    async fn risk_score(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RiskScore>> {
        let p = ctx.principal()?;
        let allowed = self.record.kind == PartyKind::Merchant
            && (matches!(p.role, Role::Bank | Role::Regulator)
                || p.party_id == Some(self.record.id));
        if !allowed {
            return Ok(None);
        }
        Ok(super::loaders::loaders(ctx)?
            .risk
            .load_one(self.record.id)
            .await?
            .flatten()
            .map(Into::into))
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        time(self.record.created_at)
    }
}

#[derive(Default)]
pub struct PartyQuery;

#[Object]
impl PartyQuery {
    /// The party you act for.
    #[graphql(guard = "RoleGuard::AUTHENTICATED")]
    async fn my_party(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let p = ctx.principal()?;
        let Some(id) = p.party_id else {
            return Ok(None);
        };
        Ok(Some(Party::for_viewer(
            dparty::get_party(ctx.escrow()?.db(), id).await?,
            p,
        )))
    }

    /// A party you may see: the bank any; others themselves, merchants in scope and the payers
    /// of their orders.
    #[graphql(guard = "RoleGuard::AUTHENTICATED")]
    async fn party(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Party> {
        let p = ctx.principal()?;
        let r = queries::party_visible(ctx.escrow()?.db(), p, self::id(&id)?).await?;
        Ok(Party::for_viewer(r, p))
    }

    /// Merchants in your scope, newest first.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant, Role::Court])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn merchants(
        &self,
        ctx: &Context<'_>,
        industry: Option<GqlIndustry>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Party>> {
        let p = ctx.principal()?;
        let page = Page::new(first, after)?;
        let rows = queries::merchants(
            ctx.escrow()?.db(),
            p,
            industry.map(Into::into),
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items
                .into_iter()
                .map(|r| Party::for_viewer(r, p))
                .collect(),
            rows.has_next,
            |x| x.record.id.0,
        ))
    }

    /// Every party of a kind (bank only), newest first.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn parties(
        &self,
        ctx: &Context<'_>,
        kind: Option<GqlPartyKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Party>> {
        let p = ctx.principal()?;
        let page = Page::new(first, after)?;
        let rows = queries::parties(
            ctx.escrow()?.db(),
            p,
            kind.map(Into::into),
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items
                .into_iter()
                .map(|r| Party::for_viewer(r, p))
                .collect(),
            rows.has_next,
            |x| x.record.id.0,
        ))
    }
}

/// A business licence's fields (营业执照).
#[derive(InputObject)]
pub struct LicenceInput {
    pub registered_name: String,
    pub registered_address: String,
    pub legal_representative: String,
    /// Last valid day; absent for a long-term (长期) licence.
    pub valid_until: Option<chrono::NaiveDate>,
    /// As printed: 存续 or 在业 are active.
    pub status: String,
}

#[derive(InputObject)]
pub struct RegisterMerchantInput {
    pub name: String,
    pub uscc: String,
    pub region: String,
    pub industry: GqlIndustry,
    #[graphql(default)]
    pub description: String,
    pub licence: Option<LicenceInput>,
}

#[derive(InputObject)]
pub struct RegisterPayerInput {
    pub name: String,
    /// 18-character resident identity number (stored encrypted).
    pub id_number: Option<String>,
    /// Mainland mobile number (stored encrypted).
    pub phone: Option<String>,
}

#[derive(InputObject)]
pub struct RegisterRegulatorInput {
    pub name: String,
    /// Region prefixes (2, 4 or 6 digits).
    pub regions: Vec<String>,
    pub industries: Vec<GqlIndustry>,
}

#[derive(InputObject)]
pub struct RegisterCourtInput {
    pub name: String,
    pub region: String,
}

#[derive(InputObject)]
pub struct RegisterConfirmerInput {
    pub name: String,
    pub kind: GqlConfirmerKind,
    /// GB/T 2260 region code.
    pub region: String,
    /// The schemes whose milestones it may certify.
    pub schemes: Vec<ID>,
}

/// What a list import did.
#[derive(SimpleObject)]
pub struct ImportListPayload {
    pub rows: u32,
    /// False when this exact file was imported before (nothing changed).
    pub applied: bool,
    /// Registered merchants the list names.
    pub hits: Vec<ID>,
}

impl From<ListImportResult> for ImportListPayload {
    fn from(r: ListImportResult) -> ImportListPayload {
        ImportListPayload {
            rows: r.rows,
            applied: r.applied,
            hits: r.hits.into_iter().map(gid).collect(),
        }
    }
}

#[derive(Default)]
pub struct PartyMutation;

#[Object]
impl PartyMutation {
    /// Onboards a merchant: USCC checksum, licence and list checks, each recorded as evidence;
    /// a doubtful merchant is kept for manual review.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_merchant(
        &self,
        ctx: &Context<'_>,
        input: RegisterMerchantInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = lvyue_domain::merchant::RegisterMerchant {
            name: input.name,
            uscc: input.uscc,
            region: input.region.parse()?,
            industry: input.industry.into(),
            description: input.description,
            licence: input.licence.map(|l| dparty::Licence {
                registered_name: l.registered_name,
                registered_address: l.registered_address,
                legal_representative: l.legal_representative,
                valid_until: l.valid_until,
                status: l.status,
            }),
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_payer(
        &self,
        ctx: &Context<'_>,
        input: RegisterPayerInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = dparty::RegisterPayer {
            name: input.name,
            id_number: input.id_number,
            phone: input.phone,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_regulator(
        &self,
        ctx: &Context<'_>,
        input: RegisterRegulatorInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let jurisdiction = Jurisdiction {
            regions: input
                .regions
                .iter()
                .map(|r| r.parse())
                .collect::<Result<_, _>>()?,
            industries: input.industries.into_iter().map(Into::into).collect(),
        };
        let cmd = dparty::RegisterRegulator {
            name: input.name,
            jurisdiction,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_court(
        &self,
        ctx: &Context<'_>,
        input: RegisterCourtInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = dparty::RegisterCourt {
            name: input.name,
            region: input.region.parse()?,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    /// Registers a third-party confirmer (a training association, an exam or timing system, a
    /// school, an inspection body) for the schemes whose milestones it certifies. It acts with
    /// a token of role CONFIRMER for its party. Bank only.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn register_confirmer(
        &self,
        ctx: &Context<'_>,
        input: RegisterConfirmerInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = lvyue_domain::confirmer::RegisterConfirmer {
            name: input.name,
            kind: input.kind.into(),
            region: input.region.parse()?,
            schemes: input.schemes.iter().map(id).collect::<Result<_, _>>()?,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    /// Suspends, reinstates or closes a third-party confirmer. Bank only.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn set_confirmer_status(
        &self,
        ctx: &Context<'_>,
        confirmer: ID,
        status: GqlPartyStatus,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = lvyue_domain::confirmer::SetConfirmerStatus {
            confirmer: id(&confirmer)?,
            status: status.into(),
            reason,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    /// Suspends or reinstates a merchant (a regulator within its jurisdiction, or the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn set_merchant_status(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        status: GqlPartyStatus,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Party> {
        let cmd = lvyue_domain::merchant::SetMerchantStatus {
            merchant: id::<PartyId>(&merchant)?,
            status: status.into(),
            reason,
        };
        Ok(Party::for_viewer(
            run(ctx, &idempotency_key, cmd).await?,
            ctx.principal()?,
        ))
    }

    /// Imports a blocking list (CSV `uscc,name,reason,listed_on`), screening every merchant.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn import_list(
        &self,
        ctx: &Context<'_>,
        kind: GqlListKind,
        csv: String,
        idempotency_key: String,
    ) -> async_graphql::Result<ImportListPayload> {
        Ok(run(
            ctx,
            &idempotency_key,
            ImportList {
                kind: kind.into(),
                csv,
            },
        )
        .await?
        .into())
    }

    /// Records a complaint about a merchant; it counts towards the merchant's risk score.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])")]
    async fn record_complaint(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        order: Option<ID>,
        text: String,
        idempotency_key: String,
    ) -> async_graphql::Result<RiskScore> {
        let cmd = risk::RecordComplaint {
            merchant: id(&merchant)?,
            order: order.as_ref().map(id).transpose()?,
            text,
        };
        Ok(run(ctx, &idempotency_key, cmd).await?.into())
    }
}
