//! A record as the API shows it, personal fields masked for callers who may
//! not read personal data.

use serde_json::{Map, Value};
use sintra_domain::access::{Caller, Permission};
use sintra_domain::forms::FormSpec;
use sintra_domain::validation::mask_personal;
use sintra_persistence::records::RecordRow;

/// A record as the API shows it: the shared columns and the form's fields,
/// personal fields masked for callers who may not read personal data.
pub fn record_json(row: &RecordRow, spec: &FormSpec, caller: &Caller) -> Value {
    let mut fields = row.fields();
    if !caller.actor.can(Permission::ReadPersonalData) {
        mask_personal(spec, &mut fields);
    }
    let mut out = Map::new();
    out.insert("id".into(), row.id.to_string().into());
    out.insert("version".into(), row.version.into());
    out.insert("entity_code".into(), row.entity_code.as_str().into());
    out.insert(
        "institution_id".into(),
        row.institution_id.to_string().into(),
    );
    out.insert(
        "created_at".into(),
        serde_json::to_value(row.created_at).unwrap_or_default(),
    );
    out.insert(
        "created_by".into(),
        serde_json::to_value(row.created_by).unwrap_or_default(),
    );
    out.insert(
        "updated_at".into(),
        serde_json::to_value(row.updated_at).unwrap_or_default(),
    );
    out.insert(
        "updated_by".into(),
        serde_json::to_value(row.updated_by).unwrap_or_default(),
    );
    for (k, v) in fields {
        out.entry(k).or_insert(v);
    }
    Value::Object(out)
}

/// What a write answers: the record, or for people `{data, warnings}` with
/// their possible duplicates (DESIGN.md §5).
pub fn write_body(
    row: &RecordRow,
    spec: &FormSpec,
    caller: &Caller,
    warnings: Option<Vec<Value>>,
) -> Value {
    let data = record_json(row, spec, caller);
    match warnings {
        Some(w) => serde_json::json!({"data": data, "warnings": w}),
        None => data,
    }
}
