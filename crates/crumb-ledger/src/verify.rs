//! Verification: recompute every hash, check every link and signature.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::keys::signature_ok;
use crate::storage::{Storage, StorageError};
use crate::{Checkpoint, CheckpointKind, GENESIS, Record};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The record's content does not match its hash (an edited field).
    HashMismatch,
    /// The record does not follow the one before it (a deleted, inserted or reordered row).
    BrokenLink,
    /// Records are missing before this one (deleted rows, or a prefix removed without a checkpoint).
    Gap,
    /// A signed checkpoint names a different hash for this record (rewritten history).
    CheckpointMismatch,
    /// A checkpoint's signature is invalid or by an untrusted key.
    BadSignature,
    /// The chain ends before its last checkpoint (truncated tail).
    Truncated,
    /// A signed batch's root does not match the records it covers, or records it covers
    /// are missing.
    BatchMismatch,
    /// A record is not under any signed batch although the chain's batches continue past
    /// records before it (an inserted record).
    Unbatched,
    /// The log of signed batches does not match a witnessed tree head or a receipt (a cut
    /// tail, a deleted chain, rewritten history).
    LogMismatch,
}

/// One problem, naming the first bad record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Chain.
    pub chain: String,
    /// The bad record's position (or the checkpoint's, for signature and truncation problems).
    pub seq: i64,
    /// What.
    pub kind: ProblemKind,
    /// In a sentence.
    pub message: String,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Chains checked.
    pub chains: u64,
    /// Records checked.
    pub records: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Signed batches checked.
    pub batches: u64,
    /// Batches in the log.
    pub log_size: u64,
    /// Problems, in chain order then position; the first names the first bad record.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// No problems.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks one chain, record by record, in `seq` order as storage returns them.
pub struct ChainVerifier<'a> {
    chain: String,
    trusted: &'a [VerifyingKey],
    /// Valid checkpoints by seq (several kinds may share a seq).
    checkpoints: BTreeMap<i64, Vec<Checkpoint>>,
    prev: Option<(i64, String)>,
    records: u64,
    problems: Vec<Problem>,
}

impl<'a> ChainVerifier<'a> {
    /// Start checking `chain` with its stored checkpoints.
    pub fn new(chain: &str, checkpoints: &[Checkpoint], trusted: &'a [VerifyingKey]) -> Self {
        let mut problems = Vec::new();
        let mut valid: BTreeMap<i64, Vec<Checkpoint>> = BTreeMap::new();
        for cp in checkpoints {
            if cp.chain == chain && signature_ok(cp, trusted) {
                valid.entry(cp.seq).or_default().push(cp.clone());
            } else {
                problems.push(Problem {
                    chain: chain.to_string(),
                    seq: cp.seq,
                    kind: ProblemKind::BadSignature,
                    message: format!(
                        "checkpoint at seq {} ({}) has an invalid signature or an untrusted key {}",
                        cp.seq,
                        cp.kind.as_str(),
                        cp.public_key
                    ),
                });
            }
        }
        ChainVerifier { chain: chain.to_string(), trusted, checkpoints: valid, prev: None, records: 0, problems }
    }

    fn problem(&mut self, seq: i64, kind: ProblemKind, message: String) {
        self.problems.push(Problem { chain: self.chain.clone(), seq, kind, message });
    }

    /// Check the next record.
    pub fn feed(&mut self, r: &Record) {
        let _ = self.trusted;
        self.records += 1;
        let computed = r.computed_hash();
        if computed != r.hash {
            self.problem(
                r.seq,
                ProblemKind::HashMismatch,
                format!("record {}#{}: content does not match its hash (edited)", r.chain, r.seq),
            );
        }
        match &self.prev {
            None => {
                if r.seq == 1 {
                    if r.prev_hash != GENESIS {
                        self.problem(
                            1,
                            ProblemKind::BrokenLink,
                            format!("record {}#1: does not start the chain", r.chain),
                        );
                    }
                } else {
                    let anchored =
                        self.checkpoints.get(&(r.seq - 1)).is_some_and(|cps| cps.iter().any(|c| c.hash == r.prev_hash));
                    if !anchored {
                        self.problem(
                            r.seq,
                            ProblemKind::Gap,
                            format!(
                                "record {}#{}: records 1..{} are missing and no signed checkpoint anchors them",
                                r.chain,
                                r.seq,
                                r.seq - 1
                            ),
                        );
                    }
                }
            }
            Some((pseq, phash)) => {
                if r.seq != pseq + 1 {
                    let kind = if r.seq > pseq + 1 { ProblemKind::Gap } else { ProblemKind::BrokenLink };
                    let msg = if r.seq > pseq + 1 {
                        format!(
                            "record {}#{}: records {}..{} are missing (deleted)",
                            r.chain,
                            r.seq,
                            pseq + 1,
                            r.seq - 1
                        )
                    } else {
                        format!("record {}#{}: out of order after #{pseq}", r.chain, r.seq)
                    };
                    self.problem(r.seq, kind, msg);
                } else if &r.prev_hash != phash {
                    self.problem(
                        r.seq,
                        ProblemKind::BrokenLink,
                        format!(
                            "record {}#{}: does not follow #{pseq} (inserted, reordered or rewritten)",
                            r.chain, r.seq
                        ),
                    );
                }
            }
        }
        if let Some(cps) = self.checkpoints.get(&r.seq)
            && cps.iter().any(|c| c.hash != r.hash)
        {
            self.problem(
                r.seq,
                ProblemKind::CheckpointMismatch,
                format!("record {}#{}: a signed checkpoint names a different hash (history rewritten)", r.chain, r.seq),
            );
        }
        self.prev = Some((r.seq, r.hash.clone()));
    }

    /// Finish: check the tail against the last checkpoint. Returns records checked and problems.
    pub fn finish(mut self) -> (u64, Vec<Problem>) {
        let last_cp = self.checkpoints.iter().next_back().map(|(s, cps)| (*s, cps.clone()));
        let end = match &self.prev {
            Some((s, _)) => Some(*s),
            // All records removed by retention: the retention anchor is the end.
            None => self
                .checkpoints
                .iter()
                .rev()
                .find(|(_, cps)| cps.iter().any(|c| c.kind == CheckpointKind::Retention))
                .map(|(s, _)| *s),
        };
        if let Some((cseq, _)) = last_cp
            && end.is_none_or(|e| e < cseq)
        {
            let ends = end.map(|e| format!("ends at #{e}")).unwrap_or_else(|| "has no records".into());
            self.problem(
                end.map(|e| e + 1).unwrap_or(1),
                ProblemKind::Truncated,
                format!("chain {} {ends} but a signed checkpoint covers #{cseq} (truncated)", self.chain),
            );
        }
        self.problems.sort_by_key(|p| p.seq);
        (self.records, self.problems)
    }
}

/// Verify a chain held in memory.
pub fn verify_records(
    chain: &str,
    records: &[Record],
    checkpoints: &[Checkpoint],
    trusted: &[VerifyingKey],
) -> Vec<Problem> {
    let mut v = ChainVerifier::new(chain, checkpoints, trusted);
    for r in records {
        v.feed(r);
    }
    v.finish().1
}

/// Verify every chain in storage, reading records in pages (records, links and
/// checkpoints; the audit module's `verify_with` adds the signed batches and the log).
pub async fn verify(storage: &dyn Storage, trusted: &[VerifyingKey]) -> Result<VerifyReport, StorageError> {
    let mut report = VerifyReport::default();
    for chain in storage.chains().await? {
        // Checkpoints are read before records: a head checkpoint is only written after its
        // records commit, so a live chain never looks truncated.
        let mut cps = storage.checkpoints(&chain).await?;
        let mut first_page = storage.records(&chain, i64::MIN, 5000).await?;
        if let Some(first) = first_page.first()
            && first.seq > 1
            && !cps.iter().any(|c| c.seq == first.seq - 1)
        {
            // Retention may have cut the chain (and signed its anchor) between the two reads.
            cps = storage.checkpoints(&chain).await?;
            first_page = storage.records(&chain, i64::MIN, 5000).await?;
        }
        report.chains += 1;
        report.checkpoints += cps.len() as u64;
        let mut v = ChainVerifier::new(&chain, &cps, trusted);
        let mut after = i64::MIN;
        let mut pending = Some(first_page);
        loop {
            let page = match pending.take() {
                Some(p) => p,
                None => storage.records(&chain, after, 5000).await?,
            };
            let Some(last) = page.last() else { break };
            after = last.seq;
            for r in &page {
                v.feed(r);
            }
        }
        let (n, problems) = v.finish();
        report.records += n;
        report.problems.extend(problems);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::entry;
    use crate::{CheckpointKey, Record};
    use proptest::prelude::*;

    fn build(n: i64, key: &CheckpointKey, every: i64) -> (Vec<Record>, Vec<Checkpoint>) {
        let mut recs: Vec<Record> = Vec::new();
        let mut cps = Vec::new();
        for i in 0..n {
            let (s, h) = recs.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, GENESIS.to_string()));
            let r = Record::chain_after("w1", s, &h, entry(i));
            if r.seq % every == 0 || i == n - 1 {
                cps.push(key.sign("w1", r.seq, &r.hash, CheckpointKind::Head, 1));
            }
            recs.push(r);
        }
        (recs, cps)
    }

    #[test]
    fn intact_chain_verifies() {
        let k = CheckpointKey::generate();
        let (recs, cps) = build(50, &k, 10);
        assert!(verify_records("w1", &recs, &cps, &[k.verifying_key()]).is_empty());
        // And an untrusted key is reported.
        let other = CheckpointKey::generate();
        let p = verify_records("w1", &recs, &cps, &[other.verifying_key()]);
        assert!(p.iter().all(|p| p.kind == ProblemKind::BadSignature) && p.len() == cps.len());
    }

    #[test]
    fn retention_anchor_keeps_rest_verifiable() {
        let k = CheckpointKey::generate();
        let (mut recs, mut cps) = build(30, &k, 10);
        cps.push(k.sign("w1", 12, &recs[11].hash, CheckpointKind::Retention, 2));
        recs.drain(..12);
        assert!(verify_records("w1", &recs, &cps, &[k.verifying_key()]).is_empty());
        // Without the anchor, the gap is reported at the first remaining record.
        cps.pop();
        let p = verify_records("w1", &recs, &cps, &[k.verifying_key()]);
        assert_eq!((p[0].seq, p[0].kind), (13, ProblemKind::Gap));
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Edit(usize, u8),
        Delete(usize),
        Swap(usize, usize),
        Insert(usize),
        Truncate(usize),
        RewriteFrom(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (0usize..40, 0u8..8).prop_map(|(i, f)| Mutation::Edit(i, f)),
            (0usize..40).prop_map(Mutation::Delete),
            (0usize..40, 0usize..40).prop_filter("distinct", |(a, b)| a != b).prop_map(|(a, b)| Mutation::Swap(a, b)),
            (0usize..40).prop_map(Mutation::Insert),
            (1usize..40).prop_map(Mutation::Truncate),
            (0usize..39).prop_map(Mutation::RewriteFrom),
        ]
    }

    proptest! {
        /// Any single mutation of a checkpointed chain is detected, and the first problem
        /// names the first record that changed.
        #[test]
        fn any_single_mutation_is_detected(m in mutation()) {
            let k = CheckpointKey::generate();
            let (mut recs, cps) = build(40, &k, 7);
            let trusted = [k.verifying_key()];
            let expect_seq: i64 = match m.clone() {
                Mutation::Edit(i, f) => {
                    let e = &mut recs[i].entry;
                    match f {
                        0 => e.action = "accept_all".into(),
                        1 => { e.choices.insert("analytics".into(), !e.choices["analytics"]); }
                        2 => e.gpc = !e.gpc,
                        3 => e.recorded_at += 1,
                        4 => e.policy_version = "0000000000000000".into(),
                        5 => e.consent_id = "someone-else".into(),
                        6 => e.ip_hash = None,
                        _ => e.url = Some("https://evil.example/".into()),
                    }
                    (i + 1) as i64
                }
                Mutation::Delete(i) => { recs.remove(i); if i == 39 { 40 } else { (i + 2) as i64 } }
                Mutation::Swap(a, b) => {
                    // Reordering means the rows trade positions (their seq values).
                    let (sa, sb) = (recs[a].seq, recs[b].seq);
                    recs[a].seq = sb; recs[b].seq = sa;
                    recs.sort_by_key(|r| r.seq);
                    (a.min(b) + 1) as i64
                }
                Mutation::Insert(i) => {
                    // A forged row at position i+1: later rows shift down one place.
                    let mut forged = recs[i].clone();
                    forged.entry.action = "accept_all".into();
                    forged.hash = forged.computed_hash();
                    recs.insert(i + 1, forged);
                    for (n, r) in recs.iter_mut().enumerate() { r.seq = n as i64 + 1; }
                    (i + 2) as i64
                }
                Mutation::Truncate(keep) => { recs.truncate(keep); (keep + 1) as i64 }
                Mutation::RewriteFrom(i) => {
                    // An attacker who recomputes every hash after an edit.
                    recs[i].entry.action = "withdraw".into();
                    for j in i..recs.len() {
                        let prev = if j == 0 { GENESIS.to_string() } else { recs[j - 1].hash.clone() };
                        recs[j].prev_hash = prev;
                        recs[j].hash = recs[j].computed_hash();
                    }
                    // Detected at the first checkpoint at or after the edit.
                    cps.iter().map(|c| c.seq).find(|s| *s > i as i64).unwrap_or(40)
                }
            };
            let problems = verify_records("w1", &recs, &cps, &trusted);
            prop_assert!(!problems.is_empty(), "{m:?} not detected");
            prop_assert_eq!(problems[0].seq, expect_seq, "{:?}: {:?}", m, problems);
        }
    }
}
