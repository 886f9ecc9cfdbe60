//! Shared test fixtures: a real upstream server on 127.0.0.1, a guarded proxy in front of
//! it, and a small HTTP client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crumb_guard::proxy::{ProxyConfig, serve};
use crumb_guard::{Guard, Settings};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

pub const HTML: &str = "<!doctype html><html><head><title>Shop</title></head><body><h1>Hello</h1></body></html>";
/// A page with unmodified third-party tags of the leadsgen inventory's services.
pub const TRACKED: &str = "<!doctype html><html><head><title>Shop</title><script defer data-domain=\"shop\" src=\"https://plausible.io/js/script.js\"></script><script async src=\"https://www.googletagmanager.com/gtag/js?id=AW-1\"></script></head><body><img src=\"https://www.facebook.com/tr?id=1&ev=PageView\" alt=\"\"><iframe src=\"https://js.stripe.com/v3/frame\"></iframe></body></html>";

/// [`TRACKED`] as a visitor without a choice gets it (banner tag `BANNER` with the page's
/// nonce `NONCE`, if given): analytics and marketing held back, Stripe (necessary) kept.
pub fn tracked_held(nonce: Option<&str>) -> String {
    let nonce = nonce.map(|n| format!(" nonce=\"{n}\"")).unwrap_or_default();
    format!(
        "<!doctype html><html data-crumb-rewritten=\"\"><head><script src=\"{BANNER}\"{nonce}></script><title>Shop</title><script defer data-domain=\"shop\" src=\"https://plausible.io/js/script.js\" type=\"text/plain\" data-crumb-category=\"analytics\" data-crumb-service=\"plausible\"></script><script async src=\"https://www.googletagmanager.com/gtag/js?id=AW-1\" type=\"text/plain\" data-crumb-category=\"marketing\" data-crumb-service=\"google-ads\"></script></head><body><img alt=\"\" data-crumb-src=\"https://www.facebook.com/tr?id=1&ev=PageView\" data-crumb-category=\"marketing\" data-crumb-service=\"meta-pixel\"><iframe src=\"https://js.stripe.com/v3/frame\"></iframe></body></html>"
    )
}

/// A consent cookie granting `categories` (`~`-separated) now.
pub fn consent_cookie(categories: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    format!("cookie-consent=1.-.abc.{categories}.{now}")
}

pub const NONCE: &str = "r4nd0mN0nce";
pub const BANNER: &str = "/s/leadsgen/banner.js";

/// The `Set-Cookie` headers `/cookies` sends: one per kind.
pub const SET_COOKIES: &[&str] = &[
    "next-auth.session-token=t; Path=/",          // necessary, attributes to fix
    "theme=dark; Path=/; Max-Age=31536000",       // functional
    "last-workspace=w; Path=/; Max-Age=31536000", // functional, declared 30 days: capped
    "_plausible=p; Path=/",                       // analytics
    "_fbp=f; Path=/; Max-Age=7776000",            // marketing
    "mystery=m; Path=/",                          // undeclared
];

/// Pauses the `/chunked` response between its chunks until the test says go.
#[derive(Default)]
pub struct Gate {
    pub go: Notify,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub gate: Arc<Gate>,
    /// Connections the upstream has accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).expect("brotli");
    }
    out
}

type UpBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> UpBody {
    Full::new(b.into()).boxed()
}

async fn upstream_handle(req: Request<Incoming>, gate: Arc<Gate>) -> Result<Response<UpBody>, Infallible> {
    let mut res = Response::new(full(""));
    let h = res.headers_mut();
    let html = |h: &mut HeaderMap| {
        h.insert("content-type", "text/html; charset=utf-8".parse().expect("hdr"));
        h.insert(
            "content-security-policy",
            format!("script-src 'nonce-{NONCE}' 'strict-dynamic'").parse().expect("hdr"),
        );
    };
    match req.uri().path() {
        "/cookies" => {
            for c in SET_COOKIES {
                h.append("set-cookie", c.parse().expect("hdr"));
            }
            *res.body_mut() = full("cookies");
        }
        "/html" => {
            html(h);
            h.insert("content-length", HTML.len().to_string().parse().expect("hdr"));
            h.insert("etag", "\"v1\"".parse().expect("hdr"));
            *res.body_mut() = full(HTML);
        }
        "/tracked" => {
            html(h);
            *res.body_mut() = full(TRACKED);
        }
        "/html-gzip" => {
            html(h);
            h.insert("content-encoding", "gzip".parse().expect("hdr"));
            let b = gzip(HTML.as_bytes());
            h.insert("content-length", b.len().to_string().parse().expect("hdr"));
            *res.body_mut() = full(b);
        }
        "/html-br" => {
            html(h);
            h.insert("content-encoding", "br".parse().expect("hdr"));
            let b = brotli(HTML.as_bytes());
            h.insert("content-length", b.len().to_string().parse().expect("hdr"));
            *res.body_mut() = full(b);
        }
        "/html-chunked" => {
            // `</head>` split across chunks; the last chunk waits for the test's go-ahead, so
            // the test can see the first bytes arrive before the upstream has finished.
            html(h);
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            tokio::spawn(async move {
                let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"<html><head><title>Shop</title></he")))).await;
                let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"ad><body>first")))).await;
                gate.go.notified().await;
                let _ = tx.send(Ok(Frame::data(Bytes::from_static(b" and last</body></html>")))).await;
            });
            let stream = tokio_stream_from(rx);
            *res.body_mut() = StreamBody::new(stream).boxed();
        }
        "/json" => {
            h.insert("content-type", "application/json".parse().expect("hdr"));
            *res.body_mut() = full("{\"head\":\"</head>\"}");
        }
        "/headers" => {
            let mut lines: Vec<String> =
                req.headers().iter().map(|(k, v)| format!("{}: {}", k, v.to_str().unwrap_or("?"))).collect();
            lines.sort();
            h.insert("keep-alive", "timeout=5".parse().expect("hdr"));
            *res.body_mut() = full(lines.join("\n"));
        }
        "/echo" => {
            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            *res.body_mut() = full(body);
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            *res.body_mut() = full("slow");
        }
        _ => *res.status_mut() = StatusCode::NOT_FOUND,
    }
    Ok(res)
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Start the upstream test site on 127.0.0.1.
pub async fn upstream() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let g = g.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| upstream_handle(req, g.clone()));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Upstream { addr, gate, connections }
}

/// The leadsgen example, or a variant whose regional mode comes from `CF-IPCountry`
/// (`US-CA` gets opt-out).
pub fn leadsgen(by_country: bool) -> crumb_core::Inventory {
    let mut src = crumb_core::testdata::LEADSGEN.to_string();
    if by_country {
        src = src.replacen(
            "regional_mode = \"opt_in\"",
            "regional_mode = \"by_country\"\ncountry_header = \"CF-IPCountry\"\nopt_out_countries = [\"US-CA\"]",
            1,
        );
    }
    crumb_core::parse_inventory(&src).expect("leadsgen inventory is valid")
}

pub struct Proxied {
    pub addr: SocketAddr,
    pub guard: Guard,
    pub stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<()>,
}

/// Start `crumb proxy`'s server in front of `upstream`.
pub async fn proxy(upstream: SocketAddr, guard: Guard, tweak: impl FnOnce(&mut ProxyConfig)) -> Proxied {
    let mut config = ProxyConfig::new(&format!("http://{upstream}")).expect("upstream url");
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let g = guard.clone();
    let done = tokio::spawn(async move {
        serve(listener, g, config, async move {
            let _ = rx.await;
        })
        .await
        .expect("proxy serves");
    });
    Proxied { addr, guard, stop: Some(tx), done }
}

pub fn guard(by_country: bool, settings: Settings) -> Guard {
    Guard::new(leadsgen(by_country), settings).expect("guard builds")
}

pub type Client = hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// GET `path` on `addr` with extra headers; the response head and its whole body.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (http::response::Parts, Bytes) {
    let mut req = Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client().request(req.body(Full::new(Bytes::new())).expect("request")).await.expect("response");
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (parts, body)
}

/// Read a streamed body until what arrived contains `needle` (within 5 s per frame): the
/// bytes so far. Shows that the first bytes arrive before the upstream has finished.
pub async fn read_until(body: &mut Incoming, needle: &str, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains(needle) {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap_or_else(|_| panic!("{what}: `{needle}` did not arrive in time"))
            .expect("a frame")
            .expect("no error");
        if let Ok(d) = frame.into_data() {
            got.extend_from_slice(&d);
        }
    }
    got
}

/// Names of the cookies a response sets.
pub fn set_cookie_names(h: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = h
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie::Cookie::parse(v).ok())
        .map(|c| c.name().to_string())
        .collect();
    names.sort();
    names
}

/// The `Set-Cookie` header for `name`.
pub fn set_cookie<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}=")))
}
