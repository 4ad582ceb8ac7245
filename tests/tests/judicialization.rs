//! The judicialization module as a state fiscalía's system, its operators
//! and the national program use it: a case reported from complaint to firm
//! sentence through the API alone, every inconsistency refused and
//! explained, scope, and counts comparable with SESNSP's.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, Answer, TestApp};
use uuid::Uuid;

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Answer {
    app.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn patch(app: &TestApp, path: &str, token: &str, version: i64, body: Value) -> Answer {
    let auth = format!("Bearer {token}");
    let etag = format!("\"{version}\"");
    app.call_raw(
        Method::PATCH,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("if-match", &etag),
        ],
        body.to_string().into_bytes(),
    )
    .await
}

async fn post_with(
    app: &TestApp,
    path: &str,
    token: &str,
    extra: (&str, &str),
    body: &Value,
) -> Answer {
    let auth = format!("Bearer {token}");
    app.call_raw(
        Method::POST,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            extra,
        ],
        body.to_string().into_bytes(),
    )
    .await
}

#[track_caller]
fn created(answer: &Answer) -> String {
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json["id"].as_str().unwrap().to_string()
}

/// Asserts a 422 whose first error is `code` on `field`, with a Spanish
/// message containing `words`.
#[track_caller]
fn refused(answer: &Answer, field: &str, code: &str, words: &str) {
    answer.assert_problem(422, "validation_failed");
    let e = &answer.json["errors"][0];
    assert_eq!(e["field"], field, "{}", answer.text());
    assert_eq!(e["code"], code, "{}", answer.text());
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(words), "«{words}» not in «{message}»");
}

/// A victim registered by the victim-attention module of `institution`
/// (behind the API's back: this module only links victims).
async fn victim(
    app: &TestApp,
    institution: Uuid,
    entity: &str,
    folio: Option<&str>,
    data: Value,
) -> Uuid {
    use sintra_persistence::records::{insert, NewRecord};
    let mut conn = app.conn().await;
    let mut fields = json!({
        "condition": "VICTIMA",
        "given_names": "Nombre Reservado",
        "detection_date": "2024-01-10",
    });
    for (k, v) in data.as_object().unwrap() {
        fields[k] = v.clone();
    }
    insert(
        &mut conn,
        &NewRecord {
            id: Uuid::now_v7(),
            form: "victim".into(),
            entity_code: entity.into(),
            institution_id: institution,
            parent_id: None,
            external_folio: folio.map(String::from),
            data: fields,
            created_by: None,
            updated_by: None,
            blocking_keys: None,
            name_terms: None,
        },
    )
    .await
    .unwrap()
    .id
}

fn investigation(folio: &str, opening: &str) -> Value {
    json!({
        "external_folio": folio,
        "investigation_type": "CARPETA_INVESTIGACION",
        "folio": format!("FGE-NL/UIE-TRATA/{folio}"),
        "opening_date": opening,
        "fuero": "COMUN",
        "crimes": ["LGT_ART_10", "LGT_ART_13"],
        "stage": "INV_INICIAL",
        "entity_code": "19"
    })
}

struct Nl {
    app: TestApp,
    fiscalia: Account,
    dif: Uuid,
}

async fn nuevo_leon() -> Nl {
    let app = TestApp::new().await;
    let inst = app
        .institution("19", "Fiscalía General de Justicia de Nuevo León")
        .await;
    let dif = app.institution("19", "DIF Nuevo León").await;
    let fiscalia = app.account(Role::System, inst).await;
    Nl { app, fiscalia, dif }
}

#[actix_web::test]
async fn a_state_fiscalia_reports_a_case_from_complaint_to_firm_sentence() {
    let Nl { app, fiscalia, dif } = nuevo_leon().await;
    let t = fiscalia.token.as_str();
    // One victim the fiscalía attends itself, one the state DIF attends.
    let own = victim(
        &app,
        fiscalia.institution_id,
        "19",
        Some("NL-V-001"),
        json!({"sex": "MUJER", "birth_date": "2008-04-02"}),
    )
    .await;
    let theirs = victim(
        &app,
        dif,
        "19",
        None,
        json!({"sex": "MUJER", "age_at_detection": 24}),
    )
    .await;

    // The complaint opens an investigation; it is judicialized two weeks later.
    let mut body = investigation("NL-CI-2024-0042", "2024-01-15");
    body["victim_ids"] = json!([theirs]);
    body["victim_folios"] = json!(["NL-V-001"]);
    body["determination"] = json!("JUDICIALIZADA");
    body["determination_date"] = json!("2024-02-01");
    let first = post_with(
        &app,
        "/api/v1/investigations",
        t,
        ("idempotency-key", "ci-0042"),
        &body,
    )
    .await;
    let inv = created(&first);
    assert_eq!(first.json["entity_code"], "19");
    assert_eq!(first.json["victim_ids"], json!([theirs, own]));
    let again = post_with(
        &app,
        "/api/v1/investigations",
        t,
        ("idempotency-key", "ci-0042"),
        &body,
    )
    .await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json["id"], inv.as_str());

    // The linked victim of the DIF stays the DIF's: only its id shows.
    let read = app.get(&format!("/api/v1/investigations/{inv}"), t).await;
    assert_eq!(read.status, 200);
    let shown = read.text();
    assert!(!shown.contains("Nombre Reservado") && !shown.contains("2008-04-02"));
    assert_eq!(
        app.get(&format!("/api/v1/victims/{theirs}"), t)
            .await
            .status,
        404
    );

    // The criminal case, named by the sender's folios.
    let case = put(
        &app,
        "/api/v1/criminal-cases/by-folio/NL-CP-2024-0107",
        t,
        json!({"investigation_folio": "NL-CI-2024-0042", "court": "Juzgado de Control y de Juicio Oral Penal del Estado, Monterrey", "case_number": "107/2024", "judicialized_date": "2024-02-01", "stage": "INV_INICIAL"}),
    )
    .await;
    let case_id = created(&case);
    assert_eq!(case.json["investigation_id"], inv.as_str());
    let events = format!("/api/v1/criminal-cases/{case_id}/events");
    let mut stage_version = 1;
    let timeline = [
        ("AUDIENCIA_INICIAL", "2024-02-02", None),
        ("CONTROL_DETENCION", "2024-02-02", None),
        (
            "FORMULACION_IMPUTACION",
            "2024-02-02",
            Some("INV_COMPLEMENTARIA"),
        ),
        ("VINCULACION", "2024-02-07", None),
        ("MEDIDAS_CAUTELARES", "2024-02-07", None),
        ("CIERRE_INVESTIGACION", "2024-06-01", None),
        ("ACUSACION", "2024-06-15", Some("INTERMEDIA")),
        ("AUDIENCIA_INTERMEDIA", "2024-07-10", None),
        ("APERTURA_JUICIO", "2024-07-10", Some("JUICIO")),
        ("AUDIENCIA_JUICIO", "2024-09-02", None),
        ("FALLO", "2024-09-20", None),
        ("SENTENCIA", "2024-09-27", None),
    ];
    for (n, (event_type, date, stage)) in timeline.iter().enumerate() {
        let e = post_with(
            &app,
            &events,
            t,
            ("idempotency-key", &format!("cp-0107-ev-{n}")),
            &json!({"event_type": event_type, "date": date}),
        )
        .await;
        created(&e);
        assert_eq!(e.json["criminal_case_id"], case_id.as_str());
        if let Some(stage) = stage {
            let moved = patch(
                &app,
                &format!("/api/v1/criminal-cases/{case_id}"),
                t,
                stage_version,
                json!({"stage": stage}),
            )
            .await;
            assert_eq!(moved.status, 200, "{}", moved.text());
            stage_version += 1;
        }
    }
    let listed = app.get(&events, t).await;
    let items = listed.json["items"].as_array().unwrap();
    assert_eq!(items.len(), timeline.len());
    assert_eq!(items[0]["event_type"], "AUDIENCIA_INICIAL");
    assert_eq!(items[11]["event_type"], "SENTENCIA");

    // The defendant and the sentence, appealed first and then final.
    let defendant = app
        .post(
            "/api/v1/defendants",
            t,
            json!({"external_folio": "NL-IMP-0107-1", "criminal_case_id": case_id, "given_names": "Persona", "first_surname": "Imputada", "sex": "HOMBRE", "age": 38, "nationality": "MEX", "precautionary_measures": ["PRISION_PREVENTIVA"], "detained": true}),
        )
        .await;
    let defendant_id = created(&defendant);
    assert_eq!(defendant.json["entity_code"], "19");
    let sentence = put(
        &app,
        "/api/v1/sentences/by-folio/NL-SEN-0107-1",
        t,
        json!({"defendant_folio": "NL-IMP-0107-1", "crime": "LGT_ART_13", "date": "2024-09-27", "sentence_type": "CONDENATORIA", "route": "JUICIO_ORAL", "prison_years": 15, "prison_months": 6, "fine": 5000, "reparation_amount": 350000.5, "reparation_paid": false, "firmness": "IMPUGNADA"}),
    )
    .await;
    let sentence_id = created(&sentence);
    assert_eq!(sentence.json["defendant_id"], defendant_id.as_str());
    for (event_type, date) in [
        ("IMPUGNACION", "2024-10-07"),
        ("RESOLUCION_IMPUGNACION", "2025-01-20"),
        ("SENTENCIA_EJECUTORIADA", "2025-02-03"),
    ] {
        created(
            &app.post(&events, t, json!({"event_type": event_type, "date": date}))
                .await,
        );
    }
    let firm = put(
        &app,
        "/api/v1/sentences/by-folio/NL-SEN-0107-1",
        t,
        json!({"defendant_folio": "NL-IMP-0107-1", "crime": "LGT_ART_13", "date": "2024-09-27", "sentence_type": "CONDENATORIA", "route": "JUICIO_ORAL", "prison_years": 15, "prison_months": 6, "fine": 5000, "reparation_amount": 350000.5, "reparation_paid": true, "firmness": "FIRME"}),
    )
    .await;
    assert_eq!(firm.status, 200, "{}", firm.text());
    assert_eq!(firm.json["id"], sentence_id.as_str());
    assert_eq!(firm.json["firmness"], "FIRME");
    assert_eq!(firm.json["version"], 2);
    let closed = patch(
        &app,
        &format!("/api/v1/criminal-cases/{case_id}"),
        t,
        stage_version,
        json!({"stage": "SENTENCIA_FIRME"}),
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.text());

    // Read back through the lists' filters.
    let list = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move { app.get(&q, t).await.json["items"].as_array().unwrap().len() }
    };
    assert_eq!(
        list("/api/v1/investigations?fuero=COMUN&crimes=LGT_ART_13&determination=JUDICIALIZADA")
            .await,
        1
    );
    assert_eq!(
        list("/api/v1/investigations?opening_date_from=2024-02-01").await,
        0
    );
    assert_eq!(
        list(&format!(
            "/api/v1/criminal-cases?investigation_id={inv}&stage=SENTENCIA_FIRME"
        ))
        .await,
        1
    );
    assert_eq!(
        list("/api/v1/sentences?firmness=FIRME&sentence_type=CONDENATORIA").await,
        1
    );
    assert_eq!(
        list(&format!("/api/v1/defendants?criminal_case_id={case_id}")).await,
        1
    );

    // Every change is in the audit log; reading a defendant is an access.
    let read = app
        .get(&format!("/api/v1/defendants/{defendant_id}"), t)
        .await;
    assert_eq!(read.json["given_names"], "Persona");
    let mut conn = app.db.owner_conn().await;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sintra_persistence::schema::audit_events::dsl as a;
    let changes: i64 = a::audit_events
        .filter(a::kind.eq("modification"))
        .filter(a::actor_id.eq(fiscalia.id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    // investigation, case, 15 events, 4 stage changes, defendant, sentence, its update.
    assert_eq!(changes, 1 + 1 + 15 + 4 + 1 + 1 + 1);
}

#[actix_web::test]
async fn each_inconsistency_is_refused_with_its_code_and_a_spanish_message() {
    let Nl { app, fiscalia, dif } = nuevo_leon().await;
    let t = fiscalia.token.as_str();
    let inv = created(
        &app.post(
            "/api/v1/investigations",
            t,
            investigation("CI-1", "2024-03-10"),
        )
        .await,
    );

    // No case before its investigation.
    let case = json!({"investigation_id": inv, "court": "Juzgado de Control", "case_number": "1/2024", "judicialized_date": "2024-03-09", "stage": "INV_INICIAL"});
    refused(
        &app.post("/api/v1/criminal-cases", t, case.clone()).await,
        "judicialized_date",
        "date_before_parent",
        "antes de que se iniciara su investigación",
    );
    let mut ok = case.clone();
    ok["judicialized_date"] = json!("2024-03-20");
    let case_id = created(&app.post("/api/v1/criminal-cases", t, ok).await);
    let events = format!("/api/v1/criminal-cases/{case_id}/events");

    // Events not before the case, and in date order.
    refused(
        &app.post(
            &events,
            t,
            json!({"event_type": "AUDIENCIA_INICIAL", "date": "2024-03-19"}),
        )
        .await,
        "date",
        "date_before_parent",
        "judicialización de la causa",
    );
    created(
        &app.post(
            &events,
            t,
            json!({"event_type": "AUDIENCIA_INICIAL", "date": "2024-03-21"}),
        )
        .await,
    );
    created(
        &app.post(
            &events,
            t,
            json!({"event_type": "VINCULACION", "date": "2024-03-26"}),
        )
        .await,
    );
    refused(
        &app.post(
            &events,
            t,
            json!({"event_type": "MEDIDAS_CAUTELARES", "date": "2024-03-25"}),
        )
        .await,
        "date",
        "event_out_of_order",
        "orden cronológico",
    );
    let english = app
        .call_raw(
            Method::POST,
            &events,
            &[
                ("authorization", &format!("Bearer {t}")),
                ("content-type", "application/json"),
                ("accept-language", "en"),
            ],
            json!({"event_type": "MEDIDAS_CAUTELARES", "date": "2024-03-25"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert!(english.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("date order"));

    // A stage does not go back without an appeal.
    let path = format!("/api/v1/criminal-cases/{case_id}");
    assert_eq!(
        patch(&app, &path, t, 1, json!({"stage": "JUICIO"}))
            .await
            .status,
        200
    );
    refused(
        &patch(&app, &path, t, 2, json!({"stage": "INTERMEDIA"})).await,
        "stage",
        "stage_backwards",
        "sin una impugnación",
    );
    created(
        &app.post(
            &events,
            t,
            json!({"event_type": "APERTURA_JUICIO", "date": "2024-08-01"}),
        )
        .await,
    );
    created(
        &app.post(
            &events,
            t,
            json!({"event_type": "IMPUGNACION", "date": "2024-08-05"}),
        )
        .await,
    );
    let back = patch(&app, &path, t, 2, json!({"stage": "INTERMEDIA"})).await;
    assert_eq!(back.status, 200, "after an appeal: {}", back.text());

    // No sentence before the case; no abbreviated procedure once the trial opened.
    let defendant = created(
        &app.post(
            "/api/v1/defendants",
            t,
            json!({"criminal_case_id": case_id, "sex": "MUJER", "age": 41}),
        )
        .await,
    );
    let sentence = json!({"defendant_id": defendant, "crime": "LGT_ART_10", "date": "2024-03-01", "sentence_type": "CONDENATORIA", "route": "JUICIO_ORAL"});
    refused(
        &app.post("/api/v1/sentences", t, sentence.clone()).await,
        "date",
        "date_before_parent",
        "La sentencia no puede ser anterior a la causa",
    );
    let mut abbreviated = sentence.clone();
    abbreviated["date"] = json!("2024-09-01");
    abbreviated["route"] = json!("PROCEDIMIENTO_ABREVIADO");
    refused(
        &app.post("/api/v1/sentences", t, abbreviated.clone()).await,
        "route",
        "abbreviated_after_trial",
        "abrió juicio oral el 2024-08-01",
    );
    // Before the trial opened it stands (a co-defendant's plea).
    abbreviated["date"] = json!("2024-07-15");
    created(&app.post("/api/v1/sentences", t, abbreviated).await);

    // A determination must belong to the stage.
    let mut wrong = investigation("CI-2", "2024-03-10");
    wrong["stage"] = json!("INTERMEDIA");
    wrong["determination"] = json!("JUDICIALIZADA");
    refused(
        &app.post("/api/v1/investigations", t, wrong.clone()).await,
        "determination",
        "not_in_parent",
        "no corresponde a «INTERMEDIA»",
    );
    wrong["stage"] = json!(null);
    refused(
        &app.post("/api/v1/investigations", t, wrong.clone()).await,
        "stage",
        "required",
        "obligatorio",
    );
    wrong["stage"] = json!("INTERMEDIA");
    wrong["determination"] = json!("PROCEDIMIENTO_ABREVIADO");
    created(&app.post("/api/v1/investigations", t, wrong).await);
    // A determination dated before the opening.
    let mut early = investigation("CI-3", "2024-03-10");
    early["determination"] = json!("ARCHIVO_TEMPORAL");
    early["determination_date"] = json!("2024-03-01");
    refused(
        &app.post("/api/v1/investigations", t, early).await,
        "determination_date",
        "date_out_of_order",
        "no puede ser anterior",
    );

    // Victims must exist where the caller may link them, never echoed.
    let elsewhere = app.institution("09", "DIF Ciudad de México").await;
    let far = victim(&app, elsewhere, "09", None, json!({"sex": "HOMBRE"})).await;
    let near = victim(&app, dif, "19", Some("DIF-7"), json!({"sex": "MUJER"})).await;
    for ids in [json!([Uuid::now_v7()]), json!([far])] {
        let mut linked = investigation("CI-4", "2024-03-10");
        linked["victim_ids"] = ids.clone();
        let res = app.post("/api/v1/investigations", t, linked).await;
        refused(
            &res,
            "victim_ids",
            "unknown_reference",
            "no existe o no está a su alcance",
        );
        assert!(!res.text().contains(&far.to_string()));
    }
    // The DIF's folios are the DIF's: the fiscalía links its victim by id only.
    let mut by_folio = investigation("CI-4", "2024-03-10");
    by_folio["victim_folios"] = json!(["DIF-7"]);
    refused(
        &app.post("/api/v1/investigations", t, by_folio).await,
        "victim_folios",
        "unknown_reference",
        "no existe",
    );
    let mut by_id = investigation("CI-4", "2024-03-10");
    by_id["victim_ids"] = json!([near]);
    created(&app.post("/api/v1/investigations", t, by_id).await);
    let mut not_a_victim = investigation("CI-5", "2024-03-10");
    not_a_victim["victim_ids"] = json!([case_id]);
    refused(
        &app.post("/api/v1/investigations", t, not_a_victim).await,
        "victim_ids",
        "unknown_reference",
        "no existe",
    );
}

#[actix_web::test]
async fn a_cross_entity_operator_sees_nothing() {
    let Nl { app, fiscalia, dif } = nuevo_leon().await;
    let t = fiscalia.token.as_str();
    let near = victim(&app, dif, "19", None, json!({"sex": "MUJER"})).await;
    let mut body = investigation("CI-9", "2024-05-02");
    body["victim_ids"] = json!([near]);
    let inv = created(&app.post("/api/v1/investigations", t, body).await);
    let case_id = created(
        &app.post("/api/v1/criminal-cases", t, json!({"investigation_id": inv, "court": "Juzgado", "case_number": "9/2024", "judicialized_date": "2024-05-10"})).await,
    );
    let defendant = created(
        &app.post(
            "/api/v1/defendants",
            t,
            json!({"criminal_case_id": case_id, "sex": "HOMBRE"}),
        )
        .await,
    );
    let sentence = created(
        &app.post("/api/v1/sentences", t, json!({"defendant_id": defendant, "crime": "LGT_ART_10", "date": "2024-11-10", "sentence_type": "ABSOLUTORIA"})).await,
    );

    let cdmx = app
        .institution("09", "Fiscalía General de Justicia de la Ciudad de México")
        .await;
    let op = app.account(Role::Operator, cdmx).await;
    let o = op.token.as_str();
    for (path, id) in [
        ("investigations", &inv),
        ("criminal-cases", &case_id),
        ("defendants", &defendant),
        ("sentences", &sentence),
    ] {
        let list = app.get(&format!("/api/v1/{path}"), o).await;
        assert_eq!(list.status, 200);
        assert_eq!(list.json["items"], json!([]), "{path}");
        app.get(&format!("/api/v1/{path}/{id}"), o)
            .await
            .assert_problem(404, "not_found");
        patch(&app, &format!("/api/v1/{path}/{id}"), o, 1, json!({}))
            .await
            .assert_problem(404, "not_found");
    }
    let events = format!("/api/v1/criminal-cases/{case_id}/events");
    app.get(&events, o).await.assert_problem(404, "not_found");
    app.post(
        &events,
        o,
        json!({"event_type": "AUDIENCIA_INICIAL", "date": "2024-05-11"}),
    )
    .await
    .assert_problem(404, "not_found");
    refused(
        &app.post("/api/v1/criminal-cases", o, json!({"investigation_id": inv, "court": "Juzgado", "case_number": "1/2024", "judicialized_date": "2024-05-10"})).await,
        "investigation_id",
        "unknown_reference",
        "no existe",
    );
    let mut theirs = investigation("CI-CDMX-1", "2024-05-02");
    theirs["entity_code"] = json!("09");
    theirs["victim_ids"] = json!([near]);
    refused(
        &app.post("/api/v1/investigations", o, theirs).await,
        "victim_ids",
        "unknown_reference",
        "no existe",
    );
    let counts = app
        .get("/api/v1/judicialization/counts?group_by=entity", o)
        .await;
    assert_eq!(counts.status, 200, "{}", counts.text());
    assert_eq!(counts.json["rows"], json!([]));
    assert_eq!(counts.json["totals"]["investigations"], 0);

    // Another institution of the same entity does not see it either.
    let ceav = app
        .institution("19", "Comisión Ejecutiva Estatal de Atención a Víctimas")
        .await;
    let neighbour = app.account(Role::Operator, ceav).await;
    app.get(&format!("/api/v1/investigations/{inv}"), &neighbour.token)
        .await
        .assert_problem(404, "not_found");
    // The entity's admin does.
    let admin = app.account(Role::EntityAdmin, ceav).await;
    assert_eq!(
        app.get(&format!("/api/v1/investigations/{inv}"), &admin.token)
            .await
            .status,
        200
    );
}

/// A fiscalía's case with `victims`, a defendant and a sentence of each
/// type given, through the API.
#[allow(clippy::too_many_arguments)]
async fn reported_case(
    app: &TestApp,
    by: &Account,
    folio: &str,
    opening: &str,
    fuero: &str,
    victims: &[Uuid],
    judicialized: Option<&str>,
    sentences: &[(&str, &str)],
) {
    let t = by.token.as_str();
    let mut body = investigation(folio, opening);
    body["entity_code"] = json!(by.entity_code);
    body["fuero"] = json!(fuero);
    body["victim_ids"] = json!(victims);
    let inv = created(&app.post("/api/v1/investigations", t, body).await);
    let Some(judicialized) = judicialized else {
        return;
    };
    let case_id = created(
        &app.post("/api/v1/criminal-cases", t, json!({"investigation_id": inv, "court": "Juzgado", "case_number": folio, "judicialized_date": judicialized})).await,
    );
    let defendant = created(
        &app.post(
            "/api/v1/defendants",
            t,
            json!({"criminal_case_id": case_id, "sex": "HOMBRE"}),
        )
        .await,
    );
    for (date, kind) in sentences {
        created(
            &app.post("/api/v1/sentences", t, json!({"defendant_id": defendant, "crime": "LGT_ART_10", "date": date, "sentence_type": kind})).await,
        );
    }
}

#[actix_web::test]
async fn counts_read_back_consistently_with_sesnsp() {
    let app = TestApp::new().await;
    let nl = app
        .institution("19", "Fiscalía General de Justicia de Nuevo León")
        .await;
    let nl_dif = app.institution("19", "DIF Nuevo León").await;
    let cdmx = app
        .institution("09", "Fiscalía General de Justicia de la Ciudad de México")
        .await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let nl_sys = app.account(Role::System, nl).await;
    let cdmx_sys = app.account(Role::System, cdmx).await;

    let girl = victim(
        &app,
        nl_dif,
        "19",
        None,
        json!({"sex": "MUJER", "birth_date": "2010-06-01"}),
    )
    .await;
    let woman = victim(
        &app,
        nl_dif,
        "19",
        None,
        json!({"sex": "MUJER", "age_at_detection": 30}),
    )
    .await;
    // Seventeen on the opening day, eighteen the next: a minor.
    let turning = victim(
        &app,
        nl,
        "19",
        None,
        json!({"sex": "HOMBRE", "birth_date": "2006-01-16"}),
    )
    .await;
    let unknown_age = victim(&app, nl, "19", None, json!({"sex": "HOMBRE"})).await;
    let cdmx_v = victim(
        &app,
        cdmx,
        "09",
        None,
        json!({"sex": "MUJER", "age_at_detection": 15}),
    )
    .await;

    // Nuevo León, fuero común: six investigations opened in January 2024,
    // one in March; two judicialized in February, one in April.
    reported_case(
        &app,
        &nl_sys,
        "NL-1",
        "2024-01-15",
        "COMUN",
        &[girl, turning],
        Some("2024-02-01"),
        &[
            ("2024-09-01", "CONDENATORIA"),
            ("2024-09-01", "ABSOLUTORIA"),
        ],
    )
    .await;
    reported_case(
        &app,
        &nl_sys,
        "NL-2",
        "2024-01-20",
        "COMUN",
        &[woman],
        Some("2024-02-10"),
        &[("2024-10-01", "CONDENATORIA")],
    )
    .await;
    for n in 3..=6 {
        reported_case(
            &app,
            &nl_sys,
            &format!("NL-{n}"),
            "2024-01-25",
            "COMUN",
            &[],
            None,
            &[],
        )
        .await;
    }
    reported_case(
        &app,
        &nl_sys,
        "NL-7",
        "2024-03-05",
        "COMUN",
        &[unknown_age],
        Some("2024-04-01"),
        &[],
    )
    .await;
    // A federal investigation and one outside the range.
    reported_case(
        &app,
        &nl_sys,
        "NL-F",
        "2024-01-15",
        "FEDERAL",
        &[girl],
        Some("2024-02-01"),
        &[],
    )
    .await;
    reported_case(
        &app,
        &nl_sys,
        "NL-OLD",
        "2023-12-31",
        "COMUN",
        &[],
        None,
        &[],
    )
    .await;
    // Ciudad de México.
    reported_case(
        &app,
        &cdmx_sys,
        "CDMX-1",
        "2024-02-11",
        "COMUN",
        &[cdmx_v],
        Some("2024-03-01"),
        &[("2024-12-01", "CONDENATORIA")],
    )
    .await;

    let range = "from=2024-01-01&to=2024-12-31&fuero=COMUN";
    let admin = app.account(Role::NationalAdmin, federal).await;
    let by_month = app
        .get(
            &format!("/api/v1/judicialization/counts?group_by=month&{range}"),
            &admin.token,
        )
        .await;
    assert_eq!(by_month.status, 200, "{}", by_month.text());
    let body = &by_month.json;
    assert_eq!(body["suppression"]["applied"], false);
    let row = |key: &str| {
        body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["month"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no row {key} in {body}"))
    };
    let months: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["month"].as_str().unwrap())
        .collect();
    assert_eq!(
        months,
        ["2024-01", "2024-02", "2024-03", "2024-04", "2024-09", "2024-10", "2024-12"]
    );
    let jan = row("2024-01");
    assert_eq!(
        jan["investigations"], 6,
        "NL-1..6; not the federal one nor December's"
    );
    assert_eq!(jan["criminal_cases"], 0);
    assert_eq!(
        jan["victims"],
        json!([
            {"sex": "HOMBRE", "age_group": "0_17", "count": 1},
            {"sex": "MUJER", "age_group": "0_17", "count": 1},
            {"sex": "MUJER", "age_group": "18_MAS", "count": 1},
        ])
    );
    let feb = row("2024-02");
    assert_eq!(feb["investigations"], 1, "CDMX-1");
    assert_eq!(feb["criminal_cases"], 2);
    assert_eq!(feb["defendants"], 2);
    assert_eq!(row("2024-03")["investigations"], 1);
    assert_eq!(row("2024-03")["criminal_cases"], 1);
    assert_eq!(
        row("2024-03")["victims"],
        json!([{"sex": "HOMBRE", "age_group": "NO_ESPECIFICADA", "count": 1}])
    );
    assert_eq!(
        row("2024-09")["sentences"],
        json!({"condenatorias": 1, "absolutorias": 1})
    );
    assert_eq!(
        row("2024-12")["sentences"],
        json!({"condenatorias": 1, "absolutorias": 0})
    );
    let totals = &body["totals"];
    assert_eq!(totals["investigations"], 8);
    assert_eq!(totals["criminal_cases"], 4);
    assert_eq!(totals["defendants"], 4);
    assert_eq!(
        totals["sentences"],
        json!({"condenatorias": 3, "absolutorias": 1})
    );
    assert_eq!(totals["partial"], json!([]));

    // By entity the same totals split by state.
    let by_entity = app
        .get(
            &format!("/api/v1/judicialization/counts?group_by=entity&{range}"),
            &admin.token,
        )
        .await;
    let rows = by_entity.json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["entity_code"], "09");
    assert_eq!(rows[0]["investigations"], 1);
    assert_eq!(
        rows[0]["victims"],
        json!([{"sex": "MUJER", "age_group": "0_17", "count": 1}])
    );
    assert_eq!(rows[1]["entity_code"], "19");
    assert_eq!(rows[1]["investigations"], 7);
    assert_eq!(rows[1]["criminal_cases"], 3);
    assert_eq!(
        rows[1]["sentences"],
        json!({"condenatorias": 2, "absolutorias": 1})
    );
    assert_eq!(by_entity.json["totals"], *totals);

    // Without the fuero filter the federal investigation counts too.
    let all = app
        .get(
            "/api/v1/judicialization/counts?from=2024-01-01&to=2024-12-31",
            &admin.token,
        )
        .await;
    assert_eq!(all.json["totals"]["investigations"], 9);
    assert_eq!(all.json["totals"]["criminal_cases"], 5);

    // Scope: the entity admin sees its entity, the fiscalía's operator its institution.
    let nl_admin = app.account(Role::EntityAdmin, nl_dif).await;
    let mine = app
        .get(
            &format!("/api/v1/judicialization/counts?group_by=entity&{range}"),
            &nl_admin.token,
        )
        .await;
    assert_eq!(mine.json["rows"].as_array().unwrap().len(), 1);
    assert_eq!(mine.json["totals"]["investigations"], 7);
    let dif_op = app.account(Role::Operator, nl_dif).await;
    let none = app
        .get(
            &format!("/api/v1/judicialization/counts?{range}"),
            &dif_op.token,
        )
        .await;
    assert_eq!(none.json["totals"]["investigations"], 0);
    let nl_op = app.account(Role::Operator, nl).await;
    let own = app
        .get(
            &format!("/api/v1/judicialization/counts?{range}"),
            &nl_op.token,
        )
        .await;
    assert_eq!(own.json["totals"]["investigations"], 7);

    // The analyst: counts of 1 to 4 withheld, totals only from what shows.
    let analyst = app.account(Role::Analyst, nl_dif).await;
    let masked = app
        .get("/api/v1/judicialization/counts?group_by=month&from=2024-01-10&to=2024-12-20&fuero=COMUN", &analyst.token)
        .await;
    assert_eq!(masked.status, 200, "{}", masked.text());
    let m = &masked.json;
    assert_eq!(m["suppression"]["applied"], true);
    assert_eq!(m["suppression"]["threshold"], 5);
    assert!(m["suppression"]["note"]["es"]
        .as_str()
        .unwrap()
        .contains("se omiten"));
    assert_eq!(
        (m["from"].as_str(), m["to"].as_str()),
        (Some("2024-01-01"), Some("2024-12-31"))
    );
    let mrow = |key: &str| {
        m["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["month"] == key)
            .cloned()
            .unwrap()
    };
    assert_eq!(mrow("2024-01")["investigations"], 6);
    assert_eq!(mrow("2024-01")["victims"][0]["count"], "<5");
    assert_eq!(mrow("2024-02")["criminal_cases"], "<5");
    assert_eq!(mrow("2024-03")["investigations"], "<5");
    assert_eq!(m["totals"]["investigations"], 6, "the March 1 is not added");
    assert_eq!(m["totals"]["criminal_cases"], 0);
    let partial = m["totals"]["partial"].as_array().unwrap();
    assert!(
        partial.contains(&json!("investigations")) && partial.contains(&json!("criminal_cases"))
    );
    let entities = app
        .get(
            "/api/v1/judicialization/counts?group_by=entity",
            &analyst.token,
        )
        .await;
    let keys: Vec<&Value> = entities.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["entity_code"])
        .collect();
    assert_eq!(keys, [&json!("19")], "another entity never shows");

    // Roles without aggregates, and bad filters.
    let sys_counts = app
        .get("/api/v1/judicialization/counts", &nl_sys.token)
        .await;
    sys_counts.assert_problem(403, "forbidden");
    let auditor = app.account(Role::Auditor, federal).await;
    app.get("/api/v1/judicialization/counts", &auditor.token)
        .await
        .assert_problem(403, "forbidden");
    for bad in [
        "group_by=week",
        "from=2024-13-01",
        "fuero=MILITAR",
        "from=2024-05-01&to=2024-04-01",
    ] {
        app.get(
            &format!("/api/v1/judicialization/counts?{bad}"),
            &admin.token,
        )
        .await
        .assert_problem(422, "validation_failed");
    }
}
