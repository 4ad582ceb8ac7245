//! The changes feed: which records changed, in commit-safe order, in the
//! caller's scope. Rows are written by a trigger on `records` and numbered
//! by `record_changes_seal()` (see the migration `record_changes`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::Scope;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::record_changes;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = record_changes)]
pub struct ChangeRow {
    pub position: Option<i64>,
    pub record_id: Uuid,
    pub form: String,
    pub entity_code: String,
    pub institution_id: Uuid,
    pub version: i32,
    pub kind: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = BigInt)]
    sealed: i64,
}

/// Numbers the changes of every transaction that has ended (one sealer at
/// a time; a call that finds another at work numbers nothing). Run in its
/// own statement, outside any longer transaction.
pub async fn seal(conn: &mut AsyncPgConnection) -> StoreResult<i64> {
    let row: Sealed = diesel::sql_query("SELECT record_changes_seal() AS sealed")
        .get_result(conn)
        .await?;
    Ok(row.sealed)
}

/// Up to `limit` numbered changes after `after`, in the scope, by position.
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<ChangeRow>> {
    let mut q = record_changes::table
        .filter(record_changes::position.gt(after))
        .select(ChangeRow::as_select())
        .order(record_changes::position.asc())
        .limit(limit)
        .into_boxed();
    q = match scope {
        Scope::National => q,
        Scope::Entity(e) => q.filter(record_changes::entity_code.eq(e.as_str())),
        Scope::Institution(i) => q.filter(record_changes::institution_id.eq(*i)),
    };
    Ok(q.load(conn).await?)
}
