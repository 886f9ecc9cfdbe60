//! A small axum app behind [`crumb_guard::GuardLayer`].
//!
//! ```text
//! cargo run -p crumb-guard --example axum -- examples/leadsgen.toml
//! curl -i http://127.0.0.1:3000/                       # no decision: only the session cookie
//! curl -i -H 'Cookie: cookie-consent=1.-.v.analytics.'$(date +%s) http://127.0.0.1:3000/
//! ```
//!
//! The handler sets every cookie it likes; the layer removes those the visitor has not
//! granted, fixes the attributes of the rest, and tells the handler what the visitor allows.

use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::get;
use axum::{Extension, Router};
use crumb_core::consent::ConsentState;
use crumb_guard::{Guard, GuardLayer, Settings, Undeclared};

async fn home(Extension(consent): Extension<ConsentState>) -> impl IntoResponse {
    let headers = AppendHeaders([
        ("set-cookie", "next-auth.session-token=abc; Path=/"),
        ("set-cookie", "theme=dark; Path=/; Max-Age=31536000"),
        ("set-cookie", "_plausible=1; Path=/"),
        ("set-cookie", "_fbp=fb.1; Path=/; Max-Age=7776000"),
    ]);
    let body = format!(
        "basis: {:?}\nallowed: {}\nanalytics: {}\n",
        consent.basis,
        consent.allowed.iter().cloned().collect::<Vec<_>>().join(", "),
        consent.allows("analytics"),
    );
    (headers, body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("crumb_guard=info").init();
    let path = std::env::args().nth(1).unwrap_or_else(|| "examples/leadsgen.toml".into());
    let src = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let inventory =
        crumb_core::parse_inventory(&src).map_err(|d| format!("{path}: run `crumb check {path}`: {d:?}"))?;
    let guard = Guard::new(inventory, Settings { undeclared: Undeclared::Block, ..Settings::default() })?;
    let metrics = guard.clone();
    let app = Router::new()
        .route("/", get(home))
        .route("/metrics", get(move || async move { metrics.metrics().render() }))
        .layer(GuardLayer::new(guard));
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
