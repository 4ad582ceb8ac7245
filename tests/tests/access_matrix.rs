//! The access matrix: every protected route × every role × a target in the
//! caller's own institution, in another institution of its entity, and in
//! another entity. The expectations are written out here, apart from the
//! policy code, from DESIGN.md §3; a route added to the spec without a row
//! here fails `the_matrix_covers_every_route`.

use actix_web::http::Method;
use serde_json::{json, Value};
use sintra_domain::access::Role;
use sintra_domain::forms::FormKey;
use sintra_tests::{Account, TestApp};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    OwnInstitution,
    SameEntity,
    OtherEntity,
}
use Target::*;

const TARGETS: [Target; 3] = [OwnInstitution, SameEntity, OtherEntity];

use Role::*;

fn only(roles: &[Role], role: Role, ok: u16) -> u16 {
    if roles.contains(&role) {
        ok
    } else {
        403
    }
}

/// Reads of institutions: the directory is visible by scope; service
/// accounts have no business there.
fn institution_read(role: Role, t: Target) -> u16 {
    match (role, t) {
        (System, _) => 403,
        (NationalAdmin, _) => 200,
        (Operator, OwnInstitution) => 200,
        (Operator, _) => 404,
        (EntityAdmin | Analyst | Auditor, OtherEntity) => 404,
        (EntityAdmin | Analyst | Auditor, _) => 200,
    }
}

/// Changes to users and institutions: national admins anywhere, entity
/// admins within their entity (elsewhere it reads as missing), nobody else.
fn manage(role: Role, t: Target, ok: u16) -> u16 {
    match (role, t) {
        (NationalAdmin, _) => ok,
        (EntityAdmin, OtherEntity) => 404,
        (EntityAdmin, _) => ok,
        _ => 403,
    }
}

/// Creating in an institution of another entity is invalid data for an
/// entity admin (the institution is outside its scope).
fn create_in(role: Role, t: Target, ok: u16) -> u16 {
    match (role, t) {
        (NationalAdmin, _) => ok,
        (EntityAdmin, OtherEntity) => 422,
        (EntityAdmin, _) => ok,
        _ => 403,
    }
}

fn user_read(role: Role, t: Target) -> u16 {
    match (role, t) {
        (NationalAdmin, _) => 200,
        (EntityAdmin | Auditor, OtherEntity) => 404,
        (EntityAdmin | Auditor, _) => 200,
        _ => 403,
    }
}

/// Lists of records: the roles that read records (analysts and auditors
/// never do; they get aggregates and the audit log).
fn records_read(role: Role, _: Target) -> u16 {
    only(&[NationalAdmin, EntityAdmin, Operator, System], role, 200)
}

/// Creating a record: the roles that write records; `201` for a create.
fn records_write_new(role: Role, _: Target) -> u16 {
    only(&[NationalAdmin, EntityAdmin, Operator, System], role, 201)
}

/// A record registered by an institution of the target kind: national
/// admins see all, entity admins their entity, operators and systems their
/// institution; anyone else who reads records gets 404.
fn records_item(role: Role, t: Target) -> u16 {
    match (role, t) {
        (Analyst | Auditor, _) => 403,
        (NationalAdmin, _) => 200,
        (EntityAdmin, OtherEntity) => 404,
        (EntityAdmin, _) => 200,
        (Operator | System, OwnInstitution) => 200,
        (Operator | System, _) => 404,
    }
}

type Expect = fn(Role, Target) -> u16;

/// An import job of the target's institution: `ok` for the roles that
/// import, in their own institution; elsewhere it reads as missing.
const fn own_import(ok: u16) -> Expect {
    match ok {
        200 => |r, t| match (records_read(r, t), t) {
            (200, OwnInstitution) => 200,
            (200, _) => 404,
            (other, _) => other,
        },
        _ => |r, t| match (records_read(r, t), t) {
            (200, OwnInstitution) => 202,
            (200, _) => 404,
            (other, _) => other,
        },
    }
}

const MATRIX: &[(&str, &str, Expect)] = &[
    ("POST", "/api/v1/auth/logout", |_, _| 204),
    ("GET", "/api/v1/auth/me", |_, _| 200),
    // Every role passes the guard, and the matrix's empty body is refused;
    // tests/tests/accounts.rs changes passwords (and refuses a service
    // account's change) with real ones.
    ("POST", "/api/v1/auth/password", |_, _| 422),
    ("GET", "/api/v1/entities", |_, _| 200),
    ("GET", "/api/v1/commissions", records_read),
    ("POST", "/api/v1/commissions", records_write_new),
    ("GET", "/api/v1/commissions/{id}", records_item),
    ("PATCH", "/api/v1/commissions/{id}", records_item),
    (
        "PUT",
        "/api/v1/commissions/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/sessions", records_read),
    ("POST", "/api/v1/sessions", records_write_new),
    ("GET", "/api/v1/sessions/{id}", records_item),
    ("PATCH", "/api/v1/sessions/{id}", records_item),
    (
        "PUT",
        "/api/v1/sessions/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/agreements", records_read),
    ("POST", "/api/v1/agreements", records_write_new),
    ("GET", "/api/v1/agreements/{id}", records_item),
    ("PATCH", "/api/v1/agreements/{id}", records_item),
    (
        "PUT",
        "/api/v1/agreements/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/agreements/{id}/follow-ups", records_item),
    ("POST", "/api/v1/agreements/{id}/follow-ups", |r, t| {
        if records_item(r, t) == 200 {
            201
        } else {
            records_item(r, t)
        }
    }),
    ("GET", "/api/v1/excel/templates/{form}", records_read),
    ("POST", "/api/v1/excel/imports/{form}", records_read),
    (
        "GET",
        "/api/v1/excel/imports/{id}/annotated.xlsx",
        |r, t| match (records_read(r, t), t) {
            (200, OwnInstitution) => 200,
            (200, _) => 404,
            (other, _) => other,
        },
    ),
    // Import jobs: the caller's institution's only.
    ("GET", "/api/v1/excel/imports", records_read),
    ("GET", "/api/v1/excel/imports/{id}", own_import(200)),
    ("DELETE", "/api/v1/excel/imports/{id}", own_import(200)),
    ("POST", "/api/v1/excel/imports/{id}/commit", own_import(202)),
    ("GET", "/api/v1/excel/exports", records_read),
    ("GET", "/api/v1/excel/exports/{form}", records_read),
    // victims: rows of the victim-attention module
    ("POST", "/api/v1/victims/duplicate-check", |r, t| {
        if records_write_new(r, t) == 201 {
            200
        } else {
            403
        }
    }),
    ("GET", "/api/v1/victims", records_read),
    ("POST", "/api/v1/victims", records_write_new),
    ("GET", "/api/v1/victims/{id}", records_item),
    ("GET", "/api/v1/victims/{id}/person", records_item),
    ("PATCH", "/api/v1/victims/{id}", records_item),
    (
        "PUT",
        "/api/v1/victims/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/attentions", records_read),
    ("POST", "/api/v1/attentions", records_write_new),
    ("GET", "/api/v1/attentions/{id}", records_item),
    ("PATCH", "/api/v1/attentions/{id}", records_item),
    (
        "PUT",
        "/api/v1/attentions/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/duplicates", records_read),
    ("POST", "/api/v1/duplicates/{id}/dismiss", records_item),
    ("POST", "/api/v1/duplicates/{id}/confirm", records_item),
    // Each request finds the pair confirmed (see `send`).
    ("POST", "/api/v1/duplicates/{id}/undo", records_item),
    // judicialization: rows of the judicialization module
    ("GET", "/api/v1/investigations", records_read),
    ("POST", "/api/v1/investigations", records_write_new),
    ("GET", "/api/v1/investigations/{id}", records_item),
    ("PATCH", "/api/v1/investigations/{id}", records_item),
    (
        "PUT",
        "/api/v1/investigations/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/criminal-cases", records_read),
    ("POST", "/api/v1/criminal-cases", records_write_new),
    ("GET", "/api/v1/criminal-cases/{id}", records_item),
    ("PATCH", "/api/v1/criminal-cases/{id}", records_item),
    (
        "PUT",
        "/api/v1/criminal-cases/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/criminal-cases/{id}/events", records_item),
    ("POST", "/api/v1/criminal-cases/{id}/events", |r, t| {
        if records_item(r, t) == 200 {
            201
        } else {
            records_item(r, t)
        }
    }),
    ("GET", "/api/v1/defendants", records_read),
    ("POST", "/api/v1/defendants", records_write_new),
    ("GET", "/api/v1/defendants/{id}", records_item),
    ("PATCH", "/api/v1/defendants/{id}", records_item),
    (
        "PUT",
        "/api/v1/defendants/by-folio/{external_folio}",
        records_write_new,
    ),
    ("GET", "/api/v1/sentences", records_read),
    ("POST", "/api/v1/sentences", records_write_new),
    ("GET", "/api/v1/sentences/{id}", records_item),
    ("PATCH", "/api/v1/sentences/{id}", records_item),
    (
        "PUT",
        "/api/v1/sentences/by-folio/{external_folio}",
        records_write_new,
    ),
    // Aggregates: every role with a scope of records to count, analysts
    // included; service accounts and auditors have no business there.
    ("GET", "/api/v1/judicialization/counts", |r, _| {
        only(&[NationalAdmin, EntityAdmin, Operator, Analyst], r, 200)
    }),
    // Dashboards: the same roles as any aggregate, each in its own scope.
    ("GET", "/api/v1/dashboards", |r, _| {
        only(&[NationalAdmin, EntityAdmin, Operator, Analyst], r, 200)
    }),
    ("GET", "/api/v1/dashboards/{name}", |r, _| {
        only(&[NationalAdmin, EntityAdmin, Operator, Analyst], r, 200)
    }),
    ("GET", "/api/v1/catalogs", |_, _| 200),
    ("GET", "/api/v1/catalogs/{catalog}/items", |_, _| 200),
    ("POST", "/api/v1/catalogs/{catalog}/items", |r, _| {
        only(&[NationalAdmin], r, 201)
    }),
    ("GET", "/api/v1/catalogs/{catalog}/items/{code}", |_, _| 200),
    (
        "PATCH",
        "/api/v1/catalogs/{catalog}/items/{code}",
        |r, _| only(&[NationalAdmin], r, 200),
    ),
    ("GET", "/api/v1/forms", |_, _| 200),
    ("GET", "/api/v1/forms/{form}", |_, _| 200),
    // Label overrides: the national admin's alone (one wording nationwide).
    ("GET", "/api/v1/forms/{form}/labels", |r, _| {
        only(&[NationalAdmin], r, 200)
    }),
    (
        "PUT",
        "/api/v1/forms/{form}/fields/{field}/label",
        |r, _| only(&[NationalAdmin], r, 200),
    ),
    (
        "DELETE",
        "/api/v1/forms/{form}/fields/{field}/label",
        |r, _| only(&[NationalAdmin], r, 200),
    ),
    ("GET", "/api/v1/institutions", |r, _| {
        if r == System {
            403
        } else {
            200
        }
    }),
    ("POST", "/api/v1/institutions", |r, t| match (r, t) {
        (NationalAdmin, _) => 201,
        (EntityAdmin, OtherEntity) => 403,
        (EntityAdmin, _) => 201,
        _ => 403,
    }),
    ("GET", "/api/v1/institutions/{id}", institution_read),
    ("PATCH", "/api/v1/institutions/{id}", |r, t| {
        manage(r, t, 200)
    }),
    ("GET", "/api/v1/users", |r, _| {
        only(&[NationalAdmin, EntityAdmin, Auditor], r, 200)
    }),
    ("POST", "/api/v1/users", |r, t| create_in(r, t, 201)),
    ("GET", "/api/v1/users/{id}", user_read),
    ("PATCH", "/api/v1/users/{id}", |r, t| manage(r, t, 200)),
    ("POST", "/api/v1/users/{id}/deactivate", |r, t| {
        manage(r, t, 200)
    }),
    ("POST", "/api/v1/users/{id}/reactivate", |r, t| {
        manage(r, t, 200)
    }),
    ("POST", "/api/v1/users/{id}/reset-password", |r, t| {
        manage(r, t, 200)
    }),
    ("GET", "/api/v1/service-accounts", |r, _| {
        only(&[NationalAdmin, EntityAdmin], r, 200)
    }),
    ("POST", "/api/v1/service-accounts", |r, t| {
        create_in(r, t, 201)
    }),
    (
        "POST",
        "/api/v1/service-accounts/{id}/rotate-secret",
        |r, t| manage(r, t, 200),
    ),
    ("GET", "/api/v1/audit/events", |r, _| {
        only(&[NationalAdmin, Auditor], r, 200)
    }),
    ("GET", "/api/v1/audit/verify", |r, _| {
        only(&[NationalAdmin, Auditor], r, 200)
    }),
    ("GET", "/api/v1/audit/checkpoints", |r, _| {
        only(&[NationalAdmin, Auditor], r, 200)
    }),
    // periods: whoever sends or reads an entity's data reads its quarters;
    // the entity admin submits its own, the national admin closes and
    // reopens (another entity's quarter reads as missing to a state).
    ("GET", "/api/v1/periods", |r, _| {
        only(
            &[NationalAdmin, EntityAdmin, Operator, Analyst, System],
            r,
            200,
        )
    }),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/submit",
        |r, t| match (r, t) {
            (EntityAdmin, OtherEntity) => 404,
            (EntityAdmin, _) => 200,
            _ => 403,
        },
    ),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/close",
        period_national,
    ),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/reopen",
        period_national,
    ),
    ("POST", "/api/v1/periods/{year}/{quarter}/close", |r, _| {
        only(&[NationalAdmin], r, 200)
    }),
    // cuts: taken by the national admin; read by the roles that read
    // figures, each its own scope's copy (an entity admin or analyst reads
    // its entity's figures of a national cut: 200 whatever the target)
    ("POST", "/api/v1/cuts", |r, _| {
        only(&[NationalAdmin], r, 201)
    }),
    ("GET", "/api/v1/cuts", |r, _| cut_read(r)),
    ("GET", "/api/v1/cuts/{id}", |r, _| cut_read(r)),
    ("GET", "/api/v1/cuts/{id}.xlsx", |r, _| cut_read(r)),
    ("GET", "/api/v1/cuts/{id}/diff", |r, _| cut_read(r)),
    // sync: the changes feed, in the caller's scope, for whoever lists
    // records (tests/tests/changes.rs checks what each scope sees)
    ("GET", "/api/v1/changes", records_read),
];

/// Quarterly cuts are figures: the national admin, entity admins and
/// analysts read them; operators, auditors and service accounts do not.
fn cut_read(role: Role) -> u16 {
    only(&[NationalAdmin, EntityAdmin, Analyst], role, 200)
}

/// Closing and reopening one entity's quarter: the national admin's; a
/// state admin is refused its own entity's and does not see another's.
fn period_national(role: Role, t: Target) -> u16 {
    match (role, t) {
        (NationalAdmin, _) => 200,
        (EntityAdmin, OtherEntity) => 404,
        _ => 403,
    }
}

struct World {
    app: TestApp,
    institutions: [Uuid; 3],
    counter: std::cell::Cell<u32>,
    /// Per target: a commission, its session and an agreement, registered
    /// by the target's institution.
    trees: Vec<[Uuid; 3]>,
    /// Per target: a victim, an attention of it, and a duplicate pair of
    /// two of the target institution's people.
    people: Vec<(Uuid, Uuid, Uuid)>,
    /// Per target: an import (with an annotated workbook) of its institution.
    imports: Vec<Uuid>,
}

/// Registers an import of an institution, as a dry run with errors leaves it.
async fn an_import(app: &TestApp, institution: Uuid) -> Uuid {
    let uploader = app.account(Role::Operator, institution).await;
    let id = Uuid::now_v7();
    let mut conn = app.conn().await;
    sintra_persistence::imports::insert(
        &mut conn,
        &sintra_persistence::imports::NewImport {
            id,
            institution_id: institution,
            form: "commission".into(),
            file_sha256: "0".repeat(64),
            status: "dry_run".into(),
            report: json!({}),
            annotated: Some(b"PK".to_vec()),
            created_by: uploader.id,
        },
    )
    .await
    .unwrap();
    id
}

/// Registers a checked dry run of an institution (a job that may be read,
/// cancelled or committed), behind the API's back.
async fn a_job(app: &TestApp, institution: Uuid) -> Uuid {
    use sintra_persistence::import_jobs::{admit, Bounds, NewJob};
    let uploader = app.account(Role::Operator, institution).await;
    let id = Uuid::now_v7();
    let mut conn = app.conn().await;
    let new = NewJob {
        id,
        form: "commission".into(),
        institution_id: institution,
        entity_code: uploader.entity_code.clone(),
        created_by: uploader.id,
        actor_username: uploader.username.clone(),
        actor_role: "operator".into(),
        token_id: Uuid::now_v7(),
        request_id: "matrix".into(),
        ip: None,
        lang: "es".into(),
        dry_run: true,
        status: "checked".into(),
        file_sha256: format!("{:064x}", id.as_u128()),
        file_bytes: 2,
        workbook: Some(b"PK".to_vec()),
        worker_id: None,
        attempts: 1,
        heartbeat_at: None,
        started_at: None,
    };
    let bounds = Bounds {
        per_institution: 1_000,
        total: 1_000,
    };
    admit(&mut conn, &new, bounds).await.unwrap();
    id
}

/// Registers two people, an attention and their duplicate pair for an
/// institution, behind the API's back.
async fn people(app: &TestApp, institution: Uuid, entity: &str) -> (Uuid, Uuid, Uuid) {
    use sintra_persistence::records::{insert, NewRecord};
    let mut conn = app.conn().await;
    let record = |form: &'static str, parent: Option<Uuid>, data: Value| NewRecord {
        id: Uuid::now_v7(),
        form: form.into(),
        entity_code: entity.into(),
        institution_id: institution,
        parent_id: parent,
        external_folio: None,
        data,
        created_by: None,
        updated_by: None,
        blocking_keys: None,
        name_terms: None,
    };
    let person = json!({"condition": "VICTIMA", "given_names": "Ana", "first_surname": "Ruiz", "sex": "MUJER", "detection_date": "2024-01-01", "detection_entity_code": entity});
    let a = insert(&mut conn, &record("victim", None, person.clone()))
        .await
        .unwrap()
        .id;
    let b = insert(&mut conn, &record("victim", None, person))
        .await
        .unwrap()
        .id;
    let att = insert(
        &mut conn,
        &record(
            "attention",
            Some(a),
            json!({"victim_id": a, "date": "2024-01-02", "service": "JURIDICA"}),
        ),
    )
    .await
    .unwrap()
    .id;
    sintra_persistence::duplicates::raise_pair(
        &mut conn,
        a,
        b,
        sintra_domain::duplicates::MatchLevel::Probable,
        0.95,
    )
    .await
    .unwrap();
    let pair = sintra_persistence::duplicates::list_pairs(
        &mut conn,
        &sintra_domain::access::Scope::Institution(institution),
        Some(sintra_domain::duplicates::PairStatus::Open),
        None,
        1,
    )
    .await
    .unwrap()[0]
        .id;
    (a, att, pair)
}

/// Registers commission → session → agreement for an institution, behind
/// the API's back (the matrix tests access, not creation).
async fn tree(app: &TestApp, institution: Uuid, entity: &str) -> [Uuid; 3] {
    use sintra_persistence::records::{insert, NewRecord};
    let mut conn = app.conn().await;
    let mut ids = [Uuid::nil(); 3];
    let datas = [
        (
            "commission",
            json!({"name": "Comisión", "kind": "COMISION", "entity_code": entity, "installation_date": "2015-01-01"}),
        ),
        (
            "session",
            json!({"number": 1, "session_type": "ORDINARIA", "date": "2016-01-01"}),
        ),
        (
            "agreement",
            json!({"key": "A", "text": "Acuerdo", "status": "PENDIENTE"}),
        ),
    ];
    for (i, (form, mut data)) in datas.into_iter().enumerate() {
        let parent = (i > 0).then(|| ids[i - 1]);
        if let Some(p) = parent {
            let key = if form == "session" {
                "commission_id"
            } else {
                "session_id"
            };
            data[key] = json!(p);
        }
        ids[i] = insert(
            &mut conn,
            &NewRecord {
                id: Uuid::now_v7(),
                form: form.into(),
                entity_code: entity.into(),
                institution_id: institution,
                parent_id: parent,
                external_folio: None,
                data,
                created_by: None,
                updated_by: None,
                blocking_keys: None,
                name_terms: None,
            },
        )
        .await
        .unwrap()
        .id;
    }
    ids
}

/// Registers investigation → criminal case → one event → defendant →
/// sentence for an institution, behind the API's back; returns their ids
/// in that order.
async fn judicial_tree(app: &TestApp, institution: Uuid, entity: &str) -> [Uuid; 5] {
    use sintra_persistence::records::{insert, NewRecord};
    let mut conn = app.conn().await;
    let mut ids = [Uuid::nil(); 5];
    let datas = [
        (
            "investigation",
            None,
            json!({"investigation_type": "CARPETA_INVESTIGACION", "folio": "CI-1", "opening_date": "2020-01-01", "fuero": "COMUN", "crimes": ["LGT_ART_10"], "stage": "INV_INICIAL", "entity_code": entity}),
        ),
        (
            "criminal_case",
            Some((0, "investigation_id")),
            json!({"court": "Juzgado", "case_number": "1/2020", "judicialized_date": "2020-02-01", "stage": "INV_INICIAL"}),
        ),
        (
            "procedural_event",
            Some((1, "criminal_case_id")),
            json!({"event_type": "AUDIENCIA_INICIAL", "date": "2020-02-02"}),
        ),
        (
            "defendant",
            Some((1, "criminal_case_id")),
            json!({"sex": "HOMBRE", "given_names": "Persona"}),
        ),
        (
            "sentence",
            Some((3, "defendant_id")),
            json!({"crime": "LGT_ART_10", "date": "2021-01-01", "sentence_type": "CONDENATORIA", "route": "JUICIO_ORAL"}),
        ),
    ];
    for (i, (form, parent, mut data)) in datas.into_iter().enumerate() {
        let parent = parent.map(|(level, key)| {
            data[key] = json!(ids[level]);
            ids[level]
        });
        ids[i] = insert(
            &mut conn,
            &NewRecord {
                id: Uuid::now_v7(),
                form: form.into(),
                entity_code: entity.into(),
                institution_id: institution,
                parent_id: parent,
                external_folio: None,
                data,
                created_by: None,
                updated_by: None,
                blocking_keys: None,
                name_terms: None,
            },
        )
        .await
        .unwrap()
        .id;
    }
    ids
}

impl World {
    fn institution(&self, t: Target) -> Uuid {
        match t {
            OwnInstitution => self.institutions[0],
            SameEntity => self.institutions[1],
            OtherEntity => self.institutions[2],
        }
    }

    fn entity(&self, t: Target) -> &'static str {
        if t == OtherEntity {
            "09"
        } else {
            "19"
        }
    }

    fn unique(&self, prefix: &str) -> String {
        let n = self.counter.get();
        self.counter.set(n + 1);
        format!("{prefix}{n}")
    }

    /// Sends the route's request as `actor` against a fresh target of kind `t`.
    async fn send(&self, actor: &Account, method: &str, pattern: &str, t: Target) -> u16 {
        let app = &self.app;
        let inst = self.institution(t);
        let mut version = 1;
        let (path, body): (String, Option<Value>) = match pattern {
            "/api/v1/catalogs/{catalog}/items" if method == "POST" => (
                "/api/v1/catalogs/detection_source/items".into(),
                Some(
                    json!({"code": self.unique("FUENTE_").to_uppercase(), "label_es": "Fuente nueva", "label_en": "New source"}),
                ),
            ),
            "/api/v1/catalogs/{catalog}/items" => (
                "/api/v1/catalogs/municipality/items?parent_code=19".into(),
                None,
            ),
            "/api/v1/catalogs/{catalog}/items/{code}" => {
                let mut conn = app.conn().await;
                version = sintra_persistence::catalogs::get_item(
                    &mut conn,
                    "detection_source",
                    "DENUNCIA",
                )
                .await
                .unwrap()
                .version;
                let body =
                    (method == "PATCH").then(|| json!({"label_en": self.unique("Complaint ")}));
                (
                    "/api/v1/catalogs/detection_source/items/DENUNCIA".into(),
                    body,
                )
            }
            "/api/v1/forms/{form}" => ("/api/v1/forms/victim".into(), None),
            "/api/v1/forms/{form}/labels" => ("/api/v1/forms/victim/labels".into(), None),
            "/api/v1/forms/{form}/fields/{field}/label" => {
                use sintra_persistence::labels;
                let mut conn = app.conn().await;
                version = labels::version_of(&mut conn, FormKey::Victim, "alias")
                    .await
                    .unwrap();
                let in_force = !labels::current(&mut conn, Some(FormKey::Victim))
                    .await
                    .unwrap()
                    .is_empty();
                if method == "DELETE" && !in_force {
                    // Something to take back: an override in force.
                    let o = sintra_domain::forms::labels::LabelOverride {
                        field: "alias".into(),
                        label_es: Some(self.unique("Alias ")),
                        ..Default::default()
                    };
                    labels::set(&mut conn, FormKey::Victim, &o, version, actor.id)
                        .await
                        .unwrap();
                    version += 1;
                }
                let body = (method == "PUT").then(|| json!({"label_es": self.unique("Alias ")}));
                ("/api/v1/forms/victim/fields/alias/label".into(), body)
            }
            "/api/v1/excel/templates/{form}" => ("/api/v1/excel/templates/commission".into(), None),
            "/api/v1/excel/exports/{form}" => ("/api/v1/excel/exports/agreement".into(), None),
            "/api/v1/excel/imports/{id}/annotated.xlsx" => {
                let id = self.imports[TARGETS.iter().position(|x| *x == t).unwrap()];
                (format!("/api/v1/excel/imports/{id}/annotated.xlsx"), None)
            }
            "/api/v1/excel/imports/{id}" | "/api/v1/excel/imports/{id}/commit" => {
                let id = a_job(app, inst).await;
                (pattern.replace("{id}", &id.to_string()), None)
            }
            "/api/v1/excel/imports/{form}" => {
                let boundary = "matrix-boundary";
                let mut wb = rust_xlsxwriter::Workbook::new();
                let ws = wb.add_worksheet().set_name("Datos").unwrap();
                for (c, (h, v)) in [
                    ("Nombre", "Comisión"),
                    ("Tipo de instancia", "COMISION"),
                    ("Entidad federativa", "19"),
                    ("Fecha de instalación", "2015-01-01"),
                ]
                .iter()
                .enumerate()
                {
                    ws.write_string(0, c as u16, *h).unwrap();
                    ws.write_string(1, c as u16, *v).unwrap();
                }
                let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.xlsx\"\r\n\r\n").into_bytes();
                body.extend(wb.save_to_buffer().unwrap());
                body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
                let auth = format!("Bearer {}", actor.token);
                let answer = app
                    .call_raw(
                        Method::POST,
                        "/api/v1/excel/imports/commission?dry_run=true&wait=true",
                        &[
                            ("authorization", &auth),
                            (
                                "content-type",
                                &format!("multipart/form-data; boundary={boundary}"),
                            ),
                        ],
                        body,
                    )
                    .await;
                return answer.status;
            }
            // victims: requests of the victim-attention module
            p if p.starts_with("/api/v1/victims")
                || p.starts_with("/api/v1/attentions")
                || p.starts_with("/api/v1/duplicates") =>
            {
                let (victim, attention, pair) =
                    self.people[TARGETS.iter().position(|x| *x == t).unwrap()];
                let own_victim = self.people[0].0;
                let person = json!({"condition": "VICTIMA", "given_names": self.unique("Persona "), "first_surname": "Prueba", "sex": "MUJER", "detection_date": "2024-01-01", "detection_entity_code": "19"});
                let is_attention = p.starts_with("/api/v1/attentions");
                let (form, id, new_body, patch) = if is_attention {
                    (
                        "attention",
                        attention,
                        json!({"victim_id": own_victim, "date": "2024-02-01", "service": "JURIDICA"}),
                        json!({"service": "MEDICA"}),
                    )
                } else {
                    ("victim", victim, person, json!({"alias": "X"}))
                };
                if p.contains("{id}") && !p.starts_with("/api/v1/duplicates") {
                    let mut conn = app.conn().await;
                    version = sintra_persistence::records::get(
                        &mut conn,
                        &sintra_domain::access::Scope::National,
                        form.parse::<sintra_domain::forms::FormKey>().unwrap(),
                        id,
                    )
                    .await
                    .unwrap()
                    .version;
                }
                match (method, p) {
                    ("POST", "/api/v1/victims/duplicate-check") => (p.to_string(), Some(new_body)),
                    ("GET", "/api/v1/duplicates") => (p.to_string(), None),
                    ("POST", p) if p.starts_with("/api/v1/duplicates") => {
                        if p.ends_with("/undo") {
                            // Only a confirmed pair can be undone: every
                            // role's request finds it so, whatever the
                            // role before did.
                            let mut conn = app.conn().await;
                            sintra_persistence::duplicates::decide_pair(
                                &mut conn,
                                pair,
                                sintra_domain::duplicates::PairStatus::Confirmed,
                                actor.id,
                            )
                            .await
                            .unwrap();
                        }
                        (p.replace("{id}", &pair.to_string()), Some(json!({})))
                    }
                    ("GET", p) if !p.contains('{') => (p.to_string(), None),
                    ("POST", p) => (p.to_string(), Some(new_body)),
                    ("PUT", p) => {
                        let mut body = new_body;
                        body["external_folio"] = json!(self.unique("V-"));
                        (
                            p.replace("{external_folio}", body["external_folio"].as_str().unwrap()),
                            Some(body),
                        )
                    }
                    ("GET", p) => (p.replace("{id}", &id.to_string()), None),
                    ("PATCH", p) => (p.replace("{id}", &id.to_string()), Some(patch)),
                    other => panic!("no request for {other:?}"),
                }
            }
            // periods: each request on a fresh quarter (the reopening's closed)
            "/api/v1/periods" => ("/api/v1/periods?year=2030".into(), None),
            p if p.starts_with("/api/v1/periods/") => {
                let mut conn = app.db.owner_conn().await;
                use diesel_async::RunQueryDsl;
                for sql in ["DELETE FROM period_transitions", "DELETE FROM periods"] {
                    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
                }
                let entity = self.entity(t);
                if p.ends_with("/reopen") {
                    diesel::sql_query(format!(
                        "INSERT INTO periods (entity_code, year, quarter, status) VALUES ('{entity}', 2030, 1, 'closed')"
                    ))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                }
                let path = p
                    .replace("{entity_code}", entity)
                    .replace("{year}", "2030")
                    .replace("{quarter}", "1");
                let body = json!({"reason": "Corrección de la matriz de acceso"});
                (path, Some(body).filter(|_| p.ends_with("/reopen")))
            }
            "/api/v1/cuts" if method == "POST" => {
                (pattern.into(), Some(json!({"year": 2031, "quarter": 1})))
            }
            "/api/v1/cuts/{id}" | "/api/v1/cuts/{id}.xlsx" | "/api/v1/cuts/{id}/diff" => {
                let national = app.account(NationalAdmin, self.institutions[0]).await;
                let taken = app
                    .post(
                        "/api/v1/cuts",
                        &national.token,
                        json!({"year": 2031, "quarter": 2}),
                    )
                    .await;
                let id = taken.json["cut"]["id"].as_str().unwrap().to_string();
                (pattern.replace("{id}", &id), None)
            }
            // judicialization: requests of the judicialization module
            "/api/v1/judicialization/counts" => (
                "/api/v1/judicialization/counts?group_by=entity".into(),
                None,
            ),
            "/api/v1/dashboards" => ("/api/v1/dashboards".into(), None),
            "/api/v1/dashboards/{name}" => (
                "/api/v1/dashboards/victims?group_by=entity&format=csv".into(),
                None,
            ),
            p if p.starts_with("/api/v1/investigations")
                || p.starts_with("/api/v1/criminal-cases")
                || p.starts_with("/api/v1/defendants")
                || p.starts_with("/api/v1/sentences") =>
            {
                // Fresh trees per request: every PATCH finds version 1 and
                // every new event follows the case's last one.
                let target = judicial_tree(app, inst, self.entity(t)).await;
                let own = judicial_tree(app, self.institutions[0], "19").await;
                let (id, new_body, patch) = match p.split('/').nth(3) {
                    Some("investigations") => (
                        target[0],
                        json!({"investigation_type": "CARPETA_INVESTIGACION", "folio": self.unique("CI-"), "opening_date": "2021-01-01", "fuero": "COMUN", "crimes": ["LGT_ART_10"], "entity_code": "19"}),
                        json!({"prosecutor_office": "Unidad especializada"}),
                    ),
                    Some("criminal-cases") => (
                        target[1],
                        json!({"investigation_id": own[0], "court": "Juzgado de control", "case_number": self.unique("CP-"), "judicialized_date": "2021-01-01"}),
                        json!({"stage": "INV_COMPLEMENTARIA"}),
                    ),
                    Some("defendants") => (
                        target[3],
                        json!({"criminal_case_id": own[1], "sex": "MUJER"}),
                        json!({"age": 30}),
                    ),
                    _ => (
                        target[4],
                        json!({"defendant_id": own[3], "crime": "LGT_ART_10", "date": "2021-06-01", "sentence_type": "ABSOLUTORIA"}),
                        json!({"firmness": "FIRME"}),
                    ),
                };
                match (method, p.ends_with("/events"), p.contains("by-folio")) {
                    ("GET", true, _) => (p.replace("{id}", &target[1].to_string()), None),
                    ("POST", true, _) => (
                        p.replace("{id}", &target[1].to_string()),
                        Some(json!({"event_type": "VINCULACION", "date": "2020-02-10"})),
                    ),
                    ("PUT", _, true) => {
                        let mut body = new_body;
                        body["external_folio"] = json!(self.unique("J-"));
                        (
                            p.replace("{external_folio}", body["external_folio"].as_str().unwrap()),
                            Some(body),
                        )
                    }
                    ("GET", _, _) if !p.contains('{') => (p.to_string(), None),
                    ("POST", _, _) => (p.to_string(), Some(new_body)),
                    ("GET", _, _) => (p.replace("{id}", &id.to_string()), None),
                    ("PATCH", _, _) => (p.replace("{id}", &id.to_string()), Some(patch)),
                    other => panic!("no request for {other:?}"),
                }
            }
            p if p.starts_with("/api/v1/commissions")
                || p.starts_with("/api/v1/sessions")
                || p.starts_with("/api/v1/agreements") =>
            {
                let tree = self.trees[TARGETS.iter().position(|x| *x == t).unwrap()];
                let own = self.trees[0];
                let (level, new_body) = if p.starts_with("/api/v1/commissions") {
                    (
                        0,
                        json!({"name": "Nueva", "kind": "COMITE", "entity_code": "19", "installation_date": "2010-05-05"}),
                    )
                } else if p.starts_with("/api/v1/sessions") {
                    (
                        1,
                        json!({"commission_id": own[0], "number": 2, "session_type": "ORDINARIA", "date": "2017-01-01"}),
                    )
                } else {
                    (
                        2,
                        json!({"session_id": own[1], "key": "B", "text": "Otro", "status": "PENDIENTE"}),
                    )
                };
                let id = tree[level];
                let mut conn = app.conn().await;
                let form = ["commission", "session", "agreement"][level];
                version = sintra_persistence::records::get(
                    &mut conn,
                    &sintra_domain::access::Scope::National,
                    form.parse::<sintra_domain::forms::FormKey>().unwrap(),
                    id,
                )
                .await
                .unwrap()
                .version;
                match (
                    method,
                    p.ends_with("{id}"),
                    p.contains("by-folio"),
                    p.ends_with("follow-ups"),
                ) {
                    ("GET", false, false, false) => (p.to_string(), None),
                    ("POST", false, false, false) => (p.to_string(), Some(new_body)),
                    ("PUT", _, true, _) => {
                        let mut body = new_body;
                        body["external_folio"] = json!(self.unique("F-"));
                        (
                            p.replace("{external_folio}", body["external_folio"].as_str().unwrap()),
                            Some(body),
                        )
                    }
                    ("GET", true, _, _) => (p.replace("{id}", &id.to_string()), None),
                    ("PATCH", true, _, _) => {
                        let patch = match level {
                            0 => json!({"status": "INACTIVA"}),
                            1 => json!({"venue": "Palacio de Gobierno"}),
                            _ => json!({"status": "EN_PROCESO"}),
                        };
                        (p.replace("{id}", &id.to_string()), Some(patch))
                    }
                    ("GET", _, _, true) => (p.replace("{id}", &id.to_string()), None),
                    ("POST", _, _, true) => (
                        p.replace("{id}", &id.to_string()),
                        Some(
                            json!({"date": "2018-01-01", "progress": "Avance", "status": "EN_PROCESO"}),
                        ),
                    ),
                    other => panic!("no request for {other:?}"),
                }
            }
            "/api/v1/institutions" if method == "POST" => (
                pattern.into(),
                Some(
                    json!({"entity_code": self.entity(t), "name": self.unique("Institución "), "institution_type": "DIF"}),
                ),
            ),
            "/api/v1/institutions/{id}" => {
                // A fresh institution in the target's entity (or the target itself).
                let id = if t == OwnInstitution {
                    inst
                } else {
                    app.institution(self.entity(t), &self.unique("Inst ")).await
                };
                let mut conn = app.conn().await;
                version = sintra_persistence::org::get_institution(
                    &mut conn,
                    &sintra_domain::access::Scope::National,
                    id,
                )
                .await
                .unwrap()
                .version;
                let body =
                    (method == "PATCH").then(|| json!({"name": self.unique("Nuevo nombre ")}));
                (format!("/api/v1/institutions/{id}"), body)
            }
            "/api/v1/users" if method == "POST" => (
                pattern.into(),
                Some(
                    json!({"username": self.unique("nuevo.u"), "full_name": "Nueva persona", "role": "operator", "institution_id": inst}),
                ),
            ),
            "/api/v1/service-accounts" if method == "POST" => (
                pattern.into(),
                Some(
                    json!({"client_id": self.unique("sistema.s"), "name": "Sistema", "institution_id": inst}),
                ),
            ),
            p if p.starts_with("/api/v1/users/{id}") => {
                let target = app.account(Operator, inst).await;
                let body = (method == "PATCH").then(|| json!({"full_name": "Nombre corregido"}));
                (
                    p.replace("{id}", &target.id.to_string()),
                    body.or(Some(json!({}))).filter(|_| method != "GET"),
                )
            }
            p if p.starts_with("/api/v1/service-accounts/{id}") => {
                let target = app.account(System, inst).await;
                (p.replace("{id}", &target.id.to_string()), Some(json!({})))
            }
            p => (p.to_string(), (method != "GET").then(|| json!({}))),
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut headers = vec![(
            "authorization".to_string(),
            format!("Bearer {}", actor.token),
        )];
        if method == Method::PATCH || path.ends_with("/label") {
            headers.push(("if-match".into(), format!("\"{version}\"")));
        }
        let raw = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        if !raw.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let answer = app.call_raw(method, &path, &h, raw).await;
        if answer.status >= 400 {
            assert!(
                answer
                    .content_type()
                    .starts_with("application/problem+json"),
                "{path}: {}",
                answer.text()
            );
        }
        answer.status
    }
}

#[actix_web::test]
async fn every_route_every_role_every_target() {
    // Many commits of import jobs in a row: no limit on imports under way.
    let app = TestApp::with_config(|c| {
        c.imports.per_institution = 10_000;
        c.imports.total = 10_000;
    })
    .await;
    let own = app.institution("19", "Fiscalía NL").await;
    let same = app.institution("19", "DIF NL").await;
    let other = app.institution("09", "Fiscalía CDMX").await;
    let trees = vec![
        tree(&app, own, "19").await,
        tree(&app, same, "19").await,
        tree(&app, other, "09").await,
    ];
    let people = vec![
        people(&app, own, "19").await,
        people(&app, same, "19").await,
        people(&app, other, "09").await,
    ];
    let imports = vec![
        an_import(&app, own).await,
        an_import(&app, same).await,
        an_import(&app, other).await,
    ];
    let world = World {
        app,
        institutions: [own, same, other],
        counter: Default::default(),
        trees,
        people,
        imports,
    };
    let mut failures = vec![];
    for (method, pattern, expect) in MATRIX {
        for role in Role::ALL {
            for t in TARGETS {
                // A fresh actor each time: logout and deactivation must not leak into other cases.
                let actor = world.app.account(role, own).await;
                let got = world.send(&actor, method, pattern, t).await;
                let want = expect(role, t);
                if got != want {
                    failures.push(format!(
                        "{method} {pattern} as {role} on {t:?}: got {got}, want {want}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn no_token_means_401_on_every_protected_route() {
    let app = TestApp::new().await;
    for (method, pattern, _) in MATRIX {
        let path = pattern.replace("{id}", &Uuid::now_v7().to_string());
        let res = app
            .call(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &path,
                None,
                None,
            )
            .await;
        res.assert_problem(401, "unauthenticated");
    }
}

#[test]
fn the_matrix_covers_every_route() {
    fn shape(path: &str) -> String {
        path.split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    "{}"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
    let spec = serde_json::to_value(sintra_http::openapi()).unwrap();
    let mut missing = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let public = matches!(
                sintra_http::policy::rule_for(&Method::from_bytes(m.as_bytes()).unwrap(), path),
                Some(sintra_http::policy::RouteRule::Public)
            );
            // By shape: the spec may name a parameter differently from the
            // route (two routes OpenAPI cannot tell apart share one name).
            if !public
                && !MATRIX
                    .iter()
                    .any(|(mm, p, _)| *mm == m && shape(p) == shape(path))
            {
                missing.push(format!("{m} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a row in the access matrix: {missing:?}"
    );
}
