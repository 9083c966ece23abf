//! Medical insurance (医保) in the schema: patients' payments split into the institutions'
//! registers (登记簿), the bank's advances of the insurer's share and their repayment from the
//! insurer's settlement, and refunds by the original route. Institutions withdraw from their
//! register with `requestPayout`. The rules are the scheme's `medical` policy (`advance_cap`).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{PartyId, ReceiptId};
use lvyue_domain::medical::{self as dmedical, AdvanceFilter, AdvanceRecord, ReceiptRecord};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::Page as DPage;

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlAdvanceStatus, GqlChannel};
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::party::Party;
use super::scalars::Decimal;
use super::scheme::Scheme;

/// A patient's payment through a channel, split among institutions' registers; each viewer
/// sees the lines it may (an institution its own).
pub struct MedicalReceipt(pub ReceiptRecord);

/// One institution's part of a receipt.
pub struct MedicalReceiptLine(pub dmedical::ReceiptLine);

#[Object]
impl MedicalReceiptLine {
    async fn institution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.institution)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    /// What went back to the patient of this part.
    async fn refunded(&self) -> Decimal {
        self.0.refunded.into()
    }
}

#[Object]
impl MedicalReceipt {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    async fn channel(&self) -> GqlChannel {
        self.0.channel.into()
    }

    /// The channel's transaction id (what reconciliation matches).
    async fn external_ref(&self) -> &str {
        &self.0.external_ref
    }

    /// The patient, when registered; masked for everyone but the patient, the bank and courts.
    async fn payer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let Some(p) = self.0.payer else {
            return Ok(None);
        };
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(p)
            .await?
            .map(|r| Party::for_viewer(r, viewer)))
    }

    /// The whole payment (all lines, seen or not).
    async fn total(&self) -> Decimal {
        self.0.total.into()
    }

    async fn lines(&self) -> Vec<MedicalReceiptLine> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(MedicalReceiptLine)
            .collect()
    }

    async fn collect_entry_id(&self) -> ID {
        gid(self.0.collect_entry)
    }

    async fn split_entry_id(&self) -> ID {
        gid(self.0.split_entry)
    }

    async fn received_at(&self) -> DateTime<Utc> {
        time(self.0.received_at)
    }
}

/// The bank's advance of an insurer's share to an institution.
pub struct MedicalAdvance(pub AdvanceRecord);

#[Object]
impl MedicalAdvance {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    /// The insurance claim (settlement batch) it advances.
    async fn claim_ref(&self) -> &str {
        &self.0.claim_ref
    }

    async fn institution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.institution)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn scheme_id(&self) -> ID {
        gid(self.0.scheme)
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn repaid(&self) -> Decimal {
        self.0.repaid.into()
    }

    async fn outstanding(&self) -> Decimal {
        self.0.outstanding.into()
    }

    async fn status(&self) -> GqlAdvanceStatus {
        self.0.status.into()
    }

    async fn entry_id(&self) -> ID {
        gid(self.0.entry)
    }

    async fn advanced_at(&self) -> DateTime<Utc> {
        time(self.0.advanced_at)
    }

    async fn repaid_at(&self) -> Option<DateTime<Utc>> {
        self.0.repaid_at.map(time)
    }
}

#[derive(InputObject, Default)]
pub struct AdvanceFilterInput {
    pub institution: Option<ID>,
    pub scheme: Option<ID>,
    #[graphql(default)]
    pub outstanding_only: bool,
}

impl AdvanceFilterInput {
    fn domain(self) -> async_graphql::Result<AdvanceFilter> {
        Ok(AdvanceFilter {
            institution: self.institution.as_ref().map(id::<PartyId>).transpose()?,
            scheme: self.scheme.as_ref().map(id).transpose()?,
            outstanding_only: self.outstanding_only,
        })
    }
}

#[derive(Default)]
pub struct MedicalQuery;

#[Object]
impl MedicalQuery {
    /// A patient's payment with the lines you may see: the bank and the paying patient all, an
    /// institution its own, a regulator those of its jurisdiction.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])")]
    async fn medical_receipt(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<MedicalReceipt> {
        Ok(MedicalReceipt(
            dmedical::receipt_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<ReceiptId>(&id)?,
            )
            .await?,
        ))
    }

    /// Advances in your scope, newest first: the bank all, an institution its own, a regulator
    /// those of its jurisdiction.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn medical_advances(
        &self,
        ctx: &Context<'_>,
        filter: Option<AdvanceFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, MedicalAdvance>> {
        let page = Page::new(first, after)?;
        let filter = filter.unwrap_or_default().domain()?;
        let rows = dmedical::advances(
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
            rows.items.into_iter().map(MedicalAdvance).collect(),
            rows.has_next,
            |a| a.0.id.0,
        ))
    }

    /// The sum still outstanding of the advances in your scope that match the filter: what the
    /// bank's advance accounts lack.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn medical_advances_outstanding(
        &self,
        ctx: &Context<'_>,
        filter: Option<AdvanceFilterInput>,
    ) -> async_graphql::Result<Decimal> {
        let filter = filter.unwrap_or_default().domain()?;
        Ok(
            dmedical::outstanding_total(ctx.escrow()?.db(), ctx.principal()?, &filter)
                .await?
                .into(),
        )
    }
}

#[derive(InputObject)]
pub struct PaymentShareInput {
    pub institution: ID,
    pub amount: Decimal,
}

#[derive(InputObject)]
pub struct RecordPatientPaymentInput {
    pub scheme: ID,
    pub channel: GqlChannel,
    /// The channel's transaction id; once per channel.
    pub external_ref: String,
    /// The patient, when registered.
    pub payer: Option<ID>,
    /// Each institution's share (1 to 50 institutions).
    pub shares: Vec<PaymentShareInput>,
}

#[derive(Default)]
pub struct MedicalMutation;

#[Object]
impl MedicalMutation {
    /// Records a patient's payment through a channel and splits it at once into the registers
    /// of the institutions it pays (the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn record_patient_payment(
        &self,
        ctx: &Context<'_>,
        input: RecordPatientPaymentInput,
        idempotency_key: String,
    ) -> async_graphql::Result<MedicalReceipt> {
        let cmd = dmedical::RecordPatientPayment {
            scheme: id(&input.scheme)?,
            channel: input.channel.into(),
            external_ref: input.external_ref,
            payer: input.payer.as_ref().map(id).transpose()?,
            shares: input
                .shares
                .iter()
                .map(|s| {
                    Ok(dmedical::PaymentShare {
                        institution: id(&s.institution)?,
                        amount: s.amount.money()?,
                    })
                })
                .collect::<Result<_, lvyue_domain::DomainError>>()?,
        };
        Ok(MedicalReceipt(run(ctx, &idempotency_key, cmd).await?))
    }

    /// An institution returns (part of) its share of a patient's payment to the channel the
    /// patient paid through (the institution itself, or the bank on its behalf).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn refund_patient_payment(
        &self,
        ctx: &Context<'_>,
        receipt: ID,
        institution: ID,
        amount: Decimal,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<MedicalReceipt> {
        let cmd = dmedical::RefundPatientPayment {
            receipt: id(&receipt)?,
            institution: id(&institution)?,
            amount: amount.money()?,
            reason,
        };
        Ok(MedicalReceipt(run(ctx, &idempotency_key, cmd).await?))
    }

    /// The bank advances the insurer's share of a claim into an institution's register, within
    /// the policy's `advance_cap` outstanding per institution.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn advance_insurer_share(
        &self,
        ctx: &Context<'_>,
        institution: ID,
        scheme: ID,
        amount: Decimal,
        claim_ref: String,
        idempotency_key: String,
    ) -> async_graphql::Result<MedicalAdvance> {
        let cmd = dmedical::AdvanceInsurerShare {
            institution: id(&institution)?,
            scheme: id(&scheme)?,
            amount: amount.money()?,
            claim_ref,
        };
        Ok(MedicalAdvance(run(ctx, &idempotency_key, cmd).await?))
    }

    /// The insurer settles a claim: its money repays the bank's advance (the bank records it).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn repay_advance(
        &self,
        ctx: &Context<'_>,
        claim_ref: String,
        amount: Decimal,
        idempotency_key: String,
    ) -> async_graphql::Result<MedicalAdvance> {
        let cmd = dmedical::RepayAdvance {
            claim_ref,
            amount: amount.money()?,
        };
        Ok(MedicalAdvance(run(ctx, &idempotency_key, cmd).await?))
    }
}
