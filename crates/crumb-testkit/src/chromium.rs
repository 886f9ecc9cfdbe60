//! Debian's Chromium for browser tests.
//!
//! Tests find the browser through `CRUMB_CHROMIUM`, then `chromium`, `chromium-browser`,
//! `google-chrome` on `PATH`. `scripts/test` and `.ci/run` install Debian's `chromium`.

use std::path::{Path, PathBuf};

/// Flags every headless browser test starts Chromium with (a fresh `--user-data-dir` is added
/// by [`Profile`]). Without the background-networking flags Chromium tries to reach Google's
/// hosts, which this closed network refuses.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
];

/// The Chromium binary, if one is installed.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CRUMB_CHROMIUM").map(PathBuf::from)
        && p.is_file()
    {
        return Some(p);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The Chromium binary, or a panic that says how to install it. Browser tests call this:
/// a missing browser fails the test rather than skipping it silently.
pub fn require() -> PathBuf {
    find().unwrap_or_else(|| {
        panic!("Chromium is not installed: run `apt-get install chromium` (scripts/test does) or set CRUMB_CHROMIUM")
    })
}

/// A fresh, empty Chromium profile directory, removed when dropped.
pub struct Profile {
    dir: tempfile::TempDir,
}

impl Profile {
    /// Create a new empty profile.
    pub fn new() -> std::io::Result<Profile> {
        Ok(Profile { dir: tempfile::Builder::new().prefix("crumb-chromium-").tempdir()? })
    }

    /// Its path, for `--user-data-dir`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every flag for a headless run in this profile, without leading dashes (as
    /// chromiumoxide's `BrowserConfig::args` wants them).
    pub fn args_without_dashes(&self) -> Vec<String> {
        FLAGS
            .iter()
            .map(|f| f.trim_start_matches("--").to_string())
            .chain(std::iter::once(format!("user-data-dir={}", self.path().display())))
            .collect()
    }
}
