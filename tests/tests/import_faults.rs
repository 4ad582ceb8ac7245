//! Excel imports under faults (issue 20), on a PostgreSQL cluster of the
//! test's own (never the machine's server): the database stopped while a
//! file is checked, while its rows are inserted, between the last insert and
//! the commit and right after it; the API process killed mid-import; the
//! cluster's connections exhausted. Each time: no answer is a 500 (the
//! database's absence is a 503 `database_unavailable` with `Retry-After`), a
//! file's rows are all in `records` or none are and the job's state says
//! which, the audit chain stays valid, and the API recovers without a
//! restart (the job is put back and resumed from the start).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::Method;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_http::config::Config;
use sintra_persistence::db;
use sintra_services::imports::jobs::JobSettings;
use sintra_tests::cluster::Cluster;
use sintra_tests::excel::{filled, multipart, submit, upload};
use sintra_tests::{Account, Answer, TestApp, TestDb};

/// Rows of the file under fault: enough for each window to last a second
/// or more in a debug build, few enough for the suite.
const ROWS: usize = 10_000;

/// Rows of the file stopped mid-insert: rows are written (and counted) by
/// chunks (`CHUNK_ROWS`, 1,000), so the stop comes with most still to write.
const MID_INSERT_ROWS: usize = 20_000;

/// The rows of the file `tag`.
fn rows_of(tag: &str) -> i64 {
    let rows = if matches!(tag, "C" | "X") {
        MID_INSERT_ROWS
    } else {
        ROWS
    };
    rows as i64
}

/// `n` commissions with folios `<tag>-<i>`.
fn commissions(n: usize, tag: &str) -> Vec<u8> {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            json!({"external_folio": format!("{tag}-{i}"), "name": format!("Comisión {tag} {i}"),
                   "kind": "COMISION", "entity_code": "19", "installation_date": "2015-01-01"})
        })
        .collect();
    filled(FormKey::Commission, &rows)
}

/// Jobs as the tests run them: quick heartbeats, a job put back waits half
/// a second. A worker is taken over after `stale_after` of silence: 3 s
/// where the process is killed, 5 minutes elsewhere, so that a job resumed
/// there was put back by its worker, not taken over.
fn settings(workers: usize, stale_after: Duration) -> JobSettings {
    JobSettings {
        workers,
        heartbeat: Duration::from_millis(100),
        stale_after,
        poll: Duration::from_millis(100),
        retry_backoff: Duration::from_millis(500),
        ..JobSettings::default()
    }
}

const NEVER_STALE: Duration = Duration::from_secs(300);
const KILLED_STALE: Duration = Duration::from_secs(3);

fn config(url: &str, workers: usize, stale_after: Duration) -> Config {
    let mut config = Config::for_database(url);
    config.db_pool_size = 6;
    config.imports = settings(workers, stale_after);
    config
}

struct Fixture {
    cluster: Arc<Cluster>,
    url: String,
    app: TestApp,
    op: Account,
    auditor: Account,
}

/// A cluster of the test's own, migrated, and the API on it with
/// `workers` import workers; `None` without PostgreSQL's binaries.
async fn fixture(workers: usize) -> Option<Fixture> {
    let cluster = Arc::new(Cluster::start()?);
    let url = cluster.url("sintra");
    db::ensure_database(&url).await.unwrap();
    db::run_migrations(&url).await.unwrap();
    let app = TestApp::on_database(TestDb::new().await, config(&url, workers, NEVER_STALE));
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let op = app.account(Role::Operator, inst).await;
    let auditor = app.account(Role::Auditor, inst).await;
    Some(Fixture {
        cluster,
        url,
        app,
        op,
        auditor,
    })
}

async fn stop(cluster: &Arc<Cluster>) {
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.stop()).await.unwrap();
}

async fn restart(cluster: &Arc<Cluster>) {
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || c.restart())
        .await
        .unwrap();
}

fn job_id(res: &Answer) -> String {
    assert_eq!(res.status, 202, "{}", res.text());
    res.json["import_id"].as_str().unwrap().to_string()
}

/// A job and the records of its file, read in one statement (one
/// snapshot of the database).
#[derive(Debug, diesel::QueryableByName)]
struct Snapshot {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = BigInt)]
    rows_read: i64,
    #[diesel(sql_type = BigInt)]
    rows_written: i64,
    #[diesel(sql_type = BigInt)]
    records: i64,
}

/// The newest job of the file `tag` (by its workbook's hash) and its
/// records; `None` while the database does not answer.
async fn snapshot(url: &str, sha: &str, tag: &str) -> Option<Snapshot> {
    let mut conn = AsyncPgConnection::establish(url).await.ok()?;
    diesel::sql_query(format!(
        "SELECT id::text AS id, status, attempts, rows_read, rows_written, \
         (SELECT count(*) FROM records WHERE form = 'commission' AND external_folio LIKE '{tag}-%') AS records \
         FROM import_jobs WHERE file_sha256 = '{sha}' ORDER BY created_at DESC LIMIT 1"
    ))
    .get_result(&mut conn)
    .await
    .ok()
}

/// Waits (60 s at most) for the file's job to reach `what`.
async fn wait_for(url: &str, sha: &str, tag: &str, what: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let started = Instant::now();
    loop {
        if let Some(s) = snapshot(url, sha, tag).await {
            consistent(&s, tag);
            if what(&s) {
                return s;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{tag}: {:?}",
            snapshot(url, sha, tag).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The guarantee, in every snapshot: none of the file's rows, or all of
/// them with the job committed.
#[track_caller]
fn consistent(s: &Snapshot, tag: &str) {
    if s.status == "committed" {
        assert_eq!(s.records, rows_of(tag), "{tag}: committed whole: {s:?}");
    } else {
        assert_eq!(s.records, 0, "{tag}: nothing before the commit: {s:?}");
    }
}

fn ended(s: &Snapshot) -> bool {
    !matches!(s.status.as_str(), "queued" | "checking" | "committing")
}

/// Polls a job through the API until it ends (60 s at most): every answer
/// meanwhile is 200 or a 503 `database_unavailable` with `Retry-After`.
async fn poll_until_end(app: &TestApp, who: &Account, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let res = app
            .get(&format!("/api/v1/excel/imports/{id}"), &who.token)
            .await;
        if res.status == 200 {
            let state = res.json["state"].as_str().unwrap().to_string();
            if !matches!(state.as_str(), "queued" | "checking" | "committing") {
                return res.json;
            }
        } else {
            res.assert_unavailable("a poll");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job {id} did not end: {}",
            res.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_chain_valid(app: &TestApp, auditor: &Account) {
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.status, 200, "{}", verify.text());
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
}

/// What the API answers while the database is stopped: a poll of the job
/// and readiness, 503 with `Retry-After`, never a 500.
async fn assert_down_answers(app: &TestApp, who: &Account, id: &str) {
    let poll = app
        .get(&format!("/api/v1/excel/imports/{id}"), &who.token)
        .await;
    poll.assert_unavailable("a poll while the database is stopped");
    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    ready.assert_unavailable("readiness while the database is stopped");
}

#[actix_web::test]
async fn a_database_stopped_while_a_file_is_checked_answers_503_and_the_job_is_resumed_writing_nothing(
) {
    let Some(f) = fixture(1).await else {
        return;
    };
    let book = commissions(ROWS, "A");
    let sha = sintra_excel::sha256_hex(&book);
    let id = job_id(&submit(&f.app, &f.op, "commission", true, &book).await);

    let before = wait_for(&f.url, &sha, "A", |s| {
        s.status == "checking" && s.rows_read > 0
    })
    .await;
    assert!(
        before.rows_read < ROWS as i64,
        "stopped mid-check: {before:?}"
    );
    stop(&f.cluster).await;
    assert_down_answers(&f.app, &f.op, &id).await;
    restart(&f.cluster).await;

    // Put back and checked again from the start: the same report as
    // without the fault, nothing written.
    let job = poll_until_end(&f.app, &f.op, &id).await;
    eprintln!(
        "mid-check: stopped at row {} of {ROWS}; {job}",
        before.rows_read
    );
    assert_eq!(job["state"], "checked", "{job}");
    assert!(job["attempts"].as_i64().unwrap() >= 2, "resumed: {job}");
    assert_eq!(job["report"]["rows_valid"], ROWS, "{job}");
    assert_eq!(job["progress"]["rows_read"], ROWS, "{job}");
    assert_eq!(
        snapshot(&f.url, &sha, "A").await.unwrap().records,
        0,
        "a dry run writes nothing"
    );
    assert_chain_valid(&f.app, &f.auditor).await;

    // The API works without a restart: the checked file commits whole.
    let path = format!("/api/v1/excel/imports/{id}/commit");
    let res = f
        .app
        .call(Method::POST, &path, Some(&f.op.token), None)
        .await;
    assert_eq!(res.status, 202, "{}", res.text());
    let job = poll_until_end(&f.app, &f.op, &id).await;
    assert_eq!(job["state"], "committed", "{job}");
    let end = snapshot(&f.url, &sha, "A").await.unwrap();
    assert_eq!(end.records, ROWS as i64);
    assert_chain_valid(&f.app, &f.auditor).await;
}

#[actix_web::test]
async fn a_request_running_its_own_import_answers_503_when_the_database_stops_and_its_job_fails_with_the_reason(
) {
    // No worker: the request runs the job itself (`wait=true`).
    let Some(f) = fixture(0).await else {
        return;
    };
    let book = commissions(ROWS, "B");
    let sha = sintra_excel::sha256_hex(&book);
    let fault = async {
        let before = wait_for(&f.url, &sha, "B", |s| {
            s.status == "checking" && s.rows_read > 0
        })
        .await;
        stop(&f.cluster).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        restart(&f.cluster).await;
        before
    };
    let (res, before) =
        futures_util::future::join(upload(&f.app, &f.op, "commission", true, &book), fault).await;
    assert!(
        before.rows_read < ROWS as i64,
        "stopped mid-check: {before:?}"
    );
    // Not a 500: the client is told to come back.
    res.assert_unavailable("the upload that ran its own import");
    assert!(
        res.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("base de datos")),
        "{}",
        res.text()
    );

    // Its job is not left `checking`: failed, with the reason in Spanish.
    let end = wait_for(&f.url, &sha, "B", ended).await;
    assert_eq!(end.id, before.id);
    assert_eq!(end.status, "failed", "{end:?}");
    assert_eq!(end.records, 0);
    let job = poll_until_end(&f.app, &f.op, &end.id).await;
    assert_eq!(job["problem"]["code"], "database_unavailable", "{job}");
    let message = job["problem"]["message"].as_str().unwrap();
    assert!(
        message.contains("base de datos") && message.contains("no se guardó ninguna fila"),
        "{job}"
    );
    assert_chain_valid(&f.app, &f.auditor).await;

    // The same file again goes through (not refused as a repeat).
    let again = upload(&f.app, &f.op, "commission", true, &book).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json["rows_valid"], ROWS, "{}", again.text());
}

#[actix_web::test]
async fn a_database_stopped_mid_insert_leaves_all_rows_or_none_and_the_job_says_which() {
    let Some(f) = fixture(1).await else {
        return;
    };
    let book = commissions(MID_INSERT_ROWS, "C");
    let sha = sintra_excel::sha256_hex(&book);
    let id = job_id(&submit(&f.app, &f.op, "commission", false, &book).await);

    let before = wait_for(&f.url, &sha, "C", |s| {
        s.status == "committing" && s.rows_written > 0
    })
    .await;
    stop(&f.cluster).await;
    assert!(
        before.rows_written < MID_INSERT_ROWS as i64,
        "stopped mid-insert: {before:?}"
    );
    assert_down_answers(&f.app, &f.op, &id).await;
    restart(&f.cluster).await;

    // Rolled back with the server: none of its rows, the job not committed.
    let after = wait_for(&f.url, &sha, "C", |_| true).await;
    assert_ne!(after.status, "committed", "{after:?}");
    assert_eq!(after.records, 0, "{after:?}");
    // Resumed from the start, every snapshot agreeing with the job.
    let end = wait_for(&f.url, &sha, "C", ended).await;
    eprintln!(
        "mid-insert: stopped at {} of {MID_INSERT_ROWS} rows written; after the restart {after:?}; at the end {end:?}",
        before.rows_written
    );
    assert_eq!(end.status, "committed", "{end:?}");
    assert_eq!(end.records, MID_INSERT_ROWS as i64);
    assert!(end.attempts >= 2, "{end:?}");
    let job = poll_until_end(&f.app, &f.op, &id).await;
    assert_eq!(job["report"]["rows_created"], MID_INSERT_ROWS, "{job}");
    assert_eq!(job["progress"]["rows_written"], MID_INSERT_ROWS, "{job}");
    assert_chain_valid(&f.app, &f.auditor).await;
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql)
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_database_stopped_between_the_last_insert_and_the_commit_or_right_after_it_keeps_job_and_rows_agreeing(
) {
    let Some(f) = fixture(1).await else {
        return;
    };

    // Between the last insert and the commit: the commit marks the job
    // committed in its own transaction, after locking the job's row; a
    // session of the test holds that row, so the import writes every row
    // and waits there.
    let book = commissions(ROWS, "D");
    let sha = sintra_excel::sha256_hex(&book);
    let id = job_id(&submit(&f.app, &f.op, "commission", false, &book).await);
    wait_for(&f.url, &sha, "D", |s| {
        s.status == "committing" && s.rows_written > 0
    })
    .await;
    let mut holder = AsyncPgConnection::establish(&f.url).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT 1 FROM import_jobs WHERE id = '{id}' FOR UPDATE"
    ))
    .execute(&mut holder)
    .await
    .unwrap();
    let started = Instant::now();
    while count(
        &f.url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
         AND query LIKE '%import_jobs%' AND query LIKE '%FOR UPDATE%'",
    )
    .await
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the commit reached the job's row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waiting = snapshot(&f.url, &sha, "D").await.unwrap();
    assert_eq!(waiting.records, 0, "written, not committed: {waiting:?}");
    stop(&f.cluster).await;
    drop(holder);
    restart(&f.cluster).await;
    let after = wait_for(&f.url, &sha, "D", |_| true).await;
    assert_ne!(after.status, "committed", "{after:?}");
    let end = wait_for(&f.url, &sha, "D", ended).await;
    eprintln!("before the commit: after the restart {after:?}; at the end {end:?}");
    assert_eq!(end.status, "committed", "{end:?}");
    assert!(end.attempts >= 2, "{end:?}");
    assert_chain_valid(&f.app, &f.auditor).await;

    // Right after the commit: the first snapshot that holds the rows holds
    // the job committed (one transaction); stopped then, both stay.
    let book = commissions(ROWS, "E");
    let sha = sintra_excel::sha256_hex(&book);
    let id = job_id(&submit(&f.app, &f.op, "commission", false, &book).await);
    let first = wait_for(&f.url, &sha, "E", |s| s.records > 0 || ended(s)).await;
    assert_eq!(first.status, "committed", "{first:?}");
    assert_eq!(first.records, ROWS as i64);
    stop(&f.cluster).await;
    assert_down_answers(&f.app, &f.op, &id).await;
    restart(&f.cluster).await;
    let after = wait_for(&f.url, &sha, "E", |_| true).await;
    assert_eq!(after.status, "committed", "{after:?}");
    assert_eq!(after.attempts, 1, "not run again: {after:?}");
    let audited = count(
        &f.url,
        &format!("SELECT count(*) AS n FROM audit_events WHERE action = 'import' AND resource_id = '{id}'"),
    )
    .await;
    assert_eq!(audited, 1, "audited once");
    let job = poll_until_end(&f.app, &f.op, &id).await;
    assert_eq!(job["state"], "committed", "{job}");
    assert_chain_valid(&f.app, &f.auditor).await;
}

/// The API as a process of its own, for the test that kills it: started by
/// that test (this test binary run again with `SINTRA_FAULTS_SERVE` set to
/// the database's URL); prints where it listens, then serves until killed.
#[test]
#[ignore = "the API process that the kill test starts and kills"]
fn api_process_for_the_kill_test() {
    let Ok(url) = std::env::var("SINTRA_FAULTS_SERVE") else {
        return;
    };
    actix_web::rt::System::new().block_on(async move {
        let config = config(&url, 1, KILLED_STALE);
        let pool = db::build_pool(&config.db_config(Duration::from_secs(2))).unwrap();
        let state = sintra_http::AppState::new(pool, config);
        let _workers = sintra_http::spawn_workers(&state);
        let metrics = sintra_http::metrics();
        let app_state = state.clone();
        let server =
            actix_test::start(move || sintra_http::build_app(app_state.clone(), metrics.clone()));
        println!("SINTRA_SERVING {}", server.url(""));
        std::future::pending::<()>().await;
    });
}

/// Starts the API process on `url`; answers it and its address.
async fn api_process(url: &str) -> (Child, String) {
    let me = std::env::current_exe().unwrap();
    let mut child = Command::new(me)
        .args([
            "--exact",
            "api_process_for_the_kill_test",
            "--ignored",
            "--nocapture",
        ])
        .env("SINTRA_FAULTS_SERVE", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("SINTRA_SERVING ").map(str::to_string))
            .expect("the API process says where it listens");
        // Keep reading, so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        base
    })
    .await
    .unwrap();
    (child, base.trim_end_matches('/').to_string())
}

/// Uploads a file as a job to the API process.
async fn submit_to(base: &str, who: &Account, book: &[u8]) -> (u16, Value) {
    let (content_type, body) = multipart(book);
    let mut res = awc::Client::default()
        .post(format!(
            "{base}/api/v1/excel/imports/commission?dry_run=false"
        ))
        .insert_header(("authorization", format!("Bearer {}", who.token)))
        .insert_header(("content-type", content_type))
        .timeout(Duration::from_secs(60))
        .send_body(body)
        .await
        .unwrap();
    let json = res.json::<Value>().limit(1 << 20).await.unwrap();
    (res.status().as_u16(), json)
}

#[actix_web::test]
async fn the_api_process_killed_mid_import_and_restarted_resumes_the_job_never_half_written() {
    // The test's own API (no worker) answers the polls; the process that
    // runs the import is another, killed with SIGKILL.
    let Some(f) = fixture(0).await else {
        return;
    };
    let (mut process, base) = api_process(&f.url).await;
    let book = commissions(ROWS, "K");
    let sha = sintra_excel::sha256_hex(&book);
    let (status, accepted) = submit_to(&base, &f.op, &book).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["import_id"].as_str().unwrap().to_string();
    let before = wait_for(&f.url, &sha, "K", |s| {
        s.status == "committing" && s.rows_written > 0
    })
    .await;
    process.kill().unwrap();
    process.wait().unwrap();
    assert!(
        before.rows_written < ROWS as i64,
        "killed mid-insert: {before:?}"
    );

    // Its transaction died with it: nothing written, the job still its.
    let orphan = wait_for(&f.url, &sha, "K", |_| true).await;
    assert_eq!(orphan.status, "committing", "{orphan:?}");
    assert_eq!(orphan.records, 0);
    let job = f
        .app
        .get(&format!("/api/v1/excel/imports/{id}"), &f.op.token)
        .await;
    assert_eq!(job.status, 200, "{}", job.text());
    assert_eq!(job.json["state"], "committing");

    // Restarted on the same database, the API takes the job over once its
    // heartbeat is stale and commits it whole, once.
    let (mut process, base) = api_process(&f.url).await;
    let end = wait_for(&f.url, &sha, "K", ended).await;
    eprintln!(
        "killed at {} of {ROWS} rows written; at the end {end:?}",
        before.rows_written
    );
    assert_eq!(end.status, "committed", "{end:?}");
    assert_eq!(end.attempts, 2, "{end:?}");
    assert_eq!(end.records, ROWS as i64);
    assert_chain_valid(&f.app, &f.auditor).await;

    // A new import goes through the restarted process.
    let small = commissions(20, "L");
    let (status, accepted) = submit_to(&base, &f.op, &small).await;
    assert_eq!(status, 202, "{accepted}");
    let job = poll_until_end(&f.app, &f.op, accepted["import_id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "committed", "{job}");
    process.kill().unwrap();
    process.wait().unwrap();
}

#[actix_web::test]
async fn connections_exhausted_during_an_import_answer_503_or_429_never_500_and_recover() {
    let Some(f) = fixture(1).await else {
        return;
    };
    let book = commissions(MID_INSERT_ROWS, "X");
    let sha = sintra_excel::sha256_hex(&book);
    let id = job_id(&submit(&f.app, &f.op, "commission", false, &book).await);
    wait_for(&f.url, &sha, "X", |s| {
        s.status == "committing" && s.rows_written > 0
    })
    .await;

    // Another program takes every connection slot of the cluster (the
    // superuser's reserved ones too) with idle sessions, and the API's
    // connections are cut (the import's among them): it can open none.
    let holder = format!("{}?application_name=holder", f.url);
    let mut held = vec![AsyncPgConnection::establish(&holder).await.unwrap()];
    for _ in 0..10 {
        let cut = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND application_name <> 'holder'",
        )
        .get_result::<N>(&mut held[0])
        .await
        .unwrap()
        .n;
        let before = held.len();
        while held.len() < 1_000 {
            match AsyncPgConnection::establish(&holder).await {
                Ok(conn) => held.push(conn),
                Err(_) => break,
            }
        }
        if cut == 0 && held.len() == before {
            break;
        }
    }
    assert!(held.len() > 10, "{} sessions held", held.len());

    // For 4 s, the client polls its job, checks readiness and uploads
    // another file (run in its request).
    let started = Instant::now();
    let mut seen: Vec<u16> = vec![];
    let small = commissions(20, "Y");
    while started.elapsed() < Duration::from_secs(4) {
        let answers = [
            f.app
                .get(&format!("/api/v1/excel/imports/{id}"), &f.op.token)
                .await,
            f.app.call(Method::GET, "/health/ready", None, None).await,
            upload(&f.app, &f.op, "commission", true, &small).await,
        ];
        for res in answers {
            match res.status {
                200 | 202 => {}
                429 => {
                    res.assert_problem(429, "imports_busy");
                    assert!(res.header("retry-after").is_some(), "{}", res.text());
                }
                _ => res.assert_unavailable("while the connections are exhausted"),
            }
            seen.push(res.status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held_count = held.len();
    drop(held);

    // The job ends whole or failed with its reason, never half written.
    let end = wait_for(&f.url, &sha, "X", ended).await;
    let job = poll_until_end(&f.app, &f.op, &id).await;
    eprintln!(
        "{held_count} sessions held; answers meanwhile {seen:?}; the job: {end:?} {}",
        job["problem"]
    );
    assert!(seen.contains(&503), "the exhaustion was seen: {seen:?}");
    match end.status.as_str() {
        "committed" => assert_eq!(end.records, MID_INSERT_ROWS as i64),
        "failed" => {
            assert_eq!(end.records, 0);
            assert_eq!(job["problem"]["code"], "database_unavailable", "{job}");
        }
        other => panic!("{other}: {end:?}"),
    }
    // Recovered: a new import goes through.
    let res = submit(&f.app, &f.op, "commission", false, &commissions(20, "Z")).await;
    let job = poll_until_end(&f.app, &f.op, &job_id(&res)).await;
    assert_eq!(job["state"], "committed", "{job}");
    assert_chain_valid(&f.app, &f.auditor).await;
}
