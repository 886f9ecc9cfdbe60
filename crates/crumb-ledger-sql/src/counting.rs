//! A batch's [aggregates](crumb_ledger::aggregates), counted in memory from its records
//! ([`crumb_ledger::aggregates::count`]) inside the transaction that inserts them: one query
//! for the batch's visitors' earliest stored decisions (before the insert), the backend's
//! insert, and one multi-row upsert per table. Rows are written in key order, so two
//! servers' batches lock shared buckets in the same order. Days whose first decision the
//! batch displaces are recounted from the records ([`crate::aggregates::recount`]).

use std::collections::HashMap;

use crumb_ledger::aggregates::{self, Buckets, Key, StoredFirst, Table};
use crumb_ledger::{Record, StorageError};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::aggregates::{column, table_name};
use crate::rows::Decodes;
use crate::{Backend, unavailable};

/// The most consent ids one lookup binds; a lookup binds a power of two of them (the
/// last repeated), so few statement texts are ever prepared.
const MAX_IDS: usize = 256;
/// The most rows one upsert writes.
const MAX_ROWS: usize = 128;

/// Insert `recs` (any records, on the transaction `conn`) and count them into the
/// aggregates.
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
{
    if recs.is_empty() {
        return Ok(());
    }
    let stored = earliest_stored::<B>(conn, recs).await?;
    B::insert(&mut *conn, recs).await?;
    upsert::<B>(conn, &aggregates::count(recs, &stored)).await?;
    let days: Vec<(String, i64)> = aggregates::displaced_days(recs, &stored).into_iter().collect();
    crate::aggregates::recount::<B>(conn, &days).await
}

/// The earliest stored decision of each visitor with a record in `recs`.
async fn earliest_stored<B>(
    conn: &mut <B::Db as Database>::Connection,
    recs: &[Record],
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
        let sql = format!(
            "SELECT r.consent_id, r.recorded_at, r.chain, r.seq, r.site FROM records r \
             WHERE r.consent_id IN ({}) AND NOT EXISTS (SELECT 1 FROM records p \
             WHERE p.consent_id = r.consent_id AND (p.recorded_at, p.chain, p.seq) < (r.recorded_at, r.chain, r.seq))",
            placeholders(1, n)
        );
        let mut q = sqlx::query(&sql);
        for i in 0..n {
            q = q.bind(chunk[i.min(chunk.len() - 1)]);
        }
        for r in q.fetch_all(&mut *conn).await.map_err(unavailable)? {
            let first =
                StoredFirst { recorded_at: r.int_at(1)?, chain: r.text_at(2)?, seq: r.int_at(3)?, site: r.text_at(4)? };
            out.insert(r.text_at(0)?, first);
        }
    }
    Ok(out)
}

/// `$from, ..., $(from + n - 1)`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Add `buckets` to the four tables.
async fn upsert<B>(conn: &mut <B::Db as Database>::Connection, buckets: &Buckets) -> Result<(), StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
{
    for table in [Table::Decisions, Table::Categories, Table::Hours, Table::Days] {
        let rows: Vec<_> = buckets.iter().filter(|((t, _), _)| *t == table).collect();
        for chunk in rows.chunks(MAX_ROWS) {
            let sql = upsert_sql(table, chunk.len())?;
            let mut q = sqlx::query(&sql);
            for ((_, keys), (n, first_at, last_at)) in chunk {
                for k in keys {
                    q = match k {
                        Key::Text(t) => q.bind(t.as_str()),
                        Key::Time(t) => q.bind(*t),
                        Key::Flag(f) => q.bind(*f),
                    };
                }
                q = q.bind(*n);
                if table.timed() {
                    q = q.bind(first_at.unwrap_or_default()).bind(last_at.unwrap_or_default());
                }
            }
            q.execute(&mut *conn).await.map_err(unavailable)?;
        }
    }
    Ok(())
}

/// `INSERT INTO <table> ... VALUES <rows> ON CONFLICT (<keys>) DO UPDATE`: counts add up,
/// first and last times widen.
fn upsert_sql(table: Table, rows: usize) -> Result<String, StorageError> {
    let name = table_name(table);
    let keys = table.dims().iter().map(|d| column(table, *d)).collect::<Result<Vec<_>, _>>()?.join(", ");
    let width = table.dims().len() + if table.timed() { 3 } else { 1 };
    let values = (0..rows).map(|r| format!("({})", placeholders(r * width + 1, width))).collect::<Vec<_>>().join(", ");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_statements_number_their_values_row_by_row() {
        let sql = upsert_sql(Table::Hours, 2).expect("sql");
        assert!(
            sql.starts_with("INSERT INTO agg_hours (site, hour_at, action, is_first, n, first_at, last_at) VALUES")
        );
        assert!(sql.contains("VALUES ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14) ON CONFLICT"));
        let sql = upsert_sql(Table::Categories, 1).expect("sql");
        assert!(sql.contains("(site, day_at, category, granted, n) VALUES ($1, $2, $3, $4, $5) ON CONFLICT"));
        assert!(sql.ends_with("DO UPDATE SET n = agg_categories.n + excluded.n"));
    }
}
