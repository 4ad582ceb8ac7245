//! The operations every record form shares (create, read, update, upsert by
//! folio, list), driven by the form spec: validation, catalog checks,
//! parent references, consistency with ancestors, scope, idempotency and
//! the audit trail are the same for commissions, victims or sentences.
//! Handlers in `routes/` are thin wrappers that name their form.

use std::collections::HashMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sintra_domain::access::{Actor, Permission, Scope, FEDERAL_ENTITY};
use sintra_domain::consistency;
use sintra_domain::forms::{FieldType, FormKey, FormSpec};
use sintra_domain::i18n::Message;
use sintra_domain::validation::{
    catalog_refs, diff, mask_personal, validate_record, CatalogEntry, FieldError,
};
use sintra_persistence::audit::{self, AuditEntry};
use sintra_persistence::catalogs::CatalogSnapshot;
use sintra_persistence::records::{self, DataFilter, NewRecord, RecordFilter, RecordRow};
use sintra_persistence::{catalogs, db, StoreError};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::duplicates;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{etag, if_match, Page, PageParams};
use crate::state::AppState;
use crate::today;

const MAX_IDEMPOTENCY_KEY: usize = 200;

/// A record as the API shows it: the shared columns and the form's fields,
/// personal fields masked for callers who may not read personal data.
pub fn record_json(row: &RecordRow, spec: &FormSpec, auth: &Authenticated) -> Value {
    let mut fields = row.fields();
    if !auth.actor.can(Permission::ReadPersonalData) {
        mask_personal(spec, &mut fields);
    }
    let mut out = Map::new();
    out.insert("id".into(), row.id.to_string().into());
    out.insert("version".into(), row.version.into());
    out.insert("entity_code".into(), row.entity_code.clone().into());
    out.insert(
        "institution_id".into(),
        row.institution_id.to_string().into(),
    );
    out.insert(
        "created_at".into(),
        serde_json::to_value(row.created_at).unwrap_or_default(),
    );
    out.insert(
        "created_by".into(),
        serde_json::to_value(row.created_by).unwrap_or_default(),
    );
    out.insert(
        "updated_at".into(),
        serde_json::to_value(row.updated_at).unwrap_or_default(),
    );
    out.insert(
        "updated_by".into(),
        serde_json::to_value(row.updated_by).unwrap_or_default(),
    );
    for (k, v) in fields {
        out.entry(k).or_insert(v);
    }
    Value::Object(out)
}

fn unknown_reference(field: &str) -> FieldError {
    FieldError::new(
        field,
        "unknown_reference",
        Message::new(
            "El registro referido no existe o no está a su alcance.",
            "The referenced record does not exist or is outside your scope.",
        ),
    )
}

/// Where a record may point besides its parent. Institution-scoped callers
/// (operators, state systems) reach their whole entity here, so a fiscalía
/// can link a victim another institution of its state attends: by id only
/// (folios are per institution), and the link shows nothing but the id.
fn link_scope(auth: &Authenticated) -> Scope {
    match auth.actor.scope() {
        Scope::Institution(_) => Scope::Entity(auth.actor.entity_code.clone()),
        other => other,
    }
}

/// The reference fields other than the parent (an investigation's victims).
fn links(spec: &FormSpec) -> impl Iterator<Item = &'static sintra_domain::forms::FieldSpec> + '_ {
    let parent = spec.parent_field().map(|f| f.key);
    spec.fields
        .iter()
        .filter(move |f| matches!(f.ty, FieldType::Reference { .. }) && Some(f.key) != parent)
}

/// Links named by the sender's own folios (`victim_folios`) become ids,
/// added to those given by id.
async fn resolve_link_folios(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    input: &mut Map<String, Value>,
) -> ApiResult<()> {
    for field in links(spec) {
        let FieldType::Reference {
            form,
            folio_key,
            multiple,
        } = field.ty
        else {
            continue;
        };
        let Some(given) = input.remove(folio_key) else {
            continue;
        };
        let folios: Vec<&Value> = match &given {
            Value::Array(items) => items.iter().collect(),
            Value::Null => vec![],
            one => vec![one],
        };
        let mut ids = vec![];
        for folio in folios {
            let Some(folio) = folio.as_str().map(str::trim).filter(|f| !f.is_empty()) else {
                return Err(ApiError::Validation(vec![unknown_reference(folio_key)]));
            };
            match records::find_by_folio(conn, auth.actor.institution_id, form.as_str(), folio)
                .await?
            {
                Some(r) => ids.push(Value::from(r.id.to_string())),
                None => return Err(ApiError::Validation(vec![unknown_reference(folio_key)])),
            }
        }
        let current = input.remove(field.key).unwrap_or(Value::Null);
        let merged = if multiple {
            let mut all = match current {
                Value::Array(a) => a,
                Value::Null => vec![],
                other => vec![other],
            };
            all.extend(ids);
            Value::Array(all)
        } else if current.is_null() {
            ids.into_iter().next().unwrap_or(Value::Null)
        } else {
            current
        };
        input.insert(field.key.into(), merged);
    }
    Ok(())
}

/// Every link must name an existing record of its form that the caller may
/// link (see [`link_scope`]); links the record already had are not checked
/// again, so an update of other fields never fails on them.
async fn check_links(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    data: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> ApiResult<Vec<FieldError>> {
    let scope = link_scope(auth);
    let ids = |m: Option<&Map<String, Value>>, key: &str| -> Vec<Uuid> {
        match m.and_then(|m| m.get(key)) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect(),
            Some(Value::String(s)) => s.parse().ok().into_iter().collect(),
            _ => vec![],
        }
    };
    let mut errors = vec![];
    for field in links(spec) {
        let FieldType::Reference { form, .. } = field.ty else {
            continue;
        };
        let known = ids(previous, field.key);
        for id in ids(Some(data), field.key) {
            if known.contains(&id) {
                continue;
            }
            match records::get(conn, &scope, form.as_str(), id).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    errors.push(unknown_reference(field.key));
                    break;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
    Ok(errors)
}

/// How many records of a timeline the consistency rules look at, at most.
const RELATED_LIMIT: i64 = 2_000;

/// The records [`consistency::related`] names for the form, with their ids,
/// in recording order. The owner is an ancestor (already in scope through
/// the parent) or, on an update, the record itself.
async fn load_related(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    previous: Option<&RecordRow>,
    ancestor_ids: &[(FormKey, Uuid)],
) -> ApiResult<Vec<(Uuid, Map<String, Value>)>> {
    let Some(rel) = consistency::related(form) else {
        return Ok(vec![]);
    };
    let owner = if rel.owner == form {
        previous.map(|p| p.id)
    } else {
        ancestor_ids
            .iter()
            .find(|(f, _)| *f == rel.owner)
            .map(|(_, id)| *id)
    };
    let Some(owner) = owner else {
        return Ok(vec![]);
    };
    let filter = RecordFilter {
        parent_id: Some(owner),
        ..Default::default()
    };
    let rows = records::list(
        conn,
        &Scope::National,
        rel.child.as_str(),
        &filter,
        RELATED_LIMIT,
    )
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.fields())).collect())
}

/// What a validated submission becomes before it is stored.
pub(crate) struct Prepared {
    pub(crate) data: Map<String, Value>,
    entity_code: String,
    parent_id: Option<Uuid>,
    /// For people, what duplicate matching needs (stored keys included).
    pub(crate) person: Option<duplicates::Person>,
}

/// Resolves a parent and links given by folio, validates the record by its
/// spec, checks the parent lies in the caller's scope and every link where
/// the caller may link, checks the record agrees with its ancestors and the
/// timeline it belongs to, and decides the record's entity.
pub(crate) async fn prepare(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    input: Map<String, Value>,
    previous: Option<&RecordRow>,
) -> ApiResult<Prepared> {
    prepare_with(conn, auth, spec, input, previous, None, None).await
}

/// The catalog entries a batch of submissions names, fetched in one query;
/// the federal level joins the `entity` catalog where the caller may
/// register federal records (the Comisión Intersecretarial).
pub(crate) async fn snapshot_for(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    inputs: &[Map<String, Value>],
) -> ApiResult<CatalogSnapshot> {
    // A set: a file of 100,000 rows names the same few hundred entries
    // hundreds of thousands of times.
    let wanted: std::collections::HashSet<(String, String)> =
        inputs.iter().flat_map(|i| catalog_refs(spec, i)).collect();
    let wanted: Vec<(String, String)> = wanted.into_iter().collect();
    let mut lookup = catalogs::snapshot(conn, &wanted).await?;
    if spec.field("entity_code").is_some()
        && (auth.actor.scope() == Scope::National || auth.actor.entity_code == FEDERAL_ENTITY)
    {
        lookup.insert(
            "entity",
            FEDERAL_ENTITY,
            CatalogEntry {
                active: true,
                parent_code: None,
            },
        );
    }
    Ok(lookup)
}

/// A parent in the caller's scope with its own ancestors, parent first.
#[derive(Clone)]
struct Lineage {
    row: RecordRow,
    ancestors: Vec<(FormKey, Map<String, Value>)>,
    ancestor_ids: Vec<(FormKey, Uuid)>,
}

/// The parents an import has already read: a file of 100,000 attentions
/// names a few thousand people, each looked up once instead of once per
/// row. Lives for one request: nothing in it outlasts the caller's scope.
#[derive(Default)]
pub(crate) struct ParentCache {
    by_folio: HashMap<(FormKey, String), Option<Uuid>>,
    lineages: HashMap<Uuid, Lineage>,
}

/// Reads a parent in the caller's scope and its ancestors up the tree.
async fn read_lineage(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    parent_form: FormKey,
    id: Uuid,
    field: &str,
) -> ApiResult<Lineage> {
    let row = records::get(conn, scope, parent_form.as_str(), id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::Validation(vec![unknown_reference(field)]),
            other => other.into(),
        })?;
    let mut lineage = Lineage {
        row: row.clone(),
        ancestors: vec![],
        ancestor_ids: vec![],
    };
    let mut form = parent_form;
    let mut next = Some(row);
    while let Some(r) = next {
        lineage.ancestors.push((form, r.fields()));
        lineage.ancestor_ids.push((form, r.id));
        let grand = form.spec().parent;
        next = match (r.parent_id, grand) {
            (Some(pid), Some(g)) => {
                form = g;
                Some(records::get(conn, &Scope::National, g.as_str(), pid).await?)
            }
            _ => None,
        };
    }
    Ok(lineage)
}

/// [`prepare`] with the catalog entries already fetched and parents
/// remembered across calls (an Excel import fetches the catalogs once for
/// the whole file and reads each parent once).
pub(crate) async fn prepare_with(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    mut input: Map<String, Value>,
    previous: Option<&RecordRow>,
    prefetched: Option<&CatalogSnapshot>,
    mut cache: Option<&mut ParentCache>,
) -> ApiResult<Prepared> {
    let scope = auth.actor.scope();
    let parent_field = spec.parent_field();
    // A parent named by the sender's folio (state systems, Excel) becomes its id.
    if let Some(field) = parent_field {
        if let FieldType::Reference {
            form, folio_key, ..
        } = field.ty
        {
            if let Some(folio) = input.remove(folio_key) {
                if input.get(field.key).is_none_or(|v| v.is_null()) {
                    let folio = folio.as_str().unwrap_or_default().trim().to_string();
                    let known = cache
                        .as_deref()
                        .and_then(|c| c.by_folio.get(&(form, folio.clone())).copied());
                    let found = match known {
                        Some(found) => found,
                        None => {
                            let found = records::find_by_folio(
                                conn,
                                auth.actor.institution_id,
                                form.as_str(),
                                &folio,
                            )
                            .await?
                            .map(|p| p.id);
                            if let Some(c) = cache.as_deref_mut() {
                                c.by_folio.insert((form, folio), found);
                            }
                            found
                        }
                    };
                    match found {
                        Some(id) => {
                            input.insert(field.key.into(), id.to_string().into());
                        }
                        None => {
                            return Err(ApiError::Validation(vec![unknown_reference(folio_key)]))
                        }
                    }
                }
            }
        }
    }
    resolve_link_folios(conn, auth, spec, &mut input).await?;
    let fetched;
    let lookup = match prefetched {
        Some(l) => l,
        None => {
            fetched = snapshot_for(conn, auth, spec, std::slice::from_ref(&input)).await?;
            &fetched
        }
    };
    let previous_fields = previous.map(RecordRow::fields);
    let data = validate_record(spec, &input, previous_fields.as_ref(), lookup, today())
        .map_err(ApiError::Validation)?;

    // The parent must be visible to the caller; then its own ancestors.
    let mut lineage: Option<Lineage> = None;
    if let (Some(field), Some(parent_form)) = (parent_field, spec.parent) {
        if let Some(id) = data
            .get(field.key)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
        {
            let known = cache.as_deref().and_then(|c| c.lineages.get(&id)).cloned();
            lineage = Some(match known {
                Some(l) => l,
                None => {
                    let l = read_lineage(conn, &scope, parent_form, id, field.key).await?;
                    if let Some(c) = cache {
                        c.lineages.insert(id, l.clone());
                    }
                    l
                }
            });
        }
    }
    let (parent_row, ancestors, ancestor_ids) = match lineage {
        Some(l) => (Some(l.row), l.ancestors, l.ancestor_ids),
        None => (None, vec![], vec![]),
    };
    let mut errors = check_links(conn, auth, spec, &data, previous_fields.as_ref()).await?;
    let related = load_related(conn, spec.key, previous, &ancestor_ids).await?;
    let ctx = consistency::Context {
        previous: previous_fields.as_ref(),
        id: previous.map(|p| p.id),
        related: &related,
    };
    errors.extend(consistency::check_in(spec.key, &data, &ancestors, &ctx));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    finish(&auth.actor, spec, data, parent_row.as_ref(), previous)
}

/// Whether preparing a record of this form reads other records (a parent,
/// links, a timeline). Records of the other forms are prepared from what
/// was sent and the catalogs alone, with [`prepare_alone`].
pub(crate) fn reads_records(spec: &FormSpec) -> bool {
    spec.fields
        .iter()
        .any(|f| matches!(f.ty, FieldType::Reference { .. }))
        || consistency::related(spec.key).is_some()
}

/// [`prepare_with`] for a form that reads no other record
/// ([`reads_records`] is false): no database, so an import prepares its
/// rows on every core.
pub(crate) fn prepare_alone(
    actor: &Actor,
    spec: &FormSpec,
    input: &Map<String, Value>,
    previous: Option<&RecordRow>,
    lookup: &CatalogSnapshot,
) -> ApiResult<Prepared> {
    debug_assert!(!reads_records(spec));
    let previous_fields = previous.map(RecordRow::fields);
    let data = validate_record(spec, input, previous_fields.as_ref(), lookup, today())
        .map_err(ApiError::Validation)?;
    let ctx = consistency::Context {
        previous: previous_fields.as_ref(),
        id: previous.map(|p| p.id),
        related: &[],
    };
    let errors = consistency::check_in(spec.key, &data, &[], &ctx);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    finish(actor, spec, data, None, previous)
}

/// The last step of preparing a record, once it is valid and agrees with
/// its ancestors: whose entity it is, whether the caller may record there,
/// and for people what matching needs.
fn finish(
    actor: &Actor,
    spec: &FormSpec,
    data: Map<String, Value>,
    parent_row: Option<&RecordRow>,
    previous: Option<&RecordRow>,
) -> ApiResult<Prepared> {
    let scope = actor.scope();
    // Whose record it is: the form's own entity field, else its parent's,
    // else (on update) what it was, else the caller's.
    let entity_code = match (
        data.get("entity_code").and_then(Value::as_str),
        parent_row,
        previous,
    ) {
        (Some(e), _, _) => e.to_string(),
        (None, Some(p), _) => p.entity_code.clone(),
        (None, None, Some(prev)) => prev.entity_code.clone(),
        (None, None, None) => actor.entity_code.clone(),
    };
    let allowed = match &scope {
        Scope::National => true,
        Scope::Entity(e) => *e == entity_code,
        Scope::Institution(_) => actor.entity_code == entity_code,
    };
    if !allowed {
        return Err(ApiError::Validation(vec![FieldError::new(
            "entity_code",
            "outside_scope",
            Message::new(
                "Solo puede registrar información de su propia entidad.",
                "You may only record information of your own entity.",
            ),
        )]));
    }
    if let Some(prev) = previous {
        if prev.entity_code != entity_code {
            return Err(ApiError::Validation(vec![FieldError::new(
                "entity_code",
                "immutable_field",
                Message::new(
                    "La entidad de un registro no cambia; registre uno nuevo.",
                    "A record's entity does not change; register a new one.",
                ),
            )]));
        }
    }
    let person =
        (spec.key.as_str() == duplicates::PERSON_FORM).then(|| duplicates::Person::of(&data));
    Ok(Prepared {
        data,
        entity_code,
        parent_id: parent_row.map(|p| p.id),
        person,
    })
}

fn folio_of(data: &Map<String, Value>) -> Option<String> {
    data.get("external_folio")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn folio_conflict() -> ApiError {
    ApiError::Conflict {
        code: "folio_taken",
        detail: Message::new(
            "Su institución ya registró otro registro con ese folio; use PUT …/by-folio/{folio} para actualizarlo.",
            "Your institution already registered a record with that folio; use PUT …/by-folio/{folio} to update it.",
        ),
    }
}

/// The row a prepared record becomes, owned by the caller's institution.
pub(crate) fn new_record(auth: &Authenticated, spec: &FormSpec, prepared: Prepared) -> NewRecord {
    NewRecord {
        id: Uuid::now_v7(),
        form: spec.key.as_str().into(),
        entity_code: prepared.entity_code,
        institution_id: auth.actor.institution_id,
        parent_id: prepared.parent_id,
        external_folio: folio_of(&prepared.data),
        data: Value::Object(prepared.data),
        created_by: Some(auth.actor.user_id),
        updated_by: Some(auth.actor.user_id),
        blocking_keys: prepared.person.map(|p| p.keys),
    }
}

/// Maps the uniqueness conflicts a record write can hit to their meaning.
pub(crate) fn write_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { constraint } if constraint == "records_folio" => folio_conflict(),
        StoreError::Conflict { constraint } if constraint == "idempotency_keys_pkey" => {
            ApiError::Conflict {
                code: "idempotency_key_in_flight",
                detail: Message::new(
                    "Otra solicitud con la misma Idempotency-Key se está procesando; reintente.",
                    "Another request with the same Idempotency-Key is being processed; retry.",
                ),
            }
        }
        other => other.into(),
    }
}

/// What a write answers: the record, or for people `{data, warnings}` with
/// their possible duplicates (DESIGN.md §5).
pub fn write_body(
    row: &RecordRow,
    spec: &FormSpec,
    auth: &Authenticated,
    warnings: Option<Vec<Value>>,
) -> Value {
    let data = record_json(row, spec, auth);
    match warnings {
        Some(w) => serde_json::json!({"data": data, "warnings": w}),
        None => data,
    }
}

/// Runs what follows a write inside its transaction: for people, the
/// duplicate check (which may refuse the write on request).
async fn after_write(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    row: &RecordRow,
    person: Option<&duplicates::Person>,
    reject_duplicates: bool,
) -> ApiResult<Option<Vec<Value>>> {
    match person {
        Some(p) => Ok(Some(
            duplicates::after_write(conn, auth, row, p, reject_duplicates).await?,
        )),
        None => Ok(None),
    }
}

/// Stores a prepared record inside the caller's transaction, without an
/// audit row of its own (an Excel import is audited once, as a whole): a
/// new record, or the caller's institution's record with the same folio
/// replaced. Returns the row, whether it was created, and for people their
/// duplicate warnings.
pub(crate) async fn store_prepared(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    prepared: Prepared,
    previous: Option<&RecordRow>,
    known_duplicates: Option<&[duplicates::Warning]>,
) -> ApiResult<(RecordRow, bool, Option<Vec<Value>>)> {
    let person = prepared.person.clone();
    let (row, created) = match previous {
        Some(before) => {
            let data = Value::Object(prepared.data);
            let (_, after) = records::update(
                conn,
                &auth.actor.scope(),
                spec.key.as_str(),
                before.id,
                before.version,
                &data,
                person.as_ref().map(|p| p.keys.as_slice()),
                auth.actor.user_id,
            )
            .await
            .map_err(write_conflict)?;
            (after, false)
        }
        None => {
            let new = new_record(auth, spec, prepared);
            (
                records::insert(conn, &new).await.map_err(write_conflict)?,
                true,
            )
        }
    };
    let warnings = match (known_duplicates, &person) {
        (Some(known), Some(_)) => {
            for w in known {
                duplicates::raise(conn, row.id, w).await?;
            }
            None
        }
        _ => after_write(conn, auth, &row, person.as_ref(), false).await?,
    };
    Ok((row, created, warnings))
}

/// Whether the caller asked to refuse duplicates (`?on_duplicate=reject`).
fn rejects_duplicates(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|p| p == "on_duplicate=reject")
}

async fn insert_audited(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    prepared: Prepared,
    idempotency: Option<(&str, &str)>,
    reject_duplicates: bool,
) -> ApiResult<(RecordRow, Value)> {
    let changes = Value::Object(diff(spec, &Map::new(), &prepared.data));
    let person = prepared.person.clone();
    let new = new_record(auth, spec, prepared);
    let ctx = auth.audit_context();
    let institution = auth.actor.institution_id;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let row = records::insert(conn, &new).await.map_err(write_conflict)?;
        let warnings = after_write(conn, auth, &row, person.as_ref(), reject_duplicates).await?;
        let body = write_body(&row, spec, auth, warnings);
        if let Some((key, hash)) = idempotency {
            records::store_idempotent_response(conn, institution, key, hash, 201, &body)
                .await
                .map_err(write_conflict)?;
        }
        let entry = AuditEntry::modification(&ctx, "create", spec.key.as_str())
            .resource(row.id)
            .changes(changes);
        audit::append(conn, &[entry]).await?;
        Ok((row, body))
    })
    .await
}

fn updated(row: &RecordRow, body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(etag(row.version))
        .json(body)
}

fn created(row: &RecordRow, body: Value) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(etag(row.version))
        .json(body)
}

/// Creates a record. `parent` fixes the parent from the path (nested
/// routes such as `/agreements/{id}/follow-ups`). Honours `Idempotency-Key`.
pub async fn create(
    state: &AppState,
    auth: &Authenticated,
    req: &HttpRequest,
    form: FormKey,
    mut body: Map<String, Value>,
    parent: Option<Uuid>,
) -> ApiResult<HttpResponse> {
    let spec = form.spec();
    if let (Some(id), Some(field)) = (parent, spec.parent_field()) {
        body.insert(field.key.into(), id.to_string().into());
    }
    let mut conn = db::conn(&state.pool).await?;
    let key = idempotency_key(req)?;
    let hash = key.as_ref().map(|_| {
        hex::encode(Sha256::digest(format!(
            "{}|{}",
            form.as_str(),
            Value::Object(body.clone())
        )))
    });
    if let (Some(k), Some(h)) = (&key, &hash) {
        if let Some(stored) =
            records::idempotent_response(&mut conn, auth.actor.institution_id, k).await?
        {
            if &stored.request_hash != h {
                return Err(ApiError::Conflict {
                    code: "idempotency_key_reused",
                    detail: Message::new(
                        "Esa Idempotency-Key ya se usó con otro contenido.",
                        "That Idempotency-Key was already used with a different body.",
                    ),
                });
            }
            return Ok(HttpResponse::build(
                StatusCode::from_u16(stored.status as u16).unwrap_or(StatusCode::OK),
            )
            .insert_header(("Idempotent-Replayed", "true"))
            .json(stored.response));
        }
    }
    let prepared = prepare(&mut conn, auth, spec, body, None).await?;
    let idem = key.as_deref().zip(hash.as_deref());
    let (row, body) = insert_audited(
        &mut conn,
        auth,
        spec,
        prepared,
        idem,
        rejects_duplicates(req),
    )
    .await?;
    Ok(created(&row, body))
}

fn idempotency_key(req: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.is_empty() || v.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::malformed(
            "invalid_idempotency_key",
            "Idempotency-Key debe tener entre 1 y 200 caracteres visibles.",
            "Idempotency-Key must have between 1 and 200 visible characters.",
        ));
    }
    Ok(Some(v.to_string()))
}

/// Reads one record in the caller's scope; reading personal data is audited.
pub async fn read(
    state: &AppState,
    auth: &Authenticated,
    form: FormKey,
    id: Uuid,
) -> ApiResult<HttpResponse> {
    let spec = form.spec();
    let mut conn = db::conn(&state.pool).await?;
    let row = records::get(&mut conn, &auth.actor.scope(), form.as_str(), id).await?;
    if spec.personal_fields().next().is_some() {
        let entry =
            AuditEntry::access(&auth.audit_context(), "read", form.as_str()).resource(row.id);
        audit::append(&mut conn, &[entry]).await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header(etag(row.version))
        .json(record_json(&row, spec, auth)))
}

async fn update_row(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    spec: &FormSpec,
    before: &RecordRow,
    version: i32,
    input: Map<String, Value>,
    reject_duplicates: bool,
) -> ApiResult<(RecordRow, Value)> {
    let prepared = prepare(conn, auth, spec, input, Some(before)).await?;
    let changes = Value::Object(diff(spec, &before.fields(), &prepared.data));
    let person = prepared.person;
    let data = Value::Object(prepared.data);
    let ctx = auth.audit_context();
    let scope = auth.actor.scope();
    let (form, id, by) = (spec.key.as_str(), before.id, auth.actor.user_id);
    conn.transaction::<_, ApiError, _>(async |conn| {
        let keys = person.as_ref().map(|p| p.keys.as_slice());
        let (_, after) = records::update(conn, &scope, form, id, version, &data, keys, by)
            .await
            .map_err(write_conflict)?;
        let warnings = after_write(conn, auth, &after, person.as_ref(), reject_duplicates).await?;
        let entry = AuditEntry::modification(&ctx, "update", form)
            .resource(id)
            .changes(changes);
        audit::append(conn, &[entry]).await?;
        let body = write_body(&after, spec, auth, warnings);
        Ok((after, body))
    })
    .await
}

/// Changes some fields of a record (`If-Match` required): the record as it
/// would stand is validated whole, as on creation.
pub async fn update(
    state: &AppState,
    auth: &Authenticated,
    req: &HttpRequest,
    form: FormKey,
    id: Uuid,
    patch: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let version = if_match(req)?;
    let spec = form.spec();
    let mut conn = db::conn(&state.pool).await?;
    let before = records::get(&mut conn, &auth.actor.scope(), form.as_str(), id).await?;
    if before.version != version {
        return Err(ApiError::StaleVersion);
    }
    let mut merged = before.fields();
    for (k, v) in patch {
        merged.insert(k, v);
    }
    let (row, body) = update_row(
        &mut conn,
        auth,
        spec,
        &before,
        version,
        merged,
        rejects_duplicates(req),
    )
    .await?;
    Ok(updated(&row, body))
}

/// Creates or replaces the record the caller's institution knows by this
/// folio (state systems re-sending their data). 201 when created, 200 when
/// replaced; `If-Match` is honoured when sent.
pub async fn upsert_by_folio(
    state: &AppState,
    auth: &Authenticated,
    req: &HttpRequest,
    form: FormKey,
    folio: String,
    mut body: Map<String, Value>,
) -> ApiResult<HttpResponse> {
    let spec = form.spec();
    let folio = folio.trim().to_string();
    if folio.is_empty() || folio.chars().count() > 100 {
        return Err(ApiError::NotFound);
    }
    if body
        .get("external_folio")
        .is_some_and(|v| v.as_str() != Some(folio.as_str()))
    {
        return Err(ApiError::invalid(
            "external_folio",
            "folio_mismatch",
            "El folio del cuerpo no coincide con el de la ruta.",
            "The body's folio differs from the path's.",
        ));
    }
    body.insert("external_folio".into(), folio.clone().into());
    let mut conn = db::conn(&state.pool).await?;
    let existing =
        records::find_by_folio(&mut conn, auth.actor.institution_id, form.as_str(), &folio).await?;
    match existing {
        None => {
            let prepared = prepare(&mut conn, auth, spec, body, None).await?;
            let (row, body) = insert_audited(
                &mut conn,
                auth,
                spec,
                prepared,
                None,
                rejects_duplicates(req),
            )
            .await?;
            Ok(created(&row, body))
        }
        Some(before) => {
            let version = match req.headers().get(header::IF_MATCH) {
                Some(_) => if_match(req)?,
                None => before.version,
            };
            if version != before.version {
                return Err(ApiError::StaleVersion);
            }
            let (row, body) = update_row(
                &mut conn,
                auth,
                spec,
                &before,
                version,
                body,
                rejects_duplicates(req),
            )
            .await?;
            Ok(updated(&row, body))
        }
    }
}

/// The query keys that page a list rather than filter it.
pub(crate) const PAGING_KEYS: [&str; 2] = ["limit", "cursor"];

/// The filters every record form takes: they name columns all records share.
pub(crate) const SHARED_FILTERS: [&str; 2] = ["entity_code", "institution_id"];

/// A filter whose value does not parse (the value is not echoed).
pub(crate) fn invalid_filter(key: &str) -> FieldError {
    FieldError::new(
        key,
        "invalid_filter",
        Message::new(
            format!("El filtro «{key}» no tiene un valor válido."),
            format!("The filter \"{key}\" has an invalid value."),
        ),
    )
}

/// A filter the list (or export) does not take.
pub(crate) fn unknown_filter(key: &str) -> FieldError {
    FieldError::new(
        key,
        "unknown_filter",
        Message::new(
            format!("No se puede filtrar por «{key}»."),
            format!("Cannot filter by \"{key}\"."),
        ),
    )
}

/// The records of `form` a query names, as a list or an export reads it:
/// `entity_code`, `institution_id`, the parent's id (`commission_id`, …),
/// any non-personal field of the form by value (a list field by one of its
/// values), any date field by `<field>_from` / `<field>_to`, `overdue=true`
/// for agreements and `age_group=<code of the age_group catalog>` for
/// victims. Personal fields are never filters, whoever asks: their values
/// would travel in URLs, proxy logs and the audit trail. Any other key, or
/// a value that does not parse, is a 422 naming every offending key. The
/// paging keys ([`PAGING_KEYS`]) are the caller's to take out first.
pub(crate) async fn filter_from_query(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    query: &HashMap<String, String>,
) -> ApiResult<RecordFilter> {
    let spec = form.spec();
    let mut filter = RecordFilter::default();
    let mut errors = vec![];
    let bad_value = invalid_filter;
    // Sorted, so the errors come in the same order whatever the hash map's.
    let mut pairs: Vec<(&String, &String)> = query.iter().collect();
    pairs.sort();
    for (key, value) in pairs {
        let key = key.as_str();
        if value.chars().count() > 200 {
            errors.push(bad_value(key));
            continue;
        }
        match key {
            "entity_code" => filter.entity_code = Some(value.clone()),
            "institution_id" => match value.parse() {
                Ok(id) => filter.institution_id = Some(id),
                Err(_) => errors.push(bad_value(key)),
            },
            "age_group" if form == FormKey::Victim => {
                match catalogs::get_item(conn, "age_group", &value.to_uppercase()).await {
                    Ok(item) => {
                        let bound =
                            |k: &str| item.extra.get(k).and_then(Value::as_i64).map(|n| n as i32);
                        filter
                            .data
                            .push(DataFilter::AgeBetween(bound("min"), bound("max")));
                    }
                    Err(_) => errors.push(bad_value(key)),
                }
            }
            "overdue" if form == FormKey::Agreement => {
                if value == "true" {
                    filter
                        .data
                        .push(DataFilter::Before("due_date", today().to_string()));
                    filter.data.push(DataFilter::NotIn(
                        "status",
                        vec!["CUMPLIDO".into(), "CANCELADO".into()],
                    ));
                }
            }
            _ => {
                let (field_key, bound) = match key.strip_suffix("_from") {
                    Some(k) => (k, Some(true)),
                    None => match key.strip_suffix("_to") {
                        Some(k) => (k, Some(false)),
                        None => (key, None),
                    },
                };
                let Some(field) = spec.field(field_key).filter(|f| !f.personal) else {
                    errors.push(unknown_filter(key));
                    continue;
                };
                match (&field.ty, bound) {
                    (FieldType::Date, Some(true)) => filter
                        .data
                        .push(DataFilter::AtLeast(field.key, value.clone())),
                    (FieldType::Date, Some(false)) => filter
                        .data
                        .push(DataFilter::AtMost(field.key, value.clone())),
                    (_, Some(_)) => errors.push(bad_value(key)),
                    (FieldType::Reference { .. }, None)
                        if spec.parent_field().is_some_and(|p| p.key == field.key) =>
                    {
                        match value.parse() {
                            Ok(id) => filter.parent_id = Some(id),
                            Err(_) => errors.push(bad_value(key)),
                        }
                    }
                    (ty, None) if ty.is_multiple() => filter
                        .data
                        .push(DataFilter::Contains(field.key, value.to_uppercase())),
                    (FieldType::Catalog { .. } | FieldType::Choice { .. }, None) => filter
                        .data
                        .push(DataFilter::Equals(field.key, value.to_uppercase())),
                    (_, None) => filter
                        .data
                        .push(DataFilter::Equals(field.key, value.clone())),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(filter)
}

/// Lists records in the caller's scope, filtered by the query as
/// `filter_from_query` reads it and paged by `limit` and `cursor`.
pub async fn list(
    state: &AppState,
    auth: &Authenticated,
    form: FormKey,
    mut query: HashMap<String, String>,
    parent: Option<Uuid>,
) -> ApiResult<HttpResponse> {
    let spec = form.spec();
    let page = PageParams {
        limit: query.remove("limit").map(|l| l.parse().unwrap_or(0)),
        cursor: query.remove("cursor"),
    };
    let limit = page.limit()?;
    let after = page.after()?;
    let mut conn = db::conn(&state.pool).await?;
    let mut filter = filter_from_query(&mut conn, form, &query).await?;
    filter.after_id = after;
    // A nested route's parent, unless the query names one itself (the
    // records are in the caller's scope either way).
    if filter.parent_id.is_none() {
        filter.parent_id = parent;
    }
    let rows = records::list(
        &mut conn,
        &auth.actor.scope(),
        form.as_str(),
        &filter,
        limit + 1,
    )
    .await?;
    if spec.personal_fields().next().is_some() {
        let entry = AuditEntry::access(&auth.audit_context(), "list", form.as_str())
            .details(serde_json::json!({"returned": rows.len().min(limit as usize)}));
        audit::append(&mut conn, &[entry]).await?;
    }
    let page = Page::from_rows(rows, limit, |r| r.id, |r| record_json(&r, spec, auth));
    Ok(HttpResponse::Ok().json(page))
}

/// The parent record of a nested route, in the caller's scope.
pub async fn parent_in_scope(
    state: &AppState,
    auth: &Authenticated,
    form: FormKey,
    id: Uuid,
) -> ApiResult<RecordRow> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(records::get(&mut conn, &auth.actor.scope(), form.as_str(), id).await?)
}
