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
