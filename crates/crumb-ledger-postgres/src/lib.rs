//! PostgreSQL storage for Crumb's consent ledger.
//!
//! Opened from a `postgres://...` URL and migrated with the embedded migrations in
//! `migrations/`. Commits are durable with PostgreSQL's default `synchronous_commit = on`.
//! Several servers may write at once: each appends to its own chain, so the only
//! contention is on indexes, never on a global lock.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use crumb_ledger::{Record, StorageError};
use crumb_ledger_sql::{Backend, SqlStorage, unavailable};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgConnection, PgPool, Postgres};

/// The PostgreSQL ledger: the shared SQL of [`crumb_ledger_sql`] over [`PgBackend`].
/// `PgStorage::open("postgres://user@host:5432/db")` connects and migrates; reads and
/// writes share one pool, which `pool()` returns.
pub type PgStorage = SqlStorage<PgBackend>;

/// What only PostgreSQL does: connect, migrate, insert batches with `UNNEST`.
#[derive(Debug)]
pub enum PgBackend {}

/// The batch INSERT: one array per column, in [`RECORD_COLS`](crumb_ledger_sql::RECORD_COLS) order.
const INSERT_UNNEST: &str = "INSERT INTO records (chain, seq, consent_id, site, policy_version, choices, action, gpc, \
    dnt, region, mode, language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash) \
    SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
    $8::boolean[], $9::boolean[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
    $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[])";

#[async_trait]
impl Backend for PgBackend {
    type Db = Postgres;

    async fn connect(url: &str) -> Result<(PgPool, PgPool), StorageError> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| StorageError::Config(format!("{e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(opts)
            .await
            .map_err(unavailable)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StorageError::Unavailable(format!("migrations: {e}")))?;
        Ok((pool.clone(), pool))
    }

    const CHOICES: &'static str = "json_each_text(r.choices::json) AS c";
    const GRANTED: &'static str = "(c.value = 'true')";
    const MULTI_STATEMENT: bool = false;
    const NUMBERED: bool = true;
    const PLAN_EACH_LOOKUP: bool = true;

    async fn insert(conn: &mut PgConnection, recs: &[Record]) -> Result<(), StorageError> {
        if recs.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch, whatever its size: each column is bound as an
        // array and UNNEST turns the arrays back into rows. The statement text never
        // changes, so it is prepared once per connection. It runs inside the transaction
        // `append` or `append_batch` holds, which also counts the records into the aggregates.
        bind_records(sqlx::query(INSERT_UNNEST), recs).execute(&mut *conn).await.map_err(unavailable)?;
        Ok(())
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Bind the 20 column arrays of `recs` as `$1..$20`.
fn bind_records<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    recs: &[Record],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let col = |f: fn(&Record) -> String| recs.iter().map(f).collect::<Vec<String>>();
    let opt = |f: fn(&Record) -> Option<String>| recs.iter().map(f).collect::<Vec<Option<String>>>();
    let int = |f: fn(&Record) -> i64| recs.iter().map(f).collect::<Vec<i64>>();
    let flag = |f: fn(&Record) -> bool| recs.iter().map(f).collect::<Vec<bool>>();
    q.bind(col(|r| r.chain.clone()))
        .bind(int(|r| r.seq))
        .bind(col(|r| r.entry.consent_id.clone()))
        .bind(col(|r| r.entry.site.clone()))
        .bind(col(|r| r.entry.policy_version.clone()))
        .bind(col(|r| serde_json::to_string(&r.entry.choices).unwrap_or_default()))
        .bind(col(|r| r.entry.action.clone()))
        .bind(flag(|r| r.entry.gpc))
        .bind(flag(|r| r.entry.dnt))
        .bind(opt(|r| r.entry.region.clone()))
        .bind(col(|r| r.entry.mode.clone()))
        .bind(opt(|r| r.entry.language.clone()))
        .bind(opt(|r| r.entry.url.clone()))
        .bind(col(|r| r.entry.ua_family.clone()))
        .bind(opt(|r| r.entry.ip_hash.clone()))
        .bind(int(|r| r.entry.recorded_at))
        .bind(int(|r| r.entry.expires_at))
        .bind(int(|r| r.entry.retain_until))
        .bind(col(|r| r.prev_hash.clone()))
        .bind(col(|r| r.hash.clone()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crumb_ledger::Storage;
    use crumb_ledger::conformance_sql::ExecSql;

    use super::*;

    async fn fresh() -> Arc<dyn Storage> {
        let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("create database");
        Arc::new(PgStorage::open(&db.url).await.expect("open postgres"))
    }

    async fn open_sql(url: &str) -> (Arc<dyn Storage>, ExecSql) {
        let s = PgStorage::open(url).await.expect("open postgres");
        let sql = s.sql_runner();
        (Arc::new(s), sql)
    }

    async fn fresh_sql() -> (Arc<dyn Storage>, ExecSql) {
        let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("create database");
        // These stories write many small ledgers and test what is stored, not that a commit
        // survives a crash: no flush per commit.
        let sep = if db.url.contains('?') { '&' } else { '?' };
        open_sql(&format!("{}{sep}options=-c%20synchronous_commit%3Doff", db.url)).await
    }

    crumb_ledger::conformance_tests!(fresh());
    crumb_ledger::hooks_conformance_tests!(fresh());
    crumb_ledger::sql_conformance_tests!(fresh_sql());

    /// A ledger written before the aggregates existed gets them counted by the migration.
    #[tokio::test]
    async fn the_aggregates_migration_counts_an_existing_ledger() {
        let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("create database");
        crumb_ledger::conformance_sql::aggregates_migration_counts_an_existing_ledger(|| open_sql(&db.url)).await;
    }

    /// A database an earlier release left at migration `at`, with records and rows in it.
    async fn old_database(url: &str, at: i64) {
        use crumb_ledger::conformance_upgrade::{OLD_ROWS, old_records};
        let pool = PgPool::connect(url).await.expect("connect");
        let all = sqlx::migrate!("./migrations");
        let upto = |v: i64| sqlx::migrate::Migrator {
            migrations: all.migrations.iter().filter(|m| m.version <= v).cloned().collect::<Vec<_>>().into(),
            ..sqlx::migrate!("./migrations")
        };
        // The records go in before the aggregates' migration, as they did then; 0006
        // counts them.
        upto(5).run(&pool).await.expect("migrate to 5");
        let mut conn = pool.acquire().await.expect("conn");
        PgBackend::insert(&mut conn, &old_records()).await.expect("old records");
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
            let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("create database");
            old_database(&db.url, at).await;
            let s = PgStorage::open(&db.url).await.expect("open and migrate");
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

    /// The migration that adds the aggregates counts the records already stored with the
    /// same statements `append` counts a batch with.
    #[test]
    fn aggregates_migration_backfills_with_the_shared_sql() {
        let migration = include_str!("../migrations/0006_aggregates.sql");
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let missing: Vec<String> = crumb_ledger_sql::aggregates::backfill_statements::<PgBackend>()
            .into_iter()
            .filter(|stmt| !flat(migration).contains(&flat(stmt)))
            .collect();
        assert!(missing.is_empty(), "0006_aggregates.sql lacks:\n{};", missing.join(";\n"));
    }
}
