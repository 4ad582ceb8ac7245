//! The changes feed (`GET /api/v1/changes`) as a state system follows it:
//! in commit order, resumable from its cursor, in the caller's scope only,
//! naming records without their data.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_tests::{Account, TestApp};

fn victim(name: &str, folio: &str, entity: &str) -> Value {
    json!({
        "condition": "VICTIMA",
        "given_names": name,
        "first_surname": "Villarreal",
        "sex": "MUJER",
        "detection_date": "2024-02-10",
        "detection_entity_code": entity,
        "external_folio": folio,
    })
}

async fn operator(app: &TestApp, entity: &str, name: &str) -> Account {
    let inst = app.institution(entity, name).await;
    app.account(Role::Operator, inst).await
}

async fn create(app: &TestApp, who: &Account, body: Value) -> String {
    let res = app.post("/api/v1/victims", &who.token, body).await;
    assert_eq!(res.status, 201, "{}", res.text());
    res.json["data"]["id"].as_str().unwrap().to_string()
}

/// One answer of the feed.
async fn feed(app: &TestApp, who: &Account, query: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/changes{query}"), &who.token)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json
}

/// Every change the caller can see, page by page from the beginning.
async fn everything(app: &TestApp, who: &Account) -> Vec<Value> {
    let mut all = vec![];
    let mut query = "?limit=2".to_string();
    loop {
        let page = feed(app, who, &query).await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        query = format!("?limit=2&since={}", page["next_cursor"].as_str().unwrap());
        if page["has_more"] == false {
            return all;
        }
    }
}

fn ids(items: &[Value]) -> Vec<(String, String, i64)> {
    items
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn changes_come_in_commit_order_and_resume_from_the_cursor() {
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let a = create(&app, &op, victim("Ana", "F-1", "19")).await;
    let b = create(&app, &op, victim("Berta", "F-2", "19")).await;

    let first = feed(&app, &op, "?limit=1").await;
    assert_eq!(
        ids(first["items"].as_array().unwrap()),
        [(a.clone(), "created".into(), 1)]
    );
    assert_eq!(first["has_more"], true);
    let item = &first["items"][0];
    assert_eq!(item["form"], "victim");
    assert_eq!(item["href"], format!("/api/v1/victims/{a}"));
    assert_eq!(item["entity_code"], "19");
    assert_eq!(item["institution_id"], op.institution_id.to_string());

    // Later writes, then the follower resumes where it stopped.
    let changed = app
        .call(
            Method::PUT,
            "/api/v1/victims/by-folio/F-1",
            Some(&op.token),
            Some(victim("Ana María", "F-1", "19")),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let c = create(&app, &op, victim("Carmen", "F-3", "19")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = feed(&app, &op, &format!("?since={cursor}")).await;
    assert_eq!(
        ids(rest["items"].as_array().unwrap()),
        [
            (b.clone(), "created".into(), 1),
            (a.clone(), "updated".into(), 2),
            (c.clone(), "created".into(), 1),
        ]
    );
    assert_eq!(rest["has_more"], false);

    // Caught up: nothing new, and the cursor stays where it was.
    let cursor = rest["next_cursor"].as_str().unwrap();
    let idle = feed(&app, &op, &format!("?since={cursor}")).await;
    assert_eq!(idle["items"], json!([]));
    assert_eq!(idle["next_cursor"], cursor);

    // Paged from the beginning, the same sequence.
    assert_eq!(ids(&everything(&app, &op).await).len(), 4);

    // A cursor that is not one, and limits out of range, are refused.
    app.get("/api/v1/changes?since=bm9wZQ", &op.token)
        .await
        .assert_problem(422, "validation_failed");
    for limit in ["0", "501", "-9223372036854775808"] {
        app.get(&format!("/api/v1/changes?limit={limit}"), &op.token)
            .await
            .assert_problem(422, "validation_failed");
    }
}

#[actix_web::test]
async fn a_change_committed_later_is_never_skipped() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::new().await;
    let op = operator(&app, "19", "CEAV Nuevo León").await;
    let early = create(&app, &op, victim("Ana", "F-1", "19")).await;
    let seen = feed(&app, &op, "").await;
    assert_eq!(ids(seen["items"].as_array().unwrap()).len(), 1);
    let cursor = seen["next_cursor"].as_str().unwrap().to_string();

    // A long transaction (an import, say) writes a record and stays open;
    // meanwhile a quicker write commits.
    let mut long = app.db.owner_conn().await;
    long.batch_execute(&format!(
        "BEGIN; INSERT INTO records (id, form, entity_code, institution_id, data) \
         VALUES ('018f0000-0000-7000-8000-000000000001', 'commission', '19', '{}', '{{}}')",
        op.institution_id
    ))
    .await
    .unwrap();
    let quick = create(&app, &op, victim("Berta", "F-2", "19")).await;

    // The quick change waits behind the open transaction: listing it now
    // would let the follower's cursor pass the slower one.
    let waiting = feed(&app, &op, &format!("?since={cursor}")).await;
    assert_eq!(waiting["items"], json!([]), "{waiting}");
    assert_eq!(waiting["next_cursor"], cursor.as_str());

    long.batch_execute("COMMIT").await.unwrap();
    let after = feed(&app, &op, &format!("?since={cursor}")).await;
    assert_eq!(
        ids(after["items"].as_array().unwrap()),
        [
            (
                "018f0000-0000-7000-8000-000000000001".into(),
                "created".into(),
                1
            ),
            (quick, "created".into(), 1),
        ]
    );
    assert_eq!(after["items"][0]["form"], "commission");
    assert_ne!(after["items"][1]["id"], early.as_str());
}

#[actix_web::test]
async fn another_scope_never_shows_and_the_feed_carries_no_personal_data() {
    let app = TestApp::new().await;
    let nl = operator(&app, "19", "CEAV Nuevo León").await;
    let nl_other = operator(&app, "19", "Fiscalía Nuevo León").await;
    let cdmx = operator(&app, "09", "CEAV Ciudad de México").await;
    let a = create(&app, &nl, victim("Ana", "F-1", "19")).await;
    let b = create(&app, &nl_other, victim("Berta", "F-1", "19")).await;
    let c = create(&app, &cdmx, victim("Carmen", "F-1", "09")).await;

    let only = |items: Vec<Value>| {
        let mut got: Vec<String> = ids(&items).into_iter().map(|(id, _, _)| id).collect();
        got.sort();
        got
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // An operator: its institution.
    assert_eq!(only(everything(&app, &nl).await), vec![a.clone()]);
    assert_eq!(only(everything(&app, &cdmx).await), vec![c.clone()]);
    // An entity admin: its entity; the national admin: everything.
    let admin_nl = app.account(Role::EntityAdmin, nl.institution_id).await;
    assert_eq!(
        only(everything(&app, &admin_nl).await),
        sorted(vec![a.clone(), b.clone()])
    );
    let national = app.account(Role::NationalAdmin, cdmx.institution_id).await;
    assert_eq!(
        only(everything(&app, &national).await),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    // Analysts and auditors follow no records.
    for role in [Role::Analyst, Role::Auditor] {
        let who = app.account(role, nl.institution_id).await;
        app.get("/api/v1/changes", &who.token)
            .await
            .assert_problem(403, "forbidden");
    }

    // The feed names records, never their fields.
    let res = app.get("/api/v1/changes", &national.token).await;
    let text = res.text();
    for personal in ["Ana", "Berta", "Carmen", "Villarreal", "F-1"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    for item in res.json["items"].as_array().unwrap() {
        let mut keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "changed_at",
                "entity_code",
                "form",
                "href",
                "id",
                "institution_id",
                "kind",
                "version"
            ]
        );
    }
}
