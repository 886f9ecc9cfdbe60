//! The storage trait the SQLite and PostgreSQL backends implement.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aggregates::{AggQuery, AggRow};
use crate::{AdminStore, Checkpoint, HookStore, ProofStore, Record, ScanStore};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached or refused the operation; retrying later may work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back (corrupt or edited outside Crumb).
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    /// The URL or options are wrong.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A concurrent transaction won a conflict (PostgreSQL deadlock or serialization
    /// failure) and this one was rolled back; running the same transaction again may work.
    #[error("storage conflict, transaction rolled back: {0}")]
    Conflict(String),
}

/// A policy version a site has published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersionRow {
    /// Site id.
    pub site: String,
    /// Policy version (`crumb_core::policy_version`).
    pub version: String,
    /// Whether it changed something material against the version before it (the first is).
    pub material: bool,
    /// When a server first loaded it (Unix ms).
    pub first_seen: i64,
    /// The inventory as JSON.
    pub snapshot: String,
}

/// Counts for `crumb ledger stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Records.
    pub records: i64,
    /// Distinct consent ids.
    pub consent_ids: i64,
    /// Records per action.
    pub by_action: Vec<(String, i64)>,
    /// Records per site.
    pub by_site: Vec<(String, i64)>,
    /// Chains (writers).
    pub chains: i64,
    /// Checkpoints.
    pub checkpoints: i64,
    /// Oldest and newest record time (Unix ms).
    pub first_at: Option<i64>,
    /// Newest record time (Unix ms).
    pub last_at: Option<i64>,
}

/// Ledger storage. Every method is one short transaction or query; `append` is atomic.
/// The same database keeps the dashboard's accounts ([`AdminStore`]) and saved scans
/// ([`ScanStore`]), webhooks, roles and the audit log ([`HookStore`]); the signed batches
/// and their log positions ([`ProofStore`]).
#[async_trait]
pub trait Storage: AdminStore + ScanStore + HookStore + ProofStore + Send + Sync + 'static {
    /// Cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StorageError>;
    /// Register a new chain (idempotent).
    async fn start_chain(&self, chain: &str, started_at: i64) -> Result<(), StorageError>;
    /// Every chain id, registered or holding records, checkpoints or signed batches, sorted.
    async fn chains(&self) -> Result<Vec<String>, StorageError>;
    /// The last record's `(seq, hash)` of a chain, if it has records.
    async fn chain_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError>;
    /// Insert records in one transaction: all or none, with their counts in the
    /// [aggregates](crate::aggregates). Fails if a `(chain, seq)` exists.
    async fn append(&self, records: &[Record]) -> Result<(), StorageError>;
    /// Records of a chain with `seq > after`, ascending, at most `limit`.
    async fn records(&self, chain: &str, after: i64, limit: i64) -> Result<Vec<Record>, StorageError>;
    /// Every record of a consent id, oldest first.
    async fn history(&self, consent_id: &str) -> Result<Vec<Record>, StorageError>;
    /// Records with `from <= recorded_at < to` (optionally of one site), ordered by
    /// `(recorded_at, chain, seq)`, after the position `after`, at most `limit`.
    async fn export(
        &self,
        site: Option<&str>,
        from: i64,
        to: i64,
        after: Option<(i64, String, i64)>,
        limit: i64,
    ) -> Result<Vec<Record>, StorageError>;
    /// Store a checkpoint (idempotent on `(chain, seq, kind)`).
    async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StorageError>;
    /// Checkpoints of a chain, by seq.
    async fn checkpoints(&self, chain: &str) -> Result<Vec<Checkpoint>, StorageError>;
    /// The highest `seq` such that every record of the chain up to it has
    /// `retain_until < now` (None when the first record is still retained or there are none).
    async fn expired_prefix(&self, chain: &str, now: i64) -> Result<Option<i64>, StorageError>;
    /// Delete records of a chain with `seq <= through`, and their counts from the
    /// aggregates, in one transaction; returns how many.
    async fn delete_through(&self, chain: &str, through: i64) -> Result<u64, StorageError>;
    /// Record a policy version unless it is known; returns whether it was new.
    async fn add_version(&self, row: &PolicyVersionRow) -> Result<bool, StorageError>;
    /// A site's versions, oldest first.
    async fn versions(&self, site: &str) -> Result<Vec<PolicyVersionRow>, StorageError>;
    /// Counts of the records with `from <= recorded_at < to`, optionally of one site (chains
    /// and checkpoints: the whole ledger).
    async fn stats(&self, site: Option<&str>, from: i64, to: i64) -> Result<Stats, StorageError>;
    /// Sum the [aggregates](crate::aggregates) as `q` asks (never reads records).
    async fn aggregates(&self, q: &AggQuery) -> Result<Vec<AggRow>, StorageError>;
    /// Recount every aggregate from the records (`crumb database rebuild-aggregates`).
    async fn rebuild_aggregates(&self) -> Result<(), StorageError>;
}
