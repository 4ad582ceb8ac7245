//! Catalog administration shared by the API and the Excel import: what a
//! stored item is as the `catalog_item` form spec describes it, and its
//! audited writes.

use serde_json::{Map, Value};
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::catalog_def;
use sintra_domain::i18n::Message;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::catalogs::{self, CatalogItem, ItemChanges, NewItem};
use sintra_persistence::StoreError;

use crate::error::ServiceError;

pub fn to_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A stored item as the `catalog_item` form spec describes it: what a
/// change is validated against and diffed with.
pub fn item_record(item: &CatalogItem) -> Map<String, Value> {
    to_map(serde_json::json!({
        "catalog": item.catalog, "code": item.code, "label_es": item.label_es,
        "label_en": item.label_en, "parent_code": item.parent_code,
        "sort_order": item.sort_order, "active": item.active,
    }))
}

/// The parent item an item of `catalog` names, as the validator looks it
/// up: nothing in a flat catalog.
pub fn parent_refs(catalog: &str, parent_code: Option<&str>) -> Vec<(String, String)> {
    match (catalog_def(catalog).and_then(|d| d.parent), parent_code) {
        (Some(parent), Some(p)) => vec![(parent.to_string(), p.trim().to_uppercase())],
        _ => vec![],
    }
}

/// The item to insert, from a record the spec validated.
pub fn new_item(catalog: &str, record: &Map<String, Value>) -> NewItem {
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
    NewItem {
        catalog: catalog.to_string(),
        code: text("code").unwrap_or_default(),
        label_es: text("label_es").unwrap_or_default(),
        label_en: text("label_en").unwrap_or_default(),
        parent_code: text("parent_code"),
        // Without an order, after the items that have one.
        sort_order: record
            .get("sort_order")
            .and_then(Value::as_i64)
            .map(|n| n as i32)
            .unwrap_or(1_000_000),
    }
}

/// Inserts an item and audits it inside the caller's transaction.
pub async fn insert_item_audited(
    conn: &mut diesel_async::AsyncPgConnection,
    ctx: &AuditContext,
    new: &NewItem,
    changes: Value,
) -> Result<CatalogItem, StoreError> {
    let item = catalogs::insert_item(conn, new).await?;
    let entry = AuditEntry::modification(ctx, AuditAction::Create, "catalog_item")
        .resource(format!("{}/{}", item.catalog, item.code))
        .changes(changes);
    audit::append(conn, &[entry]).await?;
    Ok(item)
}

/// A code the catalog already has: the primary key said so.
pub fn code_taken(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict { .. } => ServiceError::Conflict {
            code: ErrorCode::CodeTaken,
            detail: Message::new(
                "Esa clave ya existe en el catálogo (las claves no se reutilizan).",
                "That code already exists in the catalog (codes are never reused).",
            ),
        },
        other => ServiceError::Store(other),
    }
}

/// Changes an item at the version it was read at and audits it (as a
/// deactivation or a reactivation when that is what changed) inside the
/// caller's transaction.
pub async fn update_item_audited(
    conn: &mut diesel_async::AsyncPgConnection,
    ctx: &AuditContext,
    before: &CatalogItem,
    expected_version: i32,
    changes: &ItemChanges,
    audit_changes: Value,
) -> Result<CatalogItem, StoreError> {
    let (catalog, code) = (&before.catalog, &before.code);
    let (_, after) = catalogs::update_item(conn, catalog, code, expected_version, changes).await?;
    let action = match (before.active, after.active) {
        (true, false) => AuditAction::Deactivate,
        (false, true) => AuditAction::Reactivate,
        _ => AuditAction::Update,
    };
    let entry = AuditEntry::modification(ctx, action, "catalog_item")
        .resource(format!("{catalog}/{code}"))
        .changes(audit_changes);
    audit::append(conn, &[entry]).await?;
    Ok(after)
}
