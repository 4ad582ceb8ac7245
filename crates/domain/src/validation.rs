//! Validation of one submitted record against its form spec.
//!
//! The same function checks a JSON body and an Excel row (the Excel reader
//! turns cells into JSON values first), so both entry points accept and
//! refuse exactly the same data with the same codes and messages. It also
//! normalizes what it accepts, so what is stored is uniform whatever the
//! channel: text trimmed and in Unicode NFC, empty strings as `null`,
//! catalog codes and CURPs in upper case, dates as `YYYY-MM-DD`.
//!
//! Messages name fields by their label and never contain the submitted
//! value of a personal field (DESIGN.md §3: personal data never reaches
//! error messages). Catalog codes are echoed only when they look like codes,
//! so a name typed into the wrong Excel column is not repeated back.
//!
//! Checks that need other records (a parent that exists and lies in the
//! caller's scope, a sentence not dated before its case, a closed quarter)
//! belong to the persistence layer, which reports them with [`FieldError`]
//! too.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::curp::validate_curp;
use crate::forms::{catalog_def, FieldSpec, FieldType, FormSpec, Rule};
use crate::i18n::Message;

/// The machine code of a [`FieldError`] (`errors[].code` of a problem,
/// `code` of an import report's row): one vocabulary, snake_case, stable:
/// clients branch on them. Serialized as [`FieldCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldCode {
    /// A property the form does not have (mass assignment is refused).
    UnknownField,
    /// A required field is missing, `null` or empty.
    Required,
    /// A value of the wrong JSON type (a number where text goes, a malformed UUID).
    WrongType,
    /// Text longer than the field's maximum length.
    TooLong,
    /// A number, or a date, outside the field's range.
    OutOfRange,
    /// Text that is not a valid date.
    InvalidDate,
    /// A date after today where the field records something that happened.
    DateInFuture,
    /// A date before the date of another field it must follow.
    DateOutOfOrder,
    /// A code that is not in the field's catalog or list of options.
    UnknownCode,
    /// A retired catalog code, on a record that did not have it already.
    InactiveCode,
    /// A municipality outside the record's entity.
    MunicipalityNotInEntity,
    /// A catalog item whose parent is not the value of its parent field
    /// (a determination of another procedural stage).
    NotInParent,
    /// Text in the wrong shape for its rule (username, e-mail, code) or
    /// with control characters.
    InvalidFormat,
    /// A CURP not in the official layout.
    CurpFormat,
    /// A CURP whose birth date does not exist.
    CurpDate,
    /// A CURP whose state key is none.
    CurpState,
    /// A CURP whose check digit does not match.
    CurpCheckDigit,
    AbbreviatedAfterTrial,
    CheckpointSignature,
    CodeRepeatedInFile,
    ControlCharacters,
    DateBeforeParent,
    EventOutOfOrder,
    FolioMismatch,
    FolioRepeatedInFile,
    ImmutableField,
    InactiveReference,
    Invalid,
    InvalidCursor,
    InvalidFilter,
    InvalidUsername,
    LabelTaken,
    NewAccountInactive,
    NewItemInactive,
    NotALaterCut,
    NotForExport,
    NotManageable,
    OutsideScope,
    OwnAccount,
    ParentImmutable,
    PasswordContainsUsername,
    PasswordLength,
    PasswordUnchanged,
    PeriodClosed,
    ReasonRequired,
    RecordRepeatedInFile,
    RoleNotGrantable,
    StageBackwards,
    UnknownCut,
    UnknownFilter,
    UnknownRecord,
    UnknownReference,
    UsernameRepeatedInFile,
    UsernameTaken,
    WrongPassword,
}

impl FieldCode {
    /// The code as the API and the import report carry it.
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldCode::UnknownField => "unknown_field",
            FieldCode::Required => "required",
            FieldCode::WrongType => "wrong_type",
            FieldCode::TooLong => "too_long",
            FieldCode::OutOfRange => "out_of_range",
            FieldCode::InvalidDate => "invalid_date",
            FieldCode::DateInFuture => "date_in_future",
            FieldCode::DateOutOfOrder => "date_out_of_order",
            FieldCode::UnknownCode => "unknown_code",
            FieldCode::InactiveCode => "inactive_code",
            FieldCode::MunicipalityNotInEntity => "municipality_not_in_entity",
            FieldCode::NotInParent => "not_in_parent",
            FieldCode::InvalidFormat => "invalid_format",
            FieldCode::CurpFormat => "curp_format",
            FieldCode::CurpDate => "curp_date",
            FieldCode::CurpState => "curp_state",
            FieldCode::CurpCheckDigit => "curp_check_digit",
            FieldCode::AbbreviatedAfterTrial => "abbreviated_after_trial",
            FieldCode::CheckpointSignature => "checkpoint_signature",
            FieldCode::CodeRepeatedInFile => "code_repeated_in_file",
            FieldCode::ControlCharacters => "control_characters",
            FieldCode::DateBeforeParent => "date_before_parent",
            FieldCode::EventOutOfOrder => "event_out_of_order",
            FieldCode::FolioMismatch => "folio_mismatch",
            FieldCode::FolioRepeatedInFile => "folio_repeated_in_file",
            FieldCode::ImmutableField => "immutable_field",
            FieldCode::InactiveReference => "inactive_reference",
            FieldCode::Invalid => "invalid",
            FieldCode::InvalidCursor => "invalid_cursor",
            FieldCode::InvalidFilter => "invalid_filter",
            FieldCode::InvalidUsername => "invalid_username",
            FieldCode::LabelTaken => "label_taken",
            FieldCode::NewAccountInactive => "new_account_inactive",
            FieldCode::NewItemInactive => "new_item_inactive",
            FieldCode::NotALaterCut => "not_a_later_cut",
            FieldCode::NotForExport => "not_for_export",
            FieldCode::NotManageable => "not_manageable",
            FieldCode::OutsideScope => "outside_scope",
            FieldCode::OwnAccount => "own_account",
            FieldCode::ParentImmutable => "parent_immutable",
            FieldCode::PasswordContainsUsername => "password_contains_username",
            FieldCode::PasswordLength => "password_length",
            FieldCode::PasswordUnchanged => "password_unchanged",
            FieldCode::PeriodClosed => "period_closed",
            FieldCode::ReasonRequired => "reason_required",
            FieldCode::RecordRepeatedInFile => "record_repeated_in_file",
            FieldCode::RoleNotGrantable => "role_not_grantable",
            FieldCode::StageBackwards => "stage_backwards",
            FieldCode::UnknownCut => "unknown_cut",
            FieldCode::UnknownFilter => "unknown_filter",
            FieldCode::UnknownRecord => "unknown_record",
            FieldCode::UnknownReference => "unknown_reference",
            FieldCode::UsernameRepeatedInFile => "username_repeated_in_file",
            FieldCode::UsernameTaken => "username_taken",
            FieldCode::WrongPassword => "wrong_password",
        }
    }
}

impl std::fmt::Display for FieldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FieldCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// So a code reads against the text a client sees (`code == "required"`).
impl PartialEq<&str> for FieldCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Earliest and latest dates any field accepts: older or later dates are
/// typing errors (a birth year 0984, a detection in 2204).
const MIN_DATE: (i32, u32, u32) = (1900, 1, 1);
const MAX_DATE: (i32, u32, u32) = (2099, 12, 31);

/// Access to the catalogs' items, so validation stays free of I/O: the
/// caller passes a cache or a preloaded set.
pub trait CatalogLookup {
    /// The item `code` of `catalog`, whether active or retired; `None` if it
    /// does not exist. Codes are asked for in upper case.
    fn lookup(&self, catalog: &str, code: &str) -> Option<CatalogEntry>;
}

/// What validation needs to know of a catalog item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Retired items stay readable but are refused in new data.
    pub active: bool,
    /// The parent item's code in hierarchical catalogs (a municipality's
    /// entity code).
    pub parent_code: Option<String>,
}

/// One problem with one field, as the API's `errors[]` and the Excel import
/// report carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's key (or, for `unknown_field`, the submitted property name).
    pub field: String,
    pub code: FieldCode,
    pub message: Message,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldCode, message: Message) -> FieldError {
        FieldError {
            field: field.into(),
            code,
            message,
        }
    }
}

/// Validates one record of `spec` and returns it normalized, or every
/// error found, in the order of the spec's fields (unknown properties last).
///
/// `input` is the whole writable body (absent fields count as empty: the
/// caller merges a partial update into the stored record first; reference
/// fields given by folio are resolved to ids before this call). `previous`
/// is the stored record on an update, `None` on a creation: a retired
/// catalog code is accepted only if the field already had it, so old data
/// stays valid while new data uses current codes. `today` is the date in
/// Mexico's time zone (dates may not lie after it where the spec says so).
///
/// The normalized record has every field of the spec: absent or empty ones
/// as `null`, or `[]` for multiple catalogs and references.
pub fn validate_record(
    spec: &FormSpec,
    input: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
    catalogs: &dyn CatalogLookup,
    today: NaiveDate,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut v = Validator {
        spec,
        previous,
        catalogs,
        today,
        out: Map::new(),
        errors: Vec::new(),
        failed: HashSet::new(),
        parents: Vec::new(),
    };
    for (index, field) in spec.fields.iter().enumerate() {
        let raw = input.get(field.key).unwrap_or(&Value::Null);
        v.check_field(index, field, raw);
    }
    v.check_cross_field_rules();
    for key in input.keys() {
        if spec.field(key).is_none() {
            let shown: String = key.chars().take(64).collect();
            let message = Message::new(
                format!(
                    "El campo «{shown}» no existe en el formulario «{}».",
                    spec.label.es
                ),
                format!(
                    "The field \"{shown}\" does not exist in the form \"{}\".",
                    spec.label.en
                ),
            );
            v.errors.push((
                usize::MAX,
                FieldError::new(shown, FieldCode::UnknownField, message),
            ));
        }
    }
    if v.errors.is_empty() {
        Ok(v.out)
    } else {
        v.errors.sort_by_key(|(index, _)| *index);
        Err(v.errors.into_iter().map(|(_, e)| e).collect())
    }
}

/// The (catalog, code) pairs a submitted record names, upper-cased as the
/// validator will read them: what a [`CatalogLookup`] must be able to
/// answer. Lets the caller fetch just those entries before validating.
pub fn catalog_refs(spec: &FormSpec, input: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for field in spec.fields {
        let FieldType::Catalog { catalog, .. } = field.ty else {
            continue;
        };
        let values: Vec<&Value> = match input.get(field.key) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
            None => vec![],
        };
        for v in values {
            if let Some(code) = v.as_str() {
                let code = code.trim().to_uppercase();
                if !code.is_empty() && code.len() <= 64 {
                    out.push((catalog.to_string(), code));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The keys of the personal-data fields of a form, in spec order.
pub fn personal_fields(spec: &FormSpec) -> impl Iterator<Item = &'static str> {
    spec.personal_fields()
}

/// What the audit log shows instead of a personal value.
pub const PERSONAL_MASK: &str = "[personal]";

/// Replaces the value of every personal field present and non-empty in
/// `record` with [`PERSONAL_MASK`], for roles and places that must not see
/// personal data.
pub fn mask_personal(spec: &FormSpec, record: &mut Map<String, Value>) {
    for key in spec.personal_fields() {
        if let Some(value) = record.get_mut(key) {
            if !is_empty(value) {
                *value = json!(PERSONAL_MASK);
            }
        }
    }
}

/// The audit log's `changes`: `{field: {"before": …, "after": …}}` for each
/// field of the spec whose value differs. Personal fields'
/// values are replaced by [`PERSONAL_MASK`] (an empty value stays `null`,
/// so the log shows that a personal field was filled in or cleared without
/// showing what it held). Properties outside the spec (system fields) are
/// ignored. `before` is empty on a creation, `after` on a deletion.
pub fn diff(
    spec: &FormSpec,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    let mut changes = Map::new();
    for field in spec.fields {
        let b = before.get(field.key).unwrap_or(&Value::Null);
        let a = after.get(field.key).unwrap_or(&Value::Null);
        if same_value(b, a) {
            continue;
        }
        let shown = |v: &Value| {
            if field.personal && !is_empty(v) {
                json!(PERSONAL_MASK)
            } else {
                v.clone()
            }
        };
        changes.insert(
            field.key.to_string(),
            json!({"before": shown(b), "after": shown(a)}),
        );
    }
    changes
}

/// `null`, `""` and `[]` all mean "no value".
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Equality that treats every empty value alike and compares numbers by
/// value (a stored `5.0` equals a submitted `5`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ if is_empty(a) && is_empty(b) => true,
        _ => a == b,
    }
}

/// Quotes a label: «…» in Spanish, "…" in English.
fn field_message(
    field: &FieldSpec,
    es: impl FnOnce(&str) -> String,
    en: impl FnOnce(&str) -> String,
) -> Message {
    Message::new(es(field.label.es), en(field.label.en))
}

/// Echoes a code only when it looks like one (upper-case letters, digits,
/// `_`, `-`, `.`, at most 30 characters); anything else may be personal
/// data typed in the wrong place.
fn shown_code(code: &str) -> Option<&str> {
    let looks_like_code = !code.is_empty()
        && code.chars().count() <= 30
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    looks_like_code.then_some(code)
}

struct Validator<'a> {
    spec: &'a FormSpec,
    previous: Option<&'a Map<String, Value>>,
    catalogs: &'a dyn CatalogLookup,
    today: NaiveDate,
    out: Map<String, Value>,
    errors: Vec<(usize, FieldError)>,
    /// Indexes of fields with an error, whose value cross-field rules skip.
    failed: HashSet<usize>,
    /// Codes of catalog fields with a `parent_field`, with their items'
    /// parent codes, checked once every field is known.
    parents: Vec<(usize, Vec<CodeWithParent>)>,
}

/// A valid catalog code and its item's parent code.
type CodeWithParent = (String, Option<String>);

/// What was wrong with one value: its code and message.
struct Problem(FieldCode, Message);

impl<'a> Validator<'a> {
    fn error(&mut self, index: usize, field: &FieldSpec, code: FieldCode, message: Message) {
        self.failed.insert(index);
        self.errors
            .push((index, FieldError::new(field.key, code, message)));
    }

    fn check_field(&mut self, index: usize, field: &'static FieldSpec, raw: &Value) {
        let normalized = match self.normalize(index, field, raw) {
            Ok(v) => v,
            Err(Problem(code, message)) => {
                self.error(index, field, code, message);
                return;
            }
        };
        if field.required && is_empty(&normalized) && !self.failed.contains(&index) {
            let message = field_message(
                field,
                |l| format!("El campo «{l}» es obligatorio."),
                |l| format!("The field \"{l}\" is required."),
            );
            self.error(index, field, FieldCode::Required, message);
        }
        self.out.insert(field.key.to_string(), normalized);
    }

    /// Checks the type and the single-field rules of one value and returns
    /// it normalized. Errors of a multiple field's items are recorded
    /// directly (there may be several); the first other error is returned.
    fn normalize(
        &mut self,
        index: usize,
        field: &'static FieldSpec,
        raw: &Value,
    ) -> Result<Value, Problem> {
        if raw.is_null() {
            return Ok(if field.ty.is_multiple() {
                json!([])
            } else {
                Value::Null
            });
        }
        match field.ty {
            FieldType::Text { max_length } => self.text(field, raw, max_length, false),
            FieldType::LongText { max_length } => self.text(field, raw, max_length, true),
            FieldType::Date => self.date(field, raw),
            FieldType::Integer { min, max } => integer(field, raw, min, max),
            FieldType::Decimal { min, max } => decimal(field, raw, min, max),
            FieldType::Boolean => match raw {
                Value::Bool(_) => Ok(raw.clone()),
                _ => Err(wrong_type(field)),
            },
            FieldType::Catalog {
                catalog,
                multiple,
                parent_field,
            } => self.catalog(index, field, raw, catalog, multiple, parent_field.is_some()),
            FieldType::Reference {
                multiple: false, ..
            }
            | FieldType::Uuid => {
                let s = plain_string(field, raw)?;
                match s {
                    None => Ok(Value::Null),
                    Some(s) => parse_uuid(&s)
                        .map(|u| json!(u))
                        .ok_or_else(|| wrong_type(field)),
                }
            }
            FieldType::Reference { multiple: true, .. } => {
                let Value::Array(items) = raw else {
                    return Err(wrong_type(field));
                };
                let mut ids: Vec<String> = Vec::new();
                for item in items {
                    let id = match item {
                        Value::String(s) if s.trim().is_empty() => continue,
                        Value::String(s) => parse_uuid(s).ok_or_else(|| wrong_type(field))?,
                        _ => return Err(wrong_type(field)),
                    };
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Ok(json!(ids))
            }
            FieldType::Curp => {
                let Some(s) = plain_string(field, raw)? else {
                    return Ok(Value::Null);
                };
                validate_curp(&s)
                    .map(|c| json!(c.as_str()))
                    .map_err(|e| Problem(e.code(), e.message()))
            }
            FieldType::Choice { options } => {
                let Some(s) = plain_string(field, raw)? else {
                    return Ok(Value::Null);
                };
                if let Some(option) = options.iter().find(|o| o.code.eq_ignore_ascii_case(&s)) {
                    return Ok(json!(option.code));
                }
                let list = options
                    .iter()
                    .map(|o| o.code)
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(Problem(
                    FieldCode::UnknownCode,
                    field_message(
                        field,
                        |l| format!("El campo «{l}» admite solo estos valores: {list}."),
                        |l| format!("The field \"{l}\" accepts only these values: {list}."),
                    ),
                ))
            }
        }
    }

    fn text(
        &mut self,
        field: &FieldSpec,
        raw: &Value,
        max_length: usize,
        multiline: bool,
    ) -> Result<Value, Problem> {
        let Value::String(s) = raw else {
            return Err(wrong_type(field));
        };
        let s: String = s.trim().nfc().collect();
        if s.is_empty() {
            return Ok(Value::Null);
        }
        let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
        if !s.chars().all(allowed) {
            return Err(invalid_format(
                field,
                "contiene caracteres de control",
                "it contains control characters",
            ));
        }
        if s.chars().count() > max_length {
            return Err(Problem(
                FieldCode::TooLong,
                field_message(
                    field,
                    |l| format!("El campo «{l}» excede {max_length} caracteres."),
                    |l| format!("The field \"{l}\" exceeds {max_length} characters."),
                ),
            ));
        }
        let mut s = s;
        for rule in field.rules {
            s = match rule {
                Rule::Username => {
                    let s = s.to_lowercase();
                    if !is_username(&s) {
                        return Err(invalid_format(
                            field,
                            "use de 3 a 64 minúsculas, dígitos, punto, guion o guion bajo, \
                             comenzando con letra o dígito",
                            "use 3 to 64 lower-case letters, digits, dots, hyphens or \
                             underscores, starting with a letter or digit",
                        ));
                    }
                    s
                }
                Rule::Email => {
                    let s = s.to_lowercase();
                    if !is_email(&s) {
                        return Err(invalid_format(
                            field,
                            "escriba una dirección como nombre@dominio.gob.mx",
                            "write an address such as name@domain.gob.mx",
                        ));
                    }
                    s
                }
                Rule::Code => {
                    let s = s.to_uppercase();
                    if !s
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                    {
                        return Err(invalid_format(
                            field,
                            "use solo mayúsculas sin acentos, dígitos y guion bajo",
                            "use only unaccented capitals, digits and underscores",
                        ));
                    }
                    s
                }
                Rule::MissingReportFolio => {
                    match crate::missing_report::parse(&s, self.today.year()) {
                        Ok(folio) => folio.as_str().to_owned(),
                        Err(crate::missing_report::FolioError::Layout) => {
                            return Err(invalid_format(
                                field,
                                "escriba CNB-AAAA-número (Comisión Nacional de Búsqueda) o \
                                 CLBEE-AAAA-número (comisión local de búsqueda de la entidad EE), \
                                 por ejemplo CNB-2024-000123",
                                "write CNB-YYYY-number (National Search Commission) or \
                                 CLBEE-YYYY-number (local search commission of entity EE), \
                                 for example CNB-2024-000123",
                            ))
                        }
                        Err(crate::missing_report::FolioError::Year) => {
                            return Err(invalid_format(
                                field,
                                "el año del reporte debe estar entre 1990 y el año en curso",
                                "the report's year must lie between 1990 and the current year",
                            ))
                        }
                    }
                }
                Rule::NotFuture | Rule::NotBefore(_) | Rule::ParentItem(_) => s,
            };
        }
        Ok(json!(s))
    }

    fn date(&mut self, field: &FieldSpec, raw: &Value) -> Result<Value, Problem> {
        let Some(s) = plain_string(field, raw)? else {
            return Ok(Value::Null);
        };
        let date = parse_date(&s).ok_or_else(|| {
            Problem(
                FieldCode::InvalidDate,
                field_message(
                    field,
                    |l| {
                        format!("El campo «{l}» no es una fecha válida; use el formato AAAA-MM-DD.")
                    },
                    |l| {
                        format!("The field \"{l}\" is not a valid date; use the format YYYY-MM-DD.")
                    },
                ),
            )
        })?;
        let (min, max) = (ymd(MIN_DATE), ymd(MAX_DATE));
        if date < min || date > max {
            return Err(Problem(
                FieldCode::OutOfRange,
                field_message(
                    field,
                    |l| format!("El campo «{l}» debe ser una fecha entre {min} y {max}."),
                    |l| format!("The field \"{l}\" must be a date between {min} and {max}."),
                ),
            ));
        }
        if field.rules.contains(&Rule::NotFuture) && date > self.today {
            return Err(Problem(
                FieldCode::DateInFuture,
                field_message(
                    field,
                    |l| format!("El campo «{l}» no puede ser una fecha posterior a hoy."),
                    |l| format!("The field \"{l}\" cannot be a date later than today."),
                ),
            ));
        }
        Ok(json!(date.format("%Y-%m-%d").to_string()))
    }

    fn catalog(
        &mut self,
        index: usize,
        field: &'static FieldSpec,
        raw: &Value,
        catalog: &'static str,
        multiple: bool,
        has_parent: bool,
    ) -> Result<Value, Problem> {
        let mut codes_in: Vec<String> = Vec::new();
        if multiple {
            let Value::Array(items) = raw else {
                return Err(wrong_type(field));
            };
            for item in items {
                let Value::String(s) = item else {
                    return Err(wrong_type(field));
                };
                let code = normalize_code(s);
                if !code.is_empty() && !codes_in.contains(&code) {
                    codes_in.push(code);
                }
            }
        } else {
            match plain_string(field, raw)? {
                None => return Ok(Value::Null),
                Some(s) => codes_in.push(normalize_code(&s)),
            }
        }
        let mut with_parents = Vec::new();
        for code in &codes_in {
            let Some(entry) = self.catalogs.lookup(catalog, code) else {
                let message = match shown_code(code).filter(|_| !field.personal) {
                    Some(c) => field_message(
                        field,
                        |l| format!("La clave «{c}» del campo «{l}» no existe en el catálogo."),
                        |l| format!("The code \"{c}\" of the field \"{l}\" is not in the catalog."),
                    ),
                    None => field_message(
                        field,
                        |l| format!("El campo «{l}» tiene una clave que no existe en el catálogo."),
                        |l| format!("The field \"{l}\" has a code that is not in the catalog."),
                    ),
                };
                self.error(index, field, FieldCode::UnknownCode, message);
                continue;
            };
            if !entry.active && !self.previously_had(field.key, code) {
                let message = field_message(
                    field,
                    |l| {
                        format!(
                            "La clave «{code}» del campo «{l}» está dada de baja en el catálogo y ya \
                             no se admite en registros nuevos."
                        )
                    },
                    |l| {
                        format!(
                            "The code \"{code}\" of the field \"{l}\" has been retired from the \
                             catalog and is no longer accepted in new data."
                        )
                    },
                );
                self.error(index, field, FieldCode::InactiveCode, message);
                continue;
            }
            with_parents.push((code.clone(), entry.parent_code));
        }
        if has_parent {
            self.parents.push((index, with_parents));
        }
        Ok(if multiple {
            json!(codes_in)
        } else {
            json!(codes_in[0])
        })
    }

    /// Whether the stored record already had this code in this field.
    fn previously_had(&self, key: &str, code: &str) -> bool {
        match self.previous.and_then(|p| p.get(key)) {
            Some(Value::String(s)) => s.eq_ignore_ascii_case(code),
            Some(Value::Array(items)) => items
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(code))),
            _ => false,
        }
    }

    /// The normalized value of a field that passed its own checks.
    fn valid_value(&self, key: &str) -> Option<&Value> {
        let index = self.spec.field_index(key)?;
        if self.failed.contains(&index) {
            return None;
        }
        self.out.get(key).filter(|v| !is_empty(v))
    }

    /// Rules that relate two fields: date order, catalog hierarchy and a
    /// catalog item's parent. Run after every field is normalized, and only
    /// on values that passed their own checks.
    fn check_cross_field_rules(&mut self) {
        let spec = self.spec;
        for (index, field) in spec.fields.iter().enumerate() {
            for rule in field.rules {
                match *rule {
                    Rule::NotBefore(other) => self.check_not_before(index, field, other),
                    Rule::ParentItem(catalog_field) => {
                        self.check_parent_item(index, field, catalog_field)
                    }
                    _ => {}
                }
            }
        }
        for (index, items) in std::mem::take(&mut self.parents) {
            let field = &spec.fields[index];
            let FieldType::Catalog {
                catalog,
                parent_field: Some(parent_key),
                ..
            } = field.ty
            else {
                continue;
            };
            // The spec tests hold every `parent_field` to a field of its form.
            let (Some(parent), Some(parent_index)) =
                (spec.field(parent_key), spec.field_index(parent_key))
            else {
                continue;
            };
            if self.failed.contains(&parent_index) {
                continue;
            }
            let parent_codes: Vec<String> = match self.out.get(parent_key) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            };
            if items.is_empty() {
                continue;
            }
            if parent_codes.is_empty() {
                let message = Message::new(
                    format!(
                        "El campo «{}» es obligatorio cuando se indica el campo «{}».",
                        parent.label.es, field.label.es
                    ),
                    format!(
                        "The field \"{}\" is required when the field \"{}\" is given.",
                        parent.label.en, field.label.en
                    ),
                );
                self.error(parent_index, parent, FieldCode::Required, message);
                continue;
            }
            for (code, item_parent) in items {
                let Some(item_parent) = item_parent else {
                    continue;
                };
                if parent_codes.contains(&item_parent) {
                    continue;
                }
                let parent_code = parent_codes.join(", ");
                let (code_name, message) = if catalog == "municipality" {
                    (
                        FieldCode::MunicipalityNotInEntity,
                        Message::new(
                            format!("El municipio {code} no pertenece a la entidad {parent_code}."),
                            format!("Municipality {code} does not belong to entity {parent_code}."),
                        ),
                    )
                } else {
                    (
                        FieldCode::NotInParent,
                        Message::new(
                            format!(
                                "La clave «{code}» del campo «{}» no corresponde a «{parent_code}» \
                                 del campo «{}».",
                                field.label.es, parent.label.es
                            ),
                            format!(
                                "The code \"{code}\" of the field \"{}\" does not belong to \
                                 \"{parent_code}\" of the field \"{}\".",
                                field.label.en, parent.label.en
                            ),
                        ),
                    )
                };
                self.error(index, field, code_name, message);
            }
        }
    }

    fn check_not_before(&mut self, index: usize, field: &FieldSpec, other: &str) {
        let (Some(this), Some(that)) = (self.valid_value(field.key), self.valid_value(other))
        else {
            return;
        };
        // Both are normalized `YYYY-MM-DD`, which orders as text.
        if this.as_str() >= that.as_str() {
            return;
        }
        // A value was found under `other`, so the spec has that field.
        let Some(other_field) = self.spec.field(other) else {
            return;
        };
        let message = Message::new(
            format!(
                "El campo «{}» no puede ser anterior al campo «{}».",
                field.label.es, other_field.label.es
            ),
            format!(
                "The field \"{}\" cannot be earlier than the field \"{}\".",
                field.label.en, other_field.label.en
            ),
        );
        self.error(index, field, FieldCode::DateOutOfOrder, message);
    }

    fn check_parent_item(&mut self, index: usize, field: &FieldSpec, catalog_field: &str) {
        let Some(def) = self
            .valid_value(catalog_field)
            .and_then(Value::as_str)
            .and_then(catalog_def)
        else {
            return;
        };
        if self.failed.contains(&index) {
            return;
        }
        let code = self
            .out
            .get(field.key)
            .and_then(Value::as_str)
            .map(String::from);
        let problem = match (def.parent, code) {
            (None, None) => return,
            (None, Some(_)) => (
                FieldCode::NotInParent,
                Message::new(
                    format!(
                        "El catálogo «{}» no es jerárquico: deje vacío el campo «{}».",
                        def.label.es, field.label.es
                    ),
                    format!(
                        "The catalog \"{}\" is not hierarchical: leave the field \"{}\" empty.",
                        def.label.en, field.label.en
                    ),
                ),
            ),
            (Some(parent), None) => {
                let parent_label = catalog_def(parent).map_or(parent, |d| d.label.es);
                (
                    FieldCode::Required,
                    Message::new(
                        format!(
                            "El campo «{}» es obligatorio en el catálogo «{}»: indique la clave \
                             de su elemento del catálogo «{parent_label}».",
                            field.label.es, def.label.es
                        ),
                        format!(
                            "The field \"{}\" is required in the catalog \"{}\": give the code \
                             of its item in the catalog \"{}\".",
                            field.label.en,
                            def.label.en,
                            catalog_def(parent).map_or(parent, |d| d.label.en)
                        ),
                    ),
                )
            }
            (Some(parent), Some(code)) => {
                if self.catalogs.lookup(parent, &code).is_some() {
                    return;
                }
                let parent_def = catalog_def(parent);
                (
                    FieldCode::UnknownCode,
                    Message::new(
                        format!(
                            "La clave «{code}» del campo «{}» no existe en el catálogo «{}».",
                            field.label.es,
                            parent_def.map_or(parent, |d| d.label.es)
                        ),
                        format!(
                            "The code \"{code}\" of the field \"{}\" is not in the catalog \"{}\".",
                            field.label.en,
                            parent_def.map_or(parent, |d| d.label.en)
                        ),
                    ),
                )
            }
        };
        self.error(index, field, problem.0, problem.1);
    }
}

fn wrong_type(field: &FieldSpec) -> Problem {
    let (es, en) = match field.ty {
        FieldType::Text { .. } | FieldType::LongText { .. } | FieldType::Curp => {
            ("un texto", "text")
        }
        FieldType::Date => (
            "una fecha con formato AAAA-MM-DD",
            "a date formatted YYYY-MM-DD",
        ),
        FieldType::Integer { .. } => ("un número entero", "a whole number"),
        FieldType::Decimal { .. } => ("un número", "a number"),
        FieldType::Boolean => ("verdadero o falso (true o false)", "true or false"),
        FieldType::Catalog {
            multiple: false, ..
        } => ("una clave de catálogo (texto)", "a catalog code (text)"),
        FieldType::Catalog { multiple: true, .. } => {
            ("una lista de claves de catálogo", "a list of catalog codes")
        }
        FieldType::Reference { multiple: true, .. } => {
            ("una lista de identificadores UUID", "a list of UUIDs")
        }
        FieldType::Reference {
            multiple: false, ..
        }
        | FieldType::Uuid => ("un identificador UUID", "a UUID"),
        FieldType::Choice { .. } => ("un texto", "text"),
    };
    Problem(
        FieldCode::WrongType,
        field_message(
            field,
            |l| format!("El campo «{l}» debe ser {es}."),
            |l| format!("The field \"{l}\" must be {en}."),
        ),
    )
}

fn invalid_format(field: &FieldSpec, es: &str, en: &str) -> Problem {
    Problem(
        FieldCode::InvalidFormat,
        field_message(
            field,
            |l| format!("El campo «{l}» no tiene un formato válido: {es}."),
            |l| format!("The field \"{l}\" is not well formed: {en}."),
        ),
    )
}

/// A string value, trimmed; `None` when blank. Control characters are
/// refused here so they never reach a lookup or the database.
fn plain_string(field: &FieldSpec, raw: &Value) -> Result<Option<String>, Problem> {
    let Value::String(s) = raw else {
        return Err(wrong_type(field));
    };
    let s = s.trim();
    if s.chars().any(char::is_control) {
        return Err(invalid_format(
            field,
            "contiene caracteres de control",
            "it contains control characters",
        ));
    }
    Ok((!s.is_empty()).then(|| s.to_string()))
}

fn normalize_code(s: &str) -> String {
    s.trim().to_uppercase()
}

fn parse_uuid(s: &str) -> Option<String> {
    Uuid::parse_str(s.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

// Called with the module's date constants only, which are real dates.
#[allow(clippy::expect_used)]
fn ymd((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid constant date")
}

/// `YYYY-MM-DD` (ISO 8601, what the API documents) or `DD/MM/YYYY` (how
/// dates are written in Mexico, and often typed as text in spreadsheets).
/// Exact widths: `2024-6-3` or `3/6/24` are ambiguous typing and refused.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let numbers = |parts: Vec<&str>, widths: [usize; 3]| -> Option<[u32; 3]> {
        if parts.len() != 3 {
            return None;
        }
        let mut out = [0; 3];
        for (i, part) in parts.iter().enumerate() {
            if part.len() != widths[i] || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            out[i] = part.parse().ok()?;
        }
        Some(out)
    };
    let [y, m, d] = if let Some(n) = numbers(s.split('-').collect(), [4, 2, 2]) {
        n
    } else {
        let [d, m, y] = numbers(s.split('/').collect(), [2, 2, 4])?;
        [y, m, d]
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
}

fn integer(field: &FieldSpec, raw: &Value, min: i64, max: i64) -> Result<Value, Problem> {
    let Value::Number(n) = raw else {
        return Err(wrong_type(field));
    };
    let value = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Some(i),
        // 12.0 (as spreadsheets send numbers) is a whole number.
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        (None, Some(f)) if f.fract() != 0.0 => return Err(wrong_type(field)),
        _ => None,
    };
    match value {
        Some(i) if (min..=max).contains(&i) => Ok(json!(i)),
        _ => Err(out_of_range(field, min, max)),
    }
}

fn decimal(field: &FieldSpec, raw: &Value, min: f64, max: f64) -> Result<Value, Problem> {
    let Value::Number(n) = raw else {
        return Err(wrong_type(field));
    };
    match n.as_f64() {
        Some(f) if f.is_finite() && f >= min && f <= max => Ok(raw.clone()),
        _ => Err(out_of_range(field, min, max)),
    }
}

fn out_of_range(
    field: &FieldSpec,
    min: impl std::fmt::Display,
    max: impl std::fmt::Display,
) -> Problem {
    Problem(
        FieldCode::OutOfRange,
        field_message(
            field,
            |l| format!("El campo «{l}» debe estar entre {min} y {max}."),
            |l| format!("The field \"{l}\" must be between {min} and {max}."),
        ),
    )
}

fn is_username(s: &str) -> bool {
    let len = s.chars().count();
    (3..=64).contains(&len)
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{all_specs, spec, FormKey};
    use std::collections::{BTreeSet, HashMap};

    /// A small catalog set: what the seed would hold, with a few retired codes.
    struct Catalogs(HashMap<(&'static str, &'static str), CatalogEntry>);

    impl Catalogs {
        fn new() -> Catalogs {
            let mut m = HashMap::new();
            let mut add = |catalog, code, active, parent: Option<&str>| {
                m.insert(
                    (catalog, code),
                    CatalogEntry {
                        active,
                        parent_code: parent.map(String::from),
                    },
                );
            };
            add("victim_condition", "VICTIMA", true, None);
            add("victim_condition", "POSIBLE_VICTIMA", true, None);
            add("sex", "MUJER", true, None);
            add("sex", "HOMBRE", true, None);
            add("sex", "NO_ESPECIFICADO", false, None);
            add("entity", "09", true, None);
            add("entity", "19", true, None);
            add("municipality", "19039", true, Some("19"));
            add("municipality", "09015", true, Some("09"));
            add("country", "MEX", true, None);
            add("exploitation_form", "EXPLOTACION_SEXUAL", true, None);
            add("exploitation_form", "EXPLOTACION_LABORAL", true, None);
            add("exploitation_form", "ANTIGUA", false, None);
            add("investigation_type", "CARPETA_INVESTIGACION", true, None);
            add("fuero", "COMUN", true, None);
            add("fuero", "FEDERAL", true, None);
            add("crime", "ART_10", true, None);
            add("procedural_stage", "INV_INICIAL", true, None);
            add("procedural_stage", "JUICIO", true, None);
            add(
                "determination",
                "ARCHIVO_TEMPORAL",
                true,
                Some("INV_INICIAL"),
            );
            add(
                "determination",
                "SENTENCIA_CONDENATORIA",
                true,
                Some("JUICIO"),
            );
            Catalogs(m)
        }
    }

    impl CatalogLookup for Catalogs {
        fn lookup(&self, catalog: &str, code: &str) -> Option<CatalogEntry> {
            self.0
                .iter()
                .find(|((c, k), _)| *c == catalog && *k == code)
                .map(|(_, e)| e.clone())
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 7, 11).unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn victim() -> Map<String, Value> {
        obj(json!({
            "condition": "VICTIMA",
            "given_names": "MARÍA GUADALUPE",
            "first_surname": "HERNÁNDEZ",
            "sex": "MUJER",
            "birth_date": "1990-05-17",
            "detection_date": "2024-06-03",
            "detection_entity_code": "19",
            "detection_municipality_code": "19039",
            "exploitation_forms": ["EXPLOTACION_SEXUAL"],
        }))
    }

    fn investigation() -> Map<String, Value> {
        obj(json!({
            "investigation_type": "CARPETA_INVESTIGACION",
            "folio": "FGJNL/2024/0001",
            "opening_date": "2024-01-10",
            "fuero": "COMUN",
            "crimes": ["ART_10"],
            "entity_code": "19",
        }))
    }

    fn check(
        form: FormKey,
        input: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<FieldError>> {
        validate_record(spec(form), input, None, &Catalogs::new(), today())
    }

    fn errors(form: FormKey, input: &Map<String, Value>) -> Vec<FieldError> {
        check(form, input).expect_err("should be refused")
    }

    /// The (field, code) pairs of the errors.
    fn pairs(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    fn with(mut record: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
        record.insert(key.into(), value);
        record
    }

    #[test]
    fn a_valid_record_is_normalized() {
        let mut input = victim();
        input.insert("given_names".into(), json!("  María Guadalupe "));
        input.insert("second_surname".into(), json!("   "));
        input.insert("sex".into(), json!(" mujer"));
        input.insert("curp".into(), json!("sabc560626mdflrn01"));
        input.insert("birth_date".into(), json!("17/05/1990"));
        input.insert("age_at_detection".into(), json!(34.0));
        input.insert(
            "exploitation_forms".into(),
            json!([
                "explotacion_sexual",
                "EXPLOTACION_SEXUAL",
                "",
                "EXPLOTACION_LABORAL"
            ]),
        );
        // Decomposed "é" (e + combining acute) becomes the composed character.
        input.insert("alias".into(), json!("Rene\u{301}"));
        let out = check(FormKey::Victim, &input).unwrap();
        assert_eq!(out["given_names"], "María Guadalupe");
        assert_eq!(out["second_surname"], Value::Null);
        assert_eq!(out["sex"], "MUJER");
        assert_eq!(out["curp"], "SABC560626MDFLRN01");
        assert_eq!(out["birth_date"], "1990-05-17");
        assert_eq!(out["age_at_detection"], 34);
        assert_eq!(
            out["exploitation_forms"],
            json!(["EXPLOTACION_SEXUAL", "EXPLOTACION_LABORAL"])
        );
        assert_eq!(out["alias"], "René");
        assert_eq!(out["control_means"], json!([]));
        assert_eq!(out["consent_to_share"], Value::Null);
        let keys: Vec<_> = out
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let spec_keys: Vec<_> = spec(FormKey::Victim)
            .fields
            .iter()
            .map(|f| f.key)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(keys, spec_keys);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let input = with(victim(), "id", json!("0193"));
        let input = with(input, "password_hash", json!("x"));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![("id", "unknown_field"), ("password_hash", "unknown_field")]
        );
        assert_eq!(
            errs[0].message.es,
            "El campo «id» no existe en el formulario «Víctima o posible víctima»."
        );
    }

    #[test]
    fn required_fields_must_have_a_value() {
        let mut input = victim();
        input.remove("sex");
        input.insert("condition".into(), Value::Null);
        input.insert("detection_date".into(), json!("  "));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("condition", "required"),
                ("sex", "required"),
                ("detection_date", "required")
            ]
        );
        assert_eq!(errs[1].message.es, "El campo «Sexo» es obligatorio.");
        assert_eq!(errs[1].message.en, "The field \"Sex\" is required.");

        let errs = errors(
            FormKey::Investigation,
            &with(investigation(), "crimes", json!([])),
        );
        assert_eq!(pairs(&errs), vec![("crimes", "required")]);
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        let input = with(victim(), "first_surname", json!(12));
        let input = with(input, "age_at_detection", json!("12"));
        let input = with(input, "consent_to_share", json!("sí"));
        let input = with(input, "exploitation_forms", json!("EXPLOTACION_SEXUAL"));
        let input = with(input, "sex", json!(["MUJER"]));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("first_surname", "wrong_type"),
                ("sex", "wrong_type"),
                ("age_at_detection", "wrong_type"),
                ("exploitation_forms", "wrong_type"),
                ("consent_to_share", "wrong_type"),
            ]
        );
        assert_eq!(
            errs[2].message.es,
            "El campo «Edad al momento de la detección» debe ser un número entero."
        );
        let fractional = with(victim(), "age_at_detection", json!(12.5));
        assert_eq!(
            pairs(&errors(FormKey::Victim, &fractional)),
            vec![("age_at_detection", "wrong_type")]
        );

        let attention =
            obj(json!({"victim_id": "not-a-uuid", "date": "2024-01-01", "service": "X"}));
        let errs = validate_record(
            spec(FormKey::Attention),
            &attention,
            None,
            &AllCodes,
            today(),
        )
        .unwrap_err();
        assert_eq!(pairs(&errs), vec![("victim_id", "wrong_type")]);
        let links = with(
            investigation(),
            "victim_ids",
            json!(["01936f0e-6c1a-7b3e-9a51-2f0f7d2c4b10", 7]),
        );
        assert_eq!(
            pairs(&errors(FormKey::Investigation, &links)),
            vec![("victim_ids", "wrong_type")]
        );
    }

    #[test]
    fn references_are_normalized_uuids() {
        let id = "01936F0E-6C1A-7B3E-9A51-2F0F7D2C4B10";
        let attention = obj(json!({"victim_id": id, "date": "2024-01-01", "service": "JURIDICA"}));
        let out = validate_record(
            spec(FormKey::Attention),
            &attention,
            None,
            &AllCodes,
            today(),
        )
        .unwrap();
        assert_eq!(out["victim_id"], id.to_lowercase());
        let links = with(
            investigation(),
            "victim_ids",
            json!([id, id.to_lowercase()]),
        );
        let out = check(FormKey::Investigation, &links).unwrap();
        assert_eq!(out["victim_ids"], json!([id.to_lowercase()]));
    }

    #[test]
    fn long_text_is_refused_without_echoing_it() {
        let long = "X".repeat(101);
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "first_surname", json!(long)),
        );
        assert_eq!(pairs(&errs), vec![("first_surname", "too_long")]);
        assert_eq!(
            errs[0].message.es,
            "El campo «Primer apellido» excede 100 caracteres."
        );
        assert!(!errs[0].message.es.contains(&long));
        // Length counts characters, not bytes.
        let accented = "Á".repeat(100);
        assert!(check(
            FormKey::Victim,
            &with(victim(), "first_surname", json!(accented))
        )
        .is_ok());
    }

    #[test]
    fn numbers_and_dates_out_of_range_are_refused() {
        let input = with(victim(), "age_at_detection", json!(121));
        let input = with(input, "birth_date", json!("1850-01-01"));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("birth_date", "out_of_range"),
                ("age_at_detection", "out_of_range")
            ]
        );
        assert_eq!(
            errs[1].message.es,
            "El campo «Edad al momento de la detección» debe estar entre 0 y 120."
        );
        let huge = with(victim(), "age_at_detection", json!(u64::MAX));
        assert_eq!(
            pairs(&errors(FormKey::Victim, &huge)),
            vec![("age_at_detection", "out_of_range")]
        );

        let sentence = obj(json!({
            "defendant_id": "01936f0e-6c1a-7b3e-9a51-2f0f7d2c4b10",
            "crime": "ART_10", "date": "2024-01-01", "sentence_type": "CONDENATORIA",
            "prison_months": 12, "reparation_amount": -0.5,
        }));
        let errs = validate_record(spec(FormKey::Sentence), &sentence, None, &AllCodes, today())
            .unwrap_err();
        assert_eq!(
            pairs(&errs),
            vec![
                ("prison_months", "out_of_range"),
                ("reparation_amount", "out_of_range")
            ]
        );
        let sentence = with(
            with(sentence, "prison_months", json!(6)),
            "reparation_amount",
            json!(150000.75),
        );
        let out =
            validate_record(spec(FormKey::Sentence), &sentence, None, &AllCodes, today()).unwrap();
        assert_eq!(out["reparation_amount"], json!(150000.75));
    }

    #[test]
    fn impossible_or_malformed_dates_are_invalid() {
        for bad in [
            "2024-02-30",
            "ayer",
            "2024-6-3",
            "3/6/24",
            "2024-06-03T10:00:00Z",
            "31/02/2024",
        ] {
            let errs = errors(
                FormKey::Victim,
                &with(victim(), "detection_date", json!(bad)),
            );
            assert_eq!(
                pairs(&errs),
                vec![("detection_date", "invalid_date")],
                "{bad}"
            );
        }
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "birth_date", json!("1990-13-01")),
        );
        assert_eq!(
            errs[0].message.es,
            "El campo «Fecha de nacimiento» no es una fecha válida; use el formato AAAA-MM-DD."
        );
        assert!(!errs[0].message.es.contains("1990-13-01"));
        assert!(check(
            FormKey::Victim,
            &with(victim(), "birth_date", json!("2000-02-29"))
        )
        .is_ok());
    }

    #[test]
    fn dates_after_today_are_refused_where_they_record_the_past() {
        let input = with(victim(), "detection_date", json!("2024-07-12"));
        let input = with(input, "birth_date", json!("2030-01-01"));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("birth_date", "date_in_future"),
                ("detection_date", "date_in_future")
            ]
        );
        assert_eq!(
            errs[0].message.es,
            "El campo «Fecha de nacimiento» no puede ser una fecha posterior a hoy."
        );
        // Today itself is fine, and a commission may be installed at any past date.
        assert!(check(
            FormKey::Victim,
            &with(victim(), "detection_date", json!("2024-07-11"))
        )
        .is_ok());
        let commission = obj(json!({
            "name": "Comisión Intersecretarial", "kind": "COMISION", "entity_code": "09",
            "installation_date": "1950-01-01",
        }));
        assert!(validate_record(
            spec(FormKey::Commission),
            &commission,
            None,
            &AllCodes,
            today()
        )
        .is_ok());
        // A due date may lie in the future.
        let agreement = obj(json!({
            "session_id": "01936f0e-6c1a-7b3e-9a51-2f0f7d2c4b10", "key": "A/1",
            "text": "Acuerdo", "status": "PENDIENTE", "due_date": "2030-12-31",
        }));
        assert!(validate_record(
            spec(FormKey::Agreement),
            &agreement,
            None,
            &AllCodes,
            today()
        )
        .is_ok());
    }

    #[test]
    fn dates_must_follow_the_dates_they_depend_on() {
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "detection_date", json!("1990-05-16")),
        );
        assert_eq!(pairs(&errs), vec![("detection_date", "date_out_of_order")]);
        assert_eq!(
            errs[0].message.es,
            "El campo «Fecha de detección» no puede ser anterior al campo «Fecha de nacimiento»."
        );
        let input = with(investigation(), "determination_date", json!("2024-01-09"));
        let errs = errors(FormKey::Investigation, &input);
        assert_eq!(
            pairs(&errs),
            vec![("determination_date", "date_out_of_order")]
        );
        let same_day = with(investigation(), "determination_date", json!("2024-01-10"));
        assert!(check(FormKey::Investigation, &same_day).is_ok());
        // Without the other date there is nothing to compare.
        let mut no_birth = victim();
        no_birth.remove("birth_date");
        assert!(check(FormKey::Victim, &no_birth).is_ok());
    }

    #[test]
    fn unknown_codes_are_refused_and_only_code_like_values_echoed() {
        let errs = errors(FormKey::Victim, &with(victim(), "sex", json!("MUJERR")));
        assert_eq!(pairs(&errs), vec![("sex", "unknown_code")]);
        assert_eq!(
            errs[0].message.es,
            "La clave «MUJERR» del campo «Sexo» no existe en el catálogo."
        );

        // A name typed into the wrong column is not repeated back.
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "sex", json!("María López")),
        );
        assert_eq!(pairs(&errs), vec![("sex", "unknown_code")]);
        assert!(!errs[0].message.es.to_uppercase().contains("LÓPEZ"));

        let input = with(
            victim(),
            "exploitation_forms",
            json!(["NOPE", "EXPLOTACION_SEXUAL", "OTRA"]),
        );
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("exploitation_forms", "unknown_code"),
                ("exploitation_forms", "unknown_code")
            ]
        );
    }

    #[test]
    fn inactive_codes_are_refused_in_new_data_but_kept_in_old_data() {
        let s = spec(FormKey::Victim);
        let catalogs = Catalogs::new();
        let retired = with(victim(), "sex", json!("NO_ESPECIFICADO"));
        let errs = validate_record(s, &retired, None, &catalogs, today()).unwrap_err();
        assert_eq!(pairs(&errs), vec![("sex", "inactive_code")]);
        assert!(errs[0].message.es.contains("dada de baja"));

        // An update of a record that already had the code keeps it.
        let stored = with(victim(), "sex", json!("NO_ESPECIFICADO"));
        assert!(validate_record(s, &retired, Some(&stored), &catalogs, today()).is_ok());
        // An update that introduces it is refused.
        let errs = validate_record(s, &retired, Some(&victim()), &catalogs, today()).unwrap_err();
        assert_eq!(pairs(&errs), vec![("sex", "inactive_code")]);

        // In lists, per code.
        let stored = with(victim(), "exploitation_forms", json!(["ANTIGUA"]));
        let input = with(
            victim(),
            "exploitation_forms",
            json!(["ANTIGUA", "EXPLOTACION_LABORAL"]),
        );
        assert!(validate_record(s, &input, Some(&stored), &catalogs, today()).is_ok());
        assert_eq!(
            pairs(&validate_record(s, &input, None, &catalogs, today()).unwrap_err()),
            vec![("exploitation_forms", "inactive_code")]
        );
    }

    #[test]
    fn the_municipality_must_lie_in_the_entity() {
        let input = with(victim(), "detection_municipality_code", json!("09015"));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![("detection_municipality_code", "municipality_not_in_entity")]
        );
        assert_eq!(
            errs[0].message.es,
            "El municipio 09015 no pertenece a la entidad 19."
        );

        let input = with(
            with(victim(), "detection_entity_code", json!("09")),
            "detection_municipality_code",
            json!("09015"),
        );
        assert!(check(FormKey::Victim, &input).is_ok());

        // A municipality without its entity asks for the entity.
        let input = with(victim(), "detection_entity_code", json!(""));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(pairs(&errs), vec![("detection_entity_code", "required")]);

        // An unknown entity is reported once, not again as a mismatch.
        let input = with(victim(), "detection_entity_code", json!("99"));
        assert_eq!(
            pairs(&errors(FormKey::Victim, &input)),
            vec![("detection_entity_code", "unknown_code")]
        );
    }

    #[test]
    fn hierarchical_catalogs_other_than_places_use_not_in_parent() {
        let input = with(investigation(), "stage", json!("JUICIO"));
        let input = with(input, "determination", json!("ARCHIVO_TEMPORAL"));
        let errs = errors(FormKey::Investigation, &input);
        assert_eq!(pairs(&errs), vec![("determination", "not_in_parent")]);
        assert_eq!(
            errs[0].message.es,
            "La clave «ARCHIVO_TEMPORAL» del campo «Determinación» no corresponde a «JUICIO» del \
             campo «Etapa procesal»."
        );
        let input = with(input, "stage", json!("INV_INICIAL"));
        assert!(check(FormKey::Investigation, &input).is_ok());
    }

    #[test]
    fn curp_errors_carry_their_codes_and_never_the_curp() {
        for (curp, code) in [
            ("BOXW310820HNERXN0", "curp_format"),
            ("BOXW310231HNERXN09", "curp_date"),
            ("BOXW310820HZZRXN09", "curp_state"),
            ("BOXW310820HNERXN08", "curp_check_digit"),
        ] {
            let errs = errors(FormKey::Victim, &with(victim(), "curp", json!(curp)));
            assert_eq!(pairs(&errs), vec![("curp", code)], "{curp}");
            assert!(!errs[0].message.es.contains(curp) && !errs[0].message.en.contains(curp));
        }
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "curp", json!("BOXW310820HNERXN08")),
        );
        assert_eq!(
            errs[0].message.es,
            "El dígito verificador de la CURP no corresponde."
        );
        let ok = check(
            FormKey::Victim,
            &with(victim(), "curp", json!("BOXW310820HNERXN09")),
        )
        .unwrap();
        assert_eq!(ok["curp"], "BOXW310820HNERXN09");
    }

    #[test]
    fn all_errors_are_reported_in_spec_order() {
        let input = obj(json!({
            "zzz": 1,
            "consent_to_share": "yes",
            "curp": "XXXX",
            "condition": "NOPE",
            "detection_date": "2099-01-01",
            "first_surname": "A".repeat(200),
        }));
        let errs = errors(FormKey::Victim, &input);
        assert_eq!(
            pairs(&errs),
            vec![
                ("condition", "unknown_code"),
                ("first_surname", "too_long"),
                ("curp", "curp_format"),
                ("sex", "required"),
                ("detection_date", "date_in_future"),
                ("detection_entity_code", "required"),
                ("consent_to_share", "wrong_type"),
                ("zzz", "unknown_field"),
            ]
        );
    }

    #[test]
    fn personal_values_never_appear_in_messages() {
        let secret = "ZÚÑIGA-SECRETO";
        let input = obj(json!({
            "given_names": format!("{secret}\u{0}"),
            "first_surname": secret.repeat(20),
            "second_surname": 5,
            "birth_date": secret,
            "curp": secret,
            "condition": secret,
        }));
        for e in errors(FormKey::Victim, &input) {
            assert!(
                !e.message.es.contains(secret) && !e.message.en.contains(secret),
                "{e:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_refused() {
        let errs = errors(
            FormKey::Victim,
            &with(victim(), "given_names", json!("MAR\u{0}IA")),
        );
        assert_eq!(pairs(&errs), vec![("given_names", "invalid_format")]);
        let errs = errors(FormKey::Victim, &with(victim(), "sex", json!("MU\u{0}JER")));
        assert_eq!(pairs(&errs), vec![("sex", "invalid_format")]);
        // Long text keeps its line breaks.
        let attention = obj(json!({
            "victim_id": "01936f0e-6c1a-7b3e-9a51-2f0f7d2c4b10", "date": "2024-01-01",
            "service": "JURIDICA", "notes": "primera línea\nsegunda\tlínea",
        }));
        assert!(validate_record(
            spec(FormKey::Attention),
            &attention,
            None,
            &AllCodes,
            today()
        )
        .is_ok());
    }

    /// Accepts every code as an active root item.
    struct AllCodes;

    impl CatalogLookup for AllCodes {
        fn lookup(&self, _: &str, _: &str) -> Option<CatalogEntry> {
            Some(CatalogEntry {
                active: true,
                parent_code: None,
            })
        }
    }

    #[test]
    fn users_choices_and_formats() {
        let s = spec(FormKey::User);
        let user = obj(json!({
            "username": "Oper.NL.fgj",
            "full_name": "Ana Pérez",
            "email": "Ana.Perez@FGJNL.gob.mx",
            "role": "OPERATOR",
            "institution_id": "01936f0c-6c1a-7b3e-9a51-2f0f7d2c4b10",
        }));
        let out = validate_record(s, &user, None, &AllCodes, today()).unwrap();
        assert_eq!(out["username"], "oper.nl.fgj");
        assert_eq!(out["email"], "ana.perez@fgjnl.gob.mx");
        assert_eq!(out["role"], "operator");

        let bad = obj(json!({
            "username": "ab",
            "full_name": "Ana Pérez",
            "email": "ana.perez",
            "role": "system",
            "institution_id": "01936f0c",
        }));
        let errs = validate_record(s, &bad, None, &AllCodes, today()).unwrap_err();
        assert_eq!(
            pairs(&errs),
            vec![
                ("username", "invalid_format"),
                ("email", "invalid_format"),
                ("role", "unknown_code"),
                ("institution_id", "wrong_type"),
            ]
        );
        assert!(!errs[1].message.es.contains("ana.perez"));
    }

    #[test]
    fn catalog_items_check_their_parent() {
        let s = spec(FormKey::CatalogItem);
        let catalogs = Catalogs::new();
        let item = |catalog: &str, code: &str, parent: Value| {
            obj(json!({
                "catalog": catalog, "code": code, "label_es": "Etiqueta", "label_en": "Label",
                "parent_code": parent,
            }))
        };
        let out = validate_record(
            s,
            &item("municipality", "19026", json!("19")),
            None,
            &catalogs,
            today(),
        )
        .unwrap();
        assert_eq!(out["catalog"], "municipality");
        let out = validate_record(
            s,
            &item("sex", "no_binario", Value::Null),
            None,
            &catalogs,
            today(),
        )
        .unwrap();
        assert_eq!(out["code"], "NO_BINARIO");

        let cases = [
            (
                item("municipality", "19026", Value::Null),
                ("parent_code", "required"),
            ),
            (
                item("municipality", "19026", json!("77")),
                ("parent_code", "unknown_code"),
            ),
            (
                item("sex", "OTRO", json!("19")),
                ("parent_code", "not_in_parent"),
            ),
            (
                item("colors", "ROJO", Value::Null),
                ("catalog", "unknown_code"),
            ),
            (
                item("sex", "NO BINARIO", Value::Null),
                ("code", "invalid_format"),
            ),
        ];
        for (input, expected) in cases {
            let errs = validate_record(s, &input, None, &catalogs, today()).unwrap_err();
            assert_eq!(pairs(&errs), vec![expected], "{input:?}");
        }
    }

    #[test]
    fn the_diff_lists_changed_fields_and_masks_personal_ones() {
        let s = spec(FormKey::Victim);
        let before = with(victim(), "version", json!(3));
        let after = with(
            with(
                with(victim(), "version", json!(4)),
                "given_names",
                json!("MARÍA"),
            ),
            "detection_municipality_code",
            json!("19026"),
        );
        let after = with(after, "curp", json!("SABC560626MDFLRN01"));
        let after = with(after, "age_at_detection", Value::Null);
        let after = with(after, "control_means", json!([]));
        let changes = diff(s, &before, &after);
        assert_eq!(
            Value::Object(changes),
            json!({
                "given_names": {"before": "[personal]", "after": "[personal]"},
                "curp": {"before": null, "after": "[personal]"},
                "detection_municipality_code": {"before": "19039", "after": "19026"},
            })
        );
        assert!(diff(s, &victim(), &victim()).is_empty());
        let created = diff(s, &Map::new(), &victim());
        assert_eq!(created["sex"], json!({"before": null, "after": "MUJER"}));
        assert_eq!(
            created["first_surname"],
            json!({"before": null, "after": "[personal]"})
        );
        // Numbers compare by value.
        let a = with(victim(), "age_at_detection", json!(5));
        let b = with(victim(), "age_at_detection", json!(5.0));
        assert!(diff(s, &a, &b).is_empty());
    }

    #[test]
    fn masking_and_personal_fields() {
        let s = spec(FormKey::Victim);
        let personal: Vec<_> = personal_fields(s).collect();
        assert_eq!(
            personal,
            vec![
                "given_names",
                "first_surname",
                "second_surname",
                "alias",
                "curp",
                "missing_report_folio",
                "birth_date"
            ]
        );
        let mut record = victim();
        mask_personal(s, &mut record);
        assert_eq!(record["given_names"], "[personal]");
        assert_eq!(record["birth_date"], "[personal]");
        assert_eq!(record["sex"], "MUJER");
        assert!(!record.contains_key("alias"));
    }

    #[test]
    fn every_schema_matches_its_spec() {
        for s in all_specs() {
            let schema = s.json_schema();
            let properties: BTreeSet<&str> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let fields: BTreeSet<&str> = s.fields.iter().map(|f| f.key).collect();
            assert_eq!(properties, fields, "{}", s.key);
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(required, s.required_fields().collect(), "{}", s.key);
            assert_eq!(schema["additionalProperties"], false, "{}", s.key);
            assert_eq!(schema["type"], "object");
        }
    }

    #[test]
    fn a_record_built_from_the_schema_validates() {
        // For every form, a record with every field filled in by type (as a
        // client reading the schema would) passes validation.
        for s in all_specs() {
            let mut record = Map::new();
            for f in s.fields {
                let value = match f.ty {
                    FieldType::Text { .. } | FieldType::LongText { .. } => json!("ABC"),
                    FieldType::Date => json!("2020-01-01"),
                    FieldType::Integer { min, .. } => json!(min),
                    FieldType::Decimal { min, .. } => json!(min),
                    FieldType::Boolean => json!(true),
                    FieldType::Catalog { multiple: true, .. } => json!(["ABC"]),
                    FieldType::Catalog { .. } => json!("ABC"),
                    FieldType::Reference { multiple: true, .. } => json!([Uuid::nil()]),
                    FieldType::Reference { .. } | FieldType::Uuid => json!(Uuid::nil()),
                    FieldType::Curp => json!("SABC560626MDFLRN01"),
                    FieldType::Choice { options } => json!(options[0].code),
                };
                record.insert(f.key.to_string(), value);
            }
            match s.key {
                FormKey::User => {
                    record.insert("username".into(), json!("abc"));
                    record.insert("email".into(), json!("a@b.mx"));
                }
                FormKey::CatalogItem => {
                    record.insert("catalog".into(), json!("sex"));
                    record.insert("parent_code".into(), Value::Null);
                }
                FormKey::Victim => {
                    record.insert("missing_report_folio".into(), json!("CNB-2020-1"));
                }
                _ => {}
            }
            let result = validate_record(s, &record, None, &AllCodes, today());
            assert!(result.is_ok(), "{}: {result:?}", s.key);
        }
    }
}
