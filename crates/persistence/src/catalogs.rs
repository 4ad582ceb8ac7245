//! Catalog items (DESIGN.md §2): codes with labels, some hierarchical.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::StoreResult;
use crate::schema::catalog_items;

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
