//! The export of everything the caller may see.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use diesel_async::AsyncPgConnection;
use serde_json::json;
use sintra_domain::access::{Permission, Scope};
use sintra_domain::forms::{all_specs, FormKey};
use sintra_excel::{ExportOptions, ExportWriter, RecordMeta};
use sintra_persistence::audit::{self, AuditEntry};
use sintra_persistence::records::{self as rows, RecordFilter};
use sintra_persistence::{db, org, users};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

use super::{attachment, record_form, XLSX};

/// Names of users and institutions met while exporting, fetched once each.
#[derive(Default)]
struct Names {
    users: HashMap<Uuid, String>,
    institutions: HashMap<Uuid, String>,
}

impl Names {
    async fn user(&mut self, conn: &mut AsyncPgConnection, id: Option<Uuid>) -> ApiResult<String> {
        let Some(id) = id else {
            return Ok(String::new());
        };
        if let Some(n) = self.users.get(&id) {
            return Ok(n.clone());
        }
        let name = users::get(conn, &Scope::National, id)
            .await
            .map(|u| u.row.username)
            .unwrap_or_default();
        self.users.insert(id, name.clone());
        Ok(name)
    }

    async fn institution(&mut self, conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<String> {
        if let Some(n) = self.institutions.get(&id) {
            return Ok(n.clone());
        }
        let name = org::get_institution(conn, &Scope::National, id).await?.name;
        self.institutions.insert(id, name.clone());
        Ok(name)
    }
}

/// Writes every record of `forms` the caller may see into one workbook.
async fn export_forms(
    state: &AppState,
    auth: &Authenticated,
    forms: Vec<FormKey>,
) -> ApiResult<(Vec<u8>, usize)> {
    let options = ExportOptions {
        lang: auth.meta.lang,
        personal_data: auth.actor.can(Permission::ReadPersonalData),
        ..Default::default()
    };
    let mut writer = web::block(move || ExportWriter::new(options))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|_| ApiError::Internal)?;
    let mut conn = db::conn(&state.pool).await?;
    let mut names = Names::default();
    let scope = auth.actor.scope();
    let mut total = 0usize;
    for form in forms {
        let spec = form.spec();
        writer = web::block(move || writer.begin_sheet(spec).map(|_| writer))
            .await
            .map_err(|_| ApiError::Internal)?
            .map_err(|_| ApiError::Internal)?;
        let mut after = None;
        loop {
            let filter = RecordFilter {
                after_id: after,
                ..Default::default()
            };
            let page = rows::list(&mut conn, &scope, form.as_str(), &filter, 1_000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut batch = Vec::with_capacity(page.len());
            for r in &page {
                batch.push((
                    r.fields(),
                    r.id.to_string(),
                    r.entity_code.clone(),
                    names.institution(&mut conn, r.institution_id).await?,
                    names.user(&mut conn, r.created_by).await?,
                    r.created_at.naive_utc(),
                    names.user(&mut conn, r.updated_by).await?,
                    r.updated_at.naive_utc(),
                ));
            }
            total += batch.len();
            writer = web::block(move || {
                for (
                    fields,
                    id,
                    entity,
                    institution,
                    created_by,
                    created_at,
                    updated_by,
                    updated_at,
                ) in &batch
                {
                    let meta = RecordMeta {
                        id,
                        entity,
                        institution,
                        created_by,
                        created_at: *created_at,
                        updated_by,
                        updated_at: *updated_at,
                    };
                    writer.write_row(fields, &meta)?;
                }
                Ok::<_, sintra_excel::ExcelError>(writer)
            })
            .await
            .map_err(|_| ApiError::Internal)?
            .map_err(|_| ApiError::Internal)?;
            if page.len() < 1_000 {
                break;
            }
        }
    }
    let bytes = web::block(move || {
        let mut out = Vec::new();
        writer.finish(&mut out).map(|_| out)
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(|_| ApiError::Internal)?;
    Ok((bytes, total))
}

async fn export_response(
    state: &AppState,
    auth: &Authenticated,
    forms: Vec<FormKey>,
    name: &str,
) -> ApiResult<HttpResponse> {
    let labels: Vec<&str> = forms.iter().map(|f| f.as_str()).collect();
    let (bytes, total) = export_forms(state, auth, forms.clone()).await?;
    let mut conn = db::conn(&state.pool).await?;
    let entry = AuditEntry::access(&auth.audit_context(), "export", "excel")
        .details(json!({"forms": labels, "rows": total, "personal_data": auth.actor.can(Permission::ReadPersonalData)}));
    audit::append(&mut conn, &[entry]).await?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(attachment(name))
        .body(bytes))
}

/// Every record of a form the caller may see, with who registered and last
/// changed each (user name), their institution and entity, and when.
/// Personal-data columns only for roles that may read them. Audited.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(("form" = String, Path)),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/exports/{form}")]
pub async fn export_form(
    state: web::Data<AppState>,
    auth: Authenticated,
    form: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = record_form(&form)?;
    export_response(
        &state,
        &auth,
        vec![key],
        &format!("sintra_{}.xlsx", key.as_str()),
    )
    .await
}

/// One workbook with a sheet per form: everything the caller may see.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    responses((status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
)]
#[get("/excel/exports")]
pub async fn export_all(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> ApiResult<HttpResponse> {
    let forms: Vec<FormKey> = all_specs()
        .map(|s| s.key)
        .filter(|k| !matches!(k, FormKey::CatalogItem | FormKey::User))
        .collect();
    export_response(&state, &auth, forms, "sintra_todo.xlsx").await
}
