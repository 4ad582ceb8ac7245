//! Users and service accounts (a service account is a user of kind
//! `service` with role `system`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::{AccountKind, Role, Scope};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::schema::{institutions, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub kind: AccountKind,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    /// Set while the password is one-time: its sessions may only change it,
    /// and it stops logging in at this instant.
    pub one_time_password_expires_at: Option<DateTime<Utc>>,
}

/// A user with the entity of its institution.
#[derive(Debug, Clone)]
pub struct User {
    pub row: UserRow,
    pub entity_code: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub kind: AccountKind,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    /// `Some` for a one-time password (someone else chose or generated it).
    pub one_time_password_expires_at: Option<DateTime<Utc>>,
}

type Joined = diesel::dsl::InnerJoin<users::table, institutions::table>;
type BoxedUsers<'a> = diesel::helper_types::IntoBoxed<'a, Joined, diesel::pg::Pg>;

/// Users the scope covers: through their institution's entity or id.
fn scoped(scope: &Scope) -> BoxedUsers<'static> {
    let q = users::table.inner_join(institutions::table).into_boxed();
    match scope {
        Scope::National => q,
        Scope::Entity(e) => q.filter(institutions::entity_code.eq(e.as_str())),
        Scope::Institution(i) => q.filter(users::institution_id.eq(*i)),
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub kind: Option<AccountKind>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub role: Option<String>,
    pub active: Option<bool>,
    /// Case-insensitive match on username.
    pub q: Option<String>,
    pub after_id: Option<Uuid>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    filter: &UserFilter,
    limit: i64,
) -> StoreResult<Vec<User>> {
    let mut q = scoped(scope).select((UserRow::as_select(), institutions::entity_code));
    if let Some(v) = filter.kind {
        q = q.filter(users::kind.eq(v));
    }
    if let Some(v) = filter.institution_id {
        q = q.filter(users::institution_id.eq(v));
    }
    if let Some(v) = &filter.entity_code {
        q = q.filter(institutions::entity_code.eq(v.clone()));
    }
    if let Some(v) = &filter.role {
        q = q.filter(users::role.eq(v.clone()));
    }
    if let Some(v) = filter.active {
        q = q.filter(users::active.eq(v));
    }
    if let Some(v) = &filter.q {
        let pattern = format!(
            "%{}%",
            v.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        q = q.filter(users::username.ilike(pattern));
    }
    if let Some(v) = filter.after_id {
        q = q.filter(users::id.gt(v));
    }
    let rows: Vec<(UserRow, String)> = q.order(users::id).limit(limit).load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(row, entity_code)| User { row, entity_code })
        .collect())
}

pub async fn get(conn: &mut AsyncPgConnection, scope: &Scope, id: Uuid) -> StoreResult<User> {
    let (row, entity_code) = scoped(scope)
        .filter(users::id.eq(id))
        .select((UserRow::as_select(), institutions::entity_code))
        .first(conn)
        .await?;
    Ok(User { row, entity_code })
}

/// The usernames of these users, whatever their scope (an export names who
/// registered each record); ids with no user are left out.
pub async fn usernames(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The users with these usernames, whatever their scope or kind: an Excel
/// import tells a username of the caller's scope (an update) from one taken
/// elsewhere (refused) with one query for the whole file.
pub async fn by_usernames(
    conn: &mut AsyncPgConnection,
    names: &[String],
) -> StoreResult<Vec<User>> {
    if names.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<(UserRow, String)> = scoped(&Scope::National)
        .filter(users::username.eq_any(names))
        .select((UserRow::as_select(), institutions::entity_code))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, entity_code)| User { row, entity_code })
        .collect())
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser) -> StoreResult<UserRow> {
    Ok(diesel::insert_into(users::table)
        .values(new)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub full_name: Option<String>,
    pub email: Option<Option<String>>,
    pub role: Option<String>,
    pub institution_id: Option<Uuid>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    /// `Some(Some(t))` with a one-time password, `Some(None)` when the user
    /// chose it.
    pub one_time_password_expires_at: Option<Option<DateTime<Utc>>>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.email.is_none()
            && self.role.is_none()
            && self.institution_id.is_none()
            && self.active.is_none()
            && self.password_hash.is_none()
            && self.one_time_password_expires_at.is_none()
    }
}

/// Applies changes at the expected version (optimistic concurrency).
pub async fn update(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    id: Uuid,
    expected_version: Option<i32>,
    changes: &UserChanges,
    by: Uuid,
) -> StoreResult<(User, User)> {
    let before = get(conn, scope, id).await?;
    let version = before.row.version;
    if expected_version.is_some_and(|v| v != version) {
        return Err(StoreError::StaleVersion);
    }
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::version.eq(version)),
    )
    .set((
        changes,
        users::version.eq(version + 1),
        users::updated_at.eq(diesel::dsl::now),
        users::updated_by.eq(by),
    ))
    .execute(conn)
    .await?;
    // Re-read in the caller's scope: a user moved out of it reads as gone.
    let after = get(conn, &Scope::National, id).await?;
    if after.row.version != version + 1 {
        return Err(StoreError::StaleVersion);
    }
    Ok((before, after))
}

/// What login needs; never leaves the server.
#[derive(Debug, Clone, Queryable)]
pub struct Credentials {
    pub user_id: Uuid,
    pub username: String,
    pub kind: AccountKind,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub institution_id: Uuid,
    pub institution_active: bool,
    pub entity_code: String,
    pub one_time_password_expires_at: Option<DateTime<Utc>>,
}

pub async fn credentials(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> StoreResult<Option<Credentials>> {
    Ok(users::table
        .inner_join(institutions::table)
        .filter(users::username.eq(username))
        .select((
            users::id,
            users::username,
            users::kind,
            users::role,
            users::password_hash,
            users::active,
            institutions::id,
            institutions::active,
            institutions::entity_code,
            users::one_time_password_expires_at,
        ))
        .first::<Credentials>(conn)
        .await
        .optional()?)
}

pub async fn count(conn: &mut AsyncPgConnection) -> StoreResult<i64> {
    Ok(users::table.count().get_result(conn).await?)
}
