//! The Ed25519 key that signs checkpoints.

pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::{Checkpoint, CheckpointKind};

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hex characters.
    #[error("a checkpoint key must be 64 hex characters (a 32-byte Ed25519 seed)")]
    Format,
    /// Not 64 hex characters, or not a valid Ed25519 point.
    #[error("a public key must be 64 hex characters of a valid Ed25519 public key")]
    PublicFormat,
}

/// The signing key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct CheckpointKey(SigningKey);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey(public {})", self.public_hex())
    }
}

impl CheckpointKey {
    /// A new random key.
    pub fn generate() -> Self {
        CheckpointKey(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Read a hex-encoded 32-byte seed (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s.trim()).map_err(|_| KeyError::Format)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format)?;
        Ok(CheckpointKey(SigningKey::from_bytes(&seed)))
    }

    /// The seed, hex-encoded (for writing the key file).
    pub fn secret_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public key, hex-encoded.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// Sign `msg`; the signature, hex-encoded. Callers pass a versioned, domain-separated
    /// message (batches, tree heads).
    pub fn sign_bytes(&self, msg: &[u8]) -> String {
        hex::encode(self.0.sign(msg).to_bytes())
    }

    /// Sign a checkpoint of `chain` at `seq`/`hash`.
    pub fn sign(&self, chain: &str, seq: i64, hash: &str, kind: CheckpointKind, signed_at: i64) -> Checkpoint {
        let sig = self.0.sign(&Checkpoint::message(chain, seq, hash, kind, signed_at));
        Checkpoint {
            chain: chain.to_string(),
            seq,
            hash: hash.to_string(),
            kind,
            signed_at,
            public_key: self.public_hex(),
            signature: hex::encode(sig.to_bytes()),
        }
    }
}

/// Parse a hex public key.
pub fn public_from_hex(s: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = hex::decode(s.trim()).map_err(|_| KeyError::PublicFormat)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::PublicFormat)?;
    VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::PublicFormat)
}

/// Whether `cp` is signed by one of `trusted`.
pub fn signature_ok(cp: &Checkpoint, trusted: &[VerifyingKey]) -> bool {
    let msg = Checkpoint::message(&cp.chain, cp.seq, &cp.hash, cp.kind, cp.signed_at);
    signed_by(&cp.public_key, &cp.signature, &msg, trusted)
}

/// Whether `signature` (hex) is a valid signature of `msg` by `public_key` (hex), and that
/// key is one of `trusted`.
pub fn signed_by(public_key: &str, signature: &str, msg: &[u8], trusted: &[VerifyingKey]) -> bool {
    let Ok(key) = public_from_hex(public_key) else { return false };
    if !trusted.iter().any(|t| t == &key) {
        return false;
    }
    let Ok(sig_bytes) = hex::decode(signature) else { return false };
    let Ok(sig_arr) = <[u8; 64]>::try_from(sig_bytes.as_slice()) else { return false };
    key.verify(msg, &Signature::from_bytes(&sig_arr)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_check() {
        let k = CheckpointKey::generate();
        let again = CheckpointKey::from_hex(&k.secret_hex()).expect("round trip");
        assert_eq!(k.public_hex(), again.public_hex());
        assert!(!format!("{k:?}").contains(&k.secret_hex()));
        let cp = k.sign("w1", 10, &"ab".repeat(32), CheckpointKind::Head, 5);
        assert!(signature_ok(&cp, &[k.verifying_key()]));
        let mut bad = cp.clone();
        bad.seq = 11;
        assert!(!signature_ok(&bad, &[k.verifying_key()]));
        let other = CheckpointKey::generate();
        assert!(!signature_ok(&cp, &[other.verifying_key()]));
        assert!(CheckpointKey::from_hex("zz").is_err());
    }
}
