//! One phase of one page in a clean browser context: load, operate the banner, record.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::browser::Browser;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::network::{
    EventRequestWillBeSent, EventResponseReceived, EventResponseReceivedExtraInfo, ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, EventJavascriptDialogOpening, HandleJavaScriptDialogParams, NavigateParams,
};
use chromiumoxide::cdp::browser_protocol::storage::GetCookiesParams;
use chromiumoxide::cdp::browser_protocol::target::{CreateBrowserContextParams, CreateTargetParams};
use chromiumoxide::cdp::js_protocol::runtime::{AddBindingParams, EvaluateParams, EventBindingCalled};
use chromiumoxide::page::{Page, ScreenshotParams};
use crumb_core::StorageKind;
use futures::StreamExt;
use url::Url;

use crate::crawl::site_of;
use crate::model::{BannerAction, ObservedItem, Phase, PhaseResult, SetBy, SetByKind, ThirdPartyHost};

/// How one phase is run.
#[derive(Debug, Clone)]
pub struct VisitOptions {
    /// Longest wait for a page to load.
    pub page_timeout: Duration,
    /// Network quiet time that counts as "settled".
    pub quiet: Duration,
    /// Longest wait for the network to settle (after load, and after the banner click).
    pub max_settle: Duration,
    /// Longest wait for the banner (Crumb API or selector) to appear.
    pub banner_wait: Duration,
    /// CSS selector of the banner's accept button.
    pub accept_selector: Option<String>,
    /// CSS selector of the banner's reject button.
    pub reject_selector: Option<String>,
    /// Optional category ids to pass to `Crumb.set` (from the inventory); empty: ask the page.
    pub categories: Vec<String>,
    /// Capture a screenshot at the end of each phase.
    pub screenshots: bool,
    /// Hosts that count as first party besides the start URL's site (inventory origins).
    pub first_party: Vec<String>,
}

const BINDING: &str = "__crumbCookieSet";

/// Reports `document.cookie` writes with the URL of the script that made them.
const COOKIE_HOOK: &str = r#"(() => {
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (!d || !d.set || !d.get) return;
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    enumerable: d.enumerable,
    get() { return d.get.call(this); },
    set(v) {
      try {
        const st = String((new Error()).stack || '');
        const m = st.match(/((?:https?|file):\/\/[^\s()]+?):\d+:\d+/);
        const report = globalThis.__crumbCookieSet;
        if (typeof report === 'function') {
          report(JSON.stringify({ c: String(v).slice(0, 4096), s: m ? m[1] : null, p: String(location.href) }));
        }
      } catch (e) {}
      return d.set.call(this, v);
    },
  });
})();"#;

/// Storage, IndexedDB names and links of one frame.
const FRAME_PROBE: &str = r#"(async () => {
  const out = { origin: String(location.origin), host: String(location.hostname), ls: [], ss: [], idb: [], links: [] };
  try { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i); out.ls.push([k, (localStorage.getItem(k) || '').length]); } } catch (e) {}
  try { for (let i = 0; i < sessionStorage.length; i++) { const k = sessionStorage.key(i); out.ss.push([k, (sessionStorage.getItem(k) || '').length]); } } catch (e) {}
  try { if (indexedDB && indexedDB.databases) { out.idb = (await indexedDB.databases()).map(d => d.name).filter(Boolean); } } catch (e) {}
  try { if (window === window.top) { out.links = Array.from(document.querySelectorAll('a[href]'), a => a.href).slice(0, 2000); } } catch (e) {}
  return out;
})()"#;

/// Operates the banner. `__ACCEPT__`, `__CATS__`, `__SEL__`, `__WAIT__` are replaced.
const BANNER: &str = r#"(async () => {
  const accept = __ACCEPT__, cats = __CATS__, sel = __SEL__, deadline = Date.now() + __WAIT__;
  while (Date.now() < deadline) {
    if (sel) {
      const el = document.querySelector(sel);
      if (el) { el.click(); return 'selector'; }
    } else {
      const C = window.Crumb;
      if (C && typeof C.set === 'function') {
        let ids = cats;
        if (!ids.length) {
          try {
            const g = typeof C.get === 'function' ? await C.get() : null;
            const o = g && (g.categories || g.choices || g);
            if (o && typeof o === 'object') ids = Object.keys(o).filter(k => typeof o[k] === 'boolean');
          } catch (e) {}
        }
        if (ids.length) { const ch = {}; for (const id of ids) ch[id] = accept; await C.set(ch); return 'crumb_api'; }
        if (accept && typeof C.acceptAll === 'function') { await C.acceptAll(); return 'crumb_api'; }
        if (!accept && typeof C.rejectAll === 'function') { await C.rejectAll(); return 'crumb_api'; }
      }
    }
    await new Promise(r => setTimeout(r, 50));
  }
  return 'not_found';
})()"#;

#[derive(Default)]
struct Net {
    request_urls: HashMap<String, String>,
    /// (request id, Set-Cookie line)
    set_cookie: Vec<(String, String)>,
    /// (cookie string, script URL, page URL)
    script_sets: Vec<(String, Option<String>, String)>,
    hosts: BTreeMap<String, ThirdPartyHost>,
    documents: HashMap<String, i64>,
    last_activity: Option<Instant>,
}

/// The result of one phase, and the same-site links its page shows.
pub struct Visit {
    /// What was observed.
    pub result: PhaseResult,
    /// Links found on the page (before-consent phase only).
    pub links: Vec<Url>,
    /// Whether the page offered a way to answer the banner (the Crumb API, or the selectors).
    pub banner_present: bool,
}

fn is_first_party(host: &str, site: &str, extra: &[String]) -> bool {
    let h = host.trim_start_matches('.').to_ascii_lowercase();
    site_of(&h) == site || extra.iter().any(|o| crumb_core::inventory::host_matches(o, &h))
}

async fn eval(page: &Page, expr: &str, context: Option<i64>, limit: Duration) -> Result<serde_json::Value, String> {
    let mut p = EvaluateParams::new(expr);
    p.await_promise = Some(true);
    p.return_by_value = Some(true);
    if let Some(c) = context {
        p.context_id = Some(chromiumoxide::cdp::js_protocol::runtime::ExecutionContextId::new(c));
    }
    match tokio::time::timeout(limit, page.execute(p)).await {
        Err(_) => Err(format!("script did not answer within {} ms", limit.as_millis())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(r)) => {
            if let Some(ex) = &r.result.exception_details {
                return Err(ex.text.clone());
            }
            Ok(r.result.result.value.clone().unwrap_or(serde_json::Value::Null))
        }
    }
}

async fn settle(net: &Arc<Mutex<Net>>, quiet: Duration, max: Duration) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let last = net.lock().ok().and_then(|n| n.last_activity).unwrap_or(start);
        if last.elapsed() >= quiet || start.elapsed() >= max {
            return;
        }
    }
}

fn touch(net: &Arc<Mutex<Net>>) -> Option<std::sync::MutexGuard<'_, Net>> {
    let mut g = net.lock().ok()?;
    g.last_activity = Some(Instant::now());
    Some(g)
}

/// Run one phase of `url` in a fresh browser context.
pub async fn visit(browser: &Browser, url: &Url, phase: Phase, site: &str, opts: &VisitOptions) -> Visit {
    let started = Instant::now();
    let mut result = PhaseResult {
        phase,
        final_url: None,
        status: None,
        banner: BannerAction::None,
        observed: Vec::new(),
        third_party_hosts: Vec::new(),
        errors: Vec::new(),
        duration_ms: 0,
        screenshot: None,
    };
    let short = Duration::from_secs(10);
    let ctx = match tokio::time::timeout(short, browser.create_browser_context(CreateBrowserContextParams::default()))
        .await
    {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            result.errors.push(format!("could not open a clean browser context: {e}"));
            return Visit { result, links: Vec::new(), banner_present: false };
        }
        Err(_) => {
            result.errors.push("could not open a clean browser context: the browser did not answer".into());
            return Visit { result, links: Vec::new(), banner_present: false };
        }
    };
    let mut links = Vec::new();
    let mut banner_present = false;
    let mut target = CreateTargetParams::new("about:blank");
    target.browser_context_id = Some(ctx.clone());
    match tokio::time::timeout(short, browser.new_page(target)).await {
        Ok(Ok(page)) => {
            (links, banner_present) = run(&page, &ctx, browser, url, phase, site, opts, &mut result).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), page.close()).await;
        }
        Ok(Err(e)) => result.errors.push(format!("could not open a tab: {e}")),
        Err(_) => result.errors.push("could not open a tab: the browser did not answer".into()),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), browser.dispose_browser_context(ctx)).await;
    result.duration_ms = started.elapsed().as_millis() as u64;
    Visit { result, links, banner_present }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    page: &Page,
    ctx: &BrowserContextId,
    browser: &Browser,
    url: &Url,
    phase: Phase,
    site: &str,
    opts: &VisitOptions,
    result: &mut PhaseResult,
) -> (Vec<Url>, bool) {
    let net = Arc::new(Mutex::new(Net::default()));
    let mut tasks = Vec::new();
    let short = Duration::from_secs(10);

    // Listeners first, so nothing the page does is missed.
    macro_rules! listen {
        ($ty:ty, $handler:expr) => {
            match page.event_listener::<$ty>().await {
                Ok(mut stream) => {
                    let net = net.clone();
                    let f = $handler;
                    tasks.push(tokio::spawn(async move {
                        while let Some(ev) = stream.next().await {
                            if let Some(mut g) = touch(&net) {
                                f(&mut g, &ev);
                            }
                        }
                    }));
                }
                Err(e) => result.errors.push(format!("could not listen to DevTools events: {e}")),
            }
        };
    }
    let site_owned = site.to_string();
    let extra = opts.first_party.clone();
    listen!(EventRequestWillBeSent, move |g: &mut Net, ev: &Arc<EventRequestWillBeSent>| {
        let u = ev.request.url.clone();
        g.request_urls.insert(ev.request_id.inner().clone(), u.clone());
        if let Ok(parsed) = Url::parse(&u)
            && let Some(h) = parsed.host_str()
            && matches!(parsed.scheme(), "http" | "https" | "ws" | "wss")
            && !is_first_party(h, &site_owned, &extra)
        {
            g.hosts.entry(h.to_string()).and_modify(|t| t.requests += 1).or_insert(ThirdPartyHost {
                host: h.to_string(),
                first_url: u,
                requests: 1,
            });
        }
    });
    listen!(EventResponseReceivedExtraInfo, |g: &mut Net, ev: &Arc<EventResponseReceivedExtraInfo>| {
        if let Some(obj) = ev.headers.inner().as_object() {
            for (k, v) in obj {
                if k.eq_ignore_ascii_case("set-cookie")
                    && let Some(s) = v.as_str()
                {
                    for line in s.split('\n').filter(|l| !l.trim().is_empty()) {
                        g.set_cookie.push((ev.request_id.inner().clone(), line.to_string()));
                    }
                }
            }
        }
    });
    listen!(EventResponseReceived, |g: &mut Net, ev: &Arc<EventResponseReceived>| {
        if ev.r#type == ResourceType::Document {
            g.documents.insert(ev.response.url.clone(), ev.response.status);
        }
    });
    listen!(EventBindingCalled, |g: &mut Net, ev: &Arc<EventBindingCalled>| {
        if ev.name == BINDING
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&ev.payload)
        {
            let c = v.get("c").and_then(|x| x.as_str()).unwrap_or_default().to_string();
            let s = v.get("s").and_then(|x| x.as_str()).map(str::to_string);
            let p = v.get("p").and_then(|x| x.as_str()).unwrap_or_default().to_string();
            g.script_sets.push((c, s, p));
        }
    });
    // alert(), confirm() and prompt() would block the page's scripts (and this scanner's):
    // dismiss every dialog as it opens.
    match page.event_listener::<EventJavascriptDialogOpening>().await {
        Ok(mut dialogs) => {
            let page = page.clone();
            tasks.push(tokio::spawn(async move {
                while dialogs.next().await.is_some() {
                    let _ = page.execute(HandleJavaScriptDialogParams::new(false)).await;
                }
            }));
        }
        Err(e) => result.errors.push(format!("could not listen to DevTools events: {e}")),
    }
    if let Err(e) = page.execute(AddBindingParams::new(BINDING)).await {
        result.errors.push(format!("could not watch document.cookie: {e}"));
    }
    if let Err(e) = page.evaluate_on_new_document(COOKIE_HOOK).await {
        result.errors.push(format!("could not watch document.cookie: {e}"));
    }

    // Load.
    let mut loaded = true;
    match tokio::time::timeout(opts.page_timeout, page.goto(NavigateParams::new(url.as_str()))).await {
        Err(_) => {
            result.errors.push(format!("the page did not finish loading within {} s", opts.page_timeout.as_secs()))
        }
        Ok(Err(e)) => {
            result.errors.push(format!("the page could not be loaded: {e}"));
            loaded = false;
        }
        Ok(Ok(_)) => {}
    }
    let final_url = match tokio::time::timeout(short, page.url()).await {
        Ok(Ok(Some(u))) if u != "about:blank" && !u.starts_with("chrome-error:") => Some(u),
        _ => None,
    };
    if final_url.is_none() && loaded {
        result.errors.push("the page did not load".into());
        loaded = false;
    }
    result.final_url = final_url.clone();
    if let Some(f) = &final_url {
        result.status = net.lock().ok().and_then(|n| n.documents.get(f).copied());
    }
    let off_site = final_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| !is_first_party(&h, site, &opts.first_party));
    if off_site && let Some(f) = &final_url {
        result.errors.push(format!("redirected off-site to {f}"));
    }

    let mut links = Vec::new();
    let mut banner_present = false;
    if loaded {
        settle(&net, opts.quiet, opts.max_settle).await;
        if phase == Phase::BeforeConsent {
            let sels: Vec<&String> = opts.accept_selector.iter().chain(opts.reject_selector.iter()).collect();
            let probe = format!(
                "(() => {{ const C = window.Crumb; if (C && typeof C.set === 'function') return true; return {}.some(s => {{ try {{ return !!document.querySelector(s); }} catch (e) {{ return false; }} }}); }})()",
                serde_json::to_string(&sels).unwrap_or_else(|_| "[]".into())
            );
            banner_present = eval(page, &probe, None, short).await.ok().and_then(|v| v.as_bool()).unwrap_or(false);
        }
        if phase != Phase::BeforeConsent && !off_site {
            let accept = phase == Phase::AfterAccept;
            let sel = if accept { &opts.accept_selector } else { &opts.reject_selector };
            let js = BANNER
                .replace("__ACCEPT__", if accept { "true" } else { "false" })
                .replace("__CATS__", &serde_json::to_string(&opts.categories).unwrap_or_else(|_| "[]".into()))
                .replace("__SEL__", &serde_json::to_string(sel).unwrap_or_else(|_| "null".into()))
                .replace("__WAIT__", &opts.banner_wait.as_millis().to_string());
            result.banner = match eval(page, &js, None, opts.banner_wait + Duration::from_secs(5)).await {
                Ok(v) if v.as_str() == Some("crumb_api") => BannerAction::CrumbApi,
                Ok(v) if v.as_str() == Some("selector") => BannerAction::Selector,
                Ok(_) => BannerAction::NotFound,
                Err(e) => {
                    result.errors.push(format!("could not operate the banner: {e}"));
                    BannerAction::NotFound
                }
            };
            // The click counts as activity: wait a full quiet period for what it starts.
            drop(touch(&net));
            settle(&net, opts.quiet, opts.max_settle).await;
        }
        // Web storage and IndexedDB of every frame.
        let frames = tokio::time::timeout(short, page.frames()).await.ok().and_then(Result::ok).unwrap_or_default();
        let mut probed = std::collections::HashSet::new();
        for frame in frames {
            let Ok(Ok(Some(cx))) = tokio::time::timeout(short, page.frame_execution_context(frame)).await else {
                continue;
            };
            match eval(page, FRAME_PROBE, Some(*cx.inner()), short).await {
                Ok(v) => {
                    let origin = v.get("origin").and_then(|x| x.as_str()).unwrap_or_default().to_string();
                    let host = v.get("host").and_then(|x| x.as_str()).unwrap_or_default().to_string();
                    if !probed.insert(origin.clone()) || host.is_empty() {
                        continue;
                    }
                    let third_party = !is_first_party(&host, site, &opts.first_party);
                    let page_url = url.as_str().to_string();
                    let mut add = |storage: StorageKind, name: &str, len: usize| {
                        result.observed.push(ObservedItem {
                            name: name.to_string(),
                            domain: host.clone(),
                            storage,
                            phase,
                            page: page_url.clone(),
                            third_party,
                            value_length: len,
                            path: None,
                            expires: None,
                            lifetime_seconds: None,
                            session: None,
                            http_only: None,
                            secure: None,
                            same_site: None,
                            partition: None,
                            set_by: None,
                            origin: Some(origin.clone()),
                        });
                    };
                    for (key, kind) in [("ls", StorageKind::LocalStorage), ("ss", StorageKind::SessionStorage)] {
                        for pair in v.get(key).and_then(|x| x.as_array()).into_iter().flatten() {
                            let name = pair.get(0).and_then(|x| x.as_str()).unwrap_or_default();
                            let len = pair.get(1).and_then(|x| x.as_u64()).unwrap_or(0) as usize;
                            add(kind, name, len);
                        }
                    }
                    for name in v.get("idb").and_then(|x| x.as_array()).into_iter().flatten().filter_map(|x| x.as_str())
                    {
                        add(StorageKind::IndexedDb, name, 0);
                    }
                    if !off_site {
                        for l in v.get("links").and_then(|x| x.as_array()).into_iter().flatten() {
                            if let Some(u) = l.as_str().and_then(|s| Url::parse(s).ok()) {
                                links.push(u);
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!("frame probe failed: {e}"),
            }
        }
        if opts.screenshots {
            let shot = ScreenshotParams::builder().format(CaptureScreenshotFormat::Jpeg).quality(60).build();
            match tokio::time::timeout(short, page.screenshot(shot)).await {
                Ok(Ok(bytes)) => result.screenshot = Some(bytes),
                Ok(Err(e)) => result.errors.push(format!("no screenshot: {e}")),
                Err(_) => result.errors.push("no screenshot: the page did not answer".into()),
            }
        }
    }

    // The context's whole cookie store: HttpOnly, third-party and partitioned cookies included.
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let params = GetCookiesParams { browser_context_id: Some(ctx.clone()) };
    let cookies = match tokio::time::timeout(short, browser.execute(params)).await {
        Ok(Ok(r)) => r.result.cookies.clone(),
        Ok(Err(e)) => {
            result.errors.push(format!("could not read the cookie store: {e}"));
            Vec::new()
        }
        Err(_) => {
            result.errors.push("could not read the cookie store: the browser did not answer".into());
            Vec::new()
        }
    };
    for t in &tasks {
        t.abort();
    }
    let net = net.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default();
    for c in cookies {
        let set_by = who_set(&net, &c.name, &c.domain);
        let lifetime = (!c.session && c.expires > 0.0).then(|| (c.expires - now).max(0.0).round() as u64);
        result.observed.push(ObservedItem {
            third_party: !is_first_party(&c.domain, site, &opts.first_party),
            name: c.name,
            domain: c.domain,
            storage: StorageKind::Cookie,
            phase,
            page: url.as_str().to_string(),
            value_length: c.value.len(),
            path: Some(c.path),
            expires: (!c.session).then_some(c.expires),
            lifetime_seconds: lifetime,
            session: Some(c.session),
            http_only: Some(c.http_only),
            secure: Some(c.secure),
            same_site: c.same_site.map(|s| s.as_ref().to_string()),
            partition: c.partition_key.map(|k| k.top_level_site),
            set_by,
            origin: None,
        });
    }
    result.observed.sort_by(|a, b| (a.storage, &a.domain, &a.name).cmp(&(b.storage, &b.domain, &b.name)));
    result.third_party_hosts = net.hosts.into_values().collect();
    (links, banner_present)
}

/// Who set the cookie `name` stored on `domain`: the last response or script that wrote it.
fn who_set(net: &Net, name: &str, domain: &str) -> Option<SetBy> {
    let fits = |header_domain: Option<&str>, url_host: Option<&str>| -> bool {
        let d = domain.trim_start_matches('.');
        match header_domain {
            Some(hd) => hd.trim_start_matches('.').eq_ignore_ascii_case(d),
            None => url_host.is_some_and(|h| h.eq_ignore_ascii_case(d)),
        }
    };
    let from_script = net.script_sets.iter().rev().find_map(|(c, script, page_url)| {
        let parsed = cookie::Cookie::parse(c.clone()).ok()?;
        let host = Url::parse(page_url).ok().and_then(|u| u.host_str().map(str::to_string));
        (parsed.name() == name && fits(parsed.domain(), host.as_deref())).then(|| SetBy {
            kind: SetByKind::Script,
            url: match script {
                Some(s) if s != page_url => s.clone(),
                _ => format!("{page_url} (inline script)"),
            },
        })
    });
    if from_script.is_some() {
        return from_script;
    }
    net.set_cookie.iter().rev().find_map(|(req, line)| {
        let parsed = cookie::Cookie::parse(line.clone()).ok()?;
        let req_url = net.request_urls.get(req)?;
        let host = Url::parse(req_url).ok().and_then(|u| u.host_str().map(str::to_string));
        (parsed.name() == name && fits(parsed.domain(), host.as_deref()))
            .then(|| SetBy { kind: SetByKind::Response, url: req_url.clone() })
    })
}
