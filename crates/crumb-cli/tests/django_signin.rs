//! Issue 15's case end to end on real Django (`bench/adoption/signin/signin.py`: stock
//! `django.contrib.auth` and `django.contrib.sessions` on SQLite, the database created by
//! `migrate` in a temporary directory): the site is scanned with no inventory, the draft is
//! written, `crumb check` accepts it, `crumb proxy` runs the draft in front of Django, and
//! signing in (a real form POST with Django's CSRF token) still works through the proxy.
//!
//! Django comes from `bench/adoption/requirements.txt` (installed into `bench/adoption/.python`
//! like the adoption test's); without it the test skips loudly, except under CI (`CI` set),
//! where it fails.

mod adoption_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use adoption_support::{Proc, django_available, free_port, here, wait_port};

/// Start the Django site on a fresh SQLite database in `dir`; returns its port.
fn django(dir: &std::path::Path) -> (u16, Proc) {
    let script = here().join("signin/signin.py");
    let migrate = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .arg("migrate")
        .env("PYTHONPATH", here().join(".python"))
        .output()
        .expect("python3 runs");
    assert!(migrate.status.success(), "migrate failed: {}", String::from_utf8_lossy(&migrate.stderr));
    assert!(dir.join("db.sqlite3").is_file(), "migrate created no database");
    let port = free_port();
    let child = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args(["serve", &port.to_string()])
        .env("PYTHONPATH", here().join(".python"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start Django");
    let proc = Proc(child);
    wait_port(port, "Django");
    (port, proc)
}

/// One HTTP/1.1 request; the whole response as text.
fn request(port: u16, method: &str, path: &str, jar: &BTreeMap<String, String>, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let cookie = if jar.is_empty() {
        String::new()
    } else {
        format!("cookie: {}\r\n", jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    };
    let form = if body.is_empty() {
        String::new()
    } else {
        format!("content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n", body.len())
    };
    write!(s, "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{cookie}{form}connection: close\r\n\r\n{body}")
        .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The `Set-Cookie` headers of a response, as (name, value, attributes in lowercase).
fn set_cookies(resp: &str) -> Vec<(String, String, String)> {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .filter_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.trim()))
        .filter_map(|v| {
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string(), attrs.to_ascii_lowercase()))
        })
        .collect()
}

fn status(resp: &str) -> u16 {
    resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sign in through `port` the way a browser does: fetch the form (Django sets `csrftoken`),
/// post it back with the token; returns the POST's response and the cookie jar after it.
fn sign_in(port: u16, password: &str) -> (String, BTreeMap<String, String>) {
    let mut jar = BTreeMap::new();
    let form = request(port, "GET", "/login/", &jar, "");
    assert_eq!(status(&form), 200, "{form}");
    for (k, v, _) in set_cookies(&form) {
        jar.insert(k, v);
    }
    assert!(jar.contains_key("csrftoken"), "the sign-in form set no csrftoken: {form}");
    let token = form
        .split("name=\"csrfmiddlewaretoken\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the form carries the CSRF token");
    let post = request(
        port,
        "POST",
        "/login/",
        &jar,
        &format!("csrfmiddlewaretoken={token}&username=alice&password={password}"),
    );
    for (k, v, _) in set_cookies(&post) {
        jar.insert(k, v);
    }
    (post, jar)
}

#[test]
fn django_sign_in_survives_scan_draft_and_proxy() {
    let chromium = crumb_testkit::chromium::require();
    if !django_available("django_sign_in_survives_scan_draft_and_proxy") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (site, _django) = django(dir.path());
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

    // Django itself: a wrong password is refused, and nobody is signed in without a session.
    let (refused, _) = sign_in(site, "wrong-password");
    assert_eq!(status(&refused), 401, "{refused}");
    assert_eq!(status(&request(site, "GET", "/me/", &BTreeMap::new(), "")), 403);

    // `crumb proxy` with the draft: signing in still sets the session, and it works.
    let port = free_port();
    let metrics = free_port();
    let _proxy = Proc(
        Command::new(env!("CARGO_BIN_EXE_crumb"))
            .args([
                "proxy",
                "--upstream",
                &format!("http://127.0.0.1:{site}"),
                "--config",
                &draft.display().to_string(),
            ])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", &format!("127.0.0.1:{metrics}")])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start crumb proxy"),
    );
    wait_port(port, "crumb proxy");
    let (post, jar) = sign_in(port, "crumb-pw-1");
    assert_eq!(status(&post), 302, "Django refused the sign-in through the proxy: {post}");
    let session = set_cookies(&post).into_iter().find(|(k, _, _)| k == "sessionid");
    let (_, _, attrs) = session.unwrap_or_else(|| panic!("the proxy stripped Django's session cookie: {post}"));
    assert!(attrs.contains("httponly"), "{attrs}");
    let me = request(port, "GET", "/me/", &jar, "");
    assert!(me.ends_with("signed in as alice"), "{me}");
}
