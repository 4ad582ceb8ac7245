//! The published form specs: what frontends and state systems build their
//! forms, templates and validations from. The same specs drive validation,
//! Excel, masking and the audit diff on the server.

use actix_web::{get, web, HttpResponse};
use serde_json::Value;
use sintra_domain::forms::{all_specs, FormKey};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};

/// Every form spec: key, labels, fields with type, catalog, limits,
/// whether required and whether personal data.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    responses((status = 200, description = "The form specs", body = Vec<Object>))
)]
#[get("/forms")]
pub async fn list_forms(_auth: Authenticated) -> HttpResponse {
    let specs: Vec<Value> = all_specs().map(|s| s.to_json()).collect();
    HttpResponse::Ok().json(specs)
}

/// One form spec, with its JSON Schema under `schema`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    params(("form" = String, Path, description = "commission, session, agreement, agreement_follow_up, victim, attention, investigation, criminal_case, procedural_event, defendant, sentence, catalog_item or user")),
    responses((status = 200, description = "The form spec", body = Object), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/forms/{form}")]
pub async fn get_form(_auth: Authenticated, form: web::Path<String>) -> ApiResult<HttpResponse> {
    let key: FormKey = form.parse().map_err(|_| ApiError::NotFound)?;
    let spec = key.spec();
    let mut body = spec.to_json();
    if let Value::Object(m) = &mut body {
        m.insert("schema".into(), spec.json_schema());
    }
    Ok(HttpResponse::Ok().json(body))
}
