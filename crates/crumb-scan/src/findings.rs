//! Findings: what was observed, checked against the inventory with the one matcher of
//! `crumb-core`.
//!
//! Rules (documented in `docs/scan.md`):
//! - `undeclared` (error): no declaration fits the item (the banner's own consent cookie is
//!   always declared). It carries a suggested category.
//! - `set_before_consent` / `set_after_reject` (error): present in that phase and not strictly
//!   necessary: a declared item whose category is not `required`, or an undeclared item
//!   whose suggestion is not `necessary`. Strictly necessary items are never reported.
//! - `third_party_before_consent`: a host outside the site contacted before consent. Error
//!   when it belongs to a declared service of a non-required category; warning when no
//!   service declares it; nothing when a required service does.
//! - `attribute_mismatch` (warning): a declared `domain`, `path`, `http_only`, `secure` or
//!   `same_site` differs from the cookie the browser stored.
//! - `expiry_exceeds_declared` (error): the cookie's lifetime, measured when observed, is
//!   longer than declared (1% or one minute of slack, whichever is larger); a persistent
//!   cookie declared `session` counts.
//! - `declared_not_observed` (note): a declaration nothing on the scanned pages fitted, in
//!   any phase (items of services that act only on interaction are left out).

use std::collections::{BTreeMap, HashSet};

use crumb_core::inventory::{Purpose, host_matches};
use crumb_core::{Duration, Inventory, Item, Matcher, Observed, StorageKind};

use crate::classify::{self, Clues, Suggestion};
use crate::model::{Finding, FindingKind, ObservedItem, Phase, ScanReport, Severity};

type Key = (FindingKind, Option<StorageKind>, String, Option<String>, Option<Phase>);

#[derive(Default)]
struct Collector {
    found: BTreeMap<Key, (Finding, HashSet<String>)>,
}

impl Collector {
    fn add(&mut self, f: Finding) {
        let key = (f.kind, f.storage, f.name.clone(), f.domain.clone(), f.phase);
        let page = f.page.clone().unwrap_or_default();
        self.found
            .entry(key)
            .and_modify(|(_, pages)| {
                pages.insert(page.clone());
            })
            .or_insert_with(|| (f, HashSet::from([page])));
    }

    fn finish(self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .found
            .into_values()
            .map(|(mut f, pages)| {
                f.occurrences = pages.len() as u32;
                f
            })
            .collect();
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.kind.cmp(&b.kind))
                .then(a.name.cmp(&b.name))
                .then(a.domain.cmp(&b.domain))
                .then(a.phase.cmp(&b.phase))
        });
        out
    }
}

/// The suggestion for an observed item, with the inventory's category for it.
pub fn suggestion_for(o: &ObservedItem, inv: Option<&Inventory>) -> Suggestion {
    let mut s = classify::suggest(Clues {
        name: &o.name,
        domain: Some(&o.domain),
        storage: o.storage,
        third_party: o.third_party,
        lifetime_seconds: if o.session == Some(true) { Some(0) } else { o.lifetime_seconds },
        http_only: o.http_only,
        secure: o.secure,
        set_by: o.set_by.as_ref().map(|b| b.url.as_str()),
        set_by_server: o.set_by.as_ref().map(|b| b.kind == crate::model::SetByKind::Response),
    });
    s.category = inv.and_then(|i| classify::category_for(i, s.purpose));
    s
}

/// A suggestion for every distinct observed item, with or without an inventory.
pub fn suggestions(inv: Option<&Inventory>, report: &ScanReport) -> Vec<crate::model::ItemSuggestion> {
    let matcher = inv.map(crumb_core::Matcher::new);
    let mut seen = HashSet::new();
    report
        .observations()
        .filter(|o| seen.insert((o.storage, o.name.clone(), o.domain.clone())))
        .map(|o| crate::model::ItemSuggestion {
            name: o.name.clone(),
            domain: o.domain.clone(),
            storage: o.storage,
            declared: matcher.as_ref().is_some_and(|m| {
                m.find_index(crumb_core::Observed { storage: o.storage, name: &o.name, domain: Some(&o.domain) })
                    .is_some()
            }),
            suggestion: suggestion_for(o, inv),
        })
        .collect()
}

fn finding(kind: FindingKind, severity: Severity, o: &ObservedItem, evidence: String) -> Finding {
    Finding {
        kind,
        severity,
        name: o.name.clone(),
        domain: Some(o.domain.clone()),
        storage: Some(o.storage),
        page: Some(o.page.clone()),
        phase: Some(o.phase),
        evidence,
        occurrences: 1,
        suggestion: None,
    }
}

fn describe(o: &ObservedItem) -> String {
    let mut s = format!("{} `{}` on {}", o.storage.as_str(), o.name, o.domain);
    if let Some(by) = &o.set_by {
        s.push_str(&format!(
            ", set by {} {}",
            if by.kind == crate::model::SetByKind::Response { "response" } else { "script" },
            by.url
        ));
    }
    s
}

fn attribute_differences(item: &Item, o: &ObservedItem) -> Vec<String> {
    let mut diffs = Vec::new();
    let observed_domain = o.domain.as_str();
    match &item.domain {
        Some(d) => {
            let want = format!(".{}", d.trim_start_matches('.'));
            let host_only_same = !observed_domain.starts_with('.') && observed_domain == d.trim_start_matches('.');
            if !observed_domain.eq_ignore_ascii_case(&want) && !host_only_same {
                diffs.push(format!("Domain is {observed_domain}, declared {d}"));
            } else if host_only_same && d.starts_with('.') {
                diffs.push(format!("host-only cookie on {observed_domain}, declared Domain={d}"));
            }
        }
        None => {
            if observed_domain.starts_with('.') {
                diffs.push(format!("Domain={observed_domain}, declared host-only (no domain)"));
            }
        }
    }
    if let (Some(want), Some(got)) = (&item.path, &o.path)
        && want != got
    {
        diffs.push(format!("Path is {got}, declared {want}"));
    }
    if let (Some(want), Some(got)) = (item.http_only, o.http_only)
        && want != got
    {
        diffs.push(format!("HttpOnly is {got}, declared {want}"));
    }
    if let (Some(want), Some(got)) = (item.secure, o.secure)
        && want != got
    {
        diffs.push(format!("Secure is {got}, declared {want}"));
    }
    if let Some(want) = item.same_site {
        let got = o.same_site.as_deref().unwrap_or("unspecified (Lax)");
        let same = got.eq_ignore_ascii_case(want.as_str()) || (o.same_site.is_none() && want.as_str() == "Lax");
        if !same {
            diffs.push(format!("SameSite is {got}, declared {}", want.as_str()));
        }
    }
    diffs
}

fn exceeds(observed: Duration, declared: Duration) -> bool {
    match (observed, declared) {
        (Duration::Fixed(a), Duration::Fixed(b)) => a > b + (b / 100).max(60),
        (a, b) => a.longer_than(b),
    }
}

/// Every finding for `report` against `inv`.
///
/// The scanned URL's host counts as one of the inventory's origins, so a staging or local
/// copy of the site (`http://127.0.0.1:8080/` for an inventory of `leadsgen.app`) is checked
/// like the real one. Declarations with an explicit `domain` still only fit that domain.
pub fn analyze(inv: &Inventory, report: &ScanReport) -> Vec<Finding> {
    let scanned_host = url::Url::parse(&report.target).ok().and_then(|u| u.host_str().map(str::to_string));
    let aliased;
    let matcher_inv = match scanned_host {
        Some(h) if !inv.is_site_host(&h) => {
            let mut i = inv.clone();
            i.site.origins.push(h);
            aliased = i;
            &aliased
        }
        _ => inv,
    };
    let matcher = Matcher::new(matcher_inv);
    let items: Vec<&Item> = inv.items().collect();
    let mut seen_decl = HashSet::new();
    let mut c = Collector::default();
    let consent_cookie = inv.banner.cookie_name.as_str();

    for o in report.observations() {
        let obs = Observed { storage: o.storage, name: &o.name, domain: Some(&o.domain) };
        match matcher.find_index(obs).and_then(|i| items.get(i).map(|it| (i, *it))) {
            None => {
                if is_consent_record(o.storage, &o.name, o.third_party, consent_cookie) {
                    continue;
                }
                let s = suggestion_for(o, Some(inv));
                let mut f = finding(
                    FindingKind::Undeclared,
                    Severity::Error,
                    o,
                    format!(
                        "{} is not in the inventory; suggested category {} ({})",
                        describe(o),
                        s.category.as_deref().unwrap_or(s.purpose.as_str()),
                        s.reason
                    ),
                );
                f.phase = None;
                f.suggestion = Some(s.clone());
                c.add(f);
                if s.purpose != Purpose::Necessary {
                    let why =
                        format!("undeclared, and suggested {} rather than strictly necessary", s.purpose.as_str());
                    push_phase_finding(&mut c, o, &why);
                }
            }
            Some((i, item)) => {
                seen_decl.insert(i);
                if !inv.is_required(&item.category) {
                    let why = format!("declared `{}` in category `{}`, which needs consent", item.name, item.category);
                    push_phase_finding(&mut c, o, &why);
                }
                if o.storage == StorageKind::Cookie {
                    let diffs = attribute_differences(item, o);
                    if !diffs.is_empty() {
                        let mut f = finding(
                            FindingKind::AttributeMismatch,
                            Severity::Warning,
                            o,
                            format!("{}: {}", describe(o), diffs.join("; ")),
                        );
                        f.phase = None;
                        c.add(f);
                    }
                    if let Ok(Some(declared)) = item.lifetime() {
                        let observed = match o.lifetime_seconds {
                            Some(s) if o.session != Some(true) => Duration::Fixed(s),
                            _ => Duration::Session,
                        };
                        if exceeds(observed, declared) {
                            let mut f = finding(
                                FindingKind::ExpiryExceedsDeclared,
                                Severity::Error,
                                o,
                                format!(
                                    "{} lives {} ({} s), declared `{}`",
                                    describe(o),
                                    observed.humanize(),
                                    observed.seconds().unwrap_or(0),
                                    item.duration
                                ),
                            );
                            f.phase = None;
                            c.add(f);
                        }
                    }
                }
            }
        }
    }

    // Third-party hosts before consent.
    for page in &report.pages {
        for ph in page.phases.iter().filter(|p| p.phase == Phase::BeforeConsent) {
            for h in &ph.third_party_hosts {
                // The Crumb server serving this site's own banner is the consent mechanism
                // itself: strictly necessary, never a finding.
                if serves_own_banner(&h.first_url, &inv.site.id) {
                    continue;
                }
                let services: Vec<_> =
                    inv.services.iter().filter(|s| s.hosts.iter().any(|p| host_matches(p, &h.host))).collect();
                if services.iter().any(|s| inv.is_required(&s.category)) {
                    continue;
                }
                let (severity, evidence) = match services.first() {
                    Some(s) => (
                        Severity::Error,
                        format!(
                            "{} requests to {} (first {}) before consent; service `{}` is in category `{}`, which needs consent",
                            h.requests, h.host, h.first_url, s.id, s.category
                        ),
                    ),
                    None => (
                        Severity::Warning,
                        format!(
                            "{} requests to {} (first {}) before consent; no declared service lists this host",
                            h.requests, h.host, h.first_url
                        ),
                    ),
                };
                c.add(Finding {
                    kind: FindingKind::ThirdPartyBeforeConsent,
                    severity,
                    name: h.host.clone(),
                    domain: Some(h.host.clone()),
                    storage: None,
                    page: Some(page.url.clone()),
                    phase: Some(Phase::BeforeConsent),
                    evidence,
                    occurrences: 1,
                    suggestion: None,
                });
            }
        }
    }

    // Declarations nothing fitted.
    if report.pages.iter().any(|p| !p.failed()) {
        for (i, item) in items.iter().enumerate() {
            if seen_decl.contains(&i) {
                continue;
            }
            let on_interaction = item
                .service
                .as_deref()
                .and_then(|s| inv.service(s))
                .into_iter()
                .chain(inv.services.iter().filter(|s| s.cookies.iter().any(|n| n == &item.name)))
                .any(|s| s.on_interaction);
            if on_interaction {
                continue;
            }
            c.add(Finding {
                kind: FindingKind::DeclaredNotObserved,
                severity: Severity::Note,
                name: item.name.clone(),
                domain: item.domain.clone(),
                storage: Some(item.storage()),
                page: None,
                phase: None,
                evidence: format!(
                    "declared {} `{}` (category `{}`) was not seen on {} page(s) in any phase",
                    item.storage().as_str(),
                    item.name,
                    item.category,
                    report.pages.len()
                ),
                occurrences: 0,
                suggestion: None,
            });
        }
    }
    let mut out = c.finish();
    for f in &mut out {
        if f.kind == FindingKind::DeclaredNotObserved {
            f.occurrences = 0;
        }
    }
    out
}

fn push_phase_finding(c: &mut Collector, o: &ObservedItem, why: &str) {
    let kind = match o.phase {
        Phase::BeforeConsent => FindingKind::SetBeforeConsent,
        Phase::AfterReject => FindingKind::SetAfterReject,
        Phase::AfterAccept => return,
    };
    let when = if o.phase == Phase::BeforeConsent { "before any consent" } else { "after \"Reject all\"" };
    c.add(finding(kind, Severity::Error, o, format!("{} present {when}: {why}", describe(o))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_host_counts_as_an_origin() {
        use crate::model::{BannerAction, PageResult, PhaseResult, Summary};
        let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("leadsgen is valid");
        let item = |name: &str| ObservedItem {
            name: name.into(),
            domain: "127.0.0.1".into(),
            storage: StorageKind::Cookie,
            phase: Phase::BeforeConsent,
            page: "http://127.0.0.1:8080/".into(),
            third_party: false,
            value_length: 4,
            path: Some("/".into()),
            expires: None,
            lifetime_seconds: None,
            session: Some(true),
            http_only: Some(false),
            secure: Some(false),
            same_site: None,
            partition: None,
            set_by: None,
            origin: None,
        };
        let report = ScanReport {
            schema_version: 1,
            tool: "crumb".into(),
            target: "http://127.0.0.1:8080/".into(),
            started_at: String::new(),
            duration_ms: 0,
            browser: String::new(),
            third_party_cookies_blocked: false,
            inventory: None,
            stopped_early: None,
            summary: Summary::default(),
            findings: Vec::new(),
            suggestions: Vec::new(),
            pages: vec![PageResult {
                url: "http://127.0.0.1:8080/".into(),
                found_via: "start".into(),
                phases: vec![PhaseResult {
                    phase: Phase::BeforeConsent,
                    final_url: Some("http://127.0.0.1:8080/".into()),
                    status: Some(200),
                    banner: BannerAction::None,
                    observed: vec![item("theme"), item("crumb_consent"), item("zz_unknown")],
                    third_party_hosts: Vec::new(),
                    errors: Vec::new(),
                    duration_ms: 1,
                    screenshot: None,
                }],
            }],
            skipped: Vec::new(),
        };
        let f = analyze(&inv, &report);
        let has = |k: FindingKind, n: &str| f.iter().any(|x| x.kind == k && x.name == n);
        // `theme` is declared (functional): matched on the scanned host, reported as set before consent.
        assert!(!has(FindingKind::Undeclared, "theme"));
        assert!(has(FindingKind::SetBeforeConsent, "theme"));
        // LeadsGen renames the banner's cookie to `cookie-consent`, so `crumb_consent` is a stranger here.
        assert!(has(FindingKind::Undeclared, "crumb_consent"));
        assert!(has(FindingKind::Undeclared, "zz_unknown"));
    }

    #[test]
    fn expiry_slack() {
        let day = crumb_core::duration::DAY;
        assert!(!exceeds(Duration::Fixed(30 * day), Duration::Fixed(30 * day)));
        assert!(!exceeds(Duration::Fixed(30 * day + 50), Duration::Fixed(30 * day)));
        assert!(exceeds(Duration::Fixed(31 * day), Duration::Fixed(30 * day)));
        assert!(exceeds(Duration::Fixed(10), Duration::Session));
        assert!(!exceeds(Duration::Session, Duration::Fixed(10)));
    }
}

/// Whether `url` is the banner script of site `site` as `crumb serve` serves it
/// (`/s/{site}/banner.js`, any query).
fn serves_own_banner(url: &str, site: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| u.path() == format!("/s/{site}/banner.js"))
}

#[cfg(test)]
mod own_banner_tests {
    #[test]
    fn the_sites_own_banner_host_is_recognised() {
        assert!(super::serves_own_banner("http://127.0.0.1:8080/s/leadsgen/banner.js?v=abc", "leadsgen"));
        assert!(!super::serves_own_banner("http://127.0.0.1:8080/s/other/banner.js", "leadsgen"));
        assert!(!super::serves_own_banner("https://cdn.example/banner.js", "leadsgen"));
    }
}

/// Crumb's own consent record on the scanned site: the consent cookie, and the visitor's last
/// receipt, which the banner keeps in `localStorage` under the consent cookie's name (so the
/// preferences dialog can offer it for download). `crumb check` asks for the cookie to be
/// declared; neither is reported as undeclared or drafted as a new item.
pub(crate) fn is_consent_record(storage: StorageKind, name: &str, third_party: bool, consent_cookie: &str) -> bool {
    matches!(storage, StorageKind::Cookie | StorageKind::LocalStorage) && name == consent_cookie && !third_party
}
