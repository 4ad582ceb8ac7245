//! The audit log at national load (issue 17, DESIGN.md §4).
//!
//! `cargo build --release -p sintra-http && cargo bench -p sintra-tests --bench audit`
//!
//! Starts the release `sintra` binary (`SINTRA_BIN`, default
//! `target/release/sintra`) on a fresh database and drives it over HTTP with
//! a load generator (awc, one keep-alive connection per client) at 8 and 32
//! connections: audited single-record reads (`GET /api/v1/victims/{id}`),
//! audited creates (`POST /api/v1/victims`) and, to show where the time goes,
//! an authenticated request that writes no audit row (`GET /api/v1/auth/me`:
//! token, `jti` check, user). The reference, measured in the same run on the
//! same server: `pgbench -N` (TPC-B without the branch and teller updates) on
//! a database of its own, initialized at scale 10.
//!
//! Each step runs at every audit log size in `SINTRA_BENCH_AUDIT_ROWS`
//! (default `0,1000000`; the target is `0,10000000`). The log is
//! grown between sizes with `generate_series` in one statement per million
//! rows, straight into the table as its owner, one row a second back from
//! now (their months get their partitions first, as the sealer would have
//! made them); those rows are chained in the same transaction with
//! placeholder hashes (the benchmark measures load, not verification). The statistics are taken once while
//! the log is small (`ANALYZE`), the case that used to degrade the head
//! lookup. `SINTRA_BENCH_SECONDS` (default 10) is the length of each step.
//!
//! Targets: reads ≥ 0.5× pgbench -N at 8 and 32 connections, creates ≥
//! 0.25×, p99 < 50 ms at 32 connections, flat across log sizes.

use std::cell::RefCell;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::duplicates::labelled::generate;
use sintra_domain::duplicates::PersonFacts;
use sintra_tests::{database_url, TestApp};

const PGBENCH_DB: &str = "sintra_bench_pgbench";
const PGBENCH_SCALE: u32 = 10;
const CONNECTIONS: [usize; 2] = [8, 32];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sizes() -> Vec<i64> {
    std::env::var("SINTRA_BENCH_AUDIT_ROWS")
        .unwrap_or_else(|_| "0,1000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("SINTRA_BENCH_AUDIT_ROWS: sizes, comma-separated")
        })
        .collect()
}

/// Realistic, varied people (the duplicate benchmark's labelled generator):
/// identical names would turn every create's duplicate check into a scan of
/// everyone created before.
fn people() -> &'static [PersonFacts] {
    static PEOPLE: std::sync::OnceLock<Vec<PersonFacts>> = std::sync::OnceLock::new();
    PEOPLE.get_or_init(|| generate(20261202, 200_000, 0).people)
}

fn victim(n: usize) -> Value {
    let all = people();
    let p = &all[n % all.len()];
    let birth = p
        .birth_date
        .filter(|d| d.to_string().as_str() < "2024-01-01")
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("19{:02}-{:02}-{:02}", 50 + n % 50, 1 + n % 12, 1 + n % 28));
    json!({
        "condition": "VICTIMA",
        "given_names": p.given_names.clone().unwrap_or_else(|| "Sin nombre".into()),
        "first_surname": p.first_surname.clone().unwrap_or_else(|| "Sin apellido".into()),
        "second_surname": p.second_surname,
        "sex": if n.is_multiple_of(2) { "MUJER" } else { "HOMBRE" },
        "birth_date": birth,
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_municipality_code": "19039",
        "detection_source": "DENUNCIA",
        "exploitation_forms": ["EXPLOTACION_SEXUAL"]
    })
}

/// One step's answer: requests per second, latency percentiles, failures.
struct Measured {
    rps: f64,
    p50: Duration,
    p99: Duration,
    failures: usize,
}

#[derive(Clone, Copy)]
enum Work {
    Read,
    Create,
    Me,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Read => "audited read   GET /victims/{id}",
            Work::Create => "audited create POST /victims",
            Work::Me => "no audit row   GET /auth/me",
        }
    }
}

/// Runs `connections` clients, each with one keep-alive connection, sending
/// requests back to back for `seconds` (after one second of warm-up).
async fn drive(
    base: &str,
    token: &str,
    work: Work,
    connections: usize,
    seconds: u64,
    ids: Rc<Vec<String>>,
    counter: Rc<RefCell<usize>>,
) -> Measured {
    let warm_until = Instant::now() + Duration::from_secs(1);
    let until = warm_until + Duration::from_secs(seconds);
    let latencies = Rc::new(RefCell::new(Vec::<Duration>::new()));
    let failures = Rc::new(RefCell::new(0usize));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(1))
            .timeout(Duration::from_secs(30))
            .finish();
        let (base, token) = (base.to_string(), format!("Bearer {token}"));
        let (ids, counter, latencies, failures) = (
            ids.clone(),
            counter.clone(),
            latencies.clone(),
            failures.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            let mut i = c;
            loop {
                let started = Instant::now();
                if started >= until {
                    break;
                }
                let ok = match work {
                    Work::Read => {
                        let id = &ids[i % ids.len()];
                        i += connections;
                        client
                            .get(format!("{base}/api/v1/victims/{id}"))
                            .insert_header(("Authorization", token.as_str()))
                            .send()
                            .await
                    }
                    Work::Create => {
                        let n = {
                            let mut c = counter.borrow_mut();
                            *c += 1;
                            *c
                        };
                        client
                            .post(format!("{base}/api/v1/victims"))
                            .insert_header(("Authorization", token.as_str()))
                            .send_json(&victim(n))
                            .await
                    }
                    Work::Me => {
                        client
                            .get(format!("{base}/api/v1/auth/me"))
                            .insert_header(("Authorization", token.as_str()))
                            .send()
                            .await
                    }
                };
                let ok = match ok {
                    Ok(mut r) => matches!(r.status().as_u16(), 200 | 201) && r.body().await.is_ok(),
                    Err(_) => false,
                };
                let done = Instant::now();
                if started >= warm_until {
                    if ok {
                        latencies.borrow_mut().push(done - started);
                    } else {
                        *failures.borrow_mut() += 1;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut lat = latencies.borrow().clone();
    lat.sort();
    let pick = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let failures = *failures.borrow();
    Measured {
        rps: lat.len() as f64 / seconds as f64,
        p50: pick(0.50),
        p99: pick(0.99),
        failures,
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// `pgbench -N` at `connections` clients: transactions per second and mean
/// latency.
fn pgbench(connections: usize, seconds: u64) -> (f64, f64) {
    let out = run(Command::new("pgbench").args([
        "-N",
        "-n",
        "-c",
        &connections.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
        &database_url(PGBENCH_DB),
    ]));
    let field = |prefix: &str| -> f64 {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("pgbench printed no «{prefix}»: {out}"))
    };
    (field("tps = "), field("latency average = "))
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Grows the log by `rows` access rows, chained (placeholder hashes) in the
/// same transactions so the server's sealer has nothing to do for them.
async fn grow_log(conn: &mut AsyncPgConnection, rows: i64) {
    // The rows go one a second back from now, as a log that grew over
    // months would: their months get their partitions first (else they
    // would all land in the DEFAULT one).
    exec(
        conn,
        &format!(
            "SELECT audit_create_partition(m::date)
             FROM generate_series(date_trunc('month', (now() - make_interval(secs => {rows})) AT TIME ZONE 'UTC'),
                                  now() AT TIME ZONE 'UTC', interval '1 month') AS m"
        ),
    )
    .await;
    let mut left = rows;
    // Each batch goes further back than the one before.
    let mut offset = 0i64;
    while left > 0 {
        let n = left.min(1_000_000);
        exec(conn, "BEGIN").await;
        // Keeps the server's sealer out while the head moves.
        exec(conn, "SELECT pg_advisory_xact_lock(5372010402)").await;
        exec(
            conn,
            &format!(
                "INSERT INTO audit_events (occurred_at, kind, actor_username, entity_code, request_id,
                                           ip, action, resource_type, resource_id, outcome)
                 SELECT now() - make_interval(secs => {offset} + g), 'access',
                        'operador.relleno', '19', md5(g::text), '10.0.0.1', 'read', 'victim',
                        md5((g * 7)::text), 'ok'
                 FROM generate_series(1, {n}) g"
            ),
        )
        .await;
        exec(
            conn,
            "INSERT INTO audit_chain (position, event_id, prev_hash, hash, event_at)
             SELECT h.position + row_number() OVER (ORDER BY e.id), e.id, repeat('0', 64), md5(e.id::text),
                    e.occurred_at
             FROM audit_events e, audit_chain_head h
             WHERE e.txid = pg_current_xact_id()",
        )
        .await;
        exec(
            conn,
            "UPDATE audit_chain_head h SET position = c.position, event_id = c.event_id, hash = c.hash
             FROM (SELECT position, event_id, hash FROM audit_chain ORDER BY position DESC LIMIT 1) c",
        )
        .await;
        exec(conn, "COMMIT").await;
        left -= n;
        offset += n;
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let seconds: u64 = env_or("SINTRA_BENCH_SECONDS", 10);
    let sizes = sizes();
    let bin = std::env::var("SINTRA_BIN")
        .unwrap_or_else(|_| format!("{}/../target/release/sintra", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} is missing: cargo build --release -p sintra-http (or set SINTRA_BIN)"
    );

    actix_web::rt::System::new().block_on(async move {
        // The reference database, at a fixed scale.
        let mut admin = sintra_tests::admin_conn().await;
        exec(&mut admin, &format!("DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")).await;
        exec(&mut admin, &format!("CREATE DATABASE {PGBENCH_DB}")).await;
        run(Command::new("pgbench").args([
            "-i",
            "-q",
            "-s",
            &PGBENCH_SCALE.to_string(),
            &database_url(PGBENCH_DB),
        ]));

        // The application's database, with an operator and victims to read.
        let app = TestApp::new().await;
        let nl = app.institution("19", "Fiscalía NL (banco de pruebas)").await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let server = Server(
            Command::new(&bin)
                .arg("serve")
                .env("DATABASE_URL", &app.db.url)
                .env("SINTRA_BIND", format!("127.0.0.1:{port}"))
                .env("SINTRA_DB_POOL_SIZE", "32")
                .env("SINTRA_ADMIN_PASSWORD", "contrasena-del-banco-de-pruebas-1")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{bin}: {e}")),
        );
        let probe = awc::Client::default();
        let ready_by = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = probe.get(format!("{base}/health/ready")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < ready_by, "the server did not become ready");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let setup = app.account(Role::Operator, nl).await;
        let mut ids = Vec::new();
        for n in 0..200 {
            let res = app.post("/api/v1/victims", &setup.token, victim(1_000_000 + n)).await;
            assert_eq!(res.status, 201, "{}", res.text());
            ids.push(res.json["data"]["id"].as_str().unwrap().to_string());
        }
        let ids = Rc::new(ids);
        let counter = Rc::new(RefCell::new(0usize));
        let mut owner = app.db.owner_conn().await;
        exec(&mut owner, "ANALYZE").await;

        println!(
            "audit benchmark: {seconds} s a step, pgbench scale {PGBENCH_SCALE}, log sizes {sizes:?}; \
             other work on this machine skews both sides differently"
        );

        let mut log_rows = 0i64;
        let mut misses = Vec::new();
        for &size in &sizes {
            if size > log_rows {
                let started = Instant::now();
                grow_log(&mut owner, size - log_rows).await;
                println!("log grown to {size} rows in {:.1?}", started.elapsed());
                // A log that grew over months was vacuumed and checkpointed
                // by autovacuum as it grew; millions of rows written in
                // minutes leave that work for the steps that follow (seen:
                // pgbench -N fell from 4,449 to 2,341 tps right after the
                // growth). Done here, so every step measures a settled log.
                let settling = Instant::now();
                exec(&mut owner, "VACUUM (ANALYZE) audit_events, audit_chain").await;
                exec(&mut owner, "CHECKPOINT").await;
                println!("log vacuumed and checkpointed in {:.1?}", settling.elapsed());
            }
            let count: i64 = {
                #[derive(diesel::QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                diesel::sql_query("SELECT count(*) AS n FROM audit_events")
                    .get_result::<N>(&mut owner)
                    .await
                    .unwrap()
                    .n
            };
            log_rows = size.max(log_rows);
            // The reference is measured again at every size: on a shared
            // machine the load of others changes between sizes.
            let mut reference = Vec::new();
            for c in CONNECTIONS {
                let (tps, lat) = pgbench(c, seconds);
                println!("reference pgbench -N  c={c:>2}: {tps:>8.0} tps  mean latency {lat:.2} ms");
                reference.push((c, tps));
            }
            // Tokens live 15 minutes: a fresh one for every size.
            let op = app.account(Role::Operator, nl).await;
            for (work, target) in [(Work::Read, 0.5), (Work::Create, 0.25), (Work::Me, 0.0)] {
                for &(c, tps) in &reference {
                    let m = drive(&base, &op.token, work, c, seconds, ids.clone(), counter.clone()).await;
                    let ratio = m.rps / tps;
                    println!(
                        "log {count:>9} rows  {}  c={c:>2}: {:>7.0} req/s  {ratio:.2}× pgbench  p50 {:>6.1} ms  p99 {:>6.1} ms  failures {}",
                        work.name(),
                        m.rps,
                        m.p50.as_secs_f64() * 1e3,
                        m.p99.as_secs_f64() * 1e3,
                        m.failures,
                    );
                    if target > 0.0 && ratio < target {
                        misses.push(format!("{} c={c} at {count} rows: {ratio:.2}× < {target}×", work.name()));
                    }
                    if target > 0.0 && c == 32 && m.p99 >= Duration::from_millis(50) {
                        misses.push(format!("{} c=32 at {count} rows: p99 {:.1?} ≥ 50 ms", work.name(), m.p99));
                    }
                    if m.failures > 0 {
                        misses.push(format!("{} c={c} at {count} rows: {} failed requests", work.name(), m.failures));
                    }
                }
            }
        }
        for c in CONNECTIONS {
            let (tps, _) = pgbench(c, seconds);
            println!("reference pgbench -N  c={c:>2} (again, at the end): {tps:>8.0} tps");
        }
        // The server goes before its database.
        drop(server);
        if misses.is_empty() {
            println!("every target met");
        } else {
            println!("targets missed:");
            for m in misses {
                println!("  {m}");
            }
        }
        drop(app);
        exec(&mut admin, &format!("DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")).await;
    });
}
