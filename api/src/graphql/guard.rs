//! Field guards by role: the second fence. Scoping (which rows a principal may see) is applied
//! inside the domain queries; a guard only stops a role from reaching a field at all.
//!
//! ```ignore
//! #[Object]
//! impl SchemeQuery {
//!     #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
//!     async fn schemes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Scheme>>> {
//!         Ok(Some(ctx.escrow()?.schemes(ctx.principal()?).await?))
//!     }
//! }
//! ```
//! A field-level guard replaces an object-level one (async-graphql uses
//! `field.guard.or(object.guard)`); combine with `.and(…)` when both must hold. A guard that
//! fails on a non-null field nulls its parent, so guarded fields should be nullable when the
//! rest of the response should survive.

use async_graphql::{Context, Guard};

use lvyue_domain::principal::{Principal, Role};

use crate::error;

/// Lets through only principals whose role is listed: `FORBIDDEN` for other roles,
/// `UNAUTHENTICATED` for anonymous callers.
#[derive(Debug, Clone, Copy)]
pub struct RoleGuard(pub &'static [Role]);

impl RoleGuard {
    /// Any authenticated principal.
    pub const AUTHENTICATED: RoleGuard = RoleGuard(&Role::ALL);
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.data_opt::<Principal>() {
            None => Err(error::unauthenticated("this field needs a bearer token")),
            Some(p) if self.0.contains(&p.role) => Ok(()),
            Some(p) => Err(error::forbidden(format!(
                "role {} may not read this field",
                p.role
            ))),
        }
    }
}
