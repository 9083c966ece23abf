//! The one seam through which industries and oversight take part in the order lifecycle.
//!
//! The lifecycle decides when money moves; some industries change where it goes (a home bought
//! with a housing voucher is refunded to the voucher, not to a payment channel), and oversight
//! watches what left (risk alerts on large or frequent releases). The lifecycle calls them
//! through [`LifecycleHooks`] and never by module name, so `order` depends on no industry and
//! no industry's import of `order` can close a cycle. The implementation is wired into
//! [`crate::Escrow`] where the domain is assembled ([`crate::industries`]).

use std::future::Future;
use std::pin::Pin;

use crate::command::Tx;
use crate::error::DomainResult;
use crate::ledger::Leg;
use crate::money::Money;
use crate::order_record::OrderRecord;
use crate::policy::Policy;

/// A hook's answer, later: boxed so that the trait can be used as an object.
pub type Hooked<'a, T> = Pin<Box<dyn Future<Output = DomainResult<T>> + Send + 'a>>;

/// What the lifecycle asks of the rest of the domain.
pub trait LifecycleHooks: Send + Sync {
    /// The legs that take `to_payer` back to where the order's money came from, when that is
    /// not the payer's payment channels (`None`: it is). Called inside the refund's
    /// transaction, which posts the legs.
    fn refund_route<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        order: &'a OrderRecord,
        to_payer: Money,
    ) -> Hooked<'a, Option<Vec<Leg>>>;

    /// After a tranche of `amount` left the order's escrow under `policy`, in the same
    /// transaction.
    fn after_release<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        order: &'a OrderRecord,
        amount: Money,
        policy: &'a Policy,
    ) -> Hooked<'a, ()>;
}
