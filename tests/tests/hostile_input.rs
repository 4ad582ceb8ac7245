//! No input reaches the database unchecked: NUL and other control
//! characters in any string a client sends — JSON bodies at any depth, form
//! bodies, query strings, path segments, the headers the API reads,
//! multipart fields and workbook cells — are refused with a 4xx problem that
//! names the field, before any query, and nothing is written.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_domain::text::has_forbidden_control;
use sintra_tests::excel::{filled, multipart};
use sintra_tests::{Account, Answer, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The characters every case is sent with: NUL, a C0 code, escape, DEL and
/// a C1 code (NEXT LINE).
const CONTROLS: &[char] = &['\u{0}', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}'];

/// How the hostile character is placed in the request.
enum Body {
    None,
    /// JSON text in which `{C}` becomes the character's JSON escape.
    Json(&'static str),
    /// A form body in which `{C}` becomes the percent-encoded character.
    Form(&'static str),
}

struct Case {
    what: &'static str,
    method: Method,
    /// `{C}` becomes the percent-encoded character.
    path: &'static str,
    /// Headers sent as they are (a header value cannot carry NUL: these
    /// carry a tab where no header the API reads allows one).
    headers: &'static [(&'static str, &'static str)],
    body: Body,
    /// The field the problem must name.
    field: &'static str,
}

fn cases() -> Vec<Case> {
    use Body::*;
    let c = |what, method, path, headers, body, field| Case {
        what,
        method,
        path,
        headers,
        body,
        field,
    };
    vec![
        c(
            "token, JSON",
            Method::POST,
            "/api/v1/auth/token",
            &[],
            Json(r#"{"grant_type":"password","username":"a{C}b","password":"x"}"#),
            "username",
        ),
        c(
            "token, form",
            Method::POST,
            "/api/v1/auth/token",
            &[],
            Form("grant_type=password&username=a{C}b&password=x"),
            "username",
        ),
        c(
            "record, catalog code",
            Method::POST,
            "/api/v1/victims",
            &[],
            Json(
                r#"{"condition":"VICTIMA","sex":"MU{C}JER","detection_date":"2024-02-10","detection_entity_code":"19"}"#,
            ),
            "sex",
        ),
        c(
            "record, array item",
            Method::POST,
            "/api/v1/victims",
            &[],
            Json(
                r#"{"condition":"VICTIMA","sex":"MUJER","detection_date":"2024-02-10","detection_entity_code":"19","exploitation_forms":["EXPLOTACION_SEXUAL","X{C}"]}"#,
            ),
            "exploitation_forms[1]",
        ),
        c(
            "record, nested value",
            Method::POST,
            "/api/v1/investigations",
            &[],
            Json(r#"{"crimes":[{"article":"10{C}"}]}"#),
            "crimes[0].article",
        ),
        c(
            "duplicate check",
            Method::POST,
            "/api/v1/victims/duplicate-check",
            &[],
            Json(r#"{"given_names":"Ana{C}"}"#),
            "given_names",
        ),
        c(
            "institution",
            Method::POST,
            "/api/v1/institutions",
            &[],
            Json(r#"{"entity_code":"19","name":"Fiscal{C}ía","institution_type":"FISCALIA"}"#),
            "name",
        ),
        c(
            "catalog item",
            Method::POST,
            "/api/v1/catalogs/sex/items",
            &[],
            Json(r#"{"code":"OT{C}RO","label_es":"Otro","label_en":"Other"}"#),
            "code",
        ),
        c(
            "user",
            Method::POST,
            "/api/v1/users",
            &[],
            Json(r#"{"username":"u{C}x","full_name":"X","role":"operator"}"#),
            "username",
        ),
        c(
            "users filter",
            Method::GET,
            "/api/v1/users?q=a{C}b",
            &[],
            None,
            "q",
        ),
        c(
            "audit filter",
            Method::GET,
            "/api/v1/audit/events?action=login{C}",
            &[],
            None,
            "action",
        ),
        c(
            "export filter",
            Method::GET,
            "/api/v1/excel/exports?entity_code=1{C}9",
            &[],
            None,
            "entity_code",
        ),
        c(
            "counts filter",
            Method::GET,
            "/api/v1/judicialization/counts?fuero={C}",
            &[],
            None,
            "fuero",
        ),
        c(
            "dashboard filter",
            Method::GET,
            "/api/v1/dashboards/victims?municipality_code=19{C}039",
            &[],
            None,
            "municipality_code",
        ),
        c(
            "catalog path",
            Method::GET,
            "/api/v1/catalogs/se{C}x/items",
            &[],
            None,
            "catalog",
        ),
        c(
            "catalog item path",
            Method::GET,
            "/api/v1/catalogs/sex/items/MU{C}JER",
            &[],
            None,
            "code",
        ),
        c(
            "folio path",
            Method::PUT,
            "/api/v1/victims/by-folio/F-{C}1",
            &[],
            Json(r#"{"condition":"VICTIMA"}"#),
            "external_folio",
        ),
        c(
            "form path",
            Method::GET,
            "/api/v1/excel/templates/vic{C}tim",
            &[],
            None,
            "form",
        ),
        c(
            "Idempotency-Key",
            Method::POST,
            "/api/v1/victims",
            &[("idempotency-key", "k\tk")],
            Json(r#"{"given_names":"{C}"}"#),
            "idempotency-key",
        ),
        c(
            "If-Match",
            Method::PATCH,
            "/api/v1/catalogs/sex/items/MUJER",
            &[("if-match", "\"1\t2\"")],
            Json(r#"{"label_es":"{C}"}"#),
            "if-match",
        ),
        c(
            "Accept-Language",
            Method::GET,
            "/api/v1/forms",
            &[("accept-language", "es\tMX")],
            None,
            "accept-language",
        ),
        c(
            "X-Forwarded-For",
            Method::GET,
            "/api/v1/forms",
            &[("x-forwarded-for", "10.0.0.1\t10.0.0.2")],
            None,
            "x-forwarded-for",
        ),
    ]
}

fn percent(ch: char) -> String {
    let mut buf = [0u8; 4];
    ch.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

fn json_escape(ch: char) -> String {
    let quoted = serde_json::to_string(&ch.to_string()).unwrap();
    quoted.trim_matches('"').to_string()
}

/// Every row of every table of the application's schema.
async fn rows_in_database(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.owner_conn().await;
    diesel::sql_query(
        "SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', \
         table_schema, table_name), false, true, '')))[1]::text::bigint), 0)::bigint AS n \
         FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n
}

#[track_caller]
fn assert_refused(res: &Answer, field: &str, what: &str) {
    assert_eq!(res.status, 400, "{what}: {}", res.text());
    res.assert_problem(400, "control_characters");
    assert_eq!(
        res.json["errors"][0]["field"],
        field,
        "{what}: {}",
        res.text()
    );
    assert_eq!(res.json["errors"][0]["code"], "control_characters");
    assert!(
        res.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("caracteres de control")),
        "{what}: Spanish by default: {}",
        res.text()
    );
}

async fn seeded(app: &TestApp) -> (Account, Account) {
    let federal = app.institution("00", "Secretaría Técnica").await;
    let nl = app.institution("19", "Fiscalía de Nuevo León").await;
    (
        app.account(Role::NationalAdmin, federal).await,
        app.account(Role::Operator, nl).await,
    )
}

#[actix_web::test]
async fn control_characters_are_refused_in_every_kind_of_input_before_any_query() {
    let app = TestApp::new().await;
    let (admin, operator) = seeded(&app).await;
    let before = rows_in_database(&app).await;
    for case in cases() {
        for &ch in CONTROLS {
            let path = case.path.replace("{C}", &percent(ch));
            let mut headers: Vec<(&str, String)> = case
                .headers
                .iter()
                .map(|(k, v)| (*k, v.to_string()))
                .collect();
            // Records are written by operators; the rest by the admin.
            let token = if case.path.starts_with("/api/v1/victims")
                || case.path.starts_with("/api/v1/investigations")
            {
                &operator.token
            } else {
                &admin.token
            };
            if !case.path.starts_with("/api/v1/auth/token") {
                headers.push(("authorization", format!("Bearer {token}")));
            }
            let body = match &case.body {
                Body::None => vec![],
                Body::Json(t) => {
                    headers.push(("content-type", "application/json".into()));
                    t.replace("{C}", &json_escape(ch)).into_bytes()
                }
                Body::Form(t) => {
                    headers.push(("content-type", "application/x-www-form-urlencoded".into()));
                    t.replace("{C}", &percent(ch)).into_bytes()
                }
            };
            let header_refs: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app
                .call_raw(case.method.clone(), &path, &header_refs, body)
                .await;
            // A header case carries its tab in the header; its path or
            // body character is refused too, but the header is named first.
            assert_refused(&res, case.field, &format!("{} with {ch:?}", case.what));
        }
    }
    assert_eq!(
        rows_in_database(&app).await,
        before,
        "no refused request wrote anything (not even an audit row)"
    );

    // English on request.
    let en = app
        .call_raw(
            Method::GET,
            "/api/v1/users?q=%00",
            &[
                ("authorization", &format!("Bearer {}", admin.token)),
                ("accept-language", "en"),
            ],
            vec![],
        )
        .await;
    en.assert_problem(400, "control_characters");
    assert!(en.json["detail"]
        .as_str()
        .unwrap()
        .contains("contains control characters"));
    assert_eq!(en.json["errors"][0]["field"], "q");
}

/// A header value the client library would not send: raw bytes on the
/// socket (C1 NEXT LINE as UTF-8 in Idempotency-Key).
#[actix_web::test]
async fn a_header_with_a_c1_control_in_utf8_is_refused() {
    let app = TestApp::new().await;
    let (_, operator) = seeded(&app).await;
    let before = rows_in_database(&app).await;
    let addr = app.server.addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = br#"{"condition":"VICTIMA","sex":"MUJER","detection_date":"2024-02-10","detection_entity_code":"19"}"#;
    let mut request = format!(
        "POST /api/v1/victims HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nIdempotency-Key: k",
        operator.token,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&[0xC2, 0x85]);
    request.extend_from_slice(b"k\r\n\r\n");
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"code\":\"control_characters\""), "{text}");
    assert!(text.contains("\"field\":\"idempotency-key\""), "{text}");
    assert_eq!(rows_in_database(&app).await, before);
}

#[actix_web::test]
async fn multipart_fields_and_workbook_cells_with_control_characters_are_refused() {
    let app = TestApp::new().await;
    let (_, operator) = seeded(&app).await;
    let auth = format!("Bearer {}", operator.token);
    let before = rows_in_database(&app).await;

    // A multipart field name with a control character.
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"fi\tle\"\r\n\r\nx\r\n--{boundary}--\r\n"
    );
    let res = app
        .call_raw(
            Method::POST,
            "/api/v1/excel/imports/victim?dry_run=true&wait=true",
            &[
                ("authorization", &auth),
                (
                    "content-type",
                    &format!("multipart/form-data; boundary={boundary}"),
                ),
            ],
            body.into_bytes(),
        )
        .await;
    assert_refused(&res, "multipart", "multipart field name");

    // Workbook cells: text, catalog code and folio, with each character.
    for &ch in CONTROLS {
        let row = json!({
            "external_folio": format!("F{ch}1"),
            "condition": "VICTIMA",
            "given_names": format!("Ma{ch}ría"),
            "sex": format!("MU{ch}JER"),
            "detection_date": "2024-02-10",
            "detection_entity_code": "19",
        });
        let (ct, body) = multipart(&filled(FormKey::Victim, &[row]));
        let res = app
            .call_raw(
                Method::POST,
                "/api/v1/excel/imports/victim?dry_run=false&wait=true",
                &[("authorization", &auth), ("content-type", &ct)],
                body,
            )
            .await;
        res.assert_problem(422, "import_rejected");
        let errors = res.json["report"]["errors"].as_array().unwrap();
        for field in ["external_folio", "given_names", "sex"] {
            assert!(
                errors.iter().any(|e| e["field"] == field
                    && e["code"] == "control_characters"
                    && e["row"] == 2),
                "{ch:?} in {field}: {errors:?}"
            );
        }
    }
    // Refused imports write their report (the import row) but no record.
    assert_eq!(count_records(&app).await, 0);
    assert!(rows_in_database(&app).await >= before);
}

async fn count_records(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use sintra_persistence::schema::records::dsl as r;
    let mut conn = app.db.owner_conn().await;
    r::records.count().get_result(&mut conn).await.unwrap()
}

/// Arbitrary strings (any Unicode, with control characters over-weighted)
/// in a login name, a person's name and a list filter: never a 5xx, and a
/// string with a control character is always refused as such.
#[actix_web::test]
async fn arbitrary_strings_never_make_a_server_error() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let app = TestApp::new().await;
    let (admin, operator) = seeded(&app).await;
    let chars = prop_oneof![
        3 => any::<char>(),
        1 => prop::sample::select(vec!['\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\t', '\n', '\r', ' ', 'ñ', '\'', '"', '\\', '%']),
    ];
    let strings =
        prop::collection::vec(chars, 0..24).prop_map(|v| v.into_iter().collect::<String>());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut refused = 0;
    for _ in 0..96 {
        let s = strings.new_tree(&mut runner).unwrap().current();
        let forbidden_in_body = has_forbidden_control(&s, true);
        let forbidden_in_query = has_forbidden_control(&s, false);

        let login = app
            .call(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(json!({"grant_type": "password", "username": s, "password": "x"})),
            )
            .await;
        assert!(login.status < 500, "{s:?}: {}", login.text());
        if forbidden_in_body {
            assert_refused(&login, "username", &format!("{s:?}"));
            refused += 1;
        } else {
            assert!(
                [400, 429].contains(&login.status),
                "{s:?}: {}",
                login.text()
            );
        }

        let person = app
            .post(
                "/api/v1/victims",
                &operator.token,
                json!({"condition": "VICTIMA", "given_names": s, "sex": "MUJER",
                       "detection_date": "2024-02-10", "detection_entity_code": "19"}),
            )
            .await;
        assert!(person.status < 500, "{s:?}: {}", person.text());
        if forbidden_in_body {
            assert_refused(&person, "given_names", &format!("{s:?}"));
        } else {
            assert!(
                [201, 422].contains(&person.status),
                "{s:?}: {}",
                person.text()
            );
            if person.status == 201 && !s.trim().is_empty() {
                let stored: &Value = &person.json["data"]["given_names"];
                assert!(stored.is_string(), "{s:?}: {}", person.text());
            }
        }

        let q: String = s.chars().map(percent).collect();
        let list = app.get(&format!("/api/v1/users?q={q}"), &admin.token).await;
        assert!(list.status < 500, "{s:?}: {}", list.text());
        if forbidden_in_query {
            assert_refused(&list, "q", &format!("{s:?}"));
        } else {
            assert!([200, 400].contains(&list.status), "{s:?}: {}", list.text());
        }
    }
    assert!(
        refused > 10,
        "the strategy reaches control characters ({refused})"
    );
}
