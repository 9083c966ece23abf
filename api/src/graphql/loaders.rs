//! Per-request DataLoaders: nested fields of a page (each order's merchant, payer, scheme,
//! escrow account, milestones, payments) are loaded in one query per kind.
//!
//! Loaders do no scoping: they are reached only through rows a scoped domain query already
//! returned to the same principal (see `lvyue_domain::batch`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};

use lvyue_domain::ids::{AccountId, OrderId, PartyId, SchemeId};
use lvyue_domain::ledger::AccountRecord;
use lvyue_domain::order::{MilestoneRecord, PaymentRecord};
use lvyue_domain::party::PartyRecord;
use lvyue_domain::scheme::SchemeRecord;
use lvyue_domain::{DomainError, Escrow, batch};

/// A load failure; cloneable as DataLoader requires. Logged here; it reaches the client as
/// "internal error" (an unknown error source is internal, see `crate::error::finalize`).
#[derive(Clone, Debug)]
pub struct LoadError(Arc<DomainError>);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<DomainError> for LoadError {
    fn from(e: DomainError) -> LoadError {
        tracing::error!(error = ?e, "batch load failed");
        LoadError(Arc::new(e))
    }
}

/// Loads by id from the escrow's database.
pub struct ById(pub Arc<Escrow>);

macro_rules! loader {
    ($key:ty, $value:ty, $f:path) => {
        impl Loader<$key> for ById {
            type Value = $value;
            type Error = LoadError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                Ok($f(self.0.db(), keys).await?)
            }
        }
    };
}

loader!(PartyId, PartyRecord, batch::parties);
loader!(SchemeId, SchemeRecord, batch::schemes);
loader!(AccountId, AccountRecord, batch::accounts);
loader!(OrderId, lvyue_domain::order::OrderRecord, batch::orders);

/// An order's milestones (keyed by order).
pub struct Milestones(pub Arc<Escrow>);

impl Loader<OrderId> for Milestones {
    type Value = Vec<MilestoneRecord>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<MilestoneRecord>>, LoadError> {
        Ok(batch::milestones(self.0.db(), keys).await?)
    }
}

/// An order's payments (keyed by order).
pub struct Payments(pub Arc<Escrow>);

impl Loader<OrderId> for Payments {
    type Value = Vec<PaymentRecord>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<PaymentRecord>>, LoadError> {
        Ok(batch::payments(self.0.db(), keys).await?)
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub by_id: DataLoader<ById>,
    pub milestones: DataLoader<Milestones>,
    pub payments: DataLoader<Payments>,
}

impl Loaders {
    pub fn new(escrow: &Arc<Escrow>) -> Loaders {
        Loaders {
            by_id: DataLoader::new(ById(escrow.clone()), tokio::spawn),
            milestones: DataLoader::new(Milestones(escrow.clone()), tokio::spawn),
            payments: DataLoader::new(Payments(escrow.clone()), tokio::spawn),
        }
    }
}

/// The request's loaders (put into every request's data by the HTTP and WebSocket handlers).
///
/// # Errors
/// `INTERNAL` when a request was built without them (a wiring bug).
pub fn loaders<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data_opt::<Loaders>().ok_or_else(|| {
        crate::error::coded(
            crate::error::ErrorCode::Internal,
            crate::error::INTERNAL_MESSAGE,
        )
    })
}
