//! Splits (分账) for platforms (二清 compliance): a platform order's money is divided among its
//! sub-merchants by weight (largest remainder, no fen lost) after the platform's commission,
//! capped by the scheme. The bank keeps one payable account per sub-merchant and pays each
//! directly: the platform never holds the sub-merchants' money.
//!
//! The terms — the commission and each sub-merchant's weight — are fixed when the order is
//! opened and recorded in its `order.opened` event; nobody chooses them once the money is in.
//! A split order releases like any other: milestone by milestone, only when the policy's
//! confirmations are in and every release check passes, for the platform and for each
//! sub-merchant (enrolled, active, not on the dishonest-debtor list, not closing down).

use std::collections::BTreeSet;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};
use crate::ids::{PartyId, SchemeId};
use crate::money::{Bp, Money};
use crate::party::{PartyKind, PartyStatus, get_party_of};
use crate::policy::SplitRule;
use crate::scheme::enrollment_of;

/// Most sub-merchants in one split.
pub const MAX_SPLIT_RECIPIENTS: usize = 200;

/// One sub-merchant's weight in a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitShare {
    pub merchant: PartyId,
    pub weight: u64,
}

/// How a platform order's releases are divided, fixed at opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitTerms {
    pub commission_bp: Bp,
    pub shares: Vec<SplitShare>,
}

/// One release divided by the terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitParts {
    pub commission: Money,
    /// Each sub-merchant's part, in the order of the terms.
    pub parts: Vec<(PartyId, Money)>,
}

impl SplitTerms {
    /// Checks the terms against the scheme's split rule and its enrolled merchants.
    ///
    /// # Errors
    /// `LIMIT_EXCEEDED` for a commission over the cap; `VALIDATION` for no or too many
    /// sub-merchants, a zero weight, a sub-merchant listed twice or the platform itself;
    /// `NOT_FOUND` for a sub-merchant not enrolled in the scheme; `INVALID_STATE` for one that
    /// is not active.
    pub async fn check<C: ConnectionTrait>(
        &self,
        db: &C,
        rule: &SplitRule,
        scheme: SchemeId,
        platform: PartyId,
    ) -> DomainResult<()> {
        if self.commission_bp > rule.commission_cap_bp {
            return Err(DomainError::LimitExceeded(format!(
                "a commission of {} is over the scheme's cap of {}",
                self.commission_bp, rule.commission_cap_bp
            )));
        }
        if self.shares.is_empty() || self.shares.len() > MAX_SPLIT_RECIPIENTS {
            return Err(DomainError::invalid(
                "split.shares",
                format!("a split has 1 to {MAX_SPLIT_RECIPIENTS} sub-merchants"),
            ));
        }
        let mut seen = BTreeSet::new();
        for s in &self.shares {
            if s.weight == 0 {
                return Err(DomainError::invalid(
                    "split.shares",
                    format!(
                        "sub-merchant {} has a weight of 0: leave it out",
                        s.merchant
                    ),
                ));
            }
            if !seen.insert(s.merchant) {
                return Err(DomainError::invalid(
                    "split.shares",
                    format!("sub-merchant {} is listed twice", s.merchant),
                ));
            }
            if s.merchant == platform {
                return Err(DomainError::invalid(
                    "split.shares",
                    "the platform takes only its commission, not a share",
                ));
            }
            let sub = get_party_of(db, s.merchant, PartyKind::Merchant).await?;
            if sub.status != PartyStatus::Active {
                return Err(DomainError::invalid_state(
                    format!("sub-merchant {}", sub.name),
                    sub.status.as_str(),
                    "take a share of new orders",
                ));
            }
            enrollment_of(db, sub.id, scheme).await?;
        }
        Ok(())
    }

    /// `amount` divided: the commission (floored), then the rest by weight.
    ///
    /// # Errors
    /// Money out of range (never for a real release).
    pub fn divide(&self, amount: Money) -> DomainResult<SplitParts> {
        let commission = amount.share_floor(self.commission_bp);
        let rest = amount.checked_sub(commission)?;
        let weights: Vec<u64> = self.shares.iter().map(|s| s.weight).collect();
        let parts = rest.split_by_ratio(&weights)?;
        Ok(SplitParts {
            commission,
            parts: self.shares.iter().map(|s| s.merchant).zip(parts).collect(),
        })
    }

    /// The terms as stored on the order.
    ///
    /// # Errors
    /// Never for terms built in memory.
    pub fn to_stored(&self) -> DomainResult<String> {
        serde_json::to_string(self).map_err(|e| DomainError::Internal(e.to_string()))
    }

    /// Terms read back from the order.
    ///
    /// # Errors
    /// `INVARIANT` when the stored text is not terms.
    pub fn from_stored(s: &str) -> DomainResult<SplitTerms> {
        serde_json::from_str(s)
            .map_err(|e| DomainError::Invariant(format!("stored split terms: {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_commission_comes_first_and_the_rest_goes_by_weight() {
        let terms = SplitTerms {
            commission_bp: Bp::new(3000).unwrap(),
            shares: (1..=3)
                .map(|i| SplitShare {
                    merchant: PartyId(i),
                    weight: 1,
                })
                .collect(),
        };
        let p = terms.divide("100.00".parse().unwrap()).unwrap();
        assert_eq!(p.commission.to_string(), "30.00");
        let parts: Vec<String> = p.parts.iter().map(|(_, a)| a.to_string()).collect();
        assert_eq!(parts, ["23.34", "23.33", "23.33"]);
        let stored = terms.to_stored().unwrap();
        assert_eq!(SplitTerms::from_stored(&stored).unwrap(), terms);
        assert!(SplitTerms::from_stored("{}").is_err());
    }
}
