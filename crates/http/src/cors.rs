//! Cross-origin requests from browsers (CORS), for the configured origins
//! only (`SINTRA_CORS_ORIGINS`).
//!
//! With no origin configured the API sends no CORS header at all: a
//! frontend served from another origin cannot read it. Each configured
//! origin is exact (scheme, host, port; no wildcard): its preflights are
//! answered with the methods and request headers the API reads, and its
//! answers name it in `Access-Control-Allow-Origin` and expose the headers
//! a client needs (`ETag`, `Location`, `Retry-After`, `X-Request-Id`,
//! `Idempotent-Replayed`, `Content-Disposition`). Tokens travel in
//! `Authorization`, never in cookies, so credentials are not allowed.
//!
//! A request from any other origin gets no CORS header: its preflight is
//! refused (400, a problem document), and an actual request is answered as
//! if CORS did not exist (the browser keeps the answer from the page). It is
//! not blocked: browsers send `Origin` on their same-origin writes too (the
//! docs page's «Try it out»), which need no CORS header.

use std::fmt;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// How long a browser may keep a preflight's answer (seconds).
pub const MAX_AGE_SECONDS: usize = 3600;

/// The request headers the API reads (besides the CORS-safelisted ones).
pub const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "accept",
    "accept-language",
];

/// The answer headers a browser's script may read.
pub const EXPOSED_HEADERS: &[&str] = &[
    "etag",
    "location",
    "retry-after",
    "x-request-id",
    "idempotent-replayed",
    "content-disposition",
];

/// The configured origins, each an exact `scheme://host[:port]`
/// (lower-case, without the scheme's default port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidOrigin {
    #[error(
        "«*» no se admite: cualquier página podría leer la API con el token de quien la visita; \
         escriba cada origen permitido (por ejemplo https://tablero.sintra.gob.mx)"
    )]
    Wildcard,
    #[error(
        "«{0}» no es un origen: se espera esquema http o https, servidor y, si hace falta, \
         puerto, sin ruta ni barra final (por ejemplo https://tablero.sintra.gob.mx o \
         http://localhost:5173)"
    )]
    Malformed(String),
}

impl CorsOrigins {
    /// Parses a comma-separated list; empty means none (no CORS at all).
    pub fn parse(list: &str) -> Result<CorsOrigins, InvalidOrigin> {
        let mut origins: Vec<String> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let origin = normalize(entry)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(CorsOrigins(origins))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for CorsOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// An origin as browsers serialize it in `Origin`, or why `entry` is not one.
fn normalize(entry: &str) -> Result<String, InvalidOrigin> {
    if entry == "*" {
        return Err(InvalidOrigin::Wildcard);
    }
    let bad = || InvalidOrigin::Malformed(entry.to_string());
    let (scheme, rest) = entry.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err(bad()),
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '*', ' ']) {
        return Err(bad());
    }
    // An IPv6 literal keeps its brackets; its colons are not the port's.
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(bad)?;
        addr.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(bad());
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n: u16 = p.parse().map_err(|_| bad())?;
            if n == 0 || !p.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            (n.to_string() != default_port).then(|| n.to_string())
        }
    };
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The CORS layer for `origins` (not to be used when there are none: a
/// layer without origins would still add `Vary` and expose headers).
pub fn layer(origins: &CorsOrigins) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers(ALLOWED_HEADERS.iter().copied().map(HeaderName::from_static))
        .expose_headers(EXPOSED_HEADERS.iter().copied().map(HeaderName::from_static))
        .max_age(MAX_AGE_SECONDS)
        // Other origins are answered without CORS headers, not blocked.
        .block_on_origin_mismatch(false);
    for origin in origins.as_slice() {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// actix-cors names the exposed headers on every answer once it is on;
/// an answer that allows no origin carries no CORS header at all.
pub async fn only_for_allowed_origins(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_normalized() {
        let parsed = CorsOrigins::parse(
            " https://Tablero.Sintra.gob.mx , http://localhost:5173,https://x.mx:443,,http://[::1]:8080,https://tablero.sintra.gob.mx",
        )
        .unwrap();
        assert_eq!(
            parsed.as_slice(),
            [
                "https://tablero.sintra.gob.mx",
                "http://localhost:5173",
                "https://x.mx",
                "http://[::1]:8080"
            ]
        );
        assert!(CorsOrigins::parse("").unwrap().is_empty());
        assert!(CorsOrigins::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn a_wildcard_or_anything_but_an_origin_is_refused() {
        assert_eq!(CorsOrigins::parse("*"), Err(InvalidOrigin::Wildcard));
        assert_eq!(
            CorsOrigins::parse("https://a.mx, *"),
            Err(InvalidOrigin::Wildcard)
        );
        for bad in [
            "tablero.sintra.gob.mx",
            "https://tablero.sintra.gob.mx/",
            "https://tablero.sintra.gob.mx/app",
            "https://*.sintra.gob.mx",
            "ftp://sintra.gob.mx",
            "https://",
            "https://user@sintra.gob.mx",
            "https://sintra.gob.mx:0",
            "https://sintra.gob.mx:99999",
            "https://sintra.gob.mx:+80",
            "https://sintra..gob.mx",
            "https://-sintra.gob.mx",
            "null",
            "http://[::1",
            "http://[nope]:80",
            "https://sintra.gob.mx?x=1",
        ] {
            let err = CorsOrigins::parse(bad).unwrap_err();
            assert!(
                matches!(err, InvalidOrigin::Malformed(ref e) if e == bad),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("no es un origen"));
        }
    }
}
