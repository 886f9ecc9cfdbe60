//! Debian's Chromium, headless, against a site behind `crumb proxy` that sets an analytics
//! cookie on the server: after "reject" the browser keeps none, after "accept" it keeps it,
//! and after withdrawing consent it is gone again.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use chromiumoxide::{Browser, BrowserConfig};
use crumb_guard::proxy::{ProxyConfig, serve};
use crumb_guard::{Guard, Settings};
use crumb_testkit::chromium;
use futures::StreamExt;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The page: sets `_plausible` (analytics, HttpOnly so no script can remove it) on every
/// load, and offers the banner's way of recording a decision.
fn page(version: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Shop</title><script>
window.crumbDecide = function (granted) {{
  // Exactly the banner's cookie: 1.<consent id or ->.<policy version>.<granted ~-joined or ->.<unix seconds>
  var value = "1.-.{version}." + (granted.length ? granted.join("~") : "-") + "." + Math.floor(Date.now() / 1000);
  document.cookie = "cookie-consent=" + value + "; Path=/; Max-Age=31536000; SameSite=Lax";
  return value;
}};
</script></head><body><h1>Shop</h1></body></html>"#
    )
}

async fn site(html: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind site");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let html = html.clone();
                    async move {
                        let res = http::Response::builder()
                            .header("content-type", "text/html; charset=utf-8")
                            .header("set-cookie", "_plausible=pv1; Path=/; Max-Age=3600; HttpOnly")
                            .header("cache-control", "no-store")
                            .body(Full::new(Bytes::from(html)))
                            .expect("response");
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    addr
}

async fn cookie_names(browser: &Browser, domain: &str) -> Vec<String> {
    let mut names: Vec<String> = browser
        .get_cookies()
        .await
        .expect("cookies")
        .into_iter()
        .filter(|c| c.domain.trim_start_matches('.') == domain)
        .map(|c| c.name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_keeps_no_analytics_cookie_after_reject_and_keeps_it_after_accept() {
    let exe = chromium::require();
    let inventory = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("valid example");
    let version = crumb_core::policy_version(&inventory);
    let upstream = site(page(&version)).await;
    let guard = Guard::new(inventory, Settings::default()).expect("guard");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let proxy = listener.local_addr().expect("addr");
    let config = ProxyConfig::new(&format!("http://{upstream}")).expect("upstream");
    tokio::spawn(serve(listener, guard.clone(), config, std::future::pending()));

    let profile = chromium::Profile::new().expect("profile");
    let flags = chromium::FLAGS
        .iter()
        .map(|f| f.trim_start_matches("--"))
        .filter(|f| *f != "headless" && *f != "no-sandbox")
        .map(str::to_string)
        .collect::<Vec<_>>();
    let config = BrowserConfig::builder()
        .chrome_executable(exe)
        .no_sandbox()
        .user_data_dir(profile.path())
        .args(flags)
        .launch_timeout(Duration::from_secs(30))
        .build()
        .expect("browser config");
    let (mut browser, mut handler) = Browser::launch(config).await.expect("Chromium starts");
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let url = format!("http://127.0.0.1:{}/", proxy.port());
    let page = browser.new_page(url.as_str()).await.expect("page loads through the proxy");
    assert_eq!(cookie_names(&browser, "127.0.0.1").await, Vec::<String>::new(), "no decision: nothing non-essential");

    // Control: the site itself, reached directly (on `localhost`, a separate cookie jar), does set it.
    let direct =
        browser.new_page(format!("http://localhost:{}/", upstream.port()).as_str()).await.expect("direct page");
    assert_eq!(cookie_names(&browser, "localhost").await, ["_plausible"], "the upstream sets the analytics cookie");
    direct.close().await.expect("close");

    // Reject all, as the banner records it, then browse on.
    let value: String = page.evaluate("crumbDecide([])").await.expect("decide").into_value().expect("string");
    assert!(value.starts_with(&format!("1.-.{version}.-.")), "{value}");
    for _ in 0..2 {
        page.goto(url.as_str()).await.expect("reload");
    }
    assert_eq!(cookie_names(&browser, "127.0.0.1").await, ["cookie-consent"], "after reject: no analytics cookie");
    assert!(guard.metrics().refused("_plausible") >= 3);

    // Accept all.
    page.evaluate("crumbDecide(['functional', 'analytics', 'marketing'])").await.expect("decide");
    page.goto(url.as_str()).await.expect("reload");
    assert_eq!(cookie_names(&browser, "127.0.0.1").await, ["_plausible", "cookie-consent"], "after accept: kept");

    // Withdraw: the HttpOnly cookie no script can remove is expired by the guard.
    page.evaluate("crumbDecide([])").await.expect("decide");
    page.goto(url.as_str()).await.expect("reload");
    assert_eq!(cookie_names(&browser, "127.0.0.1").await, ["cookie-consent"], "after withdrawal: gone");
    // At least once: the browser may send the held cookie on more than one request (favicon).
    assert!(guard.metrics().expired("_plausible") >= 1);

    browser.close().await.expect("close Chromium");
    let _ = browser.wait().await;
    events.abort();
}
