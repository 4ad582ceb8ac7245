//! The export of everything the caller may see, filtered as the lists are.

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;

use actix_web::{get, web, HttpResponse};
use diesel_async::AsyncPgConnection;
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::json;
use sintra_domain::access::Permission;
use sintra_domain::forms::{all_specs, FormKey, FormSpec};
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldError;
use sintra_excel::{EncodedRows, ExcelError, ExportOptions, ExportWriter, RecordMeta, RowEncoder};
use sintra_persistence::audit::{self, AuditAction, AuditEntry};
use sintra_persistence::catalogs::CatalogItem;
use sintra_persistence::records::{self as rows, RawRecordRow, RecordFilter};
use sintra_persistence::users::{User, UserFilter};
use sintra_persistence::PooledConn;
use sintra_persistence::{db, org, users};
use tokio::sync::mpsc;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use sintra_services::records::{filter_from_query, PAGING_KEYS, SHARED_FILTERS};

use crate::policy::ExcelUse;
use sintra_services::catalogs::item_record;
use sintra_services::users::user_record;

use super::body::{self, BodyWriter};
use super::users as users_sheet;
use super::{attachment, catalog_items, excel_form, XLSX};
use sintra_domain::validation::FieldCode;

/// Records handed to the writer at a time: enough that the channel costs
/// nothing per row, few enough that encoding a page (a few milliseconds)
/// keeps this worker's other requests waiting only briefly.
const PAGE_ROWS: usize = 1_000;

/// Pages encoded ahead of the writer (about half a MiB each for victims):
/// enough to ride out a slow moment on either side, few enough that memory
/// stays bounded.
const PAGES_IN_FLIGHT: usize = 4;

/// Zip compression of exports: level 3 (what Excel itself uses) instead of
/// zlib's default 6. Compressing is the one step that cannot overlap the
/// reading, as it starts once every row is written; for 100,000 victims
/// it takes 0.3 s instead of 0.6 s, for a file about 20% larger (12.4 MiB
/// against 10.3 MiB; see [`ExportOptions::compression_level`]).
const COMPRESSION_LEVEL: u8 = 3;

/// The filters every record form shares, documented for both exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // The query is parsed by `filter_from_query`; this documents it.
pub struct SharedFilters {
    /// Only records of this entity (`19` for Nuevo León).
    entity_code: Option<String>,
    /// Only records of this institution.
    institution_id: Option<Uuid>,
}

/// Names of users and institutions met while exporting, fetched once each,
/// a page's worth in one query.
#[derive(Default)]
struct Names {
    users: HashMap<Uuid, String>,
    institutions: HashMap<Uuid, String>,
}

impl Names {
    /// Learns the names of a page of records' users and institutions.
    async fn learn(
        &mut self,
        conn: &mut AsyncPgConnection,
        page: &[RawRecordRow],
    ) -> ApiResult<()> {
        let users = page.iter().flat_map(|r| [r.created_by, r.updated_by]);
        let institutions = page.iter().map(|r| r.institution_id);
        self.learn_ids(conn, users.flatten(), institutions).await
    }

    async fn learn_ids(
        &mut self,
        conn: &mut AsyncPgConnection,
        user_ids: impl Iterator<Item = Uuid>,
        institution_ids: impl Iterator<Item = Uuid>,
    ) -> ApiResult<()> {
        let mut unseen: Vec<Uuid> = user_ids.filter(|id| !self.users.contains_key(id)).collect();
        if !unseen.is_empty() {
            unseen.sort_unstable();
            unseen.dedup();
            let mut found = users::usernames(conn, &unseen).await?;
            for id in unseen {
                let name = found.remove(&id).unwrap_or_default();
                self.users.insert(id, name);
            }
        }
        let mut unseen: Vec<Uuid> = institution_ids
            .filter(|id| !self.institutions.contains_key(id))
            .collect();
        if !unseen.is_empty() {
            unseen.sort_unstable();
            unseen.dedup();
            let mut found = org::institution_names(conn, &unseen).await?;
            for id in unseen {
                let name = found.remove(&id).unwrap_or_default();
                self.institutions.insert(id, name);
            }
        }
        Ok(())
    }

    fn user(&self, id: Option<Uuid>) -> &str {
        id.and_then(|id| self.users.get(&id))
            .map_or("", |n| n.as_str())
    }

    fn institution(&self, id: Uuid) -> &str {
        self.institutions.get(&id).map_or("", |n| n.as_str())
    }
}

/// What one sheet of an export carries.
pub(super) enum Sheet {
    /// Records of a form, filtered as its list.
    Records(FormKey, RecordFilter),
    CatalogItems(catalog_items::ExportFilter),
    /// People's accounts of the caller's scope.
    Users(UserFilter),
}

impl Sheet {
    fn form(&self) -> FormKey {
        match self {
            Sheet::Records(form, _) => *form,
            Sheet::CatalogItems(_) => FormKey::CatalogItem,
            Sheet::Users(_) => FormKey::User,
        }
    }
}

/// What the fetching side hands the writing thread.
enum Batch {
    Sheet(&'static FormSpec),
    /// A page of the current sheet's records, already encoded as cells.
    Rows(EncodedRows),
    /// Everything was sent: write the workbook out.
    End,
}

/// The writing thread: a sheet per [`Batch::Sheet`], the rows of each
/// [`Batch::Rows`], and on [`Batch::End`] the workbook, into the response
/// body as the zip is written. `false` when the fetching side hung up first
/// (it failed, or the client left).
fn write_batches(
    options: ExportOptions,
    mut batches: mpsc::Receiver<Batch>,
    body: BodyWriter,
) -> Result<bool, String> {
    let failed = |e: ExcelError| e.to_string();
    let mut writer = ExportWriter::new(options).map_err(failed)?;
    while let Some(batch) = batches.blocking_recv() {
        match batch {
            Batch::Sheet(spec) => writer.begin_sheet(spec).map_err(failed)?,
            Batch::Rows(rows) => writer.write_rows(&rows).map_err(failed)?,
            Batch::End => {
                let mut body = body;
                writer.finish(&mut body).map_err(failed)?;
                body.finish().map_err(|e| e.to_string())?;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Reads every row of `sheets` the caller may see, page after page, and
/// hands the pages to the writer encoded as cells: the parsing of the
/// records and the decisions about how each value shows happen here, on
/// this side of the channel, so the writer's thread only writes. The number
/// of rows sent, or `None` when the writer stopped taking them (it failed,
/// or the client left). [`Batch::End`] is the caller's to send.
async fn fetch_batches(
    (conn, names_conn): (&mut AsyncPgConnection, &mut AsyncPgConnection),
    auth: &Authenticated,
    options: &ExportOptions,
    sheets: Vec<Sheet>,
    batches: &mpsc::Sender<Batch>,
) -> ApiResult<Option<usize>> {
    let mut names = Names::default();
    let mut total = 0usize;
    // Headers with the labels in force, every form's in one query.
    let specs = sintra_services::labels::effective_specs(conn).await?;
    for sheet in sheets {
        let spec = specs.spec(sheet.form());
        if batches.send(Batch::Sheet(spec)).await.is_err() {
            return Ok(None);
        }
        let encoder = RowEncoder::new(spec, options);
        let sent = match sheet {
            Sheet::Records(form, filter) => {
                let args = (&mut *conn, &mut *names_conn, &mut names);
                send_records(args, auth, &encoder, form, &filter, batches).await?
            }
            Sheet::CatalogItems(filter) => {
                let items = catalog_items::items(conn, &filter).await?;
                send_catalog_items(&encoder, &items, batches).await
            }
            Sheet::Users(filter) => {
                let accounts = users_sheet::accounts(conn, auth, &filter).await?;
                let ids = accounts
                    .iter()
                    .flat_map(|u| [u.row.created_by, u.row.updated_by]);
                let institutions = accounts.iter().map(|u| u.row.institution_id);
                names
                    .learn_ids(names_conn, ids.flatten(), institutions)
                    .await?;
                send_users(&encoder, &names, &accounts, batches).await
            }
        };
        match sent {
            Some(n) => total += n,
            None => return Ok(None),
        }
    }
    Ok(Some(total))
}

/// Streams a form's records in scope to the writer, a page at a time.
async fn send_records(
    (conn, names_conn, names): (&mut AsyncPgConnection, &mut AsyncPgConnection, &mut Names),
    auth: &Authenticated,
    encoder: &RowEncoder,
    form: FormKey,
    filter: &RecordFilter,
    batches: &mpsc::Sender<Batch>,
) -> ApiResult<Option<usize>> {
    let scope = auth.actor.scope();
    let mut id = Uuid::encode_buffer();
    let mut total = 0;
    let mut records = pin!(rows::stream(conn, &scope, form, filter).await?);
    let mut page = Vec::with_capacity(PAGE_ROWS);
    let mut more = true;
    while more {
        match records.try_next().await? {
            Some(r) => page.push(r),
            None => more = false,
        }
        if page.is_empty() || (more && page.len() < PAGE_ROWS) {
            continue;
        }
        names.learn(names_conn, &page).await?;
        let folios = referenced_folios(names_conn, &scope, encoder, &page).await?;
        let folio_of = |id: &str| {
            let id: Uuid = id.parse().ok()?;
            folios.get(&id).map(String::as_str)
        };
        total += page.len();
        let mut encoded = EncodedRows::with_capacity(encoder, page.len());
        for r in &page {
            let meta = RecordMeta {
                id: r.id.hyphenated().encode_lower(&mut id),
                entity: &r.entity_code,
                institution: names.institution(r.institution_id),
                created_by: names.user(r.created_by),
                created_at: r.created_at.naive_utc(),
                updated_by: names.user(r.updated_by),
                updated_at: r.updated_at.naive_utc(),
            };
            encoder
                .encode_json_with_folios(&r.data.0, &meta, &folio_of, &mut encoded)
                .map_err(|e| {
                    ApiError::internal(format!("export: unreadable record {}: {e}", r.id))
                })?;
        }
        page.clear();
        if batches.send(Batch::Rows(encoded)).await.is_err() {
            return Ok(None);
        }
    }
    Ok(Some(total))
}

/// The external folios of the records a page refers to (a child's parent,
/// an investigation's victims) that the caller may see, for the folio
/// columns beside the ids: records store their references by id only.
/// Nothing to look up for forms without references.
async fn referenced_folios(
    conn: &mut AsyncPgConnection,
    scope: &sintra_domain::access::Scope,
    encoder: &RowEncoder,
    page: &[RawRecordRow],
) -> ApiResult<HashMap<Uuid, String>> {
    if !encoder.has_references() {
        return Ok(HashMap::new());
    }
    let mut ids = Vec::new();
    for r in page {
        encoder
            .referenced_ids(&r.data.0, &mut ids)
            .map_err(|e| ApiError::internal(format!("export: unreadable record {}: {e}", r.id)))?;
    }
    let mut ids: Vec<Uuid> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(rows::folios(conn, scope, &ids).await?)
}

/// Hands rows already in memory to the writer, a page at a time.
async fn send_encoded<T>(
    encoder: &RowEncoder,
    rows: &[T],
    encode: impl Fn(&T, &mut EncodedRows),
    batches: &mpsc::Sender<Batch>,
) -> Option<usize> {
    for page in rows.chunks(PAGE_ROWS) {
        let mut encoded = EncodedRows::with_capacity(encoder, page.len());
        for row in page {
            encode(row, &mut encoded);
        }
        batches.send(Batch::Rows(encoded)).await.ok()?;
    }
    Some(rows.len())
}

/// Catalog items, identified as their API path names them
/// (`catalog/code`); they belong to no entity or institution, and the
/// seeded ones were registered by nobody.
async fn send_catalog_items(
    encoder: &RowEncoder,
    items: &[CatalogItem],
    batches: &mpsc::Sender<Batch>,
) -> Option<usize> {
    let encode = |item: &CatalogItem, out: &mut EncodedRows| {
        let id = format!("{}/{}", item.catalog, item.code);
        let meta = RecordMeta {
            id: &id,
            entity: "",
            institution: "",
            created_by: "",
            created_at: item.created_at.naive_utc(),
            updated_by: "",
            updated_at: item.updated_at.naive_utc(),
        };
        encoder.encode(&item_record(item), &meta, out);
    };
    send_encoded(encoder, items, encode, batches).await
}

/// People's accounts, with their institution's entity and name and who
/// created and last changed each.
async fn send_users(
    encoder: &RowEncoder,
    names: &Names,
    accounts: &[User],
    batches: &mpsc::Sender<Batch>,
) -> Option<usize> {
    let encode = |u: &User, out: &mut EncodedRows| {
        let r = &u.row;
        let id = r.id.to_string();
        let meta = RecordMeta {
            id: &id,
            entity: &u.entity_code,
            institution: names.institution(r.institution_id),
            created_by: names.user(r.created_by),
            created_at: r.created_at.naive_utc(),
            updated_by: names.user(r.updated_by),
            updated_at: r.updated_at.naive_utc(),
        };
        encoder.encode(&user_record(u), &meta, out);
    };
    send_encoded(encoder, accounts, encode, batches).await
}

/// What an export's audit row says besides who asked.
struct ExportAudit {
    forms: Vec<&'static str>,
    filters: BTreeMap<String, String>,
}

/// Writes every row of `sheets` the caller may see, each sheet filtered
/// by its own filter, into one workbook streamed into `body`. The writer
/// runs on a blocking thread while this task reads the next pages, so the
/// database and the writer work at once. The audit row is written once
/// every row was read and before the workbook's end is: a download that
/// went through is always audited, with its row count.
async fn export_into(
    auth: Authenticated,
    sheets: Vec<Sheet>,
    audited: ExportAudit,
    mut conns: (PooledConn, PooledConn),
    body: BodyWriter,
) -> Result<(), String> {
    let options = ExportOptions {
        lang: auth.lang,
        personal_data: auth.actor.can(Permission::ReadPersonalData),
        compression_level: COMPRESSION_LEVEL,
        ..Default::default()
    };
    let (sender, receiver) = mpsc::channel(PAGES_IN_FLIGHT);
    let writing = web::block({
        let options = options.clone();
        move || write_batches(options, receiver, body)
    });
    let fetched = {
        let pair = (&mut *conns.0, &mut *conns.1);
        fetch_batches(pair, &auth, &options, sheets, &sender).await
    };
    let ended = match fetched {
        Ok(Some(total)) => {
            let entry = AuditEntry::access(&auth.audit_context(), AuditAction::Export, "excel")
                .details(json!({
                    "forms": audited.forms,
                    "filters": audited.filters,
                    "rows": total,
                    "personal_data": auth.actor.can(Permission::ReadPersonalData),
                }));
            match audit::append(&mut conns.0, &[entry]).await {
                Ok(()) => Ok(sender.send(Batch::End).await.is_ok()),
                Err(e) => Err(format!("export: audit row not written: {e}")),
            }
        }
        // The writer stopped first: its own error says why.
        Ok(None) => Ok(false),
        Err(e) => Err(format!("export: reading failed: {e:?}")),
    };
    // The writer stops on its own once nothing more can come.
    drop(sender);
    drop(conns);
    let written = writing
        .await
        .map_err(|e| format!("export: writer thread: {e}"))?;
    match (ended, written) {
        (Ok(true), Ok(true)) => Ok(()),
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(format!("export: writing failed: {e}")),
        _ => Err("export: ended without a workbook".into()),
    }
}

/// An export has no pages: `limit` or `cursor` would suggest it does.
fn refuse_paging(query: &HashMap<String, String>) -> ApiResult<()> {
    let mut errors: Vec<FieldError> = PAGING_KEYS
        .iter()
        .filter(|k| query.contains_key(**k))
        .map(|&k| {
            FieldError::new(
                k,
                FieldCode::NotForExport,
                Message::new(
                    format!(
                        "«{k}» pagina las listas; una exportación trae todos los registros que cumplen los filtros."
                    ),
                    format!(
                        "\"{k}\" pages lists; an export carries every record that matches the filters."
                    ),
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    Err(ApiError::Validation(errors))
}

/// Answers at once with the workbook as a stream (`Transfer-Encoding:
/// chunked`): the rows are read page after page and the workbook's zip goes
/// out as it is written, so the server holds a bounded buffer whatever the
/// number of rows (the worksheets spill to temporary files, see
/// `sintra_excel::export`). The filters were checked and the database
/// connections taken before: a bad filter is a 422 and a database that does
/// not answer a 503, as for any request. A failure once the download
/// started (the database lost mid-export) can no longer be a problem
/// document: the download is cut, and the client sees it incomplete.
async fn export_response(
    state: web::Data<AppState>,
    auth: Authenticated,
    sheets: Vec<Sheet>,
    query: HashMap<String, String>,
    name: &str,
) -> ApiResult<HttpResponse> {
    // Names are looked up on a second connection: the first is streaming.
    let conns = (db::conn(&state.pool).await?, db::conn(&state.pool).await?);
    // Personal fields are never filters, so the filters hold no personal data.
    let audited = ExportAudit {
        forms: sheets.iter().map(|s| s.form().as_str()).collect(),
        filters: query.into_iter().collect(),
    };
    let (body, stream) = body::pipe();
    let cut = body.sender();
    // In the request's span: a failure logged after the answer started
    // still carries the request id the client was given.
    let task = async move {
        if let Err(e) = export_into(auth, sheets, audited, conns, body).await {
            tracing::error!("{e}");
            let _ = cut.send(Err(std::io::Error::other("export failed"))).await;
        }
    };
    actix_web::rt::spawn(tracing::Instrument::instrument(
        task,
        tracing::Span::current(),
    ));
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header(attachment(name))
        .streaming(stream))
}

/// Every record of a form the caller may see, with who registered and last
/// changed each (user name), their institution and entity, and when.
///
/// `catalog_item` (filters `catalog`, `active`) and `user` (national and
/// entity admins; filters `institution_id`, `entity_code`, `role`,
/// `active`) export as their own lists do.
///
/// Filtered by the query exactly as the form's list is (`entity_code`,
/// `institution_id`, the parent's id, any non-personal field by value,
/// dates by `<field>_from`/`<field>_to`, …); an unknown filter or a bad
/// value is a 422. `limit` and `cursor` do not apply (422): an export
/// carries every matching record. Personal-data columns only for roles that
/// may read them. Audited, with the filters used.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(
        ("form" = String, Path),
        SharedFilters,
        ("filters" = Option<HashMap<String, String>>, Query, style = Form, explode,
            description = "Any other filter of the form's list, as `<field>=<value>` (a non-personal field of the form; `<field>_from`/`<field>_to` for dates)")
    ),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown filter, bad value, or `limit`/`cursor`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/exports/{form}")]
pub async fn export_form(
    state: web::Data<AppState>,
    auth: Authenticated,
    form: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let key = excel_form(&auth, &form, ExcelUse::Export)?;
    let query = query.into_inner();
    refuse_paging(&query)?;
    let sheet = match key {
        FormKey::CatalogItem => {
            Sheet::CatalogItems(catalog_items::ExportFilter::from_query(&query)?)
        }
        FormKey::User => Sheet::Users(users_sheet::export_filter(&query)?),
        _ => {
            let mut conn = db::conn(&state.pool).await?;
            Sheet::Records(key, filter_from_query(&mut conn, key, &query).await?)
        }
    };
    let name = format!("sintra_{}.xlsx", key.as_str());
    export_response(state, auth, vec![sheet], query, &name).await
}

/// One workbook with a sheet per form: everything the caller may see.
///
/// Filtered by what every form shares, `entity_code` and `institution_id`
/// (422 for any other filter: export the form alone to filter by its
/// fields). The sheet of users comes only for roles that may read them
/// (filtered the same way); the catalogs' sheet comes whole, to read the
/// codes by. Audited, with the filters used.
#[utoipa::path(
    tag = "excel",
    security(("bearer" = [])),
    params(SharedFilters),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 422, description = "A filter other than `entity_code` and `institution_id`, or a bad value", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/excel/exports")]
pub async fn export_all(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<HashMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    refuse_paging(&query)?;
    let mut errors: Vec<FieldError> = query
        .keys()
        .filter(|k| !SHARED_FILTERS.contains(&k.as_str()))
        .map(|k| {
            FieldError::new(
                k,
                FieldCode::UnknownFilter,
                Message::new(
                    format!(
                        "La exportación de todos los formularios solo se filtra por «entity_code» e «institution_id», comunes a todos; para filtrar por «{k}», exporte su formulario (/excel/exports/{{formulario}})."
                    ),
                    format!(
                        "The export of every form is filtered only by \"entity_code\" and \"institution_id\", which all share; to filter by \"{k}\", export its form (/excel/exports/{{form}})."
                    ),
                ),
            )
        })
        .collect();
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ApiError::Validation(errors));
    }
    let mut sheets = Vec::new();
    {
        let mut conn = db::conn(&state.pool).await?;
        for key in all_specs().map(|s| s.key) {
            match key {
                FormKey::CatalogItem => sheets.push(Sheet::CatalogItems(Default::default())),
                FormKey::User if auth.actor.can(Permission::ReadUsers) => {
                    sheets.push(Sheet::Users(users_sheet::export_filter(&query)?))
                }
                FormKey::User => {}
                _ => sheets.push(Sheet::Records(
                    key,
                    filter_from_query(&mut conn, key, &query).await?,
                )),
            }
        }
    }
    export_response(state, auth, sheets, query, "sintra_todo.xlsx").await
}
