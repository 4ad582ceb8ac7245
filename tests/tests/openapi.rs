//! The committed spec is the one the code generates, and every operation in
//! it has an access rule.

use sintra_http::policy::{rule_for_spec_path, RouteRule};

fn generated() -> serde_json::Value {
    serde_json::to_value(sintra_http::openapi()).unwrap()
}

#[test]
fn committed_spec_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("openapi/openapi.json is committed"),
    )
    .expect("committed spec is JSON");
    assert!(
        committed == generated(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -p sintra-http -- openapi > openapi/openapi.json`"
    );
}

fn operations() -> Vec<(String, String, serde_json::Value)> {
    let spec = generated();
    let mut ops = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops
}

#[test]
fn every_operation_has_an_access_rule_and_says_so() {
    let ops = operations();
    assert!(ops.len() >= 20, "the spec lists the routes ({})", ops.len());
    for (method, path, op) in ops {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let rule = rule_for_spec_path(&method, &path)
            .unwrap_or_else(|| panic!("{method} {path} has no rule in policy::ROUTES"));
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        match rule {
            RouteRule::Public => {
                assert!(!secured, "{method} {path} is public but declares security")
            }
            RouteRule::Requires(_) => {
                assert!(
                    secured,
                    "{method} {path} needs a token but declares no bearer security"
                );
            }
        }
    }
}

/// Each form spec and its OpenAPI schema say the same: same properties,
/// types, limits and required fields.
#[test]
fn every_form_spec_is_its_openapi_schema() {
    let spec = generated();
    for form in sintra_domain::forms::all_specs() {
        let name = sintra_http::openapi::form_schema_name(form.key);
        let published = &spec["components"]["schemas"][&name];
        assert!(published.is_object(), "{name} is in the spec");
        let expected = form.json_schema();
        assert_eq!(
            published["properties"]
                .as_object()
                .map(|p| p.keys().collect::<Vec<_>>()),
            expected["properties"]
                .as_object()
                .map(|p| p.keys().collect::<Vec<_>>()),
            "{name}: properties"
        );
        for (key, field) in expected["properties"].as_object().unwrap() {
            for attr in [
                "type",
                "maxLength",
                "minimum",
                "maximum",
                "format",
                "pattern",
                "items",
            ] {
                let (got, want) = (&published["properties"][key][attr], &field[attr]);
                // 0 and 0.0 are the same bound.
                let same = match (got.as_f64(), want.as_f64()) {
                    (Some(a), Some(b)) => a == b,
                    _ => got == want,
                };
                assert!(same, "{name}.{key}.{attr}: {got} != {want}");
            }
        }
        assert_eq!(
            published["required"], expected["required"],
            "{name}: required"
        );
        assert_eq!(
            published["additionalProperties"], false,
            "{name}: no mass assignment"
        );
    }
}

/// Every operation of the spec, with its method and path.
fn each_operation(spec: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut ops = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[test]
fn operation_ids_are_unique_camel_case_and_every_operation_is_described() {
    let spec = generated();
    let mut ids = std::collections::BTreeMap::new();
    for (method, path, op) in each_operation(&spec) {
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        assert!(
            !id.is_empty()
                && id.chars().next().unwrap().is_ascii_lowercase()
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{method} {path}: operationId {id:?} is not camelCase"
        );
        if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
            panic!("{id} names both {other} and {method} {path}");
        }
        for key in ["summary", "description"] {
            assert!(
                op[key].as_str().is_some_and(|s| !s.trim().is_empty()),
                "{method} {path}: no {key}"
            );
        }
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path}: no tag"
        );
        for (status, response) in op["responses"].as_object().unwrap() {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
            assert!(
                response["headers"]["X-Request-Id"].is_object(),
                "{method} {path} {status}: X-Request-Id"
            );
        }
    }
    assert_eq!(ids.len(), each_operation(&spec).len());
    assert!(spec["servers"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn every_operation_lists_the_problems_it_can_answer() {
    let spec = generated();
    for (method, path, op) in each_operation(&spec) {
        let responses = op["responses"].as_object().unwrap();
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        let mut wanted = vec!["400"];
        if secured {
            wanted.extend(["401", "403"]);
        }
        if path.contains('{') {
            wanted.push("404");
        }
        if op.get("requestBody").is_some() {
            wanted.extend(["413", "415", "422"]);
        }
        if op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "If-Match"))
        {
            wanted.extend(["412", "428"]);
        }
        if path != "/health/live" {
            wanted.push("503");
        }
        if op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "on_duplicate"))
        {
            wanted.push("409");
        }
        for status in wanted {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not list {status}"
            );
        }
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
            if status == "503" || status == "429" {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} {status}: Retry-After"
                );
            }
        }
    }
}

/// A schema that says nothing but "an object" types nothing for a client.
fn bare_objects(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            let is_object = m.get("type") == Some(&serde_json::json!("object"))
                || m.get("type") == Some(&serde_json::json!(["object", "null"]));
            if is_object && !m.contains_key("properties") && !m.contains_key("additionalProperties")
            {
                out.push(at.clone());
            }
            for (k, x) in m {
                bare_objects(x, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                bare_objects(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn no_body_is_a_bare_object() {
    let spec = generated();
    let mut found = vec![];
    bare_objects(&spec, String::new(), &mut found);
    assert!(found.is_empty(), "bare objects: {found:#?}");
    // Free-form objects say why in their description.
    fn free_form(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("additionalProperties") == Some(&serde_json::json!(true))
                    && !m.contains_key("properties")
                {
                    out.push(v.clone());
                }
                m.values().for_each(|x| free_form(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| free_form(x, out)),
            _ => {}
        }
    }
    let mut free = vec![];
    free_form(&spec["components"], &mut free);
    for f in free {
        assert!(
            f["description"]
                .as_str()
                .is_some_and(|d| d.contains("free-form")),
            "a free-form object without its reason: {f}"
        );
    }
}

#[test]
fn record_operations_are_named_by_their_resource_and_typed_by_their_form() {
    use sintra_http::openapi::{Action, CHILD_RESOURCES, RECORD_RESOURCES};
    let spec = generated();
    let ops = each_operation(&spec);
    let find = |id: &str| {
        ops.iter()
            .find(|(_, _, op)| op["operationId"] == id)
            .unwrap_or_else(|| panic!("{id} is in the spec"))
            .2
            .clone()
    };
    let schema_of = |v: &serde_json::Value| {
        v["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("#/components/schemas/")
            .to_string()
    };
    for r in RECORD_RESOURCES {
        let form = r.form.as_str();
        let list = find(&Action::List.name(r));
        assert_eq!(schema_of(&list["responses"]["200"]), format!("{form}_page"));
        let create = find(&Action::Create.name(r));
        assert_eq!(schema_of(&create["requestBody"]), format!("{form}_input"));
        assert_eq!(
            schema_of(&create["responses"]["201"]),
            format!("{form}_written")
        );
        assert!(create["responses"]["201"]["headers"]["Location"].is_object());
        let read = find(&Action::Read.name(r));
        assert_eq!(
            schema_of(&read["responses"]["200"]),
            format!("{form}_record")
        );
        assert!(read["responses"]["200"]["headers"]["ETag"].is_object());
        let update = find(&Action::Update.name(r));
        assert_eq!(schema_of(&update["requestBody"]), format!("{form}_patch"));
        let upsert = find(&Action::Upsert.name(r));
        assert_eq!(schema_of(&upsert["requestBody"]), format!("{form}_input"));
        for name in ["record", "page", "written", "patch"] {
            assert!(
                spec["components"]["schemas"][format!("{form}_{name}")].is_object(),
                "{form}_{name}"
            );
        }
    }
    for r in CHILD_RESOURCES {
        let form = r.form.as_str();
        let create = find(&Action::Create.name(r));
        assert_eq!(
            schema_of(&create["requestBody"]),
            format!("{form}_child_input")
        );
        find(&Action::List.name(r));
    }
    // The write-answer rule: a person answers {data, warnings}, the rest
    // the record; the document says so once.
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["victim_written"]["required"],
        serde_json::json!(["data", "warnings"])
    );
    assert_eq!(
        schemas["commission_written"]["$ref"],
        "#/components/schemas/commission_record"
    );
    assert!(spec["info"]["description"]
        .as_str()
        .unwrap()
        .contains(sintra_http::openapi::finish::WRITE_ANSWER_RULE));
}

#[test]
fn limits_are_declared_as_the_server_enforces_them() {
    let spec = generated();
    for (method, path, op) in each_operation(&spec) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["name"] == "limit" {
                assert!(
                    p["schema"]["minimum"] == 1 && p["schema"]["maximum"].is_number(),
                    "{method} {path}: limit without bounds"
                );
            }
        }
    }
}
