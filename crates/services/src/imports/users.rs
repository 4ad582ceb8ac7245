//! User accounts through Excel. A workbook of users is a batch of user
//! administration (national admins; entity admins for their entity): each
//! row is checked as `POST /users` or `PATCH /users/{id}` checks one
//! account, a row whose username exists changes that account, and every
//! created or changed account is audited as the API audits it, inside the
//! one transaction of the import.
//!
//! New accounts get a one-time password each, shown in the commit's answer
//! only: the stored report, the audit log and the annotated workbook never
//! hold one.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};
use sintra_domain::access::{AccountKind, Caller, EntityCode, Role};
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldError;
use sintra_excel::{CellError, ImportSheet};
use sintra_persistence::audit::{AuditAction, AuditContext};
use sintra_persistence::users::{self, NewUser, User, UserChanges};
use uuid::Uuid;

use super::report::Credential;
use super::{distinct_rows, keep_empty_cells, ImportReport, ImportTarget, RowsChecked};
use crate::error::{ServiceError, ServiceResult};
use crate::passwords as password;
use crate::users::{
    apply_change, insert_account, institution_in_scope, manages, may_give, user_record,
    username_taken, validated_user, AccountChange,
};
use sintra_domain::validation::FieldCode;

/// What committing a valid row does.
pub enum Planned {
    /// A new account (its password is set at commit).
    Create {
        row: u32,
        new: NewUser,
    },
    Update(AccountChange),
    /// The row says what the account already is.
    Unchanged,
}

/// The import of user accounts (the caller's permission is checked before).
pub struct UserRows {
    credentials: Vec<Credential>,
    /// When the new accounts' one-time passwords expire unused.
    one_time_password_expires_at: chrono::DateTime<chrono::Utc>,
}

impl UserRows {
    pub fn new(one_time_password_expires_at: chrono::DateTime<chrono::Utc>) -> UserRows {
        UserRows {
            credentials: vec![],
            one_time_password_expires_at,
        }
    }
}

impl ImportTarget for UserRows {
    type Planned = Planned;

    async fn check(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        sheet: &mut ImportSheet,
    ) -> ServiceResult<RowsChecked<Planned>> {
        let (planned, errors) = check_rows(conn, caller, sheet).await?;
        Ok(RowsChecked {
            planned,
            errors,
            warnings: vec![],
        })
    }

    /// The hashes are worked out before the transaction, which then holds
    /// its locks only for the writes.
    async fn before_commit(&mut self, planned: &mut [Planned]) -> ServiceResult<()> {
        self.credentials = set_passwords(planned, self.one_time_password_expires_at).await?;
        Ok(())
    }

    async fn store(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        planned: Vec<Planned>,
    ) -> ServiceResult<(usize, usize)> {
        let ctx = AuditContext::for_caller(caller);
        let (mut created, mut updated) = (0, 0);
        for p in &planned {
            match p {
                Planned::Create { new, .. } => {
                    insert_account(conn, &ctx, new)
                        .await
                        .map_err(username_taken)?;
                    created += 1;
                }
                Planned::Update(change) => {
                    apply_change(conn, caller, change).await?;
                    updated += 1;
                }
                Planned::Unchanged => {}
            }
        }
        Ok((created, updated))
    }

    fn complete(self, report: &mut ImportReport) {
        report.credentials = Some(self.credentials);
    }
}

/// Gives every new account a one-time password, hashing as many at once as
/// there are cores (each hash holds 19 MiB), and returns what the answer
/// shows of them: row, username and password.
async fn set_passwords(
    planned: &mut [Planned],
    expires_at: chrono::DateTime<chrono::Utc>,
) -> ServiceResult<Vec<Credential>> {
    let at_once = std::thread::available_parallelism().map_or(2, usize::from);
    let secrets: Vec<String> = planned
        .iter()
        .filter(|p| matches!(p, Planned::Create { .. }))
        .map(|_| password::generate_secret())
        .collect();
    let hashes: Vec<String> = futures_util::stream::iter(secrets.clone())
        .map(password::hash)
        .buffered(at_once)
        .try_collect()
        .await?;
    let mut credentials = Vec::with_capacity(secrets.len());
    let creates = planned.iter_mut().filter_map(|p| match p {
        Planned::Create { row, new } => Some((*row, new)),
        _ => None,
    });
    for ((row, new), (secret, hash)) in creates.zip(secrets.into_iter().zip(hashes)) {
        new.password_hash = hash;
        new.one_time_password_expires_at = Some(expires_at);
        credentials.push(Credential {
            row,
            username: new.username.clone(),
            one_time_secret: secret,
        });
    }
    Ok(credentials)
}

/// Whether the institution a row names lies in the caller's scope and is
/// active, asked once per institution of the file.
struct Institutions(HashMap<Uuid, Result<(), Vec<FieldError>>>);

impl Institutions {
    async fn check(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        id: Uuid,
    ) -> ServiceResult<Result<(), Vec<FieldError>>> {
        if let Some(known) = self.0.get(&id) {
            return Ok(known.clone());
        }
        let answer = match institution_in_scope(conn, &caller.actor.scope(), id).await {
            Ok(_) => Ok(()),
            Err(ServiceError::Validation(errors)) => Err(errors),
            Err(other) => return Err(other),
        };
        self.0.insert(id, answer.clone());
        Ok(answer)
    }
}

/// Every row checked as the API checks one account, with the accounts the
/// file's usernames name fetched in one query.
async fn check_rows(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    sheet: &mut ImportSheet,
) -> ServiceResult<(Vec<Planned>, Vec<CellError>)> {
    let mut errors = sheet.header_errors();
    if !errors.is_empty() {
        return Ok((vec![], errors));
    }
    let inputs: Vec<Map<String, Value>> = sheet.rows.iter_mut().map(|r| r.take_values()).collect();
    let usernames: Vec<String> = inputs.iter().filter_map(username_of).collect();
    let mut existing: HashMap<String, User> = users::by_usernames(conn, &usernames)
        .await?
        .into_iter()
        .map(|u| (u.row.username.clone(), u))
        .collect();
    let mut institutions = Institutions(HashMap::new());
    let mut planned = Vec::with_capacity(inputs.len());
    let rows = distinct_rows(
        sheet,
        inputs,
        username_of,
        |_| username_repeated(),
        &mut errors,
    );
    for (i, mut values, username) in rows {
        let row = &sheet.rows[i];
        let before = username.and_then(|u| existing.remove(&u));
        if let Some(b) = &before {
            if let Err(e) = in_reach(caller, b) {
                errors.extend(sheet.locate(row, vec![e]));
                continue;
            }
            keep_empty_cells(&mut values, &user_record(b));
        }
        let record = match validated_user(Value::Object(values)) {
            Ok(r) => r,
            Err(ServiceError::Validation(field_errors)) => {
                errors.extend(sheet.locate(row, field_errors));
                continue;
            }
            Err(other) => return Err(other),
        };
        let mut row_errors = vec![];
        let role: Option<Role> = record["role"].as_str().and_then(|r| r.parse().ok());
        if let Some(role) = role {
            let unchanged = before.as_ref().is_some_and(|b| b.row.role == role);
            if !unchanged && !may_give(caller, role) {
                row_errors.push(role_not_grantable());
            }
        }
        let institution: Option<Uuid> = record["institution_id"]
            .as_str()
            .and_then(|s| s.parse().ok());
        if let Some(id) = institution {
            let moved = before.as_ref().is_none_or(|b| b.row.institution_id != id);
            if moved {
                if let Err(e) = institutions.check(conn, caller, id).await? {
                    row_errors.extend(e);
                }
            }
        }
        let (Some(role), Some(institution)) = (role, institution) else {
            // The spec makes both required and well formed: this is a bug.
            return Err(ServiceError::Internal(
                "a validated account row lacks its role or institution".into(),
            ));
        };
        if !row_errors.is_empty() {
            errors.extend(sheet.locate(row, row_errors));
            continue;
        }
        let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
        let active = record.get("active").and_then(Value::as_bool);
        match before {
            Some(before) => match plan_update(&before, &record, role, institution) {
                // An unchanged row asks nothing (an export comes back with
                // the caller's own account and those above its powers).
                Planned::Unchanged => planned.push(Planned::Unchanged),
                change => match may_change(caller, &before) {
                    Ok(()) => planned.push(change),
                    Err(e) => errors.extend(sheet.locate(row, vec![e])),
                },
            },
            None if active == Some(false) => {
                errors.extend(sheet.locate(row, vec![new_inactive()]));
            }
            None => planned.push(Planned::Create {
                row: row.row,
                new: NewUser {
                    id: Uuid::now_v7(),
                    institution_id: institution,
                    kind: AccountKind::Person,
                    username: text("username").unwrap_or_default(),
                    full_name: text("full_name").unwrap_or_default(),
                    email: text("email"),
                    role,
                    password_hash: String::new(),
                    created_by: Some(caller.actor.user_id),
                    updated_by: Some(caller.actor.user_id),
                    // Set with the password (`set_passwords`).
                    one_time_password_expires_at: None,
                },
            }),
        }
    }
    Ok((planned, errors))
}

/// The username a row names, as the spec normalizes it.
fn username_of(values: &Map<String, Value>) -> Option<String> {
    let u = values.get("username")?.as_str()?.trim().to_lowercase();
    (!u.is_empty()).then_some(u)
}

/// Whether a row may name this stored account at all: one outside the
/// caller's scope, or a service account, reads as a username already taken,
/// as `POST /users` answers.
fn in_reach(caller: &Caller, before: &User) -> Result<(), FieldError> {
    let in_scope =
        EntityCode::parse(&before.entity_code).is_ok_and(|e| caller.actor.scope().covers_entity(e));
    if before.row.kind != AccountKind::Person || !in_scope {
        return Err(FieldError::new(
            "username",
            FieldCode::UsernameTaken,
            Message::new(
                "Ese nombre de usuario ya existe.",
                "That username already exists.",
            ),
        ));
    }
    Ok(())
}

/// Whether a row may change this account of the caller's scope: not the
/// caller's own, and only one whose role the caller could grant, as
/// `PATCH /users/{id}` decides.
fn may_change(caller: &Caller, before: &User) -> Result<(), FieldError> {
    if before.row.id == caller.actor.user_id {
        return Err(FieldError::new(
            "username",
            FieldCode::OwnAccount,
            Message::new(
                "Es su propia cuenta: no se modifica por importación.",
                "It is your own account: it is not changed by an import.",
            ),
        ));
    }
    if !manages(caller, before) {
        return Err(FieldError::new(
            "username",
            FieldCode::NotManageable,
            Message::new(
                "No puede administrar esa cuenta (su rol está por encima de lo que usted otorga).",
                "You may not manage that account (its role is above what you grant).",
            ),
        ));
    }
    Ok(())
}

/// The change a row makes to a stored account.
fn plan_update(
    before: &User,
    record: &Map<String, Value>,
    role: Role,
    institution: Uuid,
) -> Planned {
    let r = &before.row;
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
    let full_name = text("full_name").unwrap_or_default();
    let email = text("email");
    let active = record
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(r.active);
    let changes = UserChanges {
        full_name: (full_name != r.full_name).then_some(full_name),
        email: (email != r.email).then_some(email),
        role: (role != r.role).then(|| role.as_str().to_string()),
        institution_id: (institution != r.institution_id).then_some(institution),
        active: (active != r.active).then_some(active),
        password_hash: None,
        one_time_password_expires_at: None,
    };
    if changes.is_empty() {
        return Planned::Unchanged;
    }
    let action = match changes.active {
        Some(false) => AuditAction::Deactivate,
        Some(true) => AuditAction::Reactivate,
        None => AuditAction::Update,
    };
    Planned::Update(AccountChange {
        id: r.id,
        expected_version: Some(r.version),
        action,
        revoke: changes.active == Some(false),
        changes,
    })
}

fn role_not_grantable() -> FieldError {
    FieldError::new(
        "role",
        FieldCode::RoleNotGrantable,
        Message::new("No puede otorgar ese rol.", "You may not grant that role."),
    )
}

fn new_inactive() -> FieldError {
    FieldError::new(
        "active",
        FieldCode::NewAccountInactive,
        Message::new(
            "Una cuenta nueva se da de alta activa; para darla de baja, impórtela de nuevo con «No» una vez creada.",
            "A new account is created active; to deactivate it, import it again with \"No\" once it exists.",
        ),
    )
}

fn username_repeated() -> FieldError {
    FieldError::new(
        "username",
        FieldCode::UsernameRepeatedInFile,
        Message::new(
            "Ese nombre de usuario ya aparece en una fila anterior del archivo.",
            "That username already appears in an earlier row of the file.",
        ),
    )
}
