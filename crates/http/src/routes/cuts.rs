//! Quarterly cuts (national admin): taking one freezes a quarter — it
//! closes it in every entity still open and stores its record counts per
//! entity and form, with the (id, version) of every record counted; the
//! cut's digest goes into the audit chain.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::Permission;
use sintra_services::cuts::{self, CutView};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::routes::periods::NationalCloseOut;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CutOut {
    pub id: Uuid,
    pub year: i32,
    pub quarter: u8,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Uuid,
    /// The frozen figures: `{"record_counts": [{entity_code, form, records}]}`
    /// (the dashboards' figures will join as further keys).
    #[schema(value_type = Object)]
    pub figures: serde_json::Value,
    /// How many records the cut counted.
    pub record_count: i64,
    /// SHA-256 of `id:version` of every counted record, by id, comma-joined.
    pub records_digest: String,
    /// SHA-256 of the figures (keys sorted), `|`, and `records_digest`: what
    /// the audit chain holds.
    pub digest: String,
    /// On a single cut's read: whether its stored records and figures still
    /// hash to its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

impl From<CutView> for CutOut {
    fn from(c: CutView) -> CutOut {
        CutOut {
            id: c.id,
            year: c.year,
            quarter: c.quarter,
            taken_at: c.taken_at,
            taken_by: c.taken_by,
            figures: c.figures,
            record_count: c.record_count,
            records_digest: c.records_digest,
            digest: c.digest,
            verified: c.verified,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CutRequest {
    pub year: i32,
    /// 1 to 4.
    pub quarter: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TakenCutOut {
    pub cut: CutOut,
    /// The entities the cut closed, and those already closed.
    pub closed: NationalCloseOut,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CutList {
    pub items: Vec<CutOut>,
}

/// Take the cut of a quarter: closes it in every entity still open, then
/// stores its record counts and the (id, version) of every record counted.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    request_body = CutRequest,
    responses(
        (status = 201, body = TakenCutOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cuts")]
pub async fn take(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<CutRequest>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ManageCuts)?;
    let CutRequest { year, quarter } = body.into_inner();
    let taken = cuts::take(&state.pool, &auth, year, quarter).await?;
    Ok(HttpResponse::Created().json(TakenCutOut {
        cut: taken.cut.into(),
        closed: taken.closed.into(),
    }))
}

/// Every cut, newest first.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    responses((status = 200, body = CutList), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("/cuts")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> ApiResult<web::Json<CutList>> {
    auth.require(Permission::ManageCuts)?;
    let items = cuts::list(&state.pool, &auth).await?;
    Ok(web::Json(CutList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// One cut, with its proof recomputed (`verified`).
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CutOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cuts/{id}")]
pub async fn read(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<CutOut>> {
    auth.require(Permission::ManageCuts)?;
    let cut = cuts::get(&state.pool, &auth, id.into_inner()).await?;
    Ok(web::Json(cut.into()))
}
