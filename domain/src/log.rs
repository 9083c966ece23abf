//! The node's view of the transparency log: an in-memory Merkle tree kept in step with the
//! event table, signed checkpoints, and proofs (docs/design.md, "Events and the notary").
//!
//! The event table is the only source of truth: the tree is rebuilt from stored leaf hashes at
//! start (no event is re-canonicalised or rehashed) and follows new events by seq, so several
//! nodes on one PostgreSQL build the same tree. Ed25519 signatures are deterministic, so every
//! node signing the same size produces the same checkpoint note; storing one is
//! insert-if-absent.

use std::sync::RwLock;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};

use lvyue_entity::{checkpoint, checkpoint_cosignature, event};
use lvyue_notary::{Checkpoint, Hash, SigningKey, Tree, VerifierKey};

use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::event::{EventRecord, to_i64, to_u64};
use crate::ids::Seq;
use crate::published::PublishedCheckpoint;

/// Leaves read from the database per query while following the log.
const SYNC_BATCH: u64 = 10_000;
/// Leaves read per query when a node starts and rebuilds its tree.
const LOAD_BATCH: u64 = 100_000;

/// A stored, signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The C2SP signed note.
    pub note: String,
    pub created_at: Timestamp,
}

impl TryFrom<checkpoint::Model> for StoredCheckpoint {
    type Error = DomainError;
    fn try_from(m: checkpoint::Model) -> Result<StoredCheckpoint, DomainError> {
        Ok(StoredCheckpoint {
            size: to_u64(m.size)?,
            root: m.root.parse().map_err(DomainError::Notary)?,
            note: m.note,
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// The log as this node knows it.
pub struct TransparencyLog {
    key: SigningKey,
    tree: RwLock<Tree>,
    /// What this node has published, when it keeps a record of it (every server does).
    published: Option<PublishedCheckpoint>,
}

impl TransparencyLog {
    /// Loads every stored leaf hash, in seq order, into a new tree.
    ///
    /// # Errors
    /// Database errors; a stored leaf hash that is not 32 bytes of hex.
    pub async fn load(
        db: &DatabaseConnection,
        key: SigningKey,
    ) -> Result<TransparencyLog, DomainError> {
        let log = TransparencyLog {
            key,
            tree: RwLock::new(Tree::new()),
            published: None,
        };
        let leaves = read_all_leaves(db, LOAD_BATCH).await?;
        *log.tree.write().map_err(poisoned)? = Tree::from_leaf_hashes(leaves);
        Ok(log)
    }

    /// Holds this log to what the node has published: the tree is compared with it now (a
    /// disagreement halts signing, see [`PublishedCheckpoint`]), before every signature, and
    /// each checkpoint is recorded there before it is stored.
    #[must_use]
    pub fn guarded_by(mut self, published: PublishedCheckpoint) -> TransparencyLog {
        // A disagreement is kept as the halt, which `halted` reports; it does not stop the
        // node from starting and serving what it holds.
        let _ = self.check_published(&published);
        self.published = Some(published);
        self
    }

    /// Why this node refuses to sign, if it does.
    pub fn halted(&self) -> Option<String> {
        self.published
            .as_ref()
            .and_then(PublishedCheckpoint::halted)
    }

    fn check_published(&self, published: &PublishedCheckpoint) -> Result<(), DomainError> {
        let tree = self.tree.read().map_err(poisoned)?;
        published.check(tree.size(), |size| Ok(tree.root_at(size)?))
    }

    /// The log's identity (its key name), e.g. `lvyue.example/escrow-log`.
    pub fn origin(&self) -> &str {
        self.key.name()
    }

    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier_key()
    }

    /// Leaves in this node's tree.
    pub fn size(&self) -> u64 {
        self.tree.read().map(|t| t.size()).unwrap_or(0)
    }

    /// Appends events committed since the last call (by this node or any other).
    /// Returns the new size.
    ///
    /// # Errors
    /// Database errors.
    pub async fn sync(&self, db: &DatabaseConnection) -> Result<u64, DomainError> {
        loop {
            let from = self.size();
            let leaves = read_leaves(db, from, SYNC_BATCH).await?;
            let got = leaves.len() as u64;
            {
                let mut tree = self.tree.write().map_err(poisoned)?;
                // Another task may have synced meanwhile: append only what is still new.
                let skip = tree.size().saturating_sub(from);
                for leaf in leaves.into_iter().skip(skip as usize) {
                    tree.push(leaf);
                }
            }
            if got < SYNC_BATCH {
                return Ok(self.size());
            }
        }
    }

    /// The root of the first `size` leaves.
    ///
    /// # Errors
    /// `size` beyond the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, DomainError> {
        Ok(self.tree.read().map_err(poisoned)?.root_at(size)?)
    }

    /// RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
    ///
    /// # Errors
    /// Index or size out of range.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, DomainError> {
        Ok(self
            .tree
            .read()
            .map_err(poisoned)?
            .inclusion_proof(index, size)?)
    }

    /// RFC 9162 consistency proof from `old_size` to `new_size`.
    ///
    /// # Errors
    /// Sizes out of range or in the wrong order.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, DomainError> {
        Ok(self
            .tree
            .read()
            .map_err(poisoned)?
            .consistency_proof(old_size, new_size)?)
    }

    /// Full or partial C2SP tile hashes at tree level `level` (0 = leaves).
    pub fn tile(&self, level: u8, index: u64, width: Option<u16>) -> Option<Vec<Hash>> {
        let tree = self.tree.read().ok()?;
        match width {
            None => tree.tile(level, index),
            Some(w) => tree.tile_at(level, index, w),
        }
    }

    /// Signs and stores a checkpoint of the current tree if it is larger than the newest stored
    /// one; returns the newest stored checkpoint either way (`None` for an empty log).
    ///
    /// With a record of what was published ([`guarded_by`](Self::guarded_by)), the tree must
    /// agree with it, and so must the newest stored checkpoint, which is recorded before it is
    /// returned: another node may have signed it, and this one serves it too.
    ///
    /// # Errors
    /// Database errors; a signing error (the key name is not a valid origin);
    /// [`DomainError::LogHalted`] when the tree or the stored checkpoint disagrees with what
    /// this node has published.
    pub async fn checkpoint(
        &self,
        db: &DatabaseConnection,
        now: Timestamp,
    ) -> Result<Option<StoredCheckpoint>, DomainError> {
        if let Some(p) = &self.published {
            self.check_published(p)?;
        }
        let latest = latest_checkpoint(db).await?;
        let (size, root) = {
            let tree = self.tree.read().map_err(poisoned)?;
            (tree.size(), tree.root())
        };
        if size == 0 || latest.as_ref().is_some_and(|c| c.size >= size) {
            if let (Some(p), Some(c)) = (&self.published, &latest) {
                self.record_stored(p, c, size)?;
            }
            return Ok(latest);
        }
        let note = Checkpoint::new(self.origin(), size, root).sign(&self.key)?;
        if let Some(p) = &self.published {
            p.record(&note)?;
        }
        checkpoint::Entity::insert(checkpoint::ActiveModel {
            size: Set(to_i64(size)?),
            root: Set(root.to_string()),
            note: Set(note.clone()),
            created_at_us: Set(now.0),
        })
        .on_conflict(
            OnConflict::column(checkpoint::Column::Size)
                .do_nothing()
                .to_owned(),
        )
        .try_insert()
        .exec(db)
        .await?;
        Ok(Some(StoredCheckpoint {
            size,
            root,
            note,
            created_at: now,
        }))
    }

    /// Records a stored checkpoint (perhaps another node's) as published by this node too,
    /// once this node's tree of `size` leaves reaches it and agrees with it.
    fn record_stored(
        &self,
        published: &PublishedCheckpoint,
        stored: &StoredCheckpoint,
        size: u64,
    ) -> Result<(), DomainError> {
        // Already on record (every pass of the follower comes here): nothing to check again.
        let recorded = published.last().is_some_and(|(s, _)| s >= stored.size);
        if recorded || stored.size > size {
            return Ok(());
        }
        if self.root_at(stored.size)? != stored.root {
            return Err(DomainError::Invariant(format!(
                "the stored checkpoint of size {} does not match the stored events",
                stored.size
            )));
        }
        published.record(&stored.note)
    }
}

/// The newest stored checkpoint.
///
/// # Errors
/// Database errors.
pub async fn latest_checkpoint<C: ConnectionTrait>(
    db: &C,
) -> Result<Option<StoredCheckpoint>, DomainError> {
    checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::Size)
        .limit(1)
        .one(db)
        .await?
        .map(StoredCheckpoint::try_from)
        .transpose()
}

/// The witnesses' cosignature lines on the checkpoint of `size`, by witness, each with its
/// newline: appended to the checkpoint note, they make the cosigned note.
///
/// # Errors
/// Database errors.
pub async fn cosignatures_at<C: ConnectionTrait>(
    db: &C,
    size: u64,
) -> Result<Vec<String>, DomainError> {
    Ok(checkpoint_cosignature::Entity::find()
        .filter(checkpoint_cosignature::Column::Size.eq(to_i64(size)?))
        .order_by_asc(checkpoint_cosignature::Column::Witness)
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.line)
        .collect())
}

/// The witnesses (`<name>+<key ID>`) that cosigned the checkpoint of `size`.
///
/// # Errors
/// Database errors.
pub async fn cosigners_at<C: ConnectionTrait>(
    db: &C,
    size: u64,
) -> Result<Vec<String>, DomainError> {
    Ok(checkpoint_cosignature::Entity::find()
        .filter(checkpoint_cosignature::Column::Size.eq(to_i64(size)?))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.witness)
        .collect())
}

/// Stores a witness's cosignature line (already verified by the caller) on the stored
/// checkpoint of `size`; a second one by the same witness for that size is ignored.
///
/// # Errors
/// Database errors (also when no checkpoint of that size is stored).
pub async fn store_cosignature<C: ConnectionTrait>(
    db: &C,
    size: u64,
    witness: &str,
    line: &str,
    cosigned_at: u64,
    now: Timestamp,
) -> Result<(), DomainError> {
    checkpoint_cosignature::Entity::insert(checkpoint_cosignature::ActiveModel {
        size: Set(to_i64(size)?),
        witness: Set(witness.to_owned()),
        line: Set(line.to_owned()),
        cosigned_at: Set(to_i64(cosigned_at)?),
        received_at_us: Set(now.0),
    })
    .on_conflict(
        OnConflict::columns([
            checkpoint_cosignature::Column::Size,
            checkpoint_cosignature::Column::Witness,
        ])
        .do_nothing()
        .to_owned(),
    )
    .try_insert()
    .exec(db)
    .await?;
    Ok(())
}

/// Every stored checkpoint, oldest first.
///
/// # Errors
/// Database errors.
pub async fn checkpoints<C: ConnectionTrait>(db: &C) -> Result<Vec<StoredCheckpoint>, DomainError> {
    checkpoint::Entity::find()
        .order_by_asc(checkpoint::Column::Size)
        .all(db)
        .await?
        .into_iter()
        .map(StoredCheckpoint::try_from)
        .collect()
}

/// The stored checkpoint of exactly `size` leaves, if one was signed.
///
/// # Errors
/// Database errors.
pub async fn checkpoint_at<C: ConnectionTrait>(
    db: &C,
    size: u64,
) -> Result<Option<StoredCheckpoint>, DomainError> {
    checkpoint::Entity::find_by_id(to_i64(size)?)
        .one(db)
        .await?
        .map(StoredCheckpoint::try_from)
        .transpose()
}

/// Every stored leaf hash in seq order, read `batch` rows per query, so that only one page is
/// held as text beside the hashes: at 10M events one query for all of them left gigabytes of
/// freed heap in the process after the load.
async fn read_all_leaves<C: ConnectionTrait>(db: &C, batch: u64) -> Result<Vec<Hash>, DomainError> {
    let mut leaves = Vec::new();
    let mut from = 0;
    loop {
        let page = read_leaf_page(db, from, batch).await?;
        let Some((last, _)) = page.last() else { break };
        from = last + 1;
        let full = page.len() as u64 == batch;
        leaves.extend(page.into_iter().map(|(_, h)| h));
        if !full {
            break;
        }
    }
    leaves.shrink_to_fit();
    Ok(leaves)
}

/// Stored leaf hashes of seqs `from .. from + limit`, in order.
async fn read_leaves<C: ConnectionTrait>(
    db: &C,
    from: u64,
    limit: u64,
) -> Result<Vec<Hash>, DomainError> {
    Ok(read_leaf_page(db, from, limit)
        .await?
        .into_iter()
        .map(|(_, h)| h)
        .collect())
}

/// Up to `limit` (seq, leaf hash) pairs from seq `from` on, in seq order.
async fn read_leaf_page<C: ConnectionTrait>(
    db: &C,
    from: u64,
    limit: u64,
) -> Result<Vec<(u64, Hash)>, DomainError> {
    let rows: Vec<(i64, String)> = event::Entity::find()
        .select_only()
        .column(event::Column::Seq)
        .column(event::Column::LeafHash)
        .filter(event::Column::Seq.gte(to_i64(from)?))
        .order_by_asc(event::Column::Seq)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(seq, h)| {
            let hash = h.parse::<Hash>().map_err(|_| {
                DomainError::Invariant(format!("stored leaf hash {h:?} is malformed"))
            })?;
            let seq = u64::try_from(seq)
                .map_err(|_| DomainError::Invariant(format!("event seq {seq} is negative")))?;
            Ok((seq, hash))
        })
        .collect()
}

/// One event by seq.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn event_by_seq<C: ConnectionTrait>(
    db: &C,
    seq: Seq,
) -> Result<EventRecord, DomainError> {
    event::Entity::find_by_id(to_i64(seq.0)?)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("event", seq))?
        .try_into()
}

/// The seq of the event with this leaf hash.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn seq_of_leaf<C: ConnectionTrait>(db: &C, leaf_hash: &Hash) -> Result<Seq, DomainError> {
    let seq: Option<i64> = event::Entity::find()
        .select_only()
        .column(event::Column::Seq)
        .filter(event::Column::LeafHash.eq(leaf_hash.to_string()))
        .order_by_asc(event::Column::Seq)
        .into_tuple()
        .one(db)
        .await?;
    seq.map(|s| to_u64(s).map(Seq))
        .transpose()?
        .ok_or_else(|| DomainError::not_found("leaf", leaf_hash))
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> DomainError {
    DomainError::Internal("transparency log lock poisoned".into())
}

#[cfg(test)]
mod tests {
    use lvyue_notary::{SigningKey, verify_inclusion};
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::audit::audit;
    use crate::db_test;
    use crate::testing::TestDb;
    use crate::testing::world::World;

    /// A log with a few events and a signed checkpoint over them.
    async fn signed_log(db: &TestDb) -> (TransparencyLog, SigningKey) {
        let w = World::new(db).await;
        w.regulator(&["3201"], &[crate::principal::Industry::Canteen])
            .await;
        w.payer("段誉").await;
        w.court().await;
        let key = SigningKey::from_seed("lvyue.test/escrow-log", [9; 32]).unwrap();
        let log = TransparencyLog::load(&db.db, key.clone()).await.unwrap();
        log.checkpoint(&db.db, w.escrow.clock().now())
            .await
            .unwrap();
        (log, key)
    }

    /// Whether every leaf still proves into the signed checkpoint, with the tree rebuilt from
    /// what the database now holds.
    async fn proofs_hold(db: &TestDb, key: &SigningKey) -> bool {
        let log = TransparencyLog::load(&db.db, key.clone()).await.unwrap();
        let cp = latest_checkpoint(&db.db).await.unwrap().unwrap();
        (0..cp.size).all(|i| {
            let leaf = log.tree.read().unwrap().leaf(i).unwrap();
            log.inclusion_proof(i, cp.size)
                .is_ok_and(|p| verify_inclusion(&leaf, i, cp.size, &p, &cp.root).is_ok())
        })
    }

    async fn rules(db: &TestDb, key: &SigningKey) -> Vec<&'static str> {
        audit(&db.db, Some(&key.verifier_key()))
            .await
            .unwrap()
            .breaches
            .iter()
            .map(|b| b.rule)
            .collect()
    }

    db_test!(
        the_tree_is_the_same_whatever_the_page_size_it_is_read_in,
        |db: TestDb| async move {
            let w = World::new(&db).await;
            for name in ["段誉", "王语嫣", "萧峰", "虚竹"] {
                w.payer(name).await;
            }
            let (log, _) = signed_log(&db).await;
            let size = log.size();
            assert!(size > 4, "{size}");
            let whole = read_leaves(&db.db, 0, size + 10).await.unwrap();
            for batch in [1, 2, 3, size - 1, size, size + 1] {
                let paged = read_all_leaves(&db.db, batch).await.unwrap();
                assert_eq!(paged, whole, "batch {batch}");
            }
            let root = Tree::from_leaf_hashes(whole).root_at(size).unwrap();
            assert_eq!(root, log.root_at(size).unwrap());
        }
    );

    db_test!(
        a_changed_event_is_caught_by_the_audit,
        |db: TestDb| async move {
            let (_, key) = signed_log(&db).await;
            assert!(rules(&db, &key).await.is_empty());
            db.db.execute_unprepared("UPDATE event SET canonical = REPLACE(canonical, 'payer', 'payee') WHERE seq = 1").await.unwrap();
            let found = rules(&db, &key).await;
            assert!(
                found.contains(&"event_leaf_hash") && found.contains(&"event_canonical"),
                "{found:?}"
            );
        }
    );

    db_test!(
        a_changed_leaf_hash_breaks_the_signed_root_and_the_proofs,
        |db: TestDb| async move {
            let (_, key) = signed_log(&db).await;
            assert!(proofs_hold(&db, &key).await);
            let forged = lvyue_notary::leaf_hash(b"forged").to_string();
            db.db
                .execute_unprepared(&format!(
                    "UPDATE event SET leaf_hash = '{forged}' WHERE seq = 0"
                ))
                .await
                .unwrap();
            let found = rules(&db, &key).await;
            assert!(
                found.contains(&"checkpoint_root") && found.contains(&"event_leaf_hash"),
                "{found:?}"
            );
            assert!(
                !proofs_hold(&db, &key).await,
                "proofs against the signed root fail"
            );
        }
    );

    db_test!(
        a_changed_checkpoint_is_caught_by_the_audit,
        |db: TestDb| async move {
            let (_, key) = signed_log(&db).await;
            db.db
                .execute_unprepared(
                    "UPDATE checkpoint SET note = REPLACE(note, 'escrow-log', 'escrow-lag')",
                )
                .await
                .unwrap();
            assert!(rules(&db, &key).await.contains(&"checkpoint_signature"));
            let other = SigningKey::from_seed("lvyue.test/escrow-log", [10; 32]).unwrap();
            assert!(
                rules(&db, &other).await.contains(&"checkpoint_signature"),
                "a checkpoint under another key is not ours"
            );
        }
    );

    db_test!(
        a_changed_posting_is_caught_by_the_audit,
        |db: TestDb| async move {
            let w = World::new(&db).await;
            let scheme = w.scheme(crate::principal::Industry::Canteen, "320100", None, serde_json::json!({"milestones": [{"name": "餐费", "share_bp": 10000, "auto_after_days": 0}]})).await;
            let m = w
                .merchant("示范食堂", "320102", crate::principal::Industry::Canteen)
                .await;
            w.enroll(&scheme, &m).await;
            let p = w.payer("王芳").await;
            let o = w.order(&scheme, &m, &p, "300.00").await;
            w.pay(&o, "300.00").await;
            assert!(audit(&db.db, None).await.unwrap().is_clean());
            db.db.execute_unprepared("UPDATE posting SET amount_fen = 1 WHERE id = (SELECT MIN(id) FROM posting WHERE amount_fen > 0)").await.unwrap();
            let found: Vec<_> = audit(&db.db, None)
                .await
                .unwrap()
                .breaches
                .iter()
                .map(|b| b.rule)
                .collect();
            assert!(
                found.contains(&"entry_unbalanced") && found.contains(&"cached_balance"),
                "{found:?}"
            );
        }
    );
}
