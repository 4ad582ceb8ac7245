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
//! spec order (Spanish labels by default), a reference (a child's parent,
//! an investigation's victims) as the referenced record's external folio
//! and its id; then who registered the record and when, and who changed it
//! last and when. Records store references by id only: the caller looks
//! the folios up ([`RowEncoder::referenced_ids`], then
//! [`RowEncoder::encode_json_with_folios`]); an import of the export passes
//! over a folio whose id is given beside it. Personal-data fields are left out unless the caller may
//! read personal data ([`ExportOptions::personal_data`]).
//!
//! A record reaches its sheet in two steps: a [`RowEncoder`] decides how
//! each value shows and turns the record into [`EncodedRows`] (from
//! serde_json values, or straight from the record's JSON text), and
//! [`ExportWriter::write_rows`] stores the cells. The encoder needs no
//! workbook, so an export encodes the next records on one thread while the
//! writer stores the previous ones on another.
//!
//! Every text value is written with `write_string`, never as a formula:
//! text starting with `=`, `+`, `-`, `@`, a tab or a carriage return stays
//! text.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, Worksheet};
use serde_json::{Map, Value};
use sintra_domain::forms::{FieldType, FormKey, FormSpec};
use sintra_domain::i18n::Lang;

use crate::columns::{export_columns, Column, ColumnKind, META_AFTER, META_BEFORE};
use crate::import::{excel_datetime, sheet_name, CODE_LABEL_SEPARATOR};
use crate::json::{self, JsonView, View};
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
    /// Zip compression, 0–9. Default 6, zlib's usual. For 100,000 victims
    /// (every column) the sheet's XML is about 110 MiB: level 6 compresses
    /// it to 10.3 MiB in 0.6 s, level 3 (what Excel uses) to 12.4 MiB in
    /// 0.3 s, level 1 to 16.9 MiB in 0.24 s. A larger file is slower to
    /// download and nearer the import's size limit when uploaded again.
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
pub type CatalogLabels = dyn Fn(&str, &str) -> Option<String> + Send + Sync;

struct Formats {
    header: Format,
    date: Format,
    datetime: Format,
    decimal: Format,
}

/// One cell of an encoded row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    /// Text: a range of [`EncodedRows::text`].
    Text(usize, usize),
    /// A number, a date or a timestamp (as Excel's serial day); the
    /// column's format says which.
    Number(f64),
}

/// Records turned into the cells of their form's sheet by a [`RowEncoder`]:
/// plain text and numbers, every decision about how a value shows already
/// taken, so that [`ExportWriter::write_rows`] only stores them. An export
/// encodes on the thread that reads the records while the writer's thread
/// writes the previous batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EncodedRows {
    form: Option<FormKey>,
    /// The text of every text cell, one after another.
    text: String,
    /// (column, cell) of every row, row after row.
    cells: Vec<(u16, Cell)>,
    /// Where each row's cells end in `cells`.
    ends: Vec<usize>,
}

impl EncodedRows {
    /// Room for about `rows` rows of `encoder`'s form.
    pub fn with_capacity(encoder: &RowEncoder, rows: usize) -> EncodedRows {
        let per_row = META_BEFORE.len() + encoder.columns.len() + META_AFTER.len();
        EncodedRows {
            form: Some(encoder.form),
            text: String::with_capacity(rows * per_row * 12),
            cells: Vec::with_capacity(rows * per_row),
            ends: Vec::with_capacity(rows),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.cells.clear();
        self.ends.clear();
    }

    fn push_text(&mut self, col: u16, text: &str) {
        // An empty string is no cell: rust_xlsxwriter writes none for it.
        if !text.is_empty() {
            let start = self.text.len();
            self.text.push_str(text);
            self.cells.push((col, Cell::Text(start, self.text.len())));
        }
    }

    /// A text cell written piece by piece into the buffer by `write`.
    fn push_text_with(&mut self, col: u16, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        if self.text.len() > start {
            self.cells.push((col, Cell::Text(start, self.text.len())));
        }
    }

    fn push_number(&mut self, col: u16, x: f64) {
        self.cells.push((col, Cell::Number(x)));
    }
}

/// Turns records of one form into the cells of its sheet, laid out as
/// [`ExportWriter::begin_sheet`] lays the sheet out with the same options
/// (personal-data columns left out unless allowed). Cheap to build, and
/// `Send`: made where the records are read.
#[derive(Clone)]
pub struct RowEncoder {
    form: FormKey,
    columns: Vec<Column>,
    /// The columns (by index) each JSON key feeds.
    by_key: HashMap<&'static str, Vec<usize>>,
    lang: Lang,
    labels: Option<Arc<CatalogLabels>>,
    /// For each reference field: its folio column and its id column (by
    /// index), the folio shown from the id when the record has none.
    references: Vec<(usize, usize)>,
}

/// The external folio of a referenced record, by its id as the record
/// stores it; `None` leaves the folio cell empty.
pub type Folios<'a> = &'a dyn Fn(&str) -> Option<&'a str>;

impl RowEncoder {
    pub fn new(spec: &FormSpec, options: &ExportOptions) -> RowEncoder {
        let columns = export_columns(spec, options.personal_data);
        let mut by_key: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, column) in columns.iter().enumerate() {
            by_key.entry(column.json_key()).or_default().push(i);
        }
        let references = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ColumnKind::Folio)
            .filter_map(|(i, folio)| {
                let id = columns
                    .iter()
                    .position(|c| c.kind == ColumnKind::Id && c.field.key == folio.field.key)?;
                Some((i, id))
            })
            .collect();
        RowEncoder {
            form: spec.key,
            columns,
            by_key,
            lang: options.lang,
            labels: None,
            references,
        }
    }

    /// Whether the form's sheet shows references to other records, whose
    /// folios [`encode_json_with_folios`](RowEncoder::encode_json_with_folios)
    /// needs.
    pub fn has_references(&self) -> bool {
        !self.references.is_empty()
    }

    /// Appends to `out` the ids a record (its JSON text) refers to in the
    /// reference columns of the sheet: those whose folios to look up.
    pub fn referenced_ids(&self, record: &str, out: &mut Vec<String>) -> Result<(), ExcelError> {
        if self.references.is_empty() {
            return Ok(());
        }
        let fields = json::fields(record).map_err(ExcelError::Record)?;
        for (key, value) in &fields {
            let Some(columns) = self.by_key.get(key.as_ref()) else {
                continue;
            };
            if !columns
                .iter()
                .any(|&i| self.columns[i].kind == ColumnKind::Id)
            {
                continue;
            }
            match value.view() {
                View::Str(s) => out.push(s.to_string()),
                View::Array(items) => out.extend(items.iter().filter_map(|v| match v.view() {
                    View::Str(s) => Some(s.to_string()),
                    _ => None,
                })),
                _ => {}
            }
        }
        Ok(())
    }

    /// Shows catalog codes as `CODE — Label`, as
    /// [`ExportWriter::with_catalog_labels`].
    pub fn with_catalog_labels(mut self, labels: Arc<CatalogLabels>) -> RowEncoder {
        self.labels = Some(labels);
        self
    }

    /// Appends one record (its normalized JSON, as stored) to `out`.
    pub fn encode(
        &self,
        record: &Map<String, Value>,
        meta: &RecordMeta<'_>,
        out: &mut EncodedRows,
    ) {
        self.encode_fields(record.iter().map(|(k, v)| (k.as_str(), v)), meta, out);
    }

    /// [`encode`](RowEncoder::encode) from the record's JSON text (as
    /// PostgreSQL sends a `jsonb`): the values are read where they lie in
    /// the text, without building a `serde_json::Value` of each.
    pub fn encode_json(
        &self,
        record: &str,
        meta: &RecordMeta<'_>,
        out: &mut EncodedRows,
    ) -> Result<(), ExcelError> {
        self.encode_json_with_folios(record, meta, &|_| None, out)
    }

    /// [`encode_json`](RowEncoder::encode_json), showing in each reference's
    /// folio column the folios `folios` gives for the ids the record holds
    /// (a record stores its references by id only).
    pub fn encode_json_with_folios(
        &self,
        record: &str,
        meta: &RecordMeta<'_>,
        folios: Folios<'_>,
        out: &mut EncodedRows,
    ) -> Result<(), ExcelError> {
        let fields = json::fields(record).map_err(ExcelError::Record)?;
        self.encode_fields_with(
            fields.iter().map(|(k, v)| (k.as_ref(), v)),
            meta,
            folios,
            out,
        );
        Ok(())
    }

    fn encode_fields<'v, J: JsonView + 'v>(
        &self,
        fields: impl Iterator<Item = (&'v str, &'v J)>,
        meta: &RecordMeta<'_>,
        out: &mut EncodedRows,
    ) {
        self.encode_fields_with(fields, meta, &|_| None, out)
    }

    fn encode_fields_with<'v, J: JsonView + 'v>(
        &self,
        fields: impl Iterator<Item = (&'v str, &'v J)>,
        meta: &RecordMeta<'_>,
        folios: Folios<'_>,
        out: &mut EncodedRows,
    ) {
        if out.form.is_none() {
            out.form = Some(self.form);
        }
        debug_assert_eq!(out.form, Some(self.form), "rows of one form per batch");
        let mut values: Vec<Option<&J>> = vec![None; self.columns.len()];
        for (key, value) in fields {
            if let Some(columns) = self.by_key.get(key) {
                for &i in columns {
                    values[i] = Some(value);
                }
            }
        }
        let mut col: u16 = 0;
        for text in [meta.id, meta.entity, meta.institution] {
            out.push_text(col, text);
            col += 1;
        }
        for (i, column) in self.columns.iter().enumerate() {
            if let Some(value) = values[i] {
                self.encode_value(out, col, column, value);
            } else if column.kind == ColumnKind::Folio {
                // Stored by id only: the folio looked up from the id.
                let ids = self
                    .references
                    .iter()
                    .find(|(folio, _)| *folio == i)
                    .and_then(|&(_, id)| values[id]);
                if let Some(ids) = ids {
                    out.push_text_with(col, |buf| push_folios(buf, ids, folios));
                }
            }
            col += 1;
        }
        out.push_text(col, meta.created_by);
        encode_timestamp(out, col + 1, meta.created_at);
        out.push_text(col + 2, meta.updated_by);
        encode_timestamp(out, col + 3, meta.updated_at);
        out.ends.push(out.cells.len());
    }

    fn encode_value<J: JsonView>(
        &self,
        out: &mut EncodedRows,
        col: u16,
        column: &Column,
        value: &J,
    ) {
        let view = value.view();
        match view {
            View::Null => return,
            View::Array([]) => return,
            _ => {}
        }
        if column.kind != ColumnKind::Value {
            out.push_text_with(col, |buf| push_list(buf, value, push_plain));
            return;
        }
        match (column.field.ty, view) {
            (FieldType::Date, View::Str(s)) => match s
                .parse::<NaiveDate>()
                .ok()
                .and_then(|d| excel_datetime(d, 0))
            {
                Some(dt) => out.push_number(col, dt.to_excel()),
                None => out.push_text(col, s),
            },
            (FieldType::Integer { .. } | FieldType::Decimal { .. }, View::Number(n)) => {
                if let Some(x) = n.as_f64() {
                    out.push_number(col, x);
                }
            }
            (_, View::Bool(b)) => {
                let shown = match (b, self.lang) {
                    (true, Lang::Es) => "Sí",
                    (true, Lang::En) => "Yes",
                    (false, _) => "No",
                };
                out.push_text(col, shown);
            }
            (FieldType::Catalog { catalog, .. }, _) => {
                let labels = self.labels.as_deref();
                out.push_text_with(col, |buf| {
                    push_list(buf, value, |buf, v| {
                        let start = buf.len();
                        push_plain(buf, v);
                        let label = labels.and_then(|l| l(catalog, &buf[start..]));
                        if let Some(label) = label {
                            buf.push_str(CODE_LABEL_SEPARATOR);
                            buf.push_str(&label);
                        }
                    })
                });
            }
            (FieldType::Choice { options }, View::Str(code)) => {
                out.push_text_with(col, |buf| {
                    buf.push_str(code);
                    if let Some(o) = options.iter().find(|o| o.code == code) {
                        buf.push_str(CODE_LABEL_SEPARATOR);
                        buf.push_str(o.label.get(self.lang));
                    }
                });
            }
            _ => out.push_text_with(col, |buf| push_list(buf, value, push_plain)),
        }
    }
}

/// A value as text: a string as is, anything else as its JSON.
fn push_plain<J: JsonView>(buf: &mut String, v: &J) {
    match v.view() {
        View::Str(s) => buf.push_str(s),
        View::Null => {}
        _ => json::write_json(buf, v),
    }
}

/// The folios of the ids a reference holds (one, or a list), as `A; B`;
/// ids without a folio are left out.
fn push_folios<J: JsonView>(buf: &mut String, ids: &J, folios: Folios<'_>) {
    let one = std::slice::from_ref(ids);
    let items = match ids.view() {
        View::Array(items) => items,
        _ => one,
    };
    let mut first = true;
    for id in items {
        let View::Str(id) = id.view() else {
            continue;
        };
        if let Some(folio) = folios(id) {
            if !first {
                buf.push_str("; ");
            }
            buf.push_str(folio);
            first = false;
        }
    }
}

/// A list's items as `A; B`, each pushed by `item`; any other value alone.
fn push_list<J: JsonView>(buf: &mut String, value: &J, mut item: impl FnMut(&mut String, &J)) {
    match value.view() {
        View::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    buf.push_str("; ");
                }
                item(buf, v);
            }
        }
        _ => item(buf, value),
    }
}

fn encode_timestamp(out: &mut EncodedRows, col: u16, at: NaiveDateTime) {
    match excel_datetime(at.date(), at.num_seconds_from_midnight()) {
        Some(dt) => out.push_number(col, dt.to_excel()),
        None => out.push_text_with(col, |buf| {
            let _ = write!(buf, "{at}");
        }),
    }
}

struct OpenSheet {
    worksheet: Worksheet,
    /// The form's sheet name, for continuation sheets.
    base_name: String,
    encoder: RowEncoder,
    headers: Vec<String>,
    /// The next row to write (0-based; the header is row 0).
    next_row: u32,
    /// How many sheets this form has taken so far.
    part: u32,
}

/// A streaming export workbook: [`begin_sheet`](ExportWriter::begin_sheet)
/// for each form, [`write_row`](ExportWriter::write_row) for each of its
/// records (or [`write_rows`](ExportWriter::write_rows) for records a
/// [`RowEncoder`] encoded elsewhere), then [`finish`](ExportWriter::finish).
///
/// A form with more rows than a worksheet holds (1,048,575 below the
/// header) continues on a sheet named `… (2)` with the same headers.
pub struct ExportWriter {
    workbook: Workbook,
    options: ExportOptions,
    labels: Option<Arc<CatalogLabels>>,
    formats: Formats,
    sheet: Option<OpenSheet>,
    names: HashSet<String>,
    /// Data rows per sheet before a form continues on another.
    rows_per_sheet: u32,
    /// [`write_row`](ExportWriter::write_row)'s one-row batch, reused.
    scratch: EncodedRows,
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
            scratch: EncodedRows::default(),
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
        self.labels = Some(Arc::from(labels));
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
        let mut encoder = RowEncoder::new(spec, &self.options);
        encoder.labels = self.labels.clone();
        self.open_sheet(base, encoder, headers, 1)
    }

    fn open_sheet(
        &mut self,
        base_name: String,
        encoder: RowEncoder,
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
        // Dates, timestamps and decimals take their column's format: the
        // cells are written bare, sparing a format lookup for each.
        let first = META_BEFORE.len();
        for (i, column) in encoder.columns.iter().enumerate() {
            let format = match column.field.ty {
                _ if column.kind != ColumnKind::Value => None,
                FieldType::Date => Some(&self.formats.date),
                FieldType::Decimal { .. } => Some(&self.formats.decimal),
                _ => None,
            };
            if let Some(format) = format {
                ws.set_column_format((first + i) as u16, format)?;
            }
        }
        let after = (first + encoder.columns.len()) as u16;
        ws.set_column_format(after + 1, &self.formats.datetime)?;
        ws.set_column_format(after + 3, &self.formats.datetime)?;
        ws.set_freeze_panes(1, 0)?;
        self.sheet = Some(OpenSheet {
            worksheet: ws,
            base_name,
            encoder,
            headers,
            next_row: 1,
            part,
        });
        Ok(())
    }

    fn close_sheet(&mut self) -> Result<(), ExcelError> {
        if let Some(mut sheet) = self.sheet.take() {
            let last_col =
                (META_BEFORE.len() + sheet.encoder.columns.len() + META_AFTER.len() - 1) as u16;
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
        let sheet = self.sheet.as_ref().ok_or(ExcelError::NoSheet)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.form = Some(sheet.encoder.form);
        sheet.encoder.encode(record, meta, &mut scratch);
        let written = self.write_rows(&scratch);
        self.scratch = scratch;
        written
    }

    /// Writes rows a [`RowEncoder`] of the current sheet's form encoded.
    pub fn write_rows(&mut self, rows: &EncodedRows) -> Result<(), ExcelError> {
        let form = self.sheet.as_ref().ok_or(ExcelError::NoSheet)?.encoder.form;
        if rows.is_empty() {
            return Ok(());
        }
        if rows.form != Some(form) {
            return Err(ExcelError::OtherForm);
        }
        let mut start = 0;
        for &end in &rows.ends {
            let full = self.sheet.as_ref().ok_or(ExcelError::NoSheet)?;
            if full.next_row > self.rows_per_sheet {
                let old = full;
                let (base, encoder, headers, part) = (
                    old.base_name.clone(),
                    old.encoder.clone(),
                    old.headers.clone(),
                    old.part,
                );
                self.close_sheet()?;
                self.open_sheet(base, encoder, headers, part + 1)?;
            }
            let sheet = self.sheet.as_mut().ok_or(ExcelError::NoSheet)?;
            let ws = &mut sheet.worksheet;
            let row = sheet.next_row;
            for &(col, cell) in &rows.cells[start..end] {
                match cell {
                    Cell::Text(a, b) => write_text(ws, row, col, &rows.text[a..b], None)?,
                    Cell::Number(x) => {
                        ws.write_number(row, col, x)?;
                    }
                }
            }
            sheet.next_row += 1;
            start = end;
        }
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
