//! Listing records: the filters a query may name, and the page of records
//! in the caller's scope they select.

use std::collections::HashMap;

use chrono::Datelike;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use sintra_domain::access::{Caller, Permission};
use sintra_domain::forms::{FieldType, FormKey};
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldError;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::records::{self, DataFilter, RecordFilter};
use sintra_persistence::{catalogs, db, Pool};
use uuid::Uuid;

use super::view::record_json;
use crate::clock::today;
use crate::error::{ServiceError, ServiceResult};
use crate::page::Slice;
use sintra_domain::validation::FieldCode;

/// The query keys that page a list rather than filter it.
pub const PAGING_KEYS: [&str; 2] = ["limit", "cursor"];

/// The filters every record form takes: they name columns all records share.
pub const SHARED_FILTERS: [&str; 2] = ["entity_code", "institution_id"];

/// A filter whose value does not parse (the value is not echoed).
pub fn invalid_filter(key: &str) -> FieldError {
    FieldError::new(
        key,
        FieldCode::InvalidFilter,
        Message::new(
            format!("El filtro «{key}» no tiene un valor válido."),
            format!("The filter \"{key}\" has an invalid value."),
        ),
    )
}

/// The one personal field a list of people may be filtered by, for the
/// roles that read personal data: a missing-person report folio is how a
/// search commission asks whether the person was attended as a victim.
/// Matched exactly, on its normalized form, through the index on `data`.
pub const MISSING_REPORT_FILTER: &str = "missing_report_folio";

/// Lists people once (`?distinct_person=true`): a person recorded by
/// several institutions, its records joined by confirmed duplicate pairs,
/// shows as its first record the caller may see; the other filters apply
/// to that record.
pub const DISTINCT_PERSON_FILTER: &str = "distinct_person";

/// A filter the list (or export) does not take.
pub fn unknown_filter(key: &str) -> FieldError {
    FieldError::new(
        key,
        FieldCode::UnknownFilter,
        Message::new(
            format!("No se puede filtrar por «{key}»."),
            format!("Cannot filter by \"{key}\"."),
        ),
    )
}

/// The records of `form` a query names, as a list or an export reads it:
/// `entity_code`, `institution_id`, the parent's id (`commission_id`, …),
/// any non-personal field of the form by value (a list field by one of its
/// values), any date field by `<field>_from` / `<field>_to`, `overdue=true`
/// for agreements and `age_group=<code of the age_group catalog>` for
/// victims. Personal fields are never filters, whoever asks: their values
/// would travel in URLs, proxy logs and the audit trail; the one exception
/// is [`MISSING_REPORT_FILTER`] for victims, which [`list`] allows only to
/// callers who read personal data (the API logs no query string, and the
/// audit row does not carry the value). Any other key, or
/// a value that does not parse, is a 422 naming every offending key. The
/// paging keys ([`PAGING_KEYS`]) are the caller's to take out first.
pub async fn filter_from_query(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    query: &HashMap<String, String>,
) -> ServiceResult<RecordFilter> {
    let spec = form.spec();
    let mut filter = RecordFilter::default();
    let mut errors = vec![];
    let bad_value = invalid_filter;
    // Sorted, so the errors come in the same order whatever the hash map's.
    let mut pairs: Vec<(&String, &String)> = query.iter().collect();
    pairs.sort();
    for (key, value) in pairs {
        let key = key.as_str();
        if value.chars().count() > 200 {
            errors.push(bad_value(key));
            continue;
        }
        match key {
            "entity_code" => filter.entity_code = Some(value.clone()),
            "institution_id" => match value.parse() {
                Ok(id) => filter.institution_id = Some(id),
                Err(_) => errors.push(bad_value(key)),
            },
            "age_group" if form == FormKey::Victim => {
                match catalogs::get_item(conn, "age_group", &value.to_uppercase()).await {
                    Ok(item) => {
                        let bound =
                            |k: &str| item.extra.get(k).and_then(Value::as_i64).map(|n| n as i32);
                        filter
                            .data
                            .push(DataFilter::AgeBetween(bound("min"), bound("max")));
                    }
                    Err(_) => errors.push(bad_value(key)),
                }
            }
            // One row per person (records joined by confirmed duplicate
            // pairs): its first record in the caller's scope.
            DISTINCT_PERSON_FILTER if form == FormKey::Victim => match value.as_str() {
                "true" => filter.distinct_person = true,
                "false" => filter.distinct_person = false,
                _ => errors.push(bad_value(key)),
            },
            MISSING_REPORT_FILTER if form == FormKey::Victim => {
                match sintra_domain::missing_report::parse(value, today().year()) {
                    Ok(folio) => filter.data.push(DataFilter::Indexed(
                        MISSING_REPORT_FILTER,
                        folio.as_str().to_owned(),
                    )),
                    Err(_) => errors.push(bad_value(key)),
                }
            }
            "overdue" if form == FormKey::Agreement => {
                if value == "true" {
                    filter
                        .data
                        .push(DataFilter::Before("due_date", today().to_string()));
                    filter.data.push(DataFilter::NotIn(
                        "status",
                        vec!["CUMPLIDO".into(), "CANCELADO".into()],
                    ));
                }
            }
            _ => {
                let (field_key, bound) = match key.strip_suffix("_from") {
                    Some(k) => (k, Some(true)),
                    None => match key.strip_suffix("_to") {
                        Some(k) => (k, Some(false)),
                        None => (key, None),
                    },
                };
                let Some(field) = spec.field(field_key).filter(|f| !f.personal) else {
                    errors.push(unknown_filter(key));
                    continue;
                };
                match (&field.ty, bound) {
                    (FieldType::Date, Some(true)) => filter
                        .data
                        .push(DataFilter::AtLeast(field.key, value.clone())),
                    (FieldType::Date, Some(false)) => filter
                        .data
                        .push(DataFilter::AtMost(field.key, value.clone())),
                    (_, Some(_)) => errors.push(bad_value(key)),
                    (FieldType::Reference { .. }, None)
                        if spec.parent_field().is_some_and(|p| p.key == field.key) =>
                    {
                        match value.parse() {
                            Ok(id) => filter.parent_id = Some(id),
                            Err(_) => errors.push(bad_value(key)),
                        }
                    }
                    (ty, None) if ty.is_multiple() => filter
                        .data
                        .push(DataFilter::Contains(field.key, value.to_uppercase())),
                    (FieldType::Catalog { .. } | FieldType::Choice { .. }, None) => filter
                        .data
                        .push(DataFilter::Equals(field.key, value.to_uppercase())),
                    (_, None) => filter
                        .data
                        .push(DataFilter::Equals(field.key, value.clone())),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    Ok(filter)
}

/// Which page of a list: the size, the last id of the previous page, and
/// a nested route's parent.
#[derive(Debug, Clone, Copy)]
pub struct ListPage {
    pub limit: i64,
    pub after: Option<Uuid>,
    pub parent: Option<Uuid>,
}

/// Lists records in the caller's scope, filtered by the query as
/// [`filter_from_query`] reads it (the paging keys already taken out): each
/// record by id, as the caller may see it.
pub async fn list(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    query: HashMap<String, String>,
    page: ListPage,
) -> ServiceResult<Slice<(Uuid, Value)>> {
    let spec = form.spec();
    let limit = page.limit;
    if query.contains_key(MISSING_REPORT_FILTER) && !caller.actor.can(Permission::ReadPersonalData)
    {
        return Err(ServiceError::Forbidden {
            detail: Some(Message::new(
                "Solo quien puede leer datos personales busca por folio de reporte de persona \
                 desaparecida.",
                "Only those who may read personal data search by missing-person report folio.",
            )),
        });
    }
    let mut conn = db::conn(pool).await?;
    let mut filter = filter_from_query(&mut conn, form, &query).await?;
    filter.after_id = page.after;
    // A nested route's parent, unless the query names one itself (the
    // records are in the caller's scope either way).
    if filter.parent_id.is_none() {
        filter.parent_id = page.parent;
    }
    let scope = caller.actor.scope();
    let rows = records::list(&mut conn, &scope, form, &filter, limit + 1).await?;
    let rows = Slice::of(rows, limit);
    if spec.personal_fields().next().is_some() {
        let entry = AuditEntry::access(
            &AuditContext::for_caller(caller),
            AuditAction::List,
            form.as_str(),
        )
        .details(serde_json::json!({"returned": rows.items.len()}));
        audit::append(&mut conn, &[entry]).await?;
    }
    let mut items: Vec<(Uuid, Value)> = rows
        .items
        .iter()
        .map(|r| (r.id, record_json(r, spec, caller)))
        .collect();
    if form == crate::duplicates::PERSON_FORM {
        let mut shown: Vec<(Uuid, &mut Value)> =
            items.iter_mut().map(|(id, body)| (*id, body)).collect();
        crate::duplicates::people::annotate(&mut conn, caller, &mut shown).await?;
    }
    Ok(Slice {
        items,
        more: rows.more,
    })
}
