//! The zero-edit adoption fixture (`bench/adoption`) for tests: the Django shop with real,
//! unmodified tracker libraries from npm, the trackers' "internet" on loopback (`cloud.py`,
//! which logs every request), `crumb serve`, and a headless Chromium that maps the trackers'
//! real host names to loopback.
//!
//! The test setup installs what the fixture needs (`npm ci` with the committed lockfile,
//! Django with `pip install --target`). When that is impossible (no `npm`, `python3` or
//! `openssl`, or no registry), the tests say so loudly and skip, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing tool fails the test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::storage::GetCookiesParams;
use chromiumoxide::page::Page;
use futures::StreamExt;

/// The tracker hosts the shop's libraries talk to (answered by `cloud.py`), plus `localhost`
/// (the tag manager's site).
pub const TRACKER_HOSTS: &[&str] = &[
    "us.i.posthog.com",
    "us-assets.i.posthog.com",
    "cdn.mxpnl.com",
    "api-js.mixpanel.com",
    "cdn.amplitude.com",
    "api2.amplitude.com",
];

/// Cookies the shop needs (declared `necessary` in bench/adoption/crumb.toml).
pub const NECESSARY: &[&str] = &["csrftoken", "sessionid", "crumb_consent"];

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

pub fn here() -> PathBuf {
    root().join("bench/adoption")
}

static SETUP: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Install the fixture's packages once per test binary. `Err` says what is missing.
fn install() -> Result<(), String> {
    let mut done = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = done.as_ref() {
        return r.clone();
    }
    let r = (|| {
        let here = here();
        for tool in ["npm", "python3", "openssl"] {
            let ok = Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
            let ok = ok || (tool == "openssl" && Command::new(tool).arg("version").output().is_ok());
            if !ok {
                return Err(format!("`{tool}` is not installed"));
            }
        }
        if !here.join("node_modules/posthog-js/dist/array.full.js").is_file() {
            let out = Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                .current_dir(&here)
                .output()
                .map_err(|e| format!("npm ci: {e}"))?;
            if !out.status.success() {
                return Err(format!("npm ci failed: {}", String::from_utf8_lossy(&out.stderr)));
            }
        }
        install_django()
    })();
    *done = Some(r.clone());
    r
}

static DJANGO: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Install Django (`bench/adoption/requirements.txt`) into `bench/adoption/.python` once.
fn install_django() -> Result<(), String> {
    let mut done = DJANGO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = done.as_ref() {
        return r.clone();
    }
    let here = here();
    let r = if here.join(".python/django/__init__.py").is_file() {
        Ok(())
    } else {
        match Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--target", ".python", "-r", "requirements.txt"])
            .current_dir(&here)
            .output()
        {
            Err(e) => Err(format!("`python3` cannot run pip: {e}")),
            Ok(out) if !out.status.success() => {
                Err(format!("pip install Django failed: {}", String::from_utf8_lossy(&out.stderr)))
            }
            Ok(_) => Ok(()),
        }
    };
    *done = Some(r.clone());
    r
}

/// `true` when Django is installed (or installs); otherwise as [`available`]: a loud skip,
/// or a panic under CI.
pub fn django_available(test: &str) -> bool {
    match install_django() {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("{test}: Django cannot run: {why}"),
        Err(why) => {
            eprintln!("\n*** SKIPPED {test}: Django cannot run: {why}");
            eprintln!("*** (install python3 with pip; .ci/run does, and fails instead of skipping)\n");
            false
        }
    }
}

/// `true` when the fixture can run. Otherwise prints why (loudly) and returns `false`, or
/// panics under CI, where `.ci/run` installs everything.
pub fn available(test: &str) -> bool {
    match install() {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("{test}: the adoption fixture cannot run: {why}"),
        Err(why) => {
            eprintln!("\n*** SKIPPED {test}: the adoption fixture cannot run: {why}");
            eprintln!("*** (install npm, python3 and openssl; .ci/run does, and fails instead of skipping)\n");
            false
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn wait_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The shop, its trackers on loopback, and `crumb serve` for the banner.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub cloud: u16,
    pub shop: u16,
    /// `crumb serve` base URL.
    pub serve: String,
    pub inventory: PathBuf,
    log: PathBuf,
    _procs: Vec<Proc>,
}

impl Fixture {
    pub fn start() -> Fixture {
        let here = here();
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let ok = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=trackers", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "openssl req failed");
        let log = dir.path().join("cloud.log");
        std::fs::write(&log, "").expect("log");
        let cloud = free_port();
        let shop = free_port();
        let mut procs = Vec::new();
        procs.push(Proc(
            Command::new("python3")
                .arg(here.join("cloud.py"))
                .arg(cloud.to_string())
                .arg(here.join("node_modules"))
                .arg(&log)
                .arg(&cert)
                .arg(&key)
                .spawn()
                .expect("start cloud.py"),
        ));
        procs.push(Proc(
            Command::new("python3")
                .arg(here.join("shop/shop.py"))
                .arg(shop.to_string())
                .arg(cloud.to_string())
                .arg(here.join("node_modules"))
                .env("PYTHONPATH", here.join(".python"))
                .spawn()
                .expect("start the Django shop"),
        ));
        let inventory = here.join("crumb.toml");
        let mut serve = Command::new(env!("CARGO_BIN_EXE_crumb"))
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--config"])
            .arg(&inventory)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("CRUMB_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start crumb serve");
        let mut lines = BufReader::new(serve.stderr.take().expect("stderr")).lines();
        let mut base = None;
        for _ in 0..200 {
            let Some(Ok(line)) = lines.next() else { break };
            if let Some(addr) = line.split("listening on ").nth(1) {
                base = Some(addr.trim().to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines.by_ref() {});
        procs.push(Proc(serve));
        let serve = base.expect("crumb serve started");
        wait_port(cloud, "cloud.py");
        wait_port(shop, "the Django shop");
        Fixture { dir, cloud, shop, serve, inventory, log, _procs: procs }
    }

    pub fn banner_src(&self) -> String {
        format!("{}/s/shop/banner.js", self.serve)
    }

    /// Start `crumb proxy --inject-banner` in front of the shop; returns its port.
    pub fn proxy(&self) -> (Proc, u16) {
        let port = free_port();
        let metrics = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_crumb"))
            .args(["proxy", "--upstream", &format!("http://127.0.0.1:{}", self.shop), "--config"])
            .arg(&self.inventory)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", &format!("127.0.0.1:{metrics}")])
            .args(["--inject-banner", &self.banner_src()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start crumb proxy");
        wait_port(port, "crumb proxy");
        (Proc(child), port)
    }

    /// Requests the trackers received since the last [`clear`](Self::clear): (host, path).
    pub fn requests(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                (v["host"].as_str().unwrap_or_default().to_string(), v["path"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    }

    pub fn clear(&self) {
        std::fs::write(&self.log, "").expect("clear log");
    }

    /// `--host-resolver-rules` sending the trackers' names to `cloud.py`.
    pub fn resolver_rules(&self) -> String {
        TRACKER_HOSTS.iter().map(|h| format!("MAP {h} 127.0.0.1:{}", self.cloud)).collect::<Vec<_>>().join(",")
    }

    /// A Chromium wrapper script for `crumb scan --chromium` with the resolver rules.
    pub fn chromium_wrapper(&self) -> PathBuf {
        let path = self.dir.path().join("chromium");
        let exe = crumb_testkit::chromium::require();
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nexec \"{}\" --host-resolver-rules=\"{}\" --ignore-certificate-errors \"$@\"\n",
                exe.display(),
                self.resolver_rules()
            ),
        )
        .expect("write wrapper");
        Command::new("chmod").arg("755").arg(&path).status().expect("chmod");
        path
    }

    /// A headless Chromium with a fresh profile that reaches the trackers on loopback.
    pub async fn browser(&self) -> (Browser, crumb_testkit::chromium::Profile) {
        let exe = crumb_testkit::chromium::require();
        let profile = crumb_testkit::chromium::Profile::new().expect("profile");
        let cfg = BrowserConfig::builder()
            .chrome_executable(exe)
            .no_sandbox()
            .user_data_dir(profile.path())
            .args(
                profile
                    .args_without_dashes()
                    .into_iter()
                    .filter(|a| a != "headless" && a != "no-sandbox" && !a.starts_with("user-data-dir"))
                    .chain([
                        format!("host-resolver-rules={}", self.resolver_rules()),
                        "ignore-certificate-errors".into(),
                    ]),
            )
            .window_size(1280, 800)
            .viewport(None)
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(cfg).await.expect("launch chromium");
        tokio::spawn(async move { while handler.next().await.is_some() {} });
        (browser, profile)
    }
}

/// What a visitor's browser holds that needs consent: cookies of every site (third-party
/// ones included) that are not necessary, the page origin's local and session storage keys
/// not Crumb's own, and IndexedDB databases.
pub async fn optional_state(page: &Page) -> Vec<String> {
    let cookies = page.execute(GetCookiesParams::default()).await.expect("all cookies");
    let mut out: Vec<String> = cookies
        .result
        .cookies
        .iter()
        .filter(|c| !NECESSARY.contains(&c.name.as_str()))
        .map(|c| format!("cookie {}@{}", c.name, c.domain))
        .collect();
    let storage: Vec<String> = page
        .evaluate(
            "(async () => [...Object.keys(localStorage).map(k => 'localStorage ' + k), \
             ...Object.keys(sessionStorage).map(k => 'sessionStorage ' + k), \
             ...(await indexedDB.databases()).map(d => 'indexedDB ' + d.name)])()",
        )
        .await
        .expect("storage")
        .into_value()
        .expect("storage list");
    out.extend(storage.into_iter().filter(|s| !s.split(' ').nth(1).unwrap_or_default().starts_with("crumb")));
    out.sort();
    out
}
