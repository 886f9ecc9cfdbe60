//! # crumb-guard
//!
//! Server-side enforcement of the visitor's cookie choice. No banner can stop a cookie the
//! server sets; the guard can.
//!
//! - [`GuardLayer`]: a tower layer (axum, hyper, tonic). It reads the consent cookie (name
//!   from the inventory's `banner.cookie_name`), `Sec-GPC`, `DNT` and the trusted country
//!   header, decides with [`crumb_core::consent::decide`], hands the
//!   [`ConsentState`](crumb_core::consent::ConsentState) to handlers as a request extension,
//!   and removes the response's `Set-Cookie` headers for categories not granted (and, by
//!   setting, undeclared cookies), applying declared attributes to the rest.
//! - [`HtmlLayer`]: rewrites HTML pages as they stream ([`html`], with `lol_html`): the
//!   banner tag as the first child of `<head>`, and the scripts, frames, images and preloads
//!   of services whose category the visitor has not granted made inert until the banner
//!   activates them ([`rules`]).
//! - [`proxy`]: both layers behind `crumb proxy`, for any stack.
//! - [`Metrics`]: counters of what was blocked (cookie name, category, reason).
//!
//! ```no_run
//! use axum::{Extension, Router, routing::get};
//! use crumb_core::consent::ConsentState;
//! use crumb_guard::{Guard, GuardLayer, Settings};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let inventory = crumb_core::parse_inventory(&std::fs::read_to_string("crumb.toml")?)
//!     .map_err(|d| format!("invalid inventory: {d:?}"))?;
//! let guard = Guard::new(inventory, Settings::default())?;
//! let app = Router::new()
//!     .route("/", get(|Extension(consent): Extension<ConsentState>| async move {
//!         // Set analytics cookies freely: the guard drops them unless granted.
//!         let analytics = consent.allows("analytics");
//!         (axum::response::AppendHeaders([("set-cookie", "_plausible=1; Path=/")]), format!("analytics allowed: {analytics}"))
//!     }))
//!     .layer(GuardLayer::new(guard));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! A runnable version is `examples/axum.rs`: `cargo run -p crumb-guard --example axum`.

pub mod guard;
pub mod html;
pub mod inject;
pub mod layer;
pub mod metrics;
pub mod proxy;
pub mod rules;

pub use guard::{Allowed, Guard, GuardError, Settings, Undeclared};
pub use layer::{GuardLayer, GuardService, HtmlLayer, HtmlService};
pub use metrics::FilterReport;
pub use metrics::{Metrics, Reason};
pub use rules::{BannerTag, FirstLayer, Plan, Rewriter};
