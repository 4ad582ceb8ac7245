//! Preparing a submission: what turns a JSON body (or an Excel row) into a
//! record ready to store. Parents and links named by folio become ids; the
//! record is validated by its form spec; parents and links must lie where
//! the caller may reach; the record must agree with its ancestors and its
//! timeline; its entity is decided, and the caller must be allowed to
//! record there ([`Actor::may_record_in`]).

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use serde_json::{Map, Value};
use sintra_domain::access::{Actor, Caller, EntityCode, Scope, FEDERAL_ENTITY};
use sintra_domain::consistency;
use sintra_domain::forms::{FieldSpec, FieldType, FormKey, FormSpec};
use sintra_domain::i18n::Message;
use sintra_domain::validation::{catalog_refs, validate_record, CatalogEntry, FieldError};
use sintra_persistence::catalogs::{self, CatalogSnapshot};
use sintra_persistence::records::{self, RecordFilter, RecordRow};
use sintra_persistence::StoreError;
use uuid::Uuid;

use crate::clock::today;
use crate::error::{ServiceError, ServiceResult};
use sintra_domain::validation::FieldCode;

fn unknown_reference(field: &str) -> FieldError {
    FieldError::new(
        field,
        FieldCode::UnknownReference,
        Message::new(
            "El registro referido no existe o no está a su alcance.",
            "The referenced record does not exist or is outside your scope.",
        ),
    )
}

/// The reference fields other than the parent (an investigation's victims).
fn links(spec: &FormSpec) -> impl Iterator<Item = &'static FieldSpec> + '_ {
    let parent = spec.parent_field().map(|f| f.key);
    spec.fields
        .iter()
        .filter(move |f| matches!(f.ty, FieldType::Reference { .. }) && Some(f.key) != parent)
}

/// Links named by the sender's own folios (`victim_folios`) become ids,
/// added to those given by id.
async fn resolve_link_folios(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &FormSpec,
    input: &mut Map<String, Value>,
) -> ServiceResult<()> {
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
                return Err(ServiceError::Validation(vec![unknown_reference(folio_key)]));
            };
            match records::find_by_folio(conn, caller.actor.institution_id, form, folio).await? {
                Some(r) => ids.push(Value::from(r.id.to_string())),
                None => return Err(ServiceError::Validation(vec![unknown_reference(folio_key)])),
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
/// link (see [`Actor::link_scope`](sintra_domain::access::Actor::link_scope)); links the record already had are not checked
/// again, so an update of other fields never fails on them.
async fn check_links(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &FormSpec,
    data: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> ServiceResult<Vec<FieldError>> {
    let scope = caller.actor.link_scope();
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
            match records::get(conn, &scope, form, id).await {
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
) -> ServiceResult<Vec<(Uuid, Map<String, Value>)>> {
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
    let rows = records::list(conn, &Scope::National, rel.child, &filter, RELATED_LIMIT).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.fields())).collect())
}

/// What a validated submission becomes before it is stored.
pub struct Prepared {
    pub data: Map<String, Value>,
    pub entity_code: EntityCode,
    pub parent_id: Option<Uuid>,
    /// For people, what duplicate matching needs (stored keys included).
    pub person: Option<crate::duplicates::Person>,
    /// The day that places the record in a quarter of its entity (its
    /// form's period date, or its parent's): what period locking checks.
    pub period_day: Option<chrono::NaiveDate>,
}

/// A submission on its way to becoming a stored record: who sends it, for
/// which form, and (on an update or a replacing import row) the record it
/// changes.
pub struct Submission<'a> {
    pub caller: &'a Caller,
    pub spec: &'static FormSpec,
    pub input: Map<String, Value>,
    pub previous: Option<&'a RecordRow>,
}

/// What a batch (an Excel import) has already fetched for its submissions:
/// the catalog entries the whole file names, and the parents it has read.
#[derive(Default)]
pub struct Lookups<'a> {
    pub catalogs: Option<&'a CatalogSnapshot>,
    pub parents: Option<&'a mut ParentCache>,
}

/// Resolves a parent and links given by folio, validates the record by its
/// spec, checks the parent lies in the caller's scope and every link where
/// the caller may link, checks the record agrees with its ancestors and the
/// timeline it belongs to, and decides the record's entity.
///
/// Its errors name fields by the labels in force (the national admin's
/// overrides, `crate::labels`), read only when there are errors.
pub async fn prepare(
    conn: &mut AsyncPgConnection,
    submission: Submission<'_>,
) -> ServiceResult<Prepared> {
    let form = submission.spec.key;
    match prepare_with(conn, submission, Lookups::default()).await {
        Err(ServiceError::Validation(errors)) => Err(ServiceError::Validation(
            crate::labels::relabel_errors(conn, form, errors).await?,
        )),
        other => other,
    }
}

/// The catalog entries a batch of submissions names, fetched in one query;
/// the federal level joins the `entity` catalog where the caller may
/// register federal records (the Comisión Intersecretarial).
pub async fn snapshot_for(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &FormSpec,
    inputs: &[Map<String, Value>],
) -> ServiceResult<CatalogSnapshot> {
    // A set: a file of 100,000 rows names the same few hundred entries
    // hundreds of thousands of times.
    let wanted: std::collections::HashSet<(String, String)> =
        inputs.iter().flat_map(|i| catalog_refs(spec, i)).collect();
    let wanted: Vec<(String, String)> = wanted.into_iter().collect();
    let mut lookup = catalogs::snapshot(conn, &wanted).await?;
    if spec.field("entity_code").is_some() && caller.actor.may_record_federal() {
        lookup.insert(
            "entity",
            FEDERAL_ENTITY.as_str(),
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
pub struct ParentCache {
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
) -> ServiceResult<Lineage> {
    let row = records::get(conn, scope, parent_form, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ServiceError::Validation(vec![unknown_reference(field)]),
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
                Some(records::get(conn, &Scope::National, g, pid).await?)
            }
            _ => None,
        };
    }
    Ok(lineage)
}

/// [`prepare`] with the catalog entries already fetched and parents
/// remembered across calls (an Excel import fetches the catalogs once for
/// the whole file and reads each parent once).
pub async fn prepare_with(
    conn: &mut AsyncPgConnection,
    submission: Submission<'_>,
    lookups: Lookups<'_>,
) -> ServiceResult<Prepared> {
    let Submission {
        caller,
        spec,
        mut input,
        previous,
    } = submission;
    let Lookups {
        catalogs: prefetched,
        parents: mut cache,
    } = lookups;
    let scope = caller.actor.scope();
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
                                caller.actor.institution_id,
                                form,
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
                            return Err(ServiceError::Validation(vec![unknown_reference(
                                folio_key,
                            )]))
                        }
                    }
                }
            }
        }
    }
    resolve_link_folios(conn, caller, spec, &mut input).await?;
    let fetched;
    let lookup = match prefetched {
        Some(l) => l,
        None => {
            fetched = snapshot_for(conn, caller, spec, std::slice::from_ref(&input)).await?;
            &fetched
        }
    };
    let previous_fields = previous.map(RecordRow::fields);
    let data = validate_record(spec, &input, previous_fields.as_ref(), lookup, today())
        .map_err(ServiceError::Validation)?;

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
    let mut errors = check_links(conn, caller, spec, &data, previous_fields.as_ref()).await?;
    let related = load_related(conn, spec.key, previous, &ancestor_ids).await?;
    let ctx = consistency::Context {
        previous: previous_fields.as_ref(),
        id: previous.map(|p| p.id),
        related: &related,
    };
    errors.extend(consistency::check_in(spec.key, &data, &ancestors, &ctx));
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    finish(&caller.actor, spec, data, parent_row.as_ref(), previous)
}

/// Whether preparing a record of this form reads other records (a parent,
/// links, a timeline). Records of the other forms are prepared from what
/// was sent and the catalogs alone, with [`prepare_alone`].
pub fn reads_records(spec: &FormSpec) -> bool {
    spec.fields
        .iter()
        .any(|f| matches!(f.ty, FieldType::Reference { .. }))
        || consistency::related(spec.key).is_some()
}

/// [`prepare_with`] for a form that reads no other record
/// ([`reads_records`] is false): no database, so an import prepares its
/// rows on every core.
pub fn prepare_alone(
    actor: &Actor,
    spec: &FormSpec,
    input: &Map<String, Value>,
    previous: Option<&RecordRow>,
    lookup: &CatalogSnapshot,
) -> ServiceResult<Prepared> {
    debug_assert!(!reads_records(spec));
    let previous_fields = previous.map(RecordRow::fields);
    let data = validate_record(spec, input, previous_fields.as_ref(), lookup, today())
        .map_err(ServiceError::Validation)?;
    let ctx = consistency::Context {
        previous: previous_fields.as_ref(),
        id: previous.map(|p| p.id),
        related: &[],
    };
    let errors = consistency::check_in(spec.key, &data, &[], &ctx);
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
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
) -> ServiceResult<Prepared> {
    // Whose record it is: the form's own entity field, else its parent's,
    // else (on update) what it was, else the caller's.
    // The form's field was validated against the entities' catalog; a code
    // that is still no entity's is nobody's to record in.
    let entity_code = match (
        data.get("entity_code").and_then(Value::as_str),
        parent_row,
        previous,
    ) {
        (Some(e), _, _) => EntityCode::parse(e).ok(),
        (None, Some(p), _) => Some(p.entity_code),
        (None, None, Some(prev)) => Some(prev.entity_code),
        (None, None, None) => Some(actor.entity_code),
    };
    let Some(entity_code) = entity_code.filter(|e| actor.may_record_in(*e)) else {
        return Err(ServiceError::Validation(vec![FieldError::new(
            "entity_code",
            FieldCode::OutsideScope,
            Message::new(
                "Solo puede registrar información de su propia entidad.",
                "You may only record information of your own entity.",
            ),
        )]));
    };
    if let Some(prev) = previous {
        if prev.entity_code != entity_code {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "entity_code",
                FieldCode::ImmutableField,
                Message::new(
                    "La entidad de un registro no cambia; registre uno nuevo.",
                    "A record's entity does not change; register a new one.",
                ),
            )]));
        }
    }
    let person =
        (spec.key == crate::duplicates::PERSON_FORM).then(|| crate::duplicates::Person::of(&data));
    let parent_data = parent_row.and_then(|p| p.data.as_object());
    let period_day = spec.period_day(&data, parent_data);
    Ok(Prepared {
        data,
        entity_code,
        parent_id: parent_row.map(|p| p.id),
        person,
        period_day,
    })
}
