//! SQLite storage for Crumb's consent ledger.
//!
//! Opened from a `sqlite://PATH` URL; the file is created on first use, put in WAL mode
//! with `synchronous = FULL` (a commit is on disk before `append` returns), and migrated
//! with the embedded migrations in `migrations/`.
//!
//! Every write goes through one dedicated connection (SQLite has one writer at a time in
//! any case): its page cache stays valid from one batch to the next, where writes spread
//! over a pool would make each connection re-read the pages another one changed. Reads
//! use a small pool beside it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use crumb_ledger::{Record, StorageError};
use crumb_ledger_sql::stmt::{MAX_STATEMENT_ROWS, padded_records_insert};
use crumb_ledger_sql::{Backend, SqlStorage, unavailable};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

/// The SQLite ledger: the shared SQL of [`crumb_ledger_sql`] over [`SqliteBackend`].
/// `SqliteStorage::open("sqlite://path/to/ledger.db")` opens (creating if needed) and
/// migrates it; `pool()` is the read pool.
pub type SqliteStorage = SqlStorage<SqliteBackend>;

/// What only SQLite does: open a write connection and a read pool, migrate, insert
/// batches.
#[derive(Debug)]
pub enum SqliteBackend {}

#[async_trait]
impl Backend for SqliteBackend {
    type Db = Sqlite;

    async fn connect(url: &str) -> Result<(SqlitePool, SqlitePool), StorageError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StorageError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // A SQLite connection is a file handle in this process: there is nothing to
            // ping, and the ping would cost every batch a round trip to SQLite's thread.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone())
            .await
            .map_err(unavailable)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(|e| StorageError::Unavailable(format!("migrations: {e}")))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(unavailable)?;
        Ok((pool, writer))
    }

    const CHOICES: &'static str = "json_each(r.choices) AS c";
    const GRANTED: &'static str = "(c.value = 1)";
    const MULTI_STATEMENT: bool = true;
    const NUMBERED: bool = false;
    const PLAN_EACH_LOOKUP: bool = false;

    async fn insert(conn: &mut SqliteConnection, recs: &[Record]) -> Result<(), StorageError> {
        // One statement per 1,024 records, inside the transaction `append` holds.
        for chunk in recs.chunks(MAX_STATEMENT_ROWS) {
            let stmt = padded_records_insert(chunk, None);
            stmt.query::<SqliteBackend>().execute(&mut *conn).await.map_err(unavailable)?;
        }
        Ok(())
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crumb_ledger::Storage;
    use crumb_ledger::conformance_sql::ExecSql;

    use super::*;

    async fn fresh() -> Arc<dyn Storage> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        // Keep the directory for the test's lifetime.
        std::mem::forget(dir);
        Arc::new(SqliteStorage::open(&url).await.expect("open sqlite"))
    }

    async fn open_sql(url: &str) -> (Arc<dyn Storage>, ExecSql) {
        let s = SqliteStorage::open(url).await.expect("open sqlite");
        let sql = s.sql_runner();
        (Arc::new(s), sql)
    }

    async fn fresh_sql() -> (Arc<dyn Storage>, ExecSql) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        std::mem::forget(dir);
        open_sql(&url).await
    }

    crumb_ledger::conformance_tests!(fresh());
    crumb_ledger::hooks_conformance_tests!(fresh());
    crumb_ledger::sql_conformance_tests!(fresh_sql());

    /// A ledger written before the aggregates existed gets them counted by the migration.
    #[tokio::test]
    async fn the_aggregates_migration_counts_an_existing_ledger() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        crumb_ledger::conformance_sql::aggregates_migration_counts_an_existing_ledger(|| open_sql(&url)).await;
    }

    /// The migration that adds the aggregates counts the records already stored with the
    /// same statements `append` counts a batch with.
    #[test]
    fn aggregates_migration_backfills_with_the_shared_sql() {
        let migration = include_str!("../migrations/0006_aggregates.sql");
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let missing: Vec<String> = crumb_ledger_sql::aggregates::backfill_statements::<SqliteBackend>()
            .into_iter()
            .filter(|stmt| !flat(migration).contains(&flat(stmt)))
            .collect();
        assert!(missing.is_empty(), "0006_aggregates.sql lacks:\n{};", missing.join(";\n"));
    }

    /// A database an earlier release left at migration `at`, with records and rows in it.
    async fn old_database(url: &str, at: i64) {
        use crumb_ledger::conformance_upgrade::{OLD_ROWS, old_records};
        let pool = SqlitePool::connect_with(SqliteConnectOptions::from_str(url).expect("url").create_if_missing(true))
            .await
            .expect("connect");
        let all = sqlx::migrate!("./migrations");
        let upto = |v: i64| sqlx::migrate::Migrator {
            migrations: all.migrations.iter().filter(|m| m.version <= v).cloned().collect::<Vec<_>>().into(),
            ..sqlx::migrate!("./migrations")
        };
        // The records go in before the aggregates' migration, as they did then; 0006
        // counts them.
        upto(5).run(&pool).await.expect("migrate to 5");
        let mut conn = pool.acquire().await.expect("conn");
        SqliteBackend::insert(&mut conn, &old_records()).await.expect("old records");
        drop(conn);
        upto(at).run(&pool).await.expect("migrate to the old version");
        for (_, sql) in OLD_ROWS.iter().filter(|(v, _)| *v <= at) {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    }

    /// Upgrades from the release before the webhooks (0006) and from the one before the
    /// daily rollup (0007): the current code migrates, the data is intact, the rollup is
    /// backfilled and equal to a recount, the webhooks work.
    #[tokio::test]
    async fn a_database_of_an_earlier_release_upgrades() {
        for at in [6, 7] {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
            old_database(&url, at).await;
            let s = SqliteStorage::open(&url).await.expect("open and migrate");
            crumb_ledger::conformance_upgrade::after_upgrade(&s, at).await;
        }
    }

    /// Migration 0008 backfills the daily rollup with the statement the code documents.
    #[test]
    fn days_migration_backfills_with_the_shared_sql() {
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let migration = flat(include_str!("../migrations/0008_agg_days.sql"));
        assert!(migration.contains(&flat(crumb_ledger_sql::aggregates::DAYS_BACKFILL)), "0008 lacks DAYS_BACKFILL");
    }

    #[tokio::test]
    async fn padded_and_multi_statement_batches_store_exactly_their_records() {
        let storage = fresh().await;
        let (mut seq, mut hash) = (0, crumb_ledger::GENESIS.to_string());
        // 3 (padded to 4), 1024 (exact), 1500 (1024 + 476 in one transaction).
        for size in [3usize, 1024, 1500] {
            let mut batch = Vec::new();
            for _ in 0..size {
                let r = Record::chain_after("c", seq, &hash, crumb_ledger::conformance::sample_entry(seq, 1_000 + seq));
                seq = r.seq;
                hash = r.hash.clone();
                batch.push(r);
            }
            storage.append(&batch).await.expect("append");
        }
        let stored = storage.records("c", 0, 10_000).await.expect("records");
        assert_eq!(stored.len(), 3 + 1024 + 1500);
        assert!(stored.iter().enumerate().all(|(i, r)| r.seq == i as i64 + 1 && r.computed_hash() == r.hash));
        assert_eq!(storage.chain_head("c").await.expect("head"), Some((seq, hash)));
    }

    /// A ledger written before the record hash's encoding was written down, stored and read
    /// back, passes the verification `crumb ledger verify` runs.
    #[tokio::test]
    async fn a_ledger_written_before_hash_v1_verifies_after_a_round_trip() {
        let fixture: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crumb-ledger/tests/fixtures/ledger-v1.json"
        )))
        .expect("fixture");
        let records: Vec<Record> = serde_json::from_value(fixture["records"].clone()).expect("records");
        let cps: Vec<crumb_ledger::Checkpoint> =
            serde_json::from_value(fixture["checkpoints"].clone()).expect("checkpoints");
        let key = crumb_ledger::keys::public_from_hex(fixture["public_key"].as_str().expect("key")).expect("key");
        let storage = fresh().await;
        storage.append(&records).await.expect("append");
        for cp in &cps {
            storage.add_checkpoint(cp).await.expect("checkpoint");
        }
        let report = crumb_ledger::verify(storage.as_ref(), &[key]).await.expect("verify");
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.records, report.checkpoints), (4, 2));
    }

    #[tokio::test]
    async fn wal_and_full_sync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let s = SqliteStorage::open(&url).await.expect("open");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(s.pool()).await.expect("pragma");
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(s.pool()).await.expect("pragma");
        assert_eq!(sync, 2, "FULL");
        assert!(dir.path().join("l.db").exists());
    }
}
