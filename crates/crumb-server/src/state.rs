//! What the handlers share: the loaded sites, storage, the ledger writer, the address
//! anonymiser, the rate limiter and the request metrics.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use axum::http::HeaderMap;
use crumb_core::inventory::RegionalMode;
use crumb_ledger::{Ledger, Storage, now_ms};

use crate::metrics::Metrics;
use crate::net;
use crate::sites::{Site, Sites};

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

    /// The ledger writer.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Request metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The keyed address hasher.
    pub(crate) fn anonymiser(&self) -> &net::Anonymiser {
        &self.inner.anonymiser
    }

    /// Count a consent POST from `ip`; true when it is over the per-minute limit.
    pub(crate) fn rate_limited(&self, ip: IpAddr) -> bool {
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
