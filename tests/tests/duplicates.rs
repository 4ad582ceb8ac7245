//! Duplicate warnings through the API on the errors the national roll-out
//! showed (issue 18): a birth year one off, an age one off instead of a
//! date, a missing second surname, a typo inside a given name, swapped
//! surnames, accents dropped; and the people who must not be taken for one
//! another (twins, siblings).

use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};

fn person(given: &str, first: &str, second: Option<&str>, sex: &str, birth: &str) -> Value {
    let mut v = json!({
        "condition": "VICTIMA",
        "given_names": given,
        "first_surname": first,
        "sex": sex,
        "birth_date": birth,
        "nationality": "MEX",
        "detection_date": "2024-02-10",
        "detection_entity_code": "19",
        "detection_source": "DENUNCIA"
    });
    if let Some(s) = second {
        v["second_surname"] = json!(s);
    }
    v
}

async fn operator(app: &TestApp, entity: &str, name: &str) -> Account {
    let inst = app.institution(entity, name).await;
    app.account(Role::Operator, inst).await
}

async fn create(app: &TestApp, who: &Account, body: Value) -> (String, Vec<Value>) {
    let res = app.post("/api/v1/victims", &who.token, body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let id = res.json["data"]["id"].as_str().unwrap().to_string();
    let warnings = res.json["warnings"].as_array().cloned().unwrap_or_default();
    (id, warnings)
}

/// The strongest warning about `candidate`, if any.
fn level_for(warnings: &[Value], candidate: &str) -> Option<String> {
    warnings
        .iter()
        .find(|w| w["candidate"]["id"] == candidate)
        .map(|w| w["level"].as_str().unwrap().to_string())
}

fn strong(level: Option<&str>) -> bool {
    matches!(level, Some("exact" | "probable"))
}

#[actix_web::test]
async fn the_errors_of_the_national_roll_out_are_still_probable_duplicates() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;

    // Each case: an original, and the same person as another operator
    // captured her or him.
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "birth year one off, day above 12",
            person("María", "Zamudio", Some("Quintero"), "MUJER", "1981-07-23"),
            person("MARIA", "ZAMUDIO", Some("QUINTERO"), "MUJER", "1980-07-23"),
        ),
        (
            "an age one year off instead of the date",
            person(
                "Víctor Manuel",
                "Olvera",
                Some("Ibarra"),
                "HOMBRE",
                "1990-05-20",
            ),
            {
                // 33 at 2024-02-10 (born 1990-05-20); captured as 34.
                let mut v = person("Víctor Manuel", "Olvera", Some("Ibarra"), "HOMBRE", "x");
                v.as_object_mut().unwrap().remove("birth_date");
                v["age_at_detection"] = json!(34);
                v
            },
        ),
        (
            "typo in the given name and no second surname",
            person("María", "Nájera", Some("Soto"), "MUJER", "1995-11-30"),
            person("MRAÍA", "NÁJERA", None, "MUJER", "1995-11-30"),
        ),
        (
            "typo in the given name, accents dropped, year one off",
            person("Víctor", "Cárdenas", Some("Ulloa"), "HOMBRE", "1978-03-19"),
            person("VITCOR", "CARDENAS", Some("ULLOA"), "HOMBRE", "1979-03-19"),
        ),
        (
            "surnames swapped and year one off",
            person("Itzel", "Bravo", Some("Cisneros"), "MUJER", "2001-09-14"),
            person("Itzel", "Cisneros", Some("Bravo"), "MUJER", "2000-09-14"),
        ),
    ];
    for (what, original, copy) in cases {
        let (original_id, _) = create(&app, &op, original).await;
        let (_, warnings) = create(&app, &op, copy).await;
        let level = level_for(&warnings, &original_id);
        assert!(
            strong(level.as_deref()),
            "{what}: {level:?} in {warnings:?}"
        );
    }
}

#[actix_web::test]
async fn twins_and_siblings_are_not_probable_duplicates() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let (anchor, _) = create(
        &app,
        &op,
        person("Daniela", "Huitrón", Some("Yépez"), "MUJER", "2003-08-21"),
    )
    .await;
    // Her twin sister: same surnames and date, another given name.
    let (_, warnings) = create(
        &app,
        &op,
        person("Valeria", "Huitrón", Some("Yépez"), "MUJER", "2003-08-21"),
    )
    .await;
    assert!(
        !strong(level_for(&warnings, &anchor).as_deref()),
        "{warnings:?}"
    );
    // Her brother, born a year later on the same day.
    let (_, warnings) = create(
        &app,
        &op,
        person("Daniel", "Huitrón", Some("Yépez"), "HOMBRE", "2004-08-21"),
    )
    .await;
    assert!(
        !strong(level_for(&warnings, &anchor).as_deref()),
        "{warnings:?}"
    );
}

#[actix_web::test]
async fn a_repeat_registered_in_another_entity_is_warned_without_its_data() {
    let app = TestApp::new().await;
    let nl = operator(&app, "19", "CEAV Nuevo León").await;
    let cdmx = operator(&app, "09", "Fiscalía CDMX").await;
    let (_, _) = create(
        &app,
        &nl,
        person(
            "Guillermina",
            "Echeverría",
            Some("Jaimes"),
            "MUJER",
            "1986-10-25",
        ),
    )
    .await;
    let (_, warnings) = create(
        &app,
        &cdmx,
        person("GUILLERMINA", "ECHEVERRIA", None, "MUJER", "1987-10-25"),
    )
    .await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(strong(warnings[0]["level"].as_str()), "{warnings:?}");
    assert_eq!(
        warnings[0]["candidate"],
        json!({"entity_code": "19", "institution": "CEAV Nuevo León"})
    );
    assert_eq!(warnings[0]["comparison"], Value::Null);
}

#[actix_web::test]
async fn a_missing_person_report_is_validated_searchable_masked_and_an_exact_match() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let other = operator(&app, "19", "DIF Nuevo León").await;

    // Written in any case, stored in its one form.
    let mut body = person("Rosa María", "Tovar", Some("Lugo"), "MUJER", "2004-06-18");
    body["missing_report_folio"] = json!(" cnb-2024-000123 ");
    let (id, _) = create(&app, &op, body).await;
    let read = app.get(&format!("/api/v1/victims/{id}"), &op.token).await;
    assert_eq!(read.json["missing_report_folio"], "CNB-2024-000123");

    // Not free text: refused with the expected form, the value not echoed.
    for bad in [
        "reporte 123",
        "CNB-2019",
        "CLB33-2024-1",
        "CNB-2099-1",
        "CNB 2024 12",
    ] {
        let mut body = person("Rosa María", "Tovar", Some("Lugo"), "MUJER", "2004-06-18");
        body["missing_report_folio"] = json!(bad);
        let res = app.post("/api/v1/victims", &op.token, body).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(
            res.json["errors"][0]["field"], "missing_report_folio",
            "{bad}"
        );
        assert_eq!(res.json["errors"][0]["code"], "invalid_format", "{bad}");
        assert!(!res.text().contains(bad), "{bad} echoed");
    }

    // The same report in another institution's record, with little else in
    // common: an exact match.
    let mut again = person("Rosy", "Lugo", None, "MUJER", "2003-01-01");
    again["missing_report_folio"] = json!("CNB-2024-000123");
    let (_, warnings) = create(&app, &other, again).await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["level"], "exact");
    assert_eq!(warnings[0]["score"], 1.0);

    // Searchable by exact folio, in the caller's scope only.
    let federal = app.institution("00", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, federal).await;
    for (who, q, n) in [
        (&admin, "missing_report_folio=CNB-2024-000123", 2),
        (&admin, "missing_report_folio=cnb-2024-000123", 2),
        (&admin, "missing_report_folio=CNB-2024-000124", 0),
        (&op, "missing_report_folio=CNB-2024-000123", 1),
    ] {
        let page = app.get(&format!("/api/v1/victims?{q}"), &who.token).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(page.json["items"].as_array().unwrap().len(), n, "{q}");
    }
    let page = app
        .get(
            "/api/v1/victims?missing_report_folio=CNB-2024-000123",
            &op.token,
        )
        .await;
    assert_eq!(page.json["items"][0]["id"], id.as_str());
    app.get("/api/v1/victims?missing_report_folio=Tovar", &admin.token)
        .await
        .assert_problem(422, "validation_failed");
    // Roles that never read personal data cannot search by it.
    let analyst = app.account(Role::Analyst, federal).await;
    app.get(
        "/api/v1/victims?missing_report_folio=CNB-2024-000123",
        &analyst.token,
    )
    .await
    .assert_problem(403, "forbidden");

    // Personal data: masked in the audit trail like a name.
    let changes: Vec<Value> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use sintra_persistence::schema::audit_events::dsl as a;
        let mut conn = app.db.owner_conn().await;
        a::audit_events
            .filter(a::action.eq("create"))
            .filter(a::resource_id.eq(&id))
            .select(a::changes)
            .load::<Option<Value>>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .flatten()
            .collect()
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0]["missing_report_folio"]["after"],
        sintra_domain::validation::PERSONAL_MASK
    );
    assert!(!changes[0].to_string().contains("CNB-2024"));

    // Exported (the form spec drives the workbook) and published.
    let form = app.get("/api/v1/forms/victim", &op.token).await;
    let field = form.json["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "missing_report_folio")
        .cloned()
        .unwrap();
    assert_eq!(field["personal"], true);
    assert_eq!(field["rules"][0]["rule"], "missing_report_folio");
}

#[actix_web::test]
async fn name_frequencies_follow_the_stored_people() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    for given in ["Juana", "Leticia", "Hortensia"] {
        create(
            &app,
            &op,
            person(given, "Hernández", Some("García"), "MUJER", "1990-05-20"),
        )
        .await;
    }
    let (id, _) = create(
        &app,
        &op,
        person("Juana", "Huitrón", None, "MUJER", "1991-05-20"),
    )
    .await;
    let counts = || async {
        let mut conn = app.conn().await;
        sintra_persistence::duplicates::fold_name_terms(&mut conn)
            .await
            .unwrap();
        let terms: Vec<String> = ["S:ERNANDES", "S:GARSIA", "G:JUANA", "S:UITRON"]
            .map(String::from)
            .to_vec();
        sintra_persistence::duplicates::name_counts(&mut conn, &terms)
            .await
            .unwrap()
    };
    let (people, c) = counts().await;
    assert_eq!(people, 4);
    assert_eq!(c.get("S:ERNANDES"), Some(&3));
    assert_eq!(c.get("S:GARSIA"), Some(&3));
    assert_eq!(c.get("G:JUANA"), Some(&2));
    assert_eq!(c.get("S:UITRON"), Some(&1));

    // A corrected surname moves the counts.
    let auth = format!("Bearer {}", op.token);
    let res = app
        .call_raw(
            actix_web::http::Method::PATCH,
            &format!("/api/v1/victims/{id}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("if-match", "\"1\""),
            ],
            br#"{"first_surname": "Hernandez"}"#.to_vec(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let (people, c) = counts().await;
    assert_eq!(people, 4);
    assert_eq!(c.get("S:ERNANDES"), Some(&4));
    assert_eq!(c.get("S:UITRON"), None);
}
