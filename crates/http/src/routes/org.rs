//! Entities and institutions (organization administration).

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::{EntityCode, Permission, Scope};
use sintra_persistence::audit::{self, AuditAction, AuditEntry};
use sintra_persistence::org::{
    self, Institution, InstitutionChanges, InstitutionFilter, NewInstitution,
};
use sintra_persistence::{catalogs, db, StoreError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{etag, if_match, Page, PageParams};
use crate::state::AppState;
use sintra_domain::validation::FieldCode;

/// An entidad federativa ('01'..'32') or the federal level ('00').
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EntityOut {
    pub code: String,
    pub name: String,
    pub abbreviation: String,
    /// The two-letter key CURP uses for people born there.
    pub curp_key: String,
    /// Population (Censo 2020), for rates per 100,000 inhabitants.
    pub population: i64,
}

/// The 32 entidades federativas and the federal level.
#[utoipa::path(
    tag = "organization",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<EntityOut>), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/entities")]
pub async fn list_entities(
    state: web::Data<AppState>,
    _auth: Authenticated,
) -> ApiResult<web::Json<Vec<EntityOut>>> {
    let mut conn = db::conn(&state.pool).await?;
    let rows = org::list_entities(&mut conn).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|e| EntityOut {
                code: e.code,
                name: e.name,
                abbreviation: e.abbreviation,
                curp_key: e.curp_key,
                population: e.population,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstitutionOut {
    pub id: Uuid,
    pub version: i32,
    pub entity_code: String,
    pub name: String,
    /// Code of the `institution_type` catalog.
    pub institution_type: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl From<Institution> for InstitutionOut {
    fn from(i: Institution) -> Self {
        InstitutionOut {
            id: i.id,
            version: i.version,
            entity_code: i.entity_code,
            name: i.name,
            institution_type: i.institution_type,
            active: i.active,
            created_at: i.created_at,
            created_by: i.created_by,
            updated_at: i.updated_at,
            updated_by: i.updated_by,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InstitutionQuery {
    pub entity_code: Option<String>,
    pub institution_type: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Institutions in the caller's scope (all for national roles, the
/// caller's entity for entity roles, its own for operators).
#[utoipa::path(
    tag = "organization",
    security(("bearer" = [])),
    params(InstitutionQuery),
    responses((status = 200, body = Page<InstitutionOut>), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/institutions")]
pub async fn list_institutions(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<InstitutionQuery>,
) -> ApiResult<web::Json<Page<InstitutionOut>>> {
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = InstitutionFilter {
        entity_code: q.entity_code,
        institution_type: q.institution_type,
        active: q.active,
        after_id: page.after()?,
    };
    let mut conn = db::conn(&state.pool).await?;
    let rows =
        org::list_institutions(&mut conn, &directory_scope(&auth), &filter, limit + 1).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |i| i.id,
        InstitutionOut::from,
    )))
}

/// Institutions are a directory: auditors and national analysts see the
/// whole country's, everyone else their usual scope.
fn directory_scope(auth: &Authenticated) -> Scope {
    if auth.actor.can(Permission::ReadAllEntities) || auth.actor.entity_code.is_federal() {
        Scope::National
    } else {
        auth.actor.scope()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstitutionIn {
    /// '00'..'32'. An entity admin may only create institutions of its entity.
    pub entity_code: String,
    /// 2 to 300 characters, unique within the entity.
    pub name: String,
    /// Code of the `institution_type` catalog.
    pub institution_type: String,
}

async fn check_institution_type(
    conn: &mut diesel_async::AsyncPgConnection,
    code: &str,
) -> ApiResult<()> {
    match catalogs::code_state(conn, "institution_type", code).await? {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::invalid(
            "institution_type",
            FieldCode::InactiveCode,
            "El tipo de institución está dado de baja en el catálogo.",
            "The institution type is deactivated in the catalog.",
        )),
        None => Err(ApiError::invalid(
            "institution_type",
            FieldCode::UnknownCode,
            "El tipo de institución no existe en el catálogo.",
            "The institution type does not exist in the catalog.",
        )),
    }
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    let n = name.chars().count();
    if !(2..=300).contains(&n) {
        return Err(ApiError::invalid(
            "name",
            FieldCode::TooLong,
            "El nombre debe tener entre 2 y 300 caracteres.",
            "The name must have between 2 and 300 characters.",
        ));
    }
    Ok(name.to_string())
}

/// Register an institution (alta).
#[utoipa::path(
    tag = "organization",
    security(("bearer" = [])),
    request_body = NewInstitutionIn,
    responses(
        (status = 201, body = InstitutionOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/institutions")]
pub async fn create_institution(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<NewInstitutionIn>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    // A code that is no entity's is only the national level's to hear
    // about (422 below); anyone else is refused as for another entity.
    let covered = match EntityCode::parse(&body.entity_code) {
        Ok(code) => auth.actor.scope().covers_entity(code),
        Err(_) => auth.actor.scope() == Scope::National,
    };
    if !covered {
        return Err(ApiError::forbidden_because(
            "Solo puede registrar instituciones de su propia entidad.",
            "You may only register institutions of your own entity.",
        ));
    }
    let name = check_name(&body.name)?;
    let mut conn = db::conn(&state.pool).await?;
    if !org::entity_exists(&mut conn, &body.entity_code).await? {
        return Err(ApiError::invalid(
            "entity_code",
            FieldCode::UnknownCode,
            "La entidad no existe.",
            "The entity does not exist.",
        ));
    }
    check_institution_type(&mut conn, &body.institution_type).await?;
    let new = NewInstitution {
        id: Uuid::now_v7(),
        entity_code: body.entity_code,
        name,
        institution_type: body.institution_type,
        created_by: Some(auth.actor.user_id),
        updated_by: Some(auth.actor.user_id),
    };
    let ctx = auth.audit_context();
    let created = {
        use diesel_async::AsyncConnection;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let created = org::insert_institution(conn, &new).await?;
            let entry = AuditEntry::modification(&ctx, AuditAction::Create, "institution")
                .resource(created.id)
                .changes(serde_json::json!({
                    "entity_code": {"before": null, "after": created.entity_code},
                    "name": {"before": null, "after": created.name},
                    "institution_type": {"before": null, "after": created.institution_type},
                }));
            audit::append(conn, &[entry]).await?;
            Ok(created)
        })
        .await?
    };
    Ok(HttpResponse::Created()
        .insert_header(etag(created.version))
        .json(InstitutionOut::from(created)))
}

/// One institution in the caller's scope.
#[utoipa::path(
    tag = "organization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InstitutionOut), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/institutions/{id}")]
pub async fn get_institution(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    let i = org::get_institution(&mut conn, &directory_scope(&auth), id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(i.version))
        .json(InstitutionOut::from(i)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionPatch {
    pub name: Option<String>,
    pub institution_type: Option<String>,
    /// false deactivates (baja), true reactivates. Institutions are never deleted.
    pub active: Option<bool>,
}

/// Update an institution (rename, retype, deactivate or reactivate).
/// Requires `If-Match` with the current version.
#[utoipa::path(
    tag = "organization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The record's current version, e.g. \"3\"")),
    request_body = InstitutionPatch,
    responses(
        (status = 200, body = InstitutionOut),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/institutions/{id}")]
pub async fn update_institution(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<InstitutionPatch>,
) -> ApiResult<HttpResponse> {
    let version = if_match(&req)?;
    let body = body.into_inner();
    let changes = InstitutionChanges {
        name: body.name.as_deref().map(check_name).transpose()?,
        institution_type: body.institution_type,
        active: body.active,
    };
    let mut conn = db::conn(&state.pool).await?;
    if let Some(t) = &changes.institution_type {
        check_institution_type(&mut conn, t).await?;
    }
    let scope = auth.actor.scope();
    let ctx = auth.audit_context();
    let by = auth.actor.user_id;
    let id = id.into_inner();
    let after = {
        use diesel_async::AsyncConnection;
        conn.transaction::<_, StoreError, _>(async |conn| {
            let (before, after) =
                org::update_institution(conn, &scope, id, version, &changes, by).await?;
            let mut diff = serde_json::Map::new();
            for (field, b, a) in [
                (
                    "name",
                    serde_json::json!(before.name),
                    serde_json::json!(after.name),
                ),
                (
                    "institution_type",
                    serde_json::json!(before.institution_type),
                    serde_json::json!(after.institution_type),
                ),
                (
                    "active",
                    serde_json::json!(before.active),
                    serde_json::json!(after.active),
                ),
            ] {
                if b != a {
                    diff.insert(field.into(), serde_json::json!({"before": b, "after": a}));
                }
            }
            let entry = AuditEntry::modification(&ctx, AuditAction::Update, "institution")
                .resource(id)
                .changes(serde_json::Value::Object(diff));
            audit::append(conn, &[entry]).await?;
            Ok(after)
        })
        .await?
    };
    Ok(HttpResponse::Ok()
        .insert_header(etag(after.version))
        .json(InstitutionOut::from(after)))
}
