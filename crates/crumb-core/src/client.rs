//! The configuration the banner receives, inlined into `/s/{site}/banner.js`.
//!
//! Field names here are the contract between the server and `crumb-banner`'s JavaScript;
//! `docs/banner.md` documents them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::inventory::{ConsentModeType, Inventory, MatchKind, RegionalMode, SignalRule, StorageKind};
use crate::version::policy_version;

/// Everything the banner needs, serialised as JSON into `banner.js`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Site id.
    pub site: String,
    /// Current policy version.
    pub version: String,
    /// Versions still covered by a stored decision (the current one and every version
    /// since the last material change); a stored decision on any other version is asked again.
    pub valid_versions: Vec<String>,
    /// Absolute URL of `POST /api/v1/consents`.
    pub api: String,
    /// Absolute URL of `/s/{site}/declaration.json`.
    pub declaration: String,
    /// Absolute URL of the HTML policy.
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
    /// Categories in display order.
    pub categories: Vec<ClientCategory>,
    /// Texts written by the site, per language: `site_name`.
    pub site_name: String,
}

/// Consent cookie settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieSettings {
    /// Cookie name (`crumb_consent`).
    pub name: String,
    /// Parent domain to share consent across subdomains, if declared.
    pub domain: Option<String>,
}

/// Signal rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalSettings {
    /// GPC rule.
    pub gpc: SignalRule,
    /// DNT rule.
    pub dnt: SignalRule,
}

/// A category as the banner shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientCategory {
    /// Id.
    pub id: String,
    /// Required: shown on and locked.
    pub required: bool,
    /// Title per language.
    pub title: BTreeMap<String, String>,
    /// Description per language.
    pub description: BTreeMap<String, String>,
    /// Consent Mode v2 types granted with this category.
    pub consent_mode: Vec<ConsentModeType>,
    /// Whether honoured GPC/DNT pre-deny it.
    pub signals_deny: bool,
    /// Third-party services relying on it.
    pub services: Vec<ClientService>,
    /// What to delete when the category is refused or withdrawn.
    pub delete: Vec<DeletePattern>,
}

/// A service as the banner names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientService {
    /// Id (embeds reference it with `data-crumb-service`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Company.
    pub provider: String,
    /// Provider's privacy policy.
    pub privacy_policy: Option<String>,
    /// Hosts it contacts (the banner holds back requests to them while the category is refused).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// URL prefixes or `*` globs of its resources on hosts it shares with others.
    #[serde(default)]
    pub url_patterns: Vec<String>,
}

/// A declared cookie or storage key to delete on refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePattern {
    /// Where it lives.
    pub storage: StorageKind,
    /// `exact`, `prefix` or `regex`.
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    /// The name, prefix or regex source.
    pub name: String,
    /// Declared cookie domain.
    pub domain: Option<String>,
    /// Declared cookie path.
    pub path: Option<String>,
}

/// Where the server is reachable and what it resolved for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientContext {
    /// The server's public base URL, without a trailing slash (`https://consent.example.com`).
    pub base_url: String,
    /// Policy versions covered by stored decisions, newest last; empty means only the current one.
    pub valid_versions: Vec<String>,
    /// Mode for this visitor.
    pub mode: RegionalMode,
    /// Region, when known.
    pub region: Option<String>,
}

/// Build the banner configuration for one site.
pub fn client_config(inv: &Inventory, ctx: &ClientContext) -> ClientConfig {
    let langs = inv.site.languages.clone();
    let version = policy_version(inv);
    let mut valid_versions = ctx.valid_versions.clone();
    if !valid_versions.contains(&version) {
        valid_versions.push(version.clone());
    }
    let base = ctx.base_url.trim_end_matches('/');
    let categories = inv
        .categories
        .iter()
        .map(|c| ClientCategory {
            id: c.id.clone(),
            required: c.required,
            title: c.title.resolve(&langs),
            description: c.description.resolve(&langs),
            consent_mode: c.consent_mode.clone(),
            signals_deny: c.denied_by_signals(),
            services: inv
                .services
                .iter()
                .filter(|s| s.category == c.id)
                .map(|s| ClientService {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    provider: s.provider.clone(),
                    privacy_policy: s.privacy_policy.clone(),
                    hosts: s.hosts.clone(),
                    url_patterns: Vec::new(),
                })
                .collect(),
            delete: if c.required {
                Vec::new()
            } else {
                inv.items()
                    .filter(|i| i.category == c.id)
                    .filter_map(|i| {
                        let (match_kind, name) = i.pattern().ok()?.parts();
                        Some(DeletePattern {
                            storage: i.storage(),
                            match_kind,
                            name,
                            domain: i.domain.clone(),
                            path: i.path.clone(),
                        })
                    })
                    .collect()
            },
        })
        .collect();
    let lifetime_days = inv
        .rules
        .lifetime()
        .ok()
        .and_then(|d| d.seconds())
        .map(|s| (s / crate::duration::DAY).max(1) as u32)
        .unwrap_or(182);
    ClientConfig {
        site: inv.site.id.clone(),
        version,
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
        categories,
        site_name: inv.site.name.clone(),
    }
}
