//! The domain's one error type, and the stable public code of each variant.
//!
//! The API maps [`ErrorCode`] to GraphQL `extensions.code` in one place; messages are written
//! for the caller and never carry SQL, file paths or other internals (database errors are
//! logged and shown as "internal error").

use crate::money::{Money, MoneyError};

/// The stable error codes of the public API (docs/design.md, "GraphQL API").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    Validation,
    InsufficientFunds,
    InvalidState,
    Conflict,
    LimitExceeded,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::InsufficientFunds => "INSUFFICIENT_FUNDS",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The code a client sees as `extensions.code`, read back; `None` for anything the API
    /// does not document.
    pub fn named(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Validation,
        ErrorCode::InsufficientFunds,
        ErrorCode::InvalidState,
        ErrorCode::Conflict,
        ErrorCode::LimitExceeded,
        ErrorCode::Internal,
    ];
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// A verified token that the registration does not honour (a missing, suspended or
    /// wrong-kind party).
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "insufficient funds in account {account}: available {available}, requested {requested}"
    )]
    InsufficientFunds {
        account: String,
        available: Money,
        requested: Money,
    },
    #[error(
        "the release would leave {remaining} in escrow, below the {required} the custody rule requires"
    )]
    CustodyBreach { required: Money, remaining: Money },
    #[error("{what} is {state}: cannot {action}")]
    InvalidState {
        what: String,
        state: String,
        action: &'static str,
    },
    #[error("{0}")]
    Conflict(String),
    /// A proof or checkpoint request the log cannot answer (a size beyond the log, a bad proof).
    #[error(transparent)]
    Notary(#[from] lvyue_notary::NotaryError),
    #[error("{0}")]
    LimitExceeded(String),
    /// This node has stopped signing: its database disagrees with a checkpoint it published
    /// (docs/operations.md, "A log that must not fork").
    #[error("the transparency log is halted on this node: {0}")]
    LogHalted(String),
    /// A rule of the ledger was about to break: a bug, never a user error. The transaction is
    /// rolled back and the breach is logged.
    #[error("internal error")]
    Invariant(String),
    #[error("internal error")]
    Database(#[from] sea_orm::DbErr),
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DomainError::Money(_) | DomainError::Invalid { .. } | DomainError::Notary(_) => {
                ErrorCode::Validation
            }
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            DomainError::Forbidden(_) => ErrorCode::Forbidden,
            DomainError::InsufficientFunds { .. } | DomainError::CustodyBreach { .. } => {
                ErrorCode::InsufficientFunds
            }
            DomainError::InvalidState { .. } | DomainError::LogHalted(_) => ErrorCode::InvalidState,
            DomainError::Conflict(_) => ErrorCode::Conflict,
            DomainError::LimitExceeded(_) => ErrorCode::LimitExceeded,
            DomainError::Invariant(_) | DomainError::Database(_) | DomainError::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> DomainError {
        DomainError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// A lookup through another object answers as the object asked for: when the one reached
    /// (a refund's order) is not found, the caller hears that the one it named (the refund) is
    /// not found, so another tenant's id reads exactly like an id that does not exist.
    #[must_use]
    pub fn not_found_as(self, what: &'static str, id: impl ToString) -> DomainError {
        match self {
            DomainError::NotFound { .. } => DomainError::not_found(what, id),
            other => other,
        }
    }

    pub fn invalid_state(
        what: impl Into<String>,
        state: impl Into<String>,
        action: &'static str,
    ) -> DomainError {
        DomainError::InvalidState {
            what: what.into(),
            state: state.into(),
            action,
        }
    }

    /// True for a failure that a retry of the whole transaction may cure: a PostgreSQL
    /// serialization failure or deadlock, or a busy/locked SQLite database. These are never
    /// reported to the caller as anything else (in particular not as insufficient funds).
    pub fn is_transient(&self) -> bool {
        match self {
            DomainError::Database(e) => is_transient_db_error(e),
            _ => false,
        }
    }
}

pub(crate) fn is_transient_db_error(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match e {
        DbErr::Query(r) | DbErr::Exec(r) | DbErr::Conn(r) => r,
        DbErr::ConnectionAcquire(_) => return true,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return false;
    };
    match sqlx_err.as_ref() {
        sea_orm::sqlx::Error::Database(db) => {
            // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED, and their extended codes (517 BUSY_SNAPSHOT…).
            match db.code().as_deref() {
                Some("40001") | Some("40P01") => true,
                Some(code) => code
                    .parse::<i32>()
                    .map(|c| c & 0xff == 5 || c & 0xff == 6)
                    .unwrap_or(false),
                None => false,
            }
        }
        sea_orm::sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_back_by_its_name_and_nothing_else_does() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::named(c.as_str()), Some(c));
        }
        for other in [
            "",
            "not_found",
            "NOT FOUND",
            "INTERNAL_ERROR",
            "BAD_USER_INPUT",
        ] {
            assert_eq!(ErrorCode::named(other), None, "{other:?}");
        }
    }
}
