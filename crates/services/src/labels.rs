//! Label overrides: the national admin adjusts a form field's label, help
//! text and order (Spanish and English) without a release; `/forms`,
//! templates, imports, exports and validation messages show them. See
//! `sintra_domain::forms::labels` for what an override may change (never
//! a key, a type or a rule).
//!
//! Why no cache: several API instances serve one database, and a label
//! changed on one must show on all at once (a template downloaded right
//! after the change must carry it). The table is tiny (one row per
//! overridden field) and read by primary key, so each request that renders
//! labels reads it once: a form spec, a template, an import, an export
//! (one query for all forms). A record write reads it only when it
//! answers validation errors ([`relabel_errors`]): the path without errors
//! pays nothing. The effective specs themselves are built once per distinct
//! set of overrides ([`effective`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use serde_json::{json, Value};
use sintra_domain::access::Caller;
use sintra_domain::forms::labels::{check_override, effective, LabelOverride};
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_domain::i18n::{Message, Text};
use sintra_domain::validation::FieldError;
use sintra_excel::columns::{names_taken, normalize_header};
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::labels as store;
use sintra_persistence::{db, Pool, StoreError};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

/// The spec of `form` with the overrides in force.
pub async fn effective_spec(
    conn: &mut AsyncPgConnection,
    form: FormKey,
) -> ServiceResult<&'static FormSpec> {
    let rows = store::current(conn, Some(form)).await?;
    let overrides: Vec<LabelOverride> = rows.iter().map(|r| r.to_override()).collect();
    Ok(effective(form, &overrides))
}

/// Every form's spec with the overrides in force, in one query.
#[derive(Debug, Clone)]
pub struct Specs(HashMap<FormKey, &'static FormSpec>);

impl Specs {
    pub fn spec(&self, form: FormKey) -> &'static FormSpec {
        self.0.get(&form).copied().unwrap_or_else(|| form.spec())
    }
}

/// [`Specs`] as they stand now.
pub async fn effective_specs(conn: &mut AsyncPgConnection) -> ServiceResult<Specs> {
    let rows = store::current(conn, None).await?;
    let mut by_form: HashMap<FormKey, Vec<LabelOverride>> = HashMap::new();
    for r in &rows {
        if let Ok(form) = r.form.parse::<FormKey>() {
            by_form.entry(form).or_default().push(r.to_override());
        }
    }
    Ok(Specs(
        by_form
            .into_iter()
            .map(|(form, o)| (form, effective(form, &o)))
            .collect(),
    ))
}

/// Validation errors of a record of `form` with the labels in force: the
/// validator names fields by their built-in label, quoted («…» in Spanish,
/// "…" in English, as every message of `sintra_domain::validation` does),
/// and each quoted label of a relabelled field becomes its current one;
/// the errors follow the form's current order. Read only when a write
/// answers errors, so a write that succeeds costs no query.
pub async fn relabel_errors(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    errors: Vec<FieldError>,
) -> ServiceResult<Vec<FieldError>> {
    let spec = effective_spec(conn, form).await?;
    Ok(relabelled(spec, errors))
}

/// [`relabel_errors`] once the spec is known.
pub fn relabelled(spec: &FormSpec, mut errors: Vec<FieldError>) -> Vec<FieldError> {
    let relabel = Relabel::new(spec);
    if relabel.is_empty() && std::ptr::eq(spec, spec.key.spec()) {
        return errors;
    }
    for e in &mut errors {
        e.message = relabel.message(&e.message);
    }
    // Stable: errors of one field keep their order; unknown properties last.
    errors.sort_by_key(|e| spec.field_index(&e.field).unwrap_or(usize::MAX));
    errors
}

/// The relabelled fields of a spec, to rewrite messages built with the
/// built-in labels: a quoted built-in label («…» in Spanish, "…" in
/// English, as every message of `sintra_domain::validation` quotes them)
/// becomes the label in force.
pub struct Relabel {
    renamed: Vec<(Text, Text)>,
}

impl Relabel {
    pub fn new(spec: &FormSpec) -> Relabel {
        let base = spec.key.spec();
        let renamed = spec
            .fields
            .iter()
            .filter_map(|f| {
                let b = base.field(f.key)?;
                (b.label != f.label).then_some((b.label, f.label))
            })
            .collect();
        Relabel { renamed }
    }

    /// Whether no field of the form is relabelled (messages stay as they are).
    pub fn is_empty(&self) -> bool {
        self.renamed.is_empty()
    }

    pub fn message(&self, m: &Message) -> Message {
        let (mut es, mut en) = (m.es.clone(), m.en.clone());
        for (old, new) in &self.renamed {
            es = es.replace(&format!("«{}»", old.es), &format!("«{}»", new.es));
            en = en.replace(&format!("\"{}\"", old.en), &format!("\"{}\"", new.en));
        }
        Message::new(es, en)
    }
}

/// A label in both languages, as published.
#[derive(Debug, Clone, Serialize)]
pub struct Texts {
    pub es: String,
    pub en: String,
}

impl From<Text> for Texts {
    fn from(t: Text) -> Texts {
        Texts {
            es: t.es.into(),
            en: t.en.into(),
        }
    }
}

/// What a field shows (its label, help and 1-based position).
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub label: Texts,
    pub help: Texts,
    pub position: i32,
}

/// The override in force for a field.
#[derive(Debug, Clone, Serialize)]
pub struct InForce {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

/// One field's labels: what shows now, what is built in, the override in
/// force (if any) and the field's version (the `If-Match` of its next
/// change; 0 while it never had one).
#[derive(Debug, Clone, Serialize)]
pub struct FieldLabels {
    pub field: String,
    pub version: i32,
    pub current: Shown,
    pub built_in: Shown,
    pub overridden: Option<InForce>,
}

/// One change of a field's override, as the store reads it.
pub use sintra_persistence::labels::VersionRow as LabelVersion;

/// A form's labels: every field in its current order, and the history of
/// changes (by field, oldest first).
#[derive(Debug, Clone, Serialize)]
pub struct FormLabels {
    pub form: FormKey,
    pub fields: Vec<FieldLabels>,
    pub history: Vec<LabelVersion>,
}

fn position_in(spec: &FormSpec, key: &str) -> i32 {
    spec.field_index(key).map_or(0, |i| i as i32 + 1)
}

/// The labels of one field as they stand.
async fn field_labels(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    field: &str,
) -> ServiceResult<FieldLabels> {
    let rows = store::current(conn, Some(form)).await?;
    let versions = store::version_of(conn, form, field).await?;
    let overrides: Vec<LabelOverride> = rows.iter().map(|r| r.to_override()).collect();
    let spec = effective(form, &overrides);
    let row = rows.iter().find(|r| r.field == field);
    Ok(describe(spec, field, versions, row))
}

// Called for fields of the form only (callers look the field up first).
#[allow(clippy::expect_used)]
fn describe(
    spec: &FormSpec,
    field: &str,
    version: i32,
    row: Option<&store::LabelRow>,
) -> FieldLabels {
    let base = spec.key.spec();
    let shown = |s: &FormSpec| {
        let f = s.field(field).expect("a field of the form");
        Shown {
            label: f.label.into(),
            help: f.help.into(),
            position: position_in(s, field),
        }
    };
    FieldLabels {
        field: field.to_string(),
        version,
        current: shown(spec),
        built_in: shown(base),
        overridden: row.map(|r| InForce {
            label_es: r.label_es.clone(),
            label_en: r.label_en.clone(),
            help_es: r.help_es.clone(),
            help_en: r.help_en.clone(),
            position: r.position,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        }),
    }
}

/// A form's labels and their history.
pub async fn list(pool: &Pool, form: FormKey) -> ServiceResult<FormLabels> {
    let mut conn = db::conn(pool).await?;
    let rows = store::current(&mut conn, Some(form)).await?;
    let history = store::history(&mut conn, form).await?;
    let overrides: Vec<LabelOverride> = rows.iter().map(|r| r.to_override()).collect();
    let spec = effective(form, &overrides);
    let mut versions: HashMap<&str, i32> = HashMap::new();
    for v in &history {
        versions.insert(v.field.as_str(), v.version);
    }
    let fields = spec
        .fields
        .iter()
        .map(|f| {
            let version = versions.get(f.key).copied().unwrap_or(0);
            describe(spec, f.key, version, rows.iter().find(|r| r.field == f.key))
        })
        .collect();
    Ok(FormLabels {
        form,
        fields,
        history,
    })
}

/// What a change is asked to put in force.
#[derive(Debug, Clone, Default)]
pub struct LabelInput {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
}

fn known_field(form: FormKey, field: &str) -> ServiceResult<()> {
    form.spec()
        .field(field)
        .map(|_| ())
        .ok_or(ServiceError::NotFound)
}

fn audit_changes(before: Option<&LabelOverride>, after: Option<&LabelOverride>) -> Value {
    let parts = |o: Option<&LabelOverride>| {
        o.map_or(Value::Null, |o| {
            json!({
                "label_es": o.label_es, "label_en": o.label_en,
                "help_es": o.help_es, "help_en": o.help_en, "position": o.position,
            })
        })
    };
    json!({"label": {"before": parts(before), "after": parts(after)}})
}

/// Puts an override in force for a field at the version the caller read
/// (412 when stale), recorded in the history and audited in one
/// transaction. Unknown form or field: 404.
pub async fn set(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    field: &str,
    expected: i32,
    input: LabelInput,
) -> ServiceResult<FieldLabels> {
    known_field(form, field)?;
    let mut conn = db::conn(pool).await?;
    // The names the other columns answer to, as they stand now: a label
    // that is one of them would make an import ambiguous.
    let spec = effective_spec(&mut conn, form).await?;
    let taken = names_taken(spec, field);
    let wanted = LabelOverride {
        field: field.to_string(),
        label_es: input.label_es,
        label_en: input.label_en,
        help_es: input.help_es,
        help_en: input.help_en,
        position: input.position,
    };
    let checked =
        check_override(spec, wanted, normalize_header, &taken).map_err(ServiceError::Validation)?;
    let ctx = AuditContext::for_caller(caller);
    let by = caller.actor.user_id;
    conn.transaction::<_, StoreError, _>(async |conn| {
        let changed = store::set(conn, form, &checked, expected, by).await?;
        let entry = AuditEntry::modification(&ctx, AuditAction::Relabel, "form_label")
            .resource(format!("{}/{}", form.as_str(), field))
            .changes(audit_changes(changed.before.as_ref(), Some(&checked)))
            .details(json!({"version": changed.version}));
        audit::append(conn, &[entry]).await
    })
    .await?;
    field_labels(&mut conn, form, field).await
}

/// Takes a field back to its built-in label, help and position at the
/// version the caller read (a version of its own in the history), audited
/// in the same transaction. 404 when no override is in force.
pub async fn reset(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    field: &str,
    expected: i32,
) -> ServiceResult<FieldLabels> {
    known_field(form, field)?;
    let mut conn = db::conn(pool).await?;
    let ctx = AuditContext::for_caller(caller);
    let by = caller.actor.user_id;
    conn.transaction::<_, StoreError, _>(async |conn| {
        // A stale version is told before a missing override: a caller who
        // read an old version learns that first.
        let changed = store::reset(conn, form, field, expected, by).await?;
        let entry = AuditEntry::modification(&ctx, AuditAction::Relabel, "form_label")
            .resource(format!("{}/{}", form.as_str(), field))
            .changes(audit_changes(changed.before.as_ref(), None))
            .details(json!({"version": changed.version, "reset": true}));
        audit::append(conn, &[entry]).await
    })
    .await?;
    field_labels(&mut conn, form, field).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sintra_domain::validation::FieldCode;

    #[test]
    fn errors_name_fields_by_their_current_labels_in_the_current_order() {
        let o = LabelOverride {
            field: "sex".into(),
            label_es: Some("Sexo asignado al nacer".into()),
            label_en: Some("Sex assigned at birth".into()),
            position: Some(1),
            ..Default::default()
        };
        let spec = effective(FormKey::Victim, &[o]);
        let errors = vec![
            FieldError::new(
                "detection_date",
                FieldCode::Required,
                Message::new("El campo «Fecha de detección» es obligatorio.", "x"),
            ),
            FieldError::new(
                "sex",
                FieldCode::Required,
                Message::new(
                    "El campo «Sexo» es obligatorio.",
                    "The field \"Sex\" is required.",
                ),
            ),
        ];
        let out = relabelled(spec, errors.clone());
        assert_eq!(out[0].field, "sex");
        assert_eq!(
            out[0].message.es,
            "El campo «Sexo asignado al nacer» es obligatorio."
        );
        assert_eq!(
            out[0].message.en,
            "The field \"Sex assigned at birth\" is required."
        );
        assert_eq!(out[1], errors[0]);
        // Without overrides nothing changes.
        assert_eq!(relabelled(FormKey::Victim.spec(), errors.clone()), errors);
        // A message already naming the label in force is left as it is.
        let relabel = Relabel::new(spec);
        assert_eq!(relabel.message(&out[0].message), out[0].message);
        assert!(Relabel::new(FormKey::Victim.spec()).is_empty());
    }
}
