//! What a scan observes and reports. These types are the JSON report's schema
//! (`docs/scan.md`); field names are stable.

use crumb_core::StorageKind;
use serde::{Deserialize, Serialize};

use crate::classify::Suggestion;

/// Version of the JSON report's schema.
pub const SCHEMA_VERSION: u32 = 1;

/// The three clean browser contexts every page is visited in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Loaded, nothing clicked.
    BeforeConsent,
    /// Loaded, then "Reject all".
    AfterReject,
    /// Loaded, then "Accept all".
    AfterAccept,
}

impl Phase {
    /// All phases in visiting order.
    pub const ALL: [Phase; 3] = [Phase::BeforeConsent, Phase::AfterReject, Phase::AfterAccept];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BeforeConsent => "before_consent",
            Phase::AfterReject => "after_reject",
            Phase::AfterAccept => "after_accept",
        }
    }
}

/// Who set a cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBy {
    /// `response` (a `Set-Cookie` header) or `script` (`document.cookie`).
    pub kind: SetByKind,
    /// The response URL, or the script URL (`<page URL> (inline script)` for inline code).
    pub url: String,
}

/// How a cookie was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetByKind {
    /// A `Set-Cookie` response header.
    Response,
    /// A script writing `document.cookie`.
    Script,
}

/// One cookie or storage item seen in one phase of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedItem {
    /// Cookie name, storage key or IndexedDB database name.
    pub name: String,
    /// Cookie domain as the browser stores it (`.example.com` for domain cookies, the host
    /// for host-only ones); for web storage the origin's host.
    pub domain: String,
    /// `cookie`, `local_storage`, `session_storage` or `indexed_db`.
    pub storage: StorageKind,
    /// The phase it was seen in.
    pub phase: Phase,
    /// The page URL being scanned.
    pub page: String,
    /// Whether its domain is not the scanned site's.
    pub third_party: bool,
    /// Length of the value in bytes (values themselves are not recorded).
    pub value_length: usize,
    /// Cookie path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Cookie expiry, seconds since the Unix epoch; `None` for session cookies and storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
    /// Lifetime in seconds from when it was observed to its expiry; `None` for session cookies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_seconds: Option<u64>,
    /// Cookie is a session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<bool>,
    /// Cookie is `HttpOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Cookie is `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// Cookie `SameSite` (`Strict`, `Lax`, `None`), absent when the cookie did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// For a partitioned (CHIPS) cookie: the top-level site it is keyed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Who set it, when the scanner saw it happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<SetBy>,
    /// For web storage: the frame origin that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A host outside the site that a page contacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThirdPartyHost {
    /// The host.
    pub host: String,
    /// The first URL requested from it.
    pub first_url: String,
    /// Number of requests to it in this phase.
    pub requests: u32,
}

/// How the banner was operated in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BannerAction {
    /// Nothing to do (the before-consent phase).
    None,
    /// Through the page's `window.Crumb` API.
    CrumbApi,
    /// By clicking `--accept-selector` / `--reject-selector`.
    Selector,
    /// No Crumb API and no matching selector appeared in time.
    NotFound,
}

/// One phase of one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: Phase,
    /// The URL the browser ended on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
    /// HTTP status of the document, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// How the banner was operated.
    pub banner: BannerAction,
    /// Every cookie and storage item present at the end of the phase.
    pub observed: Vec<ObservedItem>,
    /// Hosts outside the site contacted.
    pub third_party_hosts: Vec<ThirdPartyHost>,
    /// What went wrong (timeout, crash, off-site redirect, ...); the phase still reports
    /// what it saw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Milliseconds spent.
    pub duration_ms: u64,
    /// A PNG screenshot of the page at the end of the phase (only in the HTML report).
    #[serde(skip)]
    pub screenshot: Option<Vec<u8>>,
}

/// One scanned page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageResult {
    /// The URL scanned.
    pub url: String,
    /// How it was found: `start`, `sitemap` or `link`.
    pub found_via: String,
    /// The three phases.
    pub phases: Vec<PhaseResult>,
}

impl PageResult {
    /// Whether every phase failed to load anything.
    pub fn failed(&self) -> bool {
        !self.phases.is_empty() && self.phases.iter().all(|p| !p.errors.is_empty() && p.final_url.is_none())
    }
}

/// A URL the crawl saw but did not scan, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The URL.
    pub url: String,
    /// `robots_txt`, `max_pages`, `time_limit`.
    pub reason: String,
}

/// How severe a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Note,
    /// Worth fixing; does not fail the scan.
    Warning,
    /// The site does not match its policy; exit code 1.
    Error,
}

impl Severity {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What kind of mismatch a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Observed but not in the inventory.
    Undeclared,
    /// A non-essential item present before any consent.
    SetBeforeConsent,
    /// A non-essential item present after "Reject all".
    SetAfterReject,
    /// A host outside the site contacted before consent, not needed by a required service.
    ThirdPartyBeforeConsent,
    /// A cookie's attributes differ from the declared ones.
    AttributeMismatch,
    /// A cookie lives longer than declared.
    ExpiryExceedsDeclared,
    /// Declared, never seen on any scanned page in any phase.
    DeclaredNotObserved,
}

impl FindingKind {
    /// Every kind, in report order.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::Undeclared,
        FindingKind::SetBeforeConsent,
        FindingKind::SetAfterReject,
        FindingKind::ThirdPartyBeforeConsent,
        FindingKind::AttributeMismatch,
        FindingKind::ExpiryExceedsDeclared,
        FindingKind::DeclaredNotObserved,
    ];

    /// The name used in reports and as the SARIF rule id.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Undeclared => "undeclared",
            FindingKind::SetBeforeConsent => "set_before_consent",
            FindingKind::SetAfterReject => "set_after_reject",
            FindingKind::ThirdPartyBeforeConsent => "third_party_before_consent",
            FindingKind::AttributeMismatch => "attribute_mismatch",
            FindingKind::ExpiryExceedsDeclared => "expiry_exceeds_declared",
            FindingKind::DeclaredNotObserved => "declared_not_observed",
        }
    }

    /// One line on what it means.
    pub fn describe(self) -> &'static str {
        match self {
            FindingKind::Undeclared => "A cookie or storage item the site sets is missing from its inventory.",
            FindingKind::SetBeforeConsent => {
                "A non-essential cookie or storage item is present before the visitor consented."
            }
            FindingKind::SetAfterReject => {
                "A non-essential cookie or storage item is present after the visitor rejected it."
            }
            FindingKind::ThirdPartyBeforeConsent => "A third-party host is contacted before the visitor consented.",
            FindingKind::AttributeMismatch => {
                "A cookie's Domain, Path, HttpOnly, Secure or SameSite differs from the inventory."
            }
            FindingKind::ExpiryExceedsDeclared => "A cookie lives longer than the inventory tells visitors.",
            FindingKind::DeclaredNotObserved => "A declared item was not seen on any scanned page in any phase.",
        }
    }
}

/// One mismatch between the site and its inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind.
    pub kind: FindingKind,
    /// How severe.
    pub severity: Severity,
    /// The item's name (the host, for `third_party_before_consent`; the declared pattern,
    /// for `declared_not_observed`).
    pub name: String,
    /// Cookie domain, storage host, or contacted host; `null` when not applicable.
    pub domain: Option<String>,
    /// `cookie`, `local_storage`, `session_storage`, `indexed_db`; `null` for hosts.
    pub storage: Option<StorageKind>,
    /// The first page it occurred on; `null` for `declared_not_observed`.
    pub page: Option<String>,
    /// The phase; `null` for `declared_not_observed`.
    pub phase: Option<Phase>,
    /// What was observed, in words.
    pub evidence: String,
    /// How many pages showed the same finding.
    pub occurrences: u32,
    /// For undeclared items: the suggested category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
}

/// Totals for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Pages scanned (all phases attempted).
    pub pages: usize,
    /// Pages where every phase failed.
    pub pages_failed: usize,
    /// Distinct cookies (name, domain).
    pub cookies: usize,
    /// Distinct web storage items (storage, name, domain).
    pub storage_items: usize,
    /// Distinct third-party hosts.
    pub third_party_hosts: usize,
    /// Findings at error level.
    pub errors: usize,
    /// Findings at warning level.
    pub warnings: usize,
    /// Findings at note level.
    pub notes: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Schema version of this JSON ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// `crumb <version>`.
    pub tool: String,
    /// The start URL.
    pub target: String,
    /// RFC 3339 start time.
    pub started_at: String,
    /// Milliseconds the scan took.
    pub duration_ms: u64,
    /// The browser's product string (`Chrome/156.0...`).
    pub browser: String,
    /// Whether third-party cookies were blocked (`--block-third-party-cookies`).
    pub third_party_cookies_blocked: bool,
    /// The inventory checked against, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<String>,
    /// Why the crawl stopped early, if it did (`time limit of 300 s reached`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// Totals.
    pub summary: Summary,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Scanned pages with their phases.
    pub pages: Vec<PageResult>,
    /// URLs seen but not scanned.
    pub skipped: Vec<Skipped>,
    /// A suggested category for every distinct item observed (storage, name, domain), with
    /// or without an inventory; with one, `category` names the inventory's category.
    #[serde(default)]
    pub suggestions: Vec<ItemSuggestion>,
}

/// The suggestion for one distinct observed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemSuggestion {
    /// Name or key.
    pub name: String,
    /// Cookie domain or storage host.
    pub domain: String,
    /// Where it lives.
    pub storage: StorageKind,
    /// Whether it is declared in the inventory given (always false without one).
    pub declared: bool,
    /// The suggestion.
    pub suggestion: Suggestion,
}

impl ScanReport {
    /// Every observation on every page and phase.
    pub fn observations(&self) -> impl Iterator<Item = &ObservedItem> {
        self.pages.iter().flat_map(|p| p.phases.iter()).flat_map(|ph| ph.observed.iter())
    }

    /// Whether any finding is at error level.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Recompute [`ScanReport::summary`] from pages and findings.
    pub fn summarize(&mut self) {
        use std::collections::BTreeSet;
        let mut cookies = BTreeSet::new();
        let mut storage = BTreeSet::new();
        let mut hosts = BTreeSet::new();
        for o in self.observations() {
            if o.storage == StorageKind::Cookie {
                cookies.insert((o.name.clone(), o.domain.clone()));
            } else {
                storage.insert((o.storage, o.name.clone(), o.domain.clone()));
            }
        }
        for ph in self.pages.iter().flat_map(|p| p.phases.iter()) {
            for h in &ph.third_party_hosts {
                hosts.insert(h.host.clone());
            }
        }
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        self.summary = Summary {
            pages: self.pages.len(),
            pages_failed: self.pages.iter().filter(|p| p.failed()).count(),
            cookies: cookies.len(),
            storage_items: storage.len(),
            third_party_hosts: hosts.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
        };
    }
}
