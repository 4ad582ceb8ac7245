//! Records of every form, stored with the columns all records share and
//! their form's fields in `data` (described by the form spec). Every query
//! takes the caller's scope and applies it in SQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Map, Value};
use sintra_domain::access::{EntityCode, Scope};
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::schema::{idempotency_keys, records};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = records)]
pub struct RecordRow {
    pub id: Uuid,
    pub form: String,
    /// Checked as it is read (the column refers to `entities`).
    pub entity_code: EntityCode,
    pub institution_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub external_folio: Option<String>,
    pub data: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

impl RecordRow {
    /// The form's fields.
    pub fn fields(&self) -> Map<String, Value> {
        match &self.data {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        }
    }
}

/// Absent values are bound as NULL (the columns' default) rather than
/// written as `DEFAULT`, so the insert has one text and stays in the
/// prepared-statement cache.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = records)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewRecord {
    pub id: Uuid,
    pub form: String,
    pub entity_code: String,
    pub institution_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub external_folio: Option<String>,
    pub data: Value,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    /// For people, the keys duplicate matching blocks on.
    pub blocking_keys: Option<Vec<String>>,
    /// For people, the name terms their frequencies are counted under
    /// (possibly none: a person whose names are withheld still counts).
    pub name_terms: Option<Vec<String>>,
}

type Boxed<'a> = records::BoxedQuery<'a, diesel::pg::Pg>;

/// `q` kept to the records the scope covers: the one place a query of
/// records takes the caller's scope.
pub(crate) fn in_scope<'a, ST>(
    q: records::BoxedQuery<'a, diesel::pg::Pg, ST>,
    scope: &Scope,
) -> records::BoxedQuery<'a, diesel::pg::Pg, ST> {
    match scope {
        Scope::National => q,
        Scope::Entity(e) => q.filter(records::entity_code.eq(e.as_str())),
        Scope::Institution(i) => q.filter(records::institution_id.eq(*i)),
    }
}

/// The records of a form that the scope covers.
pub(crate) fn scoped(form: FormKey, scope: &Scope) -> Boxed<'static> {
    let q = records::table
        .filter(records::form.eq(form.as_str()))
        .into_boxed();
    in_scope(q, scope)
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    id: Uuid,
) -> StoreResult<RecordRow> {
    Ok(scoped(form, scope)
        .filter(records::id.eq(id))
        .select(RecordRow::as_select())
        .first(conn)
        .await?)
}

/// Reads one record in the scope and, in the same statement, appends the
/// access row `entry` with the record's id as its resource: one round trip
/// for an audited read (a data-modifying CTE runs once, whether or not the
/// outer query reads it). Nothing found, nothing written: `NotFound`, as
/// [`get`]. Runs in the statement's own transaction, so a read that fails
/// leaves no row and a row is never written for a read that did not happen.
pub async fn get_audited(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    id: Uuid,
    entry: &crate::audit::AuditEntry,
) -> StoreResult<RecordRow> {
    use crate::audit::{bind_entry, entry_columns};
    use crate::db::Prepared;
    use diesel::sql_types::Uuid as SqlUuid;
    // The scope's condition takes the last parameter, $16; the entry's
    // thirteen values are $3…$15 (its resource id, $12, is bound but unused:
    // the row names the record's own id).
    macro_rules! audited_read {
        ($scope:literal) => {
            concat!(
                "WITH r AS (
                     SELECT id, form, entity_code, institution_id, parent_id, external_folio, data,
                            version, created_at, created_by, updated_at, updated_by
                     FROM records WHERE form = $1 AND id = $2",
                $scope,
                "), a AS (
                     INSERT INTO audit_events (",
                entry_columns!(),
                ")
                     SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, r.id::text, $13, $14, $15
                     FROM r
                 )
                 SELECT * FROM r"
            )
        };
    }
    let found: Option<RecordRow> = match scope {
        Scope::National => {
            let q = bind_entry!(
                diesel::sql_query(audited_read!(""))
                    .bind::<Text, _>(form.as_str())
                    .bind::<SqlUuid, _>(id),
                entry
            );
            Prepared(q).get_result(conn).await.optional()?
        }
        Scope::Entity(e) => {
            let q = bind_entry!(
                diesel::sql_query(audited_read!(" AND entity_code = $16"))
                    .bind::<Text, _>(form.as_str())
                    .bind::<SqlUuid, _>(id),
                entry
            )
            .bind::<Text, _>(e.as_str());
            Prepared(q).get_result(conn).await.optional()?
        }
        Scope::Institution(i) => {
            let q = bind_entry!(
                diesel::sql_query(audited_read!(" AND institution_id = $16"))
                    .bind::<Text, _>(form.as_str())
                    .bind::<SqlUuid, _>(id),
                entry
            )
            .bind::<SqlUuid, _>(*i);
            Prepared(q).get_result(conn).await.optional()?
        }
    };
    found.ok_or(StoreError::NotFound)
}

/// The records of a form with these ids that the scope covers, by id: the
/// ones the rows of an exported workbook, imported again, change.
pub async fn get_many(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, RecordRow>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(50_000) {
        let rows: Vec<RecordRow> = scoped(form, scope)
            .filter(records::id.eq_any(chunk))
            .select(RecordRow::as_select())
            .load(conn)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.id, r)));
    }
    Ok(out)
}

/// The external folios of the records among `ids` that the scope covers,
/// whatever their form (an export shows the folio of each record a row
/// refers to beside its id); records without a folio, or outside the
/// scope, are left out.
pub async fn folios(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, String>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(50_000) {
        let q = records::table
            .filter(records::id.eq_any(chunk))
            .filter(records::external_folio.is_not_null())
            .select((records::id, records::external_folio))
            .into_boxed();
        let rows: Vec<(Uuid, Option<String>)> = in_scope(q, scope).load(conn).await?;
        out.extend(rows.into_iter().filter_map(|(id, f)| Some((id, f?))));
    }
    Ok(out)
}

/// The record an institution sent under its own folio.
pub async fn find_by_folio(
    conn: &mut AsyncPgConnection,
    institution_id: Uuid,
    form: FormKey,
    folio: &str,
) -> StoreResult<Option<RecordRow>> {
    Ok(records::table
        .filter(records::institution_id.eq(institution_id))
        .filter(records::form.eq(form.as_str()))
        .filter(records::external_folio.eq(folio))
        .select(RecordRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The records an institution sent under any of these folios, by folio.
pub async fn find_by_folios(
    conn: &mut AsyncPgConnection,
    institution_id: Uuid,
    form: FormKey,
    folios: &[String],
) -> StoreResult<std::collections::HashMap<String, RecordRow>> {
    let mut out = std::collections::HashMap::new();
    for chunk in folios.chunks(50_000) {
        let rows: Vec<RecordRow> = records::table
            .filter(records::institution_id.eq(institution_id))
            .filter(records::form.eq(form.as_str()))
            .filter(records::external_folio.eq_any(chunk))
            .select(RecordRow::as_select())
            .load(conn)
            .await?;
        for r in rows {
            if let Some(f) = r.external_folio.clone() {
                out.insert(f, r);
            }
        }
    }
    Ok(out)
}

/// One condition on a field of `data`. Keys come from the form spec, never
/// from the caller; values are bound parameters.
#[derive(Debug, Clone)]
pub enum DataFilter {
    /// `data->>key = value`
    Equals(&'static str, String),
    /// `data @> {key: value}`: the same as `Equals` for a text value, but
    /// served by the GIN index on `data`, for a lookup that must stay fast
    /// on any number of records (a missing-person report folio).
    Indexed(&'static str, String),
    /// The array `data->key` contains `value`.
    Contains(&'static str, String),
    /// `data->>key >= value` (ISO dates compare as text).
    AtLeast(&'static str, String),
    /// `data->>key <= value`.
    AtMost(&'static str, String),
    /// `data->>key < value`.
    Before(&'static str, String),
    /// `data->>key` is not one of these values (or is null).
    NotIn(&'static str, Vec<String>),
    /// A person's age when detected (`age_at_detection`, else computed from
    /// `birth_date` at `detection_date`) lies in this range; both `None`
    /// asks for people whose age is unknown.
    AgeBetween(Option<i32>, Option<i32>),
}

/// A person's age at detection, in SQL, from whichever of the two facts
/// the record has.
const AGE_SQL: &str = "coalesce((data->>'age_at_detection')::int, \
    extract(year from age((data->>'detection_date')::date, (data->>'birth_date')::date))::int)";

#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub entity_code: Option<String>,
    pub institution_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub data: Vec<DataFilter>,
    pub after_id: Option<Uuid>,
    /// One record per person (victims): a record another record of its
    /// person precedes (smaller id) in the scope is left out, so each
    /// person shows once, by its first record the caller may see.
    pub distinct_person: bool,
}

fn apply(mut q: Boxed<'static>, f: &DataFilter) -> Boxed<'static> {
    use diesel::dsl::sql;
    let key_sql = |k: &str| format!("(data->>'{}')", k.replace('\'', ""));
    match f {
        DataFilter::Equals(k, v) => {
            q = q.filter(sql::<Bool>(&format!("{} = ", key_sql(k))).bind::<Text, _>(v.clone()))
        }
        DataFilter::Indexed(k, v) => {
            q = q.filter(
                sql::<Bool>("data @> ")
                    .bind::<diesel::sql_types::Jsonb, _>(serde_json::json!({ *k: v })),
            )
        }
        DataFilter::Contains(k, v) => {
            q = q.filter(
                sql::<Bool>(&format!("(data->'{}') ? ", k.replace('\'', "")))
                    .bind::<Text, _>(v.clone()),
            )
        }
        DataFilter::AtLeast(k, v) => {
            q = q.filter(sql::<Bool>(&format!("{} >= ", key_sql(k))).bind::<Text, _>(v.clone()))
        }
        DataFilter::AtMost(k, v) => {
            q = q.filter(sql::<Bool>(&format!("{} <= ", key_sql(k))).bind::<Text, _>(v.clone()))
        }
        DataFilter::Before(k, v) => {
            q = q.filter(sql::<Bool>(&format!("{} < ", key_sql(k))).bind::<Text, _>(v.clone()))
        }
        DataFilter::NotIn(k, values) => {
            q = q.filter(
                sql::<Bool>(&format!("coalesce({} <> ALL(", key_sql(k)))
                    .bind::<diesel::sql_types::Array<Text>, _>(values.clone())
                    .sql("), true)"),
            )
        }
        DataFilter::AgeBetween(None, None) => {
            q = q.filter(sql::<Bool>(&format!("{AGE_SQL} IS NULL")))
        }
        DataFilter::AgeBetween(min, max) => {
            q = q.filter(
                sql::<Bool>(&format!("{AGE_SQL} >= "))
                    .bind::<diesel::sql_types::Integer, _>(min.unwrap_or(0))
                    .sql(&format!(" AND {AGE_SQL} <= "))
                    .bind::<diesel::sql_types::Integer, _>(max.unwrap_or(200)),
            )
        }
    }
    q
}

/// Records of a form in the scope, filtered, in creation order (ids are
/// time-ordered UUIDv7).
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    filter: &RecordFilter,
    limit: i64,
) -> StoreResult<Vec<RecordRow>> {
    Ok(filtered(form, scope, filter)
        .select(RecordRow::as_select())
        .order(records::id)
        .limit(limit)
        .load(conn)
        .await?)
}

/// A record's fields as the JSON text PostgreSQL sends, unparsed: a reader
/// that only looks at some values parses them borrowed, allocating nothing
/// per value (an export).
#[derive(Debug, Clone, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct JsonText(pub String);

impl diesel::deserialize::FromSql<diesel::sql_types::Jsonb, diesel::pg::Pg> for JsonText {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<JsonText> {
        // The binary jsonb format: a version byte, then the JSON text.
        match value.as_bytes().split_first() {
            Some((1, text)) => Ok(JsonText(std::str::from_utf8(text)?.to_owned())),
            _ => Err("unsupported jsonb encoding version".into()),
        }
    }
}

/// A record as an export reads it: the shared columns, and the fields
/// unparsed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = records)]
pub struct RawRecordRow {
    pub id: Uuid,
    pub entity_code: String,
    pub institution_id: Uuid,
    pub data: JsonText,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

/// Every record [`list`] would page through, in one query whose rows are
/// read as PostgreSQL sends them (an export): no page is planned and sorted
/// again, and memory stays bounded by the connection's buffers, the
/// server waiting while the reader is behind.
pub async fn stream<'c>(
    conn: &'c mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    filter: &RecordFilter,
) -> StoreResult<impl futures_util::Stream<Item = StoreResult<RawRecordRow>> + Send + 'c> {
    use futures_util::TryStreamExt;
    let rows = filtered(form, scope, filter)
        .select(RawRecordRow::as_select())
        .order(records::id)
        .load_stream::<RawRecordRow>(conn)
        .await?;
    Ok(rows.map_err(StoreError::from))
}

/// The records of a form in the scope that the filter keeps.
fn filtered(form: FormKey, scope: &Scope, filter: &RecordFilter) -> Boxed<'static> {
    let mut q = scoped(form, scope);
    if let Some(e) = &filter.entity_code {
        q = q.filter(records::entity_code.eq(e.clone()));
    }
    if let Some(i) = filter.institution_id {
        q = q.filter(records::institution_id.eq(i));
    }
    if let Some(p) = filter.parent_id {
        q = q.filter(records::parent_id.eq(p));
    }
    for f in &filter.data {
        q = apply(q, f);
    }
    if let Some(after) = filter.after_id {
        q = q.filter(records::id.gt(after));
    }
    if filter.distinct_person {
        q = first_of_person(q, scope);
    }
    q
}

/// No record of the same person (migration `person_merge`) comes before
/// this one in the scope. A record alone is its person's first.
fn first_of_person(q: Boxed<'static>, scope: &Scope) -> Boxed<'static> {
    use diesel::dsl::sql;
    let head = "NOT EXISTS (SELECT 1 FROM person_links me \
                JOIN person_links o ON o.head = me.head AND o.record_id < me.record_id \
                JOIN records r2 ON r2.id = o.record_id \
                WHERE me.record_id = records.id AND ";
    match scope {
        Scope::National => q.filter(sql::<Bool>(&format!("{head}true)"))),
        Scope::Entity(e) => q.filter(
            sql::<Bool>(&format!("{head}r2.entity_code = "))
                .bind::<Text, _>(e.as_str())
                .sql(")"),
        ),
        Scope::Institution(i) => q.filter(
            sql::<Bool>(&format!("{head}r2.institution_id = "))
                .bind::<diesel::sql_types::Uuid, _>(*i)
                .sql(")"),
        ),
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewRecord) -> StoreResult<RecordRow> {
    Ok(diesel::insert_into(records::table)
        .values(new)
        .returning(RecordRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Separates a person's keys inside one text of the `unnest` below (keys
/// are normalized names, dates and digits: they never hold it).
const KEY_SEPARATOR: char = '\u{1f}';

/// Inserts many records at once (an import): one statement per 10,000
/// rows, each column bound as one array and unnested by PostgreSQL, so the
/// statement stays small however many rows it carries (a multi-row VALUES
/// binds ten parameters per row and is parsed as such).
pub async fn insert_many(conn: &mut AsyncPgConnection, rows: &[NewRecord]) -> StoreResult<()> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Uuid as SqlUuid};
    for chunk in rows.chunks(10_000) {
        let joined = |k: &Option<Vec<String>>| {
            k.as_ref().map(|k| {
                debug_assert!(k.iter().all(|k| !k.contains(KEY_SEPARATOR)));
                k.join(&KEY_SEPARATOR.to_string())
            })
        };
        let keys: Vec<Option<String>> = chunk.iter().map(|r| joined(&r.blocking_keys)).collect();
        let terms: Vec<Option<String>> = chunk.iter().map(|r| joined(&r.name_terms)).collect();
        diesel::sql_query(
            "INSERT INTO records (id, form, entity_code, institution_id, parent_id, \
             external_folio, data, created_by, updated_by, blocking_keys, name_terms) \
             SELECT id, form, entity_code, institution_id, parent_id, external_folio, data, \
             created_by, updated_by, string_to_array(keys, chr(31)), \
             string_to_array(terms, chr(31)) \
             FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             AS t(id, form, entity_code, institution_id, parent_id, external_folio, data, \
             created_by, updated_by, keys, terms)",
        )
        .bind::<Array<SqlUuid>, _>(chunk.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| &r.form).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(chunk.iter().map(|r| &r.entity_code).collect::<Vec<_>>())
        .bind::<Array<SqlUuid>, _>(chunk.iter().map(|r| r.institution_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(chunk.iter().map(|r| r.parent_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(
            chunk
                .iter()
                .map(|r| r.external_folio.as_ref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Jsonb>, _>(chunk.iter().map(|r| &r.data).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(chunk.iter().map(|r| r.created_by).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(chunk.iter().map(|r| r.updated_by).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(keys)
        .bind::<Array<Nullable<Text>>, _>(terms)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// What a person's row carries for duplicate matching besides its data.
#[derive(Debug, Clone, Copy)]
pub struct PersonColumns<'a> {
    pub blocking_keys: &'a [String],
    pub name_terms: &'a [String],
}

/// Replaces a record's fields (and, for people, their matching columns) at
/// the expected version.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    form: FormKey,
    id: Uuid,
    expected_version: i32,
    data: &Value,
    person: Option<PersonColumns<'_>>,
    by: Uuid,
) -> StoreResult<(RecordRow, RecordRow)> {
    let before = get(conn, scope, form, id).await?;
    if before.version != expected_version {
        return Err(StoreError::StaleVersion);
    }
    let after = diesel::update(
        records::table
            .filter(records::id.eq(id))
            .filter(records::version.eq(expected_version)),
    )
    .set((
        records::data.eq(data),
        records::blocking_keys.eq(person.map(|p| p.blocking_keys)),
        records::name_terms.eq(person.map(|p| p.name_terms)),
        records::version.eq(expected_version + 1),
        records::updated_at.eq(diesel::dsl::now),
        records::updated_by.eq(by),
    ))
    .returning(RecordRow::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or(StoreError::StaleVersion)?;
    Ok((before, after))
}

/// A stored answer to an `Idempotency-Key`.
#[derive(Debug, Clone, Queryable)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: i32,
    pub response: Value,
}

pub async fn idempotent_response(
    conn: &mut AsyncPgConnection,
    institution_id: Uuid,
    key: &str,
) -> StoreResult<Option<StoredResponse>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::institution_id.eq(institution_id))
        .filter(idempotency_keys::key.eq(key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::response,
        ))
        .first(conn)
        .await
        .optional()?)
}

/// Stores the answer in the transaction of the change it describes; a
/// concurrent request with the same key fails on the primary key.
pub async fn store_idempotent_response(
    conn: &mut AsyncPgConnection,
    institution_id: Uuid,
    key: &str,
    request_hash: &str,
    status: i32,
    response: &Value,
) -> StoreResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::institution_id.eq(institution_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::status.eq(status),
            idempotency_keys::response.eq(response),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
