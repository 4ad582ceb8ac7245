//! What an export of catalog items reads from its query and the items it
//! carries. (Their import is `sintra_services::imports::catalog_items`.)

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use sintra_persistence::catalogs::{self, CatalogItem, ItemFilter};
use sintra_services::records::{invalid_filter, unknown_filter};

use crate::error::ApiResult;

/// Which items an export of catalog items carries.
#[derive(Debug, Default, Clone)]
pub(super) struct ExportFilter {
    /// One catalog; all of them when `None`.
    pub catalog: Option<String>,
    pub active: Option<bool>,
}

impl ExportFilter {
    /// The filter an export's query names: `catalog` and `active`.
    pub(super) fn from_query(query: &HashMap<String, String>) -> ApiResult<ExportFilter> {
        let mut filter = ExportFilter::default();
        let mut errors = vec![];
        for (k, v) in query {
            match k.as_str() {
                "catalog" if sintra_domain::forms::catalog_def(v).is_some() => {
                    filter.catalog = Some(v.clone())
                }
                "catalog" => errors.push(invalid_filter("catalog")),
                "active" => match super::parse_bool("active", v) {
                    Ok(b) => filter.active = Some(b),
                    Err(e) => errors.push(e),
                },
                other => errors.push(unknown_filter(other)),
            }
        }
        super::refuse_errors(errors)?;
        Ok(filter)
    }
}

/// Every item the filter names, catalog after catalog in the order of the
/// form spec's list of catalogs, each in its own order.
pub(super) async fn items(
    conn: &mut AsyncPgConnection,
    filter: &ExportFilter,
) -> ApiResult<Vec<CatalogItem>> {
    let item_filter = ItemFilter {
        active: filter.active,
        ..Default::default()
    };
    let mut out = vec![];
    for def in sintra_domain::forms::CATALOGS.iter() {
        if filter.catalog.as_deref().is_some_and(|c| c != def.code) {
            continue;
        }
        out.extend(catalogs::list_items(conn, def.code, &item_filter, i64::from(u32::MAX)).await?);
    }
    Ok(out)
}
