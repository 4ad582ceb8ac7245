//! The columns of a form's sheet, derived from its spec: which header names
//! which field, and under which JSON key a column's values go.
//!
//! Templates and imports share this model so a downloaded template always
//! uploads back. A reference to another form (a session's commission) is
//! written in Excel as the other record's external folio, in a column whose
//! values go under the field's `folio_key` (`commission_folio`); exports add
//! a second column with the referenced record's id.

use sintra_domain::forms::{FieldSpec, FieldType, FormSpec};
use sintra_domain::i18n::{Lang, Text};
use unicode_normalization::UnicodeNormalization;

/// What a column holds of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// The field's own value.
    Value,
    /// For a reference field: the external folio (or folios) of the
    /// referenced record, under the field's `folio_key`.
    Folio,
    /// For a reference field: the referenced record's id (or ids), under the
    /// field's key.
    Id,
}

/// One column of a form's sheet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub field: &'static FieldSpec,
    pub kind: ColumnKind,
}

impl Column {
    /// The JSON property the column's values go to: the field's key, or its
    /// `folio_key` for a folio column.
    pub fn json_key(&self) -> &'static str {
        match (self.kind, self.field.ty) {
            (ColumnKind::Folio, FieldType::Reference { folio_key, .. }) => folio_key,
            _ => self.field.key,
        }
    }

    /// Whether a cell holds a list (`A; B`).
    pub fn is_multiple(&self) -> bool {
        self.field.ty.is_multiple()
    }

    /// The header written in templates and exports.
    pub fn header(&self, lang: Lang) -> String {
        let label = self.field.label.get(lang);
        let multiple = self.is_multiple();
        match (self.kind, lang) {
            (ColumnKind::Value, _) => label.to_string(),
            (ColumnKind::Folio, Lang::Es) if multiple => format!("{label} (folios externos)"),
            (ColumnKind::Folio, Lang::Es) => format!("{label} (folio externo)"),
            (ColumnKind::Folio, Lang::En) if multiple => format!("{label} (external folios)"),
            (ColumnKind::Folio, Lang::En) => format!("{label} (external folio)"),
            (ColumnKind::Id, _) if multiple => format!("{label} (IDs)"),
            (ColumnKind::Id, _) => format!("{label} (ID)"),
        }
    }

    /// Every header text that names this column on import.
    fn names(&self) -> Vec<String> {
        let mut names = vec![self.header(Lang::Es), self.header(Lang::En)];
        match self.kind {
            ColumnKind::Value => names.push(self.field.key.to_string()),
            // Excel names parents by folio: a bare label means the folio.
            ColumnKind::Folio => {
                names.push(self.json_key().to_string());
                names.push(self.field.label.es.to_string());
                names.push(self.field.label.en.to_string());
            }
            ColumnKind::Id => names.push(self.field.key.to_string()),
        }
        names
    }
}

fn is_reference(field: &FieldSpec) -> bool {
    matches!(field.ty, FieldType::Reference { .. })
}

/// The columns of a template, in spec order: one per field, references by
/// folio.
pub fn template_columns(spec: &FormSpec) -> Vec<Column> {
    spec.fields
        .iter()
        .map(|field| Column {
            field,
            kind: if is_reference(field) {
                ColumnKind::Folio
            } else {
                ColumnKind::Value
            },
        })
        .collect()
}

/// The columns of an export, in spec order: references get a folio and an
/// id column; personal fields only when `personal_data`.
pub fn export_columns(spec: &FormSpec, personal_data: bool) -> Vec<Column> {
    let mut out = Vec::new();
    for field in spec.fields {
        if field.personal && !personal_data {
            continue;
        }
        if is_reference(field) {
            out.push(Column {
                field,
                kind: ColumnKind::Folio,
            });
            out.push(Column {
                field,
                kind: ColumnKind::Id,
            });
        } else {
            out.push(Column {
                field,
                kind: ColumnKind::Value,
            });
        }
    }
    out
}

/// The kinds of column a field can have.
fn kinds_of(field: &FieldSpec) -> &'static [ColumnKind] {
    if is_reference(field) {
        &[ColumnKind::Folio, ColumnKind::Id]
    } else {
        &[ColumnKind::Value]
    }
}

/// The built-in field behind a field of `spec`, when the national admin
/// relabelled it (`sintra_domain::forms::labels`): its built-in names keep
/// naming the column, so a workbook made before the change (or by a system
/// that writes the built-in headers) still imports.
fn built_in_of(spec: &FormSpec, field: &FieldSpec) -> Option<&'static FieldSpec> {
    spec.key
        .spec()
        .field(field.key)
        .filter(|b| b.label != field.label)
}

/// Every name (normalized) a column answers to on import: its headers in
/// both languages, its key, and the built-in ones of a relabelled field.
fn column_names(spec: &FormSpec, column: &Column) -> Vec<String> {
    let mut names = column.names();
    if let Some(field) = built_in_of(spec, column.field) {
        names.extend(
            Column {
                field,
                kind: column.kind,
            }
            .names(),
        );
    }
    names.iter().map(|n| normalize_header(n)).collect()
}

/// The column a header names, matched by Spanish or English label (the
/// form's current ones and, for a relabelled field, its built-in ones) or
/// key, ignoring case, accents, blanks, `_` and a trailing `*`.
pub fn match_header(spec: &FormSpec, header: &str) -> Option<Column> {
    let wanted = normalize_header(header);
    if wanted.is_empty() {
        return None;
    }
    for field in spec.fields {
        for &kind in kinds_of(field) {
            let column = Column { field, kind };
            if column_names(spec, &column).contains(&wanted) {
                return Some(column);
            }
        }
    }
    None
}

/// The names (normalized) the columns of every field but `field_key`
/// answer to on import, and the headers an export adds: a label given to
/// `field_key` must be none of them, or an import could not tell the
/// columns apart.
pub fn names_taken(spec: &FormSpec, field_key: &str) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for field in spec.fields.iter().filter(|f| f.key != field_key) {
        for &kind in kinds_of(field) {
            out.extend(column_names(spec, &Column { field, kind }));
        }
    }
    for t in META_BEFORE
        .iter()
        .chain(&META_AFTER)
        .chain([&ERRORS_HEADER])
    {
        out.insert(normalize_header(t.es));
        out.insert(normalize_header(t.en));
    }
    out
}

/// The header of the column [`crate::import::annotate`] adds; on a second
/// upload of an annotated workbook it is ignored rather than reported.
pub(crate) fn is_errors_header(header: &str) -> bool {
    let h = normalize_header(header);
    h == normalize_header(ERRORS_HEADER.es) || h == normalize_header(ERRORS_HEADER.en)
}

/// The columns an export writes before a record's fields: what the system
/// knows of where the record comes from, not fields of its form.
pub(crate) const META_BEFORE: [Text; 3] = [
    Text::new("ID del registro", "Record ID"),
    Text::new("Entidad del registro", "Record entity"),
    Text::new("Institución del registro", "Record institution"),
];

/// The columns an export writes after a record's fields.
pub(crate) const META_AFTER: [Text; 4] = [
    Text::new("Registrado por", "Registered by"),
    Text::new("Fecha de registro", "Registered at"),
    Text::new("Modificado por última vez por", "Last changed by"),
    Text::new("Fecha de última modificación", "Last changed at"),
];

/// The record id column of an export, read back by an import of a record
/// form under the key `record_id`: a row that carries it changes that very
/// record (a row without it is matched by folio, or is new).
pub static RECORD_ID: FieldSpec = FieldSpec::new(
    "record_id",
    META_BEFORE[0],
    Text::new(
        "El identificador que el sistema dio al registro (columna de las exportaciones): la \
         fila cambia ese registro.",
        "The id the system gave the record (a column of exports): the row changes that record.",
    ),
    FieldType::Uuid,
);

/// Whether a header names the record id column of an export.
pub(crate) fn is_record_id_header(header: &str) -> bool {
    let h = normalize_header(header);
    h == normalize_header(META_BEFORE[0].es) || h == normalize_header(META_BEFORE[0].en)
}

/// Whether a header is one of the columns an export adds about each record
/// (its id, who registered it, …): an export that comes back as an import,
/// corrected, brings them, and the import passes over them.
pub(crate) fn is_export_meta_header(header: &str) -> bool {
    let h = normalize_header(header);
    META_BEFORE
        .iter()
        .chain(&META_AFTER)
        .any(|t| h == normalize_header(t.es) || h == normalize_header(t.en))
}

/// The header of the errors column of an annotated workbook.
pub(crate) const ERRORS_HEADER: sintra_domain::i18n::Text =
    sintra_domain::i18n::Text::new("Errores", "Errors");

/// Lower case, without accents, `_` read as a blank, blanks collapsed, a
/// trailing `*` (a "required" mark some people add) dropped.
pub fn normalize_header(s: &str) -> String {
    let folded: String = s
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c == '_' || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let trimmed = folded.trim().trim_end_matches('*').trim();
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Excel's name of a 0-based column index: 0 → `A`, 27 → `AB`.
pub fn column_letter(index: u32) -> String {
    let mut n = index as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    out.reverse();
    out.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sintra_domain::forms::{all_specs, FormKey};

    #[test]
    fn letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
        assert_eq!(column_letter(16383), "XFD");
    }

    #[test]
    fn headers_normalize_case_accents_and_marks() {
        assert_eq!(
            normalize_header("  Fecha de   Detección *"),
            "fecha de deteccion"
        );
        assert_eq!(normalize_header("commission_folio"), "commission folio");
        assert_eq!(normalize_header("SEXO"), "sexo");
    }

    #[test]
    fn every_header_of_every_form_matches_its_own_column_and_no_other() {
        // First match wins, so two columns sharing a name would fail here.
        for spec in all_specs() {
            for column in export_columns(spec, true) {
                for lang in [Lang::Es, Lang::En] {
                    let header = column.header(lang);
                    assert_eq!(
                        match_header(spec, &header),
                        Some(column),
                        "{}: {header}",
                        spec.key
                    );
                }
                if column.kind != ColumnKind::Folio {
                    assert_eq!(match_header(spec, column.field.key), Some(column));
                }
            }
        }
    }

    #[test]
    fn references_match_by_folio_key_label_or_id_key() {
        let spec = FormKey::Session.spec();
        let folio = match_header(spec, "commission_folio").unwrap();
        assert_eq!(folio.kind, ColumnKind::Folio);
        assert_eq!(folio.json_key(), "commission_folio");
        assert_eq!(match_header(spec, "comision").unwrap(), folio);
        assert_eq!(
            match_header(spec, "Comisión (folio externo)").unwrap(),
            folio
        );
        let id = match_header(spec, "commission_id").unwrap();
        assert_eq!(id.kind, ColumnKind::Id);
        assert_eq!(id.json_key(), "commission_id");
        assert_eq!(match_header(spec, "nada que ver"), None);
    }

    #[test]
    fn a_relabelled_field_answers_to_its_new_and_its_built_in_names() {
        use sintra_domain::forms::labels::{effective, LabelOverride};
        let o = LabelOverride {
            field: "sex".into(),
            label_es: Some("Sexo asignado".into()),
            label_en: Some("Assigned sex".into()),
            ..Default::default()
        };
        let spec = effective(FormKey::Victim, &[o]);
        for h in ["Sexo asignado", "ASSIGNED SEX", "Sexo", "Sex", "sex"] {
            assert_eq!(
                match_header(spec, h).map(|c| c.field.key),
                Some("sex"),
                "{h}"
            );
        }
        // The column is the relabelled one: its header is the new label.
        let column = match_header(spec, "Sexo").unwrap();
        assert_eq!(column.header(Lang::Es), "Sexo asignado");
        let taken = names_taken(spec, "nationality");
        assert!(taken.contains("sexo asignado") && taken.contains("sexo"));
        assert!(taken.contains("id del registro"));
        assert!(!taken.contains("nacionalidad"));
        assert!(!names_taken(spec, "sex").contains("sexo asignado"));
    }

    #[test]
    fn personal_columns_are_left_out_of_exports_without_personal_data() {
        let spec = FormKey::Victim.spec();
        let all = export_columns(spec, true);
        let some = export_columns(spec, false);
        assert!(all.iter().any(|c| c.field.key == "curp"));
        assert!(some.iter().all(|c| !c.field.personal));
        assert_eq!(
            all.len() - some.len(),
            spec.personal_fields().count(),
            "one column per personal field"
        );
    }
}
