//! Durability and tamper evidence with the real binary: `crumb ledger verify` names the first
//! bad record; `kill -9` under load and a PostgreSQL restart lose no acknowledged decision;
//! two servers share one PostgreSQL database.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;

/// Acknowledged receipts: consent id -> hash.
type Acked = Arc<Mutex<HashMap<String, String>>>;
/// Answers by status.
type Statuses = Arc<Mutex<HashMap<u16, u64>>>;

/// `threads` clients posting until `stop`; returns acknowledged receipts and status counts.
fn load(
    port: impl Fn() -> u16 + Send + Sync + 'static,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> (Acked, Statuses, Vec<std::thread::JoinHandle<()>>) {
    let acked: Acked = Arc::default();
    let statuses: Statuses = Arc::default();
    let v = leadsgen_version();
    let port = Arc::new(port);
    let handles = (0..threads)
        .map(|t| {
            let (acked, statuses, stop, v, port) =
                (acked.clone(), statuses.clone(), stop.clone(), v.clone(), port.clone());
            std::thread::spawn(move || {
                for i in 0..200_000u64 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = request(
                        port(),
                        "POST",
                        "/api/v1/consents",
                        &[("Origin", ORIGIN), ("Content-Type", "application/json")],
                        Some(consent(&v, (i + t as u64).is_multiple_of(2), None).as_bytes()),
                    );
                    *statuses.lock().expect("lock").entry(r.status).or_default() += 1;
                    if r.status == 201 {
                        let j = r.json();
                        let id = j["consent_id"].as_str().expect("id").to_string();
                        acked.lock().expect("lock").insert(id, j["hash"].as_str().expect("hash").to_string());
                    } else if r.status == 503 {
                        assert!(r.header("retry-after").is_some(), "503 carries Retry-After");
                        assert_eq!(r.error_code(), "storage_unavailable");
                    } else if r.status == 0 {
                        std::thread::sleep(Duration::from_millis(20));
                    } else {
                        panic!("unexpected answer {}: {}", r.status, r.body);
                    }
                }
            })
        })
        .collect();
    (acked, statuses, handles)
}

/// Every acknowledged receipt is stored with its hash (checked through the visitor API).
fn assert_all_present(srv: &Serve, acked: &Acked) {
    let acked = acked.lock().expect("lock");
    for (id, hash) in acked.iter() {
        let h = srv.request("GET", &format!("/api/v1/consents/{id}"), &[], None);
        assert_eq!(h.status, 200, "acknowledged decision {id} is missing: {}", h.body);
        assert!(h.body.contains(hash.as_str()), "acknowledged decision {id} stored with another hash");
    }
}

fn verify_ok(data: &Path, db: Option<&str>) -> String {
    let out = ledger(data, db, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "verify failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// One number from SQL run on the ledger's database (`psql` for PostgreSQL).
fn scalar(data: &Path, db: Option<&str>, sql: &str) -> i64 {
    if let Some(url) = db {
        let out = std::process::Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-tAc", sql]).output();
        let out = out.expect("psql");
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        return String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number");
    }
    let url = format!("sqlite://{}", data.join("ledger.db").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("open ledger");
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        c.close().await.expect("close");
        n
    })
}

/// `kill -9` under load, then a restart: every acknowledged decision is stored, every
/// signed batch row has all its records and every record is under a batch (a batch and
/// its records commit together, so a kill leaves both or neither), the log's counter
/// equals its batches, the aggregates count every stored record once, and `crumb ledger
/// verify` (records, batches and log) passes.
fn kill_9_under_load(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let lead = example("leadsgen.toml");
    let args = ["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"];
    let srv = Serve::start(&data, db, &args);
    let port = srv.port;
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, _statuses, handles) = load(move || port, 6, stop.clone());
    let t0 = Instant::now();
    while acked.lock().expect("lock").len() < 300 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = srv.signal_and_wait("-KILL");
    assert!(!st.success());
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    let n = acked.lock().expect("lock").len();
    assert!(n >= 300, "load ran ({n} acknowledged)");
    // Before anything else writes: what the kill left.
    let torn = "SELECT count(*) FROM batches b WHERE (SELECT count(*) FROM records r WHERE r.chain = b.chain \
                AND r.seq BETWEEN b.first_seq AND b.last_seq) <> b.last_seq - b.first_seq + 1";
    assert_eq!(scalar(&data, db, torn), 0, "a signed batch without all its records");
    let unbatched = "SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM batches b \
                     WHERE b.chain = r.chain AND r.seq BETWEEN b.first_seq AND b.last_seq)";
    assert_eq!(scalar(&data, db, unbatched), 0, "a record without its signed batch");
    let batches = scalar(&data, db, "SELECT count(*) FROM batches");
    assert!(batches > 0);
    assert_eq!(scalar(&data, db, "SELECT size FROM ledger_log"), batches, "the log's counter");
    let records = scalar(&data, db, "SELECT count(*) FROM records");
    assert!(records as usize >= n);
    // The aggregates commit with their batch too: each table counts every stored record once.
    for table in ["agg_decisions", "agg_hours", "agg_days"] {
        let sum = scalar(&data, db, &format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM {table}"));
        assert_eq!(sum, records, "{table} after the kill");
    }
    let first = "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM agg_hours WHERE is_first";
    let visitors = scalar(&data, db, "SELECT count(DISTINCT consent_id) FROM records");
    assert_eq!(scalar(&data, db, first), visitors, "first decisions after the kill");
    let out = ledger(&data, db, &["verify", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify --json");
    assert!(out.status.success(), "verify after the kill: {report}");
    assert_eq!(report["batches"].as_i64(), Some(batches), "verify checked every batch: {report}");
    assert_eq!(report["log_size"].as_i64(), Some(batches), "{report}");
    let srv = Serve::start(&data, db, &args);
    assert_all_present(&srv, &acked);
    drop(srv);
    let text = verify_ok(&data, db);
    assert!(text.starts_with("ok: "), "{text}");
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_decision() {
    kill_9_under_load(None);
}

#[test]
fn kill_9_under_load_on_postgres_loses_no_acknowledged_decision() {
    let db = crumb_testkit::postgres::database();
    kill_9_under_load(Some(&db.url));
}

/// Run `crumb serve`, record decisions, stop it cleanly; returns (data dir, chain id).
fn recorded_ledger(dir: &Path, n: usize) -> String {
    let lead = example("leadsgen.toml");
    let srv = Serve::start(dir, None, &["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"]);
    let v = leadsgen_version();
    for i in 0..n {
        assert_eq!(srv.post(&consent(&v, i % 2 == 0, None)).status, 201);
    }
    assert!(srv.signal_and_wait("-TERM").success());
    let out = ledger(dir, None, &["export"]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().expect("a record")).expect("json");
    first["chain"].as_str().expect("chain").to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn tamper(dir: &Path, sql: &[&str]) {
    let url = format!("sqlite://{}", dir.join("ledger.db").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("open copy");
        for s in sql {
            sqlx::query(s).execute(&mut c).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        c.close().await.expect("close");
    });
}

#[test]
fn verify_names_the_first_bad_record_for_every_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = dir.path().join("clean");
    let chain = recorded_ledger(&clean, 12);
    let text = verify_ok(&clean, None);
    assert!(text.starts_with("ok: 12 records on 1 chains"), "{text}");
    // The printed public key verifies on its own; another key does not.
    let key = text.lines().find_map(|l| l.strip_prefix("checkpoint public key: ")).expect("key printed").to_string();
    assert!(ledger(&clean, None, &["verify", "--public-key", &key]).status.success());
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    assert_eq!(ledger(&clean, None, &["verify", "--public-key", other]).status.code(), Some(1));
    let cases: Vec<(&str, Vec<String>, i64, &str)> = vec![
        ("edited field", vec!["UPDATE records SET action = 'accept_all' WHERE seq = 4".into()], 4, "edited"),
        (
            "edited choice",
            vec!["UPDATE records SET choices = replace(choices, 'false', 'true') WHERE seq = 5".into()],
            5,
            "edited",
        ),
        ("deleted row", vec!["DELETE FROM records WHERE seq = 6".into()], 7, "missing"),
        (
            "inserted row",
            vec![
                "UPDATE records SET seq = seq + 1000 WHERE seq >= 8".into(),
                "UPDATE records SET seq = seq - 999 WHERE seq >= 1000".into(),
                format!(
                    "INSERT INTO records SELECT chain, 8, consent_id, site, policy_version, choices, 'accept_all', gpc, dnt, \
                     region, mode, language, url, ua_family, ip_hash, recorded_at, expires_at, retain_until, prev_hash, hash \
                     FROM records WHERE chain = '{chain}' AND seq = 7"
                ),
            ],
            8,
            "",
        ),
        (
            "reordered rows",
            vec![
                "UPDATE records SET seq = 1002 WHERE seq = 2".into(),
                "UPDATE records SET seq = 2 WHERE seq = 3".into(),
                "UPDATE records SET seq = 3 WHERE seq = 1002".into(),
            ],
            2,
            "",
        ),
        ("truncated tail", vec!["DELETE FROM records WHERE seq >= 10".into()], 10, "truncated"),
        ("deleted first row", vec!["DELETE FROM records WHERE seq = 1".into()], 2, "missing"),
    ];
    for (i, (name, sql, seq, word)) in cases.iter().enumerate() {
        let copy = dir.path().join(format!("case{i}"));
        copy_dir(&clean, &copy);
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        tamper(&copy, &sql);
        let out = ledger(&copy, None, &["verify"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: verify must fail: {text}");
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("TAMPERED: first bad record {chain}#{seq}:")),
            "{name}: expected record #{seq} named first, got: {text}"
        );
        assert!(first.contains(word), "{name}: {first}");
    }
    // A checkpoint signed by another key is not trusted.
    let other = dir.path().join("other-key");
    copy_dir(&clean, &other);
    std::fs::write(other.join("checkpoint.key"), "11".repeat(32)).expect("write key");
    let out = ledger(&other, None, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("untrusted key"));
}

#[test]
fn postgres_restart_under_load_loses_nothing_and_answers_503_while_down() {
    let cluster = crumb_testkit::postgres::Cluster::start().expect("throwaway PostgreSQL cluster");
    let db = crumb_testkit::postgres::create_database(&cluster.admin_url());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let lead = example("leadsgen.toml");
    let srv = Serve::start(&data, Some(&db.url), &["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"]);
    let port = srv.port;
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, statuses, handles) = load(move || port, 4, stop.clone());
    let wait_acked = |n: usize| {
        let t0 = Instant::now();
        while acked.lock().expect("lock").len() < n && t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        acked.lock().expect("lock").len()
    };
    assert!(wait_acked(100) >= 100, "load runs before the restart");
    cluster.stop();
    let before_down = acked.lock().expect("lock").len();
    // While the database is down: 503 with Retry-After, and /readyz says so.
    let t0 = Instant::now();
    while statuses.lock().expect("lock").get(&503).copied().unwrap_or(0) < 3 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(statuses.lock().expect("lock").get(&503).copied().unwrap_or(0) >= 3, "503s while down");
    assert_eq!(srv.request("GET", "/readyz", &[], None).status, 503);
    let during = acked.lock().expect("lock").len();
    assert!(during <= before_down + 8 * 2048, "no acknowledgements pile up while down");
    cluster.start_again().expect("cluster restarts");
    // The server recovers by itself.
    assert!(wait_acked(during + 100) >= during + 100, "writes resume after the restart");
    assert_eq!(srv.request("GET", "/readyz", &[], None).status, 200);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    assert_all_present(&srv, &acked);
    assert!(srv.signal_and_wait("-TERM").success());
    verify_ok(&data, Some(&db.url));
}

#[test]
fn two_servers_on_one_postgres_write_separate_chains_and_verify_covers_both() {
    let db = crumb_testkit::postgres::database();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let lead = example("leadsgen.toml");
    let args = ["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"];
    // Both share the data directory's checkpoint key.
    let a = Serve::start(&data, Some(&db.url), &args);
    let b = Serve::start(&data, Some(&db.url), &args);
    let (pa, pb) = (a.port, b.port);
    let flip = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (acked, _s, handles) =
        load(move || if flip.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) { pa } else { pb }, 4, stop.clone());
    let t0 = Instant::now();
    while acked.lock().expect("lock").len() < 400 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("client thread");
    }
    assert_all_present(&a, &acked);
    assert!(a.signal_and_wait("-TERM").success());
    assert!(b.signal_and_wait("-TERM").success());
    let text = verify_ok(&data, Some(&db.url));
    let n = acked.lock().expect("lock").len();
    assert!(text.starts_with(&format!("ok: {n} records on 2 chains")), "{text}");
    // Tampering on PostgreSQL is named the same way.
    let out = std::process::Command::new("psql")
        .arg(&db.url)
        .args(["-v", "ON_ERROR_STOP=1", "-tAc"])
        .arg("UPDATE records SET action = 'withdraw' WHERE chain = (SELECT max(chain) FROM records) AND seq = 5 RETURNING chain")
        .output()
        .expect("psql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let chain = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().trim().to_string();
    let out = ledger(&data, Some(&db.url), &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with(&format!("TAMPERED: first bad record {chain}#5:")), "{text}");
}
