//! The `lvyue` binary's library: configuration, the axum server, the GraphQL schema skeleton,
//! JWT authentication and the command line.
//!
//! It owns the edges of the system and no business rule: a resolver translates a GraphQL call
//! into one domain call (`lvyue_domain`) and the domain's answer back. Modules:
//!
//! - [`config`]: the one `Config`, parsed once from flags and `LVYUE_*` variables;
//! - [`auth`]: bearer JWT → `Principal`, and minting for `lvyue token`;
//! - [`keys`]: the personal-data vault and locally generated secrets;
//! - [`error`]: domain errors → GraphQL errors with `extensions.code`, in one place;
//! - [`graphql`]: schema roots, guards, scalars, connections, query limits;
//! - [`server`]: `AppState`, the router, limits, TLS, health, graceful shutdown, [`server::start`];
//! - [`indexer`]: the search index kept in step with the event table, and its rebuild;
//! - [`workers`]: the node's background tasks; [`webhook`]: the HTTP sender of alert webhooks;
//! - [`metrics`]: Prometheus metrics; [`telemetry`]: logging;
//! - [`cli`]: the subcommands, and [`cli::main`], the whole program.
//!
//! It does not own the database schema (`lvyue-migration`), the log (`lvyue-notary`) or search
//! (`lvyue-search`); it wires them in.

// The merged Query and Mutation roots nest one level per concept; the compiler's default
// depth of 128 is too shallow for the generated resolvers.
#![recursion_limit = "256"]

pub mod auth;
pub mod cli;
pub mod config;
pub mod cosign;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod health;
pub mod indexer;
pub mod keys;
pub mod metrics;
pub mod notary;
pub mod progress;
pub mod rate_limit;
pub mod recorder;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod verify;
pub mod webhook;
pub mod witness;
pub mod workers;

pub use config::Config;
pub use server::{AppState, RunningServer, start};
