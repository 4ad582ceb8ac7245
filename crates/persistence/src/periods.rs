//! Quarterly periods per entity and their transitions. A quarter without a
//! row is open; rows are created when a quarter is first written to or
//! acted on.
//!
//! Locking (race-free against a concurrent close): a record write calls
//! [`lock_for_write`] in its own transaction, which creates the quarter's
//! row if missing and reads it `FOR SHARE`; a transition takes the row
//! `FOR UPDATE` ([`lock_for_transition`]). So a close waits for the writes
//! of its quarter in flight, and a write that comes after the close sees it
//! closed. Rows are always locked in (entity, year, quarter) order, so two
//! batches never deadlock.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int2, Int4, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::EntityCode;
use sintra_domain::periods::{PeriodAction, PeriodStatus};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::{period_transitions, periods};

/// An entity's quarter, as the key of its row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodKey {
    pub entity_code: String,
    pub year: i32,
    pub quarter: i16,
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = periods)]
pub struct PeriodRow {
    pub entity_code: String,
    pub year: i32,
    pub quarter: i16,
    pub status: PeriodStatus,
    pub changed_at: Option<DateTime<Utc>>,
    pub changed_by: Option<Uuid>,
    pub reason: Option<String>,
}

impl PeriodRow {
    pub fn key(&self) -> PeriodKey {
        PeriodKey {
            entity_code: self.entity_code.clone(),
            year: self.year,
            quarter: self.quarter,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = period_transitions)]
pub struct TransitionRow {
    pub id: i64,
    pub entity_code: String,
    pub year: i32,
    pub quarter: i16,
    pub action: PeriodAction,
    pub from_status: PeriodStatus,
    pub to_status: PeriodStatus,
    pub actor_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = period_transitions)]
pub struct NewTransition {
    pub entity_code: String,
    pub year: i32,
    pub quarter: i16,
    pub action: PeriodAction,
    pub from_status: PeriodStatus,
    pub to_status: PeriodStatus,
    pub actor_id: Uuid,
    pub reason: Option<String>,
}

fn columns(keys: &[PeriodKey]) -> (Vec<String>, Vec<i32>, Vec<i16>) {
    let mut sorted: Vec<&PeriodKey> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    (
        sorted.iter().map(|k| k.entity_code.clone()).collect(),
        sorted.iter().map(|k| k.year).collect(),
        sorted.iter().map(|k| k.quarter).collect(),
    )
}

/// Creates the rows of these quarters that do not exist yet (as open).
pub async fn ensure(conn: &mut AsyncPgConnection, keys: &[PeriodKey]) -> StoreResult<()> {
    let (entities, years, quarters) = columns(keys);
    // Prepared once per connection: every record write runs it.
    crate::db::Prepared(
        diesel::sql_query(
            "INSERT INTO periods (entity_code, year, quarter) \
             SELECT * FROM unnest($1::text[], $2::int4[], $3::int2[]) \
             ORDER BY 1, 2, 3 \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Array<Text>, _>(entities)
        .bind::<Array<Int4>, _>(years)
        .bind::<Array<Int2>, _>(quarters),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inside a record write's transaction: the rows of the quarters it
/// touches, read `FOR SHARE` (created first when missing) so no close of
/// them commits before the write does. Sorted by key.
///
/// Almost always every row exists already: one statement. Only when one
/// is missing is it created and all of them read again (a new statement
/// sees a row another transaction created and committed meanwhile).
pub async fn lock_for_write(
    conn: &mut AsyncPgConnection,
    keys: &[PeriodKey],
) -> StoreResult<Vec<PeriodRow>> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let (entities, years, quarters) = columns(keys);
    let wanted = entities.len();
    let rows = share_locked(conn, entities, years, quarters).await?;
    if rows.len() == wanted {
        return Ok(rows);
    }
    ensure(conn, keys).await?;
    let (entities, years, quarters) = columns(keys);
    share_locked(conn, entities, years, quarters).await
}

async fn share_locked(
    conn: &mut AsyncPgConnection,
    entities: Vec<String>,
    years: Vec<i32>,
    quarters: Vec<i16>,
) -> StoreResult<Vec<PeriodRow>> {
    Ok(crate::db::Prepared(
        diesel::sql_query(
            "SELECT p.* FROM periods p \
             JOIN unnest($1::text[], $2::int4[], $3::int2[]) AS k(entity_code, year, quarter) \
               USING (entity_code, year, quarter) \
             ORDER BY p.entity_code, p.year, p.quarter \
             FOR SHARE OF p",
        )
        .bind::<Array<Text>, _>(entities)
        .bind::<Array<Int4>, _>(years)
        .bind::<Array<Int2>, _>(quarters),
    )
    .load(conn)
    .await?)
}

/// The rows of these quarters that exist, without locking (an import's
/// check before its transaction).
pub async fn statuses(
    conn: &mut AsyncPgConnection,
    keys: &[PeriodKey],
) -> StoreResult<Vec<PeriodRow>> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let (entities, years, quarters) = columns(keys);
    Ok(diesel::sql_query(
        "SELECT p.* FROM periods p \
         JOIN unnest($1::text[], $2::int4[], $3::int2[]) AS k(entity_code, year, quarter) \
           USING (entity_code, year, quarter)",
    )
    .bind::<Array<Text>, _>(entities)
    .bind::<Array<Int4>, _>(years)
    .bind::<Array<Int2>, _>(quarters)
    .load(conn)
    .await?)
}

/// Inside a transition's transaction: the quarter's row of each entity
/// (created when missing), `FOR UPDATE`, in entity order. `entity` `None`
/// takes every entity's (a national close).
pub async fn lock_for_transition(
    conn: &mut AsyncPgConnection,
    entity: Option<EntityCode>,
    year: i32,
    quarter: i16,
) -> StoreResult<Vec<PeriodRow>> {
    diesel::sql_query(
        "INSERT INTO periods (entity_code, year, quarter) \
         SELECT code, $2, $3 FROM entities WHERE $1::text IS NULL OR code = $1 \
         ORDER BY code \
         ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Nullable<Text>, _>(entity.map(EntityCode::as_str))
    .bind::<Int4, _>(year)
    .bind::<Int2, _>(quarter)
    .execute(conn)
    .await?;
    Ok(diesel::sql_query(
        "SELECT * FROM periods \
         WHERE year = $2 AND quarter = $3 AND ($1::text IS NULL OR entity_code = $1) \
         ORDER BY entity_code \
         FOR UPDATE",
    )
    .bind::<diesel::sql_types::Nullable<Text>, _>(entity.map(EntityCode::as_str))
    .bind::<Int4, _>(year)
    .bind::<Int2, _>(quarter)
    .load(conn)
    .await?)
}

/// Sets a quarter's status after a transition and records the transition.
pub async fn record_transition(
    conn: &mut AsyncPgConnection,
    t: &NewTransition,
) -> StoreResult<PeriodRow> {
    let now = Utc::now();
    let row = diesel::update(
        periods::table
            .filter(periods::entity_code.eq(&t.entity_code))
            .filter(periods::year.eq(t.year))
            .filter(periods::quarter.eq(t.quarter)),
    )
    .set((
        periods::status.eq(&t.to_status),
        periods::changed_at.eq(Some(now)),
        periods::changed_by.eq(Some(t.actor_id)),
        periods::reason.eq(&t.reason),
    ))
    .returning(PeriodRow::as_returning())
    .get_result(conn)
    .await?;
    diesel::insert_into(period_transitions::table)
        .values(t)
        .execute(conn)
        .await?;
    Ok(row)
}

/// The stored quarters of a year (one quarter, one entity, when given), by
/// entity and quarter.
pub async fn list(
    conn: &mut AsyncPgConnection,
    year: i32,
    quarter: Option<i16>,
    entity: Option<EntityCode>,
) -> StoreResult<Vec<PeriodRow>> {
    let mut q = periods::table.filter(periods::year.eq(year)).into_boxed();
    if let Some(qu) = quarter {
        q = q.filter(periods::quarter.eq(qu));
    }
    if let Some(e) = entity {
        q = q.filter(periods::entity_code.eq(e.as_str()));
    }
    Ok(q.order((periods::entity_code, periods::quarter))
        .select(PeriodRow::as_select())
        .load(conn)
        .await?)
}

/// The transitions of a year's quarters (filtered as [`list`]), oldest first.
pub async fn transitions(
    conn: &mut AsyncPgConnection,
    year: i32,
    quarter: Option<i16>,
    entity: Option<EntityCode>,
) -> StoreResult<Vec<TransitionRow>> {
    let mut q = period_transitions::table
        .filter(period_transitions::year.eq(year))
        .into_boxed();
    if let Some(qu) = quarter {
        q = q.filter(period_transitions::quarter.eq(qu));
    }
    if let Some(e) = entity {
        q = q.filter(period_transitions::entity_code.eq(e.as_str()));
    }
    Ok(q.order(period_transitions::id)
        .select(TransitionRow::as_select())
        .load(conn)
        .await?)
}
