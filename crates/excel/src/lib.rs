//! SINTRA Excel: templates, import parsing and export writing, driven by
//! the form specs of `sintra-domain` (the specs are the only description of
//! fields: a field added there shows up in templates, imports and exports
//! at once). No database, no HTTP.
//!
//! - [`template()`]: a form's workbook to fill in (instructions, Spanish
//!   headers with help notes, dropdowns bound to the active catalogs, date
//!   formats, parents named by folio).
//! - [`guard`]: the checks every uploaded file passes before anything
//!   parses it (not a workbook, macros, password, zip bombs, enormous
//!   declared ranges, too many rows).
//! - [`import`]: the rows of an uploaded workbook as JSON maps ready for
//!   validation, with Excel's row and column of every value; the workbook
//!   given back with its errors marked.
//! - [`export`]: a streaming writer, one sheet per form, in constant
//!   memory; user text is always written as text, never as a formula.
//!
//! Human-facing text (headers, instructions, messages) is Spanish by
//! default and English on request ([`Lang`]); machine codes and JSON keys
//! are English snake_case.

pub mod columns;
pub mod export;
pub mod figures;
pub mod guard;
pub mod import;
mod json;
pub mod template;

#[cfg(test)]
mod tests;

pub use columns::{Column, ColumnKind};
pub use export::{EncodedRows, ExportOptions, ExportWriter, Folios, RecordMeta, RowEncoder};
pub use guard::{GuardError, ImportLimits};
pub use import::{annotate, read_rows, read_rows_chunked, CellError, ImportRow, ImportSheet};
pub use sintra_domain::i18n::Lang;
pub use template::{template, template_with, template_within};

use sha2::{Digest, Sha256};

/// A failure to produce a workbook.
#[derive(Debug, thiserror::Error)]
pub enum ExcelError {
    /// The input workbook was refused (only [`annotate`] reads one).
    #[error(transparent)]
    Refused(#[from] GuardError),
    /// rust_xlsxwriter failed: a temporary file could not be written, or
    /// the sink failed while saving.
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// [`ExportWriter::write_row`] before any [`ExportWriter::begin_sheet`].
    #[error("no sheet begun: call ExportWriter::begin_sheet first")]
    NoSheet,
    /// [`ExportWriter::write_rows`] with rows of another form than the
    /// current sheet's.
    #[error("rows encoded for another form than the current sheet's")]
    OtherForm,
    /// [`RowEncoder::encode_json`] with a text that is no JSON.
    #[error("a record's fields are not JSON: {0}")]
    Record(serde_json::Error),
}

/// The hex SHA-256 of a file: what identifies an upload, so the same file
/// imported twice by one institution can be refused as a repeat.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The longest text a cell holds (UTF-16 units).
const MAX_CELL_TEXT: usize = 32_767;

/// Writes user text as a string cell. The one way text reaches a cell in
/// this crate: `write_string` stores a string even when it starts with `=`,
/// `+`, `-`, `@`, a tab or a carriage return, so a value like
/// `=HYPERLINK(…)` is shown, never evaluated (nothing here calls
/// `write_formula` or the type-guessing `write`). Text over Excel's limit
/// is cut rather than failing the whole export.
pub(crate) fn write_text(
    ws: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    col: u16,
    text: &str,
    format: Option<&rust_xlsxwriter::Format>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let text = truncate_utf16(text, MAX_CELL_TEXT);
    match format {
        Some(f) => ws.write_string_with_format(row, col, text, f)?,
        None => ws.write_string(row, col, text)?,
    };
    Ok(())
}

/// The longest prefix of `s` within `max` UTF-16 units.
pub(crate) fn truncate_utf16(s: &str, max: usize) -> &str {
    if s.len() <= max {
        // UTF-16 never needs more units than UTF-8 needs bytes.
        return s;
    }
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}
