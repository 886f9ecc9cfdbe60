//! [`ScanStore`] once for both databases.

use async_trait::async_trait;
use crumb_ledger::{ScanRow, ScanStore, StorageError};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::rows::{Decodes, scan_row};
use crate::{Backend, SqlStorage, unavailable};

#[async_trait]
impl<B> ScanStore for SqlStorage<B>
where
    B: Backend,
    for<'c> &'c mut <B::Db as Database>::Connection: Executor<'c, Database = B::Db>,
    for<'q> <B::Db as Database>::Arguments<'q>: IntoArguments<'q, B::Db>,
    for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
    for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
{
    async fn add_scan(&self, scan: &ScanRow) -> Result<i64, StorageError> {
        let row = sqlx::query(
            "INSERT INTO scans (site, target, recorded_at, pages, errors, warnings, notes, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(scan.site.as_str())
        .bind(scan.target.as_str())
        .bind(scan.recorded_at)
        .bind(scan.pages)
        .bind(scan.errors)
        .bind(scan.warnings)
        .bind(scan.notes)
        .bind(scan.report.as_str())
        .fetch_one(&self.writes)
        .await
        .map_err(unavailable)?;
        row.int_at(0)
    }

    async fn scans(&self, site: Option<&str>, limit: i64) -> Result<Vec<ScanRow>, StorageError> {
        // One site's newest scans walk the index `(site, recorded_at)` backwards (the
        // overview asks for each site's last one on every view); `$1 IS NULL OR site = $1`
        // would scan and sort every saved scan.
        let rows = match site {
            Some(site) => sqlx::query(
                "SELECT id, site, target, recorded_at, pages, errors, warnings, notes FROM scans \
                 WHERE site = $1 ORDER BY recorded_at DESC, id DESC LIMIT $2",
            )
            .bind(site)
            .bind(limit),
            None => sqlx::query(
                "SELECT id, site, target, recorded_at, pages, errors, warnings, notes FROM scans \
                 ORDER BY recorded_at DESC, id DESC LIMIT $1",
            )
            .bind(limit),
        }
        .fetch_all(&self.reads)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| scan_row(r, false)).collect()
    }

    async fn scan(&self, id: i64) -> Result<Option<ScanRow>, StorageError> {
        let row = sqlx::query("SELECT * FROM scans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reads)
            .await
            .map_err(unavailable)?;
        row.map(|r| scan_row(&r, true)).transpose()
    }
}
