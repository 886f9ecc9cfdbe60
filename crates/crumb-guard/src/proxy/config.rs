//! `crumb proxy`'s settings.

use std::time::Duration;

use http::Uri;

use crate::guard::Guard;
use crate::rules::{BannerTag, FirstLayer, Rewriter};

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The upstream base URL (`http://127.0.0.1:3000`); its path, if any, prefixes every request.
    pub upstream: Uri,
    /// How long the upstream may take to answer with headers before the visitor gets a 504.
    pub timeout: Duration,
    /// How long to connect to the upstream before the visitor gets a 502.
    pub connect_timeout: Duration,
    /// Banner script URL to insert into HTML pages (first child of `<head>`), if any.
    pub inject_banner: Option<String>,
    /// The banner's first layer, rendered into pages for visitors who have not decided
    /// (with `inject_banner`).
    pub first_layer: Option<FirstLayer>,
    /// Hold back the elements of services the visitor has not granted in HTML pages
    /// (`None`: when a banner is inserted, since the banner is what activates them).
    pub rewrite_html: Option<bool>,
    /// How long requests in flight may take to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
    /// How long a visitor connection may take to send a complete request head, and so how
    /// long an idle keep-alive connection (and the upstream connection it holds) is kept.
    pub idle_timeout: Duration,
    /// Keep `X-Forwarded-Proto`/`X-Forwarded-Host` a trusted front proxy (the TLS
    /// terminator) set, instead of overwriting them; `X-Forwarded-For` is always appended to.
    pub trust_forwarded: bool,
    /// Serve HTTP/1.1 requests on the fast path (default true; HTML rewriting always goes
    /// through the hyper path). Off: every request goes through hyper.
    pub fast_path: bool,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream URL is not a plain `http://host[:port][/path]` URL.
    #[error(
        "upstream `{0}` must be an http:// URL with a host, like http://127.0.0.1:3000 (put TLS in front of crumb proxy, not behind it)"
    )]
    Upstream(String),
    /// Accepting connections failed.
    #[error("accepting connections failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ProxyConfig {
    /// The HTML rewriter these settings ask for, if any.
    pub(crate) fn rewriter(&self, guard: &Guard) -> Option<Rewriter> {
        let banner = self.inject_banner.as_deref().map(BannerTag::script);
        let hold = self.rewrite_html.unwrap_or(banner.is_some());
        let with_banner = banner.is_some();
        let rewriter = match (hold, banner) {
            (true, banner) => Some(Rewriter::new(guard, banner)),
            (false, Some(banner)) => Some(Rewriter::banner_only(guard, banner)),
            (false, None) => None,
        }?;
        Some(match &self.first_layer {
            Some(fl) if with_banner => rewriter.with_first_layer(fl.clone()),
            _ => rewriter,
        })
    }

    /// Settings with defaults for everything but the upstream.
    pub fn new(upstream: &str) -> Result<ProxyConfig, ProxyError> {
        let uri: Uri = upstream.parse().map_err(|_| ProxyError::Upstream(upstream.to_string()))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(ProxyError::Upstream(upstream.to_string()));
        }
        Ok(ProxyConfig {
            upstream: uri,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            inject_banner: None,
            first_layer: None,
            rewrite_html: None,
            shutdown_grace: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            trust_forwarded: false,
            fast_path: true,
        })
    }
}
