//! The import report, as the API answers it and the imports table stores
//! it: rows read, valid, created and updated, each error by Excel row and
//! column, and warnings.

use serde::Serialize;
use serde_json::Value;
use sintra_domain::forms::FormKey;
use sintra_domain::i18n::Lang;
use sintra_excel::CellError;
use uuid::Uuid;

use super::Upload;

/// One error of the report, its message in the caller's language.
#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    /// The row number Excel shows.
    pub row: u32,
    pub column: Option<String>,
    pub field: Option<String>,
    pub code: &'static str,
    pub message: String,
}

/// A one-time password of an account a commit created: in its answer only
/// (`Debug` shows it redacted).
#[derive(Clone, Serialize)]
pub struct Credential {
    pub row: u32,
    pub username: String,
    pub one_time_secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("row", &self.row)
            .field("username", &self.username)
            .field("one_time_secret", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub import_id: Uuid,
    pub form: FormKey,
    pub dry_run: bool,
    pub file_sha256: String,
    pub rows_read: usize,
    pub rows_valid: usize,
    pub rows_created: usize,
    pub rows_updated: usize,
    pub errors: Vec<ReportError>,
    pub warnings: Vec<Value>,
    /// Where the workbook with its errors marked can be downloaded.
    pub annotated_workbook: Option<String>,
    /// The one-time passwords of the accounts a commit created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<Credential>>,
}

impl ImportReport {
    /// The report of a checked upload: nothing created or updated yet.
    pub(super) fn checked(
        upload: &Upload,
        rows_read: usize,
        rows_valid: usize,
        errors: &[CellError],
        warnings: Vec<Value>,
        has_annotated: bool,
        lang: Lang,
    ) -> ImportReport {
        let id = upload.id;
        ImportReport {
            import_id: id,
            form: upload.form,
            dry_run: upload.dry_run,
            file_sha256: upload.sha.clone(),
            rows_read,
            rows_valid,
            rows_created: 0,
            rows_updated: 0,
            errors: errors
                .iter()
                .map(|e| ReportError {
                    row: e.row,
                    column: e.column.clone(),
                    field: e.field.clone(),
                    code: e.code,
                    message: e.message.get(lang).to_string(),
                })
                .collect(),
            warnings,
            annotated_workbook: has_annotated
                .then(|| format!("/api/v1/excel/imports/{id}/annotated.xlsx")),
            credentials: None,
        }
    }

    /// The report as JSON (stored with the import, carried by a refusal).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_prints_without_its_secret() {
        let c = Credential {
            row: 2,
            username: "ana".into(),
            one_time_secret: "secreto-de-un-solo-uso".into(),
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("secreto-de-un-solo-uso"), "{printed}");
        assert!(printed.contains("ana"));
        let json = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(json["one_time_secret"], "secreto-de-un-solo-uso");
    }
}
