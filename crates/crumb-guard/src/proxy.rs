//! The reverse proxy behind `crumb proxy`: the guard in front of any HTTP upstream (Node,
//! PHP, Python, static sites).
//!
//! - hop-by-hop headers removed both ways, `X-Forwarded-For/Proto/Host` set;
//! - bodies streamed both ways, a keep-alive connection pool to the upstream;
//! - WebSocket (and any other HTTP/1.1) upgrades passed through;
//! - `502` when the upstream cannot be reached, `504` when it does not answer in time,
//!   both with a JSON body;
//! - optional HTML rewriting ([`crate::html`]): the banner tag, and the elements of services
//!   the visitor has not granted held back;
//! - graceful shutdown: stop accepting, let requests in flight finish.
//!
//! HTTP/1.1 requests go through a fast path (`proxy/fast.rs`) that forwards bytes without hyper
//! in between; what it does not take (HTTP/2, HTTP/1.0, upgrades, `Transfer-Encoding` and
//! large request bodies, HTML rewriting) goes through hyper. Both apply the same guard.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use crumb_core::consent::ConsentState;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};

use crate::guard::Guard;
use crate::inject::{BoxError, rewrite};
use crate::layer::GuardLayer;
use crate::rules::Rewriter;

mod config;
mod errors;
mod fast;
pub mod wire;

pub use config::{ProxyConfig, ProxyError};
use errors::{BROKEN_MESSAGE, TIMEOUT_MESSAGE, UNREACHABLE_MESSAGE, strip_hop_by_hop};
pub use errors::{ProxyBody, error_response};

/// What the proxy keeps per visitor connection: the visitor's address (for
/// `X-Forwarded-For`) and the upstream connection its HTTP/1 requests reuse.
///
/// HTTP/1 requests on one visitor connection come one after the other, so each visitor
/// connection gets its own upstream connection: no pool lookup, lock contention or
/// background task per request. HTTP/2 requests (which may run concurrently on one
/// connection) and requests whose connection is busy use the shared pool.
#[derive(Debug, Clone)]
struct VisitorConn(Arc<VisitorConnInner>);

#[derive(Debug)]
struct VisitorConnInner {
    /// The visitor's IP address, as a header value.
    ip: Option<HeaderValue>,
    /// The upstream connection, when idle.
    upstream: Mutex<Option<SendRequest<Incoming>>>,
}

impl VisitorConn {
    fn new(addr: SocketAddr) -> VisitorConn {
        let ip = HeaderValue::try_from(addr.ip().to_string()).ok();
        VisitorConn(Arc::new(VisitorConnInner { ip, upstream: Mutex::new(None) }))
    }

    fn take(&self) -> Option<SendRequest<Incoming>> {
        self.0.upstream.lock().ok().and_then(|mut s| s.take())
    }

    fn put(&self, sender: SendRequest<Incoming>) {
        if let Ok(mut s) = self.0.upstream.lock() {
            *s = Some(sender);
        }
    }
}

struct Inner {
    client: Client<HttpConnector, Incoming>,
    upstream: Uri,
    /// `host:port` of the upstream, for dedicated connections.
    upstream_addr: String,
    /// The `Host` header sent upstream (the upstream's authority, as nginx's `proxy_pass` does).
    upstream_host: HeaderValue,
    base_path: String,
    timeout: Duration,
    connect_timeout: Duration,
    rewriter: Option<Rewriter>,
    trust_forwarded: bool,
}

/// Why a request could not be sent upstream.
enum UpstreamError {
    /// The upstream could not be reached.
    Connect,
    /// The upstream closed the connection or answered something that is not HTTP.
    Failed,
}

/// The proxying service (without the guard; [`serve`] puts [`GuardLayer`] in front of it).
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl Proxy {
    /// A proxy to `config.upstream`, rewriting HTML pages for `guard`'s inventory as
    /// `config` says.
    pub fn new(config: &ProxyConfig, guard: &Guard) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .pool_timer(TokioTimer::new())
            .build(connector);
        let base_path = config.upstream.path().trim_end_matches('/').to_string();
        let authority = config.upstream.authority().map(|a| a.as_str()).unwrap_or_default();
        let upstream_addr = match config.upstream.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{authority}:80"),
        };
        let upstream_host = HeaderValue::from_str(authority).unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        Proxy {
            inner: Arc::new(Inner {
                client,
                upstream: config.upstream.clone(),
                upstream_addr,
                upstream_host,
                base_path,
                timeout: config.timeout,
                connect_timeout: config.connect_timeout,
                rewriter: config.rewriter(guard),
                trust_forwarded: config.trust_forwarded,
            }),
        }
    }

    fn upstream_uri(&self, uri: &Uri) -> Result<Uri, http::Error> {
        let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut parts = self.inner.upstream.clone().into_parts();
        parts.path_and_query = Some(if self.inner.base_path.is_empty() {
            pq.parse()?
        } else {
            format!("{}{pq}", self.inner.base_path).parse()?
        });
        Ok(Uri::from_parts(parts)?)
    }

    /// The request target for a dedicated HTTP/1 connection (origin form: path and query).
    fn origin_form(&self, uri: &Uri) -> Result<Uri, http::Error> {
        if self.inner.base_path.is_empty() && uri.scheme().is_none() && uri.authority().is_none() {
            return Ok(uri.clone());
        }
        let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        Ok(format!("{}{pq}", self.inner.base_path).parse()?)
    }

    /// A new dedicated connection to the upstream.
    async fn connect(&self) -> Result<SendRequest<Incoming>, UpstreamError> {
        let stream = tokio::time::timeout(
            self.inner.connect_timeout,
            tokio::net::TcpStream::connect(self.inner.upstream_addr.as_str()),
        )
        .await
        .map_err(|_| UpstreamError::Connect)?
        .map_err(|_| UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| UpstreamError::Connect)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(target: "crumb_proxy", error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Send `req` on the visitor connection's own upstream connection (opened on first
    /// use, reopened when the upstream closed it). A request that was not sent because an
    /// idle connection had just been closed is retried once on a new connection.
    async fn send_dedicated(
        &self,
        conn: &VisitorConn,
        req: Request<Incoming>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut req = req;
        let mut reused = conn.take();
        loop {
            let idle = match reused.take() {
                Some(mut s) => s.ready().await.is_ok().then_some(s),
                None => None,
            };
            let was_reused = idle.is_some();
            let mut sender = match idle {
                Some(s) => s,
                None => self.connect().await?,
            };
            match sender.try_send_request(req).await {
                Ok(res) => {
                    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
                        conn.put(sender);
                    }
                    return Ok(res);
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if was_reused => req = unsent,
                    _ => return Err(UpstreamError::Failed),
                },
            }
        }
    }

    async fn handle(self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        let head_request = req.method() == Method::HEAD;
        if req.version() == http::Version::HTTP_11 && req.headers().get_all(header::HOST).iter().count() != 1 {
            return error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "an HTTP/1.1 request needs exactly one Host header",
            );
        }
        let visitor = req.extensions_mut().remove::<VisitorConn>();
        let plan = self.inner.rewriter.as_ref().filter(|r| !head_request && r.is_active()).map(|r| {
            let authority = req.uri().authority().map(|a| a.as_str());
            r.plan_for_request(req.headers(), authority, req.extensions().get::<ConsentState>())
        });
        let dedicated = visitor.is_some() && req.version() <= http::Version::HTTP_11;
        let uri = if dedicated { self.origin_form(req.uri()) } else { self.upstream_uri(req.uri()) };
        let Ok(uri) = uri else {
            return error_response(StatusCode::BAD_REQUEST, "bad_request", "the request target is not a valid path");
        };
        let client_upgrade = req.headers().contains_key(header::UPGRADE).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let upgrade = strip_hop_by_hop(&mut parts.headers);
        if let Some(proto) = &upgrade {
            parts.headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, proto.clone());
        }
        let host = parts
            .headers
            .remove(header::HOST)
            .or_else(|| parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
        if let Some(ip) = visitor.as_ref().and_then(|v| v.0.ip.as_ref()) {
            let xff = match parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prev) => HeaderValue::try_from(format!("{prev}, {}", ip.to_str().unwrap_or_default())).ok(),
                None => Some(ip.clone()),
            };
            if let Some(v) = xff {
                parts.headers.insert("x-forwarded-for", v);
            }
        }
        let trust = self.inner.trust_forwarded;
        if !(trust && parts.headers.contains_key("x-forwarded-proto")) {
            parts.headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        }
        let keep_xfh = trust && parts.headers.contains_key("x-forwarded-host");
        match host {
            Some(h) if !keep_xfh => {
                parts.headers.insert("x-forwarded-host", h);
            }
            // No Host to tell (an HTTP/1.0 request): an untrusted X-Forwarded-Host does not pass.
            None if !keep_xfh => {
                parts.headers.remove("x-forwarded-host");
            }
            _ => {}
        }
        parts.uri = uri;
        parts.version = http::Version::HTTP_11;
        let sent = match visitor.filter(|_| dedicated) {
            Some(conn) => {
                parts.headers.insert(header::HOST, self.inner.upstream_host.clone());
                let upstream_req = Request::from_parts(parts, body);
                tokio::time::timeout(self.inner.timeout, self.send_dedicated(&conn, upstream_req)).await
            }
            None => {
                let upstream_req = Request::from_parts(parts, body);
                tokio::time::timeout(self.inner.timeout, async {
                    self.inner.client.request(upstream_req).await.map_err(|e| {
                        tracing::debug!(target: "crumb_proxy", error = %e, "upstream request failed");
                        if e.is_connect() { UpstreamError::Connect } else { UpstreamError::Failed }
                    })
                })
                .await
            }
        };
        let mut res = match sent {
            Err(_) => {
                tracing::warn!(target: "crumb_proxy", "upstream did not answer in time");
                return error_response(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", TIMEOUT_MESSAGE);
            }
            Ok(Err(e)) => {
                let message = match e {
                    UpstreamError::Connect => UNREACHABLE_MESSAGE,
                    UpstreamError::Failed => BROKEN_MESSAGE,
                };
                tracing::warn!(target: "crumb_proxy", message, "upstream request failed");
                return error_response(StatusCode::BAD_GATEWAY, "upstream_unavailable", message);
            }
            Ok(Ok(res)) => res,
        };
        if res.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut res);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        let mut client = TokioIo::new(client);
                        let mut upstream = TokioIo::new(upstream);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                    Err(e) => tracing::debug!(target: "crumb_proxy", error = %e, "upgrade failed"),
                }
            });
            let (parts, body) = res.into_parts();
            return Response::from_parts(parts, body.map_err(BoxError::from).boxed_unsync());
        }
        strip_hop_by_hop(res.headers_mut());
        match plan {
            Some(plan) => rewrite(res, Some(plan)).map(|b| b.boxed_unsync()),
            None => res.map(|b| b.map_err(BoxError::from).boxed_unsync()),
        }
    }
}

impl Service<Request<Incoming>> for Proxy {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

/// The guarded proxy's connection handler on one runtime: hand it accepted connections,
/// then [`Server::shutdown`] to let requests in flight finish.
pub struct Server {
    shared: Arc<Shared>,
    /// Set to true at shutdown; every connection task holds a receiver until it ends.
    shutdown: tokio::sync::watch::Sender<bool>,
    grace: Duration,
}

/// What every connection task of a [`Server`] uses.
struct Shared {
    guard: Guard,
    service: crate::layer::GuardService<Proxy>,
    builder: auto::Builder<TokioExecutor>,
    fast: Option<fast::Fast>,
}

impl Server {
    /// A server enforcing `guard` in front of `config.upstream` (its connection pool lives
    /// on the runtime that uses it).
    pub fn new(guard: Guard, config: &ProxyConfig) -> Server {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper closes a connection that sends no complete request head in time: slow
        // senders and idle keep-alive connections (which hold an upstream connection
        // each) are let go.
        builder.http1().timer(TokioTimer::new()).header_read_timeout(config.idle_timeout);
        let proxy = Proxy::new(config, &guard);
        let fast = (config.fast_path && proxy.inner.rewriter.is_none()).then(|| fast::Fast {
            rewrite: wire::RequestRewrite {
                upstream_host: proxy.inner.upstream_host.to_str().unwrap_or("localhost").to_string(),
                base_path: proxy.inner.base_path.clone(),
                trust_forwarded: config.trust_forwarded,
                country_header: guard.country_header().cloned(),
            },
            guard: guard.clone(),
            upstream_addr: proxy.inner.upstream_addr.clone(),
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            idle_timeout: config.idle_timeout,
        });
        Server {
            shared: Arc::new(Shared { service: GuardLayer::new(guard.clone()).layer(proxy), guard, builder, fast }),
            shutdown: tokio::sync::watch::Sender::new(false),
            grace: config.shutdown_grace,
        }
    }

    /// Serve one accepted connection (spawned on the current runtime).
    pub fn serve_connection(&self, stream: tokio::net::TcpStream, addr: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let shared = self.shared.clone();
        let mut shutdown = self.shutdown.subscribe();
        tokio::spawn(async move {
            match &shared.fast {
                Some(fast) => match fast.serve(stream, addr, &mut shutdown).await {
                    fast::Outcome::Closed => {}
                    fast::Outcome::Handoff(io) => shared.serve_hyper(io, addr, shutdown).await,
                },
                None => shared.serve_hyper(stream, addr, shutdown).await,
            }
        });
    }

    /// Let requests in flight finish (up to the configured grace period), then return.
    pub async fn shutdown(self) {
        self.shutdown.send_replace(true);
        if tokio::time::timeout(self.grace, self.shutdown.closed()).await.is_err() {
            tracing::warn!(target: "crumb_proxy", "requests still in flight after the grace period; closing");
        }
    }
}

impl Shared {
    /// Serve a connection with hyper (HTTP/1 and HTTP/2) until it closes; at shutdown,
    /// finish the request in flight and close.
    async fn serve_hyper<I>(&self, io: I, addr: SocketAddr, mut shutdown: tokio::sync::watch::Receiver<bool>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let svc = self.service.clone();
        let visitor = VisitorConn::new(addr);
        let guard = self.guard.clone();
        let hyper_svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            guard.metrics().record_proxied(false);
            req.extensions_mut().insert(visitor.clone());
            svc.clone().oneshot(req)
        });
        let conn = self.builder.serve_connection_with_upgrades(TokioIo::new(io), hyper_svc);
        tokio::pin!(conn);
        let stopping = *shutdown.borrow_and_update();
        if stopping {
            conn.as_mut().graceful_shutdown();
        }
        let result = tokio::select! {
            r = conn.as_mut() => r,
            _ = shutdown.changed(), if !stopping => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(target: "crumb_proxy", error = %e, "connection ended with an error");
        }
    }
}

/// Serve the guarded proxy on `listener` until `shutdown` completes, then let requests in
/// flight finish (up to `config.shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    guard: Guard,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProxyError> {
    let server = Server::new(guard, &config);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(target: "crumb_proxy", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        server.serve_connection(stream, addr);
    }
    drop(listener);
    tracing::info!(target: "crumb_proxy", "shutting down: waiting for requests in flight");
    server.shutdown().await;
    Ok(())
}

/// Serve the guard's counters (`GET /metrics`, Prometheus text format) on `listener`.
pub async fn serve_metrics(listener: TcpListener, guard: Guard) -> Result<(), ProxyError> {
    loop {
        let (stream, _) = listener.accept().await?;
        let guard = guard.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let res = if req.uri().path() == "/metrics" {
                    let mut r = Response::new(
                        Full::new(Bytes::from(guard.metrics().render())).map_err(|n| match n {}).boxed_unsync(),
                    );
                    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
                    r
                } else {
                    error_response(StatusCode::NOT_FOUND, "not_found", "the metrics are at /metrics")
                };
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
