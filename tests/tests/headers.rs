//! Headers every answer carries, the docs page's content policy, and the
//! methods a path refuses (405 with `Allow`, TRACE everywhere).

use actix_web::http::Method;
use sintra_domain::access::Role;
use sintra_tests::{Answer, TestApp};

#[track_caller]
fn assert_hardened(res: &Answer, what: &str) {
    assert_eq!(
        res.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{what}");
    assert!(
        res.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'")),
        "{what}: {:?}",
        res.header("content-security-policy")
    );
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers_and_api_answers_are_not_stored() {
    let app = TestApp::new().await;
    let inst = app.institution("19", "Fiscalía de prueba").await;
    let op = app.account(Role::Operator, inst).await;
    let admin = app.account(Role::NationalAdmin, inst).await;
    let api = [
        (Method::GET, "/api/v1/victims", Some(op.token.as_str()), 200),
        (
            Method::GET,
            &format!("/api/v1/users/{}", op.id),
            Some(admin.token.as_str()),
            200,
        ),
        (
            Method::GET,
            "/api/v1/audit/events",
            Some(admin.token.as_str()),
            200,
        ),
        (Method::GET, "/api/v1/victims", None, 401),
        (
            Method::GET,
            "/api/v1/no-existe",
            Some(op.token.as_str()),
            404,
        ),
        (Method::GET, "/api/v1/openapi.json", None, 200),
    ];
    for (method, path, token, status) in api {
        let res = app.call(method, path, token, None).await;
        assert_eq!(res.status, status, "{path}: {}", res.text());
        assert_hardened(&res, path);
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
    }
    for path in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/no/existe",
        "/docs/",
    ] {
        let res = app.call(Method::GET, path, None, None).await;
        assert_hardened(&res, path);
    }
    // The catalogs' own revalidation stays (no personal data there).
    let catalogs = app.get("/api/v1/catalogs/sex/items", &op.token).await;
    assert_eq!(catalogs.header("cache-control"), Some("private, no-cache"));
}

#[actix_web::test]
async fn the_docs_load_only_their_own_files_and_call_no_outside_validator() {
    let app = TestApp::new().await;
    let page = app.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap().to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("http"), "no outside origin is allowed: {csp}");
    // Every file the page names is this server's, and it serves it.
    let html = page.text();
    let mut loaded = 0;
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                !target.contains("://") && !target.starts_with("//"),
                "the page loads {target} from elsewhere"
            );
            let path = format!("/docs/{}", target.trim_start_matches("./"));
            let file = app.call(Method::GET, &path, None, None).await;
            assert_eq!(file.status, 200, "{path}");
            loaded += 1;
        }
    }
    assert!(
        loaded >= 3,
        "the page loads its scripts and styles ({loaded})"
    );
    // No inline script: `script-src 'self'` would block it.
    assert!(!html.contains("<script>"), "{html}");
    let init = app
        .call(Method::GET, "/docs/swagger-initializer.js", None, None)
        .await;
    assert_eq!(init.status, 200);
    let text = init.text().replace(' ', "");
    assert!(text.contains("\"validatorUrl\":\"none\""), "{text}");
    assert!(text.contains("/api/v1/openapi.json"), "{text}");
    assert!(!text.contains("https://"), "{text}");
}

#[actix_web::test]
async fn a_refused_method_names_the_allowed_ones_and_trace_is_refused_everywhere() {
    let app = TestApp::new().await;
    let inst = app.institution("19", "Fiscalía de prueba").await;
    let op = app.account(Role::Operator, inst).await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/auth/token", "POST"),
        (Method::PUT, "/api/v1/victims", "GET, POST"),
        (Method::POST, "/health/live", "GET"),
        (Method::DELETE, "/api/v1/openapi.json", "GET"),
    ] {
        let res = app.call(method.clone(), path, Some(&op.token), None).await;
        res.assert_problem(405, "method_not_allowed");
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
        assert_hardened(&res, path);
    }
    for path in [
        "/api/v1/victims",
        "/api/v1/auth/token",
        "/health/live",
        "/metrics",
        "/docs/",
        "/no/existe",
    ] {
        for token in [None, Some(op.token.as_str())] {
            let res = app.call(Method::TRACE, path, token, None).await;
            res.assert_problem(405, "method_not_allowed");
            assert!(res.header("allow").is_some(), "TRACE {path}");
            assert!(
                !res.header("allow").unwrap().contains("TRACE"),
                "TRACE {path}"
            );
        }
    }
}
