//! Database faults as a client meets them: every failure a 503 problem with
//! `Retry-After`, nothing acknowledged lost, recovery without a restart, no
//! request hanging behind a lock, and the request id on every log line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_http::config::Config;
use sintra_persistence::db;
use sintra_tests::cluster::Cluster;
use sintra_tests::{Answer, TestApp, TestDb};

fn person(n: usize) -> serde_json::Value {
    json!({"condition": "VICTIMA", "given_names": format!("Persona {n}"), "first_surname": "Prueba",
           "sex": "MUJER", "detection_date": "2024-02-10", "detection_entity_code": "19",
           "external_folio": format!("F-{n}")})
}

async fn create(app: &TestApp, token: &str, n: usize) -> Answer {
    app.call_raw(
        Method::POST,
        "/api/v1/victims",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
            ("idempotency-key", &format!("clave-{n}")),
        ],
        serde_json::to_vec(&person(n)).unwrap(),
    )
    .await
}

const PER_CLIENT: usize = 40;

#[actix_web::test]
async fn a_database_stopped_under_concurrent_creates_answers_503_loses_nothing_and_recovers() {
    let Some(cluster) = Cluster::start().map(Arc::new) else {
        return;
    };
    let url = cluster.url("sintra");
    db::ensure_database(&url).await.unwrap();
    db::run_migrations(&url).await.unwrap();
    let mut config = Config::for_database(&url);
    config.db_pool_size = 4;
    let app = TestApp::on_database(TestDb::new().await, config);
    let inst = app.institution("19", "Fiscalía de Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;

    // 8 clients create 40 people each, one every 100 ms or so; the database
    // stops after the first answers and comes back 3 s later, while they go on.
    let answers: Arc<Mutex<Vec<(usize, Answer)>>> = Arc::default();
    let clients = (0..8).map(|c| {
        let (app, token, answers) = (&app, op.token.clone(), answers.clone());
        async move {
            for i in 0..PER_CLIENT {
                let n = c * 100 + i;
                let res = create(app, &token, n).await;
                answers.lock().unwrap().push((n, res));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let fault = async {
        while answers.lock().unwrap().len() < 10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || {
            cluster.stop();
            std::thread::sleep(Duration::from_secs(3));
            cluster.restart();
        })
        .await
        .unwrap();
    };
    futures_util::future::join(futures_util::future::join_all(clients), fault).await;

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    assert_eq!(answers.len(), 8 * PER_CLIENT);
    let mut created = vec![];
    let mut failed = vec![];
    for (n, res) in &answers {
        match res.status {
            201 => created.push((*n, res.json["data"]["id"].as_str().unwrap().to_string())),
            _ => {
                res.assert_unavailable(&format!("create {n}"));
                failed.push(*n);
            }
        }
    }
    eprintln!(
        "{} creates acknowledged, {} answered 503 while the database was down",
        created.len(),
        failed.len()
    );
    assert!(!failed.is_empty(), "the stop was seen by some request");
    assert!(!created.is_empty());

    // The API recovers by itself.
    let started = Instant::now();
    loop {
        let ready = app.call(Method::GET, "/health/ready", None, None).await;
        if ready.status == 200 {
            break;
        }
        ready.assert_unavailable("ready while down");
        assert!(started.elapsed() < Duration::from_secs(30), "recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every acknowledged create is there.
    for (n, id) in &created {
        let read = app.get(&format!("/api/v1/victims/{id}"), &op.token).await;
        assert_eq!(read.status, 200, "acknowledged create {n} lost");
    }
    // Retrying the failed ones with their keys makes each person once.
    for n in &failed {
        let again = create(&app, &op.token, *n).await;
        assert!(
            [200, 201].contains(&again.status),
            "retry {n}: {}",
            again.text()
        );
    }
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = diesel_async::AsyncPgConnection::establish(&url)
        .await
        .unwrap();
    let people = diesel::sql_query("SELECT count(*) AS n FROM records WHERE form = 'victim'")
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(
        people as usize,
        8 * PER_CLIENT,
        "each person once, none twice"
    );
    let verify = app
        .get(
            "/api/v1/audit/verify",
            &app.account(Role::Auditor, inst).await.token,
        )
        .await;
    assert_eq!(verify.status, 200, "{}", verify.text());
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
}

/// A shared writer the test reads the log lines from.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

#[actix_web::test]
async fn a_lock_held_past_the_lock_timeout_answers_503_at_once_and_the_warning_names_the_request() {
    let lines = Lines::default();
    sintra_http::telemetry::init_logging_to(
        tracing_subscriber::EnvFilter::new("warn"),
        lines.clone(),
    );
    let app = TestApp::with_config(|c| c.db_lock_timeout = Duration::from_secs(1)).await;
    let inst = app.institution("19", "Fiscalía de Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let made = app.post("/api/v1/victims", &op.token, person(1)).await;
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json["data"]["id"].as_str().unwrap().to_string();

    // Another session holds the row.
    use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};
    let mut holder = app.db.owner_conn().await;
    AnsiTransactionManager::begin_transaction(&mut holder)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM records WHERE id = '{id}' FOR UPDATE"
    ))
    .execute(&mut holder)
    .await
    .unwrap();

    let patch = |name: &'static str| {
        let app = &app;
        let (token, id) = (op.token.clone(), id.clone());
        async move {
            app.call_raw(
                Method::PATCH,
                &format!("/api/v1/victims/{id}"),
                &[
                    ("authorization", &format!("Bearer {token}")),
                    ("content-type", "application/json"),
                    ("if-match", "\"1\""),
                ],
                serde_json::to_vec(&json!({"given_names": name})).unwrap(),
            )
            .await
        }
    };
    let started = Instant::now();
    let blocked = patch("Bloqueada").await;
    let waited = started.elapsed();
    blocked.assert_unavailable("update behind a held lock");
    assert!(waited < Duration::from_secs(4), "not a hang: {waited:?}");
    // Readiness is not fooled by a lock: the database answers.
    assert_eq!(
        app.call(Method::GET, "/health/ready", None, None)
            .await
            .status,
        200
    );

    // The warning carries the request id the client was given.
    let request_id = blocked.header("x-request-id").unwrap().to_string();
    let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("database unavailable") && l.contains(&request_id))
        .unwrap_or_else(|| panic!("a warning naming {request_id} was logged: {log}"));
    assert!(line.contains("\"level\":\"WARN\""), "{line}");
    assert!(line.contains("lock timeout"), "{line}");
    // (Other tests of this process log too: every line the API writes
    // while serving a request names one.)
    assert!(
        log.lines()
            .filter(|l| l.contains("\"target\":\"sintra_http"))
            .all(|l| l.contains("\"request_id\":\"")),
        "{log}"
    );

    // Released, the same update goes through: nothing was half-written.
    AnsiTransactionManager::rollback_transaction(&mut holder)
        .await
        .unwrap();
    let done = patch("Liberada").await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.header("etag"), Some("\"2\""), "{}", done.text());
}
