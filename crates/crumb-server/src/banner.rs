//! `GET /s/{site}/banner.js` and `/s/{site}/banner-more.js` (`declaration.json`, which the
//! banner fetches on demand, is served by [`crate::pages`]).
//!
//! Serving is a lookup: each site's banner is built once per consent mode (and rebuilt only
//! when its policy version or covered versions change, e.g. after a SIGHUP reload) with
//! `crumb_banner::SiteBanner`, which precompresses gzip and brotli and hashes a strong ETag.
//! A request picks the mode from the site's country header, the encoding from
//! `Accept-Encoding`, and answers 304 to a matching `If-None-Match`.
//!
//! Caching: the unversioned URL is `public, max-age=300, stale-while-revalidate=60` (a CDN
//! picks up a new policy version within five minutes, revalidating with the ETag); the
//! pinned URL the snippet prints (`?v=<etag>`) is immutable while it names the current bytes.
//! `Vary: Accept-Encoding`, plus the country header for a `by_country` site.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use crumb_banner::{Asset, ClientContext, SiteBanner};
use crumb_core::inventory::RegionalMode;

use crate::error::ApiError;
use crate::sites::Site;
use crate::state::AppState;

/// Site id and whether the mode is opt-out.
type Key = (String, bool);

/// Cache of built banners, keyed by site id and mode.
#[derive(Clone, Default)]
pub struct BannerCache {
    built: Arc<RwLock<HashMap<Key, Arc<Built>>>>,
}

/// One site's built artefacts for one mode, with what they were built from.
pub struct Built {
    version: String,
    covered: Vec<String>,
    /// Both stages.
    pub banner: SiteBanner,
}

/// Build a site's banner as served (relative URLs: the script resolves them against its own `src`).
pub fn build(site: &Site, mode: RegionalMode) -> Result<Built, crumb_banner::BuildError> {
    let ctx = ClientContext {
        base_url: String::new(),
        version: site.version.clone(),
        valid_versions: site.covered.clone(),
        mode,
        region: None,
    };
    let banner = SiteBanner::for_site(&site.inv, &ctx)?;
    Ok(Built { version: site.version.clone(), covered: site.covered.clone(), banner })
}

impl BannerCache {
    /// The built banner of `site` for `mode`, building it on first use or after a change.
    pub fn get(&self, site: &Site, mode: RegionalMode) -> Result<Arc<Built>, ApiError> {
        let key = (site.inv.site.id.clone(), mode == RegionalMode::OptOut);
        if let Ok(map) = self.built.read()
            && let Some(b) = map.get(&key)
            && b.version == site.version
            && b.covered == site.covered
        {
            return Ok(b.clone());
        }
        let b = Arc::new(build(site, mode).map_err(|e| {
            tracing::error!(error = %e, site = %site.inv.site.id, "building the banner failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "banner_build_failed", e.to_string())
        })?);
        if let Ok(mut map) = self.built.write() {
            map.insert(key, b.clone());
        }
        Ok(b)
    }
}

/// The banner routes, merged into [`crate::router`].
pub fn routes(cache: BannerCache) -> Router<AppState> {
    Router::new()
        .route("/s/{site}/banner.js", get(banner_js))
        .route("/s/{site}/banner-more.js", get(more_js))
        .layer(Extension(cache))
}

#[derive(serde::Deserialize)]
struct Pin {
    v: Option<String>,
}

fn lookup(
    st: &AppState,
    cache: &BannerCache,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Arc<Site>, Arc<Built>), ApiError> {
    let site =
        st.site(id).ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{id}` is served here")))?;
    let (_, mode) = st.region_and_mode(&site, headers);
    let built = cache.get(&site, mode)?;
    Ok((site, built))
}

async fn banner_js(
    State(st): State<AppState>,
    Extension(cache): Extension<BannerCache>,
    Path(id): Path<String>,
    Query(pin): Query<Pin>,
    headers: HeaderMap,
) -> Response {
    match lookup(&st, &cache, &id, &headers) {
        Ok((site, b)) => {
            let pinned = pin.v.as_deref().is_some_and(|v| v == b.banner.banner.etag.trim_matches('"'));
            serve(&b.banner.banner, "text/javascript; charset=utf-8", &headers, pinned, vary_for(&site))
        }
        Err(e) => e.into_response(),
    }
}

async fn more_js(
    State(st): State<AppState>,
    Extension(cache): Extension<BannerCache>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match lookup(&st, &cache, &id, &headers) {
        // pinned by the first stage's SRI hash: it may change only when the first stage does
        Ok((site, b)) => serve(&b.banner.more, "text/javascript; charset=utf-8", &headers, false, vary_for(&site)),
        Err(e) => e.into_response(),
    }
}

fn vary_for(site: &Site) -> Option<String> {
    (site.inv.rules.regional_mode == RegionalMode::ByCountry).then(|| site.inv.rules.country_header.clone()).flatten()
}

/// Whether `Accept-Encoding` accepts `coding` (absent or `q=0` means no).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or_default().trim();
            let q_zero = it.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            name.eq_ignore_ascii_case(coding) && !q_zero
        },
    )
}

/// Answer with the best precompressed representation, or 304.
pub fn serve(
    asset: &Asset,
    content_type: &'static str,
    req: &HeaderMap,
    immutable: bool,
    vary: Option<String>,
) -> Response {
    let (body, encoding, suffix) = if accepts(req, "br") {
        (asset.brotli.clone(), Some("br"), "-br")
    } else if accepts(req, "gzip") {
        (asset.gzip.clone(), Some("gzip"), "-gz")
    } else {
        (asset.js.clone(), None, "")
    };
    // a strong ETag per representation
    let etag = format!("\"{}{suffix}\"", asset.etag.trim_matches('"'));
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300, stale-while-revalidate=60"
    };
    let mut h = HeaderMap::new();
    let mut put = |k: HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    put(header::ETAG, &etag);
    put(header::CACHE_CONTROL, cache);
    put(header::VARY, &vary.map(|c| format!("Accept-Encoding, {c}")).unwrap_or_else(|| "Accept-Encoding".into()));
    put(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    put(HeaderName::from_static("cross-origin-resource-policy"), "cross-origin");
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let matches = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    if matches {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    put(header::CONTENT_TYPE, content_type);
    if let Some(e) = encoding {
        put(header::CONTENT_ENCODING, e);
    }
    (StatusCode::OK, h, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn negotiates_encoding_and_etag() {
        let a = Asset::new("console.log('crumb')".into()).expect("asset");
        let r = serve(&a, "text/javascript", &hm(&[("accept-encoding", "gzip, deflate, br")]), false, None);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
        let etag = r.headers()[header::ETAG].to_str().expect("etag").to_string();
        assert!(etag.ends_with("-br\""));
        let r = serve(&a, "text/javascript", &hm(&[("accept-encoding", "br;q=0, gzip")]), false, None);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let r = serve(&a, "text/javascript", &hm(&[]), false, Some("CF-IPCountry".into()));
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(r.headers()[header::VARY], "Accept-Encoding, CF-IPCountry");
        assert!(r.headers()[header::CACHE_CONTROL].to_str().expect("cc").contains("max-age=300"));
        let r = serve(&a, "text/javascript", &hm(&[("accept-encoding", "br"), ("if-none-match", &etag)]), true, None);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.headers()[header::CACHE_CONTROL].to_str().expect("cc").contains("immutable"));
        // the gzip representation does not match the brotli ETag
        let r =
            serve(&a, "text/javascript", &hm(&[("accept-encoding", "gzip"), ("if-none-match", &etag)]), false, None);
        assert_eq!(r.status(), StatusCode::OK);
    }
}
