//! The tower layers in an axum app on 127.0.0.1: handlers see the consent state, responses
//! lose refused cookies, pages hold back trackers the visitor has not granted.

mod common;

use axum::routing::get;
use axum::{Extension, Router};
use common::{BANNER, TRACKED, consent_cookie, get as http_get, guard, set_cookie_names, tracked_held};
use crumb_core::consent::{Basis, ConsentState};
use crumb_guard::{BannerTag, GuardLayer, HtmlLayer, Settings};

#[tokio::test]
async fn axum_handlers_see_consent_and_refused_cookies_are_dropped() {
    let app = Router::new()
        .route(
            "/",
            get(|Extension(c): Extension<ConsentState>| async move {
                (
                    axum::response::AppendHeaders([
                        ("set-cookie", "_plausible=1; Path=/"),
                        ("set-cookie", "theme=dark; Path=/"),
                    ]),
                    format!("{:?} analytics={} functional={}", c.basis, c.allows("analytics"), c.allows("functional")),
                )
            }),
        )
        .layer(GuardLayer::new(guard(false, Settings::default())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let (res, body) = http_get(addr, "/", &[]).await;
    assert_eq!(&body[..], format!("{:?} analytics=false functional=false", Basis::NoDecisionOptIn).as_bytes());
    assert_eq!(set_cookie_names(&res.headers), Vec::<String>::new());

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let cookie = format!("cookie-consent=1.-.abc.analytics.{now}");
    let (res, body) = http_get(addr, "/", &[("cookie", &cookie), ("sec-gpc", "1")]).await;
    assert_eq!(&body[..], format!("{:?} analytics=true functional=false", Basis::Decision).as_bytes());
    assert_eq!(set_cookie_names(&res.headers), ["_plausible"]);
}

#[tokio::test]
async fn axum_pages_hold_back_trackers_until_granted() {
    let g = guard(false, Settings::default());
    let app = Router::new()
        .route("/", get(|| async { axum::response::Html(TRACKED) }))
        .route(
            "/gz",
            get(|| async {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut e, TRACKED.as_bytes()).expect("gzip");
                ([("content-type", "text/html"), ("content-encoding", "gzip")], e.finish().expect("gzip"))
            }),
        )
        .layer(HtmlLayer::new(&g, Some(BannerTag::script(BANNER))))
        .layer(GuardLayer::new(g));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let (_, body) = http_get(addr, "/", &[]).await;
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), tracked_held(None));
    let (res, body) = http_get(addr, "/gz", &[]).await;
    assert_eq!(res.headers.get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"));
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).expect("gzip");
    assert_eq!(plain, tracked_held(None));
    let (_, body) = http_get(addr, "/", &[("cookie", &consent_cookie("functional~analytics~marketing"))]).await;
    let expected = TRACKED.replacen("<head>", &format!("<head><script src=\"{BANNER}\"></script>"), 1);
    assert_eq!(std::str::from_utf8(&body).expect("utf-8"), expected);
}
