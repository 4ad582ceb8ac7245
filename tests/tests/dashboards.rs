//! Dashboards as a national admin, a state analyst and an operator read
//! and download them: every figure cross-checked against SQL written here
//! over the raw records (not the projections the API reads), small counts
//! withheld without leaking through totals, scope kept, filters checked,
//! and the BI role confined to the projections.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};
use uuid::Uuid;

const DASHBOARDS: [&str; 6] = [
    "victims",
    "judicialization",
    "commissions",
    "data_quality",
    "sesnsp",
    "glotip",
];

struct World {
    app: TestApp,
    admin: Account,
    analyst: Account,
    operator: Account,
    inst_a: Uuid,
    inst_b: Uuid,
    inst_c: Uuid,
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// `n` victims of an institution, through the table the API writes, with
/// sexes, ages, nationalities, dates and forms of exploitation spread by
/// the row number; `extra` is merged into every one.
async fn victims(
    conn: &mut AsyncPgConnection,
    entity: &str,
    inst: Uuid,
    n: i64,
    start: &str,
    extra: &str,
) {
    let municipality = if entity == "19" { "'19039'" } else { "NULL" };
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, data)
             SELECT gen_random_uuid(), 'victim', '{entity}', '{inst}', jsonb_strip_nulls(jsonb_build_object(
               'condition', CASE WHEN g % 4 = 0 THEN 'POSIBLE_VICTIMA' ELSE 'VICTIMA' END,
               'given_names', 'Persona ' || g,
               'sex', CASE WHEN g % 3 = 0 THEN 'HOMBRE' ELSE 'MUJER' END,
               'age_at_detection', 10 + (g % 30),
               'nationality', CASE WHEN g % 10 = 0 THEN 'GTM' ELSE 'MEX' END,
               'detection_date', to_char(date '{start}' + (g % 90)::int, 'YYYY-MM-DD'),
               'detection_entity_code', '{entity}',
               'detection_municipality_code', {municipality}::text,
               'detection_source', 'DENUNCIA',
               'exploitation_forms', CASE WHEN g % 5 = 0
                   THEN '[\"EXPLOTACION_SEXUAL\", \"EXPLOTACION_LABORAL\"]'::jsonb
                   ELSE '[\"EXPLOTACION_SEXUAL\"]'::jsonb END
             )) || '{extra}'::jsonb
             FROM generate_series(1, {n}) g"
        ),
    )
    .await;
}

/// Investigations of the first `n` victims of an institution (one each),
/// each with a criminal case, a defendant and a sentence.
async fn cases(conn: &mut AsyncPgConnection, entity: &str, inst: Uuid, n: i64) {
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, data)
             SELECT gen_random_uuid(), 'investigation', '{entity}', '{inst}', jsonb_build_object(
               'investigation_type', 'CARPETA_INVESTIGACION', 'folio', 'CI-' || v.id,
               'opening_date', to_char(date '2024-01-10' + (v.rn % 60)::int, 'YYYY-MM-DD'),
               'fuero', CASE WHEN v.rn % 6 = 0 THEN 'FEDERAL' ELSE 'COMUN' END,
               'crimes', '[\"LGT_ART_10\"]'::jsonb,
               'victim_ids', jsonb_build_array(v.id::text), 'entity_code', '{entity}')
             FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM records
                   WHERE form = 'victim' AND institution_id = '{inst}' ORDER BY id LIMIT {n}) v"
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
             SELECT gen_random_uuid(), 'criminal_case', '{entity}', '{inst}', i.id, jsonb_build_object(
               'investigation_id', i.id::text, 'court', 'Juzgado', 'case_number', 'CP-' || i.id,
               'judicialized_date', to_char((i.data->>'opening_date')::date + 30, 'YYYY-MM-DD'))
             FROM records i WHERE i.form = 'investigation' AND i.institution_id = '{inst}'"
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
             SELECT gen_random_uuid(), 'defendant', '{entity}', '{inst}', c.id, jsonb_build_object(
               'criminal_case_id', c.id::text,
               'sex', CASE WHEN row_number() OVER (ORDER BY c.id) % 4 = 0 THEN 'MUJER' ELSE 'HOMBRE' END,
               'nationality', 'MEX')
             FROM records c WHERE c.form = 'criminal_case' AND c.institution_id = '{inst}'"
        ),
    )
    .await;
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
             SELECT gen_random_uuid(), 'sentence', '{entity}', '{inst}', d.id, jsonb_build_object(
               'defendant_id', d.id::text, 'crime', 'LGT_ART_10',
               'date', to_char((c.data->>'judicialized_date')::date + 100, 'YYYY-MM-DD'),
               'sentence_type', CASE WHEN row_number() OVER (ORDER BY d.id) % 3 = 0
                                     THEN 'ABSOLUTORIA' ELSE 'CONDENATORIA' END)
             FROM records d JOIN records c ON c.id = d.parent_id
             WHERE d.form = 'defendant' AND d.institution_id = '{inst}'"
        ),
    )
    .await;
}

async fn world() -> World {
    let app = TestApp::new().await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let inst_a = app.institution("19", "Fiscalía de Nuevo León").await;
    let inst_b = app.institution("19", "DIF Nuevo León").await;
    let inst_c = app
        .institution("09", "Fiscalía de la Ciudad de México")
        .await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let analyst = app.account(Role::Analyst, inst_b).await;
    let operator = app.account(Role::Operator, inst_a).await;
    let mut conn = app.db.owner_conn().await;
    victims(&mut conn, "19", inst_a, 120, "2024-01-01", "{}").await;
    victims(&mut conn, "19", inst_b, 40, "2024-02-01", "{}").await;
    victims(&mut conn, "09", inst_c, 70, "2024-01-01", "{}").await;
    // Small cells: two intersex people in March and one Honduran woman.
    victims(
        &mut conn,
        "19",
        inst_a,
        2,
        "2024-03-05",
        r#"{"sex": "INTERSEXUAL", "detection_date": "2024-03-05"}"#,
    )
    .await;
    victims(
        &mut conn,
        "19",
        inst_b,
        1,
        "2024-02-07",
        r#"{"nationality": "HND", "detection_date": "2024-02-07"}"#,
    )
    .await;
    cases(&mut conn, "19", inst_a, 30).await;
    cases(&mut conn, "09", inst_c, 12).await;
    // One person recorded twice, confirmed as a duplicate: counted once.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO duplicate_pairs (id, person_a, person_b, level, score, status)
             SELECT gen_random_uuid(), least(a.id, b.id), greatest(a.id, b.id), 'exact', 1, 'confirmed'
             FROM (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{inst_a}' ORDER BY id LIMIT 1) a,
                  (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{inst_b}' ORDER BY id LIMIT 1) b"
        ),
    )
    .await;
    World {
        app,
        admin,
        analyst,
        operator,
        inst_a,
        inst_b,
        inst_c,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Independent figures: SQL over `records.data`, keyed by `k`.
async fn sql_counts(conn: &mut AsyncPgConnection, sql: &str) -> BTreeMap<String, i64> {
    diesel::sql_query(sql)
        .load::<Count>(conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|c| (c.k, c.n))
        .collect()
}

/// A victim counts unless a record of its person (reached through
/// confirmed pairs, chains and stars included) has a smaller id.
const COUNTED: &str = "r.form = 'victim' AND NOT EXISTS (
    WITH RECURSIVE reach(n) AS (
        SELECT r.id
        UNION SELECT CASE WHEN dp.person_a = reach.n THEN dp.person_b ELSE dp.person_a END
        FROM reach JOIN duplicate_pairs dp
          ON dp.status = 'confirmed' AND (dp.person_a = reach.n OR dp.person_b = reach.n))
    SELECT 1 FROM reach WHERE reach.n < r.id)";

fn table<'a>(answer: &'a Value, key: &str) -> &'a Value {
    answer["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("table {key}"))
}

/// `(row, column) -> value` of a table's visible cells.
fn cells(t: &Value) -> BTreeMap<(String, String), i64> {
    let cols: Vec<String> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    let mut out = BTreeMap::new();
    for r in t["rows"].as_array().unwrap() {
        for (j, v) in r["cells"].as_array().unwrap().iter().enumerate() {
            if let Some(n) = v.as_i64() {
                out.insert(
                    (r["code"].as_str().unwrap().to_string(), cols[j].clone()),
                    n,
                );
            }
        }
    }
    out
}

fn suppressed(t: &Value) -> Vec<(String, String)> {
    t["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["row"].as_str().unwrap().to_string(),
                s["column"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn every_role_that_reads_aggregates_reads_and_downloads_every_dashboard() {
    let w = world().await;
    let list = w.app.get("/api/v1/dashboards", &w.analyst.token).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, DASHBOARDS);
    assert!(list.json["items"][0]["group_by"]
        .as_array()
        .unwrap()
        .contains(&"municipality".into()));
    for who in [&w.admin, &w.analyst, &w.operator] {
        for name in DASHBOARDS {
            let a = w
                .app
                .get(&format!("/api/v1/dashboards/{name}"), &who.token)
                .await;
            assert_eq!(a.status, 200, "{:?} {name}: {}", who.role, a.text());
            assert_eq!(a.json["dashboard"], name);
            assert_eq!(
                a.json["suppression"]["applied"],
                who.role == Role::Analyst && name != "commissions",
                "{name}"
            );
            let tables = a.json["tables"].as_array().unwrap().len();
            assert!(tables >= 1);

            let x = w
                .app
                .get(
                    &format!("/api/v1/dashboards/{name}?format=xlsx"),
                    &who.token,
                )
                .await;
            assert_eq!(x.status, 200, "{name}: {}", x.text());
            assert!(x
                .content_type()
                .starts_with("application/vnd.openxmlformats"));
            use calamine::Reader;
            let mut book: calamine::Xlsx<_> =
                calamine::Xlsx::new(std::io::Cursor::new(x.body.clone())).unwrap();
            let sheets = book.sheet_names();
            assert_eq!(sheets.len(), tables, "{name}: a sheet per table");
            let first = book.worksheet_range(&sheets[0]).unwrap();
            let text: Vec<String> = first.cells().map(|(_, _, c)| c.to_string()).collect();
            assert!(text.iter().any(|c| c.starts_with("Filtros:")), "{name}");
            assert!(text.iter().any(|c| c.starts_with("Extraído")), "{name}");

            let c = w
                .app
                .get(&format!("/api/v1/dashboards/{name}?format=csv"), &who.token)
                .await;
            assert_eq!(c.status, 200, "{name}: {}", c.text());
            assert!(c.content_type().starts_with("text/csv"));
            let csv = c.text();
            assert!(csv
                .trim_start_matches('\u{feff}')
                .starts_with("tablero,tabla,fila"));
        }
    }
    // Roles without aggregates: auditors and state systems.
    let auditor = w.app.account(Role::Auditor, w.inst_b).await;
    let system = w.app.account(Role::System, w.inst_a).await;
    for who in [&auditor, &system] {
        let a = w.app.get("/api/v1/dashboards/victims", &who.token).await;
        a.assert_problem(403, "forbidden");
    }
}

#[actix_web::test]
async fn figures_agree_with_independent_sql_over_the_records() {
    let w = world().await;
    let mut conn = w.app.db.owner_conn().await;

    // Victims by month and sex, national, duplicates counted once.
    let a = w
        .app
        .get("/api/v1/dashboards/victims?group_by=month", &w.admin.token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let by_sex = table(&a.json, "by_sex");
    let expected = sql_counts(
        &mut conn,
        &format!(
            "SELECT left(r.data->>'detection_date', 7) || '/' || (r.data->>'sex') AS k, count(*) AS n
             FROM records r WHERE {COUNTED} GROUP BY 1"
        ),
    )
    .await;
    let got: BTreeMap<String, i64> = cells(by_sex)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((r, c), n)| (format!("{r}/{c}"), n))
        .collect();
    assert_eq!(got, expected);
    let total = sql_counts(
        &mut conn,
        &format!("SELECT 'all' AS k, count(*) AS n FROM records r WHERE {COUNTED}"),
    )
    .await["all"];
    assert_eq!(by_sex["grand_total"], total);
    assert_eq!(
        total,
        120 + 40 + 70 + 2 + 1 - 1,
        "the duplicate counts once"
    );
    // Every single-valued breakdown adds up to the same people.
    for t in [
        "by_age_group",
        "by_age_detail",
        "by_nationality",
        "by_condition",
    ] {
        assert_eq!(table(&a.json, t)["grand_total"], total, "{t}");
    }
    // A person with two forms of exploitation counts under both.
    let forms = table(&a.json, "by_exploitation_form");
    let expected_forms = sql_counts(
        &mut conn,
        &format!(
            "SELECT f AS k, count(*) AS n FROM records r
             CROSS JOIN LATERAL jsonb_array_elements_text(r.data->'exploitation_forms') f
             WHERE {COUNTED} GROUP BY 1"
        ),
    )
    .await;
    let cols: Vec<&str> = forms["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    for (j, code) in cols.iter().enumerate() {
        assert_eq!(
            forms["column_totals"][j].as_i64(),
            expected_forms.get(*code).copied(),
            "{code}"
        );
    }
    assert!(forms["rows"][0]["total"].is_null(), "rows do not add up");

    // Rates per 100,000 inhabitants by entity.
    let rates = table(&a.json, "rate_by_entity");
    let nl = rates["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "19")
        .unwrap();
    let nl_count = sql_counts(
        &mut conn,
        &format!(
            "SELECT r.entity_code AS k, count(*) AS n FROM records r WHERE {COUNTED} GROUP BY 1"
        ),
    )
    .await["19"];
    let population =
        sql_counts(&mut conn, "SELECT code AS k, population AS n FROM entities").await["19"];
    let rate = nl["cells"][0].as_f64().unwrap();
    let exact = nl_count as f64 * 100_000.0 / population as f64;
    assert!((rate - exact).abs() < 0.01, "{rate} vs {exact}");
    assert_eq!(nl["label"]["es"], "Nuevo León");

    // The judicialization funnel.
    let j = w
        .app
        .get(
            "/api/v1/dashboards/judicialization?group_by=entity",
            &w.admin.token,
        )
        .await;
    assert_eq!(j.status, 200, "{}", j.text());
    let funnel = cells(table(&j.json, "funnel"));
    let expected = sql_counts(
        &mut conn,
        "SELECT entity_code || '/' || form AS k, count(*) AS n FROM records
         WHERE form IN ('investigation', 'criminal_case', 'defendant') GROUP BY 1
         UNION ALL
         SELECT s.entity_code || '/' || (s.data->>'sentence_type'), count(*) FROM records s
         WHERE s.form = 'sentence' GROUP BY 1",
    )
    .await;
    for (entity, n) in [("19", 30), ("09", 12)] {
        assert_eq!(funnel[&(entity.into(), "INVESTIGACIONES".into())], n);
        assert_eq!(
            funnel[&(entity.into(), "INVESTIGACIONES".into())],
            expected[&format!("{entity}/investigation")]
        );
        assert_eq!(
            funnel[&(entity.into(), "CAUSAS_PENALES".into())],
            expected[&format!("{entity}/criminal_case")]
        );
        assert_eq!(
            funnel[&(entity.into(), "PERSONAS_IMPUTADAS".into())],
            expected[&format!("{entity}/defendant")]
        );
        assert_eq!(
            funnel[&(entity.into(), "SENTENCIAS_CONDENATORIA".into())],
            expected[&format!("{entity}/CONDENATORIA")]
        );
    }
    let medians = table(&j.json, "median_days");
    assert_eq!(medians["rows"][0]["cells"][0].as_f64(), Some(30.0));
    assert_eq!(medians["rows"][0]["cells"][1].as_f64(), Some(130.0));

    // SESNSP: victims of fuero común investigations by entity, month, sex, age.
    let s = w.app.get("/api/v1/dashboards/sesnsp", &w.admin.token).await;
    assert_eq!(s.status, 200, "{}", s.text());
    let got: BTreeMap<String, i64> = cells(table(&s.json, "sesnsp"))
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((r, c), n)| (format!("{r}/{c}"), n))
        .collect();
    let expected = sql_counts(
        &mut conn,
        "SELECT i.entity_code || '|' || left(i.data->>'opening_date', 7) || '/' || (v.data->>'sex')
                || '|' || CASE WHEN (v.data->>'age_at_detection')::int < 18 THEN '0_17' ELSE '18_MAS' END AS k,
                count(*) AS n
         FROM records i CROSS JOIN LATERAL jsonb_array_elements_text(i.data->'victim_ids') l
              JOIN records v ON v.id = l::uuid
         WHERE i.form = 'investigation' AND i.data->>'fuero' = 'COMUN' GROUP BY 1",
    )
    .await;
    assert_eq!(got, expected);

    // GLOTIP: girls, boys, women, men add up to the victims detected.
    let g = w.app.get("/api/v1/dashboards/glotip", &w.admin.token).await;
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(table(&g.json, "victims_by_sex_age")["grand_total"], total);
    let convicted: i64 = cells(table(&g.json, "persons_by_sex"))
        .into_iter()
        .filter(|((r, _), _)| r.starts_with("CONDENADAS"))
        .map(|(_, n)| n)
        .sum();
    let expected = sql_counts(
        &mut conn,
        "SELECT 'c' AS k, count(DISTINCT parent_id) AS n FROM records
         WHERE form = 'sentence' AND data->>'sentence_type' = 'CONDENATORIA'",
    )
    .await["c"];
    assert_eq!(convicted, expected);

    // Data quality: records per form, and completeness from the specs.
    let q = w
        .app
        .get(
            "/api/v1/dashboards/data_quality?group_by=entity",
            &w.admin.token,
        )
        .await;
    assert_eq!(q.status, 200, "{}", q.text());
    let per_form = cells(table(&q.json, "records_by_form"));
    assert_eq!(per_form[&("09".into(), "victim".into())], 70);
    let completeness = table(&q.json, "completeness");
    let row = |code: &str| {
        completeness["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == code)
            .unwrap_or_else(|| panic!("{code}"))["cells"][0]
            .as_f64()
    };
    assert_eq!(row("victim.sex"), Some(100.0));
    assert!(
        !completeness["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "victim.birth_date" || r["code"] == "victim.curp"),
        "personal fields are not projected"
    );
    let with_municipality = sql_counts(
        &mut conn,
        "SELECT 'm' AS k, (100 * count(r.data->>'detection_municipality_code') / count(*)) AS n
         FROM records r WHERE r.form = 'victim'",
    )
    .await["m"];
    assert_eq!(
        row("victim.detection_municipality_code").map(|x| x.floor() as i64),
        Some(with_municipality)
    );
    assert!(
        !completeness.to_string().contains("given_names"),
        "personal fields are not projected"
    );
}

#[actix_web::test]
async fn analysts_get_small_counts_withheld_without_leaks_through_totals() {
    let w = world().await;
    let mut conn = w.app.db.owner_conn().await;
    let a = w
        .app
        .get(
            "/api/v1/dashboards/victims?group_by=month",
            &w.analyst.token,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let exact = w
        .app
        .get(
            "/api/v1/dashboards/victims?group_by=month&entity_code=19",
            &w.admin.token,
        )
        .await;
    for key in ["by_sex", "by_nationality", "by_age_detail", "by_condition"] {
        let t = table(&a.json, key);
        let e = cells(table(&exact.json, key));
        let hidden = suppressed(t);
        let shown = cells(t);
        // What shows is exact; every count of 1 to 4 is withheld.
        for (k, n) in &shown {
            assert_eq!(e.get(k), Some(n), "{key} {k:?}");
            assert!(!(1..5).contains(n), "{key} {k:?} = {n} shown");
        }
        for (k, n) in &e {
            if (1..5).contains(n) {
                assert!(hidden.contains(k), "{key} {k:?} = {n} not withheld");
            }
        }
        // No row or column with a published total withholds exactly one
        // figure (it would be the total minus the others).
        let rows: Vec<String> = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_string())
            .collect();
        let cols: Vec<String> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_string())
            .collect();
        for r in rows.iter().chain(std::iter::once(&"_total".to_string())) {
            let n = cols
                .iter()
                .chain(std::iter::once(&"_total".to_string()))
                .filter(|c| hidden.contains(&(r.clone(), (*c).clone())))
                .count();
            assert_ne!(n, 1, "{key}: row {r} withholds one figure alone");
        }
        for c in cols.iter().chain(std::iter::once(&"_total".to_string())) {
            let n = rows
                .iter()
                .chain(std::iter::once(&"_total".to_string()))
                .filter(|r| hidden.contains(&((*r).clone(), c.clone())))
                .count();
            assert_ne!(n, 1, "{key}: column {c} withholds one figure alone");
        }
    }
    // The seeded small cells are among the withheld ones.
    let sex = suppressed(table(&a.json, "by_sex"));
    assert!(sex.contains(&("2024-03".into(), "INTERSEXUAL".into())));
    let nat = suppressed(table(&a.json, "by_nationality"));
    assert!(nat.contains(&("2024-02".into(), "HND".into())));
    // Dates widen to whole months for the analyst.
    let d = w
        .app
        .get(
            "/api/v1/dashboards/victims?from=2024-02-10&to=2024-03-03",
            &w.analyst.token,
        )
        .await;
    assert_eq!(d.json["filters"]["from"], "2024-02-01");
    assert_eq!(d.json["filters"]["to"], "2024-03-31");
    let _ = sql_counts(&mut conn, "SELECT 'x' AS k, 1::bigint AS n").await;
}

#[actix_web::test]
async fn an_entity_scoped_caller_never_counts_another_entitys_records() {
    let w = world().await;
    let mut conn = w.app.db.owner_conn().await;
    let only = |entity: &str| {
        format!(
            "SELECT 'n' AS k, count(*) AS n FROM records r WHERE {COUNTED} AND r.entity_code = '{entity}'"
        )
    };
    let nl = sql_counts(&mut conn, &only("19")).await["n"];
    let entity_admin = w.app.account(Role::EntityAdmin, w.inst_b).await;
    let a = w
        .app
        .get("/api/v1/dashboards/victims", &entity_admin.token)
        .await;
    assert_eq!(table(&a.json, "by_sex")["grand_total"], nl);
    let entities: Vec<&Value> = table(&a.json, "by_entity")["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["code"])
        .collect();
    assert_eq!(entities, vec!["19"]);
    // Asking for another entity finds nothing, as if it had no records.
    let other = w
        .app
        .get(
            "/api/v1/dashboards/victims?entity_code=09",
            &entity_admin.token,
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(table(&other.json, "by_sex")["grand_total"], 0);
    // An institution of another entity is not a valid filter.
    let bad = w
        .app
        .get(
            &format!("/api/v1/dashboards/victims?institution_id={}", w.inst_c),
            &entity_admin.token,
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    // An operator counts its institution's records only.
    let own = sql_counts(
        &mut conn,
        &format!(
            "SELECT 'n' AS k, count(*) AS n FROM records r WHERE {COUNTED} AND r.institution_id = '{}'",
            w.inst_a
        ),
    )
    .await["n"];
    let o = w
        .app
        .get("/api/v1/dashboards/victims", &w.operator.token)
        .await;
    assert_eq!(table(&o.json, "by_sex")["grand_total"], own);
    let j = w
        .app
        .get("/api/v1/dashboards/judicialization", &w.operator.token)
        .await;
    let inv: i64 = cells(table(&j.json, "funnel"))
        .into_iter()
        .filter(|((_, c), _)| c == "INVESTIGACIONES")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(inv, 30, "the other entity's 12 are not counted");
    // The SESNSP breakdown of the analyst holds entity 19 only.
    let s = w
        .app
        .get("/api/v1/dashboards/sesnsp", &w.analyst.token)
        .await;
    for r in table(&s.json, "sesnsp")["rows"].as_array().unwrap() {
        assert!(r["code"].as_str().unwrap().starts_with("19|"));
    }
    let _ = w.inst_b;
}

#[actix_web::test]
async fn filters_are_checked_before_any_figure_is_read() {
    let w = world().await;
    let t = w.admin.token.clone();
    let app = &w.app;
    let get = |q: &str| {
        let path = format!("/api/v1/dashboards/{q}");
        let t = t.clone();
        async move { app.get(&path, &t).await }
    };
    get("tablero").await.assert_problem(404, "not_found");
    let a = get("victims?entity_code=99").await;
    a.assert_problem(422, "validation_failed");
    assert_eq!(a.json["errors"][0]["field"], "entity_code");
    assert!(a.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no tiene un valor válido"));
    let a = get("victims?entity_code=19%00").await;
    a.assert_problem(400, "control_characters");
    assert_eq!(a.json["errors"][0]["field"], "entity_code");
    let a = get("victims?group_by=week").await;
    assert_eq!(a.json["errors"][0]["field"], "group_by");
    let a = get("victims?entity_code=09&municipality_code=19039").await;
    assert_eq!(a.json["errors"][0]["code"], "municipality_not_in_entity");
    let a = get("judicialization?municipality_code=19039").await;
    assert_eq!(a.json["errors"][0]["code"], "unknown_filter");
    let a = get("victims?from=2024-13-01").await;
    assert_eq!(a.json["errors"][0]["field"], "from");
    let a = get("victims?from=2024-05-01&to=2024-01-01").await;
    assert_eq!(a.json["errors"][0]["field"], "to");
    let a = get("sesnsp?group_by=entity").await;
    assert_eq!(a.json["errors"][0]["field"], "group_by");
    let a = get("victims?format=pdf").await;
    assert_eq!(a.json["errors"][0]["field"], "format");
    let a = get("victims?institution_id=nope").await;
    assert_eq!(a.json["errors"][0]["field"], "institution_id");
    // Valid filters narrow the figures.
    let a = get("victims?municipality_code=19039&group_by=municipality").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let rows = table(&a.json, "by_sex")["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["code"], "19039");
    assert_eq!(rows[0]["label"]["es"], "Monterrey");
    let a = get(&format!(
        "victims?institution_id={}&group_by=institution",
        w.inst_b
    ))
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let rows = table(&a.json, "by_sex")["rows"].as_array().unwrap().clone();
    assert_eq!(rows[0]["label"]["es"], "DIF Nuevo León");
    let mut conn = w.app.db.owner_conn().await;
    let expected = sql_counts(
        &mut conn,
        &format!(
            "SELECT 'n' AS k, count(*) AS n FROM records r WHERE {COUNTED} AND r.institution_id = '{}'",
            w.inst_b
        ),
    )
    .await["n"];
    assert_eq!(table(&a.json, "by_sex")["grand_total"], expected);
}

#[actix_web::test]
async fn the_bi_role_reads_the_projections_and_nothing_else() {
    let w = world().await;
    let mut conn = w.app.db.owner_conn().await;
    exec(&mut conn, "SET ROLE sintra_bi").await;
    let n = sql_counts(
        &mut conn,
        "SELECT sex AS k, count(*) AS n FROM projections.victim GROUP BY 1",
    )
    .await;
    assert!(n["MUJER"] > 0);
    for forbidden in [
        "SELECT 'x' AS k, count(*) AS n FROM records",
        "SELECT 'x' AS k, count(*) AS n FROM public.records WHERE data->>'given_names' IS NOT NULL",
        "SELECT given_names AS k, 1::bigint AS n FROM projections.victim",
        "SELECT username AS k, 1::bigint AS n FROM users",
        "SELECT 'x' AS k, count(*) AS n FROM audit_events",
    ] {
        let r = diesel::sql_query(forbidden).load::<Count>(&mut conn).await;
        let e = r.err().unwrap_or_else(|| panic!("{forbidden} answered"));
        let msg = e.to_string();
        assert!(
            msg.contains("permission denied") || msg.contains("does not exist"),
            "{forbidden}: {msg}"
        );
    }
    exec(&mut conn, "RESET ROLE").await;
    // Every non-personal field of the spec is a typed column.
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Text)]
        data_type: String,
    }
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'projections' AND table_name = 'victim'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let ty = |c: &str| {
        cols.iter()
            .find(|x| x.column_name == c)
            .map(|x| x.data_type.clone())
    };
    assert_eq!(ty("detection_date").as_deref(), Some("date"));
    assert_eq!(ty("age_at_detection").as_deref(), Some("bigint"));
    assert_eq!(ty("exploitation_forms").as_deref(), Some("ARRAY"));
    assert_eq!(ty("given_names"), None);
    assert_eq!(ty("curp"), None);
    assert_eq!(ty("birth_date"), None);
    let _ = (w.inst_a, w.inst_b, w.inst_c);
}
