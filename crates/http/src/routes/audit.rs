//! Reading and verifying the audit log (auditors and the national admin).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::Scope;
use sintra_domain::audit_checkpoint::Checkpoint;
use sintra_domain::error_code::ErrorCode;
use sintra_persistence::audit::{self, AuditFilter, AuditRow};
use sintra_persistence::db;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageParams};
use crate::state::AppState;
use sintra_domain::validation::FieldCode;

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
        Scope::Institution(_) => Some(auth.actor.entity_code),
    };
    let mut conn = db::conn(&state.pool).await?;
    let rows = audit::list(&mut conn, &filter, entity_scope, limit + 1).await?;
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
    /// predecessor, every row old enough to be chained is, and (when a
    /// checkpoint was given) the chain still passes through it.
    pub valid: bool,
    pub rows_checked: i64,
    /// Rows committed while an older transaction was still open: the sealer
    /// chains them as soon as it ends. Not an error.
    pub pending_rows: i64,
    /// The position after which rows were recomputed: 0 for the whole log
    /// (the newest archived position once older months are archived), the
    /// checkpoint's position when one was given.
    pub checked_from_position: i64,
    /// The first row that was altered, inserted or follows a removed row.
    pub first_broken_id: Option<i64>,
    /// `content` (the row's fields changed), `link` (its predecessor changed
    /// or vanished), `missing` (the last chained rows vanished),
    /// `unchained` (a row the sealer should have chained and did not) or
    /// `checkpoint` (the log no longer extends the given checkpoint: it was
    /// rewritten, even if every hash was recomputed).
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// A checkpoint token from `/audit/checkpoints` or `sintra audit
    /// checkpoint`, kept outside the database. Given, verify proves the log
    /// extends it and recomputes only the rows appended after it.
    pub checkpoint: Option<String>,
}

/// Chain what is committed, recompute the audit log's hash chain (the whole
/// log, or what follows a checkpoint) and name the first broken row.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(VerifyQuery),
    responses(
        (status = 200, body = ChainVerification),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/audit/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    _auth: Authenticated,
    query: web::Query<VerifyQuery>,
) -> ApiResult<web::Json<ChainVerification>> {
    let (report, from) = match &query.checkpoint {
        None => sintra_services::audit::verify(&state.pool).await?,
        Some(token) => {
            let checkpoint = Checkpoint::parse(token).map_err(|_| {
                ApiError::malformed(
                    ErrorCode::InvalidCheckpoint,
                    "El punto de control no tiene la forma posición.hash.firmado_en.firma.",
                    "The checkpoint is not of the form position.hash.signed_at.signature.",
                )
            })?;
            checkpoint
                .verify(&state.config.audit_signing_key.verifying_key())
                .map_err(|_| {
                    ApiError::invalid(
                        "checkpoint",
                        FieldCode::CheckpointSignature,
                        "La firma del punto de control no corresponde a la llave de este servidor.",
                        "The checkpoint's signature does not match this server's key.",
                    )
                })?;
            (
                sintra_services::audit::verify_since(&state.pool, &checkpoint).await?,
                checkpoint.position,
            )
        }
    };
    Ok(web::Json(ChainVerification {
        valid: report.is_valid(),
        rows_checked: report.rows_checked,
        pending_rows: report.pending_rows,
        checked_from_position: from,
        first_broken_id: report.first_broken_id,
        reason: report.reason,
    }))
}

/// A signed checkpoint of the audit chain: keep it outside the database
/// (another system, a printed record, a notary) and give its `token` to
/// `/audit/verify?checkpoint=` later.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointOut {
    /// Rows chained up to this checkpoint.
    pub position: i64,
    /// The audit event at that position.
    pub event_id: Option<i64>,
    /// The chain's hash at that position (SHA-256, hexadecimal).
    pub hash: String,
    pub signed_at: DateTime<Utc>,
    /// Ed25519 over `sintra-audit-checkpoint/v1\n{position}\n{hash}\n{signed_at as Unix seconds}` (hexadecimal).
    pub signature: String,
    /// The key that verifies it (Ed25519, hexadecimal).
    pub public_key: String,
    /// `position.hash.signed_at.signature`: what verify takes back.
    pub token: String,
}

impl CheckpointOut {
    pub fn new(
        checkpoint: &Checkpoint,
        event_id: Option<i64>,
        key: &ed25519_dalek::SigningKey,
    ) -> Self {
        CheckpointOut {
            position: checkpoint.position,
            event_id,
            hash: checkpoint.hash.clone(),
            signed_at: checkpoint.signed_at,
            signature: hex::encode(checkpoint.signature),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            token: checkpoint.token(),
        }
    }
}

/// Chain what is committed and sign the chain's head with the server's
/// audit key (`SINTRA_AUDIT_SIGNING_KEY`).
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CheckpointOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/audit/checkpoints")]
pub async fn signed_checkpoint(
    state: web::Data<AppState>,
    _auth: Authenticated,
) -> ApiResult<web::Json<CheckpointOut>> {
    let key = &state.config.audit_signing_key;
    let (signed, head) = sintra_services::audit::checkpoint(&state.pool, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(CheckpointOut::new(&signed, head.event_id, key)))
}
