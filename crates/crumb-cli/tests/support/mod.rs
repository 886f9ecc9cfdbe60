//! Helpers for tests that run the real `crumb` binary: start `crumb serve` on 127.0.0.1:0,
//! a tiny HTTP/1.1 client over std, and consent bodies.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_crumb");
pub const ORIGIN: &str = "https://leadsgen.app";

pub fn leadsgen_version() -> String {
    let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("leadsgen parses");
    crumb_core::policy_version(&inv)
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name)
}

/// A running `crumb serve`.
pub struct Serve {
    pub child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    pub database: Option<String>,
    pub log: mpsc::Receiver<String>,
}

impl Serve {
    /// Start `crumb serve --listen 127.0.0.1:0 ARGS` with `data_dir`.
    pub fn start(data_dir: &Path, database: Option<&str>, args: &[&str]) -> Serve {
        Serve::start_env(data_dir, database, args, &[])
    }

    /// [`Serve::start`] with these environment variables set too.
    pub fn start_env(data_dir: &Path, database: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(BIN);
        cmd.envs(env.iter().copied());
        cmd.arg("serve").args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        cmd.args(args).env_remove("CRUMB_DATABASE_URL").env("CRUMB_LOG", "info,sqlx=error");
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("crumb serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("crumb serve: listening on http://127.0.0.1:") {
                        let port = rest.trim().parse().expect("port");
                        return Serve {
                            child,
                            port,
                            data_dir: data_dir.to_path_buf(),
                            database: database.map(str::to_string),
                            log: rx,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("crumb serve did not start:\n{}", seen.join("\n"));
                }
            }
        }
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        request(self.port, method, path, headers, body)
    }

    /// POST a consent body from the leadsgen origin.
    pub fn post(&self, body: &str) -> Response {
        self.request(
            "POST",
            "/api/v1/consents",
            &[("Origin", ORIGIN), ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    /// Send a signal and wait for exit.
    pub fn signal_and_wait(mut self, sig: &str) -> std::process::ExitStatus {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(ok.success());
        for _ in 0..300 {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("crumb serve did not exit after {sig}");
    }

    pub fn logs(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// Run `crumb ledger ARGS` against this server's database and data dir.
    pub fn ledger(&self, args: &[&str]) -> std::process::Output {
        ledger(&self.data_dir, self.database.as_deref(), args)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ledger(data_dir: &Path, database: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("ledger").args(args).arg("--data-dir").arg(data_dir).env_remove("CRUMB_DATABASE_URL");
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    cmd.output().expect("crumb ledger runs")
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request with `Connection: close`; status 0 when the connection fails.
pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
    let fail = |e: String| Response { status: 0, headers: Vec::new(), body: e };
    let mut s = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    if let Err(e) = s.write_all(&bytes) {
        return fail(e.to_string());
    }
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return fail(e.to_string());
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return fail(format!("bad response: {text}")) };
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    Response { status, headers, body: body.to_string() }
}

/// A valid leadsgen decision.
pub fn consent(version: &str, analytics: bool, consent_id: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "site": "leadsgen",
        "policy_version": version,
        "choices": {"functional": true, "analytics": analytics, "marketing": false},
        "action": "save",
        "language": "en",
        "url": "https://leadsgen.app/pricing?utm_source=x#top"
    });
    if let Some(id) = consent_id {
        v["consent_id"] = id.into();
    }
    v.to_string()
}

/// Run `crumb admin ARGS` on a data directory (and database), with `stdin` as its input.
pub fn admin(data_dir: &Path, database: Option<&str>, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("admin").args(args).arg("--data-dir").arg(data_dir).env_remove("CRUMB_DATABASE_URL");
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("crumb admin");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("crumb admin runs")
}
