//! The finishing pass over the document utoipa generates: one place that
//! turns it into a contract a frontend can generate a typed client from.
//!
//! It works on every operation by what the operation is (its security, its
//! parameters, its body), so a route added later gets the same treatment
//! without being listed here:
//!
//! - a unique `operationId` (the record handlers name theirs from
//!   [`super::resources`]; hand-written routes from `OPERATION_IDS`, else
//!   their own or their function's name in camelCase), a summary and a
//!   description;
//! - the record resources' bodies: `<form>_input`, `<form>_patch`,
//!   `<form>_record`, `<form>_page`, `<form>_written`;
//! - the problem document for every error status the operation can
//!   answer, from what it is: 400 everywhere (the input-boundary
//!   middleware answers `control_characters` before any handler), 401 and
//!   403 on every authenticated route, 404 with a path parameter, 413, 415
//!   and 422 with a body, 422 with query parameters, 409 with an
//!   `Idempotency-Key`, 412 and 428 with `If-Match`, 503 wherever the
//!   database is read;
//! - headers: `X-Request-Id` on every answer, `ETag` on records,
//!   `Location` on creations, `Retry-After` on 429 and 503;
//! - `limit` bounds as the server enforces them.

use super::resources::{Action, CHILD_RESOURCES, OPERATION_IDS, RECORD_RESOURCES};
use super::schemas::{form_shapes, schema_ref, shared_schemas, FormSchemas};
use serde_json::{json, Map, Value};

const PROBLEM_JSON: &str = "application/problem+json";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The rule every write follows, said once in the document's description
/// and referred to by each write.
pub const WRITE_ANSWER_RULE: &str = "**Answers.** A read answers the record: the shared columns \
(`id`, `version`, `entity_code`, `institution_id`, `created_at/by`, `updated_at/by`) and the \
form's fields (`<form>_record`). A list answers a page `{items, next_cursor}` (`<form>_page`). A \
write (create, update, upsert by folio) answers `<form>_written`: the record as a read shows it, \
except for a person (`victim`), whose every write also runs the duplicate check and answers \
`{data, warnings}` — the record and its possible duplicates (`?on_duplicate=reject` refuses an \
exact or probable one with 409 instead). Creations answer 201 with `Location` and `ETag`; \
updates 200 with `ETag`; a retry with the same `Idempotency-Key` replays the first answer \
(`Idempotent-Replayed: true`).";

/// Finishes the generated document (see the module's documentation).
pub fn finish(mut spec: Value) -> Value {
    add_document_metadata(&mut spec);
    add_components(&mut spec);
    if let Some(paths) = spec["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method) {
                    finish_operation(method, path, op);
                }
            }
        }
    }
    merge_equivalent_paths(&mut spec);
    declare_used_tags(&mut spec);
    spec
}

/// OpenAPI forbids two templated paths that differ only in their
/// parameters' names, such as `/excel/imports/{form}` (upload a workbook of
/// a form) and `/excel/imports/{id}` (an import job): the server tells them
/// apart by method and by what the segment holds (a form key or a UUID).
/// They are declared as one path whose parameter is named after both
/// (`{form_or_id}`); each operation keeps its own parameter's schema and
/// description, so a client still sends a form key to one and an id to the
/// other. Two operations with the same method on such paths would be a real
/// clash, and stop the build of the document.
fn merge_equivalent_paths(spec: &mut Value) {
    let Some(paths) = spec["paths"].as_object_mut() else {
        return;
    };
    // A segment is a parameter when it is exactly `{name}`; `{id}.xlsx`
    // differs from `{id}` and stays apart.
    let is_param =
        |seg: &str| seg.starts_with('{') && seg.ends_with('}') && seg.matches('{').count() == 1;
    let shape = |path: &str| -> String {
        path.split('/')
            .map(|seg| if is_param(seg) { "{}" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for path in paths.keys() {
        groups.entry(shape(path)).or_default().push(path.clone());
    }
    for (shape, mut group) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
        group.sort();
        let segments: Vec<Vec<&str>> = group.iter().map(|p| p.split('/').collect()).collect();
        // Per position, the names the paths give it, joined.
        let merged: Vec<String> = shape
            .split('/')
            .enumerate()
            .map(|(i, seg)| {
                if seg != "{}" {
                    return seg.to_string();
                }
                let mut names: Vec<&str> = Vec::new();
                for path in &segments {
                    let name = path[i].trim_start_matches('{').trim_end_matches('}');
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                format!("{{{}}}", names.join("_or_"))
            })
            .collect();
        let mut item = Map::new();
        for (path, segs) in group.iter().zip(&segments) {
            let Some(Value::Object(old)) = paths.remove(path) else {
                continue;
            };
            let renames: Vec<(String, String)> = segs
                .iter()
                .zip(&merged)
                .filter(|(seg, _)| is_param(seg))
                .map(|(seg, new)| {
                    (
                        seg[1..seg.len() - 1].to_string(),
                        new[1..new.len() - 1].to_string(),
                    )
                })
                .collect();
            for (method, mut op) in old {
                for p in op["parameters"].as_array_mut().into_iter().flatten() {
                    if p["in"] == "path" {
                        if let Some((_, new)) =
                            renames.iter().find(|(old, _)| p["name"] == old.as_str())
                        {
                            p["name"] = json!(new);
                        }
                    }
                }
                assert!(
                    item.insert(method.clone(), op).is_none(),
                    "two {method} operations on paths that OpenAPI cannot tell apart: {group:?}"
                );
            }
        }
        paths.insert(merged.join("/"), Value::Object(item));
    }
}

fn add_document_metadata(spec: &mut Value) {
    // Every operation needs a bearer token unless it says `security: []`
    // (health, the token endpoint): deny by default, as the policy does.
    spec["security"] = json!([{"bearer": []}]);
    spec["servers"] = json!([{
        "url": "http://127.0.0.1:8080",
        "description": "A local server (`sintra serve`, `SINTRA_BIND`); a deployment serves the same paths under its own address"
    }]);
    let description = spec["info"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    spec["info"]["description"] = json!(format!(
        "{description}\n\n{WRITE_ANSWER_RULE}\n\n**Lists** take `limit` (1 to 500, 50 by default) and \
         the opaque `cursor` of the previous page's `next_cursor`. **Every answer** carries \
         `X-Request-Id`; quote it when reporting a problem. **Errors** are problem documents \
         (`Problem`) with a stable `code`; every operation lists the statuses it can answer."
    ));
    spec["info"]["contact"] = json!({
        "name": "SINTRA — Secretaría Técnica de la Comisión Intersecretarial",
    });
}

// The document is utoipa's, whose shape this module relies on throughout;
// the `openapi` test generates and checks it on every run.
#[allow(clippy::expect_used)]
fn add_components(spec: &mut Value) {
    let components = &mut spec["components"];
    let schemas = components["schemas"]
        .as_object_mut()
        .expect("utoipa writes components.schemas");
    for (name, schema) in shared_schemas() {
        schemas.insert(name.to_string(), schema);
    }
    for r in RECORD_RESOURCES {
        for (name, schema) in form_shapes(r.form.spec(), false) {
            schemas.insert(name, schema);
        }
    }
    for r in CHILD_RESOURCES {
        for (name, schema) in form_shapes(r.form.spec(), true) {
            schemas.insert(name, schema);
        }
    }
    // Fields utoipa could only call objects.
    if let Some(p) = schemas.get_mut("Problem") {
        p["properties"]["candidates"] = json!({
            "type": ["array", "null"],
            "description": "The possible duplicates behind a refused write (409), as the caller may see them",
            "items": schema_ref("DuplicateWarning"),
        });
        p["properties"]["report"] = json!({
            "anyOf": [schema_ref("ImportReport"), {"type": "null"}],
            "description": "The import report behind a refused commit (422)",
        });
        p["examples"] = json!([{
            "type": "https://sintra.example/problems/validation-failed",
            "title": "Datos no válidos",
            "status": 422,
            "code": "validation_failed",
            "detail": "Revise los campos señalados.",
            "errors": [{"field": "detection_date", "code": "required", "message": "El campo es obligatorio."}],
            "request_id": "5f0c7d0e-2b1a-4c55-9d0e-6a3f2b1c9e11"
        }]);
    }
    for schema in schemas.values_mut() {
        explain_free_form(schema);
    }
    add_examples(schemas);
    // utoipa inlines the item of a generic page (`Page_AuditEventOut`):
    // point it at the item's own component instead.
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if schemas.contains_key(item) {
            if let Some(items) = schemas
                .get_mut(&name)
                .and_then(|p| p.get_mut("properties"))
                .and_then(|p| p.get_mut("items"))
            {
                items["items"] = schema_ref(item);
            }
        }
    }
    components["headers"] = json!({
        "X-Request-Id": {
            "description": "The request's id (also in a problem's `request_id` and in the server's logs)",
            "schema": {"type": "string"}
        },
        "ETag": {
            "description": "The record's version, quoted (`\"3\"`): send it back in `If-Match`",
            "schema": {"type": "string"}
        },
        "Location": {
            "description": "The path of the created resource",
            "schema": {"type": "string"}
        },
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 0}
        },
        "Idempotent-Replayed": {
            "description": "`true` when this is the replayed answer of an earlier request with the same `Idempotency-Key`",
            "schema": {"type": "string", "enum": ["true"]}
        }
    });
}

/// Examples from real payloads: the bodies and answers of
/// `tests/tests/victims.rs` and `tests/tests/changes.rs` (ids and times as
/// a run printed them).
fn add_examples(schemas: &mut Map<String, Value>) {
    let victim = json!({
        "condition": "VICTIMA",
        "given_names": "María Guadalupe",
        "first_surname": "Hernández",
        "second_surname": "de la Cruz",
        "sex": "MUJER",
        "birth_date": "1999-04-12",
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_municipality_code": "19039",
        "detection_source": "DENUNCIA",
        "exploitation_forms": ["EXPLOTACION_SEXUAL"]
    });
    let mut record = victim.clone();
    for (k, v) in [
        ("id", json!("01a24e31-dbbe-72c1-b4a8-2943fa286d0b")),
        ("version", json!(1)),
        ("entity_code", json!("19")),
        (
            "institution_id",
            json!("01a24e31-d9f0-7d43-9a57-2b1f0c3e8a10"),
        ),
        ("created_at", json!("2026-12-07T02:02:34.005025Z")),
        ("created_by", json!("01a24e31-da11-7e02-8c3b-5f6a7b8c9d0e")),
        ("updated_at", json!("2026-12-07T02:02:34.005025Z")),
        ("updated_by", json!("01a24e31-da11-7e02-8c3b-5f6a7b8c9d0e")),
    ] {
        record[k] = v;
    }
    let example = |schemas: &mut Map<String, Value>, name: &str, value: Value| {
        if let Some(s) = schemas.get_mut(name) {
            s["examples"] = json!([value]);
        }
    };
    example(schemas, "victim_input", victim);
    example(
        schemas,
        "victim_written",
        json!({
            "data": record,
            "warnings": [{
                "code": "possible_duplicate",
                "level": "probable",
                "score": 0.93,
                "candidate": {"entity_code": "09", "institution": "CEAV Ciudad de México"},
                "comparison": null
            }]
        }),
    );
    example(
        schemas,
        "TokenRequest",
        json!({"grant_type": "password", "username": "operador.nl", "password": "una-contrasena-larga-2026"}),
    );
    example(
        schemas,
        "ChangesPage",
        json!({
            "items": [{
                "form": "victim",
                "id": "01a24e31-dbbe-72c1-b4a8-2943fa286d0b",
                "version": 2,
                "kind": "updated",
                "changed_at": "2026-12-07T02:02:35.101Z",
                "entity_code": "19",
                "institution_id": "01a24e31-d9f0-7d43-9a57-2b1f0c3e8a10",
                "href": "/api/v1/victims/01a24e31-dbbe-72c1-b4a8-2943fa286d0b"
            }],
            "next_cursor": "MTI",
            "has_more": false
        }),
    );
}

/// An object schema without properties types nothing for a client: the
/// ones that are free-form by nature get `additionalProperties` and say
/// why; any other is left for the test that refuses bare objects.
fn explain_free_form(schema: &mut Value) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, p) in props.iter_mut() {
        let bare = p.get("properties").is_none()
            && p.get("additionalProperties").is_none()
            && (p["type"] == "object" || p["type"] == json!(["object", "null"]));
        if !bare {
            explain_free_form(p);
            if let Some(items) = p.get_mut("items") {
                explain_free_form(items);
            }
            continue;
        }
        let why = match name.as_str() {
            "changes" => {
                p["additionalProperties"] = json!({
                    "type": "object",
                    "properties": {"before": {}, "after": {}},
                    "description": "A field's value before and after (`[personal]` for personal fields)"
                });
                "The changed fields: field → {before, after} (free-form: the fields are the form's)"
            }
            "details" => "What else the event records (free-form: each action records its own: the method, status and path ids of a denial, the rows of an import, …)",
            "extra" => "The catalog's own columns beyond code and labels (free-form: each catalog has its own, e.g. an entity's population)",
            "figures" => "The frozen figures (free-form: `{record_counts, dashboards: {name: figures}}`, each dashboard's figures shaped as `Dashboard`)",
            _ => continue,
        };
        if p.get("additionalProperties").is_none() {
            p["additionalProperties"] = json!(true);
        }
        p["description"] = json!(why);
    }
}

/// Declares every tag an operation uses (with a description), in the
/// order the API's modules are listed.
fn declare_used_tags(spec: &mut Value) {
    let mut used = std::collections::BTreeSet::new();
    if let Some(paths) = spec["paths"].as_object() {
        for item in paths.values() {
            for method in METHODS {
                if let Some(tags) = item[method]["tags"].as_array() {
                    used.extend(tags.iter().filter_map(|t| t.as_str().map(str::to_string)));
                }
            }
        }
    }
    let tags = spec["tags"].as_array_mut();
    let Some(tags) = tags else { return };
    for t in tags.iter() {
        if let Some(name) = t["name"].as_str() {
            used.remove(name);
        }
    }
    for name in used {
        tags.push(json!({"name": name, "description": name}));
    }
}

fn camel_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn has_param(op: &Value, location: &str, name: Option<&str>) -> bool {
    op["parameters"].as_array().is_some_and(|ps| {
        ps.iter().any(|p| {
            p["in"] == location
                && name.is_none_or(|n| {
                    p["name"]
                        .as_str()
                        .is_some_and(|x| x.eq_ignore_ascii_case(n))
                })
        })
    })
}

// The document is utoipa's, whose shape this module relies on throughout;
// the `openapi` test generates and checks it on every run.
#[allow(clippy::expect_used)]
fn finish_operation(method: &str, path: &str, op: &mut Value) {
    // Names.
    if let Some((_, _, id)) = OPERATION_IDS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
    {
        op["operationId"] = json!(id);
    } else if let Some(id) = op["operationId"].as_str() {
        op["operationId"] = json!(camel_case(id));
    }
    let record = op["operationId"].as_str().and_then(Action::of_operation);
    if let Some((action, resource)) = record {
        op["summary"] = json!(action.summary(resource));
    }
    summarize(op);

    // Bodies of the record resources.
    if let Some((action, resource)) = record {
        type_record_operation(op, action, resource);
    }
    type_known_operation(op);

    // Parameters.
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            finish_parameter(p);
        }
    }

    // Responses.
    if op.get("security").is_none() {
        op["security"] = json!([]);
    }
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let has_body = op.get("requestBody").is_some();
    let has_query = has_param(op, "query", None);
    let has_path = has_param(op, "path", None);
    // A reused key with another body, or (`on_duplicate=reject`) a person
    // with exact or probable duplicates: 409.
    let conflicts = has_param(op, "header", Some("Idempotency-Key"))
        || has_param(op, "query", Some("on_duplicate"));
    let if_match = has_param(op, "header", Some("If-Match"));
    let reads_db = path != "/health/live";
    let responses = op["responses"]
        .as_object_mut()
        .expect("utoipa writes responses");
    let mut wanted = vec![400];
    if secured {
        wanted.extend([401, 403]);
    }
    if has_path {
        wanted.push(404);
    }
    if has_body {
        wanted.extend([413, 415, 422]);
    }
    if has_query {
        wanted.push(422);
    }
    if conflicts {
        wanted.push(409);
    }
    if if_match {
        wanted.extend([412, 428]);
    }
    if reads_db {
        wanted.push(503);
    }
    for status in wanted {
        responses
            .entry(status.to_string())
            .or_insert_with(|| json!({}));
    }
    let kind = match record {
        Some((Action::List, _)) | None => Answer::Other,
        Some((Action::Read, _)) => Answer::Record,
        // A child has no path of its own to point `Location` at.
        Some((Action::Create, r)) if r.path.contains('{') => Answer::Written,
        Some((Action::Update, _)) => Answer::Written,
        Some((Action::Create | Action::Upsert, _)) => Answer::Created,
    };
    for (status, response) in responses.iter_mut() {
        finish_response(status, response, kind);
    }
}

/// A summary (the first sentence of the description when utoipa put the
/// whole doc comment there) and a description (the summary when there is
/// nothing more to say).
fn summarize(op: &mut Value) {
    let description = op["description"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    if op["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
        let first = description
            .split_inclusive(". ")
            .next()
            .unwrap_or_default()
            .trim()
            .trim_end_matches('.')
            .to_string();
        let summary = if first.is_empty() {
            op["operationId"]
                .as_str()
                .unwrap_or("Operation")
                .to_string()
        } else if first.chars().count() > 100 {
            let cut: String = first.chars().take(97).collect();
            format!("{}…", cut.trim_end())
        } else {
            first
        };
        op["summary"] = json!(summary);
    }
    if description.is_empty() {
        op["description"] = op["summary"].clone();
    }
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn type_record_operation(
    op: &mut Value,
    action: Action,
    resource: &super::resources::RecordResource,
) {
    let spec = resource.form.spec();
    let names = FormSchemas::of(spec);
    let child = resource.path.contains("{id}");
    let set_response = |op: &mut Value, status: &str, schema: &str| {
        if let Some(r) = op["responses"].get_mut(status) {
            r["content"] = json_content(schema_ref(schema));
        }
    };
    match action {
        Action::List => set_response(op, "200", &names.page),
        Action::Read => set_response(op, "200", &names.record),
        Action::Create => {
            let input = if child {
                &names.child_input
            } else {
                &names.input
            };
            op["requestBody"]["content"] = json_content(schema_ref(input));
            op["requestBody"]["required"] = json!(true);
            set_response(op, "201", &names.written);
            set_response(op, "200", &names.written);
        }
        Action::Update => {
            op["requestBody"]["content"] = json_content(schema_ref(&names.patch));
            op["requestBody"]["required"] = json!(true);
            set_response(op, "200", &names.written);
        }
        Action::Upsert => {
            op["requestBody"]["content"] = json_content(schema_ref(&names.input));
            op["requestBody"]["required"] = json!(true);
            set_response(op, "200", &names.written);
            set_response(op, "201", &names.written);
        }
    }
    if matches!(action, Action::Create | Action::Update | Action::Upsert) && !child {
        // `?on_duplicate=reject` is read by every write (only a person can
        // have duplicates; elsewhere it changes nothing).
        let params = op.get_mut("parameters").and_then(Value::as_array_mut);
        let param = json!({
            "name": "on_duplicate",
            "in": "query",
            "required": false,
            "description": "`reject`: refuse the write (409, the candidates in the problem's `candidates`) when an exact or probable duplicate of the person exists. Without it a write is never refused for a duplicate: the answer lists the warnings",
            "schema": {"type": "string", "enum": ["reject"]}
        });
        match params {
            Some(ps) => ps.push(param),
            None => op["parameters"] = json!([param]),
        }
    }
}

/// Bodies of hand-written routes that answer a JSON value the services
/// build (utoipa knows them only as objects).
fn type_known_operation(op: &mut Value) {
    let id = op["operationId"].as_str().unwrap_or_default().to_string();
    let set = |op: &mut Value, status: &str, schema: Value| {
        if let Some(r) = op["responses"].get_mut(status) {
            if let Some(c) = r
                .get_mut("content")
                .and_then(|c| c.get_mut("application/json"))
            {
                if is_bare_object(&c["schema"]) {
                    c["schema"] = schema;
                }
            }
        }
    };
    match id.as_str() {
        "checkVictimDuplicates" => {
            op["requestBody"]["content"] = json_content(schema_ref("victim_patch"));
            op["requestBody"]["required"] = json!(true);
            set(op, "200", schema_ref("DuplicateCheck"));
        }
        "importWorkbook" => {
            if let Some(c) = op["requestBody"]["content"].get_mut("multipart/form-data") {
                c["schema"] = schema_ref("ImportUpload");
            }
            set(op, "200", schema_ref("ImportReport"));
        }
        "listForms" => set(
            op,
            "200",
            json!({"type": "array", "items": schema_ref("FormSpec")}),
        ),
        "readForm" => set(op, "200", schema_ref("FormSpec")),
        "listDashboards" => set(op, "200", schema_ref("DashboardList")),
        "readDashboard" => {
            // utoipa keeps one of several 200 answers; the route has three.
            if let Some(r) = op["responses"].get_mut("200") {
                r["description"] = json!(
                    "The figures (`format=json`, the default), the workbook (`format=xlsx`) or the CSV (`format=csv`)"
                );
                r["content"] = json!({
                    "application/json": {"schema": schema_ref("Dashboard")},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string"}},
                });
            }
        }
        "readJudicializationCounts" => set(op, "200", schema_ref("JudicializationCounts")),
        "readVictimPerson" => set(op, "200", schema_ref("Person")),
        _ => {}
    }
    // `Vec<Object>` of a list of form specs.
    if id == "listForms" {
        if let Some(s) =
            op["responses"]["200"]["content"]["application/json"]["schema"].get_mut("items")
        {
            if is_bare_object(s) {
                *s = schema_ref("FormSpec");
            }
        }
    }
}

fn is_bare_object(schema: &Value) -> bool {
    schema.get("$ref").is_none()
        && schema.get("properties").is_none()
        && schema.get("additionalProperties").is_none()
        && (schema["type"] == "object" || schema.as_object().is_some_and(|m| m.is_empty()))
}

fn finish_parameter(p: &mut Value) {
    let name = p["name"].as_str().unwrap_or_default().to_string();
    let location = p["in"].as_str().unwrap_or_default().to_string();
    match (Some(location.as_str()), name.as_str()) {
        (Some("query"), "limit") => {
            // What `PageParams::limit` enforces; a route with its own
            // bounds declares them on its parameter.
            if p["schema"].get("maximum").is_none() {
                p["schema"]["minimum"] = json!(1);
                p["schema"]["maximum"] = json!(crate::pagination::MAX_LIMIT);
                p["schema"]["default"] = json!(crate::pagination::DEFAULT_LIMIT);
            }
            if p.get("description").is_none() {
                p["description"] = json!("Page size: 1 to 500, 50 by default");
            }
        }
        (Some("query"), "cursor") => {
            if p.get("description").is_none() {
                p["description"] = json!("The `next_cursor` of the previous page (opaque)");
            }
        }
        (Some("path"), "id") => {
            if p.get("description").is_none() {
                p["description"] = json!("The resource's id");
            }
        }
        (Some("path"), "external_folio") => {
            if p.get("description").is_none() {
                p["description"] =
                    json!("The caller's institution's own folio of the record (its system's key)");
            }
            p["schema"]["maxLength"] = json!(100);
        }
        (Some("header"), h) if h.eq_ignore_ascii_case("If-Match") => {
            if p.get("description").is_none() {
                p["description"] = json!("The record's current version, as its ETag gave it");
            }
        }
        _ => {
            if p.get("description").is_none() {
                p["description"] = json!(name.replace('_', " "));
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No content",
        304 => "Not modified: the copy the caller holds (its ETag) is current",
        400 => "Malformed request: unreadable JSON, query or multipart, or a control character in a path segment, query, header or body (`control_characters`)",
        401 => "No valid bearer token: missing, expired, revoked, or of a deactivated account",
        403 => "The caller's role may not do this, or its one-time password must be changed first (`password_change_required`)",
        404 => "Not found in the caller's scope (a record outside it answers exactly like a missing one)",
        409 => "Conflict with the current state",
        412 => "`If-Match` names a version that is no longer current: read the record again",
        413 => "The body is over the size limit",
        415 => "The body's `Content-Type` is not the one this operation takes",
        422 => "Invalid data: `errors[]` names each field",
        428 => "`If-Match` is required: lost updates are impossible",
        429 => "Too many attempts: retry after `Retry-After` seconds",
        503 => "The database is unavailable: retry after `Retry-After` seconds (with the same `Idempotency-Key` for a create)",
        _ => "Answer",
    }
}

/// What a record operation's success answer carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A read: the record with its ETag.
    Record,
    /// An update: ETag, and a replay marker.
    Written,
    /// A create or an upsert: ETag, a replay marker, and Location on 201.
    Created,
    Other,
}

// The document is utoipa's, whose shape this module relies on throughout;
// the `openapi` test generates and checks it on every run.
#[allow(clippy::expect_used)]
fn finish_response(status: &str, response: &mut Value, kind: Answer) {
    let code: u16 = status.parse().unwrap_or(0);
    if response["description"]
        .as_str()
        .is_none_or(|d| d.is_empty())
    {
        response["description"] = json!(reason(code));
    }
    let headers = response
        .as_object_mut()
        .expect("a response is an object")
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    let header = |name: &str| json!({"$ref": format!("#/components/headers/{name}")});
    if let Some(h) = headers.as_object_mut() {
        h.insert("X-Request-Id".into(), header("X-Request-Id"));
        let success = code == 200 || code == 201;
        if success && kind != Answer::Other {
            h.insert("ETag".into(), header("ETag"));
        }
        if success && matches!(kind, Answer::Written | Answer::Created) {
            h.insert("Idempotent-Replayed".into(), header("Idempotent-Replayed"));
        }
        if kind == Answer::Created && code == 201 {
            h.insert("Location".into(), header("Location"));
        }
        if code == 429 || code == 503 {
            h.insert("Retry-After".into(), header("Retry-After"));
        }
    }
    if code >= 400 {
        response["content"] = json!({PROBLEM_JSON: {"schema": schema_ref("Problem")}});
    }
    // Binary downloads: a string of bytes, not an unnamed schema.
    if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
        for (media, c) in content.iter_mut() {
            let binary = media.starts_with("application/vnd.openxmlformats")
                || media.starts_with("text/csv");
            if binary && c["schema"].as_object().is_none_or(|s| s.is_empty()) {
                c["schema"] = if media.starts_with("text/csv") {
                    json!({"type": "string"})
                } else {
                    json!({"type": "string", "format": "binary"})
                };
            }
        }
    }
}
