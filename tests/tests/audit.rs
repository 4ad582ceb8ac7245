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
    // The rows are chained shortly after they commit (here: by verify).
    let verify = app2.get("/api/v1/audit/verify", &aud2.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
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

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A test row, told apart from the others by its resource id.
fn entry(marker: &str) -> AuditEntry {
    AuditEntry::access(&AuditContext::default(), AuditAction::Read, "test").resource(marker)
}

/// Chain positions of the test rows whose marker starts with `marker`, in
/// chain order: (event id, marker).
async fn chained(conn: &mut AsyncPgConnection, marker: &str) -> Vec<(i64, String)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT e.id, e.resource_id AS action FROM audit_chain c JOIN audit_events e ON e.id = c.event_id
         WHERE e.resource_type = 'test' AND e.resource_id LIKE $1 ORDER BY c.position",
    )
    .bind::<diesel::sql_types::Text, _>(format!("{marker}%"))
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.id, r.action)).collect()
}

#[actix_web::test]
async fn a_row_that_commits_after_a_later_id_is_chained_once_and_not_skipped() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let auditor = app.account(Role::Auditor, nl).await;
    let mut slow = app.conn().await;
    let mut quick = app.conn().await;

    // `slow` takes the smaller id and stays open; `quick` takes the next one
    // and commits first.
    exec(&mut slow, "BEGIN").await;
    audit::append(&mut slow, &[entry("late_slow")])
        .await
        .unwrap();
    audit::append(&mut quick, &[entry("late_quick")])
        .await
        .unwrap();

    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.status, 200, "{}", verify.text());
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    let mut conn = app.conn().await;
    let first = chained(&mut conn, "late_").await;
    assert_eq!(
        first.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["late_quick"],
        "only the committed row is chained"
    );

    exec(&mut slow, "COMMIT").await;
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    assert_eq!(verify.json["pending_rows"], 0, "{}", verify.text());
    let both = chained(&mut conn, "late_").await;
    assert_eq!(
        both.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["late_quick", "late_slow"],
        "the late commit is chained after the row it let through, once"
    );
    assert!(both[1].0 < both[0].0, "the late row had the smaller id");

    // Sealing again chains nothing twice.
    assert_eq!(audit::seal(&mut conn, true).await.unwrap(), 0);
}

#[actix_web::test]
async fn the_api_role_cannot_write_the_chain_nor_hide_a_row_from_the_sealer() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let auditor = app.account(Role::Auditor, nl).await;
    let mut conn = app.conn().await;
    audit::append(&mut conn, &[entry("one")]).await.unwrap();
    audit::seal(&mut conn, true).await.unwrap();
    for sql in [
        "INSERT INTO audit_chain (position, event_id, prev_hash, hash) VALUES (999, 999, 'x', 'y')",
        "UPDATE audit_chain SET hash = 'x'",
        "DELETE FROM audit_chain",
        "UPDATE audit_chain_head SET hash = 'x'",
        "INSERT INTO audit_events (id, occurred_at, kind, action, resource_type, outcome, txid)
         VALUES (nextval('audit_events_id_seq'), now(), 'access', 'x', 'x', 'ok', '1')",
    ] {
        let err = diesel::sql_query(sql).execute(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }

    // A superuser who slips in a row with a forged, long-finished transaction
    // id (so the sealer never looks at it) is reported.
    let mut owner = app.db.owner_conn().await;
    exec(
        &mut owner,
        "INSERT INTO audit_events (id, occurred_at, kind, action, resource_type, outcome, txid)
         VALUES (nextval('audit_events_id_seq'), now(), 'access', 'forged', 'x', 'ok', '3')",
    )
    .await;
    let forged: i64 = audit_events::table
        .filter(audit_events::action.eq("forged"))
        .select(audit_events::id)
        .first(&mut owner)
        .await
        .unwrap();
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], false, "{}", verify.text());
    assert_eq!(verify.json["first_broken_id"], forged);
    assert_eq!(verify.json["reason"], "unchained");
}

#[actix_web::test]
async fn removing_the_newest_rows_is_reported_against_the_head() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let auditor = app.account(Role::Auditor, nl).await;
    let mut conn = app.conn().await;
    for marker in ["tail_1", "tail_2", "tail_3"] {
        audit::append(&mut conn, &[entry(marker)]).await.unwrap();
    }
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    let rows = chained(&mut conn, "tail_").await;
    let mut owner = app.db.owner_conn().await;
    exec(&mut owner, "SET session_replication_role = replica").await;
    exec(
        &mut owner,
        &format!("DELETE FROM audit_events WHERE id >= {}", rows[1].0),
    )
    .await;
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], false, "{}", verify.text());
    assert_eq!(verify.json["first_broken_id"], rows[1].0);
    assert_eq!(verify.json["reason"], "missing");
}

#[actix_web::test]
async fn probing_ids_outside_the_scope_answers_404_and_leaves_denial_rows() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía NL").await;
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let auditor_inst = app.institution("00", "Auditoría").await;
    let owner = app.account(Role::Operator, nl).await;
    let prober = app.account(Role::Operator, cdmx).await;
    let auditor = app.account(Role::Auditor, auditor_inst).await;
    let res = app
        .post(
            "/api/v1/victims",
            &owner.token,
            json!({
                "condition": "VICTIMA",
                "given_names": "María Guadalupe",
                "first_surname": "Hernández",
                "sex": "MUJER",
                "birth_date": "1999-04-12",
                "nationality": "MEX",
                "detection_date": "2024-02-10",
                "detection_entity_code": "19",
                "detection_municipality_code": "19039",
                "detection_source": "DENUNCIA",
                "exploitation_forms": ["EXPLOTACION_SEXUAL"]
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let existing = res.json["data"]["id"].as_str().unwrap().to_string();
    let missing = Uuid::now_v7().to_string();

    // The answer tells the prober nothing: same status, same body (but for
    // the request id).
    let answer = |id: &str| {
        let path = format!("/api/v1/victims/{id}");
        let app = &app;
        let token = prober.token.clone();
        async move {
            let res = app.get(&path, &token).await;
            res.assert_problem(404, "not_found");
            let mut body = res.json.clone();
            body.as_object_mut().unwrap().remove("request_id");
            body.as_object_mut().unwrap().remove("instance");
            body
        }
    };
    assert_eq!(answer(&existing).await, answer(&missing).await);

    // The owner's own read is an access row, not a denial.
    let own = app
        .get(&format!("/api/v1/victims/{existing}"), &owner.token)
        .await;
    assert_eq!(own.status, 200, "{}", own.text());

    let rows = app
        .get(
            &format!("/api/v1/audit/events?action=denied&actor_id={}", prober.id),
            &auditor.token,
        )
        .await;
    assert_eq!(rows.status, 200, "{}", rows.text());
    let items = rows.json["items"].as_array().unwrap();
    let mut probed: Vec<&str> = items
        .iter()
        .map(|e| {
            assert_eq!(e["resource_id"], "/api/v1/victims/{id}");
            assert_eq!(e["outcome"], "denied");
            assert_eq!(e["details"]["status"], 404);
            assert_eq!(e["details"]["method"], "GET");
            assert_eq!(e["actor"]["entity_code"], "09");
            e["details"]["path"]["id"].as_str().unwrap()
        })
        .collect();
    probed.sort();
    let mut expected = vec![existing.as_str(), missing.as_str()];
    expected.sort();
    assert_eq!(
        probed,
        expected,
        "one denial row per probe: {}",
        rows.text()
    );
    let owner_denials = app
        .get(
            &format!("/api/v1/audit/events?action=denied&actor_id={}", owner.id),
            &auditor.token,
        )
        .await;
    assert_eq!(owner_denials.json["items"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn a_superuser_rewrite_passes_plain_verify_but_not_a_signed_checkpoint() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let admin = app.account(Role::NationalAdmin, nl).await;
    let auditor = app.account(Role::Auditor, nl).await;
    for name in ["DIF NL", "Fiscalía NL"] {
        let res = app
            .post(
                "/api/v1/institutions",
                &admin.token,
                json!({"entity_code": "19", "name": name, "institution_type": "DIF"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let cp = app.get("/api/v1/audit/checkpoints", &auditor.token).await;
    assert_eq!(cp.status, 200, "{}", cp.text());
    let token = cp.json["token"].as_str().unwrap().to_string();
    let position = cp.json["position"].as_i64().unwrap();
    assert!(position >= 2);
    assert_eq!(cp.json["public_key"].as_str().unwrap().len(), 64);

    // The log goes on; verify from the checkpoint rereads only what follows.
    app.post(
        "/api/v1/institutions",
        &admin.token,
        json!({"entity_code": "19", "name": "Salud NL", "institution_type": "DIF"}),
    )
    .await;
    let since = app
        .get(
            &format!("/api/v1/audit/verify?checkpoint={token}"),
            &auditor.token,
        )
        .await;
    assert_eq!(since.status, 200, "{}", since.text());
    assert_eq!(since.json["valid"], true, "{}", since.text());
    assert_eq!(since.json["checked_from_position"], position);
    let full = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(
        since.json["rows_checked"].as_i64().unwrap(),
        full.json["rows_checked"].as_i64().unwrap() - position,
        "only the rows after the checkpoint were recomputed"
    );

    // A checkpoint that was not signed by this server's key is refused.
    let forged = token.replacen(&format!("{position}."), &format!("{}.", position - 1), 1);
    app.get(
        &format!("/api/v1/audit/verify?checkpoint={forged}"),
        &auditor.token,
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get("/api/v1/audit/verify?checkpoint=abc", &auditor.token)
        .await
        .assert_problem(400, "invalid_checkpoint");

    // A superuser rewrites an early row and recomputes the whole chain.
    let mut owner = app.db.owner_conn().await;
    exec(&mut owner, "SET session_replication_role = replica").await;
    exec(
        &mut owner,
        "UPDATE audit_events SET action = 'read'
         WHERE id = (SELECT min(id) FROM audit_events WHERE resource_type = 'institution')",
    )
    .await;
    exec(
        &mut owner,
        "DO $$
         DECLARE r record; e audit_events; prev text := repeat('0', 64); h text;
         BEGIN
             CREATE TEMP TABLE old_chain AS SELECT position, event_id FROM audit_chain;
             DELETE FROM audit_chain;
             FOR r IN SELECT position, event_id FROM old_chain ORDER BY position LOOP
                 SELECT * INTO e FROM audit_events WHERE id = r.event_id;
                 h := audit_event_hash(prev, e);
                 INSERT INTO audit_chain (position, event_id, prev_hash, hash, event_at)
                 VALUES (r.position, r.event_id, prev, h, e.occurred_at);
                 prev := h;
             END LOOP;
             UPDATE audit_chain_head SET hash = prev;
         END $$",
    )
    .await;
    let plain = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(
        plain.json["valid"],
        true,
        "the rewrite fools plain verify: {}",
        plain.text()
    );
    let against = app
        .get(
            &format!("/api/v1/audit/verify?checkpoint={token}"),
            &auditor.token,
        )
        .await;
    assert_eq!(against.status, 200, "{}", against.text());
    assert_eq!(against.json["valid"], false, "{}", against.text());
    assert_eq!(against.json["reason"], "checkpoint");
}

/// The address an audit row names: `X-Forwarded-For` is believed only from
/// a configured trusted proxy, and only up to the first untrusted hop; from
/// anyone else the header is the caller's own claim and is ignored.
#[actix_web::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    use actix_web::http::Method;
    use sintra_http::proxies::TrustedProxies;

    async fn audited_ip(app: &TestApp, token: &str, forwarded: &str) -> Option<String> {
        let answer = app
            .call_raw(
                Method::GET,
                "/api/v1/victims",
                &[
                    ("Authorization", &format!("Bearer {token}")),
                    ("X-Forwarded-For", forwarded),
                ],
                Vec::new(),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json);
        let request_id = answer
            .header("x-request-id")
            .expect("request id")
            .to_string();
        let mut conn = app.conn().await;
        let ips: Vec<Option<String>> = audit_events::table
            .filter(audit_events::request_id.eq(&request_id))
            .select(audit_events::ip)
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(ips.len(), 1, "one access row for the list");
        ips.into_iter().next().unwrap()
    }

    // The test client connects from 127.0.0.1.
    let spoofed = "6.6.6.6, 203.0.113.7";
    let direct = TestApp::new().await;
    let inst = direct.institution("19", "Fiscalía").await;
    let admin = direct.account(Role::NationalAdmin, inst).await;
    assert_eq!(
        audited_ip(&direct, &admin.token, spoofed).await.as_deref(),
        Some("127.0.0.1"),
        "a peer that is no trusted proxy cannot choose its audited address"
    );

    let proxied = TestApp::with_config(|c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
    })
    .await;
    let inst = proxied.institution("19", "Fiscalía").await;
    let admin = proxied.account(Role::NationalAdmin, inst).await;
    assert_eq!(
        audited_ip(&proxied, &admin.token, spoofed).await.as_deref(),
        Some("203.0.113.7"),
        "behind a trusted proxy the nearest untrusted hop is the client, not what the client wrote"
    );
    assert_eq!(
        audited_ip(&proxied, &admin.token, "198.51.100.4, 10.2.3.4")
            .await
            .as_deref(),
        Some("198.51.100.4"),
        "trusted hops are skipped"
    );
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The partitions of the log, oldest first (the DEFAULT one last).
async fn partitions(conn: &mut AsyncPgConnection) -> Vec<String> {
    let rows: Vec<Named> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname = 'audit_events_default', c.relname",
    )
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

/// Appends, as the owner (who alone may choose a row's time), one test row
/// that occurred `months` months before now; returns its id.
async fn row_months_ago(owner: &mut AsyncPgConnection, marker: &str, months: i32) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Id = diesel::sql_query(
        "INSERT INTO audit_events (occurred_at, kind, action, resource_type, resource_id, outcome)
         VALUES (now() - make_interval(months => $1), 'access', 'read', 'test', $2, 'ok')
         RETURNING id",
    )
    .bind::<diesel::sql_types::Integer, _>(months)
    .bind::<diesel::sql_types::Text, _>(marker)
    .get_result(owner)
    .await
    .unwrap();
    row.id
}

#[actix_web::test]
async fn every_partition_of_the_log_is_append_only() {
    let app = TestApp::new().await;
    let mut owner = app.db.owner_conn().await;
    // The current month and the three after it exist from the start, and a
    // DEFAULT partition takes whatever falls outside them.
    let parts = partitions(&mut owner).await;
    assert!(parts.len() >= 5, "{parts:?}");
    assert_eq!(parts.last().unwrap(), "audit_events_default");
    // An older month created now is protected like the others.
    exec(
        &mut owner,
        "SELECT audit_create_partition((now() - interval '14 months')::date)",
    )
    .await;
    let parts = partitions(&mut owner).await;
    let mut conn = app.conn().await;
    audit::append(&mut conn, &[entry("partition_probe")])
        .await
        .unwrap();
    // A row in every partition (row triggers only refuse rows that exist).
    for months in [14, -1, -2, -3, -240] {
        row_months_ago(&mut owner, "partition_probe", months).await;
    }
    let filled: Vec<Named> =
        diesel::sql_query("SELECT DISTINCT tableoid::regclass::text AS name FROM audit_events")
            .load(&mut owner)
            .await
            .unwrap();
    assert_eq!(filled.len(), parts.len(), "every partition holds a row");
    for part in &parts {
        // The API's role has no right on a partition itself (it appends
        // through the log, whose rights are the only ones checked).
        for sql in [
            format!("SELECT count(*) FROM {part}"),
            format!("UPDATE {part} SET outcome = 'x'"),
            format!("DELETE FROM {part}"),
            format!("TRUNCATE {part}"),
        ] {
            let err = diesel::sql_query(&sql)
                .execute(&mut conn)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("permission denied"),
                "{sql}: {err}"
            );
        }
        // Its owner is refused by the triggers, on the partition directly.
        for sql in [
            format!("UPDATE {part} SET outcome = 'x'"),
            format!("DELETE FROM {part}"),
            format!("TRUNCATE {part}"),
        ] {
            let err = diesel::sql_query(&sql)
                .execute(&mut owner)
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("solo admite anexar"),
                "{sql}: {err}"
            );
        }
    }
    // Nor may the API choose a row's time (to backdate it into an old
    // partition), its id, or create partitions of any month it likes.
    for sql in [
        "INSERT INTO audit_events (occurred_at, kind, action, resource_type, outcome)
         VALUES ('2020-01-01', 'access', 'x', 'x', 'ok')",
        "INSERT INTO audit_events (id, kind, action, resource_type, outcome)
         VALUES (1, 'access', 'x', 'x', 'ok')",
        "SELECT audit_create_partition('2040-01-01')",
        "SELECT audit_protect_partition('records')",
    ] {
        let err = diesel::sql_query(sql).execute(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied"),
            "{sql}: {err}"
        );
    }
    // The coming months, which the sealer asks for, it may.
    assert_eq!(
        audit::ensure_partitions(&mut conn, 5).await.unwrap(),
        2,
        "months four and five were created"
    );
    assert_eq!(audit::ensure_partitions(&mut conn, 5).await.unwrap(), 0);
    assert_eq!(partitions(&mut owner).await.len(), parts.len() + 2);
}

#[actix_web::test]
async fn verify_names_a_tampered_row_in_an_older_month_and_stays_incremental() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "CEAV NL").await;
    let auditor = app.account(Role::Auditor, nl).await;
    let mut owner = app.db.owner_conn().await;
    for months in [3, 2, 1] {
        exec(
            &mut owner,
            &format!("SELECT audit_create_partition((now() - interval '{months} months')::date)"),
        )
        .await;
    }
    // Rows in four months, and one far ahead that falls in the DEFAULT
    // partition: no insert fails for want of a partition.
    let old = row_months_ago(&mut owner, "months_3", 3).await;
    row_months_ago(&mut owner, "months_2", 2).await;
    row_months_ago(&mut owner, "months_1", 1).await;
    let mut conn = app.conn().await;
    audit::append(&mut conn, &[entry("months_0")])
        .await
        .unwrap();
    row_months_ago(&mut owner, "months_future", -60).await;

    #[derive(QueryableByName)]
    struct Where {
        #[diesel(sql_type = diesel::sql_types::Text)]
        part: String,
    }
    let homes: Vec<Where> = diesel::sql_query(
        "SELECT tableoid::regclass::text AS part FROM audit_events
         WHERE resource_type = 'test' ORDER BY id",
    )
    .load(&mut owner)
    .await
    .unwrap();
    let homes: Vec<String> = homes.into_iter().map(|w| w.part).collect();
    assert_eq!(homes.len(), 5);
    assert_eq!(
        homes
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        5,
        "each row in a partition of its own: {homes:?}"
    );
    assert_eq!(homes[4], "audit_events_default");

    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.status, 200, "{}", verify.text());
    assert_eq!(verify.json["valid"], true, "{}", verify.text());
    assert_eq!(chained(&mut conn, "months_").await.len(), 5);

    // A checkpoint; then rows appended after it are the only ones reread.
    let cp = app.get("/api/v1/audit/checkpoints", &auditor.token).await;
    assert_eq!(cp.status, 200, "{}", cp.text());
    let token = cp.json["token"].as_str().unwrap().to_string();
    for marker in ["after_1", "after_2"] {
        audit::append(&mut conn, &[entry(marker)]).await.unwrap();
    }
    let since = app
        .get(
            &format!("/api/v1/audit/verify?checkpoint={token}"),
            &auditor.token,
        )
        .await;
    assert_eq!(since.json["valid"], true, "{}", since.text());
    assert_eq!(since.json["rows_checked"], 2, "{}", since.text());

    // A superuser rewrites the row of three months ago: verify names it.
    exec(&mut owner, "SET session_replication_role = replica").await;
    exec(
        &mut owner,
        &format!("UPDATE audit_events SET outcome = 'denied' WHERE id = {old}"),
    )
    .await;
    exec(&mut owner, "SET session_replication_role = origin").await;
    let verify = app.get("/api/v1/audit/verify", &auditor.token).await;
    assert_eq!(verify.json["valid"], false, "{}", verify.text());
    assert_eq!(verify.json["first_broken_id"], old);
    assert_eq!(verify.json["reason"], "content");

    // A row slipped in after the checkpoint with a forged, long-finished
    // transaction is found by the incremental verify too.
    exec(
        &mut owner,
        "INSERT INTO audit_events (kind, action, resource_type, outcome, txid)
         VALUES ('access', 'forged', 'x', 'ok', '3')",
    )
    .await;
    let forged: i64 = audit_events::table
        .filter(audit_events::action.eq("forged"))
        .select(audit_events::id)
        .first(&mut owner)
        .await
        .unwrap();
    let since = app
        .get(
            &format!("/api/v1/audit/verify?checkpoint={token}"),
            &auditor.token,
        )
        .await;
    assert_eq!(since.json["valid"], false, "{}", since.text());
    assert_eq!(since.json["first_broken_id"], forged);
    assert_eq!(since.json["reason"], "unchained");
}

#[actix_web::test]
async fn a_month_whose_rows_fell_in_the_default_partition_is_left_there() {
    let app = TestApp::new().await;
    let mut owner = app.db.owner_conn().await;
    // A row ten years back, whose month has no partition.
    row_months_ago(&mut owner, "stray", 120).await;
    let created: bool = {
        #[derive(QueryableByName)]
        struct Created {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            created: bool,
        }
        diesel::sql_query(
            "SELECT audit_create_partition((now() - interval '120 months')::date) AS created",
        )
        .get_result::<Created>(&mut owner)
        .await
        .unwrap()
        .created
    };
    assert!(!created, "its month stays in the DEFAULT partition");
    let homes: Vec<Named> = diesel::sql_query(
        "SELECT tableoid::regclass::text AS name FROM audit_events WHERE resource_id = 'stray'",
    )
    .load(&mut owner)
    .await
    .unwrap();
    assert_eq!(homes.len(), 1);
    assert_eq!(homes[0].name, "audit_events_default");
}

#[actix_web::test]
async fn an_audited_read_writes_its_row_in_its_own_statement_and_a_miss_writes_none() {
    let app = TestApp::new().await;
    let nl = app.institution("19", "Fiscalía NL").await;
    let cdmx = app.institution("09", "Fiscalía CDMX").await;
    let owner = app.account(Role::Operator, nl).await;
    let prober = app.account(Role::Operator, cdmx).await;
    let res = app
        .post(
            "/api/v1/victims",
            &owner.token,
            json!({
                "condition": "VICTIMA",
                "given_names": "Rosa Elena",
                "first_surname": "Treviño",
                "sex": "MUJER",
                "birth_date": "2001-08-30",
                "nationality": "MEX",
                "detection_date": "2024-03-01",
                "detection_entity_code": "19",
                "detection_municipality_code": "19039",
                "detection_source": "DENUNCIA",
                "exploitation_forms": ["EXPLOTACION_SEXUAL"]
            }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    let id = res.json["data"]["id"].as_str().unwrap().to_string();
    let mut conn = app.conn().await;
    let reads = |actor: Uuid| {
        audit_events::table
            .filter(audit_events::action.eq("read"))
            .filter(audit_events::resource_id.eq(id.clone()))
            .filter(audit_events::actor_id.eq(actor))
            .select((audit_events::kind, audit_events::resource_type))
    };
    for _ in 0..2 {
        let own = app
            .get(&format!("/api/v1/victims/{id}"), &owner.token)
            .await;
        assert_eq!(own.status, 200, "{}", own.text());
        assert_eq!(own.json["given_names"], "Rosa Elena");
    }
    let rows: Vec<(String, String)> = reads(owner.id).load(&mut conn).await.unwrap();
    assert_eq!(
        rows,
        vec![("access".to_string(), "victim".to_string()); 2],
        "one access row per read, naming the record"
    );
    app.get(&format!("/api/v1/victims/{id}"), &prober.token)
        .await
        .assert_problem(404, "not_found");
    let rows: Vec<(String, String)> = reads(prober.id).load(&mut conn).await.unwrap();
    assert!(
        rows.is_empty(),
        "a read that found nothing wrote no read row"
    );

    // One entry is a plain insert, several go through audit_append: the
    // same rows either way (a change set that is not an object is none).
    let odd = || entry("append_same").changes(json!("no es un objeto"));
    audit::append(&mut conn, &[odd()]).await.unwrap();
    audit::append(&mut conn, &[odd(), odd()]).await.unwrap();
    let stored: Vec<(Option<serde_json::Value>, String, String)> = audit_events::table
        .filter(audit_events::resource_id.eq("append_same"))
        .select((
            audit_events::changes,
            audit_events::kind,
            audit_events::outcome,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![(None, "access".to_string(), "ok".to_string()); 3]
    );
}
