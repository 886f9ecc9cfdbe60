//! The compiled guard: reads the visitor's consent from request headers and filters the
//! `Set-Cookie` headers of a response.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cookie::Cookie;
use crumb_core::consent::{ConsentState, Signals, decide, mode_for};
use crumb_core::inventory::{SameSite, StorageKind};
use crumb_core::{Duration, Inventory, Matcher, Observed};
use http::header::{COOKIE, HeaderName, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

use crate::metrics::{FilterReport, Metrics, Reason};

/// What to do with a `Set-Cookie` for a cookie the inventory does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Undeclared {
    /// Remove it (strictest: only declared cookies reach visitors).
    Block,
    /// Let it through silently.
    Allow,
    /// Let it through, log it and count it (the default: find out what the site sets first).
    #[default]
    Report,
}

impl std::str::FromStr for Undeclared {
    type Err = GuardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "block" => Ok(Undeclared::Block),
            "allow" => Ok(Undeclared::Allow),
            "report" => Ok(Undeclared::Report),
            _ => Err(GuardError::Setting(format!("undeclared = `{s}`: use `block`, `allow` or `report`"))),
        }
    }
}

/// Guard settings beyond what the inventory says.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cookies the inventory does not declare.
    pub undeclared: Undeclared,
    /// Policy versions still covered by a stored decision (the current one and every
    /// version since the last material change). Empty: a decision on any version counts.
    pub valid_versions: Vec<String>,
    /// Apply declared attributes (`Secure`, `HttpOnly`, `SameSite`, `Domain`, lifetime cap)
    /// to cookies that are let through (default true).
    pub fix_attributes: bool,
    /// Expire declared cookies of refused categories that the browser still sends (set
    /// before the visitor withdrew consent, or by a script): the response gets a
    /// `Set-Cookie` with `Max-Age=0` for each, so even `HttpOnly` cookies, which the banner
    /// cannot delete, go (default true).
    pub expire_refused: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            undeclared: Undeclared::Report,
            valid_versions: Vec::new(),
            fix_attributes: true,
            expire_refused: true,
        }
    }
}

/// Why a guard could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// More categories than the guard's per-request bit set holds.
    #[error("the inventory declares {0} categories; the guard supports at most 64")]
    TooManyCategories(usize),
    /// `rules.country_header` is not a valid HTTP header name.
    #[error("rules.country_header `{0}` is not a valid HTTP header name")]
    CountryHeader(String),
    /// A setting has a value the guard does not know.
    #[error("{0}")]
    Setting(String),
}

/// The categories a visitor allows, as a bit set over the inventory's categories (in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowed(u64);

impl Allowed {
    /// Whether the category at `index` (in the inventory's order) is allowed.
    pub fn has(self, index: u8) -> bool {
        self.0 & (1u64 << index) != 0
    }
}

/// A declared cookie, compiled for the response path.
#[derive(Debug)]
struct Rule {
    /// Declared name (or pattern), for logs and metrics.
    name: Box<str>,
    category: Box<str>,
    category_index: Option<u8>,
    required: bool,
    secure: bool,
    http_only: bool,
    same_site: Option<cookie::SameSite>,
    domain: Option<Box<str>>,
    lifetime: Lifetime,
    path: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy)]
enum Lifetime {
    Unknown,
    Session,
    Seconds(i64),
}

/// One `Set-Cookie` header's fate.
enum Verdict {
    Keep,
    Drop,
    Rewrite(HeaderValue),
}

pub(crate) struct Inner {
    inventory: Inventory,
    matcher: Matcher,
    cookie_name: Box<str>,
    country_header: Option<HeaderName>,
    rules: Vec<Rule>,
    required_mask: Allowed,
    settings: Settings,
    pub(crate) metrics: Metrics,
}

/// The guard for one site: the inventory compiled once, shared cheaply (`Clone` is an `Arc`).
#[derive(Clone)]
pub struct Guard {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("site", &self.inner.inventory.site.id).finish_non_exhaustive()
    }
}

fn same_site(s: SameSite) -> cookie::SameSite {
    match s {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::None => cookie::SameSite::None,
    }
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Guard {
    /// Compile a (checked) inventory.
    pub fn new(inventory: Inventory, settings: Settings) -> Result<Guard, GuardError> {
        if inventory.categories.len() > 64 {
            return Err(GuardError::TooManyCategories(inventory.categories.len()));
        }
        let country_header = match &inventory.rules.country_header {
            Some(h) => Some(HeaderName::try_from(h.trim()).map_err(|_| GuardError::CountryHeader(h.clone()))?),
            None => None,
        };
        let category_index = |id: &str| inventory.categories.iter().position(|c| c.id == id).map(|i| i as u8);
        let rules: Vec<Rule> = inventory
            .items()
            .map(|item| Rule {
                name: item.name.as_str().into(),
                category: item.category.as_str().into(),
                category_index: category_index(&item.category),
                required: inventory.is_required(&item.category),
                secure: item.secure == Some(true),
                http_only: item.http_only == Some(true),
                same_site: item.same_site.map(same_site),
                domain: item.domain.as_deref().map(|d| d.trim_start_matches('.').into()),
                path: item.path.as_deref().map(Into::into),
                lifetime: if item.storage() != StorageKind::Cookie {
                    Lifetime::Unknown
                } else {
                    match item.lifetime() {
                        Ok(Some(Duration::Session)) => Lifetime::Session,
                        Ok(Some(Duration::Fixed(s))) => Lifetime::Seconds(s.min(i64::MAX as u64) as i64),
                        _ => Lifetime::Unknown,
                    }
                },
            })
            .collect();
        let mut required_mask = 0u64;
        for (i, c) in inventory.categories.iter().enumerate() {
            if c.required {
                required_mask |= 1 << i;
            }
        }
        let metrics = Metrics::new(rules.iter().map(|r| (r.name.to_string(), r.category.to_string())).collect());
        Ok(Guard {
            inner: Arc::new(Inner {
                matcher: Matcher::new(&inventory),
                cookie_name: inventory.banner.cookie_name.as_str().into(),
                country_header,
                rules,
                required_mask: Allowed(required_mask),
                settings,
                metrics,
                inventory,
            }),
        })
    }

    /// The inventory this guard enforces.
    pub fn inventory(&self) -> &Inventory {
        &self.inner.inventory
    }

    /// The guard's settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The trusted country header (`rules.country_header`), if the inventory names one.
    pub(crate) fn country_header(&self) -> Option<&HeaderName> {
        self.inner.country_header.as_ref()
    }

    /// The guard's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The consent cookie's raw value in a request's `Cookie` headers, if present.
    pub fn consent_cookie<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        consent_cookie(headers, &self.inner.cookie_name)
    }

    /// What the visitor behind these request headers allows: the consent cookie, `Sec-GPC`,
    /// `DNT` and the trusted country header (`rules.country_header`), decided by
    /// [`crumb_core::consent::decide`].
    pub fn consent(&self, headers: &HeaderMap) -> ConsentState {
        self.consent_at(headers, now_unix())
    }

    /// [`Guard::consent`] at a given time (unix seconds).
    pub fn consent_at(&self, headers: &HeaderMap, now: i64) -> ConsentState {
        let inner = &*self.inner;
        let flag = |name: &str| headers.get(name).is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
        let signals = Signals { gpc: flag("sec-gpc"), dnt: flag("dnt") };
        let country = inner.country_header.as_ref().and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok());
        let mode = mode_for(&inner.inventory, country);
        decide(&inner.inventory, self.consent_cookie(headers), signals, mode, &inner.settings.valid_versions, now)
    }

    /// The categories of a consent state as the response filter uses them.
    pub fn allowed(&self, state: &ConsentState) -> Allowed {
        let mut bits = self.inner.required_mask.0;
        for (i, c) in self.inner.inventory.categories.iter().enumerate() {
            if state.allows(&c.id) {
                bits |= 1 << i;
            }
        }
        Allowed(bits)
    }

    /// Declared cookies of categories not allowed that a request carries (by the name sent,
    /// with the index of their declaration). `None` when there are none (no allocation).
    pub fn refused_in_request(&self, headers: &HeaderMap, allowed: Allowed) -> Option<Vec<(usize, String)>> {
        let inner = &*self.inner;
        if !inner.settings.expire_refused {
            return None;
        }
        let mut out: Option<Vec<(usize, String)>> = None;
        for value in headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            for c in Cookie::split_parse(value).filter_map(Result::ok) {
                let name = c.name();
                if name == &*inner.cookie_name {
                    continue;
                }
                let Some(index) =
                    inner.matcher.find_index(Observed { storage: StorageKind::Cookie, name, domain: None })
                else {
                    continue;
                };
                let Some(rule) = inner.rules.get(index) else { continue };
                if rule.required || rule.category_index.is_some_and(|i| allowed.has(i)) {
                    continue;
                }
                let list = out.get_or_insert_with(Vec::new);
                if !list.iter().any(|(_, n)| n == name) {
                    list.push((index, name.to_string()));
                }
            }
        }
        out
    }

    /// Add a `Set-Cookie` that expires each of `cookies` (from [`Guard::refused_in_request`]),
    /// on the declared path and domain, unless the response already sets that name.
    pub fn expire(&self, headers: &mut HeaderMap, cookies: &[(usize, String)], path: &str) {
        for (index, name) in cookies {
            let Some(rule) = self.inner.rules.get(*index) else { continue };
            let already = headers
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| Cookie::parse(v).ok())
                .any(|c| c.name() == name);
            if already {
                continue;
            }
            let mut c = Cookie::new(name.as_str(), "");
            c.set_path(rule.path.as_deref().unwrap_or("/").to_string());
            if let Some(d) = rule.domain.as_deref() {
                c.set_domain(d.to_string());
            }
            c.set_max_age(cookie::time::Duration::ZERO);
            c.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
            c.set_http_only(true);
            c.set_same_site(cookie::SameSite::Lax);
            if rule.secure {
                c.set_secure(true);
            }
            if let Ok(v) = HeaderValue::try_from(c.to_string()) {
                headers.append(SET_COOKIE, v);
                self.inner.metrics.record(Reason::Expired, Some(*index), name, path);
            }
        }
    }

    /// Remove the `Set-Cookie` headers the visitor has not allowed and apply declared
    /// attributes to the rest. `path` (without the query) is only used in logs.
    pub fn filter(&self, headers: &mut HeaderMap, allowed: Allowed, path: &str) -> FilterReport {
        self.filter_at(headers, allowed, path, now_unix())
    }

    /// [`Guard::filter`] at a given time (unix seconds).
    pub fn filter_at(&self, headers: &mut HeaderMap, allowed: Allowed, path: &str, now: i64) -> FilterReport {
        let mut report = FilterReport::default();
        if !headers.contains_key(SET_COOKIE) {
            return report;
        }
        // Decide first without touching the map: the common case keeps every header as is.
        let mut verdicts: Option<Vec<Verdict>> = None;
        for (i, value) in headers.get_all(SET_COOKIE).iter().enumerate() {
            report.seen += 1;
            let v = self.judge(value, allowed, path, now, &mut report);
            match (&mut verdicts, v) {
                (None, Verdict::Keep) => {}
                (None, v) => {
                    let mut all: Vec<Verdict> = (0..i).map(|_| Verdict::Keep).collect();
                    all.push(v);
                    verdicts = Some(all);
                }
                (Some(all), v) => all.push(v),
            }
        }
        if let Some(verdicts) = verdicts {
            let old: Vec<HeaderValue> = match headers.entry(SET_COOKIE) {
                http::header::Entry::Occupied(e) => e.remove_entry_mult().1.collect(),
                http::header::Entry::Vacant(_) => Vec::new(),
            };
            for (value, verdict) in old.into_iter().zip(verdicts) {
                match verdict {
                    Verdict::Keep => {
                        headers.append(SET_COOKIE, value);
                    }
                    Verdict::Rewrite(new) => {
                        headers.append(SET_COOKIE, new);
                    }
                    Verdict::Drop => {}
                }
            }
        }
        self.inner.metrics.record_response(&report);
        report
    }

    fn judge(&self, value: &HeaderValue, allowed: Allowed, path: &str, now: i64, report: &mut FilterReport) -> Verdict {
        let inner = &*self.inner;
        let parsed = value.to_str().ok().and_then(|s| Cookie::parse(s).ok());
        let Some(mut c) = parsed else {
            return match inner.settings.undeclared {
                Undeclared::Block => {
                    report.undeclared_blocked += 1;
                    inner.metrics.record(Reason::Malformed, None, "", path);
                    Verdict::Drop
                }
                _ => Verdict::Keep,
            };
        };
        if c.name() == &*inner.cookie_name || is_deletion(&c, now) {
            return Verdict::Keep;
        }
        let obs = Observed { storage: StorageKind::Cookie, name: c.name(), domain: c.domain() };
        let Some(index) = inner.matcher.find_index(obs) else {
            return match inner.settings.undeclared {
                Undeclared::Block => {
                    report.undeclared_blocked += 1;
                    inner.metrics.record(Reason::Undeclared, None, c.name(), path);
                    Verdict::Drop
                }
                Undeclared::Report => {
                    report.undeclared_reported += 1;
                    inner.metrics.record(Reason::Reported, None, c.name(), path);
                    Verdict::Keep
                }
                Undeclared::Allow => Verdict::Keep,
            };
        };
        let Some(rule) = inner.rules.get(index) else { return Verdict::Keep };
        let granted = rule.required || rule.category_index.is_some_and(|i| allowed.has(i));
        if !granted {
            report.refused += 1;
            inner.metrics.record(Reason::Refused, Some(index), c.name(), path);
            return Verdict::Drop;
        }
        if !inner.settings.fix_attributes || !fix_attributes(rule, &mut c, now) {
            return Verdict::Keep;
        }
        match HeaderValue::try_from(c.to_string()) {
            Ok(v) => {
                report.rewritten += 1;
                inner.metrics.record(Reason::Rewritten, Some(index), c.name(), path);
                Verdict::Rewrite(v)
            }
            Err(_) => Verdict::Keep,
        }
    }
}

/// The value of cookie `name` in a request's `Cookie` headers (the first one sent).
pub fn consent_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name_raw() == Some(name))
        .and_then(|c| c.value_raw())
}

/// A `Set-Cookie` that removes a cookie (`Max-Age<=0` or an `Expires` in the past).
fn is_deletion(c: &Cookie<'_>, now: i64) -> bool {
    if let Some(age) = c.max_age() {
        return age.whole_seconds() <= 0;
    }
    c.expires_datetime().is_some_and(|t| t.unix_timestamp() <= now)
}

/// Apply the declared attributes; true if anything changed.
fn fix_attributes(rule: &Rule, c: &mut Cookie<'_>, now: i64) -> bool {
    let mut changed = false;
    if rule.secure && c.secure() != Some(true) {
        c.set_secure(true);
        changed = true;
    }
    if rule.http_only && c.http_only() != Some(true) {
        c.set_http_only(true);
        changed = true;
    }
    if let Some(ss) = rule.same_site
        && c.same_site() != Some(ss)
    {
        c.set_same_site(ss);
        if ss == cookie::SameSite::None && c.secure() != Some(true) {
            c.set_secure(true);
        }
        changed = true;
    }
    if let Some(d) = rule.domain.as_deref()
        && !c.domain().is_some_and(|have| have.trim_start_matches('.').eq_ignore_ascii_case(d))
    {
        c.set_domain(d.to_string());
        changed = true;
    }
    let lifetime =
        c.max_age().map(|a| a.whole_seconds()).or_else(|| c.expires_datetime().map(|t| t.unix_timestamp() - now));
    match (rule.lifetime, lifetime) {
        (Lifetime::Session, Some(_)) => {
            c.set_max_age(None);
            c.unset_expires();
            changed = true;
        }
        (Lifetime::Seconds(cap), Some(have)) if have > cap => {
            c.set_max_age(cookie::time::Duration::seconds(cap));
            if c.expires().is_some() {
                c.set_expires(
                    cookie::time::OffsetDateTime::from_unix_timestamp(now.saturating_add(cap))
                        .unwrap_or(cookie::time::OffsetDateTime::UNIX_EPOCH),
                );
            }
            changed = true;
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests;
