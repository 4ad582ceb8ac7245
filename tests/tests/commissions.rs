//! Commissions, sessions, agreements and follow-ups, as a state system and
//! operators use them.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, Answer, TestApp};

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Answer {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn post_idempotent(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Answer {
    let auth = format!("Bearer {token}");
    app.call_raw(
        Method::POST,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

fn commission() -> Value {
    json!({
        "external_folio": "NL-CIE-001",
        "name": "Comisión Interinstitucional para Prevenir, Sancionar y Erradicar los Delitos en Materia de Trata de Personas de Nuevo León",
        "kind": "COMISION",
        "entity_code": "19",
        "installation_date": "2013-06-14",
        "legal_instrument": "Acuerdo publicado en el Periódico Oficial del Estado",
        "publication_date": "2013-06-20",
        "status": "ACTIVA"
    })
}

async fn state_system(app: &TestApp) -> Account {
    let inst = app
        .institution("19", "Secretaría General de Gobierno de Nuevo León")
        .await;
    app.account(Role::System, inst).await
}

#[actix_web::test]
async fn a_state_system_loads_a_commission_through_the_api_alone_and_idempotently() {
    let app = TestApp::new().await;
    let sys = state_system(&app).await;

    // A commission installed years ago: allowed (phase one refused it).
    let first = post_idempotent(
        &app,
        "/api/v1/commissions",
        &sys.token,
        "carga-001",
        &commission(),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.json["installation_date"], "2013-06-14");
    assert_eq!(first.json["entity_code"], "19");
    assert_eq!(first.header("etag"), Some("\"1\""));
    let again = post_idempotent(
        &app,
        "/api/v1/commissions",
        &sys.token,
        "carga-001",
        &commission(),
    )
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.json["id"], first.json["id"],
        "the same request twice creates one record"
    );
    let mut other = commission();
    other["name"] = json!("Otra comisión");
    post_idempotent(&app, "/api/v1/commissions", &sys.token, "carga-001", &other)
        .await
        .assert_problem(409, "idempotency_key_reused");
    let listed = app.get("/api/v1/commissions", &sys.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);

    // Children named by the sender's folios, upserted by their own folios.
    let session = put(
        &app,
        "/api/v1/sessions/by-folio/NL-SES-2024-01",
        &sys.token,
        json!({"commission_folio": "NL-CIE-001", "number": 1, "session_type": "ORDINARIA", "date": "2024-03-01", "modality": "HIBRIDA", "quorum": true}),
    )
    .await;
    assert_eq!(session.status, 201, "{}", session.text());
    assert_eq!(session.json["commission_id"], first.json["id"]);
    assert_eq!(session.json["external_folio"], "NL-SES-2024-01");
    let agreement = put(
        &app,
        "/api/v1/agreements/by-folio/NL-ACU-2024-01-01",
        &sys.token,
        json!({"session_folio": "NL-SES-2024-01", "key": "CIE/NL/01/2024", "text": "Elaborar el protocolo estatal de atención.", "due_date": "2024-06-30", "status": "PENDIENTE"}),
    )
    .await;
    assert_eq!(agreement.status, 201, "{}", agreement.text());
    let agreement_id = agreement.json["id"].as_str().unwrap().to_string();
    let follow = app
        .post(
            &format!("/api/v1/agreements/{agreement_id}/follow-ups"),
            &sys.token,
            json!({"date": "2024-05-15", "progress": "Borrador entregado a la Fiscalía.", "status": "EN_PROCESO"}),
        )
        .await;
    assert_eq!(follow.status, 201, "{}", follow.text());
    let history = app
        .get(
            &format!("/api/v1/agreements/{agreement_id}/follow-ups"),
            &sys.token,
        )
        .await;
    assert_eq!(history.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        history.json["items"][0]["progress"],
        "Borrador entregado a la Fiscalía."
    );

    // Re-sending the same folio replaces instead of duplicating.
    let replaced = put(
        &app,
        "/api/v1/agreements/by-folio/NL-ACU-2024-01-01",
        &sys.token,
        json!({"session_folio": "NL-SES-2024-01", "key": "CIE/NL/01/2024", "text": "Elaborar el protocolo estatal de atención.", "due_date": "2024-06-30", "status": "CUMPLIDO"}),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text());
    assert_eq!(replaced.json["id"], agreement_id.as_str());
    assert_eq!(replaced.json["version"], 2);
    let all = app.get("/api/v1/agreements", &sys.token).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 1);

    // Every change is in the audit log.
    let mut conn = app.db.owner_conn().await;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sintra_persistence::schema::audit_events::dsl as a;
    let changes: i64 = a::audit_events
        .filter(a::kind.eq("modification"))
        .filter(a::actor_id.eq(sys.id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        changes, 5,
        "commission, session, agreement, follow-up, agreement update"
    );
}

#[actix_web::test]
async fn dates_must_follow_the_commission_and_the_session() {
    let app = TestApp::new().await;
    let sys = state_system(&app).await;
    let c = app
        .post("/api/v1/commissions", &sys.token, commission())
        .await;
    let cid = c.json["id"].as_str().unwrap().to_string();

    let early = app
        .post("/api/v1/sessions", &sys.token, json!({"commission_id": cid, "number": 1, "session_type": "INSTALACION", "date": "2013-06-13"}))
        .await;
    early.assert_problem(422, "validation_failed");
    assert_eq!(early.json["errors"][0]["field"], "date");
    assert_eq!(early.json["errors"][0]["code"], "date_before_parent");
    assert!(early.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("instalación"));

    let s = app
        .post("/api/v1/sessions", &sys.token, json!({"commission_id": cid, "number": 1, "session_type": "INSTALACION", "date": "2013-06-14"}))
        .await;
    assert_eq!(s.status, 201, "{}", s.text());
    let a = app
        .post(
            "/api/v1/agreements",
            &sys.token,
            json!({"session_id": s.json["id"], "key": "A-1", "text": "Instalar la comisión.", "status": "PENDIENTE"}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let before_session = app
        .post(
            &format!(
                "/api/v1/agreements/{}/follow-ups",
                a.json["id"].as_str().unwrap()
            ),
            &sys.token,
            json!({"date": "2013-06-01", "progress": "Avance", "status": "EN_PROCESO"}),
        )
        .await;
    before_session.assert_problem(422, "validation_failed");
    assert_eq!(
        before_session.json["errors"][0]["code"],
        "date_before_parent"
    );

    // A future installation date, an unknown kind, a missing name.
    let mut bad = commission();
    bad["installation_date"] = json!("2090-01-01");
    bad["kind"] = json!("CLUB");
    bad.as_object_mut().unwrap().remove("name");
    bad["external_folio"] = json!("otro");
    let res = app.post("/api/v1/commissions", &sys.token, bad).await;
    res.assert_problem(422, "validation_failed");
    let codes: Vec<(&str, &str)> = res.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert!(codes.contains(&("name", "required")), "{codes:?}");
    assert!(codes.contains(&("kind", "unknown_code")), "{codes:?}");
    assert!(
        codes.contains(&("installation_date", "date_in_future")),
        "{codes:?}"
    );

    // A parent that does not exist, and a stale update.
    let orphan = app
        .post("/api/v1/sessions", &sys.token, json!({"commission_id": uuid::Uuid::now_v7(), "number": 2, "session_type": "ORDINARIA", "date": "2014-01-01"}))
        .await;
    assert_eq!(
        orphan.json["errors"][0]["code"],
        "unknown_reference",
        "{}",
        orphan.text()
    );
    let auth = format!("Bearer {}", sys.token);
    let patch = |version: &'static str| {
        let app = &app;
        let auth = auth.clone();
        let cid = cid.clone();
        async move {
            app.call_raw(
                Method::PATCH,
                &format!("/api/v1/commissions/{cid}"),
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                    ("if-match", version),
                ],
                br#"{"status": "INACTIVA"}"#.to_vec(),
            )
            .await
        }
    };
    assert_eq!(patch("\"1\"").await.status, 200);
    patch("\"1\"").await.assert_problem(412, "stale_version");
}

#[actix_web::test]
async fn another_entity_sees_none_of_it_and_overdue_agreements_are_listable() {
    let app = TestApp::new().await;
    let sys = state_system(&app).await;
    let c = app
        .post("/api/v1/commissions", &sys.token, commission())
        .await;
    let cid = c.json["id"].as_str().unwrap().to_string();
    let s = app
        .post("/api/v1/sessions", &sys.token, json!({"commission_id": cid, "number": 3, "session_type": "ORDINARIA", "date": "2020-02-02"}))
        .await;
    let sid = s.json["id"].as_str().unwrap().to_string();
    for (key, due, status) in [
        ("A-1", "2020-03-01", "PENDIENTE"),
        ("A-2", "2020-03-01", "CUMPLIDO"),
        ("A-3", "2090-01-01", "EN_PROCESO"),
        ("A-4", "2021-01-01", "EN_PROCESO"),
    ] {
        let r = app
            .post("/api/v1/agreements", &sys.token, json!({"session_id": sid, "key": key, "text": "Acuerdo", "due_date": due, "status": status}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let overdue = app.get("/api/v1/agreements?overdue=true", &sys.token).await;
    let keys: Vec<&str> = overdue.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["A-1", "A-4"]);
    let by_status = app
        .get("/api/v1/agreements?status=en_proceso", &sys.token)
        .await;
    assert_eq!(by_status.json["items"].as_array().unwrap().len(), 2);
    let by_date = app
        .get(
            "/api/v1/commissions?installation_date_from=2013-01-01&installation_date_to=2013-12-31",
            &sys.token,
        )
        .await;
    assert_eq!(by_date.json["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/commissions?nombre=x", &sys.token)
        .await
        .assert_problem(422, "validation_failed");

    // An operator of another entity, and its entity admin: nothing.
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let outsider = app.account(Role::Operator, cdmx).await;
    let outsider_admin = app.account(Role::EntityAdmin, cdmx).await;
    for who in [&outsider, &outsider_admin] {
        for path in [
            "/api/v1/commissions",
            "/api/v1/sessions",
            "/api/v1/agreements",
            "/api/v1/agreements?overdue=true",
        ] {
            let res = app.get(path, &who.token).await;
            assert_eq!(res.status, 200);
            assert_eq!(res.json["items"].as_array().unwrap().len(), 0, "{path}");
        }
        app.get(&format!("/api/v1/commissions/{cid}"), &who.token)
            .await
            .assert_problem(404, "not_found");
        let child = app
            .post("/api/v1/sessions", &who.token, json!({"commission_id": cid, "number": 9, "session_type": "ORDINARIA", "date": "2021-01-01"}))
            .await;
        assert_eq!(child.json["errors"][0]["code"], "unknown_reference");
    }
    // Nor can it register a commission for another entity.
    let mut foreign = commission();
    foreign["external_folio"] = json!("X");
    let res = app
        .post("/api/v1/commissions", &outsider.token, foreign)
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.json["errors"][0]["code"], "outside_scope");
    // The entity admin of Nuevo León sees it all.
    let nl_admin = app.account(Role::EntityAdmin, sys.institution_id).await;
    assert_eq!(
        app.get("/api/v1/agreements", &nl_admin.token).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // The national level registers the Comisión Intersecretarial ('00').
    let federal = app.institution("00", "Secretaría de Gobernación").await;
    let national = app.account(Role::NationalAdmin, federal).await;
    let mut ci = commission();
    ci["entity_code"] = json!("00");
    ci["name"] = json!("Comisión Intersecretarial");
    ci["installation_date"] = json!("2013-07-02");
    let res = app.post("/api/v1/commissions", &national.token, ci).await;
    assert_eq!(res.status, 201, "{}", res.text());
}
