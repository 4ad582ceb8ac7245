//! Reading an operator's workbook into records of a form, and handing the
//! workbook back with its errors marked.
//!
//! [`read_rows`] runs the [`guard`] first, then streams the cells of the
//! data sheet with calamine (never building its dense range), so memory
//! follows the cells that hold data, not what the file declares. Each row
//! gives a JSON map ([`ImportRow::values`]) ready for
//! [`validate_record`](sintra_domain::validation::validate_record): cells
//! are turned into the JSON types the spec asks for (`Sí`/`No` → booleans,
//! `A; B` → arrays, Excel dates or date text → `YYYY-MM-DD`, numbers →
//! integers or decimals, catalog codes with their `— label` dropped);
//! anything that does not convert is passed on as it was, so validation
//! refuses it with the same code and message as over the API.
//!
//! How the caller uses it (the HTTP layer):
//!
//! 1. [`read_rows`]; a [`GuardError`] refuses the whole file (its
//!    [`code`](GuardError::code), [`message`](GuardError::message) and
//!    [`status`](GuardError::status) make the problem+json answer);
//! 2. [`ImportSheet::header_errors`] lists unknown, repeated and missing
//!    columns; with [`ImportSheet::missing_required`] non-empty every row
//!    would fail, so refusing the file is kinder than 100,000 errors;
//! 3. for each [`ImportRow`]: resolve the folio columns (`commission_folio`,
//!    a string, or `victim_folios`, an array) to ids under the field's key
//!    and remove the folio key, then validate; [`ImportSheet::locate`] turns
//!    the validation errors (and the row's own cell problems) into
//!    `{row, column, field, code, message}`;
//! 4. [`annotate`] gives the operator's workbook back with those errors.
//!
//! A column present with an empty cell gives `null`; a column absent from
//! the sheet gives no key at all, so an update by folio can tell "cleared"
//! from "not sent".
//!
//! An export uploaded back names each reference twice: by the referenced
//! record's folio and by its id. Where a row gives the id, the folio beside
//! it is passed over (like the export's other columns about the record):
//! the id is what names the record, and a folio of another institution's
//! record would name another record, or none, in the uploader's.
//!
//! Limits ([`ImportLimits`]): the data may reach Excel row
//! `max_rows + 1` (100,001 by default: the header and 100,000 records);
//! cells further down refuse the file ([`GuardError::TooManyRows`]); cells
//! right of the last header are ignored, and a header reaching past
//! `max_columns` refuses it ([`GuardError::TooLarge`]). Formula cells
//! are read as their cached values (a formula never calculated, as some
//! generators leave them, reads as empty).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};
use chrono::{Datelike, Duration, NaiveDate};
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, Note, Workbook};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use sintra_domain::forms::{FieldSpec, FieldType, FormSpec};
use sintra_domain::i18n::{Lang, Message, Text};
use sintra_domain::validation::FieldError;

use crate::columns::{
    column_letter, is_errors_header, is_export_meta_header, is_record_id_header, match_header,
    normalize_header, Column, ColumnKind, ERRORS_HEADER, RECORD_ID,
};
use crate::guard::{self, GuardError, ImportLimits};
use crate::ExcelError;

/// Machine codes of the problems the import itself finds (validation adds
/// those of [`sintra_domain::validation::FieldCode`]).
pub mod codes {
    /// A header that names no field of the form: its data would be lost,
    /// so the file is refused until the header is corrected or the column
    /// removed.
    pub const UNKNOWN_COLUMN: &str = "unknown_column";
    /// A second column for a field that already has one (refused likewise).
    pub const DUPLICATE_COLUMN: &str = "duplicate_column";
    /// A required field without a column.
    pub const MISSING_COLUMN: &str = "missing_column";
    /// A cell holding a formula error (`#N/A`, `#DIV/0!`, …).
    pub const CELL_ERROR: &str = "cell_error";
    /// A cell that cannot be read as the field's type (a yes/no field
    /// holding something else). Same code as validation's.
    pub const WRONG_TYPE: &str = sintra_domain::validation::FieldCode::WrongType.as_str();
    /// A text cell holding a control character (NUL, escape, …): refused
    /// before anything reads it, as the API refuses it in any other input.
    pub const CONTROL_CHARACTERS: &str = "control_characters";
}

/// One problem of one row, as the import report and the annotated workbook
/// show it. `row` is the row number Excel shows (the header is row 1 in a
/// template); `column` is the column's letter (`"F"`), absent when the
/// field has no column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellError {
    pub row: u32,
    pub column: Option<String>,
    /// The field's key (or the JSON key of a folio column); absent for an
    /// unknown column.
    pub field: Option<String>,
    pub code: &'static str,
    pub message: Message,
}

impl CellError {
    /// The report's shape, `{row, column, field, code, message}`, with the
    /// message in `lang`.
    pub fn report(&self, lang: Lang) -> Value {
        serde_json::json!({
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "code": self.code,
            "message": self.message.get(lang),
        })
    }
}

/// What one column of the sheet turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnStatus {
    /// It names this column of the form.
    Matched(Column),
    /// Its header names no field: reported as an error of the header row
    /// (its data would otherwise be lost without a word).
    Unknown,
    /// It names a column already matched further left: reported likewise.
    Duplicate { of: String },
    /// The errors column of an annotated workbook: passed over silently.
    Errors,
    /// A column an export adds about each record (its id, entity,
    /// institution, who registered and changed it, and when): passed over
    /// silently, so an export can come back corrected.
    ExportMeta,
}

/// One column of the data sheet, as found in its header row.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetColumn {
    /// 0-based column index.
    pub index: u32,
    /// Excel's letter for it.
    pub letter: String,
    /// The header as written (trimmed).
    pub header: String,
    pub status: ColumnStatus,
}

/// One data row.
///
/// Holds only its non-empty values (about 1.5 KiB for a filled victim
/// row); [`ImportRow::values`] gives the full JSON map.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// The row number Excel shows.
    pub row: u32,
    /// Cells that could not be read at all (formula errors, a yes/no field
    /// holding something else); their fields are `null` in the values.
    pub problems: Vec<CellError>,
    /// The non-empty values, by JSON key, in column order.
    cells: Vec<(&'static str, Value)>,
    /// The JSON keys of every matched column of the sheet.
    keys: Arc<[&'static str]>,
}

static NULL: Value = Value::Null;

impl ImportRow {
    /// The row as JSON, keyed by field key (or `folio_key` for folio
    /// columns): what `validate_record` takes once folios are resolved.
    /// A column of the sheet with an empty cell gives `null`; a field
    /// without a column gives no key.
    pub fn values(&self) -> Map<String, Value> {
        self.clone().into_values()
    }

    /// [`ImportRow::values`], moving the cells out: the row keeps its
    /// number and problems, what [`ImportSheet::locate`] needs.
    pub fn take_values(&mut self) -> Map<String, Value> {
        let row = ImportRow {
            row: self.row,
            problems: vec![],
            cells: std::mem::take(&mut self.cells),
            keys: self.keys.clone(),
        };
        row.into_values()
    }

    /// [`ImportRow::values`], consuming the row.
    pub fn into_values(self) -> Map<String, Value> {
        let mut map: Map<String, Value> = self
            .keys
            .iter()
            .map(|k| (k.to_string(), Value::Null))
            .collect();
        for (key, value) in self.cells {
            map.insert(key.to_string(), value);
        }
        map
    }

    /// One value: `null` for an empty cell, `None` for a field without a
    /// column.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.cells.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(v),
            None => self.keys.contains(&key).then_some(&NULL),
        }
    }
}

/// The rows of a workbook's data sheet for one form.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSheet {
    /// The name of the sheet the rows came from.
    pub sheet_name: String,
    /// The row number Excel shows for the header row (1 in a template).
    pub header_row: u32,
    /// Every non-empty header cell, left to right.
    pub columns: Vec<SheetColumn>,
    /// Keys of the required fields without a column, in spec order.
    pub missing_required: Vec<&'static str>,
    /// The non-empty data rows, in sheet order.
    pub rows: Vec<ImportRow>,
    form_label: Text,
    missing_fields: Vec<&'static FieldSpec>,
}

impl ImportSheet {
    /// The same sheet (columns, header) with other rows: a chunk of them.
    pub fn with_rows(&self, rows: Vec<ImportRow>) -> ImportSheet {
        ImportSheet {
            sheet_name: self.sheet_name.clone(),
            header_row: self.header_row,
            columns: self.columns.clone(),
            missing_required: self.missing_required.clone(),
            rows,
            form_label: self.form_label,
            missing_fields: self.missing_fields.clone(),
        }
    }

    /// The letter of the column holding a field, looked up by the field's
    /// key or by a folio column's JSON key.
    pub fn column_of(&self, key: &str) -> Option<&str> {
        let matched = || {
            self.columns.iter().filter_map(|c| match &c.status {
                ColumnStatus::Matched(m) => Some((c, m)),
                _ => None,
            })
        };
        matched()
            .find(|(_, m)| m.json_key() == key)
            .or_else(|| matched().find(|(_, m)| m.field.key == key))
            .map(|(c, _)| c.letter.as_str())
    }

    /// The row's cell problems followed by `errors` (from validation or
    /// persistence) placed in their columns. A validation error on a field
    /// whose cell already has a problem is dropped: the cell was passed on
    /// as empty, and "required" would only repeat the first message.
    pub fn locate(&self, row: &ImportRow, errors: Vec<FieldError>) -> Vec<CellError> {
        let mut out = row.problems.clone();
        // By column, so a folio cell's problem also covers the id resolved
        // from it.
        let spoiled: HashSet<&str> = row
            .problems
            .iter()
            .filter_map(|p| p.column.as_deref())
            .collect();
        for e in errors {
            let column = self.column_of(&e.field);
            if column.is_some_and(|c| spoiled.contains(c)) {
                continue;
            }
            out.push(CellError {
                row: row.row,
                column: column.map(String::from),
                field: Some(e.field),
                code: e.code.as_str(),
                message: e.message,
            });
        }
        out
    }

    /// Unknown and repeated columns, and required fields without a column,
    /// each as an error of the header row.
    pub fn header_errors(&self) -> Vec<CellError> {
        let form = self.form_label;
        let mut out = Vec::new();
        for c in &self.columns {
            let shown: String = c.header.chars().take(64).collect();
            match &c.status {
                ColumnStatus::Unknown => out.push(CellError {
                    row: self.header_row,
                    column: Some(c.letter.clone()),
                    field: None,
                    code: codes::UNKNOWN_COLUMN,
                    message: Message::new(
                        format!(
                            "La columna «{shown}» no corresponde a ningún campo del formulario \
                             «{}»: corrija su encabezado o quite la columna.",
                            form.es
                        ),
                        format!(
                            "The column \"{shown}\" matches no field of the form \"{}\": \
                             correct its header or remove the column.",
                            form.en
                        ),
                    ),
                }),
                ColumnStatus::Duplicate { of } => out.push(CellError {
                    row: self.header_row,
                    column: Some(c.letter.clone()),
                    field: None,
                    code: codes::DUPLICATE_COLUMN,
                    message: Message::new(
                        format!(
                            "La columna «{shown}» repite el campo de la columna {of}: quite \
                             una de las dos."
                        ),
                        format!(
                            "The column \"{shown}\" repeats the field of column {of}: remove \
                             one of them."
                        ),
                    ),
                }),
                ColumnStatus::Matched(_) | ColumnStatus::Errors | ColumnStatus::ExportMeta => {}
            }
        }
        for field in &self.missing_fields {
            out.push(CellError {
                row: self.header_row,
                column: None,
                field: Some(field.key.to_string()),
                code: codes::MISSING_COLUMN,
                message: Message::new(
                    format!("Falta la columna obligatoria «{}».", field.label.es),
                    format!("The required column \"{}\" is missing.", field.label.en),
                ),
            });
        }
        out
    }
}

/// Reads the rows of `spec` from a workbook, after [`guard::check`].
///
/// The data sheet is the visible worksheet whose first non-empty row names
/// the most columns of the form (the first such, on a tie); a workbook
/// where no visible sheet names any is refused as
/// [`GuardError::NoDataSheet`].
pub fn read_rows(
    bytes: &[u8],
    spec: &FormSpec,
    limits: &ImportLimits,
) -> Result<ImportSheet, GuardError> {
    guard::check(bytes, limits)?;
    shielded(|| read_checked(bytes, spec, limits))
}

/// calamine may still panic on malformed XML it does not expect (an index
/// overflow in a debug build); a panic, unlike an abort, can be turned into
/// a refusal.
fn shielded<T, E: From<GuardError>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(E::from(GuardError::Malformed)))
}

type Book<'a> = Xlsx<Cursor<&'a [u8]>>;

fn open(bytes: &[u8]) -> Result<Book<'_>, GuardError> {
    Xlsx::new(Cursor::new(bytes)).map_err(|_| GuardError::Malformed)
}

/// The data sheet: its name, 0-based header row and header cells.
struct DataSheet {
    name: String,
    header_row: u32,
    headers: Vec<(u32, String)>,
}

fn find_data_sheet(
    book: &mut Book<'_>,
    spec: &FormSpec,
    limits: &ImportLimits,
) -> Result<DataSheet, GuardError> {
    let names: Vec<String> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .map(|s| s.name.clone())
        .collect();
    // The sheet naming the most of the form's columns: every form has an
    // external folio, so one matching header is not enough to tell the
    // victims' sheet from the commissions' in a workbook holding both.
    let mut best: Option<(usize, DataSheet)> = None;
    for name in names {
        let Some((header_row, headers)) = read_header(book, &name, limits)? else {
            continue;
        };
        let matched: HashSet<(&str, ColumnKind)> = headers
            .iter()
            .filter_map(|(_, h)| match_header(spec, h))
            .map(|c| (c.field.key, c.kind))
            .collect();
        if matched.len() > best.as_ref().map_or(0, |(score, _)| *score) {
            best = Some((
                matched.len(),
                DataSheet {
                    name,
                    header_row,
                    headers,
                },
            ));
        }
    }
    best.map(|(_, sheet)| sheet)
        .ok_or(GuardError::NoDataSheet { form: spec.label })
}

/// A header row: its 0-based index and its non-empty cells (0-based
/// column, text).
type HeaderRow = (u32, Vec<(u32, String)>);

/// The first non-empty row of a sheet.
fn read_header(
    book: &mut Book<'_>,
    name: &str,
    limits: &ImportLimits,
) -> Result<Option<HeaderRow>, GuardError> {
    let mut reader = book
        .worksheet_cells_reader(name)
        .map_err(|_| GuardError::Malformed)?;
    let mut header: Option<HeaderRow> = None;
    while let Some(cell) = reader.next_cell().map_err(|_| GuardError::Malformed)? {
        let (r, c) = cell.get_position();
        check_row(r, limits)?;
        let Some(raw) = Raw::from_cell(cell.get_value()) else {
            continue;
        };
        match &mut header {
            None => {
                check_column(r, c, limits)?;
                header = Some((r, vec![(c, raw.display())]));
            }
            Some((row, cells)) if *row == r => {
                check_column(r, c, limits)?;
                cells.push((c, raw.display()));
            }
            Some((row, _)) if r > *row => break,
            Some(_) => {}
        }
    }
    if let Some((_, cells)) = &mut header {
        cells.sort_by_key(|(c, _)| *c);
        cells.dedup_by_key(|(c, _)| *c);
    }
    Ok(header)
}

fn check_row(r: u32, limits: &ImportLimits) -> Result<(), GuardError> {
    let rows = u64::from(r) + 1;
    if rows > limits.max_sheet_rows() {
        return Err(GuardError::TooManyRows {
            rows,
            max_rows: limits.max_sheet_rows(),
        });
    }
    Ok(())
}

fn check_column(r: u32, c: u32, limits: &ImportLimits) -> Result<(), GuardError> {
    let columns = u64::from(c) + 1;
    if columns > u64::from(limits.max_columns) {
        return Err(GuardError::TooLarge {
            rows: u64::from(r) + 1,
            columns,
            max_rows: limits.max_sheet_rows(),
            max_columns: u64::from(limits.max_columns),
        });
    }
    Ok(())
}

fn classify(spec: &FormSpec, headers: &[(u32, String)]) -> Vec<SheetColumn> {
    let mut taken: HashMap<(&'static str, ColumnKind), String> = HashMap::new();
    headers
        .iter()
        .map(|(index, header)| {
            let letter = column_letter(*index);
            let status = if is_errors_header(header) {
                ColumnStatus::Errors
            } else if is_record_id_header(header) && spec.key.is_record() {
                ColumnStatus::Matched(Column {
                    field: &RECORD_ID,
                    kind: ColumnKind::Value,
                })
            } else if is_export_meta_header(header) {
                ColumnStatus::ExportMeta
            } else {
                match match_header(spec, header) {
                    None => ColumnStatus::Unknown,
                    Some(column) => match taken.get(&(column.field.key, column.kind)) {
                        Some(of) => ColumnStatus::Duplicate { of: of.clone() },
                        None => {
                            taken.insert((column.field.key, column.kind), letter.clone());
                            ColumnStatus::Matched(column)
                        }
                    },
                }
            };
            SheetColumn {
                index: *index,
                letter,
                header: header.trim().to_string(),
                status,
            }
        })
        .collect()
}

fn read_checked(
    bytes: &[u8],
    spec: &FormSpec,
    limits: &ImportLimits,
) -> Result<ImportSheet, GuardError> {
    let mut sheet: Option<ImportSheet> = None;
    let mut rows: Vec<ImportRow> = Vec::new();
    read_sheet(
        bytes,
        spec,
        limits,
        usize::MAX,
        |header, _| {
            sheet = Some(header.clone());
            true
        },
        |chunk| {
            rows.extend(chunk);
            true
        },
    )?;
    let mut sheet = sheet.ok_or(GuardError::Malformed)?;
    // Rows arrive in order from every real writer; a crafted file may not.
    if !rows.is_sorted_by_key(|r| r.row) {
        rows.sort_by_key(|r| r.row);
    }
    sheet.rows = rows;
    Ok(sheet)
}

/// Reads the rows of `spec` from a workbook, after [`guard::check`], a
/// chunk at a time: `header` gets the sheet (its columns, without rows) and
/// the data rows its declared dimension announces (if any) before any row, then `each` gets the rows by `chunk` (in sheet order,
/// as real writers store them; a crafted file's rows are sorted within
/// each chunk only). Memory holds one chunk of rows, not the sheet's.
/// Either callback answering `false` stops the reading: `Ok(false)`.
pub fn read_rows_chunked(
    bytes: &[u8],
    spec: &FormSpec,
    limits: &ImportLimits,
    chunk: usize,
    header: impl FnOnce(&ImportSheet, Option<u64>) -> bool,
    each: impl FnMut(Vec<ImportRow>) -> bool,
) -> Result<bool, GuardError> {
    guard::check(bytes, limits)?;
    shielded(|| read_sheet(bytes, spec, limits, chunk.max(1), header, each))
}

fn read_sheet(
    bytes: &[u8],
    spec: &FormSpec,
    limits: &ImportLimits,
    chunk: usize,
    header: impl FnOnce(&ImportSheet, Option<u64>) -> bool,
    mut each: impl FnMut(Vec<ImportRow>) -> bool,
) -> Result<bool, GuardError> {
    let mut book = open(bytes)?;
    let sheet = find_data_sheet(&mut book, spec, limits)?;
    let columns = classify(spec, &sheet.headers);
    let matched: HashMap<u32, Column> = columns
        .iter()
        .filter_map(|c| match &c.status {
            ColumnStatus::Matched(m) => Some((c.index, *m)),
            _ => None,
        })
        .collect();
    let missing_fields: Vec<&'static FieldSpec> = spec
        .fields
        .iter()
        .filter(|f| f.required && !matched.values().any(|m| m.field.key == f.key))
        .collect();

    // Slots indexed by column, so a row needs no map while it is read.
    let width = sheet.headers.last().map_or(0, |(c, _)| c + 1) as usize;
    let mut targets: Vec<Option<(Column, String)>> = vec![None; width];
    for c in &columns {
        if let ColumnStatus::Matched(m) = &c.status {
            targets[c.index as usize] = Some((*m, c.letter.clone()));
        }
    }
    let keys: Arc<[&'static str]> = columns
        .iter()
        .filter_map(|c| match &c.status {
            ColumnStatus::Matched(m) => Some(m.json_key()),
            _ => None,
        })
        .collect();
    let described = ImportSheet {
        sheet_name: sheet.name.clone(),
        header_row: sheet.header_row + 1,
        columns,
        missing_required: missing_fields.iter().map(|f| f.key).collect(),
        rows: Vec::new(),
        form_label: spec.label,
        missing_fields,
    };
    let mut reader = book
        .worksheet_cells_reader(&sheet.name)
        .map_err(|_| GuardError::Malformed)?;
    // What the sheet declares (checked by the guard), for progress only.
    let end = u64::from(reader.dimensions().end.0);
    let declared = end.checked_sub(u64::from(sheet.header_row));
    if !header(&described, declared) {
        return Ok(false);
    }
    drop(described);
    // A reference given both by folio and by id (an export uploaded back):
    // the id names the record, the folio beside it is shown, not read.
    let matched_kinds: Vec<Column> = targets.iter().flatten().map(|(c, _)| *c).collect();
    let by_id_too: Vec<(&'static str, &'static str)> = matched_kinds
        .iter()
        .filter(|c| c.kind == ColumnKind::Folio)
        .filter(|f| {
            matched_kinds
                .iter()
                .any(|c| c.kind == ColumnKind::Id && c.field.key == f.field.key)
        })
        .map(|f| (f.json_key(), f.field.key))
        .collect();
    let mut builder = RowBuilder {
        targets: &targets,
        by_id_too,
        keys,
        rows: Vec::new(),
        current: None,
        slots: vec![None; width],
        filled: false,
    };
    let mut handed = |rows: &mut Vec<ImportRow>| -> bool {
        let mut out = std::mem::take(rows);
        if !out.is_sorted_by_key(|r| r.row) {
            out.sort_by_key(|r| r.row);
        }
        each(out)
    };
    while let Some(cell) = reader.next_cell().map_err(|_| GuardError::Malformed)? {
        let (r, c) = cell.get_position();
        if r <= sheet.header_row {
            continue;
        }
        let Some(Some(_)) = targets.get(c as usize) else {
            continue;
        };
        let Some(raw) = Raw::from_cell(cell.get_value()) else {
            continue;
        };
        check_row(r, limits)?;
        if builder.current != Some(r) {
            builder.flush();
            builder.current = Some(r);
            if builder.rows.len() >= chunk && !handed(&mut builder.rows) {
                return Ok(false);
            }
        }
        builder.slots[c as usize] = Some(raw);
        builder.filled = true;
    }
    builder.flush();
    if !builder.rows.is_empty() && !handed(&mut builder.rows) {
        return Ok(false);
    }
    Ok(true)
}

struct RowBuilder<'a> {
    /// By column index: the matched column there and its letter.
    targets: &'a [Option<(Column, String)>],
    /// References with both a folio and an id column: (folio key, id key).
    by_id_too: Vec<(&'static str, &'static str)>,
    keys: Arc<[&'static str]>,
    rows: Vec<ImportRow>,
    current: Option<u32>,
    /// The current row's cells, by column index.
    slots: Vec<Option<Raw>>,
    filled: bool,
}

impl RowBuilder<'_> {
    fn flush(&mut self) {
        let Some(r) = self.current.take() else {
            return;
        };
        if !std::mem::take(&mut self.filled) {
            return;
        }
        let row = r + 1;
        let mut cells = Vec::new();
        let mut problems = Vec::new();
        for (slot, target) in self.slots.iter_mut().zip(self.targets) {
            let (Some(raw), Some((column, letter))) = (slot.take(), target) else {
                continue;
            };
            match convert(column, raw) {
                Ok(Value::Null) => {}
                Ok(value) => cells.push((column.json_key(), value)),
                Err((code, message)) => problems.push(CellError {
                    row,
                    column: Some(letter.to_string()),
                    field: Some(column.json_key().to_string()),
                    code,
                    message,
                }),
            }
        }
        for &(folio, id) in &self.by_id_too {
            if cells.iter().any(|(k, _)| *k == id) {
                cells.retain(|(k, _)| *k != folio);
                problems.retain(|p: &CellError| p.field.as_deref() != Some(folio));
            }
        }
        self.rows.push(ImportRow {
            row,
            problems,
            cells,
            keys: Arc::clone(&self.keys),
        });
    }
}

/// A cell's value, owned, with blank text and empty cells already dropped.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A cell formatted as a date: its calendar parts and time of day.
    Date {
        date: Option<NaiveDate>,
        seconds: u32,
        /// The parts as Excel shows them (1900-02-29 exists there).
        text: String,
    },
    Error(String),
}

impl Raw {
    fn from_cell(value: &DataRef<'_>) -> Option<Raw> {
        let text = |s: &str| {
            if s.trim().is_empty() {
                None
            } else {
                Some(Raw::Text(s.to_string()))
            }
        };
        match value {
            DataRef::Empty => None,
            DataRef::String(s) => text(s),
            DataRef::SharedString(s) => text(s),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => text(s),
            DataRef::Int(i) => Some(Raw::Int(*i)),
            DataRef::Float(f) => Some(Raw::Float(*f)),
            DataRef::Bool(b) => Some(Raw::Bool(*b)),
            DataRef::Error(e) => Some(Raw::Error(e.to_string())),
            DataRef::DateTime(dt) if dt.is_datetime() => {
                let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
                let date = NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d));
                let seconds = u32::from(hh) * 3600 + u32::from(mm) * 60 + u32::from(ss);
                let mut shown = format!("{y:04}-{m:02}-{d:02}");
                if seconds != 0 {
                    shown.push_str(&format!(" {hh:02}:{mm:02}:{ss:02}"));
                }
                Some(Raw::Date {
                    date,
                    seconds,
                    text: shown,
                })
            }
            DataRef::DateTime(dt) => Some(Raw::Float(dt.as_f64())),
        }
    }

    /// [`Raw::display`], without copying text that needs no trimming.
    fn into_text(self) -> String {
        match self {
            Raw::Text(s) if s.trim().len() == s.len() => s,
            Raw::Date { text, .. } => text,
            other => other.display(),
        }
    }

    /// The cell as text: what a text field, a code or a folio receives.
    fn display(&self) -> String {
        match self {
            Raw::Text(s) => s.trim().to_string(),
            Raw::Int(i) => i.to_string(),
            Raw::Float(f) => format_float(*f),
            Raw::Bool(true) => "Sí".to_string(),
            Raw::Bool(false) => "No".to_string(),
            Raw::Date { text, .. } => text.clone(),
            Raw::Error(e) => e.clone(),
        }
    }
}

/// A float as people write it: `12345` for 12345.0 (folios and codes typed
/// into general cells), the shortest exact form otherwise.
fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

type Problem = (&'static str, Message);

/// Turns one cell into the JSON the column's field takes. What does not
/// convert goes on unchanged for validation to refuse; only what cannot be
/// passed on meaningfully is a [`Problem`].
fn convert(column: &Column, raw: Raw) -> Result<Value, Problem> {
    let field = column.field;
    if let Raw::Error(e) = &raw {
        return Err((
            codes::CELL_ERROR,
            Message::new(
                format!(
                    "La celda del campo «{}» contiene un error de fórmula ({e}); corrija la \
                     fórmula o escriba el valor.",
                    field.label.es
                ),
                format!(
                    "The cell of the field \"{}\" holds a formula error ({e}); fix the formula \
                     or type the value.",
                    field.label.en
                ),
            ),
        ));
    }
    if let Raw::Text(s) = &raw {
        // Tab and line breaks pass on: multi-line text keeps them, and the
        // field's validation refuses them in a single-line one.
        if sintra_domain::text::has_forbidden_control(s, true) {
            return Err((
                codes::CONTROL_CHARACTERS,
                Message::new(
                    format!(
                        "La celda del campo «{}» contiene caracteres de control; bórrelos.",
                        field.label.es
                    ),
                    format!(
                        "The cell of the field \"{}\" holds control characters; remove them.",
                        field.label.en
                    ),
                ),
            ));
        }
    }
    if column.kind != ColumnKind::Value {
        // A folio or an id: text, or a list of them.
        return Ok(if column.is_multiple() {
            list(raw, |s| s.to_string())
        } else {
            text_value(raw.into_text())
        });
    }
    Ok(match field.ty {
        FieldType::Text { .. }
        | FieldType::LongText { .. }
        | FieldType::Curp
        | FieldType::Reference { .. } => text_value(raw.into_text()),
        // `<uuid> — <name>` as the template's list offers it.
        FieldType::Uuid => text_value(strip_label(&raw.into_text()).to_string()),
        FieldType::Choice { options } => {
            let text = raw.into_text();
            let code = strip_label(&text);
            let wanted = normalize_header(code);
            let by_label = options.iter().find(|o| {
                normalize_header(o.label.es) == wanted || normalize_header(o.label.en) == wanted
            });
            text_value(by_label.map_or_else(|| code.to_string(), |o| o.code.to_string()))
        }
        FieldType::Catalog {
            catalog, multiple, ..
        } => {
            let width = code_width(catalog);
            if multiple {
                list(raw, |s| pad_code(strip_label(s), width))
            } else {
                let text = raw.into_text();
                let code = strip_label(&text);
                if code.len() == text.len() && width.is_none() {
                    text_value(text)
                } else {
                    text_value(pad_code(code, width))
                }
            }
        }
        FieldType::Date => match raw {
            Raw::Date { date: Some(d), .. } => Value::String(d.format("%Y-%m-%d").to_string()),
            Raw::Date { text, .. } => Value::String(text),
            Raw::Int(i) => serial_date(i as f64).unwrap_or_else(|| Value::from(i)),
            Raw::Float(f) => serial_date(f).unwrap_or_else(|| float_value(f)),
            Raw::Text(s) => text_value(date_text(s.trim())),
            Raw::Bool(b) => Value::Bool(b),
            Raw::Error(_) => Value::Null,
        },
        FieldType::Integer { .. } | FieldType::Decimal { .. } => match raw {
            Raw::Int(i) => Value::from(i),
            Raw::Float(f) => float_value(f),
            Raw::Text(s) => parse_number(&s).unwrap_or_else(|| text_value(s.trim().to_string())),
            Raw::Bool(b) => Value::Bool(b),
            Raw::Date { text, .. } => Value::String(text),
            Raw::Error(_) => Value::Null,
        },
        FieldType::Boolean => match raw {
            Raw::Bool(b) => Value::Bool(b),
            Raw::Int(1) => Value::Bool(true),
            Raw::Int(0) => Value::Bool(false),
            Raw::Float(1.0) => Value::Bool(true),
            Raw::Float(0.0) => Value::Bool(false),
            Raw::Text(s) => match parse_yes_no(&s) {
                Some(b) => Value::Bool(b),
                None => return Err(not_yes_no(column)),
            },
            _ => return Err(not_yes_no(column)),
        },
    })
}

fn not_yes_no(column: &Column) -> Problem {
    let label = column.field.label;
    (
        codes::WRONG_TYPE,
        Message::new(
            format!("El campo «{}» debe ser Sí o No.", label.es),
            format!("The field \"{}\" must be Yes or No.", label.en),
        ),
    )
}

fn text_value(s: String) -> Value {
    if s.trim().is_empty() {
        Value::Null
    } else {
        Value::String(s)
    }
}

/// An integral float as a JSON integer (so `12.0` reads as `12`), any other
/// finite float as a JSON number.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

/// `A; B` (or one item per line) → `["A", "B"]`, blanks dropped.
fn list(raw: Raw, item: impl Fn(&str) -> String) -> Value {
    let text = raw.into_text();
    let items: Vec<Value> = text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(item(s)))
        .collect();
    if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    }
}

/// The separator between a code and its label in dropdowns and exports.
pub(crate) const CODE_LABEL_SEPARATOR: &str = " — ";

/// `19 — Nuevo León` → `19`: dropdowns show codes with their labels; a
/// plain ` - ` counts too, after a prefix without blanks (codes have none).
fn strip_label(s: &str) -> &str {
    let s = s.trim();
    if let Some((code, _)) = s.split_once(CODE_LABEL_SEPARATOR.trim_end()) {
        let code = code.trim_end();
        if !code.is_empty() && !code.contains(char::is_whitespace) {
            return code;
        }
    }
    if let Some((code, _)) = s.split_once(" - ") {
        if !code.is_empty() && !code.contains(char::is_whitespace) {
            return code;
        }
    }
    s
}

/// Catalogs whose codes are fixed-width numbers (INEGI keys), which a
/// spreadsheet turns into numbers and strips of their leading zeros.
fn code_width(catalog: &str) -> Option<usize> {
    match catalog {
        "entity" => Some(2),
        "municipality" => Some(5),
        _ => None,
    }
}

fn pad_code(code: &str, width: Option<usize>) -> String {
    match width {
        Some(w)
            if code.len() < w && !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{code:0>w$}")
        }
        _ => code.to_string(),
    }
}

/// An Excel serial date (1900 system) in a date column that was not
/// formatted as a date; `None` outside Excel's range of dates.
fn serial_date(serial: f64) -> Option<Value> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    // Excel counts 1900-02-29, which did not exist: serial 60. Dates after
    // it count from 1899-12-30, dates before from 1899-12-31.
    let date = match days {
        60 => return Some(Value::String("1900-02-29".into())),
        d if d < 60 => NaiveDate::from_ymd_opt(1899, 12, 31)? + Duration::days(d),
        d => NaiveDate::from_ymd_opt(1899, 12, 30)? + Duration::days(d),
    };
    debug_assert!(date.year() >= 1900);
    Some(Value::String(date.format("%Y-%m-%d").to_string()))
}

/// Date text as validation reads it: an ISO date-time loses its time.
fn date_text(s: &str) -> String {
    let bytes = s.as_bytes();
    if bytes.len() > 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && (bytes[10] == b'T' || bytes[10] == b' ')
    {
        return s[..10].to_string();
    }
    s.to_string()
}

/// `12`, `-3`, `1234.5`, `1,234.50`, `$1,234.50` → a JSON number.
fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    let s = s.strip_prefix('$').unwrap_or(s).trim();
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int_part, frac_part) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let grouped = int_part.contains(',');
    if grouped {
        let groups: Vec<&str> = int_part.split(',').collect();
        let ok = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !ok {
            return None;
        }
    }
    let digits: String = int_part.chars().filter(|&c| c != ',').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac_part {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let negative = s.starts_with('-');
    let plain = format!(
        "{}{digits}{}",
        if negative { "-" } else { "" },
        frac_part.map(|f| format!(".{f}")).unwrap_or_default()
    );
    if frac_part.is_none() {
        if let Ok(i) = plain.parse::<i64>() {
            return Some(Value::from(i));
        }
    }
    plain.parse::<f64>().ok().map(float_value)
}

/// Yes/no as people type it, in Spanish or English.
fn parse_yes_no(s: &str) -> Option<bool> {
    match normalize_header(s).as_str() {
        "si" | "s" | "yes" | "y" | "true" | "verdadero" | "1" | "x" => Some(true),
        "no" | "n" | "false" | "falso" | "0" => Some(false),
        _ => None,
    }
}

/// The operator's workbook back, with the data sheet's cells as they were,
/// the cells named by `errors` filled red, unknown headers orange, and an
/// errors column (after the last header) with each row's messages in
/// `lang`. `errors` are those of the import report (header errors
/// included). Other sheets, formulas and formatting are not kept: the
/// point is a sheet the operator can fix and upload again.
///
/// The workbook is re-read from `original` with the same checks as
/// [`read_rows`] and written in constant memory, so annotating a
/// 100,000-row file holds one row at a time.
pub fn annotate(
    original: &[u8],
    spec: &FormSpec,
    errors: &[CellError],
    lang: Lang,
    limits: &ImportLimits,
) -> Result<Vec<u8>, ExcelError> {
    guard::check(original, limits)?;
    shielded(|| annotate_checked(original, spec, errors, lang, limits))
}

fn annotate_checked(
    original: &[u8],
    spec: &FormSpec,
    errors: &[CellError],
    lang: Lang,
    limits: &ImportLimits,
) -> Result<Vec<u8>, ExcelError> {
    let mut book = open(original)?;
    let sheet = find_data_sheet(&mut book, spec, limits)?;
    let errors_col = sheet.headers.last().map_or(0, |(c, _)| c + 1);
    let shift = |c: u32| if c >= errors_col { c + 1 } else { c };

    let mut by_row: BTreeMap<u32, Vec<&CellError>> = BTreeMap::new();
    let mut bad: HashSet<(u32, u32)> = HashSet::new();
    for e in errors {
        by_row.entry(e.row).or_default().push(e);
        if let Some(col) = e.column.as_deref().and_then(column_index) {
            bad.insert((e.row, col));
        }
    }

    let red = Color::RGB(0xF4_CC_CC);
    let f = AnnotateFormats {
        plain: Format::new(),
        bad: Format::new().set_background_color(red),
        date: Format::new().set_num_format("dd/mm/yyyy"),
        bad_date: Format::new()
            .set_num_format("dd/mm/yyyy")
            .set_background_color(red),
        datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm"),
        bad_datetime: Format::new()
            .set_num_format("dd/mm/yyyy hh:mm")
            .set_background_color(red),
        header: Format::new().set_bold().set_text_wrap(),
        unknown_header: Format::new()
            .set_bold()
            .set_text_wrap()
            .set_background_color(Color::RGB(0xF8_CB_AD)),
        errors_header: Format::new()
            .set_bold()
            .set_font_color(Color::White)
            .set_background_color(Color::RGB(0xC0_00_00)),
        errors: Format::new()
            .set_text_wrap()
            .set_align(FormatAlign::Top)
            .set_font_color(Color::RGB(0x9C_00_06)),
    };

    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet_with_constant_memory()?;
    ws.set_name(sheet_name(&sheet.name))?;
    for (c, _) in &sheet.headers {
        ws.set_column_width(shift(*c) as u16, 18)?;
    }
    ws.set_column_width(errors_col as u16, 70)?;
    ws.set_freeze_panes(sheet.header_row + 1, 0)?;

    let header_row = sheet.header_row;
    let mut writer = AnnotateRows {
        f: &f,
        by_row: &by_row,
        bad: &bad,
        lang,
        header_row,
        errors_col,
        written: HashSet::new(),
    };
    let mut reader = book
        .worksheet_cells_reader(&sheet.name)
        .map_err(|_| GuardError::Malformed)?;
    let mut current: Option<u32> = None;
    while let Some(cell) = reader.next_cell().map_err(|_| GuardError::Malformed)? {
        let (r, c) = cell.get_position();
        let Some(raw) = Raw::from_cell(cell.get_value()) else {
            continue;
        };
        check_row(r, limits)?;
        if c >= limits.max_columns {
            continue;
        }
        let row = r + 1;
        match current {
            Some(cur) if row < cur => continue, // out of order: only crafted files
            Some(cur) if row > cur => {
                writer.finish_row(ws, cur)?;
                current = Some(row);
            }
            None => current = Some(row),
            _ => {}
        }
        writer.cell(ws, row, shift(c), c, &raw)?;
    }
    if let Some(cur) = current {
        writer.finish_row(ws, cur)?;
    }
    Ok(workbook.save_to_buffer()?)
}

struct AnnotateFormats {
    plain: Format,
    bad: Format,
    date: Format,
    bad_date: Format,
    datetime: Format,
    bad_datetime: Format,
    header: Format,
    unknown_header: Format,
    errors_header: Format,
    errors: Format,
}

struct AnnotateRows<'a> {
    f: &'a AnnotateFormats,
    by_row: &'a BTreeMap<u32, Vec<&'a CellError>>,
    bad: &'a HashSet<(u32, u32)>,
    lang: Lang,
    /// 0-based.
    header_row: u32,
    errors_col: u32,
    /// Output columns written in the current row.
    written: HashSet<u32>,
}

impl AnnotateRows<'_> {
    /// Writes one cell of Excel row `row` (1-based) at output column `out`;
    /// `original` is its column in the operator's sheet.
    fn cell(
        &mut self,
        ws: &mut rust_xlsxwriter::Worksheet,
        row: u32,
        out: u32,
        original: u32,
        raw: &Raw,
    ) -> Result<(), ExcelError> {
        let r = row - 1;
        let col = out as u16;
        let is_bad = self.bad.contains(&(row, original));
        let f = self.f;
        self.written.insert(out);
        if r == self.header_row {
            let format = if is_bad { &f.unknown_header } else { &f.header };
            crate::write_text(ws, r, col, &raw.display(), Some(format))?;
            return Ok(());
        }
        let format = if is_bad { &f.bad } else { &f.plain };
        match raw {
            Raw::Text(s) => crate::write_text(ws, r, col, s, Some(format))?,
            Raw::Error(s) => crate::write_text(ws, r, col, s, Some(format))?,
            Raw::Int(i) => {
                ws.write_number_with_format(r, col, *i as f64, format)?;
            }
            Raw::Float(x) => {
                ws.write_number_with_format(r, col, *x, format)?;
            }
            Raw::Bool(b) => {
                ws.write_boolean_with_format(r, col, *b, format)?;
            }
            Raw::Date {
                date: Some(d),
                seconds,
                ..
            } => {
                let Some(dt) = excel_datetime(*d, *seconds) else {
                    crate::write_text(ws, r, col, &raw.display(), Some(format))?;
                    return Ok(());
                };
                let format = match (*seconds == 0, is_bad) {
                    (true, false) => &f.date,
                    (true, true) => &f.bad_date,
                    (false, false) => &f.datetime,
                    (false, true) => &f.bad_datetime,
                };
                ws.write_datetime_with_format(r, col, &dt, format)?;
            }
            Raw::Date { text, .. } => crate::write_text(ws, r, col, text, Some(format))?,
        }
        Ok(())
    }

    /// Marks the row's bad cells that were empty and writes its messages.
    fn finish_row(
        &mut self,
        ws: &mut rust_xlsxwriter::Worksheet,
        row: u32,
    ) -> Result<(), ExcelError> {
        let r = row - 1;
        let written = std::mem::take(&mut self.written);
        if r < self.header_row {
            return Ok(());
        }
        let errors = self.by_row.get(&row).map(Vec::as_slice).unwrap_or(&[]);
        for e in errors {
            let Some(c) = e.column.as_deref().and_then(column_index) else {
                continue;
            };
            let out = if c >= self.errors_col { c + 1 } else { c };
            if !written.contains(&out) && r != self.header_row {
                ws.write_blank(r, out as u16, &self.f.bad)?;
            }
        }
        let col = self.errors_col as u16;
        if r == self.header_row {
            crate::write_text(
                ws,
                r,
                col,
                ERRORS_HEADER.get(self.lang),
                Some(&self.f.errors_header),
            )?;
            let file_level: Vec<&str> = errors
                .iter()
                .filter(|e| e.column.is_none())
                .map(|e| e.message.get(self.lang))
                .collect();
            if !file_level.is_empty() {
                let note = Note::new(file_level.join("\n"))
                    .add_author_prefix(false)
                    .set_width(400)
                    .set_height(40 + 30 * file_level.len().min(20) as u32);
                ws.insert_note(r, col, &note)?;
            }
            return Ok(());
        }
        if errors.is_empty() {
            return Ok(());
        }
        let text = errors
            .iter()
            .map(|e| match &e.column {
                Some(c) => format!("{c}: {}", e.message.get(self.lang)),
                None => e.message.get(self.lang).to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        crate::write_text(ws, r, col, &text, Some(&self.f.errors))?;
        Ok(())
    }
}

/// A date (and seconds into the day) as Excel stores it; `None` before
/// 1900, which Excel cannot show as a date.
pub(crate) fn excel_datetime(date: NaiveDate, seconds: u32) -> Option<ExcelDateTime> {
    let year = u16::try_from(date.year()).ok()?;
    ExcelDateTime::from_ymd(year, date.month() as u8, date.day() as u8)
        .and_then(|d| {
            d.and_hms(
                (seconds / 3600) as u16,
                ((seconds / 60) % 60) as u8,
                f64::from(seconds % 60),
            )
        })
        .ok()
}

/// `F` → 5; `None` for anything that is not column letters.
fn column_index(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut n: u32 = 0;
    for c in letters.chars() {
        if !c.is_ascii_uppercase() {
            return None;
        }
        n = n * 26 + u32::from(c as u8 - b'A' + 1);
    }
    Some(n - 1)
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`,
/// not starting or ending with an apostrophe.
pub(crate) fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    let cleaned = cleaned.trim_matches('\'').trim().to_string();
    if cleaned.is_empty() {
        "Datos".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sintra_domain::forms::FormKey;

    fn col(form: FormKey, header: &str) -> Column {
        match_header(form.spec(), header).unwrap()
    }

    #[test]
    fn cells_convert_to_the_field_types() {
        let quorum = col(FormKey::Session, "quorum");
        assert_eq!(convert(&quorum, Raw::Text("Sí".into())), Ok(json!(true)));
        assert_eq!(convert(&quorum, Raw::Text(" no ".into())), Ok(json!(false)));
        assert_eq!(convert(&quorum, Raw::Bool(true)), Ok(json!(true)));
        assert_eq!(convert(&quorum, Raw::Int(0)), Ok(json!(false)));
        assert_eq!(
            convert(&quorum, Raw::Text("quizás".into())).unwrap_err().0,
            codes::WRONG_TYPE
        );

        let number = col(FormKey::Session, "number");
        assert_eq!(convert(&number, Raw::Float(3.0)), Ok(json!(3)));
        assert_eq!(convert(&number, Raw::Text("1,234".into())), Ok(json!(1234)));
        assert_eq!(convert(&number, Raw::Float(2.5)), Ok(json!(2.5)));
        assert_eq!(
            convert(&number, Raw::Text("tres".into())),
            Ok(json!("tres"))
        );

        let date = col(FormKey::Session, "date");
        assert_eq!(convert(&date, Raw::Float(45446.0)), Ok(json!("2024-06-03")));
        assert_eq!(convert(&date, Raw::Int(1)), Ok(json!("1900-01-01")));
        assert_eq!(convert(&date, Raw::Int(61)), Ok(json!("1900-03-01")));
        assert_eq!(
            convert(&date, Raw::Text("2024-06-03T00:00:00".into())),
            Ok(json!("2024-06-03"))
        );
        assert_eq!(
            convert(&date, Raw::Text("03/06/2024".into())),
            Ok(json!("03/06/2024"))
        );

        let folio = col(FormKey::Session, "commission_folio");
        assert_eq!(convert(&folio, Raw::Float(1234.0)), Ok(json!("1234")));

        let entity = col(FormKey::Victim, "detection_entity_code");
        assert_eq!(convert(&entity, Raw::Int(9)), Ok(json!("09")));
        assert_eq!(
            convert(&entity, Raw::Text("19 — Nuevo León".into())),
            Ok(json!("19"))
        );
        let municipality = col(FormKey::Victim, "detection_municipality_code");
        assert_eq!(convert(&municipality, Raw::Int(1001)), Ok(json!("01001")));

        let forms = col(FormKey::Victim, "exploitation_forms");
        assert_eq!(
            convert(
                &forms,
                Raw::Text("SEXUAL — Explotación sexual; LABORAL;\n ; TRABAJO_FORZADO".into())
            ),
            Ok(json!(["SEXUAL", "LABORAL", "TRABAJO_FORZADO"]))
        );
        let victims = col(FormKey::Investigation, "victim_folios");
        assert_eq!(
            convert(&victims, Raw::Text("V-1; V-2".into())),
            Ok(json!(["V-1", "V-2"]))
        );

        let role = col(FormKey::User, "role");
        assert_eq!(
            convert(&role, Raw::Text("Captura".into())),
            Ok(json!("operator"))
        );
        assert_eq!(
            convert(&role, Raw::Text("analyst — Análisis".into())),
            Ok(json!("analyst"))
        );

        let name = col(FormKey::Commission, "name");
        assert_eq!(
            convert(&name, Raw::Error("#N/A".into())).unwrap_err().0,
            codes::CELL_ERROR
        );
    }

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(parse_number("12"), Some(json!(12)));
        assert_eq!(parse_number("-3"), Some(json!(-3)));
        assert_eq!(parse_number("$1,234.50"), Some(json!(1234.5)));
        assert_eq!(parse_number("1,5"), None);
        assert_eq!(parse_number("12a"), None);
        assert_eq!(parse_number("."), None);
    }

    #[test]
    fn labels_are_stripped_only_after_a_code() {
        assert_eq!(strip_label("19 — Nuevo León"), "19");
        assert_eq!(strip_label("SEXUAL - Explotación sexual"), "SEXUAL");
        assert_eq!(strip_label("Nuevo León - Norte"), "Nuevo León - Norte");
        assert_eq!(strip_label("19"), "19");
    }

    #[test]
    fn column_letters_round_trip() {
        for i in [0, 5, 25, 26, 199, 701] {
            assert_eq!(column_index(&column_letter(i)), Some(i));
        }
        assert_eq!(column_index("a"), None);
    }

    #[test]
    fn sheet_names_are_made_acceptable() {
        assert_eq!(sheet_name("a/b"), "a_b");
        assert_eq!(sheet_name("'x'"), "x");
        assert_eq!(sheet_name(""), "Datos");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
    }
}
