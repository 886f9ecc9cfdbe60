//! Counters of what the guard did, in the Prometheus text format. Labels carry the cookie's
//! declared name and category and the reason, never anything about the visitor.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Distinct undeclared cookie names counted separately; the rest are counted as `_other`.
pub const MAX_UNDECLARED_NAMES: usize = 256;

/// What the filter did to one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterReport {
    /// `Set-Cookie` headers seen.
    pub seen: usize,
    /// Removed because the visitor has not granted the cookie's category.
    pub refused: usize,
    /// Removed because undeclared (with [`crate::Undeclared::Block`]) or unparseable.
    pub undeclared_blocked: usize,
    /// Undeclared cookies let through and reported.
    pub undeclared_reported: usize,
    /// Kept with attributes changed to the declared ones.
    pub rewritten: usize,
}

/// Why a `Set-Cookie` was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Removed: its category is not granted.
    Refused,
    /// Removed: not declared (with `undeclared = block`).
    Undeclared,
    /// Removed: not a parseable `Set-Cookie` (with `undeclared = block`).
    Malformed,
    /// Let through and reported: not declared (with `undeclared = report`).
    Reported,
    /// Let through with declared attributes applied.
    Rewritten,
    /// A refused cookie the browser still held, expired by the guard.
    Expired,
}

impl Reason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Refused => "refused",
            Reason::Undeclared => "undeclared",
            Reason::Malformed => "malformed",
            Reason::Reported => "reported",
            Reason::Rewritten => "rewritten",
            Reason::Expired => "expired",
        }
    }
}

/// The guard's counters.
#[derive(Debug)]
pub struct Metrics {
    declared: Vec<(String, String)>,
    refused: Vec<AtomicU64>,
    rewritten: Vec<AtomicU64>,
    expired: Vec<AtomicU64>,
    /// Undeclared names: [blocked, reported]. Read-locked on the hot path (a name seen
    /// before); write-locked only to add a name.
    undeclared: RwLock<HashMap<String, [AtomicU64; 2]>>,
    malformed: AtomicU64,
    responses: AtomicU64,
    set_cookies: AtomicU64,
    /// Requests `crumb proxy` forwarded: [fast path, hyper path].
    proxied: [AtomicU64; 2],
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub(crate) fn new(declared: Vec<(String, String)>) -> Metrics {
        let n = declared.len();
        Metrics {
            declared,
            refused: (0..n).map(|_| AtomicU64::new(0)).collect(),
            rewritten: (0..n).map(|_| AtomicU64::new(0)).collect(),
            expired: (0..n).map(|_| AtomicU64::new(0)).collect(),
            undeclared: RwLock::new(HashMap::new()),
            malformed: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            set_cookies: AtomicU64::new(0),
            proxied: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    pub(crate) fn record_response(&self, r: &FilterReport) {
        self.responses.fetch_add(1, Relaxed);
        self.set_cookies.fetch_add(r.seen as u64, Relaxed);
    }

    /// Count a request `crumb proxy` forwarded, on its fast path or through hyper.
    pub(crate) fn record_proxied(&self, fast: bool) {
        self.proxied[usize::from(!fast)].fetch_add(1, Relaxed);
    }

    /// Requests `crumb proxy` forwarded on its HTTP/1.1 fast path (`fast`) or through hyper.
    pub fn proxied(&self, fast: bool) -> u64 {
        self.proxied[usize::from(!fast)].load(Relaxed)
    }

    /// Count one event and log it (`name`, `category`, `path`; nothing about the visitor).
    /// To keep logs readable under load, each (cookie, reason) is logged the 1st, 2nd, 4th,
    /// 8th, ... time it happens, with the running `count`; the counters see every event.
    pub(crate) fn record(&self, reason: Reason, declared: Option<usize>, name: &str, path: &str) {
        let log = |count: u64| count.is_power_of_two();
        match (reason, declared) {
            (Reason::Refused, Some(i)) => {
                let count = self.refused.get(i).map(|c| c.fetch_add(1, Relaxed) + 1).unwrap_or(1);
                if log(count) {
                    let category = self.declared.get(i).map(|d| d.1.as_str()).unwrap_or("");
                    tracing::info!(target: "crumb_guard", name, category, path, count, "blocked Set-Cookie: category not granted");
                }
            }
            (Reason::Rewritten, Some(i)) => {
                let count = self.rewritten.get(i).map(|c| c.fetch_add(1, Relaxed) + 1).unwrap_or(1);
                if log(count) {
                    tracing::debug!(target: "crumb_guard", name, path, count, "applied declared cookie attributes");
                }
            }
            (Reason::Expired, Some(i)) => {
                let count = self.expired.get(i).map(|c| c.fetch_add(1, Relaxed) + 1).unwrap_or(1);
                if log(count) {
                    let category = self.declared.get(i).map(|d| d.1.as_str()).unwrap_or("");
                    tracing::info!(target: "crumb_guard", name, category, path, count, "expired a refused cookie the browser still held");
                }
            }
            (Reason::Malformed, _) => {
                let count = self.malformed.fetch_add(1, Relaxed) + 1;
                if log(count) {
                    tracing::info!(target: "crumb_guard", path, count, "blocked unparseable Set-Cookie");
                }
            }
            (reason, _) => {
                let slot = usize::from(reason != Reason::Undeclared);
                let count = self.count_undeclared(name, slot);
                if !log(count) {
                } else if reason == Reason::Undeclared {
                    tracing::info!(target: "crumb_guard", name, category = "undeclared", path, count, "blocked undeclared Set-Cookie");
                } else {
                    tracing::warn!(target: "crumb_guard", name, category = "undeclared", path, count, "undeclared Set-Cookie let through (reported)");
                }
            }
        }
    }

    /// Count an undeclared cookie `name` in `slot` (0 blocked, 1 reported); the new count.
    fn count_undeclared(&self, name: &str, slot: usize) -> u64 {
        // Past MAX_UNDECLARED_NAMES distinct names, new names are counted as `_other`.
        let key = |map: &HashMap<String, [AtomicU64; 2]>| {
            if map.len() < MAX_UNDECLARED_NAMES || map.contains_key(name) { name } else { "_other" }
        };
        if let Ok(map) = self.undeclared.read()
            && let Some(c) = map.get(key(&map))
        {
            return c[slot].fetch_add(1, Relaxed) + 1;
        }
        let Ok(mut map) = self.undeclared.write() else { return 0 };
        let key = key(&map);
        let c = map.entry(key.to_string()).or_insert_with(|| [AtomicU64::new(0), AtomicU64::new(0)]);
        c[slot].fetch_add(1, Relaxed) + 1
    }

    /// Cookies of a declared name removed because their category was refused.
    pub fn refused(&self, declared_name: &str) -> u64 {
        self.declared
            .iter()
            .zip(&self.refused)
            .filter(|((n, _), _)| n == declared_name)
            .map(|(_, c)| c.load(Relaxed))
            .sum()
    }

    /// Refused cookies of a declared name that the guard expired in browsers.
    pub fn expired(&self, declared_name: &str) -> u64 {
        self.declared
            .iter()
            .zip(&self.expired)
            .filter(|((n, _), _)| n == declared_name)
            .map(|(_, c)| c.load(Relaxed))
            .sum()
    }

    /// Undeclared cookies of a name, by reason (`undeclared` = blocked, `reported` = let through).
    pub fn undeclared(&self, name: &str, reason: Reason) -> u64 {
        let slot = usize::from(reason != Reason::Undeclared);
        self.undeclared.read().ok().and_then(|m| m.get(name).map(|c| c[slot].load(Relaxed))).unwrap_or(0)
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP crumb_guard_responses_total Responses the guard inspected.");
        let _ = writeln!(out, "# TYPE crumb_guard_responses_total counter");
        let _ = writeln!(out, "crumb_guard_responses_total {}", self.responses.load(Relaxed));
        let _ = writeln!(out, "# HELP crumb_guard_set_cookie_total Set-Cookie headers the guard inspected.");
        let _ = writeln!(out, "# TYPE crumb_guard_set_cookie_total counter");
        let _ = writeln!(out, "crumb_guard_set_cookie_total {}", self.set_cookies.load(Relaxed));
        let _ = writeln!(
            out,
            "# HELP crumb_guard_blocked_total Set-Cookie headers removed, by cookie, category and reason."
        );
        let _ = writeln!(out, "# TYPE crumb_guard_blocked_total counter");
        for ((name, category), c) in self.declared.iter().zip(&self.refused) {
            let v = c.load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "crumb_guard_blocked_total{{name=\"{}\",category=\"{}\",reason=\"refused\"}} {v}",
                    escape(name),
                    escape(category)
                );
            }
        }
        let mut undeclared: Vec<(String, [u64; 2])> = self
            .undeclared
            .read()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), [v[0].load(Relaxed), v[1].load(Relaxed)])).collect())
            .unwrap_or_default();
        undeclared.sort();
        for (name, [v, _]) in undeclared.iter().filter(|(_, c)| c[0] > 0) {
            let _ = writeln!(
                out,
                "crumb_guard_blocked_total{{name=\"{}\",category=\"undeclared\",reason=\"undeclared\"}} {v}",
                escape(name)
            );
        }
        let m = self.malformed.load(Relaxed);
        if m > 0 {
            let _ = writeln!(
                out,
                "crumb_guard_blocked_total{{name=\"\",category=\"undeclared\",reason=\"malformed\"}} {m}"
            );
        }
        let _ =
            writeln!(out, "# HELP crumb_guard_reported_total Undeclared Set-Cookie headers let through and reported.");
        let _ = writeln!(out, "# TYPE crumb_guard_reported_total counter");
        for (name, [_, v]) in undeclared.iter().filter(|(_, c)| c[1] > 0) {
            let _ = writeln!(out, "crumb_guard_reported_total{{name=\"{}\"}} {v}", escape(name));
        }
        let _ = writeln!(out, "# HELP crumb_guard_rewritten_total Set-Cookie headers given their declared attributes.");
        let _ = writeln!(out, "# TYPE crumb_guard_rewritten_total counter");
        for ((name, category), c) in self.declared.iter().zip(&self.rewritten) {
            let v = c.load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "crumb_guard_rewritten_total{{name=\"{}\",category=\"{}\"}} {v}",
                    escape(name),
                    escape(category)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP crumb_guard_expired_total Refused cookies still held by browsers, expired by the guard."
        );
        let _ = writeln!(out, "# TYPE crumb_guard_expired_total counter");
        for ((name, category), c) in self.declared.iter().zip(&self.expired) {
            let v = c.load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    out,
                    "crumb_guard_expired_total{{name=\"{}\",category=\"{}\"}} {v}",
                    escape(name),
                    escape(category)
                );
            }
        }
        let proxied = [self.proxied(true), self.proxied(false)];
        if proxied != [0, 0] {
            let _ = writeln!(out, "# HELP crumb_proxy_requests_total Requests crumb proxy forwarded, by path taken.");
            let _ = writeln!(out, "# TYPE crumb_proxy_requests_total counter");
            let _ = writeln!(out, "crumb_proxy_requests_total{{path=\"fast\"}} {}", proxied[0]);
            let _ = writeln!(out, "crumb_proxy_requests_total{{path=\"hyper\"}} {}", proxied[1]);
        }
        out
    }
}
