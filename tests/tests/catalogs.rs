//! Catalog administration and the published form specs.

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};

async fn setup() -> (TestApp, Account, Account) {
    let app = TestApp::new().await;
    let federal = app.institution("00", "Secretaría Técnica").await;
    let nl = app.institution("19", "CEAV NL").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    let op = app.account(Role::Operator, nl).await;
    (app, admin, op)
}

#[actix_web::test]
async fn every_catalog_the_forms_name_is_seeded_with_real_values() {
    let (app, _, op) = setup().await;
    let list = app.get("/api/v1/catalogs", &op.token).await;
    assert_eq!(list.status, 200);
    let catalogs = list.json.as_array().unwrap();
    for def in sintra_domain::forms::CATALOGS.iter() {
        let found = catalogs.iter().find(|c| c["code"] == def.code);
        let count = found
            .map(|c| c["item_count"].as_i64().unwrap())
            .unwrap_or(0);
        assert!(count > 0, "catalog {} is seeded", def.code);
    }
    let count = |code: &str| {
        catalogs.iter().find(|c| c["code"] == code).unwrap()["item_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(count("municipality"), 2478);
    assert_eq!(count("entity"), 32);
    assert_eq!(count("exploitation_form"), 11, "art. 10, fractions I–XI");

    let nl = app
        .get(
            "/api/v1/catalogs/municipality/items?parent_code=19&limit=500",
            &op.token,
        )
        .await;
    assert_eq!(
        nl.json["items"].as_array().unwrap().len(),
        51,
        "Nuevo León has 51 municipios"
    );
    let monterrey = app
        .get("/api/v1/catalogs/municipality/items/19039", &op.token)
        .await;
    assert_eq!(monterrey.json["label_es"], "Monterrey");
    assert_eq!(monterrey.json["parent_code"], "19");

    let search = app
        .get("/api/v1/catalogs/entity/items?q=nuevo%20leon", &op.token)
        .await;
    let items = search.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", search.text());
    assert_eq!(items[0]["code"], "19");
    app.get("/api/v1/catalogs/no_existe/items", &op.token)
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn an_unchanged_catalog_answers_304() {
    let (app, admin, op) = setup().await;
    let first = app.get("/api/v1/catalogs/sex/items", &op.token).await;
    let tag = first.header("etag").unwrap().to_string();
    let auth = format!("Bearer {}", op.token);
    let again = app
        .call_raw(
            Method::GET,
            "/api/v1/catalogs/sex/items",
            &[("authorization", &auth), ("if-none-match", &tag)],
            vec![],
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // A change to the catalog changes the tag.
    let res = app
        .post(
            "/api/v1/catalogs/sex/items",
            &admin.token,
            json!({"code": "OTRO", "label_es": "Otro", "label_en": "Other"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let after = app
        .call_raw(
            Method::GET,
            "/api/v1/catalogs/sex/items",
            &[("authorization", &auth), ("if-none-match", &tag)],
            vec![],
        )
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag").unwrap(), tag);
}

#[actix_web::test]
async fn the_national_admin_administers_items_and_codes_never_change() {
    let (app, admin, op) = setup().await;
    let created = app
        .post(
            "/api/v1/catalogs/detection_source/items",
            &admin.token,
            json!({"code": "redes_sociales", "label_es": "Redes sociales", "label_en": "Social media", "sort_order": 5}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json["code"], "REDES_SOCIALES");
    assert_eq!(created.json["active"], true);

    // Only the national admin.
    let res = app
        .post(
            "/api/v1/catalogs/detection_source/items",
            &op.token,
            json!({"code": "X", "label_es": "X", "label_en": "X"}),
        )
        .await;
    res.assert_problem(403, "forbidden");
    // The same code again.
    app.post(
        "/api/v1/catalogs/detection_source/items",
        &admin.token,
        json!({"code": "REDES_SOCIALES", "label_es": "Otra", "label_en": "Other"}),
    )
    .await
    .assert_problem(409, "code_taken");
    // A malformed code, a missing label.
    let bad = app
        .post(
            "/api/v1/catalogs/detection_source/items",
            &admin.token,
            json!({"code": "con espacios", "label_es": "", "label_en": "x"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = bad.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"code") && fields.contains(&"label_es"),
        "{fields:?}"
    );
    // A hierarchical item needs an existing parent.
    let orphan = app
        .post(
            "/api/v1/catalogs/municipality/items",
            &admin.token,
            json!({"code": "99001", "label_es": "Nuevo", "label_en": "New", "parent_code": "99"}),
        )
        .await;
    orphan.assert_problem(422, "validation_failed");
    assert_eq!(orphan.json["errors"][0]["field"], "parent_code");

    // Rename with the version; the code cannot be changed at all.
    let auth = format!("Bearer {}", admin.token);
    let patch = |body: &'static str, version: &'static str| {
        let app = &app;
        let auth = auth.clone();
        async move {
            app.call_raw(
                Method::PATCH,
                "/api/v1/catalogs/detection_source/items/REDES_SOCIALES",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                    ("if-match", version),
                ],
                body.as_bytes().to_vec(),
            )
            .await
        }
    };
    let renamed = patch(r#"{"label_es": "Redes sociales digitales"}"#, "\"1\"").await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json["label_es"], "Redes sociales digitales");
    patch(r#"{"label_es": "Otra vez"}"#, "\"1\"")
        .await
        .assert_problem(412, "stale_version");
    let recode = patch(r#"{"code": "OTRA"}"#, "\"2\"").await;
    recode.assert_problem(422, "validation_failed");
    assert_eq!(recode.json["errors"][0]["code"], "unknown_field");

    // Audited.
    let events = app
        .get("/api/v1/audit/events?resource_type=catalog_item&resource_id=detection_source/REDES_SOCIALES", &admin.token)
        .await;
    let actions: Vec<&str> = events.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["update", "create"]);
}

#[actix_web::test]
async fn a_deactivated_code_is_refused_in_new_records_and_kept_in_old_ones() {
    let (app, admin, _) = setup().await;
    let old = app
        .post("/api/v1/institutions", &admin.token, json!({"entity_code": "19", "name": "Consulado en NL", "institution_type": "CONSULADO"}))
        .await;
    assert_eq!(old.status, 201, "{}", old.text());
    let item = app
        .get(
            "/api/v1/catalogs/institution_type/items/CONSULADO",
            &admin.token,
        )
        .await;
    let version = item.header("etag").unwrap().to_string();
    let auth = format!("Bearer {}", admin.token);
    let off = app
        .call_raw(
            Method::PATCH,
            "/api/v1/catalogs/institution_type/items/CONSULADO",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("if-match", &version),
            ],
            br#"{"active": false}"#.to_vec(),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text());
    assert_eq!(off.json["active"], false);

    let new = app
        .post(
            "/api/v1/institutions",
            &admin.token,
            json!({"entity_code": "19", "name": "Otro consulado", "institution_type": "CONSULADO"}),
        )
        .await;
    new.assert_problem(422, "validation_failed");
    assert_eq!(new.json["errors"][0]["code"], "inactive_code");
    let kept = app
        .get(
            &format!("/api/v1/institutions/{}", old.json["id"].as_str().unwrap()),
            &admin.token,
        )
        .await;
    assert_eq!(kept.json["institution_type"], "CONSULADO");
    // Still readable in the catalog, marked inactive, and filterable.
    let active_only = app
        .get(
            "/api/v1/catalogs/institution_type/items?active=true&limit=500",
            &admin.token,
        )
        .await;
    assert!(!active_only.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["code"] == "CONSULADO"));
    let events = app
        .get(
            "/api/v1/audit/events?action=deactivate&resource_type=catalog_item",
            &admin.token,
        )
        .await;
    assert_eq!(events.json["items"][0]["changes"]["active"]["after"], false);
}

#[actix_web::test]
async fn form_specs_are_published() {
    let (app, _, op) = setup().await;
    let all = app.get("/api/v1/forms", &op.token).await;
    assert_eq!(all.status, 200);
    let keys: Vec<&str> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["form"].as_str().unwrap())
        .collect();
    for form in [
        "commission",
        "session",
        "agreement",
        "victim",
        "attention",
        "investigation",
        "criminal_case",
        "defendant",
        "sentence",
        "catalog_item",
        "user",
    ] {
        assert!(keys.contains(&form), "{form} published");
    }
    let victim = app.get("/api/v1/forms/victim", &op.token).await;
    assert_eq!(victim.json["label"]["es"], "Víctima o posible víctima");
    let field = |k: &str| {
        victim.json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(field("curp")["type"], "curp");
    assert_eq!(field("curp")["personal"], true);
    assert_eq!(field("sex")["catalog"], "sex");
    assert_eq!(field("sex")["personal"], false);
    assert_eq!(
        field("detection_municipality_code")["parent_field"],
        "detection_entity_code"
    );
    assert_eq!(victim.json["schema"]["additionalProperties"], false);
    app.get("/api/v1/forms/nada", &op.token)
        .await
        .assert_problem(404, "not_found");
}
