//! Signed checkpoints of the audit chain (DESIGN §4), kept outside the
//! database: a superuser can rewrite every row and recompute every hash,
//! but cannot make the chain pass through a head hash it signed earlier
//! without the signing key, which the database never sees.
//!
//! A checkpoint is the chain position, the chain hash at that position and
//! the time it was signed, signed with Ed25519 (as Certificate Transparency
//! signs its tree heads). It travels as one URL-safe token,
//! `position.hash.signed_at.signature`, that `/audit/verify?checkpoint=`
//! takes back.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The development signing key (a published seed): refused in production.
pub const DEV_SIGNING_KEY_HEX: &str =
    "5a1e7a0d5e7e10b1e4a0c0ffee5e7e10b1e4a0c0ffee5e7e10b1e4a0c0ffee01";

/// What the signature covers, in this order; the prefix names the format so
/// a signature over anything else cannot pass for a checkpoint.
const DOMAIN: &str = "sintra-audit-checkpoint/v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not of the form position.hash.signed_at.signature")]
    Malformed,
    #[error("the checkpoint's signature does not match this server's key")]
    BadSignature,
    #[error("the signing key must be 64 hexadecimal characters (an Ed25519 seed)")]
    BadKey,
}

/// Reads a signing key from its 32-byte seed in hexadecimal.
pub fn signing_key_from_hex(seed: &str) -> Result<SigningKey, CheckpointError> {
    let bytes = hex::decode(seed.trim()).map_err(|_| CheckpointError::BadKey)?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| CheckpointError::BadKey)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn is_chain_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A signed statement: "at `position`, the chain's hash was `hash`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub position: i64,
    pub hash: String,
    /// Whole seconds, so the token carries it exactly.
    pub signed_at: DateTime<Utc>,
    pub signature: [u8; 64],
}

impl Checkpoint {
    fn message(position: i64, hash: &str, signed_at: &DateTime<Utc>) -> Vec<u8> {
        format!("{DOMAIN}\n{position}\n{hash}\n{}", signed_at.timestamp()).into_bytes()
    }

    /// Signs the chain head `hash` at `position`.
    pub fn sign(key: &SigningKey, position: i64, hash: &str, now: DateTime<Utc>) -> Checkpoint {
        let signed_at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let signature = key.sign(&Self::message(position, hash, &signed_at));
        Checkpoint {
            position,
            hash: hash.to_string(),
            signed_at,
            signature: signature.to_bytes(),
        }
    }

    /// Checks the signature with the public key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let message = Self::message(self.position, &self.hash, &self.signed_at);
        key.verify(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| CheckpointError::BadSignature)
    }

    /// `position.hash.signed_at.signature` (hexadecimal signature).
    pub fn token(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.position,
            self.hash,
            self.signed_at.timestamp(),
            hex::encode(self.signature)
        )
    }

    /// Reads a token back; the signature is checked by [`Checkpoint::verify`].
    pub fn parse(token: &str) -> Result<Checkpoint, CheckpointError> {
        let mut parts = token.trim().split('.');
        let (Some(position), Some(hash), Some(signed_at), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CheckpointError::Malformed);
        };
        let position: i64 = position.parse().map_err(|_| CheckpointError::Malformed)?;
        if position < 1 || !is_chain_hash(hash) {
            return Err(CheckpointError::Malformed);
        }
        let signed_at = signed_at
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or(CheckpointError::Malformed)?;
        let signature: [u8; 64] = hex::decode(signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::Malformed)?;
        Ok(Checkpoint {
            position,
            hash: hash.to_string(),
            signed_at,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn a_token_round_trips_and_only_its_key_accepts_it() {
        let hash = "ab".repeat(32);
        let cp = Checkpoint::sign(&key(1), 42, &hash, Utc::now());
        let back = Checkpoint::parse(&cp.token()).unwrap();
        assert_eq!(back, cp);
        assert_eq!(back.verify(&key(1).verifying_key()), Ok(()));
        assert_eq!(
            back.verify(&key(2).verifying_key()),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn changing_the_position_or_the_hash_breaks_the_signature() {
        let hash = "ab".repeat(32);
        let cp = Checkpoint::sign(&key(1), 42, &hash, Utc::now());
        let vk = key(1).verifying_key();
        let moved = Checkpoint {
            position: 41,
            ..cp.clone()
        };
        assert_eq!(moved.verify(&vk), Err(CheckpointError::BadSignature));
        let other = Checkpoint {
            hash: "cd".repeat(32),
            ..cp
        };
        assert_eq!(other.verify(&vk), Err(CheckpointError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let sig = "00".repeat(64);
        let hash = "ab".repeat(32);
        for token in [
            String::new(),
            format!("x.{hash}.1.{sig}"),
            format!("0.{hash}.1.{sig}"),
            format!("1.{}.1.{sig}", "AB".repeat(32)),
            format!("1.{hash}.1.{}", "00".repeat(63)),
            format!("1.{hash}.1.{sig}.extra"),
            format!("1.{hash}.{sig}"),
        ] {
            assert_eq!(
                Checkpoint::parse(&token),
                Err(CheckpointError::Malformed),
                "{token}"
            );
        }
    }

    #[test]
    fn the_development_key_is_a_valid_seed() {
        assert!(signing_key_from_hex(DEV_SIGNING_KEY_HEX).is_ok());
        assert!(matches!(
            signing_key_from_hex("abcd"),
            Err(CheckpointError::BadKey)
        ));
    }
}
