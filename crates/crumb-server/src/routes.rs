//! The router: which path goes to which handler, plus the middleware every route shares
//! (request metrics, CORS for the consent API) and the small operational handlers
//! (health, readiness, metrics, OpenAPI, GPC). Handlers live in [`crate::consent`],
//! [`crate::pages`], [`crate::banner`] and [`crate::stats`]; none of them imports from here.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::consent::{get_history, post_consent};
use crate::error::ApiError;
use crate::net;
use crate::pages::{declaration, policy_html, policy_json, policy_md};
use crate::state::AppState;
use crate::stats::get_stats;

/// The router: every route of `crumb serve` (the banner's included, see [`crate::banner`])
/// except the dashboard.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router with `extra` routes merged in (the banner's `/s/{site}/banner.js`, the
/// dashboard's `/admin/...`); they get the same state, metrics and error fallback.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/consents", post(post_consent).options(preflight))
        .route("/api/v1/consents/{consent_id}", get(get_history).options(preflight))
        .layer(middleware::from_fn_with_state(state.clone(), cors));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/.well-known/gpc.json", get(gpc))
        .route("/s/{site}/cookie-policy", get(policy_html))
        .route("/s/{site}/cookie-policy.md", get(policy_md))
        .route("/s/{site}/cookie-policy.json", get(policy_json))
        .route("/s/{site}/declaration.json", get(declaration))
        // Server to server, behind an API key: no CORS.
        .route("/api/v1/stats", get(get_stats))
        // Public, cacheable, no personal data.
        .route("/api/v1/ledger/tree-head", get(crate::proofs::get_tree_head))
        .route("/api/v1/ledger/consistency", get(crate::proofs::get_consistency))
        .merge(api)
        .merge(crate::banner::routes(crate::banner::BannerCache::default()))
        .merge(extra)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route; see /openapi.json")
}

async fn count(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "other".into());
    let resp = next.run(req).await;
    st.metrics().request(&route, resp.status().as_u16());
    resp
}

/// Whether any site declares `origin`.
fn any_site_allows(st: &AppState, origin: &str) -> bool {
    st.sites().by_id.values().any(|s| net::origin_allowed(&s.inv, origin, st.dev()))
}

async fn cors(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let allowed = origin.as_deref().is_some_and(|o| any_site_allows(&st, o));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Some(o) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
    }
    resp
}

async fn preflight(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !any_site_allows(&st, origin) {
        return ApiError::new(StatusCode::FORBIDDEN, "origin_not_allowed", "this origin is not declared by any site")
            .into_response();
    }
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

async fn readyz(State(st): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), st.storage().ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        _ => ApiError::unavailable("the database is not reachable").into_response(),
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.metrics().render(st.ledger().metrics(), st.sites().by_id.len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

async fn gpc(State(st): State<AppState>) -> Response {
    let sites = st.sites();
    let last = sites.by_id.values().map(|s| s.inv.site.effective_date.clone()).max();
    let honors = sites.by_id.values().all(|s| s.inv.rules.gpc == crumb_core::inventory::SignalRule::Honor);
    let mut body = serde_json::json!({ "gpc": honors && !sites.by_id.is_empty() });
    if let Some(d) = last {
        body["lastUpdate"] = d.into();
    }
    ([(header::CACHE_CONTROL, "max-age=3600")], Json(body)).into_response()
}
