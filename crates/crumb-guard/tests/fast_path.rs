//! `crumb proxy`'s HTTP/1.1 fast path on the wire: keep-alive and pipelining, chunked
//! responses, what it hands to hyper, stale upstream connections, bad upstreams. Raw
//! bytes over real sockets on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use crumb_guard::Settings;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Send `bytes` on a new connection and read until the proxy closes it.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(read.is_ok_and(|r| r.is_ok()), "the proxy did not close the connection; it sent: {text}");
    text
}

/// A hand-written upstream: for each request head it reads, it writes `answer(n)` (n counts
/// requests from 0); with `close_after`, it closes the connection after each answer without
/// saying so. Returns its address and its count of accepted connections.
async fn raw_upstream(answer: fn(usize) -> Vec<u8>, close_after: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let requests = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let n = requests.fetch_add(1, Ordering::SeqCst);
                        if s.write_all(&answer(n)).await.is_err() {
                            return;
                        }
                        if close_after {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn keep_alive_and_pipelined_requests_on_one_upstream_connection() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let out = exchange(
        p.addr,
        b"GET /cookies HTTP/1.1\r\nHost: a.test\r\n\r\n\
          HEAD /html HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /json HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{out}");
    let (first, rest) = out.split_once("cookies").expect("first body");
    assert!(!first.contains("_plausible=") && first.contains("next-auth.session-token="), "{first}");
    // The HEAD response has its Content-Length and no body: the next response follows at once.
    assert!(rest.contains(&format!("content-length: {}\r\n", HTML.len())), "{rest}");
    assert!(!rest.contains("<html>"), "a HEAD response carried a body: {rest}");
    assert!(rest.contains("\r\nconnection: close\r\n"), "{rest}");
    assert!(rest.ends_with("{\"head\":\"</head>\"}"), "{rest}");
    assert_eq!(p.guard.metrics().proxied(true), 3);
    assert_eq!(p.guard.metrics().proxied(false), 0);
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn what_the_fast_path_does_not_take_goes_through_hyper() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    // A chunked request body after a plain GET on the same connection: handed over mid-connection.
    let out = exchange(
        p.addr,
        b"GET /cookies HTTP/1.1\r\nHost: a.test\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
    assert!(out.contains("cookies") && out.ends_with("hello world"), "{out}");
    assert_eq!((p.guard.metrics().proxied(true), p.guard.metrics().proxied(false)), (1, 1));

    // HTTP/1.0: hyper, and still guarded.
    let out = exchange(p.addr, b"GET /cookies HTTP/1.0\r\nHost: a.test\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n") && out.ends_with("cookies"), "{out}");
    assert!(!out.contains("_plausible="), "{out}");
    assert_eq!(p.guard.metrics().proxied(false), 2);
    // Without a Host to tell, a visitor's X-Forwarded-Host is not passed on either.
    let out = exchange(p.addr, b"GET /headers HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\n\r\n").await;
    assert!(out.contains("x-forwarded-proto: http") && !out.contains("evil.example"), "{out}");
    assert_eq!(p.guard.metrics().proxied(false), 3);

    // A body larger than the fast path buffers: hyper streams it.
    let big = vec![b'x'; 200 * 1024];
    let req =
        http::Request::post(format!("http://{}/echo", p.addr)).body(Full::new(Bytes::from(big.clone()))).expect("req");
    let res = client().request(req).await.expect("response");
    assert_eq!(res.into_body().collect().await.expect("body").to_bytes().len(), big.len());
    assert_eq!(p.guard.metrics().proxied(false), 4);

    // A small body stays on the fast path.
    let req =
        http::Request::post(format!("http://{}/echo", p.addr)).body(Full::new(Bytes::from("small"))).expect("req");
    let res = client().request(req).await.expect("response");
    assert_eq!(&res.into_body().collect().await.expect("body").to_bytes()[..], b"small");
    assert_eq!(p.guard.metrics().proxied(true), 2);
}

#[tokio::test]
async fn ambiguous_framing_never_reaches_the_upstream() {
    let (addr, accepted) = raw_upstream(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), false).await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    for attack in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let out = exchange(p.addr, attack).await;
        assert!(out.starts_with("HTTP/1.1 400"), "{}: {out}", String::from_utf8_lossy(attack));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing was forwarded");
}

#[tokio::test]
async fn chunked_responses_stream_through_unchanged() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let req = http::Request::get(format!("http://{}/html-chunked", p.addr)).body(Full::new(Bytes::new())).expect("req");
    let res = client().request(req).await.expect("response");
    assert_eq!(res.headers().get("transfer-encoding").and_then(|v| v.to_str().ok()), Some("chunked"));
    let mut body = res.into_body();
    let mut got = read_until(&mut body, "first", "first chunks before the upstream finishes").await;
    up.gate.go.notify_one();
    got.extend_from_slice(&body.collect().await.expect("rest").to_bytes());
    assert_eq!(got, b"<html><head><title>Shop</title></head><body>first and last</body></html>");
    assert_eq!(p.guard.metrics().proxied(true), 1);
}

#[tokio::test]
async fn a_closed_idle_upstream_connection_is_replaced() {
    // The upstream closes every connection after one answer, without `Connection: close`.
    let (addr, accepted) = raw_upstream(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), true).await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    let stream = TcpStream::connect(p.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    for i in 0..4 {
        if i % 2 == 1 {
            // Give the upstream's close time to arrive (the other requests race with it).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sender.ready().await.expect("the visitor connection stays open");
        let req = http::Request::post("/").header("host", "a").body(Full::new(Bytes::from("data"))).expect("req");
        let res = sender.send_request(req).await.expect("response");
        assert_eq!(res.status(), 200, "request {i}");
        assert_eq!(&res.into_body().collect().await.expect("body").to_bytes()[..], b"ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn bodies_until_close_and_invalid_upstream_answers() {
    let (addr, _) =
        raw_upstream(|_| b"HTTP/1.1 200 OK\r\nset-cookie: _plausible=1\r\n\r\nall of it".to_vec(), true).await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    let out = exchange(p.addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(out.contains("\r\nconnection: close\r\n") && out.ends_with("\r\n\r\nall of it"), "{out}");
    assert!(!out.contains("_plausible"), "{out}");

    let (addr, _) = raw_upstream(|_| b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n".to_vec(), false).await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    let out = exchange(p.addr, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{out}");
    assert!(out.contains("\"code\":\"upstream_unavailable\""), "{out}");

    // Conflicting lengths from the upstream are not passed on.
    let (addr, _) =
        raw_upstream(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!".to_vec(), false).await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    let out = exchange(p.addr, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{out}");
}

#[tokio::test]
async fn interim_responses_are_forwarded_without_cookies() {
    let (addr, _) = raw_upstream(
        |_| {
            b"HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\nset-cookie: _fbp=1\r\n\r\n\
              HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                .to_vec()
        },
        false,
    )
    .await;
    let p = proxy(addr, guard(false, Settings::default()), |_| {}).await;
    let out = exchange(p.addr, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert!(
        out.starts_with("HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{out}"
    );
    assert!(!out.contains("_fbp") && out.ends_with("ok"), "{out}");
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_handed_to_hyper() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let h2: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).http2_only(true).build_http();
    for _ in 0..2 {
        let req = http::Request::get(format!("http://{}/cookies", p.addr)).body(Full::new(Bytes::new())).expect("req");
        let res = h2.request(req).await.expect("an HTTP/2 response");
        assert_eq!(res.version(), http::Version::HTTP_2);
        assert_eq!(set_cookie_names(res.headers()), ["mystery", "next-auth.session-token"]);
        assert_eq!(&res.into_body().collect().await.expect("body").to_bytes()[..], b"cookies");
    }
    assert_eq!((p.guard.metrics().proxied(true), p.guard.metrics().proxied(false)), (0, 2));
}
