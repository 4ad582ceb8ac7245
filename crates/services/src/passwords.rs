//! Password hashing with argon2id (m = 19 MiB, t = 2, p = 1: OWASP's
//! recommendation, argon2's defaults). Hashing is slow on purpose, so it
//! runs on a blocking thread, never on an async worker.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::error::{ServiceError, ServiceResult};
use sintra_domain::validation::FieldCode;

pub const MIN_PASSWORD_LENGTH: usize = 12;
pub const MAX_PASSWORD_LENGTH: usize = 256;

pub async fn hash(password: String) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

/// Verifies a password against a stored hash. With no stored hash (unknown
/// user) it still spends the same time on a dummy hash, so timing does not
/// tell whether a username exists.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy;
        let stored = match &stored {
            Some(s) => s.as_str(),
            None => {
                dummy = Argon2::default()
                    .hash_password(b"timing-equalizer")
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                dummy.as_str()
            }
        };
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The password rules, as a Spanish/English validation error.
pub fn check_strength(password: &str) -> ServiceResult<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&n) {
        return Err(ServiceError::invalid(
            "password",
            FieldCode::PasswordLength,
            format!("La contraseña debe tener entre {MIN_PASSWORD_LENGTH} y {MAX_PASSWORD_LENGTH} caracteres."),
            format!("The password must have between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters."),
        ));
    }
    Ok(())
}

/// A random secret for one-time passwords and service-account secrets.
pub fn generate_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let h = hash("correcto-caballo-bateria".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correcto-caballo-bateria".into(), Some(h.clone())).await);
        assert!(!verify("otra-contrasena-larga".into(), Some(h)).await);
        assert!(!verify("cualquiera-cosa".into(), None).await);
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("corta").is_err());
        assert!(check_strength("suficientemente-larga").is_ok());
        assert_ne!(generate_secret(), generate_secret());
    }
}
