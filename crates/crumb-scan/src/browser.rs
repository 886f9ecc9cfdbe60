//! Finding and starting Debian's Chromium.

use std::path::{Path, PathBuf};

use chromiumoxide::browser::{Browser, BrowserConfig};
use futures::StreamExt;

use crate::ScanError;

/// Names looked up on `PATH`, in order.
pub const BROWSER_NAMES: &[&str] = &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// Switches Chromium is started with (without leading dashes, as chromiumoxide wants them).
/// Background networking and component updates are off so the scanner contacts nothing but
/// the site; site isolation is off so cross-site iframes stay in the page's DevTools session
/// and their requests and cookies are seen.
pub const SWITCHES: &[&str] = &[
    "disable-gpu",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-quic",
    "disable-dev-shm-usage",
    "disable-site-isolation-trials",
];

/// The Chromium to use: `explicit` (`--chromium`), else `CRUMB_CHROMIUM`, else the first of
/// [`BROWSER_NAMES`] on `PATH`.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, ScanError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ScanError::NoBrowser(format!("--chromium {} is not a file", p.display())))
        };
    }
    if let Some(p) = std::env::var_os("CRUMB_CHROMIUM").map(PathBuf::from) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ScanError::NoBrowser(format!("CRUMB_CHROMIUM={} is not a file", p.display())))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in BROWSER_NAMES {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(ScanError::NoBrowser(format!("none of {} is on PATH", BROWSER_NAMES.join(", "))))
}

/// A running browser with its profile directory (removed when dropped) and the task that
/// drives its DevTools connection.
pub struct Running {
    /// The browser.
    pub browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Running {
    /// Close the browser and wait for it to exit.
    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.browser.wait()).await;
        self.handler.abort();
    }
}

/// Write the profile preferences: third-party cookies accepted (`cookie_controls_mode` 0)
/// unless `block_third_party`, as a typical visitor's browser does.
fn write_preferences(profile: &Path, block_third_party: bool) -> std::io::Result<()> {
    let dir = profile.join("Default");
    std::fs::create_dir_all(&dir)?;
    let prefs = serde_json::json!({
        "profile": {
            "cookie_controls_mode": if block_third_party { 1 } else { 0 },
            "block_third_party_cookies": block_third_party,
            "exit_type": "Normal",
        },
    });
    std::fs::write(dir.join("Preferences"), prefs.to_string())
}

/// Start Chromium headless in a fresh profile.
pub async fn launch(executable: &Path, block_third_party: bool) -> Result<Running, ScanError> {
    let profile = tempfile::Builder::new()
        .prefix("crumb-scan-")
        .tempdir()
        .map_err(|e| ScanError::Launch(format!("cannot create a browser profile directory: {e}")))?;
    write_preferences(profile.path(), block_third_party)
        .map_err(|e| ScanError::Launch(format!("cannot write the browser profile: {e}")))?;
    let config = BrowserConfig::builder()
        .chrome_executable(executable)
        .no_sandbox()
        .user_data_dir(profile.path())
        .args(SWITCHES.iter().copied())
        .arg(("disable-features", &["IsolateOrigins", "site-per-process"][..]))
        .window_size(1280, 800)
        .viewport(None)
        .launch_timeout(std::time::Duration::from_secs(30))
        .request_timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(ScanError::Launch)?;
    let (browser, mut handler) = Browser::launch(config)
        .await
        .map_err(|e| ScanError::Launch(format!("{} did not start: {e}", executable.display())))?;
    // Drive the connection. Errors for single messages (including DevTools events the
    // library does not know) are logged and skipped; only a closed connection ends the loop.
    let handler = tokio::spawn(async move {
        while let Some(ev) = handler.next().await {
            if let Err(e) = ev {
                tracing::debug!("DevTools: {e}");
                if matches!(e, chromiumoxide::error::CdpError::Ws(_)) {
                    break;
                }
            }
        }
    });
    Ok(Running { browser, handler, _profile: profile })
}
