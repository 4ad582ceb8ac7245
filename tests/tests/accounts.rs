//! One-time passwords (the first admin's, a new user's, a reset) log in only
//! to change themselves, expire unused, and a change revokes every other
//! session.

use actix_web::http::Method;
use serde_json::json;
use sintra_domain::access::Role;
use sintra_http::bootstrap::{self, Bootstrap};
use sintra_tests::{Answer, TestApp, OWN_PASSWORD, PASSWORD};

async fn login(app: &TestApp, username: &str, password: &str) -> Answer {
    app.call(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "password", "username": username, "password": password})),
    )
    .await
}

fn token(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json["access_token"].as_str().unwrap().to_string()
}

/// How many audit rows of this action name this user.
async fn audit_rows(app: &TestApp, action: &str, user: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.owner_conn().await;
    diesel::sql_query(
        "SELECT count(*) AS n FROM audit_events WHERE action = $1 AND (resource_id = $2 OR actor_username = $2)",
    )
    .bind::<diesel::sql_types::Text, _>(action)
    .bind::<diesel::sql_types::Text, _>(user)
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n
}

/// Every route but the password change answers 403 `password_change_required`.
async fn assert_only_change_allowed(app: &TestApp, token: &str) {
    for (method, path) in [
        (Method::GET, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/forms"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/victims"),
        (Method::POST, "/api/v1/auth/logout"),
    ] {
        let res = app.call(method.clone(), path, Some(token), None).await;
        res.assert_problem(403, "password_change_required");
        assert!(res.json["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/auth/password"));
    }
}

#[actix_web::test]
async fn the_first_admin_password_only_logs_in_to_be_changed() {
    let app = TestApp::new().await;
    let mut config = (*app.state.config).clone();
    config.admin_user = Some("jefa".into());
    config.admin_password = Some("contrasena-inicial-del-servidor".into());
    let created = bootstrap::first_admin(&app.state.pool, &config)
        .await
        .unwrap();
    assert!(matches!(created, Bootstrap::Created { .. }));
    let first = token(&login(&app, "jefa", "contrasena-inicial-del-servidor").await);
    assert_only_change_allowed(&app, &first).await;
    let own = app
        .first_login("jefa", "contrasena-inicial-del-servidor")
        .await;
    let me = app.get("/api/v1/auth/me", &own).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json["role"], "national_admin");
    // The first one-time session was revoked by the change.
    app.get("/api/v1/auth/me", &first)
        .await
        .assert_problem(401, "unauthenticated");
    // The old password no longer logs in; the new one does.
    login(&app, "jefa", "contrasena-inicial-del-servidor")
        .await
        .assert_problem(400, "invalid_grant");
    token(&login(&app, "jefa", OWN_PASSWORD).await);
}

#[actix_web::test]
async fn a_new_user_changes_the_one_time_password_under_the_policy_and_it_is_audited() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    let admin = app.account(Role::EntityAdmin, nl).await;
    let created = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"username": "ana.lopez", "full_name": "Ana López", "role": "operator", "institution_id": nl}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json["user"]["id"].as_str().unwrap().to_string();
    let secret = created.json["one_time_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let session = token(&login(&app, "ana.lopez", &secret).await);
    assert_only_change_allowed(&app, &session).await;

    let change = |current: &str, new: &str| {
        app.post(
            "/api/v1/auth/password",
            &session,
            json!({"current_password": current, "new_password": new}),
        )
    };
    for (current, new, field, code) in [
        (secret.as_str(), "corta", "new_password", "password_length"),
        (
            secret.as_str(),
            secret.as_str(),
            "new_password",
            "password_unchanged",
        ),
        (
            secret.as_str(),
            "mi-ANA.LOPEZ-segura",
            "new_password",
            "password_contains_username",
        ),
        (
            "no-es-la-actual-123",
            OWN_PASSWORD,
            "current_password",
            "wrong_password",
        ),
    ] {
        let res = change(current, new).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.json["errors"][0]["field"], field, "{}", res.text());
        assert_eq!(res.json["errors"][0]["code"], code, "{}", res.text());
    }
    assert_eq!(audit_rows(&app, "password_change_failed", &id).await, 1);
    assert_eq!(audit_rows(&app, "password_change", &id).await, 0);
    // Still one-time: nothing else yet.
    assert_only_change_allowed(&app, &session).await;

    let done = change(&secret, OWN_PASSWORD).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.header("cache-control"), Some("no-store"));
    let own = done.json["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/auth/me", own).await.status, 200);
    assert_eq!(audit_rows(&app, "password_change", &id).await, 1);
    // The row names the actor and says what it was, never the secret.
    let events = app
        .get(
            &format!("/api/v1/audit/events?action=password_change&resource_id={id}"),
            &app.account(Role::Auditor, nl).await.token,
        )
        .await;
    assert_eq!(events.status, 200, "{}", events.text());
    let text = events.text();
    assert!(text.contains("\"was_one_time\":true"), "{text}");
    assert!(!text.contains(&secret) && !text.contains(OWN_PASSWORD));
}

#[actix_web::test]
async fn a_reset_password_is_one_time_again_and_revokes_the_old_sessions() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    let admin = app.account(Role::EntityAdmin, nl).await;
    let user = app.account(Role::Operator, nl).await;
    assert_eq!(app.get("/api/v1/victims", &user.token).await.status, 200);
    let reset = app
        .post(
            &format!("/api/v1/users/{}/reset-password", user.id),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text());
    let secret = reset.json["one_time_secret"].as_str().unwrap();
    app.get("/api/v1/victims", &user.token)
        .await
        .assert_problem(401, "unauthenticated");
    let session = token(&login(&app, &user.username, secret).await);
    assert_only_change_allowed(&app, &session).await;
    let own = app.first_login(&user.username, secret).await;
    assert_eq!(app.get("/api/v1/victims", &own).await.status, 200);
}

#[actix_web::test]
async fn an_unused_one_time_password_expires() {
    let app =
        TestApp::with_config(|c| c.one_time_password_ttl = std::time::Duration::from_secs(3600))
            .await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    let admin = app.account(Role::EntityAdmin, nl).await;
    let created = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"username": "luis.perez", "full_name": "Luis Pérez", "role": "analyst", "institution_id": nl}),
        )
        .await;
    let id = created.json["user"]["id"].as_str().unwrap().to_string();
    let secret = created.json["one_time_secret"]
        .as_str()
        .unwrap()
        .to_string();

    #[derive(diesel::QueryableByName)]
    struct Hours {
        #[diesel(sql_type = diesel::sql_types::Double)]
        hours: f64,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.owner_conn().await;
    let left = diesel::sql_query(
        "SELECT extract(epoch FROM one_time_password_expires_at - now())::float8 / 3600 AS hours FROM users WHERE id = $1::uuid",
    )
    .bind::<diesel::sql_types::Text, _>(&id)
    .get_result::<Hours>(&mut conn)
    .await
    .unwrap();
    assert!(
        (0.9..=1.0).contains(&left.hours),
        "the configured lifetime: {}",
        left.hours
    );

    // A session obtained in time, then the password's time runs out.
    let session = token(&login(&app, "luis.perez", &secret).await);
    let refresh = login(&app, "luis.perez", &secret).await.json["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    diesel::sql_query(
        "UPDATE users SET one_time_password_expires_at = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind::<diesel::sql_types::Text, _>(&id)
    .execute(&mut conn)
    .await
    .unwrap();
    login(&app, "luis.perez", &secret)
        .await
        .assert_problem(400, "invalid_grant");
    app.call(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": refresh})),
    )
    .await
    .assert_problem(400, "invalid_grant");
    assert_only_change_allowed(&app, &session).await;
    let events = app
        .get(
            "/api/v1/audit/events?action=login_failed",
            &app.account(Role::Auditor, nl).await.token,
        )
        .await;
    assert!(
        events.text().contains("\"one_time_password_expired\":true"),
        "{}",
        events.text()
    );
}

#[actix_web::test]
async fn a_password_change_revokes_every_other_session_and_refresh_token() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    let user = app.account(Role::Operator, nl).await;
    // Ordinary passwords are not one-time: the harness's users work at once.
    assert_eq!(app.get("/api/v1/victims", &user.token).await.status, 200);
    let other = login(&app, &user.username, PASSWORD).await;
    let other_token = token(&other);
    let other_refresh = other.json["refresh_token"].as_str().unwrap().to_string();

    let done = app
        .post(
            "/api/v1/auth/password",
            &user.token,
            json!({"current_password": PASSWORD, "new_password": OWN_PASSWORD}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    for t in [&user.token, &other_token] {
        app.get("/api/v1/auth/me", t)
            .await
            .assert_problem(401, "unauthenticated");
    }
    app.call(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": other_refresh})),
    )
    .await
    .assert_problem(400, "invalid_grant");
    let fresh = done.json["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/auth/me", fresh).await.status, 200);
    login(&app, &user.username, PASSWORD)
        .await
        .assert_problem(400, "invalid_grant");
    token(&login(&app, &user.username, OWN_PASSWORD).await);
}

#[actix_web::test]
async fn a_service_account_does_not_change_its_own_secret() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    let system = app.account(Role::System, nl).await;
    app.post(
        "/api/v1/auth/password",
        &system.token,
        json!({"current_password": PASSWORD, "new_password": OWN_PASSWORD}),
    )
    .await
    .assert_problem(403, "forbidden");
}
