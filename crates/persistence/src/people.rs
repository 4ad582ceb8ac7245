//! The people behind victim records (migration `person_merge`): records
//! joined by confirmed duplicate pairs are one person. The persons are kept
//! by the database itself (a trigger on `duplicate_pairs` regroups them and
//! journals every change in `person_merges`); this module reads them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::{EntityCode, Scope};
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::records::RecordRow;
use crate::schema::records;

/// One record of a person, as the person's other records name it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Member {
    /// The record asked about.
    #[diesel(sql_type = SqlUuid)]
    pub of: Uuid,
    /// Its person.
    #[diesel(sql_type = SqlUuid)]
    pub person_id: Uuid,
    /// A record of that person (the one asked about included).
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub entity_code: EntityCode,
    #[diesel(sql_type = SqlUuid)]
    pub institution_id: Uuid,
}

/// For each record id, its person and every record of that person (itself
/// included), by record id. A record sharing its person with nobody is a
/// person of its own.
pub async fn members(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> StoreResult<Vec<Member>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    // Prepared: every victim read runs it, beside the audited read.
    Ok(crate::db::Prepared(
        diesel::sql_query(
            "SELECT i AS of, person_uuid(COALESCE(me.head, i)) AS person_id, r.id, r.entity_code, \
                r.institution_id \
         FROM unnest($1::uuid[]) AS i \
         LEFT JOIN person_links me ON me.record_id = i \
         CROSS JOIN LATERAL (SELECT pl.record_id FROM person_links pl WHERE pl.head = me.head \
                             UNION SELECT i) m \
         JOIN records r ON r.id = m.record_id \
         ORDER BY 1, r.id",
        )
        .bind::<Array<SqlUuid>, _>(ids),
    )
    .load(conn)
    .await?)
}

/// A change of persons, as `person_merges` journals it.
#[derive(Debug, Clone, QueryableByName)]
pub struct PersonChange {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `merge` or `split`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Array<SqlUuid>)]
    pub persons_before: Vec<Uuid>,
    #[diesel(sql_type = Array<SqlUuid>)]
    pub persons_after: Vec<Uuid>,
    /// `[{record_id, from, to}]`.
    #[diesel(sql_type = Jsonb)]
    pub moved: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// The change of persons the current transaction made by deciding this
/// pair, if the decision changed any person.
pub async fn change_of_this_transaction(
    conn: &mut AsyncPgConnection,
    pair: Uuid,
) -> StoreResult<Option<PersonChange>> {
    // `at` is the transaction's start (`now()`), the same for every
    // statement of it: the row the trigger journaled in this transaction.
    Ok(diesel::sql_query(
        "SELECT id, kind, persons_before, persons_after, moved, at FROM person_merges \
         WHERE pair_id = $1 AND at = now() ORDER BY id DESC LIMIT 1",
    )
    .bind::<SqlUuid, _>(pair)
    .get_result(conn)
    .await
    .optional()?)
}

/// Records of `form` in the scope that hang from any of `parents` (a
/// person's attentions), in creation order, at most `limit`.
pub async fn children_of(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    parents: &[Uuid],
    limit: i64,
) -> StoreResult<Vec<RecordRow>> {
    Ok(crate::records::scoped(form, scope)
        .filter(records::parent_id.eq_any(parents.to_vec()))
        .select(RecordRow::as_select())
        .order(records::id)
        .limit(limit)
        .load(conn)
        .await?)
}

/// Investigations in the scope that name any of `victims`, in creation
/// order, at most `limit` (through the projection's index on its victims).
pub async fn investigations_naming(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    victims: &[Uuid],
    limit: i64,
) -> StoreResult<Vec<RecordRow>> {
    let naming = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "records.id IN (SELECT x.id FROM projections.investigation x WHERE x.victim_ids && ",
    )
    .bind::<Array<SqlUuid>, _>(victims.to_vec())
    .sql(")");
    Ok(crate::records::scoped(FormKey::Investigation, scope)
        .filter(naming)
        .select(RecordRow::as_select())
        .order(records::id)
        .limit(limit)
        .load(conn)
        .await?)
}
