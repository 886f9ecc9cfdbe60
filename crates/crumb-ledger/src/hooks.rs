//! Webhooks and their durable outbox, dashboard roles per site, and the audit log, kept in
//! the ledger's database so that every `crumb serve` on one PostgreSQL shares them.
//!
//! The outbox gives exactly one delivery per event and webhook when several servers poll
//! it: [`HookStore::enqueue_event`] is idempotent on `(webhook, event key)`, and
//! [`HookStore::claim_deliveries`] hands each due row to one caller only, with a lease (one
//! atomic `UPDATE ... RETURNING` whose `WHERE` repeats the due-and-unleased condition, which
//! PostgreSQL re-checks on the locked row); only the lease owner can
//! [`finish`](HookStore::finish_delivery) it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;

/// The site value of a role that covers every site.
pub const ALL_SITES: &str = "*";

/// A configured webhook (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRow {
    /// Public identifier (`wh_` and 16 hex digits).
    pub id: String,
    /// The site whose events it receives.
    pub site: String,
    /// Where the events are POSTed.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// Who created it (an account name, or `cli`).
    pub created_by: String,
}

/// A due outbox row handed to one deliverer, with what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// Outbox row id.
    pub id: i64,
    /// The webhook.
    pub webhook_id: String,
    /// The webhook's URL (read when claimed: a changed URL applies to the next attempt).
    pub url: String,
    /// The webhook's signing secret.
    pub secret: String,
    /// Event type.
    pub event: String,
    /// Site id.
    pub site: String,
    /// The JSON body, sent byte for byte as signed.
    pub body: String,
    /// When the event was queued (Unix ms).
    pub created_at: i64,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
}

/// One delivery attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// Outbox row id (the event's delivery id, sent as `Crumb-Delivery`).
    pub outbox_id: i64,
    /// The webhook.
    pub webhook_id: String,
    /// Site id.
    pub site: String,
    /// Event type.
    pub event: String,
    /// Attempt number, from 1.
    pub attempt: i64,
    /// When the attempt ended (Unix ms).
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    /// What went wrong, if anything (transport error or status).
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// `delivered`, `retrying` or `failed` (gave up).
    pub outcome: String,
}

/// An account's role on a site (or on [`ALL_SITES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRow {
    /// Account name.
    pub name: String,
    /// Site id, or [`ALL_SITES`].
    pub site: String,
    /// `admin` or `viewer`.
    pub role: String,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Assigned by the database ([`HookStore::add_audit`] ignores the value passed in).
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Who: an account name, the name tried at a failed sign-in, or `cli`.
    pub actor: String,
    /// What, e.g. `sign_in`, `sign_in_failed`, `export`, `user_created`, `webhook_deleted`.
    pub action: String,
    /// The site concerned, if one.
    pub site: Option<String>,
    /// Details in words (never a password, key or secret).
    pub detail: String,
}

/// Webhooks, the outbox, roles and the audit log. Every [`Storage`](crate::Storage) backend
/// implements it.
#[async_trait]
pub trait HookStore: Send + Sync {
    /// Store a webhook with its signing secret; fails if the id exists.
    async fn add_webhook(&self, hook: &WebhookRow, secret: &str) -> Result<(), StorageError>;
    /// Webhooks (of one site, or all), oldest first.
    async fn webhooks(&self, site: Option<&str>) -> Result<Vec<WebhookRow>, StorageError>;
    /// Delete a webhook and its undelivered events; returns whether it existed.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StorageError>;
    /// Queue `body` for every webhook of `site` (every site when `None`) that receives
    /// `event`, once per `(webhook, key)`: queuing the same key again adds nothing. Returns
    /// how many rows were added.
    async fn enqueue_event(
        &self,
        site: Option<&str>,
        event: &str,
        key: &str,
        body: &str,
        now: i64,
    ) -> Result<u64, StorageError>;
    /// Claim up to `limit` due rows (pending, `next_at <= now`, lease absent or expired)
    /// for `owner` until `now + lease_ms`, counting an attempt on each. A row is handed to
    /// one caller only, however many servers claim at once.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, StorageError>;
    /// Record an attempt and settle the row: `next_at` Some = retry then, None = the
    /// outcome is final (`delivered` or `failed`). Only the lease owner can; returns whether
    /// it still held the lease (if not, nothing is written).
    async fn finish_delivery(
        &self,
        owner: &str,
        attempt: &DeliveryRow,
        next_at: Option<i64>,
    ) -> Result<bool, StorageError>;
    /// The newest delivery attempts first (of one site, or all), at most `limit`.
    async fn deliveries(&self, site: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>, StorageError>;
    /// Replace an account's roles with `roles` (`(site, role)` pairs; empty removes them).
    async fn set_roles(&self, name: &str, roles: &[(String, String)]) -> Result<(), StorageError>;
    /// Roles of one account, or of all, by name and site.
    async fn roles(&self, name: Option<&str>) -> Result<Vec<RoleRow>, StorageError>;
    /// Append to the audit log.
    async fn add_audit(&self, row: &AuditRow) -> Result<(), StorageError>;
    /// The newest audit entries first, at most `limit`.
    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>, StorageError>;
}
