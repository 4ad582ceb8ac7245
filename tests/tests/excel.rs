//! Excel as operators use it: download a template, fill it, upload it with
//! a dry run, read the report, commit; export what they may see.

use std::collections::HashMap;
use std::io::{Cursor, Write};

use actix_web::http::Method;
use calamine::{open_workbook_auto_from_rs, Reader};
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_excel::columns::template_columns;
use sintra_tests::excel::{
    assert_template_of, calamine_first_sheet, column_of, edited, export_rows, filled, sheet_rows,
    upload,
};
use sintra_tests::{Account, Answer, TestApp};

async fn operator(app: &TestApp) -> Account {
    let inst = app.institution("19", "CEAV Nuevo León").await;
    app.account(Role::Operator, inst).await
}

#[actix_web::test]
async fn templates_of_every_record_form_carry_the_spec_headers() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    for form in FormKey::ALL {
        if !form.is_record() {
            continue;
        }
        let res = app
            .get(
                &format!("/api/v1/excel/templates/{}", form.as_str()),
                &op.token,
            )
            .await;
        assert_eq!(res.status, 200, "{}: {}", form.as_str(), res.text());
        assert!(res
            .content_type()
            .starts_with("application/vnd.openxmlformats"));
        assert_template_of(form, &res.body);
    }
    // The administration forms are for their administrators
    // (`excel_admin.rs`); a form that does not exist is not found.
    app.get("/api/v1/excel/templates/user", &op.token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/excel/templates/nothing", &op.token)
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn a_filled_template_round_trips_with_a_dry_run_then_a_commit() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let commissions = filled(
        FormKey::Commission,
        &[
            json!({"external_folio": "C-1", "name": "Comisión Interinstitucional de Nuevo León", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
            json!({"external_folio": "C-2", "name": "Subcomisión de Atención a Víctimas", "kind": "SUBCOMISION", "entity_code": "19", "installation_date": "2016-02-01"}),
        ],
    );
    let dry = upload(&app, &op, "commission", true, &commissions).await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(dry.json["rows_read"], 2);
    assert_eq!(dry.json["rows_valid"], 2);
    assert_eq!(dry.json["rows_created"], 0);
    assert_eq!(dry.json["errors"], json!([]));
    assert_eq!(
        app.get("/api/v1/commissions", &op.token).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "a dry run writes nothing"
    );

    let done = upload(&app, &op, "commission", false, &commissions).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json["rows_created"], 2);
    let listed = app.get("/api/v1/commissions", &op.token).await;
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "Comisión Interinstitucional de Nuevo León",
            "Subcomisión de Atención a Víctimas"
        ]
    );
    // The same file again is a repeat.
    upload(&app, &op, "commission", false, &commissions)
        .await
        .assert_problem(409, "repeated_import");

    // Children name their parent by folio.
    let sessions = filled(
        FormKey::Session,
        &[
            json!({"external_folio": "S-1", "commission_folio": "C-1", "number": 1, "session_type": "ORDINARIA", "date": "2020-01-15"}),
        ],
    );
    let res = upload(&app, &op, "session", false, &sessions).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let session = &app.get("/api/v1/sessions", &op.token).await.json["items"][0];
    assert_eq!(session["commission_id"], listed.json["items"][0]["id"]);
    // A corrected file replaces the rows it names by folio.
    let corrected = filled(
        FormKey::Session,
        &[
            json!({"external_folio": "S-1", "commission_folio": "C-1", "number": 1, "session_type": "EXTRAORDINARIA", "date": "2020-01-15"}),
        ],
    );
    let res = upload(&app, &op, "session", false, &corrected).await;
    assert_eq!(
        (
            res.json["rows_created"].clone(),
            res.json["rows_updated"].clone()
        ),
        (json!(0), json!(1)),
        "{}",
        res.text()
    );
    let sessions = app.get("/api/v1/sessions", &op.token).await;
    assert_eq!(sessions.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(sessions.json["items"][0]["session_type"], "EXTRAORDINARIA");

    // Audited as one import.
    let federal = app.institution("00", "Secretaría Técnica").await;
    let auditor = app.account(Role::Auditor, federal).await;
    let events = app
        .get("/api/v1/audit/events?action=import", &auditor.token)
        .await;
    let items = events.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", events.text());
    let commission_import = items
        .iter()
        .find(|e| e["resource_type"] == "commission")
        .unwrap();
    assert_eq!(commission_import["details"]["rows_created"], 2);
}

#[actix_web::test]
async fn errors_are_reported_by_row_and_column_and_nothing_is_written() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let book = filled(
        FormKey::Victim,
        &[
            json!({"condition": "VICTIMA", "given_names": "Ana", "first_surname": "López", "sex": "MUJER", "detection_date": "2024-01-10", "detection_entity_code": "19"}),
            json!({"condition": "VICTIMA", "given_names": "Luz", "first_surname": "Ramos", "sex": "X", "detection_date": "2024-01-10", "detection_entity_code": "19"}),
            json!({"condition": "VICTIMA", "given_names": "Eva", "first_surname": "Soto", "sex": "MUJER", "detection_date": "2999-01-10", "detection_entity_code": "19"}),
        ],
    );
    let res = upload(&app, &op, "victim", false, &book).await;
    res.assert_problem(422, "import_rejected");
    let report = &res.json["report"];
    assert_eq!(report["rows_read"], 3);
    assert_eq!(report["rows_valid"], 1);
    let errors = report["errors"].as_array().unwrap();
    let sex = errors
        .iter()
        .find(|e| e["field"] == "sex")
        .expect("sex error");
    assert_eq!(sex["row"], 3, "row numbers as Excel shows them");
    let columns = template_columns(FormKey::Victim.spec());
    let sex_index = columns.iter().position(|c| c.json_key() == "sex").unwrap() as u32;
    assert_eq!(
        sex["column"],
        sintra_excel::columns::column_letter(sex_index)
    );
    assert_eq!(sex["code"], "unknown_code");
    assert!(errors
        .iter()
        .any(|e| e["row"] == 4 && e["field"] == "detection_date"));
    assert_eq!(
        app.get("/api/v1/victims", &op.token).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "all or nothing"
    );

    // The annotated workbook, for the uploader's institution only.
    let link = report["annotated_workbook"].as_str().unwrap().to_string();
    let annotated = app.get(&link, &op.token).await;
    assert_eq!(annotated.status, 200, "{}", annotated.text());
    let rows = sheet_rows(&annotated.body, &calamine_first_sheet(&annotated.body));
    let flat: String = rows
        .iter()
        .flatten()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("|");
    assert!(
        flat.contains("Sexo") || flat.contains("sexo"),
        "the error column names the field: {flat}"
    );
    let other = app
        .account(
            Role::Operator,
            app.institution("19", "DIF Nuevo León").await,
        )
        .await;
    app.get(&link, &other.token)
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn people_repeated_in_the_file_are_warned_about() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let person = json!({"condition": "VICTIMA", "given_names": "María Guadalupe", "first_surname": "Hernández", "second_surname": "Cruz", "sex": "MUJER", "birth_date": "1999-04-12", "detection_date": "2024-01-10", "detection_entity_code": "19"});
    let mut again = person.clone();
    again["given_names"] = json!("MARIA GUADALUPE");
    again["first_surname"] = json!("HERNANDEZ");
    let file = filled(FormKey::Victim, &[person, again]);
    let res = upload(&app, &op, "victim", true, &file).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let warnings = res.json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["row"] == 3 && w["candidate_row"] == 2),
        "{}",
        res.text()
    );
    // Committed, the two become an open pair to decide on, as if they had
    // been registered one by one.
    assert_eq!(
        app.get("/api/v1/duplicates", &op.token).await.json["items"],
        json!([])
    );
    let res = upload(&app, &op, "victim", false, &file).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let pairs = app.get("/api/v1/duplicates", &op.token).await;
    let items = pairs.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", pairs.text());
    let victims = app.get("/api/v1/victims", &op.token).await;
    let mut ids: Vec<&str> = victims.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut paired = vec![
        items[0]["person_a"]["id"].as_str().unwrap(),
        items[0]["person_b"]["id"].as_str().unwrap(),
    ];
    paired.sort();
    assert_eq!(ids, paired, "{}", pairs.text());
}

#[actix_web::test]
async fn a_folio_repeated_in_the_file_is_an_error_of_its_row() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let one = json!({"external_folio": "CEAV-NL-7", "condition": "VICTIMA", "given_names": "Ana", "first_surname": "Ruiz", "sex": "MUJER", "detection_date": "2024-01-10", "detection_entity_code": "19"});
    let mut two = one.clone();
    two["given_names"] = json!("Rosa");
    let res = upload(
        &app,
        &op,
        "victim",
        false,
        &filled(FormKey::Victim, &[one, two]),
    )
    .await;
    res.assert_problem(422, "import_rejected");
    let errors = res.json["report"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", res.text());
    assert_eq!(errors[0]["row"], 3);
    assert_eq!(errors[0]["code"], "folio_repeated_in_file");
    assert_eq!(errors[0]["field"], "external_folio");
    let victims = app.get("/api/v1/victims", &op.token).await;
    assert_eq!(victims.json["items"], json!([]));
}

#[actix_web::test]
async fn hostile_files_get_a_problem_and_nothing_is_written() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    upload(&app, &op, "victim", false, &random)
        .await
        .assert_problem(415, "not_a_workbook");
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend(vec![0u8; 4096]);
    let res = upload(&app, &op, "victim", false, &ole).await;
    assert!(res.status == 422 || res.status == 415, "{}", res.text());
    assert!(res.content_type().starts_with("application/problem+json"));

    // A zip bomb: one entry that inflates to 2 GiB, streamed, never held.
    let mut buf = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..2048 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
    }
    let bomb = buf.into_inner();
    assert!(bomb.len() < 5 << 20, "the bomb is small: {}", bomb.len());
    upload(&app, &op, "victim", false, &bomb)
        .await
        .assert_problem(413, "zip_bomb");

    // A file over the size limit.
    let huge = vec![b'x'; 26 << 20];
    let res = upload(&app, &op, "victim", false, &huge).await;
    assert_eq!(res.status, 413, "{}", res.text());

    assert_eq!(
        app.get("/api/v1/victims", &op.token).await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The server is still up.
    assert_eq!(
        app.call(Method::GET, "/health/live", None, None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn exports_carry_who_registered_each_row_and_never_formulas() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let evil = "=HYPERLINK(\"http://example.invalid\",\"clic\")";
    let res = app
        .post(
            "/api/v1/commissions",
            &op.token,
            json!({"name": evil, "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14", "legal_instrument": "+1 -2 @SUM(A1)"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let export = app.get("/api/v1/excel/exports/commission", &op.token).await;
    assert_eq!(export.status, 200, "{}", export.text());
    let rows = sheet_rows(&export.body, &calamine_first_sheet(&export.body));
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert!(header.contains(&"Registrado por".to_string()), "{header:?}");
    assert!(
        header.contains(&"Institución del registro".to_string()),
        "{header:?}"
    );
    let row: Vec<String> = rows[1].iter().map(|c| c.to_string()).collect();
    assert!(
        row.contains(&evil.to_string()),
        "the text comes back as text: {row:?}"
    );
    assert!(row.contains(&op.username), "the user name: {row:?}");
    assert!(
        row.contains(&"CEAV Nuevo León".to_string()),
        "the institution: {row:?}"
    );
    // No formula element anywhere in the sheets.
    let mut zip = zip::ZipArchive::new(Cursor::new(export.body.clone())).unwrap();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name.starts_with("xl/worksheets/") {
            let mut xml = String::new();
            std::io::Read::read_to_string(&mut f, &mut xml).unwrap();
            assert!(
                !xml.contains("<f>") && !xml.contains("<f "),
                "{name} has a formula"
            );
        }
    }

    // Everything in one workbook, a sheet per form; audited; not for analysts.
    let all = app.get("/api/v1/excel/exports", &op.token).await;
    assert_eq!(all.status, 200);
    let wb = open_workbook_auto_from_rs(Cursor::new(all.body.clone())).unwrap();
    assert!(wb.sheet_names().len() >= 11, "{:?}", wb.sheet_names());
    let analyst = app.account(Role::Analyst, op.institution_id).await;
    app.get("/api/v1/excel/exports", &analyst.token)
        .await
        .assert_problem(403, "forbidden");
    let federal = app.institution("00", "Secretaría Técnica").await;
    let auditor = app.account(Role::Auditor, federal).await;
    let events = app
        .get("/api/v1/audit/events?action=export", &auditor.token)
        .await;
    assert_eq!(events.json["items"].as_array().unwrap().len(), 2);
    // Another entity's operator exports none of it.
    let cdmx = app
        .account(Role::Operator, app.institution("09", "Fiscalía CDMX").await)
        .await;
    let theirs = app
        .get("/api/v1/excel/exports/commission", &cdmx.token)
        .await;
    assert_eq!(
        sheet_rows(&theirs.body, &calamine_first_sheet(&theirs.body)).len(),
        1,
        "headers only"
    );
}

async fn commission(app: &TestApp, who: &Account, name: &str, kind: &str, installed: &str) {
    let res = app
        .post(
            "/api/v1/commissions",
            &who.token,
            json!({"name": name, "kind": kind, "entity_code": who.entity_code, "installation_date": installed}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
}

#[actix_web::test]
async fn exports_take_the_filters_of_the_forms_list() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    commission(&app, &op, "Comisión estatal", "COMISION", "2013-06-14").await;
    commission(&app, &op, "Comité de víctimas", "COMITE", "2016-02-01").await;
    commission(&app, &op, "Comité municipal", "COMITE", "2019-09-30").await;

    let names = |rows: &[Vec<String>]| {
        let mut n: Vec<String> = rows
            .iter()
            .filter_map(|r| r.iter().find(|c| c.starts_with("Com")).cloned())
            .collect();
        n.sort();
        n
    };
    // A field of the form, by value (catalog codes in any case, as in the list).
    let res = app
        .get("/api/v1/excel/exports/commission?kind=comite", &op.token)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        names(&export_rows(&res.body)),
        ["Comité de víctimas", "Comité municipal"]
    );
    // Dates by range, combined with a field.
    let res = app
        .get(
            "/api/v1/excel/exports/commission?kind=COMITE&installation_date_to=2017-01-01",
            &op.token,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(names(&export_rows(&res.body)), ["Comité de víctimas"]);
    // The same query lists the same records.
    let list = app
        .get(
            "/api/v1/commissions?kind=COMITE&installation_date_to=2017-01-01",
            &op.token,
        )
        .await;
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
    // The shared filters.
    let res = app
        .get(
            &format!(
                "/api/v1/excel/exports/commission?institution_id={}",
                op.institution_id
            ),
            &op.token,
        )
        .await;
    assert_eq!(export_rows(&res.body).len(), 3);
    let res = app
        .get("/api/v1/excel/exports/commission?entity_code=09", &op.token)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(export_rows(&res.body).is_empty());

    // The workbook of every form takes the filters all forms share.
    let all = app
        .get("/api/v1/excel/exports?entity_code=19", &op.token)
        .await;
    assert_eq!(all.status, 200, "{}", all.text());
    let rows = sheet_rows(&all.body, &calamine_first_sheet(&all.body));
    assert_eq!(rows.len(), 4, "the header and the three commissions");
    let none = app
        .get("/api/v1/excel/exports?entity_code=09", &op.token)
        .await;
    let mut wb = open_workbook_auto_from_rs(Cursor::new(none.body.clone())).unwrap();
    for name in wb.sheet_names() {
        if name == "Elemento de catálogo" {
            // Reference data, not records of an entity.
            continue;
        }
        let range = wb.worksheet_range(&name).unwrap();
        assert_eq!(range.rows().count(), 1, "{name}: headers only");
    }
}

#[actix_web::test]
async fn export_filters_are_refused_as_the_lists_refuse_them() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    commission(&app, &op, "Comisión estatal", "COMISION", "2013-06-14").await;
    let field_of = |res: &Answer| -> Vec<String> {
        res.json["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    // An unknown filter, a bad value, a range on a field that is no date.
    for (query, field) in [
        ("color=rojo", "color"),
        ("institution_id=no-es-uuid", "institution_id"),
        ("installation_date_from=2020-01-01&kind_from=A", "kind_from"),
        ("limit=10", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let res = app
            .get(
                &format!("/api/v1/excel/exports/commission?{query}"),
                &op.token,
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(field_of(&res), [field], "{query}: {}", res.text());
    }
    // The workbook of every form: only the shared filters, said in Spanish.
    let res = app
        .get("/api/v1/excel/exports?kind=COMISION", &op.token)
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(field_of(&res), ["kind"]);
    let message = res.json["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("entity_code") && message.contains("exporte su formulario"),
        "{message}"
    );
    app.get("/api/v1/excel/exports?institution_id=x", &op.token)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/excel/exports?limit=5", &op.token)
        .await
        .assert_problem(422, "validation_failed");

    // Personal fields are no filter for anyone, as in the list: not even
    // for an operator, who reads them; roles that may not read them may not
    // export at all.
    for path in [
        "/api/v1/victims?first_surname=Hernandez",
        "/api/v1/excel/exports/victim?first_surname=Hernandez",
        "/api/v1/excel/exports/victim?curp=HEGM900101MNLRRR09",
        "/api/v1/excel/exports/victim?birth_date_from=1990-01-01",
        "/api/v1/excel/exports/attention?notes=x",
    ] {
        let res = app.get(path, &op.token).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.json["errors"][0]["code"], "unknown_filter", "{path}");
    }
    let analyst = app.account(Role::Analyst, op.institution_id).await;
    app.get(
        "/api/v1/excel/exports/victim?first_surname=Hernandez",
        &analyst.token,
    )
    .await
    .assert_problem(403, "forbidden");

    // A refused export is not audited as an export.
    let federal = app.institution("00", "Secretaría Técnica").await;
    let auditor = app.account(Role::Auditor, federal).await;
    let events = app
        .get("/api/v1/audit/events?action=export", &auditor.token)
        .await;
    assert_eq!(events.json["items"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn the_audit_row_of_an_export_carries_its_filters() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    commission(&app, &op, "Comisión estatal", "COMISION", "2013-06-14").await;
    commission(&app, &op, "Comité de víctimas", "COMITE", "2016-02-01").await;
    let res = app
        .get(
            "/api/v1/excel/exports/commission?kind=COMITE&installation_date_from=2015-01-01",
            &op.token,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let all = app
        .get("/api/v1/excel/exports?entity_code=19", &op.token)
        .await;
    assert_eq!(all.status, 200, "{}", all.text());
    let plain = app.get("/api/v1/excel/exports/victim", &op.token).await;
    assert_eq!(plain.status, 200, "{}", plain.text());

    let federal = app.institution("00", "Secretaría Técnica").await;
    let auditor = app.account(Role::Auditor, federal).await;
    let events = app
        .get("/api/v1/audit/events?action=export", &auditor.token)
        .await;
    let items = events.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", events.text());
    let details_of = |forms: Value| {
        items
            .iter()
            .map(|e| &e["details"])
            .find(|d| d["forms"] == forms)
            .unwrap_or_else(|| panic!("no export of {forms}: {}", events.text()))
    };
    let one = details_of(json!(["commission"]));
    assert_eq!(
        one["filters"],
        json!({"kind": "COMITE", "installation_date_from": "2015-01-01"})
    );
    assert_eq!(one["rows"], 1);
    let every = items
        .iter()
        .map(|e| &e["details"])
        .find(|d| d["forms"].as_array().is_some_and(|f| f.len() > 1))
        .unwrap();
    assert_eq!(every["filters"], json!({"entity_code": "19"}));
    // The two commissions, and the catalogs' sheet that comes whole.
    let catalog_rows = sheet_rows(&all.body, "Elemento de catálogo").len() - 1;
    assert!(catalog_rows > 2_478, "every catalog, municipios included");
    assert_eq!(every["rows"], json!(2 + catalog_rows));
    assert_eq!(details_of(json!(["victim"]))["filters"], json!({}));
}

/// A row of every record form, parents first, each child naming its parent
/// by the folio of the row before it: what a state fills in to load a
/// case from its commission to a sentence.
fn one_of_each_form() -> Vec<(FormKey, Value)> {
    vec![
        (
            FormKey::Commission,
            json!({"external_folio": "C-1", "name": "Comisión Interinstitucional de Nuevo León", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
        ),
        (
            FormKey::Session,
            json!({"external_folio": "S-1", "commission_folio": "C-1", "number": 1, "session_type": "ORDINARIA", "date": "2024-03-01"}),
        ),
        (
            FormKey::Agreement,
            json!({"external_folio": "A-1", "session_folio": "S-1", "key": "CIE/NL/01/2024", "text": "Elaborar el protocolo estatal de atención.", "due_date": "2024-06-30", "status": "PENDIENTE"}),
        ),
        (
            FormKey::AgreementFollowUp,
            json!({"external_folio": "F-1", "agreement_folio": "A-1", "date": "2024-05-15", "progress": "Borrador entregado a la Fiscalía.", "status": "EN_PROCESO"}),
        ),
        (
            FormKey::Victim,
            json!({"external_folio": "V-1", "condition": "VICTIMA", "given_names": "María Guadalupe", "first_surname": "Hernández", "sex": "MUJER", "birth_date": "1999-04-12", "nationality": "MEX", "detection_date": "2024-02-10", "detection_entity_code": "19", "detection_municipality_code": "19039", "exploitation_forms": ["EXPLOTACION_SEXUAL"]}),
        ),
        (
            FormKey::Attention,
            json!({"external_folio": "AT-1", "victim_folio": "V-1", "date": "2024-02-11", "service": "PSICOLOGICA"}),
        ),
        (
            FormKey::Investigation,
            json!({"external_folio": "CI-1", "investigation_type": "CARPETA_INVESTIGACION", "folio": "FGE-NL/UIE-TRATA/CI-1", "opening_date": "2024-01-15", "fuero": "COMUN", "crimes": ["LGT_ART_10", "LGT_ART_13"], "stage": "INV_INICIAL", "entity_code": "19", "victim_folios": ["V-1"]}),
        ),
        (
            FormKey::CriminalCase,
            json!({"external_folio": "CP-1", "investigation_folio": "CI-1", "court": "Juzgado de Control", "case_number": "107/2024", "judicialized_date": "2024-02-01", "stage": "INV_INICIAL"}),
        ),
        (
            FormKey::ProceduralEvent,
            json!({"external_folio": "EV-1", "criminal_case_folio": "CP-1", "event_type": "AUDIENCIA_INICIAL", "date": "2024-02-10"}),
        ),
        (
            FormKey::Defendant,
            json!({"external_folio": "IMP-1", "criminal_case_folio": "CP-1", "given_names": "Persona", "first_surname": "Imputada", "sex": "HOMBRE", "age": 38, "nationality": "MEX", "precautionary_measures": ["PRISION_PREVENTIVA"], "detained": true}),
        ),
        (
            FormKey::Sentence,
            json!({"external_folio": "SEN-1", "defendant_folio": "IMP-1", "crime": "LGT_ART_13", "date": "2024-09-27", "sentence_type": "CONDENATORIA", "route": "JUICIO_ORAL", "prison_years": 15, "firmness": "IMPUGNADA"}),
        ),
    ]
}

#[actix_web::test]
async fn every_record_form_round_trips_from_its_template_to_its_export() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let rows = one_of_each_form();
    let forms: Vec<FormKey> = rows.iter().map(|(f, _)| *f).collect();
    let expected: Vec<FormKey> = FormKey::ALL.into_iter().filter(|f| f.is_record()).collect();
    assert_eq!(forms.len(), expected.len(), "a row for every record form");
    let mut ids: HashMap<String, String> = HashMap::new();
    for (form, row) in rows {
        let name = form.as_str();
        let template = app
            .get(&format!("/api/v1/excel/templates/{name}"), &op.token)
            .await;
        assert_eq!(template.status, 200, "{name}: {}", template.text());
        assert_template_of(form, &template.body);
        let file = filled(form, std::slice::from_ref(&row));
        let dry = upload(&app, &op, name, true, &file).await;
        assert_eq!(dry.status, 200, "{name}: {}", dry.text());
        assert_eq!(dry.json["errors"], json!([]), "{name}");
        let done = upload(&app, &op, name, false, &file).await;
        assert_eq!(done.status, 200, "{name}: {}", done.text());
        assert_eq!(done.json["rows_created"], 1, "{name}");

        // The export shows the row with its folio, and its parent by id
        // and folio.
        let export = app
            .get(&format!("/api/v1/excel/exports/{name}"), &op.token)
            .await;
        assert_eq!(export.status, 200, "{name}: {}", export.text());
        let exported = export_rows(&export.body);
        assert_eq!(exported.len(), 1, "{name}");
        let folio = row["external_folio"].as_str().unwrap();
        assert!(exported[0].iter().any(|c| c == folio), "{name}: {folio}");
        for (key, value) in row.as_object().unwrap() {
            if key == "external_folio" || !key.ends_with("_folio") && !key.ends_with("_folios") {
                continue;
            }
            let parents: Vec<&str> = match value {
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                v => v.as_str().into_iter().collect(),
            };
            for parent in parents {
                let id = &ids[parent];
                assert!(
                    exported[0].iter().any(|c| c.contains(id.as_str())),
                    "{name}: {parent}'s id {id} in {:?}",
                    exported[0]
                );
                // And by its folio, in the column beside the id.
                assert!(
                    exported[0].iter().any(|c| c == parent),
                    "{name}: {parent}'s folio in {:?}",
                    exported[0]
                );
            }
        }
        // The first column is the record's id.
        ids.insert(folio.to_string(), exported[0][0].clone());
        // And the export reads back as a workbook of the form: the same
        // row, now a change of the record it came from.
        let again = upload(&app, &op, name, true, &export.body).await;
        assert_eq!(again.status, 200, "{name}: {}", again.text());
        assert_eq!(again.json["errors"], json!([]), "{name}");
        assert_eq!(again.json["rows_valid"], 1, "{name}");
    }
}

#[actix_web::test]
async fn an_exported_workbook_imported_again_changes_the_records_it_came_from() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    // Registered by API, without a folio of the sender's own.
    let created = app
        .post(
            "/api/v1/commissions",
            &op.token,
            json!({"name": "Comisión estatal", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json["data"]["id"]
        .as_str()
        .or(created.json["id"].as_str())
        .unwrap()
        .to_string();
    // The state's administrator exports its entity and uploads it back.
    let admin = app.account(Role::EntityAdmin, op.institution_id).await;
    let export = app
        .get("/api/v1/excel/exports/commission", &admin.token)
        .await;
    assert_eq!(export.status, 200, "{}", export.text());
    let again = upload(&app, &admin, "commission", false, &export.body).await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(
        (
            again.json["rows_created"].clone(),
            again.json["rows_updated"].clone()
        ),
        (json!(0), json!(1)),
        "the row names its record by id: {}",
        again.text()
    );
    let listed = app.get("/api/v1/commissions", &admin.token).await;
    let items = listed.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "no second copy");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(
        items[0]["institution_id"],
        op.institution_id.to_string(),
        "it stays the operator's institution's record"
    );

    // An id that names no record within reach is an error of its row.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Datos").unwrap();
    let headers = [
        "ID del registro",
        "name",
        "kind",
        "entity_code",
        "installation_date",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let values = [
        &uuid::Uuid::now_v7().to_string(),
        "Otra",
        "COMISION",
        "19",
        "2014-01-01",
    ];
    for (c, v) in values.iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    let file = wb.save_to_buffer().unwrap();
    let res = upload(&app, &admin, "commission", true, &file).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let errors = res.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", res.text());
    assert_eq!(errors[0]["code"], "unknown_record");
    assert_eq!(errors[0]["column"], "A");
    assert_eq!(errors[0]["row"], 2);
}

/// A person of the chunked import's test file: distinct syllable surnames
/// and birth dates, so no two are alike by chance.
fn syllable_person(i: usize) -> Value {
    const S: [&str; 12] = [
        "BA", "DO", "FI", "GU", "LE", "MA", "NO", "PI", "RU", "TA", "VE", "YO",
    ];
    let name = |n: usize| format!("{}{}{}", S[n % 12], S[(n / 12) % 12], S[(n / 144) % 12]);
    let given = ["ANA", "JUAN", "LUCÍA", "PEDRO", "SOFÍA"][i % 5];
    json!({
        "condition": "VICTIMA",
        "given_names": given,
        "first_surname": name(i),
        "second_surname": name(i * 7 + 5),
        "sex": if i.is_multiple_of(2) { "MUJER" } else { "HOMBRE" },
        "birth_date": format!("{}-{:02}-{:02}", 1950 + i % 50, 1 + i % 12, 1 + i % 28),
        "detection_date": "2024-01-10",
        "detection_entity_code": "19",
    })
}

/// An import checks and writes its file by chunks (1,000 rows), each in
/// the import's one transaction. A repeat of a person of an earlier chunk
/// is the file's own (warned by row, raised once), a repeat of a person
/// stored before the import is the system's (warned by id), and no row the
/// import itself wrote is ever reported as a stored person.
#[actix_web::test]
async fn repeats_across_chunks_are_the_files_own_and_stored_people_the_systems() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let stored = json!({"condition": "VICTIMA", "given_names": "Xóchitl", "first_surname": "Tzompantzi", "second_surname": "Ahuactzin", "sex": "MUJER", "birth_date": "1987-08-23", "detection_date": "2023-05-02", "detection_entity_code": "19"});
    let res = app.post("/api/v1/victims", &op.token, stored.clone()).await;
    assert_eq!(res.status, 201, "{}", res.text());
    let stored_id = res.json["data"]["id"].as_str().unwrap().to_string();

    let mut rows: Vec<Value> = (0..2_400).map(syllable_person).collect();
    // Row 2,102 (Excel's numbering: the header is row 1) repeats row 12,
    // two chunks earlier, without accents and with the year one off.
    let mut again = rows[10].clone();
    again["birth_date"] = json!(format!(
        "{}{}",
        1950 + 10 + 1,
        &rows[10]["birth_date"].as_str().unwrap()[4..]
    ));
    rows[2_100] = again;
    // Row 1,502 repeats the stored person.
    let mut her = stored.clone();
    her["given_names"] = json!("XOCHITL");
    rows[1_500] = her;
    let file = filled(FormKey::Victim, &rows);

    let res = upload(&app, &op, "victim", false, &file).await;
    assert_eq!(
        res.status,
        200,
        "{}",
        &res.text()[..res.text().len().min(2000)]
    );
    assert_eq!(
        res.json["rows_created"],
        2_400,
        "{}",
        &res.text()[..2000.min(res.text().len())]
    );
    let warnings = res.json["warnings"].as_array().unwrap();
    let system: Vec<&Value> = warnings
        .iter()
        .filter(|w| w.get("candidate").is_some())
        .collect();
    assert!(
        system
            .iter()
            .all(|w| w["candidate"]["id"] == stored_id.as_str()),
        "only the person stored before the import is the system's: {system:?}"
    );
    assert_eq!(system.len(), 1, "{system:?}");
    assert_eq!(system[0]["row"], 1_502);
    assert!(
        warnings
            .iter()
            .any(|w| w["row"] == 2_102 && w["candidate_row"] == 12),
        "the repeat two chunks later is the file's own: {warnings:?}"
    );
    // Committed, each warning is one open pair, none twice.
    let pairs = app.get("/api/v1/duplicates?limit=100", &op.token).await;
    let items = pairs.json["items"].as_array().unwrap();
    assert_eq!(items.len(), warnings.len(), "{}", pairs.text());
}

/// A row that names its record by id keeps that record's folio: another
/// folio is an error of the row (never a silent change, nor a silent
/// skip), an empty folio cell keeps the stored one.
#[actix_web::test]
async fn a_row_matched_by_id_with_another_folio_is_an_error_of_its_row() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let file = filled(
        FormKey::Commission,
        &[
            json!({"external_folio": "C-1", "name": "Comisión A", "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}),
            json!({"external_folio": "C-2", "name": "Comisión B", "kind": "COMITE", "entity_code": "19", "installation_date": "2014-06-14"}),
        ],
    );
    let done = upload(&app, &op, "commission", false, &file).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let export = app.get("/api/v1/excel/exports/commission", &op.token).await;
    assert_eq!(export.status, 200, "{}", export.text());
    let spec = FormKey::Commission.spec();
    let header = |key: &str| spec.field(key).unwrap().label.es;
    let rows = sheet_rows(&export.body, &calamine_first_sheet(&export.body));
    let folio = column_of(&rows, header("external_folio"));
    let name = column_of(&rows, header("name"));
    let row_of =
        |rows: &[Vec<calamine::Data>], f: &str| rows.iter().position(|r| r[folio] == f).unwrap();
    let (a, b) = (row_of(&rows, "C-1"), row_of(&rows, "C-2"));

    // C-1's row given C-1's record id but the folio C-9: refused, by name.
    let changed = edited(&export.body, |rows| {
        rows[a][folio] = calamine::Data::String("C-9".into());
        rows[a][name] = calamine::Data::String("Comisión A bis".into());
    });
    let res = upload(&app, &op, "commission", false, &changed).await;
    res.assert_problem(422, "import_rejected");
    let errors = res.json["report"]["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["row"], a + 1, "Excel's row number");
    assert_eq!(errors[0]["field"], "external_folio");
    assert_eq!(errors[0]["code"], "folio_mismatch");
    assert_eq!(
        errors[0]["column"],
        sintra_excel::columns::column_letter(folio as u32)
    );
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("Folio externo") && message.contains("ID del registro"),
        "names the fields, in Spanish: {message}"
    );
    // Another record's folio is no better.
    let swapped = edited(&export.body, |rows| {
        rows[a][folio] = calamine::Data::String("C-2".into());
        rows[b][folio] = calamine::Data::String("C-1".into());
    });
    let res = upload(&app, &op, "commission", true, &swapped).await;
    let codes: Vec<(Value, Value)> = res.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].clone(), e["code"].clone()))
        .collect();
    assert!(
        codes.contains(&(json!(a + 1), json!("folio_mismatch")))
            && codes.contains(&(json!(b + 1), json!("folio_mismatch"))),
        "{}",
        res.text()
    );
    let listed = app.get("/api/v1/commissions", &op.token).await;
    let mut folios: Vec<(String, String)> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["external_folio"].as_str().unwrap().to_string(),
                i["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    folios.sort();
    assert_eq!(
        folios,
        vec![
            ("C-1".to_string(), "Comisión A".to_string()),
            ("C-2".to_string(), "Comisión B".to_string())
        ],
        "nothing changed"
    );

    // An empty folio cell keeps the record's folio; the rest changes.
    let emptied = edited(&export.body, |rows| {
        rows[a][folio] = calamine::Data::Empty;
        rows[a][name] = calamine::Data::String("Comisión A bis".into());
    });
    let res = upload(&app, &op, "commission", false, &emptied).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["rows_updated"], 2, "{}", res.text());
    let by_folio = app
        .get("/api/v1/commissions?external_folio=C-1", &op.token)
        .await;
    let items = by_folio.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", by_folio.text());
    assert_eq!(items[0]["name"], "Comisión A bis");
    assert_eq!(items[0]["external_folio"], "C-1");
}

/// The header of a reference field's folio column (`Víctima (folio
/// externo)`) or id column.
fn reference_header(form: FormKey, key: &str, kind: sintra_excel::ColumnKind) -> String {
    let field = form.spec().field(key).unwrap();
    sintra_excel::Column { field, kind }.header(sintra_excel::Lang::Es)
}

/// Exports of child forms name the parent (and any other record they
/// refer to) by its folio as well as its id, from the form spec; uploaded
/// back, the id names the record and the folio beside it is passed over.
#[actix_web::test]
async fn exports_name_the_records_they_refer_to_by_folio_and_id() {
    use sintra_excel::ColumnKind::{Folio, Id};
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let victim = |folio: &str, name: &str| json!({"external_folio": folio, "condition": "VICTIMA", "given_names": name, "first_surname": "Ruiz", "sex": "MUJER", "detection_date": "2024-01-10", "detection_entity_code": "19"});
    let steps = [
        (
            FormKey::Victim,
            vec![victim("V-1", "Ana"), victim("V-2", "Eva")],
        ),
        (
            FormKey::Attention,
            vec![
                json!({"external_folio": "AT-1", "victim_folio": "V-1", "date": "2024-02-11", "service": "PSICOLOGICA"}),
            ],
        ),
        (
            FormKey::Investigation,
            vec![
                json!({"external_folio": "CI-1", "investigation_type": "CARPETA_INVESTIGACION", "folio": "FGE-NL/CI-1", "opening_date": "2024-01-15", "fuero": "COMUN", "crimes": ["LGT_ART_10"], "stage": "INV_INICIAL", "entity_code": "19", "victim_folios": ["V-1", "V-2"]}),
            ],
        ),
    ];
    for (form, rows) in steps {
        let done = upload(&app, &op, form.as_str(), false, &filled(form, &rows)).await;
        assert_eq!(done.status, 200, "{}: {}", form.as_str(), done.text());
    }
    let victims = app.get("/api/v1/victims", &op.token).await;
    let id_of = |folio: &str| {
        victims.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["external_folio"] == folio)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (v1, v2) = (id_of("V-1"), id_of("V-2"));

    // The attention's row: the victim's folio, and its id.
    let export = app.get("/api/v1/excel/exports/attention", &op.token).await;
    assert_eq!(export.status, 200, "{}", export.text());
    let rows = sheet_rows(&export.body, &calamine_first_sheet(&export.body));
    let folio_col = column_of(
        &rows,
        &reference_header(FormKey::Attention, "victim_id", Folio),
    );
    let id_col = column_of(
        &rows,
        &reference_header(FormKey::Attention, "victim_id", Id),
    );
    assert_eq!(rows[1][folio_col].to_string(), "V-1");
    assert_eq!(rows[1][id_col].to_string(), v1);

    // The investigation's linked victims, folios in the order of the ids.
    let inv = app
        .get("/api/v1/excel/exports/investigation", &op.token)
        .await;
    assert_eq!(inv.status, 200, "{}", inv.text());
    let inv_rows = sheet_rows(&inv.body, &calamine_first_sheet(&inv.body));
    let folios_col = column_of(
        &inv_rows,
        &reference_header(FormKey::Investigation, "victim_ids", Folio),
    );
    let ids_col = column_of(
        &inv_rows,
        &reference_header(FormKey::Investigation, "victim_ids", Id),
    );
    let ids = inv_rows[1][ids_col].to_string();
    let expected: Vec<&str> = ids
        .split("; ")
        .map(|id| if id == v1 { "V-1" } else { "V-2" })
        .collect();
    assert!(ids.contains(&v1) && ids.contains(&v2), "{ids}");
    assert_eq!(inv_rows[1][folios_col].to_string(), expected.join("; "));

    // Uploaded back with the folio cells changed (as if they named records
    // of another institution): the ids decide, nothing is added or lost.
    let attention = edited(&export.body, |rows| {
        rows[1][folio_col] = calamine::Data::String("V-404".into());
    });
    let res = upload(&app, &op, "attention", false, &attention).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["rows_updated"], 1, "{}", res.text());
    let investigation = edited(&inv.body, |rows| {
        rows[1][folios_col] = calamine::Data::String("V-2; V-404".into());
    });
    let res = upload(&app, &op, "investigation", false, &investigation).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["rows_updated"], 1, "{}", res.text());
    let attentions = app.get("/api/v1/attentions", &op.token).await;
    assert_eq!(attentions.json["items"][0]["victim_id"], v1.as_str());
    let investigations = app.get("/api/v1/investigations", &op.token).await;
    let mut linked: Vec<String> = investigations.json["items"][0]["victim_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    linked.sort();
    let mut both = vec![v1.clone(), v2.clone()];
    both.sort();
    assert_eq!(linked, both, "the same two victims, once each");

    // The export of every form shows the same folios.
    let all = app.get("/api/v1/excel/exports", &op.token).await;
    assert_eq!(all.status, 200);
    let sheet = sheet_rows(&all.body, "Atención");
    let col = column_of(
        &sheet,
        &reference_header(FormKey::Attention, "victim_id", Folio),
    );
    assert_eq!(sheet[1][col].to_string(), "V-1");
}

/// A file of an xlsx, as text.
fn zip_entry(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut file = zip.by_name(name).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).unwrap();
    text
}

/// In the victim template the municipio dropdown lists the municipios of
/// the entity chosen in the same row: a defined name per entity over its
/// column of the hidden lists, picked by the row's entity cell.
#[actix_web::test]
async fn the_municipio_dropdown_lists_the_municipios_of_the_rows_entity() {
    use sintra_excel::columns::column_letter;
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let res = app.get("/api/v1/excel/templates/victim", &op.token).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let mut wb = open_workbook_auto_from_rs(Cursor::new(res.body.clone())).unwrap();
    let names: HashMap<String, String> = wb.defined_names().iter().cloned().collect();
    for entity in 1..=32 {
        assert!(names.contains_key(&format!("MUN_{entity:02}")), "{names:?}");
    }
    // MUN_19 covers Nuevo León's municipios, and only them.
    let range = names["MUN_19"].trim_start_matches('=').to_string();
    let (sheet, cells) = range.split_once('!').unwrap();
    assert_eq!(sheet.trim_matches('\''), "Catálogos");
    let bounds: Vec<&str> = cells.split(':').collect();
    let letter = bounds[0]
        .trim_matches('$')
        .trim_end_matches(|c: char| c.is_ascii_digit());
    let letter = letter.trim_end_matches('$');
    let last: usize = bounds[1].rsplit('$').next().unwrap().parse().unwrap();
    let lists = wb.worksheet_range("Catálogos").unwrap();
    let rows: Vec<Vec<String>> = lists
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let col = (0..rows[0].len())
        .find(|&c| column_letter(c as u32) == letter)
        .unwrap();
    assert_eq!(rows[0][col], "MUN_19", "the column is titled by its name");
    let items: Vec<&String> = rows[1..]
        .iter()
        .map(|r| &r[col])
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(items.len(), last - 1, "the name covers the whole column");
    assert!(
        items.len() > 40,
        "Nuevo León has 51 municipios: {}",
        items.len()
    );
    assert!(items.iter().all(|i| i.starts_with("19")), "{items:?}");
    assert!(items.iter().any(|i| i.starts_with("19039 — ")), "Monterrey");

    // The municipio column's validation picks the name from its row's
    // entity cell.
    let columns = template_columns(FormKey::Victim.spec());
    let at =
        |key: &str| column_letter(columns.iter().position(|c| c.json_key() == key).unwrap() as u32);
    let (entity, municipio) = (
        at("detection_entity_code"),
        at("detection_municipality_code"),
    );
    let xml = zip_entry(&res.body, "xl/worksheets/sheet2.xml")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let formula = format!("INDIRECT(\"MUN_\"&LEFT(${entity}2,FIND(\" \",${entity}2&\" \")-1))");
    let validation = xml
        .split("<dataValidation ")
        .find(|v| v.contains(&formula))
        .unwrap_or_else(|| panic!("no validation with {formula}"));
    assert!(
        validation.contains(&format!("sqref=\"{municipio}2:{municipio}")),
        "{validation}"
    );
    let workbook = zip_entry(&res.body, "xl/workbook.xml");
    assert!(
        workbook.contains("<definedName name=\"MUN_19\">"),
        "{workbook}"
    );

    // A row whose municipio belongs to its entity still imports; one of
    // another entity is still refused.
    let row = |municipio: &str| json!({"condition": "VICTIMA", "given_names": "Ana", "first_surname": "Ruiz", "sex": "MUJER", "detection_date": "2024-01-10", "detection_entity_code": "19", "detection_municipality_code": municipio});
    let ok = upload(
        &app,
        &op,
        "victim",
        true,
        &filled(FormKey::Victim, &[row("19039")]),
    )
    .await;
    assert_eq!(ok.json["errors"], json!([]), "{}", ok.text());
    let bad = upload(
        &app,
        &op,
        "victim",
        true,
        &filled(FormKey::Victim, &[row("09015")]),
    )
    .await;
    assert_eq!(
        bad.json["errors"][0]["code"],
        "municipality_not_in_entity",
        "{}",
        bad.text()
    );
}

/// An export goes out as it is written (chunked, no length known ahead),
/// and what arrives is the whole workbook: every record once, more than a
/// page of the export's reads.
#[actix_web::test]
async fn exports_stream_the_workbook_as_it_is_written() {
    let app = TestApp::new().await;
    let op = operator(&app).await;
    let n = 2_300;
    let rows: Vec<Value> = (0..n)
        .map(|i| json!({"external_folio": format!("C-{i}"), "name": format!("Comisión {i}"), "kind": "COMISION", "entity_code": "19", "installation_date": "2013-06-14"}))
        .collect();
    let done = upload(
        &app,
        &op,
        "commission",
        false,
        &filled(FormKey::Commission, &rows),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    let export = app.get("/api/v1/excel/exports/commission", &op.token).await;
    assert_eq!(export.status, 200, "{}", export.text());
    assert_eq!(export.header("transfer-encoding"), Some("chunked"));
    assert_eq!(export.header("content-length"), None);
    assert!(export
        .content_type()
        .starts_with("application/vnd.openxmlformats"));
    let sheet = sheet_rows(&export.body, &calamine_first_sheet(&export.body));
    let spec = FormKey::Commission.spec();
    let folio = column_of(&sheet, spec.field("external_folio").unwrap().label.es);
    let name = column_of(&sheet, spec.field("name").unwrap().label.es);
    let mut seen: Vec<(String, String)> = sheet[1..]
        .iter()
        .map(|r| (r[folio].to_string(), r[name].to_string()))
        .collect();
    assert_eq!(seen.len(), n, "every record");
    // In the order of their ids (as created), each with its own name.
    let ids: Vec<String> = sheet[1..].iter().map(|r| r[0].to_string()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id, once each");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n);
    assert!(seen
        .iter()
        .all(|(f, name)| name == &f.replace("C-", "Comisión ")));
}
