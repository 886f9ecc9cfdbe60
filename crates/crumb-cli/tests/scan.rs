//! `crumb scan` end to end: the binary against the scanner's fixture sites.

#[path = "../../crumb-scan/tests/fixture/mod.rs"]
mod fixture;
mod support;

use std::process::Command;

async fn crumb(args: Vec<String>) -> (i32, String, String) {
    let exe = env!("CARGO_BIN_EXE_crumb");
    let chromium = crumb_testkit::chromium::require();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe).args(&args).env("CRUMB_CHROMIUM", chromium).env("NO_COLOR", "1").output()
    })
    .await
    .expect("join")
    .expect("crumb runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `crumb scan URL/ --inventory INV --max-pages 1 --format json -o REPORT --page-timeout 10 EXTRA...`
fn one_page_json_scan(url: &str, inv: &std::path::Path, report: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["scan".into(), format!("{url}/"), "--inventory".into(), inv.display().to_string()];
    for a in ["--max-pages", "1", "--format", "json", "-o"] {
        args.push(a.into());
    }
    args.push(report.display().to_string());
    args.extend(["--page-timeout", "10"].iter().chain(extra).map(|a| a.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_command_formats_exit_codes_and_draft() {
    let sites = fixture::start(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let inv = dir.path().join("fixture.toml");
    std::fs::write(&inv, fixture::inventory()).expect("write inventory");
    let report = dir.path().join("report.json");
    let draft = dir.path().join("draft.toml");
    let s = |p: &std::path::Path| p.display().to_string();

    // Findings at error level: exit 1, JSON report, draft inventory that `crumb check` accepts.
    let (code, _, err) =
        crumb(one_page_json_scan(&sites.first, &inv, &report, &["--write-inventory", &s(&draft)])).await;
    assert_eq!(code, 1, "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written")).expect("JSON");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["summary"]["pages"], 1);
    assert!(
        json["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["kind"] == "set_before_consent" && f["name"] == "_mkt"))
    );
    let (code, out, err) = crumb(vec!["check".into(), s(&draft)]).await;
    assert_eq!(code, 0, "{out}{err}");

    // Only notes (declared but not seen on /about): exit 0, text report.
    let (code, out, err) = crumb(vec![
        "scan".into(),
        format!("{}/about", sites.first),
        "--inventory".into(),
        s(&inv),
        "--max-pages".into(),
        "1".into(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("note[declared_not_observed]: sid"), "{out}");
    assert!(out.contains("summary: 0 error(s), 0 warning(s), 13 note(s)"), "{out}");

    // HTML and SARIF.
    let html = dir.path().join("scan.html");
    let (code, _, err) = crumb(vec![
        "scan".into(),
        format!("{}/", sites.first),
        "--max-pages".into(),
        "1".into(),
        "--format".into(),
        "html".into(),
        "-o".into(),
        s(&html),
    ])
    .await;
    assert_eq!(code, 0, "no inventory, no findings: {err}");
    let page = std::fs::read_to_string(&html).expect("html written");
    assert_eq!(page.matches("data:image/jpeg;base64,").count(), 3);
    let (code, out, _) = crumb(vec![
        "scan".into(),
        format!("{}/", sites.first),
        "--inventory".into(),
        s(&inv),
        "--max-pages".into(),
        "1".into(),
        "--format".into(),
        "sarif".into(),
    ])
    .await;
    assert_eq!(code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&out).expect("SARIF on stdout");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"].as_array().map(Vec::len), Some(7));

    // The scan itself failing: exit 2 with what to do.
    let (code, _, err) =
        crumb(vec!["scan".into(), format!("{}/", sites.first), "--chromium".into(), "/nonexistent/chromium".into()])
            .await;
    assert_eq!(code, 2);
    assert!(err.contains("no Chromium found") && err.contains("apt-get install chromium"), "{err}");
}

/// `--save` keeps the report in the ledger database; the dashboard lists it, shows its
/// findings and links the site's last scan from the overview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_scan_shows_on_the_dashboard() {
    let sites = fixture::start(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let inv = dir.path().join("fixture.toml");
    std::fs::write(&inv, fixture::inventory()).expect("write inventory");
    let data = dir.path().join("data");
    let s = |p: &std::path::Path| p.display().to_string();
    let report = dir.path().join("report.json");
    let (code, _, err) =
        crumb(one_page_json_scan(&sites.first, &inv, &report, &["--save", "--data-dir", &s(&data)])).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("saved as scan 1"), "{err}");
    let (code, _, err) = crumb(vec!["scan".into(), format!("{}/", sites.first), "--save".into()]).await;
    assert_eq!(code, 2, "--save without --inventory is refused: {err}");

    let created = support::admin(
        &data,
        None,
        &["create-user", "alice", "--password-stdin"],
        Some(&format!("{}\n", "a long enough password")),
    );
    assert!(created.status.success());
    let srv = support::Serve::start(&data, None, &["--config", &s(&inv)]);
    let login = srv.request(
        "POST",
        "/admin/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(b"name=alice&password=a+long+enough+password"),
    );
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").and_then(|c| c.split(';').next()).expect("session").to_string();

    let list = srv.request("GET", "/admin/scans?site=fixture", &[("Cookie", &cookie)], None);
    assert_eq!(list.status, 200);
    let host = sites.first.trim_start_matches("http://");
    assert!(list.body.contains("href=\"/admin/scans/1\"") && list.body.contains(host), "{}", list.body);
    let one = srv.request("GET", "/admin/scans/1", &[("Cookie", &cookie)], None);
    assert_eq!(one.status, 200);
    assert!(one.body.contains("<code>_mkt</code>") && one.body.contains("set_before_consent"), "{}", one.body);
    let overview = srv.request("GET", "/admin", &[("Cookie", &cookie)], None);
    assert!(overview.body.contains("<a href=\"/admin/scans/1\">"), "the overview links the last scan");
    let missing = srv.request("GET", "/admin/scans/99", &[("Cookie", &cookie)], None);
    assert_eq!((missing.status, missing.error_code().as_str()), (404, "unknown_scan"));
    assert_eq!(srv.request("GET", "/admin/scans/1", &[], None).status, 303, "signed out: to the login form");
}
