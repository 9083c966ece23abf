//! GraphQL read path over real HTTP: requests per second and latency (p50/p95/p99) of a page of
//! 20 orders with their merchant, payer, scheme and milestones, as a merchant and as a
//! regulator, on SQLite and on PostgreSQL, with `LVYUE_BENCH_GRAPHQL_ORDERS` orders loaded.
//!
//! `cargo bench -p lvyue-tests --bench graphql` (SQLite always; PostgreSQL too when
//! `LVYUE_TEST_POSTGRES_URL` is set). Prints figures; asserts nothing about time, only that
//! every answer is a full page with no errors.
//!
//! The server runs in this process (`AppState::build` + `server::serve`, rate limit off) on a
//! fresh database, and N clients (`LVYUE_BENCH_GRAPHQL_CLIENTS`, default 8) post queries over
//! keep-alive HTTP/1.1 connections for a fixed time (`LVYUE_BENCH_GRAPHQL_SECS`, default 10,
//! after `LVYUE_BENCH_GRAPHQL_WARMUP_SECS`, default 2). Each client walks up to
//! [`PAGES_PER_WALK`] pages of one principal's orders (keyset cursors), then moves on to the
//! next principal, so reads are spread over the whole table, not one hot page. Latency is from
//! sending the request to the last byte of the body. Clients and server share the machine's
//! cores, so the figures are a floor for a server with a machine of its own.
//!
//! Loading: orders are opened and paid through the real domain commands. [`OpenAndCollect`] is
//! a bench-only command that runs `OpenOrder` and then `Collect` (the full total, WeChat Pay)
//! for [`ORDERS_PER_TX`] orders inside one transaction — the same functions, ledger postings,
//! order rows, milestones, jobs and events as one command per order, only fewer commits. The
//! audit (`lvyue_domain::audit::audit`) then checks the loaded ledger and log; a breach stops
//! the bench, an audit that cannot run is reported and the bench goes on.
//!
//! PostgreSQL only: when `LVYUE_BENCH_POSTGRAPHILE` names a folder holding PostGraphile v5
//! (`bench/run` installs it there with npm, configured by `bench/postgraphile`), the same
//! merchants' pages are asked of it on the same database after Lvyue's merchants' run, and the
//! ratio of the two rates is printed; `regulator ÷ merchant` is printed for each database. After
//! each run the serving process's resident set and its peak during the run are printed.
//!
//! Regulators' reads are access-logged: each regulator request also records an `access.read`
//! event and one `access.order_read` event per order on the page, committed (under the log
//! head, fsynced) before its answer leaves, as in production. The records of concurrent reads
//! share commits (up to `LVYUE_ACCESS_GROUP_MAX`); the regulators' reads are then measured
//! again on a server that commits each read's records alone (`ungrouped`).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server binary's allocator (api/src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde::Serialize;
use serde_json::{Value, json};

use lvyue_api::auth::Minter;
use lvyue_api::config::{Config, DatabaseUrl};
use lvyue_domain::command::{Command, Tx};
use lvyue_domain::identity::{id_number_with_check, uscc_with_check};
use lvyue_domain::merchant::RegisterMerchant;
use lvyue_domain::order::{Channel, Collect, OpenOrder};
use lvyue_domain::party::{Licence, PartyRecord, RegisterPayer, RegisterRegulator};
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, Role};
use lvyue_domain::scheme::{CreateScheme, EnrollMerchant};
use lvyue_domain::testing::TestDb;
use lvyue_domain::{DomainResult, Escrow, Money};

/// Orders loaded when `LVYUE_BENCH_GRAPHQL_ORDERS` is not set.
const DEFAULT_ORDERS: usize = 100_000;
/// Orders opened and collected per loading transaction: two events each, under the
/// 1,000-event limit of one transaction.
const ORDERS_PER_TX: usize = 250;
/// Payers registered per loading transaction (one event each).
const PAYERS_PER_TX: usize = 500;
/// Orders per payer on average (the payer pool is orders / this).
const ORDERS_PER_PAYER: usize = 5;
/// Merchants per scheme.
const MERCHANTS_PER_SCHEME: usize = 32;
/// The page asked for.
const PAGE_SIZE: usize = 20;
/// Pages a client follows for one principal before switching to the next.
const PAGES_PER_WALK: u32 = 5;

/// The query every client sends: one page of orders with what a portal's list shows.
const QUERY: &str = r#"query OrdersPage($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    pageInfo { endCursor hasNextPage }
    edges { node {
      id orderNo status total collected inEscrow openedAt region industry
      merchant { id name region }
      payer { id name }
      scheme { id code name }
      milestones { id index name amount status }
    } }
  }
}"#;

/// The same page asked of PostGraphile v5 (the peer, see [`Peer`]): a page of one merchant's
/// orders, newest first, with the same relations and the same columns (money in fen; an
/// order's amount in escrow is read from its columns rather than computed by the server).
/// PostGraphile has no notion of who asks, so the merchant is a variable.
const PEER_QUERY: &str = r#"query OrdersPage($merchantId: BigInt!, $first: Int!, $after: Cursor) {
  allEscrowOrders(condition: { merchantId: $merchantId }, orderBy: ROW_ID_DESC, first: $first, after: $after) {
    pageInfo { endCursor hasNextPage }
    nodes {
      rowId orderNo status totalFen collectedFen settledFen releasedFen refundedFen deductedFen
      openedAtUs region industry
      merchant { rowId name region }
      payer { rowId name }
      scheme { rowId code name }
      milestones(orderBy: IDX_ASC) { nodes { rowId idx name amountFen status } }
    }
  }
}"#;

/// How one server is asked for a page and where the page sits in its answer.
struct Api {
    query: &'static str,
    /// The connection's field under `data`.
    root: &'static str,
    /// The list in the connection: Relay `edges` (Lvyue) or `nodes` (PostGraphile).
    items: &'static str,
}

const LVYUE: Api = Api {
    query: QUERY,
    root: "orders",
    items: "edges",
};

const POSTGRAPHILE: Api = Api {
    query: PEER_QUERY,
    root: "allEscrowOrders",
    items: "nodes",
};

/// Whom a client asks as: a bearer token for Lvyue; for the peer, no token and the variables
/// that pick the merchant's rows.
#[derive(Clone)]
struct Asker {
    token: Option<String>,
    variables: Value,
}

/// Runs the real commands of each item inside one transaction (bench fixture).
#[derive(Serialize)]
struct Many<C>(Vec<C>);

impl<C: Command> Command for Many<C> {
    type Output = Vec<C::Output>;
    const NAME: &'static str = "benchMany";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Vec<C::Output>> {
        let mut out = Vec::with_capacity(self.0.len());
        for c in &self.0 {
            out.push(c.run(tx).await?);
        }
        Ok(out)
    }
}

/// Opens each order with `OpenOrder` and pays its total with `Collect`, all in one transaction
/// (bench fixture: the same domain functions as the two commands run one by one).
#[derive(Serialize)]
struct OpenAndCollect {
    orders: Vec<(OpenOrder, String)>,
}

impl Command for OpenAndCollect {
    type Output = usize;
    const NAME: &'static str = "benchOpenAndCollect";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<usize> {
        for (open, external_ref) in &self.orders {
            let order = open.run(tx).await?;
            Collect {
                order: order.id,
                channel: Channel::WechatPay,
                amount: order.total,
                external_ref: external_ref.clone(),
                batch_ref: None,
            }
            .run(tx)
            .await?;
        }
        Ok(self.orders.len())
    }
}

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A city: its region prefix, its name, and three districts (code, name).
type City = (
    &'static str,
    &'static str,
    [(&'static str, &'static str); 3],
);

const CITIES: [City; 3] = [
    (
        "3201",
        "南京市",
        [
            ("320102", "玄武区"),
            ("320106", "鼓楼区"),
            ("320115", "江宁区"),
        ],
    ),
    (
        "3205",
        "苏州市",
        [
            ("320505", "虎丘区"),
            ("320506", "吴中区"),
            ("320508", "姑苏区"),
        ],
    ),
    (
        "3202",
        "无锡市",
        [
            ("320211", "滨湖区"),
            ("320213", "梁溪区"),
            ("320214", "新吴区"),
        ],
    ),
];
const BRANDS: [&str; 8] = [
    "金陵", "东方", "通达", "安顺", "畅行", "平安", "新程", "鸿运",
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "婷",
];

fn driving_school_policy() -> Value {
    json!({
        "milestones": [
            {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
            {"name": "科目一合格", "share_bp": 1500, "confirm_by": ["EVIDENCE"]},
            {"name": "科目二合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]},
            {"name": "科目三合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]}],
        "validity_days": 1095, "expiry_action": "REFUND",
        "refund": {"deadline_working_days": 15, "max_deduction_bp": 2000, "deduction_needs_regulator": true}
    })
}

fn canteen_policy() -> Value {
    json!({
        "milestones": [
            {"name": "九月餐费", "share_bp": 2500, "auto_after_days": 0},
            {"name": "十月餐费", "share_bp": 2500, "auto_after_days": 30},
            {"name": "十一月餐费", "share_bp": 2500, "auto_after_days": 30},
            {"name": "十二月餐费", "share_bp": 2500, "auto_after_days": 30}],
        "refund": {"deadline_working_days": 15}
    })
}

/// Who the clients act as.
struct Principals {
    merchants: Vec<Principal>,
    regulators: Vec<Principal>,
}

/// Registers regulators, schemes, merchants and payers, then opens and pays `n` orders.
async fn load(escrow: &Escrow, n: usize) -> Principals {
    let bank = Principal::bank("bench-loader");
    let mut regulators = Vec::new();
    let mut schemes = Vec::new();
    let mut merchants: Vec<PartyRecord> = Vec::new();
    let mut merchant_no = 0u32;
    for (ci, (city, city_name, districts)) in CITIES.iter().enumerate() {
        for (industry, bureau, policy) in [
            (
                Industry::DrivingSchool,
                "交通运输局",
                driving_school_policy(),
            ),
            (Industry::Canteen, "教育局", canteen_policy()),
        ] {
            let regulator = escrow
                .execute(
                    &bank,
                    None,
                    &RegisterRegulator {
                        name: format!("{city_name}{bureau}"),
                        jurisdiction: Jurisdiction {
                            regions: vec![city.parse().expect("region prefix")],
                            industries: vec![industry],
                        },
                    },
                )
                .await
                .expect("register regulator");
            let scheme = escrow
                .execute(
                    &bank,
                    None,
                    &CreateScheme {
                        code: format!("BENCH-{ci}-{}", industry.as_str()),
                        name: format!("{city_name}{}资金监管", industry.label_zh()),
                        industry,
                        region: format!("{city}00").parse().expect("region"),
                        regulator: Some(regulator.id),
                        policy,
                    },
                )
                .await
                .expect("create scheme");
            regulators.push(Principal {
                subject: format!("bench-reg-{}", regulator.id),
                role: Role::Regulator,
                party_id: Some(regulator.id),
                jurisdiction: regulator.jurisdiction(),
            });
            for m in 0..MERCHANTS_PER_SCHEME {
                merchant_no += 1;
                let (district, district_name) = districts[m % districts.len()];
                let name = match industry {
                    Industry::DrivingSchool => format!(
                        "{city_name}{district_name}{}驾驶培训有限公司{merchant_no}",
                        BRANDS[m % BRANDS.len()]
                    ),
                    _ => format!(
                        "{city_name}{district_name}{}团餐服务有限公司{merchant_no}",
                        BRANDS[m % BRANDS.len()]
                    ),
                };
                let merchant = escrow
                    .execute(
                        &bank,
                        None,
                        &RegisterMerchant {
                            name: name.clone(),
                            uscc: uscc_with_check(&format!("91320100MA{merchant_no:07}"))
                                .expect("uscc"),
                            region: district.parse().expect("region"),
                            industry,
                            description: String::new(),
                            licence: Some(Licence {
                                registered_name: name,
                                registered_address: format!("{city_name}{district_name}中山路1号"),
                                legal_representative: "王某".into(),
                                valid_until: None,
                                status: "存续".into(),
                            }),
                        },
                    )
                    .await
                    .expect("register merchant");
                escrow
                    .execute(
                        &bank,
                        None,
                        &EnrollMerchant {
                            scheme: scheme.id,
                            merchant: merchant.id,
                            settlement_account_number: format!("6222{merchant_no:012}"),
                        },
                    )
                    .await
                    .expect("enroll");
                merchants.push(merchant);
            }
            schemes.push((scheme, industry, merchants.len() - MERCHANTS_PER_SCHEME));
        }
    }

    let t = Instant::now();
    let payer_count = n.div_ceil(ORDERS_PER_PAYER).max(1);
    let mut payers = Vec::with_capacity(payer_count);
    let mut rng = Rng(0x6c76_7975_6562_6e63);
    for chunk_start in (0..payer_count).step_by(PAYERS_PER_TX) {
        let batch: Vec<RegisterPayer> = (chunk_start..payer_count.min(chunk_start + PAYERS_PER_TX))
            .map(|i| {
                // A distinct (birth date, sequence) for every payer: 12 × 28 days a year.
                let birth_day = i % 20_000;
                let (year, day_of_year) = (1960 + birth_day / 336, birth_day % 336);
                let (month, day) = (1 + day_of_year / 28, 1 + day_of_year % 28);
                RegisterPayer {
                    name: format!(
                        "{}{}{}",
                        SURNAMES[rng.below(SURNAMES.len())],
                        GIVEN[rng.below(GIVEN.len())],
                        GIVEN[rng.below(GIVEN.len())]
                    ),
                    id_number: Some(
                        id_number_with_check(&format!(
                            "320102{year:04}{month:02}{day:02}{:03}",
                            (i / 20_000) % 1000
                        ))
                        .expect("id number"),
                    ),
                    phone: Some(format!("139{:08}", i % 100_000_000)),
                }
            })
            .collect();
        payers.extend(
            escrow
                .execute(&bank, None, &Many(batch))
                .await
                .expect("register payers"),
        );
    }
    println!(
        "  setup: {} regulators, {} schemes, {} merchants, {} payers ({:.1} s for the payers)",
        regulators.len(),
        schemes.len(),
        merchants.len(),
        payers.len(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut opened = 0usize;
    // Rates of the first and the last tenth of the load: does a command slow down as tables grow?
    let tenth = (n / 10).max(ORDERS_PER_TX);
    let mut tenth_start = (0usize, Instant::now());
    let mut tenth_rates = Vec::new();
    let bar = lvyue_api::progress::counter(n as u64, "orders loaded");
    while opened < n {
        let size = ORDERS_PER_TX.min(n - opened);
        let orders = (0..size)
            .map(|k| {
                let i = opened + k;
                // Three driving-school orders for each canteen order, as in the demo cities.
                let scheme_index = 2 * rng.below(CITIES.len()) + usize::from(i % 4 == 3);
                let (scheme, industry, first_merchant) = &schemes[scheme_index];
                let merchant = &merchants[first_merchant + rng.below(MERCHANTS_PER_SCHEME)];
                let (base_yuan, spread_yuan, description) = match industry {
                    Industry::DrivingSchool => (3_000, 3_000, "C1手动挡全包班培训费"),
                    _ => (1_200, 1_000, "秋季学期午餐费"),
                };
                let total_fen = (base_yuan + rng.below(spread_yuan)) as i64 * 100;
                let open = OpenOrder {
                    scheme: scheme.id,
                    merchant: merchant.id,
                    payer: payers[rng.below(payers.len())].id,
                    total: Money::from_fen(total_fen).expect("amount"),
                    description: description.into(),
                    order_no: None,
                    split: None,
                };
                (open, format!("wx4200{i:014}"))
            })
            .collect();
        opened += escrow
            .execute(&bank, None, &OpenAndCollect { orders })
            .await
            .expect("open and collect");
        bar.set_position(opened as u64);
        if opened - tenth_start.0 >= tenth || opened == n {
            let rate = (opened - tenth_start.0) as f64 / tenth_start.1.elapsed().as_secs_f64();
            bar.suspend(|| eprintln!("  loaded {opened} of {n} orders ({rate:.0}/s lately)"));
            tenth_rates.push(rate);
            tenth_start = (opened, Instant::now());
        }
    }
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  load: {opened} orders opened and paid in {secs:.1} s = {:.0} orders/s \
         (OpenOrder + Collect, {ORDERS_PER_TX} orders per transaction; first tenth {:.0}/s, last tenth {:.0}/s)",
        opened as f64 / secs,
        tenth_rates.first().copied().unwrap_or(0.0),
        tenth_rates.last().copied().unwrap_or(0.0),
    );
    Principals {
        merchants: merchants
            .iter()
            .map(|m| Principal {
                subject: format!("bench-merchant-{}", m.id),
                role: Role::Merchant,
                party_id: Some(m.id),
                jurisdiction: Jurisdiction::default(),
            })
            .collect(),
        regulators,
    }
}

/// What one client saw.
#[derive(Default)]
struct Samples {
    latencies_us: Vec<u64>,
}

/// Posts pages as each principal in turn until `end`; keeps latencies after `measure_from`.
async fn client(
    http: reqwest::Client,
    url: Arc<String>,
    api: &'static Api,
    askers: Arc<Vec<Asker>>,
    first_principal: usize,
    measure_from: Instant,
    end: Instant,
) -> Samples {
    let mut samples = Samples::default();
    let mut who = first_principal % askers.len();
    let mut after: Option<String> = None;
    let mut pages = 0;
    while Instant::now() < end {
        let asker = &askers[who];
        let mut variables = asker.variables.clone();
        variables["first"] = json!(PAGE_SIZE);
        variables["after"] = json!(after);
        let mut request = http
            .post(url.as_str())
            .json(&json!({ "query": api.query, "variables": variables }));
        if let Some(token) = &asker.token {
            request = request.bearer_auth(token);
        }
        let sent = Instant::now();
        let resp = request.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.expect("response body");
        let took = sent.elapsed();
        if sent >= measure_from {
            samples.latencies_us.push(took.as_micros() as u64);
        }
        let body: Value = serde_json::from_slice(&body).expect("JSON answer");
        assert!(
            status == 200 && body.get("errors").is_none(),
            "status {status}: {body}"
        );
        let page = &body["data"][api.root];
        let edges = page[api.items].as_array().map_or(0, Vec::len);
        let more = page["pageInfo"]["hasNextPage"].as_bool() == Some(true);
        assert!(
            edges == PAGE_SIZE || !more,
            "a short page with more to come: {body}"
        );
        pages += 1;
        if more && pages < PAGES_PER_WALK {
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        } else {
            pages = 0;
            after = None;
            who = (who + 1) % askers.len();
        }
    }
    samples
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

struct Settings {
    orders: usize,
    clients: usize,
    warmup: Duration,
    measure: Duration,
}

/// What [`drive`] measured.
struct Figures {
    per_sec: f64,
    p99_ms: f64,
}

/// A figure from `/proc/<proc>/status` in MiB (`proc` is `self` or a pid), 0 where there is none.
fn status_mib(proc: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{proc}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// Measures `label`'s pages, and the memory of the process that serves them (`proc`: `self`,
/// where the server runs beside the clients, or the peer's pid): its resident set after the
/// run and its peak during it.
async fn drive(
    label: &str,
    url: &str,
    api: &'static Api,
    askers: Vec<Asker>,
    proc: &str,
    s: &Settings,
) -> Figures {
    // Linux: "5" resets the peak resident set (VmHWM) to the current one.
    let _ = std::fs::write(format!("/proc/{proc}/clear_refs"), "5");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(s.clients)
        .build()
        .expect("http client");
    let url = Arc::new(url.to_owned());
    let askers = Arc::new(askers);
    let start = Instant::now();
    let measure_from = start + s.warmup;
    let end = measure_from + s.measure;
    let tasks: Vec<_> = (0..s.clients)
        .map(|i| {
            tokio::spawn(client(
                http.clone(),
                url.clone(),
                api,
                askers.clone(),
                i * 7,
                measure_from,
                end,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task").latencies_us);
    }
    // The last requests may finish after `end`: rate over the time they actually took.
    let elapsed = measure_from.elapsed().as_secs_f64();
    all.sort_unstable();
    let mean = all.iter().sum::<u64>() as f64 / all.len().max(1) as f64 / 1000.0;
    let figures = Figures {
        per_sec: all.len() as f64 / elapsed,
        p99_ms: percentile(&all, 99.0),
    };
    println!(
        "  {label:<10} {:>7.0} req/s  p50 {:>6.1} ms  p95 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms  mean {:>6.1} ms  ({} requests, {} principals)",
        figures.per_sec,
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        figures.p99_ms,
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
        mean,
        all.len(),
        askers.len(),
    );
    let whose = if proc == "self" {
        "this process: the server and the clients"
    } else {
        "the peer's process"
    };
    println!(
        "  {:<10} RSS {} MiB after the run, peak {} MiB during it ({whose})",
        "",
        status_mib(proc, "VmRSS:"),
        status_mib(proc, "VmHWM:"),
    );
    figures
}

async fn run(name: &str, db: TestDb, s: &Settings) {
    println!("{name}");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(data_dir.path().join("data"));
    config.bind = "127.0.0.1:0".parse().expect("address");
    config.database_url = Some(DatabaseUrl::new(db.url.clone()));
    config.limits.rate_limit_per_minute = 0;
    let state = lvyue_api::AppState::build(config.clone())
        .await
        .expect("state builds");

    let principals = load(&state.escrow, s.orders).await;

    let t = Instant::now();
    match lvyue_domain::audit::audit(&state.db, None).await {
        Ok(report) => {
            assert!(report.is_clean(), "audit breaches: {:?}", report.breaches);
            println!(
                "  audit: clean ({} orders, {} accounts, {} postings, {} events) in {:.1} s",
                report.orders,
                report.accounts,
                report.postings,
                report.events,
                t.elapsed().as_secs_f64()
            );
        }
        // Not a breach, a failure to look: say so (with the cause, which `Display` keeps out
        // of public messages) and measure anyway.
        Err(e) => println!("  audit: could not run ({e:?})"),
    }
    println!(
        "  memory after the load: RSS {} MiB (this process: the loaded server's caches and the loader)",
        status_mib("self", "VmRSS:")
    );
    let t = Instant::now();
    let lag = state
        .catch_up_search()
        .await
        .expect("search index catches up");
    println!(
        "  search index caught up with the log in {:.1} s (lag {lag})",
        t.elapsed().as_secs_f64()
    );

    let running = lvyue_api::server::serve(state)
        .await
        .expect("server starts");
    let http = reqwest::Client::new();
    let t = Instant::now();
    wait_ready(&http, &running.url("/readyz")).await;
    println!(
        "  ready (notary caught up) {:.1} s after serving; {} clients, {} s warm-up, {} s measured, pages of {PAGE_SIZE}, up to {PAGES_PER_WALK} pages per principal",
        t.elapsed().as_secs_f64(),
        s.clients,
        s.warmup.as_secs(),
        s.measure.as_secs()
    );

    let minter =
        Minter::from_config(&config.jwt, &config.data_dir, None).expect("minter for the server");
    let tokens = |ps: &[Principal]| -> Vec<Asker> {
        ps.iter()
            .map(|p| Asker {
                token: Some(minter.mint(p, Duration::from_secs(3600)).expect("token")),
                variables: json!({}),
            })
            .collect()
    };
    let url = running.url("/graphql");
    let merchant = drive(
        "merchant",
        &url,
        &LVYUE,
        tokens(&principals.merchants),
        "self",
        s,
    )
    .await;
    if db.backend == lvyue_domain::testing::Backend::Postgres {
        peer(&db.url, &principals.merchants, &merchant, s).await;
    }
    let regulator = drive(
        "regulator",
        &url,
        &LVYUE,
        tokens(&principals.regulators),
        "self",
        s,
    )
    .await;
    println!(
        "  regulator ÷ merchant: {:.2} in req/s (goal ≥ 0.80)",
        regulator.per_sec / merchant.per_sec
    );
    running.shutdown();
    running.wait().await.expect("clean shutdown");

    // The same regulators' reads with a commit of their own each (no group commit), on the
    // same database, for what grouping the access records buys.
    config.workers.access_group_max = 1;
    let state = lvyue_api::AppState::build(config.clone())
        .await
        .expect("state builds again");
    let running = lvyue_api::server::serve(state)
        .await
        .expect("server starts again");
    wait_ready(&http, &running.url("/readyz")).await;
    let url = running.url("/graphql");
    drive(
        "ungrouped",
        &url,
        &LVYUE,
        tokens(&principals.regulators),
        "self",
        s,
    )
    .await;
    running.shutdown();
    running.wait().await.expect("clean shutdown");
    drop(db);
}

/// The same merchants' pages asked of PostGraphile v5 on the same database, beside Lvyue's
/// figures from the same run. Runs when `LVYUE_BENCH_POSTGRAPHILE` names the folder `bench/run`
/// installed it into; says why when it does not.
async fn peer(db_url: &str, merchants: &[Principal], lvyue: &Figures, s: &Settings) {
    let Some(dir) = std::env::var_os("LVYUE_BENCH_POSTGRAPHILE") else {
        let why = std::env::var("LVYUE_BENCH_POSTGRAPHILE_SKIPPED").unwrap_or_else(|_| {
            "LVYUE_BENCH_POSTGRAPHILE is not set; bench/run installs the peer with npm".into()
        });
        println!("  postgraphile: skipped ({why})");
        return;
    };
    let peer = match Peer::start(std::path::Path::new(&dir), db_url).await {
        Ok(peer) => peer,
        Err(why) => {
            println!("  postgraphile: skipped ({why})");
            return;
        }
    };
    let askers = merchants
        .iter()
        .map(|m| Asker {
            token: None,
            variables: json!({ "merchantId": m.party_id.expect("a merchant's party").0.to_string() }),
        })
        .collect();
    let pid = peer.child.id().to_string();
    let theirs = drive("postgraphile", &peer.url, &POSTGRAPHILE, askers, &pid, s).await;
    drop(peer);
    println!(
        "  lvyue ÷ postgraphile: {:.2} in req/s (goal ≥ 2.00); p99 {:.1} ms against {:.1} ms",
        lvyue.per_sec / theirs.per_sec,
        lvyue.p99_ms,
        theirs.p99_ms
    );
}

/// A PostGraphile v5 server (Node 22, the amber preset, the relations declared by the smart
/// tags in `bench/postgraphile`), stopped when dropped.
struct Peer {
    child: std::process::Child,
    url: String,
}

impl Peer {
    async fn start(dir: &std::path::Path, db_url: &str) -> Result<Peer, String> {
        let node = dir.join("node_modules/node/bin/node");
        let cli = dir.join("node_modules/postgraphile/dist/cli-run.js");
        if !node.is_file() || !cli.is_file() {
            return Err(format!("no PostGraphile installed in {}", dir.display()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let log = std::fs::File::create(dir.join("server.log"))
            .map_err(|e| format!("cannot write its log: {e}"))?;
        let child = std::process::Command::new(&node)
            .arg(&cli)
            .arg("-C")
            .arg(dir.join("graphile.config.mjs"))
            .args(["-c", db_url, "-s", "public", "-n", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .env("GRAPHILE_ENV", "production")
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", node.display()))?;
        let mut peer = Peer {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
        };
        let http = reqwest::Client::new();
        let t = Instant::now();
        loop {
            let answer = http
                .post(&peer.url)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                let version = std::process::Command::new(&node)
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .unwrap_or_default();
                println!(
                    "  postgraphile 5 (node {version}, amber preset, no auth) ready in {:.1} s",
                    t.elapsed().as_secs_f64()
                );
                return Ok(peer);
            }
            if let Ok(Some(status)) = peer.child.try_wait() {
                return Err(format!(
                    "it exited with {status}; see {}",
                    dir.join("server.log").display()
                ));
            }
            if t.elapsed() > Duration::from_secs(60) {
                return Err("not answering after 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // It has no graceful shutdown to wait for; between runs nothing is in flight.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_ready(http: &reqwest::Client, readyz: &str) {
    let t = Instant::now();
    while !http
        .get(readyz)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "server not ready after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let s = Settings {
        orders: env_or("LVYUE_BENCH_GRAPHQL_ORDERS", DEFAULT_ORDERS),
        clients: env_or("LVYUE_BENCH_GRAPHQL_CLIENTS", 8usize).max(1),
        warmup: Duration::from_secs(env_or("LVYUE_BENCH_GRAPHQL_WARMUP_SECS", 2)),
        measure: Duration::from_secs(env_or("LVYUE_BENCH_GRAPHQL_SECS", 10u64).max(1)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "GraphQL: a page of {PAGE_SIZE} orders (with merchant, payer, scheme, milestones) over HTTP, {} orders loaded",
            s.orders
        );
        run(
            "SQLite (file, WAL, synchronous=FULL)",
            TestDb::sqlite().await,
            &s,
        )
        .await;
        match TestDb::postgres().await {
            Some(db) => run("PostgreSQL (local, synchronous_commit on)", db, &s).await,
            None => println!("PostgreSQL: skipped (set LVYUE_TEST_POSTGRES_URL)"),
        }
    });
}
