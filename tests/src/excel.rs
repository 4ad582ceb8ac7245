//! Excel as the tests use it: a template filled in as an operator fills
//! it, the multipart upload of a workbook, and the sheets of an answer.

use std::io::{Cursor, Write};

use actix_web::http::Method;
use calamine::{open_workbook_auto_from_rs, Data, Reader};
use serde_json::Value;
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_excel::columns::template_columns;
use sintra_excel::Lang;

use crate::{Account, Answer, TestApp};

/// A workbook with the template's headers and these rows (by JSON key), as
/// an operator fills it in.
pub fn filled(form: FormKey, rows: &[Value]) -> Vec<u8> {
    filled_with(form.spec(), rows)
}

/// [`filled`] with the headers of `spec` (a form's spec with label
/// overrides, `sintra_domain::forms::labels::effective`).
pub fn filled_with(spec: &FormSpec, rows: &[Value]) -> Vec<u8> {
    let columns = template_columns(spec);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Datos").unwrap();
    for (c, col) in columns.iter().enumerate() {
        ws.write_string(0, c as u16, col.header(Lang::Es)).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, col) in columns.iter().enumerate() {
            let v = &row[col.json_key()];
            let (r, c) = (r as u32 + 1, c as u16);
            match v {
                Value::String(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Value::Number(n) => {
                    ws.write_number(r, c, n.as_f64().unwrap()).unwrap();
                }
                Value::Bool(b) => {
                    ws.write_string(r, c, if *b { "Sí" } else { "No" }).unwrap();
                }
                Value::Array(items) => {
                    let text: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                    ws.write_string(r, c, text.join("; ")).unwrap();
                }
                _ => {}
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

pub fn multipart(bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "sintra-test-boundary";
    let mut body = Vec::new();
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"datos.xlsx\"\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(bytes);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload(
    app: &TestApp,
    who: &Account,
    form: &str,
    dry_run: bool,
    bytes: &[u8],
) -> Answer {
    let (content_type, body) = multipart(bytes);
    let auth = format!("Bearer {}", who.token);
    app.call_raw(
        Method::POST,
        &format!("/api/v1/excel/imports/{form}?dry_run={dry_run}&wait=true"),
        &[("authorization", &auth), ("content-type", &content_type)],
        body,
    )
    .await
}

/// Uploads a workbook as a job (no `wait`): the answer is 202 with the
/// job's URL, or a refusal.
pub async fn submit(
    app: &TestApp,
    who: &Account,
    form: &str,
    dry_run: bool,
    bytes: &[u8],
) -> Answer {
    let (content_type, body) = multipart(bytes);
    let auth = format!("Bearer {}", who.token);
    app.call_raw(
        Method::POST,
        &format!("/api/v1/excel/imports/{form}?dry_run={dry_run}"),
        &[("authorization", &auth), ("content-type", &content_type)],
        body,
    )
    .await
}

/// Polls an import job until it is no longer queued, checking or
/// committing; returns every answer seen (the last one is the end).
/// Gives up after `max_polls` polls 50 ms apart (a bound, not a timing).
pub async fn poll_job(
    app: &TestApp,
    who: &Account,
    id: &str,
    max_polls: u32,
) -> Vec<serde_json::Value> {
    let mut seen = vec![];
    for _ in 0..max_polls {
        let res = app
            .get(&format!("/api/v1/excel/imports/{id}"), &who.token)
            .await;
        assert_eq!(res.status, 200, "{}", res.text());
        let state = res.json["state"].as_str().unwrap_or_default().to_string();
        seen.push(res.json);
        if !matches!(state.as_str(), "queued" | "checking" | "committing") {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import {id} did not end: {:?}", seen.last());
}

pub fn sheet_rows(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
    let mut wb = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.worksheet_range(sheet)
        .unwrap()
        .rows()
        .map(|r| r.to_vec())
        .collect()
}

/// The name of a workbook's first sheet.
pub fn calamine_first_sheet(bytes: &[u8]) -> String {
    let wb = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.sheet_names()[0].clone()
}

/// The data rows of an export's first sheet, as text.
pub fn export_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    sheet_rows(bytes, &calamine_first_sheet(bytes))
        .into_iter()
        .skip(1)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// Asserts that `bytes` is the template of `form`: its instructions, and a
/// data sheet whose headers are the form's columns in Spanish.
pub fn assert_template_of(form: FormKey, bytes: &[u8]) {
    let mut wb = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let names = wb.sheet_names();
    assert!(names.iter().any(|n| n == "Instrucciones"), "{names:?}");
    let data = wb.worksheet_range("Datos").unwrap();
    let headers: Vec<String> = data
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let expected: Vec<String> = template_columns(form.spec())
        .iter()
        .map(|c| c.header(Lang::Es))
        .collect();
    assert_eq!(headers, expected, "{}", form.as_str());
}

/// The first sheet of a workbook written again, under the same name, after
/// `edit` changed its rows (the header row first), each cell kept as the
/// type it was read as (dates as dates): an operator correcting an export
/// before uploading it again.
pub fn edited(bytes: &[u8], edit: impl FnOnce(&mut Vec<Vec<Data>>)) -> Vec<u8> {
    let name = calamine_first_sheet(bytes);
    let mut rows = sheet_rows(bytes, &name);
    edit(&mut rows);
    let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name(&name).unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Data::String(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Data::Float(x) => {
                    ws.write_number(r, c, *x).unwrap();
                }
                Data::Int(x) => {
                    ws.write_number(r, c, *x as f64).unwrap();
                }
                Data::Bool(b) => {
                    ws.write_boolean(r, c, *b).unwrap();
                }
                Data::DateTime(d) => {
                    ws.write_number_with_format(r, c, d.as_f64(), &date)
                        .unwrap();
                }
                Data::DateTimeIso(s) | Data::DurationIso(s) => {
                    ws.write_string(r, c, s).unwrap();
                }
                Data::Error(_) | Data::Empty => {}
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// The index of the column with this header in a sheet's first row.
pub fn column_of(rows: &[Vec<Data>], header: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| *h == header)
        .unwrap_or_else(|| panic!("no column «{header}» in {:?}", rows[0]))
}
