//! Housing vouchers (房票): the housing bureau funds a project sub-account (level 2) and issues
//! vouchers, each a level-3 sub-account of it; a voucher is split-transferred once, inherited,
//! reported lost, frozen and reissued with the same balance and expiry, redeemed against a home
//! purchase paid to the developer 30/60/10 with a 5% reward in the first 12 months and 2% in
//! months 13–24, and at the end of its 24 months cashed out to its holder.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, column, enrolled, key, nodes, ok_as, order_money, payable, payer, regulator,
    scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

/// Xiamen-style terms: 24 months, 5% in the first 12, 2% in months 13–24, cash-out at expiry,
/// an alert 30 days before; developers paid 30/60/10.
fn voucher_policy() -> Value {
    json!({
        "milestones": [
            {"name": "签约", "share_bp": 3000, "auto_after_days": 0},
            {"name": "交房", "share_bp": 6000, "confirm_by": ["PAYER"]},
            {"name": "交房一年", "share_bp": 1000, "auto_after_days": 365}
        ],
        "voucher": {
            "validity_months": 24,
            "reward_tiers": [{"months": 12, "reward_bp": 500}, {"months": 24, "reward_bp": 200}],
            "cash_out_on_expiry": true,
            "expiry_notice_days": 30
        }
    })
}

const VOUCHER: &str = "query($id: ID!) { voucher(id: $id) { id number status face balance held available transferable issuedAt expiresAt rewardBpNow holder { name } } }";
const ISSUE: &str = "mutation($p: ID!, $h: ID!, $a: Decimal!, $k: String!) { issueVoucher(project: $p, holder: $h, amount: $a, idempotencyKey: $k) { id number status balance transferable accountId projectId expiresAt rewardBpNow } }";
const REDEEM: &str = "mutation($v: ID!, $d: ID!, $a: Decimal!, $k: String!) { redeemVoucher(voucher: $v, developer: $d, amount: $a, contractRef: \"宁房买2026-00123\", idempotencyKey: $k) { amount rewardBp reward released { amount } order { id total status } voucher { balance status } } }";

/// A ledger account as the bank sees it.
async fn account_of(srv: &TestServer, id: &str) -> Value {
    ok_as(
        srv,
        &the_bank(),
        "query($id: ID!) { account(id: $id) { level kind balance } }",
        json!({"id": id}),
    )
    .await["account"]
        .clone()
}

async fn housing_vouchers_live_from_issue_to_cash_out(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let bureau = regulator(
        &srv,
        "南京市住房保障和房产局",
        &["3201"],
        &[Industry::HousingVoucher],
    )
    .await;
    let suzhou = regulator(
        &srv,
        "苏州市住房和城乡建设局",
        &["3205"],
        &[Industry::HousingVoucher],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京征收安置房票",
        Industry::HousingVoucher,
        "320100",
        Some(&bureau.id),
        voucher_policy(),
    )
    .await;
    let (developer, _) = enrolled(
        &srv,
        &scheme,
        "南京某某置业有限公司",
        "320102",
        Industry::HousingVoucher,
    )
    .await;
    let (holder, holder_p) = payer(&srv, "段誉").await;
    let (son, son_p) = payer(&srv, "段延庆").await;
    let (heir, heir_p) = payer(&srv, "段正明").await;

    // The bureau opens the project's sub-account; the bank records the fiscal money arriving
    // in it and in the scheme's reward subsidy pool.
    let project = ok_as(
        &srv,
        &bureau.principal,
        "mutation($s: ID!, $k: String!) { createVoucherProject(input: {scheme: $s, name: \"玄武区某某片区征收项目\"}, idempotencyKey: $k) { id name balance } }",
        json!({"s": scheme, "k": key("prj")}),
    )
    .await["createVoucherProject"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(account_of(&srv, &project).await["level"], 2);
    let f = ok_as(
        &srv,
        &bank,
        "mutation($p: ID!, $k: String!) { fundVoucherProject(project: $p, amount: \"2000000.00\", reference: \"财政拨付2026-001\", idempotencyKey: $k) { balance } }",
        json!({"p": project, "k": key("fund")}),
    )
    .await;
    assert_eq!(f["fundVoucherProject"]["balance"], "2000000.00");
    ok_as(
        &srv,
        &bank,
        "mutation($s: ID!, $k: String!) { fundVoucherSubsidy(scheme: $s, amount: \"100000.00\", reference: \"奖励资金2026-001\", idempotencyKey: $k) { balance } }",
        json!({"s": scheme, "k": key("sub")}),
    )
    .await;

    // Issue: only the city's bureau (or the bank); a level-3 sub-account valid 24 months.
    let issue = json!({"p": project, "h": holder, "a": "800000.00", "k": key("iss")});
    assert_eq!(
        code_as(&srv, &suzhou.principal, ISSUE, issue.clone()).await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_as(&srv, &holder_p, ISSUE, issue.clone()).await,
        "FORBIDDEN"
    );
    let v = ok_as(&srv, &bureau.principal, ISSUE, issue).await["issueVoucher"].clone();
    assert!(amount(&v["number"]).starts_with("FP20260302"), "{v}");
    assert_eq!(
        (
            &v["status"],
            amount(&v["balance"]),
            &v["transferable"],
            &v["rewardBpNow"]
        ),
        (&json!("ACTIVE"), "800000.00", &json!(true), &json!(500))
    );
    assert!(
        amount(&v["expiresAt"]).starts_with("2028-03-02T02:00:00"),
        "{v}"
    );
    assert_eq!(v["projectId"], json!(project));
    let own = account_of(&srv, amount(&v["accountId"])).await;
    assert_eq!(
        (&own["level"], &own["kind"]),
        (&json!(3), &json!("VOUCHER"))
    );
    assert_eq!(
        amount(&account_of(&srv, &project).await["balance"]),
        "1200000.00"
    );
    let v1 = amount(&v["id"]).to_owned();

    // Split transfer: the holder keeps 500,000.00 and gives 300,000.00 to his son; the new
    // vouchers can never be transferred again.
    let transfer = "mutation($v: ID!, $p: [TransferPartInput!]!, $k: String!) { transferVoucher(voucher: $v, parts: $p, idempotencyKey: $k) { from { status balance } to { id balance transferable expiresAt holder { name } } } }";
    let t = ok_as(
        &srv,
        &holder_p,
        transfer,
        json!({"v": v1, "k": key("tr"), "p": [{"holder": holder, "amount": "500000.00"}, {"holder": son, "amount": "300000.00"}]}),
    )
    .await["transferVoucher"]
        .clone();
    assert_eq!(
        t["from"],
        json!({"status": "TRANSFERRED", "balance": "0.00"})
    );
    assert_eq!(column(&t["to"], "balance"), ["500000.00", "300000.00"]);
    assert!(
        t["to"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["transferable"] == false
                && amount(&x["expiresAt"]).starts_with("2028-03-02T02:00:00"))
    );
    let kept = amount(&t["to"][0]["id"]).to_owned();
    let sons = amount(&t["to"][1]["id"]).to_owned();
    assert_eq!(
        code_as(
            &srv,
            &son_p,
            transfer,
            json!({"v": sons, "k": key("tr"), "p": [{"holder": heir, "amount": "300000.00"}]}),
        )
        .await,
        "INVALID_STATE"
    );

    // Inheritance: the son's voucher passes whole to his heir on a certificate of succession.
    let inherited = ok_as(
        &srv,
        &bank,
        "mutation($v: ID!, $h: ID!, $k: String!) { inheritVoucher(voucher: $v, heir: $h, certificateRef: \"(2026)宁证字第88号\", idempotencyKey: $k) { id balance status expiresAt issuedAt holder { name } } }",
        json!({"v": sons, "h": heir, "k": key("inh")}),
    )
    .await["inheritVoucher"]
        .clone();
    assert_eq!(
        (amount(&inherited["balance"]), amount(&inherited["status"])),
        ("300000.00", "ACTIVE")
    );
    assert_eq!(inherited["holder"]["name"], "段正明");
    let heirs = amount(&inherited["id"]).to_owned();
    let old = ok_as(&srv, &bank, VOUCHER, json!({"id": sons})).await;
    assert_eq!(old["voucher"]["status"], "INHERITED");

    // Loss: the holder reports his voucher lost — frozen whole, not redeemable — and the bank
    // reissues it under a new number with the same balance and expiry.
    let lost = ok_as(
        &srv,
        &holder_p,
        "mutation($v: ID!, $k: String!) { reportVoucherLoss(voucher: $v, reason: \"房票原件遗失\", idempotencyKey: $k) { status held available } }",
        json!({"v": kept, "k": key("loss")}),
    )
    .await;
    assert_eq!(
        lost["reportVoucherLoss"],
        json!({"status": "FROZEN", "held": "500000.00", "available": "0.00"})
    );
    assert_eq!(
        code_as(
            &srv,
            &holder_p,
            REDEEM,
            json!({"v": kept, "d": developer, "a": "1.00", "k": key("rd")})
        )
        .await,
        "INVALID_STATE"
    );
    let new = ok_as(
        &srv,
        &bank,
        "mutation($v: ID!, $k: String!) { reissueVoucher(voucher: $v, idempotencyKey: $k) { id number balance status expiresAt issuedAt } }",
        json!({"v": kept, "k": key("re")}),
    )
    .await["reissueVoucher"]
        .clone();
    assert_eq!(
        (amount(&new["balance"]), amount(&new["status"])),
        ("500000.00", "ACTIVE")
    );
    assert!(amount(&new["expiresAt"]).starts_with("2028-03-02T02:00:00"));
    let reissued = amount(&new["id"]).to_owned();
    let was = ok_as(&srv, &holder_p, VOUCHER, json!({"id": kept})).await;
    assert_eq!(was["voucher"]["status"], "REISSUED");
    assert_ne!(was["voucher"]["number"], new["number"]);

    // Redemption in the first year: 5% reward from the subsidy pool, the developer paid 30%
    // at contract, 60% at handover, 10% a year later.
    let r = ok_as(
        &srv,
        &holder_p,
        REDEEM,
        json!({"v": reissued, "d": developer, "a": "400000.00", "k": key("rd")}),
    )
    .await["redeemVoucher"]
        .clone();
    assert_eq!(
        (
            &r["rewardBp"],
            amount(&r["reward"]),
            amount(&r["order"]["total"])
        ),
        (&json!(500), "20000.00", "420000.00")
    );
    assert_eq!(column(&r["released"], "amount"), ["126000.00"]);
    assert_eq!(
        r["voucher"],
        json!({"balance": "100000.00", "status": "PARTIALLY_USED"})
    );
    let purchase = amount(&r["order"]["id"]).to_owned();
    let handover = ok_as(
        &srv,
        &holder_p,
        "mutation($o: ID!, $k: String!) { confirmMilestone(order: $o, index: 1, as: PAYER, evidence: \"已交房\", idempotencyKey: $k) { released { amount } } }",
        json!({"o": purchase, "k": key("hd")}),
    )
    .await;
    assert_eq!(
        column(&handover["confirmMilestone"]["released"], "amount"),
        ["252000.00"]
    );
    clock.advance_days(364);
    srv.tick().await;
    assert_eq!(order_money(&srv, &purchase).await["status"], "ACTIVE");
    clock.advance_days(1);
    srv.tick().await;
    let o = order_money(&srv, &purchase).await;
    assert_eq!(
        (amount(&o["status"]), amount(&o["released"])),
        ("COMPLETED", "420000.00")
    );
    assert_eq!(payable(&srv, &developer, &scheme).await, "420000.00");

    // Twelve months after the first issue the reward is 2% — for the heir too, whose voucher
    // counts from the same first issue.
    let hv = ok_as(&srv, &heir_p, VOUCHER, json!({"id": heirs})).await["voucher"].clone();
    assert_eq!(hv["rewardBpNow"], 200);
    let r = ok_as(
        &srv,
        &heir_p,
        REDEEM,
        json!({"v": heirs, "d": developer, "a": "100000.00", "k": key("rd")}),
    )
    .await["redeemVoucher"]
        .clone();
    assert_eq!(
        (
            &r["rewardBp"],
            amount(&r["reward"]),
            amount(&r["order"]["total"])
        ),
        (&json!(200), "2000.00", "102000.00")
    );
    assert_eq!(column(&r["released"], "amount"), ["30600.00"]);

    // The bureau's view: holders masked, the inventory by project and status.
    let seen = ok_as(&srv, &bureau.principal, VOUCHER, json!({"id": heirs})).await;
    assert_eq!(seen["voucher"]["holder"]["name"], "段**");
    let inv = ok_as(
        &srv,
        &bureau.principal,
        "query($s: ID) { voucherInventory(scheme: $s) { status count face balance } }",
        json!({"s": scheme}),
    )
    .await;
    let line = |status: &str| {
        inv["voucherInventory"]
            .as_array()
            .and_then(|a| a.iter().find(|l| l["status"] == status).cloned())
            .unwrap_or_default()
    };
    assert_eq!(
        (
            &line("PARTIALLY_USED")["count"],
            amount(&line("PARTIALLY_USED")["balance"])
        ),
        (&json!(2), "300000.00")
    );
    assert_eq!(line("TRANSFERRED")["count"], 1);
    assert!(
        nodes(
            &ok_as(
                &srv,
                &suzhou.principal,
                "{ vouchers { edges { node { id } } } }",
                json!({})
            )
            .await["vouchers"]
        )
        .is_empty()
    );
    let mine = ok_as(
        &srv,
        &holder_p,
        "{ vouchers { edges { node { status balance } } } }",
        json!({}),
    )
    .await;
    assert_eq!(nodes(&mine["vouchers"]).len(), 3);

    // Thirty days before the end the bureau is warned; at 24 months the rest is cashed out to
    // the holders.
    clock.advance_days(340);
    srv.tick().await;
    let alerts = ok_as(
        &srv,
        &bureau.principal,
        "{ alerts(first: 100) { edges { node { kind } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        nodes(&alerts["alerts"])
            .iter()
            .filter(|a| a["kind"] == "DEADLINE_NEAR")
            .count(),
        2
    );
    clock.advance_days(26);
    srv.tick().await;
    for (id, who) in [(&reissued, &holder_p), (&heirs, &heir_p)] {
        let v = ok_as(&srv, who, VOUCHER, json!({"id": id})).await["voucher"].clone();
        assert_eq!(
            (amount(&v["status"]), amount(&v["balance"])),
            ("CASHED_OUT", "0.00")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housing_vouchers_live_from_issue_to_cash_out_sqlite() {
    housing_vouchers_live_from_issue_to_cash_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housing_vouchers_live_from_issue_to_cash_out_postgres() {
    housing_vouchers_live_from_issue_to_cash_out(Backend::Postgres).await;
}
