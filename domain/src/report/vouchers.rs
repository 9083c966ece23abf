//! Voucher (房票) inventory (docs/domain.md, "What regulators ask for": issued, used, transferred, expired, cashed
//! out, outstanding), in the report set: the voucher module's own inventory query
//! ([`crate::voucher::voucher_inventory`]), scoped as it scopes vouchers, with a CSV form.

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::require_report_role;
use crate::clock::Timestamp;
use crate::error::DomainResult;
use crate::ids::SchemeId;
use crate::principal::Principal;
use crate::voucher::InventoryLine;

/// The inventory as it stands: counts, face amounts and balances by project and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherInventory {
    pub as_of: Timestamp,
    pub lines: Vec<InventoryLine>,
}

/// The voucher inventory in the principal's scope at `now`.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; database errors.
pub async fn voucher_inventory<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    scheme: Option<SchemeId>,
    now: Timestamp,
) -> DomainResult<VoucherInventory> {
    require_report_role(p)?;
    Ok(VoucherInventory {
        as_of: now,
        lines: crate::voucher::voucher_inventory(db, p, scheme).await?,
    })
}
