//! Component schemas the finishing pass adds: each record resource's
//! shapes, derived from its form spec, and the answers that services build
//! as JSON values (duplicate warnings, import reports, dashboards, form
//! specs) described once here.

use serde_json::{json, Map, Value};
use sintra_domain::forms::FormSpec;
use sintra_domain::validation::PERSONAL_MASK;

use super::form_schema_name;

/// `#/components/schemas/<name>`.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The component names of a form's shapes.
pub struct FormSchemas {
    /// What a create or an upsert takes: `<form>_input`.
    pub input: String,
    /// What an update takes (every field optional): `<form>_patch`.
    pub patch: String,
    /// What a child route's create takes (the parent comes from the
    /// path): `<form>_child_input`.
    pub child_input: String,
    /// What a read answers: `<form>_record`.
    pub record: String,
    /// What a list answers: `<form>_page`.
    pub page: String,
    /// What a write answers: `<form>_written`.
    pub written: String,
}

impl FormSchemas {
    pub fn of(spec: &FormSpec) -> FormSchemas {
        let key = spec.key.as_str();
        FormSchemas {
            input: form_schema_name(spec.key),
            patch: format!("{key}_patch"),
            child_input: format!("{key}_child_input"),
            record: format!("{key}_record"),
            page: format!("{key}_page"),
            written: format!("{key}_written"),
        }
    }
}

/// Whether a form's writes answer `{data, warnings}` (a person: the
/// duplicate check runs on every write of one).
pub fn answers_with_warnings(spec: &FormSpec) -> bool {
    spec.key == sintra_services::duplicates::PERSON_FORM
}

/// The columns every record carries besides its form's fields.
fn shared_columns() -> Map<String, Value> {
    let uuid = |d: &str| json!({"type": "string", "format": "uuid", "description": d});
    let stamp = |d: &str| json!({"type": "string", "format": "date-time", "description": d});
    let who = |d: &str| json!({"type": ["string", "null"], "format": "uuid", "description": d});
    let mut m = Map::new();
    m.insert("id".into(), uuid("The record's id"));
    m.insert(
        "version".into(),
        json!({"type": "integer", "minimum": 1, "description": "Optimistic-concurrency version: the ETag, and what `If-Match` names"}),
    );
    m.insert(
        "entity_code".into(),
        json!({"type": "string", "pattern": "^[0-9]{2}$", "description": "INEGI entity code (`00` federal)"}),
    );
    m.insert(
        "institution_id".into(),
        uuid("The institution that registered it"),
    );
    m.insert("created_at".into(), stamp("When it was registered"));
    m.insert("created_by".into(), who("The account that registered it"));
    m.insert("updated_at".into(), stamp("When it last changed"));
    m.insert("updated_by".into(), who("The account that last changed it"));
    m
}

/// The shapes of one form, keyed by component name: those of a record
/// resource, or of a child resource (created under its parent).
pub fn form_shapes(spec: &FormSpec, child: bool) -> Vec<(String, Value)> {
    let names = FormSchemas::of(spec);
    let input = spec.json_schema();
    let fields = input["properties"].as_object().cloned().unwrap_or_default();
    let label = format!(
        "{} / {} (form `{}`)",
        spec.label.es, spec.label.en, spec.key
    );

    let mut patch = input.clone();
    patch["required"] = json!([]);
    patch["description"] = json!(format!(
        "{label}: the fields to change, each optional. The record as it would stand is validated whole."
    ));

    let mut child_input = input.clone();
    if let Some(parent) = spec.parent {
        let parent_field = format!("{}_id", parent.as_str());
        if let Some(props) = child_input["properties"].as_object_mut() {
            props.remove(&parent_field);
        }
        if let Some(req) = child_input["required"].as_array_mut() {
            req.retain(|r| r != parent_field.as_str());
        }
    }
    child_input["description"] = json!(format!(
        "{label}, created under its parent: the parent comes from the path."
    ));

    let mut properties = shared_columns();
    if answers_with_warnings(spec) {
        // Reads and lists of people show the person (writes do not).
        properties.insert(
            "person_id".into(),
            json!({"type": "string", "format": "uuid", "description": "The person this record belongs to (records joined by confirmed duplicate pairs are one person); on reads and lists"}),
        );
        properties.insert(
            "person_records".into(),
            json!({"type": "array", "items": schema_ref("PersonRecord"), "description": "The person's other records; on reads and lists"}),
        );
    }
    for (key, schema) in fields {
        let personal = schema["x-personal"] == json!(true);
        let schema = if personal {
            json!({
                "title": schema["title"],
                "description": format!(
                    "{} Personal data: `{PERSONAL_MASK}` for roles that may not read it.",
                    schema["description"].as_str().unwrap_or_default()
                ),
                "x-personal": true,
                "anyOf": [strip_text(&schema), schema_ref("PersonalMask")],
            })
        } else {
            schema
        };
        properties.entry(key).or_insert(schema);
    }
    let record = json!({
        "type": "object",
        "title": format!("{} (registro)", spec.label.es),
        "description": format!(
            "{label} as the API shows it: the shared columns and the form's fields. A field never filled in may be absent or null."
        ),
        "properties": properties,
        // The form's required fields are in every stored record: a write
        // is validated whole, whatever its path (API, upsert, import).
        "required": shared_columns()
            .keys()
            .cloned()
            .chain(spec.required_fields().map(str::to_string))
            .collect::<std::collections::BTreeSet<_>>(),
    });
    let page = json!({
        "type": "object",
        "description": format!("A page of {label} records, in creation order."),
        "properties": {
            "items": {"type": "array", "items": schema_ref(&names.record)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "The `cursor` of the next page; null on the last page"
            }
        },
        "required": ["items", "next_cursor"],
    });
    let written = if answers_with_warnings(spec) {
        json!({
            "type": "object",
            "description": format!(
                "What a write of {label} answers: the record as stored and its possible duplicates (a person is checked on every write)."
            ),
            "properties": {
                "data": schema_ref(&names.record),
                "warnings": {"type": "array", "items": schema_ref("DuplicateWarning")}
            },
            "required": ["data", "warnings"],
        })
    } else {
        let mut r = schema_ref(&names.record);
        r["description"] = json!(format!(
            "What a write of {label} answers: the record as stored, as a read shows it."
        ));
        r
    };
    let mut shapes = vec![
        (names.record, record),
        (names.page, page),
        (names.written, written),
    ];
    if child {
        shapes.push((names.child_input, child_input));
    } else {
        shapes.push((names.patch, patch));
    }
    shapes
}

/// A field's schema without its labels (they stay on the `anyOf` around it).
fn strip_text(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("title");
        m.remove("description");
        m.remove("x-personal");
    }
    s
}

fn label() -> Value {
    json!({
        "type": "object",
        "description": "A label in Spanish and English",
        "properties": {"es": {"type": "string"}, "en": {"type": "string"}},
        "required": ["es", "en"],
    })
}

/// The schemas of answers the services build as JSON.
pub fn shared_schemas() -> Vec<(&'static str, Value)> {
    let figure = json!({
        "type": ["number", "null"],
        "description": "A count, or a value derived from counts; null when withheld or not applicable"
    });
    vec![
        ("Label", label()),
        (
            "PersonalMask",
            json!({
                "type": "string",
                "const": PERSONAL_MASK,
                "description": "What a personal field shows to roles that may not read personal data",
            }),
        ),
        (
            "DuplicateWarning",
            json!({
                "type": "object",
                "description": "A possible duplicate of a person. A candidate outside the caller's scope shows only its entity and institution: no id, no comparison.",
                "properties": {
                    "code": {"type": "string", "const": "possible_duplicate"},
                    "level": {"type": "string", "enum": ["exact", "probable", "possible"], "description": "`exact`: same valid CURP; `probable` and `possible` by score"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "candidate": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string", "format": "uuid", "description": "Only when the candidate lies in the caller's scope"},
                            "entity_code": {"type": "string"},
                            "institution": {"type": "string", "description": "The candidate's institution's name"}
                        },
                        "required": ["entity_code", "institution"]
                    },
                    "comparison": {
                        "type": ["object", "null"],
                        "description": "Per field: `match`, `mismatch` or `blank`; null outside the caller's scope",
                        "additionalProperties": {"type": "string", "enum": ["match", "mismatch", "blank"]}
                    }
                },
                "required": ["code", "level", "score", "candidate"],
            }),
        ),
        (
            "PersonRecord",
            json!({
                "type": "object",
                "description": "A record of a person (records joined by confirmed duplicate pairs are one person). One outside the caller's scope shows only its entity and institution: its id is null.",
                "properties": {
                    "id": {"type": ["string", "null"], "format": "uuid", "description": "The record's id; null outside the caller's scope"},
                    "entity_code": {"type": "string", "pattern": "^[0-9]{2}$"},
                    "institution_id": {"type": "string", "format": "uuid"},
                    "in_scope": {"type": "boolean", "description": "Whether the caller may read the record"}
                },
                "required": ["id", "entity_code", "institution_id", "in_scope"],
            }),
        ),
        (
            "Person",
            json!({
                "type": "object",
                "description": "A person: every record of it, and the attentions and investigations of any of them that lie in the caller's scope.",
                "properties": {
                    "person_id": {"type": "string", "format": "uuid", "description": "The person's identifier (not a record's id)"},
                    "records": {"type": "array", "items": schema_ref("PersonRecord")},
                    "attentions": {"type": "array", "items": schema_ref("attention_record")},
                    "investigations": {"type": "array", "items": schema_ref("investigation_record")}
                },
                "required": ["person_id", "records", "attentions", "investigations"],
            }),
        ),
        (
            "DuplicateCheck",
            json!({
                "type": "object",
                "description": "The warnings a create of this draft would give",
                "properties": {"warnings": {"type": "array", "items": schema_ref("DuplicateWarning")}},
                "required": ["warnings"],
            }),
        ),
        (
            "ImportError",
            json!({
                "type": "object",
                "description": "One error of an import, by the row and column Excel shows",
                "properties": {
                    "row": {"type": "integer", "minimum": 0},
                    "column": {"type": ["string", "null"], "description": "The column letter"},
                    "field": {"type": ["string", "null"], "description": "The form field"},
                    "code": {"type": "string"},
                    "message": {"type": "string", "description": "In the caller's language"}
                },
                "required": ["row", "code", "message"],
            }),
        ),
        (
            "ImportCredential",
            json!({
                "type": "object",
                "description": "The one-time password of an account a committed import created (shown in this answer only)",
                "properties": {
                    "row": {"type": "integer", "minimum": 0},
                    "username": {"type": "string"},
                    "one_time_secret": {"type": "string"}
                },
                "required": ["row", "username", "one_time_secret"],
            }),
        ),
        (
            "ImportReport",
            json!({
                "type": "object",
                "description": "The report of an import: rows read and valid, rows created and updated by a commit, each error by Excel row and column, and duplicate warnings",
                "properties": {
                    "import_id": {"type": "string", "format": "uuid"},
                    "form": {"type": "string", "description": "The form's key"},
                    "dry_run": {"type": "boolean"},
                    "file_sha256": {"type": "string"},
                    "rows_read": {"type": "integer", "minimum": 0},
                    "rows_valid": {"type": "integer", "minimum": 0},
                    "rows_created": {"type": "integer", "minimum": 0},
                    "rows_updated": {"type": "integer", "minimum": 0},
                    "errors": {"type": "array", "items": schema_ref("ImportError")},
                    "warnings": {
                        "type": "array",
                        "description": "Duplicate warnings by row: within the file and against the system",
                        "items": {"type": "object", "additionalProperties": true, "properties": {"row": {"type": "integer"}}}
                    },
                    "annotated_workbook": {"type": ["string", "null"], "description": "Where the workbook with its errors marked can be downloaded"},
                    "credentials": {"type": "array", "items": schema_ref("ImportCredential")}
                },
                "required": ["import_id", "form", "dry_run", "file_sha256", "rows_read", "rows_valid", "rows_created", "rows_updated", "errors", "warnings"],
            }),
        ),
        (
            "ImportUpload",
            json!({
                "type": "object",
                "description": "A multipart upload",
                "properties": {"file": {"type": "string", "format": "binary", "description": "The .xlsx workbook"}},
                "required": ["file"],
            }),
        ),
        (
            "FormField",
            json!({
                "type": "object",
                "description": "A field of a form spec",
                "properties": {
                    "key": {"type": "string"},
                    "label": schema_ref("Label"),
                    "help": schema_ref("Label"),
                    "type": {"type": "string", "description": "text, long_text, date, integer, decimal, boolean, catalog, reference, curp, choice or uuid"},
                    "required": {"type": "boolean"},
                    "personal": {"type": "boolean"},
                    "rules": {"type": "array", "items": {"type": "object", "additionalProperties": true, "description": "A validation rule: `{rule, …}` (free-form: each rule carries its own parameters)"}},
                    "max_length": {"type": "integer"},
                    "min": {"type": "number"},
                    "max": {"type": "number"},
                    "catalog": {"type": "string"},
                    "multiple": {"type": "boolean"},
                    "parent_field": {"type": "string"},
                    "reference": {"type": "string"},
                    "folio_key": {"type": "string"},
                    "options": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}, "label": schema_ref("Label")}, "required": ["code"]}}
                },
                "required": ["key", "label", "help", "type", "required", "personal", "rules"],
            }),
        ),
        (
            "FormSpec",
            json!({
                "type": "object",
                "description": "A published form spec: its fields, their types, catalogs, limits, and which are required or personal",
                "properties": {
                    "form": {"type": "string"},
                    "label": schema_ref("Label"),
                    "resource_path": {"type": ["string", "null"]},
                    "parent": {"type": ["string", "null"]},
                    "period_date": {"description": "The date that places a record in a quarter (null for administration forms)"},
                    "fields": {"type": "array", "items": schema_ref("FormField")},
                    "schema": {"type": "object", "additionalProperties": true, "description": "The form's JSON Schema (the `<form>_input` component): free-form, as it is a schema itself (only on `GET /forms/{form}`)"}
                },
                "required": ["form", "label", "fields"],
            }),
        ),
        (
            "DashboardTableInfo",
            json!({
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "title": schema_ref("Label"),
                    "rows_by": {"type": "string"},
                    "columns_by": {"type": "string"}
                },
                "required": ["key", "title", "rows_by", "columns_by"],
            }),
        ),
        (
            "DashboardInfo",
            json!({
                "type": "object",
                "description": "A dashboard: its groupings, filters and tables",
                "properties": {
                    "name": {"type": "string"},
                    "label": schema_ref("Label"),
                    "reference_date": schema_ref("Label"),
                    "group_by": {"type": "array", "items": {"type": "string"}},
                    "filters": {"type": "array", "items": {"type": "string"}},
                    "tables": {"type": "array", "items": schema_ref("DashboardTableInfo")},
                    "suppressible": {"type": "boolean", "description": "Whether small counts are withheld for roles without access to personal data"}
                },
                "required": ["name", "label", "group_by", "filters", "tables"],
            }),
        ),
        (
            "DashboardList",
            json!({
                "type": "object",
                "properties": {"items": {"type": "array", "items": schema_ref("DashboardInfo")}},
                "required": ["items"],
            }),
        ),
        (
            "Category",
            json!({
                "type": "object",
                "properties": {"code": {"type": "string"}, "label": schema_ref("Label")},
                "required": ["code", "label"],
            }),
        ),
        (
            "FigureTable",
            json!({
                "type": "object",
                "description": "One table: rows by a dimension, columns by another; a cell is null when withheld (see `suppressed`) or not applicable",
                "properties": {
                    "key": {"type": "string"},
                    "title": schema_ref("Label"),
                    "unit": {"type": "string", "enum": ["count", "rate_per100k", "median_days", "percent"]},
                    "rows_by": {"type": "string"},
                    "columns_by": {"type": "string"},
                    "margins": {"description": "Which totals are published"},
                    "columns": {"type": "array", "items": schema_ref("Category")},
                    "rows": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "label": schema_ref("Label"),
                            "cells": {"type": "array", "items": figure.clone()},
                            "total": figure.clone()
                        },
                        "required": ["code", "label", "cells"]
                    }},
                    "column_totals": {"type": "array", "items": figure.clone()},
                    "grand_total": figure,
                    "suppressed": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"row": {"type": "string"}, "column": {"type": "string"}},
                        "required": ["row", "column"]
                    }},
                    "note": {"anyOf": [schema_ref("Label"), {"type": "null"}]}
                },
                "required": ["key", "title", "unit", "columns", "rows"],
            }),
        ),
        (
            "Dashboard",
            json!({
                "type": "object",
                "description": "The figures of one dashboard in the caller's scope",
                "properties": {
                    "dashboard": {"type": "string"},
                    "title": schema_ref("Label"),
                    "reference_date": schema_ref("Label"),
                    "filters": {"type": "object", "description": "The filters applied, after validation", "properties": {
                        "from": {"type": ["string", "null"], "format": "date"},
                        "to": {"type": ["string", "null"], "format": "date"},
                        "entity_code": {"type": ["string", "null"]},
                        "municipality_code": {"type": ["string", "null"]},
                        "institution_id": {"type": ["string", "null"], "format": "uuid"},
                        "group_by": {"type": "string"}
                    }},
                    "extracted_at": {"type": "string", "format": "date-time"},
                    "suppression": {"type": "object", "properties": {
                        "applied": {"type": "boolean"},
                        "threshold": {"type": "integer"},
                        "note": schema_ref("Label")
                    }},
                    "tables": {"type": "array", "items": schema_ref("FigureTable")}
                },
                "required": ["dashboard", "title", "filters", "extracted_at", "tables"],
            }),
        ),
        (
            "CountFigure",
            json!({
                "type": ["integer", "string"],
                "description": "A count, or `\"<5\"` when withheld (counts of 1 to 4, for roles without access to personal data)"
            }),
        ),
        (
            "JudicializationRow",
            json!({
                "type": "object",
                "description": "One month (`month`) or entity (`entity_code`), or the totals (neither); `partial` lists the sums that leave a withheld figure out",
                "properties": {
                    "month": {"type": "string"},
                    "entity_code": {"type": "string"},
                    "investigations": schema_ref("CountFigure"),
                    "criminal_cases": schema_ref("CountFigure"),
                    "defendants": schema_ref("CountFigure"),
                    "sentences": {
                        "type": "object",
                        "properties": {"condenatorias": schema_ref("CountFigure"), "absolutorias": schema_ref("CountFigure")},
                        "required": ["condenatorias", "absolutorias"]
                    },
                    "victims": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"sex": {"type": "string"}, "age_group": {"type": "string"}, "count": schema_ref("CountFigure")},
                        "required": ["sex", "age_group", "count"]
                    }},
                    "partial": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["investigations", "criminal_cases", "defendants", "sentences", "victims", "partial"],
            }),
        ),
        (
            "JudicializationCounts",
            json!({
                "type": "object",
                "description": "The judicialization funnel in the caller's scope, comparable with SESNSP's",
                "properties": {
                    "group_by": {"type": "string", "enum": ["month", "entity"]},
                    "from": {"type": ["string", "null"], "format": "date"},
                    "to": {"type": ["string", "null"], "format": "date"},
                    "fuero": {"type": ["string", "null"]},
                    "rows": {"type": "array", "items": schema_ref("JudicializationRow")},
                    "totals": schema_ref("JudicializationRow"),
                    "suppression": {
                        "type": "object",
                        "description": "How small counts were treated",
                        "properties": {"applied": {"type": "boolean"}, "threshold": {"type": "integer"}, "note": schema_ref("Label")},
                        "required": ["applied", "threshold"]
                    },
                    "definitions": schema_ref("Label")
                },
                "required": ["group_by", "rows", "totals", "suppression"],
            }),
        ),
    ]
}
