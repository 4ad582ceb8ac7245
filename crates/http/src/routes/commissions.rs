//! Commissions, sessions, agreements and their follow-ups (Comisiones /
//! Sesiones / Acuerdos). A commission may be registered at any date, past
//! ones included; a session cannot precede its commission's installation
//! nor a follow-up the session of its agreement.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::records;
use crate::state::AppState;

crate::record_routes!(
    commissions,
    sintra_domain::forms::FormKey::Commission,
    "commissions",
    "/commissions",
    "/commissions/{id}",
    "/commissions/by-folio/{external_folio}",
    "commissions (CIEs, the Comisión Intersecretarial, subcommissions, working groups)"
);
crate::record_routes!(
    sessions,
    sintra_domain::forms::FormKey::Session,
    "commissions",
    "/sessions",
    "/sessions/{id}",
    "/sessions/by-folio/{external_folio}",
    "commission sessions"
);
crate::record_routes!(agreements, sintra_domain::forms::FormKey::Agreement, "commissions", "/agreements", "/agreements/{id}", "/agreements/by-folio/{external_folio}", "agreements taken in sessions (`overdue=true` lists those past due and not fulfilled or cancelled)");

/// The dated follow-up history of an agreement, oldest first.
#[utoipa::path(
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses(
        (status = 200, description = "A page of follow-ups", body = Object),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/agreements/{id}/follow-ups")]
pub async fn list_follow_ups(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let agreement =
        records::parent_in_scope(&state, &auth, FormKey::Agreement, id.into_inner()).await?;
    records::list(
        &state,
        &auth,
        FormKey::AgreementFollowUp,
        query.into_inner(),
        Some(agreement.id),
    )
    .await
}

/// Report progress on an agreement: who reported what, when. The date
/// cannot precede the session that took the agreement.
#[utoipa::path(
    tag = "commissions",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "date, progress, status"),
    responses(
        (status = 201, description = "The follow-up", body = Object),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/agreements/{id}/follow-ups")]
pub async fn create_follow_up(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let agreement =
        records::parent_in_scope(&state, &auth, FormKey::Agreement, id.into_inner()).await?;
    records::create(
        &state,
        &auth,
        &req,
        FormKey::AgreementFollowUp,
        body.into_inner(),
        Some(agreement.id),
    )
    .await
}
