//! Scheme policies: the rules of one industry in one city, as data (DOMAIN.md, "Schemes").
//!
//! A policy is JSON, validated when a scheme is created or changed, and versioned: an order
//! keeps the version it was opened under, so changing a scheme never changes the terms of
//! orders already opened. Rates, shares and deadlines are never constants in code.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::{BP_WHOLE, Bp, Money};

/// Most milestones a schedule may have.
pub const MAX_MILESTONES: usize = 24;
/// Longest validity a policy may set (ten years).
pub const MAX_VALIDITY_DAYS: u32 = 3_660;

/// Who must confirm a milestone before it is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Confirmer {
    /// The payer confirms the service was delivered.
    Payer,
    /// The regulator approves (e.g. a transport bureau approving training hours).
    Regulator,
    /// An evidence record (exam results from the training association, a delivery note, a
    /// timing-system record), submitted by the bank or the merchant with its reference.
    Evidence,
}

/// One stage of a release schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneRule {
    pub name: String,
    pub share_bp: Bp,
    /// All of these must confirm. Empty means the milestone needs only time (`auto_after_days`).
    #[serde(default)]
    pub confirm_by: Vec<Confirmer>,
    /// Confirmed automatically this many days after the milestone becomes current (the
    /// previous one released, or the order settled for the first); 0 = as soon as it is current.
    #[serde(default)]
    pub auto_after_days: Option<u32>,
}

/// What the required custody is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustodyReference {
    /// The merchant's prepaid balance still owed to payers now (collected − released − refunded).
    OutstandingPrepaid,
    /// That balance at the end of the previous calendar quarter (prepaid-card rules).
    PreviousQuarterPrepaid,
}

/// When a warning line applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningTrigger {
    /// The reference balance is over this amount (Shanghai: ¥200,000 → 40%).
    BalanceOver(Money),
    /// The reference balance is over this share of the merchant's last-year revenue
    /// (Shanghai: 20% → 100%).
    ShareOfRevenueOver(Bp),
}

/// A warning line: above it, a higher custody ratio applies and an alert is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningLine {
    pub when: WarningTrigger,
    pub ratio_bp: Bp,
}

/// How much of a merchant's prepaid money must stay in escrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustodyRule {
    pub reference: CustodyReference,
    pub ratio_bp: Bp,
    #[serde(default)]
    pub warning_lines: Vec<WarningLine>,
    /// Optional custody ratio by risk grade (A–E), used when higher than `ratio_bp`.
    #[serde(default)]
    pub grade_ratios_bp: std::collections::BTreeMap<String, Bp>,
}

/// What a refund returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRule {
    /// Deadline to execute a requested refund, in working days (canteens: 15).
    #[serde(default = "default_refund_days")]
    pub deadline_working_days: u32,
    /// Share of the unreleased remainder that is refundable, by how many milestones have been
    /// released (index 0 = none yet). Missing entries mean 100%.
    #[serde(default)]
    pub refundable_bp_by_stage: Vec<Bp>,
    /// Largest deduction (a share of the refundable amount) the merchant may keep.
    #[serde(default)]
    pub max_deduction_bp: Option<Bp>,
    /// Deductions take effect only once the regulator approves them.
    #[serde(default)]
    pub deduction_needs_regulator: bool,
}

fn default_refund_days() -> u32 {
    15
}

impl Default for RefundRule {
    fn default() -> RefundRule {
        RefundRule {
            deadline_working_days: default_refund_days(),
            refundable_bp_by_stage: Vec::new(),
            max_deduction_bp: None,
            deduction_needs_regulator: false,
        }
    }
}

/// What happens when an order's validity ends with money unreleased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExpiryAction {
    /// Refund the unreleased money to the payer (the default: a learner's permit lapses).
    #[default]
    Refund,
    /// Release what is left to the merchant after an inspection window (Escrow.com style).
    AutoRelease { inspection_days: u32 },
    /// Hand the decision to the regulator.
    Escalate,
}

/// Limits on releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    pub per_release: Option<Money>,
    /// Per merchant and calendar month (China time).
    pub monthly: Option<Money>,
}

/// Splits of receipts among sub-merchants (platforms, 二清).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRule {
    /// The platform's commission may not exceed this share (WeChat's default: 30%).
    pub commission_cap_bp: Bp,
}

/// Subscription deposits (房e存).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRule {
    /// Inflows from sources not bound to the buyer's account, per day (Type II: ¥10,000).
    pub unbound_daily_cap: Money,
}

/// Housing vouchers (房票).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherRule {
    /// Months a voucher is valid after issue.
    pub validity_months: u32,
    /// Reward tiers: within `months` of issue, the reward is `reward_bp` of the amount redeemed.
    #[serde(default)]
    pub reward_tiers: Vec<RewardTier>,
    /// Whether an expired voucher may be cashed out.
    #[serde(default)]
    pub cash_out_on_expiry: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardTier {
    pub months: u32,
    pub reward_bp: Bp,
}

/// A scheme's policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub milestones: Vec<MilestoneRule>,
    #[serde(default)]
    pub custody: Option<CustodyRule>,
    #[serde(default)]
    pub refund: RefundRule,
    /// Days from opening after which the expiry action runs (a learner's permit: 3 years).
    #[serde(default)]
    pub validity_days: Option<u32>,
    #[serde(default)]
    pub expiry_action: ExpiryAction,
    #[serde(default)]
    pub caps: Caps,
    /// Longest prepaid period an order may cover.
    #[serde(default)]
    pub max_prepaid_days: Option<u32>,
    #[serde(default)]
    pub split: Option<SplitRule>,
    #[serde(default)]
    pub deposit: Option<DepositRule>,
    #[serde(default)]
    pub voucher: Option<VoucherRule>,
    /// Alerts: a single release over this share of the merchant's escrow balance is "large".
    #[serde(default)]
    pub large_release_bp: Option<Bp>,
    /// Alerts: a release over this multiple of the merchant's 30-day average is "large".
    #[serde(default)]
    pub large_release_multiple: Option<u32>,
}

impl Policy {
    /// Parses and validates a policy.
    ///
    /// # Errors
    /// `VALIDATION` naming the field and what is wrong with it.
    pub fn from_json(json: &serde_json::Value) -> Result<Policy, DomainError> {
        let p: Policy = serde_json::from_value(json.clone())
            .map_err(|e| DomainError::invalid("policy", e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// # Errors
    /// `VALIDATION` naming the field and what is wrong with it.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |field: &'static str, reason: String| Err(DomainError::invalid(field, reason));
        if self.milestones.is_empty() || self.milestones.len() > MAX_MILESTONES {
            return bad(
                "policy.milestones",
                format!("needs 1 to {MAX_MILESTONES} milestones"),
            );
        }
        let shares: Vec<Bp> = self.milestones.iter().map(|m| m.share_bp).collect();
        let sum = Bp::total(&shares)?;
        if sum != BP_WHOLE {
            return bad(
                "policy.milestones",
                format!("shares sum to {sum} basis points; they must sum to exactly 10000"),
            );
        }
        for (i, m) in self.milestones.iter().enumerate() {
            if m.name.trim().is_empty() || m.name.chars().count() > 100 {
                return bad(
                    "policy.milestones.name",
                    format!("milestone {} needs a name of 1 to 100 characters", i + 1),
                );
            }
            if m.confirm_by.is_empty() && m.auto_after_days.is_none() {
                return bad(
                    "policy.milestones.confirm_by",
                    format!(
                        "milestone {} ({}) has no one to confirm it and no automatic release",
                        i + 1,
                        m.name
                    ),
                );
            }
            let mut seen = m.confirm_by.clone();
            seen.sort_by_key(|c| *c as u8);
            seen.dedup();
            if seen.len() != m.confirm_by.len() {
                return bad(
                    "policy.milestones.confirm_by",
                    format!("milestone {} lists a confirmer twice", i + 1),
                );
            }
            if m.auto_after_days.is_some_and(|d| d > MAX_VALIDITY_DAYS) {
                return bad(
                    "policy.milestones.auto_after_days",
                    format!("at most {MAX_VALIDITY_DAYS} days"),
                );
            }
        }
        if let Some(c) = &self.custody {
            if c.ratio_bp.get() == 0 && c.warning_lines.is_empty() && c.grade_ratios_bp.is_empty() {
                return bad(
                    "policy.custody.ratio_bp",
                    "a custody rule needs a ratio above zero".into(),
                );
            }
            for g in c.grade_ratios_bp.keys() {
                if !["A", "B", "C", "D", "E"].contains(&g.as_str()) {
                    return bad(
                        "policy.custody.grade_ratios_bp",
                        format!("unknown grade {g:?}; grades are A to E"),
                    );
                }
            }
        }
        if self.refund.deadline_working_days == 0 || self.refund.deadline_working_days > 365 {
            return bad(
                "policy.refund.deadline_working_days",
                "must be 1 to 365".into(),
            );
        }
        if self.refund.refundable_bp_by_stage.len() > self.milestones.len() + 1 {
            return bad(
                "policy.refund.refundable_bp_by_stage",
                "has more entries than stages".into(),
            );
        }
        match self.validity_days {
            Some(0) => return bad("policy.validity_days", "must be at least 1".into()),
            Some(d) if d > MAX_VALIDITY_DAYS => {
                return bad(
                    "policy.validity_days",
                    format!("at most {MAX_VALIDITY_DAYS}"),
                );
            }
            _ => {}
        }
        if let (Some(v), Some(max)) = (self.validity_days, self.max_prepaid_days)
            && v > max
        {
            return bad(
                "policy.validity_days",
                format!("{v} days is longer than the maximum prepaid period of {max} days"),
            );
        }
        if let ExpiryAction::AutoRelease { inspection_days } = self.expiry_action
            && inspection_days > 365
        {
            return bad("policy.expiry_action.inspection_days", "at most 365".into());
        }
        if let (Some(per), Some(month)) = (self.caps.per_release, self.caps.monthly)
            && per > month
        {
            return bad(
                "policy.caps",
                "the per-release cap is above the monthly cap".into(),
            );
        }
        if self.caps.per_release.is_some_and(Money::is_zero)
            || self.caps.monthly.is_some_and(Money::is_zero)
        {
            return bad(
                "policy.caps",
                "a cap of zero would forbid every release".into(),
            );
        }
        if let Some(v) = &self.voucher {
            if v.validity_months == 0 || v.validity_months > 120 {
                return bad("policy.voucher.validity_months", "must be 1 to 120".into());
            }
            if !v.reward_tiers.windows(2).all(|w| w[0].months < w[1].months) {
                return bad(
                    "policy.voucher.reward_tiers",
                    "tiers must be in increasing months".into(),
                );
            }
        }
        Ok(())
    }

    /// The share of the unreleased remainder that is refundable after `released` stages.
    pub fn refundable_bp(&self, released: usize) -> Bp {
        self.refund
            .refundable_bp_by_stage
            .get(released)
            .copied()
            .unwrap_or(Bp::WHOLE)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn shenzhen() -> serde_json::Value {
        json!({
            "milestones": [
                {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
                {"name": "科目一合格", "share_bp": 1500, "confirm_by": ["EVIDENCE"]},
                {"name": "科目二合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]},
                {"name": "科目三合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]}
            ],
            "validity_days": 1095,
            "expiry_action": "REFUND",
            "refund": {"deadline_working_days": 15, "max_deduction_bp": 2000, "deduction_needs_regulator": true}
        })
    }

    #[test]
    fn a_realistic_policy_validates() {
        let p = Policy::from_json(&shenzhen()).unwrap();
        assert_eq!(p.milestones.len(), 4);
        assert_eq!(p.expiry_action, ExpiryAction::Refund);
    }

    #[test]
    fn shares_must_sum_to_ten_thousand() {
        let mut j = shenzhen();
        j["milestones"][0]["share_bp"] = json!(2400);
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("9900") && err.contains("10000"), "{err}");
    }

    #[test]
    fn each_problem_is_named() {
        for (patch, needle) in [
            (json!({"milestones": []}), "milestones"),
            (json!({"validity_days": 0}), "validity_days"),
            (
                json!({"refund": {"deadline_working_days": 0}}),
                "deadline_working_days",
            ),
            (
                json!({"caps": {"per_release": "100.00", "monthly": "50.00"}}),
                "caps",
            ),
            (
                json!({"expiry_action": {"AUTO_RELEASE": {"inspection_days": 999}}}),
                "inspection_days",
            ),
            (json!({"unknown_field": 1}), "unknown field"),
            (
                json!({"custody": {"reference": "OUTSTANDING_PREPAID", "ratio_bp": 2000, "grade_ratios_bp": {"F": 100}}}),
                "grade",
            ),
        ] {
            let mut j = shenzhen();
            for (k, v) in patch.as_object().unwrap() {
                j[k] = v.clone();
            }
            let err = Policy::from_json(&j).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let mut j = shenzhen();
        j["milestones"][1]["confirm_by"] = json!([]);
        assert!(
            Policy::from_json(&j)
                .unwrap_err()
                .to_string()
                .contains("no one to confirm")
        );
    }
}
