//! Scheme policies: the rules of one industry in one city, as data (docs/domain.md, "Schemes").
//!
//! A policy is JSON, validated when a scheme is created or changed, and versioned: an order
//! keeps the version it was opened under, so changing a scheme never changes the terms of
//! orders already opened. Rates, shares and deadlines are never constants in code.

use serde::{Deserialize, Serialize};

use crate::enums::string_enum;
use crate::error::DomainError;
use crate::ids::PartyId;
use crate::money::{BP_WHOLE, Bp, Money};

string_enum!(
    /// What kind of third party a confirmer is.
    ConfirmerKind {
        /// A driving-training association (驾培协会) reporting exam results.
        TrainingAssociation = "TRAINING_ASSOCIATION",
        /// An exam system (the traffic police's exam results).
        ExamSystem = "EXAM_SYSTEM",
        /// A training timing platform (计时平台) reporting hours.
        TimingSystem = "TIMING_SYSTEM",
        /// A school confirming a canteen's or a course's delivery.
        School = "SCHOOL",
        /// An inspection body (a housing or quality inspection).
        InspectionBody = "INSPECTION_BODY",
    }
);

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
    /// An evidence record (exam results, a delivery note, a timing-system record) with its
    /// reference, from any third-party confirmer the bank registered for the scheme — or from
    /// the merchant itself where the milestone says `self_certify: true`.
    Evidence,
    /// Evidence from a registered confirmer of this kind (`{"CONFIRMER_KIND": "EXAM_SYSTEM"}`).
    ConfirmerKind(ConfirmerKind),
    /// Evidence from this registered confirmer (`{"CONFIRMER_PARTY": "pty_7"}`).
    ConfirmerParty(PartyId),
}

impl Confirmer {
    /// The stable text a confirmation is recorded under (`PAYER`, `EVIDENCE`,
    /// `CONFIRMER_KIND:EXAM_SYSTEM`, `CONFIRMER_PARTY:pty_7`).
    pub fn key(self) -> String {
        match self {
            Confirmer::Payer => "PAYER".into(),
            Confirmer::Regulator => "REGULATOR".into(),
            Confirmer::Evidence => "EVIDENCE".into(),
            Confirmer::ConfirmerKind(k) => format!("CONFIRMER_KIND:{k}"),
            Confirmer::ConfirmerParty(p) => format!("CONFIRMER_PARTY:{p}"),
        }
    }

    /// Whether this confirmation is third-party evidence (given with a reference).
    pub fn is_evidence(self) -> bool {
        matches!(
            self,
            Confirmer::Evidence | Confirmer::ConfirmerKind(_) | Confirmer::ConfirmerParty(_)
        )
    }
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
    /// The merchant may give this milestone's `EVIDENCE` confirmation for its own order. Off
    /// unless the policy says so; shown wherever the policy is shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub self_certify: bool,
}

/// What the required custody is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustodyReference {
    /// The merchant's prepaid money still owed to payers now, the service not yet delivered:
    /// collected − released − refunded − deducted on its orders, money still clearing (paid,
    /// not yet settled into escrow) included. What counts toward it is only what escrow holds,
    /// so a release is refused while too much of what is owed has not yet arrived.
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
    /// The reference balance is over a share of the merchant's last-year revenue, that figure
    /// held between a floor and a cap (Shanghai: 20%, at least ¥200,000, at most ¥50m → 100%;
    /// docs/domain.md, "Prepaid cards"). Written `2000` for the share alone, or
    /// `{"share_bp": 2000, "floor": "200000.00", "cap": "50000000.00"}`.
    ShareOfRevenueOver(RevenueShare),
}

/// A share of last year's revenue, between an optional floor and cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RevenueShareForm", into = "RevenueShareForm")]
pub struct RevenueShare {
    pub share_bp: Bp,
    pub floor: Option<Money>,
    pub cap: Option<Money>,
}

impl RevenueShare {
    /// The balance above which the line applies for a merchant with `revenue`.
    pub fn threshold(&self, revenue: Money) -> Money {
        let mut t = revenue.share_floor(self.share_bp);
        if let Some(floor) = self.floor {
            t = t.max(floor);
        }
        if let Some(cap) = self.cap {
            t = t.min(cap);
        }
        t
    }
}

/// How a revenue share is written: a bare share (the form stored policies use), or in full.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(untagged)]
enum RevenueShareForm {
    Share(Bp),
    #[serde(rename_all = "snake_case")]
    Full {
        share_bp: Bp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        floor: Option<Money>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<Money>,
    },
}

impl From<RevenueShareForm> for RevenueShare {
    fn from(f: RevenueShareForm) -> RevenueShare {
        match f {
            RevenueShareForm::Share(share_bp) => RevenueShare {
                share_bp,
                floor: None,
                cap: None,
            },
            RevenueShareForm::Full {
                share_bp,
                floor,
                cap,
            } => RevenueShare {
                share_bp,
                floor,
                cap,
            },
        }
    }
}

impl From<RevenueShare> for RevenueShareForm {
    fn from(r: RevenueShare) -> RevenueShareForm {
        match (r.floor, r.cap) {
            (None, None) => RevenueShareForm::Share(r.share_bp),
            (floor, cap) => RevenueShareForm::Full {
                share_bp: r.share_bp,
                floor,
                cap,
            },
        }
    }
}

/// A warning line: above it, a higher custody ratio applies and an alert is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningLine {
    pub when: WarningTrigger,
    pub ratio_bp: Bp,
}

/// How an order is paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRule {
    /// Instalments (分段付费, 按周期缴费): the order runs from its first payment, takes the
    /// rest while it runs, and each milestone is releasable once the money for it has come
    /// in (settled in escrow). Without it an order runs only once its whole total is paid.
    #[serde(default)]
    pub staged: bool,
}

impl PaymentRule {
    pub fn is_whole(&self) -> bool {
        !self.staged
    }
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
    /// Minimum custody by the merchant's issuer type (MOFCOM 2012 No. 9, Art. 26: scale 20%,
    /// group 30%, brand 40%), used when higher than `ratio_bp`. A merchant whose type the bank
    /// has not recorded is held to the highest ratio listed.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ratio_by_issuer_bp: std::collections::BTreeMap<String, Bp>,
}

/// Issuer types of single-purpose prepaid cards (单用途商业预付卡), the keys of
/// `custody.ratio_by_issuer_bp` and the values of a merchant's `issuer_type` attribute.
pub const ISSUER_TYPES: [&str; 3] = ["SCALE", "GROUP", "BRAND"];

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

/// Supervised deposits: subscription deposits (房e存, 认筹金) and trade deposits (保证金) of
/// agricultural markets and rural property-rights exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRule {
    /// Inflows from sources not bound to the buyer's account, per buyer and China calendar
    /// day (Type II: ¥10,000). Zero: every inflow must come from the bound card.
    pub unbound_daily_cap: Money,
    /// Only the beneficiary (the market, the seller) or the bank may lift a freeze (保证金: the
    /// deposit secures the trade). When false (认筹金) the depositor may lift it at any time,
    /// losing their place in line.
    #[serde(default)]
    pub beneficiary_releases: bool,
    /// A frozen deposit may be forfeited to its beneficiary when the depositor defaults
    /// (保证金). When false (认筹金) it never is: a developer may take no deposit-like payment.
    #[serde(default)]
    pub forfeit_on_default: bool,
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
    /// At expiry the balance is paid to the holder (cash-out); otherwise it goes back to the
    /// project.
    #[serde(default)]
    pub cash_out_on_expiry: bool,
    /// Days before expiry when a DEADLINE_NEAR alert is raised; none when absent.
    #[serde(default)]
    pub expiry_notice_days: Option<u32>,
}

/// Most reward tiers a voucher rule may have.
pub const MAX_REWARD_TIERS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardTier {
    pub months: u32,
    pub reward_bp: Bp,
}

/// Who approves a canteen's purchase payment (商城采购模式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PurchaseApprover {
    /// The school the canteen serves (a regulator party assigned to the canteen's enrollment).
    School,
    /// The education bureau: the scheme's regulator.
    EducationBureau,
}

/// Purchase-only schemes (school canteens): the merchant never draws its payable freely; money
/// leaves it only as purchase payments to suppliers, each approved by everyone listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRule {
    pub approvals: Vec<PurchaseApprover>,
    /// Largest single purchase payment.
    #[serde(default)]
    pub per_purchase_cap: Option<Money>,
}

/// Flexible-employment payroll (灵活用工): the scheme takes enterprise funding into the
/// merchant's payable, and its batches are vetted against these limits before anyone is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PayrollRule {
    /// Largest total of one batch.
    #[serde(default)]
    pub per_batch_cap: Option<Money>,
    /// Largest single worker's line.
    #[serde(default)]
    pub per_line_cap: Option<Money>,
}

/// Medical-insurance clearing (医保): patient payments are split into institutions' registers
/// and the bank may advance the insurer's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MedicalRule {
    /// Largest advance outstanding per institution (医保办函〔2024〕101号: about one month of
    /// its insured spending).
    #[serde(default)]
    pub advance_cap: Option<Money>,
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
    /// The milestone whose release starts the validity instead of the opening (a learner's
    /// permit runs from the 科目一 pass): until then the order does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_from: Option<String>,
    /// Days before the validity ends at which the regulator and the bank are told, while money
    /// still waits (a DEADLINE_NEAR alert: "your learners' permits lapse in 30 days").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_notice_days: Option<u32>,
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
    /// Purchase-only scheme (canteens): see [`PurchaseRule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase: Option<PurchaseRule>,
    /// Prepaid cards: an order's money is released as the card is used (`RecordUsage`), not by
    /// milestone; the milestones only mark how far the card has been used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub release_on_usage: bool,
    /// How the payer pays: see [`PaymentRule`].
    #[serde(default, skip_serializing_if = "PaymentRule::is_whole")]
    pub payment: PaymentRule,
    /// Payroll scheme (flexible employment): see [`PayrollRule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payroll: Option<PayrollRule>,
    /// Medical-insurance clearing: see [`MedicalRule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical: Option<MedicalRule>,
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
            if crate::text::required("name", &m.name, 100).is_err() {
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
            let seen: std::collections::BTreeSet<String> =
                m.confirm_by.iter().map(|c| c.key()).collect();
            if seen.len() != m.confirm_by.len() {
                return bad(
                    "policy.milestones.confirm_by",
                    format!("milestone {} lists a confirmer twice", i + 1),
                );
            }
            if m.confirm_by.contains(&Confirmer::Evidence)
                && m.confirm_by.iter().any(|c| {
                    matches!(
                        c,
                        Confirmer::ConfirmerKind(_) | Confirmer::ConfirmerParty(_)
                    )
                })
            {
                return bad(
                    "policy.milestones.confirm_by",
                    format!(
                        "milestone {} ({}) asks for EVIDENCE from any confirmer and from a named kind or party: name each confirmer it needs instead",
                        i + 1,
                        m.name
                    ),
                );
            }
            if m.self_certify && !m.confirm_by.contains(&Confirmer::Evidence) {
                return bad(
                    "policy.milestones.self_certify",
                    format!(
                        "milestone {} ({}) lets the merchant certify itself, but needs no EVIDENCE confirmation",
                        i + 1,
                        m.name
                    ),
                );
            }
            if m.auto_after_days.is_some_and(|d| d > MAX_VALIDITY_DAYS) {
                return bad(
                    "policy.milestones.auto_after_days",
                    format!("at most {MAX_VALIDITY_DAYS} days"),
                );
            }
        }
        if self.payment.staged && self.release_on_usage {
            return bad(
                "policy.payment.staged",
                "a prepaid card is topped up, not paid in instalments: drop `payment.staged` or `release_on_usage`".into(),
            );
        }
        if let Some(c) = &self.custody {
            if c.ratio_bp.get() == 0
                && c.warning_lines.is_empty()
                && c.grade_ratios_bp.is_empty()
                && c.ratio_by_issuer_bp.is_empty()
            {
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
            for t in c.ratio_by_issuer_bp.keys() {
                if !ISSUER_TYPES.contains(&t.as_str()) {
                    return bad(
                        "policy.custody.ratio_by_issuer_bp",
                        format!("unknown issuer type {t:?}; types are SCALE, GROUP and BRAND"),
                    );
                }
            }
            for line in &c.warning_lines {
                if let WarningTrigger::ShareOfRevenueOver(r) = line.when
                    && let (Some(floor), Some(cap)) = (r.floor, r.cap)
                    && floor > cap
                {
                    return bad(
                        "policy.custody.warning_lines",
                        format!("a revenue line's floor {floor} is above its cap {cap}"),
                    );
                }
            }
        }
        if let Some(p) = &self.purchase {
            let mut seen = p.approvals.clone();
            seen.sort_by_key(|a| *a as u8);
            seen.dedup();
            if p.approvals.is_empty() || seen.len() != p.approvals.len() {
                return bad(
                    "policy.purchase.approvals",
                    "lists each approver (SCHOOL, EDUCATION_BUREAU) at most once, and at least one"
                        .into(),
                );
            }
            if p.per_purchase_cap.is_some_and(Money::is_zero) {
                return bad(
                    "policy.purchase.per_purchase_cap",
                    "a cap of zero would forbid every purchase".into(),
                );
            }
        }
        if self.release_on_usage {
            if self.expiry_action != ExpiryAction::Refund {
                return bad(
                    "policy.expiry_action",
                    "a card released on usage returns its unused balance when it expires: use REFUND"
                        .into(),
                );
            }
            if self.split.is_some() {
                return bad(
                    "policy.release_on_usage",
                    "a card released on usage cannot also be split".into(),
                );
            }
        }
        if self
            .medical
            .is_some_and(|m| m.advance_cap.is_some_and(Money::is_zero))
        {
            return bad(
                "policy.medical.advance_cap",
                "a cap of zero would forbid every advance".into(),
            );
        }
        if let Some(p) = &self.payroll {
            if p.per_batch_cap.is_some_and(Money::is_zero)
                || p.per_line_cap.is_some_and(Money::is_zero)
            {
                return bad(
                    "policy.payroll",
                    "a cap of zero would forbid every payout".into(),
                );
            }
            if let (Some(line), Some(batch)) = (p.per_line_cap, p.per_batch_cap)
                && line > batch
            {
                return bad(
                    "policy.payroll",
                    "the per-line cap is above the per-batch cap".into(),
                );
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
        if let Some(from) = &self.validity_from {
            if self.validity_days.is_none() {
                return bad(
                    "policy.validity_from",
                    "needs validity_days: there is no validity to start".into(),
                );
            }
            if !self.milestones.iter().any(|m| &m.name == from) {
                return bad(
                    "policy.validity_from",
                    format!("names no milestone of the schedule: {from:?}"),
                );
            }
        }
        match (self.expiry_notice_days, self.validity_days) {
            (Some(_), None) => {
                return bad(
                    "policy.expiry_notice_days",
                    "needs validity_days: there is no deadline to give notice of".into(),
                );
            }
            (Some(n), Some(v)) if n == 0 || n >= v => {
                return bad(
                    "policy.expiry_notice_days",
                    format!("must be from 1 to {} (less than validity_days)", v - 1),
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
            if v.reward_tiers.len() > MAX_REWARD_TIERS {
                return bad(
                    "policy.voucher.reward_tiers",
                    format!("at most {MAX_REWARD_TIERS} tiers"),
                );
            }
            if let Some(t) = v
                .reward_tiers
                .iter()
                .find(|t| t.months == 0 || t.months > v.validity_months)
            {
                return bad(
                    "policy.voucher.reward_tiers",
                    format!(
                        "a tier of {} months must be 1 to the {} months of validity",
                        t.months, v.validity_months
                    ),
                );
            }
            if v.reward_tiers.iter().any(|t| t.reward_bp.get() == 0) {
                return bad(
                    "policy.voucher.reward_tiers",
                    "a tier's reward must be above zero (leave the months out instead)".into(),
                );
            }
            // ~30 days a month: the notice must fall inside the validity.
            if v.expiry_notice_days
                .is_some_and(|d| d == 0 || d >= v.validity_months.saturating_mul(28))
            {
                return bad(
                    "policy.voucher.expiry_notice_days",
                    "must be at least 1 and shorter than the validity".into(),
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

    #[test]
    fn a_revenue_line_is_held_between_its_floor_and_cap() {
        let bare: WarningLine = serde_json::from_value(
            json!({"when": {"SHARE_OF_REVENUE_OVER": 2000}, "ratio_bp": 10000}),
        )
        .unwrap();
        // Stored policies keep their bytes: the bare form is written back bare.
        assert_eq!(
            serde_json::to_value(bare).unwrap(),
            json!({"when": {"SHARE_OF_REVENUE_OVER": 2000}, "ratio_bp": 10000})
        );
        let full: WarningLine = serde_json::from_value(json!({"when": {"SHARE_OF_REVENUE_OVER":
            {"share_bp": 2000, "floor": "200000.00", "cap": "50000000.00"}}, "ratio_bp": 10000}))
        .unwrap();
        let WarningTrigger::ShareOfRevenueOver(r) = full.when else {
            panic!("{full:?}");
        };
        let m = |s: &str| s.parse::<Money>().unwrap();
        assert_eq!(r.threshold(m("500000.00")), m("200000.00"));
        assert_eq!(r.threshold(m("1200000.00")), m("240000.00"));
        assert_eq!(r.threshold(m("300000000.00")), m("50000000.00"));
        let mut p = shenzhen();
        p["custody"] = json!({"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 2000,
            "warning_lines": [{"when": {"SHARE_OF_REVENUE_OVER":
                {"share_bp": 2000, "floor": "300000.00", "cap": "200000.00"}}, "ratio_bp": 10000}]});
        let err = Policy::from_json(&p).unwrap_err();
        assert!(err.to_string().contains("floor"), "{err}");
    }

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
    fn industry_rules_validate_and_name_their_problems() {
        let base = || {
            json!({
                "milestones": [{"name": "消费", "share_bp": 10000, "confirm_by": ["PAYER"]}],
                "release_on_usage": true,
                "custody": {"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 0,
                    "ratio_by_issuer_bp": {"SCALE": 2000, "GROUP": 3000, "BRAND": 4000}},
                "purchase": {"approvals": ["SCHOOL", "EDUCATION_BUREAU"], "per_purchase_cap": "50000.00"},
                "payroll": {"per_batch_cap": "100000.00", "per_line_cap": "20000.00"},
                "medical": {"advance_cap": "500000.00"}
            })
        };
        let p = Policy::from_json(&base()).unwrap();
        assert!(p.release_on_usage);
        assert_eq!(
            p.custody.unwrap().ratio_by_issuer_bp["GROUP"],
            Bp::new(3000).unwrap()
        );
        assert_eq!(p.purchase.unwrap().approvals.len(), 2);
        // Policies without the new rules serialise exactly as before.
        let plain = Policy::from_json(&shenzhen()).unwrap();
        let text = serde_json::to_string(&plain).unwrap();
        for absent in [
            "release_on_usage",
            "purchase",
            "payroll",
            "medical",
            "ratio_by_issuer_bp",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        for (path, value, needle) in [
            (
                ("custody", "ratio_by_issuer_bp"),
                json!({"MEGA": 5000}),
                "policy.custody.ratio_by_issuer_bp",
            ),
            (
                ("purchase", "approvals"),
                json!(["SCHOOL", "SCHOOL"]),
                "policy.purchase.approvals",
            ),
            (
                ("purchase", "approvals"),
                json!([]),
                "policy.purchase.approvals",
            ),
            (
                ("purchase", "per_purchase_cap"),
                json!("0.00"),
                "policy.purchase.per_purchase_cap",
            ),
            (
                ("payroll", "per_line_cap"),
                json!("200000.00"),
                "policy.payroll",
            ),
            (
                ("payroll", "per_batch_cap"),
                json!("0.00"),
                "policy.payroll",
            ),
            (
                ("medical", "advance_cap"),
                json!("0.00"),
                "policy.medical.advance_cap",
            ),
        ] {
            let mut j = base();
            j[path.0][path.1] = value;
            let err = Policy::from_json(&j).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let mut j = base();
        j["expiry_action"] = json!({"AUTO_RELEASE": {"inspection_days": 5}});
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("policy.expiry_action"), "{err}");
        let mut j = base();
        j["split"] = json!({"commission_cap_bp": 3000});
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("policy.release_on_usage"), "{err}");
        // A custody rule whose only ratio is by issuer type is a rule.
        let mut j = base();
        j["custody"]["ratio_by_issuer_bp"] = json!({});
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("policy.custody.ratio_bp"), "{err}");
    }

    #[test]
    fn voucher_and_deposit_rules_validate_and_name_their_problems() {
        let mut j = shenzhen();
        j["voucher"] = json!({
            "validity_months": 24,
            "reward_tiers": [{"months": 12, "reward_bp": 500}, {"months": 24, "reward_bp": 200}],
            "cash_out_on_expiry": true,
            "expiry_notice_days": 30
        });
        j["deposit"] = json!({"unbound_daily_cap": "10000.00", "beneficiary_releases": true, "forfeit_on_default": true});
        let p = Policy::from_json(&j).unwrap();
        assert_eq!(p.voucher.as_ref().unwrap().expiry_notice_days, Some(30));
        assert!(p.deposit.unwrap().forfeit_on_default);
        // The deposit rule of the first version (only the cap) still parses, with safe defaults.
        j["deposit"] = json!({"unbound_daily_cap": "10000.00"});
        let d = Policy::from_json(&j).unwrap().deposit.unwrap();
        assert!(!d.beneficiary_releases && !d.forfeit_on_default);
        for (voucher, needle) in [
            (json!({"validity_months": 0}), "validity_months"),
            (
                json!({"validity_months": 24, "reward_tiers": [{"months": 24, "reward_bp": 200}, {"months": 12, "reward_bp": 500}]}),
                "increasing",
            ),
            (
                json!({"validity_months": 12, "reward_tiers": [{"months": 24, "reward_bp": 200}]}),
                "reward_tiers",
            ),
            (
                json!({"validity_months": 12, "reward_tiers": [{"months": 0, "reward_bp": 200}]}),
                "reward_tiers",
            ),
            (
                json!({"validity_months": 12, "reward_tiers": [{"months": 6, "reward_bp": 0}]}),
                "reward_tiers",
            ),
            (
                json!({"validity_months": 1, "expiry_notice_days": 60}),
                "expiry_notice_days",
            ),
            (
                json!({"validity_months": 12, "expiry_notice_days": 0}),
                "expiry_notice_days",
            ),
        ] {
            let mut j = shenzhen();
            j["voucher"] = voucher;
            let err = Policy::from_json(&j).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn each_problem_is_named() {
        for (patch, needle) in [
            (json!({"milestones": []}), "milestones"),
            (json!({"validity_days": 0}), "validity_days"),
            (json!({"expiry_notice_days": 1095}), "expiry_notice_days"),
            (json!({"expiry_notice_days": 0}), "expiry_notice_days"),
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
        // Self-certification is a permission on EVIDENCE: without it, it means nothing.
        let mut j = shenzhen();
        j["milestones"][1]["confirm_by"] = json!(["PAYER"]);
        j["milestones"][1]["self_certify"] = json!(true);
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("policy.milestones.self_certify"), "{err}");
        // A confirmer named twice, by kind, is refused like any other.
        let mut j = shenzhen();
        j["milestones"][1]["confirm_by"] =
            json!([{"CONFIRMER_KIND": "EXAM_SYSTEM"}, {"CONFIRMER_KIND": "EXAM_SYSTEM"}]);
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
        let mut j = shenzhen();
        j["milestones"][1]["confirm_by"] = json!(["EVIDENCE", {"CONFIRMER_KIND": "EXAM_SYSTEM"}]);
        let err = Policy::from_json(&j).unwrap_err().to_string();
        assert!(err.contains("name each confirmer"), "{err}");
        let mut j = shenzhen();
        j["milestones"][1]["confirm_by"] =
            json!([{"CONFIRMER_KIND": "EXAM_SYSTEM"}, {"CONFIRMER_PARTY": "pty_7"}]);
        let p = Policy::from_json(&j).unwrap();
        assert_eq!(
            p.milestones[1]
                .confirm_by
                .iter()
                .map(|c| c.key())
                .collect::<Vec<_>>(),
            ["CONFIRMER_KIND:EXAM_SYSTEM", "CONFIRMER_PARTY:pty_7"]
        );
    }
}
