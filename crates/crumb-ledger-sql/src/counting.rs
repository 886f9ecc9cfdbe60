//! A batch's [aggregates](crumb_ledger::aggregates), counted in memory from its records
//! ([`crumb_ledger::aggregates::count`]) inside the transaction that inserts them: one query
//! for the batch's visitors' earliest stored decisions (before the insert), the backend's
//! insert, and one multi-row upsert per table. Rows are written in key order, so two
//! servers' batches lock shared buckets in the same order. Days whose first decision the
//! batch displaces are recounted from the records ([`crate::aggregates::recount`]).

use std::collections::HashMap;

use crumb_ledger::aggregates::{self, Buckets, Key, StoredFirst, Table};
use crumb_ledger::{Record, SignedBatch, StorageError};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Type};

use crate::aggregates::{column, table_name};
use crate::rows::Decodes;
use crate::stmt::{Arg, MAX_STATEMENT_ROWS, Stmt, padded_records_insert, placeholders};
use crate::{BATCH_COLS, Backend, unavailable};

/// The most consent ids one lookup binds; a lookup binds a power of two of them (the
/// last repeated), so few statement texts are ever prepared.
const MAX_IDS: usize = 256;
/// The most rows one upsert writes.
const MAX_ROWS: usize = 128;

/// Insert `recs` (any records, on the transaction `conn`) and count them into the
/// aggregates, one statement per upsert.
pub(crate) async fn insert_counted<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
) -> Result<(), StorageError>
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
    if recs.is_empty() {
        return Ok(());
    }
    let stored = earliest_stored::<B>(conn, recs, "").await?;
    B::insert(&mut *conn, recs).await?;
    let buckets = aggregates::count(recs, &stored);
    for stmt in upserts(&buckets, B::NUMBERED, None)? {
        stmt.query::<B>().execute(&mut *conn).await.map_err(unavailable)?;
    }
    recount_displaced::<B>(conn, recs, &stored).await
}

/// Insert a signed batch's `recs`, count them, raise the log's size and store `batch` at
/// the log position it had, on the transaction `conn`; returns that position. Where the
/// database runs several statements as one (SQLite) or data-modifying `WITH` clauses
/// (PostgreSQL), the upserts, the counter and the batch row are one round trip.
pub(crate) async fn insert_batch<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
    batch: &SignedBatch,
) -> Result<i64, StorageError>
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
    let stored = if recs.is_empty() { HashMap::new() } else { earliest_stored::<B>(conn, recs, "").await? };
    B::insert(&mut *conn, recs).await?;
    let buckets = aggregates::count(recs, &stored);
    let mut parts = upserts(&buckets, B::NUMBERED, Some(1))?;
    let bound: usize = parts.iter().map(|p| p.args.len()).sum();
    if bound + BATCH_ARGS > MAX_ARGS {
        for stmt in parts.drain(..) {
            stmt.query::<B>().execute(&mut *conn).await.map_err(unavailable)?;
        }
    }
    let first = parts.iter().map(|p| p.args.len()).sum::<usize>() + 1;
    let row =
        batch_row(parts, false, batch, B::NUMBERED.then_some(first), false).query::<B>().fetch_one(&mut *conn).await;
    let log_index = row.map_err(unavailable)?.int_at(0)?;
    recount_displaced::<B>(conn, recs, &stored).await?;
    Ok(log_index)
}

/// A pooled connection inside a transaction begun by SQL of this module's own: dropped
/// before the transaction ends (an append cancelled by its timeout), the connection is
/// closed, which rolls the transaction back, instead of going back to the pool inside it.
struct Open<DB: Database> {
    conn: PoolConnection<DB>,
    open: bool,
}

impl<DB: Database> Drop for Open<DB> {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

/// [`insert_batch`] and its transaction in two round trips, for a database that runs several
/// statements as one command (SQLite, [`Backend::MULTI_STATEMENT`]): `BEGIN` with the lookup
/// of the batch's visitors, then the insert, the upserts, the counter, the batch row and
/// `COMMIT`. A batch too large for one command, or one that displaces a stored first
/// decision (a recount), runs its statements one by one in the same transaction.
pub(crate) async fn append_batch_multi<B>(
    pool: &Pool<B::Db>,
    recs: &[Record],
    batch: &SignedBatch,
) -> Result<i64, StorageError>
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
    let mut tx = Open { conn: pool.acquire().await.map_err(unavailable)?, open: true };
    let result = multi_once::<B>(&mut tx.conn, recs, batch).await;
    // Committed, or undone; a connection that cannot roll back is closed (see `Open`).
    if result.is_ok() || sqlx::query("ROLLBACK").execute(&mut *tx.conn).await.is_ok() {
        tx.open = false;
    }
    result
}

async fn multi_once<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
    batch: &SignedBatch,
) -> Result<i64, StorageError>
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
    const BEGIN: &str = "BEGIN IMMEDIATE";
    let stored = if recs.is_empty() {
        sqlx::query(BEGIN).execute(&mut *conn).await.map_err(unavailable)?;
        HashMap::new()
    } else {
        earliest_stored::<B>(conn, recs, &format!("{BEGIN}; ")).await?
    };
    let buckets = aggregates::count(recs, &stored);
    let displaced = !aggregates::displaced_days(recs, &stored).is_empty();
    if recs.len() <= MAX_STATEMENT_ROWS && !displaced {
        let insert = padded_records_insert(recs, B::NUMBERED.then_some(1));
        let mut parts = upserts(&buckets, B::NUMBERED, Some(insert.args.len() + 1))?;
        parts.insert(0, insert);
        let first = parts.iter().map(|p| p.args.len()).sum::<usize>() + 1;
        if first + BATCH_ARGS <= MAX_ARGS {
            let stmt = batch_row(parts, true, batch, B::NUMBERED.then_some(first), true);
            let rows = stmt.query::<B>().fetch_all(&mut *conn).await.map_err(unavailable)?;
            let row = rows.first().ok_or_else(|| StorageError::Unavailable("the log counter is missing".into()))?;
            return row.int_at(0);
        }
    }
    B::insert(&mut *conn, recs).await?;
    for stmt in upserts(&buckets, B::NUMBERED, None)? {
        stmt.query::<B>().execute(&mut *conn).await.map_err(unavailable)?;
    }
    let stmt = batch_row(Vec::new(), true, batch, B::NUMBERED.then_some(1), false);
    let log_index = stmt.query::<B>().fetch_one(&mut *conn).await.map_err(unavailable)?.int_at(0)?;
    recount_displaced::<B>(conn, recs, &stored).await?;
    sqlx::query("COMMIT").execute(&mut *conn).await.map_err(unavailable)?;
    Ok(log_index)
}

/// Recount the days whose first decision a record of `recs` displaced.
async fn recount_displaced<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
    stored: &HashMap<String, StoredFirst>,
) -> Result<(), StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
{
    let days: Vec<(String, i64)> = aggregates::displaced_days(recs, stored).into_iter().collect();
    crate::aggregates::recount::<B>(conn, &days).await
}

/// Whether `a` comes before `b` in `(recorded_at, chain, seq)` order.
fn earlier(a: &StoredFirst, b: &StoredFirst) -> bool {
    (a.recorded_at, a.chain.as_str(), a.seq) < (b.recorded_at, b.chain.as_str(), b.seq)
}

/// The earliest stored decision of each visitor with a record in `recs`.
async fn earliest_stored<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
    mut prefix: &str,
) -> Result<HashMap<String, StoredFirst>, StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
{
    let mut ids: Vec<&str> = recs.iter().map(|r| r.entry.consent_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(MAX_IDS) {
        let n = chunk.len().next_power_of_two();
        // Every stored record of these visitors, one index lookup each (a visitor has a
        // few); the earliest of each is picked here. One equality per branch: PostgreSQL
        // without fresh statistics plans `IN` of many values, or a `NOT EXISTS` for the
        // earliest, as a scan of the whole table.
        let branches: Vec<String> = (0..n)
            .map(|i| {
                let at = placeholders(B::NUMBERED.then_some(i + 1), 1);
                format!("SELECT consent_id, recorded_at, chain, seq, site FROM records WHERE consent_id = {at}")
            })
            .collect();
        let sql = format!("{prefix}{}", branches.join(" UNION ALL "));
        prefix = "";
        let mut q = sqlx::query(&sql).persistent(!B::PLAN_EACH_LOOKUP);
        for i in 0..n {
            q = q.bind(chunk[i.min(chunk.len() - 1)]);
        }
        for r in q.fetch_all(&mut *conn).await.map_err(unavailable)? {
            let first =
                StoredFirst { recorded_at: r.int_at(1)?, chain: r.text_at(2)?, seq: r.int_at(3)?, site: r.text_at(4)? };
            let id = r.text_at(0)?;
            match out.get(&id) {
                Some(have) if earlier(have, &first) => {}
                _ => {
                    out.insert(id, first);
                }
            }
        }
    }
    Ok(out)
}

/// The most values one query binds when statements are combined (SQLite allows 32,766,
/// PostgreSQL 65,535); a batch whose counts need more writes them one statement each.
const MAX_ARGS: usize = 30_000;
/// Values the batch row binds.
const BATCH_ARGS: usize = 7;

/// The upserts adding `buckets` to the four tables, in table and key order. Numbered from
/// `$1` each, or, given a `start`, the first from there and each after from where the one
/// before stopped (to be run as one query).
fn upserts(buckets: &Buckets, numbered: bool, start: Option<usize>) -> Result<Vec<Stmt<'_>>, StorageError> {
    let continuous = start.is_some();
    let mut out = Vec::new();
    let mut next = start.unwrap_or(1);
    for table in [Table::Decisions, Table::Categories, Table::Hours, Table::Days] {
        let rows: Vec<_> = buckets.iter().filter(|((t, _), _)| *t == table).collect();
        for chunk in rows.chunks(MAX_ROWS) {
            if !continuous {
                next = 1;
            }
            let sql = upsert_sql(table, chunk.len(), numbered.then_some(next))?;
            let mut args = Vec::new();
            for ((_, keys), (n, first_at, last_at)) in chunk {
                args.extend(keys.iter().map(|k| match k {
                    Key::Text(t) => Arg::Text(t.as_str()),
                    Key::Time(t) => Arg::Int(*t),
                    Key::Flag(f) => Arg::Flag(*f),
                }));
                args.push(Arg::Int(*n));
                if table.timed() {
                    args.push(Arg::Int(first_at.unwrap_or_default()));
                    args.push(Arg::Int(last_at.unwrap_or_default()));
                }
            }
            next += args.len();
            out.push(Stmt { sql, args });
        }
    }
    Ok(out)
}

/// `INSERT INTO <table> ... VALUES <rows> ON CONFLICT (<keys>) DO UPDATE` with placeholders
/// from `$first`: counts add up, first and last times widen.
fn upsert_sql(table: Table, rows: usize, first: Option<usize>) -> Result<String, StorageError> {
    let name = table_name(table);
    let keys = table.dims().iter().map(|d| column(table, *d)).collect::<Result<Vec<_>, _>>()?.join(", ");
    let width = table.dims().len() + if table.timed() { 3 } else { 1 };
    let values = (0..rows)
        .map(|r| format!("({})", placeholders(first.map(|f| f + r * width), width)))
        .collect::<Vec<_>>()
        .join(", ");
    let (cols, set) = if table.timed() {
        (
            format!("{keys}, n, first_at, last_at"),
            format!(
                "n = {name}.n + excluded.n, \
                 first_at = CASE WHEN excluded.first_at < {name}.first_at THEN excluded.first_at ELSE {name}.first_at END, \
                 last_at = CASE WHEN excluded.last_at > {name}.last_at THEN excluded.last_at ELSE {name}.last_at END"
            ),
        )
    } else {
        (format!("{keys}, n"), format!("n = {name}.n + excluded.n"))
    };
    Ok(format!("INSERT INTO {name} ({cols}) VALUES {values} ON CONFLICT ({keys}) DO UPDATE SET {set}"))
}

/// `parts`, then the log counter raised and `batch` stored at the position it had, as one
/// query that answers the position: statements one after another (`multi`, SQLite) or data-
/// modifying `WITH` clauses (PostgreSQL). The batch's values are `$first..`; `commit` ends
/// the transaction in the same query (`multi` only).
fn batch_row<'a>(
    parts: Vec<Stmt<'a>>,
    multi: bool,
    batch: &'a SignedBatch,
    first: Option<usize>,
    commit: bool,
) -> Stmt<'a> {
    let values = placeholders(first, BATCH_ARGS);
    let mut args: Vec<Arg<'a>> = Vec::new();
    let mut sqls = Vec::new();
    for p in parts {
        sqls.push(p.sql);
        args.extend(p.args);
    }
    let sql = if multi {
        sqls.push("UPDATE ledger_log SET size = size + 1 WHERE id = 1".into());
        sqls.push(format!(
            "INSERT INTO batches ({BATCH_COLS}) SELECT size - 1, {values} FROM ledger_log WHERE id = 1 RETURNING log_index"
        ));
        if commit {
            sqls.push("COMMIT".into());
        }
        sqls.join(";\n")
    } else {
        let mut with: Vec<String> = sqls.into_iter().enumerate().map(|(i, s)| format!("u{i} AS ({s})")).collect();
        with.push("pos AS (UPDATE ledger_log SET size = size + 1 WHERE id = 1 RETURNING size - 1 AS i)".into());
        format!(
            "WITH {} INSERT INTO batches ({BATCH_COLS}) SELECT i, {values} FROM pos RETURNING log_index",
            with.join(", ")
        )
    };
    args.extend([
        Arg::Text(batch.chain.as_str()),
        Arg::Int(batch.first_seq),
        Arg::Int(batch.last_seq),
        Arg::Text(batch.root.as_str()),
        Arg::Int(batch.signed_at),
        Arg::Text(batch.public_key.as_str()),
        Arg::Text(batch.signature.as_str()),
    ]);
    Stmt { sql, args }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_statements_number_their_values_row_by_row() {
        let sql = upsert_sql(Table::Hours, 2, Some(1)).expect("sql");
        assert!(
            sql.starts_with("INSERT INTO agg_hours (site, hour_at, action, is_first, n, first_at, last_at) VALUES")
        );
        assert!(sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14) ON CONFLICT"));
        let sql = upsert_sql(Table::Categories, 1, Some(4)).expect("sql");
        assert!(sql.contains("(site, day_at, category, granted, n) VALUES ($4, $5, $6, $7, $8) ON CONFLICT"));
        assert!(sql.ends_with("DO UPDATE SET n = agg_categories.n + excluded.n"));
    }
}
