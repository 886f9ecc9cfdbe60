//! Proofs anyone can check, with the real binary, on SQLite and PostgreSQL: receipts carry a
//! signed batch and an inclusion proof that `crumb ledger verify-receipt` checks offline
//! after the server is gone; the public tree head and consistency routes; a witness that
//! accepts a growing log and catches a cut tail and a deleted chain.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::*;

fn crumb(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("CRUMB_DATABASE_URL").output().expect("crumb runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn serve(data: &Path, db: Option<&str>) -> Serve {
    let lead = example("leadsgen.toml");
    Serve::start(data, db, &["--config", lead.to_str().expect("utf8"), "--rate-limit", "0"])
}

/// Run SQL on the ledger (the server is stopped).
fn tamper(data: &Path, db: Option<&str>, sql: &[String]) {
    match db {
        Some(url) => {
            for s in sql {
                let out =
                    Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-qc", s]).output().expect("psql");
                assert!(out.status.success(), "{s}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        None => {
            let url = format!("sqlite://{}", data.join("ledger.db").display());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&url).await.expect("open");
                for s in sql {
                    sqlx::query(s).execute(&mut c).await.unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                c.close().await.expect("close");
            });
        }
    }
}

fn witness(url: &str, key: &str, state: &Path) -> Output {
    crumb(&["ledger", "witness", "--url", url, "--key", key, "--state", state.to_str().expect("utf8"), "--once"])
}

fn story(db: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let v = leadsgen_version();

    // Writer 1: three decisions, one batch each.
    let a = serve(&data, db);
    let mut receipts = Vec::new();
    for i in 0..3 {
        let r = a.post(&consent(&v, i % 2 == 0, None));
        assert_eq!(r.status, 201, "{}", r.body);
        receipts.push(r.json());
    }
    let first = &receipts[0];
    assert_eq!(first["batch"]["first_seq"], 1);
    assert!(first["batch"]["signature"].as_str().is_some_and(|s| s.len() == 128));
    assert!(first["inclusion_proof"].is_array());
    let chain1 = first["chain"].as_str().expect("chain").to_string();

    // The tree head: public, cacheable, only sizes, hashes, time and signature.
    let th = a.request("GET", "/api/v1/ledger/tree-head", &[], None);
    assert_eq!(th.status, 200, "{}", th.body);
    assert!(th.header("cache-control").is_some_and(|c| c.starts_with("public, max-age=")));
    let head = th.json();
    let keys: Vec<&String> = head.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["public_key", "root", "signature", "size", "timestamp"]);
    assert_eq!(head["size"], 3);
    // Consistency: proofs and clear errors.
    let c = a.request("GET", "/api/v1/ledger/consistency?from=1&to=3", &[], None);
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json()["to_root"], head["root"]);
    for (q, status) in [("from=3&to=1", 400), ("from=1", 400), ("from=a&to=2", 400), ("from=1&to=99", 404)] {
        let r = a.request("GET", &format!("/api/v1/ledger/consistency?{q}"), &[], None);
        assert_eq!(r.status, status, "{q}: {}", r.body);
        assert!(!r.error_code().is_empty(), "{q}: a JSON error");
    }
    // The visitor's history proves each record and its batch in the current tree head.
    let id = first["consent_id"].as_str().expect("id");
    let h = a.request("GET", &format!("/api/v1/consents/{id}"), &[], None).json();
    assert_eq!(h["records"][0]["batch"], first["batch"]);
    assert_eq!(h["records"][0]["batch_inclusion"]["tree_head"]["size"], 3);
    assert_eq!(h["tree_head"]["size"], 3);
    let url_a = format!("http://127.0.0.1:{}", a.port);
    assert!(a.signal_and_wait("-TERM").success());

    let out = ledger(&data, db, &["verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let key = text(&out).lines().find_map(|l| l.strip_prefix("checkpoint public key: ")).expect("key").to_string();

    // Writer 2 (a new chain): three more; a witness sees the log grow consistently.
    let b = serve(&data, db);
    let url = format!("http://127.0.0.1:{}", b.port);
    let state = dir.path().join("witness.json");
    let out = witness(&url, &key, &state);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for i in 0..3 {
        let r = b.post(&consent(&v, i % 2 == 0, None));
        assert_eq!(r.status, 201, "{}", r.body);
        receipts.push(r.json());
    }
    let out = witness(&url, &key, &state);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("consistent: size 6"), "{}", text(&out));
    // Key rotation: a head signed by a key the witness was not given is refused; with the
    // old and the new key listed it is accepted.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let rot = dir.path().join("rotation.json");
    let r = rot.to_str().expect("utf8");
    let out = crumb(&["ledger", "witness", "--url", &url, "--key", other, "--state", r, "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not signed by a trusted key"), "{}", text(&out));
    let out = crumb(&["ledger", "witness", "--url", &url, "--key", other, "--key", &key, "--state", r, "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let last = dir.path().join("last.json");
    std::fs::write(&last, receipts[5].to_string()).expect("write receipt");
    let verify_online =
        |url: &str| crumb(&["ledger", "verify-receipt", last.to_str().expect("utf8"), "--key", &key, "--url", url]);
    let out = verify_online(&url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("included"), "{}", text(&out));
    assert!(b.signal_and_wait("-TERM").success());
    let _ = url_a;

    // The servers are gone: every receipt still checks offline against the key alone.
    for (i, r) in receipts.iter().enumerate() {
        let f = dir.path().join(format!("r{i}.json"));
        std::fs::write(&f, r.to_string()).expect("write");
        let out = crumb(&["ledger", "verify-receipt", f.to_str().expect("utf8"), "--key", &key]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    // A forged receipt (another hash) and an untrusted key fail with the reason.
    let mut forged = receipts[1].clone();
    forged["hash"] = receipts[2]["hash"].clone();
    let f = dir.path().join("forged.json");
    std::fs::write(&f, forged.to_string()).expect("write");
    let out = crumb(&["ledger", "verify-receipt", f.to_str().expect("utf8"), "--key", &key]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("INVALID: the inclusion proof"), "{}", text(&out));
    let out = crumb(&["ledger", "verify-receipt", last.to_str().expect("utf8"), "--key", other]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Verify with the witnessed head and a receipt: intact.
    let st = state.to_str().expect("utf8").to_string();
    let rc = last.to_str().expect("utf8").to_string();
    let out = ledger(&data, db, &["verify", "--tree-head", &st, "--receipt", &rc]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("6 signed batches (6 in the log)"), "{}", text(&out));
    assert!(!ledger(&data, db, &["verify", "--site", "leadsgen"]).status.success(), "--site is refused, not ignored");

    // A forged batch signature is named.
    let forged_sig =
        "UPDATE batches SET signature = replace(signature, substr(signature, 1, 2), 'ff') WHERE log_index = 4";
    let fix_sig = format!(
        "UPDATE batches SET signature = '{}' WHERE log_index = 4",
        receipts[4]["batch"]["signature"].as_str().expect("sig")
    );
    tamper(&data, db, &[forged_sig.into()]);
    let out = ledger(&data, db, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("signature is invalid"), "{}", text(&out));
    tamper(&data, db, &[fix_sig]);
    assert!(ledger(&data, db, &["verify"]).status.success());

    // Cut tail: the last batch and its records removed, the log counter set back.
    tamper(
        &data,
        db,
        &[
            "DELETE FROM records WHERE (chain, seq) IN (SELECT chain, last_seq FROM batches WHERE log_index = 5)"
                .into(),
            "DELETE FROM batches WHERE log_index = 5".into(),
            "UPDATE ledger_log SET size = 5".into(),
            "DELETE FROM checkpoints".into(),
        ],
    );
    // From the database alone the cut is invisible; the witnessed head and the receipt name it.
    assert!(ledger(&data, db, &["verify"]).status.success());
    let out = ledger(&data, db, &["verify", "--tree-head", &st]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("the log holds 5 batches but a witnessed tree head signed 6"), "{}", text(&out));
    let out = ledger(&data, db, &["verify", "--receipt", &rc]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("is not at log position 5"), "{}", text(&out));
    let c = serve(&data, db);
    let url = format!("http://127.0.0.1:{}", c.port);
    let out = witness(&url, &key, &state);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("INCONSISTENT: tail cut: the log shrank from 6 to"), "{}", text(&out));
    let out = verify_online(&url);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NOT INCLUDED: tail cut"), "{}", text(&out));
    // A fresh witness starts from today's log; then the first writer's chain is deleted
    // whole (records, batches, checkpoints), and the log renumbered to hide it.
    let state2 = dir.path().join("witness2.json");
    assert_eq!(witness(&url, &key, &state2).status.code(), Some(0));
    assert!(c.signal_and_wait("-TERM").success());
    let q = |s: &str| s.replace("C1", &chain1);
    tamper(
        &data,
        db,
        &[
            q("DELETE FROM records WHERE chain = 'C1'"),
            q("DELETE FROM batches WHERE chain = 'C1'"),
            q("DELETE FROM checkpoints WHERE chain = 'C1'"),
            q("DELETE FROM chains WHERE chain = 'C1'"),
            "UPDATE batches SET log_index = log_index + 1000".into(),
            "UPDATE batches SET log_index = log_index - 1003".into(),
            "UPDATE ledger_log SET size = 2".into(),
        ],
    );
    let d = serve(&data, db);
    let url = format!("http://127.0.0.1:{}", d.port);
    let out = witness(&url, &key, &state2);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("INCONSISTENT: tail cut: the log shrank from 5 to 2"), "{}", text(&out));
    // The first writer's receipt: its record is gone.
    let f = dir.path().join("r0.json");
    let out = crumb(&[
        "ledger",
        "verify-receipt",
        f.to_str().expect("utf8"),
        "--key",
        &key,
        "--url",
        &format!("http://127.0.0.1:{}", d.port),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NOT INCLUDED: record missing"), "{}", text(&out));
}

#[test]
fn receipts_tree_heads_and_witness_on_sqlite() {
    story(None);
}

#[test]
fn receipts_tree_heads_and_witness_on_postgres() {
    let db = crumb_testkit::postgres::database();
    story(Some(&db.url));
}
