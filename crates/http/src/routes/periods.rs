//! Quarterly periods of each entity (DESIGN.md §7): list them with their
//! history; submit (entity admin), close and reopen (national admin) one
//! entity's quarter; close a quarter for every entity at once. A record
//! dated in a closed quarter is neither created nor changed (409
//! `period_closed`) until the quarter is reopened.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::{EntityCode, Permission};
use sintra_domain::periods::PeriodAction;
use sintra_services::periods::{self, NationalClose, PeriodQuery, PeriodView, TransitionView};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

/// One transition of a quarter.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionOut {
    /// `submit`, `close` or `reopen`.
    pub action: String,
    /// `open`, `submitted`, `closed` or `reopened`.
    pub from_status: String,
    pub to_status: String,
    pub actor_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// A reopening's reason.
    pub reason: Option<String>,
}

/// An entity's quarter.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeriodOut {
    pub entity_code: String,
    pub year: i32,
    /// 1 (January–March) to 4 (October–December).
    pub quarter: u8,
    /// `open`, `submitted` (validated by the entity), `closed` (its records
    /// are frozen) or `reopened`.
    pub status: String,
    pub changed_at: Option<DateTime<Utc>>,
    pub changed_by: Option<Uuid>,
    /// The last reopening's reason.
    pub reason: Option<String>,
    /// Every transition, oldest first.
    pub transitions: Vec<TransitionOut>,
}

impl From<TransitionView> for TransitionOut {
    fn from(t: TransitionView) -> TransitionOut {
        TransitionOut {
            action: t.action.as_str().into(),
            from_status: t.from_status.as_str().into(),
            to_status: t.to_status.as_str().into(),
            actor_id: t.actor_id,
            occurred_at: t.occurred_at,
            reason: t.reason,
        }
    }
}

impl From<PeriodView> for PeriodOut {
    fn from(v: PeriodView) -> PeriodOut {
        PeriodOut {
            entity_code: v.entity_code,
            year: v.year,
            quarter: v.quarter,
            status: v.status.as_str().into(),
            changed_at: v.changed_at,
            changed_by: v.changed_by,
            reason: v.reason,
            transitions: v.transitions.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeriodList {
    pub items: Vec<PeriodOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodsQuery {
    /// The year (1900 to 2200); required.
    pub year: Option<i32>,
    /// One quarter, 1 to 4; all four when absent.
    pub quarter: Option<i64>,
    /// One entity (INEGI code); callers below the national level see only
    /// their own entity's.
    pub entity_code: Option<String>,
}

/// The quarters of a year, per entity, with their transitions. The
/// national level sees every entity; entity admins, operators, analysts and
/// state systems their own entity's (so they know whether a quarter still
/// takes data). A quarter nobody acted on is `open`.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(PeriodsQuery),
    responses(
        (status = 200, body = PeriodList),
        (status = 400, description = "Missing or invalid year or quarter", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/periods")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<PeriodsQuery>,
) -> ApiResult<web::Json<PeriodList>> {
    auth.require(Permission::ReadPeriods)?;
    let q = query.into_inner();
    let query = PeriodQuery {
        year: q.year,
        quarter: q.quarter,
        entity_code: q.entity_code,
    };
    let items = periods::list(&state.pool, &auth, query).await?;
    Ok(web::Json(PeriodList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// A reopening's reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    /// Why the quarter is reopened: required, at most 1,000 characters.
    pub reason: Option<String>,
}

async fn act(
    state: &AppState,
    auth: &Authenticated,
    path: (String, i32, i64),
    action: PeriodAction,
    reason: Option<String>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ManagePeriods)?;
    let (entity, year, quarter) = path;
    // A code that is no entity's is a quarter that does not exist.
    let entity = EntityCode::parse(&entity).map_err(|_| ApiError::NotFound)?;
    let view =
        periods::transition(&state.pool, auth, entity, year, quarter, action, reason).await?;
    Ok(HttpResponse::Ok().json(PeriodOut::from(view)))
}

/// The entity admin validates its entity's quarter (`open` or `reopened`
/// → `submitted`). Another entity's quarter reads as missing.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(("entity_code" = String, Path), ("year" = i32, Path), ("quarter" = i64, Path)),
    responses(
        (status = 200, body = PeriodOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The quarter's status does not admit it", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/periods/{entity_code}/{year}/{quarter}/submit")]
pub async fn submit(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, i32, i64)>,
) -> ApiResult<HttpResponse> {
    act(&state, &auth, path.into_inner(), PeriodAction::Submit, None).await
}

/// The national admin closes one entity's quarter (from `open`,
/// `submitted` or `reopened`): from then on records dated in it are
/// neither created nor changed.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(("entity_code" = String, Path), ("year" = i32, Path), ("quarter" = i64, Path)),
    responses(
        (status = 200, body = PeriodOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/periods/{entity_code}/{year}/{quarter}/close")]
pub async fn close(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, i32, i64)>,
) -> ApiResult<HttpResponse> {
    act(&state, &auth, path.into_inner(), PeriodAction::Close, None).await
}

/// The national admin reopens a closed quarter, with a written reason
/// (`{"reason": "…"}`, required, at most 1,000 characters).
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(("entity_code" = String, Path), ("year" = i32, Path), ("quarter" = i64, Path)),
    request_body = ReopenBody,
    responses(
        (status = 200, body = PeriodOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or too long reason", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/periods/{entity_code}/{year}/{quarter}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, i32, i64)>,
    body: web::Json<ReopenBody>,
) -> ApiResult<HttpResponse> {
    let reason = body.into_inner().reason;
    act(
        &state,
        &auth,
        path.into_inner(),
        PeriodAction::Reopen,
        reason,
    )
    .await
}

/// What a national close did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NationalCloseOut {
    pub year: i32,
    pub quarter: u8,
    /// The entities this close closed.
    pub closed: Vec<String>,
    /// The entities that were already closed.
    pub already_closed: Vec<String>,
}

impl From<NationalClose> for NationalCloseOut {
    fn from(c: NationalClose) -> NationalCloseOut {
        NationalCloseOut {
            year: c.year,
            quarter: c.quarter,
            closed: c.closed,
            already_closed: c.already_closed,
        }
    }
}

/// The national admin closes a quarter for every entity at once (each one
/// audited); 409 when every entity was already closed.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    params(("year" = i32, Path), ("quarter" = i64, Path)),
    responses(
        (status = 200, body = NationalCloseOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed everywhere", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/periods/{year}/{quarter}/close")]
pub async fn close_all(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(i32, i64)>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ManagePeriods)?;
    let (year, quarter) = path.into_inner();
    let done = periods::close_all(&state.pool, &auth, year, quarter).await?;
    Ok(HttpResponse::Ok().json(NationalCloseOut::from(done)))
}
