//! # crumb-ledger-sql
//!
//! The part of the ledger backends that is the same SQL on SQLite and PostgreSQL, written
//! once: [`SqlStorage`] implements [`Storage`](crumb_ledger::Storage),
//! [`AdminStore`](crumb_ledger::AdminStore), [`ScanStore`](crumb_ledger::ScanStore) and
//! [`HookStore`](crumb_ledger::HookStore)
//! generically over the sqlx database, with `$1`-style placeholders (both sqlx drivers
//! accept them) and portable SQL.
//!
//! What differs stays in each backend crate, behind [`Backend`]: opening the pools and
//! running the embedded migrations, and the bulk insert of a batch of records (SQLite's
//! padded multi-row `INSERT`, PostgreSQL's `UNNEST`). A backend is a marker type and a type
//! alias: `pub type SqliteStorage = SqlStorage<SqliteBackend>`.
//!
//! The trait implementations repeat one set of bounds on the database (executors for
//! pools and transactions, and the column types the ledger binds): Rust does not carry
//! such bounds from a trait to its users, and both sqlx drivers meet them. The row side
//! is bundled in [`Decodes`], which every row of both drivers implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use crumb_ledger::conformance_sql::{ExecSql, SqlFuture};
use crumb_ledger::{Record, StorageError};
use sqlx::{Database, Executor, IntoArguments, Pool};

mod admin;
pub mod aggregates;
mod batches;
mod counting;
mod hooks;
mod rows;
mod scans;
pub mod stmt;
mod storage;

pub use rows::Decodes;

/// The columns of `records`, in the order the backends bind them.
pub const RECORD_COLS: &str = "chain, seq, consent_id, site, policy_version, choices, action, gpc, dnt, region, mode, \
    language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash";

/// The columns of `batches`, in the order the batch rows are read and written.
pub const BATCH_COLS: &str = "log_index, chain, first_seq, last_seq, root, signed_at, public_key, signature";

/// Columns bound per record.
pub const RECORD_COL_COUNT: usize = 20;

/// What each backend provides itself.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The sqlx database; its rows decode the ledger's column types.
    type Db: Database<Row: Decodes> + sqlx::database::HasStatementCache;

    /// Connect to `url`, run the backend's migrations, and return the pools `(reads,
    /// writes)` (they may be the same pool).
    async fn connect(url: &str) -> Result<(Pool<Self::Db>, Pool<Self::Db>), StorageError>;

    /// A `FROM` item that turns `r.choices` (a JSON object) into rows `c.key` (the category)
    /// and `c.value`.
    const CHOICES: &'static str;
    /// Whether `c.value` of [`Backend::CHOICES`] is a grant, as the database's boolean.
    const GRANTED: &'static str;

    /// Insert `records` on `conn`, inside the transaction [`SqlStorage`]'s `append` holds
    /// (which also counts them into the aggregates).
    async fn insert(conn: &mut <Self::Db as Database>::Connection, records: &[Record]) -> Result<(), StorageError>;

    /// Whether one query text may hold several statements, run in order with `$n` numbered
    /// across them (SQLite); otherwise statements are combined as data-modifying `WITH`
    /// clauses (PostgreSQL).
    const MULTI_STATEMENT: bool;

    /// Whether the statements built in [`stmt`] number their placeholders (`$n`:
    /// PostgreSQL) or leave them `?`, bound in order across a multi-statement command
    /// (SQLite, where looking up a named parameter is linear in their number, so binding n
    /// numbered values costs n²).
    const NUMBERED: bool;

    /// Whether a batch's lookup of its visitors' records is planned on each run (an unnamed
    /// statement): PostgreSQL caches a prepared statement's generic plan, and one made while
    /// `records` was small stays a sequential scan as it grows (ingest fell tenfold).
    const PLAN_EACH_LOOKUP: bool;

    /// Rows an `INSERT`, `UPDATE` or `DELETE` touched.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;
}

/// A ledger in an SQL database: reads on one pool, writes on another (SQLite writes
/// through one dedicated connection) or the same (PostgreSQL).
pub struct SqlStorage<B: Backend> {
    reads: Pool<B::Db>,
    writes: Pool<B::Db>,
}

impl<B: Backend> Clone for SqlStorage<B> {
    fn clone(&self) -> Self {
        SqlStorage { reads: self.reads.clone(), writes: self.writes.clone() }
    }
}

impl<B: Backend> fmt::Debug for SqlStorage<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStorage").field("reads", &self.reads).field("writes", &self.writes).finish()
    }
}

impl<B: Backend> SqlStorage<B> {
    /// Open (creating the database where the backend does) and migrate the database at
    /// `url`.
    pub async fn open(url: &str) -> Result<Self, StorageError> {
        let (reads, writes) = B::connect(url).await?;
        Ok(SqlStorage { reads, writes })
    }

    /// The read pool, for tests that tamper with rows directly.
    pub fn pool(&self) -> &Pool<B::Db> {
        &self.reads
    }
}

impl<B: Backend> SqlStorage<B>
where
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
{
    /// Runs one SQL statement on the write pool, outside the storage's API: for the
    /// conformance stories that tamper with rows (`crumb_ledger::conformance_sql`).
    pub fn sql_runner(&self) -> ExecSql {
        let pool = self.writes.clone();
        Arc::new(move |stmt: String| -> SqlFuture {
            let pool = pool.clone();
            Box::pin(async move { sqlx::query(&stmt).execute(&pool).await.map(|_| ()).map_err(|e| e.to_string()) })
        })
    }
}

/// A query failed: the database is unreachable or refused it, or (SQLSTATE `40P01` deadlock,
/// `40001` serialization failure) a concurrent transaction won and this one was rolled back.
pub fn unavailable(e: sqlx::Error) -> StorageError {
    let conflict = e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40P01" || c == "40001");
    if conflict { StorageError::Conflict(e.to_string()) } else { StorageError::Unavailable(e.to_string()) }
}

/// A stored value could not be read back.
fn corrupt(e: sqlx::Error) -> StorageError {
    StorageError::Corrupt(e.to_string())
}
