//! Victims and possible victims (Atención a Víctimas y Posibles Víctimas),
//! their attentions, and duplicate warnings. Creating or updating a person
//! answers `{data, warnings}`: the record and its possible duplicates; add
//! `?on_duplicate=reject` to refuse the write (409) when an exact or
//! probable duplicate exists.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sintra_domain::forms::FormKey;
use sintra_persistence::audit::{self, AuditEntry};
use sintra_persistence::duplicates::{self as store, Pair};
use sintra_persistence::{db, records as rows};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::duplicates;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{Page, PageParams};
use crate::records;
use crate::state::AppState;

crate::record_routes!(victims, sintra_domain::forms::FormKey::Victim, "victims", "/victims", "/victims/{id}", "/victims/by-folio/{external_folio}", "victims and possible victims (writes answer {data, warnings} with possible duplicates; `?on_duplicate=reject` refuses exact or probable ones with 409)");
crate::record_routes!(
    attentions,
    sintra_domain::forms::FormKey::Attention,
    "victims",
    "/attentions",
    "/attentions/{id}",
    "/attentions/by-folio/{external_folio}",
    "attentions given to victims (services and referrals)"
);

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
    let mut conn = db::conn(&state.pool).await?;
    let prepared = records::prepare(
        &mut conn,
        &auth,
        FormKey::Victim.spec(),
        body.into_inner(),
        None,
    )
    .await?;
    let person = duplicates::Person::of(&prepared.data);
    let warnings = duplicates::find(&mut conn, &auth, None, &person).await?;
    let entry = AuditEntry::access(&auth.audit_context(), "duplicate_check", "victim")
        .details(json!({"warnings": warnings.len()}));
    audit::append(&mut conn, &[entry]).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"warnings": warnings.into_iter().map(|w| w.json).collect::<Vec<_>>()})))
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

async fn pair_out(
    conn: &mut diesel_async::AsyncPgConnection,
    auth: &Authenticated,
    p: Pair,
) -> ApiResult<PairOut> {
    let scope = auth.actor.scope();
    let a = rows::get(conn, &scope, duplicates::PERSON_FORM, p.person_a).await?;
    let b = rows::get(conn, &scope, duplicates::PERSON_FORM, p.person_b).await?;
    Ok(PairOut {
        id: p.id,
        level: p.level,
        score: p.score,
        status: p.status,
        person_a: PairPerson {
            id: a.id,
            entity_code: a.entity_code,
            institution_id: a.institution_id,
        },
        person_b: PairPerson {
            id: b.id,
            entity_code: b.entity_code,
            institution_id: b.institution_id,
        },
        created_at: p.created_at,
        decided_by: p.decided_by,
        decided_at: p.decided_at,
    })
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
    let status = q.status.unwrap_or_else(|| "open".into());
    if !["open", "dismissed", "confirmed"].contains(&status.as_str()) {
        return Err(ApiError::invalid(
            "status",
            "unknown_code",
            "status debe ser open, dismissed o confirmed.",
            "status must be open, dismissed or confirmed.",
        ));
    }
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let mut conn = db::conn(&state.pool).await?;
    let pairs = store::list_pairs(
        &mut conn,
        &auth.actor.scope(),
        Some(&status),
        page.after()?,
        limit + 1,
    )
    .await?;
    let more = pairs.len() as i64 > limit;
    let mut items = vec![];
    for p in pairs.into_iter().take(limit as usize) {
        items.push(pair_out(&mut conn, &auth, p).await?);
    }
    let next_cursor = if more {
        items.last().map(|p| crate::pagination::cursor_for(p.id))
    } else {
        None
    };
    Ok(web::Json(Page { items, next_cursor }))
}

async fn decide(
    state: &AppState,
    auth: &Authenticated,
    id: Uuid,
    status: &str,
) -> ApiResult<HttpResponse> {
    use diesel_async::AsyncConnection;
    let mut conn = db::conn(&state.pool).await?;
    let pair = store::get_pair(&mut conn, id).await?;
    // Both people must be the caller's to decide about (404 otherwise).
    pair_out(&mut conn, auth, pair.clone()).await?;
    let ctx = auth.audit_context();
    let by = auth.actor.user_id;
    let status_owned = status.to_string();
    let decided = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let p = store::decide_pair(conn, id, &status_owned, by).await?;
            let entry = AuditEntry::modification(
                &ctx,
                &format!("duplicate_{status_owned}"),
                "duplicate_pair",
            )
            .resource(id)
            .changes(json!({"status": {"before": pair.status, "after": status_owned}}));
            audit::append(conn, &[entry]).await?;
            Ok(p)
        })
        .await?;
    Ok(HttpResponse::Ok().json(pair_out(&mut conn, auth, decided).await?))
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
    decide(&state, &auth, id.into_inner(), "dismissed").await
}

/// Confirm a pair as the same person.
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
    decide(&state, &auth, id.into_inner(), "confirmed").await
}
