//! Excel import and export speed (DESIGN.md §11), with references measured
//! in the same run:
//! - importing N victims from a workbook through the API (parse, validate,
//!   duplicate check, insert, audit) against PostgreSQL `COPY` of the same
//!   rows into a table shaped like `records` (target: within 3×);
//! - exporting them through the API against Python's XlsxWriter writing
//!   the same rows (target: at least 5× faster);
//! - the export writer's peak memory for N and 4·N rows, each in a child
//!   process (it must not grow with the row count).
//!
//! `cargo bench -p sintra-tests --bench excel` (N = `SINTRA_BENCH_ROWS`,
//! default 100,000). Python's reference is installed with pip when missing;
//! without it the ratio is reported as unavailable.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use actix_web::http::Method;
use serde_json::{json, Map, Value};
use sintra_domain::access::Role;
use sintra_domain::duplicates::labelled::generate;
use sintra_domain::forms::FormKey;
use sintra_excel::columns::template_columns;
use sintra_excel::{ExportOptions, ExportWriter, Lang, RecordMeta};
use sintra_tests::TestApp;

fn victims(n: usize) -> Vec<Map<String, Value>> {
    let set = generate(7, n, 0);
    let municipios = ["19039", "19026", "19046", "19048", "19006"];
    set.people
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, p)| {
            let mut m = Map::new();
            m.insert("condition".into(), json!("VICTIMA"));
            m.insert("given_names".into(), json!(p.given_names));
            m.insert("first_surname".into(), json!(p.first_surname));
            m.insert("second_surname".into(), json!(p.second_surname));
            m.insert(
                "sex".into(),
                json!(p.sex.clone().unwrap_or_else(|| "MUJER".into())),
            );
            m.insert(
                "birth_date".into(),
                json!(p.birth_date.map(|d| d.to_string())),
            );
            m.insert("nationality".into(), json!("MEX"));
            m.insert("detection_date".into(), json!("2024-03-01"));
            m.insert("detection_entity_code".into(), json!("19"));
            m.insert(
                "detection_municipality_code".into(),
                json!(municipios[i % municipios.len()]),
            );
            m.insert("exploitation_forms".into(), json!(["EXPLOTACION_SEXUAL"]));
            m
        })
        .collect()
}

fn cell_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn workbook(rows: &[Map<String, Value>]) -> Vec<u8> {
    let columns = template_columns(FormKey::Victim.spec());
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb
        .add_worksheet_with_constant_memory()
        .unwrap()
        .set_name("Datos")
        .unwrap();
    for (c, col) in columns.iter().enumerate() {
        ws.write_string(0, c as u16, col.header(Lang::Es)).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, col) in columns.iter().enumerate() {
            if let Some(text) = row.get(col.json_key()).and_then(cell_text) {
                ws.write_string(r as u32 + 1, c as u16, text).unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Peak resident memory of this process so far (kB).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Child mode: export `n` synthetic rows with the streaming writer and
/// print the peak memory.
fn export_child(n: usize) {
    let sample = victims(1000);
    let mut writer = ExportWriter::new(ExportOptions {
        personal_data: true,
        ..Default::default()
    })
    .unwrap();
    writer.begin_sheet(FormKey::Victim.spec()).unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    for i in 0..n {
        let id = format!("{i:08}");
        let meta = RecordMeta {
            id: &id,
            entity: "19",
            institution: "CEAV Nuevo León",
            created_by: "operador.nl",
            created_at: at,
            updated_by: "operador.nl",
            updated_at: at,
        };
        writer.write_row(&sample[i % sample.len()], &meta).unwrap();
    }
    writer.finish(std::io::sink()).unwrap();
    println!("{}", peak_rss_kb());
}

const PYTHON_WRITER: &str = r#"
import json, sys, time, xlsxwriter
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
headers = json.loads(open(sys.argv[2], encoding="utf-8").read())
start = time.perf_counter()
wb = xlsxwriter.Workbook(sys.argv[3], {"constant_memory": True})
ws = wb.add_worksheet("Víctimas")
for c, h in enumerate(headers):
    ws.write_string(0, c, h)
for r, row in enumerate(rows, start=1):
    for c, v in enumerate(row):
        if v is not None:
            ws.write_string(r, c, v)
wb.close()
print(time.perf_counter() - start)
"#;

fn python_has_xlsxwriter() -> bool {
    let ok = |_: ()| {
        Command::new("python3")
            .args(["-c", "import xlsxwriter"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    ok(()) || {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "xlsxwriter"])
            .status();
        ok(())
    }
}

fn main() {
    if let Some(n) = std::env::var("SINTRA_BENCH_CHILD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        export_child(n);
        return;
    }
    let n: usize = std::env::var("SINTRA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = actix_web::rt::System::new();
    rt.block_on(async move {
        let rows = victims(n);
        let book = workbook(&rows);
        println!("{n} victims, workbook of {:.1} MiB", book.len() as f64 / 1048576.0);

        let app = TestApp::with_config(|c| c.max_body_bytes = 64 << 20).await;
        let inst = app.institution("19", "CEAV Nuevo León").await;
        let op = app.account(Role::Operator, inst).await;

        // Import through the API.
        let boundary = "bench-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"victimas.xlsx\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&book);
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let auth = format!("Bearer {}", op.token);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let started = Instant::now();
        let res = app
            .call_raw(
                Method::POST,
                "/api/v1/excel/imports/victim?dry_run=false",
                &[("authorization", &auth), ("content-type", &content_type)],
                body,
            )
            .await;
        let import_secs = started.elapsed().as_secs_f64();
        assert_eq!(res.status, 200, "{}", &res.text()[..res.text().len().min(2000)]);
        assert_eq!(res.json["rows_created"], n);

        // COPY of the same rows into a table shaped like `records`.
        let csv_path = std::env::temp_dir().join(format!("sintra_bench_{}.csv", std::process::id()));
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
            for row in &rows {
                let data = Value::Object(row.clone()).to_string().replace('"', "\"\"");
                writeln!(f, "{},victim,19,{inst},\"{data}\"", uuid::Uuid::now_v7()).unwrap();
            }
        }
        let psql = |sql: &str| {
            let out = Command::new("psql").args([&app.db.url, "-v", "ON_ERROR_STOP=1", "-qc", sql]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        psql("CREATE TABLE copy_reference (LIKE records INCLUDING ALL)");
        let started = Instant::now();
        psql(&format!(
            "\\copy copy_reference (id, form, entity_code, institution_id, data) FROM '{}' CSV",
            csv_path.display()
        ));
        let copy_secs = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&csv_path);
        println!(
            "import through the API: {import_secs:.2} s   COPY of the same rows: {copy_secs:.2} s   ratio {:.1}x (target ≤ 3x)",
            import_secs / copy_secs
        );

        // Export through the API.
        let started = Instant::now();
        let export = app.get("/api/v1/excel/exports/victim", &op.token).await;
        let export_secs = started.elapsed().as_secs_f64();
        assert_eq!(export.status, 200);

        // Python's XlsxWriter writing the same rows and columns.
        let headers = ExportWriter::headers(FormKey::Victim.spec(), &ExportOptions { personal_data: true, ..Default::default() });
        let columns = sintra_excel::columns::export_columns(FormKey::Victim.spec(), true);
        let dir = std::env::temp_dir();
        let (rows_path, headers_path, out_path, script_path) = (
            dir.join("sintra_bench_rows.jsonl"),
            dir.join("sintra_bench_headers.json"),
            dir.join("sintra_bench_py.xlsx"),
            dir.join("sintra_bench_writer.py"),
        );
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&rows_path).unwrap());
            for (i, row) in rows.iter().enumerate() {
                let mut cells: Vec<Value> = vec![json!(format!("{i:08}")), json!("19"), json!("CEAV Nuevo León")];
                cells.extend(columns.iter().map(|c| row.get(c.json_key()).and_then(cell_text).map(Value::from).unwrap_or(Value::Null)));
                cells.extend([json!("operador.nl"), json!("2024-03-01 09:00"), json!("operador.nl"), json!("2024-03-01 09:00")]);
                writeln!(f, "{}", Value::Array(cells)).unwrap();
            }
        }
        std::fs::write(&headers_path, serde_json::to_string(&headers).unwrap()).unwrap();
        std::fs::write(&script_path, PYTHON_WRITER).unwrap();
        if python_has_xlsxwriter() {
            let out = Command::new("python3")
                .args([&script_path, &rows_path, &headers_path, &out_path].map(|p| p.as_os_str().to_owned()))
                .output()
                .unwrap();
            let py_secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN);
            println!(
                "export through the API: {export_secs:.2} s ({:.1} MiB)   Python XlsxWriter (write only): {py_secs:.2} s   ours is {:.1}x faster (target ≥ 5x)",
                export.body.len() as f64 / 1048576.0,
                py_secs / export_secs
            );
        } else {
            println!("export through the API: {export_secs:.2} s   Python XlsxWriter reference unavailable");
        }
        for p in [rows_path, headers_path, out_path, script_path] {
            let _ = std::fs::remove_file(p);
        }

        // Peak memory of the writer for N and 4·N rows, each in a fresh process.
        let me = std::env::current_exe().unwrap();
        let peak = |rows: usize| -> u64 {
            let out = Command::new(&me).env("SINTRA_BENCH_CHILD", rows.to_string()).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().lines().last().and_then(|l| l.parse().ok()).unwrap_or(0)
        };
        let (small, large) = (peak(n), peak(4 * n));
        println!(
            "export writer peak memory: {} rows {:.1} MiB   {} rows {:.1} MiB   ratio {:.2} (constant memory: ≈ 1)",
            n,
            small as f64 / 1024.0,
            4 * n,
            large as f64 / 1024.0,
            large as f64 / small.max(1) as f64
        );
    });
}
