//! A tab that crashes is a report entry, not the end of the scan: the phase reports the
//! failure within its timeout and the same browser goes on to scan the next page.

use std::time::{Duration, Instant};

use crumb_scan::model::Phase;
use crumb_scan::observe::{VisitOptions, visit};

fn options() -> VisitOptions {
    VisitOptions {
        page_timeout: Duration::from_secs(8),
        quiet: Duration::from_millis(200),
        max_settle: Duration::from_secs(2),
        banner_wait: Duration::from_millis(300),
        accept_selector: None,
        reject_selector: None,
        categories: Vec::new(),
        screenshots: false,
        first_party: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_tab_is_reported_and_the_browser_goes_on() {
    let exe = crumb_testkit::chromium::require();
    let running = crumb_scan::browser::launch(&exe, false).await.expect("Chromium starts");
    let opts = options();

    // chrome://crash makes the renderer process crash on navigation.
    let crash = url::Url::parse("chrome://crash").expect("url");
    let started = Instant::now();
    let v = visit(&running.browser, &crash, Phase::BeforeConsent, "127.0.0.1", &opts).await;
    assert!(started.elapsed() < Duration::from_secs(60), "a crashed tab must not hang the scan");
    assert!(!v.result.errors.is_empty(), "the crash is reported: {:#?}", v.result);
    eprintln!("crashed tab reported as: {:?}", v.result.errors);

    // The same browser scans a healthy page afterwards.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|| async {
                (
                    [(axum::http::header::SET_COOKIE, "after_crash=1; Path=/")],
                    axum::response::Html("<!doctype html><title>ok</title>"),
                )
            }),
        );
        let _ = axum::serve(listener, app).await;
    });
    let ok = url::Url::parse(&format!("http://127.0.0.1:{}/", addr.port())).expect("url");
    let v = visit(&running.browser, &ok, Phase::BeforeConsent, "127.0.0.1", &opts).await;
    assert!(v.result.errors.is_empty(), "{:?}", v.result.errors);
    assert!(v.result.observed.iter().any(|o| o.name == "after_crash"), "{:#?}", v.result.observed);
    running.close().await;
}
