//! # crumb-scan
//!
//! The scanner behind `crumb scan`: drives Debian's Chromium over the DevTools protocol,
//! crawls a site (sitemap first, then links; same-site; `robots.txt` respected), visits
//! each page in three clean browser contexts (before consent, after "Reject all", after
//! "Accept all"), records every cookie (the context's whole cookie store), web storage key,
//! IndexedDB database and third-party host, and checks them against the inventory.
//!
//! - [`scan`] runs a scan and returns a [`model::ScanReport`].
//! - [`findings::analyze`] turns observations into findings.
//! - [`classify::suggest`] suggests categories for undeclared items.
//! - [`report`] renders text, JSON, HTML and SARIF; [`draft`] writes a draft inventory.

pub mod browser;
pub mod classify;
pub mod crawl;
pub mod draft;
pub mod findings;
pub mod model;
pub mod observe;
pub mod report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chromiumoxide::browser::Browser;
use chromiumoxide::cdp::browser_protocol::page::NavigateParams;
use chromiumoxide::cdp::browser_protocol::target::{CreateBrowserContextParams, CreateTargetParams};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use crumb_core::Inventory;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use url::Url;

use crate::crawl::{Frontier, Robots, is_sitemap_index, site_of, sitemap_locs};
use crate::model::{PageResult, Phase, SCHEMA_VERSION, ScanReport, Skipped, Summary};
use crate::observe::VisitOptions;

/// Why a scan could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No Chromium found.
    #[error("no Chromium found: {0}")]
    NoBrowser(String),
    /// Chromium did not start.
    #[error("Chromium did not start: {0}")]
    Launch(String),
    /// The URL is not an http(s) URL.
    #[error("`{0}` is not an http or https URL")]
    BadUrl(String),
    /// Nothing could be scanned.
    #[error("nothing was scanned: {0}")]
    NothingScanned(String),
}

impl ScanError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            ScanError::NoBrowser(_) => {
                "install Debian's Chromium (`apt-get install chromium`), or pass --chromium PATH or set CRUMB_CHROMIUM"
            }
            ScanError::Launch(_) => {
                "check that the browser runs on its own (`chromium --headless --no-sandbox --dump-dom about:blank`)"
            }
            ScanError::BadUrl(_) => "pass the site's address with its scheme, like https://example.com/",
            ScanError::NothingScanned(_) => {
                "check that the site is reachable from this machine, or pass --ignore-robots if robots.txt forbids it"
            }
        }
    }
}

/// Everything a scan needs.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Where to start.
    pub url: Url,
    /// `--chromium`.
    pub chromium: Option<PathBuf>,
    /// Most pages to scan.
    pub max_pages: usize,
    /// Pages scanned at once.
    pub concurrency: usize,
    /// Per page and phase: longest wait for the page to load.
    pub page_timeout: Duration,
    /// Limit for the whole scan.
    pub scan_timeout: Duration,
    /// Scan pages `robots.txt` disallows.
    pub ignore_robots: bool,
    /// Scan with third-party cookies blocked.
    pub block_third_party_cookies: bool,
    /// `--accept-selector`.
    pub accept_selector: Option<String>,
    /// `--reject-selector`.
    pub reject_selector: Option<String>,
    /// The inventory to check against, with the path it was read from.
    pub inventory: Option<(String, Inventory)>,
    /// Capture screenshots (for the HTML report).
    pub screenshots: bool,
    /// Network quiet time that counts as settled.
    pub quiet: Duration,
    /// Longest wait for the network to settle.
    pub max_settle: Duration,
    /// Longest wait for a banner to appear.
    pub banner_wait: Duration,
}

impl ScanOptions {
    /// Defaults for a start URL.
    pub fn new(url: Url) -> ScanOptions {
        ScanOptions {
            url,
            chromium: None,
            max_pages: 20,
            concurrency: 2,
            page_timeout: Duration::from_secs(30),
            scan_timeout: Duration::from_secs(600),
            ignore_robots: false,
            block_third_party_cookies: false,
            accept_selector: None,
            reject_selector: None,
            inventory: None,
            screenshots: true,
            quiet: Duration::from_millis(500),
            max_settle: Duration::from_secs(5),
            banner_wait: Duration::from_secs(3),
        }
    }
}

/// Progress, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The browser is up and the crawl has started.
    Started {
        /// Browser product string.
        browser: String,
    },
    /// Pages planned so far (grows as links are found, never above `max_pages`).
    Planned(usize),
    /// A page is done.
    PageDone {
        /// Its URL.
        url: String,
        /// Pages done so far.
        done: usize,
    },
}

const MAX_SITEMAPS: usize = 10;
const MAX_SKIPPED: usize = 1000;

/// Run a scan.
pub async fn scan(opts: &ScanOptions, progress: &(dyn Fn(Progress) + Send + Sync)) -> Result<ScanReport, ScanError> {
    if !matches!(opts.url.scheme(), "http" | "https") || opts.url.host_str().is_none() {
        return Err(ScanError::BadUrl(opts.url.to_string()));
    }
    let exe = browser::find(opts.chromium.as_deref())?;
    let running = browser::launch(&exe, opts.block_third_party_cookies).await?;
    let result = scan_with(&running.browser, opts, progress).await;
    running.close().await;
    result
}

/// Run a scan with an already started browser (tests reuse one browser for many scans).
pub async fn scan_with(
    browser: &Browser,
    opts: &ScanOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<ScanReport, ScanError> {
    let started = Instant::now();
    let started_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + opts.scan_timeout;
    let product = browser.version().await.map(|v| v.product).unwrap_or_else(|_| "unknown".into());
    progress(Progress::Started { browser: product.clone() });

    let site = site_of(opts.url.host_str().unwrap_or_default());
    let inv = opts.inventory.as_ref().map(|(_, i)| i);
    let visit_opts = VisitOptions {
        page_timeout: opts.page_timeout,
        quiet: opts.quiet,
        max_settle: opts.max_settle,
        banner_wait: opts.banner_wait,
        accept_selector: opts.accept_selector.clone(),
        reject_selector: opts.reject_selector.clone(),
        categories: inv.map(|i| i.optional_categories().map(|c| c.id.clone()).collect()).unwrap_or_default(),
        screenshots: opts.screenshots,
        first_party: inv.map(|i| i.site.origins.clone()).unwrap_or_default(),
    };

    // Discovery: robots.txt and sitemaps, fetched by the browser from the site's origin.
    let mut frontier = Frontier::new(&opts.url);
    let mut skipped = Vec::new();
    frontier.push(&opts.url, "start");
    let (robots, sitemap_urls) =
        tokio::time::timeout(opts.page_timeout * 2, discover(browser, &opts.url)).await.unwrap_or_default();
    let start_path = match opts.url.query() {
        Some(q) => format!("{}?{q}", opts.url.path()),
        None => opts.url.path().to_string(),
    };
    if !opts.ignore_robots && !robots.allows(&start_path) {
        return Err(ScanError::NothingScanned(format!("robots.txt disallows {}", opts.url)));
    }
    for u in sitemap_urls {
        frontier.push(&u, "sitemap");
    }

    let mut pages: Vec<PageResult> = Vec::new();
    let mut running = FuturesUnordered::new();
    let mut planned = 0usize;
    let mut stopped_early = None;
    let max_pages = opts.max_pages.max(1);
    loop {
        while running.len() < opts.concurrency.max(1) && planned < max_pages {
            let Some((u, via)) = frontier.pop() else { break };
            let path = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            if !opts.ignore_robots && !robots.allows(&path) {
                if skipped.len() < MAX_SKIPPED {
                    skipped.push(Skipped { url: u.to_string(), reason: "robots_txt".into() });
                }
                continue;
            }
            planned += 1;
            progress(Progress::Planned(planned));
            let site = site.clone();
            let visit_opts = &visit_opts;
            running.push(async move { scan_page(browser, u, via, &site, visit_opts).await });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            done = running.next() => {
                let Some((page, links)) = done else { break };
                for l in links {
                    frontier.push(&l, "link");
                }
                pages.push(page);
                progress(Progress::PageDone { url: pages.last().map(|p| p.url.clone()).unwrap_or_default(), done: pages.len() });
            }
            _ = tokio::time::sleep_until(deadline) => {
                stopped_early = Some(format!("time limit of {} s reached", opts.scan_timeout.as_secs()));
                break;
            }
        }
    }
    drop(running);
    let reason = if stopped_early.is_some() { "time_limit" } else { "max_pages" };
    for (u, _) in frontier.remaining() {
        if skipped.len() >= MAX_SKIPPED {
            break;
        }
        if !opts.ignore_robots {
            let path = u.path().to_string();
            if !robots.allows(&path) {
                skipped.push(Skipped { url: u.to_string(), reason: "robots_txt".into() });
                continue;
            }
        }
        skipped.push(Skipped { url: u.to_string(), reason: reason.into() });
    }
    if pages.is_empty() {
        let why = match skipped.iter().find(|s| s.url == opts.url.as_str()) {
            Some(s) if s.reason == "robots_txt" => format!("robots.txt disallows {}", opts.url),
            _ => stopped_early.clone().unwrap_or_else(|| format!("{} could not be scanned", opts.url)),
        };
        return Err(ScanError::NothingScanned(why));
    }
    // Start page first, then in discovery order of completion.
    pages.sort_by_key(|p| p.url != opts.url.as_str());
    if pages.iter().all(PageResult::failed) {
        let why = pages
            .first()
            .and_then(|p| p.phases.first())
            .and_then(|ph| ph.errors.first())
            .cloned()
            .unwrap_or_else(|| "no page loaded".into());
        return Err(ScanError::NothingScanned(format!("{}: {why}", opts.url)));
    }

    let mut report = ScanReport {
        schema_version: SCHEMA_VERSION,
        tool: format!("crumb {}", env!("CARGO_PKG_VERSION")),
        target: opts.url.to_string(),
        started_at,
        duration_ms: 0,
        browser: product,
        third_party_cookies_blocked: opts.block_third_party_cookies,
        inventory: opts.inventory.as_ref().map(|(p, _)| p.clone()),
        stopped_early,
        summary: Summary::default(),
        findings: Vec::new(),
        pages,
        skipped,
        suggestions: Vec::new(),
    };
    if let Some(inv) = inv {
        report.findings = findings::analyze(inv, &report);
    }
    report.suggestions = findings::suggestions(inv, &report);
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.summarize();
    Ok(report)
}

async fn scan_page(
    browser: &Browser,
    url: Url,
    via: &'static str,
    site: &str,
    opts: &VisitOptions,
) -> (PageResult, Vec<Url>) {
    let mut phases = Vec::new();
    let mut links = Vec::new();
    let mut opts = opts.clone();
    for phase in Phase::ALL {
        let v = observe::visit(browser, &url, phase, site, &opts).await;
        let unusable =
            v.result.final_url.is_none() || v.result.errors.iter().any(|e| e.starts_with("redirected off-site"));
        if phase == Phase::BeforeConsent {
            links = v.links;
            // No banner once the page had settled: give it only a short grace in the other phases.
            if !v.banner_present {
                opts.banner_wait = opts.banner_wait.min(Duration::from_millis(500));
            }
        }
        phases.push(v.result);
        if unusable {
            break;
        }
    }
    (PageResult { url: url.to_string(), found_via: via.to_string(), phases }, links)
}

/// Fetch `robots.txt` and the sitemaps it names (or `/sitemap.xml`) through the browser,
/// from a page on the site's origin. Returns the robots rules and the sitemap page URLs.
async fn discover(browser: &Browser, start: &Url) -> (Robots, Vec<Url>) {
    let Ok(ctx) = browser.create_browser_context(CreateBrowserContextParams::default()).await else {
        return Default::default();
    };
    let mut target = CreateTargetParams::new("about:blank");
    target.browser_context_id = Some(ctx.clone());
    let mut out = (Robots::default(), Vec::new());
    if let Ok(page) = browser.new_page(target).await {
        let robots_url = start.join("/robots.txt").ok();
        if let Some(r) = &robots_url {
            let _ = tokio::time::timeout(Duration::from_secs(15), page.goto(NavigateParams::new(r.as_str()))).await;
        }
        let fetch = |u: String| {
            let page = &page;
            async move {
                let expr = format!(
                    "fetch({}, {{credentials: 'omit', redirect: 'follow'}}).then(async r => r.ok ? (await r.text()).slice(0, 10000000) : null).catch(() => null)",
                    serde_json::to_string(&u).unwrap_or_default()
                );
                let mut p = EvaluateParams::new(expr);
                p.await_promise = Some(true);
                p.return_by_value = Some(true);
                match tokio::time::timeout(Duration::from_secs(15), page.execute(p)).await {
                    Ok(Ok(r)) => r.result.result.value.as_ref().and_then(|v| v.as_str()).map(str::to_string),
                    _ => None,
                }
            }
        };
        let robots = match &robots_url {
            Some(r) => fetch(r.to_string()).await.map(|t| Robots::parse(&t)).unwrap_or_default(),
            None => Robots::default(),
        };
        let mut queue: Vec<String> = robots
            .sitemaps
            .iter()
            .filter_map(|s| start.join(s).ok())
            .filter(|u| u.origin() == start.origin())
            .map(|u| u.to_string())
            .collect();
        if queue.is_empty()
            && let Ok(u) = start.join("/sitemap.xml")
        {
            queue.push(u.to_string());
        }
        let mut pages = Vec::new();
        let mut fetched = 0;
        while let Some(u) = queue.pop() {
            if fetched >= MAX_SITEMAPS {
                break;
            }
            fetched += 1;
            let Some(xml) = fetch(u).await else { continue };
            let locs = sitemap_locs(&xml);
            if is_sitemap_index(&xml) {
                queue.extend(
                    locs.into_iter()
                        .filter_map(|l| start.join(&l).ok())
                        .filter(|l| l.origin() == start.origin())
                        .map(|l| l.to_string()),
                );
            } else {
                pages.extend(locs.into_iter().filter_map(|l| start.join(&l).ok()));
            }
        }
        out = (robots, pages);
        let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), browser.dispose_browser_context(ctx)).await;
    out
}
