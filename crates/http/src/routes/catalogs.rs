//! Catalogs: everyone reads them (cheaply: lists carry an ETag and answer
//! 304 while unchanged); the national admin administers them. Codes never
//! change and items are never deleted, only deactivated.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sintra_domain::forms::FormKey;
use sintra_domain::validation::{diff, validate_record};
use sintra_persistence::catalogs::{self, CatalogItem, ItemChanges, ItemFilter};
use sintra_persistence::{db, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{cursor_for, etag, if_match, PageParams};
use crate::state::AppState;
use crate::today;
use sintra_domain::validation::FieldCode;
use sintra_services::catalogs::{
    code_taken, insert_item_audited, item_record, new_item, parent_refs, to_map,
    update_item_audited,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogOut {
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    /// For hierarchical catalogs, the catalog of the parent items.
    pub parent_catalog: Option<String>,
    /// Where its values come from.
    pub source: String,
    pub item_count: i64,
}

/// Every catalog, with its item count.
#[utoipa::path(
    tag = "catalogs",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<CatalogOut>), (status = 401, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/catalogs")]
pub async fn list_catalogs(
    state: web::Data<AppState>,
    _auth: Authenticated,
) -> ApiResult<web::Json<Vec<CatalogOut>>> {
    let mut conn = db::conn(&state.pool).await?;
    let rows = catalogs::list_catalogs(&mut conn).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(c, n)| CatalogOut {
                code: c.code,
                label_es: c.label_es,
                label_en: c.label_en,
                parent_catalog: c.parent_catalog,
                source: c.source,
                item_count: n,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogItemOut {
    pub catalog: String,
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    pub parent_code: Option<String>,
    pub sort_order: i32,
    pub active: bool,
    /// Facts that come with the item (population, CNPP article, …).
    #[schema(value_type = Object)]
    pub extra: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CatalogItem> for CatalogItemOut {
    fn from(i: CatalogItem) -> Self {
        CatalogItemOut {
            catalog: i.catalog,
            code: i.code,
            label_es: i.label_es,
            label_en: i.label_en,
            parent_code: i.parent_code,
            sort_order: i.sort_order,
            active: i.active,
            extra: i.extra,
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogItemPage {
    pub items: Vec<CatalogItemOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    pub active: Option<bool>,
    /// Items of this parent (e.g. the municipios of entity `19`).
    pub parent_code: Option<String>,
    /// Part of the code or of either label; case and accents ignored.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

async fn known_catalog(conn: &mut diesel_async::AsyncPgConnection, code: &str) -> ApiResult<()> {
    catalogs::get_catalog(conn, code).await?;
    Ok(())
}

/// A catalog's items in order, filtered and paged. The answer carries an
/// ETag: send it back in `If-None-Match` to get 304 while nothing changed.
#[utoipa::path(
    tag = "catalogs",
    security(("bearer" = [])),
    params(("catalog" = String, Path), ItemQuery),
    responses(
        (status = 200, body = CatalogItemPage),
        (status = 304, description = "Unchanged since the ETag sent in If-None-Match"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/catalogs/{catalog}/items")]
pub async fn list_items(
    state: web::Data<AppState>,
    _auth: Authenticated,
    req: HttpRequest,
    catalog: web::Path<String>,
    query: web::Query<ItemQuery>,
) -> ApiResult<HttpResponse> {
    let catalog = catalog.into_inner();
    let q = query.into_inner();
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::invalid(
            "q",
            FieldCode::TooLong,
            "La búsqueda admite hasta 100 caracteres.",
            "The search takes up to 100 characters.",
        ));
    }
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    let limit = page.limit()?;
    let after = page
        .after::<String>()?
        .map(|c| {
            c.split_once('|')
                .and_then(|(o, code)| Some((o.parse::<i32>().ok()?, code.to_string())))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "cursor",
                        FieldCode::InvalidCursor,
                        "El cursor no es válido.",
                        "The cursor is not valid.",
                    )
                })
        })
        .transpose()?;
    let mut conn = db::conn(&state.pool).await?;
    known_catalog(&mut conn, &catalog).await?;
    let stamp = catalogs::catalog_stamp(&mut conn, &catalog).await?;
    let tag = format!(
        "W/\"{}\"",
        &hex::encode(Sha256::digest(format!("{stamp}|{}", req.query_string())))[..32]
    );
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if unchanged {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let filter = ItemFilter {
        active: q.active,
        parent_code: q.parent_code,
        q: q.q,
        after,
    };
    let mut rows = catalogs::list_items(&mut conn, &catalog, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|i| cursor_for(format!("{}|{}", i.sort_order, i.code)))
        })
        .flatten();
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(CatalogItemPage {
            items: rows.into_iter().map(CatalogItemOut::from).collect(),
            next_cursor,
        }))
}

/// One catalog item, active or not (old records keep showing old codes).
#[utoipa::path(
    tag = "catalogs",
    security(("bearer" = [])),
    params(("catalog" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = CatalogItemOut), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/catalogs/{catalog}/items/{code}")]
pub async fn get_item(
    state: web::Data<AppState>,
    _auth: Authenticated,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (catalog, code) = path.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let item = catalogs::get_item(&mut conn, &catalog, &code.to_uppercase()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(item.version))
        .json(CatalogItemOut::from(item)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItemIn {
    /// Capitals, digits and underscores; immutable once created.
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    /// Required in hierarchical catalogs: an existing item of the parent catalog.
    pub parent_code: Option<String>,
    /// Position in lists (default: after the last item).
    pub sort_order: Option<i32>,
}

/// Add an item to a catalog (national admin). Validated by the
/// `catalog_item` form spec; audited.
#[utoipa::path(
    tag = "catalogs",
    security(("bearer" = [])),
    params(("catalog" = String, Path)),
    request_body = NewItemIn,
    responses(
        (status = 201, body = CatalogItemOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/catalogs/{catalog}/items")]
pub async fn create_item(
    state: web::Data<AppState>,
    auth: Authenticated,
    catalog: web::Path<String>,
    body: web::Json<NewItemIn>,
) -> ApiResult<HttpResponse> {
    let catalog = catalog.into_inner();
    let body = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    known_catalog(&mut conn, &catalog).await?;
    let input = to_map(serde_json::json!({
        "catalog": catalog,
        "code": body.code,
        "label_es": body.label_es,
        "label_en": body.label_en,
        "parent_code": body.parent_code,
        "sort_order": body.sort_order,
    }));
    let wanted = parent_refs(&catalog, body.parent_code.as_deref());
    let lookup = catalogs::snapshot(&mut conn, &wanted).await?;
    let spec = FormKey::CatalogItem.spec();
    let record =
        validate_record(spec, &input, None, &lookup, today()).map_err(ApiError::Validation)?;
    let new = new_item(&catalog, &record);
    let ctx = auth.audit_context();
    let changes = Value::Object(diff(spec, &Map::new(), &record));
    let created = conn
        .transaction::<_, StoreError, _>(async |conn| {
            insert_item_audited(conn, &ctx, &new, changes).await
        })
        .await
        .map_err(code_taken)?;
    Ok(HttpResponse::Created()
        .insert_header(etag(created.version))
        .json(CatalogItemOut::from(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub sort_order: Option<i32>,
    /// false retires the item (baja): refused in new records, kept in old ones.
    pub active: Option<bool>,
}

/// Rename, reorder, deactivate or reactivate an item (national admin).
/// The code cannot change. Requires `If-Match`.
#[utoipa::path(
    tag = "catalogs",
    security(("bearer" = [])),
    params(("catalog" = String, Path), ("code" = String, Path), ("If-Match" = String, Header, description = "The item's current version")),
    request_body = ItemPatch,
    responses(
        (status = 200, body = CatalogItemOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[patch("/catalogs/{catalog}/items/{code}")]
pub async fn update_item(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<ItemPatch>,
) -> ApiResult<HttpResponse> {
    let version = if_match(&req)?;
    let (catalog, code) = path.into_inner();
    let body = body.into_inner();
    let mut conn = db::conn(&state.pool).await?;
    let current = catalogs::get_item(&mut conn, &catalog, &code).await?;
    // Validate the item as it would stand after the change, by the spec.
    let proposed = to_map(serde_json::json!({
        "catalog": catalog,
        "code": current.code,
        "label_es": body.label_es.clone().unwrap_or(current.label_es.clone()),
        "label_en": body.label_en.clone().unwrap_or(current.label_en.clone()),
        "parent_code": current.parent_code,
        "sort_order": body.sort_order.unwrap_or(current.sort_order),
        "active": body.active.unwrap_or(current.active),
    }));
    let before_map = item_record(&current);
    let wanted = parent_refs(&catalog, current.parent_code.as_deref());
    let lookup = catalogs::snapshot(&mut conn, &wanted).await?;
    let spec = FormKey::CatalogItem.spec();
    let after_map = validate_record(spec, &proposed, Some(&before_map), &lookup, today())
        .map_err(ApiError::Validation)?;
    let changes = ItemChanges {
        label_es: after_map
            .get("label_es")
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|_| body.label_es.is_some()),
        label_en: after_map
            .get("label_en")
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|_| body.label_en.is_some()),
        sort_order: body.sort_order,
        active: body.active,
    };
    let audit_changes = Value::Object(diff(spec, &before_map, &after_map));
    let ctx = auth.audit_context();
    let updated = conn
        .transaction::<_, StoreError, _>(async |conn| {
            update_item_audited(conn, &ctx, &current, version, &changes, audit_changes).await
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(updated.version))
        .json(CatalogItemOut::from(updated)))
}
