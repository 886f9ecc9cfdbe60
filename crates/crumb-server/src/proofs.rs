//! Public proofs of the log: `GET /api/v1/ledger/tree-head` (the signed tree head over every
//! batch of every writer) and `GET /api/v1/ledger/consistency?from=&to=` (an RFC 9162
//! consistency proof between two sizes), and the JSON shapes of the batch proofs that
//! receipts and histories carry. Nothing here names a visitor: tree heads and consistency
//! proofs are hashes, sizes, times and signatures.

use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use crumb_ledger::batch::{BatchTree, record_leaf};
use crumb_ledger::receipt::BatchInclusion;
use crumb_ledger::tree::{LogTree, TreeHead, hex_proof};
use crumb_ledger::{LoggedBatch, Record, StorageError, now_ms};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a tree head may be cached.
pub const TREE_HEAD_MAX_AGE: u64 = 5;

/// A signed batch at its log position, as receipts and histories carry it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "SignedBatch")]
pub struct BatchBody {
    /// Position of the batch in the log-wide tree (from 0).
    pub log_index: i64,
    /// Chain (writer) id.
    pub chain: String,
    /// First record's position on the chain.
    pub first_seq: i64,
    /// Last record's position on the chain.
    pub last_seq: i64,
    /// Merkle root (hex) over the records' hashes (RFC 9162 leaves of the 32-byte hashes).
    pub root: String,
    /// When the root was signed (Unix ms; part of the signed message).
    pub signed_at: i64,
    /// Ed25519 public key (hex).
    pub public_key: String,
    /// Ed25519 signature (hex) over `crumb-batch-v1\n{chain}\n{first_seq}\n{last_seq}\n{root}\n{signed_at}`.
    pub signature: String,
}

impl From<&LoggedBatch> for BatchBody {
    fn from(b: &LoggedBatch) -> Self {
        let s = &b.batch;
        BatchBody {
            log_index: b.log_index,
            chain: s.chain.clone(),
            first_seq: s.first_seq,
            last_seq: s.last_seq,
            root: s.root.clone(),
            signed_at: s.signed_at,
            public_key: s.public_key.clone(),
            signature: s.signature.clone(),
        }
    }
}

/// A signed tree head.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "TreeHead")]
pub struct TreeHeadBody {
    /// Signed batches in the log.
    pub size: u64,
    /// Merkle root (hex) of the log tree.
    pub root: String,
    /// When it was signed (Unix ms).
    pub timestamp: i64,
    /// Ed25519 public key (hex).
    pub public_key: String,
    /// Ed25519 signature (hex) over `crumb-tree-head-v1\n{size}\n{root}\n{timestamp}`.
    pub signature: String,
}

impl From<TreeHead> for TreeHeadBody {
    fn from(t: TreeHead) -> Self {
        TreeHeadBody {
            size: t.size,
            root: t.root,
            timestamp: t.timestamp,
            public_key: t.public_key,
            signature: t.signature,
        }
    }
}

/// A batch's inclusion in a tree head.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "BatchInclusion")]
pub struct BatchInclusionBody {
    /// The tree head.
    pub tree_head: TreeHeadBody,
    /// The batch leaf's inclusion proof (hex hashes, bottom up).
    pub proof: Vec<String>,
}

impl From<BatchInclusion> for BatchInclusionBody {
    fn from(b: BatchInclusion) -> Self {
        BatchInclusionBody { tree_head: b.tree_head.into(), proof: b.proof }
    }
}

/// `GET /api/v1/ledger/consistency`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ConsistencyProof")]
pub struct ConsistencyBody {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The newer tree's root (hex), for checking.
    pub to_root: String,
    /// The RFC 9162 consistency proof (hex hashes).
    pub proof: Vec<String>,
}

/// Run `f` over the current log (read incrementally, kept in memory by the ledger handle).
pub(crate) async fn with_log<R>(st: &AppState, f: impl FnOnce(&LogTree) -> R) -> Result<R, ApiError> {
    let storage = st.storage().clone();
    match tokio::time::timeout(Duration::from_secs(5), st.ledger().with_log(storage.as_ref(), f)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the log could not be read");
            Err(ApiError::unavailable("the log could not be read right now"))
        }
        Err(_) => Err(ApiError::unavailable("the ledger is not reachable right now")),
    }
}

/// The logged batch holding `r` and `r`'s inclusion proof in it (`None` for records
/// written before batches were signed, or whose batch's records retention removed).
pub(crate) async fn record_in_batch(
    st: &AppState,
    r: &Record,
) -> Result<Option<(LoggedBatch, Vec<String>)>, StorageError> {
    let storage = st.storage();
    let Some(b) = storage.batch_of(&r.chain, r.seq).await? else { return Ok(None) };
    let recs = storage.records(&r.chain, b.batch.first_seq - 1, b.batch.size() as i64).await?;
    if recs.len() as u64 != b.batch.size() {
        return Ok(None);
    }
    let leaves = recs.iter().map(|x| record_leaf(&x.hash)).collect::<Option<Vec<_>>>();
    let proof = leaves.and_then(|l| BatchTree::new(l).proof((r.seq - b.batch.first_seq) as usize));
    Ok(proof.map(|p| (b, hex_proof(&p))))
}

/// Sign the current tree head and prove each batch (by log index) in it.
pub(crate) async fn prove_batches(
    st: &AppState,
    log_indexes: &[Option<i64>],
) -> Result<(TreeHeadBody, Vec<Option<BatchInclusionBody>>), ApiError> {
    with_log(st, |log| {
        let head = head_of(st, log);
        let proofs = log_indexes
            .iter()
            .map(|i| {
                let p = log.inclusion((*i)? as u64, head.size)?;
                Some(BatchInclusion { tree_head: head.clone(), proof: hex_proof(&p) }.into())
            })
            .collect();
        (head.into(), proofs)
    })
    .await
}

/// Sign the head of `log` now.
pub(crate) fn head_of(st: &AppState, log: &LogTree) -> TreeHead {
    let size = log.size();
    let root = log.root_at(size).unwrap_or_else(crumb_ledger::merkle::empty_root);
    st.ledger().sign_tree_head(size, &root, now_ms())
}

pub(crate) async fn get_tree_head(State(st): State<AppState>) -> Result<Response, ApiError> {
    let head = with_log(&st, |log| head_of(&st, log)).await?;
    let cache = format!("public, max-age={TREE_HEAD_MAX_AGE}");
    Ok((
        [(header::CACHE_CONTROL, cache), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string())],
        Json(TreeHeadBody::from(head)),
    )
        .into_response())
}

/// Parse `from` and `to` from the query: both required, unsigned, `from <= to`.
fn sizes(query: Option<&str>) -> Result<(u64, u64), ApiError> {
    let (mut from, mut to) = (None, None);
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n = v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("`{k}` must be a tree size (a whole number from 0), not `{v}`"))
        })?;
        match k {
            "from" => from = Some(n),
            "to" => to = Some(n),
            other => return Err(ApiError::bad_request(format!("unknown parameter `{other}`; use from and to"))),
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(ApiError::bad_request("both `from` and `to` are required, like ?from=10&to=20"));
    };
    if from > to {
        return Err(ApiError::bad_request(format!("`from` ({from}) must not be larger than `to` ({to})")));
    }
    Ok((from, to))
}

pub(crate) async fn get_consistency(State(st): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let (from, to) = sizes(q.as_deref())?;
    let answer = with_log(&st, |log| {
        let proof = log.consistency(from, to)?;
        let root = log.root_at(to)?;
        Some(ConsistencyBody { from, to, to_root: hex::encode(root), proof: hex_proof(&proof) })
    })
    .await?;
    let body = answer.ok_or_else(|| {
        ApiError::not_found("size_beyond_log", format!("the log is smaller than {to}; ask the tree head for its size"))
    })?;
    // A proof between two fixed sizes never changes.
    Ok(([(header::CACHE_CONTROL, "public, max-age=86400"), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(body))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_strictly() {
        assert_eq!(sizes(Some("from=3&to=9")).expect("ok"), (3, 9));
        assert_eq!(sizes(Some("to=0&from=0")).expect("ok"), (0, 0));
        for bad in [None, Some("from=3"), Some("from=-1&to=2"), Some("from=4&to=2"), Some("from=1&to=x"), Some("x=1")] {
            assert_eq!(sizes(bad).expect_err("rejected").code, "bad_request", "{bad:?}");
        }
    }
}
