//! The inventory: one site's description of every cookie and storage item it uses.
//!
//! It is read from `crumb.toml` (see `docs/inventory.md`). These types are the file's
//! format: the JSON Schema in `schema/crumb.schema.json` is generated from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::{Duration, DurationError};
pub use crate::name::MatchKind;
use crate::name::{NamePattern, PatternError};
use crate::text::Text;

pub use crate::consent_mode::ConsentModeType;
pub use crate::host::{domain_covers, host_matches, origin_host, url_matches};

/// A whole inventory file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Editors may point at the JSON Schema with `"$schema"`; Crumb ignores it.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Who runs the site and where.
    pub site: Site,
    /// Consent rules: signals, lifetime, regions, change announcements.
    #[serde(default)]
    pub rules: Rules,
    /// Banner settings.
    #[serde(default)]
    pub banner: BannerSettings,
    /// The categories visitors are asked about, in the order they are shown.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Cookies the site (or its third parties) set.
    #[serde(default)]
    pub cookies: Vec<Item>,
    /// Web storage items: `local_storage`, `session_storage` and `indexed_db` keys.
    #[serde(default)]
    pub storage: Vec<Item>,
    /// Third-party scripts and embeds.
    #[serde(default)]
    pub services: Vec<Service>,
}

/// The site and its controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Short identifier used in URLs (`/s/{id}/banner.js`): lowercase letters, digits, `-`, `_`.
    pub id: String,
    /// Display name, as visitors know the site.
    pub name: String,
    /// Hosts the site runs on: exact (`leadsgen.app`) or wildcard (`*.leadsgen.app`).
    pub origins: Vec<String>,
    /// The data controller: the legal entity responsible.
    pub controller: String,
    /// Where visitors send questions about cookies (an e-mail address or an https URL).
    pub contact: String,
    /// Postal address of the controller, if the policy should state it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Date the policy takes effect, `YYYY-MM-DD`.
    pub effective_date: String,
    /// Languages the site speaks; the first is the default.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Parent domain for the consent cookie (`leadsgen.app` shares consent with every subdomain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// The site's privacy policy, linked from the cookie policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy_url: Option<String>,
    /// An introduction shown at the top of the policy, in the site's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<Text>,
}

fn default_languages() -> Vec<String> {
    vec!["en".to_string()]
}

/// What to do with a browser privacy signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignalRule {
    /// The signal pre-denies analytics and marketing.
    Honor,
    /// The signal is recorded but changes nothing.
    Ignore,
}

/// Which consent model applies to a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegionalMode {
    /// Nothing non-essential before consent (EU/UK GDPR and ePrivacy).
    OptIn,
    /// Allowed until the visitor refuses (California CCPA/CPRA style).
    OptOut,
    /// Chosen per visitor from the trusted country header: `opt_out_countries` get opt-out,
    /// everyone else (and unknown countries) opt-in.
    ByCountry,
}

/// How material changes to the policy reach visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Announcement {
    /// The banner asks every visitor again (always done for material changes).
    Banner,
    /// Signed-in users get an e-mail.
    Email,
    /// An in-app notification.
    InApp,
    /// The effective date at the top of the policy is updated.
    PolicyDate,
}

/// Consent rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Do Not Track: `honor` or `ignore` (default `ignore`).
    #[serde(default = "ignore")]
    pub dnt: SignalRule,
    /// Global Privacy Control: `honor` (default) or `ignore`.
    #[serde(default = "honor")]
    pub gpc: SignalRule,
    /// How long a decision lasts before the banner asks again (default `6 months`, at most `13 months`).
    #[serde(default = "default_lifetime")]
    pub consent_lifetime: String,
    /// `opt_in`, `opt_out` or `by_country` (default `opt_in`).
    #[serde(default = "opt_in")]
    pub regional_mode: RegionalMode,
    /// Trusted request header with the visitor's ISO country code, set by your CDN (`CF-IPCountry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_header: Option<String>,
    /// With `by_country`: the countries (ISO 3166 alpha-2, or `US-CA`) that get opt-out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opt_out_countries: Vec<String>,
    /// How material changes are announced (default: `["banner", "policy_date"]`).
    #[serde(default = "default_announce")]
    pub announce_changes: Vec<Announcement>,
    /// How long consent records are kept in the ledger (default `5 years`).
    #[serde(default = "default_retain")]
    pub retain: String,
}

fn honor() -> SignalRule {
    SignalRule::Honor
}
fn ignore() -> SignalRule {
    SignalRule::Ignore
}
fn opt_in() -> RegionalMode {
    RegionalMode::OptIn
}
fn default_lifetime() -> String {
    "6 months".into()
}
fn default_retain() -> String {
    "5 years".into()
}
fn default_announce() -> Vec<Announcement> {
    vec![Announcement::Banner, Announcement::PolicyDate]
}
fn yes() -> bool {
    true
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            dnt: ignore(),
            gpc: honor(),
            consent_lifetime: default_lifetime(),
            regional_mode: opt_in(),
            country_header: None,
            opt_out_countries: Vec::new(),
            announce_changes: default_announce(),
            retain: default_retain(),
        }
    }
}

impl Rules {
    /// The consent lifetime, parsed.
    pub fn lifetime(&self) -> Result<Duration, DurationError> {
        Duration::parse(&self.consent_lifetime)
    }
    /// The retention period, parsed.
    pub fn retention(&self) -> Result<Duration, DurationError> {
        Duration::parse(&self.retain)
    }
}

/// Banner settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BannerSettings {
    /// Show the banner (default true). A site with non-essential items cannot turn it off.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Show a small floating button that reopens the preferences (default true).
    #[serde(default = "yes")]
    pub floating_button: bool,
    /// Name of the first-party cookie holding the visitor's choice (default `crumb_consent`).
    #[serde(default = "default_cookie_name")]
    pub cookie_name: String,
}

fn default_cookie_name() -> String {
    "crumb_consent".into()
}

impl Default for BannerSettings {
    fn default() -> Self {
        BannerSettings { enabled: true, floating_button: true, cookie_name: default_cookie_name() }
    }
}

/// A category visitors consent to (or, when required, are only told about).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Identifier: lowercase letters, digits, `-`, `_` (`necessary`, `analytics`, `performance`).
    pub id: String,
    /// Title shown in the banner and the policy.
    pub title: Text,
    /// What the category is for.
    pub description: Text,
    /// Strictly necessary: always on, never asked.
    #[serde(default)]
    pub required: bool,
    /// Google Consent Mode v2 types this category grants.
    #[serde(default)]
    pub consent_mode: Vec<ConsentModeType>,
    /// Whether GPC and DNT (when honoured) pre-deny this category. Defaults to true for
    /// categories granting ad or analytics types, and for ids `analytics`/`marketing`/`advertising`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals_deny: Option<bool>,
}

impl Category {
    /// What this category is for, in Crumb's fixed vocabulary, judged from its Consent
    /// Mode types first and its id second.
    pub fn purpose(&self) -> Purpose {
        if self.required {
            return Purpose::Necessary;
        }
        let has = |t: ConsentModeType| self.consent_mode.contains(&t);
        if has(ConsentModeType::AdStorage)
            || has(ConsentModeType::AdUserData)
            || has(ConsentModeType::AdPersonalization)
        {
            return Purpose::Marketing;
        }
        if has(ConsentModeType::AnalyticsStorage) {
            return Purpose::Analytics;
        }
        Purpose::from_word(&self.id).unwrap_or(Purpose::Functional)
    }

    /// Whether an honoured GPC/DNT signal pre-denies this category.
    pub fn denied_by_signals(&self) -> bool {
        if self.required {
            return false;
        }
        self.signals_deny.unwrap_or_else(|| matches!(self.purpose(), Purpose::Analytics | Purpose::Marketing))
    }
}

/// Crumb's fixed purposes, used to compare a site's own categories with known-cookie lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Strictly necessary for a service the visitor asked for.
    Necessary,
    /// Preferences and features.
    Functional,
    /// Measurement.
    Analytics,
    /// Advertising and cross-site tracking.
    Marketing,
}

impl Purpose {
    /// Read a purpose from a category id or word (`performance` -> analytics, `advertising` -> marketing).
    pub fn from_word(word: &str) -> Option<Purpose> {
        let w = word.to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| w.contains(n));
        if has(&["necessary", "essential", "required", "security", "strict"]) {
            Some(Purpose::Necessary)
        } else if has(&["marketing", "advertis", "ads", "targeting", "social", "retarget"]) {
            Some(Purpose::Marketing)
        } else if has(&["analytic", "statistic", "performance", "measure", "metrics"]) {
            Some(Purpose::Analytics)
        } else if has(&["functional", "preference", "personali", "comfort", "experience"]) {
            Some(Purpose::Functional)
        } else {
            None
        }
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Necessary => "necessary",
            Purpose::Functional => "functional",
            Purpose::Analytics => "analytics",
            Purpose::Marketing => "marketing",
        }
    }
}

/// Where an item lives in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    /// An HTTP cookie.
    Cookie,
    /// A `localStorage` key.
    LocalStorage,
    /// A `sessionStorage` key.
    SessionStorage,
    /// An IndexedDB database name.
    IndexedDb,
}

impl StorageKind {
    /// The name as the inventory spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Cookie => "cookie",
            StorageKind::LocalStorage => "local_storage",
            StorageKind::SessionStorage => "session_storage",
            StorageKind::IndexedDb => "indexed_db",
        }
    }
}

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// As the header spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// A cookie or storage item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// The name: exact (`theme`), prefix (`_ga_*`), or a regex with `match = "regex"`.
    pub name: String,
    /// How `name` matches; by default exact, or prefix when the name ends in `*`.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_kind: Option<MatchKind>,
    /// For `[[storage]]` items: `local_storage`, `session_storage` or `indexed_db`.
    /// `[[cookies]]` items are cookies and need not say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StorageKind>,
    /// Category id.
    pub category: String,
    /// Who sets it: omit (or `first_party`) for the site itself, else the company whose code
    /// sets it (a processor such as a host or CDN on the site's domain, or a third party).
    /// Whether it is first or third party follows from `domain`, not from this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The service (by id) that sets it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// What it is for.
    pub purpose: Text,
    /// How long it lasts: `session`, `72 hours`, `30 days`, `1 year`, `P30D`.
    /// Web storage that is never cleared can say `persistent`.
    pub duration: String,
    /// Cookie `Domain` attribute (`.leadsgen.app`); omit for a host-only cookie on the site.
    /// A domain that is not the site's (`.youtube.com`) makes the cookie third party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Cookie `Path` attribute (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Cookie is `HttpOnly` (not readable by scripts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// Cookie is `Secure` (HTTPS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    /// Cookie `SameSite` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<SameSite>,
    /// Drafted by `crumb scan --write-inventory` with a low-confidence category: a person
    /// should confirm the category and then remove this flag (`crumb check` warns while it
    /// is set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub review: bool,
}

/// Marker for web storage that has no expiry.
pub const PERSISTENT: &str = "persistent";

impl Item {
    /// Where the item lives (cookies default to `cookie`).
    pub fn storage(&self) -> StorageKind {
        self.kind.unwrap_or(StorageKind::Cookie)
    }

    /// The name pattern.
    pub fn pattern(&self) -> Result<NamePattern, PatternError> {
        NamePattern::new(&self.name, self.match_kind)
    }

    /// The declared lifetime; `persistent` web storage reads as `None`.
    pub fn lifetime(&self) -> Result<Option<Duration>, DurationError> {
        if self.storage() != StorageKind::Cookie && self.duration.trim().eq_ignore_ascii_case(PERSISTENT) {
            return Ok(None);
        }
        Duration::parse(&self.duration).map(Some)
    }
}

/// A third-party script, embed or integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Identifier (`stripe`, `youtube`).
    pub id: String,
    /// Display name (`Stripe`).
    pub name: String,
    /// The company behind it.
    pub provider: String,
    /// Category id.
    pub category: String,
    /// What it does for the site.
    #[serde(default)]
    pub purpose: Text,
    /// Hosts it contacts (`js.stripe.com`, `*.stripe.network`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// URLs it loads from, for hosts it shares with others (a CDN): URL prefixes
    /// (`https://cdn.jsdelivr.net/npm/posthog-js`) or `*` globs matched against the whole
    /// URL (`https://*.example.net/*/pixel.js`). The guard and the banner treat a URL that
    /// matches as this service's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url_patterns: Vec<String>,
    /// Text found in the inline `<script>` snippets that load it (`posthog.init(`,
    /// `googletagmanager.com/gtm.js`): an inline script containing one of them is this
    /// service's, and waits for consent like its `<script src>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_patterns: Vec<String>,
    /// Names of the inventory's cookies and storage items it sets.
    #[serde(default)]
    pub cookies: Vec<String>,
    /// The provider's privacy policy (https URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy: Option<String>,
    /// The service acts only when the visitor uses it (a payment, a sign-in popup).
    #[serde(default)]
    pub on_interaction: bool,
}

impl Inventory {
    /// Every cookie and storage item, cookies first.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.cookies.iter().chain(self.storage.iter())
    }

    /// A category by id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// A service by id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The site's default language.
    pub fn default_language(&self) -> &str {
        self.site.languages.first().map(String::as_str).unwrap_or("en")
    }

    /// Whether the category with this id is strictly necessary (unknown ids are not).
    pub fn is_required(&self, category: &str) -> bool {
        self.category(category).is_some_and(|c| c.required)
    }

    /// Whether anything on the site needs consent.
    pub fn has_non_essential(&self) -> bool {
        self.categories.iter().any(|c| !c.required)
            || self.items().any(|i| !self.is_required(&i.category))
            || self.services.iter().any(|s| !self.is_required(&s.category))
    }

    /// Ids of the categories visitors are asked about.
    pub fn optional_categories(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|c| !c.required)
    }

    /// Whether `host` is one of the site's origins (`*.example.com` covers subdomains and the apex).
    pub fn is_site_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('.').to_ascii_lowercase();
        self.site.origins.iter().any(|o| host_matches(o, &host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_from_words_and_consent_mode() {
        assert_eq!(Purpose::from_word("performance"), Some(Purpose::Analytics));
        assert_eq!(Purpose::from_word("advertising"), Some(Purpose::Marketing));
        assert_eq!(Purpose::from_word("strictly_necessary"), Some(Purpose::Necessary));
        let c = Category {
            id: "stats".into(),
            title: "Stats".into(),
            description: "".into(),
            required: false,
            consent_mode: vec![ConsentModeType::AnalyticsStorage],
            signals_deny: None,
        };
        assert_eq!(c.purpose(), Purpose::Analytics);
        assert!(c.denied_by_signals());
    }
}
