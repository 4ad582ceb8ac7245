//! Writing records: create (with `Idempotency-Key`), update (with the
//! version the caller read), upsert by the sender's folio, and the storing
//! an Excel import shares. Every write is audited in its own transaction;
//! people are checked for duplicates inside it.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sintra_domain::access::Caller;
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_domain::i18n::Message;
use sintra_domain::validation::diff;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::records::{self, NewRecord, RecordRow};
use sintra_persistence::{db, Pool, StoreError};
use uuid::Uuid;

use super::prepare::{prepare, Prepared, Submission};
use super::view::write_body;
use crate::error::{ServiceError, ServiceResult};
use crate::periods;
use sintra_domain::validation::FieldCode;

/// The longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 200;
/// The longest folio a path may name.
const MAX_FOLIO_CHARS: usize = 100;

/// What a write answers with.
#[derive(Debug)]
pub enum Written {
    /// A new record (201), with its version for the ETag.
    Created { version: i32, body: Value },
    /// A changed record (200).
    Updated { version: i32, body: Value },
    /// The stored answer to an earlier request with the same
    /// `Idempotency-Key` and body.
    Replayed { status: u16, body: Value },
}

/// How a create may be asked.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    /// The parent named by the path (`/agreements/{id}/follow-ups`).
    pub parent: Option<Uuid>,
    /// The `Idempotency-Key` header as sent (blank when unreadable).
    pub idempotency_key: Option<String>,
    /// `?on_duplicate=reject`: an exact or probable duplicate refuses the write.
    pub reject_duplicates: bool,
}

/// The version an upsert expects of the record it replaces (`If-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No `If-Match`: whatever is stored.
    Any,
    Version(i32),
    /// An `If-Match` that names no version: never current.
    Unreadable,
}

fn folio_of(data: &Map<String, Value>) -> Option<String> {
    data.get("external_folio")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn folio_conflict() -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::FolioTaken,
        detail: Message::new(
            "Su institución ya registró otro registro con ese folio; use PUT …/by-folio/{folio} para actualizarlo.",
            "Your institution already registered a record with that folio; use PUT …/by-folio/{folio} to update it.",
        ),
    }
}

/// The row a prepared record becomes, owned by the caller's institution.
pub fn new_record(caller: &Caller, spec: &FormSpec, prepared: Prepared) -> NewRecord {
    NewRecord {
        id: Uuid::now_v7(),
        form: spec.key.as_str().into(),
        entity_code: prepared.entity_code.into(),
        institution_id: caller.actor.institution_id,
        parent_id: prepared.parent_id,
        external_folio: folio_of(&prepared.data),
        data: Value::Object(prepared.data),
        created_by: Some(caller.actor.user_id),
        updated_by: Some(caller.actor.user_id),
        name_terms: prepared.person.as_ref().map(|p| p.terms.clone()),
        blocking_keys: prepared.person.map(|p| p.keys),
    }
}

/// Maps the uniqueness conflicts a record write can hit to their meaning.
pub fn write_conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict { constraint } if constraint == "records_folio" => folio_conflict(),
        StoreError::Conflict { constraint } if constraint == "idempotency_keys_pkey" => {
            ServiceError::Conflict {
                code: ErrorCode::IdempotencyKeyInFlight,
                detail: Message::new(
                    "Otra solicitud con la misma Idempotency-Key se está procesando; reintente.",
                    "Another request with the same Idempotency-Key is being processed; retry.",
                ),
            }
        }
        other => other.into(),
    }
}

/// Runs what follows a write inside its transaction: for people, the
/// duplicate check (which may refuse the write on request).
async fn after_write(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    row: &RecordRow,
    person: Option<&crate::duplicates::Person>,
    reject_duplicates: bool,
) -> ServiceResult<Option<Vec<Value>>> {
    match person {
        Some(p) => Ok(Some(
            crate::duplicates::after_write(conn, caller, row, p, reject_duplicates).await?,
        )),
        None => Ok(None),
    }
}

/// Stores a prepared record inside the caller's transaction, without an
/// audit row of its own (an Excel import is audited once, as a whole): a
/// new record, or the caller's institution's record with the same folio
/// replaced. Returns the row, whether it was created, and for people their
/// duplicate warnings.
pub async fn store_prepared(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &'static FormSpec,
    prepared: Prepared,
    previous: Option<&RecordRow>,
    known_duplicates: Option<&[crate::duplicates::Warning]>,
) -> ServiceResult<(RecordRow, bool, Option<Vec<Value>>)> {
    let person = prepared.person.clone();
    let (row, created) = match previous {
        Some(before) => {
            let data = Value::Object(prepared.data);
            let (_, after) = records::update(
                conn,
                &caller.actor.scope(),
                spec.key,
                before.id,
                before.version,
                &data,
                person.as_ref().map(|p| p.columns()),
                caller.actor.user_id,
            )
            .await
            .map_err(write_conflict)?;
            (after, false)
        }
        None => {
            let new = new_record(caller, spec, prepared);
            (
                records::insert(conn, &new).await.map_err(write_conflict)?,
                true,
            )
        }
    };
    let warnings = match (known_duplicates, &person) {
        (Some(known), Some(_)) => {
            for w in known {
                crate::duplicates::raise(conn, row.id, w).await?;
            }
            None
        }
        _ => after_write(conn, caller, &row, person.as_ref(), false).await?,
    };
    Ok((row, created, warnings))
}

async fn insert_audited(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &'static FormSpec,
    prepared: Prepared,
    idempotency: Option<(&str, &str)>,
    reject_duplicates: bool,
) -> ServiceResult<(RecordRow, Value)> {
    let changes = Value::Object(diff(spec, &Map::new(), &prepared.data));
    let person = prepared.person.clone();
    let quarter = periods::key_of(prepared.entity_code, prepared.period_day);
    let new = new_record(caller, spec, prepared);
    let ctx = AuditContext::for_caller(caller);
    let institution = caller.actor.institution_id;
    conn.transaction::<_, ServiceError, _>(async |conn| {
        // First: a close of the record's quarter waits for this write, or
        // this write sees it closed.
        periods::guard_write(conn, quarter.as_slice()).await?;
        let row = records::insert(conn, &new).await.map_err(write_conflict)?;
        let warnings = after_write(conn, caller, &row, person.as_ref(), reject_duplicates).await?;
        let body = write_body(&row, spec, caller, warnings);
        if let Some((key, hash)) = idempotency {
            records::store_idempotent_response(conn, institution, key, hash, 201, &body)
                .await
                .map_err(write_conflict)?;
        }
        let entry = AuditEntry::modification(&ctx, AuditAction::Create, spec.key.as_str())
            .resource(row.id)
            .changes(changes);
        audit::append(conn, &[entry]).await?;
        Ok((row, body))
    })
    .await
}

async fn update_row(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &'static FormSpec,
    before: &RecordRow,
    version: i32,
    input: Map<String, Value>,
    reject_duplicates: bool,
) -> ServiceResult<(RecordRow, Value)> {
    let prepared = prepare(
        conn,
        Submission {
            caller,
            spec,
            input,
            previous: Some(before),
        },
    )
    .await?;
    let changes = Value::Object(diff(spec, &before.fields(), &prepared.data));
    // The quarters the record leaves and enters (one, when its date stays
    // in the same quarter): neither may be closed.
    let day_before =
        periods::day_before(conn, spec, before, prepared.parent_id, prepared.period_day).await?;
    let quarters: Vec<_> = [
        periods::key_of(before.entity_code, day_before),
        periods::key_of(prepared.entity_code, prepared.period_day),
    ]
    .into_iter()
    .flatten()
    .collect();
    let person = prepared.person;
    let data = Value::Object(prepared.data);
    let ctx = AuditContext::for_caller(caller);
    let scope = caller.actor.scope();
    let (form, id, by) = (spec.key, before.id, caller.actor.user_id);
    conn.transaction::<_, ServiceError, _>(async |conn| {
        periods::guard_write(conn, &quarters).await?;
        let keys = person.as_ref().map(|p| p.columns());
        let (_, after) = records::update(conn, &scope, form, id, version, &data, keys, by)
            .await
            .map_err(write_conflict)?;
        let warnings =
            after_write(conn, caller, &after, person.as_ref(), reject_duplicates).await?;
        let entry = AuditEntry::modification(&ctx, AuditAction::Update, form.as_str())
            .resource(id)
            .changes(changes);
        audit::append(conn, &[entry]).await?;
        let body = write_body(&after, spec, caller, warnings);
        Ok((after, body))
    })
    .await
}

/// An `Idempotency-Key` as sent, checked: 1 to 200 visible characters.
fn idempotency_key(raw: Option<String>) -> ServiceResult<Option<String>> {
    let Some(v) = raw else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() || v.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ServiceError::malformed(
            ErrorCode::InvalidIdempotencyKey,
            "Idempotency-Key debe tener entre 1 y 200 caracteres visibles.",
            "Idempotency-Key must have between 1 and 200 visible characters.",
        ));
    }
    Ok(Some(v.to_string()))
}

/// Creates a record. `options.parent` fixes the parent from the path;
/// with an `Idempotency-Key`, the same key and body replay the first answer.
pub async fn create(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    mut body: Map<String, Value>,
    options: CreateOptions,
) -> ServiceResult<Written> {
    let spec = form.spec();
    if let (Some(id), Some(field)) = (options.parent, spec.parent_field()) {
        body.insert(field.key.into(), id.to_string().into());
    }
    let mut conn = db::conn(pool).await?;
    let key = idempotency_key(options.idempotency_key)?;
    let hash = key.as_ref().map(|_| {
        hex::encode(Sha256::digest(format!(
            "{}|{}",
            form.as_str(),
            Value::Object(body.clone())
        )))
    });
    if let (Some(k), Some(h)) = (&key, &hash) {
        if let Some(stored) =
            records::idempotent_response(&mut conn, caller.actor.institution_id, k).await?
        {
            if &stored.request_hash != h {
                return Err(ServiceError::Conflict {
                    code: ErrorCode::IdempotencyKeyReused,
                    detail: Message::new(
                        "Esa Idempotency-Key ya se usó con otro contenido.",
                        "That Idempotency-Key was already used with a different body.",
                    ),
                });
            }
            return Ok(Written::Replayed {
                status: u16::try_from(stored.status).unwrap_or(200),
                body: stored.response,
            });
        }
    }
    let submission = Submission {
        caller,
        spec,
        input: body,
        previous: None,
    };
    let prepared = prepare(&mut conn, submission).await?;
    let idem = key.as_deref().zip(hash.as_deref());
    let reject = options.reject_duplicates;
    let (row, body) = insert_audited(&mut conn, caller, spec, prepared, idem, reject).await?;
    Ok(Written::Created {
        version: row.version,
        body,
    })
}

/// Changes some fields of a record the caller read at `version` (412 when
/// stale): the record as it would stand is validated whole, as on creation.
pub async fn update(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    id: Uuid,
    version: i32,
    patch: Map<String, Value>,
    reject_duplicates: bool,
) -> ServiceResult<Written> {
    let spec = form.spec();
    let mut conn = db::conn(pool).await?;
    let before = records::get(&mut conn, &caller.actor.scope(), form, id).await?;
    if before.version != version {
        return Err(ServiceError::StaleVersion);
    }
    let mut merged = before.fields();
    for (k, v) in patch {
        merged.insert(k, v);
    }
    let (row, body) = update_row(
        &mut conn,
        caller,
        spec,
        &before,
        version,
        merged,
        reject_duplicates,
    )
    .await?;
    Ok(Written::Updated {
        version: row.version,
        body,
    })
}

/// Creates or replaces the record the caller's institution knows by this
/// folio (state systems re-sending their data): created, or replaced when
/// the stored version is the one expected.
pub async fn upsert_by_folio(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    folio: String,
    mut body: Map<String, Value>,
    expected: Expected,
    reject_duplicates: bool,
) -> ServiceResult<Written> {
    let spec = form.spec();
    let folio = folio.trim().to_string();
    if folio.is_empty() || folio.chars().count() > MAX_FOLIO_CHARS {
        return Err(ServiceError::NotFound);
    }
    if body
        .get("external_folio")
        .is_some_and(|v| v.as_str() != Some(folio.as_str()))
    {
        return Err(ServiceError::invalid(
            "external_folio",
            FieldCode::FolioMismatch,
            "El folio del cuerpo no coincide con el de la ruta.",
            "The body's folio differs from the path's.",
        ));
    }
    body.insert("external_folio".into(), folio.clone().into());
    let mut conn = db::conn(pool).await?;
    let institution = caller.actor.institution_id;
    let existing = records::find_by_folio(&mut conn, institution, form, &folio).await?;
    match existing {
        None => {
            let submission = Submission {
                caller,
                spec,
                input: body,
                previous: None,
            };
            let prepared = prepare(&mut conn, submission).await?;
            let (row, body) =
                insert_audited(&mut conn, caller, spec, prepared, None, reject_duplicates).await?;
            Ok(Written::Created {
                version: row.version,
                body,
            })
        }
        Some(before) => {
            let version = match expected {
                Expected::Any => before.version,
                Expected::Version(v) => v,
                Expected::Unreadable => return Err(ServiceError::StaleVersion),
            };
            if version != before.version {
                return Err(ServiceError::StaleVersion);
            }
            let (row, body) = update_row(
                &mut conn,
                caller,
                spec,
                &before,
                version,
                body,
                reject_duplicates,
            )
            .await?;
            Ok(Written::Updated {
                version: row.version,
                body,
            })
        }
    }
}
