//! A small world built through GraphQL as the bank would build it: a regulator, a scheme with
//! its policy, a merchant (onboarded and enrolled), a payer, a court; and principals for each.

use serde_json::{Value, json};

use lvyue_domain::clock::Timestamp;
use lvyue_domain::ids::PartyId;
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, Role};

use crate::harness::{TestServer, bank};

/// 2026-03-02 10:00 China time (a Monday, a working day).
pub fn monday() -> Timestamp {
    Timestamp::china_midnight("2026-03-02".parse().expect("date")).plus_seconds(10 * 3600)
}

pub fn shenzhen_policy() -> Value {
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

pub fn as_party(role: Role, id: &str) -> Principal {
    Principal {
        subject: format!("{role}-{id}"),
        role,
        party_id: Some(id.parse::<PartyId>().expect("party id")),
        jurisdiction: Jurisdiction::default(),
    }
}

pub fn as_regulator(id: &str, regions: &[&str], industries: &[Industry]) -> Principal {
    Principal {
        subject: format!("reg-{id}"),
        role: Role::Regulator,
        party_id: Some(id.parse::<PartyId>().expect("party id")),
        jurisdiction: Jurisdiction {
            regions: regions.iter().map(|r| r.parse().expect("prefix")).collect(),
            industries: industries.to_vec(),
        },
    }
}

/// `p` with its party registered in `srv`'s database (a token is honoured only for a
/// registered party of its kind): a merchant, payer, court or confirmer of that role, a
/// regulator with `p`'s jurisdiction. Returns `p` naming the new party.
pub async fn registered(srv: &TestServer, p: Principal) -> Principal {
    let n = p.subject.len() + p.role.as_str().len();
    let id = match p.role {
        Role::Bank => return p,
        Role::Merchant => {
            register_merchant(
                srv,
                &format!("{}驾驶培训有限公司", p.subject),
                &format!("91320102MA1REG{n:03}"),
                "320102",
                "DRIVING_SCHOOL",
                &format!("reg-{}", p.subject),
            )
            .await
        }
        Role::Payer => bank_do(
            srv,
            "mutation($n: String!, $k: String!) { registerPayer(input: {name: $n}, idempotencyKey: $k) { id } }",
            json!({"n": format!("学员{n}"), "k": format!("reg-{}", p.subject)}),
        )
        .await["registerPayer"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        Role::Regulator => bank_do(
            srv,
            "mutation($i: RegisterRegulatorInput!, $k: String!) { registerRegulator(input: $i, idempotencyKey: $k) { id } }",
            json!({"k": format!("reg-{}", p.subject), "i": {
                "name": format!("监管局{n}"),
                "regions": p.jurisdiction.regions.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "industries": p.jurisdiction.industries.iter().map(|i| i.as_str()).collect::<Vec<_>>()}}),
        )
        .await["registerRegulator"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        Role::Court => bank_do(
            srv,
            "mutation($n: String!, $k: String!) { registerCourt(input: {name: $n, region: \"320102\"}, idempotencyKey: $k) { id } }",
            json!({"n": format!("人民法院{n}"), "k": format!("reg-{}", p.subject)}),
        )
        .await["registerCourt"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        Role::Confirmer => panic!("register a confirmer with its schemes (registerConfirmer)"),
    };
    Principal {
        party_id: Some(id.parse().expect("party id")),
        ..p
    }
}

/// Runs a bank mutation and returns its data.
pub async fn bank_do(srv: &TestServer, query: &str, vars: Value) -> Value {
    TestServer::ok(srv.gql(Some(&bank()), query, vars).await)
}

pub struct World {
    pub regulator: String,
    pub scheme: String,
    pub merchant: String,
    pub payer: String,
    pub court: String,
    /// The training association registered to certify the scheme's exam results.
    pub confirmer: String,
    pub n: std::sync::atomic::AtomicU32,
}

impl World {
    pub fn key(&self, what: &str) -> String {
        format!(
            "{what}-{}",
            self.n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        )
    }

    pub fn regulator_principal(&self) -> Principal {
        as_regulator(&self.regulator, &["3201"], &[Industry::DrivingSchool])
    }

    pub fn merchant_principal(&self) -> Principal {
        as_party(Role::Merchant, &self.merchant)
    }

    pub fn payer_principal(&self) -> Principal {
        as_party(Role::Payer, &self.payer)
    }

    pub fn court_principal(&self) -> Principal {
        as_party(Role::Court, &self.court)
    }

    pub fn confirmer_principal(&self) -> Principal {
        as_party(Role::Confirmer, &self.confirmer)
    }
}

pub async fn register_merchant(
    srv: &TestServer,
    name: &str,
    uscc_body: &str,
    region: &str,
    industry: &str,
    key: &str,
) -> String {
    let uscc = lvyue_domain::identity::uscc_with_check(uscc_body).expect("uscc");
    let d = bank_do(
        srv,
        "mutation($i: RegisterMerchantInput!, $k: String!) { registerMerchant(input: $i, idempotencyKey: $k) { id status } }",
        json!({"k": key, "i": {"name": name, "uscc": uscc, "region": region, "industry": industry,
            "licence": {"registeredName": name, "registeredAddress": "南京市玄武区中山路1号", "legalRepresentative": "王某", "status": "存续"}}}),
    )
    .await;
    assert_eq!(d["registerMerchant"]["status"], "ACTIVE");
    d["registerMerchant"]["id"].as_str().expect("id").to_owned()
}

/// A Nanjing driving-school scheme with one merchant, one payer, a regulator, a court and the
/// training association that certifies its exam results.
pub async fn driving_school(srv: &TestServer, policy: Value) -> World {
    let reg = bank_do(
        srv,
        r#"mutation { registerRegulator(input: {name: "南京市交通运输局", regions: ["3201"], industries: [DRIVING_SCHOOL]}, idempotencyKey: "reg-1") { id } }"#,
        json!({}),
    )
    .await["registerRegulator"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let scheme = bank_do(
        srv,
        "mutation($i: CreateSchemeInput!) { createScheme(input: $i, idempotencyKey: \"sch-1\") { id } }",
        json!({"i": {"code": "NJ-JP", "name": "南京驾培资金监管", "industry": "DRIVING_SCHOOL", "region": "320100", "regulator": reg, "policy": policy}}),
    )
    .await["createScheme"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let merchant = register_merchant(
        srv,
        "南京市某某驾驶培训有限公司",
        "91320102MA1XYN123",
        "320102",
        "DRIVING_SCHOOL",
        "m-1",
    )
    .await;
    bank_do(
        srv,
        "mutation($s: ID!, $m: ID!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: \"6222000011112222\", idempotencyKey: \"enr-1\") { id } }",
        json!({"s": scheme, "m": merchant}),
    )
    .await;
    let payer = bank_do(
        srv,
        r#"mutation { registerPayer(input: {name: "段誉", idNumber: "11010519491231002X", phone: "13812345678"}, idempotencyKey: "p-1") { id } }"#,
        json!({}),
    )
    .await["registerPayer"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let court = bank_do(srv, r#"mutation { registerCourt(input: {name: "南京市玄武区人民法院", region: "320102"}, idempotencyKey: "c-1") { id } }"#, json!({}))
        .await["registerCourt"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let confirmer = bank_do(
        srv,
        "mutation($s: ID!) { registerConfirmer(input: {name: \"南京市机动车驾驶员培训行业协会\", kind: TRAINING_ASSOCIATION, region: \"320100\", schemes: [$s]}, idempotencyKey: \"cf-1\") { id } }",
        json!({"s": scheme}),
    )
    .await["registerConfirmer"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    World {
        regulator: reg,
        scheme,
        merchant,
        payer,
        court,
        confirmer,
        n: std::sync::atomic::AtomicU32::new(1),
    }
}

/// Opens an order for the world's payer and collects it in full through WeChat Pay.
pub async fn paid_order(srv: &TestServer, w: &World, total: &str) -> String {
    paid_order_of(srv, w, &w.merchant, total).await
}

/// [`paid_order`] with another merchant enrolled in the world's scheme.
pub async fn paid_order_of(srv: &TestServer, w: &World, merchant: &str, total: &str) -> String {
    let order = bank_do(
        srv,
        "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("open"), "i": {"scheme": w.scheme, "merchant": merchant, "payer": w.payer, "total": total, "description": "C1 学车套餐"}}),
    )
    .await["openOrder"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    bank_do(
        srv,
        "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id settleDate } }",
        json!({"k": w.key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": total, "externalRef": w.key("wx")}}),
    )
    .await;
    order
}

/// A world whose orders are paid and settled, built by an in-process server whose clock
/// stands two weeks in the past (so the T+1 settlement has happened by the time the real
/// `lvyue serve`, on the real clock, takes over the same database and data directory).
/// The server is stopped; its database and data directory live as long as the returned
/// [`TestServer`].
pub struct SettledWorld {
    pub srv: TestServer,
    pub world: World,
    /// The settled orders, each `total` in escrow but its first tranche (released at
    /// settlement).
    pub orders: Vec<String>,
}

/// Builds a [`SettledWorld`] of `n` orders of `total` each, or `None` for PostgreSQL when it is
/// not configured.
pub async fn settled_world(
    backend: lvyue_domain::testing::Backend,
    n: usize,
    total: &str,
) -> Option<SettledWorld> {
    let (mut srv, _clock, world, orders) = settled_world_running(backend, n, total).await?;
    srv.stop().await;
    Some(SettledWorld { srv, world, orders })
}

/// Like [`settled_world`], with the in-process server still running (its clock a week after
/// the orders were paid).
pub async fn settled_world_running(
    backend: lvyue_domain::testing::Backend,
    n: usize,
    total: &str,
) -> Option<(
    TestServer,
    std::sync::Arc<lvyue_domain::clock::ManualClock>,
    World,
    Vec<String>,
)> {
    use lvyue_domain::clock::Clock as _;
    let two_weeks_ago = lvyue_domain::clock::SystemClock.now().plus_days(-14);
    let (srv, clock) = TestServer::start_at_with(backend, two_weeks_ago, |c| {
        c.limits.rate_limit_per_minute = 0;
    })
    .await?;
    let world = driving_school(&srv, shenzhen_policy()).await;
    let orders = settle_orders(&srv, &clock, &world, &world.merchant, n, total).await;
    Some((srv, clock, world, orders))
}

/// Opens and pays `n` orders of `total` for `merchant` (enrolled in the world's scheme), then
/// moves the clock a week on and runs the scheduler: every payment settles (T+1 working day)
/// and each first tranche, due at once, is released.
pub async fn settle_orders(
    srv: &TestServer,
    clock: &lvyue_domain::clock::ManualClock,
    w: &World,
    merchant: &str,
    n: usize,
    total: &str,
) -> Vec<String> {
    use futures_util::StreamExt as _;
    /// Requests in flight while the orders are made.
    const SETUP_CONCURRENCY: usize = 4;
    let mut orders = Vec::with_capacity(n);
    let mut made =
        futures_util::stream::iter((0..n).map(|_| paid_order_of(srv, w, merchant, total)))
            .buffered(SETUP_CONCURRENCY);
    while let Some(o) = made.next().await {
        orders.push(o);
    }
    drop(made);
    clock.advance_days(7);
    srv.tick().await;
    srv.sync_log().await;
    for chunk in orders.chunks(50) {
        let q = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| format!("o{i}: order(id: \"{id}\") {{ inClearing }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let d = bank_do(srv, &format!("{{ {q} }}"), json!({})).await;
        for i in 0..chunk.len() {
            assert_eq!(d[format!("o{i}")]["inClearing"], "0.00", "settled: {d}");
        }
    }
    orders
}
