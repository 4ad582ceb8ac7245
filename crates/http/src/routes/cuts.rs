//! Quarterly cuts (national admin): taking one freezes a quarter — it
//! closes it in every entity still open and stores its record counts per
//! entity and form, with the (id, version) of every record counted; the
//! cut's digest goes into the audit chain.

use actix_web::{get, http::header, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_domain::access::Permission;
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldError;
use sintra_services::cuts::{self, CutView};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::periods::NationalCloseOut;
use crate::state::AppState;
use sintra_domain::validation::FieldCode;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CutOut {
    pub id: Uuid,
    pub year: i32,
    pub quarter: u8,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Uuid,
    /// The frozen figures as the caller's scope reads them:
    /// `{"record_counts": [{entity_code, form, records}], "dashboards":
    /// {name: figures}}`, plus `entity_code` when they are one entity's
    /// (`records` is `null` with `withheld: true` for a count of 1 to 4 an
    /// analyst may not read).
    #[schema(value_type = Object)]
    pub figures: serde_json::Value,
    /// How many records the cut counted.
    pub record_count: i64,
    /// SHA-256 of `id:version` of every counted record, by id, comma-joined.
    pub records_digest: String,
    /// SHA-256 of the figures (keys sorted), `|`, and `records_digest`: what
    /// the audit chain holds.
    pub digest: String,
    /// On a single cut's read: whether its stored records and figures still
    /// hash to its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

impl From<CutView> for CutOut {
    fn from(c: CutView) -> CutOut {
        CutOut {
            id: c.id,
            year: c.year,
            quarter: c.quarter,
            taken_at: c.taken_at,
            taken_by: c.taken_by,
            figures: c.figures,
            record_count: c.record_count,
            records_digest: c.records_digest,
            digest: c.digest,
            verified: c.verified,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CutRequest {
    pub year: i32,
    /// 1 to 4.
    pub quarter: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TakenCutOut {
    pub cut: CutOut,
    /// The entities the cut closed, and those already closed.
    pub closed: NationalCloseOut,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CutList {
    pub items: Vec<CutOut>,
}

/// Take the cut of a quarter: closes it in every entity still open, then
/// stores its record counts and the (id, version) of every record counted.
#[utoipa::path(
    tag = "periods",
    security(("bearer" = [])),
    request_body = CutRequest,
    responses(
        (status = 201, body = TakenCutOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cuts")]
pub async fn take(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: web::Json<CutRequest>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ManageCuts)?;
    let CutRequest { year, quarter } = body.into_inner();
    let taken = cuts::take(&state.pool, &auth, year, quarter).await?;
    Ok(HttpResponse::Created().json(TakenCutOut {
        cut: taken.cut.into(),
        closed: taken.closed.into(),
    }))
}

/// Which entity's figures the national admin reads (others read their own).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CutQuery {
    /// The national admin may read one entity's figures (INEGI code); an
    /// entity's administrator and analysts always read their own.
    pub entity_code: Option<String>,
}

/// Every cut, newest first, with the figures the caller's scope reads.
#[utoipa::path(
    tag = "periods",
    operation_id = "listCuts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CutList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cuts")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> ApiResult<web::Json<CutList>> {
    auth.require(Permission::ReadCuts)?;
    let items = cuts::list(&state.pool, &auth).await?;
    Ok(web::Json(CutList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// One cut, with its proof recomputed (`verified`) and the figures the
/// caller's scope reads: the country's for the national admin (or one
/// entity's with `entity_code`), the entity's own for its administrator,
/// with counts of 1 to 4 withheld for its analysts.
#[utoipa::path(
    tag = "periods",
    operation_id = "readCut",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), CutQuery),
    responses(
        (status = 200, body = CutOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cuts/{id}")]
pub async fn read(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<CutQuery>,
) -> ApiResult<web::Json<CutOut>> {
    auth.require(Permission::ReadCuts)?;
    let cut = cuts::get(
        &state.pool,
        &auth,
        id.into_inner(),
        query.entity_code.as_deref(),
    )
    .await?;
    Ok(web::Json(cut.into()))
}

/// The official quarterly report of a cut as a workbook: a cover with
/// the quarter, the moment, the scope, the digest and whether it still
/// verifies; the record counts; a sheet per table of every dashboard.
#[utoipa::path(
    tag = "periods",
    operation_id = "downloadCutWorkbook",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), CutQuery),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cuts/{id}.xlsx")]
pub async fn workbook(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<CutQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ReadCuts)?;
    let (cut, bytes) = cuts::workbook(
        &state.pool,
        &auth,
        id.into_inner(),
        query.entity_code.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"corte-{}-T{}-{}.xlsx\"",
                cut.year,
                cut.quarter,
                cut.figures
                    .get("entity_code")
                    .and_then(|v| v.as_str())
                    .unwrap_or("nacional")
            ),
        ))
        .body(bytes))
}

/// What a cut is compared with.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// `now` (default): the records and figures as they stand; or the id of
    /// a later cut of the same quarter.
    pub against: Option<String>,
    /// As in `GET /cuts/{id}`.
    pub entity_code: Option<String>,
    /// The most records listed (1 to 5,000; 1,000 by default).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<i64>,
}

/// A figure that differs; withheld figures are `null` on their side.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FigureChangeOut {
    /// `record_counts`, or the dashboard's name.
    pub source: String,
    /// The dashboard's table (`null` for record counts).
    pub table: Option<String>,
    /// Row code (`_total`: column totals); the entity for record counts.
    pub row: String,
    /// Column code (`_total`: the row's total); the form for record counts.
    pub column: String,
    #[schema(value_type = Option<f64>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<f64>)]
    pub after: Option<serde_json::Value>,
    /// `after − before` when both are published.
    #[schema(value_type = Option<f64>)]
    pub delta: Option<serde_json::Value>,
}

/// A record that explains a difference.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordChangeOut {
    pub record_id: Uuid,
    pub form: String,
    /// `registered_late`, `moved_into_period`, `moved_out_of_period`,
    /// `removed`, `changed_after_cut`, `moved_between_entities` or
    /// `merged_as_duplicate`.
    pub change: String,
    pub version_before: Option<i32>,
    pub version_after: Option<i32>,
    pub entity_before: Option<String>,
    pub entity_after: Option<String>,
    /// The other record of a merge.
    pub other_record_id: Option<Uuid>,
    /// The sender's folio, for roles that read personal data.
    pub external_folio: Option<String>,
    /// Who made the change (username), from the audit log.
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    /// The audit action (`create`, `update`, `duplicate_confirmed`, …).
    pub action: Option<String>,
}

/// Why the figures changed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CutDiffOut {
    pub cut_id: Uuid,
    pub year: i32,
    pub quarter: u8,
    /// `now`, or the later cut's id.
    pub against: String,
    pub against_at: DateTime<Utc>,
    /// The entity compared (`null`: the country).
    pub entity_code: Option<String>,
    pub figures: Vec<FigureChangeOut>,
    pub records: Vec<RecordChangeOut>,
    /// How many records differ; `records` stops at `limit`.
    pub records_total: i64,
}

impl From<cuts::CutDiff> for CutDiffOut {
    fn from(d: cuts::CutDiff) -> CutDiffOut {
        let value = |f: Option<sintra_domain::figures::Figure>| {
            f.map(|f| serde_json::to_value(f).unwrap_or(serde_json::Value::Null))
        };
        CutDiffOut {
            cut_id: d.cut_id,
            year: d.year,
            quarter: d.quarter,
            against: d.against,
            against_at: d.against_at,
            entity_code: d.entity_code,
            figures: d
                .figures
                .into_iter()
                .map(|f| FigureChangeOut {
                    source: f.source,
                    table: f.table,
                    row: f.row,
                    column: f.column,
                    before: value(f.before),
                    after: value(f.after),
                    delta: value(f.delta),
                })
                .collect(),
            records: d
                .records
                .into_iter()
                .map(|r| RecordChangeOut {
                    record_id: r.record_id,
                    form: r.form,
                    change: serde_json::to_value(r.change)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    version_before: r.version_before,
                    version_after: r.version_after,
                    entity_before: r.entity_before,
                    entity_after: r.entity_after,
                    other_record_id: r.other_record_id,
                    external_folio: r.external_folio,
                    changed_by: r.changed_by,
                    changed_at: r.changed_at,
                    action: r.action,
                })
                .collect(),
            records_total: d.records_total,
        }
    }
}

/// Why did the figure change: every figure that differs between a cut and
/// the present (`against=now`) or a later cut of its quarter, by how much,
/// and the records that explain it (registered late with a date in the
/// quarter, changed after the cut, moved between entities or out of the
/// quarter, merged as duplicates), each with who did it and when from the
/// audit log. In the caller's scope; folios only for roles that read
/// personal data.
#[utoipa::path(
    tag = "periods",
    operation_id = "diffCut",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), DiffQuery),
    responses(
        (status = 200, body = CutDiffOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cuts/{id}/diff")]
pub async fn diff(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<DiffQuery>,
) -> ApiResult<web::Json<CutDiffOut>> {
    auth.require(Permission::ReadCuts)?;
    let DiffQuery {
        against,
        entity_code,
        limit,
    } = query.into_inner();
    let against = match against.as_deref() {
        None | Some("now") => cuts::AgainstWhat::Now,
        Some(other) => cuts::AgainstWhat::Cut(other.parse().map_err(|_| {
            ApiError::Validation(vec![FieldError {
                field: "against".into(),
                code: FieldCode::Invalid,
                message: Message::new(
                    "Indique «now» o el identificador de un corte posterior.",
                    "Give «now» or the id of a later cut.",
                ),
            }])
        })?),
    };
    if limit.is_some_and(|l| !(1..=cuts::DIFF_MAX_RECORDS).contains(&l)) {
        return Err(ApiError::Validation(vec![FieldError {
            field: "limit".into(),
            code: FieldCode::OutOfRange,
            message: Message::new(
                "El límite va de 1 a 5,000.",
                "The limit goes from 1 to 5,000.",
            ),
        }]));
    }
    let d = cuts::diff(
        &state.pool,
        &auth,
        id.into_inner(),
        against,
        entity_code.as_deref(),
        limit.unwrap_or(1_000),
    )
    .await?;
    Ok(web::Json(d.into()))
}
