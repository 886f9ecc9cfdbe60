//! Retention: remove each chain's expired prefix, anchored by a signed checkpoint so the
//! records that remain still verify.
//!
//! A record is removed once its `retain_until` has passed and every earlier record on its
//! chain has been removed; a chain is cut only at a prefix, so its remaining records keep
//! their links. Before deleting records `1..=s`, a `retention` checkpoint signs record
//! `s`'s hash; `verify` accepts a chain that starts at `s + 1` only with that anchor.

use crate::storage::{Storage, StorageError};
use crate::{CheckpointKey, CheckpointKind, now_ms};

/// What retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Records deleted.
    pub deleted: u64,
    /// Chains cut.
    pub chains: u64,
}

/// Remove every chain's expired prefix as of `now` (Unix ms).
pub async fn apply(storage: &dyn Storage, key: &CheckpointKey, now: i64) -> Result<RetentionReport, StorageError> {
    let mut report = RetentionReport::default();
    for chain in storage.chains().await? {
        let Some(through) = storage.expired_prefix(&chain, now).await? else { continue };
        let recs = storage.records(&chain, through - 1, 1).await?;
        let Some(last) = recs.first().filter(|r| r.seq == through) else { continue };
        let cp = key.sign(&chain, through, &last.hash, CheckpointKind::Retention, now_ms());
        storage.add_checkpoint(&cp).await?;
        report.deleted += storage.delete_through(&chain, through).await?;
        report.chains += 1;
    }
    Ok(report)
}
