//! Excel for every form (DESIGN.md §6): templates to fill, bulk
//! import with a dry run and an annotated workbook, and the export of
//! everything the caller may see, with who registered and last changed each
//! row. Files are checked for hostility before anything parses them.
//!
//! `templates.rs` builds the workbooks to fill, `imports.rs` hands them
//! back to the one import driver (`sintra_services::imports`), `exports.rs`
//! writes what the caller may see. Catalog items and users are not records:
//! `catalog_items.rs` and `users.rs` say what their exports take.

use actix_web::http::header;
use sintra_domain::forms::FormKey;

use sintra_domain::validation::FieldError;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::policy::{excel_form_permission, ExcelUse};

mod body;
mod catalog_items;
pub mod exports;
pub mod imports;
pub mod templates;
mod users;

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The form a path names, if the caller may move it through Excel that
/// way (`policy::excel_form_permission`); 404 for a form that does not
/// exist, 403 for one the caller may not administer.
pub(crate) fn excel_form(auth: &Authenticated, form: &str, use_: ExcelUse) -> ApiResult<FormKey> {
    let key = form.parse::<FormKey>().map_err(|_| ApiError::NotFound)?;
    auth.require(excel_form_permission(key, use_))?;
    Ok(key)
}

pub(crate) fn attachment(name: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    )
}

/// A yes/no filter of an export: `true` or `false`.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, FieldError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(sintra_services::records::invalid_filter(key)),
    }
}

/// 422 with every error of a query, sorted by field; nothing when none.
pub(crate) fn refuse_errors(mut errors: Vec<FieldError>) -> ApiResult<()> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    Err(ApiError::Validation(errors))
}
