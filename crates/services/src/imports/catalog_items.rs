//! Catalog items through Excel. A workbook of items is a batch of catalog
//! administration (national admin only): each row is checked as
//! `POST /catalogs/{catalog}/items` or `PATCH …/items/{code}` checks one
//! item, a row whose (catalog, code) exists changes that item, and every
//! created or changed item is audited as the API audits it, inside the one
//! transaction of the import.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use serde_json::{Map, Value};
use sintra_domain::access::Caller;
use sintra_domain::forms::FormKey;
use sintra_domain::i18n::Message;
use sintra_domain::validation::{diff, validate_record, CatalogEntry, FieldError};
use sintra_excel::{CellError, ImportSheet};
use sintra_persistence::audit::AuditContext;
use sintra_persistence::catalogs::{self, CatalogItem, ItemChanges, NewItem};

use super::{distinct_rows, keep_empty_cells, ImportTarget, RowsChecked};
use crate::catalogs::{
    code_taken, insert_item_audited, item_record, new_item, parent_refs, update_item_audited,
};
use crate::clock::today;
use crate::error::ServiceResult;
use sintra_domain::validation::FieldCode;

/// What committing a valid row does.
pub enum Planned {
    Create {
        new: NewItem,
        changes: Value,
    },
    Update {
        before: CatalogItem,
        changes: ItemChanges,
        audit: Value,
    },
    /// The row says what the item already is.
    Unchanged,
}

/// The import of catalog items (national admin; the caller's permission
/// is checked before).
#[derive(Default)]
pub struct CatalogItemRows;

impl ImportTarget for CatalogItemRows {
    type Planned = Planned;

    async fn check(
        &mut self,
        conn: &mut AsyncPgConnection,
        _caller: &Caller,
        sheet: &mut ImportSheet,
    ) -> ServiceResult<RowsChecked<Planned>> {
        let (planned, errors) = check_rows(conn, sheet).await?;
        Ok(RowsChecked {
            planned,
            errors,
            warnings: vec![],
        })
    }

    async fn store(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        planned: Vec<Planned>,
    ) -> ServiceResult<(usize, usize)> {
        let ctx = AuditContext::for_caller(caller);
        let (mut created, mut updated) = (0, 0);
        for p in planned {
            match p {
                Planned::Create { new, changes } => {
                    insert_item_audited(conn, &ctx, &new, changes)
                        .await
                        .map_err(code_taken)?;
                    created += 1;
                }
                Planned::Update {
                    before,
                    changes,
                    audit,
                } => {
                    let version = before.version;
                    update_item_audited(conn, &ctx, &before, version, &changes, audit).await?;
                    updated += 1;
                }
                Planned::Unchanged => {}
            }
        }
        Ok((created, updated))
    }
}

/// The (catalog, code) a row names, as the validator will normalize it.
fn key_of(values: &Map<String, Value>) -> Option<(String, String)> {
    let text = |k: &str| values.get(k).and_then(Value::as_str).map(str::trim);
    Some((text("catalog")?.to_string(), text("code")?.to_uppercase()))
}

/// Every row checked against the stored catalogs and the file's own rows:
/// a parent may be an item the same file adds (in any row: nothing is
/// written unless every row is valid).
async fn check_rows(
    conn: &mut AsyncPgConnection,
    sheet: &mut ImportSheet,
) -> ServiceResult<(Vec<Planned>, Vec<CellError>)> {
    let spec = FormKey::CatalogItem.spec();
    let mut errors = sheet.header_errors();
    if !errors.is_empty() {
        return Ok((vec![], errors));
    }
    let inputs: Vec<Map<String, Value>> = sheet.rows.iter_mut().map(|r| r.take_values()).collect();
    let keys: Vec<(String, String)> = inputs.iter().filter_map(key_of).collect();
    let mut wanted: Vec<(String, String)> = keys.clone();
    for values in &inputs {
        if let Some((catalog, _)) = key_of(values) {
            let parent = values.get("parent_code").and_then(Value::as_str);
            wanted.extend(parent_refs(&catalog, parent));
        }
    }
    let mut lookup = catalogs::snapshot(conn, &wanted).await?;
    for values in &inputs {
        if let Some((catalog, code)) = key_of(values) {
            let entry = CatalogEntry {
                active: values
                    .get("active")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                parent_code: values
                    .get("parent_code")
                    .and_then(Value::as_str)
                    .map(|p| p.trim().to_uppercase()),
            };
            lookup.insert(&catalog, &code, entry);
        }
    }
    let mut stored: HashMap<(String, String), CatalogItem> = catalogs::items_by_keys(conn, &keys)
        .await?
        .into_iter()
        .map(|i| ((i.catalog.clone(), i.code.clone()), i))
        .collect();

    let mut planned = Vec::with_capacity(inputs.len());
    for (i, mut values, key) in
        distinct_rows(sheet, inputs, key_of, |_| code_repeated(), &mut errors)
    {
        let row = &sheet.rows[i];
        let before = key.and_then(|k| stored.remove(&k));
        let before_map = before.as_ref().map(item_record);
        if let Some(b) = &before_map {
            keep_empty_cells(&mut values, b);
        }
        let record = match validate_record(spec, &values, before_map.as_ref(), &lookup, today()) {
            Ok(r) => r,
            Err(field_errors) => {
                errors.extend(sheet.locate(row, field_errors));
                continue;
            }
        };
        match (before, before_map) {
            (Some(before), Some(before_map)) => match plan_update(before, &before_map, &record) {
                Ok(p) => planned.push(p),
                Err(e) => errors.extend(sheet.locate(row, vec![e])),
            },
            _ if record.get("active") == Some(&Value::Bool(false)) => {
                errors.extend(sheet.locate(row, vec![new_inactive()]));
            }
            _ => {
                let catalog = record["catalog"].as_str().unwrap_or_default().to_string();
                planned.push(Planned::Create {
                    new: new_item(&catalog, &record),
                    changes: Value::Object(diff(spec, &Map::new(), &record)),
                });
            }
        }
    }
    Ok((planned, errors))
}

/// The change a row makes to a stored item: labels, order and whether it
/// is active. The parent, like the code, stays what it was.
fn plan_update(
    before: CatalogItem,
    before_map: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<Planned, FieldError> {
    if after.get("parent_code") != before_map.get("parent_code") {
        return Err(FieldError::new(
            "parent_code",
            FieldCode::ParentImmutable,
            Message::new(
                "El elemento ya existe y su elemento padre no cambia; deje la clave del padre que tiene o da de alta un elemento nuevo.",
                "The item exists and its parent does not change; keep its parent's code or add a new item.",
            ),
        ));
    }
    let text = |k: &str| after.get(k).and_then(Value::as_str).map(str::to_string);
    let changes = ItemChanges {
        label_es: text("label_es").filter(|l| *l != before.label_es),
        label_en: text("label_en").filter(|l| *l != before.label_en),
        sort_order: after
            .get("sort_order")
            .and_then(Value::as_i64)
            .map(|n| n as i32)
            .filter(|n| *n != before.sort_order),
        active: after
            .get("active")
            .and_then(Value::as_bool)
            .filter(|a| *a != before.active),
    };
    if changes == ItemChanges::default() {
        return Ok(Planned::Unchanged);
    }
    let spec = FormKey::CatalogItem.spec();
    Ok(Planned::Update {
        audit: Value::Object(diff(spec, before_map, after)),
        before,
        changes,
    })
}

fn new_inactive() -> FieldError {
    FieldError::new(
        "active",
        FieldCode::NewItemInactive,
        Message::new(
            "Un elemento nuevo se da de alta activo; para darlo de baja, impórtelo de nuevo con «No» una vez creado.",
            "A new item is added active; to retire it, import it again with \"No\" once it exists.",
        ),
    )
}

fn code_repeated() -> FieldError {
    FieldError::new(
        "code",
        FieldCode::CodeRepeatedInFile,
        Message::new(
            "Esa clave de ese catálogo ya aparece en una fila anterior del archivo.",
            "That code of that catalog already appears in an earlier row of the file.",
        ),
    )
}
