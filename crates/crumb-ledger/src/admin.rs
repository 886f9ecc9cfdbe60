//! Dashboard accounts and login sessions, kept in the same database as the ledger so that
//! every `crumb serve` process on one PostgreSQL shares them.
//!
//! Only hashes are stored: an account's password as an Argon2id PHC string, a session as
//! the SHA-256 of its token (the browser holds the token itself), an API key as the SHA-256
//! of its secret (shown once, when `crumb admin create-key` makes it).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;

/// A read-only API key of the statistics API, as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    /// Public identifier, part of the key and shown in listings.
    pub id: String,
    /// What the key is for, as its creator described it.
    pub name: String,
    /// Site ids the key may read.
    pub sites: Vec<String>,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// When it was revoked (Unix ms), if it was.
    pub revoked_at: Option<i64>,
}

/// Dashboard accounts and sessions, and API keys. Every [`Storage`](crate::Storage) backend implements it.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Create account `name` or replace its password hash; ends the account's sessions.
    /// Returns whether the account is new.
    async fn set_admin_user(&self, name: &str, password_hash: &str, now: i64) -> Result<bool, StorageError>;
    /// The stored password hash of `name`, if the account exists.
    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError>;
    /// Account names, sorted.
    async fn admin_users(&self) -> Result<Vec<String>, StorageError>;
    /// Remove account `name` and its sessions; returns whether it existed.
    async fn delete_admin_user(&self, name: &str) -> Result<bool, StorageError>;
    /// Start a session (and drop every session that has expired by `created_at`).
    async fn add_admin_session(
        &self,
        token_hash: &str,
        name: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError>;
    /// The account of a session that is still valid at `now`.
    async fn admin_session(&self, token_hash: &str, now: i64) -> Result<Option<String>, StorageError>;
    /// End a session (idempotent).
    async fn delete_admin_session(&self, token_hash: &str) -> Result<(), StorageError>;
    /// Store a new API key with the SHA-256 (hex) of its secret; fails if the id or hash
    /// exists. `key.revoked_at` is ignored (a new key is active).
    async fn add_api_key(&self, key: &ApiKeyRow, secret_hash: &str) -> Result<(), StorageError>;
    /// Every API key, revoked ones included, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StorageError>;
    /// The active (not revoked) key whose secret hashes to `secret_hash`.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRow>, StorageError>;
    /// Revoke key `id` at `now`; returns whether an active key was revoked.
    async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, StorageError>;
}
