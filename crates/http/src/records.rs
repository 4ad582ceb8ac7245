//! What the record handlers share on the HTTP side. Each record route is a
//! handler of its own in its resource's file (`routes/victims.rs`,
//! `routes/commissions.rs`, `routes/judicialization.rs`), found by a grep
//! for its path; they are alike, so each calls one of the generic steps
//! here ([`list`], [`create`], [`read`], [`update`], [`upsert`],
//! [`list_children`], [`create_child`]): read the headers and query flags
//! a request carries, call the use case in `sintra_services::records`, and
//! turn its answer into a response. The parameters and answers their
//! `#[utoipa::path]` declares are the types at the end of this file.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use sintra_domain::access::Caller;
use sintra_services::page::Slice;
use sintra_services::records::{
    self as service, CreateOptions, Expected, ListPage, Shown, Written,
};
use utoipa::{IntoParams, IntoResponses};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::openapi::RecordResource;
use crate::pagination::{etag, if_match, Page, PageParams};
use crate::state::AppState;

/// `GET /things`: a page of the resource's records in the caller's scope,
/// filtered by the query's other keys.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    resource: &RecordResource,
    mut query: HashMap<String, String>,
) -> ApiResult<HttpResponse> {
    let (limit, after) = take_page(&mut query)?;
    let page = ListPage {
        limit,
        after,
        parent: None,
    };
    let slice = service::list(&state.pool, caller, resource.form, query, page).await?;
    Ok(listed(slice))
}

/// `POST /things`: creates a record, answered with its `Location`.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    resource: &RecordResource,
    req: &HttpRequest,
    body: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let options = CreateOptions {
        parent: None,
        idempotency_key: idempotency_key(req),
        reject_duplicates: rejects_duplicates(req),
    };
    let answer = service::create(&state.pool, caller, resource.form, body, options).await?;
    Ok(written_at(answer, resource.path))
}

/// `GET /things/{id}`: one record, if it lies in the caller's scope.
pub async fn read(
    state: &AppState,
    caller: &Caller,
    resource: &RecordResource,
    id: Uuid,
) -> ApiResult<HttpResponse> {
    Ok(shown(
        service::read(&state.pool, caller, resource.form, id).await?,
    ))
}

/// `PATCH /things/{id}`: changes fields of a record at the version its
/// `If-Match` names.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    resource: &RecordResource,
    req: &HttpRequest,
    id: Uuid,
    patch: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let version = if_match(req)?;
    let reject = rejects_duplicates(req);
    let answer = service::update(
        &state.pool,
        caller,
        resource.form,
        id,
        version,
        patch,
        reject,
    )
    .await?;
    Ok(written(answer))
}

/// `PUT /things/by-folio/{external_folio}`: creates or replaces a record
/// by the caller's institution's own folio.
pub async fn upsert(
    state: &AppState,
    caller: &Caller,
    resource: &RecordResource,
    req: &HttpRequest,
    folio: String,
    body: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let (expected, reject) = (expected(req), rejects_duplicates(req));
    let answer = service::upsert_by_folio(
        &state.pool,
        caller,
        resource.form,
        folio,
        body,
        expected,
        reject,
    )
    .await?;
    Ok(written_at(answer, resource.path))
}

/// `GET /parents/{id}/children`: a page of the children of a parent that
/// lies in the caller's scope (404 otherwise).
pub async fn list_children(
    state: &AppState,
    caller: &Caller,
    parent: &RecordResource,
    child: &RecordResource,
    parent_id: Uuid,
    mut query: HashMap<String, String>,
) -> ApiResult<HttpResponse> {
    let parent = service::parent_in_scope(&state.pool, caller, parent.form, parent_id).await?;
    let (limit, after) = take_page(&mut query)?;
    let page = ListPage {
        limit,
        after,
        parent: Some(parent.id),
    };
    let slice = service::list(&state.pool, caller, child.form, query, page).await?;
    Ok(listed(slice))
}

/// `POST /parents/{id}/children`: creates a child of a parent that lies in
/// the caller's scope (404 otherwise). A child has no path of its own, so
/// no `Location`.
pub async fn create_child(
    state: &AppState,
    caller: &Caller,
    parent: &RecordResource,
    child: &RecordResource,
    req: &HttpRequest,
    parent_id: Uuid,
    body: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let parent = service::parent_in_scope(&state.pool, caller, parent.form, parent_id).await?;
    let options = CreateOptions {
        parent: Some(parent.id),
        idempotency_key: idempotency_key(req),
        reject_duplicates: rejects_duplicates(req),
    };
    let answer = service::create(&state.pool, caller, child.form, body, options).await?;
    Ok(written(answer))
}

/// Whether the caller asked to refuse duplicates (`?on_duplicate=reject`).
pub fn rejects_duplicates(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|p| p == "on_duplicate=reject")
}

/// The `Idempotency-Key` header as sent (blank when not text); the service
/// checks it.
pub fn idempotency_key(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("").to_string())
}

/// The version an upsert expects, from an optional `If-Match`.
pub fn expected(req: &HttpRequest) -> Expected {
    match req.headers().get(header::IF_MATCH) {
        None => Expected::Any,
        Some(_) => if_match(req)
            .map(Expected::Version)
            .unwrap_or(Expected::Unreadable),
    }
}

/// The paging keys of a record list's query, taken out of it.
pub fn take_page(query: &mut HashMap<String, String>) -> ApiResult<(i64, Option<Uuid>)> {
    let page = PageParams {
        limit: query.remove("limit").map(|l| l.parse().unwrap_or(0)),
        cursor: query.remove("cursor"),
    };
    Ok((page.limit()?, page.after()?))
}

/// A write's answer: 201 or 200 with the version as ETag, or the replayed
/// answer of an earlier request with the same `Idempotency-Key`.
pub fn written(answer: Written) -> HttpResponse {
    match answer {
        Written::Created { version, body } => HttpResponse::Created()
            .insert_header(etag(version))
            .json(body),
        Written::Updated { version, body } => {
            HttpResponse::Ok().insert_header(etag(version)).json(body)
        }
        Written::Replayed { status, body } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .insert_header(("Idempotent-Replayed", "true"))
                .json(body)
        }
    }
}

/// [`written`], with `Location` on a creation: the record's path under
/// `collection` (`/victims`), read from the body's `id` (or `data.id`).
pub fn written_at(answer: Written, collection: &str) -> HttpResponse {
    let location = match &answer {
        Written::Created { body, .. } => body
            .get("id")
            .or_else(|| body.get("data").and_then(|d| d.get("id")))
            .and_then(Value::as_str)
            .map(|id| format!("/api/v1{collection}/{id}")),
        _ => None,
    };
    let mut res = written(answer);
    if let Some(l) = location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

/// A read's answer, with the version as ETag.
pub fn shown(answer: Shown) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(etag(answer.version))
        .json(answer.body)
}

/// A list's answer: the page and the cursor of the next one.
pub fn listed(slice: Slice<(Uuid, Value)>) -> HttpResponse {
    HttpResponse::Ok().json(Page::from_slice(slice, |(id, _)| *id, |(_, body)| body))
}

// What the record handlers' `#[utoipa::path]` declares, shared so that the
// nine resources say it alike. The finishing pass (`openapi/finish.rs`)
// gives each record operation its bodies, headers and the problems it can
// answer; these carry what it keeps: the parameters, and the statuses with
// their descriptions (the bodies here are placeholders it replaces).

/// The paging keys of a record list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordPage {
    /// 1 to 500, default 50
    pub limit: Option<i64>,
    /// next_cursor of the previous page
    pub cursor: Option<String>,
}

/// The paging keys of a list of children.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChildPage {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The `Idempotency-Key` of a create.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// Same key and body: the first answer is replayed. State systems send one on every create: a 503 or a lost answer does not say whether the commit went through, and only a retry with the same key is safe
    #[param(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// The `If-Match` of an update.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct VersionMatch {
    /// The record's current version
    #[param(rename = "If-Match")]
    pub if_match: String,
}

/// The answers of `GET /things`.
#[derive(IntoResponses)]
pub enum ListAnswers {
    /// A page of records: {items, next_cursor}
    #[response(status = 200)]
    Page,
    #[response(status = 401)]
    Unauthorized,
    #[response(status = 403)]
    Forbidden,
    /// Unknown filter
    #[response(status = 422)]
    UnknownFilter,
}

/// The answers of `POST /things`.
#[derive(IntoResponses)]
pub enum CreateAnswers {
    /// The created record
    #[response(status = 201)]
    Created,
    #[response(status = 403)]
    Forbidden,
    /// Folio taken, or Idempotency-Key reused with another body
    #[response(status = 409)]
    Conflict,
    #[response(status = 422)]
    Invalid,
    /// The database is unavailable; retry after `Retry-After` seconds with the same Idempotency-Key
    #[response(status = 503)]
    Unavailable,
}

/// The answers of `GET /things/{id}`.
#[derive(IntoResponses)]
pub enum ReadAnswers {
    /// The record
    #[response(status = 200)]
    Record,
    #[response(status = 404)]
    NotFound,
}

/// The answers of `PATCH /things/{id}`.
#[derive(IntoResponses)]
pub enum UpdateAnswers {
    /// The updated record
    #[response(status = 200)]
    Updated,
    #[response(status = 404)]
    NotFound,
    #[response(status = 412)]
    Stale,
    #[response(status = 422)]
    Invalid,
    #[response(status = 428)]
    VersionRequired,
}

/// The answers of `PUT /things/by-folio/{external_folio}`.
#[derive(IntoResponses)]
pub enum UpsertAnswers {
    /// Replaced
    #[response(status = 200)]
    Replaced,
    /// Created
    #[response(status = 201)]
    Created,
    #[response(status = 412)]
    Stale,
    #[response(status = 422)]
    Invalid,
}

/// The answers of `GET /parents/{id}/children`.
#[derive(IntoResponses)]
pub enum ChildListAnswers {
    /// A page of records: {items, next_cursor}
    #[response(status = 200)]
    Page,
    #[response(status = 404)]
    NotFound,
}

/// The answers of `POST /parents/{id}/children`.
#[derive(IntoResponses)]
pub enum ChildCreateAnswers {
    /// The created record
    #[response(status = 201)]
    Created,
    #[response(status = 404)]
    NotFound,
    #[response(status = 422)]
    Invalid,
}
