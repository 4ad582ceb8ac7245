//! Quarterly cuts: the records a quarter counted, by (id, version), and the
//! figures stored with them. Only ever inserted and read.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::forms::FormKey;
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

impl DateSource {
    /// The join and the expression of the period date over `records r`.
    /// The key comes from a form spec, never from a caller.
    fn sql(self) -> (&'static str, String) {
        match self {
            DateSource::Own(k) => ("", format!("(r.data->>'{}')", k.replace('\'', ""))),
            DateSource::Parent(k) => (
                "JOIN records p ON p.id = r.parent_id",
                format!("(p.data->>'{}')", k.replace('\'', "")),
            ),
        }
    }
}

/// Stores, for the cut, the (id, version) of every record of `form` whose
/// period date lies in `from..until` (ISO dates, which compare as text);
/// returns how many.
pub async fn store_records(
    conn: &mut AsyncPgConnection,
    cut_id: Uuid,
    form: FormKey,
    source: DateSource,
    from: &str,
    until: &str,
) -> StoreResult<usize> {
    let (join, key) = source.sql();
    Ok(diesel::sql_query(format!(
        "INSERT INTO cut_records (cut_id, record_id, version, entity_code, form) \
         SELECT $1, r.id, r.version, r.entity_code, r.form FROM records r {join} \
         WHERE r.form = $2 AND {key} >= $3 AND {key} < $4"
    ))
    .bind::<SqlUuid, _>(cut_id)
    .bind::<Text, _>(form.as_str())
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

/// The records a cut counted, per entity and form (where they were when
/// it counted them), in that order.
pub async fn counts(conn: &mut AsyncPgConnection, cut_id: Uuid) -> StoreResult<Vec<CountRow>> {
    Ok(diesel::sql_query(
        "SELECT entity_code, form, count(*) AS records FROM cut_records \
         WHERE cut_id = $1 GROUP BY entity_code, form ORDER BY 1, 2",
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

/// The other side of a comparison with a cut: a later cut, or the records
/// as they stand now.
#[derive(Debug, Clone, Copy)]
pub enum Against<'a> {
    Cut(Uuid),
    Now {
        /// Each dated form with where its period date is.
        forms: &'a [(&'static str, DateSource)],
        /// The quarter's first day and the next quarter's (ISO dates).
        from: &'a str,
        until: &'a str,
    },
}

impl<'a> Against<'a> {
    /// The records of this side (`record_id, version, entity_code, form`),
    /// its values bound from `$first` on by [`Against::bind`].
    fn records_sql(&self, first: usize) -> String {
        match *self {
            Against::Cut(_) => format!(
                "SELECT record_id, version, entity_code, form FROM cut_records \
             WHERE cut_id = ${first}"
            ),
            Against::Now { forms, .. } => {
                let parts: Vec<String> = forms
                    .iter()
                    .map(|(form, source)| {
                        // Form keys are the specs' own identifiers.
                        debug_assert!(form.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                        let (join, key) = source.sql();
                        format!(
                            "SELECT r.id AS record_id, r.version, r.entity_code, r.form \
                         FROM records r {join} WHERE r.form = '{form}' \
                         AND {key} >= ${first} AND {key} < ${}",
                            first + 1
                        )
                    })
                    .collect();
                if parts.is_empty() {
                    "SELECT NULL::uuid AS record_id, NULL::int AS version, NULL::text AS entity_code, \
                 NULL::text AS form WHERE false"
                    .to_string()
                } else {
                    parts.join(" UNION ALL ")
                }
            }
        }
    }

    /// Binds the values of `records_sql`, after those bound already.
    fn bind<'f>(&self, q: BoxedSqlQuery<'f, Pg, SqlQuery>) -> BoxedSqlQuery<'f, Pg, SqlQuery>
    where
        'a: 'f,
    {
        match *self {
            Against::Cut(id) => q.bind::<SqlUuid, _>(id),
            Against::Now { from, until, .. } => q.bind::<Text, _>(from).bind::<Text, _>(until),
        }
    }
}

/// A record counted on one side of a comparison and not on the other, or
/// counted on both with another version or entity; with the last change
/// the audit log holds for it between the two moments.
#[derive(Debug, Clone, QueryableByName)]
pub struct RecordChangeRow {
    #[diesel(sql_type = SqlUuid)]
    pub record_id: Uuid,
    #[diesel(sql_type = Text)]
    pub form: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub version_before: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub version_after: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub entity_before: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub entity_after: Option<String>,
    /// When the record was created (`None`: it no longer exists).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub external_folio: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub changed_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub changed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub action: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// The records that differ between cut `before` (taken at `since`) and
/// `after` (up to `until_moment`), in `entity` when given (a record that
/// moved is listed in both entities), at most `limit`, by form and id.
pub async fn record_changes(
    conn: &mut AsyncPgConnection,
    before: Uuid,
    after: Against<'_>,
    entity: Option<&str>,
    since: DateTime<Utc>,
    until_moment: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<RecordChangeRow>> {
    let b = after.records_sql(6);
    let q = diesel::sql_query(format!(
        "WITH a AS (SELECT record_id, version, entity_code, form FROM cut_records \
                    WHERE cut_id = $1), \
              b AS ({b}), \
              d AS (SELECT coalesce(a.record_id, b.record_id) AS record_id, \
                           coalesce(b.form, a.form) AS form, \
                           a.version AS version_before, b.version AS version_after, \
                           a.entity_code AS entity_before, b.entity_code AS entity_after \
                    FROM a FULL JOIN b ON a.record_id = b.record_id \
                    WHERE (a.record_id IS NULL OR b.record_id IS NULL \
                           OR a.version <> b.version OR a.entity_code <> b.entity_code) \
                      AND ($2::text IS NULL OR a.entity_code = $2 OR b.entity_code = $2)) \
         SELECT d.*, r.created_at, r.external_folio, \
                e.actor_username AS changed_by, e.occurred_at AS changed_at, e.action, \
                count(*) OVER () AS total \
         FROM d LEFT JOIN records r ON r.id = d.record_id \
         LEFT JOIN LATERAL (SELECT ev.actor_username, ev.occurred_at, ev.action \
                            FROM audit_events ev \
                            WHERE ev.resource_type = d.form \
                              AND ev.resource_id = d.record_id::text \
                              AND ev.kind = 'modification' \
                              AND ev.occurred_at > $3 AND ev.occurred_at <= $4 \
                            ORDER BY ev.id DESC LIMIT 1) e ON true \
         ORDER BY d.form, d.record_id LIMIT $5"
    ))
    .into_boxed()
    .bind::<SqlUuid, _>(before)
    .bind::<Nullable<Text>, _>(entity)
    .bind::<Timestamptz, _>(since)
    .bind::<Timestamptz, _>(until_moment)
    .bind::<BigInt, _>(limit);
    Ok(after.bind(q).load(conn).await?)
}

/// A pair of records confirmed as one person between two moments: the
/// victims dashboards count them once from then on.
#[derive(Debug, Clone, QueryableByName)]
pub struct MergedPairRow {
    #[diesel(sql_type = SqlUuid)]
    pub person_a: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub person_b: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub decided_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// The duplicate pairs confirmed in `(since, until_moment]` with a record
/// of either side of the comparison (in `entity` when given).
pub async fn merged_pairs(
    conn: &mut AsyncPgConnection,
    before: Uuid,
    after: Against<'_>,
    entity: Option<&str>,
    since: DateTime<Utc>,
    until_moment: DateTime<Utc>,
) -> StoreResult<Vec<MergedPairRow>> {
    let b = after.records_sql(5);
    let q = diesel::sql_query(format!(
        "WITH b AS ({b}) SELECT p.person_a, p.person_b, u.username AS decided_by, p.decided_at \
         FROM duplicate_pairs p LEFT JOIN users u ON u.id = p.decided_by \
         WHERE p.status = 'confirmed' AND p.decided_at > $3 AND p.decided_at <= $4 \
           AND EXISTS (SELECT 1 FROM records r \
                       WHERE r.id IN (p.person_a, p.person_b) \
                         AND ($2::text IS NULL OR r.entity_code = $2) \
                         AND (EXISTS (SELECT 1 FROM b WHERE b.record_id = r.id) \
                              OR EXISTS (SELECT 1 FROM cut_records c \
                                         WHERE c.cut_id = $1 AND c.record_id = r.id))) \
         ORDER BY p.decided_at, p.person_a"
    ))
    .into_boxed()
    .bind::<SqlUuid, _>(before)
    .bind::<Nullable<Text>, _>(entity)
    .bind::<Timestamptz, _>(since)
    .bind::<Timestamptz, _>(until_moment);
    Ok(after.bind(q).load(conn).await?)
}

/// The records of each dated form whose period date lies in `from..until`
/// as they stand, per entity and form: what a cut taken now would count.
pub async fn current_counts(
    conn: &mut AsyncPgConnection,
    forms: &[(&'static str, DateSource)],
    from: &str,
    until: &str,
) -> StoreResult<Vec<CountRow>> {
    let side = Against::Now { forms, from, until };
    let q = diesel::sql_query(format!(
        "WITH b AS ({}) SELECT entity_code, form, count(*) AS records FROM b \
         GROUP BY entity_code, form ORDER BY 1, 2",
        side.records_sql(1)
    ))
    .into_boxed();
    Ok(side.bind(q).load(conn).await?)
}
