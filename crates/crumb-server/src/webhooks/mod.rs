//! Webhooks: what they are told, how bodies are signed, and the durable outbox they are
//! delivered from (`docs/webhooks.md`).
//!
//! Events are queued in the ledger's database ([`crumb_ledger::HookStore`]) by whichever
//! process sees them: `crumb serve` for a material policy version (when it registers the
//! sites) and a reject-rate spike ([`spike`]), `crumb scan --save` for a scan with error
//! findings, `crumb ledger verify` for a failed verification. Every `crumb serve` runs a deliverer
//! ([`deliver`]) that claims due rows with a lease, so each event reaches each webhook once
//! however many servers share one PostgreSQL.
//!
//! A body is signed with HMAC-SHA256 over `"{t}.{body}"` with the webhook's secret and sent
//! as `Crumb-Signature: t={unix seconds},v1={hex}` (the scheme of Stripe and GitHub).

use crumb_ledger::{Storage, StorageError, WebhookRow};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub mod deliver;
pub mod spike;

pub use deliver::{DeliveryOptions, run as run_deliverer};

/// A new policy version with a material change (visitors are asked again).
pub const MATERIAL_CHANGE: &str = "policy.material_change";
/// A scan saved with `crumb scan --save` that has error-level findings.
pub const SCAN_ERRORS: &str = "scan.errors";
/// `crumb ledger verify` found a problem.
pub const VERIFY_FAILED: &str = "ledger.verify_failed";
/// The share of "Reject all" in the last hour jumped against the trailing 7 days ([`spike`]).
pub const REJECT_SPIKE: &str = "consent.reject_spike";
/// Every event type, as a webhook subscribes to them.
pub const EVENTS: [&str; 4] = [MATERIAL_CHANGE, SCAN_ERRORS, VERIFY_FAILED, REJECT_SPIKE];

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Crumb-Signature";
/// Longest webhook URL accepted.
pub const MAX_URL: usize = 2048;

/// Why a webhook cannot be configured as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// The URL is not an absolute `https://` or `http://` URL with a host.
    #[error("{0}")]
    Url(String),
    /// An unknown event type, or none.
    #[error("{0}")]
    Events(String),
    /// The site id is not one.
    #[error("`{0}` is not a site id")]
    Site(String),
}

/// The `Crumb-Signature` value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("whsec_{}", hex::encode(b))
}

/// A new webhook id: `wh_` and 8 random bytes in hex.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("wh_{}", hex::encode(b))
}

/// Check a webhook URL: absolute `https://` (delivered over TLS, the system's roots) or
/// `http://`, with a host, no credentials, no fragment, at most [`MAX_URL`] bytes.
pub fn check_url(url: &str) -> Result<(), WebhookError> {
    let bad = |why: &str| Err(WebhookError::Url(format!("webhook URL `{url}`: {why}")));
    if url.is_empty() || url.len() > MAX_URL || url.chars().any(|c| c.is_control() || c == ' ') {
        return bad("give an absolute URL without spaces, at most 2048 bytes");
    }
    let Ok(uri) = url.parse::<axum::http::Uri>() else { return bad("not a URL") };
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => return bad("use an https:// (or http://) URL"),
    }
    let Some(auth) = uri.authority() else { return bad("the URL has no host") };
    if auth.as_str().contains('@') {
        return bad("credentials in the URL are not allowed");
    }
    if auth.host().is_empty() {
        return bad("the URL has no host");
    }
    if url.contains('#') {
        return bad("a fragment is not allowed");
    }
    Ok(())
}

/// Check a list of event types: at least one, each in [`EVENTS`]; returned sorted, once each.
pub fn check_events(events: &[String]) -> Result<Vec<String>, WebhookError> {
    if events.is_empty() {
        return Err(WebhookError::Events(format!("choose at least one event: {}", EVENTS.join(", "))));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(WebhookError::Events(format!("unknown event `{bad}`: use {}", EVENTS.join(", "))));
    }
    let mut out = events.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A checked webhook and its new secret, ready to store.
pub fn build(
    site: &str,
    url: &str,
    events: &[String],
    by: &str,
    now: i64,
) -> Result<(WebhookRow, String), WebhookError> {
    if !crate::apikeys::valid_site_id(site) {
        return Err(WebhookError::Site(site.to_string()));
    }
    check_url(url)?;
    let events = check_events(events)?;
    let row =
        WebhookRow { id: new_id(), site: site.into(), url: url.into(), events, created_at: now, created_by: by.into() };
    Ok((row, new_secret()))
}

/// Queue `event` for the webhooks of `site` (every site when `None`): the body is
/// `{"id", "type", "site", "created_at", "data"}`, `id` is `key` (one delivery per key and
/// webhook). Returns how many deliveries were queued.
pub async fn emit(
    storage: &dyn Storage,
    site: Option<&str>,
    event: &str,
    key: &str,
    data: serde_json::Value,
    now: i64,
) -> Result<u64, StorageError> {
    let body = serde_json::json!({
        "id": key,
        "type": event,
        "site": site,
        "created_at": crumb_ledger::export::rfc3339(now),
        "data": data,
    });
    let n = storage.enqueue_event(site, event, key, &body.to_string(), now).await?;
    if n > 0 {
        tracing::info!(event, site = site.unwrap_or("*"), queued = n, "webhook event queued");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // HMAC-SHA256(key="whsec_test", "1700000000.{}") computed with openssl:
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn urls_and_events_are_checked() {
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("https://hooks.example.com/crumb?token=x").is_ok());
        for bad in ["", "ftp://x/", "http:///x", "http://u:p@host/", "https://u@host/", "not a url", "http://h/#f"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_events(&[]).is_err());
        assert!(check_events(&["nope".into()]).is_err());
        assert_eq!(check_events(&[SCAN_ERRORS.into(), SCAN_ERRORS.into()]).expect("ok"), vec![SCAN_ERRORS.to_string()]);
    }
}
