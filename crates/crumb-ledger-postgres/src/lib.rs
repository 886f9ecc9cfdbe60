//! PostgreSQL storage for Crumb's consent ledger.
//!
//! Opened from a `postgres://...` URL and migrated with the embedded migrations in
//! `migrations/`. Commits are durable with PostgreSQL's default `synchronous_commit = on`.
//! Several servers may write at once: each appends to its own chain, so the only
//! contention is on indexes, never on a global lock.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use crumb_ledger::{
    AdminStore, Checkpoint, CheckpointKind, Entry, PolicyVersionRow, Record, ScanRow, ScanStore, Stats, Storage,
    StorageError,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

/// The PostgreSQL ledger.
#[derive(Clone, Debug)]
pub struct PgStorage {
    pool: PgPool,
}

fn unavailable(e: sqlx::Error) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

impl PgStorage {
    /// Connect to and migrate the database at `url` (`postgres://user@host:5432/db`).
    pub async fn open(url: &str) -> Result<Self, StorageError> {
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
        Ok(PgStorage { pool })
    }

    /// The pool, for tests that tamper with rows directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The batch INSERT: one array per column, in [`RECORD_COLS`] order.
const INSERT_UNNEST: &str = "INSERT INTO records (chain, seq, consent_id, site, policy_version, choices, action, gpc, \
    dnt, region, mode, language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash) \
    SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
    $8::boolean[], $9::boolean[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], \
    $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[])";

const RECORD_COLS: &str = "chain, seq, consent_id, site, policy_version, choices, action, gpc, dnt, region, mode, \
    language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash";

fn record(row: &PgRow) -> Result<Record, StorageError> {
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

fn checkpoint(row: &PgRow) -> Result<Checkpoint, StorageError> {
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

fn records(rows: &[PgRow]) -> Result<Vec<Record>, StorageError> {
    rows.iter().map(record).collect()
}

fn scan_row(row: &PgRow, with_report: bool) -> Result<ScanRow, StorageError> {
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
impl ScanStore for PgStorage {
    async fn add_scan(&self, scan: &ScanRow) -> Result<i64, StorageError> {
        let row = sqlx::query("INSERT INTO scans (site, target, recorded_at, pages, errors, warnings, notes, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(&scan.site)
            .bind(&scan.target)
            .bind(scan.recorded_at)
            .bind(scan.pages)
            .bind(scan.errors)
            .bind(scan.warnings)
            .bind(scan.notes)
            .bind(&scan.report)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        row.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    async fn scans(&self, site: Option<&str>, limit: i64) -> Result<Vec<ScanRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, site, target, recorded_at, pages, errors, warnings, notes FROM scans \
             WHERE ($1 IS NULL OR site = $1) ORDER BY recorded_at DESC, id DESC LIMIT $2",
        )
        .bind(site)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| scan_row(r, false)).collect()
    }

    async fn scan(&self, id: i64) -> Result<Option<ScanRow>, StorageError> {
        let row = sqlx::query("SELECT * FROM scans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| scan_row(&r, true)).transpose()
    }
}

#[async_trait]
impl AdminStore for PgStorage {
    async fn set_admin_user(&self, name: &str, password_hash: &str, now: i64) -> Result<bool, StorageError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
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
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("DELETE FROM admin_sessions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let n = sqlx::query("DELETE FROM admin_users WHERE name = $1")
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
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
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
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| r.try_get(0).map_err(|e| StorageError::Corrupt(e.to_string()))).transpose()
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    async fn start_chain(&self, chain: &str, started_at: i64) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO chains (chain, started_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(chain)
            .bind(started_at)
            .execute(&self.pool)
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
        let row = sqlx::query("SELECT seq, hash FROM records WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(|e: sqlx::Error| StorageError::Corrupt(e.to_string()))
    }

    async fn append(&self, recs: &[Record]) -> Result<(), StorageError> {
        if recs.is_empty() {
            return Ok(());
        }
        // One statement for the whole batch, whatever its size: each column is bound as an
        // array and UNNEST turns the arrays back into rows. The statement text never
        // changes, so it is prepared once per connection; a single statement is its own
        // transaction (atomic, committed before it returns).
        let col = |f: fn(&Record) -> String| recs.iter().map(f).collect::<Vec<String>>();
        let opt = |f: fn(&Record) -> Option<String>| recs.iter().map(f).collect::<Vec<Option<String>>>();
        let int = |f: fn(&Record) -> i64| recs.iter().map(f).collect::<Vec<i64>>();
        let flag = |f: fn(&Record) -> bool| recs.iter().map(f).collect::<Vec<bool>>();
        sqlx::query(INSERT_UNNEST)
            .bind(col(|r| r.chain.clone()))
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
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn records(&self, chain: &str, after: i64, limit: i64) -> Result<Vec<Record>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
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
            "SELECT {RECORD_COLS} FROM records WHERE consent_id = $1 ORDER BY recorded_at, chain, seq"
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
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT {RECORD_COLS} FROM records WHERE "));
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
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&cp.chain)
        .bind(cp.seq)
        .bind(cp.kind.as_str())
        .bind(&cp.hash)
        .bind(cp.signed_at)
        .bind(&cp.public_key)
        .bind(&cp.signature)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn checkpoints(&self, chain: &str) -> Result<Vec<Checkpoint>, StorageError> {
        let rows = sqlx::query(
            "SELECT chain, seq, kind, hash, signed_at, public_key, signature FROM checkpoints \
             WHERE chain = $1 ORDER BY seq, kind",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(checkpoint).collect()
    }

    async fn expired_prefix(&self, chain: &str, now: i64) -> Result<Option<i64>, StorageError> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(seq) FROM records WHERE chain = $1 AND retain_until >= $2), \
                    (SELECT MIN(seq) FROM records WHERE chain = $1), (SELECT MAX(seq) FROM records WHERE chain = $1)",
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
        let r = sqlx::query("DELETE FROM records WHERE chain = $1 AND seq <= $2")
            .bind(chain)
            .bind(through)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(r.rows_affected())
    }

    async fn add_version(&self, row: &PolicyVersionRow) -> Result<bool, StorageError> {
        let r = sqlx::query(
            "INSERT INTO policy_versions (site, version, material, first_seen, snapshot) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&row.site)
        .bind(&row.version)
        .bind(row.material)
        .bind(row.first_seen)
        .bind(&row.snapshot)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(r.rows_affected() == 1)
    }

    async fn versions(&self, site: &str) -> Result<Vec<PolicyVersionRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT site, version, material, first_seen, snapshot FROM policy_versions WHERE site = $1 \
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
            let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT {select} FROM records"));
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
        let db = tokio::task::spawn_blocking(crumb_testkit::postgres::database).await.expect("create database");
        Arc::new(PgStorage::open(&db.url).await.expect("open postgres"))
    }

    crumb_ledger::conformance_tests!(fresh());
}
