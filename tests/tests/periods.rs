//! Quarterly periods and their locking (issue 15): an entity's quarter is
//! submitted by its admin, closed and reopened (with a reason) by the
//! national admin; a record dated in a closed quarter is neither created,
//! changed, moved in or out, nor imported.

use std::time::Duration;

use actix_web::http::Method;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_tests::excel::{filled, upload};
use sintra_tests::{Account, Answer, TestApp};

struct People {
    national: Account,
    state_admin: Account,
    operator: Account,
}

async fn people(app: &TestApp) -> People {
    let federal = app.institution("00", "Secretaría de Gobernación").await;
    let cie = app.institution("19", "CIE Nuevo León").await;
    let fiscalia = app.institution("19", "Fiscalía NL").await;
    People {
        national: app.account(Role::NationalAdmin, federal).await,
        state_admin: app.account(Role::EntityAdmin, cie).await,
        operator: app.account(Role::Operator, fiscalia).await,
    }
}

fn victim(name: &str, detected: &str) -> Value {
    json!({
        "condition": "VICTIMA",
        "given_names": name,
        "first_surname": "Prueba",
        "sex": "MUJER",
        "detection_date": detected,
        "detection_entity_code": "19"
    })
}

async fn patch(app: &TestApp, path: &str, who: &Account, version: i64, body: Value) -> Answer {
    let auth = format!("Bearer {}", who.token);
    let etag = format!("\"{version}\"");
    app.call_raw(
        Method::PATCH,
        path,
        &[
            ("authorization", &auth),
            ("if-match", &etag),
            ("content-type", "application/json"),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

async fn count_victims(app: &TestApp) -> usize {
    let mut conn = app.db.owner_conn().await;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query("SELECT count(*) AS n FROM records WHERE form = 'victim'")
        .get_result(&mut conn)
        .await
        .unwrap();
    n.n as usize
}

async fn period(app: &TestApp, who: &Account, entity: &str, year: i32, quarter: u8) -> Value {
    let res = app
        .get(
            &format!("/api/v1/periods?year={year}&quarter={quarter}&entity_code={entity}"),
            &who.token,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let items = res.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", res.text());
    items[0].clone()
}

#[actix_web::test]
async fn close_refuse_reopen_register_close_again() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let on_time = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Ana", "2024-04-15"),
        )
        .await;
    assert_eq!(on_time.status, 201, "{}", on_time.text());
    let on_time_id = on_time.json["data"]["id"].as_str().unwrap().to_string();

    // The state validates its quarter; only the national level closes it.
    let q2 = "/api/v1/periods/19/2024/2";
    let res = app
        .post(&format!("{q2}/submit"), &p.state_admin.token, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["status"], "submitted");
    app.post(&format!("{q2}/submit"), &p.state_admin.token, json!({}))
        .await
        .assert_problem(409, "invalid_period_transition");
    app.post(&format!("{q2}/close"), &p.state_admin.token, json!({}))
        .await
        .assert_problem(403, "forbidden");
    let res = app
        .post(&format!("{q2}/close"), &p.national.token, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["status"], "closed");

    // A late record dated in the closed quarter is refused, by POST and by
    // upsert; so is a change to a record already in it.
    let before = count_victims(&app).await;
    let late = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Luz", "2024-05-10"),
        )
        .await;
    late.assert_problem(409, "period_closed");
    let detail = late.json["detail"].as_str().unwrap();
    assert!(detail.contains("2024-T2"), "{detail}");
    assert!(detail.contains("entidad 19"), "{detail}");
    assert!(detail.contains("administración nacional"), "{detail}");
    let mut by_folio = victim("Luz", "2024-05-10");
    by_folio["external_folio"] = json!("FGJ-1");
    app.call(
        Method::PUT,
        "/api/v1/victims/by-folio/FGJ-1",
        Some(&p.operator.token),
        Some(by_folio.clone()),
    )
    .await
    .assert_problem(409, "period_closed");
    patch(
        &app,
        &format!("/api/v1/victims/{on_time_id}"),
        &p.operator,
        1,
        json!({"alias": "A"}),
    )
    .await
    .assert_problem(409, "period_closed");
    assert_eq!(count_victims(&app).await, before, "nothing written");
    // The entity's own administration too: only a reopening lets it in.
    app.post(
        "/api/v1/victims",
        &p.state_admin.token,
        victim("Eva", "2024-06-01"),
    )
    .await
    .assert_problem(409, "period_closed");
    // Other quarters and other entities are untouched.
    let q3 = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Sol", "2024-07-01"),
        )
        .await;
    assert_eq!(q3.status, 201, "{}", q3.text());

    // Reopening needs a written, bounded reason, and the national admin.
    let reopen = format!("{q2}/reopen");
    app.post(
        &reopen,
        &p.state_admin.token,
        json!({"reason": "Registro tardío"}),
    )
    .await
    .assert_problem(403, "forbidden");
    for body in [
        json!({}),
        json!({"reason": "   "}),
        json!({"reason": "x".repeat(1001)}),
    ] {
        app.post(&reopen, &p.national.token, body)
            .await
            .assert_problem(422, "validation_failed");
    }
    let unknown = app
        .post(&reopen, &p.national.token, json!({"motivo": "x"}))
        .await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(unknown.json["errors"][0]["code"], "unknown_field");
    let reason = "La fiscalía registró tarde una víctima detectada en mayo.";
    let res = app
        .post(&reopen, &p.national.token, json!({"reason": reason}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["status"], "reopened");
    assert_eq!(res.json["reason"], reason);
    app.post(&reopen, &p.national.token, json!({"reason": reason}))
        .await
        .assert_problem(409, "invalid_period_transition");

    // The late record goes in, and the quarter is closed again.
    let late = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Luz", "2024-05-10"),
        )
        .await;
    assert_eq!(late.status, 201, "{}", late.text());
    let res = app
        .post(&format!("{q2}/close"), &p.national.token, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    app.post(
        "/api/v1/victims",
        &p.operator.token,
        victim("Ema", "2024-05-11"),
    )
    .await
    .assert_problem(409, "period_closed");

    // The history, listed and audited.
    let listed = period(&app, &p.operator, "19", 2024, 2).await;
    assert_eq!(listed["status"], "closed");
    let steps: Vec<(&str, &str, &str)> = listed["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["action"].as_str().unwrap(),
                t["from_status"].as_str().unwrap(),
                t["to_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("submit", "open", "submitted"),
            ("close", "submitted", "closed"),
            ("reopen", "closed", "reopened"),
            ("close", "reopened", "closed"),
        ]
    );
    assert_eq!(listed["transitions"][2]["reason"], reason);
    assert_eq!(
        listed["transitions"][0]["actor_id"],
        json!(p.state_admin.id)
    );
    assert_eq!(listed["transitions"][1]["actor_id"], json!(p.national.id));
    let events = app
        .get(
            "/api/v1/audit/events?resource_type=period",
            &p.national.token,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text());
    let mut actions: Vec<(String, Value)> = events.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["resource_id"], "19/2024/2");
            (
                e["action"].as_str().unwrap().to_string(),
                e["changes"].clone(),
            )
        })
        .collect();
    actions.reverse(); // newest first
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(names, ["submit", "close", "reopen", "close"]);
    assert_eq!(
        actions[2].1,
        json!({"status": {"before": "closed", "after": "reopened"}, "reason": {"before": null, "after": reason}})
    );
    let verify = app.get("/api/v1/audit/verify", &p.national.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
}

#[actix_web::test]
async fn dates_cannot_move_into_or_out_of_a_closed_quarter() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let a = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Ana", "2024-02-01"),
        )
        .await;
    let b = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Bea", "2024-05-01"),
        )
        .await;
    let (a, b) = (
        a.json["data"]["id"].as_str().unwrap().to_string(),
        b.json["data"]["id"].as_str().unwrap().to_string(),
    );
    // A session in the second quarter, before it closes: its agreements
    // belong to its quarter (the agreement form has no date of its own).
    let commission = app
        .post(
            "/api/v1/commissions",
            &p.state_admin.token,
            json!({"name": "CIE", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
        )
        .await;
    assert_eq!(commission.status, 201, "{}", commission.text());
    let session = app
        .post(
            "/api/v1/sessions",
            &p.state_admin.token,
            json!({"commission_id": commission.json["id"], "number": 1, "session_type": "ORDINARIA", "date": "2024-05-20"}),
        )
        .await;
    assert_eq!(session.status, 201, "{}", session.text());

    let res = app
        .post(
            "/api/v1/periods/19/2024/2/close",
            &p.national.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    // Into the closed quarter, and out of it: refused.
    patch(
        &app,
        &format!("/api/v1/victims/{a}"),
        &p.operator,
        1,
        json!({"detection_date": "2024-04-02"}),
    )
    .await
    .assert_problem(409, "period_closed");
    patch(
        &app,
        &format!("/api/v1/victims/{b}"),
        &p.operator,
        1,
        json!({"detection_date": "2024-03-31"}),
    )
    .await
    .assert_problem(409, "period_closed");
    // Within an open quarter: fine.
    let moved = patch(
        &app,
        &format!("/api/v1/victims/{a}"),
        &p.operator,
        1,
        json!({"detection_date": "2024-03-30"}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    // A record dated by its parent: the session's quarter is closed.
    app.post(
        "/api/v1/agreements",
        &p.state_admin.token,
        json!({"session_id": session.json["id"], "key": "A-1", "text": "Acuerdo tardío", "status": "PENDIENTE"}),
    )
    .await
    .assert_problem(409, "period_closed");
    // Another entity's same quarter stays open.
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let other = app.account(Role::Operator, cdmx).await;
    let mut elsewhere = victim("Iris", "2024-05-01");
    elsewhere["detection_entity_code"] = json!("09");
    let res = app.post("/api/v1/victims", &other.token, elsewhere).await;
    assert_eq!(res.status, 201, "{}", res.text());
}

#[actix_web::test]
async fn an_import_into_a_closed_quarter_is_refused_row_by_row() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let res = app
        .post(
            "/api/v1/periods/19/2024/2/close",
            &p.national.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let book = filled(
        FormKey::Victim,
        &[
            victim("Ana", "2024-03-01"),
            victim("Bea", "2024-04-01"),
            victim("Cris", "2024-07-01"),
            victim("Dora", "2024-06-30"),
        ],
    );
    for dry_run in [true, false] {
        let res = upload(&app, &p.operator, "victim", dry_run, &book).await;
        let report = if dry_run {
            assert_eq!(res.status, 200, "{}", res.text());
            res.json.clone()
        } else {
            res.assert_problem(422, "import_rejected");
            res.json["report"].clone()
        };
        assert_eq!(report["rows_read"], 4);
        assert_eq!(report["rows_valid"], 2);
        let errors = report["errors"].as_array().unwrap();
        let rows: Vec<(u64, &str, &str)> = errors
            .iter()
            .map(|e| {
                (
                    e["row"].as_u64().unwrap(),
                    e["field"].as_str().unwrap(),
                    e["code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (3, "detection_date", "period_closed"),
                (5, "detection_date", "period_closed")
            ]
        );
        let columns = sintra_excel::columns::template_columns(FormKey::Victim.spec());
        let index = columns
            .iter()
            .position(|c| c.json_key() == "detection_date")
            .unwrap() as u32;
        assert_eq!(
            errors[0]["column"],
            sintra_excel::columns::column_letter(index)
        );
        assert!(errors[0]["message"].as_str().unwrap().contains("2024-T2"));
    }
    assert_eq!(count_victims(&app).await, 0, "nothing written");
}

#[actix_web::test]
async fn who_reads_and_who_acts() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let fed = app.institution("00", "Auditoría").await;
    let auditor = app.account(Role::Auditor, fed).await;
    let analyst = app
        .account(Role::Analyst, app.institution("19", "Observatorio").await)
        .await;

    // Below the national level, one's own entity only.
    for who in [&p.state_admin, &p.operator, &analyst] {
        let res = app.get("/api/v1/periods?year=2025", &who.token).await;
        assert_eq!(res.status, 200, "{}", res.text());
        let items = res.json["items"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert!(items
            .iter()
            .all(|i| i["entity_code"] == "19" && i["status"] == "open"));
        let res = app
            .get("/api/v1/periods?year=2025&entity_code=09", &who.token)
            .await;
        assert_eq!(res.json["items"], json!([]));
    }
    app.get("/api/v1/periods?year=2025", &auditor.token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/periods", &p.national.token)
        .await
        .assert_problem(400, "invalid_filter");
    app.get("/api/v1/periods?year=2025&quarter=5", &p.national.token)
        .await
        .assert_problem(400, "invalid_filter");
    let all = app
        .get("/api/v1/periods?year=2025&quarter=1", &p.national.token)
        .await;
    let entities = all.json["items"].as_array().unwrap().len();
    assert_eq!(entities, 33, "32 states and the federal level");

    // Steps: the entity admin submits its own entity only; closing is national.
    app.post(
        "/api/v1/periods/09/2025/1/submit",
        &p.state_admin.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/periods/19/2025/1/submit",
        &p.national.token,
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/periods/19/2025/1/submit",
        &p.operator.token,
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/periods/19/2025/5/close",
        &p.national.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/periods/99/2025/1/close",
        &p.national.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        "/api/v1/periods/2025/1/close",
        &p.state_admin.token,
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/periods/19/2025/1/reopen",
        &p.national.token,
        json!({"reason": "Nada que reabrir"}),
    )
    .await
    .assert_problem(409, "invalid_period_transition");

    // A national close closes every entity at once, once.
    let res = app
        .post(
            "/api/v1/periods/09/2025/1/close",
            &p.national.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = app
        .post("/api/v1/periods/2025/1/close", &p.national.token, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["already_closed"], json!(["09"]));
    assert_eq!(res.json["closed"].as_array().unwrap().len(), 32);
    let all = app
        .get("/api/v1/periods?year=2025&quarter=1", &p.national.token)
        .await;
    assert!(all.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "closed"));
    app.post("/api/v1/periods/2025/1/close", &p.national.token, json!({}))
        .await
        .assert_problem(409, "invalid_period_transition");
    let events = app
        .get(
            "/api/v1/audit/events?resource_type=period&action=close&limit=100",
            &p.national.token,
        )
        .await;
    assert_eq!(events.json["items"].as_array().unwrap().len(), 33);
}

/// A write and a close of the same quarter never interleave: a close waits
/// for a write in flight, and a write waiting on a close in flight sees the
/// quarter closed once the close commits.
#[actix_web::test]
async fn a_close_and_a_write_do_not_race() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let mut held = app.db.owner_conn().await;

    // A write in flight (its transaction holds the quarter FOR SHARE):
    // the close waits for it.
    diesel::sql_query("BEGIN").execute(&mut held).await.unwrap();
    let key = sintra_tests::sintra_persistence::periods::PeriodKey {
        entity_code: "19".into(),
        year: 2024,
        quarter: 2,
    };
    sintra_tests::sintra_persistence::periods::lock_for_write(&mut held, &[key])
        .await
        .unwrap();
    let close = app.post(
        "/api/v1/periods/19/2024/2/close",
        &p.national.token,
        json!({}),
    );
    tokio::pin!(close);
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut close)
            .await
            .is_err(),
        "the close waits for the write in flight"
    );
    diesel::sql_query("COMMIT")
        .execute(&mut held)
        .await
        .unwrap();
    let res = close.await;
    assert_eq!(res.status, 200, "{}", res.text());

    // A close in flight of the third quarter: a write into it waits, then
    // is refused.
    diesel::sql_query("BEGIN").execute(&mut held).await.unwrap();
    diesel::sql_query(
        "INSERT INTO periods (entity_code, year, quarter, status) VALUES ('19', 2024, 3, 'closed')",
    )
    .execute(&mut held)
    .await
    .unwrap();
    let write = app.post(
        "/api/v1/victims",
        &p.operator.token,
        victim("Ana", "2024-08-01"),
    );
    tokio::pin!(write);
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut write)
            .await
            .is_err(),
        "the write waits for the close in flight"
    );
    diesel::sql_query("COMMIT")
        .execute(&mut held)
        .await
        .unwrap();
    write.await.assert_problem(409, "period_closed");
    assert_eq!(count_victims(&app).await, 0);
}

#[actix_web::test]
async fn a_cut_freezes_the_quarter_and_proves_what_it_counted() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let other = app.account(Role::Operator, cdmx).await;
    let mut ids = vec![];
    for (who, name, day) in [
        (&p.operator, "Ana", "2024-04-01"),
        (&p.operator, "Bea", "2024-06-30"),
        (&p.operator, "Cris", "2024-07-01"),
        (&p.operator, "Dora", "2024-03-31"),
    ] {
        let res = app
            .post("/api/v1/victims", &who.token, victim(name, day))
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
        ids.push(res.json["data"]["id"].as_str().unwrap().to_string());
    }
    let mut iris = victim("Iris", "2024-05-05");
    iris["detection_entity_code"] = json!("09");
    let res = app.post("/api/v1/victims", &other.token, iris).await;
    assert_eq!(res.status, 201, "{}", res.text());
    // An attention in the quarter of a victim detected before it.
    let res = app
        .post(
            "/api/v1/attentions",
            &p.operator.token,
            json!({"victim_id": ids[3], "date": "2024-04-10", "service": "JURIDICA"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    // A session of the quarter and its agreement (dated by the session).
    let commission = app
        .post(
            "/api/v1/commissions",
            &p.state_admin.token,
            json!({"name": "CIE", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
        )
        .await;
    let session = app
        .post(
            "/api/v1/sessions",
            &p.state_admin.token,
            json!({"commission_id": commission.json["id"], "number": 1, "session_type": "ORDINARIA", "date": "2024-05-20"}),
        )
        .await;
    let agreement = app
        .post(
            "/api/v1/agreements",
            &p.state_admin.token,
            json!({"session_id": session.json["id"], "key": "A-1", "text": "Acuerdo", "status": "PENDIENTE"}),
        )
        .await;
    assert_eq!(agreement.status, 201, "{}", agreement.text());

    app.post(
        "/api/v1/cuts",
        &p.state_admin.token,
        json!({"year": 2024, "quarter": 2}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(
        "/api/v1/cuts",
        &p.national.token,
        json!({"year": 2024, "quarter": 5}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let taken = app
        .post(
            "/api/v1/cuts",
            &p.national.token,
            json!({"year": 2024, "quarter": 2}),
        )
        .await;
    assert_eq!(taken.status, 201, "{}", taken.text());
    let cut = &taken.json["cut"];
    assert_eq!(
        cut["figures"]["record_counts"],
        json!([
            {"entity_code": "09", "form": "victim", "records": 1},
            {"entity_code": "19", "form": "agreement", "records": 1},
            {"entity_code": "19", "form": "attention", "records": 1},
            {"entity_code": "19", "form": "session", "records": 1},
            {"entity_code": "19", "form": "victim", "records": 2},
        ])
    );
    assert_eq!(cut["record_count"], 6);
    assert_eq!(taken.json["closed"]["closed"].as_array().unwrap().len(), 33);

    // The quarter is frozen: nothing dated in it is written any more.
    app.post(
        "/api/v1/victims",
        &p.operator.token,
        victim("Eva", "2024-05-01"),
    )
    .await
    .assert_problem(409, "period_closed");
    patch(
        &app,
        &format!("/api/v1/victims/{}", ids[0]),
        &p.operator,
        1,
        json!({"alias": "A"}),
    )
    .await
    .assert_problem(409, "period_closed");

    // The cut holds every dashboard for the quarter, equal to what the
    // dashboards answer (the quarter is frozen, so they still agree).
    let dashboards = cut["figures"]["dashboards"].as_object().unwrap();
    assert!(dashboards.contains_key("victims"), "{}", taken.text());
    for (name, frozen) in dashboards {
        let live = app
            .get(
                &format!("/api/v1/dashboards/{name}?from=2024-04-01&to=2024-06-30"),
                &p.national.token,
            )
            .await;
        assert_eq!(live.status, 200, "{}", live.text());
        assert_eq!(live.json["tables"], frozen["tables"], "{name}");
        assert_eq!(live.json["filters"], frozen["filters"], "{name}");
    }

    // Listed, read with its proof, and in the audit chain.
    let id = cut["id"].as_str().unwrap();
    let listed = app.get("/api/v1/cuts", &p.national.token).await;
    assert_eq!(listed.json["items"][0]["id"], id);
    let read = app
        .get(&format!("/api/v1/cuts/{id}"), &p.national.token)
        .await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json["verified"], true);
    assert_eq!(read.json["digest"], cut["digest"]);
    assert_eq!(read.json["figures"], cut["figures"]);
    // The entity's administrator reads its own entity's frozen figures;
    // another entity's cut figures read as missing; operators read none.
    let own = app
        .get(&format!("/api/v1/cuts/{id}"), &p.state_admin.token)
        .await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json["figures"]["entity_code"], "19");
    assert_eq!(
        own.json["figures"]["record_counts"],
        json!([
            {"entity_code": "19", "form": "agreement", "records": 1},
            {"entity_code": "19", "form": "attention", "records": 1},
            {"entity_code": "19", "form": "session", "records": 1},
            {"entity_code": "19", "form": "victim", "records": 2},
        ])
    );
    let as_state = app
        .get(
            "/api/v1/dashboards/victims?from=2024-04-01&to=2024-06-30",
            &p.state_admin.token,
        )
        .await;
    assert_eq!(
        own.json["figures"]["dashboards"]["victims"]["tables"],
        as_state.json["tables"]
    );
    app.get(
        &format!("/api/v1/cuts/{id}?entity_code=09"),
        &p.state_admin.token,
    )
    .await
    .assert_problem(404, "not_found");
    let nine = app
        .get(
            &format!("/api/v1/cuts/{id}?entity_code=09"),
            &p.national.token,
        )
        .await;
    assert_eq!(
        nine.json["figures"]["record_counts"],
        json!([{"entity_code": "09", "form": "victim", "records": 1}])
    );
    app.get(&format!("/api/v1/cuts/{id}"), &p.operator.token)
        .await
        .assert_problem(403, "forbidden");
    let events = app
        .get("/api/v1/audit/events?resource_type=cut", &p.national.token)
        .await;
    let event = &events.json["items"][0];
    assert_eq!(event["resource_id"], id);
    assert_eq!(event["details"]["digest"], cut["digest"]);
    assert_eq!(event["details"]["record_count"], 6);

    // The stored (id, version) pairs are what the digest proves: a change
    // behind the API's back shows.
    let mut conn = app.db.owner_conn().await;
    diesel::sql_query(format!(
        "UPDATE cut_records SET version = version + 1 WHERE cut_id = '{id}' AND record_id = '{}'",
        ids[0]
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let read = app
        .get(&format!("/api/v1/cuts/{id}"), &p.national.token)
        .await;
    assert_eq!(read.json["verified"], false);
}

/// The changes a diff lists, as (record, change kind, who, action).
fn changes(diff: &Answer) -> Vec<(String, String, String, String)> {
    diff.json["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", diff.text()))
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("record_id"), s("change"), s("changed_by"), s("action"))
        })
        .collect()
}

/// The figure changes of a diff from one source, as (table, row, column,
/// before, after, delta).
fn figure_changes(
    diff: &Answer,
    source: &str,
) -> Vec<(Value, String, String, Value, Value, Value)> {
    diff.json["figures"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", diff.text()))
        .iter()
        .filter(|f| f["source"] == source)
        .map(|f| {
            (
                f["table"].clone(),
                f["row"].as_str().unwrap().to_string(),
                f["column"].as_str().unwrap().to_string(),
                f["before"].clone(),
                f["after"].clone(),
                f["delta"].clone(),
            )
        })
        .collect()
}

#[actix_web::test]
// The workbook's cells are compared by their text: a count may be a number
// or a string cell, and `Data == &str` matches only the latter.
#[allow(clippy::cmp_owned)]
async fn a_second_cut_names_the_late_record_that_changed_the_figures() {
    let app = TestApp::new().await;
    let p = people(&app).await;
    let cie = p.state_admin.institution_id;
    let analyst = app.account(Role::Analyst, cie).await;
    for (name, day) in [("Ana", "2024-04-15"), ("Bea", "2024-05-02")] {
        let res = app
            .post("/api/v1/victims", &p.operator.token, victim(name, day))
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let q3 = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Sol", "2024-07-20"),
        )
        .await;
    assert_eq!(q3.status, 201, "{}", q3.text());
    let q3_id = q3.json["data"]["id"].as_str().unwrap().to_string();

    let first = app
        .post(
            "/api/v1/cuts",
            &p.national.token,
            json!({"year": 2024, "quarter": 2}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first_id = first.json["cut"]["id"].as_str().unwrap().to_string();

    // Right after the cut, the present is the cut: nothing differs.
    let same = app
        .get(
            &format!("/api/v1/cuts/{first_id}/diff?against=now"),
            &p.national.token,
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(same.json["figures"], json!([]), "{}", same.text());
    assert_eq!(same.json["records"], json!([]));
    assert_eq!(same.json["records_total"], 0);

    // The late record is refused, the quarter reopened with a reason, the
    // record registered, the quarter closed again; meanwhile a record of
    // another quarter changes (it explains nothing of this one).
    app.post(
        "/api/v1/victims",
        &p.operator.token,
        victim("Luz", "2024-05-10"),
    )
    .await
    .assert_problem(409, "period_closed");
    let q2 = "/api/v1/periods/19/2024/2";
    let res = app
        .post(
            &format!("{q2}/reopen"),
            &p.national.token,
            json!({"reason": "Registro tardío de la fiscalía"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let late = app
        .post(
            "/api/v1/victims",
            &p.operator.token,
            victim("Luz", "2024-05-10"),
        )
        .await;
    assert_eq!(late.status, 201, "{}", late.text());
    let late_id = late.json["data"]["id"].as_str().unwrap().to_string();
    let res = patch(
        &app,
        &format!("/api/v1/victims/{q3_id}"),
        &p.operator,
        1,
        json!({"alias": "S"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let res = app
        .post(&format!("{q2}/close"), &p.national.token, json!({}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text());

    let second = app
        .post(
            "/api/v1/cuts",
            &p.national.token,
            json!({"year": 2024, "quarter": 2}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text());
    let second_id = second.json["cut"]["id"].as_str().unwrap().to_string();

    // The diff names exactly that record, who registered it, and the
    // figures it moved: 19's victims 2 → 3.
    let expected = vec![(
        late_id.clone(),
        "registered_late".to_string(),
        p.operator.username.clone(),
        "create".to_string(),
    )];
    for against in [second_id.as_str(), "now"] {
        let diff = app
            .get(
                &format!("/api/v1/cuts/{first_id}/diff?against={against}"),
                &p.national.token,
            )
            .await;
        assert_eq!(diff.status, 200, "{}", diff.text());
        assert_eq!(changes(&diff), expected, "{against}: {}", diff.text());
        assert_eq!(diff.json["records_total"], 1);
        assert_eq!(
            figure_changes(&diff, "record_counts"),
            vec![(
                Value::Null,
                "19".to_string(),
                "victim".to_string(),
                json!(2),
                json!(3),
                json!(1)
            )],
            "{against}"
        );
        let victims = figure_changes(&diff, "victims");
        assert!(
            victims
                .iter()
                .any(|(_, row, column, before, after, delta)| row == "_total"
                    && column == "_total"
                    && before == &json!(2)
                    && after == &json!(3)
                    && delta == &json!(1)),
            "{against}: {victims:?}"
        );
        assert!(
            victims
                .iter()
                .all(|(.., delta)| delta.is_null() || delta.as_f64().unwrap() > 0.0),
            "only additions: {victims:?}"
        );
    }

    // The entity sees the same record in its own figures; its analysts see
    // the record but no count of 1 to 4; another entity's view is empty.
    let own = app
        .get(
            &format!("/api/v1/cuts/{first_id}/diff?against={second_id}"),
            &p.state_admin.token,
        )
        .await;
    assert_eq!(changes(&own), expected, "{}", own.text());
    assert_eq!(own.json["entity_code"], "19");
    let theirs = app
        .get(
            &format!("/api/v1/cuts/{first_id}/diff?against={second_id}"),
            &analyst.token,
        )
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text());
    assert_eq!(changes(&theirs), expected);
    for f in theirs.json["figures"].as_array().unwrap() {
        for side in ["before", "after"] {
            if let Some(n) = f[side].as_i64() {
                assert!(!(1..=4).contains(&n), "withheld count shown: {f}");
            }
        }
    }
    let nine = app
        .get(
            &format!("/api/v1/cuts/{first_id}/diff?against={second_id}&entity_code=09"),
            &p.national.token,
        )
        .await;
    assert_eq!(nine.json["records"], json!([]), "{}", nine.text());
    assert_eq!(nine.json["figures"], json!([]), "{}", nine.text());

    // Backwards, or against what is not a cut, is a clear 422.
    app.get(
        &format!("/api/v1/cuts/{second_id}/diff?against={first_id}"),
        &p.national.token,
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(
        &format!("/api/v1/cuts/{first_id}/diff?against=ayer"),
        &p.national.token,
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(
        &format!("/api/v1/cuts/{first_id}/diff?limit=0"),
        &p.national.token,
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(&format!("/api/v1/cuts/{first_id}/diff"), &p.operator.token)
        .await
        .assert_problem(403, "forbidden");

    // The official report: a cover with the digest, the counts, a sheet
    // per dashboard table.
    let xlsx = app
        .get(&format!("/api/v1/cuts/{second_id}.xlsx"), &p.national.token)
        .await;
    assert_eq!(xlsx.status, 200, "{}", xlsx.text());
    assert_eq!(
        xlsx.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let cover = sintra_tests::excel::sheet_rows(&xlsx.body, "Portada");
    let text: Vec<String> = cover.iter().flatten().map(|c| c.to_string()).collect();
    let digest = second.json["cut"]["digest"].as_str().unwrap();
    assert!(text.iter().any(|c| c == digest), "{text:?}");
    assert!(text.iter().any(|c| c == "sí"), "verified: {text:?}");
    let counts = sintra_tests::excel::sheet_rows(&xlsx.body, "Registros");
    assert!(
        counts
            .iter()
            .any(|r| r.len() == 3 && r[0] == "19" && r[1] == "victim" && r[2] == 3.0),
        "{counts:?}"
    );
    let sheets = calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(std::io::Cursor::new(
        xlsx.body.clone(),
    ))
    .map(|wb| calamine::Reader::sheet_names(&wb))
    .unwrap();
    let tables: usize = second.json["cut"]["figures"]["dashboards"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["tables"].as_array().unwrap().len().max(1))
        .sum();
    assert_eq!(sheets.len(), 2 + tables, "{sheets:?}");
    // The analyst's report withholds the small count.
    let xlsx = app
        .get(&format!("/api/v1/cuts/{second_id}.xlsx"), &analyst.token)
        .await;
    assert_eq!(xlsx.status, 200, "{}", xlsx.text());
    let counts = sintra_tests::excel::sheet_rows(&xlsx.body, "Registros");
    assert!(
        counts
            .iter()
            .any(|r| r.len() == 3 && r[1] == "victim" && r[2] == "*"),
        "{counts:?}"
    );
}
