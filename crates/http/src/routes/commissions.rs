//! Commissions, sessions, agreements and their follow-ups (Comisiones /
//! Sesiones / Acuerdos). A commission may be registered at any date, past
//! ones included; a session cannot precede its commission's installation
//! nor a follow-up the session of its agreement.
//!
//! Each route's handler is written out (a grep for its path finds it) and
//! calls the generic step of `crate::records`; none has a doc comment,
//! which utoipa would publish: the finishing pass describes each record
//! operation from its resource (`openapi/resources.rs`).

use std::collections::HashMap;

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::openapi::resources::{AGREEMENTS, AGREEMENT_FOLLOW_UPS, COMMISSIONS, SESSIONS};
use crate::openapi::Action;
use crate::records::{
    self, ChildCreateAnswers, ChildListAnswers, ChildPage, CreateAnswers, IdempotencyKey,
    ListAnswers, ReadAnswers, RecordPage, UpdateAnswers, UpsertAnswers, VersionMatch,
};
use crate::state::AppState;

// Commissions: CIEs, the Comisión Intersecretarial, subcommissions, working
// groups.

#[utoipa::path(
    operation_id = Action::List.name(&COMMISSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/commissions")]
pub async fn list_commissions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &COMMISSIONS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&COMMISSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/commissions")]
pub async fn create_commission(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &COMMISSIONS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&COMMISSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/commissions/{id}")]
pub async fn read_commission(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &COMMISSIONS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&COMMISSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/commissions/{id}")]
pub async fn update_commission(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &COMMISSIONS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&COMMISSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/commissions/by-folio/{external_folio}")]
pub async fn upsert_commission(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &COMMISSIONS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Commission sessions.

#[utoipa::path(
    operation_id = Action::List.name(&SESSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &SESSIONS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&SESSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/sessions")]
pub async fn create_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &SESSIONS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&SESSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/sessions/{id}")]
pub async fn read_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &SESSIONS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&SESSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/sessions/{id}")]
pub async fn update_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &SESSIONS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&SESSIONS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/sessions/by-folio/{external_folio}")]
pub async fn upsert_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &SESSIONS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Agreements taken in sessions (`overdue=true` lists those past due and not
// fulfilled or cancelled).

#[utoipa::path(
    operation_id = Action::List.name(&AGREEMENTS),
    tag = "commissions",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/agreements")]
pub async fn list_agreements(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &AGREEMENTS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&AGREEMENTS),
    tag = "commissions",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/agreements")]
pub async fn create_agreement(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &AGREEMENTS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&AGREEMENTS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/agreements/{id}")]
pub async fn read_agreement(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &AGREEMENTS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&AGREEMENTS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/agreements/{id}")]
pub async fn update_agreement(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &AGREEMENTS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&AGREEMENTS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/agreements/by-folio/{external_folio}")]
pub async fn upsert_agreement(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &AGREEMENTS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// The dated follow-up history of an agreement, oldest first.
#[utoipa::path(
    operation_id = Action::List.name(&AGREEMENT_FOLLOW_UPS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ChildPage),
    responses(ChildListAnswers)
)]
#[get("/agreements/{id}/follow-ups")]
pub async fn list_follow_ups(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let (parent_id, query) = (id.into_inner(), query.into_inner());
    records::list_children(
        &state,
        &auth,
        &AGREEMENTS,
        &AGREEMENT_FOLLOW_UPS,
        parent_id,
        query,
    )
    .await
}

// Report progress on an agreement: who reported what, when. The date cannot
// precede the session that took the agreement.
#[utoipa::path(
    operation_id = Action::Create.name(&AGREEMENT_FOLLOW_UPS),
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "The form's fields (the parent comes from the path)"),
    responses(ChildCreateAnswers)
)]
#[post("/agreements/{id}/follow-ups")]
pub async fn create_follow_up(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let (parent_id, body) = (id.into_inner(), body.into_inner());
    records::create_child(
        &state,
        &auth,
        &AGREEMENTS,
        &AGREEMENT_FOLLOW_UPS,
        &req,
        parent_id,
        body,
    )
    .await
}
