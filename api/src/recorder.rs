//! Writes the access records of regulators' and courts' reads, many per commit.
//!
//! Every supervised read is recorded durably before its answer leaves. One commit per read
//! made concurrent regulators queue behind the log's head one by one, so a regulator's page
//! cost a tenth of a merchant's. Here one task writes the records: while it commits a group,
//! the reads that finish meanwhile wait in its queue, and the next commit takes all of them
//! (up to `LVYUE_ACCESS_GROUP_MAX`). Each read still waits for the commit that holds its own
//! record; a record the domain refuses is written again on its own
//! ([`Escrow::execute_grouped`]), so it never costs the others theirs.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use lvyue_domain::access::RecordAccess;
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
    let mut group = Vec::with_capacity(group_max);
    while queue.recv_many(&mut group, group_max).await > 0 {
        let (items, waiting): (Vec<_>, Vec<_>) = group
            .drain(..)
            .map(|j| ((j.principal, j.record), j.done))
            .unzip();
        let answers = escrow.execute_grouped(&items).await;
        for (done, answer) in waiting.into_iter().zip(answers) {
            // A read that gave up waiting (its client went away) needs no answer.
            let _ = done.send(answer);
        }
    }
}
