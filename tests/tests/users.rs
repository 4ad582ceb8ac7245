//! User administration: altas, bajas, actualizaciones, and who may do them.

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_tests::TestApp;

#[actix_web::test]
async fn an_entity_admin_manages_only_its_entity() {
    let app = TestApp::new().await;
    let nl = app
        .institution("19", "Comisión Ejecutiva de Atención a Víctimas NL")
        .await;
    let cdmx = app
        .institution("09", "Fiscalía General de Justicia CDMX")
        .await;
    let admin_nl = app.account(Role::EntityAdmin, nl).await;
    let op_nl = app.account(Role::Operator, nl).await;
    let op_cdmx = app.account(Role::Operator, cdmx).await;

    // Sees its entity's users and none of another entity's.
    let list = app.get("/api/v1/users?limit=500", &admin_nl.token).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let ids: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&op_nl.id.to_string().as_str()));
    assert!(!ids.contains(&op_cdmx.id.to_string().as_str()));
    let other = app
        .get(&format!("/api/v1/users/{}", op_cdmx.id), &admin_nl.token)
        .await;
    other.assert_problem(404, "not_found");
    let filtered = app
        .get("/api/v1/users?entity_code=09", &admin_nl.token)
        .await;
    assert_eq!(
        filtered.json["items"].as_array().unwrap().len(),
        0,
        "a filter does not widen the scope"
    );

    // Cannot touch another entity's user: 404, as if it did not exist.
    let res = app
        .post(
            &format!("/api/v1/users/{}/deactivate", op_cdmx.id),
            &admin_nl.token,
            json!({}),
        )
        .await;
    res.assert_problem(404, "not_found");
    let res = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", op_cdmx.id),
            Some(&admin_nl.token),
            Some(json!({"full_name": "Cambio"})),
        )
        .await;
    assert!(res.status == 404 || res.status == 428, "{}", res.text());

    // Cannot create users in another entity's institution.
    let res = app
        .post(
            "/api/v1/users",
            &admin_nl.token,
            json!({"username": "nuevo.cdmx", "full_name": "Nueva", "role": "operator", "institution_id": cdmx}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.json["errors"][0]["field"], "institution_id");
}

#[actix_web::test]
async fn nobody_grants_above_their_station_or_raises_their_own_role() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let admin_nl = app.account(Role::EntityAdmin, nl).await;
    for role in ["national_admin", "auditor", "system"] {
        let res = app
            .post(
                "/api/v1/users",
                &admin_nl.token,
                json!({"username": format!("x.{role}"), "full_name": "X", "role": role, "institution_id": nl}),
            )
            .await;
        res.assert_problem(403, "forbidden");
    }
    // Raising its own role, even with the right version.
    let me = app
        .get(&format!("/api/v1/users/{}", admin_nl.id), &admin_nl.token)
        .await;
    let etag = me.header("etag").unwrap().to_string();
    let res = app
        .call_raw(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin_nl.id),
            &[
                ("authorization", &format!("Bearer {}", admin_nl.token)),
                ("content-type", "application/json"),
                ("if-match", &etag),
            ],
            br#"{"role": "national_admin"}"#.to_vec(),
        )
        .await;
    res.assert_problem(403, "forbidden");
    // An operator cannot create users at all.
    let op = app.account(Role::Operator, nl).await;
    let res = app
        .post(
            "/api/v1/users",
            &op.token,
            json!({"username": "x.op", "full_name": "X", "role": "operator", "institution_id": nl}),
        )
        .await;
    res.assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn a_created_user_logs_in_with_the_one_time_password_and_updates_need_the_version() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let admin = app.account(Role::EntityAdmin, nl).await;
    let res = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"username": "Ana.Lopez", "full_name": "Ana López", "email": "ana@nl.gob.mx", "role": "operator", "institution_id": nl}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(res.json["user"]["username"], "ana.lopez");
    assert_eq!(res.json["user"]["version"], 1);
    let id = res.json["user"]["id"].as_str().unwrap().to_string();
    let secret = res.json["one_time_secret"].as_str().unwrap().to_string();
    let token = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": "ana.lopez", "password": secret})),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.text());

    // The same username again: conflict.
    let dup = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"username": "ana.lopez", "full_name": "Otra", "role": "analyst", "institution_id": nl}),
        )
        .await;
    dup.assert_problem(409, "username_taken");

    let patch = |if_match: Option<&'static str>| {
        let mut headers = vec![
            (
                "authorization".to_string(),
                format!("Bearer {}", admin.token),
            ),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        if let Some(v) = if_match {
            headers.push(("if-match".into(), v.into()));
        }
        headers
    };
    let send = |headers: Vec<(String, String)>| {
        let app = &app;
        let id = id.clone();
        async move {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.call_raw(
                Method::PATCH,
                &format!("/api/v1/users/{id}"),
                &h,
                br#"{"role": "analyst"}"#.to_vec(),
            )
            .await
        }
    };
    send(patch(None))
        .await
        .assert_problem(428, "if_match_required");
    let ok = send(patch(Some("\"1\""))).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json["role"], "analyst");
    assert_eq!(ok.header("etag"), Some("\"2\""));
    send(patch(Some("\"1\"")))
        .await
        .assert_problem(412, "stale_version");

    // The change is audited with personal fields masked.
    let auditor_inst = app.institution("00", "Órgano de auditoría").await;
    let auditor = app.account(Role::Auditor, auditor_inst).await;
    let events = app
        .get(
            &format!("/api/v1/audit/events?resource_type=user&resource_id={id}"),
            &auditor.token,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text());
    let items = events.json["items"].as_array().unwrap();
    let update = items
        .iter()
        .find(|e| e["action"] == "update")
        .expect("update audited");
    assert_eq!(update["changes"]["role"]["before"], "operator");
    assert_eq!(update["changes"]["role"]["after"], "analyst");
    assert_eq!(update["actor"]["id"], admin.id.to_string());
    let create = items
        .iter()
        .find(|e| e["action"] == "create")
        .expect("create audited");
    assert_eq!(create["changes"]["full_name"]["after"], "[personal]");
    assert!(
        !events.text().contains("Ana López"),
        "no personal data in the audit log"
    );
}

#[actix_web::test]
async fn lists_page_with_a_cursor() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let admin = app.account(Role::NationalAdmin, nl).await;
    for _ in 0..4 {
        app.account(Role::Operator, nl).await;
    }
    let mut seen = vec![];
    let mut path = "/api/v1/users?limit=2".to_string();
    loop {
        let page = app.get(&path, &admin.token).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        match page.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every user once: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5);
    app.get("/api/v1/users?limit=501", &admin.token)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/users?cursor=bm9wZQ", &admin.token)
        .await
        .assert_problem(422, "validation_failed");
}

/// An administrator cannot lock itself out: neither a baja nor a password
/// reset of its own account (a reset revokes every session); its token
/// keeps working.
#[actix_web::test]
async fn an_admin_neither_deactivates_itself_nor_resets_its_own_password() {
    let app = TestApp::new().await;
    let inst = app.institution("09", "Secretaría Técnica").await;
    let admin = app.account(Role::NationalAdmin, inst).await;
    for action in ["deactivate", "reset-password"] {
        let res = app
            .post(
                &format!("/api/v1/users/{}/{action}", admin.id),
                &admin.token,
                json!({}),
            )
            .await;
        res.assert_problem(403, "forbidden");
        assert!(
            res.json["detail"].as_str().unwrap().contains("propia")
                || res.json["detail"].as_str().unwrap().contains("sí mismo"),
            "{}",
            res.text()
        );
    }
    let me = app.get("/api/v1/auth/me", &admin.token).await;
    assert_eq!(me.status, 200, "{}", me.text());
}
