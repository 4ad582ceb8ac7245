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
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                StoreError::Unavailable("connection closed".into())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StoreError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }
}
