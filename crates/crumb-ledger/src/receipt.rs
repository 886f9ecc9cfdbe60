//! A record's proof of inclusion, as a `201` receipt carries it, and its offline check:
//! the batch's signature by a trusted key, and the record's hash leading to the batch's
//! signed root through the inclusion proof.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::batch::{LoggedBatch, record_leaf};
use crate::merkle::verify_inclusion;
use crate::tree::{TreeHead, parse_hash, parse_proof};

/// The part of a receipt that proves a record is in the log (other fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordProof {
    /// Chain of the record.
    pub chain: String,
    /// Position on the chain.
    pub seq: i64,
    /// The record's hash (hex).
    pub hash: String,
    /// The signed batch holding it, with its log position.
    pub batch: LoggedBatch,
    /// The record's inclusion proof in the batch's tree (hex hashes, bottom up).
    pub inclusion_proof: Vec<String>,
}

/// Why a receipt does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The batch is not signed by a trusted key, or the signature is forged.
    #[error("the batch signature is invalid or not by a trusted key ({0})")]
    BadSignature(String),
    /// The record is not in the batch's range, or on another chain.
    #[error("record {chain}#{seq} is not in the batch {batch_chain}#{first}..{last}")]
    OutsideBatch {
        /// Record chain.
        chain: String,
        /// Record seq.
        seq: i64,
        /// Batch chain.
        batch_chain: String,
        /// Batch first seq.
        first: i64,
        /// Batch last seq.
        last: i64,
    },
    /// A hash is not 64 hex characters.
    #[error("malformed hash in the receipt")]
    Malformed,
    /// The proof does not lead to the signed root.
    #[error("the inclusion proof does not lead to the batch's signed root: {0}")]
    Proof(crate::merkle::ProofError),
}

impl RecordProof {
    /// Check offline against `trusted` keys.
    pub fn check(&self, trusted: &[VerifyingKey]) -> Result<(), ReceiptError> {
        let b = &self.batch.batch;
        if !b.signature_ok(trusted) {
            return Err(ReceiptError::BadSignature(b.public_key.clone()));
        }
        if b.chain != self.chain || !b.covers(self.seq) {
            return Err(ReceiptError::OutsideBatch {
                chain: self.chain.clone(),
                seq: self.seq,
                batch_chain: b.chain.clone(),
                first: b.first_seq,
                last: b.last_seq,
            });
        }
        let leaf = record_leaf(&self.hash).ok_or(ReceiptError::Malformed)?;
        let root = parse_hash(&b.root).ok_or(ReceiptError::Malformed)?;
        let proof = parse_proof(&self.inclusion_proof).ok_or(ReceiptError::Malformed)?;
        verify_inclusion((self.seq - b.first_seq) as u64, b.size(), &leaf, &proof, &root).map_err(ReceiptError::Proof)
    }
}

/// A batch's inclusion in a signed tree head, as `GET /api/v1/consents/{id}` and
/// `GET /api/v1/ledger/inclusion` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInclusion {
    /// The tree head it is proved against.
    pub tree_head: TreeHead,
    /// The inclusion proof of the batch's leaf (hex hashes, bottom up).
    pub proof: Vec<String>,
}

impl BatchInclusion {
    /// Check that `batch` is leaf `log_index` of the tree head (signature not checked here).
    pub fn check(&self, batch: &LoggedBatch) -> Result<(), ReceiptError> {
        let root = self.tree_head.root_hash().ok_or(ReceiptError::Malformed)?;
        let proof = parse_proof(&self.proof).ok_or(ReceiptError::Malformed)?;
        verify_inclusion(batch.log_index as u64, self.tree_head.size, &batch.batch.log_leaf_hash(), &proof, &root)
            .map_err(ReceiptError::Proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::sign_batch;
    use crate::tree::hex_proof;
    use crate::{CheckpointKey, GENESIS, Record};

    #[test]
    fn receipt_checks_offline_and_catches_tampering() {
        let k = CheckpointKey::generate();
        let mut recs: Vec<Record> = Vec::new();
        for i in 0..9 {
            let (s, h) = recs.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, GENESIS.to_string()));
            recs.push(Record::chain_after("w1", s, &h, crate::testutil::entry(i)));
        }
        let (batch, tree) = sign_batch(&k, &recs[3..], 5);
        let r = &recs[6];
        let ok = RecordProof {
            chain: "w1".into(),
            seq: r.seq,
            hash: r.hash.clone(),
            batch: LoggedBatch { log_index: 0, batch },
            inclusion_proof: hex_proof(&tree.proof(3).expect("proof")),
        };
        let trusted = [k.verifying_key()];
        assert_eq!(ok.check(&trusted), Ok(()));
        let other = [CheckpointKey::generate().verifying_key()];
        assert!(matches!(ok.check(&other), Err(ReceiptError::BadSignature(_))));
        let mut wrong_hash = ok.clone();
        wrong_hash.hash = recs[5].hash.clone();
        assert!(matches!(wrong_hash.check(&trusted), Err(ReceiptError::Proof(_))));
        let mut outside = ok.clone();
        outside.seq = 2;
        assert!(matches!(outside.check(&trusted), Err(ReceiptError::OutsideBatch { .. })));
        let mut forged = ok.clone();
        forged.batch.batch.root = "00".repeat(32);
        assert!(matches!(forged.check(&trusted), Err(ReceiptError::BadSignature(_))));
    }
}
