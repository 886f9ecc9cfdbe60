//! Conformance stories that need SQL run on the backend's database directly, behind the
//! storage's back: the tampering property test (module `conformance_tamper`: every single
//! tampering of a stored ledger is found by `verify`) and the aggregates migration of an
//! existing ledger.
//!
//! A backend hands the stories an [`ExecSql`] that runs one statement on its database
//! (`SqlStorage::sql_runner` in `crumb-ledger-sql`); the SQL the stories write is plain
//! enough for SQLite and PostgreSQL alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::conformance::sample_entry;
use crate::conformance_aggregates::stored;
use crate::storage::Storage;
use crate::{GENESIS, Record};

/// What running one statement yields: `Err` with the database's message when it fails.
pub type SqlFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Runs one SQL statement on the backend's database, outside the storage's API.
pub type ExecSql = Arc<dyn Fn(String) -> SqlFuture + Send + Sync>;

/// Run `stmt`, panicking with the statement and the error when it fails.
pub async fn run(sql: &ExecSql, stmt: impl Into<String>) {
    let stmt = stmt.into();
    if let Err(e) = sql(stmt.clone()).await {
        panic!("{stmt}: {e}");
    }
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(lit).unwrap_or_else(|| "NULL".into())
}

fn flag(b: bool) -> &'static str {
    if b { "TRUE" } else { "FALSE" }
}

/// An `INSERT` of `r` as it would be stored (the columns the backends write).
pub fn insert_record(r: &Record) -> String {
    let e = &r.entry;
    let choices = serde_json::to_string(&e.choices).unwrap_or_default();
    format!(
        "INSERT INTO records (chain, seq, consent_id, site, policy_version, choices, action, gpc, dnt, region, mode, \
         language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash) VALUES \
         ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        lit(&r.chain),
        r.seq,
        lit(&e.consent_id),
        lit(&e.site),
        lit(&e.policy_version),
        lit(&choices),
        lit(&e.action),
        flag(e.gpc),
        flag(e.dnt),
        opt(&e.region),
        lit(&e.mode),
        opt(&e.language),
        opt(&e.url),
        lit(&e.ua_family),
        opt(&e.ip_hash),
        e.recorded_at,
        e.expires_at,
        e.retain_until,
        lit(&r.prev_hash),
        lit(&r.hash),
    )
}

/// A ledger written before the aggregates existed (migration 0006 undone by SQL) gets
/// them counted when the storage is opened again. `open` opens the same database each
/// time (migrating it) and returns the storage with its SQL runner.
pub async fn aggregates_migration_counts_an_existing_ledger<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Arc<dyn Storage>, ExecSql)>,
{
    let (s, sql) = open().await;
    let mut recs: Vec<Record> = Vec::new();
    for i in 0..40 {
        let (seq, hash) = recs.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, GENESIS.to_string()));
        recs.push(Record::chain_after("c", seq, &hash, sample_entry(i, 1_800_000_000_000 + i * 3_000_000)));
    }
    s.append(&recs).await.expect("append");
    let counted = stored(s.as_ref()).await;
    assert!(!counted.is_empty());
    // Back to the schema before 0006: no aggregate tables, 0006 not applied.
    for stmt in [
        "DROP TABLE agg_decisions",
        "DROP TABLE agg_categories",
        "DROP TABLE agg_hours",
        "DELETE FROM _sqlx_migrations WHERE version = 6",
    ] {
        run(&sql, stmt).await;
    }
    drop((s, sql));
    let (s, _) = open().await;
    assert_eq!(stored(s.as_ref()).await, counted, "the migration counts the stored records");
    assert_eq!(counted, crate::aggregates::recount(&recs));
}
