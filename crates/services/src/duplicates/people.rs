//! The person behind victim records: records joined by confirmed duplicate
//! pairs are one person (the database keeps who is whom, migration
//! `person_merge`). A record shows its person and the person's other
//! records; the person shows its attentions and the investigations naming
//! any of its records, as far as the caller's scope allows: a record
//! outside the scope is named by its entity and institution only, never by
//! its id or data, as duplicate warnings name a candidate outside it.

use std::collections::BTreeMap;

use diesel_async::AsyncPgConnection;
use serde_json::{json, Value};
use sintra_domain::access::{Caller, Scope};
use sintra_domain::forms::FormKey;
use sintra_persistence::audit::{AuditAction, AuditContext, AuditEntry};
use sintra_persistence::people::{self as store, Member};
use sintra_persistence::records;
use sintra_persistence::{db, Pool};
use uuid::Uuid;

use super::PERSON_FORM;
use crate::error::ServiceResult;
use crate::records::record_json;

/// How many attentions or investigations a person's view carries at most.
const RELATED_LIMIT: i64 = 500;

/// A record of a person, as a reader with this scope may see it.
fn summary(scope: &Scope, m: &Member) -> Value {
    if scope.contains(m.entity_code, m.institution_id) {
        json!({"id": m.id, "entity_code": m.entity_code, "institution_id": m.institution_id, "in_scope": true})
    } else {
        json!({"id": null, "entity_code": m.entity_code, "institution_id": m.institution_id, "in_scope": false})
    }
}

/// Adds to each victim record shown (`(id, body)`) its `person_id` and
/// `person_records`: the person's other records, as the caller may see them.
pub async fn annotate(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    shown: &mut [(Uuid, &mut Value)],
) -> ServiceResult<()> {
    let ids: Vec<Uuid> = shown.iter().map(|(id, _)| *id).collect();
    let scope = caller.actor.scope();
    let mut by_record: BTreeMap<Uuid, (Uuid, Vec<Value>)> = BTreeMap::new();
    for m in store::members(conn, &ids).await? {
        let entry = by_record.entry(m.of).or_insert((m.person_id, vec![]));
        if m.id != m.of {
            entry.1.push(summary(&scope, &m));
        }
    }
    for (id, body) in shown.iter_mut() {
        if let (Some((person, others)), Some(obj)) = (by_record.remove(&*id), body.as_object_mut())
        {
            obj.insert("person_id".into(), json!(person));
            obj.insert("person_records".into(), Value::Array(others));
        }
    }
    Ok(())
}

/// The person of a victim record in the caller's scope (404 otherwise):
/// its records, and the attentions and investigations of any of them that
/// lie in the caller's scope. Reading it is audited as a read of the record.
pub async fn person(pool: &Pool, caller: &Caller, id: Uuid) -> ServiceResult<Value> {
    let mut conn = db::conn(pool).await?;
    let conn = &mut *conn;
    let scope = caller.actor.scope();
    let entry = AuditEntry::access(
        &AuditContext::for_caller(caller),
        AuditAction::Read,
        PERSON_FORM.as_str(),
    )
    .resource(id)
    .details(json!({"view": "person"}));
    records::get_audited(conn, &scope, PERSON_FORM, id, &entry).await?;
    let members = store::members(conn, &[id]).await?;
    let person_id = members.first().map(|m| m.person_id).unwrap_or(id);
    let all: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let attentions = store::children_of(conn, &scope, FormKey::Attention, &all, RELATED_LIMIT)
        .await?
        .iter()
        .map(|r| record_json(r, FormKey::Attention.spec(), caller))
        .collect::<Vec<_>>();
    let investigations = store::investigations_naming(conn, &scope, &all, RELATED_LIMIT)
        .await?
        .iter()
        .map(|r| record_json(r, FormKey::Investigation.spec(), caller))
        .collect::<Vec<_>>();
    Ok(json!({
        "person_id": person_id,
        "records": members.iter().map(|m| summary(&scope, m)).collect::<Vec<_>>(),
        "attentions": attentions,
        "investigations": investigations,
    }))
}
