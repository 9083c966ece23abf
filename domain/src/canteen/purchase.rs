//! Purchase payments (商城采购模式): a canteen's payment to a food supplier from its payable,
//! paid by the bank once the school and the education bureau (as the scheme's `purchase` rule
//! lists) approved it; either one's rejection ends it. Pending purchases reserve the payable.

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::purchase_payment as purchase;

use super::{current_policy, school_of};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{EntryId, PartyId, PurchaseId, SchemeId};
use crate::ledger::{EntryKind, get_account, post_cleared, system, transfer};
use crate::money::Money;
use crate::page::{Page, Paged, page_of};
use crate::party::{PartyKind, PartyRecord, PartyStatus, get_party_of};
use crate::policy::{PurchaseApprover, PurchaseRule};
use crate::principal::{Principal, Role};
use crate::queries::{jurisdiction_condition, nothing};
use crate::scheme::{enrollment_of, get_scheme};

/// Longest supplier name.
pub const MAX_SUPPLIER_NAME_CHARS: usize = 100;
/// Longest supplier account number and invoice reference.
pub const MAX_REF_LEN: usize = 64;
/// Longest approver's note.
pub const MAX_NOTE_CHARS: usize = 500;

string_enum!(
    /// A purchase payment's life.
    PurchaseStatus {
        /// Waiting for the approvals the policy lists.
        Pending = "PENDING",
        /// Approved by all; the bank paid the supplier.
        Paid = "PAID",
        /// Someone whose approval was needed refused it.
        Rejected = "REJECTED",
    }
);

/// A purchase payment as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRecord {
    pub id: PurchaseId,
    pub merchant: PartyId,
    pub scheme: SchemeId,
    /// The school whose approval the purchase needs (assigned when it was requested).
    pub school: Option<PartyId>,
    pub supplier_name: String,
    pub supplier_account: String,
    pub amount: Money,
    pub invoice_ref: String,
    pub status: PurchaseStatus,
    /// Whose approvals it needs, from the policy at request time.
    pub approvals_needed: Vec<PurchaseApprover>,
    pub school_approved: Option<bool>,
    pub school_decided_at: Option<Timestamp>,
    pub bureau_approved: Option<bool>,
    pub bureau_decided_at: Option<Timestamp>,
    /// The approvers' notes, one line each.
    pub note: String,
    pub requested_by: String,
    pub requested_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// The payment to the supplier, once paid.
    pub entry: Option<EntryId>,
}

impl TryFrom<purchase::Model> for PurchaseRecord {
    type Error = DomainError;
    fn try_from(m: purchase::Model) -> DomainResult<PurchaseRecord> {
        let mut needed = Vec::new();
        if m.needs_school {
            needed.push(PurchaseApprover::School);
        }
        if m.needs_bureau {
            needed.push(PurchaseApprover::EducationBureau);
        }
        Ok(PurchaseRecord {
            id: PurchaseId(m.id),
            merchant: PartyId(m.merchant_id),
            scheme: SchemeId(m.scheme_id),
            school: m.school_id.map(PartyId),
            supplier_name: m.supplier_name,
            supplier_account: m.supplier_account,
            amount: Money::from_fen(m.amount_fen)?,
            invoice_ref: m.invoice_ref,
            status: m.status.parse()?,
            approvals_needed: needed,
            school_approved: m.school_approved,
            school_decided_at: m.school_decided_at_us.map(Timestamp),
            bureau_approved: m.bureau_approved,
            bureau_decided_at: m.bureau_decided_at_us.map(Timestamp),
            note: m.note,
            requested_by: m.requested_by,
            requested_at: Timestamp(m.requested_at_us),
            closed_at: m.closed_at_us.map(Timestamp),
            entry: m.entry_id.map(EntryId),
        })
    }
}

async fn get_purchase<C: ConnectionTrait>(db: &C, id: PurchaseId) -> DomainResult<PurchaseRecord> {
    purchase::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("purchase", id))?
        .try_into()
}

/// What purchase payments a principal may see: the bank all; a canteen its own; a regulator
/// those of its regions and industries and, for a school, those it must approve.
pub fn purchase_scope(p: &Principal) -> Condition {
    match (p.role, p.party_id) {
        (Role::Bank, _) => Condition::all(),
        (Role::Merchant, Some(id)) => Condition::all().add(purchase::Column::MerchantId.eq(id.0)),
        (Role::Regulator, Some(id)) => Condition::any()
            .add(purchase::Column::SchoolId.eq(id.0))
            .add(jurisdiction_condition(
                &p.jurisdiction,
                purchase::Column::Region,
                purchase::Column::Industry,
            )),
        _ => nothing(),
    }
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn purchase_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: PurchaseId,
) -> DomainResult<PurchaseRecord> {
    purchase::Entity::find_by_id(id.0)
        .filter(purchase_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("purchase", id))?
        .try_into()
}

/// Filters of the purchase list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseFilter {
    pub merchant: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub status: Option<PurchaseStatus>,
}

/// Purchase payments in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn purchases<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &PurchaseFilter,
    page: Page,
) -> DomainResult<Paged<PurchaseRecord>> {
    let mut q = purchase::Entity::find().filter(purchase_scope(p));
    if let Some(m) = f.merchant {
        q = q.filter(purchase::Column::MerchantId.eq(m.0));
    }
    if let Some(s) = f.scheme {
        q = q.filter(purchase::Column::SchemeId.eq(s.0));
    }
    if let Some(s) = f.status {
        q = q.filter(purchase::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = page.after {
        q = q.filter(purchase::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(purchase::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?
        .into_iter()
        .map(PurchaseRecord::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(page_of(rows, page))
}

/// What a canteen's pending purchases reserve of its payable in a scheme.
async fn pending_total<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
) -> DomainResult<Money> {
    let amounts: Vec<i64> = purchase::Entity::find()
        .select_only()
        .column(purchase::Column::AmountFen)
        .filter(purchase::Column::MerchantId.eq(merchant.0))
        .filter(purchase::Column::SchemeId.eq(scheme.0))
        .filter(purchase::Column::Status.eq(PurchaseStatus::Pending.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Money::sum(
        amounts
            .into_iter()
            .map(Money::from_fen)
            .collect::<Result<Vec<_>, _>>()?,
    )?)
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> DomainResult<String> {
    crate::text::required(field, value, max_chars)
}

fn check_ref(field: &'static str, value: &str) -> DomainResult<String> {
    let v = value.trim();
    if v.is_empty()
        || v.len() > MAX_REF_LEN
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'/')
    {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {MAX_REF_LEN} letters, digits, -, _ or /"),
        ));
    }
    Ok(v.to_owned())
}

/// A suspended canteen still pays its suppliers for food delivered to the pupils; a blocked or
/// closed one does not (as for payouts).
fn can_pay(m: &PartyRecord) -> DomainResult<()> {
    if matches!(m.status, PartyStatus::Blocked | PartyStatus::Closed) {
        return Err(DomainError::invalid_state(
            format!("merchant {}", m.name),
            m.status.as_str(),
            "pay suppliers",
        ));
    }
    Ok(())
}

/// A canteen asks for a supplier to be paid from its payable (the canteen for itself, or the
/// bank on its behalf). The purchase waits for the approvals the scheme's `purchase` rule
/// lists; its amount is reserved until then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestPurchase {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub supplier_name: String,
    /// The supplier's bank account number.
    pub supplier_account: String,
    pub amount: Money,
    /// The supplier's invoice (or delivery note) number; one purchase per invoice.
    pub invoice_ref: String,
}

impl Command for RequestPurchase {
    type Output = PurchaseRecord;
    const NAME: &'static str = "requestPurchase";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PurchaseRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        if tx.principal.role == Role::Merchant && tx.principal.party_id != Some(self.merchant) {
            return Err(DomainError::not_found("merchant", self.merchant));
        }
        let amount = self.amount.positive()?;
        let supplier_name =
            check_text("supplierName", &self.supplier_name, MAX_SUPPLIER_NAME_CHARS)?;
        let supplier_account = check_ref("supplierAccount", &self.supplier_account)?;
        let invoice_ref = check_ref("invoiceRef", &self.invoice_ref)?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        can_pay(&m)?;
        let e = enrollment_of(tx.db(), m.id, self.scheme).await?;
        let (s, policy) = current_policy(tx.db(), self.scheme).await?;
        let Some(PurchaseRule {
            approvals,
            per_purchase_cap,
        }) = policy.purchase
        else {
            return Err(DomainError::invalid(
                "scheme",
                "this scheme's policy has no purchase rule: its merchants are paid out directly",
            ));
        };
        if let Some(cap) = per_purchase_cap
            && amount > cap
        {
            return Err(DomainError::LimitExceeded(format!(
                "a purchase of {amount} is over the per-purchase cap of {cap}"
            )));
        }
        let needs_school = approvals.contains(&PurchaseApprover::School);
        let needs_bureau = approvals.contains(&PurchaseApprover::EducationBureau);
        let school = school_of(tx.db(), m.id, s.id).await?;
        if needs_school && school.is_none() {
            return Err(DomainError::invalid_state(
                format!("canteen {}", m.name),
                "NO_SCHOOL_ASSIGNED",
                "request purchases that the school must approve",
            ));
        }
        if purchase::Entity::find()
            .filter(purchase::Column::MerchantId.eq(m.id.0))
            .filter(purchase::Column::InvoiceRef.eq(invoice_ref.as_str()))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "invoice {invoice_ref} already has a purchase payment"
            )));
        }
        let payable = get_account(tx.db(), e.payable_account).await?;
        let reserved = pending_total(tx.db(), m.id, s.id).await?;
        let available = Money::from_fen(payable.available_fen().max(0))?.saturating_sub(reserved);
        if amount > available {
            return Err(DomainError::InsufficientFunds {
                account: payable.number,
                available,
                requested: amount,
            });
        }
        let row = purchase::ActiveModel {
            merchant_id: Set(m.id.0),
            scheme_id: Set(s.id.0),
            region: Set(m
                .region
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_else(|| s.region.as_str().to_owned())),
            industry: Set(s.industry.as_str().to_owned()),
            school_id: Set(school.map(|p| p.0)),
            supplier_name: Set(supplier_name),
            supplier_account: Set(supplier_account),
            amount_fen: Set(amount.fen()),
            invoice_ref: Set(invoice_ref),
            status: Set(PurchaseStatus::Pending.as_str().to_owned()),
            needs_school: Set(needs_school),
            needs_bureau: Set(needs_bureau),
            school_approved: Set(None),
            school_decided_by: Set(None),
            school_decided_at_us: Set(None),
            bureau_approved: Set(None),
            bureau_decided_by: Set(None),
            bureau_decided_at_us: Set(None),
            note: Set(String::new()),
            requested_by: Set(tx.principal.role.as_str().to_owned()),
            requested_at_us: Set(tx.now.0),
            closed_at_us: Set(None),
            entry_id: Set(None),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let p = PurchaseRecord::try_from(row)?;
        tx.emit(
            NewEvent::new(
                "purchase.requested",
                json!({
                    "purchase_id": p.id,
                    "supplier_name": p.supplier_name,
                    "supplier_account": p.supplier_account,
                    "amount": p.amount,
                    "invoice_ref": p.invoice_ref,
                    "approvals_needed": p.approvals_needed,
                    "school_id": p.school,
                    "by": p.requested_by,
                }),
            )
            .merchant(m.id)
            .scheme(s.id),
        );
        Ok(p)
    }
}

/// The school or the education bureau approves (or rejects) a pending purchase payment. A
/// rejection ends it; the last approval needed makes the bank pay the supplier from the
/// canteen's payable, in the same transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovePurchase {
    pub purchase: PurchaseId,
    pub approve: bool,
    /// Why (kept with the purchase and in the event).
    #[serde(default)]
    pub note: String,
}

impl Command for ApprovePurchase {
    type Output = PurchaseRecord;
    const NAME: &'static str = "approvePurchase";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PurchaseRecord> {
        tx.principal.require_role(&[Role::Regulator])?;
        let me = tx.principal.own_party()?;
        let p = purchase_visible(tx.db(), tx.principal, self.purchase).await?;
        crate::text::optional("note", &self.note, MAX_NOTE_CHARS)?;
        let scheme = get_scheme(tx.db(), p.scheme).await?;
        let is_bureau = match scheme.regulator {
            Some(r) => r == me,
            None => tx
                .principal
                .jurisdiction
                .covers(scheme.region.as_str(), scheme.industry),
        };
        let capacity = if p.school == Some(me) {
            PurchaseApprover::School
        } else if is_bureau {
            PurchaseApprover::EducationBureau
        } else {
            return Err(DomainError::Forbidden(
                "only the canteen's school and the scheme's education bureau approve its purchases"
                    .into(),
            ));
        };
        if p.status != PurchaseStatus::Pending {
            return Err(DomainError::invalid_state(
                format!("purchase {}", p.id),
                p.status.as_str(),
                "approve or reject",
            ));
        }
        if !p.approvals_needed.contains(&capacity) {
            return Err(DomainError::Forbidden(format!(
                "this purchase does not need the {} approval",
                approver_label(capacity)
            )));
        }
        let (decided, school_ok, bureau_ok) = match capacity {
            PurchaseApprover::School => (p.school_approved, Some(self.approve), p.bureau_approved),
            PurchaseApprover::EducationBureau => {
                (p.bureau_approved, p.school_approved, Some(self.approve))
            }
        };
        if decided.is_some() {
            return Err(DomainError::invalid_state(
                format!("purchase {}", p.id),
                format!(
                    "DECIDED_BY_{}",
                    approver_label(capacity).to_uppercase().replace(' ', "_")
                ),
                "decide again",
            ));
        }
        let complete = self.approve
            && (!p.approvals_needed.contains(&PurchaseApprover::School) || school_ok == Some(true))
            && (!p
                .approvals_needed
                .contains(&PurchaseApprover::EducationBureau)
                || bureau_ok == Some(true));
        let note = match (p.note.is_empty(), self.note.trim().is_empty()) {
            (_, true) => p.note.clone(),
            (true, false) => format!("{}: {}", approver_label(capacity), self.note.trim()),
            (false, false) => format!(
                "{}\n{}: {}",
                p.note,
                approver_label(capacity),
                self.note.trim()
            ),
        };
        let mut row = purchase::ActiveModel {
            id: Set(p.id.0),
            note: Set(note),
            ..Default::default()
        };
        let who = Set(Some(tx.principal.subject.clone()));
        match capacity {
            PurchaseApprover::School => {
                row.school_approved = Set(Some(self.approve));
                row.school_decided_by = who;
                row.school_decided_at_us = Set(Some(tx.now.0));
            }
            PurchaseApprover::EducationBureau => {
                row.bureau_approved = Set(Some(self.approve));
                row.bureau_decided_by = who;
                row.bureau_decided_at_us = Set(Some(tx.now.0));
            }
        }
        if !self.approve {
            row.status = Set(PurchaseStatus::Rejected.as_str().to_owned());
            row.closed_at_us = Set(Some(tx.now.0));
        }
        row.update(tx.db()).await?;
        tx.emit(
            NewEvent::new(
                if self.approve {
                    "purchase.approved"
                } else {
                    "purchase.rejected"
                },
                json!({ "purchase_id": p.id, "as": capacity, "by": me, "note": self.note.trim() }),
            )
            .merchant(p.merchant)
            .scheme(p.scheme),
        );
        if complete {
            pay(tx, &p).await?;
        }
        get_purchase(tx.db(), p.id).await
    }
}

fn approver_label(a: PurchaseApprover) -> &'static str {
    match a {
        PurchaseApprover::School => "school",
        PurchaseApprover::EducationBureau => "education bureau",
    }
}

/// The bank pays the supplier: payable → the suppliers' side of the outside world.
async fn pay(tx: &mut Tx<'_>, p: &PurchaseRecord) -> DomainResult<()> {
    let m = get_party_of(tx.db(), p.merchant, PartyKind::Merchant).await?;
    can_pay(&m)?;
    let e = enrollment_of(tx.db(), p.merchant, p.scheme).await?;
    let suppliers = system::external(tx, "SUPPLIERS").await?;
    let clearance = gate::clear(Outflow::PurchasePayment, None, e.payable_account, p.amount)?;
    let entry = post_cleared(
        tx,
        clearance,
        EntryKind::Payout,
        &format!(
            "purchase {} to {} ({})",
            p.id, p.supplier_name, p.invoice_ref
        ),
        &transfer(e.payable_account, suppliers, p.amount),
    )
    .await?;
    // Conditional on PENDING: a purchase is paid once.
    let updated = purchase::Entity::update_many()
        .col_expr(
            purchase::Column::Status,
            Expr::value(PurchaseStatus::Paid.as_str()),
        )
        .col_expr(purchase::Column::EntryId, Expr::value(entry.id.0))
        .col_expr(purchase::Column::ClosedAtUs, Expr::value(tx.now.0))
        .filter(purchase::Column::Id.eq(p.id.0))
        .filter(purchase::Column::Status.eq(PurchaseStatus::Pending.as_str()))
        .exec(tx.db())
        .await?;
    if updated.rows_affected != 1 {
        return Err(DomainError::Invariant(format!(
            "purchase {} was not pending when paid",
            p.id
        )));
    }
    tx.emit(
        NewEvent::new(
            "purchase.paid",
            json!({
                "purchase_id": p.id,
                "amount": p.amount,
                "supplier_name": p.supplier_name,
                "supplier_account": p.supplier_account,
                "invoice_ref": p.invoice_ref,
                "entry_id": entry.id,
            }),
        )
        .merchant(p.merchant)
        .scheme(p.scheme),
    );
    Ok(())
}
