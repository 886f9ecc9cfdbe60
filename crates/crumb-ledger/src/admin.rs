//! Dashboard accounts and login sessions, kept in the same database as the ledger so that
//! every `crumb serve` process on one PostgreSQL shares them.
//!
//! Only hashes are stored: an account's password as an Argon2id PHC string, a session as
//! the SHA-256 of its token (the browser holds the token itself).

use async_trait::async_trait;

use crate::storage::StorageError;

/// Dashboard accounts and sessions. Every [`Storage`](crate::Storage) backend implements it.
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
}
