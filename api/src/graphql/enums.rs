//! GraphQL enums mirroring the domain's `Role` and `Industry` (the domain never sees
//! async-graphql). The conversions are exhaustive matches, so a variant added in the domain
//! fails to compile here until the API names it.

use async_graphql::Enum;

use lvyue_domain::principal::{Industry, Role};

/// A principal's role.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlRole {
    Bank,
    Merchant,
    Payer,
    Regulator,
    Court,
    /// A third-party confirmer (training association, exam or timing system, school,
    /// inspection body).
    Confirmer,
}

impl From<Role> for GqlRole {
    fn from(r: Role) -> GqlRole {
        match r {
            Role::Bank => GqlRole::Bank,
            Role::Merchant => GqlRole::Merchant,
            Role::Payer => GqlRole::Payer,
            Role::Regulator => GqlRole::Regulator,
            Role::Court => GqlRole::Court,
            Role::Confirmer => GqlRole::Confirmer,
        }
    }
}

impl From<GqlRole> for Role {
    fn from(r: GqlRole) -> Role {
        match r {
            GqlRole::Bank => Role::Bank,
            GqlRole::Merchant => Role::Merchant,
            GqlRole::Payer => Role::Payer,
            GqlRole::Regulator => Role::Regulator,
            GqlRole::Court => Role::Court,
            GqlRole::Confirmer => Role::Confirmer,
        }
    }
}

/// An industry under supervision (docs/domain.md).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Industry", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlIndustry {
    DrivingSchool,
    Canteen,
    PrepaidCard,
    HousingDeposit,
    HousingVoucher,
    MedicalInsurance,
    Platform,
    FlexibleEmployment,
    AgriMarket,
    RuralProperty,
}

impl From<Industry> for GqlIndustry {
    fn from(i: Industry) -> GqlIndustry {
        match i {
            Industry::DrivingSchool => GqlIndustry::DrivingSchool,
            Industry::Canteen => GqlIndustry::Canteen,
            Industry::PrepaidCard => GqlIndustry::PrepaidCard,
            Industry::HousingDeposit => GqlIndustry::HousingDeposit,
            Industry::HousingVoucher => GqlIndustry::HousingVoucher,
            Industry::MedicalInsurance => GqlIndustry::MedicalInsurance,
            Industry::Platform => GqlIndustry::Platform,
            Industry::FlexibleEmployment => GqlIndustry::FlexibleEmployment,
            Industry::AgriMarket => GqlIndustry::AgriMarket,
            Industry::RuralProperty => GqlIndustry::RuralProperty,
        }
    }
}

impl From<GqlIndustry> for Industry {
    fn from(i: GqlIndustry) -> Industry {
        match i {
            GqlIndustry::DrivingSchool => Industry::DrivingSchool,
            GqlIndustry::Canteen => Industry::Canteen,
            GqlIndustry::PrepaidCard => Industry::PrepaidCard,
            GqlIndustry::HousingDeposit => Industry::HousingDeposit,
            GqlIndustry::HousingVoucher => Industry::HousingVoucher,
            GqlIndustry::MedicalInsurance => Industry::MedicalInsurance,
            GqlIndustry::Platform => Industry::Platform,
            GqlIndustry::FlexibleEmployment => Industry::FlexibleEmployment,
            GqlIndustry::AgriMarket => Industry::AgriMarket,
            GqlIndustry::RuralProperty => Industry::RuralProperty,
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::EnumType as _;

    use super::*;

    #[test]
    fn graphql_names_match_the_domain_names() {
        for r in Role::ALL {
            let item = GqlRole::from(r);
            let name = GqlRole::items()
                .iter()
                .find(|i| i.value == item)
                .map(|i| i.name);
            assert_eq!(name, Some(r.as_str()));
            assert_eq!(Role::from(item), r);
        }
        for i in Industry::ALL {
            let item = GqlIndustry::from(i);
            let name = GqlIndustry::items()
                .iter()
                .find(|it| it.value == item)
                .map(|it| it.name);
            assert_eq!(name, Some(i.as_str()));
            assert_eq!(Industry::from(item), i);
        }
    }
}

/// Mirrors a domain `string_enum` as a GraphQL enum with exhaustive conversions both ways.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $gql:ident = $name:literal, $domain:path { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
        #[graphql(name = $name, rename_items = "SCREAMING_SNAKE_CASE")]
        pub enum $gql { $($variant),+ }

        impl From<$domain> for $gql {
            fn from(v: $domain) -> $gql {
                match v { $(<$domain>::$variant => $gql::$variant),+ }
            }
        }

        impl From<$gql> for $domain {
            fn from(v: $gql) -> $domain {
                match v { $($gql::$variant => <$domain>::$variant),+ }
            }
        }
    };
}

use lvyue_domain::alert::{AlertKind, AlertStatus, Severity};
use lvyue_domain::confirmer::ConfirmerKind;
use lvyue_domain::ledger::{AccountKind, EntryKind, HoldKind, HoldStatus};
use lvyue_domain::order::ConfirmAs;
use lvyue_domain::order::{Channel, MilestoneStatus, OrderStatus, PaymentStatus, RefundStatus};
use lvyue_domain::party::{PartyKind, PartyStatus};
use lvyue_domain::reconcile::MatchStatus;
use lvyue_domain::scheme::SchemeStatus;
use lvyue_domain::screening::ListKind;

mirror_enum!(/// An order's life.
    GqlOrderStatus = "OrderStatus", OrderStatus { AwaitingPayment, Active, Completed, Refunded, Inspection, Escalated });
mirror_enum!(/// A milestone's life.
    GqlMilestoneStatus = "MilestoneStatus", MilestoneStatus { Pending, Confirmed, Released, Cancelled });
mirror_enum!(/// A payment channel.
    GqlChannel = "Channel", Channel { WechatPay, Alipay, UnionPay, QrCode, BankTransfer, BatchRemittance });
mirror_enum!(/// Whether a payment has settled into escrow (T+1).
    GqlPaymentStatus = "PaymentStatus", PaymentStatus { Clearing, Settled });
mirror_enum!(/// A refund's life.
    GqlRefundStatus = "RefundStatus", RefundStatus { Requested, AwaitingApproval, Executed });
mirror_enum!(/// What kind of party.
    GqlPartyKind = "PartyKind", PartyKind { Bank, Merchant, Payer, Regulator, Court, Confirmer });
mirror_enum!(/// Whether a party may take part in new business.
    GqlPartyStatus = "PartyStatus", PartyStatus { Active, ManualReview, Suspended, Blocked, Closed });
mirror_enum!(/// What an account is for.
    GqlAccountKind = "AccountKind", AccountKind { Group, Clearing, Escrow, Payable, Refundable, External, Advance, Subsidy, Fee, Court, Deposit, Voucher });
mirror_enum!(/// Why money moved.
    GqlEntryKind = "EntryKind", EntryKind { Collect, Settle, Release, Refund, Payout, Deduct, Split, Advance, Repay, Transfer, Subsidy, Fee, Deposit, Adjustment });
mirror_enum!(/// Why money is held.
    GqlHoldKind = "HoldKind", HoldKind { CourtFreeze, DepositFreeze, LossFreeze, RiskFreeze });
mirror_enum!(/// A hold's life.
    GqlHoldStatus = "HoldStatus", HoldStatus { Active, Released, Expired, Consumed });
mirror_enum!(/// In which capacity a milestone is confirmed.
    GqlConfirmer = "Confirmer", ConfirmAs { Payer, Regulator, Evidence });
mirror_enum!(/// What kind of third party a confirmer is.
    GqlConfirmerKind = "ConfirmerKind", ConfirmerKind { TrainingAssociation, ExamSystem, TimingSystem, School, InspectionBody });
mirror_enum!(/// A scheme's state.
    GqlSchemeStatus = "SchemeStatus", SchemeStatus { Active, ClosingDown, Closed });
mirror_enum!(/// What an alert is about.
    GqlAlertKind = "AlertKind", AlertKind { CustodyShortfall, WarningLineCrossed, LargeRelease, FrequentReleases, ReleaseAheadOfDelivery, MerchantStatusChanged, DeadlineNear, ReconciliationBreak, ClosingDown, ListHit, OrderEscalated, JobFailed, RefundOverdue, CalendarEnding, SigningHalted, WitnessRefused, FreezeLapsing });
mirror_enum!(/// How urgent an alert is.
    GqlSeverity = "Severity", Severity { Info, Warning, Critical });
mirror_enum!(/// An alert's handling state.
    GqlAlertStatus = "AlertStatus", AlertStatus { Open, Acknowledged, Resolved });
mirror_enum!(/// How a statement line matched the ledger.
    GqlMatchStatus = "MatchStatus", MatchStatus { Matched, MissingInLedger, MissingInStatement, AmountMismatch, DuplicateLine });
mirror_enum!(/// A blocking list.
    GqlListKind = "ListKind", ListKind { DishonestDebtor, AbnormalOperation });

use lvyue_domain::canteen::PurchaseStatus;
use lvyue_domain::deposit::FreezeStatus;
use lvyue_domain::medical::AdvanceStatus;
use lvyue_domain::payroll::LineProblemKind;
use lvyue_domain::policy::PurchaseApprover;
use lvyue_domain::prepaid::{DeferralReason, EnrollmentStatus, IssuerType};
use lvyue_domain::voucher::VoucherStatus;

mirror_enum!(/// A housing voucher's life.
    GqlVoucherStatus = "VoucherStatus", VoucherStatus { Active, PartiallyUsed, UsedUp, Frozen, Transferred, Inherited, Reissued, Expired, CashedOut });
mirror_enum!(/// How a deposit freeze stands.
    GqlFreezeStatus = "FreezeStatus", FreezeStatus { Frozen, Unfrozen, Converted, Forfeited });
mirror_enum!(/// A canteen purchase payment's life.
    GqlPurchaseStatus = "PurchaseStatus", PurchaseStatus { Pending, Paid, Rejected });
mirror_enum!(/// Who approves a canteen's purchase payment.
    GqlPurchaseApprover = "PurchaseApprover", PurchaseApprover { School, EducationBureau });
mirror_enum!(/// A prepaid-card issuer's type (单用途商业预付卡管理办法 Art. 26).
    GqlIssuerType = "IssuerType", IssuerType { Scale, Group, Brand });
mirror_enum!(/// Why a closing-down card refund waits.
    GqlDeferralReason = "DeferralReason", DeferralReason { NotYetSettled, Held });
mirror_enum!(/// A merchant's standing in one scheme.
    GqlEnrollmentStatus = "EnrollmentStatus", EnrollmentStatus { Active, ClosingDown });
mirror_enum!(/// A medical advance's life.
    GqlAdvanceStatus = "AdvanceStatus", AdvanceStatus { Outstanding, Repaid });
mirror_enum!(/// What is wrong with a payroll line.
    GqlLineProblemKind = "LineProblemKind", LineProblemKind { Name, Card, Amount, RepeatedCard, OverLineCap });

use lvyue_domain::delivery::{DeliveryStatus, NotificationChannel};
use lvyue_domain::report::{FlowDimension, ReportKind, SnapshotFrequency};

mirror_enum!(/// What fund flows are grouped by.
    GqlFlowDimension = "FlowDimension", FlowDimension { Day, Merchant, Industry, Region });
mirror_enum!(/// Which days a snapshot report lists.
    GqlSnapshotFrequency = "SnapshotFrequency", SnapshotFrequency { Daily, QuarterEnd });
mirror_enum!(/// A regulator report.
    GqlReportKind = "ReportKind", ReportKind { FundFlows, Balances, DailySnapshots, MilestoneReleases, RefundSla, VoucherInventory });
mirror_enum!(/// A webhook delivery's life.
    GqlDeliveryStatus = "DeliveryStatus", DeliveryStatus { Pending, Delivered, Failed, Cancelled });
mirror_enum!(/// How the on-call notifier told someone.
    GqlNotificationChannel = "NotificationChannel", NotificationChannel { Sms, Voice });
