//! Times the Excel side alone: exporting N victim rows in constant memory,
//! then reading them back with `read_rows` (guard, stream, convert), and
//! reports the peak resident memory of the process (Linux). Run one size
//! per process so the peaks are comparable:
//!
//! ```text
//! cargo run --release -p sintra-excel --example excel_bench -- 100000
//! cargo run --release -p sintra-excel --example excel_bench -- 400000
//! ```
//!
//! A second argument sets the zip compression level; `RAW=1` also times a
//! bare calamine pass over the same cells (what parsing costs before any
//! conversion).
//!
//! The database-side benchmark (import against `COPY`, export against
//! Python's XlsxWriter) builds on the same calls.

// A benchmark program run by hand: it stops on any failure and prints its
// figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use chrono::NaiveDateTime;
use serde_json::json;
use sintra_domain::forms::FormKey;
use sintra_excel::{read_rows, ExportOptions, ExportWriter, ImportLimits, RecordMeta};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let rows: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let level: u8 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(ExportOptions::default().compression_level);
    let spec = FormKey::Victim.spec();
    let at = NaiveDateTime::parse_from_str("2024-06-03 17:21:09", "%Y-%m-%d %H:%M:%S").unwrap();
    let names = ["MARÍA", "JOSÉ", "GUADALUPE", "JUAN", "ANA", "LUIS"];
    let surnames = ["HERNÁNDEZ", "GARCÍA", "MARTÍNEZ", "LÓPEZ", "GONZÁLEZ"];

    let path = std::env::temp_dir().join(format!("sintra-excel-bench-{rows}.xlsx"));
    let started = Instant::now();
    let mut writer = ExportWriter::new(ExportOptions {
        personal_data: true,
        compression_level: level,
        ..ExportOptions::default()
    })
    .unwrap();
    writer.begin_sheet(spec).unwrap();
    for i in 0..rows {
        let record = json!({
            "external_folio": format!("FGJNL-AV-2024-{i:06}"),
            "condition": "VICTIMA",
            "given_names": names[i as usize % names.len()],
            "first_surname": surnames[i as usize % surnames.len()],
            "second_surname": surnames[(i as usize / 7) % surnames.len()],
            "sex": if i % 2 == 0 { "MUJER" } else { "HOMBRE" },
            "birth_date": format!("{}-{:02}-{:02}", 1970 + i % 40, 1 + i % 12, 1 + i % 28),
            "age_at_detection": 10 + i % 60,
            "nationality": "MEX",
            "indigenous_self_identification": i % 5 == 0,
            "exploitation_forms": ["SEXUAL", "LABORAL"],
            "detection_date": format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
            "detection_entity_code": format!("{:02}", 1 + i % 32),
            "detection_municipality_code": format!("{:02}{:03}", 1 + i % 32, 1 + i % 50),
            "detecting_institution": "Fiscalía General de Justicia del Estado",
        });
        writer
            .write_row(
                record.as_object().unwrap(),
                &RecordMeta {
                    id: "0193a1b2-0c3d-7e4f-8a5b-6c7d8e9f0a1b",
                    entity: "19 — Nuevo León",
                    institution: "Fiscalía General de Justicia del Estado de Nuevo León",
                    created_by: "María Pérez (oper.nl.fgj)",
                    created_at: at,
                    updated_by: "María Pérez (oper.nl.fgj)",
                    updated_at: at,
                },
            )
            .unwrap();
    }
    let file = std::fs::File::create(&path).unwrap();
    writer.finish(std::io::BufWriter::new(file)).unwrap();
    let export_time = started.elapsed();
    let export_peak = peak_rss_kib();
    let bytes = std::fs::read(&path).unwrap();
    println!(
        "export: {rows} rows in {:.2} s ({:.1} MiB, level {level}), peak RSS {} MiB",
        export_time.as_secs_f64(),
        bytes.len() as f64 / 1048576.0,
        export_peak.map_or("?".into(), |k| (k / 1024).to_string())
    );

    // How close a real workbook comes to the zip-bomb limits.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let (mut total, mut largest, mut ratio) = (0u64, 0u64, 0u64);
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).unwrap();
        total += entry.size();
        largest = largest.max(entry.size());
        ratio = ratio.max(entry.size() / entry.compressed_size().max(1));
    }
    println!(
        "entries: {:.1} MiB uncompressed, largest {:.1} MiB, highest ratio {ratio}",
        total as f64 / 1048576.0,
        largest as f64 / 1048576.0
    );

    let limits = ImportLimits {
        max_rows: rows.max(100_000),
        ..ImportLimits::default()
    };
    let started = Instant::now();
    match read_rows(&bytes, spec, &limits) {
        Ok(sheet) => println!(
            "read_rows: {} rows in {:.2} s, peak RSS {} MiB",
            sheet.rows.len(),
            started.elapsed().as_secs_f64(),
            peak_rss_kib().map_or("?".into(), |k| (k / 1024).to_string())
        ),
        Err(e) => println!("read_rows refused it: {} ({e})", e.code()),
    }
    if std::env::var("RAW").is_ok() {
        use calamine::Reader;
        let started = Instant::now();
        let mut book: calamine::Xlsx<_> =
            calamine::Xlsx::new(std::io::Cursor::new(&bytes)).unwrap();
        let name = book.sheet_names()[0].clone();
        let mut reader = book.worksheet_cells_reader(&name).unwrap();
        let mut n = 0u64;
        while let Some(c) = reader.next_cell().unwrap() {
            if !matches!(c.get_value(), calamine::DataRef::Empty) {
                n += 1;
            }
        }
        println!(
            "raw calamine: {n} cells in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        sintra_excel::guard::check(&bytes, &limits).unwrap();
        println!("guard: {:.3} s", started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(&path);
}
