//! [`HookStore`] once for both databases: webhooks, the outbox, roles and the audit log.

use async_trait::async_trait;
use crumb_ledger::{AuditRow, Claimed, DeliveryRow, HookStore, RoleRow, StorageError, WebhookRow};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::rows::Decodes;
use crate::{Backend, SqlStorage, unavailable};

/// The claim: one statement, so a row goes to one caller. The outer `WHERE` repeats the
/// due-and-unleased test: PostgreSQL re-checks it on a row another claim has just leased
/// (and skips the row), SQLite runs one writer at a time.
const CLAIM: &str = "UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_at <= $3 \
        AND (lease_until IS NULL OR lease_until <= $3) ORDER BY next_at, id LIMIT $4) \
    AND state = 'pending' AND next_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
    RETURNING id, webhook_id, event, site, body, created_at, attempts";

fn events_of(text: &str) -> Result<Vec<String>, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("webhook events: {e}")))
}

#[async_trait]
impl<B> HookStore for SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
{
    async fn add_webhook(&self, hook: &WebhookRow, secret: &str) -> Result<(), StorageError> {
        let events = serde_json::to_string(&hook.events).map_err(|e| StorageError::Config(format!("events: {e}")))?;
        sqlx::query(
            "INSERT INTO webhooks (id, site, url, events, secret, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hook.id.as_str())
        .bind(hook.site.as_str())
        .bind(hook.url.as_str())
        .bind(events.as_str())
        .bind(secret)
        .bind(hook.created_at)
        .bind(hook.created_by.as_str())
        .execute(&self.writes)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn webhooks(&self, site: Option<&str>) -> Result<Vec<WebhookRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, site, url, events, created_at, created_by FROM webhooks \
             WHERE ($1 IS NULL OR site = $1) ORDER BY created_at, id",
        )
        .bind(site)
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(WebhookRow {
                    id: r.text_at(0)?,
                    site: r.text_at(1)?,
                    url: r.text_at(2)?,
                    events: events_of(&r.text_at(3)?)?,
                    created_at: r.int_at(4)?,
                    created_by: r.text_at(5)?,
                })
            })
            .collect()
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM webhook_outbox WHERE webhook_id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let done =
            sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(B::rows_affected(&done) > 0)
    }

    async fn enqueue_event(
        &self,
        site: Option<&str>,
        event: &str,
        key: &str,
        body: &str,
        now: i64,
    ) -> Result<u64, StorageError> {
        let hooks = self.webhooks(site).await?;
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        let mut added = 0;
        for h in hooks.iter().filter(|h| h.events.iter().any(|e| e == event)) {
            let done = sqlx::query(
                "INSERT INTO webhook_outbox (webhook_id, event_key, event, site, body, created_at, next_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (webhook_id, event_key) DO NOTHING",
            )
            .bind(h.id.as_str())
            .bind(key)
            .bind(event)
            .bind(h.site.as_str())
            .bind(body)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
            added += B::rows_affected(&done);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(added)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>, StorageError> {
        let rows = sqlx::query(CLAIM)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.writes)
            .await
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let webhook_id = r.text_at(1)?;
            let hook = sqlx::query("SELECT url, secret FROM webhooks WHERE id = $1")
                .bind(webhook_id.as_str())
                .fetch_optional(&self.reads)
                .await
                .map_err(unavailable)?;
            // A webhook deleted since: its row is gone with it or about to be.
            let Some(hook) = hook else { continue };
            out.push(Claimed {
                id: r.int_at(0)?,
                webhook_id,
                url: hook.text_at(0)?,
                secret: hook.text_at(1)?,
                event: r.text_at(2)?,
                site: r.text_at(3)?,
                body: r.text_at(4)?,
                created_at: r.int_at(5)?,
                attempt: r.int_at(6)?,
            });
        }
        out.sort_by_key(|c| c.id);
        Ok(out)
    }

    async fn finish_delivery(&self, owner: &str, a: &DeliveryRow, next_at: Option<i64>) -> Result<bool, StorageError> {
        let state = match (next_at, a.outcome.as_str()) {
            (Some(_), _) => "pending",
            (None, "delivered") => "delivered",
            (None, _) => "failed",
        };
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        // `next_at` and `status` are optional: the statement names NULL or binds them.
        let done = sqlx::query(
            "UPDATE webhook_outbox SET state = $1, next_at = CASE WHEN $2 THEN $3 ELSE next_at END, \
             lease_owner = NULL, lease_until = NULL WHERE id = $4 AND lease_owner = $5 AND state = 'pending'",
        )
        .bind(state)
        .bind(next_at.is_some())
        .bind(next_at.unwrap_or(0))
        .bind(a.outbox_id)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if B::rows_affected(&done) == 0 {
            return Ok(false);
        }
        let status = if a.status.is_some() { "$10" } else { "NULL" };
        let sql = format!(
            "INSERT INTO webhook_deliveries (outbox_id, webhook_id, site, event, attempt, at, error, \
             duration_ms, outcome, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {status})"
        );
        let mut q = sqlx::query(&sql)
            .bind(a.outbox_id)
            .bind(a.webhook_id.as_str())
            .bind(a.site.as_str())
            .bind(a.event.as_str())
            .bind(a.attempt)
            .bind(a.at)
            .bind(a.error.as_deref())
            .bind(a.duration_ms)
            .bind(a.outcome.as_str());
        if let Some(code) = a.status {
            q = q.bind(code);
        }
        q.execute(&mut *tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn deliveries(&self, site: Option<&str>, limit: i64) -> Result<Vec<DeliveryRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT outbox_id, webhook_id, site, event, attempt, at, status, error, duration_ms, outcome \
             FROM webhook_deliveries WHERE ($1 IS NULL OR site = $1) ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(site)
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    outbox_id: r.int_at(0)?,
                    webhook_id: r.text_at(1)?,
                    site: r.text_at(2)?,
                    event: r.text_at(3)?,
                    attempt: r.int_at(4)?,
                    at: r.int_at(5)?,
                    status: r.opt_int_at(6)?,
                    error: r.opt_text("error")?,
                    duration_ms: r.int_at(8)?,
                    outcome: r.text_at(9)?,
                })
            })
            .collect()
    }

    async fn set_roles(&self, name: &str, roles: &[(String, String)]) -> Result<(), StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM user_roles WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        for (site, role) in roles {
            sqlx::query("INSERT INTO user_roles (name, site, role) VALUES ($1, $2, $3)")
                .bind(name)
                .bind(site.as_str())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn roles(&self, name: Option<&str>) -> Result<Vec<RoleRow>, StorageError> {
        let rows =
            sqlx::query("SELECT name, site, role FROM user_roles WHERE ($1 IS NULL OR name = $1) ORDER BY name, site")
                .bind(name)
                .fetch_all(&self.reads)
                .await
                .map_err(unavailable)?;
        rows.iter().map(|r| Ok(RoleRow { name: r.text_at(0)?, site: r.text_at(1)?, role: r.text_at(2)? })).collect()
    }

    async fn add_audit(&self, row: &AuditRow) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO audit_log (at, actor, action, site, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(row.at)
            .bind(row.actor.as_str())
            .bind(row.action.as_str())
            .bind(row.site.as_deref())
            .bind(row.detail.as_str())
            .execute(&self.writes)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>, StorageError> {
        let rows = sqlx::query("SELECT id, at, actor, action, site, detail FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.reads)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.int_at(0)?,
                    at: r.int_at(1)?,
                    actor: r.text_at(2)?,
                    action: r.text_at(3)?,
                    site: r.opt_text("site")?,
                    detail: r.text_at(5)?,
                })
            })
            .collect()
    }
}
