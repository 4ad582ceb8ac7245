//! User administration shared by the API and the Excel import: who may
//! manage whom, what an account is as the `user` form spec describes it,
//! and its audited writes.
//!
//! An actor manages a user only when the user lies in its scope *and* it
//! could grant the user's role: so an entity admin never touches a national
//! admin or an auditor, nor a user of another entity, and nobody changes
//! their own role.

use diesel_async::AsyncPgConnection;
use sintra_domain::access::{Caller, EntityCode, Role, Scope};
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::FormKey;
use sintra_domain::validation::validate_record;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::users::{self, NewUser, User, UserChanges};
use sintra_persistence::{org, tokens, StoreError};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use sintra_domain::validation::FieldCode;

/// What the audit log shows instead of a personal value.
pub const PERSONAL: &str = "[personal]";

/// A person's account as the `user` form spec describes it: what an Excel
/// export writes and what an imported row is completed with.
pub fn user_record(user: &User) -> serde_json::Map<String, serde_json::Value> {
    let r = &user.row;
    let record = serde_json::json!({
        "username": r.username, "full_name": r.full_name, "email": r.email,
        "role": r.role, "institution_id": r.institution_id, "active": r.active,
    });
    match record {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Whether the actor could grant the user's current role: an entity admin
/// never touches a national admin or an auditor of its entity.
pub fn manages(caller: &Caller, target: &User) -> bool {
    caller.actor.role.may_grant(target.row.role)
}

/// Whether the actor may give a person's account this role (`system`
/// belongs to service accounts, which nobody grants).
pub fn may_give(caller: &Caller, role: Role) -> bool {
    role != Role::System && caller.actor.role.may_grant(role)
}

/// A person's account fields as the `user` form spec validates them: the
/// one description of what a username, a name or an email may be.
pub fn validated_user(
    fields: serde_json::Value,
) -> ServiceResult<serde_json::Map<String, serde_json::Value>> {
    let input = match fields {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    };
    validate_record(
        FormKey::User.spec(),
        &input,
        None,
        &sintra_persistence::catalogs::CatalogSnapshot::default(),
        crate::clock::today(),
    )
    .map_err(ServiceError::Validation)
}

/// The institution must lie in the actor's scope (its entity, for an
/// entity admin). Outside it reads as missing.
pub async fn institution_in_scope(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    id: Uuid,
) -> ServiceResult<org::Institution> {
    let inst = org::get_institution(conn, &Scope::National, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ServiceError::invalid(
                "institution_id",
                FieldCode::UnknownReference,
                "La institución no existe o no está a su alcance.",
                "The institution does not exist or is outside your scope.",
            ),
            other => ServiceError::Store(other),
        })?;
    // The column refers to `entities`: its codes always parse.
    let covered = EntityCode::parse(&inst.entity_code).is_ok_and(|e| scope.covers_entity(e));
    if !covered {
        return Err(ServiceError::invalid(
            "institution_id",
            FieldCode::UnknownReference,
            "La institución no existe o no está a su alcance.",
            "The institution does not exist or is outside your scope.",
        ));
    }
    if !inst.active {
        return Err(ServiceError::invalid(
            "institution_id",
            FieldCode::InactiveReference,
            "La institución está dada de baja.",
            "The institution is deactivated.",
        ));
    }
    Ok(inst)
}

pub fn user_changes_diff(before: &User, after: &User) -> serde_json::Value {
    let mut diff = serde_json::Map::new();
    let mut put = |field: &str, b: serde_json::Value, a: serde_json::Value, personal: bool| {
        if b != a {
            let (b, a) = if personal {
                (PERSONAL.into(), PERSONAL.into())
            } else {
                (b, a)
            };
            diff.insert(field.into(), serde_json::json!({"before": b, "after": a}));
        }
    };
    put(
        "full_name",
        before.row.full_name.clone().into(),
        after.row.full_name.clone().into(),
        true,
    );
    put(
        "email",
        before.row.email.clone().into(),
        after.row.email.clone().into(),
        true,
    );
    put(
        "role",
        before.row.role.as_str().into(),
        after.row.role.as_str().into(),
        false,
    );
    put(
        "institution_id",
        before.row.institution_id.to_string().into(),
        after.row.institution_id.to_string().into(),
        false,
    );
    put(
        "active",
        before.row.active.into(),
        after.row.active.into(),
        false,
    );
    serde_json::Value::Object(diff)
}

/// Inserts an account and audits its creation (who, with which role and
/// where; never its secret) inside the caller's transaction.
pub async fn insert_account(
    conn: &mut AsyncPgConnection,
    ctx: &AuditContext,
    new: &NewUser,
) -> Result<users::UserRow, StoreError> {
    let row = users::insert(conn, new).await?;
    let entry = AuditEntry::modification(ctx, AuditAction::Create, "user")
        .resource(row.id)
        .changes(serde_json::json!({
            "username": {"before": null, "after": row.username},
            "role": {"before": null, "after": row.role},
            "institution_id": {"before": null, "after": row.institution_id},
            "full_name": {"before": null, "after": PERSONAL},
        }));
    audit::append(conn, &[entry]).await?;
    Ok(row)
}

/// A username that another account already has: the unique index said so.
pub fn username_taken(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict { .. } => ServiceError::Conflict {
            code: ErrorCode::UsernameTaken,
            detail: sintra_domain::i18n::Message::new(
                "Ese nombre de usuario ya existe.",
                "That username already exists.",
            ),
        },
        other => ServiceError::Store(other),
    }
}

/// A change to a person's account, as the audit log names it.
pub struct AccountChange {
    pub id: Uuid,
    /// The version the change was decided on; `None` applies it to
    /// whatever version is stored.
    pub expected_version: Option<i32>,
    pub changes: UserChanges,
    /// `update`, `deactivate`, `reactivate`, `reset_password`.
    pub action: AuditAction,
    /// Whether the user's tokens stop working at once.
    pub revoke: bool,
}

/// Applies a change to a user in the actor's scope and audits it, inside
/// the caller's transaction. Whether the actor may manage the user is the
/// caller's to check first.
pub async fn apply_change(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    change: &AccountChange,
) -> Result<User, StoreError> {
    let id = change.id;
    let (before, after) = users::update(
        conn,
        &caller.actor.scope(),
        id,
        change.expected_version,
        &change.changes,
        caller.actor.user_id,
    )
    .await?;
    if change.revoke {
        tokens::revoke_all_for_user(conn, id).await?;
    }
    let entry = AuditEntry::modification(&AuditContext::for_caller(caller), change.action, "user")
        .resource(id)
        .changes(user_changes_diff(&before, &after));
    audit::append(conn, &[entry]).await?;
    Ok(after)
}
