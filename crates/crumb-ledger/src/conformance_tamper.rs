//! The property test of issue #17 at the storage level: random ledgers (several chains
//! and sites, batches of random sizes group-committed by the real writer, checkpoints
//! every few records, writers stopped cleanly or killed, retention sometimes), then ONE
//! random tampering done by SQL on the database. [`verify_with`] (what `crumb ledger
//! verify` runs) must report every one, and its first problem must name the first bad
//! record or batch. Tampering that cannot be seen in the database alone (a tail or a
//! chain deleted with its batches, the log renumbered) is checked against a tree head or
//! a receipt taken before it, as a witness or a visitor would keep them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::audit::LOG;
use crate::batch::{LoggedBatch, SignedBatch};
use crate::conformance::sample_entry;
use crate::conformance_aggregates::Gen;
use crate::conformance_sql::{ExecSql, insert_record, lit, run};
use crate::receipt::RecordProof;
use crate::storage::Storage;
use crate::tree::{LogTree, TreeHead};
use crate::{Checkpoint, CheckpointKey, GENESIS, Ledger, LedgerOptions, Record, retention, verify_with};

const T0: i64 = 1_800_000_000_000;

/// Every hashed field of a record, edited one at a time.
const FIELDS: [&str; 20] = [
    "consent_id",
    "site",
    "policy_version",
    "choices",
    "action",
    "gpc",
    "dnt",
    "region",
    "mode",
    "language",
    "url",
    "ua_family",
    "ip_hash",
    "recorded_at",
    "expires_at",
    "retain_until",
    "prev_hash",
    "hash",
    "chain",
    "seq",
];

/// The tamperings, each exercised at least once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    EditField(usize),
    DeleteRecord,
    InsertShifting,
    InsertAfterHead,
    ForgedChain,
    SwapRecords,
    CutTail,
    /// Bit 0: the checkpoints after the cut go too; bit 1: checked against a receipt
    /// (else a tree head).
    CutTailWithBatches(u8),
    DeleteChain,
    /// Checked against a receipt (else a tree head).
    DeleteChainWithBatches(bool),
    AlterBatch(usize),
    DeleteBatch,
    EditLogSize,
}

const BATCH_EDITS: usize = 7;

fn schedule() -> Vec<Kind> {
    let mut out: Vec<Kind> = (0..FIELDS.len()).map(Kind::EditField).collect();
    out.extend((0..BATCH_EDITS).map(Kind::AlterBatch));
    out.extend((0..4).map(Kind::CutTailWithBatches));
    out.extend([
        Kind::DeleteRecord,
        Kind::InsertShifting,
        Kind::InsertAfterHead,
        Kind::ForgedChain,
        Kind::SwapRecords,
        Kind::CutTail,
        Kind::DeleteChain,
        Kind::DeleteChainWithBatches(false),
        Kind::DeleteChainWithBatches(true),
        Kind::DeleteBatch,
        Kind::EditLogSize,
    ]);
    out
}

/// One chain as stored before the tampering.
struct ChainState {
    name: String,
    recs: Vec<Record>,
    batches: Vec<LoggedBatch>,
    cps: Vec<Checkpoint>,
}

impl ChainState {
    fn rec(&self, seq: i64) -> &Record {
        self.recs.iter().find(|r| r.seq == seq).expect("stored record")
    }
    fn head(&self) -> i64 {
        self.recs.last().map(|r| r.seq).unwrap_or(0)
    }
    fn where_seq(&self, seq: i64) -> String {
        format!("chain = {} AND seq = {seq}", lit(&self.name))
    }
    /// Where the loss of batch `b` shows on this chain: at its first record, except when
    /// the chain has nothing left that must be under it. A chain left without batches must
    /// be covered by checkpoints: its first record past the last one is named, if any. A
    /// chain whose last batch goes and whose records are all before it (retention) shows
    /// nothing, and only the log tells.
    fn batch_loss(&self, b: &SignedBatch) -> Vec<(String, Vec<i64>)> {
        if self.batches.len() == 1 {
            let cp = self.cps.iter().map(|x| x.seq).max().unwrap_or(0);
            return match self.recs.iter().find(|r| r.seq > cp) {
                Some(r) => vec![(self.name.clone(), vec![r.seq])],
                None => vec![(LOG.to_string(), vec![])],
            };
        }
        let last = self.batches.last().is_some_and(|x| x.batch == *b);
        if last && self.head() < b.first_seq {
            return vec![(LOG.to_string(), vec![])];
        }
        vec![(self.name.clone(), vec![b.first_seq])]
    }
}

/// What a tampering is expected to produce.
struct Tampering {
    what: String,
    sql: Vec<String>,
    /// The first problem must be on one of these chains, at one of the seqs (any seq when
    /// empty).
    first: Vec<(String, Vec<i64>)>,
    /// Chains that may have problems (every other chain must verify).
    affected: BTreeSet<String>,
    head: bool,
    receipt: Option<RecordProof>,
}

impl Tampering {
    fn new(what: String, sql: Vec<String>, first: Vec<(String, Vec<i64>)>) -> Self {
        let affected = first.iter().map(|(c, _)| c.clone()).collect();
        Tampering { what, sql, first, affected, head: false, receipt: None }
    }
    fn also(mut self, chain: &str) -> Self {
        self.affected.insert(chain.to_string());
        self
    }
}

/// Empty every table the ledger's proofs live in.
async fn reset(sql: &ExecSql) {
    for t in ["records", "checkpoints", "chains", "batches", "agg_decisions", "agg_categories", "agg_hours"] {
        run(sql, format!("DELETE FROM {t}")).await;
    }
    run(sql, "UPDATE ledger_log SET size = 0").await;
}

/// Write a random ledger through the real writer; returns every record's receipt.
async fn write_ledger(
    s: &Arc<dyn Storage>,
    key: &CheckpointKey,
    g: &mut Gen,
    case: usize,
) -> BTreeMap<(String, i64), RecordProof> {
    let chains = 1 + g.below(3) as usize;
    let mut writers = Vec::new();
    for c in 0..chains {
        let opts = LedgerOptions {
            checkpoint_every: 3 + g.below(12) as i64,
            checkpoint_interval: Duration::from_secs(3600),
            ..LedgerOptions::default()
        };
        writers.push(Ledger::start(s.clone(), key.clone(), format!("w{case:02}-{c}"), opts));
    }
    let mut receipts = BTreeMap::new();
    let mut i = case as i64 * 1000;
    for _round in 0..2 + g.below(3) {
        let mut joins = Vec::new();
        for (ledger, _) in &writers {
            // Several appends at once: the writer commits them in batches of random sizes.
            for _ in 0..g.below(5) {
                let at = T0 + i * 1000;
                let mut e = sample_entry(i, at);
                e.retain_until = at + g.below(30_000) as i64;
                i += 1;
                let l = ledger.clone();
                joins.push(tokio::spawn(async move {
                    // As a client retries a 503 (on PostgreSQL, two chains' batches that
                    // recount the same visitor's days may deadlock; `append_batch` runs the
                    // loser again, a few times, before it reports the failure).
                    let mut tries = 0;
                    loop {
                        match l.append_proved(e.clone()).await {
                            Err(crate::AppendError::Unavailable) if tries < 5 => tries += 1,
                            done => return done,
                        }
                    }
                }));
            }
        }
        for j in joins {
            let c = j.await.expect("join").expect("append");
            let p = RecordProof {
                chain: c.record.chain.clone(),
                seq: c.record.seq,
                hash: c.record.hash.clone(),
                batch: (*c.batch).clone(),
                inclusion_proof: c.inclusion_proof,
            };
            receipts.insert((p.chain.clone(), p.seq), p);
        }
    }
    for (ledger, task) in writers {
        if g.below(2) == 0 {
            drop(ledger);
            task.await.expect("writer stops, signing its head");
        } else {
            // Killed: no checkpoint at the end (the tail is covered by batches only). Once
            // idle: a checkpoint being written would land in a later case.
            tokio::time::sleep(Duration::from_millis(20)).await;
            task.abort();
            let _ = task.await;
            drop(ledger);
        }
    }
    receipts
}

async fn read_state(s: &dyn Storage) -> Vec<ChainState> {
    let mut out = Vec::new();
    for name in s.chains().await.expect("chains") {
        out.push(ChainState {
            recs: s.records(&name, i64::MIN, 1_000_000).await.expect("records"),
            batches: s.chain_batches(&name).await.expect("batches"),
            cps: s.checkpoints(&name).await.expect("checkpoints"),
            name,
        });
    }
    out
}

/// Statements that renumber the log after batch rows were deleted (without gaps, in the
/// old order) and set its counter, as an intruder hiding the deletion would.
fn renumber(log: &[LoggedBatch], deleted: &BTreeSet<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = 0;
    for b in log.iter().filter(|b| !deleted.contains(&b.log_index)) {
        if b.log_index != next {
            out.push(format!("UPDATE batches SET log_index = {next} WHERE log_index = {}", b.log_index));
        }
        next += 1;
    }
    out.push(format!("UPDATE ledger_log SET size = {next}"));
    out
}

/// The SQL that edits `field` of record `seq` so that it differs.
fn edit_field(field: &str) -> String {
    match field {
        "choices" => "choices = replace(choices, '\"necessary\":true', '\"necessary\":false')".into(),
        "action" => "action = CASE WHEN action = 'withdraw' THEN 'save' ELSE 'withdraw' END".into(),
        "gpc" | "dnt" => format!("{field} = NOT {field}"),
        "mode" => "mode = CASE WHEN mode = 'opt_in' THEN 'opt_out' ELSE 'opt_in' END".into(),
        "region" | "language" | "url" | "ip_hash" => {
            format!("{field} = CASE WHEN {field} IS NULL THEN 'x' ELSE NULL END")
        }
        "recorded_at" | "expires_at" | "retain_until" => format!("{field} = {field} + 1"),
        "prev_hash" => "prev_hash = hash".into(),
        "hash" => "hash = prev_hash".into(),
        "seq" => "seq = seq + 100000".into(),
        _ => format!("{field} = {field} || 'x'"),
    }
}

/// Pick a chain with at least `n` stored records.
fn pick<'a>(g: &mut Gen, chains: &'a [ChainState], n: usize) -> Option<&'a ChainState> {
    let ok: Vec<&ChainState> = chains.iter().filter(|c| c.recs.len() >= n && !c.batches.is_empty()).collect();
    (!ok.is_empty()).then(|| ok[g.below(ok.len() as u64) as usize])
}

fn pick_seq(g: &mut Gen, c: &ChainState) -> i64 {
    c.recs[g.below(c.recs.len() as u64) as usize].seq
}

/// Build the tampering of `kind` on the stored state (None when the ledger has nothing it
/// applies to, e.g. every record removed by retention).
fn tamper(
    kind: Kind,
    g: &mut Gen,
    chains: &[ChainState],
    log: &[LoggedBatch],
    receipts: &BTreeMap<(String, i64), RecordProof>,
    case: usize,
) -> Option<Tampering> {
    let other = CheckpointKey::generate();
    let t = match kind {
        Kind::EditField(f) => {
            let c = pick(g, chains, 1)?;
            let s = pick_seq(g, c);
            let field = FIELDS[f];
            let sql = vec![format!("UPDATE records SET {} WHERE {}", edit_field(field), c.where_seq(s))];
            let t = |seqs| {
                Tampering::new(format!("edited {field} of {}#{s}", c.name), sql.clone(), vec![(c.name.clone(), seqs)])
            };
            match field {
                // The row leaves its place: missing there (named at it or the record after),
                // or named where it landed.
                "chain" => t(vec![s, s + 1]).also(&format!("{}x", c.name)),
                "seq" => t(vec![s, s + 1, s + 100_000]),
                _ => t(vec![s]),
            }
        }
        Kind::DeleteRecord => {
            let c = pick(g, chains, 1)?;
            let s = pick_seq(g, c);
            let sql = vec![format!("DELETE FROM records WHERE {}", c.where_seq(s))];
            Tampering::new(format!("deleted {}#{s}", c.name), sql, vec![(c.name.clone(), vec![s, s + 1])])
        }
        Kind::InsertShifting => {
            let c = pick(g, chains, 2)?;
            let s = c.recs[g.below(c.recs.len() as u64 - 1) as usize].seq;
            let at = c.rec(s);
            let mut e = at.entry.clone();
            e.action = "accept_all".into();
            // A forged record at s + 1 that links to s and hashes right; the rest moves up.
            let forged = Record::chain_after(&c.name, s, &at.hash, e);
            let w = lit(&c.name);
            let sql = vec![
                format!("UPDATE records SET seq = -seq - 1 WHERE chain = {w} AND seq > {s}"),
                format!("UPDATE records SET seq = -seq WHERE chain = {w} AND seq < 0"),
                insert_record(&forged),
            ];
            Tampering::new(format!("inserted {}#{}", c.name, s + 1), sql, vec![(c.name.clone(), vec![s + 1, s + 2])])
        }
        Kind::InsertAfterHead => {
            let c = pick(g, chains, 1)?;
            let last = c.recs.last()?;
            let forged = Record::chain_after(&c.name, last.seq, &last.hash, last.entry.clone());
            let sql = vec![insert_record(&forged)];
            Tampering::new(format!("appended {}#{}", c.name, forged.seq), sql, vec![(c.name.clone(), vec![forged.seq])])
        }
        Kind::ForgedChain => {
            let name = format!("w{case:02}-forged");
            let (mut seq, mut hash) = (0, GENESIS.to_string());
            let mut sql = Vec::new();
            if g.below(2) == 0 {
                sql.push(format!("INSERT INTO chains (chain, started_at) VALUES ({}, 1)", lit(&name)));
            }
            for i in 0..1 + g.below(3) as i64 {
                let r = Record::chain_after(&name, seq, &hash, sample_entry(i, T0 + i));
                (seq, hash) = (r.seq, r.hash.clone());
                sql.push(insert_record(&r));
            }
            Tampering::new(format!("forged chain {name} of {seq} records"), sql, vec![(name, vec![1])])
        }
        Kind::SwapRecords => {
            let c = pick(g, chains, 2)?;
            let a = pick_seq(g, c);
            let b = loop {
                let b = pick_seq(g, c);
                if b != a {
                    break b;
                }
            };
            let sql = vec![
                format!("UPDATE records SET seq = -1 WHERE {}", c.where_seq(a)),
                format!("UPDATE records SET seq = {a} WHERE {}", c.where_seq(b)),
                format!("UPDATE records SET seq = {b} WHERE {}", c.where_seq(-1)),
            ];
            Tampering::new(format!("swapped {}#{a} and #{b}", c.name), sql, vec![(c.name.clone(), vec![a.min(b)])])
        }
        Kind::CutTail => {
            let c = pick(g, chains, 1)?;
            let k = pick_seq(g, c) - 1;
            let sql = vec![format!("DELETE FROM records WHERE chain = {} AND seq > {k}", lit(&c.name))];
            Tampering::new(format!("cut {} after #{k}", c.name), sql, vec![(c.name.clone(), vec![k + 1])])
        }
        Kind::CutTailWithBatches(v) => {
            // Cut at a batch boundary with every record after it stored, so the batches
            // after it go whole; the log is renumbered and its counter set.
            let c = pick(g, chains, 1)?;
            let first = c.recs.first()?.seq;
            let whole: Vec<&LoggedBatch> = c.batches.iter().filter(|b| b.batch.first_seq >= first).collect();
            let b = whole.get(g.below(whole.len().max(1) as u64) as usize)?;
            let k = b.batch.first_seq - 1;
            let w = lit(&c.name);
            let cps_too = v & 1 == 1;
            let mut sql = vec![
                format!("DELETE FROM records WHERE chain = {w} AND seq > {k}"),
                format!("DELETE FROM batches WHERE chain = {w} AND first_seq > {k}"),
            ];
            if cps_too {
                sql.push(format!("DELETE FROM checkpoints WHERE chain = {w} AND seq > {k}"));
            }
            let gone = c.batches.iter().filter(|x| x.batch.first_seq > k).map(|x| x.log_index).collect();
            sql.extend(renumber(log, &gone));
            let mut t = Tampering::new(
                format!("cut {} after #{k} with its batches{}", c.name, if cps_too { " and checkpoints" } else { "" }),
                sql,
                vec![(c.name.clone(), vec![k + 1]), (LOG.to_string(), vec![])],
            );
            if v & 2 == 0 {
                t.head = true;
            } else {
                t.receipt = Some(receipts.get(&(c.name.clone(), k + 1))?.clone());
            }
            t
        }
        Kind::DeleteChain => {
            let c = pick(g, chains, 0)?;
            let w = lit(&c.name);
            let sql =
                ["records", "checkpoints", "chains"].map(|t| format!("DELETE FROM {t} WHERE chain = {w}")).to_vec();
            Tampering::new(format!("deleted chain {} (batches kept)", c.name), sql, vec![(c.name.clone(), vec![1])])
        }
        Kind::DeleteChainWithBatches(with_receipt) => {
            let c = pick(g, chains, 0)?;
            let w = lit(&c.name);
            let mut sql = ["records", "checkpoints", "chains", "batches"]
                .map(|t| format!("DELETE FROM {t} WHERE chain = {w}"))
                .to_vec();
            let gone = c.batches.iter().map(|x| x.log_index).collect();
            sql.extend(renumber(log, &gone));
            let receipt =
                c.recs.last().and_then(|r| receipts.get(&(c.name.clone(), r.seq))).filter(|_| with_receipt).cloned();
            let first = match &receipt {
                Some(r) => vec![(c.name.clone(), vec![r.seq])],
                None => vec![(LOG.to_string(), vec![])],
            };
            let mut t = Tampering::new(format!("deleted chain {} with its batches", c.name), sql, first).also(&c.name);
            t.head = receipt.is_none();
            t.receipt = receipt;
            t.also(LOG)
        }
        Kind::AlterBatch(f) => {
            let lb = log.get(g.below(log.len().max(1) as u64) as usize)?;
            let b = &lb.batch;
            let at = format!("WHERE log_index = {}", lb.log_index);
            let resigned = |root: &str| {
                let sig = other.sign_bytes(&SignedBatch::message(&b.chain, b.first_seq, b.last_seq, root, b.signed_at));
                format!(
                    "UPDATE batches SET root = {}, public_key = {}, signature = {} {at}",
                    lit(root),
                    lit(&other.public_hex()),
                    lit(&sig)
                )
            };
            let another = log.iter().find(|x| x.log_index != lb.log_index).map(|x| x.batch.signature.clone());
            let (what, stmt) = match f {
                0 => ("root", format!("UPDATE batches SET root = {} {at}", lit(&"0".repeat(64)))),
                1 => (
                    "signature",
                    format!("UPDATE batches SET signature = {} {at}", lit(&another.unwrap_or_else(|| "00".repeat(64)))),
                ),
                2 => ("re-signed by another key", resigned(&b.root)),
                3 => ("root forged and signed by another key", resigned(&"1".repeat(64))),
                4 => ("signed_at", format!("UPDATE batches SET signed_at = signed_at + 1 {at}")),
                5 => ("last_seq", format!("UPDATE batches SET last_seq = last_seq + 1 {at}")),
                _ => ("chain", format!("UPDATE batches SET chain = chain || 'x' {at}")),
            };
            let moved = format!("{}x", b.chain);
            let mut first = vec![(b.chain.clone(), vec![b.first_seq])];
            if f == 6 {
                // The batch left its chain (named there, or where it landed).
                first = chains.iter().find(|c| c.name == b.chain)?.batch_loss(b);
                first.push((moved.clone(), vec![b.first_seq]));
            }
            let t =
                Tampering::new(format!("batch {}#{}..{}: {what}", b.chain, b.first_seq, b.last_seq), vec![stmt], first);
            t.also(&moved)
        }
        Kind::DeleteBatch => {
            let lb = log.get(g.below(log.len().max(1) as u64) as usize)?;
            let c = chains.iter().find(|c| c.name == lb.batch.chain)?;
            let sql = vec![format!("DELETE FROM batches WHERE log_index = {}", lb.log_index)];
            let first = c.batch_loss(&lb.batch);
            Tampering::new(
                format!("deleted batch {}#{}..{}", c.name, lb.batch.first_seq, lb.batch.last_seq),
                sql,
                first,
            )
            .also(&c.name)
            .also(LOG)
        }
        Kind::EditLogSize => {
            let deltas: &[i64] = if log.is_empty() { &[1, 3] } else { &[-1, 1, 3] };
            let d = deltas[g.below(deltas.len() as u64) as usize];
            let sql = vec![format!("UPDATE ledger_log SET size = size + {d}")];
            Tampering::new(format!("log size {d:+}"), sql, vec![(LOG.to_string(), vec![])])
        }
    };
    Some(t)
}

/// Random ledgers, one random tampering each, on a fresh set of tables per case:
/// `verify_with` finds every one and names the first bad record or batch.
pub async fn every_single_tampering_is_detected(s: Arc<dyn Storage>, sql: ExecSql) {
    let key = CheckpointKey::generate();
    let trusted = [key.verifying_key()];
    let mut g = Gen(0x17_17_17);
    let kinds = schedule();
    let mut case = 0;
    // Every tampering once; one that found nothing to apply to (every record removed by
    // retention) comes again on the next ledger.
    let mut todo: Vec<Kind> = kinds.iter().rev().copied().collect();
    while let Some(kind) = todo.pop() {
        assert!(case < kinds.len() * 2, "tamperings never applicable: {kind:?}");
        reset(&sql).await;
        let receipts = write_ledger(&s, &key, &mut g, case).await;
        if g.below(3) == 0 {
            let now = T0 + (case as i64 * 1000 + g.below(12) as i64) * 1000;
            retention::apply(s.as_ref(), &key, now).await.expect("retention");
        }
        let intact = verify_with(s.as_ref(), &trusted, &[], &[]).await.expect("verify");
        assert!(intact.ok(), "case {case}: the untouched ledger verifies: {:?}", intact.problems);
        let chains = read_state(s.as_ref()).await;
        let log = s.log_batches(0, 1_000_000).await.expect("log");
        let mut tree = LogTree::default();
        tree.sync(s.as_ref()).await.expect("log tree");
        let head = TreeHead::sign(&key, tree.size(), &tree.root_at(tree.size()).expect("root"), T0);
        let Some(t) = tamper(kind, &mut g, &chains, &log, &receipts, case) else {
            todo.push(kind);
            case += 1;
            continue;
        };
        for stmt in &t.sql {
            run(&sql, stmt.as_str()).await;
        }
        let heads = if t.head { vec![head] } else { Vec::new() };
        let receipts: Vec<RecordProof> = t.receipt.iter().cloned().collect();
        let report = verify_with(s.as_ref(), &trusted, &heads, &receipts).await.expect("verify");
        let given = if t.head {
            " given a tree head"
        } else if t.receipt.is_some() {
            " given a receipt"
        } else {
            ""
        };
        let first = report.problems.first().unwrap_or_else(|| panic!("case {case}: {}{given}: not detected", t.what));
        assert!(
            t.first.iter().any(|(c, seqs)| *c == first.chain && (seqs.is_empty() || seqs.contains(&first.seq))),
            "case {case}: {}{given}: the first problem should name one of {:?}, got {first:?}; all: {:?}",
            t.what,
            t.first,
            report.problems
        );
        let stray: Vec<_> = report.problems.iter().filter(|p| !t.affected.contains(&p.chain)).collect();
        assert!(stray.is_empty(), "case {case}: {}: problems on untouched chains: {stray:?}", t.what);
        case += 1;
    }
}

/// Generate the `#[tokio::test]`s of the stories that run SQL directly. `$make` is an
/// async expression returning a fresh `(Arc<dyn Storage>, ExecSql)`.
#[macro_export]
macro_rules! sql_conformance_tests {
    ($make:expr) => {
        $crate::sql_conformance_tests!(@one $make; every_single_tampering_is_detected);
    };
    (@one $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (s, sql) = $make.await;
                $crate::conformance_tamper::$name(s, sql).await;
            }
        )*
    };
}
