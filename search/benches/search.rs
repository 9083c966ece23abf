//! Indexing rate, index size and query latency of `lvyue-search` on a synthetic corpus, beside
//! SQLite FTS5 (`tokenize='trigram'`) on the same corpus and queries.
//!
//! `cargo bench -p lvyue-search` — prints numbers, asserts nothing about time.
//! `LVYUE_BENCH_ORDERS` (default 1,000,000) sets the corpus size, `LVYUE_BENCH_ROUNDS`
//! (default 5) how many times the 20 queries are timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use lvyue_search::{Doc, MerchantDoc, OrderDoc, Scope, SearchIndex, SearchRequest};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row};

const SEED: u64 = 0x5eed_1b7e_0000_2025;
const MERCHANTS: usize = 10_000;
const PAYERS: u64 = 300_000;
const TOP_K: usize = 20;

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
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const REGIONS: &[(&str, &str, &str)] = &[
    ("320102", "南京市", "玄武区"),
    ("320104", "南京市", "秦淮区"),
    ("320105", "南京市", "建邺区"),
    ("320106", "南京市", "鼓楼区"),
    ("320115", "南京市", "江宁区"),
    ("320505", "苏州市", "虎丘区"),
    ("320506", "苏州市", "吴中区"),
    ("320508", "苏州市", "姑苏区"),
    ("320211", "无锡市", "滨湖区"),
    ("440305", "深圳市", "南山区"),
    ("440304", "深圳市", "福田区"),
    ("310115", "上海市", "浦东新区"),
    ("110105", "北京市", "朝阳区"),
    ("110108", "北京市", "海淀区"),
    ("330106", "杭州市", "西湖区"),
    ("350102", "福州市", "鼓楼区"),
];

struct Industry {
    code: &'static str,
    suffixes: &'static [&'static str],
    remarks: &'static [&'static str],
}

const INDUSTRIES: &[Industry] = &[
    Industry {
        code: "DRIVING_SCHOOL",
        suffixes: &[
            "驾驶培训有限公司",
            "驾校",
            "机动车驾驶员培训学校",
            "驾驶培训中心",
        ],
        remarks: &[
            "科目一培训费",
            "科目二培训费",
            "科目三培训费",
            "报名费",
            "C1手动挡全包班",
            "C2自动挡学费",
            "VIP一对一陪练",
        ],
    },
    Industry {
        code: "CANTEEN",
        suffixes: &["餐饮管理有限公司", "食堂", "中学食堂", "团餐服务有限公司"],
        remarks: &[
            "三月午餐费",
            "九月伙食费",
            "秋季学期餐费",
            "早餐费",
            "四月午餐费",
        ],
    },
    Industry {
        code: "PREPAID_CARD",
        suffixes: &[
            "健身",
            "健身俱乐部",
            "美容美发店",
            "洗衣店",
            "贸易有限公司",
            "瑜伽馆",
        ],
        remarks: &["年卡续费", "季卡", "私教课程包", "充值500元", "次卡20次"],
    },
    Industry {
        code: "HOUSING_DEPOSIT",
        suffixes: &["房地产开发有限公司", "置业有限公司"],
        remarks: &["认筹金", "首付款", "房e存冻结"],
    },
    Industry {
        code: "MEDICAL_INSURANCE",
        suffixes: &["医院", "诊所", "口腔门诊部"],
        remarks: &["门诊费", "住院押金", "医保结算"],
    },
    Industry {
        code: "PLATFORM",
        suffixes: &["网络科技有限公司", "电子商务有限公司"],
        remarks: &["商品货款", "平台服务费"],
    },
];

const BRAND_A: &[&str] = &[
    "金", "华", "恒", "安", "东", "顺", "新", "阳", "博", "万", "富", "龙", "天", "宏", "鑫", "嘉",
    "瑞", "泰", "德", "诚", "信", "达", "荣", "盛", "和", "兴", "明", "光", "中", "联",
];
const BRAND_B: &[&str] = &[
    "陵", "信", "通", "顺", "方", "达", "星", "光", "雅", "家", "源", "腾", "宇", "远", "昌", "茂",
    "隆", "丰", "利", "安", "泽", "润", "辉", "阳", "美", "佳", "康", "程", "峰", "海",
];
const LATIN: &[&str] = &[
    "Acme",
    "Fitness Plus",
    "Sunshine",
    "Golden Gate",
    "Bright Future",
];
const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙",
];
const STATUSES: &[&str] = &[
    "PAID", "PAID", "PAID", "RELEASED", "RELEASED", "REFUNDED", "CLOSED",
];
const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// docs/domain.md: GB 32100-2015 check character.
fn uscc(rng: &mut Rng, region: &str) -> String {
    let mut code: Vec<u8> = b"91".to_vec();
    code.extend_from_slice(region.as_bytes());
    for _ in 0..9 {
        code.push(*rng.pick(USCC_CHARS));
    }
    let sum: u32 = code
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(c, w)| USCC_CHARS.iter().position(|x| x == c).unwrap() as u32 * w)
        .sum();
    code.push(USCC_CHARS[((31 - sum % 31) % 31) as usize]);
    String::from_utf8(code).unwrap()
}

fn merchants() -> Vec<MerchantDoc> {
    let mut rng = Rng(SEED);
    (0..MERCHANTS)
        .map(|i| {
            let (region, city, district) = *rng.pick(REGIONS);
            let industry = rng.pick(INDUSTRIES);
            let suffix = rng.pick(industry.suffixes);
            let brand = format!("{}{}", rng.pick(BRAND_A), rng.pick(BRAND_B));
            let name = match rng.below(20) {
                0 => format!("{} {}{}", rng.pick(LATIN), &city[..city.len() - 3], suffix),
                1..=9 => format!("{city}{district}{brand}{suffix}"),
                _ => format!("{city}{brand}{suffix}"),
            };
            let id = format!("mer_{i}");
            MerchantDoc {
                merchant_id: id.clone(),
                id,
                uscc: uscc(&mut rng, region),
                region: region.into(),
                industry: industry.code.into(),
                status: "ACTIVE".into(),
                description: format!("{}{}", district, rng.pick(industry.remarks)),
                name,
            }
        })
        .collect()
}

fn industry_of(code: &str) -> &'static Industry {
    INDUSTRIES.iter().find(|i| i.code == code).unwrap()
}

/// The i-th order, from its own seed so any order can be regenerated alone.
fn order(i: usize, merchants: &[MerchantDoc]) -> OrderDoc {
    let mut rng = Rng(SEED ^ (i as u64).wrapping_mul(0xa076_1d64_78bd_642f));
    let m = &merchants[rng.below(merchants.len())];
    let opened_at = 1_704_067_200 + (rng.next() % (730 * 86_400)) as i64;
    let day = opened_at / 86_400;
    OrderDoc {
        id: format!("ord_{i}"),
        order_no: format!("LY{:05}{:09}", day, i),
        merchant_id: m.id.clone(),
        merchant_name: m.name.clone(),
        payer_id: format!("pay_{}", rng.next() % PAYERS),
        payer_masked_name: format!("{}**", rng.pick(SURNAMES)),
        scheme_id: format!("sch_{}_{}", m.industry, &m.region[..4]),
        region: m.region.clone(),
        industry: m.industry.clone(),
        status: (*rng.pick(STATUSES)).into(),
        remark: (*rng.pick(industry_of(&m.industry).remarks)).into(),
        amount_fen: 10_000 + (rng.next() % 990_000) as i64,
        opened_at,
    }
}

fn queries(merchants: &[MerchantDoc], n: usize) -> Vec<String> {
    let near_miss = {
        let mut u = merchants[42].uscc.clone();
        let last = u.pop().unwrap();
        u.push(if last == '0' { '1' } else { '0' });
        u
    };
    vec![
        "驾校".into(),
        "贸易".into(),
        "深圳".into(),
        "食堂".into(),
        "健身".into(),
        "驾驶培训".into(),
        "餐饮管理".into(),
        "科目二培训费".into(),
        "年卡续费".into(),
        "房地产开发".into(),
        merchants[123].name.clone(),
        merchants[4_567 % merchants.len()].name.clone(),
        order(777 % n, merchants).order_no,
        order(n / 2, merchants).order_no,
        merchants[42].uscc.clone(),
        near_miss,
        "Acme 南京".into(),
        "Fitness 健身".into(),
        "午餐费 苏州".into(),
        "南京 科目三".into(),
    ]
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let at = |p: f64| {
        let idx = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[idx].as_secs_f64() * 1e3
    };
    format!(
        "p50 {:7.2} ms   p95 {:7.2} ms   p99 {:7.2} ms   ({} samples)",
        at(0.50),
        at(0.95),
        at(0.99),
        samples.len()
    )
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n = env_usize("LVYUE_BENCH_ORDERS", 1_000_000);
    let rounds = env_usize("LVYUE_BENCH_ROUNDS", 5).max(1);
    let work = tempfile::tempdir().unwrap();
    let merchants = merchants();
    let queries = queries(&merchants, n);
    let docs_total = n + merchants.len();
    println!(
        "corpus: {n} orders + {} merchants = {docs_total} docs; {} queries x {rounds} rounds, top {TOP_K}",
        merchants.len(),
        queries.len()
    );
    println!(
        "machine: {} cpus",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );

    // ---- tantivy ----
    let tdir = work.path().join("tantivy");
    std::fs::create_dir_all(&tdir).unwrap();
    let index = SearchIndex::open_or_create(&tdir).unwrap();
    let mut writer = index.writer().unwrap();
    let started = Instant::now();
    for m in &merchants {
        writer.upsert(&Doc::Merchant(m.clone())).unwrap();
    }
    for i in 0..n {
        writer.upsert(&Doc::Order(order(i, &merchants))).unwrap();
    }
    let fed = started.elapsed();
    writer.commit(n as u64).unwrap();
    let indexed = started.elapsed();
    writer.close().unwrap();
    let merged = started.elapsed();
    drop(index);
    let index = SearchIndex::open_or_create(&tdir).unwrap();
    assert_eq!(index.num_docs(), docs_total as u64);
    println!();
    println!("== lvyue-search (tantivy 0.27 + jieba, upsert = delete-by-id + add) ==");
    println!(
        "indexing: {:.0} docs/s  ({:.1} s to feed, {:.1} s incl. commit; merges done after {:.1} s)",
        docs_total as f64 / indexed.as_secs_f64(),
        fed.as_secs_f64(),
        indexed.as_secs_f64(),
        merged.as_secs_f64()
    );
    println!(
        "index size on disk: {}  (segment files: {})",
        mib(dir_size(&tdir)),
        mib(index.size_bytes().unwrap())
    );

    let tantivy_run = |label: &str, scope: &Scope, facets: bool| {
        let request = |q: &str| {
            let mut req = SearchRequest::new(q, scope.clone());
            req.first = TOP_K;
            req.skip_facets = !facets;
            req
        };
        for q in &queries {
            index.search(&request(q)).unwrap(); // warm-up
        }
        let mut samples = Vec::new();
        let mut empty = Vec::new();
        for round in 0..rounds {
            for q in &queries {
                let req = request(q);
                let t = Instant::now();
                let r = index.search(&req).unwrap();
                samples.push(t.elapsed());
                if round == 0 && r.hits.is_empty() {
                    empty.push(q.clone());
                }
            }
        }
        println!("{label}: {}", percentiles(samples));
        println!("    queries with no hits: {} {:?}", empty.len(), empty);
    };
    tantivy_run("top-20 + exact total", &Scope::All, false);
    tantivy_run(
        "top-20 + total + facets (the API's default)",
        &Scope::All,
        true,
    );
    tantivy_run(
        "regulator scope 3201+DRIVING_SCHOOL, facets",
        &Scope::regulator(vec!["3201".into()], vec!["DRIVING_SCHOOL".into()]),
        true,
    );
    println!("per query (top-20 + total, Scope::All, after the timed rounds):");
    for q in &queries {
        let mut req = SearchRequest::new(q.as_str(), Scope::All);
        req.first = TOP_K;
        req.skip_facets = true;
        let t = Instant::now();
        let r = index.search(&req).unwrap();
        let first = r
            .hits
            .first()
            .map_or(String::from("-"), |h| h.title.clone());
        println!(
            "    {:>8.2} ms  total {:>7}  {q:<32} first: {first}",
            t.elapsed().as_secs_f64() * 1e3,
            r.total
        );
    }
    drop(index);

    // ---- SQLite FTS5 trigram ----
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = work.path().join("fts.db");
        let mut conn = SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .connect()
            .await
            .unwrap();
        let version: String = sqlx::query_scalar("select sqlite_version()").fetch_one(&mut conn).await.unwrap();
        sqlx::query("CREATE VIRTUAL TABLE docs USING fts5(doc_id UNINDEXED, ident, name, body, tokenize='trigram')")
            .execute(&mut conn)
            .await
            .unwrap();
        let started = Instant::now();
        let mut tx = conn.begin().await.unwrap();
        const INSERT: &str = "INSERT INTO docs(doc_id, ident, name, body) VALUES (?1, ?2, ?3, ?4)";
        for m in &merchants {
            sqlx::query(INSERT)
                .bind(&m.id)
                .bind(format!("{} {}", m.id, m.uscc))
                .bind(&m.name)
                .bind(&m.description)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        for i in 0..n {
            let o = order(i, &merchants);
            sqlx::query(INSERT)
                .bind(&o.id)
                .bind(format!("{} {}", o.id, o.order_no))
                .bind(&o.merchant_name)
                .bind(format!("{} {}", o.remark, o.payer_masked_name))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let indexed = started.elapsed();
        sqlx::query("INSERT INTO docs(docs) VALUES('optimize')").execute(&mut conn).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
        let optimized = started.elapsed();
        println!();
        println!("== SQLite {version} FTS5, tokenize='trigram' (sqlx 0.9, one transaction) ==");
        println!(
            "indexing: {:.0} docs/s  ({:.1} s incl. commit; 'optimize' done after {:.1} s)",
            docs_total as f64 / indexed.as_secs_f64(),
            indexed.as_secs_f64(),
            optimized.as_secs_f64()
        );
        println!("database size on disk: {}", mib(dir_size(work.path())));
        // Each whitespace-separated part becomes a quoted FTS5 string; parts are ANDed.
        let fts = |q: &str| {
            q.split_whitespace()
                .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" ")
        };
        const SEARCH: &str =
            "SELECT doc_id, ident || ' ' || name || ' ' || body FROM docs WHERE docs MATCH ?1 ORDER BY rank LIMIT 20";
        // Rows returned that do not contain every query part (FTS5 trigram drops parts of
        // under 3 characters from a multi-part query instead of matching them).
        let unmatched = |q: &str, rows: &[sqlx::sqlite::SqliteRow]| {
            rows.iter()
                .filter(|r| {
                    let text = r.get::<String, _>(1).to_lowercase();
                    !q.split_whitespace().all(|p| text.contains(&p.to_lowercase()))
                })
                .count()
        };
        for q in &queries {
            sqlx::query(SEARCH).bind(fts(q)).fetch_all(&mut conn).await.unwrap();
        }
        let mut samples = Vec::new();
        let mut empty = Vec::new();
        for round in 0..rounds {
            for q in &queries {
                let t = Instant::now();
                let rows = sqlx::query(SEARCH).bind(fts(q)).fetch_all(&mut conn).await.unwrap();
                samples.push(t.elapsed());
                if round == 0 && rows.is_empty() {
                    empty.push(q.clone());
                }
            }
        }
        println!("top-20 by bm25 (no total): {}", percentiles(samples));
        println!("    queries with no hits: {} {:?}", empty.len(), empty);
        println!("per query (after the timed rounds):");
        for q in &queries {
            let t = Instant::now();
            let rows = sqlx::query(SEARCH).bind(fts(q)).fetch_all(&mut conn).await.unwrap();
            let elapsed = t.elapsed();
            let first: String = rows.first().map_or("-".into(), |r| r.get::<String, _>(0));
            println!(
                "    {:>8.2} ms  rows {:>3} (not containing every part: {:>2})  {q:<32} first: {first}",
                elapsed.as_secs_f64() * 1e3,
                rows.len(),
                unmatched(q, &rows)
            );
        }
        conn.close().await.unwrap();
    });
}
