//! What the record handlers share on the HTTP side: reading the headers
//! and query flags a write takes, and turning a service's answer into a
//! response. The use cases themselves live in `sintra_services::records`.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use sintra_services::page::Slice;
use sintra_services::records::{Expected, Shown, Written};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::pagination::{etag, Page, PageParams};

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
        Some(_) => crate::pagination::if_match(req)
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
