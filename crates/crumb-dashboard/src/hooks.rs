//! `/admin/webhooks`: a site admin's webhooks (create, delete) and their delivery log.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use crumb_ledger::now_ms;
use crumb_server::webhooks::{self, EVENTS};
use crumb_server::{ApiError, AppState};

use crate::access::{Access, audit, forbidden};
use crate::pages::sorted_sites;
use crate::session::{SignedIn, same_origin, storage_error};
use crate::state::Shared;

/// Delivery attempts shown.
pub const DELIVERIES_SHOWN: i64 = 200;

fn admin_sites(st: &AppState, access: &Access) -> Vec<String> {
    sorted_sites(st).iter().map(|s| s.inv.site.id.clone()).filter(|id| access.is_admin(id)).collect()
}

async fn page(
    st: &AppState,
    dash: &Shared,
    user: String,
    access: &Access,
    created: Option<(String, String)>,
) -> Result<Response, ApiError> {
    let mut hooks = st.storage().webhooks(None).await.map_err(storage_error)?;
    hooks.retain(|h| access.is_admin(&h.site));
    let mut log = st.storage().deliveries(None, DELIVERIES_SHOWN).await.map_err(storage_error)?;
    log.retain(|d| access.is_admin(&d.site));
    let (created_id, secret) = created.unzip();
    Ok(dash.render(
        "webhooks.html",
        minijinja::context! { user, page => "webhooks", hooks, log, sites => admin_sites(st, access),
        events => EVENTS, created_id, secret },
    ))
}

pub(crate) async fn list(
    State(st): State<AppState>,
    dash: Shared,
    SignedIn(user, access): SignedIn,
) -> Result<Response, ApiError> {
    if !access.admin_any() {
        return Err(forbidden("managing webhooks"));
    }
    page(&st, &dash, user, &access, None).await
}

/// The create form, as `application/x-www-form-urlencoded` sends it: `site`, `url` and one
/// `event` per ticked box.
fn parse_form(body: &[u8]) -> Result<(String, String, Vec<String>), ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook", m);
    let (mut site, mut url, mut events) = (None, None, Vec::new());
    for (k, v) in form_urlencoded_pairs(body).map_err(ApiError::bad_request)? {
        match k.as_str() {
            "site" if site.is_none() => site = Some(v),
            "url" if url.is_none() => url = Some(v),
            "event" => events.push(v),
            other => return Err(bad(format!("unexpected or repeated field `{other}`: send site, url and event"))),
        }
    }
    let site = site.filter(|s| !s.is_empty()).ok_or_else(|| bad("choose a site".into()))?;
    let url = url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad("give the URL to POST events to".into()))?;
    Ok((site, url, events))
}

/// `a=b&c=d` pairs, percent- and plus-decoded.
fn form_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_string())?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else { return Err("the form has a malformed %-escape".into()) };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the form is not UTF-8".to_string())
}

pub(crate) async fn create(
    State(st): State<AppState>,
    dash: Shared,
    SignedIn(user, access): SignedIn,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if !access.admin_any() {
        return Err(forbidden("managing webhooks"));
    }
    let (site, url, events) = parse_form(&body)?;
    if st.site(&site).is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_webhook",
            format!("`{site}` is not a site this server serves"),
        ));
    }
    if !access.is_admin(&site) {
        return Err(forbidden(&format!("managing the webhooks of `{site}`")));
    }
    let (row, secret) = webhooks::build(&site, &url, &events, &user, now_ms())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook", e.to_string()))?;
    st.storage().add_webhook(&row, &secret).await.map_err(storage_error)?;
    audit(&st, &user, "webhook_created", Some(&site), format!("webhook {} for {}", row.id, row.events.join(", ")))
        .await;
    let mut resp = page(&st, &dash, user, &access, Some((row.id, secret))).await?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

pub(crate) async fn delete(
    State(st): State<AppState>,
    SignedIn(user, access): SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let hooks = st.storage().webhooks(None).await.map_err(storage_error)?;
    let Some(hook) = hooks.into_iter().find(|h| h.id == id) else {
        return Err(ApiError::not_found("unknown_webhook", format!("no webhook `{id}`")));
    };
    if !access.is_admin(&hook.site) {
        return Err(forbidden(&format!("managing the webhooks of `{}`", hook.site)));
    }
    st.storage().delete_webhook(&id).await.map_err(storage_error)?;
    audit(&st, &user, "webhook_deleted", Some(&hook.site), format!("webhook {id}")).await;
    Ok(Redirect::to("/admin/webhooks").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let got = parse_form(
            b"site=leadsgen&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&event=scan.errors&event=ledger.verify_failed",
        )
        .expect("parses");
        assert_eq!(got.0, "leadsgen");
        assert_eq!(got.1, "http://127.0.0.1:9/h");
        assert_eq!(got.2.len(), 2);
        assert!(parse_form(b"site=a&url=%zz").is_err());
        assert!(parse_form(b"site=a&site=b&url=x").is_err());
        assert!(parse_form(b"url=http://x/").is_err());
    }
}
