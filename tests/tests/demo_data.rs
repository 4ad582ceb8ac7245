//! `sintra demo-data`: the same seed writes the same country into two
//! empty databases (ids and timestamps aside), through the services layer
//! (audit, projections, duplicate pairs), the dashboards answer it, and a
//! database with records is refused.

use std::collections::{BTreeMap, BTreeSet};

use diesel_async::RunQueryDsl;
use serde_json::Value;
use sintra_domain::access::Role;
use sintra_http::config::Config;
use sintra_http::demo::{self, DemoError, DemoOptions, DemoSize};
use sintra_persistence::db;
use sintra_tests::{TestApp, TestDb};

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

async fn lines(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.owner_conn().await;
    diesel::sql_query(sql)
        .load::<Row>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|r| r.line)
        .collect()
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    lines(db, &format!("SELECT ({sql})::text AS line")).await[0]
        .parse()
        .unwrap()
}

/// Every record as content: its form, entity, institution and folio, its
/// parent's folio, and its fields with every id of another record replaced
/// by that record's form and folio (ids are new on each run).
async fn records(db: &TestDb) -> BTreeSet<String> {
    let rows = lines(
        db,
        "SELECT json_build_object('id', r.id, 'form', r.form, 'entity', r.entity_code, \
                'institution', i.name, 'folio', r.external_folio, 'parent', r.parent_id, \
                'version', r.version, 'data', r.data)::text AS line \
         FROM records r JOIN institutions i ON i.id = r.institution_id",
    )
    .await;
    let rows: Vec<Value> = rows
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            let folio = r["folio"].as_str().expect("every demo record has a folio");
            (
                r["id"].as_str().unwrap().to_string(),
                format!("{}:{folio}", r["form"].as_str().unwrap()),
            )
        })
        .collect();
    fn named(v: &Value, names: &BTreeMap<String, String>) -> Value {
        match v {
            Value::String(s) => Value::String(names.get(s).cloned().unwrap_or_else(|| s.clone())),
            Value::Array(a) => Value::Array(a.iter().map(|x| named(x, names)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(k, _)| k.as_str() != "id")
                    .map(|(k, x)| (k.clone(), named(x, names)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    rows.iter().map(|r| named(r, &names).to_string()).collect()
}

async fn fill(db: &TestDb, seed: u64) -> demo::DemoReport {
    let config = Config::for_database(&db.url);
    let pool = db::build_pool(&config.db_config(std::time::Duration::from_secs(5))).unwrap();
    demo::fill(
        &pool,
        &config,
        &DemoOptions {
            seed,
            size: DemoSize::Small,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("demo-data: {e}"))
}

#[actix_web::test]
async fn the_same_seed_writes_the_same_country_and_the_dashboards_answer_it() {
    let (a, b) = (TestDb::new().await, TestDb::new().await);
    let started = std::time::Instant::now();
    let (ra, rb) = tokio::join!(fill(&a, 7), fill(&b, 7));
    eprintln!("two small fills in {:?}", started.elapsed());
    assert_eq!(ra.records, rb.records);

    // The same records, field by field.
    let (sa, sb) = (records(&a).await, records(&b).await);
    assert_eq!(sa.len(), ra.records.values().sum::<usize>());
    assert!(
        sa == sb,
        "{:?}",
        sa.symmetric_difference(&sb).take(4).collect::<Vec<_>>()
    );
    // What was compared: people's fields, and references by folio, not id.
    assert!(sa.iter().any(|r| r.contains("\"given_names\":")));
    assert!(sa.iter().any(|r| r.contains("\"parent\":\"criminal_case:")));
    assert!(sa.iter().any(|r| r.contains("\"victim_ids\":[\"victim:")));
    assert!(!sa.iter().any(|r| r.contains("\"id\":")));
    // The same institutions and accounts.
    let orgs = "SELECT concat_ws('|', u.username, u.role, u.kind, i.name, i.entity_code, \
                i.institution_type, u.one_time_password_expires_at IS NOT NULL) AS line \
                FROM users u JOIN institutions i ON i.id = u.institution_id ORDER BY 1";
    assert_eq!(lines(&a, orgs).await, lines(&b, orgs).await);

    // A country: institutions in the 32 entities, every role, every form.
    assert_eq!(
        count(
            &a,
            "SELECT count(DISTINCT entity_code) FROM institutions WHERE entity_code <> '00'"
        )
        .await,
        32
    );
    let roles = lines(&a, "SELECT DISTINCT role AS line FROM users ORDER BY 1").await;
    assert_eq!(
        roles,
        [
            "analyst",
            "auditor",
            "entity_admin",
            "national_admin",
            "operator",
            "system"
        ]
    );
    for form in [
        "commission",
        "session",
        "agreement",
        "agreement_follow_up",
        "victim",
        "attention",
        "investigation",
        "criminal_case",
        "procedural_event",
        "defendant",
        "sentence",
    ] {
        assert!(
            ra.records.get(form).copied().unwrap_or(0) > 0,
            "{form}: {:?}",
            ra.records
        );
    }
    // Written through the services: audited, projected, checked for
    // duplicates (repeats became pairs), in the changes feed.
    let total = sa.len() as i64;
    assert_eq!(
        count(&a, "SELECT count(*) FROM audit_events WHERE kind = 'modification' AND resource_type NOT IN ('user', 'institution')").await,
        total
    );
    assert_eq!(
        count(&a, "SELECT count(*) FROM projections.victim").await,
        ra.records["victim"] as i64
    );
    assert!(ra.victims_with_warnings > 0);
    assert!(count(&a, "SELECT count(*) FROM duplicate_pairs").await > 0);
    assert_eq!(
        count(&a, "SELECT count(*) FROM record_changes").await,
        total
    );
    // Overdue and fulfilled agreements both.
    assert!(
        count(&a, "SELECT count(*) FROM records WHERE form = 'agreement' AND data->>'status' = 'CUMPLIDO'").await > 0
    );
    assert!(
        count(&a, "SELECT count(*) FROM records WHERE form = 'agreement' AND data->>'status' IN ('PENDIENTE', 'EN_PROCESO') AND (data->>'due_date')::date < current_date").await > 0
    );
    drop(b);

    // The dashboards answer nonzero figures.
    let config = Config::for_database(&a.url);
    let app = TestApp::on_database(a, config);
    let inst = app.institution("19", "Observatorio de prueba").await;
    let admin = app.account(Role::NationalAdmin, inst).await;
    for name in [
        "victims",
        "judicialization",
        "commissions",
        "data_quality",
        "sesnsp",
        "glotip",
    ] {
        let answer = app
            .get(&format!("/api/v1/dashboards/{name}"), &admin.token)
            .await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text());
        let nonzero = answer.json["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["grand_total"].as_i64().is_some_and(|n| n > 0));
        assert!(nonzero, "{name}: {}", answer.text());
    }
    let overdue = app
        .get("/api/v1/agreements?overdue=true&limit=1", &admin.token)
        .await;
    assert_eq!(overdue.status, 200, "{}", overdue.text());
    assert_eq!(overdue.json["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_database_with_records_is_refused() {
    let db = TestDb::new().await;
    fill(&db, 1).await;
    let config = Config::for_database(&db.url);
    let pool = db::build_pool(&config.db_config(std::time::Duration::from_secs(5))).unwrap();
    let again = demo::fill(&pool, &config, &DemoOptions::default()).await;
    let Err(e @ DemoError::NotEmpty(_)) = again else {
        panic!("{again:?}");
    };
    assert!(e.to_string().contains("no está vacía"), "{e}");

    let mut production = config.clone();
    production.production = true;
    let refused = demo::fill(&pool, &production, &DemoOptions::default()).await;
    assert!(matches!(refused, Err(DemoError::Production)), "{refused:?}");
}
