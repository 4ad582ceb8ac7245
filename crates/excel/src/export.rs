//! The export: every record a caller may see, one sheet per form, written
//! in rust_xlsxwriter's constant-memory mode.
//!
//! Each worksheet keeps only its current row in memory and spills earlier
//! rows to a temporary file (strings are written inline, so no shared
//! string table grows either); [`ExportWriter::finish`] then streams the
//! zip to any `Write` sink (a file, a pipe to the HTTP body), so memory
//! does not grow with the number of rows.
//!
//! Columns: the record's id, entity and institution; the form's fields in
//! spec order (Spanish labels by default), a reference as the referenced
//! record's folio (when the caller puts it under the field's `folio_key`)
//! and its id; then who registered the record and when, and who changed it
//! last and when. Personal-data fields are left out unless the caller may
//! read personal data ([`ExportOptions::personal_data`]).
//!
//! Every text value is written with `write_string`, never as a formula:
//! text starting with `=`, `+`, `-`, `@`, a tab or a carriage return stays
//! text.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, Worksheet};
use serde_json::{Map, Value};
use sintra_domain::forms::{FieldType, FormSpec};
use sintra_domain::i18n::{Lang, Text};

use crate::columns::{export_columns, Column, ColumnKind};
use crate::import::{excel_datetime, sheet_name, CODE_LABEL_SEPARATOR};
use crate::{write_text, ExcelError};

/// The last row index (0-based) of a worksheet.
const MAX_ROW: u32 = 1_048_575;

/// How an export is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Language of headers and yes/no values.
    pub lang: Lang,
    /// Whether the caller may read personal data; without it the personal
    /// fields' columns are left out.
    pub personal_data: bool,
    /// Where the worksheets spill their rows (default: the system's
    /// temporary directory). Use a disk, not a RAM-backed tmpfs, or memory
    /// grows after all.
    pub tempdir: Option<PathBuf>,
    /// Zip compression, 0–9. Default 6, zlib's usual: a 100,000-row victim
    /// export is about 10 MiB in 1.5 s; level 1 takes a third less time for
    /// a file 70% larger (and a larger file is slower to download and may
    /// not fit the import's size limit when uploaded again).
    pub compression_level: u8,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            lang: Lang::Es,
            personal_data: false,
            tempdir: None,
            compression_level: 6,
        }
    }
}

/// What the export shows of a record beyond its form's fields: who and
/// where it comes from. Names, not ids, as people read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta<'a> {
    /// The record's id.
    pub id: &'a str,
    /// The record's entity as shown, e.g. `19 — Nuevo León`.
    pub entity: &'a str,
    /// The name of the institution the record belongs to (that of the
    /// user who registered it).
    pub institution: &'a str,
    /// The name of the user (or service account) who registered it; add
    /// their institution (`María Pérez — CEAV`) where it differs from the
    /// record's, as a national administrator's may.
    pub created_by: &'a str,
    /// When it was registered, in the time zone the export shows
    /// (Mexico City time is what operators expect).
    pub created_at: NaiveDateTime,
    /// The name of the user who changed it last.
    pub updated_by: &'a str,
    /// When it was changed last, in the same time zone.
    pub updated_at: NaiveDateTime,
}

/// The label of a catalog item (`catalog`, `code`), to show codes as
/// `CODE — Label`; `None` leaves the bare code.
pub type CatalogLabels = dyn Fn(&str, &str) -> Option<String> + Send;

const META_BEFORE: [Text; 3] = [
    Text::new("ID del registro", "Record ID"),
    Text::new("Entidad del registro", "Record entity"),
    Text::new("Institución del registro", "Record institution"),
];

const META_AFTER: [Text; 4] = [
    Text::new("Registrado por", "Registered by"),
    Text::new("Fecha de registro", "Registered at"),
    Text::new("Modificado por última vez por", "Last changed by"),
    Text::new("Fecha de última modificación", "Last changed at"),
];

struct Formats {
    header: Format,
    date: Format,
    datetime: Format,
    decimal: Format,
}

struct OpenSheet {
    worksheet: Worksheet,
    /// The form's sheet name, for continuation sheets.
    base_name: String,
    columns: Vec<Column>,
    headers: Vec<String>,
    /// The next row to write (0-based; the header is row 0).
    next_row: u32,
    /// How many sheets this form has taken so far.
    part: u32,
}

/// A streaming export workbook: [`begin_sheet`](ExportWriter::begin_sheet)
/// for each form, [`write_row`](ExportWriter::write_row) for each of its
/// records, then [`finish`](ExportWriter::finish).
///
/// A form with more rows than a worksheet holds (1,048,575 below the
/// header) continues on a sheet named `… (2)` with the same headers.
pub struct ExportWriter {
    workbook: Workbook,
    options: ExportOptions,
    labels: Option<Box<CatalogLabels>>,
    formats: Formats,
    sheet: Option<OpenSheet>,
    names: HashSet<String>,
    /// Data rows per sheet before a form continues on another.
    rows_per_sheet: u32,
}

impl ExportWriter {
    /// A new, empty export.
    pub fn new(options: ExportOptions) -> Result<ExportWriter, ExcelError> {
        let mut workbook = Workbook::new();
        if let Some(dir) = &options.tempdir {
            workbook.set_tempdir(dir)?;
        }
        workbook.set_zip_compression_level(options.compression_level.min(9));
        let formats = Formats {
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(0xDD_EB_F7)),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm"),
            decimal: Format::new().set_num_format("#,##0.00"),
        };
        Ok(ExportWriter {
            workbook,
            options,
            labels: None,
            formats,
            sheet: None,
            names: HashSet::new(),
            rows_per_sheet: MAX_ROW,
        })
    }

    #[cfg(test)]
    pub(crate) fn with_rows_per_sheet(mut self, rows: u32) -> ExportWriter {
        self.rows_per_sheet = rows;
        self
    }

    /// Shows catalog codes as `CODE — Label` with these labels (which an
    /// import reads back as the code).
    pub fn with_catalog_labels(mut self, labels: Box<CatalogLabels>) -> ExportWriter {
        self.labels = Some(labels);
        self
    }

    /// The headers of `spec`'s sheet, left to right, as
    /// [`begin_sheet`](ExportWriter::begin_sheet) writes them.
    pub fn headers(spec: &FormSpec, options: &ExportOptions) -> Vec<String> {
        let lang = options.lang;
        META_BEFORE
            .iter()
            .map(|t| t.get(lang).to_string())
            .chain(
                export_columns(spec, options.personal_data)
                    .iter()
                    .map(|c| c.header(lang)),
            )
            .chain(META_AFTER.iter().map(|t| t.get(lang).to_string()))
            .collect()
    }

    /// Starts the sheet of a form (named after it) and writes its headers;
    /// the previous sheet is closed.
    pub fn begin_sheet(&mut self, spec: &FormSpec) -> Result<(), ExcelError> {
        self.close_sheet()?;
        let label = spec.label.get(self.options.lang);
        // "Investigación (carpeta de investigación o averiguación previa)" → "Investigación".
        let base = label.split(" (").next().unwrap_or(label).to_string();
        let headers = ExportWriter::headers(spec, &self.options);
        let columns = export_columns(spec, self.options.personal_data);
        self.open_sheet(base, columns, headers, 1)
    }

    fn open_sheet(
        &mut self,
        base_name: String,
        columns: Vec<Column>,
        headers: Vec<String>,
        part: u32,
    ) -> Result<(), ExcelError> {
        let mut name = if part == 1 {
            sheet_name(&base_name)
        } else {
            let suffix = format!(" ({part})");
            let room = 31 - suffix.chars().count();
            format!(
                "{}{suffix}",
                sheet_name(&base_name)
                    .chars()
                    .take(room)
                    .collect::<String>()
            )
        };
        let mut n = 2;
        while self.names.contains(&name.to_lowercase()) {
            let suffix = format!(" ~{n}");
            name = format!(
                "{}{suffix}",
                sheet_name(&base_name)
                    .chars()
                    .take(31 - suffix.chars().count())
                    .collect::<String>()
            );
            n += 1;
        }
        self.names.insert(name.to_lowercase());

        let mut ws = self.workbook.new_worksheet_with_constant_memory()?;
        ws.set_name(&name)?;
        for (col, header) in headers.iter().enumerate() {
            let col = col as u16;
            let width = (header.chars().count() as f64 * 0.9).clamp(12.0, 40.0);
            ws.set_column_width(col, width)?;
            write_text(&mut ws, 0, col, header, Some(&self.formats.header))?;
        }
        ws.set_freeze_panes(1, 0)?;
        self.sheet = Some(OpenSheet {
            worksheet: ws,
            base_name,
            columns,
            headers,
            next_row: 1,
            part,
        });
        Ok(())
    }

    fn close_sheet(&mut self) -> Result<(), ExcelError> {
        if let Some(mut sheet) = self.sheet.take() {
            let last_col = (META_BEFORE.len() + sheet.columns.len() + META_AFTER.len() - 1) as u16;
            let last_row = sheet.next_row.saturating_sub(1).max(1);
            sheet.worksheet.autofilter(0, 0, last_row, last_col)?;
            self.workbook.push_worksheet(sheet.worksheet);
        }
        Ok(())
    }

    /// Writes one record (its normalized JSON, as stored) to the current
    /// sheet.
    pub fn write_row(
        &mut self,
        record: &Map<String, Value>,
        meta: &RecordMeta<'_>,
    ) -> Result<(), ExcelError> {
        if self.sheet.as_ref().ok_or(ExcelError::NoSheet)?.next_row > self.rows_per_sheet {
            let old = self.sheet.as_ref().expect("checked above");
            let (base, columns, headers, part) = (
                old.base_name.clone(),
                old.columns.clone(),
                old.headers.clone(),
                old.part,
            );
            self.close_sheet()?;
            self.open_sheet(base, columns, headers, part + 1)?;
        }
        let lang = self.options.lang;
        let formats = &self.formats;
        let labels = self.labels.as_deref();
        let sheet = self.sheet.as_mut().expect("opened above");
        let ws = &mut sheet.worksheet;
        let row = sheet.next_row;
        let mut col: u16 = 0;
        for text in [meta.id, meta.entity, meta.institution] {
            write_text(ws, row, col, text, None)?;
            col += 1;
        }
        for column in &sheet.columns {
            if let Some(value) = record.get(column.json_key()) {
                write_value(ws, row, col, column, value, lang, formats, labels)?;
            }
            col += 1;
        }
        write_text(ws, row, col, meta.created_by, None)?;
        write_timestamp(ws, row, col + 1, meta.created_at, formats)?;
        write_text(ws, row, col + 2, meta.updated_by, None)?;
        write_timestamp(ws, row, col + 3, meta.updated_at, formats)?;
        sheet.next_row += 1;
        Ok(())
    }

    /// Rows written to the current sheet (its header not counted).
    pub fn rows_in_sheet(&self) -> u32 {
        self.sheet.as_ref().map_or(0, |s| s.next_row - 1)
    }

    /// Closes the last sheet and writes the workbook to `sink`, streaming.
    /// A workbook without sheets gets an empty one (a workbook needs one).
    pub fn finish<W: Write + Send>(mut self, sink: W) -> Result<(), ExcelError> {
        self.close_sheet()?;
        self.workbook.save_to_writer(sink)?;
        Ok(())
    }
}

fn write_timestamp(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    at: NaiveDateTime,
    formats: &Formats,
) -> Result<(), ExcelError> {
    match excel_datetime(at.date(), at.num_seconds_from_midnight()) {
        Some(dt) => {
            ws.write_datetime_with_format(row, col, dt, &formats.datetime)?;
        }
        None => write_text(ws, row, col, &at.to_string(), None)?,
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_value(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    column: &Column,
    value: &Value,
    lang: Lang,
    formats: &Formats,
    labels: Option<&CatalogLabels>,
) -> Result<(), ExcelError> {
    match value {
        Value::Null => return Ok(()),
        Value::Array(items) if items.is_empty() => return Ok(()),
        _ => {}
    }
    let field = column.field;
    let text = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    };
    if column.kind != ColumnKind::Value {
        let shown = match value {
            Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("; "),
            other => text(other),
        };
        write_text(ws, row, col, &shown, None)?;
        return Ok(());
    }
    match (field.ty, value) {
        (FieldType::Date, Value::String(s)) => {
            match NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| excel_datetime(d, 0))
            {
                Some(dt) => {
                    ws.write_datetime_with_format(row, col, dt, &formats.date)?;
                }
                None => write_text(ws, row, col, s, None)?,
            }
        }
        (FieldType::Integer { .. }, Value::Number(n)) => {
            if let Some(x) = n.as_f64() {
                ws.write_number(row, col, x)?;
            }
        }
        (FieldType::Decimal { .. }, Value::Number(n)) => {
            if let Some(x) = n.as_f64() {
                ws.write_number_with_format(row, col, x, &formats.decimal)?;
            }
        }
        (_, Value::Bool(b)) => {
            let shown = match (b, lang) {
                (true, Lang::Es) => "Sí",
                (true, Lang::En) => "Yes",
                (false, _) => "No",
            };
            write_text(ws, row, col, shown, None)?;
        }
        (FieldType::Catalog { catalog, .. }, _) => {
            let show = |code: String| match labels.and_then(|l| l(catalog, &code)) {
                Some(label) => format!("{code}{CODE_LABEL_SEPARATOR}{label}"),
                None => code,
            };
            let shown = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|v| show(text(v)))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => show(text(other)),
            };
            write_text(ws, row, col, &shown, None)?;
        }
        (FieldType::Choice { options }, Value::String(code)) => {
            let shown = match options.iter().find(|o| o.code == code) {
                Some(o) => format!("{code}{CODE_LABEL_SEPARATOR}{}", o.label.get(lang)),
                None => code.clone(),
            };
            write_text(ws, row, col, &shown, None)?;
        }
        (_, Value::Array(items)) => {
            let shown = items.iter().map(text).collect::<Vec<_>>().join("; ");
            write_text(ws, row, col, &shown, None)?;
        }
        (_, other) => write_text(ws, row, col, &text(other), None)?,
    }
    Ok(())
}
