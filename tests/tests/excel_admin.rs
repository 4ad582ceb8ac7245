//! Excel for the administration forms, as administrators use it: the
//! national admin loads catalog items from a workbook, an entity admin
//! loads its entity's user accounts, and both export them back.

use std::io::Cursor;

use actix_web::http::Method;
use calamine::{open_workbook_auto_from_rs, Reader};
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_tests::excel::{assert_template_of, export_rows, filled, sheet_rows, upload};
use sintra_tests::{Account, Answer, TestApp};

/// The (row, field, code) of each error of a report.
fn errors_of(res: &Answer) -> Vec<(u64, String, String)> {
    let report = if res.json["errors"].is_array() {
        &res.json
    } else {
        &res.json["report"]
    };
    report["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {}", res.text()))
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap_or_default().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Asserts that a refused import's errors are exactly these (row, field,
/// code), in any order.
fn assert_errors(res: &Answer, expected: &[(u64, &str, &str)]) {
    let mut found = errors_of(res);
    found.sort();
    let mut expected: Vec<(u64, String, String)> = expected
        .iter()
        .map(|(r, f, c)| (*r, f.to_string(), c.to_string()))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

async fn items(app: &TestApp, who: &Account, catalog: &str, q: &str) -> Vec<Value> {
    let res = app
        .get(
            &format!("/api/v1/catalogs/{catalog}/items?q={q}&limit=500"),
            &who.token,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json["items"].as_array().unwrap().clone()
}

/// The audit log's events, as a national auditor reads them.
async fn audit_events(app: &TestApp, query: &str) -> Vec<Value> {
    let federal = app.institution("00", &format!("Auditoría {query}")).await;
    let auditor = app.account(Role::Auditor, federal).await;
    let res = app
        .get(
            &format!("/api/v1/audit/events?{query}&limit=200"),
            &auditor.token,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json["items"].as_array().unwrap().clone()
}

async fn national_admin(app: &TestApp) -> Account {
    let federal = app.institution("00", "Secretaría Técnica").await;
    app.account(Role::NationalAdmin, federal).await
}

#[actix_web::test]
async fn templates_of_the_administration_forms_are_for_their_administrators() {
    let app = TestApp::new().await;
    let national = national_admin(&app).await;
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let entity_admin = app.account(Role::EntityAdmin, inst).await;
    let operator = app.account(Role::Operator, inst).await;
    for (form, who) in [
        (FormKey::CatalogItem, &national),
        (FormKey::User, &national),
        (FormKey::User, &entity_admin),
    ] {
        let res = app
            .get(
                &format!("/api/v1/excel/templates/{}", form.as_str()),
                &who.token,
            )
            .await;
        assert_eq!(res.status, 200, "{}: {}", form.as_str(), res.text());
        assert_template_of(form, &res.body);
    }
    // The user template offers the institutions of the admin's entity.
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let res = app
        .get("/api/v1/excel/templates/user", &entity_admin.token)
        .await;
    let lists: Vec<String> = sheet_rows(&res.body, "Catálogos")
        .into_iter()
        .flatten()
        .map(|c| c.to_string())
        .collect();
    assert!(
        lists.contains(&format!("{inst} — CEAV Nuevo León (19)")),
        "{lists:?}"
    );
    assert!(!lists.iter().any(|l| l.contains(&cdmx.to_string())));
    for (path, who) in [
        ("catalog_item", &entity_admin),
        ("catalog_item", &operator),
        ("user", &operator),
    ] {
        app.get(&format!("/api/v1/excel/templates/{path}"), &who.token)
            .await
            .assert_problem(403, "forbidden");
    }
}

#[actix_web::test]
async fn the_national_admin_loads_catalog_items_from_a_workbook() {
    let app = TestApp::new().await;
    let national = national_admin(&app).await;
    let file = filled(
        FormKey::CatalogItem,
        &[
            // A parent and its child, in the same file.
            json!({"catalog": "procedural_stage", "code": "ETAPA_PRUEBA", "label_es": "Etapa de prueba", "label_en": "Test stage", "sort_order": 90}),
            json!({"catalog": "determination", "code": "DETERMINACION_PRUEBA", "label_es": "Determinación de prueba", "label_en": "Test determination", "parent_code": "ETAPA_PRUEBA"}),
            // An existing item renamed; the empty order keeps its own.
            json!({"catalog": "sex", "code": "MUJER", "label_es": "Mujer (femenino)", "label_en": "Female"}),
            // An existing item as it is: nothing to change.
            json!({"catalog": "sex", "code": "HOMBRE", "label_es": "Hombre", "label_en": "Male"}),
        ],
    );
    let dry = upload(&app, &national, "catalog_item", true, &file).await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(
        (
            dry.json["rows_read"].clone(),
            dry.json["rows_valid"].clone()
        ),
        (json!(4), json!(4))
    );
    assert_eq!(dry.json["errors"], json!([]));
    assert!(items(&app, &national, "procedural_stage", "ETAPA_PRUEBA")
        .await
        .is_empty());

    let done = upload(&app, &national, "catalog_item", false, &file).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        (
            done.json["rows_created"].clone(),
            done.json["rows_updated"].clone()
        ),
        (json!(2), json!(1)),
        "{}",
        done.text()
    );
    let child = items(&app, &national, "determination", "DETERMINACION_PRUEBA").await;
    assert_eq!(child.len(), 1);
    assert_eq!(child[0]["parent_code"], "ETAPA_PRUEBA");
    let mujer = items(&app, &national, "sex", "MUJER").await;
    assert_eq!(mujer[0]["label_es"], "Mujer (femenino)");
    assert_eq!(mujer[0]["sort_order"], 1, "an empty cell keeps the order");
    // Each item is audited as the API audits it, and the file as one import.
    let created = audit_events(&app, "action=create&resource_type=catalog_item").await;
    assert_eq!(created.len(), 2);
    let updated = audit_events(&app, "action=update&resource_type=catalog_item").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["resource_id"], "sex/MUJER");
    let imports = audit_events(&app, "action=import&resource_type=catalog_item").await;
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0]["details"]["rows_created"], 2);
    upload(&app, &national, "catalog_item", false, &file)
        .await
        .assert_problem(409, "repeated_import");

    // A file with errors writes nothing, and says where each one is.
    let bad = filled(
        FormKey::CatalogItem,
        &[
            json!({"catalog": "sex", "code": "otro sexo", "label_es": "Otro", "label_en": "Other"}),
            json!({"catalog": "determination", "code": "DETERMINACION_PRUEBA", "label_es": "Determinación de prueba", "label_en": "Test determination", "parent_code": "INV_INICIAL"}),
            json!({"catalog": "detection_source", "code": "FUENTE_NUEVA", "label_es": "Fuente nueva", "label_en": "New source"}),
            json!({"catalog": "detection_source", "code": "FUENTE_NUEVA", "label_es": "Fuente nueva", "label_en": "New source"}),
            json!({"catalog": "detection_source", "code": "FUENTE_BAJA", "label_es": "Fuente de baja", "label_en": "Retired source", "active": false}),
            json!({"catalog": "determination", "code": "HUERFANA", "label_es": "Sin etapa", "label_en": "No stage", "parent_code": "NO_EXISTE"}),
        ],
    );
    let res = upload(&app, &national, "catalog_item", false, &bad).await;
    res.assert_problem(422, "import_rejected");
    // Row 4 is valid.
    assert_errors(
        &res,
        &[
            (2, "code", "invalid_format"),
            (3, "parent_code", "parent_immutable"),
            (5, "code", "code_repeated_in_file"),
            (6, "active", "new_item_inactive"),
            (7, "parent_code", "unknown_code"),
        ],
    );
    assert!(items(&app, &national, "detection_source", "FUENTE_NUEVA")
        .await
        .is_empty());

    // Only the national admin administers catalogs.
    let inst = app.institution("19", "CEAV Nuevo León").await;
    let entity_admin = app.account(Role::EntityAdmin, inst).await;
    upload(&app, &entity_admin, "catalog_item", true, &file)
        .await
        .assert_problem(403, "forbidden");
}

struct Entity19 {
    app: TestApp,
    admin: Account,
    ceav: uuid::Uuid,
    fiscalia: uuid::Uuid,
    other_entity: Account,
}

async fn entity_19() -> Entity19 {
    let app = TestApp::new().await;
    let ceav = app.institution("19", "CEAV Nuevo León").await;
    let fiscalia = app
        .institution("19", "Fiscalía General de Nuevo León")
        .await;
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let admin = app.account(Role::EntityAdmin, ceav).await;
    let other_entity = app.account(Role::Operator, cdmx).await;
    Entity19 {
        app,
        admin,
        ceav,
        fiscalia,
        other_entity,
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[actix_web::test]
async fn an_entity_admin_loads_its_users_from_a_workbook() {
    let Entity19 {
        app,
        admin,
        ceav,
        fiscalia,
        ..
    } = entity_19().await;
    let renamed = app.account(Role::Operator, ceav).await;
    let leaving = app.account(Role::Operator, fiscalia).await;
    let file = filled(
        FormKey::User,
        &[
            // The institution as the template's list offers it.
            json!({"username": "ana.torres", "full_name": "Ana Torres Garza", "email": "ana.torres@nl.gob.mx", "role": "operator", "institution_id": format!("{ceav} — CEAV Nuevo León (19)")}),
            json!({"username": renamed.username, "full_name": "Nombre Corregido", "role": "analyst"}),
            // Only the change: the empty cells keep what the account has.
            json!({"username": leaving.username, "active": false}),
        ],
    );
    let dry = upload(&app, &admin, "user", true, &file).await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(dry.json["rows_valid"], 3, "{}", dry.text());
    assert!(dry.json.get("credentials").is_none());
    let before = app
        .get(&format!("/api/v1/users/{}", renamed.id), &admin.token)
        .await;
    assert_eq!(before.json["role"], "operator", "a dry run changes nothing");

    let done = upload(&app, &admin, "user", false, &file).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        (
            done.json["rows_created"].clone(),
            done.json["rows_updated"].clone()
        ),
        (json!(1), json!(2))
    );
    let credentials = done.json["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["row"], 2);
    assert_eq!(credentials[0]["username"], "ana.torres");
    let secret = credentials[0]["one_time_secret"]
        .as_str()
        .unwrap()
        .to_string();

    // The new account logs in with its one-time password.
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": "ana.torres", "password": secret})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text());
    let after = app
        .get(&format!("/api/v1/users/{}", renamed.id), &admin.token)
        .await;
    assert_eq!(after.json["role"], "analyst");
    assert_eq!(after.json["full_name"], "Nombre Corregido");
    assert_eq!(after.json["institution_id"], ceav.to_string());
    // The deactivated account's tokens stop working at once.
    app.get("/api/v1/auth/me", &leaving.token)
        .await
        .assert_problem(401, "unauthenticated");

    // The password is in that answer only: not in the stored report, not in
    // the audit log.
    let mut conn = app.conn().await;
    let stored: Count =
        diesel::sql_query("SELECT count(*) AS n FROM imports WHERE report::text LIKE $1")
            .bind::<Text, _>(format!("%{secret}%"))
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(stored.n, 0);
    let audited: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM audit_events WHERE row_to_json(audit_events)::text LIKE $1",
    )
    .bind::<Text, _>(format!("%{secret}%"))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited.n, 0);
    drop(conn);
    let deactivations = audit_events(&app, "action=deactivate&resource_type=user").await;
    assert_eq!(deactivations.len(), 1);
    assert_eq!(deactivations[0]["resource_id"], leaving.id.to_string());
}

#[actix_web::test]
async fn a_users_workbook_cannot_reach_past_the_admins_powers() {
    let Entity19 {
        app,
        admin,
        ceav,
        other_entity,
        ..
    } = entity_19().await;
    let cdmx = other_entity.institution_id;
    let file = filled(
        FormKey::User,
        &[
            json!({"username": "nuevo.nacional", "full_name": "Alguien", "role": "national_admin", "institution_id": ceav.to_string()}),
            json!({"username": "nuevo.cdmx", "full_name": "Alguien", "role": "operator", "institution_id": cdmx.to_string()}),
            json!({"username": other_entity.username, "full_name": "Cambio ajeno", "role": "operator", "institution_id": ceav.to_string()}),
            json!({"username": admin.username, "full_name": "Otro nombre", "role": "entity_admin", "institution_id": ceav.to_string()}),
            json!({"username": "repetido", "full_name": "Uno", "role": "operator", "institution_id": ceav.to_string()}),
            json!({"username": "repetido", "full_name": "Dos", "role": "operator", "institution_id": ceav.to_string()}),
            json!({"username": "nueva.baja", "full_name": "Baja", "role": "operator", "institution_id": ceav.to_string(), "active": false}),
        ],
    );
    let res = upload(&app, &admin, "user", false, &file).await;
    res.assert_problem(422, "import_rejected");
    // Row 6 is valid.
    assert_errors(
        &res,
        &[
            (2, "role", "role_not_grantable"),
            (3, "institution_id", "unknown_reference"),
            (4, "username", "username_taken"),
            (5, "username", "own_account"),
            (7, "username", "username_repeated_in_file"),
            (8, "active", "new_account_inactive"),
        ],
    );
    // Nothing was written, and the other entity's account is as it was.
    let listed = app.get("/api/v1/users?q=repetido", &admin.token).await;
    assert_eq!(listed.json["items"], json!([]));
    let national = national_admin(&app).await;
    let theirs = app
        .get(
            &format!("/api/v1/users/{}", other_entity.id),
            &national.token,
        )
        .await;
    assert_ne!(theirs.json["full_name"], "Cambio ajeno");
    // Operators administer no users.
    let operator = app.account(Role::Operator, ceav).await;
    upload(&app, &operator, "user", true, &file)
        .await
        .assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn users_and_catalogs_export_as_their_lists_show_them() {
    let Entity19 {
        app,
        admin,
        ceav,
        other_entity,
        ..
    } = entity_19().await;
    let operator = app.account(Role::Operator, ceav).await;
    let res = app.get("/api/v1/excel/exports/user", &admin.token).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let rows = export_rows(&res.body);
    let flat: Vec<String> = rows.iter().flatten().cloned().collect();
    assert!(flat.contains(&operator.username), "{rows:?}");
    assert!(flat.contains(&admin.username));
    assert!(
        flat.contains(&"CEAV Nuevo León".to_string()),
        "institution names"
    );
    assert!(
        !flat.contains(&other_entity.username),
        "another entity's users stay out"
    );
    assert_eq!(rows.len(), 2);
    let operators = app
        .get("/api/v1/excel/exports/user?role=operator", &admin.token)
        .await;
    assert_eq!(export_rows(&operators.body).len(), 1);
    app.get("/api/v1/excel/exports/user?q=x", &admin.token)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/excel/exports/user", &operator.token)
        .await
        .assert_problem(403, "forbidden");
    // The export comes back as a workbook of users that changes nothing,
    // the admin's own account included.
    let again = upload(&app, &admin, "user", false, &res.body).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        (
            again.json["rows_valid"].clone(),
            again.json["rows_updated"].clone()
        ),
        (json!(2), json!(0))
    );

    // Catalogs are everyone's to read.
    let sexes = app
        .get(
            "/api/v1/excel/exports/catalog_item?catalog=sex",
            &operator.token,
        )
        .await;
    assert_eq!(sexes.status, 200, "{}", sexes.text());
    let listed = items(&app, &operator, "sex", "").await;
    assert_eq!(export_rows(&sexes.body).len(), listed.len());
    let national = national_admin(&app).await;
    let again = upload(&app, &national, "catalog_item", true, &sexes.body).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json["errors"], json!([]));
    assert_eq!(again.json["rows_valid"], json!(listed.len()));
    app.get(
        "/api/v1/excel/exports/catalog_item?catalog=nada",
        &operator.token,
    )
    .await
    .assert_problem(422, "validation_failed");

    // The workbook of everything has the users' sheet only for those who
    // may read users, and the catalogs for everyone.
    let sheets = |bytes: &[u8]| {
        open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
            .unwrap()
            .sheet_names()
    };
    let all = app.get("/api/v1/excel/exports", &admin.token).await;
    assert_eq!(all.status, 200, "{}", all.text());
    assert!(sheets(&all.body).contains(&"Usuario".to_string()));
    assert_eq!(sheet_rows(&all.body, "Usuario").len(), 3);
    let mine = app.get("/api/v1/excel/exports", &operator.token).await;
    let names = sheets(&mine.body);
    assert!(!names.contains(&"Usuario".to_string()), "{names:?}");
    assert!(
        names.contains(&"Elemento de catálogo".to_string()),
        "{names:?}"
    );
}
