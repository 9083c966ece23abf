//! What a resolver can ask its context for: who is calling and the escrow system.
//!
//! The HTTP handler puts the caller's [`Principal`] into the request data when a valid token
//! was sent (none for an anonymous caller); the WebSocket handler does the same from the
//! `connection_init` payload. The schema data holds the [`Escrow`].

use std::sync::Arc;

use async_graphql::Context;

use lvyue_domain::Escrow;
use lvyue_domain::principal::Principal;

use crate::error;

/// Accessors for resolvers:
///
/// ```ignore
/// async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
///     let principal = ctx.principal()?;          // UNAUTHENTICATED when anonymous
///     let escrow = ctx.escrow()?;
///     Ok(escrow.order(principal, id.parse()?).await?.into())   // DomainError → its code
/// }
/// ```
pub trait ContextExt {
    /// The authenticated caller.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for an anonymous caller.
    fn principal(&self) -> async_graphql::Result<&Principal>;

    /// The caller, or `None` when anonymous (for fields public to everyone).
    fn principal_opt(&self) -> Option<&Principal>;

    /// The escrow system.
    ///
    /// # Errors
    /// `INTERNAL` if the schema was built without it (a wiring bug).
    fn escrow(&self) -> async_graphql::Result<&Arc<Escrow>>;
}

impl ContextExt for Context<'_> {
    fn principal(&self) -> async_graphql::Result<&Principal> {
        self.principal_opt()
            .ok_or_else(|| error::unauthenticated("this field needs a bearer token"))
    }

    fn principal_opt(&self) -> Option<&Principal> {
        self.data_opt::<Principal>()
    }

    fn escrow(&self) -> async_graphql::Result<&Arc<Escrow>> {
        self.data_opt::<Arc<Escrow>>().ok_or_else(|| {
            tracing::error!("schema built without the Escrow");
            error::coded(error::ErrorCode::Internal, error::INTERNAL_MESSAGE)
        })
    }
}
