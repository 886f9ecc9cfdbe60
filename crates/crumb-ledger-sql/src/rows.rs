//! Row mappers: a stored row to the ledger's types.

use crumb_ledger::{ApiKeyRow, Checkpoint, CheckpointKind, Entry, Record, ScanRow, StorageError};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::corrupt;

/// A row of either database, read as the column types the ledger stores (text, optional
/// text, 64-bit integers, booleans), by column name or position. A stored value of another
/// type is [`StorageError::Corrupt`].
pub trait Decodes: Row {
    /// A text column.
    fn text(&self, col: &str) -> Result<String, StorageError>;
    /// A nullable text column.
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError>;
    /// An integer column.
    fn int(&self, col: &str) -> Result<i64, StorageError>;
    /// A boolean column.
    fn flag(&self, col: &str) -> Result<bool, StorageError>;
    /// The text column at `i`.
    fn text_at(&self, i: usize) -> Result<String, StorageError>;
    /// The integer column at `i`.
    fn int_at(&self, i: usize) -> Result<i64, StorageError>;
    /// The nullable integer column at `i`.
    fn opt_int_at(&self, i: usize) -> Result<Option<i64>, StorageError>;
    /// The boolean column at `i`.
    fn flag_at(&self, i: usize) -> Result<bool, StorageError>;
}

impl<R> Decodes for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String, StorageError> {
        self.try_get(col).map_err(corrupt)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StorageError> {
        self.try_get(col).map_err(corrupt)
    }
    fn int(&self, col: &str) -> Result<i64, StorageError> {
        self.try_get(col).map_err(corrupt)
    }
    fn flag(&self, col: &str) -> Result<bool, StorageError> {
        self.try_get(col).map_err(corrupt)
    }
    fn text_at(&self, i: usize) -> Result<String, StorageError> {
        self.try_get(i).map_err(corrupt)
    }
    fn int_at(&self, i: usize) -> Result<i64, StorageError> {
        self.try_get(i).map_err(corrupt)
    }
    fn opt_int_at(&self, i: usize) -> Result<Option<i64>, StorageError> {
        self.try_get(i).map_err(corrupt)
    }
    fn flag_at(&self, i: usize) -> Result<bool, StorageError> {
        self.try_get(i).map_err(corrupt)
    }
}

/// A `records` row.
pub(crate) fn record(row: &impl Decodes) -> Result<Record, StorageError> {
    let choices = row.text("choices")?;
    Ok(Record {
        chain: row.text("chain")?,
        seq: row.int("seq")?,
        entry: Entry {
            consent_id: row.text("consent_id")?,
            site: row.text("site")?,
            policy_version: row.text("policy_version")?,
            choices: serde_json::from_str(&choices).map_err(|e| StorageError::Corrupt(format!("choices: {e}")))?,
            action: row.text("action")?,
            gpc: row.flag("gpc")?,
            dnt: row.flag("dnt")?,
            region: row.opt_text("region")?,
            mode: row.text("mode")?,
            language: row.opt_text("language")?,
            url: row.opt_text("url")?,
            ua_family: row.text("ua_family")?,
            ip_hash: row.opt_text("ip_hash")?,
            recorded_at: row.int("recorded_at")?,
            expires_at: row.int("expires_at")?,
            retain_until: row.int("retain_until")?,
        },
        prev_hash: row.text("prev_hash")?,
        hash: row.text("hash")?,
    })
}

/// `records` rows.
pub(crate) fn records<R: Decodes>(rows: &[R]) -> Result<Vec<Record>, StorageError> {
    rows.iter().map(record).collect()
}

/// A `checkpoints` row.
pub(crate) fn checkpoint(row: &impl Decodes) -> Result<Checkpoint, StorageError> {
    let kind = row.text("kind")?;
    Ok(Checkpoint {
        chain: row.text("chain")?,
        seq: row.int("seq")?,
        hash: row.text("hash")?,
        kind: CheckpointKind::parse(&kind).ok_or_else(|| StorageError::Corrupt(format!("checkpoint kind {kind}")))?,
        signed_at: row.int("signed_at")?,
        public_key: row.text("public_key")?,
        signature: row.text("signature")?,
    })
}

/// A `scans` row, with or without its report.
pub(crate) fn scan_row(row: &impl Decodes, with_report: bool) -> Result<ScanRow, StorageError> {
    Ok(ScanRow {
        id: row.int("id")?,
        site: row.text("site")?,
        target: row.text("target")?,
        recorded_at: row.int("recorded_at")?,
        pages: row.int("pages")?,
        errors: row.int("errors")?,
        warnings: row.int("warnings")?,
        notes: row.int("notes")?,
        report: if with_report { row.text("report")? } else { String::new() },
    })
}

/// An `api_keys` row, columns `id, name, sites, created_at, revoked_at` in that order.
pub(crate) fn api_key(row: &impl Decodes) -> Result<ApiKeyRow, StorageError> {
    let sites = row.text_at(2)?;
    Ok(ApiKeyRow {
        id: row.text_at(0)?,
        name: row.text_at(1)?,
        sites: serde_json::from_str(&sites).map_err(|e| StorageError::Corrupt(format!("api key sites: {e}")))?,
        created_at: row.int_at(3)?,
        revoked_at: row.opt_int_at(4)?,
    })
}
