//! The published form specs: what frontends and state systems build their
//! forms, templates and validations from. The same specs drive validation,
//! Excel, masking and the audit diff on the server.
//!
//! Labels, help texts and the order of fields show as the national admin
//! adjusted them (`/forms/{form}/labels`, `sintra_services::labels`); keys,
//! types and rules are the built-in ones, as the OpenAPI contract has them.

use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sintra_domain::forms::FormKey;
use sintra_services::labels::{self, FieldLabels, FormLabels, LabelInput, LabelVersion, Shown};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{etag, if_match};
use crate::state::AppState;

/// Every form spec: key, labels, fields with type, catalog, limits,
/// whether required and whether personal data.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    responses((status = 200, description = "The form specs", body = Vec<Object>))
)]
#[get("/forms")]
pub async fn list_forms(
    state: web::Data<AppState>,
    _auth: Authenticated,
) -> ApiResult<HttpResponse> {
    let mut conn = sintra_persistence::db::conn(&state.pool).await?;
    let specs = labels::effective_specs(&mut conn).await?;
    let body: Vec<Value> = FormKey::ALL
        .into_iter()
        .map(|f| specs.spec(f).to_json())
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// One form spec, with its JSON Schema under `schema`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    params(("form" = String, Path, description = "commission, session, agreement, agreement_follow_up, victim, attention, investigation, criminal_case, procedural_event, defendant, sentence, catalog_item or user")),
    responses((status = 200, description = "The form spec", body = Object), (status = 404, body = crate::error::Problem, content_type = "application/problem+json"))
)]
#[get("/forms/{form}")]
pub async fn get_form(
    state: web::Data<AppState>,
    _auth: Authenticated,
    form: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key: FormKey = form.parse().map_err(|_| ApiError::NotFound)?;
    let mut conn = sintra_persistence::db::conn(&state.pool).await?;
    let spec = labels::effective_spec(&mut conn, key).await?;
    let mut body = spec.to_json();
    if let Value::Object(m) = &mut body {
        m.insert("schema".into(), spec.json_schema());
    }
    Ok(HttpResponse::Ok().json(body))
}

/// A text in Spanish and English.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelTexts {
    pub es: String,
    pub en: String,
}

/// What a field shows: label, help and 1-based position in the form.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShownOut {
    pub label: LabelTexts,
    pub help: LabelTexts,
    pub position: i32,
}

impl From<Shown> for ShownOut {
    fn from(s: Shown) -> ShownOut {
        ShownOut {
            label: LabelTexts {
                es: s.label.es,
                en: s.label.en,
            },
            help: LabelTexts {
                es: s.help.es,
                en: s.help.en,
            },
            position: s.position,
        }
    }
}

/// The override in force for a field: each part absent keeps the built-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelOverrideOut {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
    pub updated_at: DateTime<Utc>,
    /// The national admin who made it (user id).
    pub updated_by: Uuid,
}

/// One field's labels: what shows now, what is built in, the override in
/// force, and the field's version (send it in `If-Match` to change it; 0
/// while it never had an override).
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldLabelsOut {
    /// The field's key (never changes).
    pub field: String,
    pub version: i32,
    pub current: ShownOut,
    pub built_in: ShownOut,
    pub overridden: Option<LabelOverrideOut>,
}

impl From<FieldLabels> for FieldLabelsOut {
    fn from(f: FieldLabels) -> FieldLabelsOut {
        FieldLabelsOut {
            field: f.field,
            version: f.version,
            current: f.current.into(),
            built_in: f.built_in.into(),
            overridden: f.overridden.map(|o| LabelOverrideOut {
                label_es: o.label_es,
                label_en: o.label_en,
                help_es: o.help_es,
                help_en: o.help_en,
                position: o.position,
                updated_at: o.updated_at,
                updated_by: o.updated_by,
            }),
        }
    }
}

/// The parts of an override (each absent one was the built-in).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelPartsOut {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
}

/// One change of a field's labels (the history is insert-only).
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelVersionOut {
    pub field: String,
    pub version: i32,
    /// `set`, or `reset` (back to the built-in label, help and position).
    pub action: String,
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
    /// What was in force before, or null when it was the built-in.
    pub previous: Option<LabelPartsOut>,
    pub changed_by: Uuid,
    pub changed_by_username: String,
    pub changed_at: DateTime<Utc>,
}

impl From<LabelVersion> for LabelVersionOut {
    fn from(v: LabelVersion) -> LabelVersionOut {
        LabelVersionOut {
            field: v.field,
            version: v.version,
            action: v.action,
            label_es: v.label_es,
            label_en: v.label_en,
            help_es: v.help_es,
            help_en: v.help_en,
            position: v.position,
            // Written by `sintra_persistence::labels` in this very shape.
            previous: v.previous.and_then(|p| serde_json::from_value(p).ok()),
            changed_by: v.changed_by,
            changed_by_username: v.changed_by_username,
            changed_at: v.changed_at,
        }
    }
}

/// A form's labels: every field in its current order, and the history of
/// changes by field, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormLabelsOut {
    pub form: String,
    pub fields: Vec<FieldLabelsOut>,
    pub history: Vec<LabelVersionOut>,
}

impl From<FormLabels> for FormLabelsOut {
    fn from(l: FormLabels) -> FormLabelsOut {
        FormLabelsOut {
            form: l.form.as_str().to_string(),
            fields: l.fields.into_iter().map(Into::into).collect(),
            history: l.history.into_iter().map(Into::into).collect(),
        }
    }
}

/// A field's override, replacing the one in force. Each part is optional:
/// an absent one shows the built-in text or position. At least one part.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelIn {
    /// Spanish label (the Excel header), 1 to 120 characters, one line.
    #[schema(min_length = 1, max_length = 120)]
    pub label_es: Option<String>,
    /// English label, 1 to 120 characters, one line.
    #[schema(min_length = 1, max_length = 120)]
    pub label_en: Option<String>,
    /// Spanish help (the header's note), 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub help_es: Option<String>,
    /// English help, 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub help_en: Option<String>,
    /// The field's 1-based position in the form (forms, templates, exports);
    /// at most its number of fields.
    #[schema(minimum = 1)]
    pub position: Option<i32>,
}

fn form_of(form: &str) -> ApiResult<FormKey> {
    form.parse().map_err(|_| ApiError::NotFound)
}

/// A form's label overrides (national admin): every field with what it
/// shows, its built-in texts and its version, and the history of changes.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    params(("form" = String, Path, description = "A form key (victim, criminal_case, …)")),
    responses(
        (status = 200, body = FormLabelsOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/forms/{form}/labels")]
pub async fn list_labels(
    state: web::Data<AppState>,
    _auth: Authenticated,
    form: web::Path<String>,
) -> ApiResult<web::Json<FormLabelsOut>> {
    let form = form_of(&form)?;
    Ok(web::Json(labels::list(&state.pool, form).await?.into()))
}

/// Override a field's label, help and position (national admin), in
/// Spanish and English, without a release: `/forms`, templates, imports,
/// exports and error messages show it; the field's key does not change.
/// Requires `If-Match` with the field's version (`"0"` the first time);
/// audited and kept in the history.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    params(
        ("form" = String, Path, description = "A form key (victim, criminal_case, …)"),
        ("field" = String, Path, description = "A field key of the form (sex, detection_date, …)"),
        ("If-Match" = String, Header, description = "The field's current label version")
    ),
    request_body = LabelIn,
    responses(
        (status = 200, body = FieldLabelsOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[put("/forms/{form}/fields/{field}/label")]
pub async fn set_label(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<LabelIn>,
) -> ApiResult<HttpResponse> {
    let (form, field) = path.into_inner();
    let form = form_of(&form)?;
    let version = if_match(&req)?;
    let b = body.into_inner();
    let input = LabelInput {
        label_es: b.label_es,
        label_en: b.label_en,
        help_es: b.help_es,
        help_en: b.help_en,
        position: b.position,
    };
    let out = labels::set(&state.pool, &auth, form, &field, version, input).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(out.version))
        .json(FieldLabelsOut::from(out)))
}

/// Take a field back to its built-in label, help and position (national
/// admin). Requires `If-Match` with the field's version; a version of its
/// own in the history; audited. 404 when no override is in force.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = [])),
    params(
        ("form" = String, Path, description = "A form key (victim, criminal_case, …)"),
        ("field" = String, Path, description = "A field key of the form (sex, detection_date, …)"),
        ("If-Match" = String, Header, description = "The field's current label version")
    ),
    responses(
        (status = 200, body = FieldLabelsOut),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[delete("/forms/{form}/fields/{field}/label")]
pub async fn reset_label(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (form, field) = path.into_inner();
    let form = form_of(&form)?;
    let version = if_match(&req)?;
    let out = labels::reset(&state.pool, &auth, form, &field, version).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(out.version))
        .json(FieldLabelsOut::from(out)))
}
