//! The one configuration of `lvyue`, parsed once at start from flags and `LVYUE_*` variables
//! (a flag wins over its variable), with defaults that work on a laptop.
//!
//! Nothing else in the crate reads the environment. Secrets (`LVYUE_JWT_SECRET`, a password in
//! `LVYUE_DATABASE_URL`) are redacted from `Debug` and from `--help`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, bail};

use lvyue_domain::alert::Severity;
use lvyue_domain::delivery::OnCall;

/// Where `lvyue serve` listens by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Where the embedded database, the generated JWT secret and other local state live by default.
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_JWT_ISSUER: &str = "lvyue";
pub const DEFAULT_JWT_AUDIENCE: &str = "lvyue-api";

/// The largest request body accepted: 1 MiB. A GraphQL document larger than this is not a
/// legitimate query.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one HTTP request may take, body upload included.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Requests per minute per principal (or per client address when anonymous), refilled
/// continuously. Generous: it is a guard against runaway clients, not a quota.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 6_000;
/// How many requests a client may make at once before the per-minute rate applies.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 600;
/// Deepest selection nesting a query may have. A page of orders with their merchant's accounts
/// (`orders.edges.node.merchant.accounts.edges.node.balance`) is 8 deep.
pub const DEFAULT_QUERY_MAX_DEPTH: usize = 16;
/// Highest query complexity: 1 per field, times the page size for connections.
pub const DEFAULT_QUERY_MAX_COMPLEXITY: usize = 5_000;
/// Most aliased fields one query may have (alias bombs repeat one costly field under many names).
pub const DEFAULT_QUERY_MAX_ALIASES: usize = 64;

/// The whole configuration. Built by clap in [`crate::cli`], or by [`Config::new`] in tests.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "LVYUE_BIND", default_value = DEFAULT_BIND, global = true)]
    pub bind: SocketAddr,

    /// Directory for the embedded database and local state; created if missing.
    #[arg(long, env = "LVYUE_DATA_DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,

    /// Database URL (`sqlite://…` or `postgres://…`). Default: `lvyue.db` in the data directory.
    #[arg(
        long,
        env = "LVYUE_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<DatabaseUrl>,

    #[command(flatten)]
    pub jwt: JwtConfig,

    /// Bearer token `/metrics` asks for (`Authorization: Bearer …`). Unset, `/metrics` is open
    /// to whoever reaches the port: set it, or keep the port off networks that may not see
    /// the service's figures.
    #[arg(
        long = "metrics-token",
        env = "LVYUE_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<Secret>,

    /// The GraphQL console at `/` (`on`, `off`). Turn it off in production: `/` is then
    /// answered 404, and only authenticated callers may introspect the schema.
    #[arg(long = "graphiql", env = "LVYUE_GRAPHIQL", value_enum, ignore_case = true, default_value_t = Console::On, global = true)]
    pub graphiql: Console,

    #[command(flatten)]
    pub pii: PiiConfig,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub tls: TlsConfig,

    #[command(flatten)]
    pub notary: NotaryConfig,

    #[command(flatten)]
    pub workers: WorkerConfig,

    #[command(flatten)]
    pub log: LogConfig,
}

/// How bearer tokens are checked.
#[derive(Clone, Debug, clap::Args)]
pub struct JwtConfig {
    /// The one signature algorithm accepted; a token signed otherwise is refused.
    #[arg(long = "jwt-alg", env = "LVYUE_JWT_ALG", value_enum, ignore_case = true, default_value_t = JwtAlgorithm::Hs256, global = true)]
    pub alg: JwtAlgorithm,

    /// HS256 secret (at least 32 bytes). For local use only; if unset, one is generated on
    /// first start and kept in the data directory (`jwt-secret`, mode 0600).
    #[arg(
        long = "jwt-secret",
        env = "LVYUE_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub secret: Option<Secret>,

    /// PEM public key that verifies EdDSA or RS256 tokens.
    #[arg(
        long = "jwt-public-key-file",
        env = "LVYUE_JWT_PUBLIC_KEY_FILE",
        global = true
    )]
    pub public_key_file: Option<PathBuf>,

    /// Required `iss` claim.
    #[arg(long = "jwt-issuer", env = "LVYUE_JWT_ISSUER", default_value = DEFAULT_JWT_ISSUER, global = true)]
    pub issuer: String,

    /// Required `aud` claim.
    #[arg(long = "jwt-audience", env = "LVYUE_JWT_AUDIENCE", default_value = DEFAULT_JWT_AUDIENCE, global = true)]
    pub audience: String,

    /// Longest a token may still be valid when it is presented, in days: a token whose `exp`
    /// lies further ahead is refused, however it was signed.
    #[arg(long = "jwt-max-lifetime-days", env = "LVYUE_JWT_MAX_LIFETIME_DAYS", default_value_t = DEFAULT_JWT_MAX_LIFETIME_DAYS, global = true)]
    pub max_lifetime_days: u32,
}

/// Default longest remaining lifetime of a presented token.
pub const DEFAULT_JWT_MAX_LIFETIME_DAYS: u32 = 30;

/// Keys for personal data at rest (see [`crate::keys::pii_vault`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PiiConfig {
    /// Master key for personal data, 64 hex characters. For local use only, if unset, one is
    /// generated on first start and kept in the data directory (`pii-key`, mode 0600).
    #[arg(
        long = "pii-key",
        env = "LVYUE_PII_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<Secret>,

    /// Encryption keys for rotation, `<id>:<64 hex>` separated by commas; the first encrypts,
    /// all decrypt. Unset: the encryption key is derived from the master key.
    #[arg(
        long = "pii-encryption-keys",
        env = "LVYUE_PII_ENCRYPTION_KEYS",
        hide_env_values = true,
        global = true
    )]
    pub encryption_keys: Option<Secret>,
}

/// The signature algorithms Lvyue accepts, one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret: local use and tests.
    #[value(name = "HS256")]
    Hs256,
    /// Ed25519 public-key signatures.
    #[value(name = "EdDSA")]
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
}

impl JwtAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Hs256 => "HS256",
            JwtAlgorithm::EdDsa => "EdDSA",
            JwtAlgorithm::Rs256 => "RS256",
        }
    }

    pub fn is_public_key(self) -> bool {
        !matches!(self, JwtAlgorithm::Hs256)
    }
}

/// Limits on what one request may cost. Hard caps that are never worth tuning (token length,
/// parser nesting) are constants beside the code that enforces them.
#[derive(Clone, Debug, clap::Args)]
pub struct Limits {
    /// Largest request body in bytes.
    #[arg(long, env = "LVYUE_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES, global = true)]
    pub max_body_bytes: usize,

    /// Time allowed for one request, body upload included, in milliseconds.
    #[arg(long, env = "LVYUE_REQUEST_TIMEOUT_MS", default_value_t = DEFAULT_REQUEST_TIMEOUT_MS, global = true)]
    pub request_timeout_ms: u64,

    /// Sustained requests per minute per principal (per address when anonymous); 0 turns rate
    /// limiting off.
    #[arg(long, env = "LVYUE_RATE_LIMIT_PER_MINUTE", default_value_t = DEFAULT_RATE_LIMIT_PER_MINUTE, global = true)]
    pub rate_limit_per_minute: u32,

    /// Requests a client may make in a burst before the per-minute rate applies.
    #[arg(long, env = "LVYUE_RATE_LIMIT_BURST", default_value_t = DEFAULT_RATE_LIMIT_BURST, global = true)]
    pub rate_limit_burst: u32,

    /// Deepest selection nesting of a GraphQL query.
    #[arg(long, env = "LVYUE_QUERY_MAX_DEPTH", default_value_t = DEFAULT_QUERY_MAX_DEPTH, global = true)]
    pub query_max_depth: usize,

    /// Highest complexity of a GraphQL query.
    #[arg(long, env = "LVYUE_QUERY_MAX_COMPLEXITY", default_value_t = DEFAULT_QUERY_MAX_COMPLEXITY, global = true)]
    pub query_max_complexity: usize,

    /// Most aliased fields in one GraphQL query.
    #[arg(long, env = "LVYUE_QUERY_MAX_ALIASES", default_value_t = DEFAULT_QUERY_MAX_ALIASES, global = true)]
    pub query_max_aliases: usize,
}

impl Limits {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
            query_max_depth: DEFAULT_QUERY_MAX_DEPTH,
            query_max_complexity: DEFAULT_QUERY_MAX_COMPLEXITY,
            query_max_aliases: DEFAULT_QUERY_MAX_ALIASES,
        }
    }
}

/// The log's identity when none is configured: a schema-less URL, as C2SP asks of origins.
pub const DEFAULT_NOTARY_ORIGIN: &str = "lvyue.local/escrow-log";
/// File name of the notary key inside the data directory.
pub const NOTARY_KEY_FILE: &str = "notary.key";
const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 1_000;
const DEFAULT_SCHEDULER_INTERVAL_MS: u64 = 1_000;
const DEFAULT_INDEXER_INTERVAL_MS: u64 = 500;
/// Access records written per commit at most.
const DEFAULT_ACCESS_GROUP_MAX: usize = 64;
const DEFAULT_DELIVERY_INTERVAL_MS: u64 = 5_000;

/// The transparency log: its identity, its signing key, how often it signs.
#[derive(Clone, Debug, clap::Args)]
pub struct NotaryConfig {
    /// The log's origin (C2SP tlog-checkpoint), also the name of its key, e.g.
    /// `bank.example/escrow-log`.
    #[arg(long = "notary-origin", env = "LVYUE_NOTARY_ORIGIN", default_value = DEFAULT_NOTARY_ORIGIN, global = true)]
    pub origin: String,

    /// The notary's private key (`PRIVATE+KEY+…`, from `lvyue keygen`). Default: `notary.key` in
    /// the data directory, generated on first start with mode 0600. Every node of one log must
    /// use the same key.
    #[arg(long = "notary-key-file", env = "LVYUE_NOTARY_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,

    /// A new checkpoint is signed at least this often while events arrive.
    #[arg(long = "checkpoint-interval-ms", env = "LVYUE_CHECKPOINT_INTERVAL_MS", default_value_t = DEFAULT_CHECKPOINT_INTERVAL_MS, global = true)]
    pub checkpoint_interval_ms: u64,

    /// Witnesses that cosign this log's checkpoints (C2SP tlog-witness), each `<URL> <witness
    /// key>` (the URL is the witness's submission prefix; the key is what `lvyue witness`
    /// prints), separated by commas. Each new checkpoint is sent to every one of them.
    #[arg(
        long = "witness",
        env = "LVYUE_WITNESSES",
        value_delimiter = ',',
        global = true
    )]
    pub witnesses: Vec<WitnessEndpoint>,
}

impl Default for NotaryConfig {
    fn default() -> NotaryConfig {
        NotaryConfig {
            origin: DEFAULT_NOTARY_ORIGIN.into(),
            key_file: None,
            checkpoint_interval_ms: DEFAULT_CHECKPOINT_INTERVAL_MS,
            witnesses: Vec::new(),
        }
    }
}

/// A witness this log submits its checkpoints to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessEndpoint {
    /// The submission prefix: `<url>/add-checkpoint` is posted to.
    pub url: String,
    pub key: lvyue_notary::CosignerKey,
}

impl std::str::FromStr for WitnessEndpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<WitnessEndpoint, String> {
        let mut parts = text.split_whitespace();
        let (Some(url), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("a witness is `<URL> <witness key>`, not {text:?}"));
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("the witness URL {url:?} is not http(s)"));
        }
        let key = key
            .parse()
            .map_err(|e| format!("the witness key of {url}: {e}"))?;
        Ok(WitnessEndpoint {
            url: url.trim_end_matches('/').to_owned(),
            key,
        })
    }
}

impl NotaryConfig {
    pub fn key_path(&self, data_dir: &Path) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| data_dir.join(NOTARY_KEY_FILE))
    }

    /// Where this node keeps the newest checkpoint it published: in its data directory, beside
    /// (never inside) the database, so that restoring the database leaves it in place.
    pub fn published_path(data_dir: &Path) -> PathBuf {
        data_dir.join(lvyue_domain::published::PUBLISHED_CHECKPOINT_FILE)
    }
}

/// The background workers of a node.
#[derive(Clone, Debug, clap::Args)]
pub struct WorkerConfig {
    /// How often due jobs (settlement, expiry, deadlines) are looked for.
    #[arg(long = "scheduler-interval-ms", env = "LVYUE_SCHEDULER_INTERVAL_MS", default_value_t = DEFAULT_SCHEDULER_INTERVAL_MS, global = true)]
    pub scheduler_interval_ms: u64,

    /// How often the search indexer looks for new events.
    #[arg(long = "indexer-interval-ms", env = "LVYUE_INDEXER_INTERVAL_MS", default_value_t = DEFAULT_INDEXER_INTERVAL_MS, global = true)]
    pub indexer_interval_ms: u64,

    /// How often due webhook deliveries are attempted.
    #[arg(long = "delivery-interval-ms", env = "LVYUE_DELIVERY_INTERVAL_MS", default_value_t = DEFAULT_DELIVERY_INTERVAL_MS, global = true)]
    pub delivery_interval_ms: u64,

    /// Most access records of regulators' and courts' reads written in one commit (1: a
    /// commit per read). Reads that finish while a commit runs are recorded by the next.
    #[arg(long = "access-group-max", env = "LVYUE_ACCESS_GROUP_MAX", default_value_t = DEFAULT_ACCESS_GROUP_MAX, value_parser = parse_group_max, global = true)]
    pub access_group_max: usize,

    /// Numbers texted about open alerts (on-call), comma-separated, e.g. `+8613812345678`.
    /// Unset: nobody is texted. The pager runs every `delivery-interval-ms`; with several
    /// nodes, configure it on one of them only (pages are not claimed across nodes).
    #[arg(
        long = "oncall-sms",
        env = "LVYUE_ONCALL_SMS",
        value_delimiter = ',',
        global = true
    )]
    pub oncall_sms: Vec<String>,

    /// Numbers called about open alerts (on-call), comma-separated. Unset: nobody is called.
    #[arg(
        long = "oncall-call",
        env = "LVYUE_ONCALL_CALL",
        value_delimiter = ',',
        global = true
    )]
    pub oncall_call: Vec<String>,

    /// Texts go out for alerts of this severity and above (INFO, WARNING, CRITICAL).
    #[arg(long = "oncall-sms-from", env = "LVYUE_ONCALL_SMS_FROM", value_parser = parse_severity, default_value = "WARNING", global = true)]
    pub oncall_sms_from: Severity,

    /// Calls go out for alerts of this severity and above.
    #[arg(long = "oncall-call-from", env = "LVYUE_ONCALL_CALL_FROM", value_parser = parse_severity, default_value = "CRITICAL", global = true)]
    pub oncall_call_from: Severity,

    /// The search index directory (a projection of the event table; rebuildable with `lvyue
    /// reindex`). Default: `search/` in the data directory. Only one process may write an
    /// index: every node needs its own directory.
    #[arg(long = "search-dir", env = "LVYUE_SEARCH_DIR", global = true)]
    pub search_dir: Option<PathBuf>,
}

/// 1 to 1,000 records per commit.
fn parse_group_max(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n @ 1..=1000) => Ok(n),
        _ => Err(format!("{s:?} is not a number of records from 1 to 1000")),
    }
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            scheduler_interval_ms: DEFAULT_SCHEDULER_INTERVAL_MS,
            indexer_interval_ms: DEFAULT_INDEXER_INTERVAL_MS,
            delivery_interval_ms: DEFAULT_DELIVERY_INTERVAL_MS,
            access_group_max: DEFAULT_ACCESS_GROUP_MAX,
            oncall_sms: Vec::new(),
            oncall_call: Vec::new(),
            oncall_sms_from: Severity::Warning,
            oncall_call_from: Severity::Critical,
            search_dir: None,
        }
    }
}

impl WorkerConfig {
    /// Whom the pager texts and calls, or `None` when no number is configured (no paging).
    pub fn on_call(&self) -> Option<OnCall> {
        if self.oncall_sms.is_empty() && self.oncall_call.is_empty() {
            return None;
        }
        let clean = |numbers: &[String]| -> Vec<String> {
            numbers
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        };
        Some(OnCall {
            sms_to: clean(&self.oncall_sms),
            call_to: clean(&self.oncall_call),
            sms_from: self.oncall_sms_from,
            call_from: self.oncall_call_from,
        })
    }

    pub fn search_path(&self, data_dir: &Path) -> PathBuf {
        self.search_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("search"))
    }
}

/// An alert severity as configuration spells it (`warning` or `WARNING`).
fn parse_severity(s: &str) -> Result<Severity, String> {
    s.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| "must be INFO, WARNING or CRITICAL".to_owned())
}

/// TLS served directly by `lvyue serve` (rustls) when both files are given.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    #[arg(long = "tls-cert", env = "LVYUE_TLS_CERT", global = true)]
    pub cert: Option<PathBuf>,

    /// PEM private key of the certificate.
    #[arg(long = "tls-key", env = "LVYUE_TLS_KEY", global = true)]
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    /// The certificate and key files, when TLS is on.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        }
    }
}

/// Logging: a `tracing` filter and the output format. Logs go to stderr.
#[derive(Clone, Debug, clap::Args)]
pub struct LogConfig {
    /// Log filter, e.g. `info` or `lvyue_api=debug,info`.
    #[arg(long = "log", env = "LVYUE_LOG", default_value = "info", global = true)]
    pub filter: String,

    /// `text` for people, `json` for log collectors.
    #[arg(long = "log-format", env = "LVYUE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub format: LogFormat,
}

/// Whether the GraphQL console is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Console {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// The defaults, with `data_dir` as the data directory: what tests and embedders start from.
    /// Reads no environment variable.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            // A constant that parses; the fallback is never taken.
            bind: DEFAULT_BIND
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: data_dir.into(),
            database_url: None,
            jwt: JwtConfig {
                alg: JwtAlgorithm::Hs256,
                secret: None,
                public_key_file: None,
                issuer: DEFAULT_JWT_ISSUER.into(),
                audience: DEFAULT_JWT_AUDIENCE.into(),
                max_lifetime_days: DEFAULT_JWT_MAX_LIFETIME_DAYS,
            },
            metrics_token: None,
            graphiql: Console::On,
            pii: PiiConfig::default(),
            limits: Limits::default(),
            tls: TlsConfig::default(),
            notary: NotaryConfig::default(),
            workers: WorkerConfig::default(),
            log: LogConfig::default(),
        }
    }

    /// The database URL: the configured one, or the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.0.clone(),
            None => lvyue_domain::db::sqlite_url_in(&self.data_dir),
        }
    }

    /// Checks that the settings fit together.
    ///
    /// # Errors
    /// A combination that cannot work, named in the user's terms.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            bail!("LVYUE_TLS_CERT and LVYUE_TLS_KEY must be set together");
        }
        if self.jwt.alg.is_public_key() && self.jwt.secret.is_some() {
            bail!(
                "LVYUE_JWT_SECRET is only for HS256; {} verifies with LVYUE_JWT_PUBLIC_KEY_FILE",
                self.jwt.alg.as_str()
            );
        }
        if !self.jwt.alg.is_public_key() && self.jwt.public_key_file.is_some() {
            bail!("LVYUE_JWT_PUBLIC_KEY_FILE is for EdDSA or RS256; set LVYUE_JWT_ALG accordingly");
        }
        if self.jwt.issuer.is_empty() || self.jwt.audience.is_empty() {
            bail!("LVYUE_JWT_ISSUER and LVYUE_JWT_AUDIENCE must not be empty");
        }
        let l = &self.limits;
        if l.max_body_bytes == 0
            || l.request_timeout_ms == 0
            || l.query_max_depth == 0
            || l.query_max_complexity == 0
        {
            bail!(
                "body size, request timeout, query depth and complexity limits must be greater than zero"
            );
        }
        if l.rate_limit_per_minute > 0 && l.rate_limit_burst == 0 {
            bail!("LVYUE_RATE_LIMIT_BURST must be at least 1 when rate limiting is on");
        }
        if let Some(on_call) = self.workers.on_call()
            && let Err(e) = on_call.validate()
        {
            bail!("LVYUE_ONCALL_SMS / LVYUE_ONCALL_CALL: {e}");
        }
        Ok(())
    }

    /// Creates the data directory (owner-only on Unix) if it does not exist.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        if self.data_dir.is_dir() {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))
    }
}

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// A database URL, whose `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:***@host/db`; anything else unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_passwords_never_reach_debug_output() {
        let mut c = Config::new("/tmp/x");
        c.jwt.secret = Some(Secret::new("very-secret-value-that-must-not-leak"));
        c.pii.master_key = Some(Secret::new("very-secret-pii-key"));
        c.database_url = Some(DatabaseUrl::new("postgres://lvyue:hunter2@db:5432/lvyue"));
        let printed = format!("{c:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("postgres://lvyue:***@db:5432/lvyue"),
            "{printed}"
        );
    }

    #[test]
    fn urls_without_passwords_are_left_alone() {
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            redact_url("sqlite://./data/lvyue.db?mode=rwc"),
            "sqlite://./data/lvyue.db?mode=rwc"
        );
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_dir() {
        let c = Config::new("/srv/lvyue");
        assert_eq!(c.database_url(), "sqlite:///srv/lvyue/lvyue.db?mode=rwc");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn paging_is_off_until_a_number_is_configured() {
        let mut c = Config::new("/tmp/x");
        assert!(c.workers.on_call().is_none());
        c.workers.oncall_sms = vec![" +8613812345678 ".into()];
        let on_call = c.workers.on_call().unwrap();
        assert_eq!(on_call.sms_to, ["+8613812345678"]);
        assert!(on_call.call_to.is_empty());
        assert_eq!(on_call.call_from, Severity::Critical);
        assert!(c.validate().is_ok());
        c.workers.oncall_call = vec!["call me".into()];
        assert!(c.validate().is_err());
    }

    #[test]
    fn severities_are_read_in_any_case() {
        assert_eq!(parse_severity("warning"), Ok(Severity::Warning));
        assert!(parse_severity("LOUD").is_err());
    }

    #[test]
    fn tls_needs_both_files() {
        let mut c = Config::new("/tmp/x");
        c.tls.cert = Some("cert.pem".into());
        assert!(c.validate().is_err());
        c.tls.key = Some("key.pem".into());
        assert!(c.validate().is_ok());
    }
}
