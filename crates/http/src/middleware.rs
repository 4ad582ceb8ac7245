//! The middleware every request passes through, outermost first:
//! request id → metrics → problem rendering → denial auditing → guard.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use sintra_domain::access::Actor;
use sintra_domain::i18n::Lang;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::{db, tokens};
use tracing_actix_web::RequestId;

use crate::error::{ApiError, ProblemSource, PROBLEM_JSON};
use crate::policy::{has_any_rule, rule_for_request, RouteRule};
use crate::state::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What every later layer needs to know about the request.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: Option<String>,
    pub lang: Lang,
}

/// Records the request id, the caller's language and address, and echoes
/// the id in `X-Request-Id` so a caller can quote it.
pub async fn request_meta(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.to_string())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // The client's address for the audit log: `X-Forwarded-For` counts only
    // from a configured trusted proxy (see `proxies`).
    let ip = req
        .app_data::<web::Data<AppState>>()
        .map(|state| {
            state.config.trusted_proxies.client(
                req.peer_addr().map(|a| a.ip()),
                req.headers()
                    .get_all("x-forwarded-for")
                    .filter_map(|v| v.to_str().ok()),
            )
        })
        .unwrap_or_else(|| req.peer_addr().map(|a| a.ip()))
        .map(|ip| ip.to_string());
    req.extensions_mut().insert(RequestMeta {
        request_id: request_id.clone(),
        ip,
        lang,
    });
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

/// Turns every error response into problem+json in the caller's language
/// with the request id: ours (re-rendered) and actix's own plain-text ones
/// (unknown route, wrong method, …) alike.
pub async fn problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Inner layers answer errors as responses; an `Err` here would come from
    // actix itself and is rendered by its `ResponseError` (ours are problems).
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let (meta_lang, request_id) = res
        .request()
        .extensions()
        .get::<RequestMeta>()
        .map(|m| (m.lang, Some(m.request_id.clone())))
        .unwrap_or((Lang::Es, None));
    let source = res
        .response()
        .extensions()
        .get::<ProblemSource>()
        .cloned()
        .unwrap_or_else(|| ProblemSource::for_status(status));
    let body = source.render(meta_lang, request_id);
    Ok(res.map_body(|head, _| {
        head.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        BoxBody::new(serde_json::to_vec(&body).unwrap_or_default())
    }))
}

/// Writes an access row for every refused request (401 and 403), and for
/// every lookup by path id that answers 404 to an authenticated caller.
///
/// A record outside the caller's scope answers 404 exactly like a missing
/// one (DESIGN §3), so probing other entities' ids must still leave a trail.
/// The row is written for every such 404, the truly missing ids included:
/// the caller sees the same answer, after the same work, either way, and the
/// auditor (who may know whether the id exists) sees who asked for which id
/// on which route.
pub async fn audit_denials(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let Some(state) = state else {
        return Ok(res);
    };
    let entry = {
        let r = res.request();
        let ext = r.extensions();
        let actor = ext.get::<Actor>();
        let path_ids: serde_json::Map<String, serde_json::Value> = r
            .match_info()
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
            .collect();
        let refused = status == 401 || status == 403;
        let lookup_not_found = status == 404 && actor.is_some() && !path_ids.is_empty();
        if !(refused || lookup_not_found) {
            None
        } else {
            let meta = ext.get::<RequestMeta>();
            let mut ctx = match actor {
                Some(actor) => AuditContext::for_actor(actor, None, None),
                None => AuditContext::default(),
            };
            ctx.request_id = meta.map(|m| m.request_id.clone());
            ctx.ip = meta.and_then(|m| m.ip.clone());
            let pattern = r.match_pattern().unwrap_or_else(|| "(sin ruta)".into());
            let mut details = serde_json::json!({
                "method": r.method().as_str(),
                "status": status,
            });
            if lookup_not_found {
                details["path"] = serde_json::Value::Object(path_ids);
            }
            Some(
                AuditEntry::access(&ctx, AuditAction::Denied, "route")
                    .resource(&pattern)
                    .details(details)
                    .outcome("denied"),
            )
        }
    };
    if let Some(entry) = entry {
        if let Err(e) = audit::record(&state.pool, &[entry]).await {
            tracing::error!(error = %e, "could not audit a denied request");
        }
    }
    Ok(res)
}

/// Authenticates the bearer token and applies the route's rule before any
/// handler runs. Unlisted routes are refused (deny by default); unknown
/// paths fall through to the 404 default service.
pub async fn guard(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // TRACE echoes a request back (cookies and tokens included): refused on
    // every path the same way, known or not.
    if req.method() == actix_web::http::Method::TRACE {
        return Ok(req.error_response(ApiError::MethodNotAllowed));
    }
    let Some(pattern) = req.match_pattern() else {
        return next.call(req).await;
    };
    let permission = match rule_for_request(req.method(), &pattern, req.path()) {
        Some(RouteRule::Public) => return next.call(req).await,
        Some(RouteRule::Requires(p)) => Some(p),
        // A method the path has no rule for: no handler of it may run.
        None if has_any_rule(&pattern) => return Ok(req.error_response(ApiError::MethodNotAllowed)),
        None => None,
    };
    // `build_app` registers it; an app built without it fails closed.
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let missing = ApiError::Internal("AppState is not registered".into());
        return Ok(req.error_response(missing));
    };
    let (actor, one_time) = match authenticate(&req, &state).await {
        Ok(found) => found,
        Err(e) => return Ok(req.error_response(e)),
    };
    req.extensions_mut().insert(actor.clone());
    // A one-time password's session may only change it.
    if one_time && !(req.method() == actix_web::http::Method::POST && pattern == PASSWORD_CHANGE) {
        return Ok(req.error_response(ApiError::password_change_required()));
    }
    match permission {
        Some(p) if actor.can(p) => next.call(req).await,
        _ => Ok(req.error_response(ApiError::forbidden())),
    }
}

/// The one route a session of a one-time password may use.
const PASSWORD_CHANGE: &str = "/api/v1/auth/password";

async fn authenticate(req: &ServiceRequest, state: &AppState) -> Result<(Actor, bool), ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(ApiError::Unauthenticated)?;
    let claims = state.jwt.verify(token).ok_or(ApiError::Unauthenticated)?;
    let mut conn = db::conn(&state.pool).await?;
    tokens::actor_for_token(&mut conn, claims.jti, claims.sub)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// The answer to a path no route serves.
pub async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}
