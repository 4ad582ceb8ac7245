//! Bulk import of a filled workbook: dry run, report, annotated workbook,
//! all-or-nothing commit.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::AsyncConnection;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sintra_domain::duplicates::{blocking_keys, compare};
use sintra_domain::i18n::{Lang, Message};
use sintra_excel::{annotate, read_rows, sha256_hex, CellError, ImportLimits};
use sintra_persistence::audit::{self, AuditEntry};
use sintra_persistence::db;
use sintra_persistence::imports::{self, NewImport};
use sintra_persistence::records::{self as rows, RecordRow};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::duplicates;
use crate::error::{ApiError, ApiResult, Problem};
use crate::records;
use crate::state::AppState;

use super::{attachment, record_form, XLSX};

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

fn repeated_import() -> ApiError {
    ApiError::Conflict {
        code: "repeated_import",
        detail: Message::new(
            "Su institución ya importó este mismo archivo para este formulario.",
            "Your institution already imported this very file for this form.",
        ),
    }
}

fn cell_error_json(e: &CellError, lang: Lang) -> Value {
    json!({
        "row": e.row,
        "column": e.column,
        "field": e.field,
        "code": e.code,
        "message": e.message.get(lang),
    })
}

/// Import a workbook of a form (multipart, field `file`). With
/// `dry_run=true` (the default) nothing is written: the answer reports rows
/// read and valid, each error by Excel row and column, and duplicate
/// warnings for people (within the file and against the system). With
/// `dry_run=false` a workbook without errors is committed whole, in one
/// transaction, audited as one import; the same file is refused the second
/// time (409). Hostile files (not a workbook, macros, password, zip bombs,
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
    let key = record_form(&form)?;
    let spec = key.spec();
    let dry_run = query.dry_run.unwrap_or(true);
    let lang = auth.meta.lang;
    let limits = ImportLimits::default();
    let bytes = read_upload(payload, limits.max_file_bytes).await?;
    let sha = sha256_hex(&bytes);
    let mut conn = db::conn(&state.pool).await?;
    if imports::already_committed(&mut conn, auth.actor.institution_id, key.as_str(), &sha).await? {
        return Err(repeated_import());
    }
    let parse_bytes = bytes.clone();
    let parse_limits = limits;
    let sheet = web::block(move || read_rows(&parse_bytes, spec, &parse_limits))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|e| ApiError::Refused {
            status: e.status(),
            code: e.code(),
            detail: e.message(),
        })?;

    let mut errors: Vec<CellError> = sheet.header_errors();
    let mut warnings: Vec<Value> = vec![];
    let mut valid: Vec<(
        records::Prepared,
        Option<RecordRow>,
        Vec<duplicates::Warning>,
    )> = vec![];
    let mut valid_rows: Vec<u32> = vec![];
    let mut seen_keys: HashMap<String, (u32, sintra_domain::duplicates::PersonFacts)> =
        HashMap::new();
    let is_person = key.as_str() == duplicates::PERSON_FORM;
    if errors.is_empty() {
        // One catalog query for the whole file.
        let inputs: Vec<Map<String, Value>> = sheet.rows.iter().map(|r| r.values()).collect();
        let lookup = records::snapshot_for(&mut conn, &auth, spec, &inputs).await?;
        // Rows that name a folio the institution already sent replace it.
        let folios: Vec<String> = inputs
            .iter()
            .filter_map(|i| i.get("external_folio").and_then(Value::as_str))
            .map(|f| f.trim().to_string())
            .collect();
        drop(inputs);
        let existing =
            rows::find_by_folios(&mut conn, auth.actor.institution_id, key.as_str(), &folios)
                .await?;
        for row in &sheet.rows {
            if !row.problems.is_empty() {
                errors.extend(sheet.locate(row, vec![]));
                continue;
            }
            let values = row.values();
            let folio = values
                .get("external_folio")
                .and_then(Value::as_str)
                .map(str::to_string);
            let previous = folio.and_then(|f| existing.get(f.trim()).cloned());
            match records::prepare_with(
                &mut conn,
                &auth,
                spec,
                values,
                previous.as_ref(),
                Some(&lookup),
            )
            .await
            {
                Ok(prepared) => {
                    if is_person {
                        let facts = duplicates::facts(&prepared.data);
                        for k in blocking_keys(&facts) {
                            if let Some((other_row, other)) = seen_keys.get(&k) {
                                if let Some(m) = compare(&facts, other) {
                                    warnings.push(json!({"row": row.row, "code": "possible_duplicate", "level": m.level, "score": m.score, "candidate_row": other_row}));
                                    break;
                                }
                            }
                        }
                        for k in blocking_keys(&facts) {
                            seen_keys.entry(k).or_insert((row.row, facts.clone()));
                        }
                    }
                    valid.push((prepared, previous, vec![]));
                    valid_rows.push(row.row);
                }
                Err(ApiError::Validation(field_errors)) => {
                    errors.extend(sheet.locate(row, field_errors))
                }
                Err(other) => return Err(other),
            }
        }
    }
    // Duplicates against the system, a few hundred people per query.
    if is_person {
        let mut offset = 0;
        for chunk in valid.chunks_mut(500) {
            let people: Vec<(Option<Uuid>, &Map<String, Value>)> = chunk
                .iter()
                .map(|(p, prev, _)| (prev.as_ref().map(|r| r.id), &p.data))
                .collect();
            let found = duplicates::find_many(&mut conn, &auth, &people).await?;
            for (k, ((_, _, slot), warnings_of_row)) in chunk.iter_mut().zip(found).enumerate() {
                for w in &warnings_of_row {
                    let mut j = w.json.clone();
                    j["row"] = json!(valid_rows[offset + k]);
                    warnings.push(j);
                }
                *slot = warnings_of_row;
            }
            offset += chunk.len();
        }
    }
    let rows_read = sheet.rows.len();
    let rows_valid = valid.len();
    let import_id = Uuid::now_v7();
    let annotated_bytes = if errors.is_empty() {
        None
    } else {
        let (b, s, e, l) = (bytes.clone(), key, errors.clone(), limits);
        web::block(move || annotate(&b, s.spec(), &e, lang, &l))
            .await
            .map_err(|_| ApiError::Internal)?
            .ok()
    };
    let mut report = json!({
        "import_id": import_id,
        "form": key.as_str(),
        "dry_run": dry_run,
        "file_sha256": sha,
        "rows_read": rows_read,
        "rows_valid": rows_valid,
        "rows_created": 0,
        "rows_updated": 0,
        "errors": errors.iter().map(|e| cell_error_json(e, lang)).collect::<Vec<_>>(),
        "warnings": warnings,
        "annotated_workbook": annotated_bytes.as_ref().map(|_| format!("/api/v1/excel/imports/{import_id}/annotated.xlsx")),
    });
    let ctx = auth.audit_context();
    let base = NewImport {
        id: import_id,
        institution_id: auth.actor.institution_id,
        form: key.as_str().into(),
        file_sha256: sha.clone(),
        status: String::new(),
        report: Value::Null,
        annotated: annotated_bytes,
        created_by: auth.actor.user_id,
    };
    if dry_run || !errors.is_empty() {
        let status = if dry_run { "dry_run" } else { "rejected" };
        let new = NewImport {
            status: status.into(),
            report: report.clone(),
            ..base
        };
        imports::insert(&mut conn, &new).await?;
        let entry = AuditEntry::access(&ctx, "import_check", key.as_str())
            .resource(import_id)
            .details(
                json!({"rows_read": rows_read, "rows_valid": rows_valid, "errors": errors.len()}),
            );
        audit::append(&mut conn, &[entry]).await?;
        if !dry_run {
            return Err(ApiError::ImportRejected { report });
        }
        return Ok(HttpResponse::Ok().json(report));
    }
    let (created, updated) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // New records go in by thousands; replaced ones one by one.
            let (mut news, mut keys, mut pairs, mut updated) = (vec![], vec![], vec![], 0usize);
            for (prepared, previous, found) in valid {
                if let Some(before) = previous {
                    records::store_prepared(
                        conn,
                        &auth,
                        spec,
                        prepared,
                        Some(&before),
                        Some(&found),
                    )
                    .await?;
                    updated += 1;
                    continue;
                }
                let new = records::new_record(&auth, spec, prepared);
                if is_person {
                    if let Value::Object(data) = &new.data {
                        keys.extend(
                            blocking_keys(&duplicates::facts(data))
                                .into_iter()
                                .map(|k| (k, new.id)),
                        );
                    }
                    pairs.extend(found.into_iter().map(|w| (new.id, w)));
                }
                news.push(new);
            }
            let created = news.len();
            rows::insert_many(conn, &news)
                .await
                .map_err(records::write_conflict)?;
            sintra_persistence::duplicates::insert_keys(conn, &keys).await?;
            for (id, w) in &pairs {
                duplicates::raise(conn, *id, w).await?;
            }
            report["rows_created"] = json!(created);
            report["rows_updated"] = json!(updated);
            let new = NewImport {
                status: "committed".into(),
                report: report.clone(),
                ..base
            };
            imports::insert(conn, &new).await.map_err(|e| match e {
                sintra_persistence::StoreError::Conflict { .. } => repeated_import(),
                other => other.into(),
            })?;
            let entry = AuditEntry::modification(&ctx, "import", key.as_str())
                .resource(import_id)
                .details(
                    json!({"file_sha256": sha, "rows_created": created, "rows_updated": updated}),
                );
            audit::append(conn, &[entry]).await?;
            Ok((created, updated))
        })
        .await?;
    report["rows_created"] = json!(created);
    report["rows_updated"] = json!(updated);
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
    let mut conn = db::conn(&state.pool).await?;
    let bytes = imports::annotated(&mut conn, auth.actor.institution_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit::append(
        &mut conn,
        &[AuditEntry::access(&auth.audit_context(), "download_annotated", "import").resource(id)],
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(attachment(&format!("importacion_{id}_anotada.xlsx")))
        .body(bytes))
}
