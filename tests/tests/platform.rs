//! The platform as its users meet it: health, metrics, docs, the spec, and
//! errors (ours and actix's own) as problem+json.

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_tests::{TestApp, TestDb};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[actix_web::test]
async fn health_metrics_docs_and_spec_answer() {
    let app = TestApp::new().await;
    let live = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.json["status"], "ok");
    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());

    let spec = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(spec.status, 200);
    assert!(spec.json["paths"]["/api/v1/auth/token"]["post"].is_object());
    assert!(spec.json["components"]["securitySchemes"]["bearer"].is_object());

    let docs = app.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.text().contains("swagger"),
        "the docs page is Swagger UI"
    );

    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("sintra_http_requests_total")
                && l.contains("endpoint=\"/health/ready\"")
                && l.contains("status=\"200\"")),
        "request counts per route and status: {text}"
    );
    assert!(
        text.contains("sintra_http_requests_duration_seconds_bucket"),
        "latencies"
    );
}

#[actix_web::test]
async fn every_answer_carries_a_request_id() {
    let app = TestApp::new().await;
    let ok = app.call(Method::GET, "/health/live", None, None).await;
    assert!(ok.header("x-request-id").is_some_and(|id| id.len() >= 16));
    let missing = app.call(Method::GET, "/api/v1/nada", None, None).await;
    missing.assert_problem(404, "not_found");
    assert_eq!(
        missing.json["request_id"].as_str(),
        missing.header("x-request-id"),
        "the problem quotes the same id as the header"
    );
}

#[actix_web::test]
async fn actix_errors_come_back_as_problems() {
    let app = TestApp::with_config(|c| c.max_body_bytes = 1024).await;
    let inst = app.institution("19", "Fiscalía de prueba").await;
    let admin = app.account(Role::NationalAdmin, inst).await;
    let auth = format!("Bearer {}", admin.token);

    // An unknown route, with and without a token.
    app.call(Method::GET, "/no/existe", None, None)
        .await
        .assert_problem(404, "not_found");
    // A known path with a method it does not serve.
    let wrong_method = app
        .call(Method::DELETE, "/api/v1/auth/token", None, None)
        .await;
    assert!(
        [404, 405].contains(&wrong_method.status)
            && wrong_method
                .content_type()
                .starts_with("application/problem+json"),
        "{} {}",
        wrong_method.status,
        wrong_method.text()
    );

    let malformed = app
        .call_raw(
            Method::POST,
            "/api/v1/institutions",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            b"{\"name\": \"sin cerrar".to_vec(),
        )
        .await;
    malformed.assert_problem(400, "malformed_json");

    let wrong_type = app
        .call_raw(
            Method::POST,
            "/api/v1/institutions",
            &[("authorization", &auth), ("content-type", "text/plain")],
            b"hola".to_vec(),
        )
        .await;
    wrong_type.assert_problem(415, "unsupported_media_type");

    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(4096));
    let oversized = app
        .call_raw(
            Method::POST,
            "/api/v1/institutions",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            big.into_bytes(),
        )
        .await;
    oversized.assert_problem(413, "payload_too_large");

    let unknown_field = app
        .post(
            "/api/v1/institutions",
            &admin.token,
            json!({"entity_code": "19", "name": "X Y", "institution_type": "FISCALIA", "rol": "admin"}),
        )
        .await;
    unknown_field.assert_problem(422, "validation_failed");
    assert_eq!(unknown_field.json["errors"][0]["field"], "rol");
    assert_eq!(unknown_field.json["errors"][0]["code"], "unknown_field");
}

#[actix_web::test]
async fn wrong_types_are_reported_without_echoing_the_value() {
    let app = TestApp::new().await;
    let inst = app.institution("19", "Fiscalía de prueba").await;
    let admin = app.account(Role::NationalAdmin, inst).await;
    let secret_value = "MARIA-GUADALUPE-HERNANDEZ";
    let res = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"username": "x.y", "full_name": "A", "role": "operator", "institution_id": secret_value}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert!(
        !res.text().contains(secret_value),
        "submitted values never come back: {}",
        res.text()
    );
}

#[actix_web::test]
async fn problems_speak_english_when_asked() {
    let app = TestApp::new().await;
    let es = app.call(Method::GET, "/api/v1/users", None, None).await;
    es.assert_problem(401, "unauthenticated");
    assert!(es.json["detail"]
        .as_str()
        .unwrap()
        .contains("token de acceso"));
    assert_eq!(es.header("www-authenticate"), Some("Bearer"));

    let en = app
        .call_raw(
            Method::GET,
            "/api/v1/users",
            &[("accept-language", "en-US,en;q=0.9")],
            vec![],
        )
        .await;
    en.assert_problem(401, "unauthenticated");
    assert_eq!(en.json["title"], "Unauthenticated");
    assert!(en.json["detail"].as_str().unwrap().contains("access token"));
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore,
/// standing in for a database outage.
struct Proxy {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    break;
                };
                links.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    let _ = client.shutdown().await;
                });
            }
        });
        Proxy {
            port,
            task: Some(task),
        }
    }

    /// Drops the listener and every open connection.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[actix_web::test]
async fn readiness_follows_the_database_without_a_restart() {
    let db = TestDb::new().await;
    let mut proxy = Proxy::start(0).await;
    let port = proxy.port;
    let via_proxy = db
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{port}"), 1);
    assert_ne!(
        via_proxy, db.url,
        "the test server URL names 127.0.0.1:5432"
    );
    let config = sintra_http::config::Config::for_database(&via_proxy);
    let app = TestApp::on_database(db, config);

    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.text());

    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let down = app.call(Method::GET, "/health/ready", None, None).await;
    down.assert_problem(503, "database_unavailable");
    let live = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, 200, "the process itself stays live");

    let _proxy = Proxy::start(port).await;
    let mut back = 0;
    for _ in 0..20 {
        back = app
            .call(Method::GET, "/health/ready", None, None)
            .await
            .status;
        if back == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(back, 200, "ready again once the database returns");
}
