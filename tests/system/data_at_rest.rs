//! Personal data at rest: ID numbers, mobile numbers and bank card numbers go in through
//! GraphQL as the bank and a merchant would send them, and the database never holds them in
//! plaintext — not in the SQLite file, its WAL or its shared memory, not in the data
//! directory (the search index included), and not in any column of any PostgreSQL table.
//! They still read back, masked, through the API. Key rotation as operators would do it is
//! checked on the real binary (docs/operations.md).

use std::path::Path;

use serde_json::json;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank};
use crate::node::{Node, NodeEnv};
use crate::world::{World, bank_do, settled_world, settled_world_running};

/// ID numbers, phones and card numbers registered by the test (valid check digits).
struct Secrets {
    id_numbers: Vec<String>,
    phones: Vec<String>,
    cards: Vec<String>,
}

impl Secrets {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.id_numbers
            .iter()
            .chain(&self.phones)
            .chain(&self.cards)
    }
}

/// Registers payers with ID and mobile numbers, and pays workers' cards in a batch.
async fn register(srv: &TestServer, w: &World) -> Secrets {
    let mut s = Secrets {
        id_numbers: vec![],
        phones: vec![],
        cards: vec![],
    };
    for i in 0..5 {
        let id = lvyue_domain::identity::id_number_with_check(&format!("3201021990031{i}123"))
            .expect("id number");
        let phone = format!("1391234{:04}", 5670 + i);
        let d = bank_do(
            srv,
            "mutation($i: RegisterPayerInput!, $k: String!) { registerPayer(input: $i, idempotencyKey: $k) { id idNumber phone } }",
            json!({"k": format!("pii-{i}"), "i": {"name": format!("学员{i}"), "idNumber": id, "phone": phone}}),
        )
        .await;
        // Shown masked, even to the bank.
        let shown = d["registerPayer"]["idNumber"].as_str().expect("masked id");
        assert!(shown.contains('*') && !shown.contains(&id[6..14]), "{d}");
        s.id_numbers.push(id);
        s.phones.push(phone);
    }
    // Luhn-valid card numbers, paid from the merchant's released money.
    let cards: Vec<String> = (0..3)
        .map(|i| luhn_complete(&format!("62148300{:010}", 123_456_789 + i)))
        .collect();
    let items: Vec<_> = cards
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"name": format!("工人{i}"), "cardNumber": c, "amount": "1.00"}))
        .collect();
    let d = TestServer::ok(
        srv.gql(
            Some(&w.merchant_principal()),
            "mutation($m: ID!, $s: ID!, $items: [PayoutItemInput!]!) { batchPayout(merchant: $m, scheme: $s, batchRef: \"B-PII-1\", items: $items, idempotencyKey: \"pii-batch\") { payouts { recipientAccount } } }",
            json!({"m": w.merchant, "s": w.scheme, "items": items}),
        )
        .await,
    );
    for (p, c) in d["batchPayout"]["payouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .zip(&cards)
    {
        let shown = p["recipientAccount"].as_str().expect("masked card");
        assert!(!shown.contains(&c[6..15]), "card shown unmasked: {shown}");
    }
    s.cards = cards;
    s
}

/// Completes a card number body with its Luhn check digit.
fn luhn_complete(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// A 32-byte key of `b`s, as 64 hex characters.
fn hex32(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Which secrets appear in `bytes`, as text (UTF-8, and UTF-16 as SQLite may store it).
fn found_in<'a>(bytes: &[u8], secrets: &'a Secrets) -> Vec<&'a String> {
    secrets
        .all()
        .filter(|s| {
            let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            contains(bytes, s.as_bytes()) || contains(bytes, &utf16)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_phone_or_card_number_is_in_the_sqlite_files_or_the_data_directory() {
    let (srv, _clock, w, _orders) = settled_world_running(Backend::Sqlite, 1, "1000.00")
        .await
        .expect("sqlite");
    let secrets = register(&srv, &w).await;
    // Let the search indexer and the notary catch up, so their files hold whatever they will.
    srv.sync_log().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let db_file = srv
        .db
        .url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("path")
        .to_owned();
    let db_dir = Path::new(&db_file).parent().expect("db dir").to_owned();
    let mut all = Vec::new();
    files(&db_dir, &mut all);
    files(srv.data_dir(), &mut all);
    assert!(
        all.iter().any(|p| p.ends_with("lvyue.db-wal")),
        "the WAL is among the files searched: {all:?}"
    );
    let mut bytes_searched = 0;
    for p in &all {
        let bytes = std::fs::read(p).expect("read file");
        bytes_searched += bytes.len();
        let found = found_in(&bytes, &secrets);
        assert!(
            found.is_empty(),
            "{} holds {found:?} in plaintext",
            p.display()
        );
    }
    // And the API still reads them back, masked.
    let payers = bank_do(
        &srv,
        "{ parties(kind: PAYER, first: 20) { edges { node { idNumber phone } } } }",
        json!({}),
    )
    .await;
    let masked: Vec<&str> = payers["parties"]["edges"]
        .as_array()
        .expect("payers")
        .iter()
        .filter_map(|e| e["node"]["idNumber"].as_str())
        .collect();
    assert!(
        masked.len() >= 5 && masked.iter().all(|m| m.contains("********")),
        "{payers}"
    );
    println!(
        "data at rest (SQLite): {} files, {bytes_searched} bytes searched, none of {} ID, phone and card numbers found",
        all.len(),
        secrets.all().count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_phone_or_card_number_is_in_any_postgres_column() {
    use sea_orm::{ConnectionTrait as _, Statement};
    let Some((srv, _clock, w, _orders)) =
        settled_world_running(Backend::Postgres, 1, "1000.00").await
    else {
        eprintln!(
            "skipped: {} is not set",
            lvyue_domain::testing::POSTGRES_ENV
        );
        return;
    };
    let secrets = register(&srv, &w).await;
    let db = &srv.db.db;
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        ))
        .await
        .expect("tables");
    let mut rows_searched = 0;
    for t in &tables {
        let name: String = t.try_get("", "table_name").expect("name");
        // Every column of every row, as PostgreSQL prints the row.
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT t::text AS row FROM \"{name}\" t"),
            ))
            .await
            .expect("rows");
        for r in rows {
            let text: String = r.try_get("", "row").expect("row text");
            rows_searched += 1;
            let found = found_in(text.as_bytes(), &secrets);
            assert!(
                found.is_empty(),
                "table {name} holds {found:?}: {text:.300}"
            );
        }
    }
    println!(
        "data at rest (PostgreSQL): {} tables, {rows_searched} rows searched, none of {} ID, phone and card numbers found",
        tables.len(),
        secrets.all().count()
    );
}

/// Registers a payer with an ID number through `node` and opens and pays an order for them;
/// the order's id.
async fn payer_with_order(
    node: &Node,
    token: &str,
    w: &World,
    id_number: &str,
    key: &str,
) -> String {
    let payer = Node::ok(
        node.post(
            Some(token),
            "mutation($i: String!, $k: String!) { registerPayer(input: {name: \"轮换\", idNumber: $i, phone: \"13912345678\"}, idempotencyKey: $k) { id } }",
            json!({"i": id_number, "k": format!("{key}-p")}),
        )
        .await
        .expect("answer"),
    )["registerPayer"]["id"]
        .clone();
    Node::ok(
        node.post(
            Some(token),
            "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
            json!({"k": format!("{key}-o"), "i": {"scheme": w.scheme, "merchant": w.merchant, "payer": payer, "total": "100.00"}}),
        )
        .await
        .expect("answer"),
    )["openOrder"]["id"]
        .as_str()
        .expect("order")
        .to_owned()
}

/// What a court sees of an order's payer in its evidence bundle (the unmasked ID number
/// needs the key it was encrypted with).
async fn evidence(node: &Node, token: &str, order: &str) -> serde_json::Value {
    node.post(
        Some(token),
        "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102民初1号\", orders: [$o]) }",
        json!({"o": order}),
    )
    .await
    .expect("answer")
}

/// Rotation as `docs/operations.md` describes it for an installation that lists its
/// encryption keys: a new current key first, the old one kept after it. What was encrypted
/// under the old key still decrypts (a court's evidence bundle shows the ID number), the
/// lookup hash is unchanged (the same ID number is still known).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_written_under_a_listed_key_still_reads_after_rotation() {
    let Some(setup) = settled_world(Backend::Sqlite, 1, "1000.00").await else {
        return;
    };
    let k = hex32;
    let mut env = NodeEnv::new(setup.srv.data_dir(), &setup.srv.db.url);
    let master = std::fs::read_to_string(setup.srv.data_dir().join("pii-key")).expect("pii-key");
    env.extra
        .push(("LVYUE_PII_KEY".into(), master.trim().to_owned()));
    env.extra
        .push(("LVYUE_PII_ENCRYPTION_KEYS".into(), format!("7:{}", k(7))));
    let token = env.token(&bank());
    let node = Node::start(&env).await;
    let id = lvyue_domain::identity::id_number_with_check("32010219900301123").expect("id");
    let order = payer_with_order(&node, &token, &setup.world, &id, "rot").await;
    node.stop().await;
    // Rotate: key 8 encrypts from now on, key 7 still decrypts.
    env.extra.retain(|(k, _)| k != "LVYUE_PII_ENCRYPTION_KEYS");
    env.extra.push((
        "LVYUE_PII_ENCRYPTION_KEYS".into(),
        format!("8:{},7:{}", k(8), k(7)),
    ));
    let node = Node::start(&env).await;
    let bundle = evidence(&node, &token, &order).await;
    assert!(
        bundle.get("errors").is_none() && bundle.to_string().contains(&id),
        "the court's bundle after rotation: {bundle:.600}"
    );
    let again = node
        .post(
            Some(&token),
            "mutation($i: String!) { registerPayer(input: {name: \"轮换后\", idNumber: $i}, idempotencyKey: \"rot-2\") { id } }",
            json!({"i": id}),
        )
        .await
        .expect("answer");
    assert_eq!(crate::harness::first_code(&again), "CONFLICT", "{again}");
    node.stop().await;
}

/// An installation that started without `LVYUE_PII_ENCRYPTION_KEYS` encrypts under a key
/// derived from the master key (id 1, `PiiVault::single`) that no operator can name. Rotating
/// it (`LVYUE_PII_ENCRYPTION_KEYS=2:<new>`, master key unchanged; docs/operations.md) keeps
/// everything encrypted before readable: a court's evidence bundle still carries the payer's
/// ID number registered before the rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_away_from_the_default_key_keeps_old_personal_data_readable() {
    let Some(setup) = settled_world(Backend::Sqlite, 1, "1000.00").await else {
        return;
    };
    let mut env = NodeEnv::new(setup.srv.data_dir(), &setup.srv.db.url);
    let token = env.token(&bank());
    let node = Node::start(&env).await;
    let id = lvyue_domain::identity::id_number_with_check("32010219900301123").expect("id");
    let order = payer_with_order(&node, &token, &setup.world, &id, "rot-d").await;
    node.stop().await;
    let master = std::fs::read_to_string(setup.srv.data_dir().join("pii-key")).expect("pii-key");
    env.extra
        .push(("LVYUE_PII_KEY".into(), master.trim().to_owned()));
    env.extra.push((
        "LVYUE_PII_ENCRYPTION_KEYS".into(),
        format!("2:{}", hex32(2)),
    ));
    let node = Node::start(&env).await;
    let bundle = evidence(&node, &token, &order).await;
    node.stop().await;
    assert!(
        bundle.get("errors").is_none() && bundle.to_string().contains(&id),
        "the court's bundle after rotation: {bundle:.600}"
    );
}
