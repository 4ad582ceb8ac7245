//! The committed spec is the one the code generates, and every operation in
//! it has an access rule.

use sintra_http::policy::{rule_for, RouteRule};

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
        let rule = rule_for(&method, &path)
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
