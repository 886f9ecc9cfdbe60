//! `crumb proxy`'s server: injection, headers, streaming, errors, WebSockets, shutdown.

mod common;

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use crumb_guard::Settings;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};

/// The page as a visitor without a choice gets it: the banner tag first in `<head>`, and the
/// root marked as rewritten (the leadsgen inventory has services to hold back).
fn expected_html() -> String {
    HTML.replacen("<html>", "<html data-crumb-rewritten=\"\">", 1).replacen(
        "<head>",
        &format!("<head><script src=\"{BANNER}\" nonce=\"{NONCE}\"></script>"),
        1,
    )
}

async fn injecting() -> (Upstream, Proxied) {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |c| c.inject_banner = Some(BANNER.into())).await;
    (up, p)
}

#[tokio::test]
async fn injects_into_plain_html_with_the_csp_nonce() {
    let (_up, p) = injecting().await;
    let (res, body) = get(p.addr, "/html", &[]).await;
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), expected_html());
    assert!(res.headers.get("content-length").is_none_or(|l| l.to_str().ok() == Some(&body.len().to_string())));
    assert_eq!(res.headers.get("etag").and_then(|v| v.to_str().ok()), Some("W/\"v1\""));
}

#[tokio::test]
async fn injects_into_gzip_html_and_keeps_it_gzip() {
    let (_up, p) = injecting().await;
    let (res, body) = get(p.addr, "/html-gzip", &[("accept-encoding", "gzip")]).await;
    assert_eq!(res.headers.get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain).expect("valid gzip");
    assert_eq!(plain, expected_html());
}

#[tokio::test]
async fn injects_into_brotli_html_and_keeps_it_brotli() {
    let (_up, p) = injecting().await;
    let (res, body) = get(p.addr, "/html-br", &[("accept-encoding", "br")]).await;
    assert_eq!(res.headers.get("content-encoding").and_then(|v| v.to_str().ok()), Some("br"));
    let mut plain = String::new();
    brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut plain).expect("valid brotli");
    assert_eq!(plain, expected_html());
}

#[tokio::test]
async fn injects_into_chunked_html_while_streaming() {
    let (up, p) = injecting().await;
    let req = http::Request::get(format!("http://{}/html-chunked", p.addr)).body(Full::new(Bytes::new())).expect("req");
    let res = client().request(req).await.expect("response");
    let mut body = res.into_body();
    // The page so far arrives (tag included) while the upstream is still holding the rest.
    let mut got = read_until(&mut body, "first", "first bytes before the upstream finishes").await;
    up.gate.go.notify_one();
    let rest = body.collect().await.expect("rest").to_bytes();
    got.extend_from_slice(&rest);
    assert_eq!(
        String::from_utf8(got).expect("utf-8"),
        format!(
            "<html data-crumb-rewritten=\"\"><head><script src=\"{BANNER}\" nonce=\"{NONCE}\"></script><title>Shop</title></head><body>first and last</body></html>"
        )
    );
}

#[tokio::test]
async fn holds_back_trackers_the_visitor_has_not_granted() {
    let (_up, p) = injecting().await;
    let (res, body) = get(p.addr, "/tracked", &[]).await;
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), tracked_held(Some(NONCE)));
    assert_eq!(res.headers.get("vary").and_then(|v| v.to_str().ok()), Some("Cookie, Sec-GPC"));
    // Analytics granted: Plausible runs, marketing still waits.
    let (_, body) = get(p.addr, "/tracked", &[("cookie", &consent_cookie("analytics"))]).await;
    let body = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(
        body.contains("<script defer data-domain=\"shop\" src=\"https://plausible.io/js/script.js\"></script>"),
        "{body}"
    );
    assert!(body.contains("data-crumb-service=\"google-ads\"") && body.contains("data-crumb-service=\"meta-pixel\""));
    // Everything granted: the page as the upstream sent it, with the banner tag only.
    let (_, body) = get(p.addr, "/tracked", &[("cookie", &consent_cookie("functional~analytics~marketing"))]).await;
    let tag = format!("<head><script src=\"{BANNER}\" nonce=\"{NONCE}\"></script>");
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), TRACKED.replacen("<head>", &tag, 1));
    // --no-rewrite-html: the banner tag only, for everyone.
    let up = upstream().await;
    let tag_only = proxy(up.addr, guard(false, Settings::default()), |c| {
        c.inject_banner = Some(BANNER.into());
        c.rewrite_html = Some(false);
    })
    .await;
    let (_, body) = get(tag_only.addr, "/tracked", &[]).await;
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), TRACKED.replacen("<head>", &tag, 1));
}

#[tokio::test]
async fn leaves_non_html_and_head_requests_alone() {
    let (_up, p) = injecting().await;
    let (_, body) = get(p.addr, "/json", &[]).await;
    assert_eq!(&body[..], b"{\"head\":\"</head>\"}");
    let req = http::Request::head(format!("http://{}/html", p.addr)).body(Full::new(Bytes::new())).expect("req");
    let res = client().request(req).await.expect("response");
    assert_eq!(
        res.headers().get("content-length").and_then(|v| v.to_str().ok()),
        Some(HTML.len().to_string().as_str())
    );
    // Without --inject-banner pages pass unchanged.
    let up = upstream().await;
    let plain = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let (_, body) = get(plain.addr, "/html", &[]).await;
    assert_eq!(&body[..], HTML.as_bytes());
}

#[tokio::test]
async fn forwards_headers_correctly() {
    for fast_path in [true, false] {
        forwards_headers_on_one_path(fast_path).await;
    }
}

async fn forwards_headers_on_one_path(fast_path: bool) {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |c| c.fast_path = fast_path).await;
    let (res, body) = get(
        p.addr,
        "/headers?q=1",
        &[
            ("host", "shop.leadsgen.app"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("proxy-authorization", "Basic abc"),
            ("te", "trailers"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-app", "kept"),
        ],
    )
    .await;
    let seen = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(seen.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http"), "{seen}");
    assert!(seen.contains("x-forwarded-host: shop.leadsgen.app"), "{seen}");
    assert!(seen.contains("x-app: kept"), "{seen}");
    for gone in ["x-secret-hop", "proxy-authorization", "te:"] {
        assert!(!seen.contains(gone), "{gone} forwarded: {seen}");
    }
    assert!(res.headers.get("keep-alive").is_none(), "hop-by-hop response header forwarded");

    // A spoofed X-Forwarded-Proto is overwritten, unless the front proxy is trusted.
    let spoof = [("x-forwarded-proto", "https"), ("x-forwarded-host", "evil.example")];
    let (_, body) = get(p.addr, "/headers", &spoof).await;
    let seen = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(seen.lines().any(|l| l == "x-forwarded-proto: http") && !seen.contains("evil.example"), "{seen}");
    let trusting = proxy(up.addr, guard(false, Settings::default()), |c| {
        c.trust_forwarded = true;
        c.fast_path = fast_path;
    })
    .await;
    let (_, body) = get(trusting.addr, "/headers", &spoof).await;
    let seen = String::from_utf8(body.to_vec()).expect("utf-8");
    assert!(seen.contains("x-forwarded-proto: https") && seen.contains("x-forwarded-host: evil.example"), "{seen}");
    let m = p.guard.metrics();
    assert_eq!((m.proxied(fast_path), m.proxied(!fast_path)), (2, 0), "fast path {fast_path}");
}

#[tokio::test]
async fn one_upstream_connection_per_visitor_connection_and_idle_ones_are_closed() {
    use std::sync::atomic::Ordering;
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |c| c.idle_timeout = Duration::from_secs(1)).await;
    let stream = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    let visitor = tokio::spawn(conn);
    for i in 0..5 {
        sender.ready().await.expect("keep-alive connection ready");
        let req = http::Request::get(format!("/headers?i={i}"))
            .header("host", "leadsgen.app")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let res = sender.send_request(req).await.expect("response");
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.expect("body").to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("x-forwarded-for: 127.0.0.1"), "{body:?}");
    }
    assert_eq!(
        up.connections.load(Ordering::SeqCst),
        1,
        "five requests on one visitor connection, one upstream connection"
    );
    // A second visitor connection gets its own upstream connection.
    let _ = get(p.addr, "/headers", &[]).await;
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    // An idle visitor connection is closed after the idle timeout.
    tokio::time::timeout(Duration::from_secs(5), visitor)
        .await
        .expect("the proxy closes an idle connection")
        .expect("connection task")
        .expect("closed cleanly");
}

#[tokio::test]
async fn streams_large_request_bodies_both_ways() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let big = vec![b'x'; 3 * 1024 * 1024];
    let c = client();
    for _ in 0..3 {
        let req = http::Request::post(format!("http://{}/echo", p.addr))
            .body(Full::new(Bytes::from(big.clone())))
            .expect("req");
        let res = c.request(req).await.expect("response");
        let got = res.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(got.len(), big.len());
    }
}

#[tokio::test]
async fn answers_502_and_504_with_json() {
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let p = proxy(free, guard(false, Settings::default()), |_| {}).await;
    let (res, body) = get(p.addr, "/", &[]).await;
    assert_eq!(res.status, 502);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(v["error"]["code"], "upstream_unavailable");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("--upstream")));

    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |c| c.timeout = Duration::from_millis(300)).await;
    let (res, body) = get(p.addr, "/slow", &[]).await;
    assert_eq!(res.status, 504);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json body");
    assert_eq!(v["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn shuts_down_gracefully() {
    let up = upstream().await;
    let mut p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let addr = p.addr;
    let in_flight = tokio::spawn(async move { get(addr, "/slow", &[]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.stop.take().expect("stop handle").send(()).expect("proxy running");
    let (res, body) = in_flight.await.expect("request task");
    assert_eq!((res.status.as_u16(), &body[..]), (200, &b"slow"[..]), "the request in flight finished");
    tokio::time::timeout(Duration::from_secs(5), p.done).await.expect("proxy stopped").expect("cleanly");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn websocket_echo_through_the_proxy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind ws upstream");
    let ws_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        let _ = ws.send(msg).await;
                    }
                }
            });
        }
    });
    let p = proxy(ws_addr, guard(false, Settings::default()), |_| {}).await;
    let (mut ws, res) =
        tokio_tungstenite::connect_async(format!("ws://{}/socket", p.addr)).await.expect("handshake through the proxy");
    assert_eq!(res.status(), 101);
    for i in 0..3 {
        let text = format!("hello {i}");
        ws.send(tokio_tungstenite::tungstenite::Message::text(text.clone())).await.expect("send");
        let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("echo in time")
            .expect("a message")
            .expect("ok");
        assert_eq!(echo.into_text().expect("text").as_str(), text);
    }
    ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![0u8, 1, 2, 255])).await.expect("send");
    let echo = ws.next().await.expect("a message").expect("ok");
    assert_eq!(echo.into_data().to_vec(), vec![0u8, 1, 2, 255]);
}
