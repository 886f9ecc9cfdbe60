//! [`Storage`] once for both databases; `append` is the backend's own.

use async_trait::async_trait;
use crumb_ledger::aggregates::{AggQuery, AggRow};
use crumb_ledger::{Checkpoint, PolicyVersionRow, Record, Stats, Storage, StorageError};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::aggregates::{self as agg, Scope};
use crate::rows::{Decodes, checkpoint, records};
use crate::{Backend, RECORD_COLS, SqlStorage, unavailable};

#[async_trait]
impl<B> Storage for SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
{
    async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.reads).await.map_err(unavailable)?;
        Ok(())
    }

    async fn start_chain(&self, chain: &str, started_at: i64) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO chains (chain, started_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(chain)
            .bind(started_at)
            .execute(&self.writes)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn chains(&self) -> Result<Vec<String>, StorageError> {
        let rows = sqlx::query(
            "SELECT chain FROM chains UNION SELECT DISTINCT chain FROM records \
             UNION SELECT DISTINCT chain FROM checkpoints UNION SELECT DISTINCT chain FROM batches ORDER BY chain",
        )
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| r.text_at(0)).collect()
    }

    async fn chain_head(&self, chain: &str) -> Result<Option<(i64, String)>, StorageError> {
        let row = sqlx::query("SELECT seq, hash FROM records WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
            .bind(chain)
            .fetch_optional(&self.reads)
            .await
            .map_err(unavailable)?;
        row.map(|r| Ok((r.int_at(0)?, r.text_at(1)?))).transpose()
    }

    async fn append(&self, recs: &[Record]) -> Result<(), StorageError> {
        if recs.is_empty() {
            return Ok(());
        }
        // The records and their counts commit together or not at all.
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        crate::counting::insert_counted::<B>(&mut tx, recs).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn records(&self, chain: &str, after: i64, limit: i64) -> Result<Vec<Record>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(chain)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        records(&rows)
    }

    async fn history(&self, consent_id: &str) -> Result<Vec<Record>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLS} FROM records WHERE consent_id = $1 ORDER BY recorded_at, chain, seq"
        ))
        .bind(consent_id)
        .fetch_all(&self.reads)
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
        // Placeholders are numbered as the optional conditions are added, and bound in the
        // same order.
        let mut sql = format!("SELECT {RECORD_COLS} FROM records WHERE recorded_at >= $1 AND recorded_at < $2");
        let mut n = 2;
        if site.is_some() {
            n += 1;
            sql.push_str(&format!(" AND site = ${n}"));
        }
        if after.is_some() {
            sql.push_str(&format!(" AND (recorded_at, chain, seq) > (${}, ${}, ${})", n + 1, n + 2, n + 3));
            n += 3;
        }
        sql.push_str(&format!(" ORDER BY recorded_at, chain, seq LIMIT ${}", n + 1));
        let mut q = sqlx::query(&sql).bind(from).bind(to);
        if let Some(site) = site {
            q = q.bind(site);
        }
        if let Some((t, c, s)) = &after {
            q = q.bind(*t).bind(c.as_str()).bind(*s);
        }
        let rows = q.bind(limit).fetch_all(&self.reads).await.map_err(unavailable)?;
        records(&rows)
    }

    async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO checkpoints (chain, seq, kind, hash, signed_at, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(cp.chain.as_str())
        .bind(cp.seq)
        .bind(cp.kind.as_str())
        .bind(cp.hash.as_str())
        .bind(cp.signed_at)
        .bind(cp.public_key.as_str())
        .bind(cp.signature.as_str())
        .execute(&self.writes)
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
        .fetch_all(&self.reads)
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
        .fetch_one(&self.reads)
        .await
        .map_err(unavailable)?;
        let (kept, first, last) = (row.opt_int_at(0)?, row.opt_int_at(1)?, row.opt_int_at(2)?);
        Ok(match (first, kept, last) {
            (None, _, _) => None,
            (Some(f), Some(k), _) if k <= f => None,
            (Some(_), Some(k), _) => Some(k - 1),
            (Some(_), None, last) => last,
        })
    }

    async fn delete_through(&self, chain: &str, through: i64) -> Result<u64, StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        let days = agg::days_touched_by_delete::<B>(&mut tx, chain, through).await?;
        let done = sqlx::query("DELETE FROM records WHERE chain = $1 AND seq <= $2")
            .bind(chain)
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        agg::recount::<B>(&mut tx, &days).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(B::rows_affected(&done))
    }

    async fn add_version(&self, row: &PolicyVersionRow) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "INSERT INTO policy_versions (site, version, material, first_seen, snapshot) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(row.site.as_str())
        .bind(row.version.as_str())
        .bind(row.material)
        .bind(row.first_seen)
        .bind(row.snapshot.as_str())
        .execute(&self.writes)
        .await
        .map_err(unavailable)?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn versions(&self, site: &str) -> Result<Vec<PolicyVersionRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT site, version, material, first_seen, snapshot FROM policy_versions WHERE site = $1 \
             ORDER BY first_seen, version",
        )
        .bind(site)
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                Ok(PolicyVersionRow {
                    site: r.text_at(0)?,
                    version: r.text_at(1)?,
                    material: r.flag_at(2)?,
                    first_seen: r.int_at(3)?,
                    snapshot: r.text_at(4)?,
                })
            })
            .collect()
    }

    async fn stats(&self, site: Option<&str>, from: i64, to: i64) -> Result<Stats, StorageError> {
        let sql = |select: &str, group: Option<&str>| {
            let mut sql = format!("SELECT {select} FROM records WHERE recorded_at >= $1 AND recorded_at < $2");
            if site.is_some() {
                sql.push_str(" AND site = $3");
            }
            if let Some(col) = group {
                sql.push_str(&format!(" GROUP BY {col} ORDER BY {col}"));
            }
            sql
        };
        let totals = sql("COUNT(*), COUNT(DISTINCT consent_id), MIN(recorded_at), MAX(recorded_at)", None);
        let mut q = sqlx::query(&totals).bind(from).bind(to);
        if let Some(site) = site {
            q = q.bind(site);
        }
        let row = q.fetch_one(&self.reads).await.map_err(unavailable)?;
        let mut st = Stats {
            records: row.int_at(0)?,
            consent_ids: row.int_at(1)?,
            first_at: row.opt_int_at(2)?,
            last_at: row.opt_int_at(3)?,
            ..Stats::default()
        };
        for col in ["action", "site"] {
            let counts = sql(&format!("{col}, COUNT(*)"), Some(col));
            let mut q = sqlx::query(&counts).bind(from).bind(to);
            if let Some(site) = site {
                q = q.bind(site);
            }
            let rows = q.fetch_all(&self.reads).await.map_err(unavailable)?;
            let counts = rows.iter().map(|r| Ok((r.text_at(0)?, r.int_at(1)?))).collect::<Result<_, StorageError>>()?;
            if col == "action" {
                st.by_action = counts;
            } else {
                st.by_site = counts;
            }
        }
        st.chains = self.chains().await?.len() as i64;
        let row = sqlx::query("SELECT COUNT(*) FROM checkpoints").fetch_one(&self.reads).await.map_err(unavailable)?;
        st.checkpoints = row.int_at(0)?;
        Ok(st)
    }

    async fn aggregates(&self, q: &AggQuery) -> Result<Vec<AggRow>, StorageError> {
        let sql = agg::query_sql(q)?;
        let mut query = sqlx::query(&sql).bind(q.from).bind(q.to);
        if let Some(site) = &q.site {
            query = query.bind(site.as_str());
        }
        let rows = query.fetch_all(&self.reads).await.map_err(unavailable)?;
        rows.iter().map(|r| agg::answer_row(q, r)).collect()
    }

    async fn rebuild_aggregates(&self) -> Result<(), StorageError> {
        let mut tx = self.writes.begin().await.map_err(unavailable)?;
        for table in ["agg_decisions", "agg_categories", "agg_hours", "agg_days"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await.map_err(unavailable)?;
        }
        agg::add::<B>(&mut tx, Scope::Range(None, i64::MIN, i64::MAX)).await?;
        tx.commit().await.map_err(unavailable)
    }
}
