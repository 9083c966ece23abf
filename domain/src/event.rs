//! Events: what happened, appended to the transparency log in the same transaction as the
//! change they describe (docs/design.md, "Events and the notary").
//!
//! An event's leaf bytes are the RFC 8785 canonical JSON of
//! `{seq, type, at, order_id?, merchant_id?, data}`. Personal data never appears in `data` in
//! clear: each personal field is a salted commitment `SHA-256(salt ‖ label ‖ 0x00 ‖ value)`
//! (hex), with one random 32-byte salt per event kept beside it and disclosed only to readers
//! allowed to see the person's data (a court).

use rand::RngCore;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use lvyue_entity::{event, log_head};

use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::ids::{OrderId, PartyId, SchemeId, Seq};

/// The most events one transaction may append (a batch payout of 1,000 workers writes one
/// event per batch, not per worker).
pub const MAX_EVENTS_PER_TRANSACTION: usize = 1_000;

/// Event rows per INSERT statement: 11 columns each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
const EVENT_ROWS_PER_INSERT: usize = 500;

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub order_id: Option<OrderId>,
    pub merchant_id: Option<PartyId>,
    pub payer_id: Option<PartyId>,
    pub scheme_id: Option<SchemeId>,
    pub data: Value,
    /// Personal fields to commit to: `(label, value)`; they appear in `data.commitments`.
    pub personal: Vec<(&'static str, String)>,
    /// The whole event is committed to: see [`NewEvent::sealed`].
    pub sealed: bool,
}

impl NewEvent {
    pub fn new(kind: &'static str, data: Value) -> NewEvent {
        NewEvent {
            kind,
            order_id: None,
            merchant_id: None,
            payer_id: None,
            scheme_id: None,
            data,
            personal: Vec::new(),
            sealed: false,
        }
    }

    /// Seals the event: its `data`, its order and its merchant appear in the leaf only as
    /// salted commitments (`data.commitments.data`, `.order_id`, `.merchant_id`), so neither
    /// the leaf bytes nor its hash tell anyone who read what; the clear `data` is kept beside
    /// the leaf (the event's opening) for the readers allowed to see it. The access log's
    /// events are sealed.
    pub fn sealed(mut self) -> NewEvent {
        self.sealed = true;
        self
    }

    pub fn order(mut self, id: OrderId) -> NewEvent {
        self.order_id = Some(id);
        self
    }

    pub fn merchant(mut self, id: PartyId) -> NewEvent {
        self.merchant_id = Some(id);
        self
    }

    pub fn payer(mut self, id: PartyId) -> NewEvent {
        self.payer_id = Some(id);
        self
    }

    pub fn scheme(mut self, id: SchemeId) -> NewEvent {
        self.scheme_id = Some(id);
        self
    }

    pub fn personal(mut self, label: &'static str, value: impl Into<String>) -> NewEvent {
        self.personal.push((label, value.into()));
        self
    }
}

/// `SHA-256(salt ‖ label ‖ 0x00 ‖ value)` as lowercase hex.
pub fn commitment(salt: &[u8], label: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(label.as_bytes());
    h.update([0u8]);
    h.update(value.as_bytes());
    hex::encode(h.finalize())
}

/// The log position of a transaction: taken by locking the log head first thing, which
/// orders every write transaction totally, so seq order is commit order even with several
/// nodes on one PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub struct LogPosition {
    pub next_seq: u64,
    pub last_at: Timestamp,
}

/// Locks the one-row log head for the rest of the transaction.
///
/// # Errors
/// Database errors, or a missing head row (the schema was not migrated).
pub async fn lock_head<C: ConnectionTrait>(db: &C) -> Result<LogPosition, DomainError> {
    use sea_orm::QuerySelect;
    // `FOR UPDATE` on PostgreSQL; SQLite has no row locks, but a write transaction there was
    // begun IMMEDIATE and already holds the database's one write lock.
    let head = log_head::Entity::find_by_id(1)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Internal("log head missing: run migrations".into()))?;
    Ok(LogPosition {
        next_seq: to_u64(head.size)?,
        last_at: Timestamp(head.last_at_us),
    })
}

/// Appends `events` at `pos` (from [`lock_head`] in the same transaction), all stamped `at`,
/// and advances the head. Returns the new log size.
///
/// # Errors
/// Database errors; too many events; data that is not a JSON object.
pub async fn append<C: ConnectionTrait>(
    db: &C,
    pos: LogPosition,
    at: Timestamp,
    events: Vec<NewEvent>,
) -> Result<u64, DomainError> {
    if events.len() > MAX_EVENTS_PER_TRANSACTION {
        return Err(DomainError::LimitExceeded(format!(
            "a transaction may write at most {MAX_EVENTS_PER_TRANSACTION} events"
        )));
    }
    let mut seq = pos.next_seq;
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        let record = seal(Seq(seq), at, e)?;
        rows.push(event::ActiveModel {
            seq: Set(to_i64(seq)?),
            event_type: Set(record.kind.to_owned()),
            at_us: Set(at.0),
            order_id: Set(record.order_id.map(|i| i.0)),
            merchant_id: Set(record.merchant_id.map(|i| i.0)),
            payer_id: Set(record.payer_id.map(|i| i.0)),
            scheme_id: Set(record.scheme_id.map(|i| i.0)),
            data: Set(record.data.to_string()),
            canonical: Set(record.canonical),
            leaf_hash: Set(record.leaf_hash.to_string()),
            salt: Set(record.salt.map(hex::encode)),
            opening: Set(record.opening.map(|o| o.to_string())),
        });
        seq += 1;
    }
    // Multi-row inserts: every write transaction holds the log head until it commits, so each
    // round trip saved here is saved for every writer waiting behind it.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(EVENT_ROWS_PER_INSERT).collect();
        let expected = chunk.len() as u64;
        let inserted = event::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
        if inserted != expected {
            return Err(DomainError::Internal(format!(
                "appended {inserted} of {expected} events"
            )));
        }
    }
    if seq != pos.next_seq {
        log_head::ActiveModel {
            id: Set(1),
            size: Set(to_i64(seq)?),
            last_at_us: Set(at.0),
        }
        .update(db)
        .await?;
    }
    Ok(seq)
}

/// An event with its seq, canonical bytes and leaf hash computed.
#[derive(Debug, Clone)]
pub struct SealedEvent {
    pub kind: &'static str,
    pub order_id: Option<OrderId>,
    pub merchant_id: Option<PartyId>,
    pub payer_id: Option<PartyId>,
    pub scheme_id: Option<SchemeId>,
    pub data: Value,
    pub canonical: String,
    pub leaf_hash: lvyue_notary::Hash,
    pub salt: Option<[u8; 32]>,
    /// A sealed event's clear data.
    pub opening: Option<Value>,
}

fn seal(seq: Seq, at: Timestamp, e: NewEvent) -> Result<SealedEvent, DomainError> {
    let Value::Object(mut data) = e.data else {
        return Err(DomainError::Internal(format!(
            "event {} data is not an object",
            e.kind
        )));
    };
    let salt = if e.personal.is_empty() && !e.sealed {
        None
    } else {
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let commitments: Map<String, Value> = e
            .personal
            .iter()
            .map(|(label, value)| {
                (
                    (*label).to_owned(),
                    Value::String(commitment(&salt, label, value)),
                )
            })
            .collect();
        if !commitments.is_empty() {
            data.insert("commitments".into(), Value::Object(commitments));
        }
        Some(salt)
    };
    let (data, opening) = match (e.sealed, salt) {
        (true, Some(salt)) => {
            let clear = Value::Object(data);
            (
                sealed_data(&salt, &clear, e.order_id, e.merchant_id)?,
                Some(clear),
            )
        }
        _ => (Value::Object(data), None),
    };
    let canonical = canonical_form(seq, e.kind, at, e.order_id, e.merchant_id, &data)?;
    let leaf_hash = lvyue_notary::leaf_hash(canonical.as_bytes());
    Ok(SealedEvent {
        kind: e.kind,
        order_id: e.order_id,
        merchant_id: e.merchant_id,
        payer_id: e.payer_id,
        scheme_id: e.scheme_id,
        data,
        canonical,
        leaf_hash,
        salt,
        opening,
    })
}

/// The leaf data of a sealed event: commitments to its clear data and to its ids.
///
/// # Errors
/// `INTERNAL` when the data cannot be put in canonical form.
pub fn sealed_data(
    salt: &[u8],
    clear: &Value,
    order_id: Option<OrderId>,
    merchant_id: Option<PartyId>,
) -> Result<Value, DomainError> {
    let bytes =
        lvyue_notary::canonical_json(clear).map_err(|e| DomainError::Internal(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut c = Map::new();
    c.insert(
        "data".into(),
        Value::String(commitment(salt, "data", &text)),
    );
    if let Some(o) = order_id {
        c.insert(
            "order_id".into(),
            Value::String(commitment(salt, "order_id", &o.to_string())),
        );
    }
    if let Some(m) = merchant_id {
        c.insert(
            "merchant_id".into(),
            Value::String(commitment(salt, "merchant_id", &m.to_string())),
        );
    }
    Ok(json!({ "commitments": c }))
}

/// The canonical JSON (RFC 8785) of an event: its leaf bytes.
///
/// # Errors
/// Only if the value cannot be canonicalised (it always can for JSON built here).
pub fn canonical_form(
    seq: Seq,
    kind: &str,
    at: Timestamp,
    order_id: Option<OrderId>,
    merchant_id: Option<PartyId>,
    data: &Value,
) -> Result<String, DomainError> {
    let mut obj = json!({ "seq": seq.0, "type": kind, "at": at.rfc3339(), "data": data });
    // An id the data commits to (a sealed event's) is not also in the leaf in clear.
    let committed = |label: &str| data["commitments"].get(label).is_some();
    if let Some(o) = order_id.filter(|_| !committed("order_id")) {
        obj["order_id"] = Value::String(o.to_string());
    }
    if let Some(m) = merchant_id.filter(|_| !committed("merchant_id")) {
        obj["merchant_id"] = Value::String(m.to_string());
    }
    let bytes =
        lvyue_notary::canonical_json(&obj).map_err(|e| DomainError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| DomainError::Internal(e.to_string()))
}

/// A stored event as readers see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventRecord {
    pub seq: Seq,
    pub kind: String,
    pub at: Timestamp,
    pub order_id: Option<OrderId>,
    pub merchant_id: Option<PartyId>,
    pub payer_id: Option<PartyId>,
    pub scheme_id: Option<SchemeId>,
    pub data: Value,
    pub canonical: String,
    pub leaf_hash: String,
    pub salt: Option<String>,
    /// A sealed event's clear data ([`NewEvent::sealed`]): the bank's to read.
    pub opening: Option<Value>,
}

impl TryFrom<event::Model> for EventRecord {
    type Error = DomainError;
    fn try_from(m: event::Model) -> Result<EventRecord, DomainError> {
        Ok(EventRecord {
            seq: Seq(to_u64(m.seq)?),
            kind: m.event_type,
            at: Timestamp(m.at_us),
            order_id: m.order_id.map(OrderId),
            merchant_id: m.merchant_id.map(PartyId),
            payer_id: m.payer_id.map(PartyId),
            scheme_id: m.scheme_id.map(SchemeId),
            data: serde_json::from_str(&m.data)
                .map_err(|e| DomainError::Internal(format!("event data: {e}")))?,
            canonical: m.canonical,
            leaf_hash: m.leaf_hash,
            salt: m.salt,
            opening: m
                .opening
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| DomainError::Internal(format!("event opening: {e}")))?,
        })
    }
}

pub(crate) fn to_u64(v: i64) -> Result<u64, DomainError> {
    u64::try_from(v).map_err(|_| DomainError::Invariant(format!("negative log position {v}")))
}

pub(crate) fn to_i64(v: u64) -> Result<i64, DomainError> {
    i64::try_from(v).map_err(|_| DomainError::Invariant(format!("log position {v} out of range")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_omits_absent_ids() {
        let c = canonical_form(
            Seq(7),
            "order.opened",
            Timestamp(0),
            Some(OrderId(3)),
            None,
            &json!({"b": 1, "a": "x"}),
        )
        .unwrap();
        assert_eq!(
            c,
            r#"{"at":"1970-01-01T00:00:00.000000Z","data":{"a":"x","b":1},"order_id":"ord_3","seq":7,"type":"order.opened"}"#
        );
    }

    #[test]
    fn a_sealed_event_shows_nothing_guessable_in_its_leaf() {
        let e = NewEvent::new(
            "access.order_read",
            json!({"role": "COURT", "case_no": "(2026)苏0102执9号"}),
        )
        .order(OrderId(12))
        .sealed();
        let sealed = seal(Seq(41), Timestamp(0), e).unwrap();
        assert!(!sealed.canonical.contains("ord_12"), "{}", sealed.canonical);
        assert!(!sealed.canonical.contains("COURT"), "{}", sealed.canonical);
        assert!(!sealed.canonical.contains("执9号"), "{}", sealed.canonical);
        let salt = sealed.salt.unwrap();
        assert_eq!(
            sealed.data["commitments"]["order_id"],
            Value::String(commitment(&salt, "order_id", "ord_12"))
        );
        let opening = sealed.opening.unwrap();
        assert_eq!(opening["case_no"], "(2026)苏0102执9号");
        assert_eq!(
            sealed.data,
            sealed_data(&salt, &opening, Some(OrderId(12)), None).unwrap()
        );
        // The canonical form is recomputed from the row alone, as the audit does.
        assert_eq!(
            canonical_form(
                Seq(41),
                "access.order_read",
                Timestamp(0),
                Some(OrderId(12)),
                None,
                &sealed.data
            )
            .unwrap(),
            sealed.canonical
        );
    }

    #[test]
    fn personal_data_is_only_committed_to() {
        let e = NewEvent::new("payer.registered", json!({}))
            .personal("name", "段誉")
            .personal("id_number", "11010519491231002X");
        let sealed = seal(Seq(0), Timestamp(0), e).unwrap();
        assert!(!sealed.canonical.contains("段誉"));
        assert!(!sealed.canonical.contains("11010519491231002X"));
        let salt = sealed.salt.unwrap();
        assert_eq!(
            sealed.data["commitments"]["name"],
            Value::String(commitment(&salt, "name", "段誉"))
        );
    }
}
