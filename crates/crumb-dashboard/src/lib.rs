//! # crumb-dashboard
//!
//! The admin dashboard of `crumb serve`, under `/admin/`: consent rates per site, the
//! records themselves, CSV exports and every policy version a site has published, behind a
//! login. Accounts are made with `crumb admin create-user NAME`.
//!
//! - Accounts and sessions live in the ledger's database ([`crumb_ledger::AdminStore`]), so
//!   several `crumb serve` processes on one PostgreSQL share them. Passwords are stored as
//!   Argon2id hashes, sessions as the SHA-256 of their token.
//! - The session cookie `crumb_admin` is `HttpOnly; Secure; SameSite=Strict; Path=/admin`.
//!   Forms are same-origin only (`Origin` is checked on every POST). Failed logins are
//!   throttled per address.
//! - Pages are server-rendered [minijinja](https://docs.rs/minijinja) templates an operator
//!   can override ([`DashboardOptions::templates`]); no script, no third-party request, and
//!   a `Content-Security-Policy` that allows neither.
//!
//! [`routes`] returns the routes to merge into [`crumb_server::router_with`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use crumb_ledger::export::{CSV_HEADER, csv_row, rfc3339};
use crumb_ledger::{Record, ScanRow, StorageError, now_ms};
use crumb_server::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "crumb_admin";
/// The shortest password `crumb admin create-user` accepts.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Failed logins from one address within [`THROTTLE_WINDOW_MS`] before it gets 429.
pub const MAX_FAILED_LOGINS: u32 = 10;
/// The window of [`MAX_FAILED_LOGINS`].
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Records per page of `/admin/records`.
pub const PAGE_SIZE: i64 = 100;

const STYLESHEET: &str = include_str!("../templates/admin.css");

/// Every template: the name an override file must have, and the built-in text.
pub const TEMPLATES: [(&str, &str); 7] = [
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("overview.html", include_str!("../templates/overview.html")),
    ("records.html", include_str!("../templates/records.html")),
    ("versions.html", include_str!("../templates/versions.html")),
    ("scans.html", include_str!("../templates/scans.html")),
    ("scan.html", include_str!("../templates/scan.html")),
];

/// Why a password could not be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_PASSWORD_LEN`].
    #[error("the password is too short: use at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    /// Argon2 failed (it does not, for valid parameters).
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// Hash a password for storage (Argon2id, a random salt, the PHC string format).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches a hash made by [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A random password of 24 characters from an alphabet without look-alikes (~135 bits).
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..24).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// How the dashboard is set up.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// A directory whose files replace the built-in templates of the same name
    /// ([`TEMPLATES`]).
    pub templates: Option<PathBuf>,
    /// How long a login lasts.
    pub session_hours: i64,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions { templates: None, session_hours: 12 }
    }
}

struct Dashboard {
    env: minijinja::Environment<'static>,
    session_ms: i64,
    /// Failed logins per address: (window start, count).
    failures: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// Verified against when the account does not exist, so both cases take as long.
    decoy_hash: String,
}

type Shared = Extension<Arc<Dashboard>>;

/// The dashboard's routes, to merge into [`crumb_server::router_with`].
pub fn routes(opts: DashboardOptions) -> Router<AppState> {
    let dash = Arc::new(Dashboard {
        env: environment(opts.templates),
        session_ms: opts.session_hours.max(1) * 3_600_000,
        failures: Mutex::new(HashMap::new()),
        decoy_hash: hash_password(&generate_password()).unwrap_or_default(),
    });
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/records", get(records))
        .route("/admin/export.csv", get(export))
        .route("/admin/versions", get(versions))
        .route("/admin/scans", get(scans))
        .route("/admin/scans/{id}", get(scan))
        .route("/admin/admin.css", get(stylesheet))
        .layer(axum::middleware::map_response(security_headers))
        .layer(Extension(dash))
}

fn environment(templates: Option<PathBuf>) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("time", |ms: i64| rfc3339(ms).replace('T', " ").trim_end_matches('Z').to_string() + " UTC");
    env.set_loader(crumb_policy::override_loader(templates, |name| {
        TEMPLATES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
    }));
    env
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}

impl Dashboard {
    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        self.render_status(StatusCode::OK, name, ctx)
    }

    fn render_status(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "dashboard template failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "template_error",
                    format!("the dashboard template `{name}` could not be rendered: {e}"),
                )
                .into_response()
            }
        }
    }

    fn throttled(&self, ip: IpAddr, now: i64) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&ip).is_some_and(|(start, n)| now - start < THROTTLE_WINDOW_MS && *n >= MAX_FAILED_LOGINS)
    }

    fn failed(&self, ip: IpAddr, now: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (start, _)| now - *start < THROTTLE_WINDOW_MS);
        let e = map.entry(ip).or_insert((now, 0));
        e.1 += 1;
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    crumb_guard::guard::consent_cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty()).map(str::to_string)
}

fn storage_error(e: StorageError) -> ApiError {
    tracing::warn!(error = %e, "dashboard storage call failed");
    ApiError::unavailable("the ledger database is not reachable right now; retry shortly")
}

/// The signed-in account, or `None`.
async fn account(st: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(token) = session_token(headers) else { return Ok(None) };
    st.storage().admin_session(&token_hash(&token), now_ms()).await.map_err(storage_error)
}

/// A POST from another origin is refused: the session cookie is `SameSite=Strict` already,
/// and this covers browsers that send no `SameSite` at all.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
    if origin == "null" || origin_host != host {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_form",
            "dashboard forms are accepted from the dashboard's own origin only",
        ));
    }
    Ok(())
}

fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

/// The signed-in account of a dashboard page; without a valid session the request is sent
/// to the login form.
struct SignedIn(String);

impl axum::extract::FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, st: &AppState) -> Result<Self, Response> {
        match account(st, &parts.headers).await {
            Ok(Some(user)) => Ok(SignedIn(user)),
            Ok(None) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

fn session_cookie(token: &str, max_age_s: i64) -> HeaderValue {
    let value =
        format!("{SESSION_COOKIE}={token}; Path=/admin; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Strict");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("crumb_admin=; Path=/admin; Max-Age=0"))
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

async fn login_form(State(st): State<AppState>, Extension(dash): Shared, headers: HeaderMap) -> Response {
    if matches!(account(&st, &headers).await, Ok(Some(_))) {
        return Redirect::to("/admin").into_response();
    }
    let insecure = !secure_context(&headers);
    dash.render(
        "login.html",
        minijinja::context! { user => None::<String>, error => None::<String>, name => "", insecure },
    )
}

/// Whether a browser will keep the `Secure` session cookie: the page came over HTTPS (as a
/// TLS-terminating proxy says with `X-Forwarded-Proto`), or from a loopback host, which
/// browsers treat as secure.
fn secure_context(headers: &HeaderMap) -> bool {
    let https =
        headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    https || matches!(name, "localhost" | "127.0.0.1" | "[::1]") || name.ends_with(".localhost")
}

#[derive(Deserialize)]
struct LoginForm {
    name: String,
    password: String,
}

async fn login(
    State(st): State<AppState>,
    Extension(dash): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let ip = st.client_ip(peer, &headers);
    let now = now_ms();
    if dash.throttled(ip, now) {
        return Ok(dash.render_status(
            StatusCode::TOO_MANY_REQUESTS,
            "login.html",
            minijinja::context! { user => None::<String>, error => "Too many failed logins from this address. Wait 15 minutes and try again.", name => form.name, insecure => !secure_context(&headers) },
        ));
    }
    let stored = st.storage().admin_password_hash(&form.name).await.map_err(storage_error)?;
    let known = stored.is_some();
    let hash = stored.unwrap_or_else(|| dash.decoy_hash.clone());
    let password = form.password;
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false) && known;
    if !ok {
        dash.failed(ip, now);
        tracing::warn!(account = %form.name, "dashboard login failed");
        return Ok(dash.render_status(
            StatusCode::UNAUTHORIZED,
            "login.html",
            minijinja::context! { user => None::<String>, error => "Wrong account name or password.", name => form.name, insecure => !secure_context(&headers) },
        ));
    }
    let token = {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    st.storage()
        .add_admin_session(&token_hash(&token), &form.name, now, now + dash.session_ms)
        .await
        .map_err(storage_error)?;
    tracing::info!(account = %form.name, "dashboard login");
    let mut resp = Redirect::to("/admin").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, dash.session_ms / 1000));
    Ok(resp)
}

async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if let Some(token) = session_token(&headers) {
        st.storage().delete_admin_session(&token_hash(&token)).await.map_err(storage_error)?;
    }
    let mut resp = to_login();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0));
    Ok(resp)
}

#[derive(Serialize)]
struct ActionShare {
    action: String,
    count: i64,
    percent: String,
}

#[derive(Serialize)]
struct SiteSummary {
    id: String,
    name: String,
    version: String,
    records: i64,
    consent_ids: i64,
    actions: Vec<ActionShare>,
    accept_rate: String,
    reject_rate: String,
    last_at: Option<i64>,
    last_scan: Option<ScanRow>,
}

fn percent(n: i64, of: i64) -> String {
    if of == 0 { "-".into() } else { format!("{:.1}%", n as f64 * 100.0 / of as f64) }
}

/// The overview's time windows: query value, label, length in ms (`None`: all time).
const PERIODS: [(&str, &str, Option<i64>); 4] = [
    ("24h", "the last 24 hours", Some(86_400_000)),
    ("7d", "the last 7 days", Some(7 * 86_400_000)),
    ("30d", "the last 30 days", Some(30 * 86_400_000)),
    ("all", "all time", None),
];

#[derive(Deserialize, Default)]
struct PeriodQuery {
    #[serde(default)]
    period: String,
}

async fn overview(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user): SignedIn,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let wanted = if q.period.is_empty() { "30d" } else { q.period.as_str() };
    let (period, period_label, length) =
        PERIODS.iter().copied().find(|(k, _, _)| *k == wanted).ok_or_else(|| {
            ApiError::bad_request(format!("period must be one of 24h, 7d, 30d, all (got `{wanted}`)"))
        })?;
    let now = now_ms();
    let from = length.map_or(i64::MIN, |l| now - l);
    let mut out = Vec::new();
    // Chains and checkpoints are whole-ledger figures in every `stats` answer.
    let (mut chains, mut checkpoints) = (0, 0);
    for site in sorted_sites(&st) {
        let id = &site.inv.site.id;
        let s = st.storage().stats(Some(id), from, i64::MAX).await.map_err(storage_error)?;
        (chains, checkpoints) = (s.chains, s.checkpoints);
        let count = |a: &str| s.by_action.iter().find(|(x, _)| x == a).map(|(_, n)| *n).unwrap_or(0);
        out.push(SiteSummary {
            id: id.clone(),
            name: site.inv.site.name.clone(),
            version: site.version.clone(),
            records: s.records,
            consent_ids: s.consent_ids,
            actions: ["accept_all", "reject_all", "save", "withdraw"]
                .iter()
                .map(|a| ActionShare { action: a.to_string(), count: count(a), percent: percent(count(a), s.records) })
                .collect(),
            accept_rate: percent(count("accept_all"), s.records),
            reject_rate: percent(count("reject_all"), s.records),
            last_at: s.last_at,
            last_scan: st.storage().scans(Some(id), 1).await.map_err(storage_error)?.into_iter().next(),
        });
    }
    let records: i64 = out.iter().map(|s| s.records).sum();
    let periods: Vec<(&str, &str)> = PERIODS.iter().map(|(k, label, _)| (*k, *label)).collect();
    Ok(dash.render(
        "overview.html",
        minijinja::context! { user, page => "overview", sites => out, records, chains, checkpoints,
        period, period_label, periods },
    ))
}

/// The filter of the records page and the export: a site and a day range (UTC, both ends
/// included), as an HTML form sends them.
#[derive(Deserialize, Default)]
struct Filter {
    #[serde(default)]
    site: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The records page's cursor: `recorded_at.seq.chain` of the last record shown.
    #[serde(default)]
    after: String,
}

struct Range {
    site: Option<String>,
    from: i64,
    to: i64,
}

fn day_start(s: &str) -> Result<i64, ApiError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
        .map_err(|_| ApiError::bad_request(format!("`{s}` is not a date: use YYYY-MM-DD")))
}

impl Filter {
    fn range(&self) -> Result<Range, ApiError> {
        let from = if self.from.is_empty() { i64::MIN } else { day_start(&self.from)? };
        let to = if self.to.is_empty() { i64::MAX } else { day_start(&self.to)? + 86_400_000 };
        let site = Some(self.site.clone()).filter(|s| !s.is_empty());
        Ok(Range { site, from, to })
    }

    fn cursor(&self) -> Result<Option<(i64, String, i64)>, ApiError> {
        if self.after.is_empty() {
            return Ok(None);
        }
        let bad = || ApiError::bad_request("`after` must be a cursor from a records page");
        let mut parts = self.after.splitn(3, '.');
        let at = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let chain = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?;
        Ok(Some((at, chain.to_string(), seq)))
    }
}

#[derive(Serialize)]
struct Row {
    recorded_at: i64,
    site: String,
    consent_id: String,
    action: String,
    choices: String,
    policy_version: String,
    region: String,
    signals: String,
    ua_family: String,
    position: String,
    hash: String,
}

impl From<&Record> for Row {
    fn from(r: &Record) -> Row {
        let e = &r.entry;
        let signals =
            [(e.gpc, "GPC"), (e.dnt, "DNT")].iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>();
        Row {
            recorded_at: e.recorded_at,
            site: e.site.clone(),
            consent_id: e.consent_id.clone(),
            action: e.action.clone(),
            choices: e
                .choices
                .iter()
                .map(|(k, v)| format!("{k} {}", if *v { "on" } else { "off" }))
                .collect::<Vec<_>>()
                .join(", "),
            policy_version: e.policy_version.clone(),
            region: e.region.clone().unwrap_or_default(),
            signals: signals.join(" "),
            ua_family: e.ua_family.clone(),
            position: format!("{}#{}", r.chain, r.seq),
            hash: r.hash.chars().take(12).collect(),
        }
    }
}

/// The served sites, by id (one snapshot of the site table).
fn sorted_sites(st: &AppState) -> Vec<Arc<crumb_server::sites::Site>> {
    let mut sites: Vec<_> = st.sites().by_id.values().cloned().collect();
    sites.sort_by(|a, b| a.inv.site.id.cmp(&b.inv.site.id));
    sites
}

fn site_ids(st: &AppState) -> Vec<String> {
    sorted_sites(st).iter().map(|s| s.inv.site.id.clone()).collect()
}

async fn records(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user): SignedIn,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let range = filter.range()?;
    let mut page = st
        .storage()
        .export(range.site.as_deref(), range.from, range.to, filter.cursor()?, PAGE_SIZE + 1)
        .await
        .map_err(storage_error)?;
    let more = page.len() as i64 > PAGE_SIZE;
    page.truncate(PAGE_SIZE as usize);
    let next = if more { page.last().map(|r| format!("{}.{}.{}", r.entry.recorded_at, r.seq, r.chain)) } else { None };
    let rows: Vec<Row> = page.iter().map(Row::from).collect();
    Ok(dash.render(
        "records.html",
        minijinja::context! { user, page => "records", rows, next, sites => site_ids(&st),
        site => filter.site, from => filter.from, to => filter.to },
    ))
}

async fn export(State(st): State<AppState>, _: SignedIn, Query(filter): Query<Filter>) -> Result<Response, ApiError> {
    let range = filter.range()?;
    let name = format!("crumb-{}.csv", range.site.as_deref().unwrap_or("all-sites"));
    let storage = st.storage().clone();
    // Pages of 2,000 records, each one CSV chunk: a ledger of any size streams in bounded memory.
    let head = csv_chunk(std::iter::once(CSV_HEADER.iter().map(|s| s.to_string()).collect()));
    let pages = futures::stream::unfold(Some((storage, range, None)), |state| async move {
        let (storage, range, after) = state?;
        match storage.export(range.site.as_deref(), range.from, range.to, after, 2_000).await {
            Ok(page) if page.is_empty() => None,
            Ok(page) => {
                let last = page.last().map(|r| (r.entry.recorded_at, r.chain.clone(), r.seq));
                let chunk = csv_chunk(page.iter().map(csv_row));
                Some((Ok::<_, std::io::Error>(chunk), Some((storage, range, last))))
            }
            Err(e) => {
                tracing::warn!(error = %e, "dashboard export stopped");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let body =
        axum::body::Body::from_stream(futures::StreamExt::chain(futures::stream::once(async { Ok(head) }), pages));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response())
}

fn csv_chunk(rows: impl Iterator<Item = Vec<String>>) -> bytes::Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&row);
    }
    bytes::Bytes::from(w.into_inner().unwrap_or_default())
}

#[derive(Serialize)]
struct VersionRow {
    version: String,
    material: bool,
    first_seen: i64,
    current: bool,
}

#[derive(Serialize)]
struct SiteVersions {
    id: String,
    name: String,
    versions: Vec<VersionRow>,
}

async fn versions(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user): SignedIn,
) -> Result<Response, ApiError> {
    let mut out = Vec::new();
    for site in sorted_sites(&st) {
        let id = site.inv.site.id.clone();
        let rows = st.storage().versions(&id).await.map_err(storage_error)?;
        let versions = rows
            .into_iter()
            .rev()
            .map(|r| VersionRow {
                current: r.version == site.version,
                version: r.version,
                material: r.material,
                first_seen: r.first_seen,
            })
            .collect();
        out.push(SiteVersions { id, name: site.inv.site.name.clone(), versions });
    }
    Ok(dash.render("versions.html", minijinja::context! { user, page => "versions", sites => out }))
}

/// Scans listed per page of `/admin/scans`.
pub const SCANS_SHOWN: i64 = 200;

#[derive(Deserialize, Default)]
struct SiteFilter {
    #[serde(default)]
    site: String,
}

async fn scans(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user): SignedIn,
    Query(filter): Query<SiteFilter>,
) -> Result<Response, ApiError> {
    let site = Some(filter.site.as_str()).filter(|s| !s.is_empty());
    let rows = st.storage().scans(site, SCANS_SHOWN).await.map_err(storage_error)?;
    Ok(dash.render(
        "scans.html",
        minijinja::context! { user, page => "scans", scans => rows, sites => site_ids(&st), site => filter.site },
    ))
}

async fn scan(
    State(st): State<AppState>,
    Extension(dash): Shared,
    SignedIn(user): SignedIn,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("unknown_scan", format!("no saved scan `{id}`"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    let row = st.storage().scan(n).await.map_err(storage_error)?.ok_or_else(not_found)?;
    let report: serde_json::Value = serde_json::from_str(&row.report).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_scan",
            format!("saved scan {n} is not valid JSON: {e}"),
        )
    })?;
    let findings = report.get("findings").cloned().unwrap_or_else(|| serde_json::json!([]));
    Ok(dash.render(
        "scan.html",
        minijinja::context! { user, page => "scans", scan => row, findings,
        started_at => report.get("started_at").cloned().unwrap_or_default(),
        browser => report.get("browser").cloned().unwrap_or_default() },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        assert!(matches!(hash_password("short"), Err(PasswordError::TooShort)));
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").expect("hash"), "salted");
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() && !"l1I0Oo".contains(c)));
        assert_ne!(a, generate_password());
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; crumb_admin=tok; b=2"));
        assert_eq!(session_token(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("crumb_admin=; x=y"));
        assert_eq!(session_token(&h), None);
    }

    #[test]
    fn cross_origin_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("consent.example.com"));
        assert!(same_origin(&h).is_ok(), "no Origin: a same-origin navigation of an old browser");
        h.insert(header::ORIGIN, HeaderValue::from_static("https://consent.example.com"));
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(same_origin(&h).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h).is_err());
    }

    #[test]
    fn every_builtin_template_renders_its_empty_state() {
        let env = environment(None);
        for (name, _) in TEMPLATES {
            let ctx = minijinja::context! { user => "alice", page => "x", error => None::<String>, name => "", insecure => true,
            sites => Vec::<String>::new(), rows => Vec::<String>::new(), next => None::<String>,
            site => "", from => "", to => "", records => 0, chains => 0, checkpoints => 0,
            scans => Vec::<String>::new(), findings => Vec::<String>::new(), started_at => "", browser => "",
            period => "30d", period_label => "the last 30 days", periods => vec![("30d", "the last 30 days")],
            scan => ScanRow { id: 1, site: "s".into(), target: "t".into(), recorded_at: 0, pages: 0, errors: 0,
                warnings: 0, notes: 0, report: String::new() } };
            let html = env.get_template(name).and_then(|t| t.render(ctx)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(html.contains("</html>"), "{name} is a whole page");
        }
    }

    #[test]
    fn secure_contexts() {
        let ctx = |host: &str, proto: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(host).expect("host"));
            if let Some(p) = proto {
                h.insert("x-forwarded-proto", HeaderValue::from_str(p).expect("proto"));
            }
            secure_context(&h)
        };
        assert!(ctx("127.0.0.1:8080", None) && ctx("localhost", None) && ctx("[::1]:80", None));
        assert!(ctx("consent.example.com", Some("https")));
        assert!(!ctx("consent.example.com", None) && !ctx("10.0.0.5:8080", Some("http")));
    }

    proptest::proptest! {
        /// Whatever a visitor puts in the query string or the cookie header, parsing answers
        /// (a value or a 400), never panics.
        #[test]
        fn query_and_cookie_parsing_never_panic(site in ".{0,40}", from in ".{0,20}", to in ".{0,20}", after in ".{0,60}", cookie in ".{0,80}") {
            let f = Filter { site, from, to, after };
            let _ = f.range();
            let _ = f.cursor();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                let mut h = HeaderMap::new();
                h.insert(header::COOKIE, v.clone());
                h.insert(header::HOST, HeaderValue::from_static("127.0.0.1"));
                h.insert(header::ORIGIN, v);
                let _ = session_token(&h);
                let _ = same_origin(&h);
                let _ = secure_context(&h);
            }
        }
    }

    #[test]
    fn filters_parse_days_and_cursors() {
        let f = Filter {
            site: "leadsgen".into(),
            from: "2026-01-01".into(),
            to: "2026-01-01".into(),
            after: "5.7.w-1.2".into(),
        };
        let r = f.range().expect("range");
        assert_eq!(r.site.as_deref(), Some("leadsgen"));
        assert_eq!(r.to - r.from, 86_400_000, "the `to` day is included");
        assert_eq!(f.cursor().expect("cursor"), Some((5, "w-1.2".to_string(), 7)));
        assert!(Filter { from: "yesterday".into(), ..Filter::default() }.range().is_err());
        assert!(Filter { after: "x".into(), ..Filter::default() }.cursor().is_err());
    }
}
