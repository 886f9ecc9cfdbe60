//! [`ProofStore`] once for both databases. `append_batch` writes the records (through the
//! backend's bulk insert), their aggregates, the log position and the signed batch in one
//! transaction.

use async_trait::async_trait;
use crumb_ledger::{LoggedBatch, ProofStore, Record, SignedBatch, StorageError};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::rows::Decodes;
use crate::{BATCH_COLS, Backend, SqlStorage, unavailable};

fn logged_batch<R: Decodes>(r: &R) -> Result<LoggedBatch, StorageError> {
    Ok(LoggedBatch {
        log_index: r.int_at(0)?,
        batch: SignedBatch {
            chain: r.text_at(1)?,
            first_seq: r.int_at(2)?,
            last_seq: r.int_at(3)?,
            root: r.text_at(4)?,
            signed_at: r.int_at(5)?,
            public_key: r.text_at(6)?,
            signature: r.text_at(7)?,
        },
    })
}

/// How many times a batch's transaction runs before a conflict is reported.
const CONFLICT_ATTEMPTS: u32 = 4;

impl<B> SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
{
    /// One run of [`ProofStore::append_batch`]'s transaction.
    async fn append_batch_once(&self, records: &[Record], batch: &SignedBatch) -> Result<i64, StorageError> {
        if B::MULTI_STATEMENT {
            return crate::counting::append_batch_multi::<B>(&self.writes, records, batch).await;
        }
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        // The counter's row lock orders concurrent servers' batches until this commits.
        let log_index = crate::counting::insert_batch::<B>(&mut tx, records, batch).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(log_index)
    }
}

#[async_trait]
impl<B> ProofStore for SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
{
    async fn append_batch(&self, records: &[Record], batch: &SignedBatch) -> Result<i64, StorageError> {
        // Two servers' batches that recount the same visitor's days can deadlock on
        // PostgreSQL; the loser is rolled back whole (its log position is assigned inside the
        // transaction and is not signed), so running it again is safe.
        let mut attempt = 1;
        loop {
            match self.append_batch_once(records, batch).await {
                Err(StorageError::Conflict(_)) if attempt < CONFLICT_ATTEMPTS => attempt += 1,
                done => return done,
            }
        }
    }

    async fn log_batches(&self, from: i64, limit: i64) -> Result<Vec<LoggedBatch>, StorageError> {
        let rows =
            sqlx::query(&format!("SELECT {BATCH_COLS} FROM batches WHERE log_index >= $1 ORDER BY log_index LIMIT $2"))
                .bind(from)
                .bind(limit)
                .fetch_all(&self.reads)
                .await
                .map_err(unavailable)?;
        rows.iter().map(logged_batch).collect()
    }

    async fn chain_batches(&self, chain: &str) -> Result<Vec<LoggedBatch>, StorageError> {
        let rows = sqlx::query(&format!("SELECT {BATCH_COLS} FROM batches WHERE chain = $1 ORDER BY first_seq"))
            .bind(chain)
            .fetch_all(&self.reads)
            .await
            .map_err(unavailable)?;
        rows.iter().map(logged_batch).collect()
    }

    async fn batch_of(&self, chain: &str, seq: i64) -> Result<Option<LoggedBatch>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {BATCH_COLS} FROM batches WHERE chain = $1 AND first_seq <= $2 AND last_seq >= $2 \
             ORDER BY first_seq DESC LIMIT 1"
        ))
        .bind(chain)
        .bind(seq)
        .fetch_optional(&self.reads)
        .await
        .map_err(unavailable)?;
        row.as_ref().map(logged_batch).transpose()
    }

    async fn log_size(&self) -> Result<i64, StorageError> {
        let row = sqlx::query("SELECT size FROM ledger_log WHERE id = 1")
            .fetch_one(&self.reads)
            .await
            .map_err(unavailable)?;
        row.int_at(0)
    }
}
