//! Access tokens: HS256 JWTs with `iss`, `aud`, `exp`, `nbf`, `sub` and
//! `jti` required. Only HS256 is accepted; the `jti` is checked against the
//! database on every request, so logout and deactivation take effect at once.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl JwtKeys {
    pub fn new(config: &Config) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.jwt_issuer.as_str()]);
        validation.set_audience(&[config.jwt_audience.as_str()]);
        validation.set_required_spec_claims(&["iss", "aud", "exp", "nbf", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        JwtKeys {
            encoding: EncodingKey::from_secret(config.jwt_secret_bytes()),
            decoding: DecodingKey::from_secret(config.jwt_secret_bytes()),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        }
    }

    /// Signs a token for `user_id` valid from now until `expires_at`.
    // HMAC over claims of strings and integers: `encode` fails only on a
    // key of the wrong kind for the algorithm or claims that do not
    // serialize, and neither can happen here.
    #[allow(clippy::expect_used)]
    pub fn sign(&self, user_id: Uuid, jti: Uuid, expires_at: DateTime<Utc>) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id,
            jti,
            iat: now,
            nbf: now,
            exp: expires_at.timestamp(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Checks signature, algorithm, issuer, audience and time window. The
    /// `jti` (a required field of [`Claims`]) is checked by the caller.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}
