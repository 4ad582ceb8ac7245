//! Liveness and readiness, for load balancers and orchestrators.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// The process is up and answering.
#[utoipa::path(tag = "operations", responses((status = 200, body = HealthStatus)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// The database answers: 200 when it answers a trivial query within 2 s
/// (on an idle pooled connection, or on a connection of its own while the
/// pool is busy serving requests: load alone never makes this 503); 503
/// while it does not (the instance recovers by itself, no restart).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = HealthStatus),
        (status = 503, description = "Database unreachable", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let within = std::time::Duration::from_secs(2);
    if sintra_persistence::db::ping(&state.pool, &state.config.database_url, within).await {
        Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" }))
    } else {
        Err(ApiError::Unavailable)
    }
}
