//! The tower layer in an axum app on 127.0.0.1: handlers see the consent state, responses
//! lose refused cookies.

mod common;

use axum::routing::get;
use axum::{Extension, Router};
use common::{get as http_get, guard, set_cookie_names};
use crumb_core::consent::{Basis, ConsentState};
use crumb_guard::{GuardLayer, Settings};

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
