//! Entities and institutions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::Scope;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::schema::{entities, institutions};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = entities)]
pub struct Entity {
    pub code: String,
    pub name: String,
    pub abbreviation: String,
    pub curp_key: String,
    pub population: i64,
}

pub async fn list_entities(conn: &mut AsyncPgConnection) -> StoreResult<Vec<Entity>> {
    Ok(entities::table
        .select(Entity::as_select())
        .order(entities::code)
        .load(conn)
        .await?)
}

pub async fn entity_exists(conn: &mut AsyncPgConnection, code: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        entities::table.filter(entities::code.eq(code)),
    ))
    .get_result(conn)
    .await?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = institutions)]
pub struct Institution {
    pub id: Uuid,
    pub entity_code: String,
    pub name: String,
    pub institution_type: String,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = institutions)]
pub struct NewInstitution {
    pub id: Uuid,
    pub entity_code: String,
    pub name: String,
    pub institution_type: String,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
}

type BoxedInstitutions<'a> = institutions::BoxedQuery<'a, diesel::pg::Pg>;

fn scoped(scope: &Scope) -> BoxedInstitutions<'static> {
    let q = institutions::table.into_boxed();
    match scope {
        Scope::National => q,
        Scope::Entity(e) => q.filter(institutions::entity_code.eq(e.as_str())),
        Scope::Institution(i) => q.filter(institutions::id.eq(*i)),
    }
}

#[derive(Debug, Clone, Default)]
pub struct InstitutionFilter {
    pub entity_code: Option<String>,
    pub institution_type: Option<String>,
    pub active: Option<bool>,
    pub after_id: Option<Uuid>,
}

pub async fn list_institutions(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    filter: &InstitutionFilter,
    limit: i64,
) -> StoreResult<Vec<Institution>> {
    let mut q = scoped(scope).select(Institution::as_select());
    if let Some(e) = &filter.entity_code {
        q = q.filter(institutions::entity_code.eq(e.clone()));
    }
    if let Some(t) = &filter.institution_type {
        q = q.filter(institutions::institution_type.eq(t.clone()));
    }
    if let Some(a) = filter.active {
        q = q.filter(institutions::active.eq(a));
    }
    if let Some(after) = filter.after_id {
        q = q.filter(institutions::id.gt(after));
    }
    Ok(q.order(institutions::id).limit(limit).load(conn).await?)
}

pub async fn get_institution(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    id: Uuid,
) -> StoreResult<Institution> {
    Ok(scoped(scope)
        .filter(institutions::id.eq(id))
        .select(Institution::as_select())
        .first(conn)
        .await?)
}

/// The names of these institutions, whatever their scope; ids with no
/// institution are left out.
pub async fn institution_names(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = institutions::table
        .filter(institutions::id.eq_any(ids))
        .select((institutions::id, institutions::name))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

pub async fn insert_institution(
    conn: &mut AsyncPgConnection,
    new: &NewInstitution,
) -> StoreResult<Institution> {
    Ok(diesel::insert_into(institutions::table)
        .values(new)
        .returning(Institution::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = institutions)]
pub struct InstitutionChanges {
    pub name: Option<String>,
    pub institution_type: Option<String>,
    pub active: Option<bool>,
}

/// Applies changes when the stored version is `expected_version`; a record
/// outside the scope is `NotFound`, a newer version `StaleVersion`.
pub async fn update_institution(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    id: Uuid,
    expected_version: i32,
    changes: &InstitutionChanges,
    by: Uuid,
) -> StoreResult<(Institution, Institution)> {
    let before = get_institution(conn, scope, id).await?;
    if before.version != expected_version {
        return Err(StoreError::StaleVersion);
    }
    let after = diesel::update(
        institutions::table
            .filter(institutions::id.eq(id))
            .filter(institutions::version.eq(expected_version)),
    )
    .set((
        changes,
        institutions::version.eq(expected_version + 1),
        institutions::updated_at.eq(diesel::dsl::now),
        institutions::updated_by.eq(by),
    ))
    .returning(Institution::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or(StoreError::StaleVersion)?;
    Ok((before, after))
}
