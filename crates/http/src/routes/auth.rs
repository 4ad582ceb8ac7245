//! The OAuth 2.0 token endpoint (password, client_credentials and
//! refresh_token grants), logout and the caller's own identity.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sintra_domain::access::AccountKind;
use sintra_domain::error_code::ErrorCode;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::tokens::{self, RefreshOutcome};
use sintra_persistence::users::{self, Credentials};
use sintra_persistence::{db, StoreError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{password, Authenticated};
use crate::error::{ApiError, ApiResult};
use crate::extractors::serde_error;
use crate::middleware::RequestMeta;
use crate::state::AppState;
use sintra_domain::validation::FieldCode;

/// A token request, as JSON or `application/x-www-form-urlencoded`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `password`, `client_credentials` or `refresh_token`.
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A service account's username.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    /// Accepted for OAuth compatibility; scopes come from the role.
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires (at most 900).
    pub expires_in: u64,
    /// Single-use token to obtain a new pair.
    pub refresh_token: String,
}

const MAX_CREDENTIAL_LENGTH: usize = 256;

fn parse_token_request(req: &HttpRequest, body: &[u8]) -> ApiResult<TokenRequest> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let parsed = match content_type.as_str() {
        "application/json" => {
            serde_json::from_slice::<TokenRequest>(body).map_err(|e| serde_error(&e))?
        }
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes::<TokenRequest>(body)
            .map_err(|_| {
            ApiError::malformed(
                ErrorCode::MalformedForm,
                "El formulario de la solicitud no es válido.",
                "The request form is not valid.",
            )
        })?,
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    let too_long = [
        &parsed.username,
        &parsed.password,
        &parsed.client_id,
        &parsed.client_secret,
        &parsed.refresh_token,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|s| s.len() > MAX_CREDENTIAL_LENGTH));
    if too_long {
        return Err(ApiError::InvalidGrant);
    }
    Ok(parsed)
}

fn hash_refresh_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Issues an access token (registered by its `jti`) and a refresh token of
/// the given family.
pub async fn issue_tokens(
    state: &AppState,
    user_id: Uuid,
    family_id: Option<Uuid>,
) -> ApiResult<TokenResponse> {
    let now = Utc::now();
    let ttl = state.config.access_token_ttl;
    let expires_at = now + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let jti = Uuid::new_v4();
    let refresh_token = format!(
        "rt_{}{}",
        password::generate_secret(),
        password::generate_secret()
    );
    let refresh_expires = now
        + chrono::Duration::from_std(state.config.refresh_token_ttl).map_err(ApiError::internal)?;
    let mut conn = db::conn(&state.pool).await?;
    tokens::insert_access_token(&mut conn, jti, user_id, expires_at).await?;
    tokens::insert_refresh_token(
        &mut conn,
        user_id,
        family_id.unwrap_or_else(Uuid::new_v4),
        &hash_refresh_token(&refresh_token),
        refresh_expires,
    )
    .await?;
    Ok(TokenResponse {
        access_token: state.jwt.sign(user_id, jti, expires_at),
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs(),
        refresh_token,
    })
}

fn context_for(creds: Option<&Credentials>, meta: &RequestMeta) -> AuditContext {
    AuditContext {
        actor_id: creds.map(|c| c.user_id),
        actor_username: creds.map(|c| c.username.clone()),
        institution_id: creds.map(|c| c.institution_id),
        entity_code: creds.map(|c| c.entity_code.clone()),
        request_id: Some(meta.request_id.clone()),
        ip: meta.ip.clone(),
    }
}

/// Obtain tokens (OAuth 2.0 token endpoint).
///
/// `grant_type=password` with `username` and `password` for people;
/// `client_credentials` with `client_id` and `client_secret` for a state
/// system's service account; `refresh_token` to exchange a refresh token
/// (single use: a reused one revokes its whole chain). A wrong password and
/// an unknown user get the same answer; repeated failures lock the username
/// for a while (429 with `Retry-After`).
#[utoipa::path(
    tag = "auth",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Invalid grant or malformed request", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Unsupported content type", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    meta: RequestMeta,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request = parse_token_request(&req, &body)?;
    let response = match request.grant_type.as_str() {
        "password" => {
            let (Some(u), Some(p)) = (request.username, request.password) else {
                return Err(ApiError::InvalidGrant);
            };
            login(&state, &meta, &u, p, AccountKind::Person).await?
        }
        "client_credentials" => {
            let (Some(u), Some(p)) = (request.client_id, request.client_secret) else {
                return Err(ApiError::InvalidGrant);
            };
            login(&state, &meta, &u, p, AccountKind::Service).await?
        }
        "refresh_token" => {
            let Some(t) = request.refresh_token else {
                return Err(ApiError::InvalidGrant);
            };
            refresh(&state, &meta, &t).await?
        }
        _ => {
            return Err(ApiError::malformed(
                ErrorCode::UnsupportedGrantType,
                "grant_type debe ser password, client_credentials o refresh_token.",
                "grant_type must be password, client_credentials or refresh_token.",
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response))
}

async fn login(
    state: &AppState,
    meta: &RequestMeta,
    username: &str,
    secret: String,
    kind: AccountKind,
) -> ApiResult<TokenResponse> {
    let username = username.trim().to_lowercase();
    let mut conn = db::conn(&state.pool).await?;
    if let Some(until) = tokens::locked_until(&mut conn, &username).await? {
        let wait = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: wait,
        });
    }
    let creds = users::credentials(&mut conn, &username).await?;
    drop(conn);
    let stored = creds.as_ref().map(|c| c.password_hash.clone());
    let password_ok = password::verify(secret, stored).await;
    // An unused one-time password expires: the answer is the same as for a
    // wrong one (an administrator resets it); the audit row says why.
    let expired = creds
        .as_ref()
        .and_then(|c| c.one_time_password_expires_at)
        .is_some_and(|t| t <= Utc::now());
    let usable = creds
        .as_ref()
        .filter(|c| password_ok && !expired && c.active && c.institution_active && c.kind == kind);
    let mut conn = db::conn(&state.pool).await?;
    let Some(user) = usable else {
        let lock =
            chrono::Duration::from_std(state.config.login_lock).map_err(ApiError::internal)?;
        let failures = tokens::record_failed_login(
            &mut conn,
            &username,
            state.config.login_max_failures,
            lock,
        )
        .await?;
        let entry = AuditEntry::access(
            &context_for(creds.as_ref(), meta),
            AuditAction::LoginFailed,
            "session",
        )
        .details(serde_json::json!({
            "grant": kind,
            "consecutive_failures": failures,
            "one_time_password_expired": password_ok && expired,
        }))
        .outcome("denied");
        audit::append(&mut conn, &[entry]).await?;
        return Err(ApiError::InvalidGrant);
    };
    tokens::clear_failed_logins(&mut conn, &username).await?;
    let entry = AuditEntry::access(
        &context_for(Some(user), meta),
        AuditAction::Login,
        "session",
    )
    .details(serde_json::json!({ "grant": kind }));
    audit::append(&mut conn, &[entry]).await?;
    drop(conn);
    issue_tokens(state, user.user_id, None).await
}

async fn refresh(
    state: &AppState,
    meta: &RequestMeta,
    presented: &str,
) -> ApiResult<TokenResponse> {
    use diesel_async::AsyncConnection;
    let hash = hash_refresh_token(presented);
    let mut conn = db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<_, StoreError, _>(async |conn| {
            tokens::consume_refresh_token(conn, &hash).await
        })
        .await?;
    match outcome {
        RefreshOutcome::Valid { user_id, family_id } => {
            let user =
                users::get(&mut conn, &sintra_domain::access::Scope::National, user_id).await?;
            let one_time_expired = user
                .row
                .one_time_password_expires_at
                .is_some_and(|t| t <= Utc::now());
            if !user.row.active || one_time_expired {
                return Err(ApiError::InvalidGrant);
            }
            let ctx = AuditContext {
                actor_id: Some(user.row.id),
                actor_username: Some(user.row.username.clone()),
                institution_id: Some(user.row.institution_id),
                entity_code: Some(user.entity_code.clone()),
                request_id: Some(meta.request_id.clone()),
                ip: meta.ip.clone(),
            };
            audit::append(
                &mut conn,
                &[AuditEntry::access(
                    &ctx,
                    AuditAction::TokenRefresh,
                    "session",
                )],
            )
            .await?;
            drop(conn);
            issue_tokens(state, user_id, Some(family_id)).await
        }
        RefreshOutcome::Reused => {
            let ctx = context_for(None, meta);
            let entry = AuditEntry::access(&ctx, AuditAction::RefreshTokenReused, "session")
                .outcome("denied");
            audit::append(&mut conn, &[entry]).await?;
            Err(ApiError::InvalidGrant)
        }
        RefreshOutcome::Invalid => Err(ApiError::InvalidGrant),
    }
}

/// Revoke the access token of this request at once.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, auth: Authenticated) -> ApiResult<HttpResponse> {
    let mut conn = db::conn(&state.pool).await?;
    tokens::revoke_access_token(&mut conn, auth.actor.token_id).await?;
    audit::append(
        &mut conn,
        &[AuditEntry::access(
            &auth.audit_context(),
            AuditAction::Logout,
            "session",
        )],
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A person's own password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 12 to 256 characters, not the current one, not holding the username.
    pub new_password: String,
}

/// Change one's own password.
///
/// The only route a session of a one-time password (the first admin's, a
/// new user's, a reset one) may use; every other answers 403
/// `password_change_required` until it is done. Every other session and
/// refresh token of the account is revoked, this one's included, and a new
/// token pair is returned. Audited. A wrong current password counts as a
/// failed login (throttled and locked out alike).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A service account (its secret is rotated by an administrator)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password, or a new one the policy refuses", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    use diesel_async::AsyncConnection;
    use sintra_domain::accounts::{check_new_password, NewPasswordProblem};
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    if auth.actor.role == sintra_domain::access::Role::System {
        return Err(ApiError::forbidden_because(
            "El secreto de una cuenta de servicio lo rota un administrador.",
            "A service account's secret is rotated by an administrator.",
        ));
    }
    password::check_strength(&new_password).map_err(|e| match e {
        sintra_services::error::ServiceError::Validation(mut errors) => {
            errors
                .iter_mut()
                .for_each(|f| f.field = "new_password".into());
            sintra_services::error::ServiceError::Validation(errors)
        }
        other => other,
    })?;
    let username = auth.actor.username.clone();
    match check_new_password(&username, &current_password, &new_password) {
        Ok(()) => {}
        Err(NewPasswordProblem::SameAsCurrent) => {
            return Err(ApiError::invalid(
                "new_password",
                FieldCode::PasswordUnchanged,
                "La contraseña nueva debe ser distinta de la actual.",
                "The new password must differ from the current one.",
            ))
        }
        Err(NewPasswordProblem::ContainsUsername) => {
            return Err(ApiError::invalid(
                "new_password",
                FieldCode::PasswordContainsUsername,
                "La contraseña nueva no puede contener su nombre de usuario.",
                "The new password may not contain your username.",
            ))
        }
    }
    let mut conn = db::conn(&state.pool).await?;
    if let Some(until) = tokens::locked_until(&mut conn, &username).await? {
        let wait = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(ApiError::TooManyRequests {
            retry_after_secs: wait,
        });
    }
    let creds = users::credentials(&mut conn, &username)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    drop(conn);
    let ctx = auth.audit_context();
    if !password::verify(current_password, Some(creds.password_hash.clone())).await {
        let lock =
            chrono::Duration::from_std(state.config.login_lock).map_err(ApiError::internal)?;
        let mut conn = db::conn(&state.pool).await?;
        let failures = tokens::record_failed_login(
            &mut conn,
            &username,
            state.config.login_max_failures,
            lock,
        )
        .await?;
        let entry = AuditEntry::access(&ctx, AuditAction::PasswordChangeFailed, "user")
            .resource(creds.user_id)
            .details(serde_json::json!({ "consecutive_failures": failures }))
            .outcome("denied");
        audit::append(&mut conn, &[entry]).await?;
        return Err(ApiError::invalid(
            "current_password",
            FieldCode::WrongPassword,
            "La contraseña actual no es correcta.",
            "The current password is not correct.",
        ));
    }
    let hash = password::hash(new_password).await?;
    let was_one_time = creds.one_time_password_expires_at.is_some();
    let user_id = creds.user_id;
    let changes = users::UserChanges {
        password_hash: Some(hash),
        one_time_password_expires_at: Some(None),
        ..Default::default()
    };
    let mut conn = db::conn(&state.pool).await?;
    conn.transaction::<_, StoreError, _>(async |conn| {
        let scope = sintra_domain::access::Scope::National;
        users::update(conn, &scope, user_id, None, &changes, user_id).await?;
        tokens::revoke_all_for_user(conn, user_id).await?;
        tokens::clear_failed_logins(conn, &username).await?;
        let entry = AuditEntry::modification(&ctx, AuditAction::PasswordChange, "user")
            .resource(user_id)
            .details(serde_json::json!({ "was_one_time": was_one_time, "sessions_revoked": true }));
        audit::append(conn, &[entry]).await
    })
    .await?;
    drop(conn);
    let tokens = issue_tokens(&state, user_id, None).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(tokens))
}

/// Who the token belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub role: String,
    pub institution_id: Uuid,
    pub entity_code: String,
}

/// The caller's own identity, role and scope.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/auth/me")]
pub async fn me(auth: Authenticated) -> web::Json<Me> {
    web::Json(Me {
        id: auth.actor.user_id,
        username: auth.actor.username.clone(),
        role: auth.actor.role.as_str().to_string(),
        institution_id: auth.actor.institution_id,
        entity_code: auth.actor.entity_code.to_string(),
    })
}
