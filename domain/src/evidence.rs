//! Court evidence: for orders a court names under a case number, everything a third party needs
//! to re-verify the orders' history without the bank's system — each event's canonical JSON,
//! its leaf hash, its RFC 9162 inclusion proof against a signed checkpoint, the checkpoint
//! note, the verifier key, and a C2SP `tlog-proof` per event (docs/domain.md, "Courts").
//!
//! Producing a bundle is itself recorded in the log first (an `access.read` event naming the
//! case), so every court read is on the record.

use serde::{Deserialize, Serialize};

use lvyue_notary::{Checkpoint, CosignerKey, Hash, ProofBundle, VerifierKey, verify_bundle};

use crate::Escrow;
use crate::access::RecordAccess;
use crate::error::{DomainError, DomainResult};
use crate::event::EventRecord;
use crate::ids::OrderId;
use crate::log::TransparencyLog;
use crate::principal::{Principal, Role};

/// The bundle format's name, for verifiers.
pub const FORMAT: &str = "lvyue-evidence/v1";
/// Most orders one request may name.
pub const MAX_ORDERS: usize = 50;

/// One event, with its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEvent {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// The leaf bytes: RFC 8785 canonical JSON, as stored.
    pub canonical: String,
    /// SHA-256(0x00 ‖ canonical), lowercase hex.
    pub leaf_hash: String,
    /// RFC 9162 audit path against the checkpoint's tree size, lowercase hex, leaf side first.
    pub inclusion_proof: Vec<String>,
    /// The same proof as a C2SP `tlog-proof@v1` file (verifiable by standard tlog tools).
    pub tlog_proof: String,
    /// The salt of the personal-data commitments in `canonical`, disclosed to the court.
    pub salt: Option<String>,
}

/// The order the events belong to, with the payer's data in clear for the court.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceOrder {
    pub order_id: OrderId,
    pub order_no: String,
    pub payer_name: String,
    pub payer_id_number: Option<String>,
    pub payer_phone: Option<String>,
    pub events: Vec<EvidenceEvent>,
}

/// Everything `lvyue verify` needs, in one JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceBundle {
    pub format: String,
    pub case_no: String,
    pub requested_by: String,
    pub generated_at: String,
    /// The log's identity and public key (C2SP vkey). Verify against a key obtained from the
    /// bank independently, not only this copy.
    pub origin: String,
    pub verifier_key: String,
    pub tree_size: u64,
    pub root_hash: String,
    /// The signed checkpoint (C2SP signed note) every proof in the bundle is against.
    pub checkpoint: String,
    /// Witnesses' cosignature lines on that checkpoint (C2SP tlog-cosignature): appended to
    /// `checkpoint`, they make the cosigned note. Empty when no witness is configured or none
    /// answered in time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cosignatures: Vec<String>,
    pub orders: Vec<EvidenceOrder>,
    /// Seq of the `access.read` event recording this request.
    pub access_seq: u64,
    pub how_to_verify: String,
}

const HOW_TO_VERIFY: &str = "For each event: leaf_hash = SHA-256(0x00 || canonical bytes as UTF-8); \
fold the inclusion_proof with SHA-256(0x01 || left || right) as in RFC 9162 §2.1.3.2 for leaf index = seq \
and tree size = tree_size; the result must equal root_hash, and the checkpoint note (C2SP tlog-checkpoint) \
must carry a valid Ed25519 signature by verifier_key over origin, tree_size and root_hash. Personal data \
fields inside canonical are commitments SHA-256(salt || label || 0x00 || value). Witnesses' cosignatures, if any, \
are further signature lines on the checkpoint (C2SP tlog-cosignature). `lvyue verify --bundle FILE --key KEY \
[--witness-key W]...` does all of this offline; so does the page GET /verify of the bank's server, in a browser.";

/// Builds a court's evidence bundle for `orders` under `case_no`.
///
/// # Errors
/// `FORBIDDEN` for anyone but a court (or the bank); `NOT_FOUND` for an unknown order;
/// `VALIDATION` for an empty or oversized request.
pub async fn bundle(
    escrow: &Escrow,
    log: &TransparencyLog,
    who: &Principal,
    case_no: &str,
    orders: &[OrderId],
) -> DomainResult<EvidenceBundle> {
    who.require_role(&[Role::Court, Role::Bank])?;
    if orders.is_empty() || orders.len() > MAX_ORDERS {
        return Err(DomainError::invalid(
            "orders",
            format!("name 1 to {MAX_ORDERS} orders"),
        ));
    }
    let case_no = crate::court::check_case_no(case_no)?;
    let case_no = case_no.as_str();
    let db = escrow.db();
    let mut records = Vec::with_capacity(orders.len());
    for id in orders {
        records.push(crate::order_record::get_order(db, *id).await?);
    }
    let access_seq = escrow
        .execute(
            who,
            None,
            &RecordAccess {
                operation: "evidence".into(),
                objects: records.iter().map(|o| o.order_no.clone()).collect(),
                case_no: Some(case_no.to_owned()),
                orders: orders.to_vec(),
                ..RecordAccess::default()
            },
        )
        .await?;
    log.sync(db).await?;
    let now = escrow.clock().now();
    let checkpoint = log
        .checkpoint(db, now)
        .await?
        .ok_or_else(|| DomainError::Internal("the log is empty".into()))?;
    let mut out_orders = Vec::new();
    for o in records {
        let payer = crate::party::get_party(db, o.payer).await?;
        let reveal = |enc: &Option<String>| {
            enc.as_deref()
                .map(|c| escrow.vault().decrypt(c))
                .transpose()
        };
        let mut events = Vec::new();
        let mut after = None;
        loop {
            let page = crate::queries::events(
                db,
                &Principal::system(),
                Some(o.id),
                after,
                crate::page::MAX_PAGE,
            )
            .await?;
            for e in &page.items {
                if e.seq.0 < checkpoint.size {
                    events.push(evidence_event(log, e, checkpoint.size, &checkpoint.note)?);
                }
            }
            after = page.items.last().map(|e| e.seq);
            if !page.has_next {
                break;
            }
        }
        out_orders.push(EvidenceOrder {
            order_id: o.id,
            order_no: o.order_no,
            payer_name: payer.name.clone(),
            payer_id_number: reveal(&payer.id_number_enc)?,
            payer_phone: reveal(&payer.phone_enc)?,
            events,
        });
    }
    Ok(EvidenceBundle {
        format: FORMAT.into(),
        case_no: case_no.to_owned(),
        requested_by: who.subject.clone(),
        generated_at: now.rfc3339(),
        origin: log.origin().to_owned(),
        verifier_key: log.verifier_key().to_string(),
        tree_size: checkpoint.size,
        root_hash: checkpoint.root.to_string(),
        cosignatures: crate::log::cosignatures_at(db, checkpoint.size).await?,
        checkpoint: checkpoint.note,
        orders: out_orders,
        access_seq,
        how_to_verify: HOW_TO_VERIFY.into(),
    })
}

fn evidence_event(
    log: &TransparencyLog,
    e: &EventRecord,
    size: u64,
    note: &str,
) -> DomainResult<EvidenceEvent> {
    let path = log.inclusion_proof(e.seq.0, size)?;
    let tlog_proof = ProofBundle::new(e.seq.0, path.clone(), note.to_owned()).to_string();
    Ok(EvidenceEvent {
        seq: e.seq.0,
        kind: e.kind.clone(),
        canonical: e.canonical.clone(),
        leaf_hash: e.leaf_hash.clone(),
        inclusion_proof: path.iter().map(Hash::to_string).collect(),
        tlog_proof,
        // A sealed event (another reader's access record) is proved, not opened: its salt
        // would let anyone try the few possible order ids and case numbers against it.
        salt: e.salt.clone().filter(|_| e.opening.is_none()),
    })
}

/// What an offline verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub events: usize,
    pub tree_size: u64,
    pub root_hash: String,
    /// The witnesses (`<name>+<key ID>`) whose cosignatures verified.
    pub witnesses: Vec<String>,
}

/// Verifies a bundle offline with `key` (the bank's verifier key, obtained independently):
/// the checkpoint's signature, and every event's leaf hash and inclusion proof.
///
/// # Errors
/// `VALIDATION` naming the first event or check that failed.
pub fn verify(bundle: &EvidenceBundle, key: &VerifierKey) -> DomainResult<Verification> {
    verify_witnessed(bundle, key, &[], 0)
}

/// [`verify`], and at least `min` of the `witnesses` must have cosigned the checkpoint (each
/// cosignature line checked with the witness's key; lines by other witnesses are ignored).
///
/// # Errors
/// As [`verify`]; `VALIDATION` when a witness's line does not verify or too few witnesses
/// cosigned.
pub fn verify_witnessed(
    bundle: &EvidenceBundle,
    key: &VerifierKey,
    witnesses: &[CosignerKey],
    min: usize,
) -> DomainResult<Verification> {
    let verification = verify_events(bundle, key)?;
    let cosigned = format!("{}{}", bundle.checkpoint, bundle.cosignatures.concat());
    let mut by = Vec::new();
    for w in witnesses {
        match w.verify(&cosigned) {
            Ok(_) => by.push(w.label()),
            Err(lvyue_notary::NotaryError::UnknownKey { .. }) => {}
            Err(e) => return Err(DomainError::invalid("cosignatures", e.to_string())),
        }
    }
    if by.len() < min {
        return Err(DomainError::invalid(
            "cosignatures",
            format!(
                "{} of the {} witnesses given cosigned the checkpoint; {min} are required",
                by.len(),
                witnesses.len()
            ),
        ));
    }
    Ok(Verification {
        witnesses: by,
        ..verification
    })
}

fn verify_events(bundle: &EvidenceBundle, key: &VerifierKey) -> DomainResult<Verification> {
    if bundle.format != FORMAT {
        return Err(DomainError::invalid("format", format!("expected {FORMAT}")));
    }
    let cp = Checkpoint::open(&bundle.checkpoint, key)?;
    if cp.size != bundle.tree_size || cp.root.to_string() != bundle.root_hash {
        return Err(DomainError::invalid(
            "checkpoint",
            "the bundle's tree size or root differs from its signed checkpoint",
        ));
    }
    let mut n = 0;
    for o in &bundle.orders {
        for e in &o.events {
            let leaf = lvyue_notary::leaf_hash(e.canonical.as_bytes());
            if leaf.to_string() != e.leaf_hash {
                return Err(DomainError::invalid(
                    "event",
                    format!(
                        "event {}: its leaf hash does not match its canonical bytes",
                        e.seq
                    ),
                ));
            }
            let path: Vec<Hash> = e
                .inclusion_proof
                .iter()
                .map(|h| h.parse::<Hash>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    DomainError::invalid(
                        "event",
                        format!("event {}: a proof hash is not hex", e.seq),
                    )
                })?;
            lvyue_notary::verify_inclusion(&leaf, e.seq, cp.size, &path, &cp.root)
                .map_err(|err| DomainError::invalid("event", format!("event {}: {err}", e.seq)))?;
            verify_bundle(e.canonical.as_bytes(), &e.tlog_proof, key).map_err(|err| {
                DomainError::invalid("event", format!("event {} tlog-proof: {err}", e.seq))
            })?;
            check_seq_in_leaf(e)?;
            n += 1;
        }
    }
    Ok(Verification {
        events: n,
        tree_size: cp.size,
        root_hash: cp.root.to_string(),
        witnesses: Vec::new(),
    })
}

/// The seq inside the leaf must be the index it is proved at: the proof shows where the leaf
/// sits in the tree, and only this check ties that position to the seq the event claims.
fn check_seq_in_leaf(e: &EvidenceEvent) -> DomainResult<()> {
    let v: serde_json::Value = serde_json::from_str(&e.canonical).map_err(|_| {
        DomainError::invalid(
            "event",
            format!("event {}: canonical bytes are not JSON", e.seq),
        )
    })?;
    if v.get("seq").and_then(serde_json::Value::as_u64) != Some(e.seq) {
        return Err(DomainError::invalid(
            "event",
            format!("event {}: the leaf names another seq", e.seq),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_test;
    use crate::testing::TestDb;
    use crate::testing::world::World;
    use lvyue_notary::SigningKey;

    db_test!(
        a_court_bundle_verifies_offline_and_records_the_read,
        |db: TestDb| async move {
            let w = World::new(&db).await;
            let court = w.court().await;
            let scheme = w.scheme(crate::principal::Industry::DrivingSchool, "320100", None, serde_json::json!({"milestones": [{"name": "报名", "share_bp": 10000, "auto_after_days": 0}]})).await;
            let m = w
                .merchant(
                    "南京某某驾校",
                    "320102",
                    crate::principal::Industry::DrivingSchool,
                )
                .await;
            w.enroll(&scheme, &m).await;
            let payer = w.payer("段誉").await;
            let order = w.order(&scheme, &m, &payer, "880.00").await;
            w.pay(&order, "880.00").await;
            w.pass_days(1).await;
            let key = SigningKey::from_seed("lvyue.test/escrow-log", [7; 32]).unwrap();
            let log = TransparencyLog::load(&db.db, key.clone()).await.unwrap();
            let court_p = w.as_party(Role::Court, court.id);
            let b = bundle(
                &w.escrow,
                &log,
                &court_p,
                "(2026)苏0102民初1号",
                &[order.id],
            )
            .await
            .unwrap();
            let kinds: Vec<&str> = b.orders[0].events.iter().map(|e| e.kind.as_str()).collect();
            for k in [
                "order.opened",
                "payment.collected",
                "order.settled",
                "milestone.released",
            ] {
                assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
            }
            assert_eq!(b.orders[0].payer_name, "段誉");
            let v = verify(&b, &key.verifier_key()).unwrap();
            assert_eq!(v.events, b.orders[0].events.len());
            // The read is on the record, on the order's own history too.
            let access = crate::log::event_by_seq(&db.db, crate::ids::Seq(b.access_seq))
                .await
                .unwrap();
            assert_eq!(access.kind, "access.read");
            assert_eq!(
                access.opening.as_ref().unwrap()["case_no"],
                "(2026)苏0102民初1号"
            );
            // Its leaf commits to the case number without showing it.
            assert!(
                !access.canonical.contains("民初1号"),
                "{}",
                access.canonical
            );
            // A changed byte, a wrong key, a wrong seq: each fails.
            let mut tampered = b.clone();
            tampered.orders[0].events[0].canonical = tampered.orders[0].events[0]
                .canonical
                .replace("880.00", "88.00");
            assert!(verify(&tampered, &key.verifier_key()).is_err());
            let other = SigningKey::from_seed("lvyue.test/escrow-log", [8; 32]).unwrap();
            assert!(verify(&b, &other.verifier_key()).is_err());
            let mut moved = b.clone();
            moved.orders[0].events[0].seq += 1;
            assert!(verify(&moved, &key.verifier_key()).is_err());
            // Only a court (or the bank) asks.
            let payer_p = w.as_party(Role::Payer, payer.id);
            assert_eq!(
                bundle(&w.escrow, &log, &payer_p, "x", &[order.id])
                    .await
                    .unwrap_err()
                    .code(),
                crate::ErrorCode::Forbidden
            );
            let report = crate::audit::audit(&db.db, Some(&key.verifier_key()))
                .await
                .unwrap();
            assert!(report.is_clean(), "{:?}", report.breaches);
            assert!(report.checkpoints >= 1);
        }
    );
}
