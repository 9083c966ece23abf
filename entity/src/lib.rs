//! sea-orm entities for Lvyue: one module per table, no logic.
//!
//! Money columns are `i64` fen (`*_fen`), never `Decimal` (sea-orm stores `Decimal` in SQLite as
//! a float). Times are `i64` microseconds since the Unix epoch (`*_at_us`) so that SQLite and
//! PostgreSQL compare and round-trip them identically. The schema itself is created by
//! `lvyue-migration`; these structs must match it.

pub mod account;
pub mod alert;
pub mod canteen_school;
pub mod card_usage;
pub mod checkpoint;
pub mod checkpoint_cosignature;
pub mod confirmation;
pub mod confirmer_scheme;
pub mod deposit_account;
pub mod deposit_freeze;
pub mod deposit_inflow;
pub mod enrollment;
pub mod enterprise_funding;
pub mod escrow_order;
pub mod event;
pub mod hold;
pub mod holiday_day;
pub mod holiday_year;
pub mod idempotency_record;
pub mod journal_entry;
pub mod list_entry;
pub mod list_import;
pub mod log_head;
pub mod medical_advance;
pub mod medical_receipt;
pub mod medical_receipt_line;
pub mod milestone;
pub mod notification;
pub mod party;
pub mod payment;
pub mod payout;
pub mod posting;
pub mod purchase_payment;
pub mod refund;
pub mod report_run;
pub mod risk_score;
pub mod scheduled_job;
pub mod scheme;
pub mod scheme_policy;
pub mod statement;
pub mod statement_line;
pub mod system_account;
pub mod voucher;
pub mod voucher_project;
pub mod voucher_redemption;
pub mod webhook_delivery;
pub mod webhook_endpoint;
