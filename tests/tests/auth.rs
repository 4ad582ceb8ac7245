//! Authentication: the token endpoint, token checks, revocation and login
//! throttling.

use actix_web::http::Method;
use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_http::config::DEV_JWT_SECRET;
use sintra_tests::{Account, TestApp, PASSWORD};
use uuid::Uuid;

async fn login(app: &TestApp, username: &str, password: &str) -> sintra_tests::Answer {
    app.call(
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({"grant_type": "password", "username": username, "password": password})),
    )
    .await
}

async fn setup() -> (TestApp, Account) {
    let app = TestApp::with_config(|c| c.login_max_failures = 3).await;
    let inst = app
        .institution("19", "Fiscalía General de Justicia de Nuevo León")
        .await;
    let op = app.account(Role::Operator, inst).await;
    (app, op)
}

#[actix_web::test]
async fn password_login_issues_a_short_lived_token_that_works() {
    let (app, op) = setup().await;
    let res = login(&app, &op.username, PASSWORD).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["token_type"], "Bearer");
    assert!(res.json["expires_in"].as_u64().unwrap() <= 900);
    assert!(res.json["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("rt_"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let token = res.json["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/auth/me", token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["username"], op.username.as_str());
    assert_eq!(me.json["role"], "operator");
    assert_eq!(me.json["entity_code"], "19");
}

#[actix_web::test]
async fn form_encoded_requests_are_accepted() {
    let (app, op) = setup().await;
    let body = format!(
        "grant_type=password&username={}&password={}",
        op.username, PASSWORD
    );
    let res = app
        .call_raw(
            Method::POST,
            "/api/v1/auth/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body.into_bytes(),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let (app, op) = setup().await;
    let wrong = login(&app, &op.username, "no-es-la-contrasena").await;
    let unknown = login(&app, "nadie.aqui", "no-es-la-contrasena").await;
    wrong.assert_problem(400, "invalid_grant");
    unknown.assert_problem(400, "invalid_grant");
    assert_eq!(wrong.json["detail"], unknown.json["detail"]);
    assert_eq!(wrong.json["title"], unknown.json["title"]);
}

#[actix_web::test]
async fn repeated_failures_lock_the_username_even_for_the_right_password() {
    let (app, op) = setup().await;
    for _ in 0..3 {
        login(&app, &op.username, "intento-equivocado")
            .await
            .assert_problem(400, "invalid_grant");
    }
    let locked = login(&app, &op.username, PASSWORD).await;
    locked.assert_problem(429, "too_many_requests");
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    // Unknown usernames lock the same way: the lock reveals nothing.
    for _ in 0..3 {
        login(&app, "fantasma", "x-intento-equivocado").await;
    }
    login(&app, "fantasma", "x-intento-equivocado")
        .await
        .assert_problem(429, "too_many_requests");
    // Another user is not affected.
    let inst = op.institution_id;
    let other = app.account(Role::Operator, inst).await;
    assert_eq!(login(&app, &other.username, PASSWORD).await.status, 200);

    // Both the failures and the success are in the audit log.
    let mut conn = app.db.owner_conn().await;
    let failed = count_actions(&mut conn, "login_failed").await;
    assert!(failed >= 6, "{failed} failed logins audited");
    assert_eq!(count_actions(&mut conn, "login").await, 1);
}

async fn count_actions(conn: &mut diesel_async::AsyncPgConnection, action: &str) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sintra_persistence::schema::audit_events::dsl as a;
    a::audit_events
        .filter(a::action.eq(action))
        .count()
        .get_result(conn)
        .await
        .unwrap()
}

fn claims(sub: Uuid, jti: Uuid) -> Value {
    let now = Utc::now().timestamp();
    json!({"iss": "sintra", "aud": "sintra-api", "sub": sub, "jti": jti, "iat": now, "nbf": now - 1, "exp": now + 600})
}

fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[actix_web::test]
async fn bad_tokens_are_refused() {
    let (app, op) = setup().await;
    // A real, registered jti, so only the property under test is wrong.
    let jti = Uuid::new_v4();
    let expires = Utc::now() + chrono::Duration::minutes(10);
    {
        let mut conn = app.conn().await;
        sintra_persistence::tokens::insert_access_token(&mut conn, jti, op.id, expires)
            .await
            .unwrap();
    }
    let good = claims(op.id, jti);
    let ok = sign(&good, Algorithm::HS256, DEV_JWT_SECRET);
    assert_eq!(
        app.get("/api/v1/auth/me", &ok).await.status,
        200,
        "the control token works"
    );

    let mut cases: Vec<(&str, String)> = vec![];
    cases.push((
        "forged signature",
        sign(
            &good,
            Algorithm::HS256,
            "otro-secreto-de-al-menos-32-caracteres!!",
        ),
    ));
    let mut c = good.clone();
    c["exp"] = json!(Utc::now().timestamp() - 120);
    cases.push(("expired", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    let mut c = good.clone();
    c["nbf"] = json!(Utc::now().timestamp() + 300);
    cases.push(("not yet valid", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    let mut c = good.clone();
    c["aud"] = json!("otra-api");
    cases.push(("wrong audience", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    let mut c = good.clone();
    c["iss"] = json!("otro-emisor");
    cases.push(("wrong issuer", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    cases.push((
        "wrong algorithm",
        sign(&good, Algorithm::HS512, DEV_JWT_SECRET),
    ));
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("nbf");
    cases.push(("missing nbf", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("jti");
    cases.push(("missing jti", sign(&c, Algorithm::HS256, DEV_JWT_SECRET)));
    let mut c = good.clone();
    c["jti"] = json!(Uuid::new_v4());
    cases.push((
        "unregistered jti",
        sign(&c, Algorithm::HS256, DEV_JWT_SECRET),
    ));
    let mut c = good.clone();
    c["sub"] = json!(Uuid::new_v4());
    cases.push((
        "someone else's jti",
        sign(&c, Algorithm::HS256, DEV_JWT_SECRET),
    ));
    // alg=none: header {"alg":"none"}, no signature.
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&good)
        ),
    ));
    cases.push(("garbage", "not-a-token".into()));

    for (name, token) in cases {
        let res = app.get("/api/v1/auth/me", &token).await;
        assert_eq!(res.status, 401, "{name}: {}", res.text());
        res.assert_problem(401, "unauthenticated");
    }

    // Revoked: logout revokes the token at once.
    let res = app.post("/api/v1/auth/logout", &ok, json!({})).await;
    assert_eq!(res.status, 204, "{}", res.text());
    app.get("/api/v1/auth/me", &ok)
        .await
        .assert_problem(401, "unauthenticated");
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_chain() {
    let (app, op) = setup().await;
    let first = login(&app, &op.username, PASSWORD).await;
    let rt1 = first.json["refresh_token"].as_str().unwrap().to_string();
    let refresh = |t: String| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"grant_type": "refresh_token", "refresh_token": t})),
            )
            .await
        }
    };
    let second = refresh(rt1.clone()).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let rt2 = second.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    // The spent token again: refused, and its successor dies with it.
    refresh(rt1).await.assert_problem(400, "invalid_grant");
    refresh(rt2).await.assert_problem(400, "invalid_grant");
}

#[actix_web::test]
async fn service_accounts_use_client_credentials_only() {
    let (app, op) = setup().await;
    let admin = app.account(Role::NationalAdmin, op.institution_id).await;
    let created = app
        .post(
            "/api/v1/service-accounts",
            &admin.token,
            json!({"client_id": "sistema.nl", "name": "Sistema estatal de NL", "institution_id": op.institution_id}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let secret = created.json["one_time_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created.json["user"]["role"], "system");

    let token = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": "sistema.nl", "client_secret": secret})),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.text());
    // A service account cannot log in as a person, nor a person as a service.
    login(&app, "sistema.nl", &secret)
        .await
        .assert_problem(400, "invalid_grant");
    let res = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": op.username, "client_secret": PASSWORD})),
        )
        .await;
    res.assert_problem(400, "invalid_grant");
}

#[actix_web::test]
async fn deactivating_a_user_revokes_their_tokens_at_once() {
    let (app, op) = setup().await;
    let admin = app.account(Role::NationalAdmin, op.institution_id).await;
    assert_eq!(app.get("/api/v1/auth/me", &op.token).await.status, 200);
    let res = app
        .post(
            &format!("/api/v1/users/{}/deactivate", op.id),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json["active"], false);
    app.get("/api/v1/auth/me", &op.token)
        .await
        .assert_problem(401, "unauthenticated");
    login(&app, &op.username, PASSWORD)
        .await
        .assert_problem(400, "invalid_grant");
    // Reactivated, they can log in again (old tokens stay revoked).
    let res = app
        .post(
            &format!("/api/v1/users/{}/reactivate", op.id),
            &admin.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200);
    app.get("/api/v1/auth/me", &op.token)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(login(&app, &op.username, PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn an_empty_system_gets_its_first_national_admin_once() {
    let app = TestApp::with_config(|c| {
        c.admin_user = Some("Admin.Nacional".into());
        c.admin_password = Some("contrasena-inicial-segura".into());
    })
    .await;
    let first = sintra_http::bootstrap::first_admin(&app.state.pool, &app.state.config)
        .await
        .unwrap();
    assert!(matches!(
        first,
        sintra_http::bootstrap::Bootstrap::Created { ref username, generated_password: None } if username == "admin.nacional"
    ));
    // Its password is one-time: changed at the first login.
    let token = app
        .first_login("admin.nacional", "contrasena-inicial-segura")
        .await;
    let me = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(me.json["role"], "national_admin");
    assert_eq!(me.json["entity_code"], "00");
    // A second start changes nothing.
    let again = sintra_http::bootstrap::first_admin(&app.state.pool, &app.state.config)
        .await
        .unwrap();
    assert!(matches!(
        again,
        sintra_http::bootstrap::Bootstrap::NotNeeded
    ));

    // Without a configured password, a one-time one is generated.
    let fresh = TestApp::new().await;
    let made = sintra_http::bootstrap::first_admin(&fresh.state.pool, &fresh.state.config)
        .await
        .unwrap();
    let sintra_http::bootstrap::Bootstrap::Created {
        username,
        generated_password: Some(password),
    } = made
    else {
        panic!("a one-time password is generated");
    };
    assert_eq!(login(&fresh, &username, &password).await.status, 200);
}
