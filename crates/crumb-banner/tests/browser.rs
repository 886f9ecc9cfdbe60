//! The banner in real headless Chromium, host page on `localhost`, banner from `127.0.0.1`.

mod support;

use std::sync::{Arc, Mutex};

use crumb_banner::{SiteBanner, declaration};
use crumb_core::client::{ClientContext, client_config};
use crumb_core::inventory::{Inventory, RegionalMode};
use support::*;

/// leadsgen, made servable on loopback (no parent cookie domain), plus a declared
/// localStorage key for the analytics category.
fn leadsgen() -> Inventory {
    let src = format!(
        "{}\n[[storage]]\nname = \"_vercel_analytics\"\nkind = \"local_storage\"\ncategory = \"analytics\"\npurpose = \"Queued web vitals\"\nduration = \"persistent\"\n",
        crumb_core::testdata::LEADSGEN
    );
    let src = src
        .replace("cookie_domain = \"leadsgen.app\"", "")
        .replace("origins = [\"leadsgen.app\", \"*.leadsgen.app\"]", "origins = [\"leadsgen.app\", \"localhost\"]");
    toml::from_str(&src).expect("inventory parses")
}

/// A consent server serving one site's banner: the same assets `crumb serve` serves.
struct Backend {
    server: Server,
    base: String,
}

impl Backend {
    fn start(inv: &Inventory, mode: RegionalMode, valid_versions: Vec<String>) -> Backend {
        let listener_port = Arc::new(Mutex::new(0u16));
        let inv = inv.clone();
        let port = listener_port.clone();
        let built: Arc<Mutex<Option<(SiteBanner, String)>>> = Arc::default();
        let b2 = built.clone();
        let seq = Arc::new(Mutex::new(0u32));
        let server = Server::start(move |req| {
            let path = req.path.split('?').next().unwrap_or_default().to_string();
            let cors = |r: Response| r.header("access-control-allow-origin", "*");
            if req.method == "OPTIONS" {
                return cors(Response::new(204, "text/plain", ""))
                    .header("access-control-allow-methods", "POST")
                    .header("access-control-allow-headers", "content-type");
            }
            let mut guard = b2.lock().expect("built");
            if guard.is_none() {
                let base = format!("http://127.0.0.1:{}", port.lock().expect("port"));
                let ctx = ClientContext { base_url: base, valid_versions: valid_versions.clone(), mode, region: None };
                let cfg = client_config(&inv, &ctx);
                let decl = serde_json::to_string(&declaration(&inv)).expect("declaration json");
                *guard = Some((SiteBanner::build(&cfg).expect("banner builds"), decl));
            }
            let (banner, decl) = guard.as_ref().expect("built");
            let site = &inv.site.id;
            if path == format!("/s/{site}/banner.js") {
                cors(Response::new(200, "text/javascript; charset=utf-8", banner.banner.js.to_vec()))
            } else if path == format!("/s/{site}/banner-more.js") {
                cors(Response::new(200, "text/javascript; charset=utf-8", banner.more.js.to_vec()))
            } else if path == format!("/s/{site}/declaration.json") {
                cors(Response::new(200, "application/json", decl.clone()))
            } else if path == "/api/v1/consents" && req.method == "POST" {
                let mut n = seq.lock().expect("seq");
                *n += 1;
                cors(Response::new(201, "application/json", format!("{{\"consent_id\":\"c-{n}\",\"seq\":{n}}}")))
            } else {
                Response::new(404, "application/json", "{}")
            }
        });
        *listener_port.lock().expect("port") = server.port;
        let base = format!("http://127.0.0.1:{}", server.port);
        Backend { server, base }
    }

    fn banner_src(&self, site: &str) -> String {
        format!("{}/s/{site}/banner.js", self.base)
    }

    fn posts(&self) -> Vec<serde_json::Value> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .map(|r| serde_json::from_str(&r.body).expect("posted JSON"))
            .collect()
    }
}

async fn setup(mode: RegionalMode) -> (Session, Host, Backend, String) {
    let backend = Backend::start(&leadsgen(), mode, vec![]);
    let host = Host::start();
    let url = host.page("/", standard_page(&backend.banner_src("leadsgen"), None), None);
    (Session::start().await, host, backend, url)
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
    let (s, _host, _b, url) = setup(RegionalMode::OptIn).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(eval::<bool>(&page, "window.__ran === undefined").await, true, "no gated script ran");
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
    let (s, _host, b, url) = setup(RegionalMode::OptIn).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Accept all").await;
    must(&page, "(window.__ran||[]).length === 5").await;
    assert_eq!(eval::<Vec<String>>(&page, "__ran").await, ["a1", "_vercel_analytics", "a3", "m1", "f1"]);
    must(&page, "document.querySelector('iframe').src.endsWith('/frame') && !document.querySelector('.crumb-ph')")
        .await;
    // calling the API again does not rerun anything
    eval::<bool>(&page, "(Crumb.set({analytics: true}), true)").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(eval::<usize>(&page, "__ran.length").await, 5);
    must(&page, "Crumb.get().consent_id === 'c-1'").await;
    let posts = b.posts();
    assert_eq!(posts[0]["action"], "accept_all");
    assert_eq!(
        posts[0]["choices"],
        serde_json::json!({"necessary": true, "functional": true, "analytics": true, "marketing": true})
    );
    assert!(posts[0].get("consent_id").is_none(), "first decision carries no id");
    assert_eq!(posts[1]["consent_id"], "c-1");
    let cookie: String = eval(&page, "document.cookie.split('; ').find(c=>c.startsWith('cookie-consent='))").await;
    let value = cookie.trim_start_matches("cookie-consent=");
    let parsed = crumb_core::consent::ConsentCookie::decode(value).expect("core reads the banner's cookie");
    assert_eq!(parsed.consent_id.as_deref(), Some("c-1"));
    assert_eq!(parsed.granted.len(), 3);
    assert_eq!(eval::<Vec<String>>(&page, "__errors").await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_all_runs_nothing_and_records() {
    let (s, _host, b, url) = setup(RegionalMode::OptIn).await;
    let page = s.page(None, "").await;
    goto(&page, &url).await;
    must(&page, BAR_VISIBLE).await;
    click(&page, "Reject all").await;
    must(&page, "Crumb.get().consent_id !== null").await;
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
    assert_eq!(b.posts()[0]["action"], "reject_all");
    assert_eq!(b.posts()[0]["choices"]["analytics"], false);
    // the decision holds on the next page: no banner, floating button instead
    goto(&page, &url).await;
    must(&page, "!!document.querySelector('#crumb .cb-fab')").await;
    assert!(!eval::<bool>(&page, BAR_VISIBLE).await);
    assert!(eval::<bool>(&page, "window.__ran === undefined").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_grant_only_what_was_chosen_and_withdrawal_deletes() {
    let (s, _host, b, url) = setup(RegionalMode::OptIn).await;
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
    assert_eq!(b.posts()[0]["action"], "save");
    let names = cookie_names(&page).await;
    assert!(names.contains(&"_plausible".to_string()) && names.contains(&"_vercel_analytics".to_string()), "{names:?}");
    // withdrawal through the API deletes analytics cookies and storage keys
    eval::<bool>(&page, "(Crumb.set({analytics: false}), true)").await;
    must(&page, "!document.cookie.includes('_plausible') && !document.cookie.includes('_vercel_analytics') && localStorage.getItem('_vercel_analytics') === null").await;
    assert_eq!(b.posts().last().expect("posted")["action"], "withdraw");
    assert!(!cookie_names(&page).await.iter().any(|n| n == "_plausible"), "every path variant deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_mode_calls_in_order() {
    let (s, _host, _b, url) = setup(RegionalMode::OptIn).await;
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
