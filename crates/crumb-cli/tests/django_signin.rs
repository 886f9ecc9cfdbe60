//! Issue 15's case end to end: a stock Django-like site (`csrftoken` script-readable,
//! `sessionid` HttpOnly on its own domain) is scanned with no inventory, the draft is
//! written, `crumb check` accepts it, `crumb proxy` runs the draft in front of the site,
//! and signing in still works through the proxy (the session cookie is not stripped).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A site that sets Django's cookies the way Django does: `csrftoken` on every page (no
/// HttpOnly, one year), `sessionid` on sign-in (HttpOnly, two weeks); `/me` answers
/// "signed in" only with the session cookie.
fn django_like() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&seen).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let signed_in = req.to_ascii_lowercase().contains("sessionid=q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3");
                let csrf = "set-cookie: csrftoken=Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Ji; Max-Age=31449600; Path=/; SameSite=Lax\r\n";
                let (status, extra, body) = match path.as_str() {
                    "/login" => (
                        "200 OK",
                        "set-cookie: sessionid=q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax\r\n",
                        "<html><head><title>Signed in</title></head><body><a href=\"/\">home</a></body></html>",
                    ),
                    "/me" if signed_in => ("200 OK", "", "signed in"),
                    "/me" => ("403 Forbidden", "", "not signed in"),
                    _ => (
                        "200 OK",
                        "",
                        "<html><head><title>Shop</title></head><body><a href=\"/login\">Sign in</a></body></html>",
                    ),
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-type: text/html\r\n{csrf}{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn get(port: u16, path: &str, cookie: Option<&str>) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let cookie = cookie.map(|c| format!("cookie: {c}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{cookie}connection: close\r\n\r\n").expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn django_sign_in_survives_scan_draft_and_proxy() {
    let chromium = crumb_testkit::chromium::require();
    let site = django_like();
    let dir = tempfile::tempdir().expect("temp dir");
    let draft = dir.path().join("draft.toml");
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["scan", &format!("http://127.0.0.1:{site}/"), "--max-pages", "2", "--page-timeout", "10"])
        .args(["--format", "json", "-o", &report.display().to_string()])
        .args(["--write-inventory", &draft.display().to_string()])
        .env("CRUMB_CHROMIUM", chromium)
        .env("NO_COLOR", "1")
        .output()
        .expect("crumb scan runs");
    let text = std::fs::read_to_string(&draft)
        .unwrap_or_else(|e| panic!("no draft ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let inv: crumb_core::Inventory = toml::from_str(&text).expect("draft parses");
    let find = |n: &str| inv.cookies.iter().find(|c| c.name == n).unwrap_or_else(|| panic!("{n} drafted: {text}"));
    for name in ["sessionid", "csrftoken"] {
        let c = find(name);
        assert!(inv.is_required(&c.category), "{name} drafted into `{}`: {text}", c.category);
        assert!(!c.review, "{name} is a framework default, no review needed");
    }
    assert_eq!(find("sessionid").http_only, Some(true));
    // The JSON report carries suggestions although no inventory was given.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON report");
    let sugg = json["suggestions"].as_array().expect("suggestions");
    assert!(sugg.iter().any(|s| s["name"] == "sessionid" && s["suggestion"]["source"] == "framework"), "{sugg:?}");

    // `crumb check` accepts the draft, without asking Django's csrftoken to be HttpOnly.
    let check = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["check", "--format", "json", &draft.display().to_string()])
        .output()
        .expect("crumb check runs");
    let diag = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{diag}");
    assert!(!diag.contains("insecure-auth-cookie\",\"message\":\"`csrftoken`"), "{diag}");

    // `crumb proxy` with the draft: signing in still sets the session, and it works.
    let port = free_port();
    let metrics = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["proxy", "--upstream", &format!("http://127.0.0.1:{site}"), "--config", &draft.display().to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crumb proxy");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "crumb proxy did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let login = get(port, "/login", None);
    let lower = login.to_ascii_lowercase();
    assert!(lower.contains("set-cookie: sessionid="), "the proxy stripped Django's session cookie: {login}");
    let cookie = lower
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: sessionid="))
        .and_then(|v| v.split(';').next())
        .map(|v| format!("sessionid={v}"))
        .expect("session value");
    let me = get(port, "/me", Some(&cookie));
    let _ = child.kill();
    let _ = child.wait();
    assert!(me.contains("signed in") && !me.contains("not signed in"), "{me}");
}
