//! The trail of a supervised read: what a regulator's or a court's answer carries, noted by the
//! code that produces each object (an order, a party, an event, a search hit, a report row), not
//! read back from the answer. Aliases, fragments and the fields a client selects therefore
//! cannot change what is recorded: an order is on the record when the server produced it for
//! the answer, whether or not its `id` was asked for.
//!
//! The trail is task-local. The server scopes one around each supervised operation, over HTTP
//! and over a WebSocket alike ([`within`], [`within_stream`]); resolvers run in that task (the
//! data loaders' batch tasks only fetch rows; the objects are made in the resolver). Outside a
//! scope, noting does nothing: other principals' reads are not recorded.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::Stream;

use lvyue_domain::ids::OrderId;

use super::asked::Asked;

tokio::task_local! {
    static TRAIL: Arc<Trail>;
}

/// What one supervised operation has produced so far.
#[derive(Debug, Default)]
pub struct Trail(Mutex<Noted>);

/// The objects of one answer, each once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Noted {
    /// `party pty_3`, `event 41`, `search ORDER ord_12`…
    pub objects: BTreeSet<String>,
    /// Orders the answer showed, itself or through its payments, refunds, events and hits.
    pub orders: BTreeSet<OrderId>,
    /// What the request asked ([`crate::graphql::asked`]), once its document was read.
    pub asked: Option<Asked>,
}

impl Trail {
    pub fn new() -> Arc<Trail> {
        Arc::new(Trail::default())
    }

    /// What was noted since the last take (a subscription records each answer it sends).
    /// What the request asked stays: every answer of a subscription was asked for by it.
    pub fn take(&self) -> Noted {
        let mut n = self.lock();
        let asked = n.asked.clone();
        let out = std::mem::take(&mut *n);
        n.asked = asked;
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Noted> {
        // A panic while noting leaves a set of strings, still valid: keep using it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `f` with `trail` as the current trail.
pub async fn within<F: Future>(trail: Arc<Trail>, f: F) -> F::Output {
    TRAIL.scope(trail, f).await
}

/// `stream`, each of its polls made with `trail` as the current trail.
pub fn within_stream<S: Stream + Unpin>(trail: Arc<Trail>, stream: S) -> Traced<S> {
    Traced { trail, stream }
}

/// A stream polled inside a trail's scope.
pub struct Traced<S> {
    trail: Arc<Trail>,
    stream: S,
}

impl<S: Stream + Unpin> Stream for Traced<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let stream = &mut this.stream;
        TRAIL.sync_scope(this.trail.clone(), || Pin::new(stream).poll_next(cx))
    }
}

fn note(f: impl FnOnce(&mut Noted)) {
    let _ = TRAIL.try_with(|t| f(&mut t.lock()));
}

/// The request's document was read: this is what it asks.
pub fn asked(asked: Asked) {
    note(|n| n.asked = Some(asked));
}

/// An order went into the answer.
pub fn order(id: OrderId) {
    note(|n| {
        n.orders.insert(id);
    });
}

/// Something else went into the answer: `kind` names what (`party`, `event`…).
pub fn object(kind: &str, id: impl Display) {
    note(|n| {
        n.objects.insert(format!("{kind} {id}"));
    });
}

/// Declares a GraphQL wrapper of a domain record that can be made only by `From`, which notes
/// it on the trail: `noted!(Hold(HoldRecord), "hold", |r| r.id, order: |r| r.order)`.
#[macro_export]
macro_rules! noted {
    ($(#[$m:meta])* $name:ident($record:ty), $kind:literal, |$r:ident| $id:expr $(, order: |$o:ident| $order:expr)?) => {
        $(#[$m])*
        pub struct $name($record);

        impl From<$record> for $name {
            fn from($r: $record) -> $name {
                $crate::graphql::trail::object($kind, $id);
                $({
                    let $o = &$r;
                    let order: Option<lvyue_domain::ids::OrderId> = $order;
                    if let Some(o) = order {
                        $crate::graphql::trail::order(o);
                    }
                })?
                $name($r)
            }
        }

    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    #[tokio::test]
    async fn notes_only_inside_a_scope() {
        order(OrderId(1));
        let t = Trail::new();
        within(t.clone(), async {
            order(OrderId(2));
            order(OrderId(2));
            object("party", "pty_3");
        })
        .await;
        order(OrderId(4));
        let noted = t.take();
        assert_eq!(noted.orders.into_iter().collect::<Vec<_>>(), [OrderId(2)]);
        assert_eq!(
            noted.objects.into_iter().collect::<Vec<_>>(),
            ["party pty_3"]
        );
        assert_eq!(t.take(), Noted::default());
        within(t.clone(), async { asked(Asked::default()) }).await;
        assert!(t.take().asked.is_some());
        assert!(
            t.take().asked.is_some(),
            "what was asked stays for later answers"
        );
    }

    #[tokio::test]
    async fn a_stream_notes_in_each_poll() {
        let t = Trail::new();
        let items = futures_util::stream::iter([5, 6]).map(|i| {
            order(OrderId(i));
            i
        });
        let mut s = within_stream(t.clone(), items.boxed());
        assert_eq!(s.next().await, Some(5));
        assert_eq!(t.take().orders.len(), 1);
        assert_eq!(s.next().await, Some(6));
        assert!(t.take().orders.contains(&OrderId(6)));
    }
}
