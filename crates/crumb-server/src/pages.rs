//! The policy pages (`/s/{site}/cookie-policy[.md|.json]`) and the machine-readable
//! declaration the banner's second stage reads (`/s/{site}/declaration.json`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::sites::Site;
use crate::state::AppState;

/// `?lang=` for the policy pages.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    /// Language; else the first of the site's languages named in `Accept-Language`; else the default.
    pub lang: Option<String>,
}

fn pick_lang(site: &Site, q: &LangQuery, headers: &HeaderMap) -> Option<String> {
    if q.lang.is_some() {
        return q.lang.clone();
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())?;
    accept.split(',').filter_map(|part| part.split(';').next()).map(|t| t.trim().to_ascii_lowercase()).find_map(|tag| {
        let primary = tag.split('-').next().unwrap_or_default().to_string();
        site.inv
            .site
            .languages
            .iter()
            .find(|l| l.eq_ignore_ascii_case(&tag) || l.eq_ignore_ascii_case(&primary))
            .cloned()
    })
}

async fn policy_page(
    st: AppState,
    site_id: String,
    q: LangQuery,
    headers: HeaderMap,
    format: crumb_policy::Format,
) -> Result<Response, ApiError> {
    let site = st
        .site(&site_id)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{site_id}` is served here")))?;
    let explicit = q.lang.is_some();
    let opts = crumb_policy::RenderOptions {
        format,
        lang: pick_lang(&site, &q, &headers),
        templates: None,
        base_url: st.public_url().map(str::to_string),
    };
    let body = crumb_policy::render(&site.inv, &opts).map_err(|e| match e {
        crumb_policy::PolicyError::UnknownLanguage { .. } if explicit => {
            ApiError::not_found("unknown_language", e.to_string())
        }
        other => {
            tracing::error!(error = %other, site = %site_id, "policy rendering failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "render_failed", "the policy could not be rendered")
        }
    })?;
    let etag = format!("\"{}-{}\"", site.version, format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
            (header::ETAG, etag),
            (header::VARY, "Accept-Language".to_string()),
            (header::HeaderName::from_static("x-crumb-policy-version"), site.version.clone()),
        ],
        body,
    )
        .into_response())
}

pub(crate) async fn policy_html(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Html).await
}

pub(crate) async fn policy_md(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Markdown).await
}

pub(crate) async fn policy_json(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Json).await
}

pub(crate) async fn declaration(State(st): State<AppState>, Path(site_id): Path<String>) -> Result<Response, ApiError> {
    let site = st
        .site(&site_id)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{site_id}` is served here")))?;
    let body = crumb_policy::declaration(&site.inv);
    Ok(([(header::CACHE_CONTROL, "public, max-age=300"), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(body))
        .into_response())
}
