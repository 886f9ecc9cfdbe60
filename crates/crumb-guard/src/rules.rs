//! What the HTML rewriter holds back: the inventory's services compiled into URL and
//! inline-script rules, and, per visitor and page, a [`Plan`] naming the services whose
//! category the visitor has not granted.
//!
//! The markup written for a held element is the contract in `docs/guard.md` ("Rewriting
//! HTML"), which the banner reads to activate it on grant.

use std::sync::Arc;

use bytes::Bytes;
use crumb_core::consent::{Basis, ConsentState};
use crumb_core::inventory::{host_matches, url_matches};
use http::HeaderMap;

use crate::guard::{Allowed, Guard, Undeclared};

/// The category written on undeclared third-party scripts held by
/// [`Undeclared::Block`]; the banner never activates it.
pub const UNDECLARED: &str = "undeclared";

/// The banner's tag, written with the page's CSP nonce (if any) as the first child of
/// `<head>`.
#[derive(Clone)]
pub struct BannerTag(Arc<TagFn>);

/// Makes the banner tag's markup from the page's CSP nonce.
type TagFn = dyn Fn(Option<&str>) -> String + Send + Sync;

impl std::fmt::Debug for BannerTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BannerTag").field(&self.render(None)).finish()
    }
}

impl BannerTag {
    /// A classic (synchronous) `<script src="SRC" nonce="N"></script>`: it runs before the
    /// page's own scripts, so the banner can stop what they insert at run time.
    pub fn script(src: &str) -> BannerTag {
        let src = escape_attr(src);
        BannerTag(Arc::new(move |nonce| match nonce {
            Some(n) => format!("<script src=\"{src}\" nonce=\"{}\"></script>", escape_attr(n)),
            None => format!("<script src=\"{src}\"></script>"),
        }))
    }

    /// Any markup, made from the page's CSP nonce (the banner decides what it inserts).
    pub fn custom(f: impl Fn(Option<&str>) -> String + Send + Sync + 'static) -> BannerTag {
        BannerTag(Arc::new(f))
    }

    /// The markup for a page with CSP nonce `nonce`.
    pub fn render(&self, nonce: Option<&str>) -> String {
        (self.0)(nonce)
    }

    /// [`BannerTag::render`] as bytes.
    pub fn bytes(&self, nonce: Option<&str>) -> Bytes {
        Bytes::from(self.render(nonce))
    }
}

/// The banner's first layer, rendered into the page right after `<body>` for a visitor who
/// has not decided yet, so it is on screen at the first contentful paint (`crumb-banner`'s
/// `first_layer_html` makes it; the banner script attaches to it).
#[derive(Clone)]
pub struct FirstLayer(Arc<FirstLayerFn>);

/// Makes the first layer's markup from the visitor's `Accept-Language` and the page's CSP nonce.
type FirstLayerFn = dyn Fn(Option<&str>, Option<&str>) -> Option<String> + Send + Sync;

impl std::fmt::Debug for FirstLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstLayer").finish_non_exhaustive()
    }
}

impl FirstLayer {
    /// Markup made from `(Accept-Language, CSP nonce)`; `None` inserts nothing.
    pub fn new(f: impl Fn(Option<&str>, Option<&str>) -> Option<String> + Send + Sync + 'static) -> FirstLayer {
        FirstLayer(Arc::new(f))
    }

    /// The markup for a visitor asking for `accept_language` on a page with nonce `nonce`.
    pub fn render(&self, accept_language: Option<&str>, nonce: Option<&str>) -> Option<String> {
        (self.0)(accept_language, nonce)
    }
}

/// `&`, `"`, `<` and `>` escaped for a double-quoted attribute value.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A declared service, compiled for the rewriter.
#[derive(Debug, Clone)]
struct ServiceRule {
    id: Box<str>,
    category: Box<str>,
    /// Index of its category in the inventory (`None`: undeclared category, never held).
    category_index: Option<u8>,
    required: bool,
    hosts: Vec<String>,
    url_patterns: Vec<String>,
    inline_patterns: Vec<String>,
}

#[derive(Debug, Clone)]
struct Inner {
    guard: Guard,
    services: Vec<ServiceRule>,
    undeclared: Undeclared,
    banner: Option<BannerTag>,
    /// The first layer, for visitors who have not decided.
    first_layer: Option<FirstLayer>,
    /// Hold back elements (off: only the banner tag is inserted).
    hold: bool,
    categories: usize,
    /// Whether any service has `url_patterns`.
    any_url_patterns: bool,
}

/// The guard's HTML rewriter settings: the services it can hold back and the banner tag it
/// inserts. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rewriter {
    inner: Arc<Inner>,
}

/// Why an element is held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// `data-crumb-category`: the service's category, or [`UNDECLARED`].
    pub category: String,
    /// `data-crumb-service`, when a declared service matched.
    pub service: Option<String>,
}

/// What to do on one page for one visitor.
#[derive(Debug, Clone)]
pub struct Plan {
    rewriter: Rewriter,
    /// Per service: held back for this visitor.
    held: Vec<bool>,
    /// Hold undeclared third-party scripts.
    block_undeclared: bool,
    /// The page's host (from the request), to tell first-party URLs.
    page_host: Option<String>,
    /// The first layer and the visitor's `Accept-Language`, when the visitor has not decided.
    first_layer: Option<(FirstLayer, Option<String>)>,
}

/// Whether a `<script type>` runs as JavaScript (a missing or empty type does).
pub fn is_js_type(ty: Option<&str>) -> bool {
    let Some(t) = ty.map(|t| t.trim().to_ascii_lowercase()) else { return true };
    let essence = t.split(';').next().unwrap_or_default().trim();
    essence.is_empty()
        || essence == "module"
        || ["javascript", "ecmascript", "jscript", "livescript"].iter().any(|w| essence.ends_with(w))
}

/// The lowercase host of an absolute (`https://h/...`) or scheme-relative (`//h/...`) URL.
pub fn url_host(url: &str) -> Option<String> {
    let u = url.trim();
    let rest = match u.find("://") {
        Some(i) if u[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => &u[i + 3..],
        _ => u.strip_prefix("//")?,
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default().to_string()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

impl Rewriter {
    /// Rewriting for `guard`'s inventory, inserting `banner` (if any) into every HTML page.
    /// Undeclared third-party scripts follow the guard's [`Settings::undeclared`](crate::Settings::undeclared).
    pub fn new(guard: &Guard, banner: Option<BannerTag>) -> Rewriter {
        let inv = guard.inventory();
        let undeclared = guard.settings().undeclared;
        let services = inv
            .services
            .iter()
            .map(|s| ServiceRule {
                id: s.id.as_str().into(),
                category: s.category.as_str().into(),
                category_index: inv.categories.iter().position(|c| c.id == s.category).map(|i| i as u8),
                required: inv.is_required(&s.category),
                hosts: s.hosts.clone(),
                url_patterns: s.url_patterns.clone(),
                inline_patterns: s
                    .inline_patterns
                    .iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            })
            .collect();
        Rewriter {
            inner: Arc::new(Inner {
                guard: guard.clone(),
                services,
                undeclared,
                banner,
                first_layer: None,
                hold: true,
                categories: inv.categories.len(),
                any_url_patterns: inv.services.iter().any(|s| !s.url_patterns.is_empty()),
            }),
        }
    }

    /// Only insert `banner`; hold nothing back (the guard still filters cookies).
    pub fn banner_only(guard: &Guard, banner: BannerTag) -> Rewriter {
        let mut inner = Arc::unwrap_or_clone(Rewriter::new(guard, Some(banner)).inner);
        inner.hold = false;
        Rewriter { inner: Arc::new(inner) }
    }

    /// Also render `first_layer` after `<body>` for visitors who have not decided yet.
    pub fn with_first_layer(self, first_layer: FirstLayer) -> Rewriter {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.first_layer = Some(first_layer);
        Rewriter { inner: Arc::new(inner) }
    }

    /// The guard whose inventory this rewriter uses.
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The banner tag, if one is inserted.
    pub fn banner(&self) -> Option<&BannerTag> {
        self.inner.banner.as_ref()
    }

    /// Whether any page could be rewritten: a banner to insert, a service that can be held
    /// back, or undeclared scripts to block. When false, responses pass untouched.
    pub fn is_active(&self) -> bool {
        let i = &*self.inner;
        i.banner.is_some()
            || (i.hold
                && (i.undeclared == Undeclared::Block
                    || i.services.iter().any(|s| !s.required && s.category_index.is_some())))
    }

    /// The plan for a visitor allowing `allowed` on a page served for `page_host`.
    pub fn plan(&self, allowed: Allowed, page_host: Option<&str>) -> Plan {
        let held = self
            .inner
            .services
            .iter()
            .map(|s| self.inner.hold && !s.required && s.category_index.is_some_and(|i| !allowed.has(i)))
            .collect();
        let page_host = page_host.map(crumb_core::inventory::origin_host).filter(|h| !h.is_empty());
        Plan {
            rewriter: self.clone(),
            held,
            block_undeclared: self.inner.hold && self.inner.undeclared == Undeclared::Block,
            page_host,
            first_layer: None,
        }
    }

    /// The plan for a request: its consent state (`state`, from [`crate::GuardLayer`]'s
    /// request extension, or read from `headers`) and its `Host`.
    pub fn plan_for_request(&self, headers: &HeaderMap, authority: Option<&str>, state: Option<&ConsentState>) -> Plan {
        let guard = &self.inner.guard;
        let read;
        let state = match state {
            Some(s) => s,
            None => {
                read = guard.consent(headers);
                &read
            }
        };
        let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).or(authority);
        let mut plan = self.plan(guard.allowed(state), host);
        if let Some(fl) = &self.inner.first_layer
            && state.basis != Basis::Decision
        {
            let lang = headers.get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_string);
            plan.first_layer = Some((fl.clone(), lang));
        }
        plan
    }

    /// Whether `allowed` covers every category of the inventory.
    pub fn grants_all(&self, allowed: Allowed) -> bool {
        (0..self.inner.categories.min(64)).all(|i| allowed.has(i as u8))
    }
}

impl Plan {
    /// Whether anything may be held back on this page (otherwise only the banner tag, if
    /// any, is inserted, and without a banner the page is not parsed at all).
    pub fn holds_anything(&self) -> bool {
        self.block_undeclared || self.held.iter().any(|h| *h)
    }

    /// Whether the page depends on the visitor's choice (some service can be held back).
    pub fn varies_by_consent(&self) -> bool {
        self.rewriter.inner.first_layer.is_some()
            || (self.rewriter.inner.hold
                && self.rewriter.inner.services.iter().any(|s| !s.required && s.category_index.is_some()))
    }

    /// The first layer's markup for this visitor and a page with nonce `nonce` (none once
    /// the visitor has decided).
    pub fn first_layer(&self, nonce: Option<&str>) -> Option<String> {
        let (fl, lang) = self.first_layer.as_ref()?;
        fl.render(lang.as_deref(), nonce)
    }

    /// Whether the page needs an HTML pass at all.
    pub fn needs_pass(&self) -> bool {
        self.rewriter.inner.banner.is_some() || self.first_layer.is_some() || self.holds_anything()
    }

    /// The banner tag.
    pub fn banner(&self) -> Option<&BannerTag> {
        self.rewriter.inner.banner.as_ref()
    }

    /// Whether only absolute and scheme-relative URLs (values containing `//`) can be held:
    /// no service has `url_patterns`, so a relative URL is always first party. The HTML pass
    /// then lets `lol_html` skip elements whose URLs are all relative, without calling a handler.
    pub fn only_absolute_urls(&self) -> bool {
        !self.rewriter.inner.any_url_patterns
    }

    /// Whether some held service declares inline patterns.
    pub fn holds_inline(&self) -> bool {
        self.services_held().any(|s| !s.inline_patterns.is_empty())
    }

    fn services_held(&self) -> impl Iterator<Item = &ServiceRule> {
        self.rewriter.inner.services.iter().zip(&self.held).filter(|(_, h)| **h).map(|(s, _)| s)
    }

    /// `url` as the patterns see it: a path-absolute URL (`/x.js`) gets the page's host.
    fn absolute(&self, url: &str) -> String {
        let u = url.trim();
        match &self.page_host {
            Some(h) if u.starts_with('/') && !u.starts_with("//") => format!("//{h}{u}"),
            _ => u.to_string(),
        }
    }

    /// Whether a URL is on another site than the page's.
    fn third_party(&self, host: &str) -> bool {
        self.page_host.as_deref() != Some(host) && !self.rewriter.inner.guard.inventory().is_site_host(host)
    }

    /// Whether an element loading `url` is held back, and as what. `script` says the
    /// element is a `<script src>` (undeclared third-party scripts follow the guard's
    /// undeclared setting; other undeclared elements pass).
    pub fn hold_url(&self, url: &str, script: bool) -> Option<Hold> {
        // A relative URL is first party: only a `url_patterns` entry can name it.
        if !self.rewriter.inner.any_url_patterns && url_host(url).is_none() {
            return None;
        }
        let full = self.absolute(url);
        let host = url_host(&full);
        let services = &self.rewriter.inner.services;
        let by_pattern = services.iter().position(|s| s.url_patterns.iter().any(|p| url_matches(p, &full)));
        let found = by_pattern.or_else(|| {
            let host = host.as_deref()?;
            services.iter().position(|s| s.hosts.iter().any(|p| host_matches(p, host)))
        });
        match found {
            Some(i) => self.held[i].then(|| {
                let s = &services[i];
                Hold { category: s.category.to_string(), service: Some(s.id.to_string()) }
            }),
            None => {
                let host = host?;
                if !script || !self.third_party(&host) {
                    return None;
                }
                match self.rewriter.inner.undeclared {
                    Undeclared::Block => Some(Hold { category: UNDECLARED.into(), service: None }),
                    Undeclared::Report => {
                        tracing::info!(target: "crumb_guard", url = %url.trim(), "undeclared third-party script let through");
                        None
                    }
                    Undeclared::Allow => None,
                }
            }
        }
    }

    /// Whether an inline script with text `text` is held back (a held service's
    /// `inline_patterns` entry occurs in it).
    pub fn hold_inline(&self, text: &str) -> Option<Hold> {
        self.services_held()
            .find(|s| s.inline_patterns.iter().any(|p| text.contains(p.as_str())))
            .map(|s| Hold { category: s.category.to_string(), service: Some(s.id.to_string()) })
    }
}
