//! Victims, attentions and duplicate warnings, as operators and state
//! systems use them.

use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};

fn maria() -> Value {
    json!({
        "condition": "VICTIMA",
        "given_names": "María Guadalupe",
        "first_surname": "Hernández",
        "second_surname": "de la Cruz",
        "sex": "MUJER",
        "birth_date": "1999-04-12",
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_municipality_code": "19039",
        "detection_source": "DENUNCIA",
        "exploitation_forms": ["EXPLOTACION_SEXUAL"]
    })
}

async fn operator(app: &TestApp, entity: &str, name: &str) -> Account {
    let inst = app.institution(entity, name).await;
    app.account(Role::Operator, inst).await
}

async fn count_victims(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sintra_persistence::schema::records::dsl as r;
    let mut conn = app.db.owner_conn().await;
    r::records
        .filter(r::form.eq("victim"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_person_is_registered_read_with_an_audit_row_and_kept_from_analysts() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let res = app.post("/api/v1/victims", &op.token, maria()).await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json["warnings"], json!([]));
    let data = &res.json["data"];
    assert_eq!(data["given_names"], "María Guadalupe");
    assert_eq!(data["entity_code"], "19");
    let id = data["id"].as_str().unwrap().to_string();

    let read = app.get(&format!("/api/v1/victims/{id}"), &op.token).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["first_surname"], "Hernández");
    let events = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use sintra_persistence::schema::audit_events::dsl as a;
        let mut conn = app.db.owner_conn().await;
        a::audit_events
            .filter(a::action.eq("read"))
            .filter(a::resource_type.eq("victim"))
            .filter(a::resource_id.eq(&id))
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(events, 1, "reading a person writes an access row");

    let analyst = app.account(Role::Analyst, op.institution_id).await;
    app.get("/api/v1/victims", &analyst.token)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/victims/{id}"), &analyst.token)
        .await
        .assert_problem(403, "forbidden");

    // Filters: by municipio, form of exploitation, detection date range.
    for (q, n) in [
        ("detection_municipality_code=19039", 1),
        ("detection_municipality_code=19026", 0),
        ("exploitation_forms=explotacion_sexual", 1),
        ("exploitation_forms=EXPLOTACION_LABORAL", 0),
        (
            "detection_date_from=2024-01-01&detection_date_to=2024-12-31",
            1,
        ),
        ("detection_date_from=2025-01-01", 0),
        ("sex=MUJER&condition=VICTIMA", 1),
        ("age_group=18_MAS", 1),
        ("age_group=0_17", 0),
        ("age_group=18_24", 1),
        ("age_group=25_29", 0),
    ] {
        let page = app.get(&format!("/api/v1/victims?{q}"), &op.token).await;
        assert_eq!(
            page.json["items"].as_array().unwrap().len(),
            n,
            "{q}: {}",
            page.text()
        );
    }
    // Names are not a list filter: personal data stays out of query strings.
    app.get("/api/v1/victims?first_surname=Hernandez", &op.token)
        .await
        .assert_problem(422, "validation_failed");

    // An attention for the person; a municipio of another entity is refused.
    let att = app
        .post(
            "/api/v1/attentions",
            &op.token,
            json!({"victim_id": id, "date": "2024-02-11", "service": "PSICOLOGICA"}),
        )
        .await;
    assert_eq!(att.status, 201, "{}", att.text());
    let mut wrong = maria();
    wrong["detection_municipality_code"] = json!("09015");
    let res = app.post("/api/v1/victims", &op.token, wrong).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(
        res.json["errors"][0]["field"],
        "detection_municipality_code"
    );
}

#[actix_web::test]
async fn duplicates_are_warned_with_level_score_and_comparison() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let first = app.post("/api/v1/victims", &op.token, maria()).await;
    let first_id = first.json["data"]["id"].as_str().unwrap().to_string();

    // The same woman as another record would write her: no accents, no
    // particles, an age instead of a birth date.
    let mut copy = maria();
    copy["given_names"] = json!("MARIA GUADALUPE");
    copy["first_surname"] = json!("HERNANDEZ");
    copy["second_surname"] = json!("CRUZ");
    copy.as_object_mut().unwrap().remove("birth_date");
    copy["age_at_detection"] = json!(24);
    let second = app.post("/api/v1/victims", &op.token, copy).await;
    assert_eq!(second.status, 201, "{}", second.text());
    let warnings = second.json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", second.text());
    let w = &warnings[0];
    assert_eq!(w["code"], "possible_duplicate");
    assert_eq!(w["level"], "probable", "{w}");
    assert!(w["score"].as_f64().unwrap() >= 0.9);
    assert_eq!(w["candidate"]["id"], first_id.as_str());
    assert_eq!(w["candidate"]["institution"], "CEAV Nuevo León");
    assert_eq!(w["comparison"]["given_names"], "match");
    assert_eq!(w["comparison"]["curp"], "blank");

    // A draft is checked without being saved.
    let before = count_victims(&app).await;
    let check = app
        .post("/api/v1/victims/duplicate-check", &op.token, maria())
        .await;
    assert_eq!(check.status, 200, "{}", check.text());
    assert_eq!(check.json["warnings"].as_array().unwrap().len(), 2);
    assert_eq!(count_victims(&app).await, before);

    // Asked to refuse duplicates: 409 with the candidates, nothing stored.
    let refused = app
        .post("/api/v1/victims?on_duplicate=reject", &op.token, maria())
        .await;
    refused.assert_problem(409, "duplicate_refused");
    assert_eq!(refused.json["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(count_victims(&app).await, before);

    // A different person is not warned about.
    let mut other = maria();
    other["given_names"] = json!("Juan Carlos");
    other["sex"] = json!("HOMBRE");
    other["birth_date"] = json!("1980-01-01");
    let res = app.post("/api/v1/victims", &op.token, other).await;
    assert_eq!(res.json["warnings"], json!([]), "{}", res.text());
}

#[actix_web::test]
async fn a_duplicate_in_another_entity_reveals_no_personal_data() {
    let app = TestApp::new().await;
    let cdmx = operator(
        &app,
        "09",
        "Fiscalía General de Justicia de la Ciudad de México",
    )
    .await;
    let nl = operator(&app, "19", "CEAV Nuevo León").await;
    let mut theirs = maria();
    theirs["curp"] = json!("HECM990412MNLRRR00");
    theirs["detection_entity_code"] = json!("09");
    theirs["detection_municipality_code"] = json!("09015");
    theirs["alias"] = json!("La Güera");
    let stored = app.post("/api/v1/victims", &cdmx.token, theirs).await;
    assert_eq!(stored.status, 201, "{}", stored.text());
    let their_id = stored.json["data"]["id"].as_str().unwrap().to_string();

    let mut mine = maria();
    mine["birth_date"] = json!("1999-04-12");
    let res = app.post("/api/v1/victims", &nl.token, mine).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let w = &res.json["warnings"][0];
    assert!(
        matches!(w["level"].as_str(), Some("probable" | "exact")),
        "{w}"
    );
    assert_eq!(
        w["candidate"],
        json!({"entity_code": "09", "institution": "Fiscalía General de Justicia de la Ciudad de México"})
    );
    assert_eq!(w["comparison"], Value::Null);
    let text = res.text();
    for secret in [their_id.as_str(), "HECM990412MNLRRR00", "La Güera", "09015"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // Nor can NL read it, list it, or decide on the pair.
    app.get(&format!("/api/v1/victims/{their_id}"), &nl.token)
        .await
        .assert_problem(404, "not_found");
    let pairs = app.get("/api/v1/duplicates", &nl.token).await;
    assert_eq!(pairs.json["items"].as_array().unwrap().len(), 0);

    // The national admin lists the open pair and dismisses it: not raised again.
    let federal = app.institution("00", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let pairs = app.get("/api/v1/duplicates", &admin.token).await;
    let items = pairs.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", pairs.text());
    let pair_id = items[0]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/duplicates/{pair_id}/dismiss"),
        &nl.token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let dismissed = app
        .post(
            &format!("/api/v1/duplicates/{pair_id}/dismiss"),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(dismissed.status, 200, "{}", dismissed.text());
    assert_eq!(dismissed.json["status"], "dismissed");
    assert_eq!(
        app.get("/api/v1/duplicates", &admin.token).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let my_id = res.json["data"]["id"].as_str().unwrap();
    let auth = format!("Bearer {}", nl.token);
    let again = app
        .call_raw(
            actix_web::http::Method::PATCH,
            &format!("/api/v1/victims/{my_id}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("if-match", "\"1\""),
            ],
            br#"{"alias": "Lupita"}"#.to_vec(),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        again.json["warnings"],
        json!([]),
        "a dismissed pair is not raised again"
    );
}

#[actix_web::test]
async fn the_same_curp_is_an_exact_duplicate() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let mut a = maria();
    a["curp"] = json!("HECM990412MNLRRR00");
    app.post("/api/v1/victims", &op.token, a).await;
    let b = json!({"condition": "POSIBLE_VICTIMA", "given_names": "Guadalupe", "first_surname": "Cruz", "curp": "hecm990412mnlrrr00", "sex": "MUJER", "detection_date": "2024-03-01", "detection_entity_code": "19"});
    let res = app.post("/api/v1/victims", &op.token, b).await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json["warnings"][0]["level"], "exact");
    assert_eq!(res.json["warnings"][0]["comparison"]["curp"], "match");
    // An invalid CURP is refused with its reason.
    let mut bad = maria();
    bad["curp"] = json!("HECM990412MNLRRR01");
    let res = app.post("/api/v1/victims", &op.token, bad).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.json["errors"][0]["code"], "curp_check_digit");
    assert!(
        !res.text().contains("HECM990412MNLRRR01"),
        "the CURP is not echoed"
    );
}
