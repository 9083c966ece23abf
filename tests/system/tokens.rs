//! Every way a bearer token can be wrong is `UNAUTHENTICATED` (HTTP 401), and nothing else
//! about the request is looked at.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lvyue_api::auth::{Claims, Minter, TokenTimes};
use lvyue_api::config::{JwtAlgorithm, Secret};

use crate::harness::{TestServer, bank, first_code, merchant, regulator};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn assert_unauthenticated(srv: &TestServer, token: &str, case: &str) {
    let (status, body) = srv
        .post_raw(
            Some(&format!("Bearer {token}")),
            br#"{"query":"{ apiVersion }"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 401, "{case}: {body}");
    assert_eq!(first_code(&body), "UNAUTHENTICATED", "{case}: {body}");
    assert!(body["data"].is_null(), "{case}: {body}");
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_is_accepted() {
    let srv = TestServer::start().await;
    let (status, body) = srv
        .graphql(Some(&srv.token(&bank())), "{ me { role } }")
        .await;
    assert_eq!(
        (status, &body["data"]["me"]["role"]),
        (200, &serde_json::json!("BANK")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_hs256_tokens_are_unauthenticated() {
    let srv = TestServer::start().await;
    let minter = srv.minter();
    let claims = Claims::for_principal(&merchant());
    let t = now();

    let expired = minter
        .encode(
            &claims,
            TokenTimes {
                issued_at: t - 7200,
                not_before: t - 7200,
                expires_at: t - 3600,
            },
        )
        .unwrap();
    assert_unauthenticated(&srv, &expired, "expired").await;

    let premature = minter
        .encode(
            &claims,
            TokenTimes {
                issued_at: t,
                not_before: t + 3600,
                expires_at: t + 7200,
            },
        )
        .unwrap();
    assert_unauthenticated(&srv, &premature, "not yet valid").await;

    let other_key = Minter::hs256(
        &Secret::new("another-secret-of-at-least-thirty-two-bytes"),
        "lvyue",
        "lvyue-api",
    )
    .unwrap();
    let wrong_signature = other_key
        .mint(&merchant(), Duration::from_secs(600))
        .unwrap();
    assert_unauthenticated(&srv, &wrong_signature, "wrong signature").await;

    let wrong_audience = Minter::hs256(&srv_secret(&srv), "lvyue", "someone-else")
        .unwrap()
        .mint(&merchant(), Duration::from_secs(600))
        .unwrap();
    assert_unauthenticated(&srv, &wrong_audience, "wrong audience").await;

    let wrong_issuer = Minter::hs256(&srv_secret(&srv), "evil-idp", "lvyue-api")
        .unwrap()
        .mint(&merchant(), Duration::from_secs(600))
        .unwrap();
    assert_unauthenticated(&srv, &wrong_issuer, "wrong issuer").await;

    let mut unknown_role = claims.clone();
    unknown_role.role = "ADMIN".into();
    assert_unauthenticated(
        &srv,
        &minter
            .encode(
                &unknown_role,
                TokenTimes::starting_now(Duration::from_secs(600)),
            )
            .unwrap(),
        "unknown role",
    )
    .await;

    let mut no_party = claims.clone();
    no_party.party_id = None;
    assert_unauthenticated(
        &srv,
        &minter
            .encode(
                &no_party,
                TokenTimes::starting_now(Duration::from_secs(600)),
            )
            .unwrap(),
        "missing party_id",
    )
    .await;

    let mut bad_party = claims.clone();
    bad_party.party_id = Some("ord_1".into());
    assert_unauthenticated(
        &srv,
        &minter
            .encode(
                &bad_party,
                TokenTimes::starting_now(Duration::from_secs(600)),
            )
            .unwrap(),
        "party id of another type",
    )
    .await;

    let mut scopeless = Claims::for_principal(&regulator());
    scopeless.scope = None;
    assert_unauthenticated(
        &srv,
        &minter
            .encode(
                &scopeless,
                TokenTimes::starting_now(Duration::from_secs(600)),
            )
            .unwrap(),
        "regulator without scope",
    )
    .await;

    let mut huge = Claims::for_principal(&bank());
    huge.sub = "x".repeat(20_000);
    assert_unauthenticated(
        &srv,
        &minter
            .encode(&huge, TokenTimes::starting_now(Duration::from_secs(600)))
            .unwrap(),
        "huge token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_tokens_are_unauthenticated() {
    let srv = TestServer::start().await;
    let valid = srv.token(&merchant());
    let t = now();
    let payload = serde_json::json!({
        "sub": "intruder", "role": "BANK", "iss": "lvyue", "aud": "lvyue-api", "iat": t, "nbf": t, "exp": t + 600,
    });

    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({ "alg": "none", "typ": "JWT" })),
        b64(&payload)
    );
    assert_unauthenticated(&srv, &alg_none, "alg none").await;
    let alg_none_upper = format!(
        "{}.{}.",
        b64(&serde_json::json!({ "alg": "NONE" })),
        b64(&payload)
    );
    assert_unauthenticated(&srv, &alg_none_upper, "alg NONE").await;

    // The valid token's header and signature around a payload that says BANK.
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert_unauthenticated(&srv, &tampered, "tampered payload").await;

    // Registered claims are required: a token without exp, nbf, iss or aud.
    for missing in ["exp", "nbf", "iss", "aud", "sub"] {
        let mut p = payload.clone();
        p.as_object_mut().unwrap().remove(missing);
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &p,
            &jsonwebtoken::EncodingKey::from_secret(srv_secret(&srv).expose().as_bytes()),
        )
        .unwrap();
        assert_unauthenticated(&srv, &token, &format!("no {missing}")).await;
    }

    for garbage in [
        "",
        "a.b",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "Ünïcødé.🙂.x",
        &"A".repeat(9_000),
    ] {
        assert_unauthenticated(&srv, garbage, &format!("garbage {garbage:.20}")).await;
    }

    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "bearer",
        &format!("Token {valid}"),
    ] {
        let (status, body) = srv
            .post_raw(Some(header), br#"{"query":"{ apiVersion }"}"#.to_vec())
            .await;
        assert_eq!(
            (status, first_code(&body)),
            (401, "UNAUTHENTICATED"),
            "{header:.20}: {body}"
        );
    }
    let (status, _) = srv.get("/healthz").await;
    assert_eq!(status, 200, "still healthy");
}

/// The secret the server generated in its data directory.
fn srv_secret(srv: &TestServer) -> Secret {
    lvyue_api::auth::hs256_secret(&srv.config.jwt, srv.data_dir()).unwrap()
}

fn ed25519_keys(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use ed25519_dalek::pkcs8::spki::EncodePublicKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private = dir.join("ed25519.pem");
    let public = dir.join("ed25519.pub.pem");
    std::fs::write(
        &private,
        key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(&public, &public_pem).unwrap();
    (private, public, public_pem.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_server_refuses_hs256_tokens_signed_with_its_public_key() {
    let public =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/rs256-public.pem");
    let public_pem = std::fs::read_to_string(&public).unwrap();
    let srv = TestServer::start_with(|c| {
        c.jwt.alg = JwtAlgorithm::Rs256;
        c.jwt.public_key_file = Some(public.clone());
    })
    .await;
    let confused = Minter::hs256(&Secret::new(public_pem), "lvyue", "lvyue-api")
        .unwrap()
        .mint(&bank(), Duration::from_secs(600))
        .unwrap();
    assert_unauthenticated(&srv, &confused, "HS256 signed with the RS256 public key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eddsa_server_accepts_its_keys_tokens_and_refuses_hs256_confusion() {
    let keys = tempfile::tempdir().unwrap();
    let (private, public, public_pem) = ed25519_keys(keys.path());
    let srv = TestServer::start_with(|c| {
        c.jwt.alg = JwtAlgorithm::EdDsa;
        c.jwt.public_key_file = Some(public.clone());
    })
    .await;

    let minter = Minter::with_private_key(
        JwtAlgorithm::EdDsa,
        &std::fs::read(&private).unwrap(),
        "lvyue",
        "lvyue-api",
    )
    .unwrap();
    let good = minter.mint(&regulator(), Duration::from_secs(600)).unwrap();
    let (status, body) = srv.graphql(Some(&good), "{ me { role } }").await;
    assert_eq!(
        (status, &body["data"]["me"]["role"]),
        (200, &serde_json::json!("REGULATOR")),
        "{body}"
    );

    let confused = Minter::hs256(
        &Secret::new(String::from_utf8(public_pem).unwrap()),
        "lvyue",
        "lvyue-api",
    )
    .unwrap()
    .mint(&bank(), Duration::from_secs(600))
    .unwrap();
    assert_unauthenticated(&srv, &confused, "HS256 signed with the EdDSA public key").await;

    let other_keys = tempfile::tempdir().unwrap();
    let (other_private, _, _) = ed25519_keys(other_keys.path());
    let stranger = Minter::with_private_key(
        JwtAlgorithm::EdDsa,
        &std::fs::read(&other_private).unwrap(),
        "lvyue",
        "lvyue-api",
    )
    .unwrap();
    assert_unauthenticated(
        &srv,
        &stranger.mint(&bank(), Duration::from_secs(600)).unwrap(),
        "EdDSA with another key",
    )
    .await;
}
