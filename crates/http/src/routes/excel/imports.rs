//! Bulk import of a filled workbook: dry run, report, annotated workbook,
//! all-or-nothing commit. The handler reads the upload and hands it to the
//! one import driver of `sintra_services::imports` with its form's target.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::FormKey;
use sintra_domain::import_jobs::ImportState;
use sintra_services::imports::catalog_items::CatalogItemRows;
use sintra_services::imports::jobs::{self, JobView, Submitted};
use sintra_services::imports::records::RecordRows;
use sintra_services::imports::users::UserRows;
use sintra_services::imports::{self, Upload};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{Page, PageParams};
use crate::policy::{excel_form_permission, ExcelUse};
use crate::state::AppState;

use super::{attachment, excel_form, XLSX};
use sintra_domain::validation::FieldCode;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true` (default) checks and reports without writing anything.
    pub dry_run: Option<bool>,
    /// `true`: the request runs the import itself and answers its report
    /// (200) or its problem; otherwise 202 and a job to poll.
    pub wait: Option<bool>,
}

/// Reads the `file` part of a multipart upload, refusing more than the limit.
async fn read_upload(mut payload: Multipart, limit: u64) -> ApiResult<Vec<u8>> {
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| {
            ApiError::malformed(
                ErrorCode::MalformedMultipart,
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
                    ErrorCode::MalformedMultipart,
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
            FieldCode::Required,
            "Adjunte el libro de Excel en el campo «file».",
            "Attach the Excel workbook in the field \"file\".",
        )
    })
}

/// Import a workbook of a form (multipart, field `file`). The file is
/// checked at once for hostility (not a workbook, macros, password, zip
/// bombs, enormous sheets, too many rows: 413/415/422) and for a repeat of
/// a committed file (409); then it becomes an import job, answered **202**
/// with its URL in `Location`: poll `GET /api/v1/excel/imports/{id}` for
/// its state, progress and, at the end, its report. With `wait=true` the
/// request runs the job itself and answers as the job ends: 200 with the
/// report, or the problem (422 `import_rejected` with the report for a
/// commit with errors) — for scripts and small files. Workbooks of users
/// and catalog items always answer that way (small files; a users
/// commit's answer carries one-time passwords that are stored nowhere).
///
/// With `dry_run=true` (the default) nothing is written: the report gives
/// rows read and valid, each error by Excel row and column, and duplicate
/// warnings for people (within the file and against the system); a checked
/// dry run can then be committed with `POST /api/v1/excel/imports/{id}/commit`.
/// With `dry_run=false` a workbook without errors is committed whole, in
/// one transaction, audited as one import; the same file is refused the
/// second time (409). A row changes the record that its «ID del registro»
/// names (the column exports carry: an export, corrected, imports back)
/// or, without one, the caller's institution's record with its folio;
/// other rows are new records. Too many imports under way for the
/// institution or the system: 429 `imports_busy` with `Retry-After`.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(("form" = String, Path), ImportQuery),
    request_body(content = Object, content_type = "multipart/form-data", description = "field `file`: the .xlsx workbook"),
    responses(
        (status = 200, description = "`wait=true` (or users, catalog items): the import report", body = ImportReportOut),
        (status = 202, description = "Accepted as an import job: poll the URL in `Location`", body = ImportAccepted),
        (status = 409, description = "The same file was already imported", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File, zip entries or sheet over the limits", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an .xlsx workbook", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Macros, password, no data sheet, or errors in a commit", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many imports under way (`imports_busy`); retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")
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
    let wait = query.wait.unwrap_or(false);
    let limits = imports::limits_for(key);
    // The upload is read before any database connection is taken: a slow
    // client holds none.
    let bytes = read_upload(payload, limits.max_file_bytes).await?;
    let upload = Upload::new(key, dry_run, bytes, limits);
    let (runner, pool) = (&state.imports, &state.pool);
    let submitted = match key {
        FormKey::CatalogItem => {
            jobs::submit(runner, pool, &auth, upload, CatalogItemRows, wait).await?
        }
        FormKey::User => {
            let target = UserRows::new(state.config.one_time_password_expiry());
            jobs::submit(runner, pool, &auth, upload, target, wait).await?
        }
        _ => {
            jobs::submit(
                runner,
                pool,
                &auth,
                upload,
                RecordRows::new(key).with_pool(pool.clone()),
                wait,
            )
            .await?
        }
    };
    answer(submitted, ImportState::Queued)
}

/// The answer to a job submitted: 202 with its URL, or the outcome of the
/// job the request ran.
fn answer(submitted: Submitted, queued: ImportState) -> ApiResult<HttpResponse> {
    match submitted {
        Submitted::Queued(id) => {
            let url = job_url(id);
            Ok(HttpResponse::Accepted()
                .insert_header((header::LOCATION, url.clone()))
                .json(ImportAccepted {
                    import_id: id,
                    state: queued.into(),
                    url,
                }))
        }
        Submitted::Done(id, outcome) => {
            let report = outcome?;
            Ok(HttpResponse::Ok()
                .insert_header((header::LOCATION, job_url(id)))
                .json(report))
        }
    }
}

fn job_url(id: Uuid) -> String {
    format!("/api/v1/excel/imports/{id}")
}

/// An upload accepted as a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportAccepted {
    pub import_id: Uuid,
    pub state: ImportStateOut,
    /// Where to poll it (also in `Location`).
    pub url: String,
}

/// Where an import job stands (see the job flow in the README).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStateOut {
    Queued,
    Checking,
    Checked,
    Committing,
    Committed,
    Rejected,
    Failed,
    Cancelled,
}

impl From<ImportState> for ImportStateOut {
    fn from(s: ImportState) -> Self {
        match s {
            ImportState::Queued => ImportStateOut::Queued,
            ImportState::Checking => ImportStateOut::Checking,
            ImportState::Checked => ImportStateOut::Checked,
            ImportState::Committing => ImportStateOut::Committing,
            ImportState::Committed => ImportStateOut::Committed,
            ImportState::Rejected => ImportStateOut::Rejected,
            ImportState::Failed => ImportStateOut::Failed,
            ImportState::Cancelled => ImportStateOut::Cancelled,
        }
    }
}

/// One error of an import report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorOut {
    /// The row number Excel shows.
    pub row: u32,
    /// The column's letter.
    pub column: Option<String>,
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

/// An import's report: rows read, valid, created and updated, each error
/// by Excel row and column, and warnings (possible duplicates).
///
/// Published as `ImportReport`, the one report schema of the spec (the
/// finishing pass types its open parts).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ImportReport)]
pub struct ImportReportOut {
    pub import_id: Uuid,
    pub form: String,
    pub dry_run: bool,
    pub file_sha256: String,
    pub rows_read: u64,
    pub rows_valid: u64,
    pub rows_created: u64,
    pub rows_updated: u64,
    pub errors: Vec<ImportErrorOut>,
    /// Possible duplicates: `{row, code, level, score, …}`.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<serde_json::Value>,
    /// Where the workbook with its errors marked can be downloaded.
    pub annotated_workbook: Option<String>,
    /// The one-time passwords of the accounts a users commit created (in
    /// that answer only).
    #[schema(value_type = Option<Vec<Object>>)]
    pub credentials: Option<serde_json::Value>,
}

/// How far an import job is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProgress {
    /// The file's data rows, once read.
    pub rows_total: Option<i64>,
    pub rows_read: i64,
    pub rows_checked: i64,
    /// Rows written by the commit under way (visible once committed).
    pub rows_written: i64,
    /// 0 to 100: reading, checking and (for a commit) writing each count
    /// for a share.
    pub percent: u8,
    /// Since a worker took it (to its end, once ended).
    pub elapsed_seconds: f64,
}

/// Why a job was refused or failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblemOut {
    /// A problem code (`no_data_sheet`, `repeated_import`, `database_unavailable`
    /// when the database failed under it on every try, `internal_error`…).
    pub code: String,
    /// In the caller's language.
    pub message: String,
}

/// An import job of the caller's institution.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobOut {
    pub id: Uuid,
    pub form: String,
    pub state: ImportStateOut,
    /// Checked only (a dry run), or committed when it has no errors.
    pub dry_run: bool,
    pub file_sha256: String,
    pub file_bytes: i64,
    pub progress: ImportProgress,
    /// Workers that took it (more than one after a server restart).
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The report, once checked, rejected for its rows' errors or committed.
    #[schema(value_type = Option<ImportReportOut>)]
    pub report: Option<serde_json::Value>,
    pub problem: Option<ImportProblemOut>,
    pub url: String,
}

impl From<JobView> for ImportJobOut {
    fn from(j: JobView) -> Self {
        ImportJobOut {
            url: job_url(j.id),
            id: j.id,
            form: j.form,
            state: j.state.into(),
            dry_run: j.dry_run,
            file_sha256: j.file_sha256,
            file_bytes: j.file_bytes,
            progress: ImportProgress {
                rows_total: j.rows_total,
                rows_read: j.rows_read,
                rows_checked: j.rows_checked,
                rows_written: j.rows_written,
                percent: j.percent,
                elapsed_seconds: j.elapsed_seconds,
            },
            attempts: j.attempts,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            report: j.report,
            problem: j
                .problem
                .map(|(code, message)| ImportProblemOut { code, message }),
        }
    }
}

/// A page of import jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobPage {
    pub items: Vec<ImportJobOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// `true`: the request runs the commit itself and answers its report.
    pub wait: Option<bool>,
}

/// The caller's institution's imports, newest first: state, progress and
/// report of each.
#[utoipa::path(
    tag = "excel",
    operation_id = "listImports",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = ImportJobPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/imports")]
pub async fn list_imports(
    state: web::Data<AppState>,
    auth: Authenticated,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<ImportJobPage>> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let rows = jobs::list(&state.pool, &auth, after, limit + 1).await?;
    let page = Page::from_rows(rows, limit, |j| j.id, ImportJobOut::from);
    Ok(web::Json(ImportJobPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One import of the caller's institution: its state (`queued`,
/// `checking`, `checked`, `committing`, `committed`, `rejected`, `failed`,
/// `cancelled`), progress (rows read, checked, written, percent, elapsed)
/// and, once ended, its report or the problem that stopped it. Another
/// institution's import answers 404.
#[utoipa::path(
    tag = "excel",
    operation_id = "readImport",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = ImportJobOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/imports/{id}")]
pub async fn read_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ImportJobOut>> {
    let job = jobs::read(&state.pool, &auth, id.into_inner()).await?;
    Ok(web::Json(job.into()))
}

/// Cancels an import of the caller's institution not yet committed
/// (audited): a job being checked stops, one committing stops before its
/// transaction commits, so nothing of it is written. A committed (or
/// otherwise ended) import answers 409 `invalid_import_transition`.
#[utoipa::path(
    tag = "excel",
    operation_id = "cancelImport",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The import, cancelled", body = ImportJobOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already committed or ended", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/excel/imports/{id}")]
pub async fn cancel_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ImportJobOut>> {
    let job = jobs::cancel(&state.pool, &auth, id.into_inner()).await?;
    Ok(web::Json(job.into()))
}

/// Commits a checked dry run (state `checked`) of the caller's
/// institution: its rows are checked again against what is stored now and
/// written in one transaction. 202 with the job's URL, or with `wait=true`
/// the report (200) or the problem. Workbooks of users are committed by
/// uploading them with `dry_run=false` instead (409 here).
#[utoipa::path(
    tag = "excel",
    operation_id = "commitImport",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), WaitQuery),
    responses(
        (status = 200, description = "`wait=true`: the committed import's report", body = ImportReportOut),
        (status = 202, description = "The commit is queued: poll the URL in `Location`", body = ImportAccepted),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a checked dry run, or the file was already committed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`wait=true`: the rows have errors now", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many imports under way (`imports_busy`)", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/excel/imports/{id:[0-9a-fA-F]+-[0-9a-fA-F-]+}/commit")]
pub async fn commit_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<WaitQuery>,
) -> ApiResult<HttpResponse> {
    let wait = query.wait.unwrap_or(false);
    let may = |form| {
        auth.actor
            .can(excel_form_permission(form, ExcelUse::Import))
    };
    let submitted = jobs::commit(
        &state.imports,
        &state.pool,
        &auth,
        id.into_inner(),
        wait,
        may,
    )
    .await?;
    answer(submitted, ImportState::Committing)
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
