//! Cross-module tests: every template round-trips through an import, every
//! hostile file is refused with its code, exports keep formulas out.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};

use calamine::{Data, Reader, SheetVisible, Xlsx};
use chrono::{NaiveDate, NaiveDateTime};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use serde_json::{json, Map, Value};
use sintra_domain::forms::{all_specs, FieldType, FormKey, FormSpec, Rule};
use sintra_domain::i18n::Lang;
use sintra_domain::validation::{validate_record, CatalogEntry, CatalogLookup};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use crate::columns::{match_header, template_columns, Column, ColumnKind};
use crate::guard::{self, GuardError, ImportLimits};
use crate::import::{annotate, read_rows, CellError};
use crate::{export, template, template_within};

// ---------------------------------------------------------------- helpers

/// The active items the tests' catalogs have: two per catalog, 2,478
/// municipalities (a list too long for a validation formula).
fn catalogs(catalog: &str) -> Vec<(String, String)> {
    match catalog {
        "entity" => vec![
            ("09".into(), "Ciudad de México".into()),
            ("19".into(), "Nuevo León".into()),
        ],
        "municipality" => (0..2478)
            .map(|i| (format!("{:05}", 1001 + i), format!("Municipio {i}")))
            .collect(),
        _ => vec![("UNO".into(), "Uno".into()), ("DOS".into(), "Dos".into())],
    }
}

/// Every code exists and is active: these tests check the Excel side, not
/// the catalogs.
struct AnyCode;

impl CatalogLookup for AnyCode {
    fn lookup(&self, _catalog: &str, _code: &str) -> Option<CatalogEntry> {
        Some(CatalogEntry {
            active: true,
            parent_code: None,
        })
    }
}

const UUID_1: &str = "0193a1b2-0c3d-7e4f-8a5b-6c7d8e9f0a1b";
const UUID_2: &str = "0193a1b2-0c3d-7e4f-8a5b-6c7d8e9f0a1c";

/// A value to type into a cell.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Number(f64),
    Date(u16, u8, u8),
    Formula(&'static str, &'static str),
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// What an operator would type for a column, and the JSON the import must
/// make of it. `None` for columns left empty.
fn sample(column: &Column) -> Option<(Cell, Value)> {
    let field = column.field;
    if column.kind == ColumnKind::Folio {
        return Some(if column.is_multiple() {
            (text("V-1; V-2"), json!(["V-1", "V-2"]))
        } else {
            (Cell::Number(1234.0), json!("1234"))
        });
    }
    Some(match field.ty {
        FieldType::Text { .. } if field.rules.contains(&Rule::Username) => {
            (text("oper.nl.fgj"), json!("oper.nl.fgj"))
        }
        FieldType::Text { .. } if field.rules.contains(&Rule::Email) => (
            text("persona@fiscalia.gob.mx"),
            json!("persona@fiscalia.gob.mx"),
        ),
        FieldType::Text { .. } if field.rules.iter().any(|r| matches!(r, Rule::ParentItem(_))) => {
            return None
        }
        FieldType::Text { .. } if field.rules.contains(&Rule::Code) => {
            (text("ABC_1"), json!("ABC_1"))
        }
        FieldType::Text { .. } if field.rules.contains(&Rule::MissingReportFolio) => {
            (text("CLB19-2023-45"), json!("CLB19-2023-45"))
        }
        FieldType::Text { .. } => (text("Texto de prueba"), json!("Texto de prueba")),
        FieldType::LongText { .. } => (
            text("=1+1 no es fórmula\nsegunda línea"),
            json!("=1+1 no es fórmula\nsegunda línea"),
        ),
        FieldType::Date => (Cell::Date(2024, 6, 3), json!("2024-06-03")),
        FieldType::Integer { min, max } => {
            let v = min.max(1).min(max);
            (Cell::Number(v as f64), json!(v))
        }
        FieldType::Decimal { .. } => (Cell::Number(1234.5), json!(1234.5)),
        FieldType::Boolean => (text("Sí"), json!(true)),
        FieldType::Catalog {
            catalog: "entity",
            multiple: false,
            ..
        } => (Cell::Number(9.0), json!("09")),
        FieldType::Catalog {
            multiple: false, ..
        } => (text("UNO — Uno"), json!("UNO")),
        FieldType::Catalog { multiple: true, .. } => {
            (text("UNO — Uno; DOS"), json!(["UNO", "DOS"]))
        }
        FieldType::Curp => (text("BOXW310820HNERXN09"), json!("BOXW310820HNERXN09")),
        FieldType::Choice { options } => (text(options[0].label.es), json!(options[0].code)),
        FieldType::Uuid => (text(UUID_1), json!(UUID_1)),
        FieldType::Reference { .. } => unreachable!("references are folio columns"),
    })
}

/// A workbook with one sheet `name`: `headers` in row 1, then `rows`.
fn workbook(name: &str, headers: &[String], rows: &[Vec<Option<Cell>>]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(name).unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                None => {}
                Some(Cell::Text(s)) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Some(Cell::Number(n)) => {
                    ws.write_number(r, c, *n).unwrap();
                }
                Some(Cell::Date(y, m, d)) => {
                    let dt = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
                }
                Some(Cell::Formula(f, result)) => {
                    // Crafting an operator's file: a formula with its cached value.
                    ws.write_formula(r, c, Formula::new(*f).set_result(*result))
                        .unwrap();
                }
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// The entries of a zip, in order.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            (f.name().unwrap().to_string(), content)
        })
        .collect()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `bytes` with each entry passed through `edit` (`None` keeps it).
fn rewrite(bytes: &[u8], edit: impl Fn(&str, &[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let edited: Vec<(String, Vec<u8>)> = entries(bytes)
        .into_iter()
        .map(|(name, content)| {
            let new = edit(&name, &content).unwrap_or(content);
            (name, new)
        })
        .collect();
    zip_of(&edited)
}

fn replace_in(content: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(content.to_vec()).unwrap();
    assert!(s.contains(from), "{from} not in {s}");
    s.replacen(from, to, 1).into_bytes()
}

/// A small valid session workbook: the template's headers and `n` rows.
fn session_rows(n: usize) -> Vec<u8> {
    let spec = FormKey::Session.spec();
    let columns = template_columns(spec);
    let headers: Vec<String> = columns.iter().map(|c| c.header(Lang::Es)).collect();
    let rows: Vec<Vec<Option<Cell>>> = (0..n)
        .map(|_| columns.iter().map(|c| sample(c).map(|s| s.0)).collect())
        .collect();
    workbook("Datos", &headers, &rows)
}

fn refused(bytes: &[u8], limits: &ImportLimits) -> GuardError {
    read_rows(bytes, FormKey::Session.spec(), limits).expect_err("refused")
}

fn sheet_xml(bytes: &[u8], name: &str) -> String {
    let (_, content) = entries(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .expect("entry");
    String::from_utf8(content).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

/// Replaces folio columns by ids, as the caller does before validating.
fn resolve_folios(spec: &FormSpec, values: &Map<String, Value>) -> Map<String, Value> {
    let mut out = values.clone();
    for field in spec.fields {
        if let FieldType::Reference {
            folio_key,
            multiple,
            ..
        } = field.ty
        {
            if out.remove(folio_key).is_some() {
                let id = if multiple {
                    json!([UUID_1, UUID_2])
                } else {
                    json!(UUID_1)
                };
                out.insert(field.key.to_string(), id);
            }
        }
    }
    out
}

// -------------------------------------------------------------- templates

/// The first row of a sheet, as text: its headers.
fn header_row(range: &calamine::Range<Data>) -> Vec<String> {
    range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn dependent_dropdowns_name_each_parents_children() {
    let spec = FormKey::Victim.spec();
    // The first thousand municipios in Mexico City, the rest in Nuevo León.
    let parents = |catalog: &str| -> Vec<(String, String)> {
        match catalog {
            "municipality" => catalogs(catalog)
                .into_iter()
                .enumerate()
                .map(|(i, (code, _))| (code, if i < 1000 { "09" } else { "19" }.into()))
                .collect(),
            _ => vec![],
        }
    };
    let bytes = crate::template_with(
        spec,
        Lang::Es,
        &catalogs,
        &parents,
        &ImportLimits::default(),
    )
    .unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&bytes)).unwrap();
    let names: HashMap<String, String> = book.defined_names().iter().cloned().collect();
    let mut keys: Vec<&String> = names.keys().collect();
    keys.sort();
    assert_eq!(keys, ["MUN_09", "MUN_19"]);
    let lists = book.worksheet_range("Catálogos").unwrap();
    let header = header_row(&lists);
    let col = header.iter().position(|h| h == "MUN_19").unwrap();
    let items = lists
        .rows()
        .skip(1)
        .filter(|r| r[col] != Data::Empty)
        .count();
    assert_eq!(items, 1478);
    assert!(
        names["MUN_19"].ends_with(&format!(
            "$2:${}${}",
            crate::columns::column_letter(col as u32),
            items + 1
        )),
        "{}",
        names["MUN_19"]
    );
    // Without parents, no names: the whole list, as before.
    let plain = template(spec, Lang::Es, &catalogs).unwrap();
    let book: Xlsx<_> = Xlsx::new(Cursor::new(&plain)).unwrap();
    assert!(book.defined_names().is_empty());
}

#[test]
fn every_template_opens_and_round_trips_through_an_import() {
    for spec in all_specs() {
        let bytes = template(spec, Lang::Es, &catalogs).unwrap();
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&bytes)).unwrap();
        let sheets: Vec<(String, SheetVisible)> = book
            .sheets_metadata()
            .iter()
            .map(|s| (s.name.clone(), s.visible))
            .collect();
        assert_eq!(
            sheets,
            vec![
                ("Instrucciones".to_string(), SheetVisible::Visible),
                ("Datos".to_string(), SheetVisible::Visible),
                ("Catálogos".to_string(), SheetVisible::Hidden),
            ],
            "{}",
            spec.key
        );

        // The operator fills in the data sheet under the template's headers.
        let range = book.worksheet_range("Datos").unwrap();
        let headers: Vec<String> = range
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let columns = template_columns(spec);
        assert_eq!(
            headers,
            columns
                .iter()
                .map(|c| c.header(Lang::Es))
                .collect::<Vec<_>>()
        );
        let samples: Vec<Option<(Cell, Value)>> = headers
            .iter()
            .map(|h| sample(&match_header(spec, h).expect("header matches")))
            .collect();
        let row: Vec<Option<Cell>> = samples
            .iter()
            .map(|s| s.as_ref().map(|s| s.0.clone()))
            .collect();
        let empty: Vec<Option<Cell>> = vec![None; row.len()];
        let filled = workbook("Datos", &headers, &[row.clone(), empty, row]);

        let sheet = read_rows(&filled, spec, &ImportLimits::default()).unwrap();
        assert_eq!(sheet.header_row, 1);
        assert!(sheet.missing_required.is_empty(), "{}", spec.key);
        assert!(sheet.header_errors().is_empty(), "{}", spec.key);
        assert_eq!(
            sheet.rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![2, 4],
            "the empty row 3 is skipped; rows keep Excel's numbers"
        );
        for r in &sheet.rows {
            assert!(r.problems.is_empty(), "{}: {:?}", spec.key, r.problems);
            for (column, sample) in columns.iter().zip(&samples) {
                let expected = sample.as_ref().map_or(Value::Null, |s| s.1.clone());
                assert_eq!(
                    r.get(column.json_key()),
                    Some(&expected),
                    "{}.{}",
                    spec.key,
                    column.json_key()
                );
            }
            // And the row is what validation takes, once folios are ids.
            let input = resolve_folios(spec, &r.values());
            let valid = validate_record(spec, &input, None, &AnyCode, today());
            assert!(valid.is_ok(), "{}: {:?}", spec.key, valid.err());
        }
    }
}

#[test]
fn templates_carry_dropdowns_notes_date_formats_and_instructions() {
    let spec = FormKey::Victim.spec();
    let bytes = template(spec, Lang::Es, &catalogs).unwrap();
    let names: Vec<String> = entries(&bytes).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.iter().any(|n| n.starts_with("xl/comments")),
        "{names:?}"
    );

    let data = sheet_xml(&bytes, "xl/worksheets/sheet2.xml");
    let validations = data.matches("<dataValidation ").count();
    assert!(validations >= 20, "{validations} validations");
    // Long lists point at the hidden sheet, bound to its active values.
    assert!(data.contains("'Catálogos'!$"), "{data}");
    assert!(data.contains("$2479"), "2,478 municipios + a title row");
    assert!(data.contains("<formula1>\"Sí,No\"</formula1>"));
    assert!(data.contains("sqref=\"") && data.contains("100001\""));
    let styles = sheet_xml(&bytes, "xl/styles.xml");
    assert!(styles.contains("dd/mm/yyyy"));

    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&bytes)).unwrap();
    let lists = book.worksheet_range("Catálogos").unwrap();
    let column: Vec<String> = lists
        .rows()
        .filter_map(|r| {
            r.iter()
                .find(|c| c.to_string().starts_with("01001"))
                .map(|c| c.to_string())
        })
        .collect();
    assert_eq!(column, vec!["01001 — Municipio 0"]);

    let instructions = book.worksheet_range("Instrucciones").unwrap();
    let text: Vec<String> = instructions
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    let all = text.join("\n");
    assert!(all.contains("Plantilla de carga: Víctima o posible víctima"));
    assert!(all.contains("Fecha de detección"), "one line per field");
    assert!(all.contains("2,478 valores: hoja «Catálogos»"), "{all}");
    assert!(all.contains("09 — Ciudad de México; 19 — Nuevo León"));

    let english = template(spec, Lang::En, &catalogs).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&english)).unwrap();
    assert!(book.worksheet_range("Data").is_ok());
}

#[test]
fn an_empty_template_uploads_as_no_rows_and_no_errors() {
    for spec in all_specs() {
        let bytes = template(spec, Lang::Es, &catalogs).unwrap();
        let sheet = read_rows(&bytes, spec, &ImportLimits::default()).unwrap();
        assert_eq!(sheet.sheet_name, "Datos");
        assert!(sheet.rows.is_empty());
        assert!(sheet.header_errors().is_empty(), "{}", spec.key);
    }
}

#[test]
fn a_template_states_the_row_limit_of_its_form() {
    let spec = FormKey::User.spec();
    let limits = ImportLimits {
        max_rows: 1_000,
        ..ImportLimits::default()
    };
    let instructions = |bytes: &[u8]| -> String {
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
        let range = book.worksheet_range("Instrucciones").unwrap();
        range.rows().flatten().map(|c| c.to_string()).collect()
    };
    let few = instructions(&template_within(spec, Lang::Es, &catalogs, &limits).unwrap());
    assert!(few.contains("1,000 registros"), "{few}");
    assert!(!few.contains("100,000"), "{few}");
    let default = instructions(&template(spec, Lang::Es, &catalogs).unwrap());
    assert!(default.contains("100,000 registros"), "{default}");
}

#[test]
fn a_uuid_field_with_choices_gets_a_list_and_reads_back_as_the_id() {
    let spec = FormKey::User.spec();
    let choices = |key: &str| -> Vec<(String, String)> {
        match key {
            "institution_id" => vec![(UUID_2.into(), "CEAV Nuevo León (19)".into())],
            other => catalogs(other),
        }
    };
    let bytes = template(spec, Lang::Es, &choices).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    let lists = book.worksheet_range("Catálogos").unwrap();
    let offered = format!("{UUID_2} — CEAV Nuevo León (19)");
    assert!(lists.rows().flatten().any(|c| c.to_string() == offered));

    let columns = template_columns(spec);
    let headers: Vec<String> = columns.iter().map(|c| c.header(Lang::Es)).collect();
    let row: Vec<Option<Cell>> = columns
        .iter()
        .map(|c| match c.field.key {
            "username" => Some(text("oper.nl")),
            "full_name" => Some(text("Ana Torres")),
            "role" => Some(text("operator — Captura")),
            "institution_id" => Some(text(&offered)),
            _ => None,
        })
        .collect();
    let filled = workbook("Datos", &headers, &[row]);
    let sheet = read_rows(&filled, spec, &ImportLimits::default()).unwrap();
    assert_eq!(sheet.rows[0].values()["institution_id"], json!(UUID_2));
}

#[test]
fn child_templates_name_their_parent_by_folio() {
    let bytes = template(FormKey::Session.spec(), Lang::Es, &catalogs).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&bytes)).unwrap();
    let range = book.worksheet_range("Datos").unwrap();
    let headers = header_row(&range);
    assert_eq!(headers[1], "Comisión (folio externo)");
    let column = match_header(FormKey::Session.spec(), &headers[1]).unwrap();
    assert_eq!(column.json_key(), "commission_folio");
}

// ------------------------------------------------------------------ import

#[test]
fn headers_match_by_label_or_key_ignoring_case_and_accents() {
    let headers: Vec<String> = [
        "FOLIO EXTERNO",
        "commission_folio",
        "numero de sesion",
        "Tipo de Sesión *",
        "date",
        "Columna rara",
        "Sede",
        "sede",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = vec![vec![
        Some(text("S-1")),
        Some(text("C-1")),
        Some(Cell::Number(3.0)),
        Some(text("ORDINARIA")),
        Some(text("03/06/2024")),
        Some(text("x")),
        Some(text("Sala 1")),
        Some(text("Sala 2")),
    ]];
    let bytes = workbook("Hoja1", &headers, &rows);
    let sheet = read_rows(&bytes, FormKey::Session.spec(), &ImportLimits::default()).unwrap();
    let row = &sheet.rows[0];
    assert_eq!(row.values()["external_folio"], json!("S-1"));
    assert_eq!(row.values()["commission_folio"], json!("C-1"));
    assert_eq!(row.values()["number"], json!(3));
    assert_eq!(row.values()["session_type"], json!("ORDINARIA"));
    assert_eq!(row.values()["date"], json!("03/06/2024"));
    assert_eq!(row.values()["venue"], json!("Sala 1"));
    assert!(!row.values().contains_key("modality"), "no column, no key");
    assert_eq!(row.get("modality"), None);
    assert_eq!(row.get("quorum"), None);

    let header_errors = sheet.header_errors();
    let codes: Vec<(&str, Option<&str>)> = header_errors
        .iter()
        .map(|e| (e.code, e.column.as_deref()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("unknown_column", Some("F")),
            ("duplicate_column", Some("H"))
        ]
    );
    assert_eq!(sheet.column_of("venue"), Some("G"));
    assert_eq!(sheet.column_of("commission_id"), Some("B"));
}

#[test]
fn missing_required_columns_are_reported_once() {
    let headers = vec!["Folio externo".to_string(), "Sede".to_string()];
    let bytes = workbook("Datos", &headers, &[vec![Some(text("S-1")), None]]);
    let sheet = read_rows(&bytes, FormKey::Session.spec(), &ImportLimits::default()).unwrap();
    assert_eq!(
        sheet.missing_required,
        vec!["commission_id", "number", "session_type", "date"]
    );
    let errors = sheet.header_errors();
    assert_eq!(errors.len(), 4);
    assert!(errors
        .iter()
        .all(|e| e.code == "missing_column" && e.row == 1));
    assert_eq!(
        errors[0].message.es,
        "Falta la columna obligatoria «Comisión»."
    );
}

#[test]
fn formulas_are_read_as_their_values_and_errors_as_problems() {
    let headers = vec![
        "Nombre".to_string(),
        "Fecha de instalación".to_string(),
        "Tipo de instancia".to_string(),
    ];
    let rows = vec![vec![
        Some(Cell::Formula(
            "=CONCAT(\"Comisión \",\"NL\")",
            "Comisión NL",
        )),
        Some(Cell::Formula("=DATE(2024,6,3)", "45446")),
        Some(Cell::Formula("=NA()", "#N/A")),
    ]];
    let bytes = workbook("Datos", &headers, &rows);
    let spec = FormKey::Commission.spec();
    let sheet = read_rows(&bytes, spec, &ImportLimits::default()).unwrap();
    let row = &sheet.rows[0];
    assert_eq!(row.values()["name"], json!("Comisión NL"));
    assert_eq!(row.values()["installation_date"], json!("2024-06-03"));
    assert_eq!(row.values()["kind"], Value::Null);
    assert_eq!(row.problems.len(), 1);
    assert_eq!(row.problems[0].code, "cell_error");
    assert_eq!(row.problems[0].column.as_deref(), Some("C"));

    // Validation's "required" on the spoiled cell does not repeat it.
    let errors = validate_record(spec, &row.values(), None, &AnyCode, today()).unwrap_err();
    let located = sheet.locate(row, errors);
    let kinds: Vec<(&str, Option<&str>, Option<&str>)> = located
        .iter()
        .map(|e| (e.code, e.column.as_deref(), e.field.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("cell_error", Some("C"), Some("kind")),
            ("required", None, Some("entity_code")),
        ]
    );
}

#[test]
fn the_data_sheet_is_the_first_visible_one_with_the_headers() {
    let mut wb = Workbook::new();
    let notes = wb.add_worksheet();
    notes.set_name("Notas").unwrap();
    notes
        .write_string(0, 0, "Capturado por la fiscalía")
        .unwrap();
    let hidden = wb.add_worksheet();
    hidden.set_name("Oculta").unwrap();
    hidden.write_string(0, 0, "Nombre").unwrap();
    hidden.write_string(1, 0, "de la hoja oculta").unwrap();
    hidden.set_hidden(true);
    let data = wb.add_worksheet();
    data.set_name("Captura").unwrap();
    data.write_string(2, 1, "Nombre").unwrap();
    data.write_string(3, 1, "Comisión de Nuevo León").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let sheet = read_rows(&bytes, FormKey::Commission.spec(), &ImportLimits::default()).unwrap();
    assert_eq!(sheet.sheet_name, "Captura");
    assert_eq!(sheet.header_row, 3);
    assert_eq!(sheet.rows[0].row, 4);
    assert_eq!(
        sheet.rows[0].values()["name"],
        json!("Comisión de Nuevo León")
    );
    assert_eq!(sheet.column_of("name"), Some("B"));

    let other = workbook("Datos", &["Otra cosa".to_string()], &[]);
    let e = read_rows(&other, FormKey::Commission.spec(), &ImportLimits::default()).unwrap_err();
    assert_eq!(e.code(), "no_data_sheet");
}

#[test]
fn annotated_workbooks_mark_bad_cells_and_list_errors_per_row() {
    let spec = FormKey::Session.spec();
    let mut headers: Vec<String> = template_columns(spec)
        .iter()
        .map(|c| c.header(Lang::Es))
        .collect();
    headers.push("Observaciones libres".to_string());
    let columns = template_columns(spec);
    let mut good: Vec<Option<Cell>> = columns.iter().map(|c| sample(c).map(|s| s.0)).collect();
    good.push(Some(text("nota")));
    let mut bad = good.clone();
    bad[4] = Some(text("no es fecha")); // date
    bad[3] = None; // session_type, required
    let bytes = workbook("Datos", &headers, &[good, bad]);
    let sheet = read_rows(&bytes, spec, &ImportLimits::default()).unwrap();
    let mut errors: Vec<CellError> = sheet.header_errors();
    for row in &sheet.rows {
        let input = resolve_folios(spec, &row.values());
        if let Err(e) = validate_record(spec, &input, None, &AnyCode, today()) {
            errors.extend(sheet.locate(row, e));
        }
    }
    let row3: Vec<(&str, Option<&str>)> = errors
        .iter()
        .filter(|e| e.row == 3)
        .map(|e| (e.code, e.column.as_deref()))
        .collect();
    assert_eq!(
        row3,
        vec![("required", Some("D")), ("invalid_date", Some("E"))]
    );

    let annotated = annotate(&bytes, spec, &errors, Lang::Es, &ImportLimits::default()).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&annotated)).unwrap();
    let range = book.worksheet_range("Datos").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let errors_col = headers.len() - 1; // after the last header, before nothing
    assert_eq!(rows[0][errors_col + 1], "Errores");
    assert_eq!(rows[0][errors_col], "Observaciones libres");
    assert_eq!(rows[1][errors_col + 1], "", "the good row has no errors");
    let messages = &rows[2][errors_col + 1];
    assert!(
        messages.starts_with("D: El campo «Tipo de sesión» es obligatorio."),
        "{messages}"
    );
    assert!(messages.contains("\nE: El campo «Fecha de la sesión» no es una fecha válida"));
    assert_eq!(rows[2][4], "no es fecha", "the operator's value stays");
    assert_eq!(rows[1][1], "1234");
    // The annotated file uploads again: the errors column is ignored.
    let again = read_rows(&annotated, spec, &ImportLimits::default()).unwrap();
    assert_eq!(again.rows.len(), 2);
    assert_eq!(
        again
            .header_errors()
            .iter()
            .map(|e| e.code)
            .collect::<Vec<_>>(),
        vec!["unknown_column"],
        "only the operator's own extra column"
    );
    // Bad cells are filled.
    let xml = sheet_xml(&annotated, "xl/worksheets/sheet1.xml");
    assert!(
        xml.contains("r=\"D3\" s=\""),
        "the empty required cell is marked: {xml}"
    );
}

// ---------------------------------------------------------- hostile files

#[test]
fn not_workbooks_are_refused() {
    let limits = ImportLimits::default();
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert_eq!(refused(&random, &limits).code(), "not_a_workbook");
    assert_eq!(refused(b"", &limits).code(), "not_a_workbook");
    assert_eq!(
        refused(b"PK\x03\x04garbage", &limits).code(),
        "not_a_workbook"
    );

    let docx = zip_of(&[
        ("[Content_Types].xml".into(), br#"<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_vec()),
        ("word/document.xml".into(), b"<document/>".to_vec()),
    ]);
    assert_eq!(refused(&docx, &limits).code(), "not_a_workbook");
    let ods = zip_of(&[
        (
            "mimetype".into(),
            b"application/vnd.oasis.opendocument.spreadsheet".to_vec(),
        ),
        ("content.xml".into(), b"<office:document-content/>".to_vec()),
    ]);
    assert_eq!(
        refused(&ods, &limits),
        GuardError::NotAWorkbook {
            found: guard::FileKind::OpenDocument
        }
    );
    let xlsb = rewrite(&session_rows(1), |name, content| {
        (name == "[Content_Types].xml").then(|| {
            replace_in(
                content,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                "application/vnd.ms-excel.sheet.binary.macroEnabled.main",
            )
        })
    });
    assert_eq!(
        refused(&xlsb, &limits),
        GuardError::NotAWorkbook {
            found: guard::FileKind::BinaryExcel
        }
    );
}

#[test]
fn password_protected_and_legacy_ole2_files_are_refused() {
    let limits = ImportLimits::default();
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend(vec![0u8; 1000]);
    let mut encrypted = ole.clone();
    encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    encrypted.extend(vec![0u8; 100]);
    assert_eq!(refused(&encrypted, &limits).code(), "encrypted_workbook");
    assert_eq!(
        refused(&ole, &limits),
        GuardError::NotAWorkbook {
            found: guard::FileKind::LegacyExcel
        }
    );
}

#[test]
fn macro_enabled_workbooks_are_refused() {
    let limits = ImportLimits::default();
    let mut with_vba = entries(&session_rows(1));
    with_vba.push((
        "xl/vbaProject.bin".into(),
        vec![0xD0, 0xCF, 0x11, 0xE0, 1, 2, 3],
    ));
    assert_eq!(
        refused(&zip_of(&with_vba), &limits).code(),
        "macros_not_allowed"
    );

    let xlsm_type = rewrite(&session_rows(1), |name, content| {
        (name == "[Content_Types].xml").then(|| {
            replace_in(
                content,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            )
        })
    });
    assert_eq!(refused(&xlsm_type, &limits).code(), "macros_not_allowed");

    let mut upper = entries(&session_rows(1));
    upper.push(("XL/VBAPROJECT.BIN".into(), vec![1, 2, 3]));
    assert_eq!(
        refused(&zip_of(&upper), &limits).code(),
        "macros_not_allowed"
    );
}

#[test]
fn a_zip_bomb_is_refused_from_its_declared_size_without_inflating_it() {
    // 1 GiB of zeros, streamed through deflate: never in memory, about 1 MB
    // compressed.
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries(&session_rows(1)) {
        zip.start_file(name, options).unwrap();
        zip.write_all(&content).unwrap();
    }
    zip.start_file("xl/worksheets/sheet2.xml", options).unwrap();
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..1024 {
        zip.write_all(&zeros).unwrap();
    }
    let bomb = zip.finish().unwrap().into_inner();
    assert!(bomb.len() < 5 * 1024 * 1024, "{} bytes", bomb.len());

    let started = std::time::Instant::now();
    let e = refused(&bomb, &ImportLimits::default());
    assert_eq!(e.code(), "zip_bomb");
    assert!(matches!(
        e,
        GuardError::ZipBomb {
            reason: guard::BombReason::EntryTooLarge {
                size: 1_073_741_824,
                ..
            }
        }
    ));
    assert!(
        started.elapsed().as_secs() < 5,
        "decided from the directory"
    );
}

#[test]
fn ratio_and_total_size_limits_catch_smaller_bombs() {
    let mut parts = entries(&session_rows(1));
    parts.push(("xl/media/blank.bin".into(), vec![0u8; 20 * 1024 * 1024]));
    let e = refused(&zip_of(&parts), &ImportLimits::default());
    assert!(
        matches!(
            e,
            GuardError::ZipBomb {
                reason: guard::BombReason::Ratio { .. }
            }
        ),
        "{e:?}"
    );

    let limits = ImportLimits {
        max_total_bytes: 4 * 1024,
        ..ImportLimits::default()
    };
    let e = refused(&session_rows(1), &limits);
    assert!(matches!(
        e,
        GuardError::ZipBomb {
            reason: guard::BombReason::TotalTooLarge { .. }
        }
    ));
    let limits = ImportLimits {
        max_entries: 3,
        ..ImportLimits::default()
    };
    assert_eq!(refused(&session_rows(1), &limits).code(), "zip_bomb");
}

#[test]
fn a_shared_string_table_declaring_too_many_strings_is_refused() {
    // calamine reserves `uniqueCount` strings before reading any.
    let bytes = rewrite(&session_rows(2), |name, content| {
        (name == "xl/sharedStrings.xml").then(|| {
            let s = String::from_utf8(content.to_vec()).unwrap();
            let start = s.find("<sst ").unwrap();
            let end = start + s[start..].find('>').unwrap();
            format!(
                "{}<!-- <sst uniqueCount=\"1\"> --><x:sst xmlns:x=\"{}\" uniqueCount=\"1000000000000\"{}",
                &s[..start],
                "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                &s[end..]
            )
            .into_bytes()
        })
    });
    let e = refused(&bytes, &ImportLimits::default());
    assert!(
        matches!(
            e,
            GuardError::ZipBomb {
                reason: guard::BombReason::StringCount { .. }
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_sheet_declaring_an_enormous_range_is_refused() {
    let bytes = rewrite(&session_rows(2), |name, content| {
        (name == "xl/worksheets/sheet1.xml").then(|| {
            let s = String::from_utf8(content.to_vec()).unwrap();
            let start = s.find("<dimension ref=\"").unwrap();
            let end = start + s[start..].find("/>").unwrap();
            format!(
                "{}<dimension ref=\"A1:XFD1048576\"{}",
                &s[..start],
                &s[end..]
            )
            .into_bytes()
        })
    });
    assert!(bytes.len() < 16 * 1024, "a tiny file");
    let e = refused(&bytes, &ImportLimits::default());
    assert_eq!(e.code(), "sheet_too_large");
    assert!(e
        .message()
        .es
        .contains("1,048,576 filas por 16,384 columnas"));
}

#[test]
fn too_many_rows_are_refused_whether_declared_or_not() {
    let limits = ImportLimits {
        max_rows: 5,
        ..ImportLimits::default()
    };
    assert_eq!(
        read_rows(&session_rows(5), FormKey::Session.spec(), &limits)
            .unwrap()
            .rows
            .len(),
        5
    );
    let e = refused(&session_rows(6), &limits);
    assert_eq!(
        e,
        GuardError::TooManyRows {
            rows: 7,
            max_rows: 6
        }
    );

    // A dimension that lies (says A1:I2) does not let the rows through.
    let lying = rewrite(&session_rows(6), |name, content| {
        (name == "xl/worksheets/sheet1.xml").then(|| {
            let s = String::from_utf8(content.to_vec()).unwrap();
            let start = s.find("<dimension ref=\"").unwrap();
            let end = start + s[start..].find("/>").unwrap();
            format!("{}<dimension ref=\"A1:I2\"{}", &s[..start], &s[end..]).into_bytes()
        })
    });
    assert!(
        guard::check(&lying, &limits).is_ok(),
        "the guard believes it"
    );
    assert_eq!(refused(&lying, &limits).code(), "too_many_rows");
}

#[test]
fn far_apart_cells_behind_a_small_dimension_do_not_exhaust_memory() {
    // calamine's dense range would allocate 1,048,576 × 16,384 cells for
    // these two; the import streams and stops at the first row too far.
    let sheet = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c></row><row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>"#;
    let bytes = rewrite(&session_rows(1), |name, _| {
        (name == "xl/worksheets/sheet1.xml").then(|| sheet.as_bytes().to_vec())
    });
    let e = read_rows(&bytes, FormKey::Commission.spec(), &ImportLimits::default()).unwrap_err();
    assert_eq!(e.code(), "too_many_rows");

    // Far to the right only: ignored, not stored.
    let wide = sheet.replace("r=\"1048576\"><c r=\"XFD1048576\"", "r=\"2\"><c r=\"XFD2\"");
    let bytes = rewrite(&session_rows(1), |name, _| {
        (name == "xl/worksheets/sheet1.xml").then(|| wide.as_bytes().to_vec())
    });
    let sheet = read_rows(&bytes, FormKey::Commission.spec(), &ImportLimits::default()).unwrap();
    assert!(sheet.rows.is_empty());
}

#[test]
fn oversized_files_and_doctypes_are_refused() {
    let limits = ImportLimits {
        max_file_bytes: 1024,
        ..ImportLimits::default()
    };
    assert_eq!(refused(&session_rows(1), &limits).code(), "file_too_large");

    let doctype = rewrite(&session_rows(1), |name, content| {
        (name == "xl/workbook.xml").then(|| {
            let s = String::from_utf8(content.to_vec()).unwrap();
            s.replacen("?>", "?><!DOCTYPE w [<!ENTITY a \"aaaaaaaa\">]>", 1)
                .into_bytes()
        })
    });
    assert_eq!(
        refused(&doctype, &ImportLimits::default()).code(),
        "malformed_workbook"
    );
}

// ------------------------------------------------------------------ export

fn meta() -> export::RecordMeta<'static> {
    let at = NaiveDateTime::parse_from_str("2024-06-03 17:21:09", "%Y-%m-%d %H:%M:%S").unwrap();
    export::RecordMeta {
        id: UUID_1,
        entity: "19 — Nuevo León",
        institution: "Fiscalía General de Justicia del Estado de Nuevo León",
        created_by: "María Pérez (oper.nl.fgj)",
        created_at: at,
        updated_by: "Juan López (admin.nl)",
        updated_at: at,
    }
}

#[test]
fn exported_text_is_never_a_formula() {
    let hostile = [
        "=HYPERLINK(\"http://example.com\",\"clic\")",
        "+1",
        "-2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "=1+1",
    ];
    let mut writer = export::ExportWriter::new(export::ExportOptions::default()).unwrap();
    writer.begin_sheet(FormKey::Commission.spec()).unwrap();
    for h in hostile {
        let record = json!({
            "external_folio": h, "name": h, "kind": "COMISION", "entity_code": "19",
            "installation_date": "2024-06-03", "legal_instrument": h,
        });
        writer
            .write_row(record.as_object().unwrap(), &meta())
            .unwrap();
    }
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();

    let xml = sheet_xml(&out, "xl/worksheets/sheet1.xml");
    assert!(!xml.contains("<f>") && !xml.contains("<f "), "{xml}");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&out)).unwrap();
    let range = book.worksheet_range("Comisión, comité o consejo").unwrap();
    let headers = header_row(&range);
    let name = headers.iter().position(|h| h == "Nombre").unwrap();
    let folio = headers.iter().position(|h| h == "Folio externo").unwrap();
    for (i, h) in hostile.iter().enumerate() {
        let row = &range.rows().nth(i + 1).unwrap();
        assert_eq!(row[name], Data::String(h.to_string()), "{h:?}");
        assert_eq!(row[folio], Data::String(h.to_string()), "{h:?}");
    }
}

#[test]
fn exports_show_who_and_where_and_leave_out_personal_data_unless_allowed() {
    let victim = json!({
        "external_folio": "V-1", "condition": "VICTIMA", "given_names": "MARÍA",
        "first_surname": "HERNÁNDEZ", "curp": "BOXW310820HNERXN09", "sex": "MUJER",
        "birth_date": "1990-01-31", "age_at_detection": 34, "indigenous_self_identification": true,
        "exploitation_forms": ["SEXUAL", "LABORAL"], "detection_date": "2024-06-03",
        "detection_entity_code": "19",
    });
    let attention = json!({
        "external_folio": "A-1", "victim_id": UUID_1, "victim_folio": "V-1",
        "date": "2024-06-04", "service": "JURIDICA",
    });
    let export = |personal_data: bool| -> Vec<u8> {
        let options = export::ExportOptions {
            personal_data,
            ..export::ExportOptions::default()
        };
        let labels: Box<export::CatalogLabels> = Box::new(|catalog: &str, code: &str| {
            (catalog == "exploitation_form" && code == "SEXUAL")
                .then(|| "Explotación sexual".to_string())
        });
        let mut writer = export::ExportWriter::new(options)
            .unwrap()
            .with_catalog_labels(labels);
        writer.begin_sheet(FormKey::Victim.spec()).unwrap();
        writer
            .write_row(victim.as_object().unwrap(), &meta())
            .unwrap();
        writer.begin_sheet(FormKey::Attention.spec()).unwrap();
        writer
            .write_row(attention.as_object().unwrap(), &meta())
            .unwrap();
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        out
    };

    let read = |bytes: &[u8], sheet: &str| -> HashMap<String, Data> {
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range(sheet).unwrap();
        let mut rows = range.rows();
        let headers: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
        headers
            .into_iter()
            .zip(rows.next().unwrap().iter().cloned())
            .collect()
    };

    let full = export(true);
    let v = read(&full, "Víctima o posible víctima");
    assert_eq!(v["Nombre(s)"], Data::String("MARÍA".into()));
    assert_eq!(v["CURP"], Data::String("BOXW310820HNERXN09".into()));
    assert_eq!(
        v["Registrado por"],
        Data::String("María Pérez (oper.nl.fgj)".into())
    );
    assert_eq!(
        v["Institución del registro"],
        Data::String("Fiscalía General de Justicia del Estado de Nuevo León".into())
    );
    assert_eq!(
        v["Entidad del registro"],
        Data::String("19 — Nuevo León".into())
    );
    assert_eq!(v["ID del registro"], Data::String(UUID_1.into()));
    assert!(matches!(v["Fecha de detección"], Data::DateTime(_)));
    assert!(matches!(v["Fecha de registro"], Data::DateTime(_)));
    assert_eq!(v["Edad al momento de la detección"], Data::Float(34.0));
    assert_eq!(v["Autoadscripción indígena"], Data::String("Sí".into()));
    assert_eq!(
        v["Formas de explotación"],
        Data::String("SEXUAL — Explotación sexual; LABORAL".into())
    );
    let a = read(&full, "Atención");
    assert_eq!(a["Víctima (folio externo)"], Data::String("V-1".into()));
    assert_eq!(a["Víctima (ID)"], Data::String(UUID_1.into()));

    let masked = export(false);
    let v = read(&masked, "Víctima o posible víctima");
    for key in FormKey::Victim.spec().personal_fields() {
        let label = FormKey::Victim.spec().field(key).unwrap().label.es;
        assert!(!v.contains_key(label), "{label} left out");
    }
    assert!(v.contains_key("Sexo") && v.contains_key("Registrado por"));
    let raw = String::from_utf8_lossy(&sheet_xml(&masked, "xl/worksheets/sheet1.xml").into_bytes())
        .into_owned();
    assert!(!raw.contains("HERNÁNDEZ") && !raw.contains("BOXW310820"));
}

#[test]
fn an_export_reads_back_through_the_import() {
    let spec = FormKey::Session.spec();
    let record = json!({
        "external_folio": "S-1", "commission_id": UUID_1, "commission_folio": "C-1",
        "number": 3, "session_type": "ORDINARIA", "date": "2024-06-03", "quorum": false,
    });
    let mut writer = export::ExportWriter::new(export::ExportOptions::default()).unwrap();
    writer.begin_sheet(spec).unwrap();
    writer
        .write_row(record.as_object().unwrap(), &meta())
        .unwrap();
    assert_eq!(writer.rows_in_sheet(), 1);
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();

    let sheet = read_rows(&out, spec, &ImportLimits::default()).unwrap();
    let row = &sheet.rows[0].values();
    assert_eq!(row["external_folio"], json!("S-1"));
    // The id names the commission; the folio shown beside it is passed
    // over (it could name another record in the uploader's institution).
    assert_eq!(row["commission_folio"], Value::Null);
    assert_eq!(row["commission_id"], json!(UUID_1));
    assert_eq!(row["number"], json!(3));
    assert_eq!(row["date"], json!("2024-06-03"));
    assert_eq!(row["quorum"], json!(false));
    // The record's id comes back, to say which record the row changes; the
    // other columns the export adds about it are passed over.
    assert_eq!(row["record_id"], json!(meta().id));
    assert_eq!(sheet.header_errors(), vec![]);
    let passed_over = sheet
        .columns
        .iter()
        .filter(|c| c.status == crate::import::ColumnStatus::ExportMeta)
        .count();
    assert_eq!(passed_over, 6);
}

#[test]
fn write_row_before_a_sheet_is_an_error_and_empty_exports_still_open() {
    let mut writer = export::ExportWriter::new(export::ExportOptions::default()).unwrap();
    let record = Map::new();
    assert!(matches!(
        writer.write_row(&record, &meta()),
        Err(crate::ExcelError::NoSheet)
    ));
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();
    let book: Xlsx<_> = Xlsx::new(Cursor::new(&out)).unwrap();
    assert_eq!(book.sheet_names().len(), 1);
}

#[test]
fn one_workbook_holds_every_form() {
    let mut writer = export::ExportWriter::new(export::ExportOptions {
        personal_data: true,
        ..export::ExportOptions::default()
    })
    .unwrap();
    for spec in all_specs() {
        writer.begin_sheet(spec).unwrap();
        let record = json!({"external_folio": format!("{}-1", spec.key)});
        writer
            .write_row(record.as_object().unwrap(), &meta())
            .unwrap();
    }
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();
    let book: Xlsx<_> = Xlsx::new(Cursor::new(&out)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names.len(), all_specs().count());
    assert!(names.contains(&"Investigación".to_string()), "{names:?}");
    assert!(names.iter().all(|n| n.chars().count() <= 31));

    // Every sheet has an external folio; each form finds its own sheet.
    for spec in all_specs() {
        let sheet = read_rows(&out, spec, &ImportLimits::default()).unwrap();
        assert_eq!(
            sheet.rows[0].get("external_folio"),
            Some(&json!(format!("{}-1", spec.key))),
            "{}",
            spec.key
        );
    }
}

#[test]
fn errors_report_in_the_callers_language() {
    let e = CellError {
        row: 14,
        column: Some("F".into()),
        field: Some("birth_date".into()),
        code: "date_in_future",
        message: sintra_domain::i18n::Message::new("es", "en"),
    };
    assert_eq!(
        e.report(Lang::En),
        json!({"row": 14, "column": "F", "field": "birth_date", "code": "date_in_future", "message": "en"})
    );
}

#[test]
fn the_writers_can_move_to_a_blocking_thread() {
    fn send<T: Send>() {}
    send::<export::ExportWriter>();
    send::<crate::ImportSheet>();
    send::<crate::ExcelError>();
    send::<GuardError>();
}

#[test]
fn a_form_too_long_for_one_sheet_continues_on_another() {
    let mut writer = export::ExportWriter::new(export::ExportOptions::default())
        .unwrap()
        .with_rows_per_sheet(2);
    writer.begin_sheet(FormKey::Commission.spec()).unwrap();
    for i in 0..5 {
        let record = json!({"external_folio": format!("C-{i}")});
        writer
            .write_row(record.as_object().unwrap(), &meta())
            .unwrap();
    }
    writer.begin_sheet(FormKey::Session.spec()).unwrap();
    let mut out = Vec::new();
    writer.finish(&mut out).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&out)).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            "Comisión, comité o consejo",
            "Comisión, comité o consejo (2)",
            "Comisión, comité o consejo (3)",
            "Sesión"
        ]
    );
    let third = book
        .worksheet_range("Comisión, comité o consejo (3)")
        .unwrap();
    let rows: Vec<Vec<String>> = third
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "headers and the fifth record");
    assert_eq!(rows[0][0], "ID del registro");
    assert!(rows[1].contains(&"C-4".to_string()));
}

#[test]
fn export_headers_are_unique_and_metadata_never_passes_for_a_field() {
    for spec in all_specs() {
        for personal_data in [true, false] {
            for lang in [Lang::Es, Lang::En] {
                let options = export::ExportOptions {
                    personal_data,
                    lang,
                    ..export::ExportOptions::default()
                };
                let headers = export::ExportWriter::headers(spec, &options);
                let unique: std::collections::HashSet<String> = headers
                    .iter()
                    .map(|h| crate::columns::normalize_header(h))
                    .collect();
                assert_eq!(unique.len(), headers.len(), "{}: {headers:?}", spec.key);
                let fields = export::ExportWriter::headers(spec, &options).len() - 7;
                for meta in headers[..3].iter().chain(&headers[3 + fields..]) {
                    assert_eq!(match_header(spec, meta), None, "{}: {meta}", spec.key);
                }
            }
        }
    }
}

#[test]
fn damaged_workbooks_are_refused_or_read_never_crash() {
    const ROUNDS: usize = 300;
    // Deterministic damage to the XML parts calamine reads: truncations,
    // flipped bytes, absurd numbers in attributes. (5,000 rounds were run
    // once by hand; 300 keep the suite fast.)
    let original = session_rows(3);
    let parts = entries(&original);
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let bad_numbers = ["4294967296", "99999999999999999999", "-1", "XFD1048577", ""];
    for _ in 0..ROUNDS {
        let damaged: Vec<(String, Vec<u8>)> = parts
            .iter()
            .map(|(name, content)| {
                if !name.ends_with(".xml") || next() % 3 != 0 {
                    return (name.clone(), content.clone());
                }
                let mut c = content.clone();
                match next() % 3 {
                    0 => c.truncate((next() as usize) % c.len().max(1)),
                    1 => {
                        for _ in 0..4 {
                            let i = (next() as usize) % c.len().max(1);
                            c[i] = (next() % 256) as u8;
                        }
                    }
                    _ => {
                        let s = String::from_utf8_lossy(&c).into_owned();
                        let n = bad_numbers[(next() as usize) % bad_numbers.len()];
                        c = s
                            .replacen("r=\"2\"", &format!("r=\"{n}\""), 1)
                            .replacen("r=\"B2\"", &format!("r=\"B{n}\""), 1)
                            .replacen("uniqueCount=\"", &format!("uniqueCount=\"{n}"), 1)
                            .into_bytes();
                    }
                }
                (name.clone(), c)
            })
            .collect();
        let bytes = zip_of(&damaged);
        // Refused or read; a panic inside calamine (an overflow in a debug
        // build) comes back as `malformed_workbook`, never unwinds out.
        let _ = read_rows(&bytes, FormKey::Session.spec(), &ImportLimits::default());
    }
}

#[test]
fn records_encode_alike_from_their_json_text_and_from_values() {
    let options = export::ExportOptions {
        personal_data: true,
        ..export::ExportOptions::default()
    };
    let labels: std::sync::Arc<export::CatalogLabels> =
        std::sync::Arc::new(|catalog: &str, code: &str| {
            (catalog == "exploitation_form" && code == "SEXUAL")
                .then(|| "Explotación sexual".to_string())
        });
    let records = [
        (
            FormKey::Victim,
            json!({
                "external_folio": "V-\"1\"\n", "condition": "VICTIMA", "given_names": "MARÍA",
                "first_surname": "=HYPERLINK(\"x\")", "curp": "BOXW310820HNERXN09", "sex": "MUJER",
                "birth_date": "1990-01-31", "age_at_detection": 34,
                "indigenous_self_identification": true, "disability": [],
                "exploitation_forms": ["SEXUAL", "LABORAL", null, 7], "detection_date": "no date",
                "detection_entity_code": "19", "unknown_key": {"nested": [1, "a"]},
                "alias": null, "detection_municipality_code": 19039,
            }),
        ),
        (
            FormKey::Sentence,
            json!({"external_folio": "S-1", "reparation_amount": 1500.25, "fine": 300}),
        ),
        (
            FormKey::CatalogItem,
            json!({"catalog": "sex", "code": "MUJER", "label_es": "Mujer"}),
        ),
        (
            FormKey::Attention,
            json!({"victim_id": UUID_1, "victim_folio": "V-1", "date": "2024-06-04"}),
        ),
        (FormKey::Session, json!({})),
    ];
    for (form, record) in records {
        for lang in [Lang::Es, Lang::En] {
            let options = export::ExportOptions {
                lang,
                ..options.clone()
            };
            let encoder =
                export::RowEncoder::new(form.spec(), &options).with_catalog_labels(labels.clone());
            let mut from_values = export::EncodedRows::default();
            encoder.encode(record.as_object().unwrap(), &meta(), &mut from_values);
            let mut from_text = export::EncodedRows::default();
            encoder
                .encode_json(&record.to_string(), &meta(), &mut from_text)
                .unwrap();
            assert_eq!(from_values, from_text, "{form}");
            assert_eq!(from_text.len(), 1);
        }
    }
    let encoder = export::RowEncoder::new(FormKey::Session.spec(), &options);
    let mut rows = export::EncodedRows::default();
    assert!(matches!(
        encoder.encode_json("{\"date\": ", &meta(), &mut rows),
        Err(crate::ExcelError::Record(_))
    ));
}

#[test]
fn rows_encoded_elsewhere_write_as_write_row_writes_them() {
    let record = json!({
        "external_folio": "S-1", "commission_id": UUID_1, "commission_folio": "C-1",
        "number": 3, "session_type": "ORDINARIA", "date": "2024-06-03", "quorum": false,
    });
    let options = export::ExportOptions::default();
    let one_by_one = {
        let mut writer = export::ExportWriter::new(options.clone()).unwrap();
        writer.begin_sheet(FormKey::Session.spec()).unwrap();
        for _ in 0..3 {
            writer
                .write_row(record.as_object().unwrap(), &meta())
                .unwrap();
        }
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        out
    };
    let encoded = {
        let encoder = export::RowEncoder::new(FormKey::Session.spec(), &options);
        let mut rows = export::EncodedRows::with_capacity(&encoder, 3);
        for _ in 0..3 {
            encoder
                .encode_json(&record.to_string(), &meta(), &mut rows)
                .unwrap();
        }
        let mut writer = export::ExportWriter::new(options.clone()).unwrap();
        writer.begin_sheet(FormKey::Session.spec()).unwrap();
        writer.write_rows(&rows).unwrap();
        assert_eq!(writer.rows_in_sheet(), 3);
        // Rows of another form are refused, not written under wrong headers.
        assert!(matches!(
            writer
                .begin_sheet(FormKey::Commission.spec())
                .and_then(|_| writer.write_rows(&rows)),
            Err(crate::ExcelError::OtherForm)
        ));
        let mut out = Vec::new();
        writer.finish(&mut out).unwrap();
        out
    };
    let sheet = |bytes: &[u8]| sheet_xml(bytes, "xl/worksheets/sheet1.xml");
    assert_eq!(sheet(&one_by_one), sheet(&encoded));
    // Dates and timestamps keep their formats (the column's).
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(&encoded)).unwrap();
    let range = book.worksheet_range("Sesión").unwrap();
    let row: Vec<&Data> = range.rows().nth(1).unwrap().iter().collect();
    assert_eq!(
        row.iter()
            .filter(|c| matches!(c, Data::DateTime(_)))
            .count(),
        3,
        "the session date, registered at, changed at: {row:?}"
    );
}
