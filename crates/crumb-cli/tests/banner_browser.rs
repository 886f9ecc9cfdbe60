//! The banner in real headless Chromium against the real `crumb serve` on 127.0.0.1, with the
//! host page on `http://localhost:PORT` (another origin). Decisions are checked in the ledger
//! through `GET /api/v1/consents/{id}`.

mod banner_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use banner_support::*;

/// leadsgen, servable on loopback: no parent cookie domain, plus a declared localStorage key
/// for the analytics category. `edit` rewrites the TOML (rules, languages, mode).
fn leadsgen_toml(edit: &[(&str, &str)]) -> String {
    let mut src = format!(
        "{}\n[[storage]]\nname = \"_vercel_analytics\"\nkind = \"local_storage\"\ncategory = \"analytics\"\npurpose = \"Queued web vitals\"\nduration = \"persistent\"\n",
        crumb_core::testdata::LEADSGEN
    )
    .replace("cookie_domain = \"leadsgen.app\"", "");
    for (from, to) in edit {
        assert!(src.contains(from), "leadsgen.toml has no `{from}`");
        src = src.replace(from, to);
    }
    src
}

const OPT_OUT: (&str, &str) = ("regional_mode = \"opt_in\"", "regional_mode = \"opt_out\"");

/// `crumb serve --dev` on 127.0.0.1:0 with one inventory and its own data directory.
struct Backend {
    child: Child,
    base: String,
    data: tempfile::TempDir,
}

impl Backend {
    fn start(toml: &str) -> Backend {
        let data = tempfile::tempdir().expect("data dir");
        let child = spawn(data.path().to_path_buf(), toml);
        let (child, base) = listening(child);
        Backend { child, base, data }
    }

    /// Stop and start again on the same data directory (ledger and version history) with a new inventory.
    fn restart(&mut self, toml: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base) = listening(spawn(self.data.path().to_path_buf(), toml));
        self.child = child;
        self.base = base;
    }

    fn banner_src(&self, site: &str) -> String {
        format!("{}/s/{site}/banner.js", self.base)
    }

    /// The visitor's history from the ledger.
    fn history(&self, consent_id: &str) -> serde_json::Value {
        let (status, body) = http_get(&self.base, &format!("/api/v1/consents/{consent_id}"));
        assert_eq!(status, 200, "history of {consent_id}: {body}");
        serde_json::from_str(&body).expect("history JSON")
    }

    fn actions(&self, consent_id: &str) -> Vec<String> {
        self.history(consent_id)["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r["action"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: PathBuf, toml: &str) -> Child {
    let inv = data.join("crumb.toml");
    std::fs::write(&inv, toml).expect("write inventory");
    Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--config"])
        .arg(&inv)
        .arg("--data-dir")
        .arg(&data)
        .env("CRUMB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crumb serve")
}

/// Wait for "listening on http://ADDR" (bounded), then keep draining stderr.
fn listening(mut child: Child) -> (Child, String) {
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for _ in 0..200 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(addr) = line.split("listening on ").nth(1) {
            let base = addr.trim().to_string();
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (child, base);
        }
        seen.push(line);
    }
    let _ = child.kill();
    panic!("crumb serve did not start:\n{}", seen.join("\n"));
}

fn http_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

async fn setup(edits: &[(&str, &str)]) -> (Session, Host, Backend, String) {
    let backend = Backend::start(&leadsgen_toml(edits));
    let host = Host::start();
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), None), None);
    (Session::start().await, host, backend, url)
}

/// Wait for the server's receipt to reach the cookie, and return the consent id.
async fn consent_id(page: &chromiumoxide::Page) -> String {
    must(page, "Crumb.get().consent_id !== null").await;
    let id: String = eval(page, "Crumb.get().consent_id").await;
    assert!(is_uuid(&id), "consent id from the ledger's receipt: {id}");
    id
}

const BAR_VISIBLE: &str = "!!document.querySelector('#crumb .cb-bar') && document.querySelector('#crumb .cb-bar').getClientRects().length > 0";

async fn click(page: &chromiumoxide::Page, selector_text: &str) {
    let js = format!(
        "(() => {{ const b = [...document.querySelectorAll('#crumb button, .crumb-ph button')].find(b => b.getClientRects().length > 0 && b.textContent.trim() === {selector_text:?}); if (!b) return false; b.click(); return true }})()"
    );
    assert!(eval::<bool>(page, &js).await, "no visible button {selector_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_visit_shows_banner_and_runs_nothing_gated() {
    let (s, _host, _b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(eval::<bool>(&page, "window.__ran === undefined").await, "no gated script ran");
    let names = cookie_names(&page).await;
    assert!(!names.iter().any(|n| n == "_plausible" || n == "_fbp" || n == "theme"), "{names:?}");
    assert!(
        eval::<bool>(&page, "!!document.querySelector('.crumb-ph') && !document.querySelector('iframe').src").await
    );
    // equal prominence: the three buttons share one class and size; nothing pre-ticked
    let same: bool = eval(&page, "(() => { const b=[...document.querySelectorAll('#crumb .cb-bar button')]; return b.length===3 && b.every(x=>x.className===b[0].className && x.offsetHeight===b[0].offsetHeight) })()").await;
    assert!(same, "accept/reject/preferences have equal prominence");
    assert_eq!(eval::<String>(&page, "document.querySelector('#crumb .cb-bar').getAttribute('role')").await, "dialog");
    assert_eq!(
        eval::<String>(&page, "document.activeElement.className").await,
        "cb-bar",
        "focus moved into the banner"
    );
    assert_eq!(eval::<f64>(&page, "scrollY").await, 0.0, "focus did not scroll");
    assert_eq!(eval::<f64>(&page, "__cls").await, 0.0, "no layout shift");
    assert_eq!(eval::<Vec<String>>(&page, "__errors").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_all_runs_each_gated_script_once_in_order() {
    let (s, _host, b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    // a second decision right away, before the first receipt can have arrived
    let immediate: bool = eval(
        &page,
        "(() => { [...document.querySelectorAll('#crumb button')].find(b => b.textContent === 'Accept all').click(); const before = Crumb.get().consent_id; Crumb.set({analytics: true}); return before === null })()",
    )
    .await;
    assert!(immediate, "both decisions were made before the first receipt");
    must(&page, "(window.__ran||[]).length === 5").await;
    assert_eq!(eval::<Vec<String>>(&page, "__ran").await, ["a1", "_vercel_analytics", "a3", "m1", "f1"]);
    must(&page, "document.querySelector('iframe').src.endsWith('/frame') && !document.querySelector('.crumb-ph')")
        .await;
    // calling the API again does not rerun anything
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(eval::<usize>(&page, "__ran.length").await, 5);
    let id = consent_id(&page).await;
    let h = b.history(&id);
    let first = &h["records"][0];
    assert_eq!(first["action"], "accept_all");
    assert_eq!(
        first["choices"],
        serde_json::json!({"necessary": true, "functional": true, "analytics": true, "marketing": true})
    );
    assert_eq!(first["language"], "en");
    assert!(first["url"].as_str().expect("url").starts_with("http://localhost:"));
    // the second decision (Crumb.set) waited for the receipt and was recorded under the same id
    for _ in 0..100 {
        if b.actions(&id).len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(b.actions(&id), ["accept_all", "save"]);
    let cookie: String = eval(&page, "document.cookie.split('; ').find(c=>c.startsWith('cookie-consent='))").await;
    let value = cookie.trim_start_matches("cookie-consent=");
    let parsed = crumb_core::consent::ConsentCookie::decode(value).expect("core reads the banner's cookie");
    assert_eq!(parsed.consent_id.as_deref(), Some(id.as_str()));
    assert_eq!(parsed.granted.len(), 3);
    assert_eq!(eval::<Vec<String>>(&page, "__errors").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_all_runs_nothing_and_records() {
    let (s, _host, b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Reject all").await;
    let id = consent_id(&page).await;
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
    let h = b.history(&id);
    assert_eq!(h["records"][0]["action"], "reject_all");
    assert_eq!(h["records"][0]["choices"]["analytics"], false);
    // the decision holds on the next page: no banner, floating button instead
    goto(&page, &url).await;
    must(&page, "!!document.querySelector('#crumb .cb-fab')").await;
    assert!(!eval::<bool>(&page, BAR_VISIBLE).await);
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_grant_only_what_was_chosen_and_withdrawal_deletes() {
    let (s, _host, b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Preferences").await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg [role=switch]')").await;
    let state: Vec<(String, bool, bool)> =
        eval(&page, "[...document.querySelectorAll('#crumb [role=switch]')].map(i=>[i.value,i.checked,i.disabled])")
            .await;
    assert_eq!(
        state,
        [
            ("necessary".into(), true, true),
            ("functional".into(), false, false),
            ("analytics".into(), false, false),
            ("marketing".into(), false, false)
        ]
    );
    // services named, cookie details loaded on demand
    assert!(eval::<bool>(&page, "document.querySelector('#crumb .cb-dlg').textContent.includes('Plausible Analytics (Plausible Insights OÜ)')").await);
    click(&page, "Cookie details").await;
    must(&page, "[...document.querySelectorAll('#crumb th')].some(t=>t.textContent==='next-auth.session-token')").await;
    eval::<bool>(
        &page,
        "(()=>{document.querySelector('#crumb [role=switch][value=analytics]').click();return true})()",
    )
    .await;
    click(&page, "Save choices").await;
    must(&page, "(window.__ran||[]).length === 3").await;
    assert_eq!(eval::<Vec<String>>(&page, "__ran").await, ["a1", "_vercel_analytics", "a3"]);
    assert!(eval::<bool>(&page, "!!document.querySelector('.crumb-ph')").await, "marketing embed still blocked");
    let id = consent_id(&page).await;
    assert_eq!(b.actions(&id), ["save"]);
    let names = cookie_names(&page).await;
    assert!(names.contains(&"_plausible".to_string()) && names.contains(&"_vercel_analytics".to_string()), "{names:?}");
    // withdrawal through the API deletes analytics cookies and storage keys
    eval::<bool>(&page, "(Crumb.set({analytics: false}), true)").await;
    must(&page, "!document.cookie.includes('_plausible') && !document.cookie.includes('_vercel_analytics') && localStorage.getItem('_vercel_analytics') === null").await;
    for _ in 0..100 {
        if b.actions(&id).len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(b.actions(&id), ["save", "withdraw"]);
    assert!(!cookie_names(&page).await.iter().any(|n| n == "_plausible"), "every path variant deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_mode_calls_in_order() {
    let (s, _host, _b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Accept all").await;
    must(&page, "dataLayer.filter(a=>a[1]==='update').length >= 2").await;
    let dl: Vec<serde_json::Value> = eval(&page, "dataLayer.map(a=>[...a])").await;
    assert_eq!(dl[0][0], "consent");
    assert_eq!(dl[0][1], "default");
    for k in [
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
        "security_storage",
    ] {
        assert_eq!(dl[0][2][k], "denied", "{k} denied by default");
    }
    assert_eq!(dl[0][2]["wait_for_update"], 500);
    let last = dl.last().expect("update");
    assert_eq!(last[1], "update");
    assert_eq!(last[2]["ad_storage"], "granted");
    // every later page: default then update from the stored decision
    goto(&page, &url).await;
    must(&page, "dataLayer.length >= 2").await;
    let dl: Vec<serde_json::Value> = eval(&page, "dataLayer.map(a=>[...a])").await;
    assert_eq!((dl[0][1].as_str(), dl[1][1].as_str()), (Some("default"), Some("update")));
    assert_eq!(dl[1][2]["analytics_storage"], "granted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_mode_region_default_for_opt_out_countries() {
    let by_country = (
        "regional_mode = \"opt_in\"",
        "regional_mode = \"by_country\"\ncountry_header = \"CF-IPCountry\"\nopt_out_countries = [\"US\", \"US-CA\"]",
    );
    let (s, _host, _b, url) = setup(&[by_country]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    let dl: Vec<serde_json::Value> = eval(&page, "dataLayer.map(a=>[...a])").await;
    assert_eq!((dl[0][1].as_str(), dl[1][1].as_str()), (Some("default"), Some("default")), "{dl:?}");
    assert_eq!(dl[0][2]["ad_storage"], "denied");
    assert!(dl[0][2].get("region").is_none(), "the first default is global");
    assert_eq!(dl[1][2]["region"], serde_json::json!(["US", "US-CA"]));
    assert_eq!(dl[1][2]["ad_storage"], "granted");
    assert_eq!(dl[1][2]["analytics_storage"], "granted");
}

const GPC: &str = "Object.defineProperty(Navigator.prototype,'globalPrivacyControl',{get:()=>true});";
const DNT: &str = "Object.defineProperty(Navigator.prototype,'doNotTrack',{get:()=>'1'});";

const DNT_IGNORE: (&str, &str) = ("dnt = \"honor\"", "dnt = \"ignore\"");
const GPC_IGNORE: (&str, &str) = ("gpc = \"honor\"", "gpc = \"ignore\"");

/// Load the standard page of an opt-out leadsgen with a signal (header and navigator property).
async fn signal_run(
    edits: &[(&str, &str)],
    init: &str,
    header: serde_json::Value,
) -> (Session, Backend, chromiumoxide::Page) {
    let mut all = vec![OPT_OUT];
    all.extend_from_slice(edits);
    let backend = Backend::start(&leadsgen_toml(&all));
    let host = Host::start();
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), None), None);
    let s = Session::start().await;
    let page = s.page(Some(header), init).await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    std::mem::forget(host); // keep serving for the page's lifetime (test process exits after)
    (s, backend, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpc_honored_is_a_refusal_in_opt_out_and_stated() {
    let (_s, b, page) = signal_run(&[], GPC, serde_json::json!({"Sec-GPC": "1"})).await;
    assert_eq!(eval::<Vec<String>>(&page, "__ran").await, ["f1"], "functional runs, analytics/marketing pre-denied");
    let statement: String = eval(&page, "document.querySelector('#crumb .cb-sig').textContent").await;
    assert!(statement.contains("Global Privacy Control") && statement.contains("not to sell or share"), "{statement}");
    assert!(
        eval::<bool>(
            &page,
            "document.querySelector('#crumb .cb-bar').getAttribute('aria-describedby').includes('cb-s')"
        )
        .await
    );
    // an explicit later choice is recorded as such
    click(&page, "Accept all").await;
    must(&page, "__ran.length === 5").await;
    let id = consent_id(&page).await;
    let h = b.history(&id);
    assert_eq!(h["records"][0]["action"], "accept_all");
    assert_eq!(h["records"][0]["gpc"], true, "the server recorded the Sec-GPC header it saw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpc_ignored_changes_nothing() {
    let (_s, _b, page) = signal_run(&[DNT_IGNORE, GPC_IGNORE], GPC, serde_json::json!({"Sec-GPC": "1"})).await;
    must(&page, "(window.__ran||[]).length === 5").await;
    assert!(eval::<bool>(&page, "!document.querySelector('#crumb .cb-sig')").await, "no statement when ignored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnt_per_rule_honor_and_ignore() {
    let (_s, _b, page) = signal_run(&[], DNT, serde_json::json!({"DNT": "1"})).await;
    assert_eq!(eval::<Vec<String>>(&page, "__ran").await, ["f1"]);
    assert!(
        eval::<String>(&page, "document.querySelector('#crumb .cb-sig').textContent").await.contains("Do Not Track")
    );
    assert!(!eval::<bool>(&page, "Crumb.allowed('marketing')").await);
    let (_s2, _b2, page2) = signal_run(&[DNT_IGNORE], DNT, serde_json::json!({"DNT": "1"})).await;
    must(&page2, "(window.__ran||[]).length === 5").await;
    assert!(eval::<bool>(&page2, "!document.querySelector('#crumb .cb-sig')").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_region_runs_until_refused() {
    let (s, _host, b, url) = setup(&[OPT_OUT]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, "(window.__ran||[]).length === 5").await;
    must(&page, BAR_VISIBLE).await;
    assert!(!eval::<bool>(&page, "document.querySelector('#crumb').textContent.includes('Reject all')").await);
    click(&page, "Do Not Sell or Share My Personal Information").await;
    must(&page, "!document.cookie.includes('_fbp') && !document.cookie.includes('_plausible') && !document.cookie.includes('theme=')").await;
    let id = consent_id(&page).await;
    assert_eq!(b.actions(&id), ["reject_all"]);
    let dl: Vec<serde_json::Value> = eval(&page, "dataLayer.map(a=>[...a])").await;
    assert_eq!(dl.last().expect("update")[2]["ad_storage"], "denied");
}

/// Visit a banner-less page of the host first to plant a consent cookie, then the real page.
async fn with_cookie(cookie: impl Fn(&str) -> String) -> (Session, chromiumoxide::Page, Backend) {
    let toml = leadsgen_toml(&[]);
    let version = crumb_core::policy_version(&crumb_core::parse_inventory(&toml).expect("inventory"));
    let backend = Backend::start(&toml);
    let host = Host::start();
    let blank = host.page("/blank", "<!doctype html><title>x</title>".into(), None);
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), None), None);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &blank).await;
    let js = format!("(document.cookie = {:?}, true)", format!("cookie-consent={};path=/", cookie(&version)));
    assert!(eval::<bool>(&page, &js).await);
    goto(&page, &url).await;
    must(&page, "typeof Crumb === 'object' && !!document.querySelector('#crumb')").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    std::mem::forget(host);
    (s, page, backend)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

const PLANTED_ID: &str = "0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn material_change_asks_again_minor_does_not() {
    let (s, host, mut b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Accept all").await;
    let id = consent_id(&page).await;
    // a minor change (contact address): the server keeps the old version covered
    b.restart(&leadsgen_toml(&[("contact = \"privacy@leadsgen.app\"", "contact = \"dpo@leadsgen.app\"")]));
    host.page("/", standard_page(&b.banner_src("leadsgen"), None), None);
    goto(&page, &url).await;
    must(&page, "typeof Crumb === 'object' && (window.__ran||[]).length === 5").await;
    assert!(!eval::<bool>(&page, BAR_VISIBLE).await, "minor change: not asked again");
    assert_eq!(eval::<String>(&page, "Crumb.get().consent_id").await, id);
    // a material change (a new marketing cookie): asked again, nothing runs
    let mut material = leadsgen_toml(&[]);
    material.push_str("\n[[cookies]]\nname = \"_ttp\"\ncategory = \"marketing\"\npurpose = \"TikTok Pixel\"\nduration = \"13 months\"\n");
    b.restart(&material);
    host.page("/", standard_page(&b.banner_src("leadsgen"), None), None);
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
    assert!(!eval::<bool>(&page, "Crumb.get().decided").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_asks_again() {
    let now = unix_now();
    let (_s, page, _b) = with_cookie(|v| format!("1.{PLANTED_ID}.{v}.analytics.{}", now - 366 * 86_400)).await;
    assert!(eval::<bool>(&page, BAR_VISIBLE).await, "a year-old decision (lifetime 1 year) is asked again");
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
    let (_s2, page2, _b2) = with_cookie(|v| format!("1.{PLANTED_ID}.{v}.analytics.{}", now - 86_400)).await;
    assert!(!eval::<bool>(&page2, BAR_VISIBLE).await);
    assert_eq!(eval::<String>(&page2, "Crumb.get().consent_id").await, PLANTED_ID);
    assert_eq!(eval::<Vec<String>>(&page2, "__ran").await, ["a1", "_vercel_analytics", "a3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn essential_only_site_shows_nothing() {
    let backend = Backend::start(
        r#"
[site]
id = "plain"
name = "Plain"
origins = ["localhost"]
controller = "Plain Ltd"
contact = "privacy@plain.example"
effective_date = "2026-01-01"

[[categories]]
id = "necessary"
title = "Necessary"
description = "Needed to run the site."
required = true

[[cookies]]
name = "sid"
category = "necessary"
purpose = "Session"
duration = "session"
"#,
    );
    let host = Host::start();
    let html = format!(
        "<!doctype html><title>p</title><script async src=\"{}\"></script><script type=\"text/plain\" data-crumb-category=\"necessary\">window.__ran=['n1']</script><a href=\"#\" data-crumb-open>x</a>",
        backend.banner_src("plain")
    );
    let url = host.page("/", html, None);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, "typeof Crumb === 'object' && (window.__ran||[]).length === 1").await;
    eval::<bool>(&page, "(document.querySelector('[data-crumb-open]').click(), true)").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        eval::<bool>(&page, "!document.querySelector('#crumb') && !document.querySelector('style')").await,
        "no banner, no styles"
    );
    // nothing was recorded: the ledger has no decision for this site (no POST was made)
    let (status, _) = http_get(&backend.base, "/s/plain/banner.js");
    assert_eq!(status, 200);
}

/// Tab until `pred` holds for document.activeElement (at most 30 presses).
async fn tab_to(page: &chromiumoxide::Page, pred: &str) {
    for _ in 0..30 {
        if eval::<bool>(page, &format!("(a => !!a && ({pred}))(document.activeElement)")).await {
            return;
        }
        tab(page).await;
    }
    panic!("keyboard focus never reached {pred}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_journey() {
    let (s, _host, b, url) = setup(&[]).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    tab_to(&page, "a.textContent === 'Preferences'").await;
    enter(&page).await;
    must(&page, "document.activeElement.classList.contains('cb-box')").await;
    assert_eq!(eval::<String>(&page, "document.activeElement.getAttribute('aria-modal')").await, "true");
    // focus is trapped: 40 tabs never leave the dialog
    for _ in 0..40 {
        tab(&page).await;
        assert!(eval::<bool>(&page, "!!document.activeElement.closest('.cb-box')").await, "focus left the dialog");
    }
    // every switch has an accessible name
    assert!(eval::<bool>(&page, "[...document.querySelectorAll('#crumb [role=switch]')].every(i => i.labels[0].textContent.trim().length > 0)").await);
    escape(&page).await;
    must(&page, "!document.querySelector('#crumb .cb-dlg') && document.activeElement.classList.contains('cb-bar')")
        .await;
    tab_to(&page, "a.textContent === 'Preferences'").await;
    enter(&page).await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg')").await;
    tab_to(&page, "a.value === 'marketing'").await;
    space(&page).await;
    assert!(eval::<bool>(&page, "document.activeElement.checked").await);
    tab_to(&page, "a.textContent === 'Save choices'").await;
    enter(&page).await;
    must(&page, "(window.__ran||[]).join() === 'm1'").await;
    must(&page, "!!document.querySelector('#crumb .cb-fab') && document.activeElement.classList.contains('cb-fab')")
        .await;
    let id = consent_id(&page).await;
    let h = b.history(&id);
    assert_eq!(h["records"][0]["choices"]["marketing"], true);
    assert_eq!(h["records"][0]["choices"]["analytics"], false);
    // reopen from the floating button by keyboard
    enter(&page).await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg')").await;
    assert!(eval::<bool>(&page, "document.querySelector('#crumb [role=switch][value=marketing]').checked").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_csp_page_with_nonce_works() {
    let backend = Backend::start(&leadsgen_toml(&[]));
    let host = Host::start();
    let nonce = "r4nd0mN0nce";
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'nonce-{nonce}'; connect-src {}; frame-src 'self'; base-uri 'none'",
        backend.base
    );
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), Some(nonce)), Some(csp));
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert_eq!(
        eval::<String>(&page, "getComputedStyle(document.querySelector('#crumb .cb-bar')).position").await,
        "fixed",
        "styles applied"
    );
    click(&page, "Preferences").await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg') && getComputedStyle(document.querySelector('#crumb .cb-dlg')).position === 'fixed'").await;
    click(&page, "Accept all").await;
    must(&page, "(window.__ran||[]).length === 5").await;
    must(&page, "Crumb.get().consent_id !== null").await;
    assert_eq!(eval::<Vec<String>>(&page, "__csp").await, Vec::<String>::new(), "no CSP violation");
    assert_eq!(eval::<Vec<String>>(&page, "__errors").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_from_navigator_and_rtl() {
    let backend = Backend::start(&leadsgen_toml(&[("languages = [\"en\"]", "languages = [\"en\", \"fr\", \"ar\"]")]));
    let host = Host::start();
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), None), None);
    let s = Session::start().await;
    let page =
        s.page(None, "Object.defineProperty(Navigator.prototype,'languages',{get:()=>['de-DE','fr-CA','en']});").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert!(eval::<bool>(&page, "document.querySelector('#crumb').textContent.includes('Tout accepter')").await);
    assert_eq!(eval::<String>(&page, "document.querySelector('#crumb').lang").await, "fr");
    let page2 = s.page(None, "Object.defineProperty(Navigator.prototype,'languages',{get:()=>['ar-EG']});").await;
    goto(&page2, &url).await;
    must(&page2, BAR_VISIBLE).await;
    assert_eq!(eval::<String>(&page2, "document.querySelector('#crumb').dir").await, "rtl");
    assert_eq!(
        eval::<String>(&page2, "getComputedStyle(document.querySelector('#crumb .cb-row')).direction").await,
        "rtl"
    );
}

/// Light, dark, 320 px mobile and preferences screenshots. They go to `$CRUMB_SCREENSHOTS`
/// when set (docs/screenshots is refreshed that way), else to a temporary directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_and_small_screens() {
    let (s, _host, _b, url) = setup(&[]).await;
    let tmp = tempfile_dir();
    let dir = std::env::var_os("CRUMB_SCREENSHOTS").map(std::path::PathBuf::from).unwrap_or(tmp.clone());
    let page = s.page(None, "").await;
    viewport(&page, 1024, 700, false).await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    screenshot(&page, &dir.join("banner-light.png")).await;
    let light: f64 = eval(&page, CONTRAST).await;
    eprintln!("lowest contrast, light: {light:.2}");
    assert!(light >= 4.5, "lowest text contrast in light mode {light:.2} < 4.5");
    color_scheme(&page, "dark").await;
    let dark: f64 = eval(&page, CONTRAST).await;
    eprintln!("lowest contrast, dark: {dark:.2}");
    assert!(dark >= 4.5, "lowest text contrast in dark mode {dark:.2} < 4.5");
    assert_eq!(
        eval::<String>(&page, "getComputedStyle(document.querySelector('#crumb .cb-bar')).backgroundColor").await,
        "rgb(30, 30, 30)"
    );
    screenshot(&page, &dir.join("banner-dark.png")).await;
    color_scheme(&page, "light").await;
    click(&page, "Preferences").await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg')").await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    screenshot(&page, &dir.join("preferences.png")).await;
    viewport(&page, 320, 640, true).await;
    escape(&page).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let fits: bool = eval(&page, "(() => { const r = document.querySelector('#crumb .cb-bar').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth && document.documentElement.scrollWidth <= innerWidth + 1 })()").await;
    assert!(fits, "banner fits a 320 px screen");
    screenshot(&page, &dir.join("banner-mobile.png")).await;
    // 400% zoom of a 1280x800 window: 320x200 CSS pixels; the banner stays inside and scrolls
    viewport(&page, 320, 200, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let zoomed: bool = eval(
        &page,
        "(() => { const b = document.querySelector('#crumb .cb-bar'), r = b.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && b.scrollHeight > b.clientHeight && getComputedStyle(b).overflowY === 'auto' })()",
    )
    .await;
    assert!(zoomed, "at 400% zoom the banner fits the viewport and scrolls");
    page.execute(
        chromiumoxide::cdp::browser_protocol::emulation::SetEmulatedMediaParams::builder()
            .features(vec![chromiumoxide::cdp::browser_protocol::emulation::MediaFeature::new(
                "prefers-reduced-motion",
                "reduce",
            )])
            .build(),
    )
    .await
    .expect("emulate reduced motion");
    assert_eq!(
        eval::<String>(&page, "getComputedStyle(document.querySelector('#crumb .cb-bar')).animationName").await,
        "none"
    );
    for f in ["banner-light.png", "banner-dark.png", "preferences.png", "banner-mobile.png"] {
        let b = std::fs::read(dir.join(f)).expect("screenshot written");
        assert!(b.len() > 1000 && b.starts_with(b"\x89PNG"), "{f}");
    }
    let _ = std::fs::remove_dir_all(tmp);
}

/// The lowest WCAG contrast ratio between the text and the background of every text-bearing
/// element of the banner and the placeholders.
const CONTRAST: &str = r#"(() => {
  const rgb = s => s.match(/[\d.]+/g).map(Number);
  const lum = c => { const [r,g,b] = c.slice(0,3).map(v => { v /= 255; return v <= 0.03928 ? v/12.92 : ((v+0.055)/1.055) ** 2.4 }); return 0.2126*r + 0.7152*g + 0.0722*b };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c } return [255,255,255] };
  let min = 99;
  document.querySelectorAll('#crumb *, .crumb-ph *').forEach(el => {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) return;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    min = Math.min(min, (Math.max(a,b)+0.05)/(Math.min(a,b)+0.05));
  });
  return min;
})()"#;

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("crumb-shots-{}-{}", std::process::id(), unix_now()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A raw GET with extra request headers: (status, lower-cased response head, body bytes).
fn http_raw(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n").expect("request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, out[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_banner_headers_and_pinned_snippet() {
    let backend = Backend::start(&leadsgen_toml(&[]));
    let data = backend.data.path();
    // the snippet, computed offline from the same inventory and data directory
    let out = Command::new(env!("CARGO_BIN_EXE_crumb"))
        .args(["banner", "snippet", "--site", "leadsgen", "--url", &backend.base, "--config"])
        .arg(data.join("crumb.toml"))
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run crumb banner snippet");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tag = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
    let integrity = tag.split("integrity=\"").nth(1).and_then(|r| r.split('"').next()).expect("integrity").to_string();
    let src = tag.split("src=\"").nth(1).and_then(|r| r.split('"').next()).expect("src").to_string();
    let path = src.trim_start_matches(&backend.base).to_string();

    // identity body hashes to the snippet's integrity
    let (status, head, body) = http_raw(&backend.base, &path, &[]);
    assert_eq!(status, 200);
    assert_eq!(crumb_banner::Asset::new(String::from_utf8(body).expect("js")).expect("asset").integrity, integrity);
    assert_eq!(header(&head, "cache-control"), Some("public, max-age=31536000, immutable"), "pinned URL");
    assert_eq!(header(&head, "access-control-allow-origin"), Some("*"));
    // precompressed brotli and gzip, a strong ETag per representation, 304 on a match
    let (_, head, br) = http_raw(&backend.base, "/s/leadsgen/banner.js", &[("accept-encoding", "gzip, br")]);
    assert_eq!(header(&head, "content-encoding"), Some("br"));
    assert_eq!(header(&head, "cache-control"), Some("public, max-age=300, stale-while-revalidate=60"));
    assert_eq!(header(&head, "vary"), Some("accept-encoding"));
    let etag = header(&head, "etag").expect("etag").to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("w/"), "strong ETag: {etag}");
    assert!(br.len() < 5120, "brotli body {} bytes", br.len());
    let (_, head, _) = http_raw(&backend.base, "/s/leadsgen/banner.js", &[("accept-encoding", "gzip")]);
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    let (status, _, body) =
        http_raw(&backend.base, "/s/leadsgen/banner.js", &[("accept-encoding", "br"), ("if-none-match", &etag)]);
    assert_eq!((status, body.len()), (304, 0));
    let (status, head, body) = http_raw(&backend.base, "/s/nope/banner.js", &[]);
    assert_eq!(status, 404);
    assert!(header(&head, "content-type").is_some_and(|c| c.starts_with("application/json")));
    assert!(String::from_utf8_lossy(&body).contains("\"unknown_site\""));

    // the pinned tag passes SRI in the browser
    let host = Host::start();
    let html = format!("<!doctype html><title>p</title>{tag}<p>pinned</p>");
    let url = host.page("/", html, None);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Preferences").await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg')").await;
    assert_eq!(eval::<Vec<String>>(&page, "__errors").await, Vec::<String>::new());
}

/// Issue 14 item 2: a tag-manager-style loader inserts a script, a pixel, an iframe, a preload
/// and another script from a second site (`localhost:T`, declared as a marketing host) at run
/// time, calls fetch, sendBeacon and XHR, and the HTML has a parser-inserted script from it.
/// Before any choice and after Reject all, the second site's server sees no request (the
/// parser-inserted script may be fetched by the preload scanner but never runs); after Accept
/// all, everything loads in the order it was held back, and the guard's neutralised markup
/// (CONTRACT14: data-crumb-src/-href/-poster, data-crumb-type) is restored; "undeclared" never
/// runs. Declared cookies in every domain/path variant, storage keys (exact and prefix) and
/// IndexedDB databases go on reject and on withdrawal. UET, Meta Pixel and Clarity are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_resources_wait_for_consent_and_refusal_deletes_everything() {
    let tracker = Server::start(|req| {
        let path = req.path.split('?').next().unwrap_or_default();
        let ran = |name: &str| format!("window.__ran=(window.__ran||[]).concat('{name}')");
        let r = match path {
            "/s.js" => Response::new(200, "text/javascript", ran(req.path.rsplit('=').next().unwrap_or_default())),
            "/parser.js" => Response::new(200, "text/javascript", ran("parser")),
            "/l.js" => Response::new(200, "text/javascript", "1"),
            "/p.gif" => Response::new(200, "image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
            "/f.html" => Response::new(200, "text/html", "<p>sync</p>"),
            _ => Response::new(200, "text/plain", "ok"),
        };
        r.header("access-control-allow-origin", "*")
    });
    let t = format!("http://localhost:{}", tracker.port);
    let extra = "\n[[services]]\nid = \"trk\"\nname = \"Tracker\"\nprovider = \"Tracker Inc.\"\ncategory = \"marketing\"\npurpose = \"Cross-site tracking\"\nhosts = [\"localhost\"]\n\
[[cookies]]\nname = \"_trk\"\ncategory = \"marketing\"\npurpose = \"Tracking\"\nduration = \"1 year\"\n\
[[cookies]]\nname = \"_trkx_*\"\ncategory = \"marketing\"\npurpose = \"Tracking\"\nduration = \"1 year\"\n\
[[storage]]\nname = \"trk_*\"\nkind = \"local_storage\"\ncategory = \"marketing\"\npurpose = \"Queue\"\nduration = \"persistent\"\n\
[[storage]]\nname = \"trk_s\"\nkind = \"session_storage\"\ncategory = \"marketing\"\npurpose = \"Session\"\nduration = \"persistent\"\n\
[[storage]]\nname = \"trk-db\"\nkind = \"indexed_db\"\ncategory = \"marketing\"\npurpose = \"Events\"\nduration = \"persistent\"\n";
    let toml = leadsgen_toml(&[(
        "origins = [\"leadsgen.app\", \"*.leadsgen.app\"]",
        "origins = [\"leadsgen.app\", \"*.leadsgen.app\", \"http://*.shop.localhost\"]",
    )]) + extra;
    let backend = Backend::start(&toml);
    let host = Host::start();
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{banner}"></script>
<script>
window.__plant = () => {{
  for (const c of ['_trk=1;path=/', '_trk=2;path=/a', '_trk=3;path=/a/b', '_trk=4;path=/;domain=shop.localhost', '_trk=5;path=/a;domain=www.shop.localhost', '_trkx_1=1;path=/', 'mine=1;path=/'])
    document.cookie = c;
  localStorage.setItem('trk_a', '1'); localStorage.setItem('keep', '1'); sessionStorage.setItem('trk_s', '1');
  return new Promise(ok => {{ indexedDB.open('trk-db').onsuccess = e => {{ e.target.result.close(); ok(true) }} }});
}};
document.addEventListener('crumb:purged', () => window.__purged = (window.__purged || 0) + 1);
</script>
<script>
// Meta Pixel and Microsoft Clarity snippets (their queue stubs; the vendor scripts are not loaded)
!function (f) {{ if (f.fbq) return; const n = f.fbq = function () {{ n.callMethod ? n.callMethod.apply(n, arguments) : n.queue.push(arguments) }}; n.queue = [] }}(window);
fbq('init', '1'); fbq('track', 'PageView');
window.clarity = window.clarity || function () {{ (clarity.q = clarity.q || []).push(arguments) }};
</script></head><body><h1>Shop</h1>
<script src="{t}/parser.js"></script>
<img data-crumb-src="{t}/g.gif" data-crumb-category="marketing" data-crumb-service="trk" alt="">
<link rel="preconnect" data-crumb-href="{t}/" data-crumb-category="marketing">
<video data-crumb-poster="{t}/poster.gif" data-crumb-category="marketing"></video>
<script type="text/plain" data-crumb-type="module" data-crumb-category="marketing" src="{t}/s.js?n=m"></script>
<script type="text/plain" data-crumb-category="undeclared" src="{t}/s.js?n=u"></script>
<script>
window.__r = {{}};
const T = '{t}';
// records the order in which the banner hands src/href back (after the test sets __log)
const SA0 = Element.prototype.setAttribute;
Element.prototype.setAttribute = function (a, v) {{ if (window.__log && /^(src|href)$/.test(a)) __log.push(String(v).slice(T.length)); return SA0.apply(this, arguments) }};
const s1 = document.createElement('script'); s1.src = T + '/s.js?n=s1'; s1.onload = () => __r.s1 = 'loaded'; document.head.appendChild(s1);
const img = new Image(); img.src = T + '/p.gif';
const f = document.createElement('iframe'); f.src = T + '/f.html'; f.width = 1; f.height = 1; document.body.appendChild(f);
const l = document.createElement('link'); l.rel = 'preload'; l.as = 'script'; l.setAttribute('href', T + '/l.js'); document.head.appendChild(l);
const s2 = document.createElement('script'); s2.setAttribute('src', T + '/s.js?n=s2'); document.body.appendChild(s2);
fetch(T + '/fetch').then(() => __r.fetch = 'sent', () => __r.fetch = 'refused');
__r.beacon = navigator.sendBeacon(T + '/beacon', 'x');
const x = new XMLHttpRequest(); x.open('GET', T + '/xhr'); x.onload = () => __r.xhr = 'sent'; x.onerror = () => __r.xhr = 'refused'; x.send();
</script></body></html>"#,
        banner = backend.banner_src("leadsgen"),
    );
    host.page("/a/b/page", html, None);
    let url = format!("http://www.shop.localhost:{}/a/b/page", host.server.port);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert!(eval::<bool>(&page, "__plant()").await);
    must(&page, "__r.fetch === 'refused' && __r.xhr === 'refused' && __r.beacon === false").await;
    // vendor consent APIs: UET default denied; Meta revoked ahead of its queued init
    let uet = "JSON.stringify(uetq.slice(-3))";
    assert_eq!(
        eval::<String>(&page, "JSON.stringify(uetq.slice(0, 3))").await,
        r#"["consent","default",{"ad_storage":"denied"}]"#
    );
    let meta = "[...fbq.queue].map(a => a[0] + ':' + a[1]).join(' ')";
    assert_eq!(eval::<String>(&page, meta).await, "consent:revoke init:1 track:PageView");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let seen = |srv: &Server| -> Vec<String> {
        srv.requests().into_iter().map(|r| r.path).filter(|p| p != "/parser.js").collect()
    };
    assert_eq!(seen(&tracker), Vec::<String>::new(), "requests to the second site before any choice");
    assert!(eval::<bool>(&page, "window.__ran === undefined").await, "nothing of the second site ran");
    let held: Vec<String> =
        eval(&page, "[...document.querySelectorAll('[data-crumb-category=marketing]')].map(e => e.tagName)").await;
    assert!(held.len() >= 5, "held elements are marked: {held:?}");

    // Reject all: still nothing, and the leftovers are gone in every variant
    click(&page, "Reject all").await;
    must(&page, "window.__purged >= 1").await;
    assert_eq!(eval::<String>(&page, uet).await, r#"["consent","update",{"ad_storage":"denied"}]"#);
    let clarity = "JSON.stringify([...clarity.q.at(-1)])";
    assert_eq!(
        eval::<String>(&page, clarity).await,
        r#"["consentv2",{"ad_Storage":"denied","analytics_Storage":"denied"}]"#
    );
    let names = cookie_names(&page).await;
    assert!(names.iter().all(|n| !n.starts_with("_trk")), "declared cookies left after Reject all: {names:?}");
    assert!(names.contains(&"mine".to_string()), "undeclared cookie kept: {names:?}");
    must(
        &page,
        "!localStorage.getItem('trk_a') && localStorage.getItem('keep') === '1' && !sessionStorage.getItem('trk_s')",
    )
    .await;
    must(&page, "(async () => !(await indexedDB.databases()).some(d => d.name === 'trk-db'))()").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(seen(&tracker), Vec::<String>::new(), "requests to the second site after Reject all");

    // Accept all: everything held loads, in the order it was held back
    click(&page, "Privacy choices").await;
    must(&page, "!!document.querySelector('#crumb .cb-box')").await;
    assert!(eval::<bool>(&page, "window.__log = [], true").await);
    click(&page, "Accept all").await;
    // Vendor consent calls run in the task after the frame that hides the banner.
    must(&page, &format!("{meta} === 'consent:grant init:1 track:PageView'")).await;
    assert_eq!(eval::<String>(&page, meta).await, "consent:grant init:1 track:PageView");
    assert_eq!(eval::<String>(&page, uet).await, r#"["consent","update",{"ad_storage":"granted"}]"#);
    assert_eq!(
        eval::<String>(&page, clarity).await,
        r#"["consentv2",{"ad_Storage":"granted","analytics_Storage":"granted"}]"#
    );
    must(&page, "['s1', 's2', 'parser', 'm'].every(n => (window.__ran || []).includes(n)) && __r.s1 === 'loaded'")
        .await;
    assert!(eval::<bool>(&page, "document.querySelector('script[src$=\"n=m\"]').type === 'module' && document.querySelector('video').getAttribute('poster').endsWith('/poster.gif')").await);
    let order: Vec<String> = eval(&page, "__log").await;
    assert_eq!(
        order,
        ["/parser.js", "/s.js?n=s1", "/p.gif", "/f.html", "/l.js", "/s.js?n=s2", "/g.gif", "/"],
        "held resources are released in the order they were held"
    );
    assert!(eval::<bool>(&page, &format!("fetch('{t}/fetch2').then(r => r.ok)")).await, "fetch allowed after consent");
    assert!(eval::<bool>(&page, &format!("navigator.sendBeacon('{t}/beacon2', 'x')")).await);
    let paths = seen(&tracker);
    must(
        &page,
        "['/p.gif', '/g.gif'].every(p => performance.getEntriesByType('resource').some(e => e.name.endsWith(p)))",
    )
    .await;
    assert!(!eval::<bool>(&page, "__ran.includes('u')").await, "undeclared is never activated");
    for p in ["/s.js?n=s1", "/p.gif", "/f.html", "/l.js", "/s.js?n=s2", "/s.js?n=m", "/g.gif", "/fetch2"] {
        assert!(paths.iter().any(|x| x == p), "{p} requested after Accept all: {paths:?}");
    }
    assert!(!paths.iter().any(|x| x == "/s.js?n=u"), "undeclared never requested: {paths:?}");

    // withdrawal deletes it all again
    assert!(eval::<bool>(&page, "__plant()").await);
    assert!(eval::<bool>(&page, "Crumb.set({marketing: false}), true").await);
    must(&page, "window.__purged >= 2").await;
    let names = cookie_names(&page).await;
    assert!(names.iter().all(|n| !n.starts_with("_trk")), "declared cookies left after withdrawal: {names:?}");
    must(&page, "!localStorage.getItem('trk_a') && !sessionStorage.getItem('trk_s')").await;
    must(&page, "(async () => !(await indexedDB.databases()).some(d => d.name === 'trk-db'))()").await;
    let before = seen(&tracker).len();
    assert!(
        eval::<bool>(&page, &format!("fetch('{t}/fetch3').then(() => false, () => true)")).await,
        "fetch refused again"
    );
    assert_eq!(seen(&tracker).len(), before, "no request after withdrawal");
}

/// A declared IndexedDB database that a running script keeps open cannot be deleted while it is
/// open (the deletion waits, "blocked"); it is gone by the next page, when the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexeddb_kept_open_is_gone_by_the_next_page() {
    let extra = "\n[[storage]]\nname = \"trk-db\"\nkind = \"indexed_db\"\ncategory = \"marketing\"\npurpose = \"Events\"\nduration = \"persistent\"\n";
    let backend = Backend::start(&(leadsgen_toml(&[]) + extra));
    let host = Host::start();
    let html = format!(
        r#"<!doctype html><html><head><script src="{}"></script><script>
document.addEventListener('crumb:purged', () => window.__purged = 1);
window.__open = () => new Promise(ok => {{ const r = indexedDB.open('trk-db'); r.onupgradeneeded = () => r.result.createObjectStore('x'); r.onsuccess = () => {{ window.__db = r.result; ok(true) }} }});
</script></head><body>x</body></html>"#,
        backend.banner_src("leadsgen")
    );
    let url = host.page("/", html, None);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert!(eval::<bool>(&page, "__open()").await);
    click(&page, "Reject all").await;
    must(&page, "window.__purged === 1").await;
    goto(&page, &url).await;
    must(&page, "(async () => !(await indexedDB.databases()).some(d => d.name === 'trk-db'))()").await;
}

/// Issue 14 item 4: the first layer the guard puts in the HTML (`first_layer_html`) is on screen
/// before the script runs, and the script attaches to it instead of rendering a second one; its
/// buttons record decisions. A first layer in another language is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_first_layer_is_attached_not_duplicated() {
    let toml = leadsgen_toml(&[]);
    let backend = Backend::start(&toml);
    let inv: crumb_core::inventory::Inventory = toml::from_str(&toml).expect("inventory");
    let ctx = crumb_banner::ClientContext {
        base_url: backend.base.clone(),
        version: crumb_core::version::policy_version(&inv),
        valid_versions: Vec::new(),
        mode: crumb_core::inventory::RegionalMode::OptIn,
        region: None,
    };
    let cfg = crumb_banner::client_config(&inv, &ctx);
    let layer = crumb_banner::first_layer_html(&cfg, Some("en-US,en;q=0.9"), None);
    let host = Host::start();
    let page_html = |layer: &str| {
        format!(
            "<!doctype html><html lang=\"en\"><head><title>p</title><script src=\"{}\"></script></head><body>{layer}<h1>Shop</h1></body></html>",
            backend.banner_src("leadsgen")
        )
    };
    let url = host.page("/", page_html(&layer), None);
    let s = Session::start().await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    assert_eq!(
        eval::<usize>(&page, "document.querySelectorAll('#crumb, .cb-bar').length").await,
        2,
        "one root, one bar"
    );
    assert!(
        eval::<bool>(&page, "document.querySelector('#crumb').nextElementSibling.tagName === 'H1'").await,
        "the server's first layer, not a second one appended to <body>"
    );
    assert!(eval::<bool>(&page, "document.querySelector('#crumb a').href.endsWith('/s/leadsgen/cookie-policy')").await);
    click(&page, "Reject all").await;
    let id = consent_id(&page).await;
    assert_eq!(backend.actions(&id), ["reject_all"]);
    assert!(!eval::<bool>(&page, BAR_VISIBLE).await, "hidden after the decision");

    // rendered for a language the browser does not get: replaced by the script's own
    let de = layer.replace("lang=\"en\"", "lang=\"de\"");
    host.page("/de", page_html(&de), None);
    let page = s.page(None, "").await;
    // another host, so no consent cookie yet
    goto(&page, &format!("http://127.0.0.1:{}/de", host.server.port)).await;
    must(&page, "document.querySelectorAll('#crumb').length === 1 && document.querySelector('#crumb').lang === 'en'")
        .await;
    must(&page, BAR_VISIBLE).await;
}

/// Issue 17 item 3: the banner keeps the last receipt, the preferences offer it as a JSON file
/// (a Blob, no request), and `crumb ledger verify-receipt` accepts the downloaded file offline
/// with the server's public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_download_verifies_offline() {
    use chromiumoxide::cdp::browser_protocol::browser::{SetDownloadBehaviorBehavior, SetDownloadBehaviorParams};
    let (s, host, b, url) = setup(&[]).await;
    let downloads = tempfile::tempdir().expect("download dir");
    let allow = SetDownloadBehaviorParams::builder()
        .behavior(SetDownloadBehaviorBehavior::Allow)
        .download_path(downloads.path().to_str().expect("utf-8"))
        .build()
        .expect("download behaviour");
    s.browser.execute(allow).await.expect("allow downloads");
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Reject all").await;
    let id = consent_id(&page).await;
    // kept across pages: the next page's preferences offer it
    goto(&page, &url).await;
    must(&page, "!!window.Crumb").await;
    eval::<bool>(&page, "(Crumb.show(), true)").await;
    must(&page, "!!document.querySelector('#crumb .cb-dlg [role=switch]')").await;
    let before = host.server.requests().len();
    click(&page, "Download receipt of my choice").await;
    let file = downloads.path().join("consent-receipt-leadsgen.json");
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(t) = std::fs::read_to_string(&file)
            && serde_json::from_str::<serde_json::Value>(&t).is_ok()
        {
            text = t;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let receipt: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("no receipt file: {e}"));
    assert_eq!(receipt["consent_id"], id.as_str());
    assert!(receipt["inclusion_proof"].is_array() && receipt["batch"]["signature"].is_string(), "{receipt}");
    assert_eq!(host.server.requests().len(), before, "the download made no request to the host");
    // the operator's key as the server publishes it (not the receipt's own claim)
    let (status, head) = http_get(&b.base, "/api/v1/ledger/tree-head");
    assert_eq!(status, 200, "{head}");
    let head: serde_json::Value = serde_json::from_str(&head).expect("tree head");
    let key = head["public_key"].as_str().expect("public key");
    let verify = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_crumb"))
            .args(["ledger", "verify-receipt"])
            .arg(file)
            .args(["--key", key])
            .output()
            .expect("crumb runs")
    };
    let out = verify(&file);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("valid: record "), "{said}");
    // and the check can fail: the same receipt with another record hash does not verify
    let mut forged = receipt.clone();
    forged["hash"] = serde_json::Value::String("0".repeat(64));
    let forged_file = downloads.path().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).expect("write");
    let out = verify(&forged_file);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("INVALID"));
}
