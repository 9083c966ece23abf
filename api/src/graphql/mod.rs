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

pub mod connection;
pub mod context;
pub mod enums;
pub mod guard;
pub mod limits;
pub mod scalars;
pub mod schema;
pub mod system;

pub use context::ContextExt;
pub use guard::RoleGuard;
pub use schema::{AppSchema, Mutation, Query, Subscription};
