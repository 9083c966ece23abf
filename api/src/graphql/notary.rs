//! The transparency log in the schema, public to everyone with no token: signed checkpoints,
//! the verifier key, inclusion proofs (by leaf index, event id or leaf hash) and consistency
//! proofs, for any tree size. They reveal only hashes and the log's size.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};

use lvyue_domain::DomainError;
use lvyue_domain::ids::Seq;
use lvyue_domain::log::{self as dlog, StoredCheckpoint, TransparencyLog};
use lvyue_notary::{Hash, ProofBundle};

use super::common::{id, time};
use super::context::ContextExt;

/// The node's log (schema data).
pub fn log<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Arc<TransparencyLog>> {
    ctx.data_opt::<Arc<TransparencyLog>>().ok_or_else(|| {
        crate::error::coded(
            crate::error::ErrorCode::Internal,
            crate::error::INTERNAL_MESSAGE,
        )
    })
}

/// A signed tree head.
#[derive(SimpleObject)]
pub struct Checkpoint {
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// RFC 9162 root, lowercase hex.
    pub root_hash: String,
    /// The C2SP signed note, verbatim.
    pub note: String,
    /// Witnesses' cosignature lines on it (C2SP tlog-cosignature), each ending in a newline:
    /// appended to `note` they make the cosigned note.
    pub cosignatures: Vec<String>,
    pub signed_at: chrono::DateTime<chrono::Utc>,
}

async fn checkpoint(
    ctx: &Context<'_>,
    origin: &str,
    c: StoredCheckpoint,
) -> async_graphql::Result<Checkpoint> {
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size: c.size,
        root_hash: c.root.to_string(),
        cosignatures: dlog::cosignatures_at(ctx.escrow()?.db(), c.size).await?,
        note: c.note,
        signed_at: time(c.created_at),
    })
}

/// An RFC 9162 inclusion proof.
#[derive(SimpleObject)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    /// The audit path, leaf side first, lowercase hex.
    pub hashes: Vec<String>,
    /// The root the path leads to.
    pub root_hash: String,
    /// The signed checkpoint of `treeSize`, when one was signed at that size.
    pub checkpoint: Option<String>,
    /// The proof as a C2SP `tlog-proof@v1` file, when a checkpoint of `treeSize` exists.
    pub tlog_proof: Option<String>,
}

/// An RFC 9162 consistency proof.
#[derive(SimpleObject)]
pub struct ConsistencyProof {
    pub from_size: u64,
    pub to_size: u64,
    pub from_root: String,
    pub to_root: String,
    pub hashes: Vec<String>,
}

fn hex(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_string).collect()
}

/// The size proofs are made against when none is asked for: the newest signed checkpoint's.
async fn default_size(ctx: &Context<'_>, size: Option<u64>) -> async_graphql::Result<u64> {
    match size {
        Some(s) => Ok(s),
        None => Ok(dlog::latest_checkpoint(ctx.escrow()?.db())
            .await?
            .map(|c| c.size)
            .unwrap_or(0)),
    }
}

async fn inclusion(
    ctx: &Context<'_>,
    index: u64,
    size: Option<u64>,
) -> async_graphql::Result<InclusionProof> {
    let log = log(ctx)?;
    let size = default_size(ctx, size).await?;
    let hashes = log.inclusion_proof(index, size)?;
    let leaf = lvyue_domain::log::event_by_seq(ctx.escrow()?.db(), Seq(index))
        .await?
        .leaf_hash;
    let at = dlog::checkpoint_at(ctx.escrow()?.db(), size).await?;
    let tlog_proof = at
        .as_ref()
        .map(|c| ProofBundle::new(index, hashes.clone(), c.note.clone()).to_string());
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: leaf,
        hashes: hex(&hashes),
        root_hash: log.root_at(size)?.to_string(),
        checkpoint: at.map(|c| c.note),
        tlog_proof,
    })
}

#[derive(Default)]
pub struct NotaryQuery;

#[Object]
impl NotaryQuery {
    /// The newest signed checkpoint (public).
    async fn checkpoint(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Checkpoint>> {
        let origin = log(ctx)?.origin().to_owned();
        match dlog::latest_checkpoint(ctx.escrow()?.db()).await? {
            Some(c) => Ok(Some(checkpoint(ctx, &origin, c).await?)),
            None => Ok(None),
        }
    }

    /// The signed checkpoint of exactly `size` leaves, if one was signed (public).
    async fn checkpoint_at(
        &self,
        ctx: &Context<'_>,
        size: u64,
    ) -> async_graphql::Result<Option<Checkpoint>> {
        let origin = log(ctx)?.origin().to_owned();
        match dlog::checkpoint_at(ctx.escrow()?.db(), size).await? {
            Some(c) => Ok(Some(checkpoint(ctx, &origin, c).await?)),
            None => Ok(None),
        }
    }

    /// The log's Ed25519 verifier key, C2SP `name+hash+base64` form (public). Obtain it from
    /// the bank independently before trusting it.
    async fn notary_key(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(log(ctx)?.verifier_key().to_string())
    }

    /// Inclusion proof of leaf `leafIndex` in the tree of `treeSize` leaves (default: the
    /// newest checkpoint's size). Public.
    async fn inclusion_proof(
        &self,
        ctx: &Context<'_>,
        leaf_index: u64,
        tree_size: Option<u64>,
    ) -> async_graphql::Result<InclusionProof> {
        inclusion(ctx, leaf_index, tree_size).await
    }

    /// Inclusion proof of an event, by its id (`evt_<seq>`). Public.
    async fn inclusion_proof_by_event(
        &self,
        ctx: &Context<'_>,
        event: ID,
        tree_size: Option<u64>,
    ) -> async_graphql::Result<InclusionProof> {
        let seq: Seq = id(&event)?;
        inclusion(ctx, seq.0, tree_size).await
    }

    /// Inclusion proof of the leaf with this hash (lowercase hex). Public.
    async fn inclusion_proof_by_leaf_hash(
        &self,
        ctx: &Context<'_>,
        leaf_hash: String,
        tree_size: Option<u64>,
    ) -> async_graphql::Result<InclusionProof> {
        let h: Hash = leaf_hash.parse().map_err(DomainError::from)?;
        let seq = dlog::seq_of_leaf(ctx.escrow()?.db(), &h).await?;
        inclusion(ctx, seq.0, tree_size).await
    }

    /// Consistency proof between two tree sizes (`toSize` default: the newest checkpoint's).
    /// Public.
    async fn consistency_proof(
        &self,
        ctx: &Context<'_>,
        from_size: u64,
        to_size: Option<u64>,
    ) -> async_graphql::Result<ConsistencyProof> {
        let log = log(ctx)?;
        let to = default_size(ctx, to_size).await?;
        let hashes = log.consistency_proof(from_size, to)?;
        Ok(ConsistencyProof {
            from_size,
            to_size: to,
            from_root: log.root_at(from_size)?.to_string(),
            to_root: log.root_at(to)?.to_string(),
            hashes: hex(&hashes),
        })
    }
}
