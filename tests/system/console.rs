//! The GraphQL console at `/`, in a real browser that can reach nothing but the server: it
//! renders, runs a query, takes a pasted token into its header editor, and loads nothing from
//! anywhere else. With `LVYUE_GRAPHIQL=off` it is gone, and only authenticated callers may
//! introspect the schema.

use fantoccini::Locator;
use serde_json::json;

use crate::browser::Browser;
use crate::harness::{TestServer, bank};

/// A script that is true once the result pane shows `text`.
fn result_shows(text: &str) -> String {
    format!(
        "const r = document.querySelector('.result-window'); \
         return !!r && r.innerText.includes({})",
        json!(text)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_offline_and_takes_a_pasted_token() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let srv = TestServer::start().await;
    let c = &browser.client;
    c.goto(&srv.url("/")).await.unwrap();
    browser
        .wait_until(
            "GraphiQL to render",
            "return !!document.querySelector('.graphiql-execute-button')",
        )
        .await;
    c.find(Locator::Css(".graphiql-execute-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "the answer to { apiVersion }",
            &result_shows(&format!(
                "\"apiVersion\": \"{}\"",
                env!("CARGO_PKG_VERSION")
            )),
        )
        .await;
    let who = c
        .find(Locator::Id("who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains("anonymous"), "{who}");

    // A token pasted once fills the Authorization header, and queries run as its holder.
    let token = srv.token(&bank());
    let field = c.find(Locator::Id("token")).await.unwrap();
    field.send_keys(&token).await.unwrap();
    field.send_keys("\u{E007}").await.unwrap(); // Enter
    browser
        .wait_until(
            "the header editor to show the token",
            &format!(
                "return [...document.querySelectorAll('.CodeMirror')].some(e => e.CodeMirror && \
                 e.CodeMirror.getValue().includes('Bearer {token}'))"
            ),
        )
        .await;
    let who = c
        .find(Locator::Id("who"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains("BANK"), "{who}");
    c.execute(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror\
         .setValue('{ me { role } }')",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Css(".graphiql-execute-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "the answer to { me { role } }",
            &result_shows("\"role\": \"BANK\""),
        )
        .await;
    browser.screenshot("console").await;

    // The token stays for this tab, and nothing came from anywhere but the server.
    c.refresh().await.unwrap();
    browser
        .wait_until(
            "the token to be kept",
            "return document.getElementById('token').value.length > 0",
        )
        .await;
    let origin = srv.url("/");
    for url in browser.loaded_urls().await {
        assert!(url.starts_with(&origin), "the console loaded {url}");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_forbids_every_other_origin() {
    let srv = TestServer::start().await;
    for path in ["/", "/console/graphiql.min.js", "/console/console.js"] {
        let resp = srv.client.get(srv.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
    }
    let (status, _) = srv.get("/console/no-such-file.js").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_console_off_only_callers_with_a_token_introspect() {
    let srv = TestServer::start_with(|c| c.graphiql = lvyue_api::config::Console::Off).await;
    for path in ["/", "/console/graphiql.min.js"] {
        let (status, _) = srv.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    let introspect = "{ __schema { queryType { name } } }";
    let anonymous = srv.gql(None, introspect, json!({})).await;
    assert!(anonymous["data"]["__schema"].is_null(), "{anonymous}");
    // The public fields still answer.
    let public = TestServer::ok(srv.gql(None, "{ apiVersion }", json!({})).await);
    assert_eq!(public["apiVersion"], env!("CARGO_PKG_VERSION"));
    let banked = TestServer::ok(srv.gql(Some(&bank()), introspect, json!({})).await);
    assert_eq!(banked["__schema"]["queryType"]["name"], "Query");

    // On by default: anyone may introspect, as the console needs.
    let open = TestServer::start().await;
    let anyone = TestServer::ok(open.gql(None, introspect, json!({})).await);
    assert_eq!(anyone["__schema"]["queryType"]["name"], "Query");
}
