//! Sign-in: sessions, the session cookie, same-origin forms, login and logout.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use crumb_ledger::{StorageError, now_ms};
use crumb_server::{ApiError, AppState};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::access::{Access, audit};
use crate::password::verify_password;
use crate::state::*;

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn storage_error(e: StorageError) -> ApiError {
    tracing::warn!(error = %e, "dashboard storage call failed");
    ApiError::unavailable("the ledger database is not reachable right now; retry shortly")
}

/// The signed-in account, or `None`.
pub(crate) async fn account(st: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(token) = session_token(headers) else { return Ok(None) };
    st.storage().admin_session(&token_hash(&token), now_ms()).await.map_err(storage_error)
}

/// A POST from another origin is refused: the session cookie is `SameSite=Strict` already,
/// and this covers browsers that send no `SameSite` at all.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
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

pub(crate) fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

/// The signed-in account of a dashboard page and its roles; without a valid session the
/// request is sent to the login form.
pub(crate) struct SignedIn(pub(crate) String, pub(crate) Access);

impl axum::extract::FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, st: &AppState) -> Result<Self, Response> {
        match account(st, &parts.headers).await {
            Ok(Some(user)) => match st.storage().roles(Some(&user)).await {
                Ok(roles) => Ok(SignedIn(user, Access::new(roles))),
                Err(e) => Err(storage_error(e).into_response()),
            },
            Ok(None) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

pub(crate) fn session_cookie(token: &str, max_age_s: i64) -> HeaderValue {
    let value =
        format!("{SESSION_COOKIE}={token}; Path=/admin; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Strict");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("crumb_admin=; Path=/admin; Max-Age=0"))
}

pub(crate) async fn login_form(State(st): State<AppState>, Extension(dash): Shared, headers: HeaderMap) -> Response {
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
pub(crate) fn secure_context(headers: &HeaderMap) -> bool {
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
pub(crate) struct LoginForm {
    name: String,
    password: String,
}

pub(crate) async fn login(
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
        audit(&st, &form.name, "sign_in_failed", None, "wrong account name or password".into()).await;
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
    audit(&st, &form.name, "sign_in", None, "signed in to the dashboard".into()).await;
    let mut resp = Redirect::to("/admin").into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&token, dash.session_ms / 1000));
    Ok(resp)
}

pub(crate) async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if let Some(token) = session_token(&headers) {
        st.storage().delete_admin_session(&token_hash(&token)).await.map_err(storage_error)?;
    }
    let mut resp = to_login();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0));
    Ok(resp)
}
