//! Quarterly cuts: the records a quarter counted, by (id, version), and the
//! figures stored with them. Only ever inserted and read.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::cuts;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = cuts)]
pub struct CutRow {
    pub id: Uuid,
    pub year: i32,
    pub quarter: i16,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Uuid,
    pub figures: Value,
    pub record_count: i64,
    pub records_digest: String,
    pub digest: String,
}

/// Where a form's records keep the date that places them in a quarter.
#[derive(Debug, Clone, Copy)]
pub enum DateSource {
    /// A field of the record's own data.
    Own(&'static str),
    /// A field of its parent's data.
    Parent(&'static str),
}

/// Stores, for the cut, the (id, version) of every record of `form` whose
/// period date lies in `from..until` (ISO dates, which compare as text);
/// returns how many.
pub async fn store_records(
    conn: &mut AsyncPgConnection,
    cut_id: Uuid,
    form: &str,
    source: DateSource,
    from: &str,
    until: &str,
) -> StoreResult<usize> {
    // The key comes from a form spec, never from a caller.
    let (join, key) = match source {
        DateSource::Own(k) => ("", format!("(r.data->>'{}')", k.replace('\'', ""))),
        DateSource::Parent(k) => (
            "JOIN records p ON p.id = r.parent_id",
            format!("(p.data->>'{}')", k.replace('\'', "")),
        ),
    };
    Ok(diesel::sql_query(format!(
        "INSERT INTO cut_records (cut_id, record_id, version) \
         SELECT $1, r.id, r.version FROM records r {join} \
         WHERE r.form = $2 AND {key} >= $3 AND {key} < $4"
    ))
    .bind::<SqlUuid, _>(cut_id)
    .bind::<Text, _>(form)
    .bind::<Text, _>(from)
    .bind::<Text, _>(until)
    .execute(conn)
    .await?)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub entity_code: String,
    #[diesel(sql_type = Text)]
    pub form: String,
    #[diesel(sql_type = BigInt)]
    pub records: i64,
}

/// The records a cut counted, per entity and form, in that order.
pub async fn counts(conn: &mut AsyncPgConnection, cut_id: Uuid) -> StoreResult<Vec<CountRow>> {
    Ok(diesel::sql_query(
        "SELECT r.entity_code, r.form, count(*) AS records \
         FROM cut_records c JOIN records r ON r.id = c.record_id \
         WHERE c.cut_id = $1 GROUP BY r.entity_code, r.form ORDER BY 1, 2",
    )
    .bind::<SqlUuid, _>(cut_id)
    .load(conn)
    .await?)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct RecordsDigest {
    #[diesel(sql_type = BigInt)]
    pub records: i64,
    /// SHA-256 (hex) of `id:version` of every counted record, by id,
    /// joined with commas.
    #[diesel(sql_type = Text)]
    pub digest: String,
}

/// The digest of the (id, version) pairs a cut stored.
pub async fn records_digest(
    conn: &mut AsyncPgConnection,
    cut_id: Uuid,
) -> StoreResult<RecordsDigest> {
    Ok(diesel::sql_query(
        "SELECT count(*) AS records, encode(sha256(convert_to(coalesce(\
           string_agg(record_id::text || ':' || version::text, ',' ORDER BY record_id), ''), \
           'UTF8')), 'hex') AS digest \
         FROM cut_records WHERE cut_id = $1",
    )
    .bind::<SqlUuid, _>(cut_id)
    .get_result(conn)
    .await?)
}

pub async fn insert(conn: &mut AsyncPgConnection, cut: &CutRow) -> StoreResult<()> {
    diesel::insert_into(cuts::table)
        .values(cut)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every cut, newest first (a few a year).
pub async fn list(conn: &mut AsyncPgConnection) -> StoreResult<Vec<CutRow>> {
    Ok(cuts::table
        .order((cuts::taken_at.desc(), cuts::id.desc()))
        .select(CutRow::as_select())
        .load(conn)
        .await?)
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<CutRow> {
    Ok(cuts::table
        .find(id)
        .select(CutRow::as_select())
        .first(conn)
        .await?)
}
