//! User administration (altas, bajas, actualizaciones) and service accounts
//! for state systems.
//!
//! An actor manages a user only when the user lies in its scope *and* it
//! could grant the user's role: so an entity admin never touches a national
//! admin or an auditor, nor a user of another entity, and nobody changes
//! their own role.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use sintra_domain::access::{AccountKind, Role, Scope};
use sintra_persistence::audit::{self, AuditAction, AuditEntry};
use sintra_persistence::users::{self, NewUser, User, UserChanges, UserFilter};
use sintra_persistence::{db, tokens, StoreError};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{password, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{etag, if_match, Page, PageParams};
use crate::state::AppState;
use sintra_domain::validation::FieldCode;
use sintra_services::users::{
    apply_change, insert_account, institution_in_scope, manages, may_give, username_taken,
    validated_user, AccountChange,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub version: i32,
    /// `person` or `service`.
    pub kind: String,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub role: String,
    pub institution_id: Uuid,
    pub entity_code: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        let r = u.row;
        UserOut {
            id: r.id,
            version: r.version,
            kind: r.kind.as_str().to_string(),
            username: r.username,
            full_name: r.full_name,
            email: r.email,
            role: r.role.as_str().to_string(),
            institution_id: r.institution_id,
            entity_code: u.entity_code,
            active: r.active,
            created_at: r.created_at,
            created_by: r.created_by,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        }
    }
}

/// A created account with its one-time secret, shown only in this answer.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserWithSecret {
    pub user: UserOut,
    /// The initial (or reset) password or client secret. Shown once; store
    /// it safely. Absent when the caller chose the password.
    pub one_time_secret: Option<String>,
}

/// Never the secret: a log of the answer must not carry it.
impl std::fmt::Debug for UserWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithSecret")
            .field("user", &self.user)
            .field(
                "one_time_secret",
                &self.one_time_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
    /// Part of the username.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn may_manage(auth: &Authenticated, target: &User) -> ApiResult<()> {
    if manages(auth, target) {
        Ok(())
    } else {
        Err(ApiError::forbidden_because(
            "No puede administrar usuarios con ese rol.",
            "You may not manage users with that role.",
        ))
    }
}

fn parse_role(role: &str) -> ApiResult<Role> {
    role.parse::<Role>().map_err(|_| {
        ApiError::invalid(
            "role",
            FieldCode::UnknownCode,
            "El rol no existe: national_admin, entity_admin, operator, analyst o auditor.",
            "Unknown role: national_admin, entity_admin, operator, analyst or auditor.",
        )
    })
}

fn check_text(field: &'static str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            FieldCode::TooLong,
            format!("El campo «{field}» es obligatorio y admite hasta {max} caracteres."),
            format!("The field «{field}» is required and takes up to {max} characters."),
        ));
    }
    Ok(v.to_string())
}

fn check_username(username: &str) -> ApiResult<String> {
    let u = username.trim().to_lowercase();
    let ok = (3..=64).contains(&u.len())
        && u.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(ApiError::invalid(
            "username",
            FieldCode::InvalidUsername,
            "El nombre de usuario admite de 3 a 64 letras minúsculas, dígitos, punto, guion y guion bajo.",
            "The username takes 3 to 64 lower-case letters, digits, dot, hyphen and underscore.",
        ));
    }
    Ok(u)
}

async fn list_accounts(
    state: &AppState,
    auth: &Authenticated,
    mut filter: UserFilter,
    page: PageParams,
) -> ApiResult<Page<UserOut>> {
    let limit = page.limit()?;
    filter.after_id = page.after()?;
    let mut conn = db::conn(&state.pool).await?;
    let rows = users::list(&mut conn, &auth.actor.scope(), &filter, limit + 1).await?;
    let entry = AuditEntry::access(&auth.audit_context(), AuditAction::List, "user")
        .details(serde_json::json!({ "returned": rows.len().min(limit as usize) }));
    audit::append(&mut conn, &[entry]).await?;
    Ok(Page::from_rows(rows, limit, |u| u.row.id, UserOut::from))
}

/// Users in the caller's scope (national admins and auditors: all; entity
/// admins: their entity's), filtered.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(UserQuery),
    responses((status = 200, body = Page<UserOut>), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<UserQuery>,
) -> ApiResult<web::Json<Page<UserOut>>> {
    let q = query.into_inner();
    let filter = UserFilter {
        kind: Some(AccountKind::Person),
        institution_id: q.institution_id,
        entity_code: q.entity_code,
        role: q.role,
        active: q.active,
        q: q.q,
        after_id: None,
    };
    Ok(web::Json(
        list_accounts(
            &state,
            &auth,
            filter,
            PageParams {
                limit: q.limit,
                cursor: q.cursor,
            },
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    /// national_admin, entity_admin, operator, analyst or auditor (an
    /// entity admin may grant entity_admin, operator and analyst only).
    pub role: String,
    pub institution_id: Uuid,
    /// At least 12 characters. Omit it to get a one-time password.
    pub password: Option<String>,
}

async fn create_account(
    state: &AppState,
    auth: &Authenticated,
    new: NewUser,
    secret: String,
    return_secret: bool,
) -> ApiResult<UserWithSecret> {
    let mut new = new;
    new.password_hash = password::hash(secret.clone()).await?;
    let ctx = auth.audit_context();
    let mut conn = db::conn(&state.pool).await?;
    let created = conn
        .transaction::<_, StoreError, _>(async |conn| {
            let row = insert_account(conn, &ctx, &new).await?;
            users::get(conn, &Scope::National, row.id).await
        })
        .await
        .map_err(username_taken)?;
    Ok(UserWithSecret {
        user: created.into(),
        one_time_secret: return_secret.then_some(secret),
    })
}

/// Create a user (alta). Without `password`, a one-time password is
/// generated and returned once.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = NewUserIn,
    responses(
        (status = 201, body = UserWithSecret),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<NewUserIn>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let role = parse_role(&body.role)?;
    if !may_give(&auth, role) {
        return Err(ApiError::forbidden_because(
            "No puede otorgar ese rol.",
            "You may not grant that role.",
        ));
    }
    let data = validated_user(serde_json::json!({
        "username": body.username,
        "full_name": body.full_name,
        "email": body.email,
        "role": role.as_str(),
        "institution_id": body.institution_id,
    }))?;
    let text = |k: &str| {
        data.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let (username, full_name, email) = (
        text("username").unwrap_or_default(),
        text("full_name").unwrap_or_default(),
        text("email"),
    );
    let (secret, generated) = match body.password {
        Some(p) => {
            password::check_strength(&p)?;
            (p, false)
        }
        None => (password::generate_secret(), true),
    };
    let mut conn = db::conn(&state.pool).await?;
    let inst = institution_in_scope(&mut conn, &auth.actor.scope(), body.institution_id).await?;
    drop(conn);
    let new = NewUser {
        id: Uuid::now_v7(),
        institution_id: inst.id,
        kind: AccountKind::Person,
        username,
        full_name,
        email,
        role,
        password_hash: String::new(),
        created_by: Some(auth.actor.user_id),
        updated_by: Some(auth.actor.user_id),
        // Chosen or generated by an administrator: it only logs in to be
        // changed by its owner.
        one_time_password_expires_at: Some(state.config.one_time_password_expiry()),
    };
    let out = create_account(&state, &auth, new, secret, generated).await?;
    Ok(HttpResponse::Created()
        .insert_header(etag(out.user.version))
        .json(out))
}

/// One user in the caller's scope. Reading it is recorded in the audit log.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let user = users::get(&mut conn, &auth.actor.scope(), id).await?;
    audit::append(
        &mut conn,
        &[AuditEntry::access(&auth.audit_context(), AuditAction::Read, "user").resource(id)],
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(user.row.version))
        .json(UserOut::from(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    pub institution_id: Option<Uuid>,
}

/// Applies a change to a user the actor may manage, audited in the same
/// transaction.
async fn change_user(
    state: &AppState,
    auth: &Authenticated,
    change: AccountChange,
) -> ApiResult<User> {
    let mut conn = db::conn(&state.pool).await?;
    let target = users::get(&mut conn, &auth.actor.scope(), change.id).await?;
    may_manage(auth, &target)?;
    let after = conn
        .transaction::<_, StoreError, _>(async |conn| apply_change(conn, auth, &change).await)
        .await?;
    Ok(after)
}

/// Update a user's name, email, role or institution. Requires `If-Match`.
/// Nobody changes their own role.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The record's current version")),
    request_body = UserPatch,
    responses(
        (status = 200, body = UserOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    let version = if_match(&req)?;
    let id = id.into_inner();
    let body = body.into_inner();
    // The user as it would stand, validated whole by the user form spec.
    let current = {
        let mut conn = db::conn(&state.pool).await?;
        users::get(&mut conn, &auth.actor.scope(), id).await?
    };
    if current.row.kind != AccountKind::Person {
        // Service accounts are administered under /service-accounts.
        return Err(ApiError::NotFound);
    }
    let data = validated_user(serde_json::json!({
        "username": current.row.username,
        "full_name": body.full_name.clone().unwrap_or(current.row.full_name.clone()),
        "email": body.email.clone().or(current.row.email.clone()),
        "role": body.role.clone().unwrap_or(current.row.role.as_str().to_string()),
        "institution_id": body.institution_id.unwrap_or(current.row.institution_id),
    }))?;
    let text = |k: &str| {
        data.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let mut changes = UserChanges {
        full_name: body.full_name.as_ref().and(text("full_name")),
        email: body.email.as_ref().map(|_| text("email")),
        ..Default::default()
    };
    if let Some(role) = &body.role {
        let role = parse_role(role)?;
        if id == auth.actor.user_id || !may_give(&auth, role) {
            return Err(ApiError::forbidden_because(
                "No puede otorgar ese rol ni cambiar el suyo.",
                "You may not grant that role nor change your own.",
            ));
        }
        changes.role = Some(role.as_str().into());
    }
    if let Some(inst) = body.institution_id {
        let mut conn = db::conn(&state.pool).await?;
        institution_in_scope(&mut conn, &auth.actor.scope(), inst).await?;
        changes.institution_id = Some(inst);
    }
    let user = change_user(
        &state,
        &auth,
        AccountChange {
            id,
            expected_version: Some(version),
            changes,
            action: AuditAction::Update,
            revoke: false,
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(user.row.version))
        .json(UserOut::from(user)))
}

/// Deactivate a user (baja): their tokens stop working at once. Users are
/// never deleted.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[post("/users/{id}/deactivate")]
pub async fn deactivate_user(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    if id == auth.actor.user_id {
        return Err(ApiError::forbidden_because(
            "No puede darse de baja a sí mismo.",
            "You may not deactivate yourself.",
        ));
    }
    let changes = UserChanges {
        active: Some(false),
        ..Default::default()
    };
    let change = AccountChange {
        id,
        expected_version: None,
        changes,
        action: AuditAction::Deactivate,
        revoke: true,
    };
    let user = change_user(&state, &auth, change).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(user.row.version))
        .json(UserOut::from(user)))
}

/// Reactivate a deactivated user.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserOut), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[post("/users/{id}/reactivate")]
pub async fn reactivate_user(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let changes = UserChanges {
        active: Some(true),
        ..Default::default()
    };
    let change = AccountChange {
        id: id.into_inner(),
        expected_version: None,
        changes,
        action: AuditAction::Reactivate,
        revoke: false,
    };
    let user = change_user(&state, &auth, change).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(user.row.version))
        .json(UserOut::from(user)))
}

/// Reset a user's password to a new one-time password (returned once);
/// the user's tokens are revoked.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserWithSecret), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[post("/users/{id}/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    // A reset revokes every session of the account: one's own would lock
    // the caller out mid-request (and a one-time password is for someone
    // else to hand over). One's own password changes with its current one.
    if id == auth.actor.user_id {
        return Err(ApiError::forbidden_because(
            "No puede restablecer su propia contraseña: cámbiela con POST /api/v1/auth/password.",
            "You may not reset your own password: change it with POST /api/v1/auth/password.",
        ));
    }
    let secret = password::generate_secret();
    let changes = UserChanges {
        password_hash: Some(password::hash(secret.clone()).await?),
        one_time_password_expires_at: Some(Some(state.config.one_time_password_expiry())),
        ..Default::default()
    };
    let change = AccountChange {
        id,
        expected_version: None,
        changes,
        action: AuditAction::ResetPassword,
        revoke: true,
    };
    let user = change_user(&state, &auth, change).await?;
    Ok(HttpResponse::Ok().json(UserWithSecret {
        user: user.into(),
        one_time_secret: Some(secret),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountQuery {
    pub institution_id: Option<Uuid>,
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Service accounts (state systems) in the caller's scope.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(ServiceAccountQuery),
    responses((status = 200, body = Page<UserOut>), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/service-accounts")]
pub async fn list_service_accounts(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ServiceAccountQuery>,
) -> ApiResult<web::Json<Page<UserOut>>> {
    let q = query.into_inner();
    let filter = UserFilter {
        kind: Some(AccountKind::Service),
        institution_id: q.institution_id,
        active: q.active,
        ..Default::default()
    };
    Ok(web::Json(
        list_accounts(
            &state,
            &auth,
            filter,
            PageParams {
                limit: q.limit,
                cursor: q.cursor,
            },
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccountIn {
    /// The `client_id` the system will use.
    pub client_id: String,
    /// A description: which system this is.
    pub name: String,
    pub institution_id: Uuid,
}

/// Create a service account for a state system; its client secret is
/// returned once. It reads and writes its institution's records.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = NewServiceAccountIn,
    responses(
        (status = 201, body = UserWithSecret),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/service-accounts")]
pub async fn create_service_account(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<NewServiceAccountIn>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let username = check_username(&body.client_id).map_err(|_| {
        ApiError::invalid(
            "client_id",
            FieldCode::InvalidUsername,
            "El client_id admite de 3 a 64 letras minúsculas, dígitos, punto, guion y guion bajo.",
            "The client_id takes 3 to 64 lower-case letters, digits, dot, hyphen and underscore.",
        )
    })?;
    let name = check_text("name", &body.name, 200)?;
    let mut conn = db::conn(&state.pool).await?;
    let inst = institution_in_scope(&mut conn, &auth.actor.scope(), body.institution_id).await?;
    drop(conn);
    let new = NewUser {
        id: Uuid::now_v7(),
        institution_id: inst.id,
        kind: AccountKind::Service,
        username,
        full_name: name,
        email: None,
        role: Role::System,
        password_hash: String::new(),
        created_by: Some(auth.actor.user_id),
        updated_by: Some(auth.actor.user_id),
        // A system's secret, rotated by its administrators, not by itself.
        one_time_password_expires_at: None,
    };
    let secret = format!(
        "{}{}",
        password::generate_secret(),
        password::generate_secret()
    );
    let out = create_account(&state, &auth, new, secret, true).await?;
    Ok(HttpResponse::Created().json(out))
}

/// Replace a service account's client secret (returned once); its tokens
/// are revoked.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserWithSecret), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[post("/service-accounts/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let target = users::get(&mut conn, &auth.actor.scope(), id).await?;
    if target.row.kind != AccountKind::Service {
        return Err(ApiError::NotFound);
    }
    drop(conn);
    let secret = format!(
        "{}{}",
        password::generate_secret(),
        password::generate_secret()
    );
    let changes = UserChanges {
        password_hash: Some(password::hash(secret.clone()).await?),
        ..Default::default()
    };
    let user = change_user_unchecked_role(&state, &auth, id, changes).await?;
    Ok(HttpResponse::Ok().json(UserWithSecret {
        user: user.into(),
        one_time_secret: Some(secret),
    }))
}

/// Service accounts have the `system` role, which no one "grants"; their
/// managers are whoever covers their institution's entity.
async fn change_user_unchecked_role(
    state: &AppState,
    auth: &Authenticated,
    id: Uuid,
    changes: UserChanges,
) -> ApiResult<User> {
    let scope = auth.actor.scope();
    let ctx = auth.audit_context();
    let by = auth.actor.user_id;
    let mut conn = db::conn(&state.pool).await?;
    Ok(conn
        .transaction::<_, StoreError, _>(async |conn| {
            let (_, after) = users::update(conn, &scope, id, None, &changes, by).await?;
            tokens::revoke_all_for_user(conn, id).await?;
            let entry =
                AuditEntry::modification(&ctx, AuditAction::RotateSecret, "service_account")
                    .resource(id);
            audit::append(conn, &[entry]).await?;
            Ok(after)
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_secret_never_prints() {
        let out = UserWithSecret {
            user: UserOut {
                id: Uuid::nil(),
                version: 1,
                kind: "service".into(),
                username: "sistema.nl".into(),
                full_name: "Sistema".into(),
                email: None,
                role: "system".into(),
                institution_id: Uuid::nil(),
                entity_code: "19".into(),
                active: true,
                created_at: Utc::now(),
                created_by: None,
                updated_at: Utc::now(),
                updated_by: None,
            },
            one_time_secret: Some("secreto-de-un-solo-uso".into()),
        };
        let printed = format!("{out:?}");
        assert!(!printed.contains("secreto-de-un-solo-uso"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }
}
