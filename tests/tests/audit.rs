//! The audit log: written with every change, append-only, hash-chained.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use sintra_domain::access::Role;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::org::{self, NewInstitution};
use sintra_persistence::schema::{audit_events, institutions};
use sintra_persistence::StoreError;
use sintra_tests::TestApp;
use uuid::Uuid;

async fn audit_count(conn: &mut AsyncPgConnection) -> i64 {
    audit_events::table.count().get_result(conn).await.unwrap()
}

#[actix_web::test]
async fn a_committed_change_has_its_row_and_a_rolled_back_one_has_none() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let before = audit_count(&mut conn).await;
    let id = Uuid::now_v7();
    let result = conn
        .transaction::<(), StoreError, _>(async |conn| {
            org::insert_institution(
                conn,
                &NewInstitution {
                    id,
                    entity_code: "19".into(),
                    name: "Institución que no llegará".into(),
                    institution_type: "DIF".into(),
                    created_by: None,
                    updated_by: None,
                },
            )
            .await?;
            audit::append(
                conn,
                &[AuditEntry::modification(
                    &AuditContext::default(),
                    AuditAction::Create,
                    "institution",
                )
                .resource(id)],
            )
            .await?;
            Err(StoreError::Conflict {
                constraint: "forced rollback".into(),
            })
        })
        .await;
    assert!(result.is_err());
    assert_eq!(
        audit_count(&mut conn).await,
        before,
        "the rolled-back change left no audit row"
    );
    let exists: i64 = institutions::table
        .filter(institutions::id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    drop(conn);

    // Through the API, a committed change always has its row.
    let nl = app.institution("19", "CEAV NL").await;
    let admin = app.account(Role::NationalAdmin, nl).await;
    let res = app
        .post(
            "/api/v1/institutions",
            &admin.token,
            json!({"entity_code": "19", "name": "DIF Nuevo León", "institution_type": "DIF"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let created = res.json["id"].as_str().unwrap().to_string();
    let mut conn = app.conn().await;
    let rows: Vec<(String, String, Option<Uuid>)> = audit_events::table
        .filter(audit_events::resource_id.eq(&created))
        .select((
            audit_events::action,
            audit_events::kind,
            audit_events::actor_id,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(
            "create".to_string(),
            "modification".to_string(),
            Some(admin.id)
        )]
    );
}

#[actix_web::test]
async fn the_log_cannot_be_edited_and_tampering_is_reported() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let auditor_inst = app.institution("00", "Auditoría").await;
    let admin = app.account(Role::NationalAdmin, nl).await;
    let auditor = app.account(Role::Auditor, auditor_inst).await;
    for name in ["DIF NL", "Fiscalía NL", "Secretaría de Salud NL"] {
        let res = app
            .post(
                "/api/v1/institutions",
                &admin.token,
                json!({"entity_code": "19", "name": name, "institution_type": "DIF"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.status, 200, "{}", verify.text());
    assert_eq!(verify.json["valid"], true);
    assert!(verify.json["rows_checked"].as_i64().unwrap() >= 3);

    // As the API's role: no UPDATE, DELETE or TRUNCATE privilege.
    let mut app_conn = app.conn().await;
    for sql in [
        "UPDATE audit_events SET outcome = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut app_conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    drop(app_conn);

    // As the owner (a superuser): the trigger refuses.
    let mut owner = app.db.owner_conn().await;
    for sql in [
        "UPDATE audit_events SET outcome = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut owner)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("solo admite anexar"),
            "{sql}: {err}"
        );
    }

    // A superuser who bypasses triggers and rewrites a row is caught.
    let target: i64 = audit_events::table
        .filter(audit_events::resource_type.eq("institution"))
        .select(audit_events::id)
        .order(audit_events::id.desc())
        .first(&mut owner)
        .await
        .unwrap();
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut owner)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "UPDATE audit_events SET action = 'read' WHERE id = {target}"
    ))
    .execute(&mut owner)
    .await
    .unwrap();
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], false, "{}", verify.text());
    assert_eq!(verify.json["first_broken_id"], target);
    assert_eq!(verify.json["reason"], "content");

    // Removing a row instead breaks the link of the one after it.
    let app2 = TestApp::new().await;
    let nl2 = app2.institution("19", "CEAV NL").await;
    let a2 = app2.account(Role::NationalAdmin, nl2).await;
    let aud2 = app2.account(Role::Auditor, nl2).await;
    for name in ["Uno", "Dos", "Tres"] {
        app2.post(
            "/api/v1/institutions",
            &a2.token,
            json!({"entity_code": "19", "name": name, "institution_type": "DIF"}),
        )
        .await;
    }
    let mut owner2 = app2.db.owner_conn().await;
    let ids: Vec<i64> = audit_events::table
        .select(audit_events::id)
        .order(audit_events::id)
        .load(&mut owner2)
        .await
        .unwrap();
    let victim = ids[ids.len() - 2];
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut owner2)
        .await
        .unwrap();
    diesel::sql_query(format!("DELETE FROM audit_events WHERE id = {victim}"))
        .execute(&mut owner2)
        .await
        .unwrap();
    let verify = app2.get("/api/v1/audit/verify", &aud2.token).await;
    assert_eq!(verify.json["valid"], false);
    assert_eq!(verify.json["first_broken_id"], ids[ids.len() - 1]);
    assert_eq!(verify.json["reason"], "link");
}

#[actix_web::test]
async fn denied_requests_and_reads_are_recorded_and_filterable() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let federal = app.institution("00", "Órgano interno de control").await;
    let op = app.account(Role::Operator, nl).await;
    let admin = app.account(Role::NationalAdmin, nl).await;
    let auditor = app.account(Role::Auditor, federal).await;

    app.get("/api/v1/audit/events", &op.token)
        .await
        .assert_problem(403, "forbidden");
    app.call(actix_web::http::Method::GET, "/api/v1/users", None, None)
        .await
        .assert_problem(401, "unauthenticated");
    app.get(&format!("/api/v1/users/{}", op.id), &admin.token)
        .await;

    let denied = app
        .get(
            &format!("/api/v1/audit/events?action=denied&actor_id={}", op.id),
            &auditor.token,
        )
        .await;
    assert_eq!(denied.status, 200, "{}", denied.text());
    let items = denied.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", denied.text());
    assert_eq!(items[0]["resource_id"], "/api/v1/audit/events");
    assert_eq!(items[0]["outcome"], "denied");
    assert_eq!(items[0]["details"]["status"], 403);

    let all_denied = app
        .get("/api/v1/audit/events?action=denied", &auditor.token)
        .await;
    assert!(
        all_denied.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["status"] == 401 && e["actor"]["id"].is_null()),
        "the anonymous 401 is recorded too"
    );

    let reads = app
        .get(
            &format!(
                "/api/v1/audit/events?action=read&resource_type=user&resource_id={}",
                op.id
            ),
            &auditor.token,
        )
        .await;
    let items = reads.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor"]["username"], admin.username.as_str());
    assert_eq!(items[0]["kind"], "access");
    assert!(items[0]["request_id"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));

    // Time-range filters bound the answer.
    let future = app
        .get(
            "/api/v1/audit/events?from=2999-01-01T00:00:00Z",
            &auditor.token,
        )
        .await;
    assert_eq!(future.json["items"].as_array().unwrap().len(), 0);
}
