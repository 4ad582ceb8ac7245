//! Templates to fill, built from the form spec.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use diesel_async::AsyncPgConnection;
use sintra_domain::forms::{FieldType, FormKey, FormSpec};
use sintra_excel::template_with;
use sintra_persistence::catalogs::{self, ItemFilter};
use sintra_persistence::db;
use sintra_persistence::org::{self, InstitutionFilter};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

use crate::policy::ExcelUse;

use sintra_services::imports::limits_for;

use super::{attachment, excel_form, XLSX};

/// Active items of a catalog: `(code, label)`, and `(code, parent code)`
/// of those with a parent (a municipio's entity).
type CatalogValues = HashMap<String, (Vec<(String, String)>, Vec<(String, String)>)>;

/// Active items of every catalog a form's fields use, for dropdowns, with
/// their parents for the dropdowns that depend on another column.
async fn catalog_values(conn: &mut AsyncPgConnection, spec: &FormSpec) -> ApiResult<CatalogValues> {
    let mut out = HashMap::new();
    for field in spec.fields {
        if let FieldType::Catalog { catalog, .. } = field.ty {
            if out.contains_key(catalog) {
                continue;
            }
            let filter = ItemFilter {
                active: Some(true),
                ..Default::default()
            };
            let items = catalogs::list_items(conn, catalog, &filter, 10_000).await?;
            let parents = items
                .iter()
                .filter_map(|i| Some((i.code.clone(), i.parent_code.clone()?)))
                .collect();
            let values = items.into_iter().map(|i| (i.code, i.label_es)).collect();
            out.insert(catalog.to_string(), (values, parents));
        }
    }
    Ok(out)
}

/// The institutions a user of the caller's may be given (active, in its
/// scope), for the user template's dropdown: `id`, `name (entity)`.
async fn institution_choices(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
) -> ApiResult<Vec<(String, String)>> {
    let filter = InstitutionFilter {
        active: Some(true),
        ..Default::default()
    };
    let found = org::list_institutions(conn, &auth.actor.scope(), &filter, 10_000).await?;
    Ok(found
        .into_iter()
        .map(|i| (i.id.to_string(), format!("{} ({})", i.name, i.entity_code)))
        .collect())
}

/// The workbook to fill in for a form: instructions, Spanish headers with
/// help notes, dropdowns bound to the active catalogs, date formats, and
/// parents named by their folio. The municipio dropdown lists the municipios
/// of the entity chosen in the same row (and a determination's, those of the
/// row's procedural stage). The user template offers the institutions of
/// the caller's scope.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(("form" = String, Path, description = "A form: commission, session, agreement, agreement_follow_up, victim, attention, investigation, criminal_case, procedural_event, defendant, sentence; catalog_item (national admin) and user (national and entity admins)")),
    responses(
        (status = 200, description = "The template", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/templates/{form}")]
pub async fn get_template(
    state: web::Data<AppState>,
    auth: Authenticated,
    form: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = excel_form(&auth, &form, ExcelUse::Import)?;
    let mut conn = db::conn(&state.pool).await?;
    // Headers, notes and instructions with the labels in force.
    let spec = sintra_services::labels::effective_spec(&mut conn, key).await?;
    let mut values = catalog_values(&mut conn, spec).await?;
    if key == FormKey::User {
        let choices = institution_choices(&mut conn, &auth).await?;
        values.insert("institution_id".into(), (choices, vec![]));
    }
    drop(conn);
    let lang = auth.lang;
    let bytes = web::block(move || {
        let lookup = |catalog: &str| values.get(catalog).map(|v| v.0.clone()).unwrap_or_default();
        let parents = |catalog: &str| values.get(catalog).map(|v| v.1.clone()).unwrap_or_default();
        template_with(spec, lang, &lookup, &parents, &limits_for(key))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(format!("template could not be written: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(attachment(&format!("plantilla_{}.xlsx", key.as_str())))
        .body(bytes))
}
