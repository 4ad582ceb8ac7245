//! Response headers every answer carries, and the methods a path allows.
//!
//! - `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`
//!   everywhere.
//! - `Cache-Control: no-store` on every `/api/v1` answer a handler did not
//!   give its own (the catalogs' revalidation, for one): records, users and
//!   the audit log carry personal data, and no shared or browser cache may
//!   keep them.
//! - A `Content-Security-Policy` on everything: the API's JSON allows
//!   nothing at all; the docs (Swagger UI, served from the binary's own
//!   vendored files) may load scripts, styles, images and the spec from
//!   this server only, and nothing elsewhere.
//! - A 405 answer names the path's methods in `Allow`; TRACE is refused
//!   with 405 on every path, known or not.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

use crate::policy::allowed_methods;

/// The docs page may use this server's files only. Swagger UI sets styles
/// inline and draws its icons as `data:` images.
pub const DOCS_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Everything else is data, never a document to render.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the headers above on every answer.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let api = req.path().starts_with("/api/v1");
    let mut res = next.call(req).await?;
    let pattern = res.request().match_pattern();
    let headers = res.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if res.status() == StatusCode::METHOD_NOT_ALLOWED && !res.headers().contains_key(header::ALLOW)
    {
        // A path no route serves allows nothing (only TRACE gets 405 there).
        let allowed = pattern.map_or_else(String::new, |p| allowed_methods(&p).join(", "));
        if let Ok(v) = HeaderValue::from_str(&allowed) {
            res.headers_mut()
                .insert(HeaderName::from_static("allow"), v);
        }
    }
    Ok(res)
}
