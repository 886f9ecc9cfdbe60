//! The HTTP/1.1 fast path of `crumb proxy`.
//!
//! Each visitor connection is served by one task that reads a request head, rewrites it
//! ([`wire::parse_request`]), sends it on the connection's own upstream connection, reads
//! the response head ([`wire::parse_response`]), lets the guard filter its `Set-Cookie`
//! headers, and forwards the body as it comes (`Content-Length`, chunked as it is, or up to
//! the close). No per-request task, channel, header map of the whole message or body type:
//! what nginx does per request, and about as cheap.
//!
//! It takes only what it can frame without doubt: HTTP/1.1 requests with no body or a
//! `Content-Length` body of up to [`MAX_BODY`] bytes (kept, so a request can be sent
//! again when an idle upstream connection turns out closed). Anything else (HTTP/1.0 and
//! HTTP/2, `Transfer-Encoding`, larger bodies, upgrades, `Expect`, oversized or malformed
//! heads) hands the connection, with the bytes already read, to the hyper path for the
//! rest of its life ([`Outcome::Handoff`]). Banner injection, which rewrites bodies, is
//! always on the hyper path.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::wire::{self, ChunkedScanner, Framing, NotTaken, Parsed, RequestInfo, RequestRewrite, ResponseInfo};
use crate::guard::{Allowed, Guard};

/// Longest request head the fast path reads; a longer one goes to the hyper path.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body the fast path takes; a larger one goes to the hyper path, which
/// streams it.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest response head accepted from the upstream.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Initial size of the per-connection buffers (they grow up to the limits above).
const BUF: usize = 16 * 1024;

/// The fast path's settings, shared by all connections of one proxy.
pub(super) struct Fast {
    pub(super) guard: Guard,
    pub(super) rewrite: RequestRewrite,
    pub(super) upstream_addr: String,
    pub(super) timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) idle_timeout: Duration,
}

/// How a visitor connection left the fast path.
pub(super) enum Outcome {
    /// It is closed (or is to be).
    Closed,
    /// The hyper path serves it from here on, starting with the bytes already read.
    Handoff(Rewind),
}

/// Why a request got no response from the upstream.
enum UpstreamError {
    /// The upstream could not be reached.
    Connect,
    /// It closed the connection or answered something that is not HTTP/1.
    Failed,
    /// A reused connection was closed before any byte of the response came: the request
    /// can be sent again on a new connection.
    Stale,
}

/// A visitor connection's upstream connection and its read buffer.
struct Upstream {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Upstream {
    /// Whether an idle connection can take a request: not closed by the upstream, and no
    /// unexpected bytes waiting. Costs a system call only when the socket has been
    /// reported readable.
    fn is_reusable(&self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

/// Read what is available into `buf`'s spare room (growing it by up to `BUF` bytes).
async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(BUF);
    }
    stream.read_buf(buf).await
}

/// A JSON error response, as [`super::errors::error_response`] writes it.
fn error_bytes(status: &str, code: &str, message: &str, head_method: bool, close: bool) -> Vec<u8> {
    let body = super::errors::error_body(code, message);
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: {}\r\n{}\r\n",
        body.len(),
        if close { "connection: close\r\n" } else { "" }
    )
    .into_bytes();
    if !head_method {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

impl Fast {
    /// Serve a visitor connection until it closes, or until a request the fast path does
    /// not take.
    pub(super) async fn serve(
        &self,
        mut visitor: TcpStream,
        addr: SocketAddr,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Outcome {
        let ip = addr.ip().to_string();
        let mut req: Vec<u8> = Vec::with_capacity(4096);
        let mut up_head: Vec<u8> = Vec::with_capacity(1024);
        let mut res_head: Vec<u8> = Vec::with_capacity(1024);
        let mut consent = HeaderMap::new();
        let mut set_cookies = HeaderMap::new();
        let mut upstream: Option<Upstream> = None;
        loop {
            // The request head, within the idle timeout; an idle connection closes at shutdown.
            let deadline = Instant::now() + self.idle_timeout;
            let info = loop {
                if !req.is_empty() {
                    match wire::parse_request(&req, &self.rewrite, &ip, &mut up_head, &mut consent) {
                        Ok(Parsed::Complete(info)) => break info,
                        Ok(Parsed::Partial) if req.len() < MAX_HEAD => {}
                        Ok(Parsed::Partial) => return Outcome::Handoff(Rewind::new(req, visitor)),
                        Err(NotTaken::BadRequest(why)) => {
                            let message = format!("{why}: an HTTP/1.1 request needs exactly one Host header");
                            let error = error_bytes("400 Bad Request", "bad_request", &message, false, true);
                            let _ = visitor.write_all(&error).await;
                            let _ = visitor.shutdown().await;
                            return Outcome::Closed;
                        }
                        Err(why) => {
                            tracing::trace!(target: "crumb_proxy", %why, "to the hyper path");
                            return Outcome::Handoff(Rewind::new(req, visitor));
                        }
                    }
                } else if *shutdown.borrow() {
                    return Outcome::Closed;
                }
                let idle = req.is_empty();
                let read = tokio::select! {
                    r = tokio::time::timeout_at(deadline, read_more(&mut visitor, &mut req)) => r,
                    _ = shutdown.changed(), if idle => return Outcome::Closed,
                };
                match read {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return Outcome::Closed,
                }
            };
            let body_len = match usize::try_from(info.body_len) {
                Ok(n) if n <= MAX_BODY => n,
                _ => return Outcome::Handoff(Rewind::new(req, visitor)),
            };
            let total = info.head_len + body_len;
            while req.len() < total {
                match tokio::time::timeout_at(deadline, read_more(&mut visitor, &mut req)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return Outcome::Closed,
                }
            }
            up_head.extend_from_slice(&req[info.head_len..total]);

            self.guard.metrics().record_proxied(true);
            let state = self.guard.consent(&consent);
            let allowed = self.guard.allowed(&state);
            let expire = self.guard.refused_in_request(&consent, allowed);

            let exchange = tokio::time::timeout(
                self.timeout,
                self.exchange(&mut upstream, &up_head, &info, &mut visitor, &mut res_head, &mut set_cookies),
            )
            .await;
            let answer = match exchange {
                Ok(Ok(done)) => Ok(done),
                Ok(Err(UpstreamError::Connect)) => {
                    Err(("502 Bad Gateway", "upstream_unavailable", super::errors::UNREACHABLE_MESSAGE))
                }
                Ok(Err(_)) => Err(("502 Bad Gateway", "upstream_unavailable", super::errors::BROKEN_MESSAGE)),
                Err(_elapsed) => Err(("504 Gateway Timeout", "upstream_timeout", super::errors::TIMEOUT_MESSAGE)),
            };
            let (up, res) = match answer {
                Ok(done) => done,
                Err((status, code, message)) => {
                    tracing::warn!(target: "crumb_proxy", message, "upstream request failed");
                    let error = error_bytes(status, code, message, info.head_method, info.close);
                    if visitor.write_all(&error).await.is_err() || info.close {
                        return Outcome::Closed;
                    }
                    req.drain(..total);
                    continue;
                }
            };

            let close = info.close || res.framing == Framing::UntilClose || *shutdown.borrow();
            self.guard_head(&req, &info, allowed, expire.as_deref(), &mut set_cookies, &mut res_head);
            if close {
                res_head.extend_from_slice(b"connection: close\r\n");
            }
            res_head.extend_from_slice(b"\r\n");
            match self.forward_body(up, &res, &mut visitor, &mut res_head).await {
                Ok(reusable) => upstream = reusable,
                Err(Broken) => return Outcome::Closed,
            }
            if close {
                let _ = visitor.shutdown().await;
                return Outcome::Closed;
            }
            req.drain(..total);
        }
    }

    /// Filter the response's `Set-Cookie` headers, expire refused cookies the visitor
    /// still holds, and append what is left to the head.
    fn guard_head(
        &self,
        req: &[u8],
        info: &RequestInfo,
        allowed: Allowed,
        expire: Option<&[(usize, String)]>,
        set_cookies: &mut HeaderMap,
        head: &mut Vec<u8>,
    ) {
        if set_cookies.is_empty() && expire.is_none() {
            return;
        }
        let path = req.get(info.path.clone()).and_then(|p| std::str::from_utf8(p).ok()).unwrap_or("/");
        self.guard.filter(set_cookies, allowed, path);
        if let Some(expire) = expire {
            self.guard.expire(set_cookies, expire, path);
        }
        wire::push_set_cookies(head, set_cookies);
    }

    /// Send the request head (and body) upstream and read the response head, forwarding
    /// interim (`1xx`) responses to the visitor. A reused connection found closed before
    /// any response byte came is replaced once by a new one.
    async fn exchange(
        &self,
        slot: &mut Option<Upstream>,
        request: &[u8],
        info: &RequestInfo,
        visitor: &mut TcpStream,
        head: &mut Vec<u8>,
        set_cookies: &mut HeaderMap,
    ) -> Result<(Upstream, ResponseInfo), UpstreamError> {
        loop {
            let (mut up, reused) = match slot.take() {
                Some(up) if up.is_reusable() => (up, true),
                _ => (self.connect().await?, false),
            };
            up.buf.clear();
            let result = match up.stream.write_all(request).await {
                Ok(()) => self.read_head(&mut up, info.head_method, visitor, head, set_cookies).await,
                Err(_) => Err(UpstreamError::Stale),
            };
            match result {
                Ok(res) => return Ok((up, res)),
                Err(UpstreamError::Stale) if reused => continue,
                Err(UpstreamError::Stale) => return Err(UpstreamError::Failed),
                Err(e) => return Err(e),
            }
        }
    }

    async fn connect(&self) -> Result<Upstream, UpstreamError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.upstream_addr.as_str()))
            .await
            .map_err(|_| UpstreamError::Connect)?
            .map_err(|_| UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(Upstream { stream, buf: Vec::with_capacity(BUF) })
    }

    /// Read the final response head into `up.buf` and rewrite it into `head`.
    async fn read_head(
        &self,
        up: &mut Upstream,
        head_method: bool,
        visitor: &mut TcpStream,
        head: &mut Vec<u8>,
        set_cookies: &mut HeaderMap,
    ) -> Result<ResponseInfo, UpstreamError> {
        let mut interim = false;
        loop {
            if !up.buf.is_empty() {
                match wire::parse_response(&up.buf, head_method, head, set_cookies) {
                    Ok(Parsed::Complete(res)) if res.status < 200 => {
                        // 100 Continue, 103 Early Hints: forwarded (without cookies), then the real head.
                        head.extend_from_slice(b"\r\n");
                        visitor.write_all(head).await.map_err(|_| UpstreamError::Failed)?;
                        up.buf.drain(..res.head_len);
                        interim = true;
                        continue;
                    }
                    Ok(Parsed::Complete(res)) => return Ok(res),
                    Ok(Parsed::Partial) if up.buf.len() < MAX_RESPONSE_HEAD => {}
                    Ok(Parsed::Partial) => return Err(UpstreamError::Failed),
                    Err(why) => {
                        tracing::debug!(target: "crumb_proxy", %why, "upstream response refused");
                        return Err(UpstreamError::Failed);
                    }
                }
            }
            let nothing_yet = up.buf.is_empty() && !interim;
            match read_more(&mut up.stream, &mut up.buf).await {
                Ok(n) if n > 0 => {}
                _ if nothing_yet => return Err(UpstreamError::Stale),
                _ => return Err(UpstreamError::Failed),
            }
        }
    }

    /// Write the head and forward the body. `Err` when the exchange broke off (the visitor
    /// connection must close); `Ok(Some(_))` hands back the upstream connection when it can
    /// take another request (the body came whole and nothing after it).
    async fn forward_body(
        &self,
        mut up: Upstream,
        res: &ResponseInfo,
        visitor: &mut TcpStream,
        out: &mut Vec<u8>,
    ) -> Result<Option<Upstream>, Broken> {
        let after_head = up.buf.get(res.head_len..).unwrap_or_default();
        // Body bytes that came with the head go out in the same write.
        let mut scanner = ChunkedScanner::new();
        let (first, mut remaining) = match res.framing {
            Framing::None => (0, 0),
            Framing::Length(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(after_head.len());
                (take, n - take as u64)
            }
            Framing::Chunked => (scanner.scan(after_head).map_err(|_| Broken)?, 0),
            Framing::UntilClose => (after_head.len(), 0),
        };
        out.extend_from_slice(&after_head[..first]);
        let leftover = after_head.len() - first;
        visitor.write_all(out).await.map_err(|_| Broken)?;
        let more = match res.framing {
            Framing::None => false,
            Framing::Length(_) => remaining > 0,
            Framing::Chunked => !scanner.is_done(),
            Framing::UntilClose => true,
        };
        if !more {
            return Ok((leftover == 0 && !res.upstream_close).then_some(up));
        }
        loop {
            up.buf.clear();
            let n = match tokio::time::timeout(self.timeout, read_more(&mut up.stream, &mut up.buf)).await {
                Ok(Ok(n)) => n,
                _ => return Err(Broken),
            };
            if n == 0 {
                // Only a body delimited by the close may end here.
                return if res.framing == Framing::UntilClose { Ok(None) } else { Err(Broken) };
            }
            let (take, done) = match res.framing {
                Framing::Chunked => {
                    let take = scanner.scan(&up.buf).map_err(|_| Broken)?;
                    (take, scanner.is_done())
                }
                Framing::Length(_) => {
                    let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(n);
                    remaining -= take as u64;
                    (take, remaining == 0)
                }
                _ => (n, false),
            };
            visitor.write_all(&up.buf[..take]).await.map_err(|_| Broken)?;
            if done {
                return Ok((take == up.buf.len() && !res.upstream_close).then_some(up));
            }
        }
    }
}

/// The exchange broke off mid-response: the visitor connection closes.
struct Broken;

/// A visitor connection handed to the hyper path: the bytes the fast path already read,
/// then the socket.
pub(super) struct Rewind {
    prefix: Vec<u8>,
    pos: usize,
    inner: TcpStream,
}

impl Rewind {
    fn new(prefix: Vec<u8>, inner: TcpStream) -> Rewind {
        Rewind { prefix, pos: 0, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
