//! The machine codes of the API's problems (RFC 9457 `code`): one
//! vocabulary, English snake_case, stable across languages. Per-field codes
//! (`errors[].code`) are the validation's own ([`crate::validation::FieldCode`]).

use std::fmt;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $code:literal,)*) => {
        /// A problem's `code`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, for tests and documentation.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as the problem document carries it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    // Requests that cannot be read.
    MalformedRequest => "malformed_request",
    MalformedJson => "malformed_json",
    MalformedQuery => "malformed_query",
    MalformedForm => "malformed_form",
    MalformedMultipart => "malformed_multipart",
    ControlCharacters => "control_characters",
    InvalidIdempotencyKey => "invalid_idempotency_key",
    UnsupportedGrantType => "unsupported_grant_type",
    // Who is asking.
    Unauthenticated => "unauthenticated",
    InvalidGrant => "invalid_grant",
    Forbidden => "forbidden",
    PasswordChangeRequired => "password_change_required",
    TooManyRequests => "too_many_requests",
    // What is asked of.
    NotFound => "not_found",
    MethodNotAllowed => "method_not_allowed",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    ValidationFailed => "validation_failed",
    // Collisions with what is stored.
    Conflict => "conflict",
    StaleVersion => "stale_version",
    IfMatchRequired => "if_match_required",
    DuplicateRefused => "duplicate_refused",
    FolioTaken => "folio_taken",
    CodeTaken => "code_taken",
    UsernameTaken => "username_taken",
    IdempotencyKeyReused => "idempotency_key_reused",
    IdempotencyKeyInFlight => "idempotency_key_in_flight",
    RepeatedImport => "repeated_import",
    ImportRejected => "import_rejected",
    /// Too many imports under way for the institution or the server (429).
    ImportsBusy => "imports_busy",
    /// An import job asked to move where its state does not allow (commit
    /// of one not checked, cancel of one committed).
    InvalidImportTransition => "invalid_import_transition",
    /// A duplicate pair asked to move where its status does not allow
    /// (undo of a pair that is not confirmed).
    InvalidPairTransition => "invalid_pair_transition",
    // Hostile or unreadable workbooks.
    FileTooLarge => "file_too_large",
    NotAWorkbook => "not_a_workbook",
    MacrosNotAllowed => "macros_not_allowed",
    EncryptedWorkbook => "encrypted_workbook",
    ZipBomb => "zip_bomb",
    SheetTooLarge => "sheet_too_large",
    TooManyRows => "too_many_rows",
    NoDataSheet => "no_data_sheet",
    MalformedWorkbook => "malformed_workbook",
    // Quarterly periods.
    /// A period listing without a valid year/quarter.
    InvalidFilter => "invalid_filter",
    InvalidPeriodTransition => "invalid_period_transition",
    PeriodClosed => "period_closed",
    // The audit chain's signed checkpoints.
    InvalidCheckpoint => "invalid_checkpoint",
    // The server's side.
    DatabaseUnavailable => "database_unavailable",
    InternalError => "internal_error",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code compares equal to its text, so a test can name it as the
/// problem document does.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
        assert_eq!(seen.len(), ErrorCode::ALL.len());
    }
}
