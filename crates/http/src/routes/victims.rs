//! Victims and possible victims (Atención a Víctimas y Posibles Víctimas),
//! their attentions, and duplicate warnings. Creating or updating a person
//! answers `{data, warnings}`: the record and its possible duplicates; add
//! `?on_duplicate=reject` to refuse the write (409) when an exact or
//! probable duplicate exists.
//!
//! Each record route's handler is written out (a grep for its path finds
//! it) and calls the generic step of `crate::records`; none has a doc
//! comment, which utoipa would publish: the finishing pass describes each
//! record operation from its resource (`openapi/resources.rs`).

use std::collections::HashMap;

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sintra_services::duplicates::check;
use sintra_services::duplicates::pairs::{self, Decision, PairView};
use sintra_services::duplicates::people;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::openapi::resources::{ATTENTIONS, VICTIMS};
use crate::openapi::Action;
use crate::pagination::{Page, PageParams};
use crate::records::{
    self, CreateAnswers, IdempotencyKey, ListAnswers, ReadAnswers, RecordPage, UpdateAnswers,
    UpsertAnswers, VersionMatch,
};
use crate::state::AppState;

// Victims and possible victims. Writes answer {data, warnings} with the
// possible duplicates; `?on_duplicate=reject` refuses exact or probable ones
// with 409; reads and lists show each record's `person_id` and
// `person_records`, and `?distinct_person=true` lists each person once.

#[utoipa::path(
    operation_id = Action::List.name(&VICTIMS),
    tag = "victims",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/victims")]
pub async fn list_victims(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &VICTIMS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&VICTIMS),
    tag = "victims",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/victims")]
pub async fn create_victim(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &VICTIMS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&VICTIMS),
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/victims/{id}")]
pub async fn read_victim(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &VICTIMS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&VICTIMS),
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/victims/{id}")]
pub async fn update_victim(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &VICTIMS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&VICTIMS),
    tag = "victims",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/victims/by-folio/{external_folio}")]
pub async fn upsert_victim(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &VICTIMS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Attentions given to victims (services and referrals).

#[utoipa::path(
    operation_id = Action::List.name(&ATTENTIONS),
    tag = "victims",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/attentions")]
pub async fn list_attentions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &ATTENTIONS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&ATTENTIONS),
    tag = "victims",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/attentions")]
pub async fn create_attention(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &ATTENTIONS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&ATTENTIONS),
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/attentions/{id}")]
pub async fn read_attention(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &ATTENTIONS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&ATTENTIONS),
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/attentions/{id}")]
pub async fn update_attention(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &ATTENTIONS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&ATTENTIONS),
    tag = "victims",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/attentions/by-folio/{external_folio}")]
pub async fn upsert_attention(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &ATTENTIONS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

/// Check a draft person for duplicates without saving it: the same
/// warnings a create would give. The check itself is recorded in the audit
/// log, as it reads personal data.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    request_body(content = Object, description = "A victim draft (the victim form's fields)"),
    responses(
        (status = 200, description = "{warnings: [...]}", body = Object),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/victims/duplicate-check")]
pub async fn duplicate_check(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let warnings = check::check_draft(&state.pool, &auth, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "warnings": warnings })))
}

/// A person of a pair: enough to fetch it (the read is audited).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairPerson {
    pub id: Uuid,
    pub entity_code: String,
    pub institution_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PairOut {
    pub id: Uuid,
    /// `exact`, `probable` or `possible`.
    pub level: String,
    pub score: f64,
    /// `open`, `dismissed` (not the same person) or `confirmed` (the same person).
    pub status: String,
    pub person_a: PairPerson,
    pub person_b: PairPerson,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<PairView> for PairOut {
    fn from(v: PairView) -> PairOut {
        let (p, a, b) = (v.pair, v.person_a, v.person_b);
        PairOut {
            id: p.id,
            level: p.level.as_str().to_string(),
            score: p.score,
            status: p.status.as_str().to_string(),
            person_a: PairPerson {
                id: a.id,
                entity_code: a.entity_code.to_string(),
                institution_id: a.institution_id,
            },
            person_b: PairPerson {
                id: b.id,
                entity_code: b.entity_code.to_string(),
                institution_id: b.institution_id,
            },
            created_at: p.created_at,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PairQuery {
    /// `open` (default), `dismissed` or `confirmed`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Duplicate pairs whose two people both lie in the caller's scope, newest
/// first: the national admin sees the country's open pairs.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    params(PairQuery),
    responses((status = 200, body = Page<PairOut>), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/duplicates")]
pub async fn list_pairs(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<PairQuery>,
) -> ApiResult<web::Json<Page<PairOut>>> {
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let status = q.status.as_deref().map(pairs::parse_status).transpose()?;
    let (limit, after) = (page.limit()?, page.after()?);
    let slice = pairs::list(&state.pool, &auth, status, after, limit).await?;
    Ok(web::Json(Page::from_slice(
        slice,
        |v| v.pair.id,
        PairOut::from,
    )))
}

/// Declare a pair not a duplicate: it is not raised again.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PairOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[post("/duplicates/{id}/dismiss")]
pub async fn dismiss_pair(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let pair = pairs::decide(&state.pool, &auth, id.into_inner(), Decision::Dismiss).await?;
    Ok(HttpResponse::Ok().json(PairOut::from(pair)))
}

/// Confirm a pair as the same person: the two records' persons merge into
/// one (every record of either gets the person of the first registered;
/// nothing is deleted), counted once in lists by person and in dashboards.
/// The audit row names the persons before and after and the records that
/// moved.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PairOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[post("/duplicates/{id}/confirm")]
pub async fn confirm_pair(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let pair = pairs::decide(&state.pool, &auth, id.into_inner(), Decision::Confirm).await?;
    Ok(HttpResponse::Ok().json(PairOut::from(pair)))
}

/// Undo a confirmed pair: it is open again and the persons are as they
/// were before it (recomputed from the pairs still confirmed, so a person
/// that later confirmations joined to others stays joined through them).
/// Audited as `duplicate_undone` with the persons before and after; 409
/// `invalid_pair_transition` when the pair is not confirmed.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = PairOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The pair is not confirmed", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/duplicates/{id}/undo")]
pub async fn undo_pair(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let pair = pairs::decide(&state.pool, &auth, id.into_inner(), Decision::Undo).await?;
    Ok(HttpResponse::Ok().json(PairOut::from(pair)))
}

/// The person a victim record belongs to (records joined by confirmed
/// duplicate pairs are one person): its records (those outside the
/// caller's scope by entity and institution only), and the attentions and
/// investigations of any of them that the caller may see. Reading it is
/// audited as a read of the record.
#[utoipa::path(
    tag = "victims",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The person", body = Object),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/victims/{id}/person")]
pub async fn read_person(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let person = people::person(&state.pool, &auth, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(person))
}
