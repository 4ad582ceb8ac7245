//! The judicialization module (módulo de judicialización): investigations,
//! criminal cases and their procedural events, defendants and sentences,
//! and the counts SESNSP publishes. Consistency between them (a case not
//! judicialized before its investigation, events in date order, a stage
//! that only moves back after an appeal, an abbreviated procedure only
//! before the trial) lives in `sintra_domain::consistency`.
//!
//! Each record route's handler is written out (a grep for its path finds
//! it) and calls the generic step of `crate::records`; none has a doc
//! comment, which utoipa would publish: the finishing pass describes each
//! record operation from its resource (`openapi/resources.rs`).

use std::collections::{BTreeMap, HashMap};

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sintra_domain::access::Permission;
use sintra_domain::i18n::Message;
use sintra_domain::suppression;
use sintra_domain::validation::{CatalogLookup, FieldError};
use sintra_persistence::judicialization::{self as store, CountCell, CountFilter};
use sintra_persistence::{catalogs, db};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::openapi::resources::{
    CRIMINAL_CASES, DEFENDANTS, INVESTIGATIONS, PROCEDURAL_EVENTS, SENTENCES,
};
use crate::openapi::Action;
use crate::records::{
    self, ChildCreateAnswers, ChildListAnswers, ChildPage, CreateAnswers, IdempotencyKey,
    ListAnswers, ReadAnswers, RecordPage, UpdateAnswers, UpsertAnswers, VersionMatch,
};
use crate::state::AppState;
use sintra_domain::validation::FieldCode;
use sintra_services::records::invalid_filter;

// Investigations (carpetas de investigación and averiguaciones previas);
// `victim_ids` links victims by id, or by the sender's own `victim_folios`,
// and shows only their ids.

#[utoipa::path(
    operation_id = Action::List.name(&INVESTIGATIONS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/investigations")]
pub async fn list_investigations(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &INVESTIGATIONS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&INVESTIGATIONS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/investigations")]
pub async fn create_investigation(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &INVESTIGATIONS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&INVESTIGATIONS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/investigations/{id}")]
pub async fn read_investigation(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &INVESTIGATIONS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&INVESTIGATIONS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/investigations/{id}")]
pub async fn update_investigation(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &INVESTIGATIONS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&INVESTIGATIONS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/investigations/by-folio/{external_folio}")]
pub async fn upsert_investigation(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &INVESTIGATIONS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Criminal cases (causas penales); a case is not judicialized before its
// investigation opened, and its stage moves back only after an IMPUGNACION
// event.

#[utoipa::path(
    operation_id = Action::List.name(&CRIMINAL_CASES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/criminal-cases")]
pub async fn list_criminal_cases(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &CRIMINAL_CASES, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&CRIMINAL_CASES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/criminal-cases")]
pub async fn create_criminal_case(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &CRIMINAL_CASES, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&CRIMINAL_CASES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/criminal-cases/{id}")]
pub async fn read_criminal_case(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &CRIMINAL_CASES, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&CRIMINAL_CASES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/criminal-cases/{id}")]
pub async fn update_criminal_case(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &CRIMINAL_CASES,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&CRIMINAL_CASES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/criminal-cases/by-folio/{external_folio}")]
pub async fn upsert_criminal_case(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &CRIMINAL_CASES,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Defendants (personas imputadas) of criminal cases.

#[utoipa::path(
    operation_id = Action::List.name(&DEFENDANTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/defendants")]
pub async fn list_defendants(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &DEFENDANTS, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&DEFENDANTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/defendants")]
pub async fn create_defendant(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &DEFENDANTS, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&DEFENDANTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/defendants/{id}")]
pub async fn read_defendant(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &DEFENDANTS, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&DEFENDANTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/defendants/{id}")]
pub async fn update_defendant(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &DEFENDANTS,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&DEFENDANTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/defendants/by-folio/{external_folio}")]
pub async fn upsert_defendant(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &DEFENDANTS,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// Sentences, one per defendant and crime; not dated before the case's
// judicialization, and by abbreviated procedure only before the trial
// opened.

#[utoipa::path(
    operation_id = Action::List.name(&SENTENCES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(RecordPage),
    responses(ListAnswers)
)]
#[get("/sentences")]
pub async fn list_sentences(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    records::list(&state, &auth, &SENTENCES, query.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Create.name(&SENTENCES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = Object, description = "The form's fields"),
    responses(CreateAnswers)
)]
#[post("/sentences")]
pub async fn create_sentence(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::create(&state, &auth, &SENTENCES, &req, body.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Read.name(&SENTENCES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(ReadAnswers)
)]
#[get("/sentences/{id}")]
pub async fn read_sentence(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    records::read(&state, &auth, &SENTENCES, id.into_inner()).await
}

#[utoipa::path(
    operation_id = Action::Update.name(&SENTENCES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), VersionMatch),
    request_body(content = Object, description = "The fields to change"),
    responses(UpdateAnswers)
)]
#[patch("/sentences/{id}")]
pub async fn update_sentence(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::update(
        &state,
        &auth,
        &SENTENCES,
        &req,
        id.into_inner(),
        body.into_inner(),
    )
    .await
}

#[utoipa::path(
    operation_id = Action::Upsert.name(&SENTENCES),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("external_folio" = String, Path)),
    request_body(content = Object, description = "The form's fields"),
    responses(UpsertAnswers)
)]
#[put("/sentences/by-folio/{external_folio}")]
pub async fn upsert_sentence(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    folio: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    records::upsert(
        &state,
        &auth,
        &SENTENCES,
        &req,
        folio.into_inner(),
        body.into_inner(),
    )
    .await
}

// The dated timeline of a criminal case (procedural events), in the order
// recorded, which is date order.
#[utoipa::path(
    operation_id = Action::List.name(&PROCEDURAL_EVENTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ChildPage),
    responses(ChildListAnswers)
)]
#[get("/criminal-cases/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let (parent_id, query) = (id.into_inner(), query.into_inner());
    records::list_children(
        &state,
        &auth,
        &CRIMINAL_CASES,
        &PROCEDURAL_EVENTS,
        parent_id,
        query,
    )
    .await
}

// Record a procedural event of a criminal case (audiencia inicial,
// vinculación, medidas cautelares, acusación, apertura a juicio, …). Its
// date may not precede the case's judicialization nor the latest event
// already recorded: send a history oldest first.
#[utoipa::path(
    operation_id = Action::Create.name(&PROCEDURAL_EVENTS),
    tag = "judicialization",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "The form's fields (the parent comes from the path)"),
    responses(ChildCreateAnswers)
)]
#[post("/criminal-cases/{id}/events")]
pub async fn create_event(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let (parent_id, body) = (id.into_inner(), body.into_inner());
    records::create_child(
        &state,
        &auth,
        &CRIMINAL_CASES,
        &PROCEDURAL_EVENTS,
        &req,
        parent_id,
        body,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// `month` (default) or `entity`.
    pub group_by: Option<String>,
    /// First day counted, `YYYY-MM-DD` (inclusive).
    pub from: Option<String>,
    /// Last day counted, `YYYY-MM-DD` (inclusive).
    pub to: Option<String>,
    /// `COMUN` or `FEDERAL` (catalog fuero); SESNSP publishes fuero común.
    pub fuero: Option<String>,
}

/// Counts 1 to 4 are withheld from callers without access to personal data
/// (the rule of `sintra_domain::suppression`, shared with the dashboards).
const THRESHOLD: i64 = suppression::THRESHOLD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Month,
    Entity,
}

fn parse_date(key: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let v = value?;
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(invalid_filter(key));
            None
        }
    }
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn month_end(d: NaiveDate) -> NaiveDate {
    let next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).unwrap_or(d)
}

/// One figure: the sum of the finest cells shown, and how many nonzero
/// finest cells were withheld from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Figure {
    shown: i64,
    withheld: u32,
}

impl Figure {
    fn add(&mut self, n: i64, suppress: bool) {
        if suppress && suppression::is_small(n) {
            self.withheld += 1;
        } else {
            self.shown += n;
        }
    }

    /// The exact count; `"<5"` when it is one withheld cell and nothing
    /// else; otherwise what is shown, its path listed in `partial`.
    fn render(&self, path: &str, partial: &mut Vec<String>) -> Value {
        match (self.withheld, self.shown) {
            (0, n) => json!(n),
            (1, 0) => json!("<5"),
            (_, n) => {
                partial.push(path.to_string());
                json!(n)
            }
        }
    }
}

/// The path of a finest cell's figure within a row.
fn path(cell: &CountCell) -> Option<String> {
    match cell.measure.as_str() {
        "investigations" | "criminal_cases" | "defendants" => Some(cell.measure.clone()),
        "sentences" => match cell.dim_a.as_deref() {
            Some("CONDENATORIA") => Some("sentences.condenatorias".into()),
            Some("ABSOLUTORIA") => Some("sentences.absolutorias".into()),
            _ => None,
        },
        "victims" => Some(format!(
            "victims.{}.{}",
            cell.dim_a.as_deref().unwrap_or("NO_IDENTIFICADO"),
            cell.dim_b.as_deref().unwrap_or("NO_ESPECIFICADA")
        )),
        _ => None,
    }
}

/// One row (or the totals) as the response shows it.
fn render_row(figures: &BTreeMap<String, Figure>) -> Map<String, Value> {
    let mut partial = vec![];
    let mut out = Map::new();
    let get = |p: &str| figures.get(p).copied().unwrap_or_default();
    for measure in ["investigations", "criminal_cases", "defendants"] {
        out.insert(measure.into(), get(measure).render(measure, &mut partial));
    }
    out.insert(
        "sentences".into(),
        json!({
            "condenatorias": get("sentences.condenatorias").render("sentences.condenatorias", &mut partial),
            "absolutorias": get("sentences.absolutorias").render("sentences.absolutorias", &mut partial),
        }),
    );
    let mut victims = vec![];
    for (p, figure) in figures.range("victims.".to_string()..) {
        let Some(rest) = p.strip_prefix("victims.") else {
            break;
        };
        let (sex, age_group) = rest.split_once('.').unwrap_or((rest, ""));
        victims.push(json!({
            "sex": sex,
            "age_group": age_group,
            "count": figure.render(p, &mut partial),
        }));
    }
    out.insert("victims".into(), Value::Array(victims));
    out.insert("partial".into(), json!(partial));
    out
}

/// Sums the finest cells into rows and totals, withholding cells of 1 to 4
/// first when `suppress`: every figure shown is a sum of cells that are 0
/// or at least 5, so no difference between two answers recovers a small
/// cell.
fn aggregate(cells: &[CountCell], group_by: GroupBy, suppress: bool) -> (Vec<Value>, Value) {
    let mut rows: BTreeMap<String, BTreeMap<String, Figure>> = BTreeMap::new();
    let mut totals: BTreeMap<String, Figure> = BTreeMap::new();
    for cell in cells {
        let Some(p) = path(cell) else { continue };
        let key = match group_by {
            GroupBy::Month => cell.month.clone(),
            GroupBy::Entity => cell.entity_code.clone(),
        };
        rows.entry(key)
            .or_default()
            .entry(p.clone())
            .or_default()
            .add(cell.n, suppress);
        totals.entry(p).or_default().add(cell.n, suppress);
    }
    let key_name = match group_by {
        GroupBy::Month => "month",
        GroupBy::Entity => "entity_code",
    };
    let rows = rows
        .into_iter()
        .map(|(key, figures)| {
            let mut row = Map::new();
            row.insert(key_name.into(), key.into());
            row.extend(render_row(&figures));
            Value::Object(row)
        })
        .collect();
    (rows, Value::Object(render_row(&totals)))
}

/// Counts of the judicialization funnel in the caller's scope, comparable
/// with SESNSP's: investigations by month of opening, criminal cases and
/// their defendants by month of judicialization, sentences (condenatorias,
/// absolutorias) by month handed down, and the victims of the
/// investigations by sex and age group (`0_17`, `18_MAS`, or
/// `NO_ESPECIFICADA`; age at the opening from the birth date, else the age
/// at detection), by entity of the fiscalía or by month. Analysts get figures
/// with counts of 1 to 4 withheld (`"<5"`) and dates widened to whole months
/// (see `suppression` in the answer).
#[utoipa::path(
    tag = "judicialization",
    security(("bearer" = [])),
    params(CountsQuery),
    responses(
        (status = 200, description = "{group_by, from, to, fuero, rows, totals, suppression, definitions}", body = Object),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/judicialization/counts")]
pub async fn counts(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<CountsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Permission::ReadAggregates)?;
    let q = query.into_inner();
    let mut errors = vec![];
    let group_by = match q.group_by.as_deref() {
        None | Some("month") => GroupBy::Month,
        Some("entity") => GroupBy::Entity,
        Some(_) => {
            errors.push(invalid_filter("group_by"));
            GroupBy::Month
        }
    };
    let mut from = parse_date("from", q.from.as_deref(), &mut errors);
    let mut to = parse_date("to", q.to.as_deref(), &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push(FieldError::new(
                "to",
                FieldCode::InvalidFilter,
                Message::new(
                    "La fecha final no puede ser anterior a la inicial.",
                    "The end date cannot precede the start date.",
                ),
            ));
        }
    }
    let fuero = q.fuero.as_deref().map(|f| f.trim().to_uppercase());
    let mut conn = db::conn(&state.pool).await?;
    if let Some(f) = &fuero {
        let known = catalogs::snapshot(&mut conn, &[("fuero".to_string(), f.clone())])
            .await?
            .lookup("fuero", f)
            .is_some();
        if !known {
            errors.push(invalid_filter("fuero"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // Day-level ranges would let two answers differ by a few days' worth of
    // a withheld cell; whole months keep every range a sum of whole cells.
    let suppress = !auth.actor.can(Permission::ReadPersonalData);
    if suppress {
        from = from.map(month_start);
        to = to.map(month_end);
    }
    let filter = CountFilter {
        from: from.map(|d| d.to_string()),
        to: to.map(|d| d.to_string()),
        fuero: fuero.clone(),
    };
    let cells = store::counts(&mut conn, &auth.actor.scope(), &filter).await?;
    let (rows, totals) = aggregate(&cells, group_by, suppress);
    let suppression = if suppress {
        json!({
            "applied": true,
            "threshold": THRESHOLD,
            "note": Message::new(
                "Las cifras de 1 a 4 se omiten («<5») por cada entidad, mes, fuero y desglose; las \
                 sumas (filas agregadas y totales) se calculan solo con las cifras no omitidas, y \
                 «partial» lista las que dejan fuera alguna cifra omitida. Las fechas se amplían \
                 a meses completos.",
                "Counts of 1 to 4 are withheld (\"<5\") per entity, month, fuero and breakdown; \
                 sums (aggregated rows and totals) add up the figures not withheld only, and \
                 \"partial\" lists those that leave a withheld figure out. Dates are widened to \
                 whole months.",
            ),
        })
    } else {
        json!({"applied": false, "threshold": THRESHOLD})
    };
    Ok(HttpResponse::Ok().json(json!({
        "group_by": match group_by { GroupBy::Month => "month", GroupBy::Entity => "entity" },
        "from": from.map(|d| d.to_string()),
        "to": to.map(|d| d.to_string()),
        "fuero": fuero,
        "rows": rows,
        "totals": totals,
        "suppression": suppression,
        "definitions": Message::new(
            "Investigaciones por mes de inicio; causas penales y personas imputadas por mes de \
             judicialización de la causa; sentencias por mes en que se dictaron; víctimas de las \
             investigaciones (una por vínculo) por mes de inicio de la investigación, sexo y grupo \
             de edad al inicio. Entidad: la de la fiscalía que integra la investigación.",
            "Investigations by month opened; criminal cases and defendants by month the case was \
             judicialized; sentences by month handed down; victims of the investigations (one \
             per link) by month the investigation opened, sex and age group at the opening. \
             Entity: that of the prosecutor's office conducting the investigation.",
        ),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(measure: &str, entity: &str, month: &str, n: i64) -> CountCell {
        CountCell {
            measure: measure.into(),
            entity_code: entity.into(),
            month: month.into(),
            fuero: Some("COMUN".into()),
            dim_a: None,
            dim_b: None,
            n,
        }
    }

    #[test]
    fn exact_figures_for_those_who_may_read_records() {
        let cells = vec![
            cell("investigations", "19", "2024-01", 3),
            cell("investigations", "19", "2024-02", 7),
        ];
        let (rows, totals) = aggregate(&cells, GroupBy::Month, false);
        assert_eq!(rows[0]["month"], "2024-01");
        assert_eq!(rows[0]["investigations"], 3);
        assert_eq!(totals["investigations"], 10);
        assert_eq!(totals["partial"], json!([]));
    }

    #[test]
    fn small_cells_are_withheld_and_never_leak_through_sums() {
        let mut sentence = cell("sentences", "19", "2024-01", 2);
        sentence.dim_a = Some("CONDENATORIA".into());
        let cells = vec![
            cell("investigations", "19", "2024-01", 3),
            cell("investigations", "19", "2024-02", 7),
            cell("investigations", "19", "2024-03", 0),
            sentence,
        ];
        let (rows, totals) = aggregate(&cells, GroupBy::Month, true);
        assert_eq!(rows[0]["investigations"], "<5");
        assert_eq!(rows[0]["sentences"]["condenatorias"], "<5");
        assert_eq!(rows[0]["sentences"]["absolutorias"], 0);
        assert_eq!(rows[1]["investigations"], 7);
        assert_eq!(rows[2]["investigations"], 0);
        assert_eq!(totals["investigations"], 7, "the withheld 3 is not added");
        assert_eq!(totals["partial"], json!(["investigations"]));

        // By entity the three months fold into one row: still 7, flagged.
        let (rows, _) = aggregate(&cells, GroupBy::Entity, true);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["entity_code"], "19");
        assert_eq!(rows[0]["investigations"], 7);
        assert!(rows[0]["partial"]
            .as_array()
            .unwrap()
            .contains(&json!("investigations")));
    }

    #[test]
    fn victims_are_broken_down_by_sex_and_age_group() {
        let mut girls = cell("victims", "19", "2024-01", 6);
        girls.dim_a = Some("MUJER".into());
        girls.dim_b = Some("0_17".into());
        let mut men = cell("victims", "19", "2024-01", 1);
        men.dim_a = Some("HOMBRE".into());
        men.dim_b = Some("18_MAS".into());
        let (rows, _) = aggregate(&[girls, men], GroupBy::Month, true);
        let victims = rows[0]["victims"].as_array().unwrap();
        assert_eq!(
            victims[0],
            json!({"sex": "HOMBRE", "age_group": "18_MAS", "count": "<5"})
        );
        assert_eq!(
            victims[1],
            json!({"sex": "MUJER", "age_group": "0_17", "count": 6})
        );
    }

    #[test]
    fn months_are_widened_whole() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 10).unwrap();
        assert_eq!(month_start(d).to_string(), "2024-02-01");
        assert_eq!(month_end(d).to_string(), "2024-02-29");
        let dec = NaiveDate::from_ymd_opt(2023, 12, 5).unwrap();
        assert_eq!(month_end(dec).to_string(), "2023-12-31");
    }
}
