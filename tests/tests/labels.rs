//! Label overrides ("ajuste de etiquetas"): the national admin adjusts a
//! field's label, help and order without a release, and every place a
//! label shows follows: the published form, templates (which still import),
//! exports and error messages; keys never change. Audited and versioned.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::labels::{effective, LabelOverride};
use sintra_domain::forms::FormKey;
use sintra_excel::columns::template_columns;
use sintra_excel::Lang;
use sintra_tests::excel::{calamine_first_sheet, filled, filled_with, sheet_rows, upload};
use sintra_tests::{Account, Answer, TestApp};

const SEX_ES: &str = "Sexo asignado al nacer";
const SEX_EN: &str = "Sex assigned at birth";
const HELP_ES: &str = "Según el acta de nacimiento o el documento que se presente.";

fn sex_override() -> LabelOverride {
    LabelOverride {
        field: "sex".into(),
        label_es: Some(SEX_ES.into()),
        label_en: Some(SEX_EN.into()),
        help_es: Some(HELP_ES.into()),
        position: Some(2),
        ..Default::default()
    }
}

fn ana(folio: &str) -> Value {
    json!({"external_folio": folio, "condition": "VICTIMA", "given_names": "Ana", "first_surname": "López",
           "sex": "MUJER", "detection_date": "2024-01-10", "detection_entity_code": "19"})
}

async fn send(
    app: &TestApp,
    who: &Account,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let auth = format!("Bearer {}", who.token);
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(v) = if_match {
        headers.push(("if-match", v));
    }
    let raw = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    if !raw.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    app.call_raw(method, path, &headers, raw).await
}

const SEX_LABEL: &str = "/api/v1/forms/victim/fields/sex/label";

fn header_row(bytes: &[u8], sheet: &str) -> Vec<String> {
    sheet_rows(bytes, sheet)[0]
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[actix_web::test]
async fn an_override_shows_everywhere_imports_still_match_and_it_is_versioned() {
    let app = TestApp::new().await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let nl = app.institution("19", "CEAV Nuevo León").await;
    let op = app.account(Role::Operator, nl).await;

    // Before: the built-in label, version 0.
    let before = app.get("/api/v1/forms/victim/labels", &admin.token).await;
    assert_eq!(before.status, 200, "{}", before.text());
    let sex = |v: &Value| {
        v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == "sex")
            .cloned()
            .unwrap()
    };
    assert_eq!(sex(&before.json)["version"], 0);
    assert_eq!(sex(&before.json)["current"]["label"]["es"], "Sexo");
    assert_eq!(sex(&before.json)["overridden"], Value::Null);
    let built_in_position = sex(&before.json)["built_in"]["position"].as_i64().unwrap();
    assert!(built_in_position > 2);

    // Set it: If-Match is required and must be the field's version.
    let body = json!({"label_es": SEX_ES, "label_en": SEX_EN, "help_es": HELP_ES, "position": 2});
    send(
        &app,
        &admin,
        Method::PUT,
        SEX_LABEL,
        None,
        Some(body.clone()),
    )
    .await
    .assert_problem(428, "if_match_required");
    send(
        &app,
        &admin,
        Method::PUT,
        SEX_LABEL,
        Some("\"3\""),
        Some(body.clone()),
    )
    .await
    .assert_problem(412, "stale_version");
    let set = send(
        &app,
        &admin,
        Method::PUT,
        SEX_LABEL,
        Some("\"0\""),
        Some(body),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.header("etag"), Some("\"1\""));
    assert_eq!(set.json["version"], 1);
    assert_eq!(
        set.json["current"]["label"],
        json!({"es": SEX_ES, "en": SEX_EN})
    );
    assert_eq!(set.json["current"]["help"]["es"], HELP_ES);
    assert_eq!(set.json["current"]["position"], 2);
    assert_eq!(set.json["built_in"]["label"]["es"], "Sexo");
    assert_eq!(set.json["overridden"]["label_es"], SEX_ES);

    // The published form shows it, at its new place; keys stay as they were.
    let form = app.get("/api/v1/forms/victim", &op.token).await;
    assert_eq!(form.status, 200);
    let fields = form.json["fields"].as_array().unwrap();
    assert_eq!(fields[1]["key"], "sex");
    assert_eq!(fields[1]["label"], json!({"es": SEX_ES, "en": SEX_EN}));
    assert_eq!(fields[1]["help"]["es"], HELP_ES);
    assert_eq!(fields[1]["type"], "catalog");
    let mut keys: Vec<&str> = fields.iter().map(|f| f["key"].as_str().unwrap()).collect();
    let mut built_in: Vec<&str> = FormKey::Victim
        .spec()
        .fields
        .iter()
        .map(|f| f.key)
        .collect();
    keys.sort_unstable();
    built_in.sort_unstable();
    assert_eq!(keys, built_in);
    let all = app.get("/api/v1/forms", &op.token).await;
    let victim = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["form"] == "victim")
        .unwrap();
    assert_eq!(victim["fields"][1]["label"]["es"], SEX_ES);
    // Other forms are untouched.
    let attention = app.get("/api/v1/forms/attention", &op.token).await;
    assert_eq!(
        serde_json::to_value(FormKey::Attention.spec()).unwrap()["fields"],
        attention.json["fields"]
    );

    // The template carries it: header, place, and help in the instructions.
    let spec = effective(FormKey::Victim, &[sex_override()]);
    let template = app.get("/api/v1/excel/templates/victim", &op.token).await;
    assert_eq!(template.status, 200, "{}", template.text());
    let headers = header_row(&template.body, "Datos");
    assert_eq!(headers[1], SEX_ES, "{headers:?}");
    assert!(!headers.contains(&"Sexo".to_string()));
    let expected: Vec<String> = template_columns(spec)
        .iter()
        .map(|c| c.header(Lang::Es))
        .collect();
    assert_eq!(headers, expected);
    let instructions: String = sheet_rows(&template.body, "Instrucciones")
        .iter()
        .flatten()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("|");
    assert!(instructions.contains(SEX_ES) && instructions.contains(HELP_ES));
    let english = app
        .call_raw(
            Method::GET,
            "/api/v1/excel/templates/victim",
            &[
                ("authorization", &format!("Bearer {}", op.token)),
                ("accept-language", "en"),
            ],
            vec![],
        )
        .await;
    let data_en = header_row(&english.body, "Data");
    assert!(data_en.contains(&SEX_EN.to_string()), "{data_en:?}");

    // Filled in with the headers it carries, it imports.
    let book = filled_with(spec, &[ana("L-1")]);
    assert_eq!(header_row(&book, "Datos"), expected);
    let res = upload(&app, &op, "victim", false, &book).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["rows_created"], 1, "{}", res.text());
    // So does a workbook with the built-in headers.
    let old = upload(
        &app,
        &op,
        "victim",
        true,
        &filled(FormKey::Victim, &[ana("L-2")]),
    )
    .await;
    assert_eq!(old.status, 200, "{}", old.text());
    assert_eq!(old.json["rows_valid"], 1, "{}", old.text());
    // An import's errors name the field by its label in force.
    let mut bad = ana("L-3");
    bad["sex"] = json!(null);
    let rejected = upload(&app, &op, "victim", false, &filled_with(spec, &[bad])).await;
    rejected.assert_problem(422, "import_rejected");
    let error = rejected.json["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "sex")
        .cloned()
        .unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(SEX_ES), "{message}");

    // The export's header carries it.
    let export = app.get("/api/v1/excel/exports/victim", &op.token).await;
    assert_eq!(export.status, 200, "{}", export.text());
    let headers = header_row(&export.body, &calamine_first_sheet(&export.body));
    assert!(headers.contains(&SEX_ES.to_string()), "{headers:?}");
    assert!(!headers.contains(&"Sexo".to_string()), "{headers:?}");

    // An API error names the field by its label in force, in both languages.
    let mut missing = ana("L-4");
    missing.as_object_mut().unwrap().remove("sex");
    let res = app
        .post("/api/v1/victims", &op.token, missing.clone())
        .await;
    res.assert_problem(422, "validation_failed");
    let error = &res.json["errors"][0];
    assert_eq!(error["field"], "sex", "{}", res.text());
    let message = error.to_string();
    assert!(message.contains(&format!("«{SEX_ES}»")), "{message}");
    let en = app
        .call_raw(
            Method::POST,
            "/api/v1/victims",
            &[
                ("authorization", &format!("Bearer {}", op.token)),
                ("accept-language", "en"),
                ("content-type", "application/json"),
            ],
            missing.to_string().into_bytes(),
        )
        .await;
    assert!(
        en.text().contains(&format!("\\\"{SEX_EN}\\\"")),
        "{}",
        en.text()
    );

    // Audited, with the change.
    let events = app
        .get("/api/v1/audit/events?action=relabel", &admin.token)
        .await;
    assert_eq!(events.status, 200, "{}", events.text());
    let items = events.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.text());
    assert_eq!(items[0]["resource_type"], "form_label");
    assert_eq!(items[0]["resource_id"], "victim/sex");
    assert_eq!(items[0]["changes"]["label"]["before"], Value::Null);
    assert_eq!(items[0]["changes"]["label"]["after"]["label_es"], SEX_ES);

    // A second version; the history keeps both, with what came before.
    let second = send(
        &app,
        &admin,
        Method::PUT,
        SEX_LABEL,
        Some("\"1\""),
        Some(json!({"label_es": "Sexo registrado"})),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.json["version"], 2);
    // A PUT replaces the override: what it leaves out is built-in again.
    assert_eq!(second.json["current"]["label"]["en"], "Sex");
    assert_eq!(second.json["current"]["position"], built_in_position);
    let listed = app.get("/api/v1/forms/victim/labels", &admin.token).await;
    let history = listed.json["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{}", listed.text());
    assert_eq!(history[0]["version"], 1);
    assert_eq!(history[0]["label_es"], SEX_ES);
    assert_eq!(history[0]["previous"], Value::Null);
    assert_eq!(history[1]["version"], 2);
    assert_eq!(history[1]["previous"]["label_es"], SEX_ES);
    assert_eq!(history[1]["changed_by_username"], admin.username.as_str());
    assert_eq!(sex(&listed.json)["version"], 2);

    // Taken back: the built-in label, a version of its own.
    send(&app, &admin, Method::DELETE, SEX_LABEL, Some("\"1\""), None)
        .await
        .assert_problem(412, "stale_version");
    let reset = send(&app, &admin, Method::DELETE, SEX_LABEL, Some("\"2\""), None).await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    assert_eq!(reset.json["version"], 3);
    assert_eq!(reset.json["current"]["label"]["es"], "Sexo");
    assert_eq!(reset.json["overridden"], Value::Null);
    let form = app.get("/api/v1/forms/victim", &op.token).await;
    assert_eq!(
        form.json["fields"],
        serde_json::to_value(FormKey::Victim.spec()).unwrap()["fields"]
    );
    let history = app
        .get("/api/v1/forms/victim/labels", &admin.token)
        .await
        .json["history"]
        .clone();
    assert_eq!(history.as_array().unwrap().len(), 3);
    assert_eq!(history[2]["action"], "reset");
    assert_eq!(history[2]["previous"]["label_es"], "Sexo registrado");
    // Nothing left to take back.
    send(&app, &admin, Method::DELETE, SEX_LABEL, Some("\"3\""), None)
        .await
        .assert_problem(404, "not_found");
    let events = app
        .get("/api/v1/audit/events?action=relabel", &admin.token)
        .await;
    assert_eq!(events.json["items"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn only_the_national_admin_changes_labels_and_bad_ones_are_refused() {
    let app = TestApp::new().await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let nl = app.institution("19", "CEAV Nuevo León").await;
    let body = json!({"label_es": "Otra etiqueta"});
    for role in [
        Role::EntityAdmin,
        Role::Operator,
        Role::Analyst,
        Role::Auditor,
    ] {
        let who = app.account(role, nl).await;
        app.get("/api/v1/forms/victim/labels", &who.token)
            .await
            .assert_problem(403, "forbidden");
        send(
            &app,
            &who,
            Method::PUT,
            SEX_LABEL,
            Some("\"0\""),
            Some(body.clone()),
        )
        .await
        .assert_problem(403, "forbidden");
        send(&app, &who, Method::DELETE, SEX_LABEL, Some("\"0\""), None)
            .await
            .assert_problem(403, "forbidden");
    }

    // Unknown form or field.
    let put = |path: &'static str, body: Value| {
        let (app, admin) = (&app, &admin);
        async move { send(app, admin, Method::PUT, path, Some("\"0\""), Some(body)).await }
    };
    put("/api/v1/forms/victim/fields/shoe_size/label", body.clone())
        .await
        .assert_problem(404, "not_found");
    put("/api/v1/forms/spaceship/fields/sex/label", body.clone())
        .await
        .assert_problem(404, "not_found");
    app.get("/api/v1/forms/spaceship/labels", &admin.token)
        .await
        .assert_problem(404, "not_found");

    // Bounded, one line, not another column's name, and something to set.
    let refused = |res: Answer, field: &str, code: &str| {
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.json["errors"][0]["field"], field, "{}", res.text());
        assert_eq!(res.json["errors"][0]["code"], code, "{}", res.text());
    };
    refused(
        put(SEX_LABEL, json!({"label_es": "x".repeat(121)})).await,
        "label_es",
        "too_long",
    );
    refused(
        put(SEX_LABEL, json!({"label_en": "two\nlines"})).await,
        "label_en",
        "invalid_format",
    );
    refused(
        put(SEX_LABEL, json!({"label_es": "nacionalidad"})).await,
        "label_es",
        "label_taken",
    );
    refused(
        put(SEX_LABEL, json!({"position": 0})).await,
        "position",
        "out_of_range",
    );
    refused(put(SEX_LABEL, json!({})).await, "label_es", "required");
    let message = put(SEX_LABEL, json!({"label_es": "   "})).await.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("no puede estar vacío"),
        "Spanish by default: {message}"
    );
    put(SEX_LABEL, json!({"label_es": "Sexo\u{7}"}))
        .await
        .assert_problem(400, "control_characters");
    refused(
        put(SEX_LABEL, json!({"color": "rojo"})).await,
        "color",
        "unknown_field",
    );
    // Nothing of it was stored.
    let listed = app.get("/api/v1/forms/victim/labels", &admin.token).await;
    assert_eq!(listed.json["history"], json!([]));
}

#[actix_web::test]
async fn imports_validated_by_the_built_in_spec_name_fields_by_the_labels_in_force() {
    let app = TestApp::new().await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let renamed = "Nombre del elemento en español";
    let res = send(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/forms/catalog_item/fields/label_es/label",
        Some("\"0\""),
        Some(json!({"label_es": renamed})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Catalog items are checked by their own rules (not the records'
    // preparation): their report too names the field as the form shows it.
    let o = LabelOverride {
        field: "label_es".into(),
        label_es: Some(renamed.into()),
        ..Default::default()
    };
    let spec = effective(FormKey::CatalogItem, &[o]);
    let file = filled_with(
        spec,
        &[json!({"catalog": "detection_source", "code": "NUEVA_FUENTE", "label_en": "New source"})],
    );
    let res = upload(&app, &admin, "catalog_item", true, &file).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let errors = res.json["errors"].as_array().unwrap();
    let error = errors.iter().find(|e| e["field"] == "label_es").unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&format!("«{renamed}»")), "{message}");
    assert!(!message.contains("«Etiqueta en español»"), "{message}");
}
