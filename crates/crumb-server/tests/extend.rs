//! The router can be extended (as the banner and dashboard crates do) and served in-process
//! on 127.0.0.1:0.

use std::io::{Read, Write};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use crumb_server::{AppState, Server, ServerConfig, router_with};

fn get_text(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_routes_share_state_metrics_and_fallback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leadsgen.toml");
    let cfg = ServerConfig::new(vec![inv], dir.path().join("data"));
    let server = Server::start(cfg).await.expect("server starts");
    let extra: Router<AppState> = Router::new().route(
        "/s/{site}/extra",
        get(|State(st): State<AppState>, Path(site): Path<String>| async move {
            st.site(&site).map(|s| format!("covered={}", s.covered.join(","))).unwrap_or_else(|| "none".into())
        }),
    );
    let router = router_with(server.state(), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_router(listener, router, async {
        let _ = rx.await;
    }));
    let (banner, metrics, missing) = tokio::task::spawn_blocking(move || {
        (get_text(port, "/s/leadsgen/extra"), get_text(port, "/metrics"), get_text(port, "/nope"))
    })
    .await
    .expect("client");
    let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("parses");
    assert!(banner.contains(&format!("covered={}", crumb_core::policy_version(&inv))), "{banner}");
    assert!(metrics.contains("route=\"/s/{site}/extra\",status=\"200\""), "{metrics}");
    assert!(missing.starts_with("HTTP/1.1 404") && missing.contains("\"code\":\"not_found\""), "{missing}");
    tx.send(()).expect("shutdown");
    task.await.expect("join").expect("clean stop");
}
