//! The leadsgen example served by `crumb serve` with its banner, on the demo site that
//! sets exactly the cookies the inventory declares, scans clean: no error and no warning.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn leadsgen_served_by_crumb_with_its_banner_scans_clean() {
    let chromium = crumb_testkit::chromium::require();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["demo", "--listen", "127.0.0.1:0", "--site-listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CRUMB_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crumb demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let mut site = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref().map_while(Result::ok).take(40) {
        if let Some(url) = line.trim().strip_prefix("demo site (LeadsGen)") {
            site = Some(url.trim().to_string());
            break;
        }
    }
    // Keep draining the demo's output so it never writes into a closed pipe.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    let site = site.expect("crumb demo prints the demo site's URL");
    let report = dir.path().join("report.json");
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/leadsgen.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["scan", &site, "--inventory", inventory, "--max-pages", "3", "--format", "json", "-o"])
        .arg(&report)
        .env("CRUMB_CHROMIUM", chromium)
        .env("NO_COLOR", "1")
        .output()
        .expect("run crumb scan");
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let findings: Vec<&serde_json::Value> =
        v["findings"].as_array().map(|a| a.iter().filter(|f| f["severity"] != "note").collect()).unwrap_or_default();
    assert!(
        out.status.success() && findings.is_empty(),
        "exit {:?}, findings: {findings:#?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The scan saw the banner's work: the consent cookie and the gated cookies after accepting.
    let seen = |name: &str, phase: &str| {
        v["pages"].as_array().into_iter().flatten().any(|p| {
            p["phases"].as_array().into_iter().flatten().any(|ph| {
                ph["phase"] == phase
                    && ph["observed"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["name"] == name && c["storage"] == "cookie")
            })
        })
    };
    assert!(seen("_fbp", "after_accept") && seen("_plausible", "after_accept"), "{text}");
    assert!(!seen("_fbp", "before_consent") && !seen("_fbp", "after_reject"));
    // The server sets `_vercel_analytics` on every response; the guard lets it through only
    // once analytics is allowed.
    assert!(seen("_vercel_analytics", "after_accept"), "{text}");
    assert!(!seen("_vercel_analytics", "before_consent") && !seen("_vercel_analytics", "after_reject"));
    assert!(seen("cookie-consent", "after_reject"));
    drop(demo);
}
