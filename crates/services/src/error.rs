//! What a use case can answer instead of its result. The HTTP layer maps
//! each variant once to a problem response (`sintra_http::error`); nothing
//! here carries submitted personal data.

use sintra_domain::error_code::ErrorCode;
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldCode;
use sintra_domain::validation::FieldError;
use sintra_persistence::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Missing, or outside the caller's scope: the two are never told apart.
    #[error("not found")]
    NotFound,
    /// The caller's role or scope does not allow the operation.
    #[error("forbidden")]
    Forbidden { detail: Option<Message> },
    /// The record changed since the caller read it.
    #[error("stale version")]
    StaleVersion,
    /// Something the caller sent cannot be read (a header, a parameter).
    #[error("malformed input")]
    Malformed { code: ErrorCode, detail: Message },
    /// The submission breaks rules of its form, field by field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The operation collides with what is stored (a folio, a key, a file).
    #[error("conflict: {code}")]
    Conflict { code: ErrorCode, detail: Message },
    /// The caller asked to refuse duplicates and the person has exact or
    /// probable ones: the candidates as the caller may see them.
    #[error("duplicate refused")]
    Duplicate { candidates: serde_json::Value },
    /// A workbook committed with errors: nothing was written; the report
    /// says what to fix.
    #[error("import rejected")]
    ImportRejected { report: serde_json::Value },
    /// An upload over its size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A refusal with its own status and code (a hostile or unreadable
    /// workbook).
    #[error("refused: {code}")]
    Refused {
        status: u16,
        code: ErrorCode,
        detail: Message,
    },
    /// Too much of something under way (imports): come back later.
    #[error("busy: {code}")]
    Busy {
        code: ErrorCode,
        detail: Message,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure that is nobody's input: the cause is kept for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<diesel::result::Error> for ServiceError {
    fn from(e: diesel::result::Error) -> ServiceError {
        ServiceError::Store(e.into())
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(e: tokio::task::JoinError) -> ServiceError {
        ServiceError::Internal(format!("blocking task failed: {e}"))
    }
}

impl ServiceError {
    /// One field's error.
    pub fn invalid(
        field: &str,
        code: FieldCode,
        es: impl Into<String>,
        en: impl Into<String>,
    ) -> ServiceError {
        ServiceError::Validation(vec![FieldError {
            field: field.to_string(),
            code,
            message: Message::new(es, en),
        }])
    }

    pub fn malformed(
        code: ErrorCode,
        es: impl Into<String>,
        en: impl Into<String>,
    ) -> ServiceError {
        ServiceError::Malformed {
            code,
            detail: Message::new(es, en),
        }
    }
}
