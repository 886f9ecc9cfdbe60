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
use crumb_ledger::{
    AdminStore, Checkpoint, CheckpointKind, Entry, PolicyVersionRow, Record, ScanRow, ScanStore, Stats, Storage,
    StorageError,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

/// The SQLite ledger.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    /// Reads.
    pool: SqlitePool,
    /// Writes: one connection.
    writer: SqlitePool,
}

fn unavailable(e: sqlx::Error) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

impl SqliteStorage {
    /// Open (creating if needed) and migrate the database at `url` (`sqlite://path/to/ledger.db`).
    pub async fn open(url: &str) -> Result<Self, StorageError> {
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
        Ok(SqliteStorage { pool, writer })
    }

    /// The pool, for tests that tamper with rows directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Row counts of the INSERT statements a batch is written with: powers of two, the largest
/// within SQLite's limit of 32,766 bound values (20 per row).
const STATEMENT_ROWS: [usize; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, MAX_STATEMENT_ROWS];

/// The most records one INSERT statement holds.
const MAX_STATEMENT_ROWS: usize = 1024;

/// The smallest statement size that holds `n` rows (`n` at most [`MAX_STATEMENT_ROWS`]).
fn statement_rows(n: usize) -> usize {
    STATEMENT_ROWS.iter().copied().find(|s| *s >= n).unwrap_or(MAX_STATEMENT_ROWS)
}

/// One INSERT of `recs` (at most 1,024), padded with rows of NULLs up to a size of
/// [`STATEMENT_ROWS`] that the statement skips: a batch of any size is one statement (one
/// round trip to SQLite's thread, its own transaction), and only eleven statements are
/// ever prepared (all stay in the statement cache).
fn insert_records(recs: &[Record]) -> QueryBuilder<'_, Sqlite> {
    let padding = statement_rows(recs.len()) - recs.len();
    let rows = recs.iter().map(Some).chain(std::iter::repeat_n(None, padding));
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("INSERT INTO records ({RECORD_COLS}) SELECT * FROM ("));
    q.push_values(rows, |mut b, r| {
        let Some(r) = r else {
            for _ in 0..RECORD_COL_COUNT {
                b.push_bind(None::<i64>);
            }
            return;
        };
        let e = &r.entry;
        b.push_bind(&r.chain)
            .push_bind(r.seq)
            .push_bind(&e.consent_id)
            .push_bind(&e.site)
            .push_bind(&e.policy_version)
            .push_bind(serde_json::to_string(&e.choices).unwrap_or_default())
            .push_bind(&e.action)
            .push_bind(e.gpc)
            .push_bind(e.dnt)
            .push_bind(&e.region)
            .push_bind(&e.mode)
            .push_bind(&e.language)
            .push_bind(&e.url)
            .push_bind(&e.ua_family)
            .push_bind(&e.ip_hash)
            .push_bind(e.recorded_at)
            .push_bind(e.expires_at)
            .push_bind(e.retain_until)
            .push_bind(&r.prev_hash)
            .push_bind(&r.hash);
    });
    // `VALUES` names its columns column1, column2, ...; the padding rows have no chain.
    q.push(") WHERE column1 IS NOT NULL");
    q
}

/// Columns bound per record.
const RECORD_COL_COUNT: usize = 20;

// The largest statement stays within SQLite's limit of bound values.
const _: () = assert!(MAX_STATEMENT_ROWS * RECORD_COL_COUNT <= 32_766);

const RECORD_COLS: &str = "chain, seq, consent_id, site, policy_version, choices, action, gpc, dnt, region, mode, \
    language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash";

fn record(row: &SqliteRow) -> Result<Record, StorageError> {
    let get = |e: sqlx::Error| StorageError::Corrupt(e.to_string());
    let choices: String = row.try_get("choices").map_err(get)?;
    Ok(Record {
        chain: row.try_get("chain").map_err(get)?,
        seq: row.try_get("seq").map_err(get)?,
        entry: Entry {
            consent_id: row.try_get("consent_id").map_err(get)?,
            site: row.try_get("site").map_err(get)?,
            policy_version: row.try_get("policy_version").map_err(get)?,
            choices: serde_json::from_str(&choices).map_err(|e| StorageError::Corrupt(format!("choices: {e}")))?,
            action: row.try_get("action").map_err(get)?,
            gpc: row.try_get("gpc").map_err(get)?,
            dnt: row.try_get("dnt").map_err(get)?,
            region: row.try_get("region").map_err(get)?,
            mode: row.try_get("mode").map_err(get)?,
            language: row.try_get("language").map_err(get)?,
            url: row.try_get("url").map_err(get)?,
            ua_family: row.try_get("ua_family").map_err(get)?,
            ip_hash: row.try_get("ip_hash").map_err(get)?,
            recorded_at: row.try_get("recorded_at").map_err(get)?,
            expires_at: row.try_get("expires_at").map_err(get)?,
            retain_until: row.try_get("retain_until").map_err(get)?,
        },
        prev_hash: row.try_get("prev_hash").map_err(get)?,
        hash: row.try_get("hash").map_err(get)?,
    })
}

fn checkpoint(row: &SqliteRow) -> Result<Checkpoint, StorageError> {
    let get = |e: sqlx::Error| StorageError::Corrupt(e.to_string());
    let kind: String = row.try_get("kind").map_err(get)?;
    Ok(Checkpoint {
        chain: row.try_get("chain").map_err(get)?,
        seq: row.try_get("seq").map_err(get)?,
        hash: row.try_get("hash").map_err(get)?,
        kind: CheckpointKind::parse(&kind).ok_or_else(|| StorageError::Corrupt(format!("checkpoint kind {kind}")))?,
        signed_at: row.try_get("signed_at").map_err(get)?,
        public_key: row.try_get("public_key").map_err(get)?,
        signature: row.try_get("signature").map_err(get)?,
    })
}

fn records(rows: &[SqliteRow]) -> Result<Vec<Record>, StorageError> {
    rows.iter().map(record).collect()
}

fn scan_row(row: &SqliteRow, with_report: bool) -> Result<ScanRow, StorageError> {
    let get = |e: sqlx::Error| StorageError::Corrupt(e.to_string());
    Ok(ScanRow {
        id: row.try_get("id").map_err(get)?,
        site: row.try_get("site").map_err(get)?,
        target: row.try_get("target").map_err(get)?,
        recorded_at: row.try_get("recorded_at").map_err(get)?,
        pages: row.try_get("pages").map_err(get)?,
        errors: row.try_get("errors").map_err(get)?,
        warnings: row.try_get("warnings").map_err(get)?,
        notes: row.try_get("notes").map_err(get)?,
        report: if with_report { row.try_get("report").map_err(get)? } else { String::new() },
    })
}

#[async_trait]
impl ScanStore for SqliteStorage {
    async fn add_scan(&self, scan: &ScanRow) -> Result<i64, StorageError> {
        let row = sqlx::query("INSERT INTO scans (site, target, recorded_at, pages, errors, warnings, notes, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
            .bind(&scan.site)
            .bind(&scan.target)
            .bind(scan.recorded_at)
            .bind(scan.pages)
            .bind(scan.errors)
            .bind(scan.warnings)
            .bind(scan.notes)
            .bind(&scan.report)
            .fetch_one(&self.writer)
            .await
            .map_err(unavailable)?;
        row.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    async fn scans(&self, site: Option<&str>, limit: i64) -> Result<Vec<ScanRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, site, target, recorded_at, pages, errors, warnings, notes FROM scans \
             WHERE (?1 IS NULL OR site = ?1) ORDER BY recorded_at DESC, id DESC LIMIT ?2",
        )
        .bind(site)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| scan_row(r, false)).collect()
    }

    async fn scan(&self, id: i64) -> Result<Option<ScanRow>, StorageError> {
        let row = sqlx::query("SELECT * FROM scans WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| scan_row(&r, true)).transpose()
    }
}

#[async_trait]
impl AdminStore for SqliteStorage {
    async fn set_admin_user(&self, name: &str, password_hash: &str, now: i64) -> Result<bool, StorageError> {
        let mut tx = self.writer.begin().await.map_err(unavailable)?;
        let existed = sqlx::query("SELECT 1 FROM admin_users WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .is_some();
        sqlx::query(
            "INSERT INTO admin_users (name, password_hash, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
        )
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(!existed)
    }

    async fn admin_password_hash(&self, name: &str) -> Result<Option<String>, StorageError> {
        let row = sqlx::query("SELECT password_hash FROM admin_users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| r.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))).transpose()
    }

    async fn admin_users(&self) -> Result<Vec<String>, StorageError> {
        let rows = sqlx::query("SELECT name FROM admin_users ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(|r| r.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))).collect()
    }

    async fn delete_admin_user(&self, name: &str) -> Result<bool, StorageError> {
        let mut tx = self.writer.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let n = sqlx::query("DELETE FROM admin_users WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        tx.commit().await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn add_admin_session(
        &self,
        token_hash: &str,
        name: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= ?")
            .bind(created_at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO admin_sessions (token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)")
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
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| r.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))).transpose()
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn start_chain(&self, chain: &str, started_at: i64) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO chains (chain, started_at) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(chain)
            .bind(started_at)
            .execute(&self.writer)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn chains(&self) -> Result<Vec<String>, StorageError> {
        let rows = sqlx::query(
            "SELECT chain FROM chains UNION SELECT DISTINCT chain FROM records \
             UNION SELECT DISTINCT chain FROM checkpoints ORDER BY chain",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| r.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))).collect()
    }

    async fn chain_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError> {
        let row = sqlx::query("SELECT seq, hash FROM records WHERE chain = ? ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(|e: sqlx::Error| StorageError::Corrupt(e.to_string()))
    }

    async fn append(&self, recs: &[Record]) -> Result<(), StorageError> {
        if recs.len() <= MAX_STATEMENT_ROWS {
            // One statement in autocommit mode is its own transaction (atomic, and on disk
            // when it returns with `synchronous = FULL`): no BEGIN and COMMIT round trips.
            insert_records(recs).build().execute(&self.writer).await.map_err(unavailable)?;
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(unavailable)?;
        for chunk in recs.chunks(MAX_STATEMENT_ROWS) {
            insert_records(chunk).build().execute(&mut *tx).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn records(&self, chain: &str, after: i64, limit: i64) -> Result<Vec<Record>, StorageError> {
        let rows =
            sqlx::query(&format!("SELECT {RECORD_COLS} FROM records WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?"))
                .bind(chain)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        records(&rows)
    }

    async fn history(&self, consent_id: &str) -> Result<Vec<Record>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE consent_id = ? ORDER BY recorded_at, chain, seq"
        ))
        .bind(consent_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        records(&rows)
    }

    async fn export(
        &self,
        site: Option<&str>,
        from: i64,
        to: i64,
        after: Option<(i64, String, i64)>,
        limit: i64,
    ) -> Result<Vec<Record>, StorageError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {RECORD_COLS} FROM records WHERE "));
        q.push("recorded_at >= ").push_bind(from).push(" AND recorded_at < ").push_bind(to);
        if let Some(site) = site {
            q.push(" AND site = ").push_bind(site.to_string());
        }
        if let Some((t, c, s)) = after {
            q.push(" AND (recorded_at, chain, seq) > (").push_bind(t).push(", ").push_bind(c).push(", ");
            q.push_bind(s).push(")");
        }
        q.push(" ORDER BY recorded_at, chain, seq LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await.map_err(unavailable)?;
        records(&rows)
    }

    async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO checkpoints (chain, seq, kind, hash, signed_at, public_key, signature) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&cp.chain)
        .bind(cp.seq)
        .bind(cp.kind.as_str())
        .bind(&cp.hash)
        .bind(cp.signed_at)
        .bind(&cp.public_key)
        .bind(&cp.signature)
        .execute(&self.writer)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn checkpoints(&self, chain: &str) -> Result<Vec<Checkpoint>, StorageError> {
        let rows = sqlx::query(
            "SELECT chain, seq, kind, hash, signed_at, public_key, signature FROM checkpoints \
             WHERE chain = ? ORDER BY seq, kind",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(checkpoint).collect()
    }

    async fn expired_prefix(&self, chain: &str, now: i64) -> Result<Option<i64>, StorageError> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(seq) FROM records WHERE chain = ?1 AND retain_until >= ?2), \
                    (SELECT MIN(seq) FROM records WHERE chain = ?1), (SELECT MAX(seq) FROM records WHERE chain = ?1)",
        )
        .bind(chain)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let kept: Option<i64> = row.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let first: Option<i64> = row.try_get(1).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let last: Option<i64> = row.try_get(2).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(match (first, kept, last) {
            (None, _, _) => None,
            (Some(f), Some(k), _) if k <= f => None,
            (Some(_), Some(k), _) => Some(k - 1),
            (Some(_), None, last) => last,
        })
    }

    async fn delete_through(&self, chain: &str, through: i64) -> Result<u64, StorageError> {
        let r = sqlx::query("DELETE FROM records WHERE chain = ? AND seq <= ?")
            .bind(chain)
            .bind(through)
            .execute(&self.writer)
            .await
            .map_err(unavailable)?;
        Ok(r.rows_affected())
    }

    async fn add_version(&self, row: &PolicyVersionRow) -> Result<bool, StorageError> {
        let r = sqlx::query(
            "INSERT INTO policy_versions (site, version, material, first_seen, snapshot) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&row.site)
        .bind(&row.version)
        .bind(row.material)
        .bind(row.first_seen)
        .bind(&row.snapshot)
        .execute(&self.writer)
        .await
        .map_err(unavailable)?;
        Ok(r.rows_affected() == 1)
    }

    async fn versions(&self, site: &str) -> Result<Vec<PolicyVersionRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT site, version, material, first_seen, snapshot FROM policy_versions WHERE site = ? \
             ORDER BY first_seen, version",
        )
        .bind(site)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(PolicyVersionRow {
                    site: r.try_get(0)?,
                    version: r.try_get(1)?,
                    material: r.try_get(2)?,
                    first_seen: r.try_get(3)?,
                    snapshot: r.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    async fn stats(&self, site: Option<&str>, from: i64, to: i64) -> Result<Stats, StorageError> {
        let corrupt = |e: sqlx::Error| StorageError::Corrupt(e.to_string());
        let query = |select: &str, group: Option<&str>| {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {select} FROM records"));
            q.push(" WHERE recorded_at >= ").push_bind(from).push(" AND recorded_at < ").push_bind(to);
            if let Some(site) = site {
                q.push(" AND site = ").push_bind(site.to_string());
            }
            if let Some(col) = group {
                q.push(format!(" GROUP BY {col} ORDER BY {col}"));
            }
            q
        };
        let mut q = query("COUNT(*), COUNT(DISTINCT consent_id), MIN(recorded_at), MAX(recorded_at)", None);
        let row = q.build().fetch_one(&self.pool).await.map_err(unavailable)?;
        let mut st = Stats {
            records: row.try_get(0).map_err(corrupt)?,
            consent_ids: row.try_get(1).map_err(corrupt)?,
            first_at: row.try_get(2).map_err(corrupt)?,
            last_at: row.try_get(3).map_err(corrupt)?,
            ..Stats::default()
        };
        for col in ["action", "site"] {
            let mut q = query(&format!("{col}, COUNT(*)"), Some(col));
            let rows = q.build().fetch_all(&self.pool).await.map_err(unavailable)?;
            let mut out = Vec::new();
            for r in rows {
                out.push((r.try_get(0).map_err(corrupt)?, r.try_get(1).map_err(corrupt)?));
            }
            if col == "action" {
                st.by_action = out;
            } else {
                st.by_site = out;
            }
        }
        st.chains = self.chains().await?.len() as i64;
        let row = sqlx::query("SELECT COUNT(*) FROM checkpoints").fetch_one(&self.pool).await.map_err(unavailable)?;
        st.checkpoints = row.try_get(0).map_err(corrupt)?;
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn fresh() -> Arc<dyn Storage> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        // Keep the directory for the test's lifetime.
        std::mem::forget(dir);
        Arc::new(SqliteStorage::open(&url).await.expect("open sqlite"))
    }

    crumb_ledger::conformance_tests!(fresh());

    #[test]
    fn every_batch_size_has_one_statement() {
        assert_eq!(statement_rows(1), 1);
        assert_eq!(statement_rows(3), 4);
        assert_eq!(statement_rows(106), 128);
        assert_eq!(statement_rows(1024), 1024);
        assert_eq!(RECORD_COLS.split(',').count(), RECORD_COL_COUNT);
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
