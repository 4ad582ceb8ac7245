//! Configuration from the environment: `DATABASE_URL` and `SINTRA_*`.
//! Every variable is documented in README.md.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use secrecy::{ExposeSecret, SecretString};
use sintra_domain::audit_checkpoint::{signing_key_from_hex, DEV_SIGNING_KEY_HEX};
use sintra_persistence::db::DEFAULT_DATABASE_URL;

use crate::cors::CorsOrigins;
use crate::proxies::TrustedProxies;

/// The development signing secret. Refused in production mode.
pub const DEV_JWT_SECRET: &str = "sintra-dev-secret-change-me-in-production-0123456789";

/// The settings of one process. Secrets are [`SecretString`]s: `Debug`
/// (and so any log of the configuration) shows them redacted.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `SINTRA_BIND`: the listen address.
    pub bind: String,
    /// `SINTRA_ENV`: `production` refuses defaults that are unsafe there.
    pub production: bool,
    /// `SINTRA_JWT_SECRET`: HS256 key for access tokens (≥ 32 bytes).
    pub jwt_secret: SecretString,
    /// `SINTRA_JWT_ISSUER` / `SINTRA_JWT_AUDIENCE`.
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// `SINTRA_ACCESS_TOKEN_SECONDS` (≤ 900) and `SINTRA_REFRESH_TOKEN_SECONDS`.
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// `SINTRA_DB_ROLE`: the role pooled connections assume (empty: none).
    pub db_role: Option<String>,
    /// `SINTRA_DB_POOL_SIZE`.
    pub db_pool_size: usize,
    /// `SINTRA_DB_STATEMENT_TIMEOUT_SECONDS` and `SINTRA_DB_LOCK_TIMEOUT_SECONDS`:
    /// set on every pooled connection.
    pub db_statement_timeout: Duration,
    pub db_lock_timeout: Duration,
    /// `SINTRA_MAX_BODY_BYTES`: the JSON body limit.
    pub max_body_bytes: usize,
    /// `SINTRA_LOGIN_MAX_FAILURES` and `SINTRA_LOGIN_LOCK_SECONDS`.
    pub login_max_failures: i32,
    pub login_lock: Duration,
    /// `SINTRA_ADMIN_USER` / `SINTRA_ADMIN_PASSWORD`: the first national
    /// admin, created on an empty system.
    pub admin_user: Option<String>,
    pub admin_password: Option<SecretString>,
    /// `SINTRA_ONE_TIME_PASSWORD_HOURS`: how long a one-time password (the
    /// first admin's, a new user's, a reset) logs in before it expires unused.
    pub one_time_password_ttl: Duration,
    /// `SINTRA_AUDIT_SIGNING_KEY`: the Ed25519 seed (64 hexadecimal
    /// characters) that signs the audit chain's checkpoints.
    pub audit_signing_key: SigningKey,
    /// `SINTRA_TRUSTED_PROXIES`: comma-separated addresses or networks of
    /// the proxies whose `X-Forwarded-For` names the client (none: the
    /// peer's address is the client's).
    pub trusted_proxies: TrustedProxies,
    /// `SINTRA_CORS_ORIGINS`: comma-separated exact origins
    /// (`https://tablero.example.mx`) whose pages may call the API from a
    /// browser; none: no CORS header at all.
    pub cors_origins: CorsOrigins,
    /// Excel import jobs: `SINTRA_IMPORT_WORKERS` (imports this server runs
    /// at once, 2), `SINTRA_IMPORTS_PER_INSTITUTION` (under way per
    /// institution, 2), `SINTRA_IMPORTS_TOTAL` (under way in the system, 16).
    pub imports: sintra_services::imports::jobs::JobSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} no es válido: {1}")]
    Invalid(&'static str, String),
    #[error(
        "SINTRA_ENV=production exige un SINTRA_JWT_SECRET propio de al menos 32 caracteres (no el de desarrollo)"
    )]
    DefaultSecretInProduction,
    #[error(
        "SINTRA_ENV=production exige una SINTRA_AUDIT_SIGNING_KEY propia (no la de desarrollo)"
    )]
    DefaultAuditKeyInProduction,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid(name, v.clone())),
    }
}

/// `SINTRA_AUDIT_SIGNING_KEY`: the development key unless one is given,
/// which production refuses.
fn audit_signing_key(production: bool, hex: Option<String>) -> Result<SigningKey, ConfigError> {
    let hex = hex.unwrap_or_else(|| DEV_SIGNING_KEY_HEX.to_string());
    if production && hex.trim().eq_ignore_ascii_case(DEV_SIGNING_KEY_HEX) {
        return Err(ConfigError::DefaultAuditKeyInProduction);
    }
    signing_key_from_hex(&hex)
        .map_err(|e| ConfigError::Invalid("SINTRA_AUDIT_SIGNING_KEY", e.to_string()))
}

/// The development key, for the default configuration (tests, `demo-data`).
// `DEV_SIGNING_KEY_HEX` is a constant 64-digit hex seed; a unit test of
// `sintra_domain::audit_checkpoint` reads it.
#[allow(clippy::expect_used)]
fn dev_signing_key() -> SigningKey {
    signing_key_from_hex(DEV_SIGNING_KEY_HEX).expect("the development key is a valid seed")
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let production = var("SINTRA_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));
        let jwt_secret = var("SINTRA_JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.to_string());
        if production && (jwt_secret == DEV_JWT_SECRET || jwt_secret.len() < 32) {
            return Err(ConfigError::DefaultSecretInProduction);
        }
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid(
                "SINTRA_JWT_SECRET",
                "debe tener al menos 32 caracteres".into(),
            ));
        }
        let audit_signing_key = audit_signing_key(production, var("SINTRA_AUDIT_SIGNING_KEY"))?;
        let access_secs: u64 = parse("SINTRA_ACCESS_TOKEN_SECONDS", 900)?;
        if !(30..=900).contains(&access_secs) {
            return Err(ConfigError::Invalid(
                "SINTRA_ACCESS_TOKEN_SECONDS",
                "debe estar entre 30 y 900".into(),
            ));
        }
        Ok(Config {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            bind: var("SINTRA_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            production,
            jwt_secret: jwt_secret.into(),
            jwt_issuer: var("SINTRA_JWT_ISSUER").unwrap_or_else(|| "sintra".into()),
            jwt_audience: var("SINTRA_JWT_AUDIENCE").unwrap_or_else(|| "sintra-api".into()),
            access_token_ttl: Duration::from_secs(access_secs),
            refresh_token_ttl: Duration::from_secs(parse(
                "SINTRA_REFRESH_TOKEN_SECONDS",
                8 * 3600,
            )?),
            db_role: match std::env::var("SINTRA_DB_ROLE") {
                Ok(v) if v.trim().is_empty() => None,
                Ok(v) => Some(v),
                Err(_) => Some("sintra_app".into()),
            },
            db_pool_size: parse("SINTRA_DB_POOL_SIZE", 16)?,
            db_statement_timeout: Duration::from_secs(
                parse::<u64>("SINTRA_DB_STATEMENT_TIMEOUT_SECONDS", 120)?.max(1),
            ),
            db_lock_timeout: Duration::from_secs(
                parse::<u64>("SINTRA_DB_LOCK_TIMEOUT_SECONDS", 5)?.max(1),
            ),
            max_body_bytes: parse("SINTRA_MAX_BODY_BYTES", 256 * 1024)?,
            login_max_failures: parse("SINTRA_LOGIN_MAX_FAILURES", 5)?,
            login_lock: Duration::from_secs(parse("SINTRA_LOGIN_LOCK_SECONDS", 900)?),
            admin_user: var("SINTRA_ADMIN_USER"),
            admin_password: var("SINTRA_ADMIN_PASSWORD").map(SecretString::from),
            one_time_password_ttl: Duration::from_secs(
                3600 * parse::<u64>("SINTRA_ONE_TIME_PASSWORD_HOURS", 72)?.clamp(1, 24 * 90),
            ),
            audit_signing_key,
            trusted_proxies: TrustedProxies::parse(
                &var("SINTRA_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| ConfigError::Invalid("SINTRA_TRUSTED_PROXIES", e.to_string()))?,
            cors_origins: CorsOrigins::parse(&var("SINTRA_CORS_ORIGINS").unwrap_or_default())
                .map_err(|e| ConfigError::Invalid("SINTRA_CORS_ORIGINS", e.to_string()))?,
            imports: sintra_services::imports::jobs::JobSettings {
                workers: parse::<usize>("SINTRA_IMPORT_WORKERS", 2)?.clamp(1, 64),
                per_institution: parse::<i64>("SINTRA_IMPORTS_PER_INSTITUTION", 2)?.max(1),
                total: parse::<i64>("SINTRA_IMPORTS_TOTAL", 16)?.max(1),
                ..Default::default()
            },
        })
    }

    /// Settings for tests and tools: development secret, given database.
    pub fn for_database(database_url: &str) -> Config {
        Config {
            database_url: database_url.to_string(),
            bind: "127.0.0.1:0".into(),
            production: false,
            jwt_secret: DEV_JWT_SECRET.into(),
            jwt_issuer: "sintra".into(),
            jwt_audience: "sintra-api".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(8 * 3600),
            db_role: Some("sintra_app".into()),
            db_pool_size: 8,
            db_statement_timeout: Duration::from_secs(120),
            db_lock_timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            login_max_failures: 5,
            login_lock: Duration::from_secs(900),
            admin_user: None,
            admin_password: None,
            one_time_password_ttl: Duration::from_secs(72 * 3600),
            audit_signing_key: dev_signing_key(),
            trusted_proxies: TrustedProxies::default(),
            cors_origins: CorsOrigins::default(),
            imports: Default::default(),
        }
    }

    /// The pool's settings.
    pub fn db_config(&self, wait: Duration) -> sintra_persistence::db::DbConfig {
        sintra_persistence::db::DbConfig {
            url: self.database_url.clone(),
            app_role: self.db_role.clone(),
            max_size: self.db_pool_size,
            timeout: wait,
            statement_timeout: self.db_statement_timeout,
            lock_timeout: self.db_lock_timeout,
        }
    }

    /// When a one-time password issued now stops logging in.
    pub fn one_time_password_expiry(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::from_std(self.one_time_password_ttl)
                .unwrap_or(chrono::Duration::hours(72))
    }

    /// The signing key's bytes, for the token keys alone.
    pub fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_secret() {
        let mut config = Config::for_database("postgres://localhost/x");
        config.admin_password = Some("contrasena-de-prueba-larga".into());
        config.jwt_secret = "una-clave-de-firma-de-al-menos-32-bytes".into();
        config.audit_signing_key = signing_key_from_hex(&"7a".repeat(32)).expect("a valid seed");
        let printed = format!("{config:?}");
        assert!(!printed.contains(&"7a".repeat(8)), "{printed}");
        assert!(!printed.contains("122, 122, 122"), "{printed}");
        assert!(!printed.contains("contrasena-de-prueba-larga"), "{printed}");
        assert!(!printed.contains("una-clave-de-firma"), "{printed}");
        assert!(printed.contains("database_url"), "the rest still prints");
        assert_eq!(
            config.jwt_secret_bytes(),
            b"una-clave-de-firma-de-al-menos-32-bytes"
        );
    }

    #[test]
    fn production_refuses_the_development_audit_key() {
        assert!(matches!(
            audit_signing_key(true, None),
            Err(ConfigError::DefaultAuditKeyInProduction)
        ));
        assert!(matches!(
            audit_signing_key(true, Some(DEV_SIGNING_KEY_HEX.to_uppercase())),
            Err(ConfigError::DefaultAuditKeyInProduction)
        ));
        let own = "11".repeat(32);
        let key = audit_signing_key(true, Some(own)).unwrap();
        assert_eq!(key.to_bytes(), [0x11; 32]);
        assert!(audit_signing_key(false, None).is_ok());
        assert!(matches!(
            audit_signing_key(false, Some("not hex".into())),
            Err(ConfigError::Invalid("SINTRA_AUDIT_SIGNING_KEY", _))
        ));
    }
}
