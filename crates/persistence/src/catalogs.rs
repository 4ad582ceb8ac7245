//! Catalogs and their items (DESIGN.md §2): codes with Spanish and English
//! labels, an order and an active flag; some hierarchical (a municipio's
//! parent is its entity). Items are deactivated, never deleted.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::validation::{CatalogEntry, CatalogLookup};

use crate::error::{StoreError, StoreResult};
use crate::schema::{catalog_items, catalogs};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = catalogs)]
pub struct Catalog {
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    pub parent_catalog: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = catalog_items)]
pub struct CatalogItem {
    pub catalog: String,
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    pub parent_code: Option<String>,
    pub sort_order: i32,
    pub active: bool,
    pub extra: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every catalog with its number of items.
pub async fn list_catalogs(conn: &mut AsyncPgConnection) -> StoreResult<Vec<(Catalog, i64)>> {
    let cats: Vec<Catalog> = catalogs::table
        .select(Catalog::as_select())
        .order(catalogs::code)
        .load(conn)
        .await?;
    let counts: Vec<(String, i64)> = catalog_items::table
        .group_by(catalog_items::catalog)
        .select((catalog_items::catalog, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let counts: HashMap<String, i64> = counts.into_iter().collect();
    Ok(cats
        .into_iter()
        .map(|c| {
            let n = counts.get(&c.code).copied().unwrap_or(0);
            (c, n)
        })
        .collect())
}

pub async fn get_catalog(conn: &mut AsyncPgConnection, code: &str) -> StoreResult<Catalog> {
    Ok(catalogs::table
        .filter(catalogs::code.eq(code))
        .select(Catalog::as_select())
        .first(conn)
        .await?)
}

/// A stamp that changes whenever any item of the catalog changes: the
/// newest change and the item count. Lists derive their ETag from it.
pub async fn catalog_stamp(conn: &mut AsyncPgConnection, catalog: &str) -> StoreResult<String> {
    let (latest, count): (Option<DateTime<Utc>>, i64) = catalog_items::table
        .filter(catalog_items::catalog.eq(catalog))
        .select((
            diesel::dsl::max(catalog_items::updated_at),
            diesel::dsl::count_star(),
        ))
        .first(conn)
        .await?;
    Ok(format!(
        "{}-{count}",
        latest.map(|t| t.timestamp_micros()).unwrap_or(0)
    ))
}

#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub active: Option<bool>,
    pub parent_code: Option<String>,
    /// Matches code or either label, case- and accent-insensitively.
    pub q: Option<String>,
    /// Keyset position: items after (sort_order, code).
    pub after: Option<(i32, String)>,
}

pub async fn list_items(
    conn: &mut AsyncPgConnection,
    catalog: &str,
    filter: &ItemFilter,
    limit: i64,
) -> StoreResult<Vec<CatalogItem>> {
    use catalog_items::dsl as c;
    let mut q = c::catalog_items
        .filter(c::catalog.eq(catalog))
        .select(CatalogItem::as_select())
        .into_boxed();
    if let Some(a) = filter.active {
        q = q.filter(c::active.eq(a));
    }
    if let Some(p) = &filter.parent_code {
        q = q.filter(c::parent_code.eq(p.clone()));
    }
    if let Some(text) = &filter.q {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        q = q.filter(
            c::code
                .ilike(pattern.clone())
                .or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "unaccent_lower(label_es) LIKE unaccent_lower(",
                )
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(") OR unaccent_lower(label_en) LIKE unaccent_lower(")
                .bind::<diesel::sql_types::Text, _>(pattern)
                .sql(")")),
        );
    }
    if let Some((order, code)) = &filter.after {
        q = q.filter(
            c::sort_order
                .gt(*order)
                .or(c::sort_order.eq(*order).and(c::code.gt(code.clone()))),
        );
    }
    Ok(q.order((c::sort_order, c::code))
        .limit(limit)
        .load(conn)
        .await?)
}

pub async fn get_item(
    conn: &mut AsyncPgConnection,
    catalog: &str,
    code: &str,
) -> StoreResult<CatalogItem> {
    Ok(catalog_items::table
        .filter(catalog_items::catalog.eq(catalog))
        .filter(catalog_items::code.eq(code))
        .select(CatalogItem::as_select())
        .first(conn)
        .await?)
}

/// The items with these (catalog, code) keys, in one query: what an Excel
/// import of catalog items replaces.
pub async fn items_by_keys(
    conn: &mut AsyncPgConnection,
    keys: &[(String, String)],
) -> StoreResult<Vec<CatalogItem>> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    let (catalogs, codes) = key_columns(keys);
    Ok(diesel::sql_query(format!("SELECT c.* {BY_KEYS}"))
        .bind::<Array<Text>, _>(catalogs)
        .bind::<Array<Text>, _>(codes)
        .load(conn)
        .await?)
}

/// The items of the (catalog, code) pairs bound as `$1`, `$2`, joined on
/// the primary key: `catalog = ANY(..) AND code = ANY(..)` reads every
/// item of the catalogs named (2,478 municipios to find one) and filters.
const BY_KEYS: &str = "FROM unnest($1::text[], $2::text[]) AS k(catalog, code) \
                       JOIN catalog_items c USING (catalog, code)";

/// The distinct keys as the two parallel columns [`BY_KEYS`] binds.
fn key_columns(keys: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    let mut pairs: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs.into_iter().unzip()
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = catalog_items)]
pub struct NewItem {
    pub catalog: String,
    pub code: String,
    pub label_es: String,
    pub label_en: String,
    pub parent_code: Option<String>,
    pub sort_order: i32,
}

pub async fn insert_item(conn: &mut AsyncPgConnection, new: &NewItem) -> StoreResult<CatalogItem> {
    Ok(diesel::insert_into(catalog_items::table)
        .values(new)
        .returning(CatalogItem::as_returning())
        .get_result(conn)
        .await?)
}

/// What may change in an item: never its code or catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = catalog_items)]
pub struct ItemChanges {
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

pub async fn update_item(
    conn: &mut AsyncPgConnection,
    catalog: &str,
    code: &str,
    expected_version: i32,
    changes: &ItemChanges,
) -> StoreResult<(CatalogItem, CatalogItem)> {
    let before = get_item(conn, catalog, code).await?;
    if before.version != expected_version {
        return Err(StoreError::StaleVersion);
    }
    let after = diesel::update(
        catalog_items::table
            .filter(catalog_items::catalog.eq(catalog))
            .filter(catalog_items::code.eq(code))
            .filter(catalog_items::version.eq(expected_version)),
    )
    .set((
        changes,
        catalog_items::version.eq(expected_version + 1),
        catalog_items::updated_at.eq(diesel::dsl::now),
    ))
    .returning(CatalogItem::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or(StoreError::StaleVersion)?;
    Ok((before, after))
}

/// Whether a code exists in a catalog, and if so whether it is active.
pub async fn code_state(
    conn: &mut AsyncPgConnection,
    catalog: &str,
    code: &str,
) -> StoreResult<Option<bool>> {
    Ok(catalog_items::table
        .filter(catalog_items::catalog.eq(catalog))
        .filter(catalog_items::code.eq(code))
        .select(catalog_items::active)
        .first(conn)
        .await
        .optional()?)
}

/// The catalog entries a validation needs, fetched in one query: the
/// validator is synchronous and asks only for what the record names.
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    entries: HashMap<(String, String), CatalogEntry>,
}

impl CatalogLookup for CatalogSnapshot {
    fn lookup(&self, catalog: &str, code: &str) -> Option<CatalogEntry> {
        self.entries
            .get(&(catalog.to_string(), code.to_string()))
            .cloned()
    }
}

impl CatalogSnapshot {
    /// Adds (or replaces) an entry the catalog tables do not hold: the
    /// federal level '00' where a form's own entity may be federal, or the
    /// items an import of catalog items adds, which its other rows may name
    /// as parent.
    pub fn insert(&mut self, catalog: &str, code: &str, entry: CatalogEntry) {
        self.entries
            .insert((catalog.to_string(), code.to_string()), entry);
    }
}

/// Loads the entries for these (catalog, code) pairs.
pub async fn snapshot(
    conn: &mut AsyncPgConnection,
    wanted: &[(String, String)],
) -> StoreResult<CatalogSnapshot> {
    if wanted.is_empty() {
        return Ok(CatalogSnapshot::default());
    }
    let (catalogs, codes) = key_columns(wanted);
    let rows: Vec<SnapshotRow> = diesel::sql_query(format!(
        "SELECT c.catalog, c.code, c.active, c.parent_code {BY_KEYS}"
    ))
    .bind::<Array<Text>, _>(catalogs)
    .bind::<Array<Text>, _>(codes)
    .load(conn)
    .await?;
    Ok(CatalogSnapshot {
        entries: rows
            .into_iter()
            .map(|r| {
                (
                    (r.catalog, r.code),
                    CatalogEntry {
                        active: r.active,
                        parent_code: r.parent_code,
                    },
                )
            })
            .collect(),
    })
}

#[derive(QueryableByName)]
#[diesel(table_name = catalog_items)]
struct SnapshotRow {
    catalog: String,
    code: String,
    active: bool,
    parent_code: Option<String>,
}
