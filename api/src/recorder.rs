//! Writes the access records of regulators' and courts' reads, many per commit.
//!
//! Every supervised read is recorded durably before its answer leaves. Rather than a
//! transaction per read, each holding a database connection while it waits for the log's head,
//! one task writes the records: while it commits a group, the reads that finish meanwhile wait
//! in its queue, and the next commit takes them all (up to `LVYUE_ACCESS_GROUP_MAX`, and as many
//! as fit in one transaction's events). Each read still waits for the commit that holds its own
//! record; a record the domain refuses is written again on its own
//! ([`Escrow::execute_grouped`]), so it never costs the others theirs. What this buys in
//! throughput, measured: docs/benchmarks.md, "Grouping regulators' access records".

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use lvyue_domain::access::RecordAccess;
use lvyue_domain::event::MAX_EVENTS_PER_TRANSACTION;
use lvyue_domain::principal::Principal;
use lvyue_domain::{DomainError, DomainResult, Escrow};

/// Records waiting for the writer; a read beyond this waits to queue.
const QUEUE: usize = 1024;

struct Job {
    principal: Principal,
    record: RecordAccess,
    done: oneshot::Sender<DomainResult<u64>>,
}

/// The handle reads record through; cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessRecorder {
    jobs: mpsc::Sender<Job>,
}

impl AccessRecorder {
    /// Starts the writer: at most `group_max` records per commit (1: one commit each).
    pub fn start(escrow: Arc<Escrow>, group_max: usize) -> AccessRecorder {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write(escrow, queue, group_max.max(1)));
        AccessRecorder { jobs }
    }

    /// Records `record` for `principal` and returns once it is committed.
    ///
    /// # Errors
    /// What the domain refuses; `INTERNAL` when the writer is gone (the server is stopping).
    pub async fn record(&self, principal: Principal, record: RecordAccess) -> DomainResult<u64> {
        let gone = || DomainError::Internal("the access recorder has stopped".into());
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                principal,
                record,
                done,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn write(escrow: Arc<Escrow>, mut queue: mpsc::Receiver<Job>, group_max: usize) {
    let mut waiting = Vec::with_capacity(group_max);
    while queue.recv_many(&mut waiting, group_max).await > 0 {
        // A transaction holds at most MAX_EVENTS_PER_TRANSACTION events: a record writes one
        // for the read and one per order it read.
        let jobs = std::mem::take(&mut waiting);
        for group in groups(jobs, |j| events_of(&j.record), MAX_EVENTS_PER_TRANSACTION) {
            commit(&escrow, group).await;
        }
    }
}

/// `items` in order, cut into runs whose weights add up to at most `max` (an item heavier than
/// `max` alone in its run).
fn groups<T>(items: Vec<T>, weight: impl Fn(&T) -> usize, max: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut load = 0;
    for item in items {
        let w = weight(&item);
        match out.last_mut() {
            Some(run) if load + w <= max => run.push(item),
            _ => {
                out.push(vec![item]);
                load = 0;
            }
        }
        load += w;
    }
    out
}

fn events_of(r: &RecordAccess) -> usize {
    1 + r.orders.len()
}

async fn commit(escrow: &Escrow, group: Vec<Job>) {
    let (items, waiting): (Vec<_>, Vec<_>) = group
        .into_iter()
        .map(|j| ((j.principal, j.record), j.done))
        .unzip();
    let answers = escrow.execute_grouped(&items).await;
    for (done, answer) in waiting.into_iter().zip(answers) {
        // A read that gave up waiting (its client went away) needs no answer.
        let _ = done.send(answer);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use lvyue_domain::ids::OrderId;
    use lvyue_domain::testing::TestDb;
    use sea_orm::{EntityTrait, PaginatorTrait};

    use super::*;

    #[test]
    fn groups_hold_at_most_a_transaction_s_events() {
        let cut = |weights: &[usize]| -> Vec<Vec<usize>> { groups(weights.to_vec(), |w| *w, 1000) };
        assert_eq!(cut(&[401, 401, 401]), [vec![401, 401], vec![401]]);
        assert_eq!(cut(&[21; 3]), [vec![21; 3]]);
        assert_eq!(cut(&[1500, 1]), [vec![1500], vec![1]]);
        assert_eq!(cut(&[999, 1, 1]), [vec![999, 1], vec![1]]);
        assert!(cut(&[]).is_empty());
    }

    /// Records that together carry more events than one transaction may hold are all written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_too_many_for_one_transaction_are_split_not_refused() {
        let db = TestDb::sqlite().await;
        let escrow = db.escrow().await;
        let recorder = AccessRecorder::start(escrow.clone(), 64);
        let record = |first: i64| RecordAccess {
            operation: "bench".into(),
            asked: vec!["orders(first: 200)".into()],
            orders: (first..first + 400).map(OrderId).collect(),
            ..RecordAccess::default()
        };
        let auditor = Principal::bank("auditor");
        let reads = (0..3).map(|i| recorder.record(auditor.clone(), record(i * 1000)));
        for seq in futures_util::future::join_all(reads).await {
            seq.unwrap();
        }
        let events = lvyue_entity::event::Entity::find()
            .count(escrow.db())
            .await
            .unwrap();
        assert_eq!(events, 3 * 401);
    }
}
