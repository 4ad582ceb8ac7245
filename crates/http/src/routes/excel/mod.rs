//! Excel for every record form (DESIGN.md §6): templates to fill, bulk
//! import with a dry run and an annotated workbook, and the export of
//! everything the caller may see, with who registered and last changed each
//! row. Files are checked for hostility before anything parses them.
//!
//! `templates.rs` builds the workbooks to fill, `imports.rs` reads them
//! back, `exports.rs` writes what the caller may see.

use actix_web::http::header;
use sintra_domain::forms::FormKey;

use crate::error::{ApiError, ApiResult};

pub mod exports;
pub mod imports;
pub mod templates;

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The forms whose records live in the record store: the ones Excel moves.
pub(crate) fn record_form(form: &str) -> ApiResult<FormKey> {
    match form.parse::<FormKey>() {
        Ok(FormKey::CatalogItem | FormKey::User) | Err(_) => Err(ApiError::NotFound),
        Ok(key) => Ok(key),
    }
}

pub(crate) fn attachment(name: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    )
}
