//! The test harness: a real PostgreSQL database per test, cloned from a
//! template migrated once per test process, and the API served over real
//! HTTP on a local port (like the Rust registry's `TestApp`).
//!
//! `TEST_DATABASE_URL` (or `DATABASE_URL`) names the server; the database
//! name in it is ignored. Default: `postgres://postgres@127.0.0.1:5432`.

use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::http::Method;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::access::{AccountKind, Role};
use sintra_http::config::Config;
use sintra_http::{build_app, metrics, AppState};
use sintra_persistence::db::{self, quote_ident, with_database};
use sintra_persistence::org::{self, NewInstitution};
use sintra_persistence::users::{self, NewUser};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub mod cluster;
pub mod excel;

pub use sintra_http;
pub use sintra_persistence;

/// How long a test request may take (benchmarks import 100,000 rows).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

/// Any password that passes the strength rule, for seeded users.
pub const PASSWORD: &str = "contrasena-de-prueba-123";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let base = server_url();
    with_database(&base, name).unwrap_or_else(|| format!("{}/{name}", base.trim_end_matches('/')))
}

/// A connection to the server's maintenance database, as the superuser.
pub async fn admin_conn() -> AsyncPgConnection {
    AsyncPgConnection::establish(&database_url("postgres"))
        .await
        .expect("PostgreSQL answers at TEST_DATABASE_URL (default 127.0.0.1:5432)")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Migrates this process's template database once. Leftover templates and
/// test databases of processes that no longer run are dropped first, so no
/// run depends on what an earlier one left.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut conn = admin_conn().await;
            drop_stale_databases(&mut conn).await;
            let name = format!("sintra_tpl_{}", std::process::id());
            diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&name)
            ))
            .execute(&mut conn)
            .await
            .expect("drop old template");
            diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
                .execute(&mut conn)
                .await
                .expect("create template");
            db::run_migrations(&database_url(&name))
                .await
                .expect("migrations apply");
            name
        })
        .await
}

#[derive(diesel::QueryableByName)]
struct Datname {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

async fn drop_stale_databases(conn: &mut AsyncPgConnection) {
    let names: Vec<Datname> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'sintra\\_tpl\\_%' OR datname LIKE 'sintra\\_t\\_%'",
    )
    .load(conn)
    .await
    .unwrap_or_default();
    for Datname { datname } in names {
        let pid = datname
            .split('_')
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&datname)
            ))
            .execute(conn)
            .await;
        }
    }
}

/// A fresh database cloned from the migrated template; dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template().await;
        let name = format!(
            "sintra_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = admin_conn().await;
        diesel::sql_query(format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(template)
        ))
        .execute(&mut conn)
        .await
        .expect("clone the template");
        TestDb {
            url: database_url(&name),
            name,
        }
    }

    /// A connection as the database owner (a superuser here): for what the
    /// test must do behind the API's back.
    pub async fn owner_conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect")
    }
}

/// Audit events whose `changes` or `details` break the published shape:
/// `changes` is field → `{before, after}` and `details` an object
/// (`AuditEventOut` in the spec; a client generated from it rejects
/// anything else). Every test's database is checked before it is dropped.
const AUDIT_OFF_SPEC: &str = "\
    SELECT count(*)::bigint AS n FROM audit_events a \
     WHERE (a.details IS NOT NULL AND jsonb_typeof(a.details) <> 'object') \
        OR (a.changes IS NOT NULL AND (jsonb_typeof(a.changes) <> 'object' \
            OR EXISTS (SELECT 1 FROM jsonb_each(a.changes) e \
                        WHERE jsonb_typeof(e.value) <> 'object' \
                           OR NOT (e.value ?& array['before', 'after']) \
                           OR (SELECT count(*) FROM jsonb_object_keys(e.value)) <> 2)))";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = self.url.clone();
        // Drop cannot await: a short-lived runtime on its own thread does it.
        let off_spec = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                // A test that broke its database (faults, restores) has
                // nothing to check: only a count that ran is asserted.
                let mut off_spec = None;
                if let Ok(mut conn) = AsyncPgConnection::establish(&url).await {
                    off_spec = diesel::sql_query(AUDIT_OFF_SPEC)
                        .get_result::<Count>(&mut conn)
                        .await
                        .ok()
                        .map(|c| c.n);
                }
                let mut conn = admin_conn().await;
                let _ = diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&name)
                ))
                .execute(&mut conn)
                .await;
                off_spec
            })
        })
        .join()
        .ok()
        .flatten();
        if !std::thread::panicking() {
            assert_eq!(
                off_spec.unwrap_or(0),
                0,
                "audit events whose `changes`/`details` break AuditEventOut's shape"
            );
        }
    }
}

/// An answer, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the answer is a problem document with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "content type {} for {}",
            self.content_type(),
            self.text()
        );
        assert_eq!(self.json["code"], code, "code of {}", self.text());
        assert_eq!(self.json["status"], status);
        assert!(self.json["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.json["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://")));
    }

    /// Asserts the answer is the problem a database failure gives: 503
    /// `database_unavailable`, with a `Retry-After` of some seconds.
    #[track_caller]
    pub fn assert_unavailable(&self, what: &str) {
        assert_eq!(self.status, 503, "{what}: {}", self.text());
        self.assert_problem(503, "database_unavailable");
        assert!(
            self.header("retry-after")
                .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s > 0)),
            "{what}: Retry-After"
        );
    }
}

/// Reads a whole awc response into an [`Answer`].
macro_rules! read_answer {
    ($res:expr) => {{
        let mut res = $res;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .expect("body read")
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            json,
        }
    }};
}

/// A seeded account and a valid token for it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub institution_id: Uuid,
    pub entity_code: String,
    pub role: Role,
    pub token: String,
}

/// The API served over HTTP on a local port, on its own database.
pub struct TestApp {
    pub state: AppState,
    pub server: actix_test::TestServer,
    pub db: TestDb,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new().await;
        let mut config = Config::for_database(&db.url);
        adjust(&mut config);
        Self::on_database(db, config)
    }

    /// Serves the app with a pool on `config.database_url` (which may point
    /// elsewhere than `db`, e.g. through a proxy).
    pub fn on_database(db: TestDb, config: Config) -> TestApp {
        let pool =
            db::build_pool(&config.db_config(std::time::Duration::from_secs(2))).expect("pool");
        // The rollups' compactor, as `sintra serve` runs it.
        actix_web::rt::spawn(sintra_services::figures::run_compactor(
            pool.clone(),
            sintra_persistence::rollup::COMPACT_INTERVAL,
        ));
        let state = AppState::new(pool, config);
        let app_state = state.clone();
        let metrics = metrics();
        let server = actix_test::start(move || build_app(app_state.clone(), metrics.clone()));
        // The import workers run on the test's runtime, as the binary's on its own.
        sintra_http::spawn_workers(&state);
        TestApp { state, server, db }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        // Long enough for the benchmarks' large imports and exports.
        let mut req = self
            .server
            .request(method, self.url(path))
            .timeout(REQUEST_TIMEOUT);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        let res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        };
        read_answer!(res.expect("request sent"))
    }

    /// Sends a request with raw headers and body.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = self
            .server
            .request(method, self.url(path))
            .timeout(REQUEST_TIMEOUT);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        read_answer!(req.send_body(body).await.expect("request sent"))
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// A pooled connection, as the API's own role.
    pub async fn conn(&self) -> sintra_persistence::PooledConn {
        db::conn(&self.state.pool).await.expect("pool connection")
    }

    /// Registers an institution directly in the database.
    pub async fn institution(&self, entity_code: &str, name: &str) -> Uuid {
        let mut conn = self.conn().await;
        org::insert_institution(
            &mut conn,
            &NewInstitution {
                id: Uuid::now_v7(),
                entity_code: entity_code.into(),
                name: name.into(),
                institution_type: "FISCALIA".into(),
                created_by: None,
                updated_by: None,
            },
        )
        .await
        .expect("insert institution")
        .id
    }

    /// Registers a user (password [`PASSWORD`]) and issues it a token.
    pub async fn account(&self, role: Role, institution_id: Uuid) -> Account {
        static HASH: OnceCell<String> = OnceCell::const_new();
        let hash = HASH
            .get_or_init(|| async {
                sintra_http::auth::password::hash(PASSWORD.into())
                    .await
                    .unwrap()
            })
            .await
            .clone();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let username = format!("{}.{n}", role.as_str().replace('_', "-"));
        let mut conn = self.conn().await;
        let inst = org::get_institution(
            &mut conn,
            &sintra_domain::access::Scope::National,
            institution_id,
        )
        .await
        .expect("institution exists");
        let service = role == Role::System;
        let row = users::insert(
            &mut conn,
            &NewUser {
                id: Uuid::now_v7(),
                institution_id,
                kind: if service {
                    AccountKind::Service
                } else {
                    AccountKind::Person
                },
                username: username.clone(),
                full_name: format!("Persona de prueba {n}"),
                email: None,
                role,
                password_hash: hash,
                created_by: None,
                updated_by: None,
                // An ordinary password: tests log in and work at once.
                one_time_password_expires_at: None,
            },
        )
        .await
        .expect("insert user");
        drop(conn);
        let token = sintra_http::routes::auth::issue_tokens(&self.state, row.id, None)
            .await
            .expect("issue token")
            .access_token;
        Account {
            id: row.id,
            username,
            institution_id,
            entity_code: inst.entity_code,
            role,
            token,
        }
    }
}

/// What a person sets as their own password after a one-time one.
pub const OWN_PASSWORD: &str = "mi-propia-contrasena-segura-2026";

impl TestApp {
    /// A person's first login with a one-time password (the first admin's,
    /// a new user's, a reset): logs in, changes it to [`OWN_PASSWORD`] as
    /// the API requires before anything else, and returns the new access
    /// token.
    pub async fn first_login(&self, username: &str, one_time_password: &str) -> String {
        let login = self
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(serde_json::json!({"grant_type": "password", "username": username, "password": one_time_password})),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.text());
        let token = login.json["access_token"].as_str().unwrap().to_string();
        let changed = self
            .post(
                "/api/v1/auth/password",
                &token,
                serde_json::json!({"current_password": one_time_password, "new_password": OWN_PASSWORD}),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text());
        changed.json["access_token"].as_str().unwrap().to_string()
    }
}
