//! The `lvyue` command: `serve`, `migrate`, `token`, `keygen`, `verify`, `audit`, `reindex`,
//! `schema` and `witness`.
//!
//! [`main`] is the whole program; `api/src/main.rs` only calls it (and so does the system-test
//! copy of the binary, `tests/src/bin/lvyue-under-test.rs`). Exit codes: 0 success, 1 `audit`
//! found breaches, 2 any error (bad usage included).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use clap::{Args, Parser, Subcommand};

use lvyue_domain::ids::PartyId;
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, RegionPrefix, Role};
use lvyue_migration::MigratorTrait as _;

use crate::auth::{self, Claims, Minter};
use crate::config::{Config, DatabaseUrl};
use crate::{graphql, server, telemetry};

/// Lvyue: a bank-run escrow for prepaid consumption, with a tamper-evident log.
#[derive(Debug, Parser)]
#[command(name = "lvyue", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (database migrations run first). Stops gracefully on SIGTERM or SIGINT.
    Serve {
        /// Load the demo data set into an empty database and print a token for each role.
        #[arg(long)]
        demo: bool,
        /// `small` loads a few days of history instead of six months (for tests).
        #[arg(long, value_enum, default_value_t = DemoSize::Full, requires = "demo")]
        demo_size: DemoSize,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Mint a bearer token for local use, signed with the configured key, and print it.
    Token(TokenArgs),
    /// Recompute balances and log leaves from the database and report every breach.
    Audit {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create the notary's signing key (Ed25519) for the configured origin, mode 0600, and print
    /// its public verifier key. Refuses to overwrite an existing key.
    Keygen {
        /// Where to write it (default: the configured notary key file).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify offline, with no network and no database: a court's evidence bundle, one event
    /// with its C2SP tlog-proof, or the consistency of two checkpoints. Prints `verified` and
    /// exits 0, or names what failed and exits 1.
    Verify(crate::verify::VerifyArgs),
    /// Rebuild this node's search index from the whole event log and report what it holds.
    /// Stop the server using the index first: it holds the index's one writer (and keeps the
    /// index up to date by itself; a rebuild is for a lost, damaged or doubted index).
    Reindex,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Run a witness for one or more logs (C2SP tlog-witness): it cosigns a log's checkpoints
    /// only while each extends the last it cosigned, and refuses a fork with its evidence.
    Witness(crate::witness::WitnessArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// BANK, MERCHANT, PAYER, REGULATOR, COURT or CONFIRMER.
    #[arg(long)]
    pub role: String,
    /// The party the token acts for, e.g. `pty_12` (required for every role but BANK).
    #[arg(long)]
    pub party: Option<String>,
    /// Regulator scope: region code prefixes, e.g. `3201,3205`.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Regulator scope: industries, e.g. `DRIVING_SCHOOL,CANTEEN`.
    #[arg(long, value_delimiter = ',')]
    pub industries: Vec<String>,
    /// Lifetime: `90s`, `30m`, `8h`, `7d` (at most 30 days).
    #[arg(long, default_value = "8h", value_parser = auth::parse_ttl)]
    pub ttl: Duration,
    /// The `sub` claim. Default: `local-<role>[-<party>]`.
    #[arg(long)]
    pub subject: Option<String>,
    /// PEM private key, to sign EdDSA or RS256 tokens (HS256 uses the configured secret).
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
}

/// The program: parse, set up logging and a runtime, run the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs one command.
///
/// # Errors
/// Whatever stopped the command; reported by [`main`] with exit code 2.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Serve { demo, demo_size } => serve(config, demo.then_some(demo_size)).await,
        Command::Migrate => migrate(config).await,
        Command::Token(args) => token(config, args),
        Command::Audit { json } => audit(config, json).await,
        Command::Keygen { out } => keygen(config, out),
        Command::Verify(args) => Ok(crate::verify::run(&args)),
        Command::Witness(args) => crate::witness::run(args).await,
        Command::Reindex => reindex(config).await,
        Command::Schema => {
            print!("{}", graphql::schema::sdl());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How much demo history to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoSize {
    Full,
    Small,
}

async fn serve(config: Config, demo: Option<DemoSize>) -> anyhow::Result<ExitCode> {
    let state = server::AppState::build(config).await?;
    let demo_parties = match demo {
        None => None,
        Some(size) => {
            eprintln!(
                "loading the demo data set (six months of history replayed through the domain commands)..."
            );
            let size = if size == DemoSize::Small {
                crate::demo::Size::Small
            } else {
                crate::demo::Size::Full
            };
            let parties = crate::demo::load(&state.db, &state.config, size).await?;
            eprintln!("demo data loaded: {} orders", parties.orders);
            Some(parties)
        }
    };
    let running = server::serve(state).await?;
    tracing::info!(console = %running.url("/"), "ready");
    if let Some(parties) = demo_parties {
        let tokens = crate::demo::tokens(&running.state().config, &parties)?;
        println!("\nLvyue demo is running. Console: {}", running.url("/"));
        println!(
            "Paste a token into the console's token field, or send it as the header  Authorization: Bearer <token>  (valid 7 days):\n"
        );
        for (label, token) in tokens {
            println!("{label}\n{token}\n");
        }
        println!("Try the queries in docs/queries/<role>/ (see README.md). Stop with Ctrl-C.");
    }
    let handle = running.shutdown_handle();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        handle.shutdown();
        // A second signal means "now".
        crate::shutdown::signal().await;
        tracing::warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
    running.wait().await?;
    Ok(ExitCode::SUCCESS)
}

async fn connect(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    config.validate()?;
    if config.database_url.is_none() {
        config.ensure_data_dir()?;
    }
    let url = config.database_url();
    lvyue_domain::db::connect(&url).await.with_context(|| {
        format!(
            "cannot open database {}",
            DatabaseUrl::new(url.clone()).redacted()
        )
    })
}

async fn migrate(config: Config) -> anyhow::Result<ExitCode> {
    let db = connect(&config).await?;
    lvyue_migration::Migrator::up(&db, None)
        .await
        .context("migration failed")?;
    eprintln!("database is up to date");
    Ok(ExitCode::SUCCESS)
}

async fn audit(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let db = connect(&config).await?;
    // With the notary key at hand, every stored checkpoint is checked against the leaves too.
    let key_path = config.notary.key_path(&config.data_dir);
    let vkey = if key_path.exists() {
        Some(crate::notary::read_key(&key_path, &config.notary.origin)?.verifier_key())
    } else {
        eprintln!(
            "no notary key at {}: checkpoints are not audited",
            key_path.display()
        );
        None
    };
    let bar = crate::progress::steps("audit");
    let report =
        lvyue_domain::audit::audit_observed(&db, vkey.as_ref(), &|step| bar.set_message(step))
            .await
            .context("audit could not read the database (run `lvyue migrate` first?)");
    bar.finish_and_clear();
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "audited {} accounts, {} postings, {} entries, {} holds, {} orders, {} events, {} checkpoints",
            report.accounts,
            report.postings,
            report.entries,
            report.holds,
            report.orders,
            report.events,
            report.checkpoints
        );
        for b in &report.breaches {
            println!("BREACH {}: {}", b.rule, b.detail);
        }
        println!(
            "{}",
            if report.is_clean() {
                "clean".to_owned()
            } else {
                format!("{} breaches", report.breaches.len())
            }
        );
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn reindex(config: Config) -> anyhow::Result<ExitCode> {
    let db = connect(&config).await?;
    config.ensure_data_dir()?;
    let dir = config.workers.search_path(&config.data_dir);
    let started = std::time::Instant::now();
    let indexer = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || crate::indexer::Indexer::open(&dir))
            .await
            .context("opening the search index failed")??
    };
    let bar = crate::progress::counter(0, "events indexed");
    let rebuilt = indexer
        .rebuild_observed(&db, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    indexer.close().await;
    let r = rebuilt.context("the rebuild failed; the previous index is unchanged")?;
    println!(
        "reindexed the event log ({} events) into {}: documents for {} merchants, {} orders, {} events; {} searchable ({:.1} s)",
        r.indexed_through,
        dir.display(),
        r.merchants,
        r.orders,
        r.events,
        r.documents,
        started.elapsed().as_secs_f64()
    );
    if r.refused > 0 {
        println!("{} documents were refused (see the log)", r.refused);
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(config: Config, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = out.unwrap_or_else(|| config.notary.key_path(&config.data_dir));
    let key = lvyue_notary::SigningKey::generate(&config.notary.origin)
        .map_err(|e| anyhow!("notary origin {:?}: {e}", config.notary.origin))?;
    crate::notary::write_private(&path, &key.to_private_text())?;
    eprintln!(
        "wrote the notary key to {} (mode 0600): back it up, never share it",
        path.display()
    );
    println!("{}", key.verifier_key());
    Ok(ExitCode::SUCCESS)
}

fn token(config: Config, args: TokenArgs) -> anyhow::Result<ExitCode> {
    config.validate()?;
    let principal = token_principal(&args)?;
    if config.jwt.secret.is_none() && !config.jwt.alg.is_public_key() {
        // The generated secret lives in the data directory.
        config.ensure_data_dir()?;
    }
    let minter = Minter::from_config(
        &config.jwt,
        &config.data_dir,
        args.private_key_file.as_deref(),
    )?;
    println!("{}", minter.mint(&principal, args.ttl)?);
    Ok(ExitCode::SUCCESS)
}

/// The principal `lvyue token` is asked for, checked by the same rules the server applies.
fn token_principal(args: &TokenArgs) -> anyhow::Result<Principal> {
    let role: Role = args.role.to_ascii_uppercase().parse().map_err(|_| {
        anyhow!("--role must be BANK, MERCHANT, PAYER, REGULATOR, COURT or CONFIRMER")
    })?;
    let party_id = match &args.party {
        Some(p) => Some(
            p.parse::<PartyId>()
                .map_err(|_| anyhow!("--party must be a party id such as pty_12"))?,
        ),
        None => None,
    };
    let regions = args
        .regions
        .iter()
        .map(|r| {
            r.parse::<RegionPrefix>()
                .map_err(|_| anyhow!("--regions: {r:?} is not a 2, 4 or 6 digit region prefix"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let industries = args
        .industries
        .iter()
        .map(|i| {
            i.to_ascii_uppercase().parse::<Industry>().map_err(|_| {
                anyhow!("--industries: {i:?} is not an industry such as DRIVING_SCHOOL")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if role != Role::Regulator && !(regions.is_empty() && industries.is_empty()) {
        return Err(anyhow!(
            "--regions and --industries are for REGULATOR tokens only"
        ));
    }
    let subject = args.subject.clone().unwrap_or_else(|| {
        let role = role.as_str().to_ascii_lowercase();
        match party_id {
            Some(p) => format!("local-{role}-{p}"),
            None => format!("local-{role}"),
        }
    });
    let principal = Principal {
        subject,
        role,
        party_id,
        jurisdiction: Jurisdiction {
            regions,
            industries,
        },
    };
    Claims::for_principal(&principal)
        .into_principal()
        .map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> TokenArgs {
        let cli = Cli::try_parse_from(["lvyue", "token"].iter().chain(line)).unwrap();
        match cli.command {
            Command::Token(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn token_arguments_make_the_principal_the_server_will_see() {
        let p = token_principal(&args(&[
            "--role",
            "regulator",
            "--party",
            "pty_3",
            "--regions",
            "3201,3205",
            "--industries",
            "DRIVING_SCHOOL,canteen",
        ]))
        .unwrap();
        assert_eq!(p.role, Role::Regulator);
        assert_eq!(p.subject, "local-regulator-pty_3");
        assert_eq!(p.jurisdiction.regions.len(), 2);
        assert_eq!(
            p.jurisdiction.industries,
            vec![Industry::DrivingSchool, Industry::Canteen]
        );
    }

    #[test]
    fn token_arguments_are_checked() {
        assert!(token_principal(&args(&["--role", "ADMIN"])).is_err());
        assert!(
            token_principal(&args(&["--role", "MERCHANT"])).is_err(),
            "merchant without party"
        );
        assert!(
            token_principal(&args(&["--role", "REGULATOR", "--party", "pty_1"])).is_err(),
            "regulator without scope"
        );
        assert!(token_principal(&args(&["--role", "BANK", "--regions", "32"])).is_err());
        assert!(token_principal(&args(&["--role", "BANK"])).is_ok());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
