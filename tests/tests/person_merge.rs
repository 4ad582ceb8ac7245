//! Merge and undo of confirmed duplicates (issue 18): a confirmed pair
//! makes its two records one person — both records stay, a person id links
//! them, lists can show the person once, dashboards count it once (V-shaped
//! chains too), its attentions and investigations are reachable from either
//! record — and undoing the pair restores the persons as they were, audited.

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::duplicates::MatchLevel;
use sintra_tests::{Account, TestApp};
use uuid::Uuid;

fn person(given: &str, first: &str, birth: &str) -> Value {
    json!({
        "condition": "VICTIMA",
        "given_names": given,
        "first_surname": first,
        "sex": "MUJER",
        "birth_date": birth,
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_source": "DENUNCIA"
    })
}

async fn create(app: &TestApp, who: &Account, body: Value) -> Uuid {
    let res = app.post("/api/v1/victims", &who.token, body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json["data"]["id"].as_str().unwrap().parse().unwrap()
}

/// Raises an open pair between two stored people (as a registration's
/// duplicate check would) and answers its id.
async fn raise(app: &TestApp, a: Uuid, b: Uuid) -> Uuid {
    let mut conn = app.conn().await;
    sintra_persistence::duplicates::raise_pair(&mut conn, a, b, MatchLevel::Probable, 0.95)
        .await
        .unwrap();
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    diesel::sql_query("SELECT id FROM duplicate_pairs WHERE person_a = $1 AND person_b = $2")
        .bind::<diesel::sql_types::Uuid, _>(x)
        .bind::<diesel::sql_types::Uuid, _>(y)
        .get_result::<Id>(&mut conn)
        .await
        .unwrap()
        .id
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.db.owner_conn().await;
    diesel::sql_query(sql)
        .get_result::<N>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .n
}

/// People among the victims, computed apart from the API's machinery: the
/// connected components of the confirmed pairs over the victim records,
/// each labelled by its smallest member (as text).
const PEOPLE_SQL: &str = "WITH RECURSIVE e(x, y) AS (
        SELECT person_a, person_b FROM duplicate_pairs WHERE status = 'confirmed'
        UNION ALL SELECT person_b, person_a FROM duplicate_pairs WHERE status = 'confirmed'
    ), reach(s, n) AS (
        SELECT id, id FROM records WHERE form = 'victim'
        UNION SELECT r.s, e.y FROM reach r JOIN e ON e.x = r.n
    )
    SELECT count(DISTINCT label)::bigint AS n
    FROM (SELECT s, min(n::text) AS label FROM reach GROUP BY s) c";

/// The victims dashboard's total, as `who` reads it: from the rollups
/// (whole months) or from the projections (dates inside a month).
async fn dashboard_total(app: &TestApp, who: &Account, whole_months: bool) -> i64 {
    let dates = if whole_months {
        "from=2024-01-01&to=2024-12-31"
    } else {
        "from=2024-02-05&to=2024-02-20"
    };
    let res = app
        .get(&format!("/api/v1/dashboards/victims?{dates}"), &who.token)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let t = res.json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "by_sex")
        .unwrap();
    t["grand_total"].as_i64().unwrap()
}

/// Both dashboard paths and the independent SQL agree on `people`.
async fn assert_people(app: &TestApp, who: &Account, people: i64, when: &str) {
    assert_eq!(count(app, PEOPLE_SQL).await, people, "SQL, {when}");
    assert_eq!(
        dashboard_total(app, who, true).await,
        people,
        "rollups, {when}"
    );
    assert_eq!(
        dashboard_total(app, who, false).await,
        people,
        "projections, {when}"
    );
}

async fn read(app: &TestApp, who: &Account, id: Uuid) -> Value {
    let res = app.get(&format!("/api/v1/victims/{id}"), &who.token).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json
}

fn others(record: &Value) -> Vec<Value> {
    record["person_records"].as_array().unwrap().clone()
}

async fn list_ids(app: &TestApp, who: &Account, query: &str) -> Vec<String> {
    let res = app
        .get(&format!("/api/v1/victims{query}"), &who.token)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

struct World {
    app: TestApp,
    /// The entity admin of 19: sees every record of the three.
    admin: Account,
    op_a: Account,
    op_b: Account,
    a: Uuid,
    b: Uuid,
    c: Uuid,
    /// Pairs a~c and b~c: a V-shaped chain.
    ac: Uuid,
    bc: Uuid,
}

/// Three records of one woman: `a` and `c` by institution A, `b` by
/// institution B (all of entity 19), registered in that order.
async fn world() -> World {
    let app = TestApp::new().await;
    let inst_a = app.institution("19", "Fiscalía NL").await;
    let inst_b = app.institution("19", "DIF NL").await;
    let admin = app.account(Role::EntityAdmin, inst_a).await;
    let op_a = app.account(Role::Operator, inst_a).await;
    let op_b = app.account(Role::Operator, inst_b).await;
    // Names far enough apart that no pair is raised by itself: the test
    // raises exactly the pairs it decides.
    let a = create(&app, &op_a, person("Alondra", "Quezada", "1990-01-01")).await;
    let b = create(&app, &op_b, person("Brenda", "Urbina", "1991-02-02")).await;
    let c = create(&app, &op_a, person("Carmen", "Yáñez", "1992-03-03")).await;
    let ac = raise(&app, a, c).await;
    let bc = raise(&app, b, c).await;
    World {
        app,
        admin,
        op_a,
        op_b,
        a,
        b,
        c,
        ac,
        bc,
    }
}

async fn decide(w: &World, who: &Account, pair: Uuid, what: &str) -> Value {
    let res = w
        .app
        .post(
            &format!("/api/v1/duplicates/{pair}/{what}"),
            &who.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{what}: {}", res.text());
    res.json
}

#[actix_web::test]
async fn a_v_chain_merges_into_one_person_counted_once_and_undo_restores_it() {
    let w = world().await;
    let app = &w.app;
    let admin = &w.admin;
    assert_people(app, admin, 3, "before any decision").await;
    // Every record is a person of its own, with a person id that is not a
    // record's id.
    let (ra, rb, rc) = (
        read(app, admin, w.a).await,
        read(app, admin, w.b).await,
        read(app, admin, w.c).await,
    );
    let pa = ra["person_id"].as_str().unwrap().to_string();
    let pb = rb["person_id"].as_str().unwrap().to_string();
    let pc = rc["person_id"].as_str().unwrap().to_string();
    assert!(pa != pb && pb != pc && pa != pc);
    for (p, id) in [(&pa, w.a), (&pb, w.b), (&pc, w.c)] {
        assert_ne!(*p, id.to_string(), "a person id is not a record id");
    }
    assert!(others(&ra).is_empty());

    // a~c: c joins the person of a, the older record.
    let pair = decide(&w, admin, w.ac, "confirm").await;
    assert_eq!(pair["status"], "confirmed");
    let rc = read(app, admin, w.c).await;
    assert_eq!(rc["person_id"], pa.as_str());
    assert_eq!(
        others(&rc),
        vec![
            json!({"id": w.a, "entity_code": "19", "institution_id": w.op_a.institution_id, "in_scope": true})
        ]
    );
    assert_people(app, admin, 2, "after a~c").await;

    // b~c: the V closes; a, b and c are one person, counted once.
    decide(&w, admin, w.bc, "confirm").await;
    for id in [w.a, w.b, w.c] {
        let r = read(app, admin, id).await;
        assert_eq!(r["person_id"], pa.as_str(), "{id}");
        assert_eq!(others(&r).len(), 2, "{id}");
    }
    assert_people(app, admin, 1, "after a~c and b~c").await;
    // Nothing was deleted: the three records are still listed, and once
    // by person.
    assert_eq!(list_ids(app, admin, "").await.len(), 3);
    assert_eq!(
        list_ids(app, admin, "?distinct_person=true").await,
        vec![w.a.to_string()]
    );
    // The victims' export takes the same filter: one row for the person.
    for (query, rows) in [("", 3), ("?distinct_person=true", 1)] {
        let x = app
            .get(
                &format!("/api/v1/excel/exports/victim{query}"),
                &admin.token,
            )
            .await;
        assert_eq!(x.status, 200, "{}", x.text());
        let data: Vec<_> = sintra_tests::excel::export_rows(&x.body)
            .into_iter()
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect();
        assert_eq!(data.len(), rows, "export{query}");
    }
    // Institution B lists its one record: the person's first it may see.
    assert_eq!(
        list_ids(app, &w.op_b, "?distinct_person=true").await,
        vec![w.b.to_string()]
    );
    let bad = app
        .get("/api/v1/victims?distinct_person=maybe", &admin.token)
        .await;
    bad.assert_problem(422, "validation_failed");

    // Undo b~c: b is a person of its own again, with its old id; a and c
    // stay one person through a~c.
    let pair = decide(&w, admin, w.bc, "undo").await;
    assert_eq!(pair["status"], "open");
    let rb = read(app, admin, w.b).await;
    assert_eq!(rb["person_id"], pb.as_str());
    assert!(others(&rb).is_empty());
    assert_eq!(read(app, admin, w.c).await["person_id"], pa.as_str());
    assert_people(app, admin, 2, "after undoing b~c").await;
    assert_eq!(
        list_ids(app, admin, "?distinct_person=true").await,
        vec![w.a.to_string(), w.b.to_string()]
    );
    // A pair that is not confirmed cannot be undone.
    app.post(
        &format!("/api/v1/duplicates/{}/undo", w.bc),
        &admin.token,
        json!({}),
    )
    .await
    .assert_problem(409, "invalid_pair_transition");

    // Undo a~c: three people, as at the start.
    decide(&w, admin, w.ac, "undo").await;
    assert_eq!(read(app, admin, w.c).await["person_id"], pc.as_str());
    assert_people(app, admin, 3, "after undoing both").await;

    // Audited: two merges and two undos, each naming the persons before
    // and after and the records that moved; the journal holds the four.
    let audited = |action: &str| {
        format!(
            "SELECT count(*)::bigint AS n FROM audit_events WHERE action = '{action}' \
             AND resource_type = 'duplicate_pair' AND details ? 'moved' AND changes ? 'person_id'"
        )
    };
    assert_eq!(count(app, &audited("duplicate_confirmed")).await, 2);
    assert_eq!(count(app, &audited("duplicate_undone")).await, 2);
    assert_eq!(
        count(
            app,
            &format!(
                "SELECT count(*)::bigint AS n FROM audit_events WHERE action = 'duplicate_undone' \
                 AND resource_id = '{}' AND details->'moved' @> '[{{\"record_id\": \"{}\", \"to\": \"{pb}\"}}]'",
                w.bc, w.b
            )
        )
        .await,
        1,
        "the undo of b~c moved b back to its own person"
    );
    for (kind, n) in [("merge", 2), ("split", 2)] {
        let sql = format!("SELECT count(*)::bigint AS n FROM person_merges WHERE kind = '{kind}'");
        assert_eq!(count(app, &sql).await, n, "{kind}");
    }
}

#[actix_web::test]
async fn a_persons_attentions_and_investigations_are_reachable_from_any_of_its_records() {
    let w = world().await;
    let app = &w.app;
    // Institution A attends record c (not its person's first record) and
    // opens an investigation naming it.
    let att = app
        .post(
            "/api/v1/attentions",
            &w.op_a.token,
            json!({"victim_id": w.c, "date": "2024-02-12", "service": "JURIDICA"}),
        )
        .await;
    assert_eq!(att.status, 201, "{}", att.text());
    let attention = att.json["id"].as_str().unwrap().to_string();
    let inv = app
        .post(
            "/api/v1/investigations",
            &w.op_a.token,
            json!({
                "investigation_type": "CARPETA_INVESTIGACION",
                "folio": "FGE-NL/UIE-TRATA/77/2024",
                "opening_date": "2024-02-15",
                "fuero": "COMUN",
                "crimes": ["LGT_ART_10"],
                "stage": "INV_INICIAL",
                "entity_code": "19",
                "victim_ids": [w.c]
            }),
        )
        .await;
    assert_eq!(inv.status, 201, "{}", inv.text());
    let investigation = inv.json["id"].as_str().unwrap().to_string();
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Before the merge, b's person has none of them.
    let p = app
        .get(&format!("/api/v1/victims/{}/person", w.b), &w.admin.token)
        .await;
    assert_eq!(p.status, 200, "{}", p.text());
    assert!(ids(&p.json, "attentions").is_empty());
    assert!(ids(&p.json, "investigations").is_empty());

    decide(&w, &w.admin, w.ac, "confirm").await;
    decide(&w, &w.admin, w.bc, "confirm").await;
    // From b, registered by another institution: c's attention and
    // investigation, and the three records.
    let p = app
        .get(&format!("/api/v1/victims/{}/person", w.b), &w.admin.token)
        .await;
    assert_eq!(p.status, 200, "{}", p.text());
    assert_eq!(ids(&p.json, "attentions"), vec![attention.clone()]);
    assert_eq!(ids(&p.json, "investigations"), vec![investigation.clone()]);
    assert_eq!(p.json["records"].as_array().unwrap().len(), 3);
    assert_eq!(
        p.json["person_id"],
        read(app, &w.admin, w.a).await["person_id"]
    );
    // The services-received figure counts the person (by its first
    // record, a) with the attention given on c.
    // Through the rollups (whole months) and the projections (days).
    for dates in [
        "from=2024-02-01&to=2024-02-29",
        "from=2024-02-05&to=2024-02-20",
    ] {
        let d = app
            .get(
                &format!("/api/v1/dashboards/victims?{dates}"),
                &w.admin.token,
            )
            .await;
        assert_eq!(d.status, 200, "{}", d.text());
        let by_service = d.json["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "by_service")
            .unwrap();
        let served: i64 = by_service["rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["cells"].as_array().unwrap().iter())
            .filter_map(Value::as_i64)
            .sum();
        assert_eq!(served, 1, "{dates}: {by_service}");
    }

    // Institution B sees its own record's person: its other records by
    // entity and institution only, and none of institution A's attentions.
    let p = app
        .get(&format!("/api/v1/victims/{}/person", w.b), &w.op_b.token)
        .await;
    assert_eq!(p.status, 200, "{}", p.text());
    assert!(ids(&p.json, "attentions").is_empty());
    assert!(ids(&p.json, "investigations").is_empty());
    let records = p.json["records"].as_array().unwrap();
    let hidden: Vec<&Value> = records.iter().filter(|r| r["in_scope"] == false).collect();
    assert_eq!(hidden.len(), 2);
    assert!(hidden.iter().all(|r| r["id"].is_null()
        && r["entity_code"] == "19"
        && r["institution_id"] == w.op_a.institution_id.to_string()));
    let rb = read(app, &w.op_b, w.b).await;
    assert!(others(&rb).iter().all(|r| r["id"].is_null()));
    assert!(!rb.to_string().contains(&w.a.to_string()));
    // The reading is audited as a read of the record.
    assert!(
        count(
            app,
            &format!(
                "SELECT count(*)::bigint AS n FROM audit_events WHERE action = 'read' \
                 AND resource_type = 'victim' AND resource_id = '{}' AND details->>'view' = 'person'",
                w.b
            )
        )
        .await
            >= 2
    );
}

#[actix_web::test]
async fn undo_and_the_person_follow_scope_and_permissions() {
    let w = world().await;
    let app = &w.app;
    decide(&w, &w.admin, w.ac, "confirm").await;
    let elsewhere = app.institution("09", "Fiscalía CDMX").await;
    let other_admin = app.account(Role::EntityAdmin, elsewhere).await;
    let analyst = app.account(Role::Analyst, w.op_a.institution_id).await;
    // Another entity: as if missing.
    app.post(
        &format!("/api/v1/duplicates/{}/undo", w.ac),
        &other_admin.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/victims/{}/person", w.a),
        &other_admin.token,
    )
    .await
    .assert_problem(404, "not_found");
    // Institution B may not decide about institution A's records.
    app.post(
        &format!("/api/v1/duplicates/{}/undo", w.ac),
        &w.op_b.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("/api/v1/victims/{}/person", w.a), &w.op_b.token)
        .await
        .assert_problem(404, "not_found");
    // Roles that do not work with records.
    app.post(
        &format!("/api/v1/duplicates/{}/undo", w.ac),
        &analyst.token,
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/victims/{}/person", w.a), &analyst.token)
        .await
        .assert_problem(403, "forbidden");
    // `/victims/{id}/person` does not shadow an upsert by the folio
    // "person".
    let mut body = person("Dalia", "Zepeda", "1993-04-04");
    body["external_folio"] = json!("person");
    let put = app
        .call(
            actix_web::http::Method::PUT,
            "/api/v1/victims/by-folio/person",
            Some(&w.op_a.token),
            Some(body),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text());
    // Nothing changed: still merged, and institution A may undo its pair.
    assert_eq!(
        read(app, &w.op_a, w.c).await["person_id"],
        read(app, &w.op_a, w.a).await["person_id"]
    );
    decide(&w, &w.op_a, w.ac, "undo").await;
    assert_ne!(
        read(app, &w.op_a, w.c).await["person_id"],
        read(app, &w.op_a, w.a).await["person_id"]
    );
}

#[actix_web::test]
async fn two_confirmations_at_once_of_a_v_chain_end_as_one_person() {
    let w = world().await;
    let (ac, bc) = (
        format!("/api/v1/duplicates/{}/confirm", w.ac),
        format!("/api/v1/duplicates/{}/confirm", w.bc),
    );
    let (one, two) = futures_util::join!(
        w.app.post(&ac, &w.admin.token, json!({})),
        w.app.post(&bc, &w.admin.token, json!({})),
    );
    assert_eq!((one.status, two.status), (200, 200));
    assert_eq!(
        count(
            &w.app,
            "SELECT count(DISTINCT person_id)::bigint AS n FROM projections.victim"
        )
        .await,
        1
    );
    let a = read(&w.app, &w.admin, w.a).await;
    assert_eq!(
        read(&w.app, &w.admin, w.b).await["person_id"],
        a["person_id"]
    );
    assert_eq!(dashboard_total(&w.app, &w.admin, true).await, 1);
}
