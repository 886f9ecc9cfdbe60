//! # crumb-ledger
//!
//! Crumb's consent ledger: append-only, hash-chained, checkpointed with Ed25519 signatures.
//!
//! - [`Entry`] is one consent decision as the server observed it; [`Record`] is an entry
//!   placed on a chain (`chain`, `seq`, `prev_hash`, `hash`).
//! - Every writer (one per `crumb serve` process) appends to its own chain, so several
//!   servers share one PostgreSQL database without a global lock on the hot path.
//! - [`Checkpoint`]s sign a chain's head; [`verify()`] recomputes every hash and checks every
//!   signature, naming the first bad record for edits, deletions, insertions, reordering
//!   and truncated tails (against the last checkpoint).
//! - [`Storage`] is the trait the SQLite and PostgreSQL backends implement; [`conformance`]
//!   is the suite both run ([`conformance_tamper`]: every single tampering of a stored
//!   ledger, done by SQL, is found by [`verify_with`]). [`writer::Ledger`] group-commits concurrent appends.
//! - [`record_hash`] hashes a record's canonical encoding, versioned and written field by
//!   field ([`hash`]; the field list and order are in `docs/ledger.md`).
//! - Every committed batch is a Merkle tree whose root is signed once ([`batch`]); every
//!   batch of every writer is a leaf of the log-wide tree with signed tree heads ([`tree`]);
//!   a receipt's proof checks offline ([`receipt`]).
//! - [`aggregates`] are the counts kept beside the records in the same transaction, which
//!   the dashboard and the statistics API read.
//! - [`retention`] removes a chain's expired prefix after anchoring it with a checkpoint.
//! - [`AdminStore`] keeps the dashboard's accounts and sessions and the statistics API's
//!   keys beside the ledger, and
//!   [`ScanStore`] the scan reports `crumb scan --save` records, and [`HookStore`] the
//!   webhooks and their outbox, roles per site and the audit log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod admin;
pub mod aggregates;
pub mod audit;
pub mod batch;
pub mod conformance;
pub mod conformance_aggregates;
pub mod conformance_sql;
pub mod conformance_tamper;
pub mod conformance_upgrade;
pub mod export;
pub mod hash;
pub mod hooks;
pub mod hooks_conformance;
pub mod keys;
pub mod merkle;
pub mod receipt;
pub mod retention;
pub mod scans;
pub mod storage;
pub mod tree;
pub mod verify;
pub mod writer;

pub use admin::{AdminStore, ApiKeyRow};
pub use aggregates::{AggQuery, AggRow, Dim, Key, Table};
pub use audit::verify_with;
pub use batch::{LoggedBatch, ProofStore, SignedBatch};
pub use hash::{RECORD_HASH_VERSION, canonical_record, record_hash};
pub use hooks::{ALL_SITES, AuditRow, Claimed, DeliveryRow, HookStore, RoleRow, WebhookRow};
pub use keys::{CheckpointKey, KeyError};
pub use scans::{ScanRow, ScanStore};
pub use storage::{PolicyVersionRow, Stats, Storage, StorageError};
pub use verify::{Problem, ProblemKind, VerifyReport, verify};
pub use writer::{AppendError, Committed, Ledger, LedgerOptions, WriterMetrics};

/// `prev_hash` of the first record of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One consent decision, as stored. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The visitor's consent id (UUID v7), shared by all their decisions.
    pub consent_id: String,
    /// Site id.
    pub site: String,
    /// Policy version the visitor decided on.
    pub policy_version: String,
    /// Choice per category (required categories included, always true).
    pub choices: BTreeMap<String, bool>,
    /// `accept_all`, `reject_all`, `save` or `withdraw`.
    pub action: String,
    /// `Sec-GPC: 1` was sent.
    pub gpc: bool,
    /// `DNT: 1` was sent.
    pub dnt: bool,
    /// Country from the site's trusted country header, if any.
    pub region: Option<String>,
    /// `opt_in` or `opt_out`, the consent mode in force for this visitor.
    pub mode: String,
    /// Language the banner was shown in.
    pub language: Option<String>,
    /// Page URL without query or fragment.
    pub url: Option<String>,
    /// User-agent family (`chrome`, `firefox`, `safari`, `edge`, `bot`, `other`).
    pub ua_family: String,
    /// Keyed hash of the truncated client address (/24 or /48); never the address itself.
    pub ip_hash: Option<String>,
    /// Server time of the decision.
    pub recorded_at: i64,
    /// When the decision expires (recorded_at + the site's consent lifetime).
    pub expires_at: i64,
    /// When retention may remove the record (recorded_at + the site's `retain`).
    pub retain_until: i64,
}

/// An entry on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Chain (writer) id.
    pub chain: String,
    /// Position on the chain, from 1, without gaps.
    pub seq: i64,
    /// The decision.
    #[serde(flatten)]
    pub entry: Entry,
    /// Hash of the previous record on the chain ([`GENESIS`] for seq 1).
    pub prev_hash: String,
    /// SHA-256 over the record's canonical form, see [`record_hash`].
    pub hash: String,
}

impl Record {
    /// Place `entry` after `(prev_seq, prev_hash)` on `chain`.
    pub fn chain_after(chain: &str, prev_seq: i64, prev_hash: &str, entry: Entry) -> Record {
        let seq = prev_seq + 1;
        let hash = record_hash(chain, seq, prev_hash, &entry);
        Record { chain: chain.to_string(), seq, entry, prev_hash: prev_hash.to_string(), hash }
    }

    /// Recompute this record's hash from its content.
    pub fn computed_hash(&self) -> String {
        record_hash(&self.chain, self.seq, &self.prev_hash, &self.entry)
    }
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    /// Periodic or at shutdown: the chain's head at that time.
    Head,
    /// Written by retention before deleting records up to and including `seq`.
    Retention,
}

impl CheckpointKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Head => "head",
            CheckpointKind::Retention => "retention",
        }
    }
    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "head" => Some(CheckpointKind::Head),
            "retention" => Some(CheckpointKind::Retention),
            _ => None,
        }
    }
}

/// A signed statement that record `seq` of `chain` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Chain id.
    pub chain: String,
    /// Record position.
    pub seq: i64,
    /// That record's hash.
    pub hash: String,
    /// Why it was written.
    pub kind: CheckpointKind,
    /// When it was signed (Unix ms).
    pub signed_at: i64,
    /// Ed25519 public key (hex) of the signer.
    pub public_key: String,
    /// Ed25519 signature (hex) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes.
    pub fn message(chain: &str, seq: i64, hash: &str, kind: CheckpointKind, signed_at: i64) -> Vec<u8> {
        format!("crumb-checkpoint-v1\n{chain}\n{seq}\n{hash}\n{}\n{signed_at}", kind.as_str()).into_bytes()
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    pub fn entry(i: i64) -> Entry {
        Entry {
            consent_id: format!("0193a2b4-7c1d-7e55-9a0b-{:012x}", i),
            site: if i % 2 == 0 { "leadsgen".into() } else { "mixerlead".into() },
            policy_version: "3f2a9c1b7e4d5a6b".into(),
            choices: [("necessary".to_string(), true), ("analytics".to_string(), i % 3 == 0)].into(),
            action: "save".into(),
            gpc: i % 5 == 0,
            dnt: false,
            region: Some("DE".into()),
            mode: "opt_in".into(),
            language: Some("en".into()),
            url: Some("https://leadsgen.app/pricing".into()),
            ua_family: "firefox".into(),
            ip_hash: Some("ab".repeat(16)),
            recorded_at: 1_800_000_000_000 + i * 1000,
            expires_at: 1_800_000_000_000 + i * 1000 + 1000,
            retain_until: 1_800_000_000_000 + i * 1000 + 5000,
        }
    }
}
