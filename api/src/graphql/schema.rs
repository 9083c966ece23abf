//! The schema: one root per operation type, each merged from one struct per concept.
//!
//! To add business fields, write `#[derive(Default)] pub struct OrderQuery;` with an
//! `#[Object] impl OrderQuery { … }` in its concept's module and list it here; mutations and
//! subscriptions likewise.
//!
//! Then regenerate `api/schema.graphql`: `UPDATE_SCHEMA=1 cargo test -p lvyue-api schema`
//! (or `lvyue schema > api/schema.graphql`); the test fails while the file and the code differ.

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema, SchemaBuilder};

use lvyue_domain::Escrow;
use lvyue_domain::log::TransparencyLog;
use lvyue_search::SearchIndex;

use super::alert::{AlertMutation, AlertQuery, AlertSubscription};
use super::calendar::{CalendarMutation, CalendarQuery};
use super::canteen::{CanteenMutation, CanteenQuery};
use super::court::{CourtMutation, CourtQuery};
use super::delivery::{DeliveryMutation, DeliveryQuery};
use super::deposit::{DepositMutation, DepositQuery};
use super::event::EventQuery;
use super::ledger::{LedgerMutation, LedgerQuery};
use super::medical::{MedicalMutation, MedicalQuery};
use super::notary::NotaryQuery;
use super::order::{OrderMutation, OrderQuery};
use super::party::{PartyMutation, PartyQuery};
use super::payroll::{PayrollMutation, PayrollQuery};
use super::prepaid::{PrepaidMutation, PrepaidQuery};
use super::reconcile::{OpsMutation, OpsQuery};
use super::report::ReportQuery;
use super::scheme::{SchemeMutation, SchemeQuery};
use super::search::SearchQuery;
use super::voucher::{VoucherMutation, VoucherQuery};

use super::limits::{MAX_NESTING, QueryLimits, RequestPolicy};
use super::system::{MeQuery, ServerInfo, SystemQuery, SystemSubscription};
use crate::config::Limits;
use crate::metrics::Metrics;

#[derive(MergedObject, Default)]
pub struct Query(
    MeQuery,
    SystemQuery,
    PartyQuery,
    SchemeQuery,
    OrderQuery,
    LedgerQuery,
    EventQuery,
    NotaryQuery,
    AlertQuery,
    OpsQuery,
    SearchQuery,
    VoucherQuery,
    DepositQuery,
    CanteenQuery,
    PrepaidQuery,
    MedicalQuery,
    PayrollQuery,
    ReportQuery,
    DeliveryQuery,
    CalendarQuery,
    CourtQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    PartyMutation,
    SchemeMutation,
    OrderMutation,
    LedgerMutation,
    CourtMutation,
    AlertMutation,
    OpsMutation,
    VoucherMutation,
    DepositMutation,
    CanteenMutation,
    PrepaidMutation,
    MedicalMutation,
    PayrollMutation,
    DeliveryMutation,
    CalendarMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(SystemSubscription, AlertSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema with its request policy, without runtime data.
pub fn builder(
    limits: QueryLimits,
    metrics: Option<Arc<Metrics>>,
) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(RequestPolicy::new(limits, metrics))
    // async-graphql's own nesting check (its error has no code) sits at the same bound as
    // ours, which runs first.
    .limit_recursive_depth(MAX_NESTING)
}

/// The running schema, with the escrow system and this node's facts in its data, without a
/// search index (`search` then answers `INTERNAL`): for tests of other fields.
pub fn build(
    escrow: Arc<Escrow>,
    log: Arc<TransparencyLog>,
    info: ServerInfo,
    limits: QueryLimits,
    metrics: Arc<Metrics>,
) -> AppSchema {
    builder(limits, Some(metrics))
        .data(escrow)
        .data(log)
        .data(info)
        .finish()
}

/// The running schema of a node: [`build`]'s data and the node's search index.
pub fn build_with_search(
    escrow: Arc<Escrow>,
    log: Arc<TransparencyLog>,
    info: ServerInfo,
    limits: QueryLimits,
    metrics: Arc<Metrics>,
    search: SearchIndex,
    witnesses: Arc<crate::cosign::Witnesses>,
) -> AppSchema {
    builder(limits, Some(metrics))
        .data(escrow)
        .data(log)
        .data(info)
        .data(search)
        .data(witnesses)
        .finish()
}

/// The SDL of the schema, fields and enum items sorted so diffs stay small.
pub fn sdl() -> String {
    let limits = QueryLimits::from(&Limits::default());
    builder(limits, None)
        .finish()
        .sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_enum_items())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn schema_file_matches_the_code() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
        let sdl = super::sdl();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &sdl).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == sdl,
            "api/schema.graphql differs from the schema in code; regenerate it with\n  UPDATE_SCHEMA=1 cargo test -p lvyue-api schema\nand review the diff"
        );
    }

    /// Mutations that predate the rule below; they keep their shape until a versioned change.
    const GRANDFATHERED: &[&str] = &[
        "acceptOrder",
        "advanceInsurerShare",
        "approveDeduction",
        "approvePurchase",
        "assignCanteenSchool",
        "batchPayout",
        "collect",
        "confirmMilestone",
        "convertDeposit",
        "courtDeduct",
        "courtFreeze",
        "courtUnfreeze",
        "createScheme",
        "createVoucherProject",
        "deactivateWebhookEndpoint",
        "enrollMerchant",
        "evidenceBundle",
        "executeRefund",
        "expireVoucher",
        "forfeitDeposit",
        "freezeDeposit",
        "fundDeposit",
        "fundEnterpriseAccount",
        "fundVoucherProject",
        "fundVoucherSubsidy",
        "handleAlert",
        "importList",
        "importStatement",
        "inheritVoucher",
        "issueVoucher",
        "loadHolidayCalendar",
        "openDepositAccount",
        "openOrder",
        "recordCardUsage",
        "recordComplaint",
        "recordPatientPayment",
        "redeemVoucher",
        "refundPatientPayment",
        "registerConfirmer",
        "registerCourt",
        "registerMerchant",
        "registerPayer",
        "registerRegulator",
        "registerWebhookEndpoint",
        "reissueVoucher",
        "releaseMilestone",
        "repayAdvance",
        "reportVoucherLoss",
        "requestPayout",
        "requestPurchase",
        "requestRefund",
        "resolveEscalation",
        "setConfirmerStatus",
        "setMerchantProfile",
        "setMerchantStatus",
        "settle",
        "startClosingDown",
        "transferVoucher",
        "unfreezeDeposit",
        "updatePolicy",
        "withdrawDeposit",
    ];

    /// Each mutation field of the schema: name, argument list, type.
    fn mutations(sdl: &str) -> Vec<(String, String, String)> {
        let start = sdl.find("type Mutation {").unwrap();
        let body = &sdl[start..start + sdl[start..].find("\n}\n").unwrap()];
        let mut in_doc = false;
        let mut out = Vec::new();
        for line in body.lines().skip(1) {
            let line = line.trim();
            if line.starts_with("\"\"\"") {
                // A one-line docstring opens and closes on the same line.
                in_doc = !(in_doc || line.len() > 3 && line.ends_with("\"\"\""));
                continue;
            }
            if in_doc || line.is_empty() || line.starts_with('"') || line.starts_with('@') {
                continue;
            }
            let (head, ty) = line.rsplit_once("): ").map_or_else(
                || {
                    let (n, t) = line.split_once(": ").unwrap();
                    ((n, ""), t)
                },
                |(h, t)| (h.split_once('(').unwrap(), t),
            );
            out.push((head.0.to_owned(), head.1.to_owned(), ty.to_owned()));
        }
        out
    }

    /// New mutations take one `…Input` and return one `…Payload` (docs/design.md, "GraphQL
    /// API"), so that a field can grow without breaking clients.
    #[test]
    fn new_mutations_take_one_input_and_return_one_payload() {
        let found = mutations(&super::sdl());
        assert!(found.len() >= GRANDFATHERED.len(), "{found:?}");
        for (name, _, _) in &found {
            assert!(
                !name.contains(' '),
                "the SDL reader misread a field: {name:?}"
            );
        }
        let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
        for old in GRANDFATHERED {
            assert!(
                names.contains(old),
                "{old} is gone: drop it from GRANDFATHERED"
            );
        }
        for (name, args, ty) in &found {
            if GRANDFATHERED.contains(&name.as_str()) {
                continue;
            }
            let input_only = args
                .split(", ")
                .filter(|a| !a.starts_with("idempotencyKey:"))
                .collect::<Vec<_>>();
            assert!(
                input_only.len() == 1
                    && input_only[0].starts_with("input: ")
                    && input_only[0].ends_with("Input!"),
                "mutation {name}({args}) must take one `input: …Input!` (and an idempotency key)"
            );
            assert!(
                ty.ends_with("Payload!"),
                "mutation {name} must return one `…Payload!`, not {ty}"
            );
        }
    }

    #[test]
    fn the_mutation_reader_reads_fields_and_skips_docs() {
        let sdl = "type Mutation {\n\t\"\"\"\n\tNote: not a field\n\t\"\"\"\n\tdoIt(input: DoItInput!, idempotencyKey: String!): DoItPayload!\n\t\"\"\"One line.\"\"\"\n\told(id: ID!): Order!\n}\n";
        let found = mutations(sdl);
        assert_eq!(
            found,
            [
                (
                    "doIt".to_owned(),
                    "input: DoItInput!, idempotencyKey: String!".to_owned(),
                    "DoItPayload!".to_owned()
                ),
                ("old".to_owned(), "id: ID!".to_owned(), "Order!".to_owned()),
            ]
        );
    }
}
