//! The dashboards' pre-aggregated counts (rollups) against independent
//! SQL over the raw records (`records.data`, never the projections nor
//! the rollups): after creates, after updates that move records between
//! entities, institutions and months, after a duplicate is confirmed and
//! undone, with concurrent writers, and with the compactor folding in
//! between. A person created through the API is counted at once.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};
use uuid::Uuid;

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn sql_counts(conn: &mut AsyncPgConnection, sql: &str) -> BTreeMap<String, i64> {
    diesel::sql_query(sql)
        .load::<Count>(conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .into_iter()
        .map(|c| (c.k, c.n))
        .collect()
}

/// Folds every pending delta, as the compactor does.
async fn compact(conn: &mut AsyncPgConnection) -> u64 {
    sintra_tests::sintra_persistence::rollup::compact(conn, true)
        .await
        .expect("compact")
}

async fn pending(conn: &mut AsyncPgConnection) -> i64 {
    sql_counts(conn, "SELECT 'p' AS k, count(*) AS n FROM figure_deltas")
        .await
        .get("p")
        .copied()
        .unwrap_or(0)
}

/// `n` victims of an institution straight into `records`, spread by row
/// number over sexes, ages, nationalities, three months and forms of
/// exploitation.
async fn victims(conn: &mut AsyncPgConnection, entity: &str, inst: Uuid, n: i64, start: &str) {
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, data)
             SELECT gen_random_uuid(), 'victim', '{entity}', '{inst}', jsonb_strip_nulls(jsonb_build_object(
               'condition', CASE WHEN g % 4 = 0 THEN 'POSIBLE_VICTIMA' ELSE 'VICTIMA' END,
               'given_names', 'Persona ' || g,
               'sex', CASE WHEN g % 7 = 0 THEN NULL WHEN g % 3 = 0 THEN 'HOMBRE' ELSE 'MUJER' END,
               'age_at_detection', CASE WHEN g % 11 = 0 THEN NULL ELSE 5 + (g % 40) END,
               'nationality', CASE WHEN g % 10 = 0 THEN 'GTM' ELSE 'MEX' END,
               'detection_date', to_char(date '{start}' + (g % 90)::int, 'YYYY-MM-DD'),
               'detection_entity_code', '{entity}',
               'detection_source', CASE WHEN g % 5 = 0 THEN 'OPERATIVO' ELSE 'DENUNCIA' END,
               'exploitation_forms', CASE WHEN g % 5 = 0
                   THEN '[\"EXPLOTACION_SEXUAL\", \"EXPLOTACION_LABORAL\"]'::jsonb
                   WHEN g % 13 = 0 THEN NULL
                   ELSE '[\"EXPLOTACION_SEXUAL\"]'::jsonb END
             ))
             FROM generate_series(1, {n}) g"
        ),
    )
    .await;
}

/// An investigation for each of the first `n` victims of an institution,
/// each with a criminal case, a defendant and (every other one) a
/// sentence.
async fn cases(conn: &mut AsyncPgConnection, entity: &str, inst: Uuid, n: i64) {
    exec(
        conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, data)
             SELECT gen_random_uuid(), 'investigation', '{entity}', '{inst}', jsonb_build_object(
               'investigation_type', 'CARPETA_INVESTIGACION', 'folio', 'CI-' || v.id,
               'opening_date', to_char(date '2024-01-10' + (v.rn * 7 % 80)::int, 'YYYY-MM-DD'),
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
               'judicialized_date', to_char((i.data->>'opening_date')::date + (length(i.id::text) + ascii(i.id::text) % 40), 'YYYY-MM-DD'))
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
               'date', to_char((c.data->>'judicialized_date')::date + 90 + ascii(d.id::text) % 50, 'YYYY-MM-DD'),
               'sentence_type', CASE WHEN row_number() OVER (ORDER BY d.id) % 3 = 0
                                     THEN 'ABSOLUTORIA' ELSE 'CONDENATORIA' END)
             FROM records d JOIN records c ON c.id = d.parent_id
             WHERE d.form = 'defendant' AND d.institution_id = '{inst}'
               AND ascii(d.id::text) % 2 = 0"
        ),
    )
    .await;
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
        .unwrap_or_else(|| panic!("table {key} in {answer}"))
}

/// `row|column -> value` of a table's non-zero cells.
fn cells(t: &Value) -> BTreeMap<String, i64> {
    let cols: Vec<String> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    let mut out = BTreeMap::new();
    for r in t["rows"].as_array().unwrap() {
        for (j, v) in r["cells"].as_array().unwrap().iter().enumerate() {
            if let Some(n) = v.as_i64().filter(|n| *n != 0) {
                out.insert(format!("{}|{}", r["code"].as_str().unwrap(), cols[j]), n);
            }
        }
    }
    out
}

/// `row|column -> value` of a table's figures as floats (medians).
fn values(t: &Value) -> BTreeMap<String, f64> {
    let cols: Vec<String> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    let mut out = BTreeMap::new();
    for r in t["rows"].as_array().unwrap() {
        for (j, v) in r["cells"].as_array().unwrap().iter().enumerate() {
            if let Some(x) = v.as_f64() {
                out.insert(format!("{}|{}", r["code"].as_str().unwrap(), cols[j]), x);
            }
        }
    }
    out
}

struct World {
    app: TestApp,
    admin: Account,
    /// Entity admin of Nuevo León (19): exact figures of one entity.
    state: Account,
    /// Operator of `inst_a`: exact figures of one institution.
    operator: Account,
    inst_a: Uuid,
    inst_b: Uuid,
    inst_c: Uuid,
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
    let state = app.account(Role::EntityAdmin, inst_b).await;
    let operator = app.account(Role::Operator, inst_a).await;
    World {
        app,
        admin,
        state,
        operator,
        inst_a,
        inst_b,
        inst_c,
    }
}

/// The independent counts of the victims dashboard in a scope (`scope` is
/// SQL over `r`), by month: sex, age, exploitation form, entity.
async fn expected_victims(conn: &mut AsyncPgConnection, scope: &str) -> [BTreeMap<String, i64>; 4] {
    let month = "to_char((r.data->>'detection_date')::date, 'YYYY-MM')";
    [
        sql_counts(
            conn,
            &format!(
                "SELECT {month} || '|' || COALESCE(r.data->>'sex', 'NO_IDENTIFICADO') AS k, count(*) AS n
                 FROM records r WHERE {COUNTED} AND {scope} GROUP BY 1"
            ),
        )
        .await,
        sql_counts(
            conn,
            &format!(
                "SELECT r.entity_code || '|VICTIMAS' AS k, count(*) AS n
                 FROM records r WHERE {COUNTED} AND {scope} GROUP BY 1"
            ),
        )
        .await,
        sql_counts(
            conn,
            &format!(
                "SELECT {month} || '|' || f AS k, count(*) AS n
                 FROM records r CROSS JOIN LATERAL jsonb_array_elements_text(
                     CASE WHEN jsonb_array_length(COALESCE(r.data->'exploitation_forms', '[]')) > 0
                          THEN r.data->'exploitation_forms' ELSE '[\"NO_ESPECIFICADO\"]' END) AS f
                 WHERE {COUNTED} AND {scope} GROUP BY 1"
            ),
        )
        .await,
        // GLOTIP: girls, boys, women, men by year.
        sql_counts(
            conn,
            &format!(
                "SELECT to_char((r.data->>'detection_date')::date, 'YYYY') || '|' ||
                   CASE WHEN r.data->>'sex' = 'MUJER' AND {age} < 18 THEN 'NINAS'
                        WHEN r.data->>'sex' = 'HOMBRE' AND {age} < 18 THEN 'NINOS'
                        WHEN r.data->>'sex' = 'MUJER' AND {age} >= 18 THEN 'MUJERES'
                        WHEN r.data->>'sex' = 'HOMBRE' AND {age} >= 18 THEN 'HOMBRES'
                        ELSE 'OTRO_O_NO_ESPECIFICADO' END AS k, count(*) AS n
                 FROM records r WHERE {COUNTED} AND {scope} GROUP BY 1",
                age = "COALESCE(date_part('year', age((r.data->>'detection_date')::date,
                                                     (r.data->>'birth_date')::date)),
                                (r.data->>'age_at_detection')::int)"
            ),
        )
        .await,
    ]
}

/// The victims dashboard and GLOTIP as `who` reads them, against the
/// independent counts in `scope`.
async fn check_victims(w: &World, who: &Account, scope: &str, query: &str, what: &str) {
    let mut conn = w.app.db.owner_conn().await;
    let [by_sex, by_entity, by_form, glotip] = expected_victims(&mut conn, scope).await;
    let a = w
        .app
        .get(&format!("/api/v1/dashboards/victims{query}"), &who.token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(cells(table(&a.json, "by_sex")), by_sex, "{what}: by sex");
    assert_eq!(
        cells(table(&a.json, "by_entity")),
        by_entity,
        "{what}: by entity"
    );
    assert_eq!(
        cells(table(&a.json, "by_exploitation_form")),
        by_form,
        "{what}: by form of exploitation"
    );
    let g = w
        .app
        .get(&format!("/api/v1/dashboards/glotip{query}"), &who.token)
        .await;
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(
        cells(table(&g.json, "victims_by_sex_age")),
        glotip,
        "{what}: GLOTIP"
    );
}

/// Every scope's victims, national, one entity's and one institution's.
async fn check_all_victims(w: &World, what: &str) {
    check_victims(w, &w.admin, "TRUE", "", &format!("{what} (national)")).await;
    check_victims(
        w,
        &w.admin,
        "TRUE",
        "?from=2023-01-01&to=2024-12-31",
        &format!("{what} (national, whole months)"),
    )
    .await;
    check_victims(
        w,
        &w.state,
        "r.entity_code = '19'",
        "",
        &format!("{what} (entity 19)"),
    )
    .await;
    check_victims(
        w,
        &w.operator,
        &format!("r.institution_id = '{}'", w.inst_a),
        "",
        &format!("{what} (institution A)"),
    )
    .await;
}

#[derive(QueryableByName)]
struct Median {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = Nullable<Double>)]
    x: Option<f64>,
}

/// The judicialization funnel, the defendants by sex and the medians,
/// national, against SQL over the raw records.
async fn check_judicialization(w: &World, what: &str) {
    let mut conn = w.app.db.owner_conn().await;
    let month = "to_char((i.data->>'opening_date')::date, 'YYYY-MM')";
    let tree = "records i JOIN records c ON c.parent_id = i.id AND c.form = 'criminal_case'";
    let mut funnel = sql_counts(
        &mut conn,
        &format!(
            "SELECT {month} || '|INVESTIGACIONES' AS k, count(*) AS n FROM records i
             WHERE i.form = 'investigation' GROUP BY 1
             UNION ALL SELECT {month} || '|CAUSAS_PENALES', count(*) FROM {tree}
             WHERE i.form = 'investigation' GROUP BY 1
             UNION ALL SELECT {month} || '|PERSONAS_IMPUTADAS', count(*) FROM {tree}
               JOIN records d ON d.parent_id = c.id AND d.form = 'defendant'
             WHERE i.form = 'investigation' GROUP BY 1
             UNION ALL SELECT {month} || '|SENTENCIAS_' || (s.data->>'sentence_type'), count(*) FROM {tree}
               JOIN records d ON d.parent_id = c.id AND d.form = 'defendant'
               JOIN records s ON s.parent_id = d.id AND s.form = 'sentence'
             WHERE i.form = 'investigation' GROUP BY 1"
        ),
    )
    .await;
    funnel.retain(|_, n| *n != 0);
    let by_sex = sql_counts(
        &mut conn,
        &format!(
            "SELECT {month} || '|' || (d.data->>'sex') AS k, count(*) AS n FROM {tree}
               JOIN records d ON d.parent_id = c.id AND d.form = 'defendant'
             WHERE i.form = 'investigation' GROUP BY 1"
        ),
    )
    .await;
    let medians: BTreeMap<String, f64> = diesel::sql_query(format!(
        "SELECT {month} || '|A_JUDICIALIZACION' AS k,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY (c.data->>'judicialized_date')::date
                                                        - (i.data->>'opening_date')::date) AS x
         FROM {tree} WHERE i.form = 'investigation' GROUP BY 1
         UNION ALL
         SELECT {month} || '|A_SENTENCIA',
                percentile_cont(0.5) WITHIN GROUP (ORDER BY (s.data->>'date')::date
                                                        - (i.data->>'opening_date')::date)
         FROM {tree} JOIN records d ON d.parent_id = c.id AND d.form = 'defendant'
              JOIN records s ON s.parent_id = d.id AND s.form = 'sentence'
         WHERE i.form = 'investigation' GROUP BY 1"
    ))
    .load::<Median>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .filter_map(|m| Some((m.k, m.x?)))
    .collect();
    let a = w
        .app
        .get("/api/v1/dashboards/judicialization", &w.admin.token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(cells(table(&a.json, "funnel")), funnel, "{what}: funnel");
    assert_eq!(
        cells(table(&a.json, "defendants_by_sex")),
        by_sex,
        "{what}: defendants by sex"
    );
    let got = values(table(&a.json, "median_days"));
    assert_eq!(
        got.len(),
        medians.len(),
        "{what}: medians {got:?} {medians:?}"
    );
    for (k, x) in &medians {
        let y = got.get(k).unwrap_or_else(|| panic!("{what}: median {k}"));
        assert!((x - y).abs() < 1e-9, "{what}: median {k}: {x} vs {y}");
    }
    // SESNSP: victims of fuero común investigations, entity × month × sex.
    let sesnsp = sql_counts(
        &mut conn,
        "SELECT i.entity_code || '|' || to_char((i.data->>'opening_date')::date, 'YYYY-MM') || '|'
                || COALESCE(v.data->>'sex', 'NO_IDENTIFICADO') || '|'
                || CASE WHEN v.data->>'age_at_detection' IS NULL THEN 'NO_ESPECIFICADA'
                        WHEN (v.data->>'age_at_detection')::int < 18 THEN '0_17' ELSE '18_MAS' END AS k,
                count(*) AS n
         FROM records i CROSS JOIN LATERAL jsonb_array_elements_text(i.data->'victim_ids') AS link(id)
              JOIN records v ON v.id = link.id::uuid
         WHERE i.form = 'investigation' AND i.data->>'fuero' = 'COMUN' GROUP BY 1",
    )
    .await;
    let s = w.app.get("/api/v1/dashboards/sesnsp", &w.admin.token).await;
    assert_eq!(s.status, 200, "{}", s.text());
    let got: BTreeMap<String, i64> = cells(table(&s.json, "sesnsp"))
        .into_iter()
        .filter(|(k, _)| !k.contains("_total"))
        .collect();
    let want: BTreeMap<String, i64> = sesnsp.into_iter().filter(|(_, n)| *n != 0).collect();
    assert_eq!(got, want, "{what}: SESNSP");
}

/// GLOTIP's persons by stage, year and sex as `who` reads them; `scope`
/// is SQL over a record alias `$` (the defendant, and for convictions the
/// sentences the reader may see).
async fn check_glotip_persons(w: &World, who: &Account, scope: &str, what: &str) {
    let mut conn = w.app.db.owner_conn().await;
    let on = |a: &str| scope.replace('$', a);
    let want = sql_counts(
        &mut conn,
        &format!(
            "SELECT stage || '|' || to_char(sd, 'YYYY') || '|' || sex AS k, count(*) AS n FROM (
               SELECT 'INVESTIGADAS' AS stage, (i.data->>'opening_date')::date AS sd,
                      COALESCE(d.data->>'sex', 'NO_IDENTIFICADO') AS sex
               FROM records d JOIN records c ON c.id = d.parent_id JOIN records i ON i.id = c.parent_id
               WHERE d.form = 'defendant' AND {d}
               UNION ALL
               SELECT 'PROCESADAS', (c.data->>'judicialized_date')::date, COALESCE(d.data->>'sex', 'NO_IDENTIFICADO')
               FROM records d JOIN records c ON c.id = d.parent_id JOIN records i ON i.id = c.parent_id
               WHERE d.form = 'defendant' AND {d} AND c.data->>'judicialized_date' IS NOT NULL
               UNION ALL
               SELECT 'CONDENADAS', min((s.data->>'date')::date), COALESCE(d.data->>'sex', 'NO_IDENTIFICADO')
               FROM records d JOIN records c ON c.id = d.parent_id JOIN records i ON i.id = c.parent_id
                    JOIN records s ON s.parent_id = d.id AND s.form = 'sentence'
                                  AND s.data->>'sentence_type' = 'CONDENATORIA' AND {s}
               WHERE d.form = 'defendant' AND {d}
               GROUP BY d.id, d.data->>'sex'
             ) x GROUP BY 1",
            d = on("d"),
            s = on("s"),
        ),
    )
    .await;
    let a = w.app.get("/api/v1/dashboards/glotip", &who.token).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        cells(table(&a.json, "persons_by_sex")),
        want,
        "{what}: GLOTIP persons"
    );
}

/// Records per form and month of creation (data quality), national.
async fn check_quality(w: &World, what: &str) {
    let mut conn = w.app.db.owner_conn().await;
    let want = sql_counts(
        &mut conn,
        "SELECT to_char(created_at::date, 'YYYY-MM') || '|' || form AS k, count(*) AS n
         FROM records GROUP BY 1",
    )
    .await;
    let a = w
        .app
        .get("/api/v1/dashboards/data_quality", &w.admin.token)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        cells(table(&a.json, "records_by_form")),
        want,
        "{what}: records by form"
    );
}

#[actix_web::test]
async fn a_person_created_through_the_api_is_counted_at_once() {
    let w = world().await;
    let body = json!({
        "condition": "VICTIMA",
        "given_names": "María Guadalupe",
        "first_surname": "Hernández",
        "sex": "MUJER",
        "birth_date": "2009-04-12",
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_municipality_code": "19039",
        "detection_source": "DENUNCIA",
        "exploitation_forms": ["EXPLOTACION_SEXUAL"]
    });
    let before = w
        .app
        .get("/api/v1/dashboards/victims", &w.admin.token)
        .await;
    assert_eq!(before.status, 200, "{}", before.text());
    assert!(cells(table(&before.json, "by_sex")).is_empty());
    let created = w
        .app
        .post("/api/v1/victims", &w.operator.token, body.clone())
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    // Read right after the write: the delta is pending, not folded.
    let after = w
        .app
        .get("/api/v1/dashboards/victims", &w.admin.token)
        .await;
    assert_eq!(
        cells(table(&after.json, "by_sex")),
        BTreeMap::from([("2024-02|MUJER".to_string(), 1)])
    );
    assert_eq!(
        cells(table(&after.json, "by_entity")),
        BTreeMap::from([("19|VICTIMAS".to_string(), 1)])
    );
    let glotip = w.app.get("/api/v1/dashboards/glotip", &w.admin.token).await;
    assert_eq!(
        cells(table(&glotip.json, "victims_by_sex_age")),
        BTreeMap::from([("2024|NINAS".to_string(), 1)])
    );
    // The second one, with everything folded in between.
    let mut conn = w.app.db.owner_conn().await;
    compact(&mut conn).await;
    assert_eq!(pending(&mut conn).await, 0);
    let mut second = body;
    second["detection_date"] = json!("2024-03-01");
    let created = w
        .app
        .post("/api/v1/victims", &w.operator.token, second)
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let after = w
        .app
        .get("/api/v1/dashboards/victims", &w.state.token)
        .await;
    assert_eq!(
        cells(table(&after.json, "by_sex")),
        BTreeMap::from([
            ("2024-02|MUJER".to_string(), 1),
            ("2024-03|MUJER".to_string(), 1)
        ])
    );
    check_all_victims(&w, "after two creates").await;
}

#[actix_web::test]
async fn rollups_equal_sql_over_the_records_through_creates_moves_and_duplicates() {
    let w = world().await;
    let mut conn = w.app.db.owner_conn().await;
    victims(&mut conn, "19", w.inst_a, 150, "2024-01-01").await;
    victims(&mut conn, "19", w.inst_b, 60, "2024-02-01").await;
    compact(&mut conn).await;
    // Some folded, some pending.
    victims(&mut conn, "09", w.inst_c, 90, "2024-01-15").await;
    assert!(pending(&mut conn).await > 0);
    check_all_victims(&w, "after creates").await;
    check_quality(&w, "after creates").await;

    // Moves: ten people to another entity and institution, ten to
    // another month, five lose their sex, and one changes everything.
    exec(
        &mut conn,
        &format!(
            "UPDATE records SET entity_code = '09', institution_id = '{c}', version = version + 1
             WHERE id IN (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{a}'
                          ORDER BY id LIMIT 10)",
            a = w.inst_a,
            c = w.inst_c
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "UPDATE records SET data = jsonb_set(data, '{{detection_date}}', '\"2023-11-30\"')
             WHERE id IN (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{b}'
                          ORDER BY id DESC LIMIT 10)",
            b = w.inst_b
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "UPDATE records SET data = data - 'sex'
             WHERE id IN (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{a}'
                          ORDER BY id DESC LIMIT 5)",
            a = w.inst_a
        ),
    )
    .await;
    compact(&mut conn).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE records SET entity_code = '19', institution_id = '{b}',
                    data = data || '{{\"sex\": \"HOMBRE\", \"age_at_detection\": 12,
                                       \"detection_date\": \"2024-06-01\",
                                       \"exploitation_forms\": [\"TRABAJO_FORZADO\"]}}'
             WHERE id = (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{c}'
                         ORDER BY id LIMIT 1)",
            b = w.inst_b,
            c = w.inst_c
        ),
    )
    .await;
    check_all_victims(&w, "after moves").await;

    // A confirmed duplicate counts once; undone, twice again.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO duplicate_pairs (id, person_a, person_b, level, score, status)
             SELECT gen_random_uuid(), least(a.id, b.id), greatest(a.id, b.id), 'exact', 1, 'confirmed'
             FROM (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{a}' ORDER BY id LIMIT 3) a,
                  (SELECT id FROM records WHERE form = 'victim' AND institution_id = '{b}' ORDER BY id LIMIT 1) b",
            a = w.inst_a,
            b = w.inst_b
        ),
    )
    .await;
    check_all_victims(&w, "after confirmed duplicates").await;
    exec(
        &mut conn,
        "UPDATE duplicate_pairs SET status = 'dismissed'
         WHERE id = (SELECT id FROM duplicate_pairs ORDER BY id LIMIT 1)",
    )
    .await;
    compact(&mut conn).await;
    check_all_victims(&w, "after a duplicate dismissed").await;

    // The judicialization tree: created, then an investigation moved to
    // another month (its case, defendant and sentence follow it), a
    // sentence's type changed, a defendant's sex changed, a victim's age.
    cases(&mut conn, "19", w.inst_a, 40).await;
    cases(&mut conn, "09", w.inst_c, 25).await;
    check_judicialization(&w, "after creates").await;
    compact(&mut conn).await;
    exec(
        &mut conn,
        "UPDATE records SET data = jsonb_set(data, '{opening_date}', '\"2023-12-01\"')
         WHERE id IN (SELECT id FROM records WHERE form = 'investigation' ORDER BY id LIMIT 4)",
    )
    .await;
    exec(
        &mut conn,
        "UPDATE records SET data = jsonb_set(data, '{sentence_type}', '\"ABSOLUTORIA\"')
         WHERE id IN (SELECT id FROM records WHERE form = 'sentence' AND data->>'sentence_type' = 'CONDENATORIA'
                      ORDER BY id LIMIT 3)",
    )
    .await;
    exec(
        &mut conn,
        "UPDATE records SET data = jsonb_set(data, '{sex}', '\"MUJER\"')
         WHERE id IN (SELECT id FROM records WHERE form = 'defendant' AND data->>'sex' = 'HOMBRE'
                      ORDER BY id LIMIT 3)",
    )
    .await;
    exec(
        &mut conn,
        "UPDATE records SET data = jsonb_set(data, '{age_at_detection}', '40')
         WHERE id IN (SELECT (i.data->'victim_ids'->>0)::uuid FROM records i
                      WHERE i.form = 'investigation' AND i.data->>'fuero' = 'COMUN' ORDER BY i.id LIMIT 5)",
    )
    .await;
    check_judicialization(&w, "after moves").await;
    check_quality(&w, "after moves").await;
    // A conviction of a Nuevo León defendant recorded in Mexico City,
    // earlier than its own: the nation counts it at the earlier date,
    // Nuevo León at its own.
    exec(
        &mut conn,
        &format!(
            "INSERT INTO records (id, form, entity_code, institution_id, parent_id, data)
             SELECT gen_random_uuid(), 'sentence', '09', '{c}', d.id, jsonb_build_object(
               'defendant_id', d.id::text, 'crime', 'LGT_ART_10', 'date', '2023-01-15',
               'sentence_type', 'CONDENATORIA')
             FROM records d WHERE d.form = 'defendant' AND d.entity_code = '19'
             ORDER BY d.id LIMIT 2",
            c = w.inst_c
        ),
    )
    .await;
    for (who, scope, what) in [
        (&w.admin, "TRUE".to_string(), "national"),
        (&w.state, "$.entity_code = '19'".to_string(), "entity 19"),
        (
            &w.operator,
            format!("$.institution_id = '{}'", w.inst_a),
            "institution A",
        ),
    ] {
        check_glotip_persons(&w, who, &scope, what).await;
    }
    check_judicialization(&w, "a sentence in another entity").await;
    compact(&mut conn).await;
    assert_eq!(pending(&mut conn).await, 0);
    check_judicialization(&w, "all folded").await;
    check_all_victims(&w, "all folded").await;
}

#[actix_web::test]
async fn concurrent_writers_and_the_compactor_lose_no_count() {
    let w = world().await;
    let writers = (0..6).map(|k| {
        let url = w.app.db.url.clone();
        let inst = if k % 2 == 0 { w.inst_a } else { w.inst_c };
        let entity = if k % 2 == 0 { "19" } else { "09" };
        async move {
            use diesel_async::AsyncConnection;
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            // One person per transaction, as the API writes them; every
            // third one moved to the other entity right after.
            for i in 0..40 {
                victims(&mut conn, entity, inst, 1, "2024-01-01").await;
                if i % 3 == 0 {
                    exec(
                        &mut conn,
                        &format!(
                            "UPDATE records SET data = jsonb_set(data, '{{detection_date}}', '\"2024-0{m}-15\"')
                             WHERE id = (SELECT id FROM records WHERE institution_id = '{inst}'
                                         ORDER BY created_at DESC, id LIMIT 1)",
                            m = 1 + (i + k) % 6
                        ),
                    )
                    .await;
                }
            }
        }
    });
    let folding = {
        let url = w.app.db.url.clone();
        async move {
            use diesel_async::AsyncConnection;
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            let mut folded = 0;
            for _ in 0..30 {
                folded += compact(&mut conn).await;
                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            folded
        }
    };
    let (_, folded) =
        futures_util::future::join(futures_util::future::join_all(writers), folding).await;
    assert!(folded > 0, "the compactor folded while writers wrote");
    check_all_victims(&w, "concurrent writers").await;
    let mut conn = w.app.db.owner_conn().await;
    compact(&mut conn).await;
    check_all_victims(&w, "concurrent writers, folded").await;
    let _ = w.inst_b;
}
