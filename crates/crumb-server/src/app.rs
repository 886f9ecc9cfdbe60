//! Shared state, the router and the handlers.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use crumb_core::inventory::RegionalMode;
use crumb_ledger::export::rfc3339;
use crumb_ledger::{AppendError, Entry, Ledger, Record, Storage, now_ms};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::net;
use crate::sites::{Site, Sites};

/// Largest consent body accepted.
pub const MAX_BODY: usize = 8 * 1024;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    sites: RwLock<Arc<Sites>>,
    storage: Arc<dyn Storage>,
    ledger: Ledger,
    anonymiser: net::Anonymiser,
    dev: bool,
    trusted_proxies: Vec<IpAddr>,
    rate_limit: u32,
    rate: Mutex<HashMap<IpAddr, (u64, u32)>>,
    metrics: Metrics,
    public_url: Option<String>,
}

/// Options the state is built from.
pub struct StateOptions {
    /// Storage.
    pub storage: Arc<dyn Storage>,
    /// The writer.
    pub ledger: Ledger,
    /// The IP-hash key.
    pub ip_key: Vec<u8>,
    /// Accept loopback http origins.
    pub dev: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Consent POSTs per minute per address; 0 = off.
    pub rate_limit: u32,
    /// The server's public base URL (`https://consent.example.com`), if configured.
    pub public_url: Option<String>,
}

impl AppState {
    /// Build the state with the loaded sites.
    pub fn new(opts: StateOptions, sites: Sites) -> Self {
        AppState {
            inner: Arc::new(Inner {
                sites: RwLock::new(Arc::new(sites)),
                storage: opts.storage,
                ledger: opts.ledger,
                anonymiser: net::Anonymiser::new(&opts.ip_key),
                dev: opts.dev,
                trusted_proxies: opts.trusted_proxies,
                rate_limit: opts.rate_limit,
                rate: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                public_url: opts.public_url.map(|u| u.trim_end_matches('/').to_string()),
            }),
        }
    }

    /// The current site table (a snapshot; reloads swap it atomically).
    pub fn sites(&self) -> Arc<Sites> {
        self.inner.sites.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// One site.
    pub fn site(&self, id: &str) -> Option<Arc<Site>> {
        self.sites().get(id).cloned()
    }

    /// Replace the site table (SIGHUP).
    pub fn replace_sites(&self, sites: Sites) {
        if let Ok(mut s) = self.inner.sites.write() {
            *s = Arc::new(sites);
        }
    }

    /// Storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The configured public base URL, without a trailing slash.
    pub fn public_url(&self) -> Option<&str> {
        self.inner.public_url.as_deref()
    }

    /// The visitor's address: the peer's, or the forwarding header's behind a trusted proxy.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        net::client_ip(peer, headers, &self.inner.trusted_proxies)
    }

    /// Whether `--dev` is on.
    pub fn dev(&self) -> bool {
        self.inner.dev
    }

    /// The region from the site's trusted country header and the consent mode it implies.
    pub fn region_and_mode(&self, site: &Site, headers: &HeaderMap) -> (Option<String>, RegionalMode) {
        let region = site
            .inv
            .rules
            .country_header
            .as_deref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_uppercase())
            .filter(|v| (2..=6).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphabetic() || c == '-'));
        let mode = crumb_core::consent::mode_for(&site.inv, region.as_deref());
        (region, mode)
    }

    fn rate_limited(&self, ip: IpAddr) -> bool {
        let limit = self.inner.rate_limit;
        if limit == 0 {
            return false;
        }
        let minute = (now_ms() / 60_000) as u64;
        let Ok(mut m) = self.inner.rate.lock() else { return false };
        if m.len() > 100_000 {
            m.retain(|_, (w, _)| *w == minute);
        }
        let slot = m.entry(ip).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += 1;
        slot.1 > limit
    }
}

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
    st.inner.metrics.request(&route, resp.status().as_u16());
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
    let body = st.inner.metrics.render(st.inner.ledger.metrics(), st.sites().by_id.len());
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

async fn policy_html(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Html).await
}

async fn policy_md(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Markdown).await
}

async fn policy_json(
    State(st): State<AppState>,
    Path(site): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    policy_page(st, site, q, headers, crumb_policy::Format::Json).await
}

async fn declaration(State(st): State<AppState>, Path(site_id): Path<String>) -> Result<Response, ApiError> {
    let site = st
        .site(&site_id)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{site_id}` is served here")))?;
    let body = crumb_policy::declaration(&site.inv);
    Ok(([(header::CACHE_CONTROL, "public, max-age=300"), (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(body))
        .into_response())
}

/// What the visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accepted every category.
    AcceptAll,
    /// Refused every optional category.
    RejectAll,
    /// Saved a selection.
    Save,
    /// Withdrew consent.
    Withdraw,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::AcceptAll => "accept_all",
            Action::RejectAll => "reject_all",
            Action::Save => "save",
            Action::Withdraw => "withdraw",
        }
    }
}

/// `POST /api/v1/consents` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// Site id, as in the inventory's `[site] id`.
    pub site: String,
    /// The visitor's consent id from an earlier receipt; absent on the first decision.
    #[serde(default)]
    #[schemars(extend("format" = "uuid"))]
    pub consent_id: Option<String>,
    /// The policy version the banner showed.
    pub policy_version: String,
    /// Choice per category id; required categories may be omitted (they are always true).
    pub choices: BTreeMap<String, bool>,
    /// What the visitor did.
    pub action: Action,
    /// Banner language (BCP 47, like `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// The page's URL; stored without query and fragment.
    #[serde(default)]
    pub url: Option<String>,
}

/// The 201 answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    /// The visitor's consent id.
    #[schemars(extend("format" = "uuid"))]
    pub consent_id: String,
    /// Position on the writer's chain.
    pub seq: i64,
    /// The record's hash (hex SHA-256).
    pub hash: String,
    /// When the record was committed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub recorded_at: String,
    /// When the decision expires and the banner asks again (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
}

fn header_flag(h: &HeaderMap, name: &str) -> bool {
    h.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "1")
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )),
        Err(_) => Err(ApiError::bad_request("the body could not be read")),
    }
}

async fn post_consent(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ip = st.client_ip(peer, &headers);
    if st.rate_limited(ip) {
        return Err(ApiError {
            retry_after: Some(60),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many consent requests; retry later")
        });
    }
    if headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        > Some(MAX_BODY)
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    let bytes = read_body(body).await?;
    let req: ConsentRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not a valid consent request: {e}")))?;
    let site = st
        .site(&req.site)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{}` is served here", req.site)))?;
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !net::origin_allowed(&site.inv, origin, st.dev()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("the request's Origin is not one of site `{}`'s declared origins", req.site),
        ));
    }
    let consent_id = match &req.consent_id {
        Some(id) => uuid::Uuid::parse_str(id)
            .map_err(|_| ApiError::bad_request("consent_id must be a UUID as returned by an earlier receipt"))?
            .hyphenated()
            .to_string(),
        None => uuid::Uuid::now_v7().hyphenated().to_string(),
    };
    if !site.covered.contains(&req.policy_version) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale_policy_version",
            format!(
                "policy version `{}` is not current for site `{}` (current: {}); reload the banner and ask again",
                req.policy_version, req.site, site.version
            ),
        ));
    }
    let choices = validate_choices(&site, &req)?;
    let language = match req.language {
        Some(l) if l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !l.is_empty() => {
            Some(l)
        }
        Some(_) => return Err(ApiError::unprocessable("invalid_language", "language must be a BCP 47 tag like `en`")),
        None => None,
    };
    let url = match req.url.as_deref() {
        Some(u) => Some(net::clean_url(u).ok_or_else(|| {
            ApiError::unprocessable("invalid_url", "url must be the page's http(s) URL, at most 2048 characters")
        })?),
        None => None,
    };
    let (region, mode) = st.region_and_mode(&site, &headers);
    let now = now_ms();
    let entry = Entry {
        consent_id,
        site: site.inv.site.id.clone(),
        policy_version: req.policy_version,
        choices,
        action: req.action.as_str().to_string(),
        gpc: header_flag(&headers, "sec-gpc"),
        dnt: header_flag(&headers, "dnt"),
        region,
        mode: if mode == RegionalMode::OptOut { "opt_out" } else { "opt_in" }.to_string(),
        language,
        url,
        ua_family: net::ua_family(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())).to_string(),
        ip_hash: Some(st.inner.anonymiser.anonymise(ip)),
        recorded_at: now,
        expires_at: now + site.lifetime_ms,
        retain_until: now + site.retain_ms,
    };
    match st.inner.ledger.append(entry).await {
        Ok(r) => {
            tracing::debug!(site = %r.entry.site, seq = r.seq, "consent recorded");
            let receipt = Receipt {
                consent_id: r.entry.consent_id,
                seq: r.seq,
                hash: r.hash,
                recorded_at: rfc3339(r.entry.recorded_at),
                expires_at: rfc3339(r.entry.expires_at),
            };
            Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(receipt)).into_response())
        }
        Err(AppendError::Unavailable) => {
            Err(ApiError::unavailable("the consent could not be stored right now; nothing was recorded, retry shortly"))
        }
        Err(AppendError::Closed) => Err(ApiError::unavailable("the server is shutting down; retry shortly")),
    }
}

fn validate_choices(site: &Site, req: &ConsentRequest) -> Result<BTreeMap<String, bool>, ApiError> {
    let inv = &site.inv;
    if let Some(unknown) = req.choices.keys().find(|k| inv.category(k).is_none()) {
        return Err(ApiError::unprocessable(
            "unknown_category",
            format!("site `{}` has no category `{unknown}`", inv.site.id),
        ));
    }
    let mut out = BTreeMap::new();
    for c in &inv.categories {
        match (c.required, req.choices.get(&c.id)) {
            (true, Some(false)) => {
                return Err(ApiError::unprocessable(
                    "required_category",
                    format!("category `{}` is strictly necessary and cannot be refused", c.id),
                ));
            }
            (true, _) => {
                out.insert(c.id.clone(), true);
            }
            (false, Some(v)) => {
                out.insert(c.id.clone(), *v);
            }
            (false, None) => {
                return Err(ApiError::unprocessable(
                    "missing_category",
                    format!("choices must include category `{}`", c.id),
                ));
            }
        }
    }
    let optional = inv.categories.iter().filter(|c| !c.required).map(|c| out.get(&c.id).copied().unwrap_or(false));
    let consistent = match req.action {
        Action::AcceptAll => optional.clone().all(|v| v),
        Action::RejectAll | Action::Withdraw => optional.clone().all(|v| !v),
        Action::Save => true,
    };
    if !consistent {
        return Err(ApiError::unprocessable(
            "inconsistent_action",
            format!("action `{}` does not match the choices", req.action.as_str()),
        ));
    }
    Ok(out)
}

/// `GET /api/v1/consents/{consent_id}`: every decision under one consent id.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct History {
    /// The consent id asked for.
    pub consent_id: String,
    /// Its decisions, oldest first.
    pub records: Vec<HistoryItem>,
}

/// One record in a visitor's history (no address hash).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct HistoryItem {
    /// Site.
    pub site: String,
    /// Version decided on.
    pub policy_version: String,
    /// Choices.
    pub choices: BTreeMap<String, bool>,
    /// Action.
    pub action: String,
    /// GPC seen.
    pub gpc: bool,
    /// DNT seen.
    pub dnt: bool,
    /// Region.
    pub region: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Page.
    pub url: Option<String>,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub recorded_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
    /// Chain.
    pub chain: String,
    /// Position.
    pub seq: i64,
    /// Hash.
    pub hash: String,
}

impl From<Record> for HistoryItem {
    fn from(r: Record) -> Self {
        HistoryItem {
            site: r.entry.site,
            policy_version: r.entry.policy_version,
            choices: r.entry.choices,
            action: r.entry.action,
            gpc: r.entry.gpc,
            dnt: r.entry.dnt,
            region: r.entry.region,
            language: r.entry.language,
            url: r.entry.url,
            recorded_at: rfc3339(r.entry.recorded_at),
            expires_at: rfc3339(r.entry.expires_at),
            chain: r.chain,
            seq: r.seq,
            hash: r.hash,
        }
    }
}

async fn get_history(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("the consent id must be a UUID"))?
        .hyphenated()
        .to_string();
    let recs = match tokio::time::timeout(Duration::from_secs(5), st.storage().history(&id)).await {
        Ok(Ok(r)) => r,
        _ => return Err(ApiError::unavailable("the ledger is not reachable right now")),
    };
    if recs.is_empty() {
        return Err(ApiError::not_found("unknown_consent_id", "no decisions are recorded under this consent id"));
    }
    let records: Vec<HistoryItem> = recs.into_iter().map(HistoryItem::from).collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(History { consent_id: id, records })).into_response())
}
