//! The first national admin of an empty system.

use diesel_async::AsyncConnection;
use sintra_domain::access::{AccountKind, Role, FEDERAL_ENTITY};
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::org::{self, NewInstitution};
use sintra_persistence::users::{self, NewUser};
use sintra_persistence::{db, Pool, StoreError};
use uuid::Uuid;

use secrecy::ExposeSecret;

use crate::auth::password;
use crate::config::Config;

pub const FIRST_INSTITUTION: &str = "Secretaría Técnica de la Comisión Intersecretarial";

/// What start-up did about the first admin.
#[derive(Debug)]
pub enum Bootstrap {
    /// Users exist already: nothing done.
    NotNeeded,
    /// Created; `generated_password` is set when none was configured and
    /// must be shown to the operator once.
    Created {
        username: String,
        generated_password: Option<String>,
    },
}

/// On a system without users, creates the Secretaría Técnica (federal) and
/// its first national admin, from `SINTRA_ADMIN_USER`/`SINTRA_ADMIN_PASSWORD`
/// or with a generated one-time password. Two instances starting at once
/// create it once (advisory lock).
pub async fn first_admin(pool: &Pool, config: &Config) -> anyhow::Result<Bootstrap> {
    let username = config
        .admin_user
        .clone()
        .unwrap_or_else(|| "admin".into())
        .to_lowercase();
    let (secret, generated) = match &config.admin_password {
        Some(p) => {
            let p = p.expose_secret();
            password::check_strength(p).map_err(|_| {
                anyhow::anyhow!(
                    "SINTRA_ADMIN_PASSWORD debe tener al menos {} caracteres",
                    password::MIN_PASSWORD_LENGTH
                )
            })?;
            (p.to_string(), false)
        }
        None => (password::generate_secret(), true),
    };
    let hash = password::hash(secret.clone())
        .await
        .map_err(|_| anyhow::anyhow!("no se pudo calcular el hash de la contraseña"))?;
    let mut conn = db::conn(pool).await?;
    let created = conn
        .transaction::<_, StoreError, _>(async |conn| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(5372010402)")
                .execute(conn)
                .await?;
            if users::count(conn).await? > 0 {
                return Ok(false);
            }
            let institution = org::insert_institution(
                conn,
                &NewInstitution {
                    id: Uuid::now_v7(),
                    entity_code: FEDERAL_ENTITY.into(),
                    name: FIRST_INSTITUTION.into(),
                    institution_type: "SECRETARIA_TECNICA".into(),
                    created_by: None,
                    updated_by: None,
                },
            )
            .await?;
            let user = users::insert(
                conn,
                &NewUser {
                    id: Uuid::now_v7(),
                    institution_id: institution.id,
                    kind: AccountKind::Person,
                    username: username.clone(),
                    full_name: "Administración nacional".into(),
                    email: None,
                    role: Role::NationalAdmin,
                    password_hash: hash.clone(),
                    created_by: None,
                    updated_by: None,
                    // Whoever set up the server knows it: it only logs in
                    // to be changed.
                    one_time_password_expires_at: Some(config.one_time_password_expiry()),
                },
            )
            .await?;
            let ctx = AuditContext::default();
            audit::append(
                conn,
                &[
                    AuditEntry::modification(&ctx, AuditAction::Bootstrap, "institution").resource(institution.id),
                    AuditEntry::modification(&ctx, AuditAction::Bootstrap, "user")
                        .resource(user.id)
                        .changes(serde_json::json!({"role": {"before": null, "after": "national_admin"}})),
                ],
            )
            .await?;
            Ok(true)
        })
        .await?;
    Ok(if created {
        Bootstrap::Created {
            username,
            generated_password: generated.then_some(secret),
        }
    } else {
        Bootstrap::NotNeeded
    })
}

use diesel_async::RunQueryDsl;
