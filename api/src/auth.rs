//! Bearer tokens: checking a JWT into a [`Principal`], and minting one for `lvyue token`.
//!
//! The algorithm is pinned by configuration: a token whose header names another algorithm is
//! refused before any key is touched, so `alg: none` and HS256-signed-with-the-public-key
//! ("HS/RS confusion") cannot pass. `iss`, `aud`, `exp` and `nbf` are required and checked with
//! [`LEEWAY_SECS`] of clock skew. Claims: `sub`, `role` (`BANK`, `MERCHANT`, `PAYER`,
//! `REGULATOR`, `COURT`), `party_id` (`pty_12`; required for every role but the bank) and, for
//! regulators, `scope` `{ "regions": ["3201"], "industries": ["DRIVING_SCHOOL"] }`.
//!
//! Every failure is an [`AuthError`], answered as `UNAUTHENTICATED`. Tokens are never logged.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use lvyue_domain::ids::PartyId;
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, RegionPrefix, Role};

use crate::config::{JwtAlgorithm, JwtConfig, Secret};

/// Longest token accepted, in bytes. Ours are a few hundred; a huge one is an attack on the
/// parser or the logs.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// Longest lifetime `lvyue token` will mint.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Shortest HS256 secret accepted: 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest `sub` accepted (it is recorded with every command and access-log entry).
pub const MAX_SUBJECT_CHARS: usize = 128;
/// Most region prefixes or industries one regulator scope may list.
pub const MAX_SCOPE_ENTRIES: usize = 64;
/// The file in the data directory holding the generated local HS256 secret.
pub const SECRET_FILE: &str = "jwt-secret";

/// Why a token was refused. The message is safe to show the caller: it names the failed check,
/// never the token or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header must be `Bearer <token>`")]
    MalformedHeader,
    #[error("token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    WrongAlgorithm,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token lacks the {0} claim")]
    MissingClaim(String),
    #[error("token claim {0} is invalid")]
    InvalidClaim(&'static str),
    #[error("token role is unknown")]
    UnknownRole,
    #[error("a {0} token must carry party_id")]
    MissingParty(Role),
    #[error("a regulator token must carry a scope with regions and industries")]
    MissingScope,
    #[error("token is valid for longer than the {0} days this server accepts")]
    LifetimeTooLong(u32),
}

/// The Lvyue claims of a token (the registered ones, `iss`/`aud`/`iat`/`nbf`/`exp`, are checked
/// by `jsonwebtoken` and set by [`Minter`]). Raw strings, so tests can build hostile tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeClaim>,
}

/// A regulator's scope as carried in a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeClaim {
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub industries: Vec<String>,
}

impl Claims {
    /// The claims that stand for `principal`.
    pub fn for_principal(principal: &Principal) -> Claims {
        let j = &principal.jurisdiction;
        let scope = (principal.role == Role::Regulator).then(|| ScopeClaim {
            regions: j.regions.iter().map(|r| r.as_str().to_owned()).collect(),
            industries: j.industries.iter().map(|i| i.as_str().to_owned()).collect(),
        });
        Claims {
            sub: principal.subject.clone(),
            role: principal.role.as_str().to_owned(),
            party_id: principal.party_id.map(|p| p.to_string()),
            scope,
        }
    }

    /// The principal these claims stand for.
    ///
    /// # Errors
    /// A claim that is missing, unknown or malformed for the role.
    pub fn into_principal(self) -> Result<Principal, AuthError> {
        // The subject is recorded with everything the caller does: plain visible text only, no
        // control, bidi or zero-width characters that would make two subjects look alike.
        if self.sub.trim() != self.sub
            || lvyue_domain::text::required("sub", &self.sub, MAX_SUBJECT_CHARS).is_err()
        {
            return Err(AuthError::InvalidClaim("sub"));
        }
        let role: Role = self.role.parse().map_err(|_| AuthError::UnknownRole)?;
        let party_id = match self.party_id {
            Some(p) => Some(
                p.parse::<PartyId>()
                    .map_err(|_| AuthError::InvalidClaim("party_id"))?,
            ),
            None => None,
        };
        if role != Role::Bank && party_id.is_none() {
            return Err(AuthError::MissingParty(role));
        }
        // A scope only means something for a regulator; on other roles it is ignored.
        let jurisdiction = if role == Role::Regulator {
            let scope = self.scope.ok_or(AuthError::MissingScope)?;
            if scope.regions.is_empty() || scope.industries.is_empty() {
                return Err(AuthError::MissingScope);
            }
            if scope.regions.len() > MAX_SCOPE_ENTRIES || scope.industries.len() > MAX_SCOPE_ENTRIES
            {
                return Err(AuthError::InvalidClaim("scope"));
            }
            let regions = scope
                .regions
                .iter()
                .map(|r| r.parse::<RegionPrefix>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| AuthError::InvalidClaim("scope.regions"))?;
            let industries = scope
                .industries
                .iter()
                .map(|i| i.parse::<Industry>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| AuthError::InvalidClaim("scope.industries"))?;
            Jurisdiction {
                regions,
                industries,
            }
        } else {
            Jurisdiction::default()
        };
        Ok(Principal {
            subject: self.sub,
            role,
            party_id,
            jurisdiction,
        })
    }
}

/// `iat`, `nbf` and `exp` of a token, in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    pub issued_at: i64,
    pub not_before: i64,
    pub expires_at: i64,
}

impl TokenTimes {
    /// Valid from now for `ttl`.
    pub fn starting_now(ttl: Duration) -> TokenTimes {
        let now = chrono::Utc::now().timestamp();
        let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        TokenTimes {
            issued_at: now,
            not_before: now,
            expires_at: now.saturating_add(ttl_secs),
        }
    }
}

/// Installs jsonwebtoken's crypto backend for the process. jsonwebtoken 11 panics at the first
/// encode or decode without one (docs/design.md, "Stack notes"). Idempotent; called by every
/// constructor here, so no caller can forget it.
pub fn install_crypto_provider() {
    use jsonwebtoken::crypto::{CryptoProvider, rust_crypto};
    // Err means a provider is already installed, which is what we want.
    let _ = CryptoProvider::install_default(&rust_crypto::DEFAULT_PROVIDER);
}

fn algorithm(alg: JwtAlgorithm) -> Algorithm {
    match alg {
        JwtAlgorithm::Hs256 => Algorithm::HS256,
        JwtAlgorithm::EdDsa => Algorithm::EdDSA,
        JwtAlgorithm::Rs256 => Algorithm::RS256,
    }
}

/// Checks bearer tokens. Built once at start from the configuration.
pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
    max_lifetime_days: u32,
}

/// The claims of a presented token with the expiry the checks need.
#[derive(Deserialize)]
struct Presented {
    #[serde(flatten)]
    claims: Claims,
    exp: i64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The authenticator for `config`: HS256 with the configured or generated secret, or
    /// EdDSA/RS256 with the public key file.
    ///
    /// # Errors
    /// A missing or unreadable key, or a secret that is too short.
    pub fn from_config(config: &JwtConfig, data_dir: &Path) -> anyhow::Result<Authenticator> {
        install_crypto_provider();
        let key = match config.alg {
            JwtAlgorithm::Hs256 => {
                DecodingKey::from_secret(hs256_secret(config, data_dir)?.expose().as_bytes())
            }
            JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256 => {
                let path = config.public_key_file.as_deref().with_context(|| {
                    format!(
                        "LVYUE_JWT_ALG={} needs LVYUE_JWT_PUBLIC_KEY_FILE",
                        config.alg.as_str()
                    )
                })?;
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read JWT public key {}", path.display()))?;
                let key = if config.alg == JwtAlgorithm::EdDsa {
                    DecodingKey::from_ed_pem(&pem)
                } else {
                    DecodingKey::from_rsa_pem(&pem)
                };
                key.with_context(|| {
                    format!(
                        "{} is not a PEM {} public key",
                        path.display(),
                        config.alg.as_str()
                    )
                })?
            }
        };
        let mut validation = Validation::new(algorithm(config.alg));
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        Ok(Authenticator {
            key,
            validation,
            max_lifetime_days: config.max_lifetime_days,
        })
    }

    /// The principal of an `Authorization` header value: `None` when there is no header
    /// (an anonymous caller).
    ///
    /// # Errors
    /// Any header that is present but not a valid bearer token.
    pub fn authenticate_header(
        &self,
        header: Option<&str>,
    ) -> Result<Option<Principal>, AuthError> {
        let Some(value) = header else { return Ok(None) };
        let token = bearer_token(value)?;
        self.authenticate(token).map(Some)
    }

    /// The principal of a bare token.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLong);
        }
        let data = jsonwebtoken::decode::<Presented>(token, &self.key, &self.validation)
            .map_err(|e| classify(e.kind()))?;
        // A stolen token must not outlive the rotation of its key by years.
        let now = chrono::Utc::now().timestamp();
        let max = i64::from(self.max_lifetime_days) * 86_400 + LEEWAY_SECS as i64;
        if data.claims.exp.saturating_sub(now) > max {
            return Err(AuthError::LifetimeTooLong(self.max_lifetime_days));
        }
        data.claims.claims.into_principal()
    }
}

/// The principal a verified token stands for as the party's registration honours it (the
/// party exists, is of the token's kind and in business; a regulator's scope is narrowed to
/// its registered jurisdiction). Anonymous stays anonymous.
///
/// # Errors
/// `UNAUTHENTICATED` for a token the registration does not honour; database errors.
pub async fn registered(
    escrow: &lvyue_domain::Escrow,
    principal: Option<Principal>,
) -> Result<Option<Principal>, lvyue_domain::DomainError> {
    match principal {
        Some(p) => Ok(Some(
            lvyue_domain::registration::registered(escrow.db(), p).await?,
        )),
        None => Ok(None),
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, as RFC 9110 says).
fn bearer_token(value: &str) -> Result<&str, AuthError> {
    if value.len() > MAX_TOKEN_BYTES + "Bearer ".len() {
        return Err(AuthError::TooLong);
    }
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => AuthError::WrongAlgorithm,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.chars().take(16).collect()),
        ErrorKind::InvalidClaimFormat(_) => AuthError::InvalidClaim("time"),
        // An unknown alg name ("none") fails while the header is parsed, as JSON.
        _ => AuthError::Malformed,
    }
}

/// Mints tokens (`lvyue token`, the demo loader, tests).
pub struct Minter {
    key: EncodingKey,
    alg: Algorithm,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter")
            .field("alg", &self.alg)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Minter {
    /// An HS256 minter with `secret`.
    ///
    /// # Errors
    /// A secret shorter than [`MIN_SECRET_BYTES`].
    pub fn hs256(secret: &Secret, issuer: &str, audience: &str) -> anyhow::Result<Minter> {
        install_crypto_provider();
        check_secret(secret)?;
        Ok(Minter {
            key: EncodingKey::from_secret(secret.expose().as_bytes()),
            alg: Algorithm::HS256,
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// An EdDSA or RS256 minter with a PEM (PKCS#8) private key.
    ///
    /// # Errors
    /// A key that is not a PEM private key of that algorithm, or `alg` HS256.
    pub fn with_private_key(
        alg: JwtAlgorithm,
        pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Minter> {
        install_crypto_provider();
        let key = match alg {
            JwtAlgorithm::EdDsa => {
                EncodingKey::from_ed_pem(pem).context("not a PEM Ed25519 private key")?
            }
            JwtAlgorithm::Rs256 => {
                EncodingKey::from_rsa_pem(pem).context("not a PEM RSA private key")?
            }
            JwtAlgorithm::Hs256 => bail!("HS256 signs with the shared secret, not a private key"),
        };
        Ok(Minter {
            key,
            alg: algorithm(alg),
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// The minter that matches `config`: HS256 with the configured or generated secret, or the
    /// private key file for EdDSA/RS256.
    ///
    /// # Errors
    /// A missing key or unreadable key file.
    pub fn from_config(
        config: &JwtConfig,
        data_dir: &Path,
        private_key_file: Option<&Path>,
    ) -> anyhow::Result<Minter> {
        match config.alg {
            JwtAlgorithm::Hs256 => Minter::hs256(
                &hs256_secret(config, data_dir)?,
                &config.issuer,
                &config.audience,
            ),
            alg => {
                let path = private_key_file.with_context(|| {
                    format!(
                        "LVYUE_JWT_ALG={} needs --private-key-file to sign",
                        alg.as_str()
                    )
                })?;
                let pem = std::fs::read(path)
                    .with_context(|| format!("cannot read private key {}", path.display()))?;
                Minter::with_private_key(alg, &pem, &config.issuer, &config.audience)
            }
        }
    }

    /// A token for `principal`, valid from now for `ttl` (at most [`MAX_TTL`]).
    ///
    /// # Errors
    /// A TTL of zero or over the maximum, or a signing failure.
    pub fn mint(&self, principal: &Principal, ttl: Duration) -> anyhow::Result<String> {
        if ttl.is_zero() || ttl > MAX_TTL {
            bail!(
                "token lifetime must be between 1 second and {} days",
                MAX_TTL.as_secs() / 86_400
            );
        }
        self.encode(
            &Claims::for_principal(principal),
            TokenTimes::starting_now(ttl),
        )
    }

    /// A token with exactly these claims and times, unchecked: tests use it to build expired,
    /// premature and otherwise hostile tokens.
    ///
    /// # Errors
    /// A signing failure.
    pub fn encode(&self, claims: &Claims, times: TokenTimes) -> anyhow::Result<String> {
        #[derive(Serialize)]
        struct Token<'a> {
            #[serde(flatten)]
            claims: &'a Claims,
            iss: &'a str,
            aud: &'a str,
            iat: i64,
            nbf: i64,
            exp: i64,
        }
        let token = Token {
            claims,
            iss: &self.issuer,
            aud: &self.audience,
            iat: times.issued_at,
            nbf: times.not_before,
            exp: times.expires_at,
        };
        jsonwebtoken::encode(&Header::new(self.alg), &token, &self.key).context("cannot sign token")
    }
}

fn check_secret(secret: &Secret) -> anyhow::Result<()> {
    if secret.expose().len() < MIN_SECRET_BYTES {
        bail!("the JWT secret must be at least {MIN_SECRET_BYTES} bytes");
    }
    Ok(())
}

/// The HS256 secret: `LVYUE_JWT_SECRET`, or the one kept in the data directory, generated on
/// first use. `lvyue token` and `lvyue serve` on the same data directory therefore agree.
///
/// # Errors
/// The secret file cannot be read or created, is readable by others, or is too short.
pub fn hs256_secret(config: &JwtConfig, data_dir: &Path) -> anyhow::Result<Secret> {
    let secret = match &config.secret {
        Some(s) => s.clone(),
        None => crate::keys::local_secret(data_dir, SECRET_FILE)?,
    };
    check_secret(&secret)?;
    Ok(secret)
}

/// Parses a lifetime such as `90s`, `30m`, `8h` or `7d` (a bare number is seconds).
///
/// # Errors
/// Anything else.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a lifetime like 8h, 30m or 7d"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?} is not a lifetime like 8h, 30m or 7d")),
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn setup() -> (tempfile::TempDir, Authenticator, Minter) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let auth = Authenticator::from_config(&config.jwt, dir.path()).unwrap();
        let minter = Minter::from_config(&config.jwt, dir.path(), None).unwrap();
        (dir, auth, minter)
    }

    fn regulator() -> Principal {
        Principal {
            subject: "reg-nanjing".into(),
            role: Role::Regulator,
            party_id: Some(PartyId(7)),
            jurisdiction: Jurisdiction {
                regions: vec!["3201".parse().unwrap()],
                industries: vec![Industry::DrivingSchool],
            },
        }
    }

    #[test]
    fn a_minted_token_round_trips_to_the_same_principal() {
        let (_dir, auth, minter) = setup();
        let p = regulator();
        let token = minter.mint(&p, Duration::from_secs(3600)).unwrap();
        assert_eq!(
            auth.authenticate_header(Some(&format!("Bearer {token}")))
                .unwrap(),
            Some(p)
        );
        assert_eq!(auth.authenticate_header(None).unwrap(), None);
    }

    #[test]
    fn the_generated_secret_is_kept_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path());
        let a = hs256_secret(&config.jwt, dir.path()).unwrap();
        let b = hs256_secret(&config.jwt, dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn non_bank_roles_need_a_party_and_regulators_a_scope() {
        let mut c = Claims::for_principal(&regulator());
        c.scope = None;
        assert_eq!(c.clone().into_principal(), Err(AuthError::MissingScope));
        c.role = "MERCHANT".into();
        c.party_id = None;
        assert_eq!(
            c.clone().into_principal(),
            Err(AuthError::MissingParty(Role::Merchant))
        );
        c.role = "ADMIN".into();
        assert_eq!(c.into_principal(), Err(AuthError::UnknownRole));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let (_dir, auth, _) = setup();
        for h in ["", "Bearer", "Bearer ", "Basic abc", "token"] {
            assert!(auth.authenticate_header(Some(h)).is_err(), "{h:?}");
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(
            auth.authenticate_header(Some(&huge)),
            Err(AuthError::TooLong)
        );
    }

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(parse_ttl("8h").unwrap(), Duration::from_secs(8 * 3600));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(7 * 86_400));
        for bad in ["", "h", "8x", "-1h", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
