//! Reading and verifying the audit log (auditors and the national admin).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::Scope;
use sintra_persistence::audit::{self, AuditFilter, AuditRow};
use sintra_persistence::db;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditActor {
    pub id: Option<Uuid>,
    pub username: Option<String>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
}

/// One row of the audit log. Personal fields' values in `changes` are
/// recorded as `[personal]`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventOut {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// `modification` or `access`.
    pub kind: String,
    pub actor: AuditActor,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// `ok` or `denied`.
    pub outcome: String,
}

impl From<AuditRow> for AuditEventOut {
    fn from(r: AuditRow) -> Self {
        AuditEventOut {
            id: r.id,
            occurred_at: r.occurred_at,
            kind: r.kind,
            actor: AuditActor {
                id: r.actor_id,
                username: r.actor_username,
                institution_id: r.institution_id,
                entity_code: r.entity_code,
            },
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            request_id: r.request_id,
            ip: r.ip,
            changes: r.changes,
            details: r.details,
            outcome: r.outcome,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor_id: Option<Uuid>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    /// e.g. `create`, `update`, `read`, `login`, `login_failed`, `denied`.
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `modification` or `access`.
    pub kind: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive).
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Audit events, newest first, filtered by actor, institution, entity,
/// action, resource and time range. An auditor of a state sees its
/// entity's events only.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEventOut>), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/audit/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEventOut>>> {
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = AuditFilter {
        actor_id: q.actor_id,
        institution_id: q.institution_id,
        entity_code: q.entity_code,
        action: q.action,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        kind: q.kind,
        from: q.from,
        to: q.to,
        before_id: page.after()?,
    };
    let entity_scope = match auth.actor.scope() {
        Scope::National => None,
        Scope::Entity(e) => Some(e),
        Scope::Institution(_) => Some(auth.actor.entity_code.clone()),
    };
    let mut conn = db::conn(&state.pool).await?;
    let rows = audit::list(&mut conn, &filter, entity_scope.as_deref(), limit + 1).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        AuditEventOut::from,
    )))
}

/// The result of recomputing the hash chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainVerification {
    /// True when every chained row's hash matches its content and its
    /// predecessor, and every row old enough to be chained is.
    pub valid: bool,
    pub rows_checked: i64,
    /// Rows committed while an older transaction was still open: the sealer
    /// chains them as soon as it ends. Not an error.
    pub pending_rows: i64,
    /// The first row that was altered, inserted or follows a removed row.
    pub first_broken_id: Option<i64>,
    /// `content` (the row's fields changed), `link` (its predecessor changed
    /// or vanished), `missing` (the last chained rows vanished) or
    /// `unchained` (a row the sealer should have chained and did not).
    pub reason: Option<String>,
}

/// Chain what is committed, recompute the audit log's hash chain and name
/// the first broken row.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, body = ChainVerification), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/audit/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    _auth: Authenticated,
) -> ApiResult<web::Json<ChainVerification>> {
    let report = sintra_services::audit::verify(&state.pool).await?;
    Ok(web::Json(ChainVerification {
        valid: report.first_broken_id.is_none(),
        rows_checked: report.rows_checked,
        pending_rows: report.pending_rows,
        first_broken_id: report.first_broken_id,
        reason: report.reason,
    }))
}
