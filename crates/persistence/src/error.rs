//! Errors of the persistence layer. The HTTP layer maps them once to
//! problem responses; nothing here carries submitted personal data.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Missing, or outside the caller's scope: the two are never told apart.
    #[error("not found")]
    NotFound,
    /// The record changed since the caller read it (`If-Match`).
    #[error("stale version")]
    StaleVersion,
    /// A uniqueness rule was hit; the constraint name says which.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The database cannot be reached (pool time-out, connection refused).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(DieselError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> StoreError {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict {
                    constraint: info.constraint_name().unwrap_or_default().to_string(),
                }
            }
            // The driver reports a connection that died (no SQLSTATE) as
            // "unable to send command"; diesel's own kind for it too.
            DieselError::DatabaseError(
                kind @ (DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction),
                info,
            ) => StoreError::Unavailable(format!("{kind:?}: {}", info.message())),
            // A connection lost inside a transaction.
            DieselError::BrokenTransactionManager => {
                StoreError::Unavailable("transaction broken by a lost connection".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_transient(info.message()) =>
            {
                StoreError::Unavailable(info.message().to_string())
            }
            other => StoreError::Database(other),
        }
    }
}

/// PostgreSQL's messages for failures a retry may not meet: the server
/// going down or refusing connections, a statement or lock wait over its
/// bound, a deadlock (SQLSTATE classes 08, 53, 57, 55P03, 40P01; diesel
/// reports them as `Unknown` with the server's message only).
fn is_transient(message: &str) -> bool {
    const MARKS: &[&str] = &[
        "terminating connection",
        "shutting down",
        "starting up",
        "in recovery mode",
        "too many clients",
        "remaining connection slots",
        "out of memory",
        "could not resize shared memory",
        "statement timeout",
        "lock timeout",
        "canceling statement",
        "deadlock detected",
        "could not obtain lock",
        "connection",
    ];
    let m = message.to_ascii_lowercase();
    MARKS.iter().any(|mark| m.contains(mark))
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_a_retry_may_not_meet_are_unavailable_others_are_not() {
        for message in [
            "canceling statement due to lock timeout",
            "canceling statement due to statement timeout",
            "terminating connection due to administrator command",
            "the database system is shutting down",
            "sorry, too many clients already",
            "deadlock detected",
        ] {
            assert!(is_transient(message), "{message}");
        }
        for message in [
            "relation \"x\" does not exist",
            "invalid input syntax for type uuid",
        ] {
            assert!(!is_transient(message), "{message}");
        }
        let lost = DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new("connection closed".to_string()),
        );
        assert!(matches!(StoreError::from(lost), StoreError::Unavailable(_)));
    }
}
