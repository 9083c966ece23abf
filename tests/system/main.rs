//! The system tests: Lvyue driven through its public interfaces only, HTTP and the `lvyue`
//! command, as each role would use it. One test binary, one module per area (link time
//! dominates on 2 cores). Every database-touching test runs on SQLite, and again on
//! PostgreSQL when `LVYUE_TEST_POSTGRES_URL` is set (`on_both_backends!`).

#![allow(clippy::unwrap_used)]

mod harness;

mod access_log;
mod authz_matrix;
mod browser;
mod calendar;
mod cli;
mod console;
mod contention;
mod court;
mod crash;
mod data_at_rest;
mod examples;
mod hostile;
mod http;
mod industries;
mod lifecycle;
mod limits;
mod log;
mod node;
mod registration;
mod risk_reports;
mod scoping;
mod search;
mod shutdown;
mod subscriptions;
mod tls;
mod tokens;
mod two_nodes;
mod verifier;
mod witnesses;
mod world;
