//! The log-wide tree: one leaf per signed batch of every writer, in `log_index` order, and
//! its signed tree heads.
//!
//! A tree head signs `crumb-tree-head-v1\n{size}\n{root}\n{timestamp}` ([`TreeHead::message`]).
//! It names no chain, consent id or record: it carries no personal data. A tree head of a
//! larger size must be consistent with every earlier one (RFC 9162 consistency proofs,
//! [`crate::merkle::consistency_proof`]); a witness keeps the last one it saw and checks
//! every new one against it.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::batch::{LoggedBatch, ProofStore};
use crate::keys::signed_by;
use crate::merkle::{self, Hash};
use crate::{CheckpointKey, StorageError};

/// The version tag that starts a tree head's signed message.
pub const TREE_HEAD_VERSION: &str = "crumb-tree-head-v1";

/// A signed statement of the log's size and root at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHead {
    /// Leaves (signed batches) in the log.
    pub size: u64,
    /// Merkle root (hex) over the first `size` leaves.
    pub root: String,
    /// When it was signed (Unix ms).
    pub timestamp: i64,
    /// Ed25519 public key (hex) of the signer.
    pub public_key: String,
    /// Ed25519 signature (hex) over [`TreeHead::message`].
    pub signature: String,
}

impl TreeHead {
    /// The signed bytes.
    pub fn message(size: u64, root: &str, timestamp: i64) -> Vec<u8> {
        format!("{TREE_HEAD_VERSION}\n{size}\n{root}\n{timestamp}").into_bytes()
    }

    /// Sign a tree head.
    pub fn sign(key: &CheckpointKey, size: u64, root: &Hash, timestamp: i64) -> TreeHead {
        let root = hex::encode(root);
        let signature = key.sign_bytes(&TreeHead::message(size, &root, timestamp));
        TreeHead { size, root, timestamp, public_key: key.public_hex(), signature }
    }

    /// Whether the signature is valid and by one of `trusted`.
    pub fn signature_ok(&self, trusted: &[VerifyingKey]) -> bool {
        signed_by(&self.public_key, &self.signature, &TreeHead::message(self.size, &self.root, self.timestamp), trusted)
    }

    /// The root as bytes; `None` when it is not 64 hex characters.
    pub fn root_hash(&self) -> Option<Hash> {
        parse_hash(&self.root)
    }
}

/// A 32-byte hash from 64 hex characters.
pub fn parse_hash(s: &str) -> Option<Hash> {
    hex::decode(s).ok()?.try_into().ok()
}

/// The log's leaves in memory (32 bytes per batch), read from storage incrementally.
#[derive(Debug, Clone, Default)]
pub struct LogTree {
    leaves: Vec<Hash>,
}

/// Why the stored log cannot be read as a tree.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A log position is missing or repeated (rows deleted or inserted).
    #[error("log position {expected} is missing (found {found} next): batches were deleted or inserted")]
    Gap {
        /// The position expected next.
        expected: i64,
        /// The one found.
        found: i64,
    },
}

impl LogTree {
    /// Read every leaf not read yet, in `log_index` order.
    pub async fn sync(&mut self, store: &dyn ProofStore) -> Result<(), LogError> {
        loop {
            let from = self.leaves.len() as i64;
            let page = store.log_batches(from, 10_000).await?;
            self.push_all(&page)?;
            if page.len() < 10_000 {
                return Ok(());
            }
        }
    }

    /// Append batches that must continue the log without gaps.
    pub fn push_all(&mut self, batches: &[LoggedBatch]) -> Result<(), LogError> {
        for b in batches {
            let expected = self.leaves.len() as i64;
            if b.log_index != expected {
                return Err(LogError::Gap { expected, found: b.log_index });
            }
            self.leaves.push(b.batch.log_leaf_hash());
        }
        Ok(())
    }

    /// Leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The root of the first `size` leaves (`None` past the end).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.leaves.get(..size as usize).map(merkle::root)
    }

    /// The consistency proof from `from` to `to` leaves (`None` unless `from <= to <= size`).
    pub fn consistency(&self, from: u64, to: u64) -> Option<Vec<Hash>> {
        if from > to {
            return None;
        }
        merkle::consistency_proof(self.leaves.get(..to as usize)?, from as usize)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        merkle::inclusion_proof(self.leaves.get(..size as usize)?, index as usize)
    }
}

/// Hex-encode proof hashes.
pub fn hex_proof(p: &[Hash]) -> Vec<String> {
    p.iter().map(hex::encode).collect()
}

/// Decode hex proof hashes; `None` if one is not 64 hex characters.
pub fn parse_proof(p: &[String]) -> Option<Vec<Hash>> {
    p.iter().map(|h| parse_hash(h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::SignedBatch;

    fn logged(i: i64) -> LoggedBatch {
        LoggedBatch {
            log_index: i,
            batch: SignedBatch {
                chain: "w".into(),
                first_seq: i + 1,
                last_seq: i + 1,
                root: "00".repeat(32),
                signed_at: i,
                public_key: "11".repeat(32),
                signature: "22".repeat(64),
            },
        }
    }

    #[test]
    fn tree_heads_sign_and_stay_consistent() {
        let k = CheckpointKey::generate();
        let mut t = LogTree::default();
        t.push_all(&(0..5).map(logged).collect::<Vec<_>>()).expect("contiguous");
        let old = TreeHead::sign(&k, 5, &t.root_at(5).expect("root"), 1);
        assert!(old.signature_ok(&[k.verifying_key()]));
        let mut bad = old.clone();
        bad.size = 4;
        assert!(!bad.signature_ok(&[k.verifying_key()]));
        t.push_all(&(5..13).map(logged).collect::<Vec<_>>()).expect("contiguous");
        let new_root = t.root_at(13).expect("root");
        let p = t.consistency(5, 13).expect("proof");
        assert!(merkle::verify_consistency(5, 13, &old.root_hash().expect("hex"), &new_root, &p).is_ok());
        assert!(t.consistency(14, 13).is_none() && t.consistency(3, 14).is_none());
        assert!(matches!(t.push_all(&[logged(20)]), Err(LogError::Gap { expected: 13, found: 20 })));
    }
}
