//! The boundary check: no string from outside reaches a handler, and so
//! the database, holding control characters. One middleware applies the
//! rule of [`sintra_domain::text`] to the path segments, the query string,
//! the headers the API reads and JSON or form bodies (every string value and
//! key, at any depth) before authentication or any query runs; multipart
//! fields and workbook cells are checked where they are parsed (the Excel
//! import). A refusal is a 400 `control_characters` problem naming the
//! field, never quoting its value.
//!
//! Bodies may carry tab, line feed and carriage return (multi-line free
//! text allows them; each field's validation refuses them where the field
//! is a single line). Paths, queries and headers never may.

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use sintra_domain::text::has_forbidden_control;

use crate::error::ApiError;

/// The request headers the API (or a layer it runs) reads. Others pass
/// untouched: nothing reads them.
const READ_HEADERS: &[&str] = &[
    "authorization",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "accept-language",
    "content-type",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "forwarded",
    "host",
];

/// Refuses a request whose path, query, read headers or JSON/form body
/// holds a control character; passes the (re-inserted) body on otherwise.
pub async fn refuse_control_characters(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(field) = check_head(&req) {
        return Ok(req.error_response(ApiError::ControlCharacters { field }));
    }
    if let Some(kind) = body_kind(&req) {
        // Bounded by the app's `PayloadConfig` (413 above it), as the
        // handler's own extractor would be.
        let bytes = match req.extract::<web::Bytes>().await {
            Ok(b) => b,
            Err(e) => return Ok(req.error_response(e)),
        };
        if let Some(field) = check_body(kind, &bytes) {
            return Ok(req.error_response(ApiError::ControlCharacters { field }));
        }
        req.set_payload(Payload::from(bytes));
    }
    next.call(req).await
}

#[derive(Clone, Copy)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(req: &ServiceRequest) -> Option<BodyKind> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(BodyKind::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else {
        None
    }
}

/// The first field of the path, query or read headers that holds a control
/// character.
fn check_head(req: &ServiceRequest) -> Option<String> {
    let pattern = req.match_pattern();
    let pattern_segments: Vec<&str> = pattern
        .as_deref()
        .map_or(vec![], |p| p.split('/').collect());
    let segments: Vec<&str> = req.path().split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if has_forbidden_control(&percent_decode_str(seg).decode_utf8_lossy(), false) {
            let name = (pattern_segments.len() == segments.len())
                .then(|| pattern_segments[i])
                .and_then(|p| p.strip_prefix('{')?.strip_suffix('}'))
                .map(|p| p.split(':').next().unwrap_or(p).to_string());
            return Some(name.unwrap_or_else(|| "path".into()));
        }
    }
    if let Some(field) = check_form(req.query_string()) {
        return Some(field);
    }
    for name in READ_HEADERS {
        for value in req.headers().get_all(*name) {
            let bytes = value.as_bytes();
            // Header values cannot carry C0 controls but tab, nor DEL; C1
            // ones can arrive as UTF-8 (obs-text).
            if has_forbidden_control(&String::from_utf8_lossy(bytes), false) {
                return Some((*name).to_string());
            }
        }
    }
    None
}

/// `a=1&b=2` (query string or form body): the first name whose name or
/// value holds a control character.
fn check_form(form: &str) -> Option<String> {
    for pair in form.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let (k, v) = (decode(k), decode(v));
        if has_forbidden_control(&k, false) {
            return Some("query".into());
        }
        if has_forbidden_control(&v, false) {
            // Named only when the name looks like a field's: a problem never
            // echoes what a client made up.
            let plain = k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return Some(if plain { k } else { "query".into() });
        }
    }
    None
}

fn check_body(kind: BodyKind, bytes: &[u8]) -> Option<String> {
    match kind {
        BodyKind::Form => check_form(&String::from_utf8_lossy(bytes)),
        // JSON that does not parse passes on: the handler's extractor
        // answers it with its own problem.
        BodyKind::Json => serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| check_json(&v, String::new()))
            // A path through keys a client made up is not echoed.
            .map(|path| {
                let plain = path.len() <= 128
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c));
                if plain {
                    path
                } else {
                    "body".into()
                }
            }),
    }
}

/// The path (`data.names`, `crimes[2]`) of the first string value or key
/// that holds a control character other than tab, line feed and carriage
/// return.
fn check_json(value: &Value, path: String) -> Option<String> {
    let name = |p: &str| {
        if p.is_empty() {
            "body".to_string()
        } else {
            p.to_string()
        }
    };
    match value {
        Value::String(s) => has_forbidden_control(s, true).then(|| name(&path)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| check_json(v, format!("{}[{i}]", name(&path)))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if has_forbidden_control(k, false) {
                return Some(name(&path));
            }
            let child = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            check_json(v, child)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_strings_are_named_by_their_path() {
        let body = json!({"a": "ok", "b": {"c": ["x", "y\u{0}"]}});
        assert_eq!(check_json(&body, String::new()).as_deref(), Some("b.c[1]"));
        let multiline = json!({"notes": "línea 1\nlínea 2\tfin\r\n"});
        assert_eq!(check_json(&multiline, String::new()), None);
        assert_eq!(
            check_json(&json!({"k\u{1b}": 1}), String::new()).as_deref(),
            Some("body")
        );
        assert_eq!(
            check_json(&json!("\u{85}"), String::new()).as_deref(),
            Some("body")
        );
        // A made-up key is not echoed.
        let odd = br#"{"nombre raro": {"x": "\u0000"}}"#;
        assert_eq!(check_body(BodyKind::Json, odd).as_deref(), Some("body"));
        let named = br#"{"data": {"names": ["\u0000"]}}"#;
        assert_eq!(
            check_body(BodyKind::Json, named).as_deref(),
            Some("data.names[0]")
        );
    }

    #[test]
    fn query_values_and_names_are_decoded_before_the_check() {
        assert_eq!(check_form("q=a%00b").as_deref(), Some("q"));
        assert_eq!(
            check_form("q=a%09b").as_deref(),
            Some("q"),
            "no tab in a query"
        );
        assert_eq!(check_form("x%01=1").as_deref(), Some("query"));
        assert_eq!(check_form("q=Mar%C3%ADa+P%C3%A9rez&limit=5"), None);
        assert_eq!(check_form("q=%C2%85").as_deref(), Some("q"), "C1 as UTF-8");
        assert_eq!(check_form("%E2%8D%91Z=%00").as_deref(), Some("query"));
    }
}
