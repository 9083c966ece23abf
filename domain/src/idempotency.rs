//! Idempotency keys: every money-moving command carries one. The first successful command
//! under a key stores a hash of its request and its result; a replay with the same request
//! returns that result, a different request under the same key is a `CONFLICT`. Keys are kept
//! forever and are scoped to the principal that used them: its role, its party and its
//! subject together, so two parties whose tokens share a subject never see each other's
//! results.
//!
//! The key row is claimed at the start of the command's transaction and completed at its end,
//! so a concurrent duplicate waits on the unique index and then sees the finished record; a
//! command that fails rolls its claim back, leaving the key free for a retry.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::OnConflict,
};
use sha2::{Digest, Sha256};

use lvyue_entity::idempotency_record as rec;

use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::principal::Principal;

/// Longest idempotency key accepted (a UUID is 36).
pub const MAX_KEY_LEN: usize = 128;

/// A validated idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// # Errors
    /// Empty, longer than [`MAX_KEY_LEN`], or containing characters other than printable ASCII.
    pub fn new(key: &str) -> Result<IdempotencyKey, DomainError> {
        if !crate::text::printable_ascii(key, 1..=MAX_KEY_LEN) {
            return Err(DomainError::invalid(
                "idempotencyKey",
                format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces"),
            ));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 over the command name and the canonical JSON of its input.
pub fn request_hash(command: &str, input: &serde_json::Value) -> Result<String, DomainError> {
    let canonical =
        lvyue_notary::canonical_json(input).map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    h.update([0u8]);
    h.update(&canonical);
    Ok(hex::encode(h.finalize()))
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: run the command, then [`complete`] this record.
    Fresh(i64),
    /// The same request already succeeded: here is its stored result.
    Replay(String),
}

/// Whose a key is: role, party and subject (`MERCHANT|pty_3|ops-1`).
pub fn owner(p: &Principal) -> String {
    let party = p
        .party_id
        .map_or_else(|| "-".to_owned(), |id| id.to_string());
    format!("{}|{party}|{}", p.role, p.subject)
}

/// Whether `key` already carries a finished answer for `who` (a retry will replay it).
///
/// # Errors
/// Database errors.
pub async fn answered<C: ConnectionTrait>(
    db: &C,
    who: &Principal,
    key: &IdempotencyKey,
) -> Result<bool, DomainError> {
    let owner = owner(who);
    Ok(rec::Entity::find()
        .filter(rec::Column::Principal.is_in([owner.as_str(), who.subject.as_str()]))
        .filter(rec::Column::Key.eq(key.as_str()))
        .filter(rec::Column::Response.ne(""))
        .one(db)
        .await?
        .is_some())
}

/// Claims `key` for `principal` inside the command's transaction.
///
/// # Errors
/// `CONFLICT` when the key was used for a different request; database errors.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    who: &Principal,
    key: &IdempotencyKey,
    command: &str,
    hash: &str,
    now: Timestamp,
) -> Result<Claim, DomainError> {
    let principal = owner(who);
    let inserted = rec::Entity::insert(rec::ActiveModel {
        principal: Set(principal.clone()),
        key: Set(key.0.clone()),
        command: Set(command.to_owned()),
        request_hash: Set(hash.to_owned()),
        response: Set(String::new()),
        created_at_us: Set(now.0),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([rec::Column::Principal, rec::Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec(db)
    .await?;
    // One read finds this principal's record and, for keys written before keys were scoped by
    // role and party, one under the bare subject: a retry of such a request must still find
    // its first answer, never run twice. (A fresh claim made here is rolled back with the
    // transaction when the answer is a replay or a conflict.)
    let rows = rec::Entity::find()
        .filter(rec::Column::Principal.is_in([principal.as_str(), who.subject.as_str()]))
        .filter(rec::Column::Key.eq(key.as_str()))
        .all(db)
        .await?;
    let legacy = rows
        .iter()
        .find(|r| r.principal == who.subject && !r.response.is_empty());
    let mine = rows.iter().find(|r| r.principal == principal);
    let earlier = match (legacy, mine, &inserted) {
        (Some(l), _, _) => l,
        (None, Some(m), sea_orm::TryInsertResult::Inserted(_)) => return Ok(Claim::Fresh(m.id)),
        (None, Some(m), _) => m,
        (None, None, _) => {
            return Err(DomainError::Internal("idempotency record vanished".into()));
        }
    };
    if earlier.request_hash != hash || earlier.command != command {
        return Err(DomainError::Conflict(format!(
            "idempotency key {:?} was already used for a different request",
            key.as_str()
        )));
    }
    Ok(Claim::Replay(earlier.response.clone()))
}

/// Stores the result of the command that claimed record `id`.
///
/// # Errors
/// Database errors.
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    id: i64,
    response: String,
) -> Result<(), DomainError> {
    rec::ActiveModel {
        id: Set(id),
        response: Set(response),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::access::RecordAccess;
    use crate::db_test;
    use crate::ids::PartyId;
    use crate::principal::{Jurisdiction, Role};
    use crate::testing::TestDb;

    fn who(role: Role, party: i64) -> Principal {
        Principal {
            subject: "shared-subject".into(),
            role,
            party_id: Some(PartyId(party)),
            jurisdiction: Jurisdiction::default(),
        }
    }

    db_test!(
        parties_sharing_a_subject_never_share_a_key,
        |db: TestDb| async move {
            let escrow = db.escrow().await;
            let key = IdempotencyKey::new("read-1").unwrap();
            let read = RecordAccess {
                operation: "graphql".into(),
                objects: vec!["party pty_1".into()],
                ..RecordAccess::default()
            };
            let regulator = who(Role::Regulator, 1);
            let court = who(Role::Court, 2);
            let first = escrow.execute(&regulator, Some(&key), &read).await.unwrap();
            // The same key and request under another party is its own request, not a replay
            // of the regulator's answer.
            let second = escrow.execute(&court, Some(&key), &read).await.unwrap();
            assert_ne!(first, second);
            // Each replays its own.
            assert_eq!(
                escrow.execute(&regulator, Some(&key), &read).await.unwrap(),
                first
            );
            assert_eq!(
                escrow.execute(&court, Some(&key), &read).await.unwrap(),
                second
            );
            assert_eq!(owner(&court), "COURT|pty_2|shared-subject");
        }
    );

    db_test!(
        a_key_answered_before_keys_were_scoped_still_replays,
        |db: TestDb| async move {
            let escrow = db.escrow().await;
            let read = RecordAccess {
                operation: "graphql".into(),
                ..RecordAccess::default()
            };
            let input = serde_json::to_value(&read).unwrap();
            let hash = request_hash("recordAccess", &input).unwrap();
            // As an older version stored it: under the bare subject.
            rec::ActiveModel {
                principal: Set("shared-subject".into()),
                key: Set("old-1".into()),
                command: Set("recordAccess".into()),
                request_hash: Set(hash),
                response: Set("41".into()),
                created_at_us: Set(0),
                ..Default::default()
            }
            .insert(&db.db)
            .await
            .unwrap();
            let key = IdempotencyKey::new("old-1").unwrap();
            let regulator = who(Role::Regulator, 1);
            assert_eq!(
                escrow.execute(&regulator, Some(&key), &read).await.unwrap(),
                41
            );
            let other = RecordAccess {
                operation: "other".into(),
                ..RecordAccess::default()
            };
            let err = escrow
                .execute(&regulator, Some(&key), &other)
                .await
                .unwrap_err();
            assert_eq!(err.code(), crate::error::ErrorCode::Conflict);
        }
    );
}
