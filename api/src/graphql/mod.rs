//! The GraphQL layer: the schema roots, the request policy (limits and error codes), and the
//! building blocks every business resolver uses.
//!
//! - [`schema`]: `Query`, `Mutation` and `Subscription` roots merged from one struct per concept,
//!   and the SDL exported to `api/schema.graphql`.
//! - [`context`]: `ctx.principal()?` and `ctx.escrow()?` inside a resolver.
//! - [`guard`]: `#[graphql(guard = "RoleGuard(&[Role::Bank])")]`.
//! - [`scalars`]: the `Decimal` money scalar (`"1280.00"`).
//! - [`connection`]: Relay connections with `first`/`after` and opaque cursors.
//! - [`enums`]: the GraphQL mirrors of the domain's `Role` and `Industry`.
//! - [`limits`]: depth, complexity, alias and size limits, and `extensions.code` on every error.
//! - [`system`]: the business-free fields (`me`, `apiVersion`, `serverStatus`, `logSize`).
//! - one module per business concept, each with its object types, its query root and its
//!   mutation root: [`party`], [`scheme`], [`order`], [`ledger`], [`event`], [`notary`],
//!   [`court`], [`alert`], [`reconcile`]; [`loaders`] batches their nested fields.

pub mod alert;
pub mod common;
pub mod connection;
pub mod context;
pub mod court;
pub mod enums;
pub mod event;
pub mod guard;
pub mod ledger;
pub mod limits;
pub mod loaders;
pub mod notary;
pub mod order;
pub mod party;
pub mod reconcile;
pub mod scalars;
pub mod schema;
pub mod scheme;
pub mod system;

pub use context::ContextExt;
pub use guard::RoleGuard;
pub use schema::{AppSchema, Mutation, Query, Subscription};
