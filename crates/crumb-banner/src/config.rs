//! The banner's configuration, inlined into `/s/{site}/banner.js` (first stage) and
//! `/s/{site}/banner-more.js` (second stage).
//!
//! [`ClientConfig`] is the one set of types: its serialisation is exactly the first stage's
//! configuration object, and the fields marked `#[serde(skip)]` are what only the second
//! stage needs (the declaration's URL, category titles and descriptions, services), serialised
//! from the same values by [`crate::SiteBanner::build`], or what the server renders itself
//! (the site's name in the server-rendered first layer). Field names are the contract with
//! `src/js/`; `docs/banner.md` documents them.

use std::collections::BTreeMap;

use crumb_core::inventory::{ConsentModeType, Inventory, RegionalMode, SignalRule};
use serde::{Serialize, Serializer};

use crate::intercept::block_regex;

/// Where the server is reachable and what it knows of the site and this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientContext {
    /// The server's public base URL, without a trailing slash (`https://consent.example.com`);
    /// empty for URLs relative to the script's own `src`.
    pub base_url: String,
    /// The site's current policy version (as the server computed it when it loaded the site).
    pub version: String,
    /// Policy versions covered by stored decisions, newest last; empty means only `version`.
    pub valid_versions: Vec<String>,
    /// Mode for this visitor.
    pub mode: RegionalMode,
    /// Region, when known (`None` for a shared, cacheable asset).
    pub region: Option<String>,
}

/// Everything the banner needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConfig {
    /// Site id.
    pub site: String,
    /// Current policy version.
    pub version: String,
    /// Versions still covered by a stored decision (the current one and every version
    /// since the last material change); a stored decision on any other version is asked again.
    pub valid_versions: Vec<String>,
    /// URL of `POST /api/v1/consents`.
    pub api: String,
    /// URL of `/s/{site}/declaration.json` (second stage).
    #[serde(skip)]
    pub declaration: String,
    /// URL of the HTML policy.
    pub policy_url: String,
    /// Consent lifetime in days; the script gets it in seconds, as `max_age` (the cookie's
    /// `Max-Age`).
    #[serde(rename = "max_age", serialize_with = "days_as_seconds")]
    pub lifetime_days: u32,
    /// The consent cookie.
    pub cookie: CookieSettings,
    /// `honor` or `ignore`, per signal.
    pub signals: SignalSettings,
    /// `opt_in` or `opt_out`, as resolved for this visitor's region (`by_country` never appears here).
    pub mode: RegionalMode,
    /// The region the server resolved (ISO country code), when known. Not inlined: the shared
    /// asset never carries one.
    #[serde(skip)]
    pub region: Option<String>,
    /// With `by_country`: the regions (ISO 3166 codes such as `US` or `US-CA`) where opt-out
    /// applies. The banner gives Google Consent Mode a region-scoped default for them
    /// (granted, as opt-out allows until refused) beside the global denied default.
    pub opt_out_regions: Vec<String>,
    /// Languages offered, the default first.
    pub languages: Vec<String>,
    /// Show the floating reopen button (never on a site that needs no banner).
    pub floating_button: bool,
    /// Whether the site needs a banner at all (false for an essential-only site).
    pub needs_banner: bool,
    /// The site's name, as the banner's title names it (in the server-rendered first layer).
    #[serde(skip)]
    pub site_name: String,
    /// Categories in display order.
    pub categories: Vec<ClientCategory>,
}

/// Consent cookie settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieSettings {
    /// Cookie name (`crumb_consent`).
    pub name: String,
    /// Parent domain to share consent across subdomains, if declared (without a leading dot).
    pub domain: Option<String>,
}

/// Signal rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SignalSettings {
    /// GPC rule.
    pub gpc: SignalRule,
    /// DNT rule.
    pub dnt: SignalRule,
}

/// A category as the banner shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientCategory {
    /// Id.
    pub id: String,
    /// Required: shown on and locked.
    pub required: bool,
    /// Title per language (second stage: preferences dialog, embed placeholder).
    #[serde(skip)]
    pub title: BTreeMap<String, String>,
    /// Consent Mode v2 types granted with this category.
    pub consent_mode: Vec<ConsentModeType>,
    /// Whether honoured GPC/DNT pre-deny it.
    pub signals_deny: bool,
    /// What the run-time interceptor holds back while the category is refused: one regex over
    /// host, path and query built from its services' `hosts` and `url_patterns`
    /// ([`block_regex`]); `None` for a required category or when nothing is declared.
    pub block: Option<String>,
    /// Second stage only: description per language and the services' details.
    #[serde(skip)]
    pub details: CategoryDetails,
}

/// What the preferences dialog (second stage) shows of a category.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CategoryDetails {
    /// Description per language.
    pub description: BTreeMap<String, String>,
    /// Its services.
    pub services: Vec<ServiceDetails>,
}

/// A service as the preferences dialog and the embed placeholder name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDetails {
    /// Id (embeds reference it with `data-crumb-service`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Company.
    pub provider: String,
    /// Provider's privacy policy.
    pub privacy_policy: Option<String>,
}

/// Build the banner configuration for one site.
pub fn client_config(inv: &Inventory, ctx: &ClientContext) -> ClientConfig {
    let langs = inv.site.languages.clone();
    let mut valid_versions = ctx.valid_versions.clone();
    if !valid_versions.contains(&ctx.version) {
        valid_versions.push(ctx.version.clone());
    }
    let base = ctx.base_url.trim_end_matches('/');
    let categories = inv
        .categories
        .iter()
        .map(|c| {
            let services: Vec<_> = inv.services.iter().filter(|s| s.category == c.id).collect();
            ClientCategory {
                id: c.id.clone(),
                required: c.required,
                title: c.title.resolve(&langs),
                consent_mode: c.consent_mode.clone(),
                signals_deny: c.denied_by_signals(),
                block: if c.required {
                    None
                } else {
                    block_regex(
                        services.iter().flat_map(|s| s.hosts.iter().map(String::as_str)),
                        services.iter().flat_map(|s| s.url_patterns.iter().map(String::as_str)),
                    )
                },
                details: CategoryDetails {
                    description: c.description.resolve(&langs),
                    services: services
                        .iter()
                        .map(|s| ServiceDetails {
                            id: s.id.clone(),
                            name: s.name.clone(),
                            provider: s.provider.clone(),
                            privacy_policy: s.privacy_policy.clone(),
                        })
                        .collect(),
                },
            }
        })
        .collect();
    let lifetime_days = inv
        .rules
        .lifetime()
        .ok()
        .and_then(|d| d.seconds())
        .map(|s| (s / crumb_core::duration::DAY).max(1) as u32)
        .unwrap_or(182);
    ClientConfig {
        site: inv.site.id.clone(),
        version: ctx.version.clone(),
        valid_versions,
        api: format!("{base}/api/v1/consents"),
        declaration: format!("{base}/s/{}/declaration.json", inv.site.id),
        policy_url: format!("{base}/s/{}/cookie-policy", inv.site.id),
        lifetime_days,
        cookie: CookieSettings {
            name: inv.banner.cookie_name.clone(),
            // the script compares it with the page's host as is
            domain: inv
                .site
                .cookie_domain
                .as_deref()
                .map(|d| d.trim_start_matches('.').to_string())
                .filter(|d| !d.is_empty()),
        },
        signals: SignalSettings { gpc: inv.rules.gpc, dnt: inv.rules.dnt },
        mode: ctx.mode,
        region: ctx.region.clone(),
        opt_out_regions: match inv.rules.regional_mode {
            RegionalMode::ByCountry => inv.rules.opt_out_countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            _ => Vec::new(),
        },
        languages: langs,
        floating_button: inv.banner.floating_button && inv.banner.enabled && inv.has_non_essential(),
        needs_banner: inv.banner.enabled && inv.has_non_essential(),
        site_name: inv.site.name.clone(),
        categories,
    }
}

fn days_as_seconds<S: Serializer>(days: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::from(*days) * 86_400)
}
