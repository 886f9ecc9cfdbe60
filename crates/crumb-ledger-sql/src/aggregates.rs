//! The [aggregates](crumb_ledger::aggregates), written once for both databases, kept inside
//! the transaction that writes or deletes records, and summed for the dashboard and the
//! statistics API.
//!
//! A batch's counts are computed in memory from its records (module `counting`), with
//! one query for its visitors' earliest stored decisions and one upsert per table. What
//! cannot be counted from a batch alone is recounted here by SQL: a `(site, day)` whose
//! first decisions changed (a batch holds a visitor's decision earlier than one already
//! stored: two servers, two chains), the days retention deletes records from, and the
//! backfill. Each recount is one `INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE`
//! per table over the records of a site and time range. A record is a first decision when
//! no record of its consent id precedes it in `(recorded_at, chain, seq)` order (`FIRST`).
//!
//! A recount does not count `agg_days` from the records: after the hours of a range are
//! counted, each `(site, day)` its records fall on is summed again from that day's
//! `agg_hours`, so a day always equals the sum of its hours.

use crumb_ledger::StorageError;
use crumb_ledger::aggregates::{AggQuery, AggRow, DAY_MS, Dim, HOUR_MS, Key, Table};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::rows::Decodes;
use crate::{Backend, unavailable};

/// Start of the record's UTC day.
const DAY: &str = "(r.recorded_at / 86400000) * 86400000";
/// Start of the record's UTC hour.
const HOUR: &str = "(r.recorded_at / 3600000) * 3600000";
/// Whether record `r` is its visitor's first decision among the stored records.
const FIRST: &str = "NOT EXISTS (SELECT 1 FROM records p WHERE p.consent_id = r.consent_id \
    AND (p.recorded_at, p.chain, p.seq) < (r.recorded_at, r.chain, r.seq))";

const _: () = assert!(DAY_MS == 86_400_000 && HOUR_MS == 3_600_000);

/// The records to count.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Records with `from <= recorded_at < to`, of one site or all.
    Range(Option<&'a str>, i64, i64),
}

impl Scope<'_> {
    fn condition(&self) -> &'static str {
        match self {
            Scope::Range(Some(_), ..) => "r.recorded_at >= $1 AND r.recorded_at < $2 AND r.site = $3",
            Scope::Range(None, ..) => "r.recorded_at >= $1 AND r.recorded_at < $2",
        }
    }
}

/// Bind a scope's values in the order of [`Scope::condition`].
macro_rules! bind_scope {
    ($q:expr, $scope:expr) => {
        match $scope {
            Scope::Range(site, from, to) => {
                let q = $q.bind(from).bind(to);
                match site {
                    Some(site) => q.bind(site),
                    None => q,
                }
            }
        }
    };
}

/// The three counting statements, for a backend's way of reading `choices`.
fn add_statements<B: Backend>(scope: &Scope<'_>) -> [String; 3] {
    let cond = scope.condition();
    let (choices, granted) = (B::CHOICES, B::GRANTED);
    [
        format!(
            "INSERT INTO agg_decisions (site, day_at, action, region, gpc, dnt, policy_version, is_first, n) \
             SELECT site, day_at, action, region, gpc, dnt, policy_version, is_first, COUNT(*) FROM \
             (SELECT r.site, {DAY} AS day_at, r.action, COALESCE(r.region, '') AS region, r.gpc, r.dnt, \
             r.policy_version, {FIRST} AS is_first FROM records r WHERE {cond}) t \
             GROUP BY site, day_at, action, region, gpc, dnt, policy_version, is_first \
             ON CONFLICT (site, day_at, action, region, gpc, dnt, policy_version, is_first) \
             DO UPDATE SET n = agg_decisions.n + excluded.n"
        ),
        format!(
            "INSERT INTO agg_categories (site, day_at, category, granted, n) \
             SELECT site, day_at, category, granted, COUNT(*) FROM \
             (SELECT r.site, {DAY} AS day_at, c.key AS category, {granted} AS granted \
             FROM records r, {choices} WHERE {cond}) t \
             GROUP BY site, day_at, category, granted \
             ON CONFLICT (site, day_at, category, granted) DO UPDATE SET n = agg_categories.n + excluded.n"
        ),
        format!(
            "INSERT INTO agg_hours (site, hour_at, action, is_first, n, first_at, last_at) \
             SELECT site, hour_at, action, is_first, COUNT(*), MIN(recorded_at), MAX(recorded_at) FROM \
             (SELECT r.site, {HOUR} AS hour_at, r.action, {FIRST} AS is_first, r.recorded_at \
             FROM records r WHERE {cond}) t \
             GROUP BY site, hour_at, action, is_first \
             ON CONFLICT (site, hour_at, action, is_first) DO UPDATE SET n = agg_hours.n + excluded.n, \
             first_at = CASE WHEN excluded.first_at < agg_hours.first_at THEN excluded.first_at ELSE agg_hours.first_at END, \
             last_at = CASE WHEN excluded.last_at > agg_hours.last_at THEN excluded.last_at ELSE agg_hours.last_at END"
        ),
    ]
}

/// Sum the hours of each `(site, day)` the scope's records fall on into `agg_days`,
/// replacing the day's buckets (run after the hours are counted; a day whose bucket should
/// vanish is deleted first, by [`recount_days`]).
fn rollup_statement(scope: &Scope<'_>) -> String {
    let cond = scope.condition();
    format!(
        "INSERT INTO agg_days (site, day_at, action, is_first, n, first_at, last_at) \
         SELECT h.site, d.day_at, h.action, h.is_first, SUM(h.n), MIN(h.first_at), MAX(h.last_at) \
         FROM (SELECT DISTINCT r.site, {DAY} AS day_at FROM records r WHERE {cond}) d \
         JOIN agg_hours h ON h.site = d.site AND h.hour_at >= d.day_at AND h.hour_at < d.day_at + 86400000 \
         GROUP BY h.site, d.day_at, h.action, h.is_first \
         ON CONFLICT (site, day_at, action, is_first) DO UPDATE SET n = excluded.n, \
         first_at = excluded.first_at, last_at = excluded.last_at"
    )
}

/// The statements that count every record already stored: migration 0006's backfill (the
/// migrations hold the same text; a test compares them).
pub fn backfill_statements<B: Backend>() -> [String; 3] {
    add_statements::<B>(&Scope::Range(None, i64::MIN, i64::MAX))
        .map(|s| s.replace("r.recorded_at >= $1 AND r.recorded_at < $2", "TRUE"))
}

/// Migration 0008's backfill of `agg_days`: every stored hour summed per day. The hours
/// equal a recount of the records, so their daily sums do too, without reading a record
/// (the migrations hold the same text; a test compares them).
pub const DAYS_BACKFILL: &str = "INSERT INTO agg_days (site, day_at, action, is_first, n, first_at, last_at) \
    SELECT site, (hour_at / 86400000) * 86400000, action, is_first, SUM(n), MIN(first_at), MAX(last_at) \
    FROM agg_hours GROUP BY site, (hour_at / 86400000) * 86400000, action, is_first";

/// Count the records of `scope` into the aggregates, on the transaction `conn`.
pub(crate) async fn add<B>(conn: &mut <B::Db as Database>::Connection, scope: Scope<'_>) -> Result<(), StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
{
    for sql in add_statements::<B>(&scope).into_iter().chain([rollup_statement(&scope)]) {
        let q = sqlx::query(&sql);
        bind_scope!(q, scope).execute(&mut *conn).await.map_err(unavailable)?;
    }
    Ok(())
}

/// Forget the aggregates of one site's days `from..to` (day starts) and count them again.
async fn recount_days<B>(
    conn: &mut <B::Db as Database>::Connection,
    site: &str,
    from: i64,
    to: i64,
) -> Result<(), StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
{
    for (table, col) in
        [("agg_decisions", "day_at"), ("agg_categories", "day_at"), ("agg_hours", "hour_at"), ("agg_days", "day_at")]
    {
        sqlx::query(&format!("DELETE FROM {table} WHERE site = $1 AND {col} >= $2 AND {col} < $3"))
            .bind(site)
            .bind(from)
            .bind(to)
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
    }
    add::<B>(conn, Scope::Range(Some(site), from, to)).await
}

/// Recount each `(site, day start)` of `days`.
pub(crate) async fn recount<B>(
    conn: &mut <B::Db as Database>::Connection,
    days: &[(String, i64)],
) -> Result<(), StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
{
    for (site, day) in days {
        recount_days::<B>(conn, site, *day, day + DAY_MS).await?;
    }
    Ok(())
}

/// The `(site, day)`s whose counts deleting records `..=through` of `chain` changes: every
/// day holding a decision of a visitor with a record among them.
pub(crate) async fn days_touched_by_delete<B>(
    conn: &mut <B::Db as Database>::Connection,
    chain: &str,
    through: i64,
) -> Result<Vec<(String, i64)>, StorageError>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
{
    let rows = sqlx::query(
        "SELECT DISTINCT p.site, (p.recorded_at / 86400000) * 86400000 FROM records p \
         WHERE p.consent_id IN (SELECT d.consent_id FROM records d WHERE d.chain = $1 AND d.seq <= $2)",
    )
    .bind(chain)
    .bind(through)
    .fetch_all(&mut *conn)
    .await
    .map_err(unavailable)?;
    rows.iter().map(|r| Ok((r.text_at(0)?, r.int_at(1)?))).collect()
}

pub(crate) fn column(table: Table, dim: Dim) -> Result<&'static str, StorageError> {
    if !table.dims().contains(&dim) {
        return Err(StorageError::Config(format!("{table:?} has no dimension {dim:?}")));
    }
    Ok(match dim {
        Dim::Site => "site",
        Dim::Day => "day_at",
        Dim::Hour => "hour_at",
        Dim::Action => "action",
        Dim::Region => "region",
        Dim::Gpc => "gpc",
        Dim::Dnt => "dnt",
        Dim::Version => "policy_version",
        Dim::First => "is_first",
        Dim::Category => "category",
        Dim::Granted => "granted",
    })
}

/// The table's name.
pub(crate) fn table_name(table: Table) -> &'static str {
    match table {
        Table::Decisions => "agg_decisions",
        Table::Categories => "agg_categories",
        Table::Hours => "agg_hours",
        Table::Days => "agg_days",
    }
}

/// The SQL of an [`AggQuery`]: the grouped columns, the sum, and for hours and days the
/// first and last times.
pub(crate) fn query_sql(q: &AggQuery) -> Result<String, StorageError> {
    let table = table_name(q.table);
    let time = if q.table == Table::Hours { "hour_at" } else { "day_at" };
    let cols = q.group.iter().map(|d| column(q.table, *d)).collect::<Result<Vec<_>, _>>()?.join(", ");
    let mut sql = String::from("SELECT ");
    if !cols.is_empty() {
        sql.push_str(&cols);
        sql.push_str(", ");
    }
    sql.push_str("CAST(COALESCE(SUM(n), 0) AS BIGINT)");
    if q.table.timed() {
        sql.push_str(", MIN(first_at), MAX(last_at)");
    }
    sql.push_str(&format!(" FROM {table} WHERE {time} >= $1 AND {time} < $2"));
    if q.site.is_some() {
        sql.push_str(" AND site = $3");
    }
    if !cols.is_empty() {
        sql.push_str(&format!(" GROUP BY {cols} ORDER BY {cols}"));
    }
    Ok(sql)
}

/// Read one answer row of `q`.
pub(crate) fn answer_row<R: Decodes>(q: &AggQuery, r: &R) -> Result<AggRow, StorageError> {
    let mut keys = Vec::with_capacity(q.group.len());
    for (i, dim) in q.group.iter().enumerate() {
        keys.push(match dim {
            Dim::Day | Dim::Hour => Key::Time(r.int_at(i)?),
            Dim::Gpc | Dim::Dnt | Dim::First | Dim::Granted => Key::Flag(r.flag_at(i)?),
            _ => Key::Text(r.text_at(i)?),
        });
    }
    let i = q.group.len();
    let (first_at, last_at) = if q.table.timed() { (r.opt_int_at(i + 1)?, r.opt_int_at(i + 2)?) } else { (None, None) };
    Ok(AggRow { keys, n: r.int_at(i)?, first_at, last_at })
}
