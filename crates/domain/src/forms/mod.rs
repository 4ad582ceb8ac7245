//! The form specs: the one description of every form's fields.
//!
//! Each form (commission, session, victim, sentence, user, …) is described
//! here once, as a [`FormSpec`]: every field's key (its JSON name), Spanish
//! and English label and help, type, whether it is required and whether it
//! is personal data. Everything else is derived from it: the published form
//! (`GET /api/v1/forms/{form}`, the [`Serialize`] impl), the OpenAPI schema
//! of the request body ([`FormSpec::json_schema`]), validation
//! ([`crate::validation::validate_record`]), the Excel template, import and
//! export, PII masking and the audit diff. A field added here appears in all
//! of them at once; nothing else lists fields.
//!
//! System fields every record carries (`id`, `version`, `institution_id`,
//! `created_*`, `updated_*`) are not part of any spec: the caller never
//! writes them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Map, Value};

use crate::i18n::Text;

mod admin;
mod commissions;
mod judicialization;
pub mod labels;
pub mod schema;
mod victims;

/// Every form of the system. The snake_case name (`"criminal_case"`) names
/// the form in `/forms/{form}`, Excel templates, imports, exports and the
/// audit log's `resource_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormKey {
    Commission,
    Session,
    Agreement,
    AgreementFollowUp,
    Victim,
    Attention,
    Investigation,
    CriminalCase,
    ProceduralEvent,
    Defendant,
    Sentence,
    CatalogItem,
    User,
}

impl FormKey {
    /// All forms, parents before their children (the order of a workbook
    /// with every form, and a safe order to import them in).
    pub const ALL: [FormKey; 13] = [
        FormKey::Commission,
        FormKey::Session,
        FormKey::Agreement,
        FormKey::AgreementFollowUp,
        FormKey::Victim,
        FormKey::Attention,
        FormKey::Investigation,
        FormKey::CriminalCase,
        FormKey::ProceduralEvent,
        FormKey::Defendant,
        FormKey::Sentence,
        FormKey::CatalogItem,
        FormKey::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FormKey::Commission => "commission",
            FormKey::Session => "session",
            FormKey::Agreement => "agreement",
            FormKey::AgreementFollowUp => "agreement_follow_up",
            FormKey::Victim => "victim",
            FormKey::Attention => "attention",
            FormKey::Investigation => "investigation",
            FormKey::CriminalCase => "criminal_case",
            FormKey::ProceduralEvent => "procedural_event",
            FormKey::Defendant => "defendant",
            FormKey::Sentence => "sentence",
            FormKey::CatalogItem => "catalog_item",
            FormKey::User => "user",
        }
    }

    /// This form's spec.
    pub fn spec(self) -> &'static FormSpec {
        spec(self)
    }

    /// Whether the form's rows live in the record store (each with an id,
    /// an entity and an institution); catalog items and users are the
    /// administration's own tables, keyed by their code and username.
    pub fn is_record(self) -> bool {
        !matches!(self, FormKey::CatalogItem | FormKey::User)
    }
}

impl fmt::Display for FormKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FormKey {
    type Err = UnknownForm;

    fn from_str(s: &str) -> Result<FormKey, UnknownForm> {
        FormKey::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or(UnknownForm)
    }
}

/// A form name that is not one of [`FormKey::ALL`] (answered with 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown form")]
pub struct UnknownForm;

/// The spec of one form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FormSpec {
    pub key: FormKey,
    pub label: Text,
    /// The form's collection under `/api/v1`, kebab-case plural
    /// (`"criminal-cases"`). Nested collections name their parent's id as
    /// `{id}` (`"agreements/{id}/follow-ups"`) or the catalog as `{catalog}`.
    pub resource_path: &'static str,
    /// The form a record of this one belongs to (a session to its
    /// commission), named by the first field of type
    /// [`FieldType::Reference`] to it.
    pub parent: Option<FormKey>,
    /// The date that places a record in a quarter, for period locking and
    /// quarterly cuts (DESIGN.md §7).
    pub period_date: PeriodDate,
    /// The writable fields, in the order forms, templates and error lists
    /// show them.
    pub fields: &'static [FieldSpec],
}

/// The date that places a record of a form in a quarter: a record whose
/// period date falls in a closed quarter of its entity is neither created
/// nor changed, nor moved in or out of it (`crate::periods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodDate {
    /// A required date field of the record itself.
    Field(&'static str),
    /// The period date of the record's parent, for a form with no date of
    /// its own that only exists as part of its parent: an agreement belongs
    /// to its session's quarter, a defendant to the quarter its criminal
    /// case was judicialized in. (Its parent's date cannot move in or out
    /// of a closed quarter, so neither can it.)
    Parent,
    /// Not a record of a period (catalog items, users).
    None,
}

impl PeriodDate {
    /// The published shape: the field's key, `"parent"`, or null.
    fn to_json(self) -> Value {
        match self {
            PeriodDate::Field(key) => json!(key),
            PeriodDate::Parent => json!("parent"),
            PeriodDate::None => Value::Null,
        }
    }
}

/// The spec of one field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// The JSON name, English snake_case.
    pub key: &'static str,
    /// Spanish and English label (the Excel column header).
    pub label: Text,
    /// What to write and why (the Excel header's comment, the form's hint).
    pub help: Text,
    pub ty: FieldType,
    /// Must be present and non-empty.
    pub required: bool,
    /// Personal data: masked in the audit log, never put in messages or
    /// logs, never shown to roles without access to personal data.
    pub personal: bool,
    /// Further checks on the value, beyond its type.
    pub rules: &'static [Rule],
}

/// The type of a field's value, as JSON carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// One line of text, at most `max_length` characters (after trimming).
    Text {
        max_length: usize,
    },
    /// Free text that may span lines, at most `max_length` characters.
    LongText {
        max_length: usize,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A whole number within `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    /// A number within `min..=max`.
    Decimal {
        min: f64,
        max: f64,
    },
    Boolean,
    /// The code of an item of the named catalog (an array of codes when
    /// `multiple`). With `parent_field`, the item's parent code must equal
    /// the value of that other field of the same record (a municipality
    /// within the record's entity).
    Catalog {
        catalog: &'static str,
        multiple: bool,
        parent_field: Option<&'static str>,
    },
    /// The id (UUID) of a record of another form (an array of ids when
    /// `multiple`). On Excel import and upsert the sender names the record
    /// by its own folio instead, in a column or property called
    /// `folio_key`, which the caller resolves to the id before validating.
    Reference {
        form: FormKey,
        folio_key: &'static str,
        multiple: bool,
    },
    /// A CURP, validated by [`crate::curp::validate_curp`].
    Curp,
    /// One of a fixed list of codes that belong to the system rather than
    /// to an administered catalog (a user's role, a catalog's name).
    Choice {
        options: &'static [Choice],
    },
    /// The id of a record that is not a form (a user's institution).
    Uuid,
}

impl FieldType {
    /// The `type` name of the published spec.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text { .. } => "text",
            FieldType::LongText { .. } => "long_text",
            FieldType::Date => "date",
            FieldType::Integer { .. } => "integer",
            FieldType::Decimal { .. } => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Catalog { .. } => "catalog",
            FieldType::Reference { .. } => "reference",
            FieldType::Curp => "curp",
            FieldType::Choice { .. } => "choice",
            FieldType::Uuid => "uuid",
        }
    }

    /// Whether the value is an array.
    pub fn is_multiple(&self) -> bool {
        matches!(
            self,
            FieldType::Catalog { multiple: true, .. } | FieldType::Reference { multiple: true, .. }
        )
    }
}

/// A check on a field's value beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A date that may not lie after today (something that happened).
    NotFuture,
    /// A date that may not lie before the date in the named field of the
    /// same record (a determination after the investigation opened).
    NotBefore(&'static str),
    /// A login name: lower case letters, digits, `.`, `_`, `-`, 3 to 64
    /// characters, starting with a letter or digit. Normalized to lower case.
    Username,
    /// An e-mail address (one `@`, a dotted domain, no blanks). Normalized
    /// to lower case.
    Email,
    /// A catalog code: upper case letters, digits and `_`. Normalized to
    /// upper case.
    Code,
    /// The parent code of a catalog item whose catalog is named by the given
    /// field: required, and an existing item of the parent catalog, when
    /// that catalog is hierarchical; empty otherwise.
    ParentItem(&'static str),
    /// The folio of a missing-person report, in the one form
    /// [`crate::missing_report`] defines (`CNB-2024-000123`,
    /// `CLB19-2023-45`). Normalized to upper case.
    MissingReportFolio,
}

impl Rule {
    fn to_json(self) -> Value {
        match self {
            Rule::NotFuture => json!({"rule": "not_future"}),
            Rule::NotBefore(field) => json!({"rule": "not_before", "field": field}),
            Rule::Username => json!({"rule": "username"}),
            Rule::Email => json!({"rule": "email"}),
            Rule::Code => json!({"rule": "code"}),
            Rule::ParentItem(field) => json!({"rule": "parent_item", "field": field}),
            Rule::MissingReportFolio => json!({"rule": "missing_report_folio"}),
        }
    }
}

/// One option of a [`FieldType::Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub code: &'static str,
    pub label: Text,
}

/// A catalog of the system: its code (as fields name it), label, and the
/// catalog its items' `parent_code` points into, if hierarchical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogDef {
    pub code: &'static str,
    pub label: Text,
    pub parent: Option<&'static str>,
}

const fn cat(code: &'static str, es: &'static str, en: &'static str) -> CatalogDef {
    CatalogDef {
        code,
        label: Text::new(es, en),
        parent: None,
    }
}

/// Every catalog the forms use (and the few used only by dashboards and
/// organization data). The seed data and the `catalogs` table carry exactly
/// these codes; the items themselves are data, administered through the API.
pub const CATALOGS: [CatalogDef; 33] = [
    cat("entity", "Entidad federativa", "Federal entity"),
    CatalogDef {
        parent: Some("entity"),
        ..cat("municipality", "Municipio", "Municipality")
    },
    cat("country", "País", "Country"),
    cat("sex", "Sexo", "Sex"),
    cat("gender_identity", "Identidad de género", "Gender identity"),
    cat("age_group", "Grupo de edad", "Age group"),
    cat(
        "victim_condition",
        "Condición de la víctima",
        "Victim condition",
    ),
    cat(
        "detection_source",
        "Fuente de detección",
        "Detection source",
    ),
    cat(
        "exploitation_form",
        "Forma de explotación",
        "Form of exploitation",
    ),
    cat("crime", "Delito", "Crime"),
    cat(
        "recruitment_means",
        "Medio de captación",
        "Means of recruitment",
    ),
    cat("control_means", "Medio de control", "Means of control"),
    cat(
        "recruiter_relation",
        "Relación con la persona captadora",
        "Relation to the recruiter",
    ),
    cat(
        "attention_service",
        "Servicio de atención",
        "Attention service",
    ),
    cat(
        "institution_type",
        "Tipo de institución",
        "Institution type",
    ),
    cat("commission_kind", "Tipo de instancia", "Commission kind"),
    cat(
        "commission_status",
        "Estatus de la instancia",
        "Commission status",
    ),
    cat("session_type", "Tipo de sesión", "Session type"),
    cat(
        "session_modality",
        "Modalidad de la sesión",
        "Session modality",
    ),
    cat(
        "agreement_status",
        "Estatus del acuerdo",
        "Agreement status",
    ),
    cat("fuero", "Fuero", "Jurisdiction (fuero)"),
    cat(
        "investigation_type",
        "Tipo de investigación",
        "Investigation type",
    ),
    cat("victim_role", "Calidad de la víctima", "Victim role"),
    cat("procedural_stage", "Etapa procesal", "Procedural stage"),
    CatalogDef {
        parent: Some("procedural_stage"),
        ..cat("determination", "Determinación", "Determination")
    },
    cat("procedural_event", "Actuación procesal", "Procedural event"),
    cat(
        "precautionary_measure",
        "Medida cautelar",
        "Precautionary measure",
    ),
    cat("sentence_type", "Tipo de sentencia", "Sentence type"),
    cat("sentence_route", "Vía de la sentencia", "Sentence route"),
    cat(
        "sentence_firmness",
        "Firmeza de la sentencia",
        "Sentence firmness",
    ),
    cat(
        "indigenous_language",
        "Lengua indígena",
        "Indigenous language",
    ),
    cat("disability", "Discapacidad", "Disability"),
    cat("migrant_status", "Condición migratoria", "Migrant status"),
];

/// The definition of a catalog by its code.
pub fn catalog_def(code: &str) -> Option<&'static CatalogDef> {
    CATALOGS.iter().find(|c| c.code == code)
}

/// [`CATALOGS`] as the options of a choice (the `catalog` field of a
/// catalog item), built at compile time so the two cannot differ.
static CATALOG_CHOICES: [Choice; CATALOGS.len()] = {
    let mut out = [Choice {
        code: "",
        label: Text::new("", ""),
    }; CATALOGS.len()];
    let mut i = 0;
    while i < CATALOGS.len() {
        out[i] = Choice {
            code: CATALOGS[i].code,
            label: CATALOGS[i].label,
        };
        i += 1;
    }
    out
};

/// The spec of a form.
pub fn spec(form: FormKey) -> &'static FormSpec {
    match form {
        FormKey::Commission => &commissions::COMMISSION,
        FormKey::Session => &commissions::SESSION,
        FormKey::Agreement => &commissions::AGREEMENT,
        FormKey::AgreementFollowUp => &commissions::AGREEMENT_FOLLOW_UP,
        FormKey::Victim => &victims::VICTIM,
        FormKey::Attention => &victims::ATTENTION,
        FormKey::Investigation => &judicialization::INVESTIGATION,
        FormKey::CriminalCase => &judicialization::CRIMINAL_CASE,
        FormKey::ProceduralEvent => &judicialization::PROCEDURAL_EVENT,
        FormKey::Defendant => &judicialization::DEFENDANT,
        FormKey::Sentence => &judicialization::SENTENCE,
        FormKey::CatalogItem => &admin::CATALOG_ITEM,
        FormKey::User => &admin::USER,
    }
}

/// Every form's spec, in the order of [`FormKey::ALL`].
pub fn all_specs() -> impl Iterator<Item = &'static FormSpec> {
    FormKey::ALL.into_iter().map(spec)
}

impl FormSpec {
    /// The field with this key.
    pub fn field(&self, key: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The position of a field in [`FormSpec::fields`].
    pub fn field_index(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.key == key)
    }

    /// The keys of the required fields, in spec order.
    pub fn required_fields(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().filter(|f| f.required).map(|f| f.key)
    }

    /// The keys of the personal-data fields, in spec order.
    pub fn personal_fields(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().filter(|f| f.personal).map(|f| f.key)
    }

    /// The day that places a record in its quarter: its own period date
    /// field, or its parent's (`parent`: the parent record's fields) for a
    /// form whose period is its parent's. `None` for forms without periods
    /// or a date that is missing or unreadable.
    pub fn period_day(
        &self,
        data: &Map<String, Value>,
        parent: Option<&Map<String, Value>>,
    ) -> Option<chrono::NaiveDate> {
        let day = |m: &Map<String, Value>, key: &str| {
            m.get(key)?.as_str()?.parse::<chrono::NaiveDate>().ok()
        };
        match self.period_date {
            PeriodDate::Field(key) => day(data, key),
            PeriodDate::Parent => match self.parent?.spec().period_date {
                PeriodDate::Field(key) => day(parent?, key),
                PeriodDate::Parent | PeriodDate::None => None,
            },
            PeriodDate::None => None,
        }
    }

    /// The field a refusal for the record's period points at: the period
    /// date field, or the parent reference when the period is the parent's.
    pub fn period_field(&self) -> Option<&'static str> {
        match self.period_date {
            PeriodDate::Field(key) => Some(key),
            PeriodDate::Parent => self.parent_field().map(|f| f.key),
            PeriodDate::None => None,
        }
    }

    /// The reference field naming the parent record, if the form has one.
    pub fn parent_field(&self) -> Option<&'static FieldSpec> {
        let parent = self.parent?;
        self.fields
            .iter()
            .find(|f| matches!(f.ty, FieldType::Reference { form, .. } if form == parent))
    }

    /// The published shape (`GET /api/v1/forms/{form}`): `form`, `label`,
    /// `resource_path`, `parent`, `period_date` and `fields`, each field as
    /// [`FieldSpec::to_json`].
    pub fn to_json(&self) -> Value {
        json!({
            "form": self.key,
            "label": self.label,
            "resource_path": self.resource_path,
            "parent": self.parent,
            "period_date": self.period_date.to_json(),
            "fields": self.fields.iter().map(FieldSpec::to_json).collect::<Vec<_>>(),
        })
    }

    /// The JSON Schema (OpenAPI 3.1 dialect) of the form's writable body.
    /// See [`schema`] for the mapping of types.
    pub fn json_schema(&self) -> Value {
        schema::form_schema(self)
    }
}

impl Serialize for FormSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl FieldSpec {
    /// An optional, non-personal field without rules; the builder methods
    /// below adjust it. `const` so specs are plain statics.
    pub const fn new(key: &'static str, label: Text, help: Text, ty: FieldType) -> FieldSpec {
        FieldSpec {
            key,
            label,
            help,
            ty,
            required: false,
            personal: false,
            rules: &[],
        }
    }

    pub const fn required(self) -> FieldSpec {
        FieldSpec {
            required: true,
            ..self
        }
    }

    pub const fn personal(self) -> FieldSpec {
        FieldSpec {
            personal: true,
            ..self
        }
    }

    pub const fn rules(self, rules: &'static [Rule]) -> FieldSpec {
        FieldSpec { rules, ..self }
    }

    /// The published shape of a field: `key`, `label`, `help`, `type`,
    /// `required`, `personal`, `rules`, and what the type needs:
    /// `max_length` (text), `min`/`max` (numbers), `catalog`, `multiple`,
    /// `parent_field` (catalogs), `reference`, `folio_key`, `multiple`
    /// (references), `options` (choices).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("key".into(), json!(self.key));
        obj.insert("label".into(), json!(self.label));
        obj.insert("help".into(), json!(self.help));
        obj.insert("type".into(), json!(self.ty.name()));
        obj.insert("required".into(), json!(self.required));
        obj.insert("personal".into(), json!(self.personal));
        let rules: Vec<Value> = self.rules.iter().map(|r| r.to_json()).collect();
        obj.insert("rules".into(), Value::Array(rules));
        match self.ty {
            FieldType::Text { max_length } | FieldType::LongText { max_length } => {
                obj.insert("max_length".into(), json!(max_length));
            }
            FieldType::Integer { min, max } => {
                obj.insert("min".into(), json!(min));
                obj.insert("max".into(), json!(max));
            }
            FieldType::Decimal { min, max } => {
                obj.insert("min".into(), json!(min));
                obj.insert("max".into(), json!(max));
            }
            FieldType::Catalog {
                catalog,
                multiple,
                parent_field,
            } => {
                obj.insert("catalog".into(), json!(catalog));
                obj.insert("multiple".into(), json!(multiple));
                if let Some(parent) = parent_field {
                    obj.insert("parent_field".into(), json!(parent));
                }
            }
            FieldType::Reference {
                form,
                folio_key,
                multiple,
            } => {
                obj.insert("reference".into(), json!(form));
                obj.insert("folio_key".into(), json!(folio_key));
                obj.insert("multiple".into(), json!(multiple));
            }
            FieldType::Choice { options } => {
                obj.insert("options".into(), json!(options));
            }
            FieldType::Date | FieldType::Boolean | FieldType::Curp | FieldType::Uuid => {}
        }
        Value::Object(obj)
    }
}

impl Serialize for FieldSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

// Shorthands for the spec modules.

const fn text(max_length: usize) -> FieldType {
    FieldType::Text { max_length }
}

const fn long_text(max_length: usize) -> FieldType {
    FieldType::LongText { max_length }
}

const fn integer(min: i64, max: i64) -> FieldType {
    FieldType::Integer { min, max }
}

const fn catalog(catalog: &'static str) -> FieldType {
    FieldType::Catalog {
        catalog,
        multiple: false,
        parent_field: None,
    }
}

const fn catalogs(catalog: &'static str) -> FieldType {
    FieldType::Catalog {
        catalog,
        multiple: true,
        parent_field: None,
    }
}

const fn catalog_within(catalog: &'static str, parent_field: &'static str) -> FieldType {
    FieldType::Catalog {
        catalog,
        multiple: false,
        parent_field: Some(parent_field),
    }
}

const fn reference(form: FormKey, folio_key: &'static str) -> FieldType {
    FieldType::Reference {
        form,
        folio_key,
        multiple: false,
    }
}

const fn t(es: &'static str, en: &'static str) -> Text {
    Text::new(es, en)
}

/// The sender's own folio: every form has it, first.
const EXTERNAL_FOLIO: FieldSpec = FieldSpec::new(
    "external_folio",
    t("Folio externo", "External folio"),
    t(
        "Folio del registro en el sistema propio de la institución que lo envía. Es único por \
         institución y permite actualizar el registro al enviarlo de nuevo. Opcional.",
        "The record's folio in the sending institution's own system. Unique per institution; \
         sending the record again with it updates the record. Optional.",
    ),
    text(100),
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn form_keys_round_trip() {
        for form in FormKey::ALL {
            assert_eq!(form.as_str().parse::<FormKey>(), Ok(form));
            assert_eq!(serde_json::to_value(form).unwrap(), json!(form.as_str()));
            assert_eq!(spec(form).key, form);
        }
        assert_eq!(FormKey::CriminalCase.as_str(), "criminal_case");
        assert!("victims".parse::<FormKey>().is_err());
    }

    #[test]
    fn every_form_starts_with_the_external_folio() {
        for s in all_specs() {
            assert_eq!(s.fields[0], EXTERNAL_FOLIO, "{}", s.key);
        }
    }

    #[test]
    fn field_keys_are_unique_snake_case_and_documented() {
        for s in all_specs() {
            let mut seen = HashSet::new();
            for f in s.fields {
                assert!(seen.insert(f.key), "{}.{} twice", s.key, f.key);
                assert!(
                    f.key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{}.{}",
                    s.key,
                    f.key
                );
                for text in [f.label, f.help] {
                    assert!(
                        !text.es.is_empty() && !text.en.is_empty(),
                        "{}.{}",
                        s.key,
                        f.key
                    );
                }
                for sys in [
                    "id",
                    "version",
                    "institution_id",
                    "created_at",
                    "updated_at",
                ] {
                    // A user's institution is data the admin writes, not a system field.
                    if !(s.key == FormKey::User && sys == "institution_id") {
                        assert_ne!(f.key, sys, "{}", s.key);
                    }
                }
            }
        }
    }

    #[test]
    fn references_rules_and_catalogs_point_at_real_things() {
        for s in all_specs() {
            for f in s.fields {
                match f.ty {
                    FieldType::Catalog {
                        catalog,
                        parent_field,
                        ..
                    } => {
                        let def = catalog_def(catalog)
                            .unwrap_or_else(|| panic!("{}.{}: catalog {catalog}", s.key, f.key));
                        if let Some(parent) = parent_field {
                            let pf = s.field(parent).expect("parent field exists");
                            let FieldType::Catalog {
                                catalog: parent_catalog,
                                ..
                            } = pf.ty
                            else {
                                panic!("{}.{}: parent is not a catalog", s.key, f.key)
                            };
                            assert_eq!(def.parent, Some(parent_catalog), "{}.{}", s.key, f.key);
                            assert!(s.field_index(parent) < s.field_index(f.key));
                        }
                    }
                    FieldType::Reference {
                        form, folio_key, ..
                    } => {
                        assert!(folio_key.ends_with("_folio") || folio_key.ends_with("_folios"));
                        assert!(s.field(folio_key).is_none());
                        let _ = spec(form);
                    }
                    _ => {}
                }
                for rule in f.rules {
                    match rule {
                        Rule::NotFuture => assert_eq!(f.ty, FieldType::Date),
                        Rule::NotBefore(other) => {
                            assert_eq!(f.ty, FieldType::Date);
                            assert_eq!(s.field(other).map(|o| o.ty), Some(FieldType::Date));
                        }
                        Rule::ParentItem(other) => {
                            assert!(s.field(other).is_some())
                        }
                        Rule::Username | Rule::Email | Rule::Code | Rule::MissingReportFolio => {
                            assert!(matches!(f.ty, FieldType::Text { .. }))
                        }
                    }
                }
            }
            if let Some(parent) = s.parent {
                let pf = s.parent_field().expect("a reference to the parent");
                assert_eq!(pf.key, format!("{}_id", parent.as_str()));
                assert!(pf.required, "{}", s.key);
            }
        }
    }

    #[test]
    fn every_record_form_names_its_period_date() {
        for s in all_specs() {
            match s.period_date {
                PeriodDate::Field(key) => {
                    let f = s.field(key).expect("the period date is a field");
                    assert_eq!(f.ty, FieldType::Date, "{}.{key}", s.key);
                    assert!(f.required, "{}.{key} must be required", s.key);
                    assert!(!f.personal, "{}.{key}", s.key);
                }
                PeriodDate::Parent => {
                    let parent = s.parent.expect("a parent to take the period of");
                    assert!(
                        matches!(parent.spec().period_date, PeriodDate::Field(_)),
                        "{}: the parent's period is a date of its own",
                        s.key
                    );
                    assert!(s.parent_field().is_some_and(|f| f.required));
                }
                PeriodDate::None => assert!(!s.key.is_record(), "{}", s.key),
            }
            assert_eq!(s.period_field().is_some(), s.key.is_record(), "{}", s.key);
        }
        assert_eq!(
            spec(FormKey::Victim).period_date,
            PeriodDate::Field("detection_date")
        );
        let session = json!({"date": "2024-05-02"});
        let agreement = spec(FormKey::Agreement);
        assert_eq!(
            agreement.period_day(&Map::new(), session.as_object()),
            "2024-05-02".parse().ok()
        );
        assert_eq!(agreement.period_field(), Some("session_id"));
        let victim = json!({"detection_date": "2023-12-31"});
        assert_eq!(
            spec(FormKey::Victim).period_day(victim.as_object().unwrap(), None),
            "2023-12-31".parse().ok()
        );
        assert_eq!(spec(FormKey::User).period_day(&Map::new(), None), None);
    }

    #[test]
    fn parents_come_before_children() {
        for s in all_specs() {
            if let Some(parent) = s.parent {
                assert!(parent < s.key);
            }
        }
    }

    #[test]
    fn catalog_codes_are_unique_and_choices_follow_them() {
        let codes: HashSet<_> = CATALOGS.iter().map(|c| c.code).collect();
        assert_eq!(codes.len(), CATALOGS.len());
        for (c, choice) in CATALOGS.iter().zip(CATALOG_CHOICES.iter()) {
            assert_eq!(c.code, choice.code);
        }
        for c in CATALOGS {
            if let Some(p) = c.parent {
                assert!(codes.contains(p));
            }
        }
    }

    #[test]
    fn role_options_are_roles_people_can_have() {
        let role = spec(FormKey::User).field("role").unwrap();
        let FieldType::Choice { options } = role.ty else {
            panic!("role is a choice")
        };
        for o in options {
            let r: crate::access::Role = o.code.parse().unwrap();
            assert_ne!(r, crate::access::Role::System);
        }
        assert_eq!(options.len(), crate::access::Role::ALL.len() - 1);
    }

    #[test]
    fn published_shape_matches_the_api_examples() {
        let v = serde_json::to_value(spec(FormKey::Victim)).unwrap();
        assert_eq!(v["form"], "victim");
        assert_eq!(v["label"]["es"], "Víctima o posible víctima");
        let fields = v["fields"].as_array().unwrap();
        let field = |k: &str| fields.iter().find(|f| f["key"] == k).unwrap().clone();
        let surname = field("first_surname");
        assert_eq!(
            surname["label"],
            json!({"es": "Primer apellido", "en": "First surname"})
        );
        assert_eq!(surname["type"], "text");
        assert_eq!(surname["max_length"], 100);
        assert_eq!(surname["required"], false);
        assert_eq!(surname["personal"], true);
        let sex = field("sex");
        assert_eq!(sex["type"], "catalog");
        assert_eq!(sex["catalog"], "sex");
        assert_eq!(sex["multiple"], false);
        assert_eq!(sex["required"], true);
        assert_eq!(field("curp")["type"], "curp");
        assert_eq!(field("curp")["personal"], true);
        assert_eq!(field("detection_date")["type"], "date");
        assert_eq!(
            field("detection_municipality_code")["parent_field"],
            "detection_entity_code"
        );

        let v = serde_json::to_value(spec(FormKey::Session)).unwrap();
        assert_eq!(v["parent"], "commission");
        assert_eq!(v["period_date"], "date");
        let commission = &v["fields"][1];
        assert_eq!(commission["key"], "commission_id");
        assert_eq!(commission["type"], "reference");
        assert_eq!(commission["reference"], "commission");
        assert_eq!(commission["folio_key"], "commission_folio");
    }
}
