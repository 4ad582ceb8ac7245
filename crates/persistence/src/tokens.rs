//! Access-token registry, refresh-token rotation and login throttling.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::{Actor, EntityCode, Role};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::{access_tokens, institutions, login_throttle, refresh_tokens, users};

pub async fn insert_access_token(
    conn: &mut AsyncPgConnection,
    jti: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(access_tokens::table)
        .values((
            access_tokens::jti.eq(jti),
            access_tokens::user_id.eq(user_id),
            access_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The actor behind a token id, if the token is known, unrevoked and
/// unexpired, and its user and institution are active. One query a request.
/// The actor a live token belongs to, and whether its password is one-time
/// (its sessions may then only change it).
pub async fn actor_for_token(
    conn: &mut AsyncPgConnection,
    jti: Uuid,
    user_id: Uuid,
) -> StoreResult<Option<(Actor, bool)>> {
    let row: Option<(Uuid, String, String, Uuid, String, bool)> = access_tokens::table
        .inner_join(users::table.inner_join(institutions::table))
        .filter(access_tokens::jti.eq(jti))
        .filter(access_tokens::user_id.eq(user_id))
        .filter(access_tokens::revoked_at.is_null())
        .filter(access_tokens::expires_at.gt(diesel::dsl::now))
        .filter(users::active.eq(true))
        .filter(institutions::active.eq(true))
        .select((
            users::id,
            users::username,
            users::role,
            institutions::id,
            institutions::entity_code,
            users::one_time_password_expires_at.is_not_null(),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(
        |(user_id, username, role, institution_id, entity_code, one_time)| {
            let actor = Actor {
                user_id,
                username,
                role: role.parse::<Role>().ok()?,
                institution_id,
                entity_code: EntityCode::parse(&entity_code).ok()?,
                token_id: jti,
            };
            Some((actor, one_time))
        },
    ))
}

pub async fn revoke_access_token(conn: &mut AsyncPgConnection, jti: Uuid) -> StoreResult<()> {
    diesel::update(access_tokens::table.filter(access_tokens::jti.eq(jti)))
        .set(access_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every live token of a user: deactivation and password resets.
pub async fn revoke_all_for_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> StoreResult<()> {
    diesel::update(
        access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .filter(access_tokens::revoked_at.is_null()),
    )
    .set(access_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Valid: spent now; issue a new pair in the same family.
    Valid { user_id: Uuid, family_id: Uuid },
    /// Unknown, expired or revoked.
    Invalid,
    /// Already spent: the family is revoked, since one of its tokens leaked.
    Reused,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshRow {
    id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Spends a refresh token (single use). Call inside a transaction.
pub async fn consume_refresh_token(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> StoreResult<RefreshOutcome> {
    let row: Option<RefreshRow> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some(RefreshRow {
        id,
        user_id,
        family_id,
        expires_at,
        used_at,
        revoked_at,
    }) = row
    else {
        return Ok(RefreshOutcome::Invalid);
    };
    if used_at.is_some() {
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::family_id.eq(family_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
        return Ok(RefreshOutcome::Reused);
    }
    if revoked_at.is_some() || expires_at <= Utc::now() {
        return Ok(RefreshOutcome::Invalid);
    }
    diesel::update(refresh_tokens::table.filter(refresh_tokens::id.eq(id)))
        .set(refresh_tokens::used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(RefreshOutcome::Valid { user_id, family_id })
}

/// When a username is locked out, until when.
pub async fn locked_until(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> StoreResult<Option<DateTime<Utc>>> {
    let until: Option<Option<DateTime<Utc>>> = login_throttle::table
        .filter(login_throttle::username.eq(username))
        .select(login_throttle::locked_until)
        .first(conn)
        .await
        .optional()?;
    Ok(until.flatten().filter(|t| *t > Utc::now()))
}

/// Counts a failed login; after `max_failures` in a row the username is
/// locked for `lock_for`. Failures older than the lock period are forgotten.
pub async fn record_failed_login(
    conn: &mut AsyncPgConnection,
    username: &str,
    max_failures: i32,
    lock_for: Duration,
) -> StoreResult<i32> {
    let now = Utc::now();
    let stale_before = now - lock_for;
    let current: Option<(i32, DateTime<Utc>)> = login_throttle::table
        .filter(login_throttle::username.eq(username))
        .select((login_throttle::failures, login_throttle::last_failure_at))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let failures = match current {
        Some((n, last)) if last > stale_before => n + 1,
        _ => 1,
    };
    let locked = (failures >= max_failures).then_some(now + lock_for);
    diesel::insert_into(login_throttle::table)
        .values((
            login_throttle::username.eq(username),
            login_throttle::failures.eq(failures),
            login_throttle::last_failure_at.eq(now),
            login_throttle::locked_until.eq(locked),
        ))
        .on_conflict(login_throttle::username)
        .do_update()
        .set((
            login_throttle::failures.eq(failures),
            login_throttle::last_failure_at.eq(now),
            login_throttle::locked_until.eq(locked),
        ))
        .execute(conn)
        .await?;
    Ok(failures)
}

pub async fn clear_failed_logins(conn: &mut AsyncPgConnection, username: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.filter(login_throttle::username.eq(username)))
        .execute(conn)
        .await?;
    Ok(())
}
