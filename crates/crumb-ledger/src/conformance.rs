//! The storage conformance suite: stories every [`Storage`] backend must pass.
//!
//! A backend's tests call [`conformance_tests!`](crate::conformance_tests) with an async
//! expression that yields a fresh, empty, migrated storage (its own database per test).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::storage::{PolicyVersionRow, Storage};
use crate::{CheckpointKey, Entry, GENESIS, Ledger, LedgerOptions, Record, retention, verify};

/// An entry for tests: decision `i` at `at` ms.
pub fn sample_entry(i: i64, at: i64) -> Entry {
    Entry {
        consent_id: format!("0193a2b4-7c1d-7e55-9a0b-{:012x}", i % 7),
        site: if i % 2 == 0 { "leadsgen".into() } else { "mixerlead".into() },
        policy_version: "3f2a9c1b7e4d5a6b".into(),
        choices: BTreeMap::from([("necessary".to_string(), true), ("analytics".to_string(), i % 3 == 0)]),
        action: ["accept_all", "reject_all", "save", "withdraw"][(i % 4) as usize].into(),
        gpc: i % 5 == 0,
        dnt: i % 7 == 0,
        region: if i % 2 == 0 { Some("DE".into()) } else { None },
        mode: "opt_in".into(),
        language: Some("en".into()),
        url: Some("https://leadsgen.app/pricing".into()),
        ua_family: "firefox".into(),
        ip_hash: Some("ab".repeat(16)),
        recorded_at: at,
        expires_at: at + 1000,
        retain_until: at + 10_000,
    }
}

fn chain_of(chain: &str, n: i64, t0: i64) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    for i in 0..n {
        let (s, h) = out.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, GENESIS.to_string()));
        out.push(Record::chain_after(chain, s, &h, sample_entry(i, t0 + i)));
    }
    out
}

/// Records round-trip exactly; heads, pages, history and chain lists are right.
pub async fn append_and_read(s: Arc<dyn Storage>) {
    s.ping().await.expect("ping");
    assert_eq!(s.chain_head("a").await.expect("head"), None);
    s.start_chain("a", 1).await.expect("start");
    s.start_chain("a", 1).await.expect("start is idempotent");
    let recs = chain_of("a", 25, 1_000_000);
    s.append(&recs[..10]).await.expect("append");
    s.append(&recs[10..]).await.expect("append");
    assert_eq!(s.chain_head("a").await.expect("head"), Some((25, recs[24].hash.clone())));
    let page = s.records("a", 5, 7).await.expect("page");
    assert_eq!(page, recs[5..12].to_vec(), "records round-trip field for field");
    let all = s.records("a", i64::MIN, 1000).await.expect("all");
    assert_eq!(all, recs);
    let id = &recs[3].entry.consent_id;
    let hist = s.history(id).await.expect("history");
    let expected: Vec<Record> = recs.iter().filter(|r| &r.entry.consent_id == id).cloned().collect();
    assert_eq!(hist, expected);
    assert!(s.history("0193a2b4-0000-7000-8000-000000000000").await.expect("history").is_empty());
    s.start_chain("b", 2).await.expect("start b");
    assert_eq!(s.chains().await.expect("chains"), vec!["a".to_string(), "b".to_string()]);
}

/// A batch with a conflicting `(chain, seq)` stores nothing.
pub async fn append_is_atomic(s: Arc<dyn Storage>) {
    let recs = chain_of("a", 6, 5);
    s.append(&recs[..3]).await.expect("append");
    let conflicting = vec![recs[3].clone(), recs[4].clone(), recs[2].clone()];
    assert!(s.append(&conflicting).await.is_err(), "duplicate seq must fail");
    assert_eq!(s.chain_head("a").await.expect("head").map(|h| h.0), Some(3), "nothing of the failed batch stored");
}

/// Concurrent appends through the writer: every caller gets a distinct committed seq,
/// the chain verifies, and a final checkpoint is signed at shutdown.
pub async fn group_commit_and_verify(s: Arc<dyn Storage>) {
    let key = CheckpointKey::generate();
    let opts = LedgerOptions { checkpoint_every: 50, ..LedgerOptions::default() };
    let (ledger, task) = Ledger::start(s.clone(), key.clone(), "w1".into(), opts);
    let mut handles = Vec::new();
    for i in 0..300 {
        let l = ledger.clone();
        handles.push(tokio::spawn(async move { l.append(sample_entry(i, 1_000 + i)).await }));
    }
    let mut seqs = Vec::new();
    for h in handles {
        let r = h.await.expect("task").expect("append");
        let stored = s.history(&r.entry.consent_id).await.expect("history");
        assert!(stored.iter().any(|x| x.seq == r.seq && x.hash == r.hash), "acknowledged record is stored");
        seqs.push(r.seq);
    }
    seqs.sort();
    assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
    assert!(ledger.metrics().batches.load(std::sync::atomic::Ordering::Relaxed) <= 300);
    drop(ledger);
    task.await.expect("writer ends");
    let cps = s.checkpoints("w1").await.expect("checkpoints");
    assert_eq!(cps.last().map(|c| c.seq), Some(300), "final checkpoint at the head");
    let report = verify(&*s, &[key.verifying_key()]).await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.chains, report.records), (1, 300));
}

/// Two writers on one database: separate chains, both verified.
pub async fn two_writers(s: Arc<dyn Storage>) {
    let key = CheckpointKey::generate();
    let (a, ta) = Ledger::start(s.clone(), key.clone(), "wa".into(), LedgerOptions::default());
    let (b, tb) = Ledger::start(s.clone(), key.clone(), "wb".into(), LedgerOptions::default());
    let mut hs = Vec::new();
    for i in 0..100 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        hs.push(tokio::spawn(async move { l.append(sample_entry(i, i)).await }));
    }
    for h in hs {
        h.await.expect("task").expect("append");
    }
    drop((a, b));
    ta.await.expect("a");
    tb.await.expect("b");
    let report = verify(&*s, &[key.verifying_key()]).await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.chains, report.records), (2, 100));
}

/// Retention removes the expired prefix, anchors it, and the rest still verifies.
pub async fn retention_keeps_rest_verifiable(s: Arc<dyn Storage>) {
    let key = CheckpointKey::generate();
    let recs = chain_of("a", 20, 0); // retain_until = i + 10_000
    s.append(&recs).await.expect("append");
    s.add_checkpoint(&key.sign("a", 20, &recs[19].hash, crate::CheckpointKind::Head, 1)).await.expect("cp");
    assert_eq!(s.expired_prefix("a", 10_005).await.expect("prefix"), Some(5));
    let rep = retention::apply(&*s, &key, 10_005).await.expect("retention");
    assert_eq!(rep.deleted, 5);
    let left = s.records("a", i64::MIN, 100).await.expect("records");
    assert_eq!(left.first().map(|r| r.seq), Some(6));
    let report = verify(&*s, &[key.verifying_key()]).await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    // Everything expired: the chain is empty and still verifies against its anchor.
    retention::apply(&*s, &key, 1_000_000).await.expect("retention");
    assert!(s.records("a", i64::MIN, 100).await.expect("records").is_empty());
    let report = verify(&*s, &[key.verifying_key()]).await.expect("verify");
    assert!(report.ok(), "{:?}", report.problems);
    // Deleting records outside retention is still caught.
    let recs = chain_of("c", 10, 0);
    s.append(&recs).await.expect("append");
    s.add_checkpoint(&key.sign("c", 10, &recs[9].hash, crate::CheckpointKind::Head, 1)).await.expect("cp");
    s.delete_through("c", 3).await.expect("delete");
    let report = verify(&*s, &[key.verifying_key()]).await.expect("verify");
    assert_eq!(report.problems.first().map(|p| (p.chain.as_str(), p.seq)), Some(("c", 4)));
}

/// Policy versions are recorded once and listed oldest first.
pub async fn policy_versions(s: Arc<dyn Storage>) {
    let row = |v: &str, t: i64, m: bool| PolicyVersionRow {
        site: "leadsgen".into(),
        version: v.into(),
        material: m,
        first_seen: t,
        snapshot: format!("{{\"v\":\"{v}\"}}"),
    };
    assert!(s.add_version(&row("aaaa", 1, true)).await.expect("add"));
    assert!(!s.add_version(&row("aaaa", 5, false)).await.expect("add again"), "known version is kept");
    assert!(s.add_version(&row("bbbb", 2, false)).await.expect("add"));
    let vs = s.versions("leadsgen").await.expect("versions");
    assert_eq!(vs, vec![row("aaaa", 1, true), row("bbbb", 2, false)]);
    assert!(s.versions("other").await.expect("versions").is_empty());
}

/// Export filters by site and time and pages in a stable order; stats count.
pub async fn export_and_stats(s: Arc<dyn Storage>) {
    let a = chain_of("a", 10, 100);
    let b = chain_of("b", 10, 100);
    s.append(&a).await.expect("append");
    s.append(&b).await.expect("append");
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.export(Some("leadsgen"), 102, 108, after.clone(), 3).await.expect("export");
        let Some(last) = page.last() else { break };
        after = Some((last.entry.recorded_at, last.chain.clone(), last.seq));
        got.extend(page);
    }
    assert_eq!(got.len(), 6, "leadsgen records at 102, 104, 106 on two chains");
    assert!(got.iter().all(|r| r.entry.site == "leadsgen" && (102..108).contains(&r.entry.recorded_at)));
    let keys: Vec<_> = got.iter().map(|r| (r.entry.recorded_at, r.chain.clone())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Every site, in pages of 4: the same order, nothing twice, nothing left out.
    let (mut all, mut after) = (Vec::new(), None);
    loop {
        let page = s.export(None, 102, 108, after.clone(), 4).await.expect("export");
        let Some(last) = page.last() else { break };
        after = Some((last.entry.recorded_at, last.chain.clone(), last.seq));
        all.extend(page);
    }
    let keys: Vec<_> = all.iter().map(|r| (r.entry.recorded_at, r.chain.clone(), r.seq)).collect();
    let mut expected: Vec<_> = a
        .iter()
        .chain(&b)
        .filter(|r| (102..108).contains(&r.entry.recorded_at))
        .map(|r| (r.entry.recorded_at, r.chain.clone(), r.seq))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    let st = s.stats(None, i64::MIN, i64::MAX).await.expect("stats");
    assert_eq!((st.records, st.chains, st.first_at, st.last_at), (20, 2, Some(100), Some(109)));
    assert_eq!(st.consent_ids, 7);
    let st = s.stats(Some("mixerlead"), i64::MIN, i64::MAX).await.expect("stats");
    assert_eq!(st.records, 10);
    assert_eq!(st.by_site, vec![("mixerlead".to_string(), 10)]);
    // A time window: from included, to excluded; chains and checkpoints stay whole-ledger.
    let st = s.stats(None, 102, 106).await.expect("stats");
    assert_eq!((st.records, st.chains, st.first_at, st.last_at), (8, 2, Some(102), Some(105)));
    let st = s.stats(Some("leadsgen"), 102, 106).await.expect("stats");
    assert_eq!(st.records, 4);
    let actions: i64 = st.by_action.iter().map(|(_, n)| n).sum();
    assert_eq!(actions, 4, "the per-action counts cover the window only");
    assert_eq!(s.stats(None, 200, 300).await.expect("stats").records, 0);
}

/// Dashboard accounts and sessions: create, replace (ending sessions), expire, delete.
pub async fn admin_accounts(s: Arc<dyn Storage>) {
    assert_eq!(s.admin_password_hash("alice").await.expect("read"), None);
    assert!(s.set_admin_user("alice", "hash-1", 10).await.expect("create"), "a new account");
    assert!(s.set_admin_user("bob", "hash-b", 10).await.expect("create"));
    assert_eq!(s.admin_password_hash("alice").await.expect("read").as_deref(), Some("hash-1"));
    assert_eq!(s.admin_users().await.expect("list"), ["alice", "bob"]);
    s.add_admin_session("t1", "alice", 100, 200).await.expect("session");
    s.add_admin_session("t2", "bob", 100, 200).await.expect("session");
    assert_eq!(s.admin_session("t1", 150).await.expect("read").as_deref(), Some("alice"));
    assert_eq!(s.admin_session("t1", 200).await.expect("read"), None, "expired at expires_at");
    assert_eq!(s.admin_session("nope", 150).await.expect("read"), None);
    // A new password ends the account's sessions, not the others'.
    assert!(!s.set_admin_user("alice", "hash-2", 20).await.expect("replace"), "not new");
    assert_eq!(s.admin_password_hash("alice").await.expect("read").as_deref(), Some("hash-2"));
    assert_eq!(s.admin_session("t1", 150).await.expect("read"), None);
    assert_eq!(s.admin_session("t2", 150).await.expect("read").as_deref(), Some("bob"));
    // Logout, and sessions that expired are dropped when a new one starts.
    s.add_admin_session("t3", "alice", 150, 300).await.expect("session");
    s.delete_admin_session("t3").await.expect("logout");
    s.delete_admin_session("t3").await.expect("logout is idempotent");
    assert_eq!(s.admin_session("t3", 160).await.expect("read"), None);
    s.add_admin_session("t4", "alice", 250, 400).await.expect("session");
    assert_eq!(s.admin_session("t2", 150).await.expect("read"), None, "t2 expired at 200 and was purged");
    // Deleting an account ends its sessions.
    assert!(s.delete_admin_user("alice").await.expect("delete"));
    assert!(!s.delete_admin_user("alice").await.expect("delete again"));
    assert_eq!(s.admin_session("t4", 260).await.expect("read"), None);
    assert_eq!(s.admin_users().await.expect("list"), ["bob"]);
}

/// Saved scans: ids assigned, listings newest first without reports, one scan with its report.
pub async fn saved_scans(s: Arc<dyn Storage>) {
    assert_eq!(s.scans(None, 10).await.expect("list"), Vec::new());
    let row = |site: &str, at: i64| crate::ScanRow {
        id: 0,
        site: site.into(),
        target: format!("https://{site}.example/"),
        recorded_at: at,
        pages: 3,
        errors: 2,
        warnings: 1,
        notes: 0,
        report: format!("{{\"target\":\"{site}\",\"at\":{at}}}"),
    };
    let a = s.add_scan(&row("leadsgen", 100)).await.expect("save");
    let b = s.add_scan(&row("mixerlead", 200)).await.expect("save");
    let c = s.add_scan(&row("leadsgen", 300)).await.expect("save");
    assert!(a != b && b != c && a != c, "ids are distinct: {a} {b} {c}");
    let all = s.scans(None, 10).await.expect("list");
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [c, b, a], "newest first");
    assert!(all.iter().all(|r| r.report.is_empty()), "listings leave the reports out");
    assert_eq!(all[0], crate::ScanRow { id: c, report: String::new(), ..row("leadsgen", 300) });
    let lead = s.scans(Some("leadsgen"), 1).await.expect("list");
    assert_eq!(lead.iter().map(|r| r.id).collect::<Vec<_>>(), [c], "one site, limited");
    assert_eq!(s.scan(a).await.expect("read"), Some(crate::ScanRow { id: a, ..row("leadsgen", 100) }));
    assert_eq!(s.scan(c + 1000).await.expect("read"), None);
}

/// API keys: stored, found by the hash of their secret while active, listed oldest first
/// with their scopes, revoked once; a duplicate id or hash is refused.
pub async fn api_keys(s: Arc<dyn Storage>) {
    assert_eq!(s.api_keys().await.expect("list"), Vec::new());
    let key = |id: &str, sites: &[&str], at: i64| crate::ApiKeyRow {
        id: id.into(),
        name: format!("key {id}"),
        sites: sites.iter().map(|s| s.to_string()).collect(),
        created_at: at,
        revoked_at: None,
    };
    s.add_api_key(&key("k2", &["leadsgen", "mixerlead"], 20), "hash-2").await.expect("add");
    s.add_api_key(&key("k1", &["leadsgen"], 10), "hash-1").await.expect("add");
    assert!(s.add_api_key(&key("k1", &["x"], 30), "hash-3").await.is_err(), "duplicate id refused");
    assert!(s.add_api_key(&key("k3", &["x"], 30), "hash-1").await.is_err(), "duplicate secret hash refused");
    assert_eq!(
        s.api_keys().await.expect("list"),
        vec![key("k1", &["leadsgen"], 10), key("k2", &["leadsgen", "mixerlead"], 20)]
    );
    assert_eq!(s.api_key_by_hash("hash-2").await.expect("find"), Some(key("k2", &["leadsgen", "mixerlead"], 20)));
    assert_eq!(s.api_key_by_hash("hash-9").await.expect("find"), None);
    assert_eq!(s.api_key_by_hash("k1").await.expect("find"), None, "found by the hash only, not the id");
    // Revoking: once, only that key, kept in the listing with its time.
    assert!(s.revoke_api_key("k1", 50).await.expect("revoke"));
    assert!(!s.revoke_api_key("k1", 60).await.expect("revoke again"), "already revoked");
    assert!(!s.revoke_api_key("nope", 60).await.expect("revoke unknown"));
    assert_eq!(s.api_key_by_hash("hash-1").await.expect("find"), None, "a revoked key no longer authenticates");
    assert!(s.api_key_by_hash("hash-2").await.expect("find").is_some());
    let listed = s.api_keys().await.expect("list");
    assert_eq!(listed[0], crate::ApiKeyRow { revoked_at: Some(50), ..key("k1", &["leadsgen"], 10) });
    assert_eq!(listed[1].revoked_at, None);
}

/// Batches: every record the writer commits is under a signed batch whose root is the
/// Merkle root of its records; two writers' batches take log positions 0, 1, 2, ... without
/// gaps; a batch that conflicts stores neither its records nor its batch row nor a position.
pub async fn signed_batches_and_log(s: Arc<dyn Storage>) {
    let key = CheckpointKey::generate();
    let mut handles = Vec::new();
    for chain in ["w1", "w2"] {
        let (ledger, task) = Ledger::start(s.clone(), key.clone(), chain.into(), LedgerOptions::default());
        let mut joins = Vec::new();
        for i in 0..60 {
            let l = ledger.clone();
            joins.push(tokio::spawn(async move { l.append_proved(sample_entry(i, 1_000 + i)).await }));
        }
        for j in joins {
            let c = j.await.expect("join").expect("append");
            let proof = crate::receipt::RecordProof {
                chain: c.record.chain.clone(),
                seq: c.record.seq,
                hash: c.record.hash.clone(),
                batch: (*c.batch).clone(),
                inclusion_proof: c.inclusion_proof.clone(),
            };
            proof.check(&[key.verifying_key()]).expect("every receipt checks offline");
        }
        drop(ledger);
        handles.push(task);
    }
    for h in handles {
        h.await.expect("writer ends");
    }
    let log = s.log_batches(0, 10_000).await.expect("log");
    assert!(!log.is_empty());
    assert!(log.iter().enumerate().all(|(i, b)| b.log_index == i as i64), "positions 0.. without gaps");
    for chain in ["w1", "w2"] {
        let batches = s.chain_batches(chain).await.expect("batches");
        let recs = s.records(chain, 0, 1000).await.expect("records");
        assert_eq!(recs.len(), 60);
        let mut next = 1;
        for b in &batches {
            assert_eq!(b.batch.first_seq, next, "batches tile the chain");
            next = b.batch.last_seq + 1;
            assert!(b.batch.signature_ok(&[key.verifying_key()]));
            let leaves: Vec<_> = recs[(b.batch.first_seq - 1) as usize..b.batch.last_seq as usize]
                .iter()
                .map(|r| crate::batch::record_leaf(&r.hash).expect("hex"))
                .collect();
            assert_eq!(hex::encode(crate::merkle::root(&leaves)), b.batch.root);
            assert_eq!(s.batch_of(chain, b.batch.last_seq).await.expect("batch_of").as_ref(), Some(b));
        }
        assert_eq!(next, 61);
    }
    assert_eq!(s.batch_of("w1", 61).await.expect("batch_of"), None);
    // A conflicting batch stores nothing, and takes no position.
    let recs = chain_of("c", 4, 5);
    let (b1, _) = crate::batch::sign_batch(&key, &recs[..2], 9);
    let size = log.len() as i64;
    assert_eq!(s.append_batch(&recs[..2], &b1).await.expect("append"), size);
    let (b2, _) = crate::batch::sign_batch(&key, &recs[1..], 9);
    assert!(s.append_batch(&recs[1..], &b2).await.is_err(), "duplicate seq must fail");
    assert_eq!(s.chain_head("c").await.expect("head").map(|h| h.0), Some(2));
    assert_eq!(s.chain_batches("c").await.expect("batches").len(), 1);
    let (b3, _) = crate::batch::sign_batch(&key, &recs[2..], 9);
    assert_eq!(s.append_batch(&recs[2..], &b3).await.expect("append"), size + 1, "no position was used up");
}

/// Generate one `#[tokio::test]` per story. `$make` is an async expression returning a
/// fresh `Arc<dyn Storage>`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@one $make; append_and_read, append_is_atomic, group_commit_and_verify,
            two_writers, retention_keeps_rest_verifiable, policy_versions, export_and_stats, admin_accounts, saved_scans, api_keys,
            signed_batches_and_log);
        $crate::conformance_tests!(@agg $make; aggregates_equal_recount, aggregate_queries);
    };
    (@agg $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let s = $make.await;
                $crate::conformance_aggregates::$name(s).await;
            }
        )*
    };
    (@one $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let s = $make.await;
                $crate::conformance::$name(s).await;
            }
        )*
    };
}
