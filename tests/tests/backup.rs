//! The backup drill, as operations would run it (README, "Backups"): a
//! `pg_dump` of a populated system, restored into a new database, the API
//! started on the restored copy, the audit chain valid there and every
//! record and audit row counted the same.

use std::path::PathBuf;
use std::process::Command;

use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_http::config::Config;
use sintra_persistence::db::quote_ident;
use sintra_tests::{admin_conn, database_url, TestApp, TestDb};

/// `pg_dump`/`pg_restore` from PATH, else from the server's own binaries.
fn pg_tool(name: &str) -> PathBuf {
    let on_path = Command::new(name).arg("--version").output().is_ok();
    if on_path {
        return PathBuf::from(name);
    }
    let dir =
        std::env::var("SINTRA_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    PathBuf::from(dir).join(name)
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Text)]
    what: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Records per form, audit rows and chained rows: what a restore must keep.
async fn counts(url: &str) -> Vec<Count> {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let mut conn = AsyncPgConnection::establish(url).await.expect("connect");
    diesel::sql_query(
        "SELECT 'records:' || form AS what, count(*) AS n FROM records GROUP BY form
         UNION ALL SELECT 'audit_events', count(*) FROM audit_events
         UNION ALL SELECT 'users', count(*) FROM users
         ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .expect("counts")
}

fn victim(name: &str) -> Value {
    json!({
        "condition": "VICTIMA",
        "given_names": name,
        "first_surname": "Respaldo",
        "sex": "MUJER",
        "birth_date": "1990-05-17",
        "detection_date": "2025-03-10",
        "detection_entity_code": "19"
    })
}

#[actix_web::test]
async fn a_dump_restored_into_a_new_database_serves_the_same_records_and_a_valid_chain() {
    let app = TestApp::new().await;
    let inst = app.institution("19", "Fiscalía de Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let auditor = app.account(Role::Auditor, inst).await;
    let mut ids = vec![];
    for name in ["Ana", "Beatriz", "Carmen"] {
        let res = app.post("/api/v1/victims", &op.token, victim(name)).await;
        assert_eq!(res.status, 201, "{}", res.text());
        ids.push(res.json["data"]["id"].as_str().unwrap().to_string());
    }
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    let before = counts(&app.db.url).await;
    assert!(
        before
            .iter()
            .any(|c| c.what == "records:victim" && c.n == 3),
        "{before:?}"
    );

    // The drill: pg_dump (custom format) of the running system…
    let dir = std::env::temp_dir().join(format!("sintra_backup_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sintra.dump");
    let out = Command::new(pg_tool("pg_dump"))
        .args(["--format=custom", "--file"])
        .arg(&file)
        .arg(&app.db.url)
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // …restored into a new, empty database…
    let name = format!("{}_restored", app.db.name);
    let mut admin = admin_conn().await;
    diesel::sql_query(format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote_ident(&name)
    ))
    .execute(&mut admin)
    .await
    .expect("create the restore target");
    let restored_db = TestDb {
        url: database_url(&name),
        name,
    };
    let out = Command::new(pg_tool("pg_restore"))
        .args(["--exit-on-error", "--dbname"])
        .arg(&restored_db.url)
        .arg(&file)
        .output()
        .expect("pg_restore runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        counts(&restored_db.url).await,
        before,
        "the restore holds every row"
    );

    // …and the API started on the copy serves it: the same people to the
    // same accounts, and a chain that verifies.
    let config = Config::for_database(&restored_db.url);
    let restored = TestApp::on_database(restored_db, config);
    for id in &ids {
        let original = app.get(&format!("/api/v1/victims/{id}"), &op.token).await;
        let copy = restored
            .get(&format!("/api/v1/victims/{id}"), &op.token)
            .await;
        assert_eq!(copy.status, 200, "{}", copy.text());
        assert_eq!(copy.json, original.json);
    }
    let verify = restored.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    let listed = restored.get("/api/v1/victims", &op.token).await;
    assert_eq!(
        listed.json["items"].as_array().map(Vec::len),
        Some(3),
        "{}",
        listed.text()
    );
}
