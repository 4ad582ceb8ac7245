//! CORS for the configured origins only (`SINTRA_CORS_ORIGINS`): a
//! frontend served from an allowed origin may call the API from a browser;
//! any other origin gets no CORS header (so its page cannot read an
//! answer), and with no origin configured no answer carries one.

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_http::cors::CorsOrigins;
use sintra_tests::{Answer, TestApp};

const ALLOWED: &str = "https://tablero.sintra.example";
const OTHER: &str = "https://otro-sitio.example";

async fn configured() -> TestApp {
    TestApp::with_config(|c| {
        c.cors_origins = CorsOrigins::parse(&format!("{ALLOWED}, http://localhost:5173")).unwrap();
    })
    .await
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> Answer {
    app.call_raw(
        Method::OPTIONS,
        "/api/v1/victims",
        &[
            ("origin", origin),
            ("access-control-request-method", method),
            ("access-control-request-headers", headers),
        ],
        vec![],
    )
    .await
}

#[track_caller]
fn no_cors_headers(res: &Answer, what: &str) {
    for (name, _) in res.headers.iter() {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "{what}: {name} in {:?}",
            res.headers
        );
    }
}

fn listed(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[actix_web::test]
async fn a_preflight_from_an_allowed_origin_gets_the_methods_and_headers_the_api_reads() {
    let app = configured().await;
    let res = preflight(
        &app,
        ALLOWED,
        "PATCH",
        "authorization, content-type, if-match, idempotency-key",
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("access-control-allow-origin"), Some(ALLOWED));
    let methods = listed(res.header("access-control-allow-methods"));
    for m in ["get", "post", "put", "patch", "delete"] {
        assert!(methods.contains(&m.to_string()), "{methods:?}");
    }
    let headers = listed(res.header("access-control-allow-headers"));
    for h in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
        "accept-language",
    ] {
        assert!(headers.contains(&h.to_string()), "{h} not in {headers:?}");
    }
    assert_eq!(res.header("access-control-max-age"), Some("3600"));
    // Tokens travel in Authorization: no cookies, no credentials mode.
    assert_eq!(res.header("access-control-allow-credentials"), None);
    assert!(res.header("vary").is_some_and(|v| v.contains("Origin")));

    // The second configured origin too.
    let local = preflight(&app, "http://localhost:5173", "GET", "authorization").await;
    assert_eq!(
        local.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );

    // A header the API does not read, or a method it does not serve, is not
    // allowed.
    let odd = preflight(&app, ALLOWED, "GET", "x-custom").await;
    assert_eq!(odd.header("access-control-allow-origin"), None);
    assert_ne!(odd.status, 200);
    let trace = preflight(&app, ALLOWED, "TRACE", "authorization").await;
    assert_eq!(trace.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn an_allowed_origin_reads_the_answer_and_its_exposed_headers() {
    let app = configured().await;
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let auth = format!("Bearer {}", op.token);
    let body = json!({
        "condition": "VICTIMA", "given_names": "Ana", "first_surname": "Garza", "sex": "MUJER",
        "detection_date": "2024-02-10", "detection_entity_code": "19"
    });
    let created = app
        .call_raw(
            Method::POST,
            "/api/v1/victims",
            &[
                ("origin", ALLOWED),
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("access-control-allow-origin"), Some(ALLOWED));
    let exposed = listed(created.header("access-control-expose-headers"));
    for h in ["etag", "location", "retry-after", "x-request-id"] {
        assert!(exposed.contains(&h.to_string()), "{h} not in {exposed:?}");
    }
    assert!(created.header("etag").is_some() && created.header("location").is_some());

    // An error answer carries them too: the page can read the problem.
    let refused = app
        .call_raw(
            Method::GET,
            "/api/v1/victims",
            &[("origin", ALLOWED)],
            vec![],
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.header("access-control-allow-origin"), Some(ALLOWED));
}

#[actix_web::test]
async fn another_origin_gets_no_cors_header_and_no_data() {
    let app = configured().await;
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let created = app
        .post(
            "/api/v1/victims",
            &op.token,
            json!({
                "condition": "VICTIMA", "given_names": "Berta", "first_surname": "Garza",
                "sex": "MUJER", "detection_date": "2024-02-10", "detection_entity_code": "19"
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());

    // Its preflight is refused, without a CORS header and without data.
    let res = preflight(&app, OTHER, "GET", "authorization").await;
    assert_eq!(res.status, 400, "{}", res.text());
    no_cors_headers(&res, "preflight from another origin");
    assert_eq!(res.content_type(), "application/problem+json");
    assert!(!res.text().contains("BERTA"));
    // An origin that differs only by scheme or port is another origin.
    for near in [
        "http://tablero.sintra.example",
        "https://tablero.sintra.example:8443",
        "https://tablero.sintra.example.evil.example",
        "null",
    ] {
        let res = preflight(&app, near, "GET", "authorization").await;
        no_cors_headers(&res, near);
    }

    // A request sent anyway (a browser would not let the page read it) is
    // answered as without CORS: no header lets a browser hand it over.
    let auth = format!("Bearer {}", op.token);
    let list = app
        .call_raw(
            Method::GET,
            "/api/v1/victims",
            &[("origin", OTHER), ("authorization", &auth)],
            vec![],
        )
        .await;
    assert_eq!(list.status, 200);
    no_cors_headers(&list, "an actual request from another origin");
    // Without a token it is refused as always.
    let anonymous = app
        .call_raw(Method::GET, "/api/v1/victims", &[("origin", OTHER)], vec![])
        .await;
    assert_eq!(anonymous.status, 401);
    no_cors_headers(&anonymous, "anonymous request from another origin");
    assert!(!anonymous.text().contains("BERTA"));
}

#[actix_web::test]
async fn without_configured_origins_no_answer_carries_a_cors_header() {
    let app = TestApp::new().await;
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let auth = format!("Bearer {}", op.token);
    for origin in [ALLOWED, OTHER] {
        let res = preflight(&app, origin, "GET", "authorization").await;
        assert_ne!(res.status, 200, "{}", res.text());
        no_cors_headers(&res, "preflight, unconfigured");
        let list = app
            .call_raw(
                Method::GET,
                "/api/v1/victims",
                &[("origin", origin), ("authorization", &auth)],
                vec![],
            )
            .await;
        assert_eq!(list.status, 200);
        no_cors_headers(&list, "request, unconfigured");
        assert_eq!(list.header("vary"), None);
    }
}

#[test]
fn a_wildcard_refuses_to_start_with_a_clear_message() {
    let err = CorsOrigins::parse("*").unwrap_err().to_string();
    assert!(err.contains("«*» no se admite"), "{err}");
    let err = CorsOrigins::parse("https://a.example/app")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no es un origen"), "{err}");
}
