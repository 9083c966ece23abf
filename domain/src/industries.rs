//! Where the domain is assembled: the order lifecycle's seam ([`crate::order::LifecycleHooks`])
//! answered by the modules that take part in it — housing vouchers route the refunds of the
//! homes they paid for, risk watches every release. Nothing in the domain imports this module
//! but [`crate::Escrow`], which hands it to every command's transaction.

use crate::command::Tx;
use crate::ledger::Leg;
use crate::money::Money;
use crate::order::{Hooked, LifecycleHooks};
use crate::order_record::OrderRecord;
use crate::policy::Policy;

/// The domain's one implementation of the lifecycle's hooks.
pub(crate) struct Industries;

impl LifecycleHooks for Industries {
    fn refund_route<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        order: &'a OrderRecord,
        to_payer: Money,
    ) -> Hooked<'a, Option<Vec<Leg>>> {
        Box::pin(crate::voucher::refund_route(tx, order, to_payer))
    }

    fn after_release<'a>(
        &'a self,
        tx: &'a mut Tx<'_>,
        order: &'a OrderRecord,
        amount: Money,
        policy: &'a Policy,
    ) -> Hooked<'a, ()> {
        Box::pin(crate::risk::after_release(tx, order, amount, policy))
    }
}
