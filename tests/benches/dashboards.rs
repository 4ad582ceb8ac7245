//! Dashboard latency (DESIGN.md §11, issue 14).
//!
//! Loads `SINTRA_BENCH_VICTIMS` victims (default 100,000; the issue's size
//! is 1,000,000) and `SINTRA_BENCH_CASES` investigations, each with one
//! criminal case and one defendant, and a sentence for every other
//! defendant (default 20,000; the issue's size is 200,000), spread over
//! the 32 entities and ten years, straight into `records` with
//! `INSERT … SELECT generate_series` (the table the API writes). Then asks
//! every dashboard over HTTP, as a national admin and as an analyst of one
//! entity, `SINTRA_BENCH_SAMPLES` times each (default 7), and prints the
//! median and p95 beside the references measured in the same run: a plain
//! `SELECT count(*) … GROUP BY` over the same victims, by a column
//! (`entity_code`) and by a field of `data` (the month detected).
//!
//! ```sh
//! cargo bench -p sintra-tests --bench dashboards
//! SINTRA_BENCH_VICTIMS=1000000 SINTRA_BENCH_CASES=200000 cargo bench -p sintra-tests --bench dashboards
//! ```

use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use sintra_domain::access::Role;
use sintra_tests::TestApp;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: sintra_http::Allocator = sintra_http::Allocator;

const DASHBOARDS: [&str; 6] = [
    "victims",
    "judicialization",
    "commissions",
    "data_quality",
    "sesnsp",
    "glotip",
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn stats(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let victims = env("SINTRA_BENCH_VICTIMS", 100_000);
    let cases = env("SINTRA_BENCH_CASES", 20_000);
    let samples = env("SINTRA_BENCH_SAMPLES", 7).max(1);
    actix_web::rt::System::new().block_on(async move {
        println!(
            "Dashboard benchmark: {victims} victims, {cases} investigations/criminal cases/defendants, \
             32 entities, 2015–2024; {samples} samples each"
        );
        let app = TestApp::new().await;
        let mut conn = app.db.owner_conn().await;
        let started = Instant::now();
        let load = [
            "INSERT INTO institutions (id, entity_code, name, institution_type)
             SELECT md5('inst' || code)::uuid, code, 'Fiscalía ' || name, 'FISCALIA'
             FROM entities WHERE code <> '00'"
                .to_string(),
            format!(
                "INSERT INTO records (id, form, entity_code, institution_id, data)
                 SELECT md5('v' || g)::uuid, 'victim', e.code, md5('inst' || e.code)::uuid,
                   jsonb_build_object(
                     'condition', CASE WHEN g % 4 = 0 THEN 'POSIBLE_VICTIMA' ELSE 'VICTIMA' END,
                     'sex', CASE WHEN g % 3 = 0 THEN 'HOMBRE' WHEN g % 97 = 0 THEN 'INTERSEXUAL' ELSE 'MUJER' END,
                     'age_at_detection', 8 + (g % 55),
                     'nationality', CASE WHEN g % 10 = 0 THEN 'GTM' WHEN g % 23 = 0 THEN 'HND' ELSE 'MEX' END,
                     'detection_date', to_char(date '2015-01-01' + (g % 3650)::int, 'YYYY-MM-DD'),
                     'detection_entity_code', e.code,
                     'detection_source', CASE WHEN g % 5 = 0 THEN 'OPERATIVO' ELSE 'DENUNCIA' END,
                     'exploitation_forms', CASE WHEN g % 6 = 0
                         THEN '[\"EXPLOTACION_SEXUAL\", \"EXPLOTACION_LABORAL\"]'::jsonb
                         ELSE '[\"EXPLOTACION_SEXUAL\"]'::jsonb END)
                 FROM generate_series(1, {victims}) g
                 JOIN entities e ON e.code = lpad((1 + g % 32)::text, 2, '0')"
            ),
            format!(
                "INSERT INTO records (id, form, entity_code, institution_id, data)
                 SELECT md5('i' || g)::uuid, 'investigation', e.code, md5('inst' || e.code)::uuid,
                   jsonb_build_object(
                     'investigation_type', 'CARPETA_INVESTIGACION', 'folio', 'CI-' || g,
                     'opening_date', to_char(date '2015-01-01' + ((g * 7) % 3600)::int, 'YYYY-MM-DD'),
                     'fuero', CASE WHEN g % 8 = 0 THEN 'FEDERAL' ELSE 'COMUN' END,
                     'crimes', '[\"LGT_ART_10\"]'::jsonb,
                     'victim_ids', jsonb_build_array(md5('v' || (1 + (g * 5) % {victims}))::uuid::text),
                     'entity_code', e.code)
                 FROM generate_series(1, {cases}) g
                 JOIN entities e ON e.code = lpad((1 + g % 32)::text, 2, '0')"
            ),
            format!(
                "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
                 SELECT md5('c' || g)::uuid, 'criminal_case', e.code, md5('inst' || e.code)::uuid,
                   md5('i' || g)::uuid,
                   jsonb_build_object(
                     'investigation_id', md5('i' || g)::uuid::text, 'court', 'Juzgado',
                     'case_number', 'CP-' || g,
                     'judicialized_date', to_char(date '2015-01-01' + ((g * 7) % 3600 + 45)::int, 'YYYY-MM-DD'))
                 FROM generate_series(1, {cases}) g
                 JOIN entities e ON e.code = lpad((1 + g % 32)::text, 2, '0')"
            ),
            format!(
                "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
                 SELECT md5('d' || g)::uuid, 'defendant', e.code, md5('inst' || e.code)::uuid,
                   md5('c' || g)::uuid,
                   jsonb_build_object('criminal_case_id', md5('c' || g)::uuid::text,
                     'sex', CASE WHEN g % 5 = 0 THEN 'MUJER' ELSE 'HOMBRE' END,
                     'nationality', CASE WHEN g % 9 = 0 THEN 'USA' ELSE 'MEX' END)
                 FROM generate_series(1, {cases}) g
                 JOIN entities e ON e.code = lpad((1 + g % 32)::text, 2, '0')"
            ),
            format!(
                "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
                 SELECT md5('s' || g)::uuid, 'sentence', e.code, md5('inst' || e.code)::uuid,
                   md5('d' || g)::uuid,
                   jsonb_build_object('defendant_id', md5('d' || g)::uuid::text, 'crime', 'LGT_ART_10',
                     'date', to_char(date '2015-01-01' + ((g * 7) % 3600 + 300)::int, 'YYYY-MM-DD'),
                     'sentence_type', CASE WHEN g % 6 = 0 THEN 'ABSOLUTORIA' ELSE 'CONDENATORIA' END)
                 FROM generate_series(2, {cases}, 2) g
                 JOIN entities e ON e.code = lpad((1 + g % 32)::text, 2, '0')"
            ),
            "ANALYZE".to_string(),
        ];
        for sql in &load {
            diesel::sql_query(sql.as_str())
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{e}: {sql}"));
        }
        println!(
            "  loaded in {:.1?} (records, their projections and the rollups' deltas, by the triggers)",
            started.elapsed()
        );
        let started = Instant::now();
        let folded = sintra_tests::sintra_persistence::rollup::compact(&mut conn, true)
            .await
            .unwrap();
        for sql in ["VACUUM ANALYZE figure_totals", "VACUUM ANALYZE figure_deltas", "ANALYZE"] {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
        println!(
            "  {folded} deltas folded into the totals in {:.1?}",
            started.elapsed()
        );

        let federal = app.institution("00", "Secretaría Técnica (banco)").await;
        let admin = app.account(Role::NationalAdmin, federal).await;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
        }
        let nl = diesel::sql_query("SELECT md5('inst19')::uuid AS id")
            .get_result::<Id>(&mut conn)
            .await
            .unwrap()
            .id;
        let analyst = app.account(Role::Analyst, nl).await;

        // References: the same victims counted by plain SQL.
        let references = [
            (
                "SELECT count(*) … GROUP BY entity_code (national)",
                "SELECT entity_code, count(*) FROM records WHERE form = 'victim' GROUP BY entity_code",
            ),
            (
                "SELECT count(*) … GROUP BY month of data->>'detection_date' (national)",
                "SELECT left(data->>'detection_date', 7), count(*) FROM records WHERE form = 'victim' GROUP BY 1",
            ),
            (
                "SELECT count(*) … GROUP BY month of data->>'detection_date' (entity 19)",
                "SELECT left(data->>'detection_date', 7), count(*) FROM records WHERE form = 'victim' AND entity_code = '19' GROUP BY 1",
            ),
        ];
        // Beside them, the same counts over the typed projection and over
        // the rollup the dashboards read (what the dashboards start from).
        let fairer = [
            (
                "SELECT count(*) … GROUP BY entity_code over projections.victim (national)",
                "SELECT entity_code, count(*) FROM projections.victim WHERE counted GROUP BY entity_code",
            ),
            (
                "SELECT sum(n) … GROUP BY month over the victims' rollup (national)",
                "SELECT month, sum(n) FROM (SELECT month, n FROM figure_totals WHERE rollup = 'victim' \
                 AND level = 1 AND dim = 'sex' UNION ALL SELECT month, n FROM figure_deltas \
                 WHERE rollup = 'victim') t GROUP BY month",
            ),
        ];
        for (label, sql) in fairer {
            let mut times = vec![];
            for _ in 0..samples {
                let t = Instant::now();
                diesel::sql_query(sql).execute(&mut conn).await.unwrap();
                times.push(t.elapsed());
            }
            let (median, p95) = stats(times);
            println!(
                "  beside: {label}: median {:.1} ms  p95 {:.1} ms",
                ms(median),
                ms(p95)
            );
        }
        if std::env::var("SINTRA_BENCH_EXPLAIN").is_ok_and(|v| v == "1") {
            explain(&mut conn).await;
        }
        let mut reference_p95 = vec![];
        for (label, sql) in references {
            let mut times = vec![];
            for _ in 0..samples {
                let t = Instant::now();
                diesel::sql_query(sql).execute(&mut conn).await.unwrap();
                times.push(t.elapsed());
            }
            let (median, p95) = stats(times);
            reference_p95.push(p95);
            println!(
                "  reference {label}: median {:.1} ms  p95 {:.1} ms",
                ms(median),
                ms(p95)
            );
        }
        let national_ref = reference_p95[1];
        let entity_ref = reference_p95[2];

        println!(
            "  {:<16} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>8}",
            "dashboard", "nat. med", "nat. p95", "×ref", "ent. med", "ent. p95", "×ref"
        );
        for name in DASHBOARDS {
            let mut national = vec![];
            let mut entity = vec![];
            for _ in 0..samples {
                let t = Instant::now();
                let a = app.get(&format!("/api/v1/dashboards/{name}"), &admin.token).await;
                national.push(t.elapsed());
                assert_eq!(a.status, 200, "{name}: {}", a.text());
                let t = Instant::now();
                let a = app.get(&format!("/api/v1/dashboards/{name}"), &analyst.token).await;
                entity.push(t.elapsed());
                assert_eq!(a.status, 200, "{name}: {}", a.text());
            }
            let (nm, np) = stats(national);
            let (em, ep) = stats(entity);
            println!(
                "  {:<16} {:>8.1}ms {:>8.1}ms {:>7.1}×   {:>8.1}ms {:>8.1}ms {:>7.1}×",
                name,
                ms(nm),
                ms(np),
                np.as_secs_f64() / national_ref.as_secs_f64(),
                ms(em),
                ms(ep),
                ep.as_secs_f64() / entity_ref.as_secs_f64(),
            );
        }
        println!(
            "  (×ref: p95 over the p95 of the GROUP BY month reference of the same scope; \
             target: national p95 under 200 ms)"
        );
    });
}

/// Prints the plan of every dashboard's statement at national scope with
/// no filter (`SINTRA_BENCH_EXPLAIN=1`).
async fn explain(conn: &mut diesel_async::AsyncPgConnection) {
    use diesel::sql_types::{Date, Nullable, Text, Uuid as SqlUuid};
    use sintra_domain::access::Scope;
    use sintra_domain::figures::DashboardKey;
    use sintra_tests::sintra_persistence::figures::{dashboard_sql, FigureFilter};
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    for d in DashboardKey::ALL {
        let filter = FigureFilter {
            from: None,
            to: None,
            entity_code: None,
            municipality_code: None,
            institution_id: None,
            group_by: d.group_bys()[0],
        };
        let sql = dashboard_sql(d, filter.rollup_level(&Scope::National));
        let plan: Vec<Line> = diesel::sql_query(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<SqlUuid>, _>(None::<Uuid>)
            .bind::<Nullable<Date>, _>(None::<chrono::NaiveDate>)
            .bind::<Nullable<Date>, _>(None::<chrono::NaiveDate>)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<Text>, _>(None::<String>)
            .bind::<Nullable<SqlUuid>, _>(None::<Uuid>)
            .bind::<Text, _>(filter.group_by.as_str())
            .load(conn)
            .await
            .unwrap();
        println!("  plan of {d} (national):");
        for l in plan {
            println!("    {}", l.line);
        }
    }
}
