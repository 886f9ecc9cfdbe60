//! The banner's configuration, inlined into `/s/{site}/banner.js` (first stage) and
//! `/s/{site}/banner-more.js` (second stage).
//!
//! [`ClientConfig`] is the one set of types: its serialisation is exactly the first stage's
//! configuration object, and the fields marked `#[serde(skip)]` are what only the second
//! stage needs (category descriptions, service providers and policies), serialised from
//! the same values by [`crate::SiteBanner::build`]. Field names are the contract with
//! `src/js/`; `docs/banner.md` documents them.

use std::collections::BTreeMap;

use crumb_core::inventory::{ConsentModeType, Inventory, RegionalMode, SignalRule};
use serde::Serialize;

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
    /// URL of `/s/{site}/declaration.json`.
    pub declaration: String,
    /// URL of the HTML policy.
    pub policy_url: String,
    /// Consent lifetime in days.
    pub lifetime_days: u32,
    /// The consent cookie.
    pub cookie: CookieSettings,
    /// `honor` or `ignore`, per signal.
    pub signals: SignalSettings,
    /// `opt_in` or `opt_out`, as resolved for this visitor's region (`by_country` never appears here).
    pub mode: RegionalMode,
    /// The region the server resolved (ISO country code), when known.
    pub region: Option<String>,
    /// With `by_country`: the regions (ISO 3166 codes such as `US` or `US-CA`) where opt-out
    /// applies. The banner gives Google Consent Mode a region-scoped default for them
    /// (granted, as opt-out allows until refused) beside the global denied default.
    pub opt_out_regions: Vec<String>,
    /// Languages offered, the default first.
    pub languages: Vec<String>,
    /// Show the floating reopen button.
    pub floating_button: bool,
    /// Whether the site needs a banner at all (false for an essential-only site).
    pub needs_banner: bool,
    /// The site's name, as the banner's title names it.
    pub site_name: String,
    /// Categories in display order.
    pub categories: Vec<ClientCategory>,
}

/// Consent cookie settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieSettings {
    /// Cookie name (`crumb_consent`).
    pub name: String,
    /// Parent domain to share consent across subdomains, if declared.
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
    /// Title per language.
    pub title: BTreeMap<String, String>,
    /// Consent Mode v2 types granted with this category.
    pub consent_mode: Vec<ConsentModeType>,
    /// Whether honoured GPC/DNT pre-deny it.
    pub signals_deny: bool,
    /// Third-party services relying on it (the first stage names them on embed placeholders).
    pub services: Vec<ServiceName>,
    /// Second stage only: description per language and the services' details.
    #[serde(skip)]
    pub details: CategoryDetails,
}

/// A service as the first stage names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceName {
    /// Id (embeds reference it with `data-crumb-service`).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// What the preferences dialog (second stage) shows of a category.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CategoryDetails {
    /// Description per language.
    pub description: BTreeMap<String, String>,
    /// Its services.
    pub services: Vec<ServiceDetails>,
}

/// A service as the preferences dialog names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDetails {
    /// Id.
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
                services: services.iter().map(|s| ServiceName { id: s.id.clone(), name: s.name.clone() }).collect(),
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
        cookie: CookieSettings { name: inv.banner.cookie_name.clone(), domain: inv.site.cookie_domain.clone() },
        signals: SignalSettings { gpc: inv.rules.gpc, dnt: inv.rules.dnt },
        mode: ctx.mode,
        region: ctx.region.clone(),
        opt_out_regions: match inv.rules.regional_mode {
            RegionalMode::ByCountry => inv.rules.opt_out_countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            _ => Vec::new(),
        },
        languages: langs,
        floating_button: inv.banner.floating_button,
        needs_banner: inv.banner.enabled && inv.has_non_essential(),
        site_name: inv.site.name.clone(),
        categories,
    }
}
