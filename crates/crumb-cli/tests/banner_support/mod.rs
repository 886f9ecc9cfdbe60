//! Browser test support: a tiny loopback HTTP server for host pages (on `localhost`, another
//! origin than the consent server on `127.0.0.1`) and a headless Chromium session.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::{
    MediaFeature, SetDeviceMetricsOverrideParams, SetEmulatedMediaParams,
};
use chromiumoxide::cdp::browser_protocol::input::{DispatchKeyEventParams, DispatchKeyEventType};
use chromiumoxide::cdp::browser_protocol::network::{Headers, SetExtraHttpHeadersParams};
use chromiumoxide::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;

/// A request as the loopback server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// A response to send.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }
    pub fn header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A minimal HTTP/1.1 server on 127.0.0.1:0 (one thread per connection, `Connection: close`).
pub struct Server {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log2 = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let h = handler.clone();
                let log = log2.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &*h, &log);
                });
            }
        });
        Server { port, log }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log").clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let req = Request { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() };
    log.lock().expect("log").push(req.clone());
    let resp = handler(&req);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n",
        resp.status,
        resp.body.len()
    );
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&resp.body)?;
    out.flush()
}

/// Published pages: path -> (HTML, Content-Security-Policy header).
type Pages = Arc<Mutex<HashMap<String, (String, Option<String>)>>>;

/// Host pages, by path, on `http://localhost:{port}`. `/t/{name}.js` serves small test scripts.
pub struct Host {
    pub server: Server,
    pages: Pages,
}

impl Host {
    pub fn start() -> Host {
        let pages: Pages = Arc::default();
        let p2 = pages.clone();
        let server = Server::start(move |req| {
            let path = req.path.split('?').next().unwrap_or_default();
            if let Some(name) = path.strip_prefix("/t/").and_then(|n| n.strip_suffix(".js")) {
                // an external gated script: records that it ran and sets a cookie named after it
                let js = format!("window.__ran=(window.__ran||[]).concat('{name}');document.cookie='{name}=1;path=/';");
                return Response::new(200, "text/javascript", js);
            }
            if path == "/frame" {
                return Response::new(
                    200,
                    "text/html",
                    "<p>embedded</p><script>document.cookie='_embed=1;path=/'</script>",
                );
            }
            match p2.lock().expect("pages").get(path) {
                Some((html, csp)) => {
                    let mut r = Response::new(200, "text/html; charset=utf-8", html.clone());
                    if let Some(csp) = csp {
                        r = r.header("content-security-policy", csp);
                    }
                    r
                }
                None => Response::new(404, "text/plain", "not found"),
            }
        });
        Host { server, pages }
    }

    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.server.port)
    }

    /// Publish a page; returns its URL.
    pub fn page(&self, path: &str, html: String, csp: Option<String>) -> String {
        self.pages.lock().expect("pages").insert(path.to_string(), (html, csp));
        format!("{}{}", self.origin(), path)
    }
}

/// A page with the banner tag, gated scripts in order, and an iframe embed.
pub fn standard_page(banner_src: &str, nonce: Option<&str>) -> String {
    let n = nonce.map(|n| format!(" nonce=\"{n}\"")).unwrap_or_default();
    format!(
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script async src="{banner_src}"{n}></script>
</head><body>
<h1>LeadsGen host page</h1>
<p><a href="#" data-crumb-open>Cookie settings</a></p>
<script type="text/plain" data-crumb-category="analytics"{n}>window.__ran=(window.__ran||[]).concat('a1');document.cookie='_plausible=1;path=/';localStorage.setItem('_vercel_analytics','x')</script>
<script type="text/plain" data-crumb-category="analytics" src="/t/_vercel_analytics.js"></script>
<script type="text/plain" data-crumb-category="analytics"{n}>window.__ran=(window.__ran||[]).concat('a3')</script>
<script type="text/plain" data-crumb-category="marketing"{n}>window.__ran=(window.__ran||[]).concat('m1');document.cookie='_fbp=1;path=/'</script>
<script type="text/plain" data-crumb-category="functional"{n}>window.__ran=(window.__ran||[]).concat('f1');document.cookie='theme=dark;path=/'</script>
<iframe data-crumb-src="/frame" data-crumb-category="marketing" data-crumb-service="google-ads" width="400" height="200" title="Ad"></iframe>
<p>long content{}</p>
</body></html>"##,
        "<br>".repeat(80)
    )
}

/// Script run before every document: collects console errors, CSP violations and layout shifts.
pub const PROBE: &str = r#"
window.__errors=[];window.__csp=[];window.__cls=0;
addEventListener('error',e=>__errors.push(String(e.message||e)));
addEventListener('unhandledrejection',e=>__errors.push('rejection '+e.reason));
const ce=console.error;console.error=function(){__errors.push([].join.call(arguments,' '));return ce.apply(console,arguments)};
document.addEventListener('securitypolicyviolation',e=>__csp.push(e.violatedDirective+' '+e.blockedURI));
try{new PerformanceObserver(l=>l.getEntries().forEach(e=>{if(!e.hadRecentInput)__cls+=e.value})).observe({type:'layout-shift',buffered:true})}catch(e){}
"#;

/// A headless Chromium with a fresh profile.
pub struct Session {
    pub browser: Browser,
    _profile: crumb_testkit::chromium::Profile,
}

impl Session {
    pub async fn start() -> Session {
        let exe = crumb_testkit::chromium::require();
        let profile = crumb_testkit::chromium::Profile::new().expect("profile");
        let cfg = BrowserConfig::builder()
            .chrome_executable(exe)
            .no_sandbox()
            .user_data_dir(profile.path())
            .args(
                profile
                    .args_without_dashes()
                    .into_iter()
                    .filter(|a| a != "headless" && a != "no-sandbox" && !a.starts_with("user-data-dir")),
            )
            .window_size(1280, 800)
            .viewport(None)
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(cfg).await.expect("launch chromium");
        tokio::spawn(async move { while handler.next().await.is_some() {} });
        Session { browser, _profile: profile }
    }

    /// A blank page with the probe installed (and, optionally, extra request headers and init script).
    pub async fn page(&self, headers: Option<serde_json::Value>, init: &str) -> Page {
        let page = self.browser.new_page("about:blank").await.expect("new page");
        page.execute(AddScriptToEvaluateOnNewDocumentParams::new(format!("{PROBE}\n{init}"))).await.expect("probe");
        if let Some(h) = headers {
            page.execute(SetExtraHttpHeadersParams::new(Headers::new(h))).await.expect("headers");
        }
        page
    }
}

pub async fn goto(page: &Page, url: &str) {
    page.goto(url).await.expect("navigate");
}

pub async fn eval<T: serde::de::DeserializeOwned>(page: &Page, js: &str) -> T {
    page.evaluate(js)
        .await
        .unwrap_or_else(|e| panic!("evaluate {js}: {e}"))
        .into_value()
        .unwrap_or_else(|e| panic!("value of {js}: {e}"))
}

/// Poll `js` (a boolean expression) for up to `secs` seconds.
pub async fn wait_for(page: &Page, js: &str, secs: u64) -> bool {
    for _ in 0..secs * 20 {
        if let Ok(v) = page.evaluate(js).await
            && v.into_value::<bool>().unwrap_or(false)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub async fn must(page: &Page, js: &str) {
    if !wait_for(page, js, 8).await {
        let diag: serde_json::Value = page
            .evaluate("({errors: window.__errors, csp: window.__csp, url: location.href, crumb: typeof Crumb, cookie: document.cookie, ls: Object.keys(localStorage), state: window.Crumb && Crumb.get(), html: document.documentElement.outerHTML.slice(0, 600)})")
            .await
            .ok()
            .and_then(|v| v.into_value().ok())
            .unwrap_or_default();
        panic!("timed out waiting for: {js}\npage state: {diag:#}");
    }
}

/// Names of the cookies the browser holds for the host.
pub async fn cookie_names(page: &Page) -> Vec<String> {
    page.get_cookies().await.expect("cookies").into_iter().map(|c| c.name).collect()
}

pub async fn key(page: &Page, key: &str, code: &str, vk: i64, text: Option<&str>, shift: bool) {
    for ty in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
        let mut b = DispatchKeyEventParams::builder()
            .r#type(ty.clone())
            .key(key)
            .code(code)
            .windows_virtual_key_code(vk)
            .native_virtual_key_code(vk);
        if shift {
            b = b.modifiers(8);
        }
        if let (DispatchKeyEventType::KeyDown, Some(t)) = (&ty, text) {
            b = b.text(t);
        }
        page.execute(b.build().expect("key event")).await.expect("dispatch key");
    }
}

pub async fn tab(page: &Page) {
    key(page, "Tab", "Tab", 9, None, false).await;
}

pub async fn enter(page: &Page) {
    key(page, "Enter", "Enter", 13, Some("\r"), false).await;
}

pub async fn space(page: &Page) {
    key(page, " ", "Space", 32, Some(" "), false).await;
}

pub async fn escape(page: &Page) {
    key(page, "Escape", "Escape", 27, None, false).await;
}

pub async fn color_scheme(page: &Page, scheme: &str) {
    page.execute(
        SetEmulatedMediaParams::builder().features(vec![MediaFeature::new("prefers-color-scheme", scheme)]).build(),
    )
    .await
    .expect("emulate media");
}

pub async fn viewport(page: &Page, width: i64, height: i64, mobile: bool) {
    page.execute(
        SetDeviceMetricsOverrideParams::builder()
            .width(width)
            .height(height)
            .device_scale_factor(if mobile { 2.0 } else { 1.0 })
            .mobile(mobile)
            .build()
            .expect("metrics"),
    )
    .await
    .expect("set viewport");
}

pub async fn screenshot(page: &Page, path: &std::path::Path) {
    let png = page.screenshot(ScreenshotParams::builder().build()).await.expect("screenshot");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(path, png).expect("write screenshot");
}
