//! The HTTP surface: health, readiness, metrics, GraphiQL, and `me` for every role.

use lvyue_domain::testing::Backend;

use crate::harness::{
    TestServer, bank, court, first_code, merchant, on_both_backends, payer, regulator,
};
use crate::world::{monday, registered};

on_both_backends!(health_and_readiness_answer, |srv| {
    let (status, body) = srv.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    srv.stop().await;
});

/// A fresh server, on a clock far from the end of the loaded holiday calendar (near its end
/// the scheduler's first pass writes a warning into the log).
async fn fresh(backend: Backend) -> Option<TestServer> {
    Some(TestServer::start_at(backend, monday()).await?.0)
}

async fn a_bank_operator_sees_the_server_status(backend: Backend) {
    let Some(mut srv) = fresh(backend).await else {
        return;
    };
    let (status, body) = srv
        .graphql(
            Some(&srv.token(&bank())),
            "{ serverStatus { databaseBackend logSize version } }",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = if srv.db.backend == lvyue_domain::testing::Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(
        body["data"]["serverStatus"]["databaseBackend"], expected,
        "{body}"
    );
    assert_eq!(body["data"]["serverStatus"]["logSize"], 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_operator_sees_the_server_status_sqlite() {
    a_bank_operator_sees_the_server_status(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_operator_sees_the_server_status_postgres() {
    a_bank_operator_sees_the_server_status(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_errors_and_the_log() {
    let srv = fresh(Backend::Sqlite).await.expect("sqlite");
    srv.graphql(None, "{ apiVersion }").await;
    srv.graphql(None, "{ me { role } }").await;
    let (status, text) = srv.get("/metrics").await;
    assert_eq!(status, 200);
    for needle in [
        "lvyue_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}",
        "lvyue_http_request_duration_seconds_bucket{",
        "lvyue_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1",
        "lvyue_log_size 0",
        "lvyue_checkpoint_size 0",
        "lvyue_search_index_lag 0",
        // 2026-03-02 to the end of 2026, the last year shipped.
        "lvyue_holiday_calendar_days_left 304",
        // Nothing is due on a fresh server.
        "lvyue_jobs_overdue 0",
        "lvyue_webhook_deliveries_pending 0",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let gauge = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in\n{text}"))
    };
    let (open, idle, max) = (
        gauge("lvyue_db_pool_connections_open"),
        gauge("lvyue_db_pool_connections_idle"),
        gauge("lvyue_db_pool_connections_max"),
    );
    assert!(
        open >= 1 && idle <= open && open <= max,
        "{open} {idle} {max}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_at_the_root() {
    let srv = TestServer::start().await;
    let (status, html) = srv.get("/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("/graphql/ws") && html.to_lowercase().contains("graphiql"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_itself_in_me() {
    let srv = TestServer::start().await;
    let mut parties = vec![bank()];
    for p in [merchant(), payer(), regulator(), court()] {
        parties.push(registered(&srv, p).await);
    }
    for p in parties {
        let party = p.party_id.map(|id| id.to_string());
        let (status, body) = srv
            .graphql(
                Some(&srv.token(&p)),
                "{ me { subject role partyId jurisdiction { regions industries } } }",
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let me = &body["data"]["me"];
        assert_eq!(me["subject"], p.subject.as_str(), "{body}");
        assert_eq!(me["role"], p.role.as_str());
        assert_eq!(me["partyId"].as_str(), party.as_deref());
        if p.role == lvyue_domain::principal::Role::Regulator {
            assert_eq!(
                me["jurisdiction"],
                serde_json::json!({ "regions": ["3201"], "industries": ["DRIVING_SCHOOL"] })
            );
        } else {
            assert!(me["jurisdiction"].is_null(), "{body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_get_public_fields_and_are_refused_guarded_ones() {
    let srv = TestServer::start().await;
    let (status, body) = srv.graphql(None, "{ apiVersion }").await;
    assert_eq!(status, 200);
    assert!(body["data"]["apiVersion"].is_string(), "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    let (status, body) = srv.graphql(None, "{ apiVersion me { role } }").await;
    assert_eq!(status, 200);
    assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");
    assert!(body["data"]["me"].is_null());
    assert!(
        body["data"]["apiVersion"].is_string(),
        "the public field survives: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_outside_a_guard_is_forbidden() {
    let srv = TestServer::start().await;
    for p in [merchant(), payer(), regulator(), court()] {
        let p = registered(&srv, p).await;
        let (_, body) = srv
            .graphql(Some(&srv.token(&p)), "{ serverStatus { version } }")
            .await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{}: {body}", p.role);
        assert!(body["data"]["serverStatus"].is_null());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_and_syntax_errors_are_validation_errors() {
    let srv = TestServer::start().await;
    for q in ["{ nope }", "{ me { ", "", "query { apiVersion(x: 1) }"] {
        let (status, body) = srv.graphql(None, q).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(first_code(&body), "VALIDATION", "{q}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_refused_plainly() {
    let srv = TestServer::start().await;
    assert_eq!(srv.get("/nope").await.0, 404);
    assert_eq!(srv.get("/graphql").await.0, 405);
}

/// Every answer names its request: a fresh id each time, or the one a proxy sent, so that an
/// operator can find the request's log lines from what a user reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let srv = TestServer::start().await;
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut seen = std::collections::HashSet::new();
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/nope"),
        ("GET", "/graphql"),
        ("POST", "/graphql"),
    ] {
        let req = match method {
            "GET" => srv.client.get(srv.url(path)),
            _ => srv
                .client
                .post(srv.url(path))
                .json(&serde_json::json!({"query": "{ apiVersion }"})),
        };
        let resp = req.send().await.unwrap();
        let id = id_of(&resp).unwrap_or_else(|| panic!("{method} {path}: no x-request-id"));
        assert_eq!(id.len(), 36, "{method} {path}: a UUID, not {id:?}");
        assert!(seen.insert(id), "{method} {path}: a fresh id");
    }
    let resp = srv
        .client
        .get(srv.url("/healthz"))
        .header("x-request-id", "proxy-7f3a-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&resp).as_deref(), Some("proxy-7f3a-0001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_answer_only_to_it() {
    let srv = TestServer::start_with(|c| {
        c.metrics_token = Some(lvyue_api::config::Secret::new("scrape-me-7f3a"));
    })
    .await;
    let (status, body) = srv.get("/metrics").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("lvyue_log_size"), "{body}");
    for wrong in [
        "Bearer scrape-me",
        "Bearer scrape-me-7f3b",
        "scrape-me-7f3a",
    ] {
        let r = srv
            .client
            .get(srv.url("/metrics"))
            .header("Authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{wrong}");
    }
    let r = srv
        .client
        .get(srv.url("/metrics"))
        .bearer_auth("scrape-me-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("lvyue_log_size"));
}
