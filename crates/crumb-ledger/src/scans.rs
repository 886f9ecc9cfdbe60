//! Scan reports `crumb scan --save` keeps beside the ledger, for the dashboard.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;

/// One saved scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRow {
    /// Assigned by the database ([`ScanStore::add_scan`] ignores the value passed in).
    pub id: i64,
    /// Site id of the inventory the scan checked against.
    pub site: String,
    /// The start URL.
    pub target: String,
    /// When the scan finished (Unix ms).
    pub recorded_at: i64,
    /// Pages scanned.
    pub pages: i64,
    /// Findings at error level.
    pub errors: i64,
    /// Findings at warning level.
    pub warnings: i64,
    /// Findings at note level.
    pub notes: i64,
    /// The JSON report (`crumb scan --format json`); empty in listings.
    pub report: String,
}

/// Saved scan reports. Every [`Storage`](crate::Storage) backend implements it.
#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Save a scan; returns its id.
    async fn add_scan(&self, scan: &ScanRow) -> Result<i64, StorageError>;
    /// The newest scans first (of one site, or all), at most `limit`, without their reports.
    async fn scans(&self, site: Option<&str>, limit: i64) -> Result<Vec<ScanRow>, StorageError>;
    /// One scan with its report.
    async fn scan(&self, id: i64) -> Result<Option<ScanRow>, StorageError>;
}
