//! Bulk import of a filled workbook: dry run, report, annotated workbook,
//! all-or-nothing commit. The handler reads the upload and hands it to the
//! one import driver of `sintra_services::imports` with its form's target.

use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use sintra_domain::forms::FormKey;
use sintra_services::imports::catalog_items::CatalogItemRows;
use sintra_services::imports::records::RecordRows;
use sintra_services::imports::users::UserRows;
use sintra_services::imports::{self, Upload};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::policy::ExcelUse;
use crate::state::AppState;

use super::{attachment, excel_form, XLSX};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true` (default) checks and reports without writing anything.
    pub dry_run: Option<bool>,
}

/// Reads the `file` part of a multipart upload, refusing more than the limit.
async fn read_upload(mut payload: Multipart, limit: u64) -> ApiResult<Vec<u8>> {
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| {
            ApiError::malformed(
                "malformed_multipart",
                "El envío multipart no es válido.",
                "The multipart upload is not valid.",
            )
        })?;
        if field
            .name()
            .is_some_and(|n| sintra_domain::text::has_forbidden_control(n, false))
        {
            return Err(ApiError::ControlCharacters {
                field: "multipart".into(),
            });
        }
        let is_file = field.name() == Some("file");
        let mut buf = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::malformed(
                    "malformed_multipart",
                    "El envío multipart no es válido.",
                    "The multipart upload is not valid.",
                )
            })?;
            if (buf.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            if is_file {
                buf.extend_from_slice(&chunk);
            }
        }
        if is_file {
            file = Some(buf);
        }
    }
    file.ok_or_else(|| {
        ApiError::invalid(
            "file",
            "required",
            "Adjunte el libro de Excel en el campo «file».",
            "Attach the Excel workbook in the field \"file\".",
        )
    })
}

/// Import a workbook of a form (multipart, field `file`). With
/// `dry_run=true` (the default) nothing is written: the answer reports rows
/// read and valid, each error by Excel row and column, and duplicate
/// warnings for people (within the file and against the system). With
/// `dry_run=false` a workbook without errors is committed whole, in one
/// transaction, audited as one import; the same file is refused the second
/// time (409). A row changes the record that its «ID del registro» names
/// (the column exports carry: an export, corrected, imports back) or,
/// without one, the caller's institution's record with its folio; other
/// rows are new records. Hostile files (not a workbook, macros, password, zip bombs,
/// enormous sheets, too many rows) are refused before they are parsed.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(("form" = String, Path), ImportQuery),
    request_body(content = Object, content_type = "multipart/form-data", description = "field `file`: the .xlsx workbook"),
    responses(
        (status = 200, description = "The import report", body = Object),
        (status = 409, description = "The same file was already imported", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File, zip entries or sheet over the limits", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an .xlsx workbook", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Macros, password, no data sheet, or errors in a commit", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/excel/imports/{form}")]
pub async fn import(
    state: web::Data<AppState>,
    auth: Authenticated,
    form: web::Path<String>,
    query: web::Query<ImportQuery>,
    payload: Multipart,
) -> ApiResult<HttpResponse> {
    let key = excel_form(&auth, &form, ExcelUse::Import)?;
    let dry_run = query.dry_run.unwrap_or(true);
    let limits = imports::limits_for(key);
    // The upload is read before any database connection is taken: a slow
    // client holds none.
    let bytes = read_upload(payload, limits.max_file_bytes).await?;
    let upload = Upload::new(key, dry_run, bytes, limits);
    let pool = &state.pool;
    let report = match key {
        FormKey::CatalogItem => imports::run(pool, &auth, upload, CatalogItemRows).await?,
        FormKey::User => {
            imports::run(
                pool,
                &auth,
                upload,
                UserRows::new(state.config.one_time_password_expiry()),
            )
            .await?
        }
        _ => imports::run(pool, &auth, upload, RecordRows::new(key)).await?,
    };
    Ok(HttpResponse::Ok().json(report))
}

/// The uploaded workbook with its errors marked and an errors column; only
/// for the institution that uploaded it.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The annotated workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/imports/{id}/annotated.xlsx")]
pub async fn annotated(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let bytes = imports::annotated_workbook(&state.pool, &auth, id).await?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(attachment(&format!("importacion_{id}_anotada.xlsx")))
        .body(bytes))
}
