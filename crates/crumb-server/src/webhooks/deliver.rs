//! The deliverer every `crumb serve` runs: claim due outbox rows with a lease, POST each
//! signed body to its webhook's URL (and nowhere else: redirects are not followed), and
//! record the attempt; failures are retried with exponential backoff for 24 hours.
//!
//! `https://` URLs are delivered over TLS (rustls with the `ring` provider), trusting the
//! system's root certificates (`rustls-native-certs`: the OS store, or the PEM file
//! `SSL_CERT_FILE` / the directories `SSL_CERT_DIR` name). A certificate that does not
//! verify is a failed attempt whose error in the delivery log says why. `http://` stays
//! for receivers on loopback or a private network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Request, header};
use bytes::Bytes;
use crumb_ledger::{Claimed, DeliveryRow, Storage, now_ms};
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{SIGNATURE_HEADER, signature};

/// How long a claim holds a row: longer than a batch of attempts can take.
pub const LEASE_MS: i64 = 120_000;
/// Rows claimed at a time.
const BATCH: i64 = 4;
/// How long the receiver has to answer, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long events are retried before they are given up.
pub const RETRY_FOR_MS: i64 = 24 * 3_600_000;

/// How the deliverer paces itself.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// The first retry's delay; each next one doubles, up to 120 times this (1 hour by
    /// default). Tests shorten it.
    pub backoff_ms: i64,
    /// How often the outbox is polled when it is empty.
    pub poll_ms: u64,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions { backoff_ms: 30_000, poll_ms: 1_000 }
    }
}

impl DeliveryOptions {
    /// The delay after failed attempt `attempt` (1 for the first).
    pub fn delay(&self, attempt: i64) -> i64 {
        let base = self.backoff_ms.max(1);
        let factor = 1i64 << attempt.clamp(1, 20).saturating_sub(1);
        base.saturating_mul(factor).min(base.saturating_mul(120))
    }
}

/// The HTTP client of the deliverer: plain TCP for `http://`, TLS for `https://`.
type WebhookClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The TLS settings: the `ring` provider, rustls' safe protocol versions, the system's
/// roots. Without any root certificate (none installed, or an unreadable `SSL_CERT_FILE`)
/// every https attempt fails with the reason logged, and http still works.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "reading the system's root certificates");
    }
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!(
            "no root certificate found: https webhooks will fail until one is installed (or SSL_CERT_FILE set)"
        );
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider);
    match builder.with_safe_default_protocol_versions() {
        Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider supports the safe defaults; this is not reached.
        Err(_) => {
            rustls::ClientConfig::builder().with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth()
        }
    }
}

/// The deliverer's client: connections time out after 5 s; the scheme picks TLS or not.
pub(crate) fn client() -> WebhookClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    // https:// URLs pass through to the TLS layer.
    http.enforce_http(false);
    let connector =
        HttpsConnectorBuilder::new().with_tls_config(tls_config()).https_or_http().enable_http1().wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Run forever: claim and deliver as `owner` (this process's chain id, unique per server).
pub async fn run(storage: Arc<dyn Storage>, owner: String, opts: DeliveryOptions) {
    let client = client();
    loop {
        match storage.claim_deliveries(&owner, now_ms(), LEASE_MS, BATCH).await {
            Ok(batch) if !batch.is_empty() => {
                for c in batch {
                    attempt(&*storage, &client, &owner, &opts, c).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook outbox unreachable; will retry"),
        }
        tokio::time::sleep(Duration::from_millis(opts.poll_ms.max(10))).await;
    }
}

/// POST one claimed event and settle its row.
async fn attempt(storage: &dyn Storage, client: &WebhookClient, owner: &str, opts: &DeliveryOptions, c: Claimed) {
    let started = Instant::now();
    let (status, error) = send(client, &c).await;
    let now = now_ms();
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let retry_at = now + opts.delay(c.attempt);
    let (outcome, next_at) = if ok {
        ("delivered", None)
    } else if retry_at - c.created_at >= RETRY_FOR_MS {
        ("failed", None)
    } else {
        ("retrying", Some(retry_at))
    };
    let row = DeliveryRow {
        outbox_id: c.id,
        webhook_id: c.webhook_id.clone(),
        site: c.site.clone(),
        event: c.event.clone(),
        attempt: c.attempt,
        at: now,
        status,
        error,
        duration_ms: started.elapsed().as_millis() as i64,
        outcome: outcome.into(),
    };
    // The URL is the operator's; its query may carry a token: only the webhook id is logged.
    tracing::info!(webhook = %c.webhook_id, delivery = c.id, attempt = c.attempt, status = ?status, outcome, "webhook attempt");
    match storage.finish_delivery(owner, &row, next_at).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(delivery = c.id, "webhook lease lost before the attempt was recorded"),
        Err(e) => {
            tracing::warn!(delivery = c.id, error = %e, "webhook attempt not recorded; the lease will expire and it is retried")
        }
    }
}

/// The receiver's status, or the error in words.
async fn send(client: &WebhookClient, c: &Claimed) -> (Option<i64>, Option<String>) {
    let t = now_ms() / 1000;
    let req = Request::post(c.url.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, concat!("Crumb-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header(SIGNATURE_HEADER, signature(&c.secret, t, &c.body))
        .header("Crumb-Event", c.event.as_str())
        .header("Crumb-Delivery", c.id.to_string())
        .body(Full::new(Bytes::from(c.body.clone())));
    let req = match req {
        Ok(r) => r,
        Err(e) => return (None, Some(format!("invalid request: {e}"))),
    };
    match tokio::time::timeout(TIMEOUT, client.request(req)).await {
        Err(_) => (None, Some(format!("no answer within {} s", TIMEOUT.as_secs()))),
        Ok(Err(e)) => (None, Some(describe(&e))),
        Ok(Ok(resp)) => {
            let s = resp.status().as_u16() as i64;
            (Some(s), (!(200..300).contains(&s)).then(|| format!("HTTP {s}")))
        }
    }
}

/// A transport error in words, without the URL (which may hold a token).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut out = if e.is_connect() { "connection failed".to_string() } else { "request failed".to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let o = DeliveryOptions::default();
        assert_eq!([1, 2, 3, 4].map(|a| o.delay(a)), [30_000, 60_000, 120_000, 240_000]);
        assert_eq!(o.delay(8), 3_600_000);
        assert_eq!(o.delay(40), 3_600_000);
        // About 30 attempts fit in 24 hours.
        let mut t = 0;
        let mut n = 0;
        while t < RETRY_FOR_MS {
            n += 1;
            t += o.delay(n);
        }
        assert!((25..=35).contains(&n), "{n}");
    }
}
