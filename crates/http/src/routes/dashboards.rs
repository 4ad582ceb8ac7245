//! Dashboards (tableros de control) and the SESNSP and GLOTIP breakdowns:
//! the figures of `sintra_services::figures`, as JSON or downloaded
//! (`?format=xlsx`, `?format=csv`).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use sintra_domain::figures::DashboardKey;
use sintra_domain::i18n::{Lang, Message};
use sintra_domain::validation::FieldError;
use sintra_persistence::db;
use sintra_services::figures::{self, FiguresError, RawFilters};
use utoipa::IntoParams;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use sintra_domain::validation::FieldCode;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV: &str = "text/csv; charset=utf-8";

/// The dashboards, each with its groupings, filters and tables.
#[utoipa::path(
    tag = "dashboards",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "[{name, label, reference_date, group_by, filters, tables: [{key, title, rows_by, columns_by}], suppressible}]", body = Object),
        (status = 403, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/dashboards")]
pub async fn list_dashboards(auth: Authenticated) -> ApiResult<HttpResponse> {
    auth.require(sintra_domain::access::Permission::ReadAggregates)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": figures::dashboards() })))
}

/// The query of a dashboard. Each dashboard takes the subset
/// `GET /dashboards` lists; any other parameter is refused.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DashboardQuery {
    /// First day counted, `YYYY-MM-DD`, by the dashboard's reference date.
    from: Option<String>,
    /// Last day counted, `YYYY-MM-DD` (inclusive).
    to: Option<String>,
    /// INEGI entity code (`01`..`32`, `00` federal).
    entity_code: Option<String>,
    /// INEGI municipality code (CVEGEO, five digits); victims only.
    municipality_code: Option<String>,
    /// An institution of the caller's scope.
    institution_id: Option<String>,
    /// `month`, `quarter`, `year`, `entity`, `municipality` or
    /// `institution`, as the dashboard allows.
    group_by: Option<String>,
    /// `json` (default), `xlsx` (a sheet per table, Spanish labels,
    /// withheld figures marked `*`, the filters and the moment of
    /// extraction on each sheet) or `csv` (one line per figure).
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xlsx,
    Csv,
}

/// The figures of one dashboard in the caller's scope: tables with codes
/// and Spanish/English labels, totals, the filters applied and, for roles
/// without access to personal data, which figures were withheld (counts of
/// 1 to 4, and the complementary figures that would give them away).
/// `name`: `victims`, `judicialization`, `commissions`, `data_quality`,
/// `sesnsp`, `glotip`.
#[utoipa::path(
    tag = "dashboards",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The dashboard"), DashboardQuery),
    responses(
        (status = 200, description = "{dashboard, title, reference_date, filters, extracted_at, suppression, tables: [{key, title, unit, rows_by, columns_by, margins, columns, rows: [{code, label, cells, total}], column_totals, grand_total, suppressed: [{row, column}], note}]}", body = Object),
        (status = 200, description = "The workbook (`format=xlsx`)", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 200, description = "The CSV (`format=csv`)", content_type = "text/csv"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dashboard", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown filter, bad value, control characters", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/dashboards/{name}")]
pub async fn get_dashboard(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    name: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    auth.require(sintra_domain::access::Permission::ReadAggregates)?;
    let dashboard: DashboardKey = name.parse().map_err(|_| ApiError::NotFound)?;
    let mut values = query.into_inner();
    let format = match values.remove("format").as_deref() {
        None | Some("json") => Format::Json,
        Some("xlsx") => Format::Xlsx,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "format",
                FieldCode::InvalidFilter,
                Message::new(
                    "El formato debe ser json, xlsx o csv.",
                    "The format must be json, xlsx or csv.",
                ),
            )]))
        }
    };
    let mut conn = db::conn(&state.pool).await?;
    let figures = figures::compute(&mut conn, &auth.actor, dashboard, &RawFilters::new(values))
        .await
        .map_err(|e| match e {
            FiguresError::Forbidden => ApiError::forbidden(),
            FiguresError::Invalid(errors) => ApiError::Validation(errors),
            FiguresError::Store(e) => e.into(),
        })?;
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|h| h.to_str().ok()),
    );
    let file = |ext: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"tablero-{}-{}.{ext}\"",
                dashboard.as_str(),
                figures.extracted_at.format("%Y%m%dT%H%M%SZ")
            ),
        )
    };
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(&figures),
        Format::Xlsx => {
            let bytes = sintra_excel::figures::workbook(&figures, lang)
                .map_err(|e| ApiError::Internal(format!("dashboard workbook: {e}")))?;
            HttpResponse::Ok()
                .content_type(XLSX)
                .insert_header(file("xlsx"))
                .body(bytes)
        }
        Format::Csv => {
            let bytes = sintra_excel::figures::csv(&figures, lang)
                .map_err(|e| ApiError::Internal(format!("dashboard csv: {e}")))?;
            HttpResponse::Ok()
                .content_type(CSV)
                .insert_header(file("csv"))
                .body(bytes)
        }
    })
}
