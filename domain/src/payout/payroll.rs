//! Flexible-employment payroll (灵活用工): an enterprise funds its account at the bank, and the
//! bank pays many workers at once on the platform's instruction — `BatchPayout`
//! ([`crate::payout`]), all or nothing — after the checks the platform's risk checks stand for.
//!
//! - **Funding** ([`FundEnterpriseAccount`]): the bank records the enterprise's transfer as it
//!   arrives, straight into the enterprise's payable in the payroll scheme (channel's outside
//!   account → payable). There is no clearing stage: the money is the enterprise's own wages
//!   fund, not a consumer's prepayment waiting for T+1 escrow, and the bank records it once it
//!   has arrived. Only schemes whose policy has a `payroll` rule take funding, so no other
//!   scheme's escrow can be bypassed this way.
//! - **Checks** ([`check_payroll_batch`] to try a batch, [`vet_batch`] inside `BatchPayout`):
//!   every line names the worker, has a valid card (Luhn) and an amount; no card appears twice
//!   in a batch; each line and the batch stay within the policy's caps. One bad line refuses
//!   the whole batch: nobody is paid.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::enterprise_funding;

use super::{MAX_BATCH_ITEMS, PayoutItem};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::identity::is_valid_card_number;
use crate::ids::{EntryId, FundingId, PartyId, SchemeId};
use crate::ledger::{EntryKind, get_account, post, system, transfer};
use crate::money::Money;
use crate::order::Channel;
use crate::party::{PartyKind, PartyStatus, get_party_of};
use crate::policy::PayrollRule;
use crate::principal::{Principal, Role};
use crate::scheme::{enrollment_of, get_scheme, policy_at};

/// Longest worker name on a line.
pub const MAX_WORKER_NAME_CHARS: usize = 50;

/// An enterprise's transfer as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingRecord {
    pub id: FundingId,
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub channel: Channel,
    pub external_ref: String,
    pub amount: Money,
    pub entry: EntryId,
    pub funded_at: Timestamp,
}

impl TryFrom<enterprise_funding::Model> for FundingRecord {
    type Error = DomainError;
    fn try_from(m: enterprise_funding::Model) -> DomainResult<FundingRecord> {
        Ok(FundingRecord {
            id: FundingId(m.id),
            merchant: PartyId(m.merchant_id),
            scheme: SchemeId(m.scheme_id),
            channel: m.channel.parse()?,
            external_ref: m.external_ref,
            amount: Money::from_fen(m.amount_fen)?,
            entry: EntryId(m.entry_id),
            funded_at: Timestamp(m.funded_at_us),
        })
    }
}

/// The payroll rule of a scheme's current policy.
async fn payroll_rule<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
) -> DomainResult<Option<PayrollRule>> {
    let s = get_scheme(db, scheme).await?;
    Ok(policy_at(db, s.id, s.current_version).await?.payroll)
}

/// The bank records an enterprise's transfer into its payroll account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundEnterpriseAccount {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub amount: Money,
    pub channel: Channel,
    /// The channel's transaction id; a second record with the same id is refused.
    pub external_ref: String,
}

impl Command for FundEnterpriseAccount {
    type Output = FundingRecord;
    const NAME: &'static str = "fundEnterpriseAccount";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<FundingRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let amount = self.amount.positive()?;
        let reference = crate::text::external_ref("externalRef", &self.external_ref)?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        if matches!(m.status, PartyStatus::Blocked | PartyStatus::Closed) {
            return Err(DomainError::invalid_state(
                format!("merchant {}", m.name),
                m.status.as_str(),
                "take payroll funding",
            ));
        }
        let e = enrollment_of(tx.db(), m.id, self.scheme).await?;
        if payroll_rule(tx.db(), self.scheme).await?.is_none() {
            return Err(DomainError::invalid(
                "scheme",
                "this scheme's policy has no payroll rule: only payroll schemes take enterprise funding",
            ));
        }
        if enterprise_funding::Entity::find()
            .filter(enterprise_funding::Column::Channel.eq(self.channel.as_str()))
            .filter(enterprise_funding::Column::ExternalRef.eq(reference))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "{} transfer {reference} was already recorded",
                self.channel
            )));
        }
        let outside = system::channel_external(tx, self.channel.as_str()).await?;
        let entry = post(
            tx,
            EntryKind::Deposit,
            None,
            &format!(
                "payroll funding from {} ({} {reference})",
                m.name, self.channel
            ),
            &transfer(outside, e.payable_account, amount),
        )
        .await?;
        let row = enterprise_funding::ActiveModel {
            merchant_id: Set(m.id.0),
            scheme_id: Set(self.scheme.0),
            channel: Set(self.channel.as_str().to_owned()),
            external_ref: Set(reference.to_owned()),
            amount_fen: Set(amount.fen()),
            entry_id: Set(entry.id.0),
            funded_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let f = FundingRecord::try_from(row)?;
        tx.emit(
            NewEvent::new(
                "enterprise.funded",
                json!({ "funding_id": f.id, "channel": f.channel, "external_ref": f.external_ref, "amount": amount, "entry_id": entry.id }),
            )
            .merchant(m.id)
            .scheme(self.scheme),
        );
        Ok(f)
    }
}

string_enum!(
    /// What is wrong with a line.
    LineProblemKind {
        Name = "NAME",
        Card = "CARD",
        Amount = "AMOUNT",
        /// The card of an earlier line of the same batch.
        RepeatedCard = "REPEATED_CARD",
        OverLineCap = "OVER_LINE_CAP",
    }
);

/// One line's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineProblem {
    /// 1-based line number.
    pub line: u32,
    pub kind: LineProblemKind,
    pub problem: String,
}

/// The outcome of checking a batch before it is instructed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayrollCheck {
    /// True when `BatchPayout` would pay every line.
    pub ok: bool,
    pub lines: u32,
    pub total: Money,
    /// What the enterprise's payable has available now.
    pub available: Money,
    pub line_problems: Vec<LineProblem>,
    pub batch_problems: Vec<String>,
}

/// The problems of each line: name, card, amount; and in a payroll scheme (`rule` given) a card
/// repeated from an earlier line and the per-line cap.
pub fn line_problems(items: &[PayoutItem], rule: Option<&PayrollRule>) -> Vec<LineProblem> {
    let mut out = Vec::new();
    let mut first_line_of: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let line = (i + 1) as u32;
        let mut problem = |kind, p: String| {
            out.push(LineProblem {
                line,
                kind,
                problem: p,
            })
        };
        if crate::text::required("name", &item.name, MAX_WORKER_NAME_CHARS).is_err() {
            problem(
                LineProblemKind::Name,
                format!("name must be 1 to {MAX_WORKER_NAME_CHARS} characters"),
            );
        }
        if !is_valid_card_number(&item.card_number) {
            problem(
                LineProblemKind::Card,
                "card number fails its check digit".into(),
            );
        }
        if item.amount.is_zero() {
            problem(
                LineProblemKind::Amount,
                "amount must be greater than zero".into(),
            );
        }
        if let Some(cap) = rule.and_then(|r| r.per_line_cap)
            && item.amount > cap
        {
            problem(
                LineProblemKind::OverLineCap,
                format!("{} is over the per-line cap of {cap}", item.amount),
            );
        }
        if rule.is_none() {
            continue;
        }
        match first_line_of.get(item.card_number.as_str()) {
            Some(first) => problem(
                LineProblemKind::RepeatedCard,
                format!("the same card as line {}", first + 1),
            ),
            None => {
                first_line_of.insert(item.card_number.as_str(), i);
            }
        }
    }
    out
}

/// The problems of the batch as a whole: its size and the per-batch cap.
fn batch_problems(
    items: &[PayoutItem],
    rule: Option<&PayrollRule>,
) -> DomainResult<(Money, Vec<String>)> {
    let mut out = Vec::new();
    if items.is_empty() || items.len() > MAX_BATCH_ITEMS {
        out.push(format!("a batch has 1 to {MAX_BATCH_ITEMS} lines"));
    }
    let total = Money::sum(items.iter().map(|i| i.amount))?;
    if let Some(cap) = rule.and_then(|r| r.per_batch_cap)
        && total > cap
    {
        out.push(format!(
            "the batch total {total} is over the per-batch cap of {cap}"
        ));
    }
    Ok((total, out))
}

/// Tries a batch without paying anyone: the platform (the enterprise's own principal) or the
/// bank sees every problem `BatchPayout` would refuse it for.
///
/// # Errors
/// `NOT_FOUND` for a merchant out of scope or not enrolled.
pub async fn check_payroll_batch<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    merchant: PartyId,
    scheme: SchemeId,
    items: &[PayoutItem],
) -> DomainResult<PayrollCheck> {
    p.require_role(&[Role::Bank, Role::Merchant])?;
    let m = crate::queries::merchant_visible(db, p, merchant).await?;
    let e = enrollment_of(db, m.id, scheme).await?;
    let rule = payroll_rule(db, scheme).await?;
    let line_problems = line_problems(items, rule.as_ref());
    let (total, mut batch_problems) = batch_problems(items, rule.as_ref())?;
    let available = Money::from_fen(
        get_account(db, e.payable_account)
            .await?
            .available_fen()
            .max(0),
    )?;
    if total > available {
        batch_problems.push(format!(
            "the batch total {total} is more than the {available} available"
        ));
    }
    if m.status != PartyStatus::Active {
        batch_problems.push(format!("the enterprise is {}", m.status));
    }
    Ok(PayrollCheck {
        ok: line_problems.is_empty() && batch_problems.is_empty(),
        lines: items.len() as u32,
        total,
        available,
        line_problems,
        batch_problems,
    })
}

/// The checks `BatchPayout` runs, in a payroll scheme, before it pays anyone, beyond each
/// line's own validity: no card twice, and the policy's caps. Other schemes' batches (a
/// merchant paying its suppliers) are not payroll and keep only the line checks.
///
/// # Errors
/// `VALIDATION` for a repeated card; `LIMIT_EXCEEDED` for a line or the batch over its cap.
pub async fn vet_batch<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
    items: &[PayoutItem],
) -> DomainResult<()> {
    let Some(rule) = payroll_rule(db, scheme).await? else {
        return Ok(());
    };
    let rule = Some(rule);
    let problems = line_problems(items, rule.as_ref());
    let repeated: Vec<String> = problems
        .iter()
        .filter(|p| p.kind == LineProblemKind::RepeatedCard)
        .map(|p| format!("line {}: {}", p.line, p.problem))
        .collect();
    if !repeated.is_empty() {
        return Err(DomainError::invalid(
            "items",
            repeated.into_iter().take(20).collect::<Vec<_>>().join("; "),
        ));
    }
    let over: Vec<String> = problems
        .iter()
        .filter(|p| p.kind == LineProblemKind::OverLineCap)
        .map(|p| format!("line {}: {}", p.line, p.problem))
        .collect();
    if !over.is_empty() {
        return Err(DomainError::LimitExceeded(
            over.into_iter().take(20).collect::<Vec<_>>().join("; "),
        ));
    }
    let (_, batch) = batch_problems(items, rule.as_ref())?;
    if let Some(p) = batch.into_iter().next() {
        return Err(DomainError::LimitExceeded(p));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
