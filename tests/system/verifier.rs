//! `GET /verify` in a real browser: a court's evidence bundle from the demo verifies in the
//! page; one changed byte in one event fails that event and no other; a wrong key fails the
//! checkpoint; and the page saved to disk does the same with no server at all.

use fantoccini::Locator;
use serde_json::{Value, json};

use lvyue_api::demo::{self, Size};
use lvyue_domain::clock::Timestamp;
use lvyue_domain::principal::Role;
use lvyue_notary::SigningKey;

use crate::browser::Browser;
use crate::harness::TestServer;

/// Puts `bundle` and `key` into the page, presses Verify and returns the summary's outcome and
/// text once it shows.
async fn verify_in_page(browser: &Browser, bundle: &str, key: &str) -> (String, String) {
    verify_witnessed_in_page(browser, bundle, key, "").await
}

/// [`verify_in_page`] with witness keys, one per line (all of them required).
pub(crate) async fn verify_witnessed_in_page(
    browser: &Browser,
    bundle: &str,
    key: &str,
    witnesses: &str,
) -> (String, String) {
    let c = &browser.client;
    c.execute(
        "document.getElementById('bundle').value = arguments[0]; \
         document.getElementById('key').value = arguments[1]; \
         document.getElementById('witnesses').value = arguments[2]; \
         document.getElementById('summary').removeAttribute('data-outcome');",
        vec![json!(bundle), json!(key), json!(witnesses)],
    )
    .await
    .unwrap();
    c.find(Locator::Id("verify"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "the verdict",
            "return !!document.getElementById('summary').dataset.outcome",
        )
        .await;
    let summary = c.find(Locator::Id("summary")).await.unwrap();
    (
        summary.attr("data-outcome").await.unwrap().unwrap(),
        summary.text().await.unwrap(),
    )
}

/// `(seq, outcome, detail)` of every row of the results table.
async fn rows(browser: &Browser) -> Vec<(u64, String, String)> {
    let rows = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#events tbody tr')].map(r => \
             [Number(r.dataset.seq), r.className, r.cells[4].innerText])",
            vec![],
        )
        .await
        .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap(),
                r[1].as_str().unwrap().to_owned(),
                r[2].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_verifies_evidence_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The demo's court asks for the documented evidence (as in docs/queries/court).
    let before_the_demo = Timestamp::china_midnight("2026-05-31".parse().unwrap());
    let (srv, _clock) =
        TestServer::start_at(lvyue_domain::testing::Backend::Sqlite, before_the_demo)
            .await
            .unwrap();
    let parties = demo::load(&srv.running().state().db, &srv.config, Size::Small)
        .await
        .unwrap();
    srv.sync_log().await;
    let court = demo::principals(&parties)
        .unwrap()
        .into_iter()
        .find(|(_, p)| p.role == Role::Court)
        .unwrap()
        .1;
    let docs = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/queries/court");
    let query = std::fs::read_to_string(docs.join("01-evidence.graphql")).unwrap();
    let vars: Value =
        serde_json::from_str(&std::fs::read_to_string(docs.join("01-evidence.json")).unwrap())
            .unwrap();
    let answer = TestServer::ok(srv.gql(Some(&court), &query, vars).await);
    let bundle: Value = answer["evidenceBundle"].clone();
    let bundle = match bundle {
        Value::String(s) => serde_json::from_str::<Value>(&s).unwrap(),
        other => other,
    };
    let events: Vec<u64> = bundle["orders"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["events"].as_array().unwrap().iter())
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(events.len() >= 3, "{bundle}");
    // The key as the clerk gets it apart from the bundle: the bank publishes it.
    let (status, key) = srv.get("/verifier-key").await;
    assert_eq!(status, 200);
    let key = key.trim().to_owned();
    let text = serde_json::to_string_pretty(&bundle).unwrap();

    browser.client.goto(&srv.url("/verify")).await.unwrap();
    let (outcome, summary) = verify_in_page(&browser, &text, &key).await;
    assert_eq!(outcome, "verified", "{summary}");
    let all = rows(&browser).await;
    assert_eq!(all.len(), events.len());
    assert!(all.iter().all(|(_, o, _)| o == "ok"), "{all:?}");
    browser.screenshot("verifier").await;

    // One changed byte in one event: that event fails, the others still verify.
    let mut tampered = bundle.clone();
    let event = &mut tampered["orders"][0]["events"][1];
    let changed = event["seq"].as_u64().unwrap();
    let canonical = event["canonical"].as_str().unwrap().to_owned();
    let at = canonical.find("\"type\"").unwrap() + 2;
    let mut bytes = canonical.into_bytes();
    bytes[at] ^= 0x01;
    event["canonical"] = json!(String::from_utf8(bytes).unwrap());
    let (outcome, summary) =
        verify_in_page(&browser, &serde_json::to_string(&tampered).unwrap(), &key).await;
    assert_eq!(outcome, "failed", "{summary}");
    let after = rows(&browser).await;
    let failed: Vec<_> = after.iter().filter(|(_, o, _)| o == "failed").collect();
    assert_eq!(failed.len(), 1, "{after:?}");
    assert_eq!(failed[0].0, changed);
    assert!(failed[0].2.contains("leaf hash"), "{:?}", failed[0]);
    browser.screenshot("verifier-tampered").await;

    // A key that is not the bank's: the checkpoint fails, and with it every event.
    let origin = bundle["origin"].as_str().unwrap();
    let wrong = SigningKey::from_seed(origin, [7; 32])
        .unwrap()
        .verifier_key()
        .to_string();
    let (outcome, summary) = verify_in_page(&browser, &text, &wrong).await;
    assert_eq!(outcome, "failed", "{summary}");
    assert!(summary.contains("Checkpoint FAILED"), "{summary}");

    // Saved to disk and opened with no server: the same verdicts.
    let (_, page) = srv.get("/verify").await;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("verify.html");
    std::fs::write(&saved, page).unwrap();
    browser
        .client
        .goto(&format!("file://{}", saved.display()))
        .await
        .unwrap();
    let (outcome, summary) = verify_in_page(&browser, &text, &key).await;
    assert_eq!(outcome, "verified", "{summary}");
    let (outcome, _) =
        verify_in_page(&browser, &serde_json::to_string(&tampered).unwrap(), &key).await;
    assert_eq!(outcome, "failed");
    browser.close().await;
}
