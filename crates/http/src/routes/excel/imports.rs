//! Bulk import of a filled workbook: dry run, report, annotated workbook,
//! all-or-nothing commit.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sintra_domain::duplicates::MatchLevel;
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_domain::i18n::{Lang, Message};
use sintra_domain::validation::FieldError;
use sintra_excel::columns::RECORD_ID;
use sintra_excel::{annotate, read_rows, sha256_hex, CellError, ImportLimits, ImportSheet};
use sintra_persistence::audit::{self, AuditEntry};
use sintra_persistence::db;
use sintra_persistence::imports::{self, NewImport};
use sintra_persistence::records::{self as rows, RecordRow};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use sintra_services::duplicates;
use sintra_services::error::ServiceError;
use sintra_services::records::{self, Lookups, Submission};

use crate::policy::ExcelUse;

use super::{attachment, catalog_items, excel_form, limits_for, users, XLSX};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `true` (default) checks and reports without writing anything.
    pub dry_run: Option<bool>,
}

/// Reads the `file` part of a multipart upload, refusing more than the limit.
pub(super) async fn read_upload(mut payload: Multipart, limit: u64) -> ApiResult<Vec<u8>> {
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

pub(super) fn repeated_import() -> ApiError {
    ApiError::Conflict {
        code: "repeated_import",
        detail: Message::new(
            "Su institución ya importó este mismo archivo para este formulario.",
            "Your institution already imported this very file for this form.",
        ),
    }
}

pub(super) fn cell_error_json(e: &CellError, lang: Lang) -> Value {
    json!({
        "row": e.row,
        "column": e.column,
        "field": e.field,
        "code": e.code,
        "message": e.message.get(lang),
    })
}

/// What checking an upload comes to.
pub(super) enum Checked {
    /// A dry run, or a file with errors: stored, audited and answered.
    Answered(HttpResponse),
    /// Every row is valid and a commit was asked for: the report to
    /// complete with what the commit writes.
    ToCommit(Value),
}

/// One uploaded workbook on its way through an import, with what its
/// report, its stored row and its audit entries share. The steps of
/// [`import`], which the forms whose rows are not records
/// (`catalog_items.rs`, `users.rs`) take too.
pub(super) struct Upload {
    pub id: Uuid,
    pub form: FormKey,
    pub dry_run: bool,
    pub sha: String,
    /// Shared with the blocking threads that read it.
    pub bytes: Arc<[u8]>,
    pub limits: ImportLimits,
}

impl Upload {
    /// Reads the multipart upload (before any database connection is
    /// taken: a slow client holds none).
    pub(super) async fn read(
        form: FormKey,
        dry_run: bool,
        payload: Multipart,
        limits: ImportLimits,
    ) -> ApiResult<Upload> {
        let bytes = read_upload(payload, limits.max_file_bytes).await?;
        Ok(Upload {
            id: Uuid::now_v7(),
            form,
            dry_run,
            sha: sha256_hex(&bytes),
            bytes: bytes.into(),
            limits,
        })
    }

    async fn refuse_repeat(
        &self,
        conn: &mut AsyncPgConnection,
        auth: &Authenticated,
    ) -> ApiResult<()> {
        let form = self.form.as_str();
        if imports::already_committed(conn, auth.actor.institution_id, form, &self.sha).await? {
            return Err(repeated_import());
        }
        Ok(())
    }

    /// The rows of the workbook, read against its form's spec after the
    /// hostile-file checks, on a blocking thread; 409 first when the
    /// caller's institution already committed this very file for this form.
    pub(super) async fn sheet(
        &self,
        conn: &mut AsyncPgConnection,
        auth: &Authenticated,
    ) -> ApiResult<ImportSheet> {
        self.refuse_repeat(conn, auth).await?;
        let (bytes, limits, spec) = (self.bytes.clone(), self.limits, self.form.spec());
        web::block(move || read_rows(&bytes, spec, &limits))
            .await
            .map_err(|_| ApiError::Internal)?
            .map_err(|e| ApiError::Refused {
                status: e.status(),
                code: e.code(),
                detail: e.message(),
            })
    }

    /// Reports the checked rows (`errors` in any order). A dry run, or a
    /// file with errors, ends here: stored with its report and annotated
    /// workbook, audited, and answered (the second as a 422). Otherwise the
    /// report comes back for the commit to complete.
    pub(super) async fn conclude_check(
        &self,
        conn: &mut AsyncPgConnection,
        auth: &Authenticated,
        rows_read: usize,
        rows_valid: usize,
        mut errors: Vec<CellError>,
        warnings: Vec<Value>,
    ) -> ApiResult<Checked> {
        let lang = auth.lang;
        errors.sort_by_key(|e| e.row);
        let workbook = self.annotated(self.form.spec(), &errors, lang).await?;
        let mut report = self.report(rows_read, rows_valid, &errors, workbook.is_some(), lang);
        report["warnings"] = Value::Array(warnings);
        if self.dry_run || !errors.is_empty() {
            let answer = self.finish_unwritten(conn, auth, report, workbook).await?;
            return Ok(Checked::Answered(answer));
        }
        Ok(Checked::ToCommit(report))
    }

    /// The workbook given back with `errors` marked (sorted by row); none
    /// without errors, or when it cannot be re-read.
    async fn annotated(
        &self,
        spec: &'static FormSpec,
        errors: &[CellError],
        lang: Lang,
    ) -> ApiResult<Option<Vec<u8>>> {
        if errors.is_empty() {
            return Ok(None);
        }
        let (b, e, limits) = (self.bytes.clone(), errors.to_vec(), self.limits);
        Ok(web::block(move || annotate(&b, spec, &e, lang, &limits))
            .await
            .map_err(|_| ApiError::Internal)?
            .ok())
    }

    /// The report, as [`import`] answers it: nothing created or updated yet.
    fn report(
        &self,
        rows_read: usize,
        rows_valid: usize,
        errors: &[CellError],
        has_annotated: bool,
        lang: Lang,
    ) -> Value {
        let id = self.id;
        json!({
            "import_id": id,
            "form": self.form.as_str(),
            "dry_run": self.dry_run,
            "file_sha256": self.sha,
            "rows_read": rows_read,
            "rows_valid": rows_valid,
            "rows_created": 0,
            "rows_updated": 0,
            "errors": errors.iter().map(|e| cell_error_json(e, lang)).collect::<Vec<_>>(),
            "warnings": [],
            "annotated_workbook": has_annotated.then(|| format!("/api/v1/excel/imports/{id}/annotated.xlsx")),
        })
    }

    fn stored(
        &self,
        auth: &Authenticated,
        status: &str,
        report: &Value,
        workbook: Option<Vec<u8>>,
    ) -> NewImport {
        NewImport {
            id: self.id,
            institution_id: auth.actor.institution_id,
            form: self.form.as_str().into(),
            file_sha256: self.sha.clone(),
            status: status.into(),
            report: report.clone(),
            annotated: workbook,
            created_by: auth.actor.user_id,
        }
    }

    /// Stores a dry run, or a commit refused for its errors, with its report
    /// and annotated workbook, and audits the check. The dry run's answer
    /// is the report; the refused commit's, a 422 carrying it.
    async fn finish_unwritten(
        &self,
        conn: &mut AsyncPgConnection,
        auth: &Authenticated,
        report: Value,
        workbook: Option<Vec<u8>>,
    ) -> ApiResult<HttpResponse> {
        let status = if self.dry_run { "dry_run" } else { "rejected" };
        imports::insert(conn, &self.stored(auth, status, &report, workbook)).await?;
        let details = json!({
            "rows_read": report["rows_read"],
            "rows_valid": report["rows_valid"],
            "errors": report["errors"].as_array().map_or(0, Vec::len),
        });
        let entry = AuditEntry::access(&auth.audit_context(), "import_check", self.form.as_str())
            .resource(self.id)
            .details(details);
        audit::append(conn, &[entry]).await?;
        if self.dry_run {
            Ok(HttpResponse::Ok().json(report))
        } else {
            Err(ApiError::ImportRejected { report })
        }
    }

    /// Inside the commit's transaction: stores the committed import with
    /// its report (a repeat that raced this one is a 409) and audits it as
    /// one import.
    pub(super) async fn record_commit(
        &self,
        conn: &mut AsyncPgConnection,
        auth: &Authenticated,
        report: &Value,
    ) -> ApiResult<()> {
        imports::insert(conn, &self.stored(auth, "committed", report, None))
            .await
            .map_err(|e| match e {
                sintra_persistence::StoreError::Conflict { .. } => repeated_import(),
                other => other.into(),
            })?;
        let entry = AuditEntry::modification(&auth.audit_context(), "import", self.form.as_str())
            .resource(self.id)
            .details(json!({
                "file_sha256": self.sha,
                "rows_created": report["rows_created"],
                "rows_updated": report["rows_updated"],
            }));
        audit::append(conn, &[entry]).await?;
        Ok(())
    }
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
    let upload = Upload::read(key, dry_run, payload, limits_for(key)).await?;
    match key {
        FormKey::CatalogItem => return catalog_items::import(&state, &auth, upload).await,
        FormKey::User => return users::import(&state, &auth, upload).await,
        _ => {}
    }
    let spec = key.spec();
    let mut conn = db::conn(&state.pool).await?;
    let mut sheet = upload.sheet(&mut conn, &auth).await?;

    let (mut valid, errors) = check_rows(&mut conn, &auth, spec, &mut sheet).await?;
    let mut warnings: Vec<Value> = vec![];
    let mut in_file: Vec<InFilePair> = vec![];
    if key.as_str() == duplicates::PERSON_FORM && errors.is_empty() {
        in_file = duplicates_in_file(&valid);
        for p in &in_file {
            warnings.push(json!({"row": valid[p.row].row, "code": "possible_duplicate", "level": p.level, "score": p.score, "candidate_row": valid[p.earlier].row}));
        }
        warnings.extend(duplicates_in_system(&mut conn, &auth, &mut valid).await?);
    }
    let rows_read = sheet.rows.len();
    let checked = upload
        .conclude_check(&mut conn, &auth, rows_read, valid.len(), errors, warnings)
        .await?;
    let mut report = match checked {
        Checked::Answered(answer) => return Ok(answer),
        Checked::ToCommit(report) => report,
    };
    let report = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (created, updated) = store_rows(conn, &auth, spec, valid, &in_file).await?;
            report["rows_created"] = json!(created);
            report["rows_updated"] = json!(updated);
            upload.record_commit(conn, &auth, &report).await?;
            Ok(report)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The rows worth validating, each with the key it names (a folio, a
/// username, a catalog code): a row whose cells could not be read, or whose
/// key an earlier row of the file already named, goes to `errors` instead.
pub(super) fn distinct_rows<K: Eq + Hash + Clone>(
    sheet: &ImportSheet,
    inputs: Vec<Map<String, Value>>,
    key_of: impl Fn(&Map<String, Value>) -> Option<K>,
    repeated: impl Fn(&K) -> FieldError,
    errors: &mut Vec<CellError>,
) -> Vec<(usize, Map<String, Value>, Option<K>)> {
    let mut seen: HashSet<K> = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, values) in inputs.into_iter().enumerate() {
        let row = &sheet.rows[i];
        if !row.problems.is_empty() {
            errors.extend(sheet.locate(row, vec![]));
            continue;
        }
        let key = key_of(&values);
        if let Some(k) = &key {
            if !seen.insert(k.clone()) {
                errors.extend(sheet.locate(row, vec![repeated(k)]));
                continue;
            }
        }
        out.push((i, values, key));
    }
    out
}

/// Completes a row that changes a stored item or account with what it
/// already has: an empty cell keeps the stored value, as a PATCH would.
pub(super) fn keep_empty_cells(values: &mut Map<String, Value>, stored: &Map<String, Value>) {
    for (k, v) in stored {
        if values.get(k).is_none_or(Value::is_null) {
            values.insert(k.clone(), v.clone());
        }
    }
}

/// A row that passed every check, ready to be stored.
struct ValidRow {
    /// The row number Excel shows.
    row: u32,
    prepared: records::Prepared,
    /// The record of the institution with the row's folio, which it replaces.
    previous: Option<RecordRow>,
    /// Its possible duplicates among the stored people.
    found: Vec<duplicates::Warning>,
}

/// Validates every row as the API validates one record, with what can be
/// fetched once for the whole file fetched once: the catalog entries the
/// file names, and the records its ids and folios already designate. Rows
/// of forms that read no other record are validated on every core.
async fn check_rows(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &'static FormSpec,
    sheet: &mut ImportSheet,
) -> ApiResult<(Vec<ValidRow>, Vec<CellError>)> {
    let mut errors = sheet.header_errors();
    if !errors.is_empty() {
        return Ok((vec![], errors));
    }
    let inputs: Vec<Map<String, Value>> = sheet.rows.iter_mut().map(|r| r.take_values()).collect();
    let lookup = records::snapshot_for(conn, auth, spec, &inputs).await?;
    let keys: Vec<RowKey> = inputs.iter().filter_map(RowKey::of).collect();
    let (mut by_id, mut by_folio) = {
        let form = spec.key.as_str();
        let (ids, folios) = RowKey::split(&keys);
        let scope = auth.actor.scope();
        let by_id = rows::get_many(conn, &scope, form, &ids).await?;
        let institution = auth.actor.institution_id;
        (
            by_id,
            rows::find_by_folios(conn, institution, form, &folios).await?,
        )
    };

    // Rows to validate, with the record each replaces; the others' errors.
    let mut todo: Vec<(usize, Map<String, Value>, Option<RecordRow>)> = vec![];
    let repeated = |key: &RowKey| match key {
        RowKey::Id(_) => record_repeated(),
        RowKey::Folio(_) => folio_repeated(),
    };
    for (i, mut values, key) in distinct_rows(sheet, inputs, RowKey::of, repeated, &mut errors) {
        values.remove(RECORD_ID.key);
        let previous = match key {
            Some(RowKey::Id(id)) => match by_id.remove(&id) {
                Some(record) => Some(record),
                None => {
                    errors.extend(sheet.locate(&sheet.rows[i], vec![unknown_record()]));
                    continue;
                }
            },
            Some(RowKey::Folio(folio)) => by_folio.remove(&folio),
            None => None,
        };
        todo.push((i, values, previous));
    }

    let checked: Vec<(
        usize,
        Result<records::Prepared, ServiceError>,
        Option<RecordRow>,
    )> = if records::reads_records(spec) {
        let mut out = Vec::with_capacity(todo.len());
        let mut parents = records::ParentCache::default();
        for (i, values, previous) in todo {
            let submission = Submission {
                caller: auth,
                spec,
                input: values,
                previous: previous.as_ref(),
            };
            let lookups = Lookups {
                catalogs: Some(&lookup),
                parents: Some(&mut parents),
            };
            let prepared = records::prepare_with(conn, submission, lookups).await;
            out.push((i, prepared, previous));
        }
        out
    } else {
        let actor = auth.actor.clone();
        web::block(move || {
            use rayon::prelude::*;
            todo.into_par_iter()
                .map(|(i, values, previous)| {
                    let prepared =
                        records::prepare_alone(&actor, spec, &values, previous.as_ref(), &lookup);
                    (i, prepared, previous)
                })
                .collect()
        })
        .await
        .map_err(|_| ApiError::Internal)?
    };
    let mut valid = Vec::with_capacity(checked.len());
    for (i, prepared, previous) in checked {
        let row = &sheet.rows[i];
        match prepared {
            Ok(prepared) => valid.push(ValidRow {
                row: row.row,
                prepared,
                previous,
                found: vec![],
            }),
            Err(ServiceError::Validation(field_errors)) => {
                errors.extend(sheet.locate(row, field_errors))
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok((valid, errors))
}

/// Two people of the same file who may be one: `row` (an index into the
/// valid rows) resembles the `earlier` one.
struct InFilePair {
    row: usize,
    earlier: usize,
    level: MatchLevel,
    score: f64,
}

/// Each person compared with the earlier rows sharing a blocking key (the
/// first row of each block), reported against the first that matches.
fn duplicates_in_file(valid: &[ValidRow]) -> Vec<InFilePair> {
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    let mut pairs = vec![];
    for (i, v) in valid.iter().enumerate() {
        let Some(person) = &v.prepared.person else {
            continue;
        };
        for k in &person.keys {
            let Some(&j) = first_with_key.get(k.as_str()) else {
                continue;
            };
            let Some(other) = &valid[j].prepared.person else {
                continue;
            };
            if let Some(m) = person.matchable.compare(&other.matchable) {
                pairs.push(InFilePair {
                    row: i,
                    earlier: j,
                    level: m.level,
                    score: m.score,
                });
                break;
            }
        }
        for k in &person.keys {
            first_with_key.entry(k.as_str()).or_insert(i);
        }
    }
    pairs
}

/// Each person compared with the stored people sharing a blocking key, a
/// few hundred people per query; the warnings are also kept on the rows so
/// a commit records the pairs without searching again.
async fn duplicates_in_system(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    valid: &mut [ValidRow],
) -> ApiResult<Vec<Value>> {
    let mut warnings = vec![];
    for chunk in valid.chunks_mut(500) {
        let people: Vec<(Option<Uuid>, &duplicates::Person)> = chunk
            .iter()
            .filter_map(|v| {
                Some((
                    v.previous.as_ref().map(|r| r.id),
                    v.prepared.person.as_ref()?,
                ))
            })
            .collect();
        let found = duplicates::find_many(conn, auth, &people).await?;
        let with_person = chunk.iter_mut().filter(|v| v.prepared.person.is_some());
        for (v, of_row) in with_person.zip(found) {
            for w in &of_row {
                let mut j = w.json.clone();
                j["row"] = json!(v.row);
                warnings.push(j);
            }
            v.found = of_row;
        }
    }
    Ok(warnings)
}

/// Stores the valid rows inside the caller's transaction: new records by
/// thousands with their blocking keys, replaced ones one by one, and the
/// pairs of possible duplicates found against the system and in the file.
/// Returns (created, updated).
async fn store_rows(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &'static FormSpec,
    valid: Vec<ValidRow>,
    in_file: &[InFilePair],
) -> ApiResult<(usize, usize)> {
    let mut ids = Vec::with_capacity(valid.len());
    let mut news = vec![];
    let mut pairs: Vec<(Uuid, Uuid, MatchLevel, f64)> = vec![];
    let mut updated = 0;
    for v in valid {
        match v.previous {
            Some(before) => {
                records::store_prepared(
                    conn,
                    auth,
                    spec,
                    v.prepared,
                    Some(&before),
                    Some(&v.found),
                )
                .await?;
                updated += 1;
                ids.push(before.id);
            }
            None => {
                let new = records::new_record(auth, spec, v.prepared);
                pairs.extend(
                    v.found
                        .iter()
                        .map(|w| (new.id, w.candidate_id, w.level, w.score)),
                );
                ids.push(new.id);
                news.push(new);
            }
        }
    }
    pairs.extend(
        in_file
            .iter()
            .map(|p| (ids[p.row], ids[p.earlier], p.level, p.score)),
    );
    rows::insert_many(conn, &news)
        .await
        .map_err(records::write_conflict)?;
    duplicates::raise_new(conn, &pairs).await?;
    Ok((news.len(), updated))
}

/// What names the stored record a row changes: the record id an exported
/// workbook carries, else the sender's folio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RowKey {
    Id(Uuid),
    Folio(String),
}

impl RowKey {
    fn of(values: &Map<String, Value>) -> Option<RowKey> {
        let text = |k: &str| values.get(k).and_then(Value::as_str).map(str::trim);
        if let Some(id) = text(RECORD_ID.key).and_then(|s| s.parse().ok()) {
            return Some(RowKey::Id(id));
        }
        text("external_folio").map(|f| RowKey::Folio(f.to_string()))
    }

    /// The ids and the folios among `keys`.
    fn split(keys: &[RowKey]) -> (Vec<Uuid>, Vec<String>) {
        let mut ids = vec![];
        let mut folios = vec![];
        for k in keys {
            match k {
                RowKey::Id(id) => ids.push(*id),
                RowKey::Folio(f) => folios.push(f.clone()),
            }
        }
        (ids, folios)
    }
}

fn unknown_record() -> FieldError {
    FieldError::new(
        RECORD_ID.key,
        "unknown_record",
        Message::new(
            "No hay un registro de este formulario con ese ID a su alcance; para dar de alta uno nuevo, deje vacía la columna «ID del registro».",
            "There is no record of this form with that id within your scope; to add a new one, leave the \"Record ID\" column empty.",
        ),
    )
}

fn record_repeated() -> FieldError {
    FieldError::new(
        RECORD_ID.key,
        "record_repeated_in_file",
        Message::new(
            "Ese ID de registro ya aparece en una fila anterior del archivo.",
            "That record id already appears in an earlier row of the file.",
        ),
    )
}

fn folio_repeated() -> FieldError {
    FieldError::new(
        "external_folio",
        "folio_repeated_in_file",
        Message::new(
            "Ese folio ya aparece en una fila anterior del archivo.",
            "That folio already appears in an earlier row of the file.",
        ),
    )
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
