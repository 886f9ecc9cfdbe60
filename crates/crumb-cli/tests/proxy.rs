//! End-to-end test of `crumb proxy` as a process: flags, filtering, SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name).display().to_string()
}

/// A one-page upstream on 127.0.0.1 that sets an analytics and a necessary cookie.
fn upstream() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
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
                let body = "<html><head></head><body>hi</body></html>";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nset-cookie: _plausible=1; Path=/\r\nset-cookie: next-auth.csrf-token=x; Path=/\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nhost: shop.leadsgen.app\r\nconnection: close\r\n\r\n").expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn crumb_proxy_filters_injects_and_stops_on_sigterm() {
    let up = upstream();
    let port = free_port();
    let metrics = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["proxy", "--upstream", &format!("http://127.0.0.1:{up}"), "--config", &example("leadsgen.toml")])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--inject-banner", "/s/leadsgen/banner.js"])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crumb proxy");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "crumb proxy did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let res = get(port, "/");
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    let lower = res.to_ascii_lowercase();
    assert!(!lower.contains("set-cookie: _plausible"), "analytics cookie not removed: {res}");
    assert!(lower.contains("set-cookie: next-auth.csrf-token=x"), "necessary cookie removed: {res}");
    assert!(res.contains("<head><script src=\"/s/leadsgen/banner.js\"></script></head>"), "{res}");

    let text = get(metrics, "/metrics");
    assert!(
        text.contains("crumb_guard_blocked_total{name=\"_plausible\",category=\"analytics\",reason=\"refused\"} 1"),
        "{text}"
    );
    assert!(get(metrics, "/other").starts_with("HTTP/1.1 404"));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "crumb proxy did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut log).expect("log");
    assert_eq!(exit.code(), Some(0), "{log}");
    assert!(log.contains("_plausible") && log.contains("analytics"), "blocked cookie not logged: {log}");
}

#[test]
fn crumb_proxy_refuses_bad_upstreams_and_inventories() {
    let o = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["proxy", "--upstream", "https://example.com", "--config", &example("leadsgen.toml")])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("http://"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["proxy", "--upstream", "http://127.0.0.1:1", "--config", "/nonexistent/crumb.toml"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("crumb init"), "{}", String::from_utf8_lossy(&o.stderr));
}
