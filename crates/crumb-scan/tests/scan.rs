//! Scans of the fixture sites with Debian's Chromium. One browser is shared by the scans of
//! a test; every phase of every page still gets a clean browser context.

mod fixture;

use std::collections::BTreeSet;
use std::time::Duration;

use crumb_core::StorageKind;
use crumb_scan::model::{BannerAction, FindingKind, Phase, ScanReport, SetByKind, Severity};
use crumb_scan::{ScanOptions, scan_with};
use url::Url;

fn options(url: &str) -> ScanOptions {
    let mut o = ScanOptions::new(Url::parse(url).expect("fixture url"));
    o.page_timeout = Duration::from_secs(4);
    o.quiet = Duration::from_millis(300);
    o.max_settle = Duration::from_secs(3);
    o.banner_wait = Duration::from_secs(2);
    o.concurrency = 2;
    o
}

fn seen(r: &ScanReport, phase: Phase) -> BTreeSet<(StorageKind, String, String)> {
    r.observations().filter(|o| o.phase == phase).map(|o| (o.storage, o.name.clone(), o.domain.clone())).collect()
}

fn set(items: &[(StorageKind, &str, &str)]) -> BTreeSet<(StorageKind, String, String)> {
    items.iter().map(|(s, n, d)| (*s, n.to_string(), d.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_site_observations_and_findings() {
    let exe = crumb_testkit::chromium::require();
    let running = crumb_scan::browser::launch(&exe, false).await.expect("Chromium starts");
    let sites = fixture::start(0).await;

    // --- One page, three phases, checked against the inventory. ---
    let src = fixture::inventory();
    let inv = crumb_core::parse_inventory(&src).expect("fixture inventory passes crumb check");
    let mut o = options(&format!("{}/", sites.first));
    o.max_pages = 1;
    o.inventory = Some(("fixture.toml".into(), inv));
    let r = scan_with(&running.browser, &o, &|_| {}).await.expect("scan runs");
    assert_eq!(r.pages.len(), 1);
    let page = &r.pages[0];
    assert_eq!(page.phases.len(), 3, "{page:#?}");
    for ph in &page.phases {
        assert!(ph.errors.is_empty(), "{:?}: {:?}", ph.phase, ph.errors);
        assert_eq!(ph.status, Some(200));
        assert!(ph.screenshot.as_ref().is_some_and(|s| s.len() > 1000), "screenshot in {:?}", ph.phase);
    }
    assert_eq!(page.phases[0].banner, BannerAction::None);
    assert_eq!(page.phases[1].banner, BannerAction::CrumbApi);
    assert_eq!(page.phases[2].banner, BannerAction::CrumbApi);

    use StorageKind::*;
    let before = [
        (Cookie, "sid", "127.0.0.1"),
        (Cookie, "lb", "127.0.0.1"),
        (Cookie, "_mkt", "127.0.0.1"),
        (Cookie, "prefs", "127.0.0.1"),
        (Cookie, "tp_frame", "localhost"),
        (Cookie, "chips", "localhost"),
        (LocalStorage, "ui_state", "127.0.0.1"),
        (SessionStorage, "tab_id", "127.0.0.1"),
        (LocalStorage, "tp_ls", "localhost"),
    ];
    assert_eq!(seen(&r, Phase::BeforeConsent), set(&before));
    let mut after_reject = before.to_vec();
    after_reject.push((Cookie, "crumb_consent", "127.0.0.1"));
    assert_eq!(seen(&r, Phase::AfterReject), set(&after_reject));
    let mut after_accept = after_reject.clone();
    after_accept.extend([
        (Cookie, "_an_id", "127.0.0.1"),
        (Cookie, "_ga_TEST1", "127.0.0.1"),
        (Cookie, "tp_js", "127.0.0.1"),
        (Cookie, "px", "localhost"),
    ]);
    assert_eq!(seen(&r, Phase::AfterAccept), set(&after_accept));

    // Attributes and who set what.
    let get = |phase: Phase, name: &str| {
        r.observations().find(|o| o.phase == phase && o.name == name).unwrap_or_else(|| panic!("{name} in {phase:?}"))
    };
    let sid = get(Phase::BeforeConsent, "sid");
    assert_eq!((sid.http_only, sid.secure, sid.session), (Some(true), Some(false), Some(true)));
    assert_eq!(sid.same_site.as_deref(), Some("Lax"));
    assert!(!sid.third_party);
    let by = sid.set_by.as_ref().expect("sid's setter");
    assert_eq!((by.kind, by.url.as_str()), (SetByKind::Response, format!("{}/", sites.first).as_str()));
    let mkt = get(Phase::BeforeConsent, "_mkt");
    assert_eq!(mkt.set_by.as_ref().map(|b| b.kind), Some(SetByKind::Script));
    assert!(mkt.set_by.as_ref().is_some_and(|b| b.url.ends_with("(inline script)")), "{:?}", mkt.set_by);
    let life = mkt.lifetime_seconds.expect("persistent");
    assert!((31_535_000..=31_536_010).contains(&life), "{life}");
    let frame = get(Phase::BeforeConsent, "tp_frame");
    assert!(frame.third_party);
    assert_eq!((frame.secure, frame.same_site.as_deref()), (Some(true), Some("None")));
    assert_eq!(frame.set_by.as_ref().map(|b| b.url.clone()), Some(format!("{}/frame", sites.third)));
    let chips = get(Phase::BeforeConsent, "chips");
    assert_eq!(chips.partition.as_deref(), Some("http://127.0.0.1"), "partitioned cookies carry their top-level site");
    assert!(chips.third_party);
    assert_eq!(frame.partition, None);
    let tp_js = get(Phase::AfterAccept, "tp_js");
    assert_eq!(
        tp_js.set_by.as_ref().map(|b| (b.kind, b.url.clone())),
        Some((SetByKind::Script, format!("{}/tp.js", sites.third)))
    );
    let an = get(Phase::AfterAccept, "_an_id");
    assert_eq!(an.set_by.as_ref().map(|b| b.url.clone()), Some(format!("{}/banner.js", sites.first)));
    let px = get(Phase::AfterAccept, "px");
    assert_eq!(
        px.set_by.as_ref().map(|b| (b.kind, b.url.clone())),
        Some((SetByKind::Response, format!("{}/pixel.gif", sites.third)))
    );
    assert!(get(Phase::BeforeConsent, "tp_ls").origin.as_deref().is_some_and(|o| o.starts_with("http://localhost:")));

    // Third-party hosts.
    let hosts = |phase: Phase| -> Vec<String> {
        page.phases
            .iter()
            .filter(|p| p.phase == phase)
            .flat_map(|p| p.third_party_hosts.iter().map(|h| h.host.clone()))
            .collect()
    };
    assert_eq!(hosts(Phase::BeforeConsent), vec!["localhost".to_string()]);

    // Findings: exactly these.
    let got: BTreeSet<(FindingKind, Severity, String, Option<Phase>)> =
        r.findings.iter().map(|f| (f.kind, f.severity, f.name.clone(), f.phase)).collect();
    let want: BTreeSet<(FindingKind, Severity, String, Option<Phase>)> = [
        (FindingKind::AttributeMismatch, Severity::Warning, "lb", None),
        (FindingKind::SetBeforeConsent, Severity::Error, "_mkt", Some(Phase::BeforeConsent)),
        (FindingKind::SetAfterReject, Severity::Error, "_mkt", Some(Phase::AfterReject)),
        (FindingKind::SetBeforeConsent, Severity::Error, "tp_frame", Some(Phase::BeforeConsent)),
        (FindingKind::SetAfterReject, Severity::Error, "tp_frame", Some(Phase::AfterReject)),
        (FindingKind::SetBeforeConsent, Severity::Error, "tp_ls", Some(Phase::BeforeConsent)),
        (FindingKind::SetAfterReject, Severity::Error, "tp_ls", Some(Phase::AfterReject)),
        (FindingKind::ExpiryExceedsDeclared, Severity::Error, "prefs", None),
        (FindingKind::Undeclared, Severity::Error, "_ga_TEST1", None),
        (FindingKind::ThirdPartyBeforeConsent, Severity::Error, "localhost", Some(Phase::BeforeConsent)),
        (FindingKind::DeclaredNotObserved, Severity::Note, "never_seen", None),
    ]
    .into_iter()
    .map(|(k, s, n, p)| (k, s, n.to_string(), p))
    .collect();
    assert_eq!(got, want, "{:#?}", r.findings);
    assert_eq!(r.findings.len(), want.len());
    let undeclared = r.findings.iter().find(|f| f.kind == FindingKind::Undeclared).expect("undeclared finding");
    let s = undeclared.suggestion.as_ref().expect("a suggestion");
    assert_eq!(s.category.as_deref(), Some("analytics"));
    assert_eq!(s.ocd.as_ref().map(|e| e.name.as_str()), Some("_ga_"));
    let lb = r.findings.iter().find(|f| f.name == "lb").expect("lb finding");
    assert!(lb.evidence.contains("Secure is false, declared true"), "{}", lb.evidence);
    let prefs = r.findings.iter().find(|f| f.name == "prefs").expect("prefs finding");
    assert!(prefs.evidence.contains("declared `30 days`"), "{}", prefs.evidence);
    for f in &r.findings {
        assert!(f.storage.is_some() || f.kind == FindingKind::ThirdPartyBeforeConsent);
        if f.kind != FindingKind::DeclaredNotObserved {
            assert_eq!(f.page.as_deref(), Some(format!("{}/", sites.first).as_str()));
        }
    }
    // Strictly necessary items are never reported as set before consent.
    assert!(!r.findings.iter().any(|f| f.kind == FindingKind::SetBeforeConsent
        && ["sid", "lb", "prefs", "ui_state", "tab_id"].contains(&f.name.as_str())));
    assert!(r.has_errors());

    // Reports render; the draft inventory passes crumb check and declares everything seen.
    let json: serde_json::Value = serde_json::from_str(&crumb_scan::report::json(&r)).expect("JSON report parses");
    let item = &json["pages"][0]["phases"][0]["observed"][0];
    for field in ["name", "domain", "storage", "phase"] {
        assert!(item.get(field).is_some(), "observed items carry {field}");
    }
    let html = crumb_scan::report::html(&r);
    assert_eq!(html.matches("data:image/jpeg;base64,").count(), 3);
    assert!(!html.contains("<script"), "the HTML report runs no script");
    let sarif: serde_json::Value = serde_json::from_str(&crumb_scan::report::sarif(&r)).expect("SARIF parses");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(r.findings.len()));
    let draft = crumb_scan::draft::draft(&r, None).expect("a draft");
    let drafted = crumb_core::parse_inventory(&draft).expect("the draft passes crumb check");
    let matcher = crumb_core::Matcher::new(&drafted);
    for o in r.observations().filter(|o| o.name != "crumb_consent") {
        let obs = crumb_core::Observed { storage: o.storage, name: &o.name, domain: Some(&o.domain) };
        assert!(matcher.find_index(obs).is_some(), "draft declares {} on {}", o.name, o.domain);
    }
    // Every third-party host the pages contacted is listed by a service of the draft.
    let contacted: Vec<&str> = r
        .pages
        .iter()
        .flat_map(|p| p.phases.iter())
        .flat_map(|ph| ph.third_party_hosts.iter())
        .map(|h| h.host.as_str())
        .collect();
    assert!(!contacted.is_empty(), "the fixture contacts its second site");
    for host in contacted {
        assert!(
            drafted.services.iter().any(|s| s.hosts.iter().any(|p| crumb_core::inventory::host_matches(p, host))),
            "draft proposes a service for {host}"
        );
    }
    let merged = crumb_scan::draft::draft(&r, Some(&src)).expect("a merge");
    let merged = crumb_core::parse_inventory(&merged).expect("the merge passes crumb check");
    assert_eq!(
        merged.cookies.len(),
        11,
        "only _ga_TEST1 was added: {:?}",
        merged.cookies.iter().map(|c| &c.name).collect::<Vec<_>>()
    );
    assert!(merged.cookies.iter().any(|c| c.name == "_ga_*" && c.category == "analytics"));

    // Another banner: the same phases by clicking buttons.
    let mut o = options(&format!("{}/", sites.first));
    o.max_pages = 1;
    o.screenshots = false;
    o.accept_selector = Some("#accept".into());
    o.reject_selector = Some("#reject".into());
    let sel = scan_with(&running.browser, &o, &|_| {}).await.expect("scan runs");
    let banners: Vec<BannerAction> = sel.pages[0].phases.iter().map(|p| p.banner).collect();
    assert_eq!(banners, vec![BannerAction::None, BannerAction::Selector, BannerAction::Selector]);
    assert_eq!(seen(&sel, Phase::AfterReject), set(&after_reject));
    assert_eq!(seen(&sel, Phase::AfterAccept), set(&after_accept));

    // --- The crawl: sitemap, links, robots.txt, and pages that misbehave. ---
    let mut o = options(&format!("{}/", sites.first));
    o.max_pages = 10;
    o.screenshots = false;
    let r = scan_with(&running.browser, &o, &|_| {}).await.expect("scan runs");
    let urls: BTreeSet<String> = r.pages.iter().map(|p| p.url.trim_start_matches(&sites.first).to_string()).collect();
    let want: BTreeSet<String> =
        ["/", "/about", "/hang", "/broken", "/many", "/offsite", "/dialog"].iter().map(|s| s.to_string()).collect();
    assert_eq!(urls, want);
    assert_eq!(r.pages[0].url, format!("{}/", sites.first), "start page first");
    let via = |u: &str| r.pages.iter().find(|p| p.url.ends_with(u)).map(|p| p.found_via.clone());
    assert_eq!(via("/hang").as_deref(), Some("sitemap"));
    assert!(
        r.skipped.iter().any(|s| s.url.ends_with("/private/secret") && s.reason == "robots_txt"),
        "{:?}",
        r.skipped
    );
    let errors = |u: &str| -> Vec<String> {
        r.pages
            .iter()
            .find(|p| p.url.ends_with(u))
            .map(|p| p.phases.iter().flat_map(|ph| ph.errors.clone()).collect())
            .unwrap_or_default()
    };
    assert!(errors("/hang").iter().any(|e| e.contains("did not finish loading")), "{:?}", errors("/hang"));
    assert!(errors("/offsite").iter().any(|e| e.starts_with("redirected off-site")), "{:?}", errors("/offsite"));
    assert!(errors("/broken").is_empty(), "{:?}", errors("/broken"));
    assert!(r.observations().any(|o| o.name == "broken_seen"));
    assert!(errors("/dialog").is_empty(), "{:?}", errors("/dialog"));
    assert_eq!(r.observations().filter(|o| o.name == "after_alert").count(), 3, "alert() is dismissed in every phase");
    let many = r
        .observations()
        .filter(|o| o.page.ends_with("/many") && o.phase == Phase::BeforeConsent && o.name.starts_with("many"))
        .count();
    assert!(many >= 100, "thousands of cookies are recorded as far as the browser keeps them: {many}");
    assert_eq!(r.pages.iter().find(|p| p.url.ends_with("/about")).map(|p| p.phases.len()), Some(3));
    assert!(r.findings.is_empty(), "no inventory, no findings");

    // The whole-scan limit stops the crawl.
    let mut o = options(&format!("{}/", sites.first));
    o.max_pages = 10;
    o.screenshots = false;
    o.scan_timeout = Duration::from_secs(3);
    let t = std::time::Instant::now();
    match scan_with(&running.browser, &o, &|_| {}).await {
        Ok(r) => {
            assert_eq!(r.stopped_early.as_deref(), Some("time limit of 3 s reached"));
            assert!(r.skipped.iter().any(|s| s.reason == "time_limit"));
        }
        Err(e) => assert!(e.to_string().contains("time limit of 3 s reached"), "{e}"),
    }
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());

    // --ignore-robots scans the disallowed page; --max-pages caps the crawl.
    let mut o = options(&format!("{}/private/secret", sites.first));
    o.max_pages = 1;
    o.screenshots = false;
    let refused = scan_with(&running.browser, &o, &|_| {}).await;
    assert!(refused.is_err(), "robots.txt forbids the start page: {refused:#?}");
    o.ignore_robots = true;
    let r = scan_with(&running.browser, &o, &|_| {}).await.expect("scan runs");
    assert_eq!(r.pages.len(), 1);
    assert!(r.skipped.iter().all(|s| s.reason == "max_pages"));

    running.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_cookies_blocked_on_request() {
    let exe = crumb_testkit::chromium::require();
    let running = crumb_scan::browser::launch(&exe, true).await.expect("Chromium starts");
    let sites = fixture::start(0).await;
    let mut o = options(&format!("{}/", sites.first));
    o.max_pages = 1;
    o.screenshots = false;
    o.block_third_party_cookies = true;
    let r = scan_with(&running.browser, &o, &|_| {}).await.expect("scan runs");
    assert!(r.third_party_cookies_blocked);
    let names: BTreeSet<String> = r
        .observations()
        .filter(|o| o.phase == Phase::AfterAccept && o.storage == StorageKind::Cookie)
        .map(|o| o.name.clone())
        .collect();
    assert!(!names.contains("tp_frame") && !names.contains("px"), "{names:?}");
    assert!(names.contains("sid") && names.contains("tp_js"), "{names:?}");
    running.close().await;
}

#[tokio::test]
async fn missing_browser_is_a_clear_error() {
    let e = crumb_scan::browser::find(Some(std::path::Path::new("/nonexistent/chromium"))).expect_err("no such file");
    assert!(e.to_string().contains("no Chromium found"), "{e}");
    assert!(e.help().contains("apt-get install chromium"));
}
