//! Imports as jobs (issue 19): an upload answers 202 at once; the job is
//! polled for its state and progress, ends with its report, and is
//! committed, cancelled, taken over after its server died, refused when
//! too many run, and seen by its institution only.

use std::time::Duration;

use actix_web::http::Method;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_http::config::Config;
use sintra_http::AppState;
use sintra_persistence::db;
use sintra_tests::excel::{filled, poll_job, submit, upload};
use sintra_tests::{Account, TestApp};

async fn operator(app: &TestApp, entity: &str, name: &str) -> Account {
    let inst = app.institution(entity, name).await;
    app.account(Role::Operator, inst).await
}

/// `n` commissions, each with its own folio; `tag` makes files differ.
fn commissions(n: usize, tag: &str) -> Vec<u8> {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            json!({"external_folio": format!("{tag}-{i}"), "name": format!("Comisión {tag} {i}"), "kind": "COMISION", "entity_code": "19", "installation_date": "2015-01-01"})
        })
        .collect();
    filled(FormKey::Commission, &rows)
}

async fn commission_count(app: &TestApp, who: &Account) -> usize {
    let res = app.get("/api/v1/commissions?limit=500", &who.token).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json["items"].as_array().unwrap().len()
}

fn job_id(res: &sintra_tests::Answer) -> String {
    assert_eq!(res.status, 202, "{}", res.text());
    let id = res.json["import_id"].as_str().unwrap().to_string();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/excel/imports/{id}").as_str())
    );
    assert_eq!(res.json["state"], "queued");
    id
}

/// Sets a job's row behind the API's back.
async fn set_job(app: &TestApp, id: &str, set: &str) {
    let mut conn = app.db.owner_conn().await;
    diesel::sql_query(format!("UPDATE import_jobs SET {set} WHERE id = '{id}'"))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[actix_web::test]
async fn an_upload_is_a_job_polled_with_progress_then_committed() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let book = commissions(300, "A");

    // A dry run: 202 at once, then checked with its report; nothing written.
    let id = job_id(&submit(&app, &op, "commission", true, &book).await);
    let seen = poll_job(&app, &op, &id, 2_000).await;
    let percents: Vec<u64> = seen
        .iter()
        .map(|j| j["progress"]["percent"].as_u64().unwrap())
        .collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    let job = seen.last().unwrap();
    assert_eq!(job["state"], "checked", "{job}");
    assert_eq!(job["dry_run"], true);
    assert_eq!(job["progress"]["rows_total"], 300);
    assert_eq!(job["progress"]["rows_read"], 300);
    assert_eq!(job["progress"]["rows_checked"], 300);
    assert_eq!(job["progress"]["rows_written"], 0);
    assert_eq!(job["progress"]["percent"], 100);
    assert!(job["progress"]["elapsed_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(job["report"]["rows_valid"], 300);
    assert_eq!(job["report"]["import_id"], id.as_str());
    assert_eq!(commission_count(&app, &op).await, 0);

    // The institution's list shows it.
    let list = app.get("/api/v1/excel/imports", &op.token).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json["items"][0]["id"], id.as_str());

    // Its commit: 202, then committed whole.
    let path = format!("/api/v1/excel/imports/{id}/commit");
    let res = app.call(Method::POST, &path, Some(&op.token), None).await;
    assert_eq!(res.status, 202, "{}", res.text());
    assert_eq!(res.json["state"], "committing");
    let job = poll_job(&app, &op, &id, 2_000).await.pop().unwrap();
    assert_eq!(job["state"], "committed", "{job}");
    assert_eq!(job["dry_run"], false);
    assert_eq!(job["progress"]["rows_written"], 300);
    assert_eq!(job["report"]["rows_created"], 300);
    assert_eq!(commission_count(&app, &op).await, 300);

    // Committed: neither committed again nor cancelled; the file is a repeat.
    app.call(Method::POST, &path, Some(&op.token), None)
        .await
        .assert_problem(409, "invalid_import_transition");
    let job_path = format!("/api/v1/excel/imports/{id}");
    app.call(Method::DELETE, &job_path, Some(&op.token), None)
        .await
        .assert_problem(409, "invalid_import_transition");
    submit(&app, &op, "commission", false, &book)
        .await
        .assert_problem(409, "repeated_import");

    // A commit asked at upload goes straight through.
    let other = commissions(20, "B");
    let id = job_id(&submit(&app, &op, "commission", false, &other).await);
    let job = poll_job(&app, &op, &id, 2_000).await.pop().unwrap();
    assert_eq!(job["state"], "committed", "{job}");
    assert_eq!(commission_count(&app, &op).await, 320);

    // A file with errors ends rejected with its report; a refused file
    // (no data sheet) with its problem.
    let mut bad = vec![
        json!({"external_folio": "C-1", "name": "Sin tipo", "entity_code": "19", "installation_date": "2015-01-01", "kind": "NADA"}),
    ];
    bad.push(json!({"external_folio": "C-2", "name": "Bien", "kind": "COMISION", "entity_code": "19", "installation_date": "2015-01-01"}));
    let id = job_id(
        &submit(
            &app,
            &op,
            "commission",
            false,
            &filled(FormKey::Commission, &bad),
        )
        .await,
    );
    let job = poll_job(&app, &op, &id, 2_000).await.pop().unwrap();
    assert_eq!(job["state"], "rejected", "{job}");
    assert_eq!(job["report"]["errors"][0]["row"], 2);
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Columna que no es del formulario")
        .unwrap();
    ws.write_string(1, 0, "x").unwrap();
    let foreign = wb.save_to_buffer().unwrap();
    let id = job_id(&submit(&app, &op, "agreement", false, &foreign).await);
    let job = poll_job(&app, &op, &id, 2_000).await.pop().unwrap();
    assert_eq!(job["state"], "rejected", "{job}");
    assert_eq!(job["problem"]["code"], "no_data_sheet");
    assert!(
        job["problem"]["message"].as_str().unwrap().contains("hoja"),
        "{job}"
    );
    assert_eq!(commission_count(&app, &op).await, 320);

    // `wait=true` answers the report in the request, with the job's URL.
    let res = upload(&app, &op, "commission", true, &commissions(3, "C")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let id = res.json["import_id"].as_str().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/excel/imports/{id}").as_str())
    );
    let job = app
        .get(&format!("/api/v1/excel/imports/{id}"), &op.token)
        .await;
    assert_eq!(job.json["state"], "checked", "{}", job.text());
}

/// A server that answers requests but runs no import worker.
async fn without_workers() -> TestApp {
    TestApp::with_config(|c| c.imports.workers = 0).await
}

#[actix_web::test]
async fn a_job_not_yet_committed_is_cancelled_and_audited() {
    let app = without_workers().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let id = job_id(&submit(&app, &op, "commission", false, &commissions(10, "X")).await);
    let path = format!("/api/v1/excel/imports/{id}");
    let res = app.call(Method::DELETE, &path, Some(&op.token), None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["state"], "cancelled");
    app.call(Method::DELETE, &path, Some(&op.token), None)
        .await
        .assert_problem(409, "invalid_import_transition");
    // Workers started now find nothing to do; nothing is written.
    let mut config = Config::for_database(&app.db.url);
    config.imports.workers = 1;
    let pool = db::build_pool(&config.db_config(Duration::from_secs(2))).unwrap();
    let restarted = AppState::new(pool, config);
    let workers = sintra_http::spawn_workers(&restarted);
    let job = poll_job(&app, &op, &id, 10).await.pop().unwrap();
    assert_eq!(job["state"], "cancelled");
    for w in workers {
        w.abort();
    }
    assert_eq!(commission_count(&app, &op).await, 0);

    // A checked dry run is cancelled too, and then cannot be committed.
    let res = upload(&app, &op, "commission", true, &commissions(5, "Y")).await;
    let id = res.json["import_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/excel/imports/{id}");
    let res = app.call(Method::DELETE, &path, Some(&op.token), None).await;
    assert_eq!(res.json["state"], "cancelled", "{}", res.text());
    app.call(
        Method::POST,
        &format!("{path}/commit"),
        Some(&op.token),
        None,
    )
    .await
    .assert_problem(409, "invalid_import_transition");

    let mut conn = app.db.owner_conn().await;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let cancels: N =
        diesel::sql_query("SELECT count(*) AS n FROM audit_events WHERE action = 'import_cancel'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(cancels.n, 2);
}

#[actix_web::test]
async fn a_job_whose_server_died_mid_check_is_taken_over_or_failed_never_half_written() {
    let app = without_workers().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let id = job_id(&submit(&app, &op, "commission", false, &commissions(50, "R")).await);
    // The server that claimed it died while checking (and another one
    // mid-commit): their heartbeats stopped an hour ago.
    set_job(
        &app,
        &id,
        "status = 'checking', worker_id = 'dead-server-0', attempts = 1, \
         heartbeat_at = now() - interval '1 hour', started_at = now() - interval '1 hour', rows_read = 50",
    )
    .await;
    let dead = job_id(&submit(&app, &op, "commission", false, &commissions(5, "D")).await);
    set_job(
        &app,
        &dead,
        "status = 'committing', worker_id = 'dead-server-1', attempts = 3, \
         heartbeat_at = now() - interval '1 hour'",
    )
    .await;
    let job = app
        .get(&format!("/api/v1/excel/imports/{id}"), &op.token)
        .await;
    assert_eq!(job.json["state"], "checking");

    // A server starts on the same database: it takes the first over (a
    // second attempt, from the start) and fails the one tried too often.
    let mut config = Config::for_database(&app.db.url);
    config.imports.workers = 1;
    let pool = db::build_pool(&config.db_config(Duration::from_secs(2))).unwrap();
    let restarted = AppState::new(pool, config);
    let workers = sintra_http::spawn_workers(&restarted);
    let job = poll_job(&app, &op, &id, 2_000).await.pop().unwrap();
    assert_eq!(job["state"], "committed", "{job}");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["progress"]["rows_written"], 50);
    let failed = poll_job(&app, &op, &dead, 2_000).await.pop().unwrap();
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["problem"]["message"]
            .as_str()
            .unwrap()
            .contains("interrump"),
        "{failed}"
    );
    for w in workers {
        w.abort();
    }
    // Each row once: the dead server's work left nothing behind.
    assert_eq!(commission_count(&app, &op).await, 50);
}

#[actix_web::test]
async fn too_many_imports_under_way_answer_429_with_retry_after() {
    let app = TestApp::with_config(|c| {
        c.imports.workers = 0;
        c.imports.per_institution = 1;
        c.imports.total = 2;
    })
    .await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    job_id(&submit(&app, &op, "commission", true, &commissions(3, "P")).await);
    let res = submit(&app, &op, "commission", true, &commissions(3, "Q")).await;
    res.assert_problem(429, "imports_busy");
    assert_eq!(res.header("retry-after"), Some("30"));
    assert!(
        res.json["detail"]
            .as_str()
            .unwrap()
            .contains("importaciones en curso"),
        "{}",
        res.text()
    );
    // Another institution has its own place, until the system is full.
    let other = operator(&app, "19", "DIF Nuevo León").await;
    job_id(&submit(&app, &other, "commission", true, &commissions(3, "S")).await);
    let third = operator(&app, "09", "Fiscalía CDMX").await;
    let res = submit(&app, &third, "commission", true, &commissions(3, "T")).await;
    res.assert_problem(429, "imports_busy");
    assert!(res.header("retry-after").is_some());
}

#[actix_web::test]
async fn another_institutions_job_is_not_found() {
    let app = without_workers().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let id = job_id(&submit(&app, &op, "commission", true, &commissions(3, "Z")).await);
    let stranger = operator(&app, "19", "DIF Nuevo León").await;
    let path = format!("/api/v1/excel/imports/{id}");
    app.get(&path, &stranger.token)
        .await
        .assert_problem(404, "not_found");
    app.call(Method::DELETE, &path, Some(&stranger.token), None)
        .await
        .assert_problem(404, "not_found");
    app.call(
        Method::POST,
        &format!("{path}/commit"),
        Some(&stranger.token),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    let list = app.get("/api/v1/excel/imports", &stranger.token).await;
    assert_eq!(list.json["items"], json!([]), "{}", list.text());
    // Still queued for its own institution.
    let job = app.get(&path, &op.token).await;
    assert_eq!(job.json["state"], "queued", "{}", job.text());
    // A segment that is no import id (a form's name, or what a fuzzer
    // sends) is a missing import to GET and DELETE, not a 405 of the
    // upload's path that the spec does not list.
    for segment in [
        "victim",
        "null,null",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let path = format!("/api/v1/excel/imports/{segment}");
        app.get(&path, &op.token)
            .await
            .assert_problem(404, "not_found");
        app.call(Method::DELETE, &path, Some(&op.token), None)
            .await
            .assert_problem(404, "not_found");
    }
}
