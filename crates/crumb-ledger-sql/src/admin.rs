//! [`AdminStore`] once for both databases: accounts, sessions and API keys.

use async_trait::async_trait;
use crumb_ledger::{AdminStore, ApiKeyRow, StorageError};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::rows::{Decodes, api_key};
use crate::{Backend, SqlStorage, unavailable};

#[async_trait]
impl<B> AdminStore for SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
{
    async fn set_admin_user(&self, name: &str, password_hash: &str, now: i64) -> Result<bool, StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        let existed = sqlx::query("SELECT 1 FROM admin_users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .is_some();
        sqlx::query(
            "INSERT INTO admin_users (name, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
        )
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(!existed)
    }

    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError> {
        let row = sqlx::query("SELECT password_hash FROM admin_users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reads)
            .await
            .map_err(unavailable)?;
        row.map(|r| r.text_at(0)).transpose()
    }

    async fn admin_users(&self) -> Result<Vec<String>, StorageError> {
        let rows = sqlx::query("SELECT name FROM admin_users ORDER BY name")
            .fetch_all(&self.reads)
            .await
            .map_err(unavailable)?;
        rows.iter().map(|r| r.text_at(0)).collect()
    }

    async fn delete_admin_user(&self, name: &str) -> Result<bool, StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let done = sqlx::query("DELETE FROM admin_users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(B::rows_affected(&done) > 0)
    }

    async fn add_admin_session(
        &self,
        token_hash: &str,
        name: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO admin_sessions (token_hash, name, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(name)
            .bind(created_at)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn admin_session(&self, token_hash: &str, now: i64) -> Result<Option<String>, StorageError> {
        // The account must still exist: deleting it ends its sessions even mid-flight.
        let row = sqlx::query(
            "SELECT s.name FROM admin_sessions s JOIN admin_users u ON u.name = s.name \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reads)
        .await
        .map_err(unavailable)?;
        row.map(|r| r.text_at(0)).transpose()
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writes)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn add_api_key(&self, key: &ApiKeyRow, secret_hash: &str) -> Result<(), StorageError> {
        let sites = serde_json::to_string(&key.sites).map_err(|e| StorageError::Config(format!("sites: {e}")))?;
        sqlx::query("INSERT INTO api_keys (id, name, secret_hash, sites, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(key.id.as_str())
            .bind(key.name.as_str())
            .bind(secret_hash)
            .bind(sites.as_str())
            .bind(key.created_at)
            .execute(&self.writes)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StorageError> {
        let rows = sqlx::query(&format!("SELECT {API_KEY_COLS} FROM api_keys ORDER BY created_at, id"))
            .fetch_all(&self.reads)
            .await
            .map_err(unavailable)?;
        rows.iter().map(api_key).collect()
    }

    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRow>, StorageError> {
        let row =
            sqlx::query(&format!("SELECT {API_KEY_COLS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"))
                .bind(secret_hash)
                .fetch_optional(&self.reads)
                .await
                .map_err(unavailable)?;
        row.map(|r| api_key(&r)).transpose()
    }

    async fn revoke_api_key(&self, id: &str, now: i64) -> Result<bool, StorageError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.writes)
            .await
            .map_err(unavailable)?;
        Ok(B::rows_affected(&done) > 0)
    }
}

/// The columns [`api_key`] reads, in its order.
const API_KEY_COLS: &str = "id, name, sites, created_at, revoked_at";
