//! The README's run command: `crumb demo` starts the server and the demo site, and
//! `--check` records a decision over HTTP and verifies the ledger.

use std::process::Command;

#[test]
fn demo_check_records_and_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["demo", "--check", "--listen", "127.0.0.1:0", "--site-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CRUMB_LOG", "warn")
        .output()
        .expect("run crumb demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("crumb demo --check: ok") && stdout.contains("ledger verified: 1 record(s)"), "{stdout}");
    assert!(dir.path().join("ledger.db").exists(), "SQLite ledger in the data directory");
    assert!(dir.path().join("demo-sites/leadsgen.toml").exists());
}
