//! Dashboards as downloads: a workbook with a sheet per table and a CSV,
//! both rendered from the same [`Figures`] the JSON answer is.
//!
//! Each sheet starts with the dashboard's title, the table's title, the
//! filters applied, the moment of extraction and how small counts were
//! treated; a withheld figure shows as `*`. The CSV has one line per figure
//! (totals included, under the code `_total`), with a `suppressed` column.

use rust_xlsxwriter::{Format, Workbook};
use sintra_domain::figures::{Figure, FigureTable, Figures, Label, TOTAL};
use sintra_domain::i18n::Lang;

use crate::{write_text, ExcelError};

/// How a withheld figure shows.
pub const WITHHELD_MARK: &str = "*";

fn filters_line(f: &Figures, lang: Lang) -> String {
    let a = &f.filters;
    let none = match lang {
        Lang::Es => "todas",
        Lang::En => "all",
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| none.to_string());
    match lang {
        Lang::Es => format!(
            "Filtros: desde {}; hasta {}; entidad {}; municipio {}; institución {}; agrupación {}",
            opt(a.from.map(|d| d.to_string())),
            opt(a.to.map(|d| d.to_string())),
            opt(a.entity_code.clone()),
            opt(a.municipality_code.clone()),
            opt(a.institution_id.map(|i| i.to_string())),
            a.group_by.label().es,
        ),
        Lang::En => format!(
            "Filters: from {}; to {}; entity {}; municipality {}; institution {}; grouped by {}",
            opt(a.from.map(|d| d.to_string())),
            opt(a.to.map(|d| d.to_string())),
            opt(a.entity_code.clone()),
            opt(a.municipality_code.clone()),
            opt(a.institution_id.map(|i| i.to_string())),
            a.group_by.label().en,
        ),
    }
}

fn sheet_title(prefix: &str, i: usize, t: &FigureTable, lang: Lang) -> String {
    let clean: String = t
        .title
        .get(lang)
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\' | '\''))
        .collect();
    let name = format!("{prefix}{} {}", i + 1, clean);
    name.chars()
        .take(31)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The workbook of a dashboard: a sheet per table, labels in `lang`
/// (Spanish by default).
pub fn workbook(f: &Figures, lang: Lang) -> Result<Vec<u8>, ExcelError> {
    let mut wb = Workbook::new();
    write_dashboard(&mut wb, f, lang, "")?;
    Ok(wb.save_to_buffer()?)
}

/// A quarterly cut's cover: what the official report says of itself.
#[derive(Debug, Clone)]
pub struct CutCover {
    pub year: i32,
    pub quarter: u8,
    pub taken_at: chrono::DateTime<chrono::Utc>,
    /// `nacional`, or the entity's code.
    pub scope: String,
    pub record_count: i64,
    pub records_digest: String,
    pub digest: String,
    /// Whether the stored records and figures still hash to the digest.
    pub verified: bool,
}

/// A line of a cut's record counts (`None`: withheld).
#[derive(Debug, Clone)]
pub struct CountLine {
    pub entity_code: String,
    pub form: String,
    pub records: Option<i64>,
}

/// The official quarterly report of a cut: a cover (quarter, moment,
/// scope, digest and whether it still verifies), the record counts per
/// entity and form, then every dashboard's tables, a sheet each.
pub fn cut_workbook(
    cover: &CutCover,
    counts: &[CountLine],
    dashboards: &[Figures],
    lang: Lang,
) -> Result<Vec<u8>, ExcelError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let header = Format::new().set_bold().set_text_wrap();
    let integer = Format::new().set_num_format("#,##0");
    let es = lang == Lang::Es;
    let t = |a: &'static str, b: &'static str| if es { a } else { b };
    let ws = wb.add_worksheet();
    ws.set_name(t("Portada", "Cover"))?;
    write_text(
        ws,
        0,
        0,
        &format!(
            "{} {}-T{}",
            t("SINTRA — Corte trimestral", "SINTRA — Quarterly cut"),
            cover.year,
            cover.quarter
        ),
        Some(&bold),
    )?;
    let lines = [
        (t("Ámbito", "Scope"), cover.scope.clone()),
        (
            t("Fecha del corte (UTC)", "Taken at (UTC)"),
            cover.taken_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        (
            t("Registros contados", "Records counted"),
            cover.record_count.to_string(),
        ),
        (
            t(
                "Huella de los registros (SHA-256)",
                "Records digest (SHA-256)",
            ),
            cover.records_digest.clone(),
        ),
        (
            t(
                "Huella del corte (SHA-256, en la bitácora)",
                "Cut digest (SHA-256, in the audit log)",
            ),
            cover.digest.clone(),
        ),
        (
            t(
                "Verificado al generar este archivo",
                "Verified when this file was made",
            ),
            t(
                if cover.verified { "sí" } else { "NO" },
                if cover.verified { "yes" } else { "NO" },
            )
            .to_string(),
        ),
    ];
    for (i, (label, value)) in lines.iter().enumerate() {
        write_text(ws, (i + 2) as u32, 0, label, Some(&bold))?;
        write_text(ws, (i + 2) as u32, 1, value, None)?;
    }
    ws.set_column_width(0, 45)?;
    ws.set_column_width(1, 70)?;

    let ws = wb.add_worksheet();
    ws.set_name(t("Registros", "Records"))?;
    write_text(ws, 0, 0, t("Entidad", "Entity"), Some(&header))?;
    write_text(ws, 0, 1, t("Formulario", "Form"), Some(&header))?;
    write_text(ws, 0, 2, t("Registros", "Records"), Some(&header))?;
    for (i, c) in counts.iter().enumerate() {
        let r = (i + 1) as u32;
        write_text(ws, r, 0, &c.entity_code, None)?;
        write_text(ws, r, 1, &c.form, None)?;
        match c.records {
            Some(n) => {
                ws.write_number_with_format(r, 2, n as f64, &integer)?;
            }
            None => write_text(ws, r, 2, WITHHELD_MARK, None)?,
        }
    }
    for (d, f) in dashboards.iter().enumerate() {
        write_dashboard(&mut wb, f, lang, &format!("{}.", d + 1))?;
    }
    Ok(wb.save_to_buffer()?)
}

/// A sheet per table of `f` (or one sheet naming it when it has none),
/// sheet names starting with `prefix` so several dashboards share a
/// workbook.
fn write_dashboard(
    wb: &mut Workbook,
    f: &Figures,
    lang: Lang,
    prefix: &str,
) -> Result<(), ExcelError> {
    let bold = Format::new().set_bold();
    let header = Format::new().set_bold().set_text_wrap();
    let decimal = Format::new().set_num_format("#,##0.00");
    let integer = Format::new().set_num_format("#,##0");
    let (extracted, withheld, total_label) = match lang {
        Lang::Es => ("Extraído (UTC)", "cifra omitida", "Total"),
        Lang::En => ("Extracted (UTC)", "figure withheld", "Total"),
    };
    for (i, t) in f.tables.iter().enumerate() {
        let ws = wb.add_worksheet();
        ws.set_name(sheet_title(prefix, i, t, lang))?;
        write_text(ws, 0, 0, f.title.get(lang), Some(&bold))?;
        write_text(ws, 1, 0, t.title.get(lang), Some(&bold))?;
        write_text(ws, 2, 0, &filters_line(f, lang), None)?;
        write_text(
            ws,
            3,
            0,
            &format!(
                "{extracted}: {}",
                f.extracted_at.format("%Y-%m-%d %H:%M:%S")
            ),
            None,
        )?;
        write_text(
            ws,
            4,
            0,
            &format!(
                "{} «{WITHHELD_MARK}»: {withheld}. {}",
                f.suppression.note.get(lang),
                if t.suppressed.is_empty() {
                    ""
                } else {
                    match lang {
                        Lang::Es => "Esta tabla omite cifras.",
                        Lang::En => "This table withholds figures.",
                    }
                }
            ),
            None,
        )?;
        let mut row = 5;
        if let Some(note) = &t.note {
            write_text(ws, row, 0, note.get(lang), None)?;
            row += 1;
        }
        row += 1;
        let with_totals = t.rows.iter().any(|r| r.total.is_some())
            || t.rows.iter().any(|r| is_withheld(t, &r.code, TOTAL));
        write_text(ws, row, 0, dimension(&t.rows_by, lang), Some(&header))?;
        for (j, c) in t.columns.iter().enumerate() {
            write_text(ws, row, (j + 1) as u16, c.label.get(lang), Some(&header))?;
        }
        let total_col = (t.columns.len() + 1) as u16;
        if with_totals {
            write_text(ws, row, total_col, total_label, Some(&header))?;
        }
        let write_figure = |ws: &mut rust_xlsxwriter::Worksheet,
                            r: u32,
                            c: u16,
                            v: &Option<Figure>,
                            hidden: bool|
         -> Result<(), ExcelError> {
            match (v, hidden) {
                (_, true) => write_text(ws, r, c, WITHHELD_MARK, None)?,
                (Some(Figure::Count(n)), _) => {
                    ws.write_number_with_format(r, c, *n as f64, &integer)?;
                }
                (Some(Figure::Value(x)), _) => {
                    ws.write_number_with_format(r, c, *x, &decimal)?;
                }
                (None, false) => {}
            }
            Ok(())
        };
        for fr in &t.rows {
            row += 1;
            write_text(ws, row, 0, fr.label.get(lang), None)?;
            for (j, v) in fr.cells.iter().enumerate() {
                let hidden = is_withheld(t, &fr.code, &t.columns[j].code);
                write_figure(ws, row, (j + 1) as u16, v, hidden)?;
            }
            if with_totals {
                write_figure(
                    ws,
                    row,
                    total_col,
                    &fr.total,
                    is_withheld(t, &fr.code, TOTAL),
                )?;
            }
        }
        if t.column_totals.iter().any(|c| c.is_some()) || !t.suppressed.is_empty() {
            row += 1;
            write_text(ws, row, 0, total_label, Some(&bold))?;
            for (j, v) in t.column_totals.iter().enumerate() {
                let hidden = is_withheld(t, TOTAL, &t.columns[j].code);
                write_figure(ws, row, (j + 1) as u16, v, hidden)?;
            }
            if with_totals {
                write_figure(
                    ws,
                    row,
                    total_col,
                    &t.grand_total,
                    is_withheld(t, TOTAL, TOTAL),
                )?;
            }
        }
        ws.set_column_width(0, 40)?;
    }
    if f.tables.is_empty() {
        let ws = wb.add_worksheet();
        if !prefix.is_empty() {
            ws.set_name(format!("{prefix} {}", f.dashboard.as_str()))?;
        }
        write_text(ws, 0, 0, f.title.get(lang), Some(&bold))?;
        write_text(ws, 1, 0, &filters_line(f, lang), None)?;
    }
    Ok(())
}

fn is_withheld(t: &FigureTable, row: &str, column: &str) -> bool {
    t.suppressed
        .iter()
        .any(|s| s.row == row && s.column == column)
}

fn dimension(rows_by: &str, lang: Lang) -> &'static str {
    let l = match rows_by {
        "month" => ("Mes", "Month"),
        "quarter" => ("Trimestre", "Quarter"),
        "year" => ("Año", "Year"),
        "entity" => ("Entidad federativa", "Federal entity"),
        "municipality" => ("Municipio", "Municipality"),
        "institution" => ("Institución", "Institution"),
        "entity_month" => ("Entidad y mes", "Entity and month"),
        "stage_year" => ("Etapa y año", "Stage and year"),
        "field" => ("Formulario y campo", "Form and field"),
        _ => ("", ""),
    };
    match lang {
        Lang::Es => l.0,
        Lang::En => l.1,
    }
}

/// The CSV of a dashboard: one line per figure (cells and totals), with
/// the table, row and column codes and labels, the value (empty when
/// withheld) and whether it was withheld. UTF-8 with a byte-order mark, so
/// spreadsheet programs read the accents.
pub fn csv(f: &Figures, lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(match lang {
            Lang::Es => [
                "tablero",
                "tabla",
                "fila",
                "etiqueta_fila",
                "columna",
                "etiqueta_columna",
                "unidad",
                "valor",
                "omitida",
            ],
            Lang::En => [
                "dashboard",
                "table",
                "row",
                "row_label",
                "column",
                "column_label",
                "unit",
                "value",
                "suppressed",
            ],
        })?;
        let total = Label::new("Total", "Total");
        for t in &f.tables {
            let unit = serde_json::to_value(t.unit)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut line = |row: &str,
                            row_label: &Label,
                            column: &str,
                            column_label: &Label,
                            v: &Option<Figure>|
             -> Result<(), csv::Error> {
                let hidden = is_withheld(t, row, column);
                let value = match (v, hidden) {
                    (_, true) | (None, _) => String::new(),
                    (Some(Figure::Count(n)), _) => n.to_string(),
                    (Some(Figure::Value(x)), _) => x.to_string(),
                };
                if v.is_none() && !hidden {
                    return Ok(());
                }
                w.write_record([
                    f.dashboard.as_str(),
                    t.key.as_str(),
                    row,
                    safe(row_label.get(lang)).as_str(),
                    column,
                    safe(column_label.get(lang)).as_str(),
                    unit.as_str(),
                    value.as_str(),
                    if hidden { "1" } else { "0" },
                ])
            };
            for r in &t.rows {
                for (j, v) in r.cells.iter().enumerate() {
                    let c = &t.columns[j];
                    line(&r.code, &r.label, &c.code, &c.label, v)?;
                }
                line(&r.code, &r.label, TOTAL, &total, &r.total)?;
            }
            for (j, v) in t.column_totals.iter().enumerate() {
                let c = &t.columns[j];
                line(TOTAL, &total, &c.code, &c.label, v)?;
            }
            line(TOTAL, &total, TOTAL, &total, &t.grand_total)?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// A label that a spreadsheet would read as a formula gets a leading
/// apostrophe (CSV injection).
fn safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use sintra_domain::figures::*;
    use sintra_domain::suppression::Margins;

    fn sample() -> Figures {
        Figures {
            dashboard: DashboardKey::Victims,
            title: Label::new("Víctimas", "Victims"),
            reference_date: Label::new("Fecha", "Date"),
            filters: AppliedFilters {
                from: None,
                to: None,
                entity_code: Some("19".into()),
                municipality_code: None,
                institution_id: None,
                group_by: GroupBy::Month,
            },
            extracted_at: Utc::now(),
            suppression: SuppressionNote {
                applied: true,
                threshold: 5,
                note: Label::new("Se omiten", "Withheld"),
            },
            tables: vec![FigureTable {
                key: "by_sex".into(),
                title: Label::new("Personas por sexo", "People by sex"),
                unit: Unit::Count,
                rows_by: "month".into(),
                columns_by: "sex".into(),
                margins: Margins::All,
                columns: vec![
                    Category {
                        code: "MUJER".into(),
                        label: Label::new("Mujer", "Female"),
                    },
                    Category {
                        code: "HOMBRE".into(),
                        label: Label::new("=Hombre", "Male"),
                    },
                ],
                rows: vec![FigureRow {
                    code: "2024-01".into(),
                    label: Label::new("2024-01", "2024-01"),
                    cells: vec![Some(Figure::Count(12)), None],
                    total: None,
                }],
                column_totals: vec![Some(Figure::Count(12)), None],
                grand_total: None,
                suppressed: vec![
                    SuppressedCell {
                        row: "2024-01".into(),
                        column: "HOMBRE".into(),
                    },
                    SuppressedCell {
                        row: "2024-01".into(),
                        column: TOTAL.into(),
                    },
                ],
                note: None,
            }],
        }
    }

    #[test]
    fn csv_marks_withheld_figures_and_defuses_formulas() {
        let bytes = csv(&sample(), Lang::Es).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert!(lines[0].starts_with("tablero,tabla,fila"));
        assert!(lines.contains(&"victims,by_sex,2024-01,2024-01,MUJER,Mujer,count,12,0"));
        assert!(lines.contains(&"victims,by_sex,2024-01,2024-01,HOMBRE,'=Hombre,count,,1"));
        assert!(lines.contains(&"victims,by_sex,2024-01,2024-01,_total,Total,count,,1"));
    }

    #[test]
    fn the_workbook_has_a_sheet_per_table_with_filters_and_marks() {
        use calamine::{Reader, Xlsx};
        let bytes = workbook(&sample(), Lang::Es).unwrap();
        let mut x: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(x.sheet_names(), vec!["1 Personas por sexo".to_string()]);
        let range = x.worksheet_range("1 Personas por sexo").unwrap();
        let cells: Vec<String> = range.cells().map(|(_, _, c)| c.to_string()).collect();
        assert!(cells.iter().any(|c| c.starts_with("Filtros: desde todas")));
        assert!(cells.iter().any(|c| c.contains("entidad 19")));
        assert!(cells.iter().any(|c| c.starts_with("Extraído (UTC)")));
        assert!(cells.iter().any(|c| c == "*"));
        assert!(cells.iter().any(|c| c == "12"));
    }
}
