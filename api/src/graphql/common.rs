//! Small helpers every business resolver uses: running a command under the caller's
//! idempotency key, parsing opaque ids, converting times.

use std::str::FromStr;

use async_graphql::{Context, ID};
use chrono::{DateTime, Utc};

use lvyue_domain::DomainError;
use lvyue_domain::clock::Timestamp;
use lvyue_domain::command::Command;
use lvyue_domain::idempotency::IdempotencyKey;

use super::context::ContextExt;

/// Runs `cmd` for the caller under its idempotency key: a replay returns the first result, a
/// different request under the same key is a `CONFLICT`.
///
/// # Errors
/// Whatever the command refuses, with its code.
pub async fn run<C: Command>(
    ctx: &Context<'_>,
    idempotency_key: &str,
    cmd: C,
) -> async_graphql::Result<C::Output> {
    let principal = ctx.principal()?;
    let escrow = ctx.escrow()?;
    let key = IdempotencyKey::new(idempotency_key)?;
    Ok(escrow.execute(principal, Some(&key), &cmd).await?)
}

/// Parses an opaque id (`ord_12`); a malformed one is simply not found.
///
/// # Errors
/// `NOT_FOUND`.
pub fn id<T: FromStr<Err = DomainError>>(id: &ID) -> Result<T, DomainError> {
    id.as_str().parse()
}

/// The id as the API shows it.
pub fn gid(x: impl ToString) -> ID {
    ID(x.to_string())
}

pub fn time(t: Timestamp) -> DateTime<Utc> {
    t.to_utc()
}

pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_utc(t)
}
