//! What [`crate::verify()`] adds for signed batches and the log: every batch's signature
//! and root against the records it covers, batches tiling each chain, records not under a
//! batch, the log's positions, and (given a witnessed tree head or receipts) that the log
//! still holds what was promised.

use ed25519_dalek::VerifyingKey;

use crate::batch::{LoggedBatch, record_leaf};
use crate::merkle;
use crate::receipt::RecordProof;
use crate::storage::{Storage, StorageError};
use crate::tree::{LogTree, TreeHead};
use crate::verify::{Problem, ProblemKind, VerifyReport};
use crate::{Checkpoint, CheckpointKind};

/// The chain name problems of the log as a whole are reported under.
pub const LOG: &str = "(log)";

fn problem(chain: &str, seq: i64, kind: ProblemKind, message: String) -> Problem {
    Problem { chain: chain.to_string(), seq, kind, message }
}

/// Check one chain's batches against its stored records and its checkpoints `cps`.
///
/// Every record the writer commits is under a signed batch, and the batches of a chain
/// tile it from seq 1. A chain without any batch was written before signed batches
/// existed: its records must then be covered by a valid signed checkpoint (such a chain
/// is checkpointed at shutdown), so a chain forged with records alone is reported.
pub async fn verify_chain_batches(
    storage: &dyn Storage,
    chain: &str,
    trusted: &[VerifyingKey],
    cps: &[Checkpoint],
) -> Result<(u64, Vec<Problem>), StorageError> {
    let anchor = retention_anchor(cps, trusted);
    // The head is read before the batches: a batch commits with its records, so every
    // record up to this head is under a batch read below, even with the writer running.
    let head = storage.chain_head(chain).await?.map(|(seq, _)| seq);
    let batches = storage.chain_batches(chain).await?;
    let mut out = Vec::new();
    if batches.is_empty() {
        let checkpointed = cps
            .iter()
            .filter(|c| c.chain == chain && crate::keys::signature_ok(c, trusted))
            .map(|c| c.seq)
            .max()
            .unwrap_or(0);
        if head.is_some_and(|h| h > checkpointed)
            && let Some(r) = storage.records(chain, checkpointed, 1).await?.first()
        {
            let msg =
                format!("record {chain}#{}: not under any signed batch nor a signed checkpoint (inserted)", r.seq);
            out.push(problem(chain, r.seq, ProblemKind::Unbatched, msg));
        }
        return Ok((0, out));
    }
    if let Some(first) = batches.first()
        && first.batch.first_seq != 1
    {
        let b = &first.batch;
        let msg = format!(
            "batch {chain}#{}..{}: the chain's first signed batch does not start at #1 (a batch is missing)",
            b.first_seq, b.last_seq
        );
        out.push(problem(chain, 1, ProblemKind::BatchMismatch, msg));
    }
    let mut prev: Option<&LoggedBatch> = None;
    for lb in &batches {
        let b = &lb.batch;
        let name = format!("batch {}#{}..{} (log position {})", b.chain, b.first_seq, b.last_seq, lb.log_index);
        if !b.signature_ok(trusted) {
            let msg = format!("{name}: the signature is invalid or by an untrusted key {}", b.public_key);
            out.push(problem(chain, b.first_seq, ProblemKind::BadSignature, msg));
        }
        if let Some(p) = prev
            && b.first_seq != p.batch.last_seq + 1
        {
            let msg = format!("{name}: does not follow the batch ending at #{} (a batch is missing)", p.batch.last_seq);
            out.push(problem(chain, p.batch.last_seq + 1, ProblemKind::BatchMismatch, msg));
        }
        prev = Some(lb);
        if b.last_seq <= anchor {
            continue; // removed by retention, anchored by a signed checkpoint
        }
        let recs = storage.records(chain, b.first_seq - 1, b.size() as i64).await?;
        let covered: Vec<_> = recs.iter().take_while(|r| r.seq <= b.last_seq).collect();
        let from = b.first_seq.max(anchor + 1);
        let expected: Vec<i64> = (from..=b.last_seq).collect();
        let have: Vec<i64> = covered.iter().map(|r| r.seq).collect();
        if have != expected {
            let missing = expected.iter().find(|s| !have.contains(s)).copied().unwrap_or(from);
            let msg = format!("{name}: record #{missing} it signed for is missing (deleted or moved)");
            out.push(problem(chain, missing, ProblemKind::BatchMismatch, msg));
            continue;
        }
        if from > b.first_seq {
            continue; // partly removed by retention: the rest is checked by the chain
        }
        let leaves: Option<Vec<_>> = covered.iter().map(|r| record_leaf(&r.hash)).collect();
        if leaves.map(|l| hex::encode(merkle::root(&l))) != Some(b.root.clone()) {
            let msg = format!("{name}: its signed root does not match the records it covers (rewritten)");
            out.push(problem(chain, b.first_seq, ProblemKind::BatchMismatch, msg));
        }
    }
    if let Some(last) = batches.last()
        && let Some(head) = head
        && head > last.batch.last_seq
    {
        let seq = last.batch.last_seq + 1;
        let msg = format!("record {chain}#{seq}: not under any signed batch (inserted after the last batch)");
        out.push(problem(chain, seq, ProblemKind::Unbatched, msg));
    }
    Ok((batches.len() as u64, out))
}

/// The highest seq a valid retention checkpoint of `chain` anchors (0 when none).
pub fn retention_anchor(cps: &[Checkpoint], trusted: &[VerifyingKey]) -> i64 {
    cps.iter()
        .filter(|c| c.kind == CheckpointKind::Retention && crate::keys::signature_ok(c, trusted))
        .map(|c| c.seq)
        .max()
        .unwrap_or(0)
}

/// Check the log: positions without gaps, and the witnessed tree heads and receipts.
pub async fn verify_log(
    storage: &dyn Storage,
    trusted: &[VerifyingKey],
    heads: &[TreeHead],
    receipts: &[RecordProof],
) -> Result<(u64, Vec<Problem>), StorageError> {
    let mut out = Vec::new();
    let mut log = LogTree::default();
    // The counter is read before the batches and again after: a batch commits with its
    // counter's raise, so with servers writing meanwhile the first read is at most the
    // batches read and the second at least.
    let counted_before = storage.log_size().await?;
    if let Err(e) = log.sync(storage).await {
        match e {
            crate::tree::LogError::Storage(s) => return Err(s),
            crate::tree::LogError::Gap { expected, found } => {
                let msg = format!("log position {expected} is missing (next found: {found}): batches deleted");
                out.push(problem(LOG, expected, ProblemKind::LogMismatch, msg));
                return Ok((log.size(), out));
            }
        }
    }
    let counted_after = storage.log_size().await?;
    if counted_before > log.size() as i64 || counted_after < log.size() as i64 {
        let counted = if counted_before > log.size() as i64 { counted_before } else { counted_after };
        let msg = format!(
            "the log's counter says {counted} batches but {} are stored (batches deleted or the counter edited)",
            log.size()
        );
        out.push(problem(LOG, log.size() as i64, ProblemKind::LogMismatch, msg));
    }
    for th in heads {
        if !th.signature_ok(trusted) {
            let msg = format!("the witnessed tree head of size {} is not signed by a trusted key", th.size);
            out.push(problem(LOG, th.size as i64, ProblemKind::BadSignature, msg));
            continue;
        }
        match log.root_at(th.size) {
            None => {
                let msg = format!(
                    "the log holds {} batches but a witnessed tree head signed {} (tail cut or chain deleted)",
                    log.size(),
                    th.size
                );
                out.push(problem(LOG, log.size() as i64, ProblemKind::LogMismatch, msg));
            }
            Some(root) if Some(root) != th.root_hash() => {
                let msg =
                    format!("the first {} batches no longer have the witnessed root (history rewritten)", th.size);
                out.push(problem(LOG, th.size as i64, ProblemKind::LogMismatch, msg));
            }
            Some(_) => {}
        }
    }
    for r in receipts {
        let b = &r.batch;
        let stored = storage.log_batches(b.log_index, 1).await?;
        if stored.first() != Some(b) {
            let msg = format!(
                "the receipt's batch {}#{}..{} is not at log position {} (deleted, cut or rewritten)",
                b.batch.chain, b.batch.first_seq, b.batch.last_seq, b.log_index
            );
            out.push(problem(&r.chain, r.seq, ProblemKind::LogMismatch, msg));
            continue;
        }
        let rec = storage.records(&r.chain, r.seq - 1, 1).await?;
        if rec.first().map(|x| (x.seq, x.hash.as_str())) != Some((r.seq, r.hash.as_str())) {
            let msg = format!("record {}#{}: the receipt's record is missing or changed", r.chain, r.seq);
            out.push(problem(&r.chain, r.seq, ProblemKind::LogMismatch, msg));
        }
    }
    Ok((log.size(), out))
}

/// [`crate::verify()`] with the signed batches and the log's positions, and that the log
/// still holds what witnessed tree `heads` and `receipts` promised (a cut tail after the
/// last checkpoint, a deleted chain, rewritten history).
pub async fn verify_with(
    storage: &dyn Storage,
    trusted: &[VerifyingKey],
    heads: &[TreeHead],
    receipts: &[RecordProof],
) -> Result<VerifyReport, StorageError> {
    let mut report = crate::verify::verify(storage, trusted).await?;
    let mut batch_problems = Vec::new();
    for chain in storage.chains().await? {
        let cps = storage.checkpoints(&chain).await?;
        let (n, p) = verify_chain_batches(storage, &chain, trusted, &cps).await?;
        report.batches += n;
        batch_problems.extend(p);
    }
    let (size, log_problems) = verify_log(storage, trusted, heads, receipts).await?;
    report.log_size = size;
    report.problems.extend(batch_problems);
    report.problems.extend(log_problems);
    // Per chain: the record-level problems first (they name the first bad record), then
    // the batch-level ones; the log's own problems last.
    let batch_kind =
        |k: ProblemKind| matches!(k, ProblemKind::BatchMismatch | ProblemKind::Unbatched | ProblemKind::LogMismatch);
    report.problems.sort_by(|a, b| {
        let key = |p: &Problem| (p.chain == LOG, p.chain.clone(), batch_kind(p.kind), p.seq);
        key(a).cmp(&key(b))
    });
    Ok(report)
}
