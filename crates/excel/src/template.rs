//! A form's template: the workbook an operator downloads, fills in and
//! uploads.
//!
//! - "Instrucciones": how to fill it in, then one line per column: its
//!   letter, header, whether it is required or personal data, its type, the
//!   values it admits (listed, or where in "Catálogos" they are) and its
//!   help text.
//! - "Datos": the headers (the fields' labels; a reference to another form
//!   as that record's external folio), each with a note holding the field's
//!   help; required headers in orange; columns formatted by type (text
//!   columns as text so codes like `09` keep their zero, dates as
//!   dd/mm/yyyy); data validation on every data row: dropdowns bound to the
//!   active catalog values, Sí/No, date, number and length ranges.
//! - "Catálogos" (hidden): one column per list, `CODE — Label` per item,
//!   which the dropdowns point to (a list of 2,478 municipios does not fit
//!   in a validation formula). Imports read `CODE — Label` or a bare code.
//! - Dependent dropdowns: a catalog field whose items belong to the value
//!   of another field of the row (the municipio of the entity chosen, the
//!   determination of the procedural stage) lists only those. After the
//!   lists, "Catálogos" has one column per parent item with its children,
//!   each column a defined name (`MUN_19` for Nuevo León's municipios, the
//!   catalog's first three letters and the parent's code), and the field's
//!   validation picks the name from the parent cell of the same row:
//!   `=INDIRECT("MUN_"&LEFT($K2,FIND(" ",$K2&" ")-1))`, the code before
//!   the label whether the cell holds `19 — Nuevo León` or `19`.

use std::collections::HashMap;

use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DataValidationRule, ExcelDateTime, Format,
    FormatAlign, Formula, Note, Workbook, Worksheet, XlsxError,
};
use sintra_domain::forms::{catalog_def, FieldSpec, FieldType, FormSpec, Rule};
use sintra_domain::i18n::{Lang, Text};

use crate::columns::{column_letter, template_columns, Column};
use crate::guard::{thousands, ImportLimits};
use crate::import::CODE_LABEL_SEPARATOR;
use crate::{truncate_utf16, write_text, ExcelError};

/// The active items of a catalog, `(code, label)` in display order, with
/// labels in the template's language. Asked with a UUID field's key
/// instead, the ids that field may take with their names (the
/// institutions a user may be given, say); none leaves it a plain UUID.
pub type Catalogs<'a> = &'a dyn Fn(&str) -> Vec<(String, String)>;

/// The parent item of each item of a hierarchical catalog (a municipio's
/// entity), `(code, parent code)`; empty for a catalog without parents.
/// Drives the dependent dropdowns.
pub type ParentCodes<'a> = &'a dyn Fn(&str) -> Vec<(String, String)>;

/// A dropdown that depends on another column of the row.
struct Dependent {
    /// The defined names' prefix, `MUN_`.
    prefix: String,
    /// The column (index in "Datos") of the field it depends on.
    parent_column: u32,
}

/// The items of one parent, for a dependent dropdown: one column of
/// "Catálogos" and the defined name that points to it.
struct Group {
    name: String,
    items: Vec<String>,
}

/// The defined names' prefix of a catalog's dependent lists: its first
/// three letters (`municipality` → `MUN_`), which no cell reference starts
/// with followed by `_`.
fn name_prefix(catalog: &str) -> String {
    let head: String = catalog.chars().take(3).collect();
    format!("{}_", head.to_uppercase())
}

/// Whether a parent code can end a defined name (letters, digits, `_`,
/// `.`); a parent whose code cannot gets no dependent list, and its rows
/// keep a free cell (the import checks the pair anyway).
fn name_part(code: &str) -> bool {
    !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Lists at most this long are spelled out in the instructions.
const INLINE_LIST: usize = 12;

const SHEET_INSTRUCTIONS: Text = Text::new("Instrucciones", "Instructions");
const SHEET_DATA: Text = Text::new("Datos", "Data");
const SHEET_LISTS: Text = Text::new("Catálogos", "Catalogs");

/// The dropdown lists of a template, by catalog (or choice field).
struct Lists {
    lists: Vec<List>,
    list_of: HashMap<&'static str, usize>,
    /// The dependent dropdowns, by field key.
    dependents: HashMap<&'static str, Dependent>,
}

impl Lists {
    fn for_field(&self, field: &FieldSpec) -> Option<&List> {
        let key = match field.ty {
            FieldType::Catalog { catalog, .. } => catalog,
            FieldType::Choice { .. } | FieldType::Uuid => field.key,
            _ => return None,
        };
        self.list_of.get(key).map(|&i| &self.lists[i])
    }
}

/// One dropdown list of the "Catálogos" sheet.
struct List {
    title: String,
    items: Vec<String>,
    /// Its column in "Catálogos".
    column: u32,
}

/// The template of `spec` in `lang` (Spanish is what operators get unless
/// they ask). `catalogs` gives the active items of a catalog by its code.
pub fn template(
    spec: &FormSpec,
    lang: Lang,
    catalogs: Catalogs<'_>,
) -> Result<Vec<u8>, ExcelError> {
    template_within(spec, lang, catalogs, &ImportLimits::default())
}

/// [`template()`] for a form whose imports take other limits than the
/// default (fewer rows, say): the instructions state them and the data
/// sheet's validation covers that many rows.
pub fn template_within(
    spec: &FormSpec,
    lang: Lang,
    catalogs: Catalogs<'_>,
    limits: &ImportLimits,
) -> Result<Vec<u8>, ExcelError> {
    template_with(spec, lang, catalogs, &|_| vec![], limits)
}

/// [`template_within`] whose hierarchical catalogs' dropdowns depend on the
/// parent chosen in the same row (the municipios of the row's entity):
/// `parents` gives each item's parent code.
pub fn template_with(
    spec: &FormSpec,
    lang: Lang,
    catalogs: Catalogs<'_>,
    parents: ParentCodes<'_>,
    limits: &ImportLimits,
) -> Result<Vec<u8>, ExcelError> {
    let limits = *limits;
    let columns = template_columns(spec);

    // The lists, one per catalog or choice field, shared between fields.
    let mut lists: Vec<List> = Vec::new();
    let mut list_of: HashMap<&'static str, usize> = HashMap::new();
    for column in &columns {
        let field = column.field;
        let (key, title, items): (&'static str, String, Vec<String>) = match field.ty {
            FieldType::Catalog { catalog, .. } => (
                catalog,
                catalog_def(catalog)
                    .map_or(catalog, |d| d.label.get(lang))
                    .to_string(),
                catalogs(catalog)
                    .into_iter()
                    .map(|(code, label)| format!("{code}{CODE_LABEL_SEPARATOR}{label}"))
                    .collect(),
            ),
            FieldType::Choice { options } => (
                field.key,
                field.label.get(lang).to_string(),
                options
                    .iter()
                    .map(|o| format!("{}{CODE_LABEL_SEPARATOR}{}", o.code, o.label.get(lang)))
                    .collect(),
            ),
            FieldType::Uuid => {
                let items = catalogs(field.key);
                if items.is_empty() {
                    continue;
                }
                (
                    field.key,
                    field.label.get(lang).to_string(),
                    items
                        .into_iter()
                        .map(|(id, name)| format!("{id}{CODE_LABEL_SEPARATOR}{name}"))
                        .collect(),
                )
            }
            _ => continue,
        };
        if list_of.contains_key(key) {
            continue;
        }
        list_of.insert(key, lists.len());
        lists.push(List {
            title,
            items,
            column: lists.len() as u32,
        });
    }
    // The dependent dropdowns, their lists after the others.
    let mut dependents: HashMap<&'static str, Dependent> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut grouped: Vec<&'static str> = Vec::new();
    for column in &columns {
        let FieldType::Catalog {
            catalog,
            multiple: false,
            parent_field: Some(parent_field),
        } = column.field.ty
        else {
            continue;
        };
        let Some(parent_column) = columns.iter().position(|c| {
            c.field.key == parent_field && matches!(c.field.ty, FieldType::Catalog { .. })
        }) else {
            continue;
        };
        let prefix = name_prefix(catalog);
        if !grouped.contains(&catalog) {
            let parent_of: HashMap<String, String> = parents(catalog).into_iter().collect();
            if parent_of.is_empty() {
                continue;
            }
            grouped.push(catalog);
            // By parent, in the parents' first appearance, items in display order.
            let mut order: Vec<String> = Vec::new();
            let mut by_parent: HashMap<String, Vec<String>> = HashMap::new();
            for (code, label) in catalogs(catalog) {
                let Some(parent) = parent_of.get(&code).filter(|p| name_part(p)) else {
                    continue;
                };
                if !by_parent.contains_key(parent) {
                    order.push(parent.clone());
                }
                by_parent
                    .entry(parent.clone())
                    .or_default()
                    .push(format!("{code}{CODE_LABEL_SEPARATOR}{label}"));
            }
            for parent in order {
                let items = by_parent.remove(&parent).unwrap_or_default();
                groups.push(Group {
                    name: format!("{prefix}{parent}"),
                    items,
                });
            }
        }
        dependents.insert(
            column.field.key,
            Dependent {
                prefix,
                parent_column: parent_column as u32,
            },
        );
    }
    let lists = Lists {
        lists,
        list_of,
        dependents,
    };

    let mut workbook = Workbook::new();
    let mut instructions = Worksheet::new();
    instructions.set_name(SHEET_INSTRUCTIONS.get(lang))?;
    write_instructions(&mut instructions, spec, &columns, lang, &limits, &lists)?;
    instructions.set_active(true);

    let mut data = Worksheet::new();
    data.set_name(SHEET_DATA.get(lang))?;
    write_data_sheet(&mut data, &columns, lang, &limits, &lists)?;

    let mut list_sheet = Worksheet::new();
    list_sheet.set_name(SHEET_LISTS.get(lang))?;
    let bold = Format::new().set_bold();
    for list in &lists.lists {
        let col = list.column as u16;
        list_sheet.set_column_width(col, 45)?;
        write_text(&mut list_sheet, 0, col, &list.title, Some(&bold))?;
        for (i, item) in list.items.iter().enumerate() {
            write_text(&mut list_sheet, i as u32 + 1, col, item, None)?;
        }
    }
    let first = lists.lists.len();
    for (i, group) in groups.iter().enumerate() {
        let col = (first + i) as u16;
        write_text(&mut list_sheet, 0, col, &group.name, Some(&bold))?;
        for (r, item) in group.items.iter().enumerate() {
            write_text(&mut list_sheet, r as u32 + 1, col, item, None)?;
        }
        let letter = column_letter(u32::from(col));
        let sheet = SHEET_LISTS.get(lang);
        let last = group.items.len() + 1;
        workbook.define_name(
            &group.name,
            &format!("='{sheet}'!${letter}$2:${letter}${last}"),
        )?;
    }
    list_sheet.set_hidden(true);

    workbook.push_worksheet(instructions);
    workbook.push_worksheet(data);
    workbook.push_worksheet(list_sheet);
    Ok(workbook.save_to_buffer()?)
}

fn tr(lang: Lang, es: &str, en: &str) -> String {
    match lang {
        Lang::Es => es.to_string(),
        Lang::En => en.to_string(),
    }
}

fn yes_no(lang: Lang, b: bool) -> &'static str {
    match (b, lang) {
        (true, Lang::Es) => "Sí",
        (true, Lang::En) => "Yes",
        (false, _) => "No",
    }
}

fn write_instructions(
    ws: &mut Worksheet,
    spec: &FormSpec,
    columns: &[Column],
    lang: Lang,
    limits: &ImportLimits,
    lists: &Lists,
) -> Result<(), XlsxError> {
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color(Color::RGB(0xDD_EB_F7));
    for (col, width) in [8, 34, 12, 12, 34, 48, 80].into_iter().enumerate() {
        ws.set_column_width(col as u16, width)?;
    }
    let data = SHEET_DATA.get(lang);
    let lists_sheet = SHEET_LISTS.get(lang);
    let form = spec.label.get(lang);
    write_text(
        ws,
        0,
        0,
        &match lang {
            Lang::Es => format!("Plantilla de carga: {form}"),
            Lang::En => format!("Upload template: {form}"),
        },
        Some(&title),
    )?;
    let max_rows = thousands(u64::from(limits.max_rows));
    let max_mb = limits.max_file_bytes / (1024 * 1024);
    let lines: Vec<String> = match lang {
        Lang::Es => vec![
            format!(
                "1. Capture un registro por fila en la hoja «{data}», a partir de la fila 2. No \
                 cambie, mueva ni borre los encabezados; puede quitar columnas opcionales que no \
                 use."
            ),
            "2. Los encabezados en naranja son obligatorios. Al pasar el cursor sobre un \
             encabezado se muestra qué debe escribirse en él."
                .to_string(),
            "3. Fechas: use una celda con formato de fecha, o escriba DD/MM/AAAA o AAAA-MM-DD."
                .to_string(),
            "4. Sí/No: escriba Sí o No.".to_string(),
            format!(
                "5. Catálogos: elija el valor de la lista desplegable, o escriba solo su clave \
                 (por ejemplo, 19). Todas las claves están en la hoja oculta «{lists_sheet}» (clic \
                 derecho en una pestaña › Mostrar)."
            ),
            "6. Cuando un campo admite varios valores, sepárelos con punto y coma (;).".to_string(),
            "7. Para vincular un registro con otro (la comisión de una sesión, la víctima de una \
             atención), escriba el folio externo de ese otro registro."
                .to_string(),
            format!(
                "8. Límites: {max_rows} registros y {max_mb} MB por archivo. Guarde como «Libro de \
                 Excel (.xlsx)»; no se aceptan archivos con macros ni protegidos con contraseña."
            ),
            "9. Las columnas marcadas como dato personal se protegen: no aparecen en mensajes ni \
             en la bitácora."
                .to_string(),
        ],
        Lang::En => vec![
            format!(
                "1. Enter one record per row in the \"{data}\" sheet, from row 2 on. Do not \
                 change, move or delete the headers; you may remove optional columns you do not \
                 use."
            ),
            "2. Orange headers are required. Hovering over a header shows what goes in it."
                .to_string(),
            "3. Dates: use a date-formatted cell, or type DD/MM/YYYY or YYYY-MM-DD.".to_string(),
            "4. Yes/No: type Yes or No (Sí or No).".to_string(),
            format!(
                "5. Catalogs: pick the value from the dropdown, or type just its code (e.g. 19). \
                 Every code is in the hidden \"{lists_sheet}\" sheet (right-click a tab › Unhide)."
            ),
            "6. When a field takes several values, separate them with semicolons (;).".to_string(),
            "7. To link a record to another (a session's commission, an attention's victim), \
             type that other record's external folio."
                .to_string(),
            format!(
                "8. Limits: {max_rows} records and {max_mb} MB per file. Save as \"Excel Workbook \
                 (.xlsx)\"; files with macros or passwords are refused."
            ),
            "9. Columns marked as personal data are protected: they never appear in messages or \
             in the audit log."
                .to_string(),
        ],
    };
    for (i, line) in lines.iter().enumerate() {
        write_text(ws, 2 + i as u32, 0, line, None)?;
    }

    let table = 3 + lines.len() as u32;
    let headers = match lang {
        Lang::Es => [
            "Columna",
            "Encabezado",
            "Obligatorio",
            "Dato personal",
            "Tipo",
            "Valores permitidos",
            "Descripción",
        ],
        Lang::En => [
            "Column",
            "Header",
            "Required",
            "Personal data",
            "Type",
            "Allowed values",
            "Description",
        ],
    };
    for (col, h) in headers.iter().enumerate() {
        write_text(ws, table, col as u16, h, Some(&head))?;
    }
    for (i, column) in columns.iter().enumerate() {
        let row = table + 1 + i as u32;
        let field = column.field;
        write_text(ws, row, 0, &column_letter(i as u32), Some(&bold))?;
        write_text(ws, row, 1, &column.header(lang), Some(&wrap))?;
        write_text(ws, row, 2, yes_no(lang, field.required), Some(&wrap))?;
        write_text(ws, row, 3, yes_no(lang, field.personal), Some(&wrap))?;
        write_text(ws, row, 4, &type_text(field, lang), Some(&wrap))?;
        write_text(
            ws,
            row,
            5,
            &allowed_text(spec, field, lang, lists),
            Some(&wrap),
        )?;
        write_text(ws, row, 6, field.help.get(lang), Some(&wrap))?;
    }
    ws.set_freeze_panes(table + 1, 0)?;
    Ok(())
}

fn type_text(field: &FieldSpec, lang: Lang) -> String {
    match field.ty {
        FieldType::Text { .. } => tr(lang, "Texto", "Text"),
        FieldType::LongText { .. } => tr(lang, "Texto largo", "Long text"),
        FieldType::Date => tr(lang, "Fecha", "Date"),
        FieldType::Integer { .. } => tr(lang, "Número entero", "Whole number"),
        FieldType::Decimal { .. } => tr(lang, "Número", "Number"),
        FieldType::Boolean => tr(lang, "Sí / No", "Yes / No"),
        FieldType::Catalog {
            multiple: false, ..
        } => tr(lang, "Clave de catálogo", "Catalog code"),
        FieldType::Catalog { multiple: true, .. } => tr(
            lang,
            "Lista de claves de catálogo, separadas por ;",
            "List of catalog codes, separated by ;",
        ),
        FieldType::Reference {
            multiple: false, ..
        } => tr(
            lang,
            "Folio externo de otro registro",
            "Another record's external folio",
        ),
        FieldType::Reference { multiple: true, .. } => tr(
            lang,
            "Lista de folios externos, separados por ;",
            "List of external folios, separated by ;",
        ),
        FieldType::Curp => "CURP".to_string(),
        FieldType::Choice { .. } => tr(lang, "Opción de una lista", "One of a list"),
        FieldType::Uuid => tr(lang, "Identificador (UUID)", "Identifier (UUID)"),
    }
}

fn allowed_text(spec: &FormSpec, field: &FieldSpec, lang: Lang, lists: &Lists) -> String {
    let mut parts: Vec<String> = Vec::new();
    match field.ty {
        FieldType::Text { max_length } | FieldType::LongText { max_length } => {
            parts.push(match lang {
                Lang::Es => format!("Hasta {} caracteres.", thousands(max_length as u64)),
                Lang::En => format!("Up to {} characters.", thousands(max_length as u64)),
            })
        }
        FieldType::Date => parts.push(tr(
            lang,
            "DD/MM/AAAA o AAAA-MM-DD, entre 1900 y 2099.",
            "DD/MM/YYYY or YYYY-MM-DD, between 1900 and 2099.",
        )),
        FieldType::Integer { min, max } => parts.push(match lang {
            Lang::Es => format!("De {min} a {max}."),
            Lang::En => format!("From {min} to {max}."),
        }),
        FieldType::Decimal { min, max } => parts.push(match lang {
            Lang::Es => format!("De {min} a {max}."),
            Lang::En => format!("From {min} to {max}."),
        }),
        FieldType::Boolean => parts.push(tr(lang, "Sí o No.", "Yes or No.")),
        FieldType::Curp => parts.push(tr(
            lang,
            "18 caracteres; se verifica el dígito verificador.",
            "18 characters; the check digit is verified.",
        )),
        FieldType::Uuid => match lists.for_field(field) {
            Some(list) => {
                let letter = column_letter(list.column);
                let sheet = SHEET_LISTS.get(lang);
                let n = thousands(list.items.len() as u64);
                parts.push(match lang {
                    Lang::Es => format!(
                        "Elija de la lista ({n} valores: hoja «{sheet}», columna {letter}) o \
                         escriba el identificador."
                    ),
                    Lang::En => format!(
                        "Pick from the list ({n} values: sheet \"{sheet}\", column {letter}) or \
                         type the identifier."
                    ),
                })
            }
            None => parts.push(tr(
                lang,
                "Como 0193a1b2-0c3d-7e4f-8a5b-6c7d8e9f0a1b.",
                "Like 0193a1b2-0c3d-7e4f-8a5b-6c7d8e9f0a1b.",
            )),
        },
        FieldType::Reference { form, .. } => {
            let other = form.spec().label.get(lang);
            parts.push(match lang {
                Lang::Es => format!("Folio externo con que se registró el registro de «{other}»."),
                Lang::En => format!("The external folio the \"{other}\" record was sent with."),
            })
        }
        FieldType::Catalog { .. } | FieldType::Choice { .. } => match lists.for_field(field) {
            Some(list) if list.items.is_empty() => parts.push(tr(
                lang,
                "(El catálogo no tiene valores activos.)",
                "(The catalog has no active values.)",
            )),
            Some(list) if list.items.len() <= INLINE_LIST => parts.push(list.items.join("; ")),
            Some(list) => {
                let letter = column_letter(list.column);
                let sheet = SHEET_LISTS.get(lang);
                let n = thousands(list.items.len() as u64);
                parts.push(match lang {
                    Lang::Es => format!("{n} valores: hoja «{sheet}», columna {letter}."),
                    Lang::En => format!("{n} values: sheet \"{sheet}\", column {letter}."),
                })
            }
            None => {}
        },
    }
    if let FieldType::Catalog {
        parent_field: Some(parent),
        ..
    } = field.ty
    {
        if let Some(p) = spec.field(parent) {
            let label = p.label.get(lang);
            parts.push(match lang {
                Lang::Es => format!("Debe corresponder a «{label}»."),
                Lang::En => format!("Must belong to \"{label}\"."),
            });
            if lists.dependents.contains_key(field.key) {
                parts.push(match lang {
                    Lang::Es => format!(
                        "La lista desplegable muestra solo los de «{label}» elegida en la fila."
                    ),
                    Lang::En => {
                        format!("The dropdown shows only those of the row's \"{label}\".")
                    }
                });
            }
        }
    }
    for rule in field.rules {
        match rule {
            Rule::NotFuture => parts.push(tr(lang, "No posterior a hoy.", "Not later than today.")),
            Rule::NotBefore(other) => {
                if let Some(o) = spec.field(other) {
                    let label = o.label.get(lang);
                    parts.push(match lang {
                        Lang::Es => format!("No anterior a «{label}»."),
                        Lang::En => format!("Not earlier than \"{label}\"."),
                    });
                }
            }
            Rule::MissingReportFolio => parts.push(tr(
                lang,
                "Formato CNB-AAAA-número o CLBEE-AAAA-número (EE: clave de la entidad).",
                "Format CNB-YYYY-number or CLBEE-YYYY-number (EE: the entity's key).",
            )),
            Rule::Username | Rule::Email | Rule::Code | Rule::ParentItem(_) => {}
        }
    }
    parts.join(" ")
}

fn write_data_sheet(
    ws: &mut Worksheet,
    columns: &[Column],
    lang: Lang,
    limits: &ImportLimits,
    lists: &Lists,
) -> Result<(), ExcelError> {
    let optional = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_background_color(Color::RGB(0xDD_EB_F7));
    let required = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_background_color(Color::RGB(0xF8_CB_AD));
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let integer = Format::new().set_num_format("0");
    let decimal = Format::new().set_num_format("#,##0.00");
    let last_row = limits.max_rows;
    ws.set_row_height(0, 45)?;
    ws.set_freeze_panes(1, 0)?;
    for (i, column) in columns.iter().enumerate() {
        let col = i as u16;
        let field = column.field;
        let header = column.header(lang);
        let width = (header.chars().count() as f64 * 1.1).clamp(14.0, 40.0);
        ws.set_column_width(col, width)?;
        let format = match field.ty {
            FieldType::Date => &date,
            FieldType::Integer { .. } => &integer,
            FieldType::Decimal { .. } => &decimal,
            FieldType::Boolean => &text,
            _ => &text,
        };
        ws.set_column_format(col, format)?;
        let head = if field.required { &required } else { &optional };
        write_text(ws, 0, col, &header, Some(head))?;

        let mut note_text = field.help.get(lang).to_string();
        if field.required {
            note_text.push_str(&tr(lang, "\n\nObligatorio.", "\n\nRequired."));
        }
        if field.personal {
            note_text.push_str(&tr(lang, "\n\nDato personal.", "\n\nPersonal data."));
        }
        let lines = note_text.chars().count() as u32 / 45 + note_text.lines().count() as u32;
        let note = Note::new(note_text)
            .set_author("SINTRA")
            .add_author_prefix(false)
            .set_width(320)
            .set_height((20 + 16 * lines).min(400));
        ws.insert_note(0, col, &note)?;

        let validation = match lists.dependents.get(field.key) {
            Some(dependent) => Some(dependent_validation(field, columns, dependent, lang)?),
            None => validation_for(field, lang, lists)?,
        };
        if let Some(validation) = validation {
            ws.add_data_validation(1, col, last_row, col, &validation)?;
        }
    }
    Ok(())
}

/// The dropdown of a dependent catalog field: the defined name of the
/// parent's code in the same row (the code before the label, or the cell
/// alone when it holds a bare code). A warning, not a stop: a code typed
/// without its label, or a row whose parent is still empty, may go on.
fn dependent_validation(
    field: &FieldSpec,
    columns: &[Column],
    dependent: &Dependent,
    lang: Lang,
) -> Result<DataValidation, XlsxError> {
    let cell = format!("${}2", column_letter(dependent.parent_column));
    let formula = format!(
        "=INDIRECT(\"{}\"&LEFT({cell},FIND(\" \",{cell}&\" \")-1))",
        dependent.prefix
    );
    let parent = columns[dependent.parent_column as usize].header(lang);
    let message = match lang {
        Lang::Es => format!(
            "Elija un valor de la lista, que muestra los de «{parent}» de la fila, o escriba su clave."
        ),
        Lang::En => format!(
            "Pick a value from the list, which shows those of the row's \"{parent}\", or type its code."
        ),
    };
    DataValidation::new()
        .allow_list_formula(Formula::new(formula))
        .set_error_style(DataValidationErrorStyle::Warning)
        .set_error_title(truncate_utf16(field.label.get(lang), 32))?
        .set_error_message(truncate_utf16(&message, 255))
}

/// The data validation of a column, if its type has one. Stop for what is
/// plainly wrong (a date that is not one, text too long); a warning where
/// the import is more lenient than the list (a catalog code typed without
/// its label, "Si" without its accent).
fn validation_for(
    field: &FieldSpec,
    lang: Lang,
    lists: &Lists,
) -> Result<Option<DataValidation>, XlsxError> {
    let label = field.label.get(lang);
    let (validation, style, message) = match field.ty {
        FieldType::Catalog { .. } | FieldType::Choice { .. } | FieldType::Uuid => {
            let multiple = matches!(field.ty, FieldType::Catalog { multiple: true, .. });
            let Some(list) = lists.for_field(field).filter(|l| !l.items.is_empty()) else {
                return Ok(None);
            };
            let sheet = SHEET_LISTS.get(lang);
            let letter = column_letter(list.column);
            let formula = format!("='{sheet}'!${letter}$2:${letter}${}", list.items.len() + 1);
            let (style, message) = if multiple {
                (
                    DataValidationErrorStyle::Information,
                    tr(
                        lang,
                        "Puede escribir varias claves separadas por punto y coma (;).",
                        "You may type several codes separated by semicolons (;).",
                    ),
                )
            } else {
                (
                    DataValidationErrorStyle::Warning,
                    tr(
                        lang,
                        "Elija un valor de la lista o escriba su clave.",
                        "Pick a value from the list or type its code.",
                    ),
                )
            };
            (
                DataValidation::new().allow_list_formula(Formula::new(formula)),
                style,
                message,
            )
        }
        FieldType::Boolean => {
            let options = match lang {
                Lang::Es => ["Sí", "No"],
                Lang::En => ["Yes", "No"],
            };
            // A warning, not a stop: "Si" without its accent is a yes too.
            (
                DataValidation::new().allow_list_strings(&options)?,
                DataValidationErrorStyle::Warning,
                tr(lang, "Escriba Sí o No.", "Type Yes or No."),
            )
        }
        FieldType::Date => (
            DataValidation::new().allow_date(DataValidationRule::Between(
                ExcelDateTime::from_ymd(1900, 1, 1)?,
                ExcelDateTime::from_ymd(2099, 12, 31)?,
            )),
            DataValidationErrorStyle::Stop,
            tr(
                lang,
                "Escriba una fecha (DD/MM/AAAA) entre 1900 y 2099.",
                "Type a date (DD/MM/YYYY) between 1900 and 2099.",
            ),
        ),
        FieldType::Integer { min, max } => {
            let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            (
                DataValidation::new()
                    .allow_whole_number(DataValidationRule::Between(clamp(min), clamp(max))),
                DataValidationErrorStyle::Stop,
                match lang {
                    Lang::Es => format!("Escriba un número entero de {min} a {max}."),
                    Lang::En => format!("Type a whole number from {min} to {max}."),
                },
            )
        }
        FieldType::Decimal { min, max } => (
            DataValidation::new().allow_decimal_number(DataValidationRule::Between(min, max)),
            DataValidationErrorStyle::Stop,
            match lang {
                Lang::Es => format!("Escriba un número de {min} a {max}."),
                Lang::En => format!("Type a number from {min} to {max}."),
            },
        ),
        FieldType::Text { max_length } | FieldType::LongText { max_length } => {
            let max = max_length.min(32_767) as u32;
            (
                DataValidation::new().allow_text_length(DataValidationRule::LessThanOrEqualTo(max)),
                DataValidationErrorStyle::Stop,
                match lang {
                    Lang::Es => format!("Escriba a lo más {max} caracteres."),
                    Lang::En => format!("Type at most {max} characters."),
                },
            )
        }
        FieldType::Curp => (
            DataValidation::new().allow_text_length(DataValidationRule::EqualTo(18)),
            DataValidationErrorStyle::Warning,
            tr(
                lang,
                "La CURP tiene 18 caracteres.",
                "A CURP has 18 characters.",
            ),
        ),
        FieldType::Reference { .. } => return Ok(None),
    };
    let validation = validation
        .set_error_style(style)
        .set_error_title(truncate_utf16(label, 32))?
        .set_error_message(truncate_utf16(&message, 255))?;
    Ok(Some(validation))
}
