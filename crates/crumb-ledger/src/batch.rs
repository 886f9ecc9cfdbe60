//! Signed batches: every batch the writer commits is a Merkle tree (RFC 9162 hashing,
//! [`crate::merkle`]) over its records' hashes, and its root is signed once, in the same
//! transaction as the records.
//!
//! - A leaf is the 32 bytes of a record's hash, hashed as an RFC 9162 leaf
//!   ([`record_leaf`]); leaf `i` is record `first_seq + i`.
//! - The signed message ([`SignedBatch::message`]) is versioned (`crumb-batch-v1`) and
//!   domain-separated from checkpoints (`crumb-checkpoint-v1`) and tree heads
//!   (`crumb-tree-head-v1`).
//! - Every batch of every writer is one leaf of the log-wide tree (module `tree`); its
//!   leaf is the canonical encoding [`SignedBatch::log_leaf`], its position the
//!   `log_index` storage assigns serially in the commit transaction.

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::keys::signed_by;
use crate::merkle::{Hash, leaf_hash, node_hash};
use crate::{CheckpointKey, Record, StorageError};

/// The version tag that starts a batch's signed message.
pub const BATCH_MESSAGE_VERSION: &str = "crumb-batch-v1";
/// The version tag that starts a batch's leaf in the log tree.
pub const LOG_LEAF_VERSION: &str = "crumb-log-leaf-v1";

/// A batch's signed root: records `first_seq..=last_seq` of `chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBatch {
    /// Chain (writer) id.
    pub chain: String,
    /// First record's position.
    pub first_seq: i64,
    /// Last record's position.
    pub last_seq: i64,
    /// Merkle root (hex) over the records' hashes, leaf `i` = record `first_seq + i`.
    pub root: String,
    /// When it was signed (Unix ms).
    pub signed_at: i64,
    /// Ed25519 public key (hex) of the signer.
    pub public_key: String,
    /// Ed25519 signature (hex) over [`SignedBatch::message`].
    pub signature: String,
}

impl SignedBatch {
    /// The signed bytes: `crumb-batch-v1\n{chain}\n{first_seq}\n{last_seq}\n{root}\n{signed_at}`.
    pub fn message(chain: &str, first_seq: i64, last_seq: i64, root: &str, signed_at: i64) -> Vec<u8> {
        format!("{BATCH_MESSAGE_VERSION}\n{chain}\n{first_seq}\n{last_seq}\n{root}\n{signed_at}").into_bytes()
    }

    /// Records in the batch.
    pub fn size(&self) -> u64 {
        (self.last_seq - self.first_seq + 1).max(0) as u64
    }

    /// Whether `seq` is in the batch.
    pub fn covers(&self, seq: i64) -> bool {
        (self.first_seq..=self.last_seq).contains(&seq)
    }

    /// Whether the signature is valid and by one of `trusted`.
    pub fn signature_ok(&self, trusted: &[VerifyingKey]) -> bool {
        let msg = SignedBatch::message(&self.chain, self.first_seq, self.last_seq, &self.root, self.signed_at);
        signed_by(&self.public_key, &self.signature, &msg, trusted)
    }

    /// The canonical encoding of the signed batch, the data of its leaf in the log tree:
    /// `crumb-log-leaf-v1\n{chain}\n{first_seq}\n{last_seq}\n{root}\n{signed_at}\n{public_key}\n{signature}`.
    pub fn log_leaf(&self) -> Vec<u8> {
        format!(
            "{LOG_LEAF_VERSION}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.chain, self.first_seq, self.last_seq, self.root, self.signed_at, self.public_key, self.signature
        )
        .into_bytes()
    }

    /// The leaf hash of [`SignedBatch::log_leaf`].
    pub fn log_leaf_hash(&self) -> Hash {
        leaf_hash(&self.log_leaf())
    }
}

/// A signed batch at its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedBatch {
    /// Position in the log-wide tree, from 0, assigned in the commit transaction.
    pub log_index: i64,
    /// The batch.
    #[serde(flatten)]
    pub batch: SignedBatch,
}

/// The leaf hash of a record: `SHA-256(0x00 || the 32 bytes of its hash)`; `None` when
/// `hash` is not 64 hex characters.
pub fn record_leaf(hash: &str) -> Option<Hash> {
    let bytes: [u8; 32] = hex::decode(hash).ok()?.try_into().ok()?;
    Some(leaf_hash(&bytes))
}

/// A Merkle tree with every level kept, so each inclusion proof costs `log n` lookups.
/// Pairing nodes level by level and carrying an odd last node up unchanged builds the same
/// tree as RFC 9162's split at the largest power of two.
#[derive(Debug, Clone)]
pub struct BatchTree {
    levels: Vec<Vec<Hash>>,
}

impl BatchTree {
    /// The tree over these leaf hashes.
    pub fn new(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let up = below
                .chunks(2)
                .map(|p| match p {
                    [l, r] => node_hash(l, r),
                    _ => p[0],
                })
                .collect();
            levels.push(up);
        }
        BatchTree { levels }
    }

    /// Leaves.
    pub fn size(&self) -> usize {
        self.levels[0].len()
    }

    /// The root (the empty tree's for no leaves).
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(r) if self.size() > 0 => *r,
            _ => crate::merkle::empty_root(),
        }
    }

    /// The inclusion proof of leaf `index` (RFC 9162 `PATH`), bottom up; `None` outside.
    pub fn proof(&self, index: usize) -> Option<Vec<Hash>> {
        if index >= self.size() {
            return None;
        }
        let mut out = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            if sibling < level.len() {
                out.push(level[sibling]);
            }
            i >>= 1;
        }
        Some(out)
    }
}

/// Build the tree over `records` (consecutive, one chain) and sign its root.
pub fn sign_batch(key: &CheckpointKey, records: &[Record], signed_at: i64) -> (SignedBatch, BatchTree) {
    let leaves = records.iter().map(|r| record_leaf(&r.hash).unwrap_or_else(|| leaf_hash(r.hash.as_bytes()))).collect();
    let tree = BatchTree::new(leaves);
    let root = hex::encode(tree.root());
    let (chain, first_seq, last_seq) = match (records.first(), records.last()) {
        (Some(f), Some(l)) => (f.chain.clone(), f.seq, l.seq),
        _ => (String::new(), 0, -1),
    };
    let signature = key.sign_bytes(&SignedBatch::message(&chain, first_seq, last_seq, &root, signed_at));
    let batch = SignedBatch { chain, first_seq, last_seq, root, signed_at, public_key: key.public_hex(), signature };
    (batch, tree)
}

/// Where the batches and their log positions are kept. `append_batch` stores the records
/// and the batch in one transaction and assigns the next log position in it.
#[async_trait]
pub trait ProofStore: Send + Sync {
    /// Insert `records` and `batch` atomically; returns the batch's log index.
    async fn append_batch(&self, records: &[Record], batch: &SignedBatch) -> Result<i64, StorageError>;
    /// Logged batches with `log_index >= from`, ascending, at most `limit`.
    async fn log_batches(&self, from: i64, limit: i64) -> Result<Vec<LoggedBatch>, StorageError>;
    /// A chain's logged batches, by `first_seq`.
    async fn chain_batches(&self, chain: &str) -> Result<Vec<LoggedBatch>, StorageError>;
    /// The logged batch holding record `seq` of `chain`.
    async fn batch_of(&self, chain: &str, seq: i64) -> Result<Option<LoggedBatch>, StorageError>;
    /// The log's size as its counter (`ledger_log`) holds it: every commit of a batch
    /// raises it, so it equals the number of logged batches unless rows were deleted or
    /// the counter was edited.
    async fn log_size(&self) -> Result<i64, StorageError>;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::merkle;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    proptest! {
        /// The level-by-level tree has RFC 9162's root and audit paths at every size.
        #[test]
        fn same_tree_as_rfc9162(n in 0usize..300, pick in 0usize..300) {
            let l = leaves(n);
            let t = BatchTree::new(l.clone());
            prop_assert_eq!(t.root(), merkle::root(&l));
            if n > 0 {
                let i = pick % n;
                let p = t.proof(i).expect("in range");
                prop_assert_eq!(Some(p.clone()), merkle::inclusion_proof(&l, i));
                prop_assert!(merkle::verify_inclusion(i as u64, n as u64, &l[i], &p, &t.root()).is_ok());
            }
            prop_assert!(t.proof(n).is_none());
        }
    }

    #[test]
    fn signed_batch_checks_and_is_domain_separated() {
        let k = CheckpointKey::generate();
        let mut recs: Vec<Record> = Vec::new();
        for i in 0..5 {
            let (s, h) = recs.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, crate::GENESIS.to_string()));
            recs.push(Record::chain_after("w1", s, &h, crate::testutil::entry(i)));
        }
        let (b, tree) = sign_batch(&k, &recs, 7);
        assert_eq!((b.first_seq, b.last_seq, b.size()), (1, 5, 5));
        assert!(b.signature_ok(&[k.verifying_key()]));
        assert!(!b.signature_ok(&[CheckpointKey::generate().verifying_key()]));
        let mut forged = b.clone();
        forged.last_seq = 4;
        assert!(!forged.signature_ok(&[k.verifying_key()]));
        let leaf = record_leaf(&recs[2].hash).expect("hex");
        let proof = tree.proof(2).expect("proof");
        assert!(merkle::verify_inclusion(2, 5, &leaf, &proof, &tree.root()).is_ok());
        // A checkpoint signature over the same fields is not a batch signature.
        assert!(
            !String::from_utf8_lossy(&SignedBatch::message("w1", 1, 5, &b.root, 7)).starts_with("crumb-checkpoint")
        );
        assert_ne!(b.log_leaf_hash(), forged.log_leaf_hash());
    }
}
