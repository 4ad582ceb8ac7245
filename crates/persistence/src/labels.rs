//! Label overrides of form fields and their insert-only history (see
//! `sintra_domain::forms::labels`). A field's version is the number of
//! changes it has had: 0 while it never had an override. Two changes made
//! from the same version cannot both land: the history's unique
//! (form, field, version) refuses the second, read as a stale version.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use sintra_domain::forms::labels::LabelOverride;
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::schema::{label_override_versions, label_overrides, users};

/// An override in force.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = label_overrides)]
pub struct LabelRow {
    pub form: String,
    pub field: String,
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

impl LabelRow {
    pub fn to_override(&self) -> LabelOverride {
        LabelOverride {
            field: self.field.clone(),
            label_es: self.label_es.clone(),
            label_en: self.label_en.clone(),
            help_es: self.help_es.clone(),
            help_en: self.help_en.clone(),
            position: self.position,
        }
    }
}

/// The parts of an override as the history's `previous` keeps them.
fn parts(o: &LabelOverride) -> Value {
    json!({
        "label_es": o.label_es, "label_en": o.label_en,
        "help_es": o.help_es, "help_en": o.help_en, "position": o.position,
    })
}

/// One change of a field's override, with who made it (the services hand
/// it on as `LabelVersion`; the HTTP layer maps it to its published shape).
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct VersionRow {
    pub form: String,
    pub field: String,
    pub version: i32,
    pub action: String,
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    pub position: Option<i32>,
    pub previous: Option<Value>,
    pub changed_by: Uuid,
    pub changed_by_username: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = label_override_versions)]
struct NewVersion<'a> {
    form: &'a str,
    field: &'a str,
    version: i32,
    action: &'a str,
    label_es: Option<&'a str>,
    label_en: Option<&'a str>,
    help_es: Option<&'a str>,
    help_en: Option<&'a str>,
    position: Option<i32>,
    previous: Option<Value>,
    changed_by: Uuid,
}

/// The overrides in force for a form (all forms with `None`), by field.
pub async fn current(
    conn: &mut AsyncPgConnection,
    form: Option<FormKey>,
) -> StoreResult<Vec<LabelRow>> {
    let mut q = label_overrides::table
        .select(LabelRow::as_select())
        .order((label_overrides::form, label_overrides::field))
        .into_boxed();
    if let Some(form) = form {
        q = q.filter(label_overrides::form.eq(form.as_str()));
    }
    Ok(q.load(conn).await?)
}

/// Every change of a form's overrides, by field, oldest first.
pub async fn history(conn: &mut AsyncPgConnection, form: FormKey) -> StoreResult<Vec<VersionRow>> {
    use label_override_versions as v;
    Ok(v::table
        .inner_join(users::table)
        .filter(v::form.eq(form.as_str()))
        .order((v::field, v::version))
        .select((
            v::form,
            v::field,
            v::version,
            v::action,
            v::label_es,
            v::label_en,
            v::help_es,
            v::help_en,
            v::position,
            v::previous,
            v::changed_by,
            users::username,
            v::changed_at,
        ))
        .load(conn)
        .await?)
}

/// A field's version: how many changes it has had (0: none).
pub async fn version_of(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    field: &str,
) -> StoreResult<i32> {
    use label_override_versions as v;
    let max: Option<i32> = v::table
        .filter(v::form.eq(form.as_str()).and(v::field.eq(field)))
        .select(diesel::dsl::max(v::version))
        .first(conn)
        .await?;
    Ok(max.unwrap_or(0))
}

/// What a change came to: the field's new version and what was in force
/// before it (`None`: the built-in texts).
#[derive(Debug, Clone)]
pub struct Changed {
    pub version: i32,
    pub before: Option<LabelOverride>,
}

/// Locks the field's override row (when there is one) and checks the
/// version the caller read; inside the caller's transaction.
async fn start_change(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    field: &str,
    expected: i32,
) -> StoreResult<Option<LabelOverride>> {
    let before: Option<LabelRow> = label_overrides::table
        .filter(
            label_overrides::form
                .eq(form.as_str())
                .and(label_overrides::field.eq(field)),
        )
        .select(LabelRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if version_of(conn, form, field).await? != expected {
        return Err(StoreError::StaleVersion);
    }
    Ok(before.map(|b| b.to_override()))
}

/// A second change from the same version, met at the history's insert.
fn stale_on_race(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { constraint } if constraint == "label_override_versions_once" => {
            StoreError::StaleVersion
        }
        other => other,
    }
}

/// Puts `o` in force for its field at the version the caller read, and
/// records the change; inside the caller's transaction.
pub async fn set(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    o: &LabelOverride,
    expected: i32,
    by: Uuid,
) -> StoreResult<Changed> {
    let before = start_change(conn, form, &o.field, expected).await?;
    let version = expected + 1;
    diesel::insert_into(label_overrides::table)
        .values((
            label_overrides::form.eq(form.as_str()),
            label_overrides::field.eq(&o.field),
            label_overrides::label_es.eq(&o.label_es),
            label_overrides::label_en.eq(&o.label_en),
            label_overrides::help_es.eq(&o.help_es),
            label_overrides::help_en.eq(&o.help_en),
            label_overrides::position.eq(o.position),
            label_overrides::version.eq(version),
            label_overrides::updated_by.eq(by),
        ))
        .on_conflict((label_overrides::form, label_overrides::field))
        .do_update()
        .set((
            label_overrides::label_es.eq(&o.label_es),
            label_overrides::label_en.eq(&o.label_en),
            label_overrides::help_es.eq(&o.help_es),
            label_overrides::help_en.eq(&o.help_en),
            label_overrides::position.eq(o.position),
            label_overrides::version.eq(version),
            label_overrides::updated_at.eq(diesel::dsl::now),
            label_overrides::updated_by.eq(by),
        ))
        .execute(conn)
        .await?;
    diesel::insert_into(label_override_versions::table)
        .values(NewVersion {
            form: form.as_str(),
            field: &o.field,
            version,
            action: "set",
            label_es: o.label_es.as_deref(),
            label_en: o.label_en.as_deref(),
            help_es: o.help_es.as_deref(),
            help_en: o.help_en.as_deref(),
            position: o.position,
            previous: before.as_ref().map(parts),
            changed_by: by,
        })
        .execute(conn)
        .await
        .map_err(|e| stale_on_race(e.into()))?;
    Ok(Changed { version, before })
}

/// Takes the field back to its built-in texts and order at the version the
/// caller read, and records the change; `NotFound` when no override is in
/// force. Inside the caller's transaction.
pub async fn reset(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    field: &str,
    expected: i32,
    by: Uuid,
) -> StoreResult<Changed> {
    let Some(before) = start_change(conn, form, field, expected).await? else {
        return Err(StoreError::NotFound);
    };
    let version = expected + 1;
    diesel::delete(
        label_overrides::table.filter(
            label_overrides::form
                .eq(form.as_str())
                .and(label_overrides::field.eq(field)),
        ),
    )
    .execute(conn)
    .await?;
    diesel::insert_into(label_override_versions::table)
        .values(NewVersion {
            form: form.as_str(),
            field,
            version,
            action: "reset",
            label_es: None,
            label_en: None,
            help_es: None,
            help_en: None,
            position: None,
            previous: Some(parts(&before)),
            changed_by: by,
        })
        .execute(conn)
        .await
        .map_err(|e| stale_on_race(e.into()))?;
    Ok(Changed {
        version,
        before: Some(before),
    })
}
