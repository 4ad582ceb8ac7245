//! Cursor pagination and optimistic-concurrency headers shared by lists
//! and records of every module.

use actix_web::http::header;
use actix_web::HttpRequest;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use sintra_domain::validation::FieldCode;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size: 1 to 500, 50 by default.
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                "limit",
                FieldCode::OutOfRange,
                format!("limit debe estar entre 1 y {MAX_LIMIT}."),
                format!("limit must be between 1 and {MAX_LIMIT}."),
            )),
        }
    }

    /// Decodes the cursor into the key it carries (the last item's id).
    pub fn after<T: std::str::FromStr>(&self) -> ApiResult<Option<T>> {
        let Some(c) = &self.cursor else {
            return Ok(None);
        };
        let bad = || {
            ApiError::invalid(
                "cursor",
                FieldCode::InvalidCursor,
                "El cursor no es válido.",
                "The cursor is not valid.",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        text.parse().map(Some).map_err(|_| bad())
    }
}

/// Encodes the key of the last item of a full page.
pub fn cursor_for<K: ToString>(key: K) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string())
}

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says
    /// whether another page exists.
    pub fn from_rows<R, K: ToString>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        map: impl FnMut(R) -> T,
    ) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| cursor_for(key(r)))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

impl<T> Page<T> {
    /// Builds a page from a service's slice of a list.
    pub fn from_slice<R, K: ToString>(
        slice: sintra_services::page::Slice<R>,
        key: impl Fn(&R) -> K,
        map: impl FnMut(R) -> T,
    ) -> Page<T> {
        let next_cursor = if slice.more {
            slice.items.last().map(|r| cursor_for(key(r)))
        } else {
            None
        };
        Page {
            items: slice.items.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

/// The version an update expects, from `If-Match: "4"`. Updates without it
/// are refused (428) so that lost updates are impossible.
pub fn if_match(req: &HttpRequest) -> ApiResult<i32> {
    let raw = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| ApiError::StaleVersion)?;
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| ApiError::StaleVersion)
}

/// The `ETag` of a record version.
pub fn etag(version: i32) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}
