//! sea-orm entities for Lvyue: one module per table, no logic.
//!
//! Money columns are `i64` fen (`*_fen`), never `Decimal` (sea-orm stores `Decimal` in SQLite as
//! a float). Times are `i64` microseconds since the Unix epoch (`*_at_us`) so that SQLite and
//! PostgreSQL compare and round-trip them identically. The schema itself is created by
//! `lvyue-migration`; these structs must match it.

pub mod account;
pub mod checkpoint;
pub mod event;
pub mod hold;
pub mod idempotency_record;
pub mod journal_entry;
pub mod log_head;
pub mod party;
pub mod posting;
