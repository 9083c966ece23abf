//! Every way a bearer token can be wrong is `UNAUTHENTICATED` (HTTP 401), and nothing else
//! about the request is looked at.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lvyue_api::auth::{Claims, Minter, TokenTimes};
use lvyue_api::config::{JwtAlgorithm, Secret};

use crate::harness::{TestServer, bank, first_code, merchant, regulator};
use crate::world::registered;

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
    // This server takes EdDSA tokens only: the regulator is registered directly, as the bank.
    let reg = regulator();
    let party = srv
        .running()
        .state()
        .escrow
        .execute(
            &bank(),
            None,
            &lvyue_domain::party::RegisterRegulator {
                name: "南京市交通运输局".into(),
                jurisdiction: reg.jurisdiction.clone(),
            },
        )
        .await
        .unwrap();
    let reg = lvyue_domain::principal::Principal {
        party_id: Some(party.id),
        ..reg
    };
    let good = minter.mint(&reg, Duration::from_secs(600)).unwrap();
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

/// A token signed with the server's own secret, but with whatever header and payload bytes.
fn signed_raw(srv: &TestServer, header: &serde_json::Value, payload_json: &str) -> String {
    use hmac_sign::sign;
    let head = format!("{}.{}", b64(header), URL_SAFE_NO_PAD.encode(payload_json));
    format!(
        "{head}.{}",
        sign(srv_secret(srv).expose().as_bytes(), head.as_bytes())
    )
}

/// HMAC-SHA256 through jsonwebtoken's own signer (no extra crate).
mod hmac_sign {
    pub fn sign(secret: &[u8], message: &[u8]) -> String {
        let key = jsonwebtoken::EncodingKey::from_secret(secret);
        jsonwebtoken::crypto::sign(message, &key, jsonwebtoken::Algorithm::HS256).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_token_attacks_are_unauthenticated() {
    let srv = TestServer::start().await;
    let merchant_party = registered(&srv, merchant())
        .await
        .party_id
        .expect("party")
        .to_string();
    let t = now();
    let claims = |extra: serde_json::Value| {
        let mut p = serde_json::json!({
            "sub": "intruder", "role": "MERCHANT", "party_id": merchant_party, "iss": "lvyue",
            "aud": "lvyue-api", "iat": t, "nbf": t, "exp": t + 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let secret = srv_secret(&srv);
    let key = jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes());
    // Another HMAC strength with the right secret: the algorithm is pinned to HS256.
    for alg in [
        jsonwebtoken::Algorithm::HS384,
        jsonwebtoken::Algorithm::HS512,
    ] {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims(serde_json::json!({})),
            &key,
        )
        .unwrap();
        assert_unauthenticated(&srv, &token, &format!("{alg:?} with the right secret")).await;
    }
    // Header tricks with a valid HS256 signature by the right secret must not matter, and the
    // same tricks with a wrong key must not help.
    let header_tricks = [
        serde_json::json!({"alg": "HS256", "kid": "../../../../dev/null"}),
        serde_json::json!({"alg": "HS256", "jku": "https://attacker.example/jwks.json"}),
        serde_json::json!({"alg": "HS256", "x5u": "https://attacker.example/cert.pem"}),
        serde_json::json!({"alg": "HS256", "crit": ["exp"], "typ": "JWE"}),
    ];
    for h in &header_tricks {
        let mut wrong = signed_raw(&srv, h, &claims(serde_json::json!({})).to_string());
        wrong.push('A');
        assert_unauthenticated(&srv, &wrong, &format!("{h} with a bad signature")).await;
    }
    // Claims that are malformed though correctly signed.
    let hs = serde_json::json!({"alg": "HS256", "typ": "JWT"});
    let bad_payloads = [
        ("exp as a string", claims(serde_json::json!({"exp": format!("{}", t + 600)})).to_string()),
        ("exp in the past by a day", claims(serde_json::json!({"exp": t - 86_400})).to_string()),
        ("party id with SQL", claims(serde_json::json!({"party_id": "pty_1 OR 1=1"})).to_string()),
        ("subject of 129 characters", claims(serde_json::json!({"sub": "s".repeat(129)})).to_string()),
        ("subject with a control character", claims(serde_json::json!({"sub": "a\u{0}b"})).to_string()),
        (
            "a regulator scope of 65 regions",
            claims(serde_json::json!({"role": "REGULATOR", "scope": {"regions": vec!["3201"; 65], "industries": ["DRIVING_SCHOOL"]}})).to_string(),
        ),
        (
            "two role claims",
            format!(
                r#"{{"sub":"x","role":"MERCHANT","role":"BANK","party_id":"pty_11","iss":"lvyue","aud":"lvyue-api","iat":{t},"nbf":{t},"exp":{}}}"#,
                t + 600
            ),
        ),
        (
            "valid until the year 9999",
            claims(serde_json::json!({"exp": 253_402_300_799_i64})).to_string(),
        ),
        (
            "valid for 31 days",
            claims(serde_json::json!({"exp": t + 31 * 86_400})).to_string(),
        ),
        (
            "a subject with a zero-width space",
            claims(serde_json::json!({"sub": "intru\u{200b}der"})).to_string(),
        ),
        (
            "a subject with a right-to-left override",
            claims(serde_json::json!({"sub": "\u{202e}redurtni"})).to_string(),
        ),
        ("not an object", "[1,2,3]".to_owned()),
        ("not JSON", "{role: BANK".to_owned()),
    ];
    for (case, payload) in &bad_payloads {
        assert_unauthenticated(&srv, &signed_raw(&srv, &hs, payload), case).await;
    }
    // An encrypted-token (JWE) shape, five segments.
    assert_unauthenticated(&srv, "eyJhbGciOiJkaXIifQ..AAAA.BBBB.CCCC", "five segments").await;
    // The sanity check: the same construction with good claims is accepted.
    let good = signed_raw(&srv, &hs, &claims(serde_json::json!({})).to_string());
    let (status, body) = srv.graphql(Some(&good), "{ me { role } }").await;
    assert_eq!(
        (status, &body["data"]["me"]["role"]),
        (200, &serde_json::json!("MERCHANT")),
        "{body}"
    );
    let (status, _) = srv.get("/healthz").await;
    assert_eq!(status, 200, "still healthy");
}
