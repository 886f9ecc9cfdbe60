//! What a template sees: the inventory in one language, with every built-in sentence
//! already chosen by the site's facts ([`crate::sentences`]).

use crumb_core::inventory::{Announcement, Inventory, Item, MatchKind, RegionalMode, SignalRule, StorageKind};
use crumb_core::{Party, Text};
use serde::Serialize;

use crate::changes::ChangesView;
use crate::i18n::{self, Texts};
use crate::sentences::{Facts, Sentences, sentences};
use crate::words::{attributes, contact_href, duration_words, safe_url};

/// One cookie or storage item, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub name: String,
    /// `exact`, `prefix` or `regex`.
    pub matching: &'static str,
    pub storage: &'static str,
    pub kind_label: &'static str,
    pub category: String,
    pub category_title: String,
    /// Who sets it: the company named in the inventory, else the site.
    pub provider: String,
    /// On another site's domain.
    pub third_party: bool,
    /// The party in words (`First party, set on our behalf by Stripe`).
    pub party: String,
    /// The company that sets a first-party item for the site, if not the site itself.
    pub set_by: Option<String>,
    pub service: Option<String>,
    pub purpose: String,
    pub duration: String,
    pub attributes: String,
}

/// One category, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    /// Always on, or how it asks (by regional mode).
    pub badge: String,
    pub consent_mode: Vec<&'static str>,
    pub cookies: Vec<ItemView>,
    pub services: Vec<String>,
}

/// One third-party service, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub category: String,
    pub category_title: String,
    pub purpose: String,
    pub hosts: Vec<String>,
    pub privacy_policy: Option<String>,
    pub on_interaction: bool,
}

/// The site, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub controller: String,
    pub contact: String,
    pub contact_href: Option<String>,
    pub address: Option<String>,
    pub effective_date: String,
    pub privacy_policy_url: Option<String>,
    pub intro: Option<String>,
    pub origins: Vec<String>,
}

/// Consent rules as the policy states them.
#[derive(Debug, Clone, Serialize)]
pub struct RulesView {
    pub dnt: &'static str,
    pub gpc: &'static str,
    pub consent_lifetime: String,
    pub regional_mode: &'static str,
    pub announce_changes: Vec<&'static str>,
    /// Sentences filled in for this site (also in [`PolicyView::sentences`]).
    pub dnt_text: String,
    pub gpc_text: String,
    pub lifetime_text: Option<String>,
    pub changes_text: Option<String>,
    pub contact_text: String,
    /// Opt-out applies to some visitors and the banner offers it.
    pub opt_out: bool,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub lang: String,
    pub dir: &'static str,
    pub policy_version: String,
    pub site: SiteView,
    pub has_banner: bool,
    /// The facts that chose the sentences.
    pub facts: Facts,
    /// Every built-in sentence, chosen by the facts.
    pub sentences: Sentences,
    pub categories: Vec<CategoryView>,
    pub storage: Vec<ItemView>,
    pub services: Vec<ServiceView>,
    pub rules: RulesView,
    /// What changed since the last material version, when asked for.
    pub changes: Option<ChangesView>,
    pub languages: Vec<String>,
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<&'static Texts>,
}

/// One item in `lang`.
pub fn item_view(inv: &Inventory, i: &Item, lang: &str, t: &Texts) -> ItemView {
    let default = inv.default_language();
    let text = |x: &Text| x.get(lang, default).to_string();
    let third = inv.party(i) == Party::Third;
    let service = i.service.as_deref().and_then(|s| inv.service(s));
    let set_by = i.set_by().map(str::to_string);
    // Who sets it: the named company, else (on another site's domain) the service's
    // provider or that domain, else the site itself.
    let provider = set_by
        .clone()
        .or_else(|| third.then(|| service.map(|s| s.provider.clone())).flatten())
        .or_else(|| third.then(|| i.domain.as_ref().map(|d| d.trim_start_matches('.').to_string())).flatten())
        .unwrap_or_else(|| inv.site.name.clone());
    let party = match (&set_by, third) {
        (_, true) => t.third_party.to_string(),
        (Some(p), false) => t.set_on_behalf.replace("{provider}", p),
        (None, false) => t.first_party.to_string(),
    };
    ItemView {
        name: i.name.clone(),
        matching: match i.pattern().map(|p| p.parts().0) {
            Ok(MatchKind::Prefix) => "prefix",
            Ok(MatchKind::Regex) => "regex",
            _ => "exact",
        },
        storage: i.storage().as_str(),
        kind_label: match i.storage() {
            StorageKind::Cookie => t.cookie,
            StorageKind::LocalStorage => t.local_storage,
            StorageKind::SessionStorage => t.session_storage,
            StorageKind::IndexedDb => t.indexed_db,
        },
        category: i.category.clone(),
        category_title: inv.category(&i.category).map(|c| text(&c.title)).unwrap_or_else(|| i.category.clone()),
        provider,
        third_party: third,
        party,
        set_by: if third { None } else { set_by },
        service: service.map(|s| s.name.clone()).filter(|n| Some(n) != i.provider.as_ref()),
        purpose: text(&i.purpose),
        duration: duration_words(i.lifetime().ok().flatten(), t),
        attributes: attributes(i),
    }
}

/// Build the view of the policy in `lang` (which must be one of the site's languages).
pub fn view(inv: &Inventory, lang: &str, base_url: Option<&str>) -> PolicyView {
    let t = i18n::texts(lang);
    let default = inv.default_language();
    let text = |x: &Text| x.get(lang, default).to_string();
    let category_title = |id: &str| inv.category(id).map(|c| text(&c.title)).unwrap_or_else(|| id.to_string());
    let facts = Facts::of(inv);
    let s = sentences(inv, &facts, t, lang);
    let categories = inv
        .categories
        .iter()
        .map(|c| CategoryView {
            id: c.id.clone(),
            title: text(&c.title),
            description: text(&c.description),
            required: c.required,
            badge: if c.required { t.always_on.to_string() } else { s.asks.clone().unwrap_or_default() },
            consent_mode: c.consent_mode.iter().map(|m| m.as_str()).collect(),
            cookies: inv.cookies.iter().filter(|i| i.category == c.id).map(|i| item_view(inv, i, lang, t)).collect(),
            services: inv.services.iter().filter(|s| s.category == c.id).map(|s| s.name.clone()).collect(),
        })
        .collect();
    let services = inv
        .services
        .iter()
        .map(|s| ServiceView {
            id: s.id.clone(),
            name: s.name.clone(),
            provider: s.provider.clone(),
            category: s.category.clone(),
            category_title: category_title(&s.category),
            purpose: text(&s.purpose),
            hosts: s.hosts.clone(),
            privacy_policy: s.privacy_policy.as_deref().and_then(safe_url),
            on_interaction: s.on_interaction,
        })
        .collect();
    let rules = RulesView {
        dnt: if inv.rules.dnt == SignalRule::Honor { "honor" } else { "ignore" },
        gpc: if inv.rules.gpc == SignalRule::Honor { "honor" } else { "ignore" },
        consent_lifetime: inv.rules.lifetime().map(|d| d.humanize()).unwrap_or_default(),
        regional_mode: match inv.rules.regional_mode {
            RegionalMode::OptIn => "opt_in",
            RegionalMode::OptOut => "opt_out",
            RegionalMode::ByCountry => "by_country",
        },
        announce_changes: inv
            .rules
            .announce_changes
            .iter()
            .map(|a| match a {
                Announcement::Banner => "banner",
                Announcement::Email => "email",
                Announcement::InApp => "in_app",
                Announcement::PolicyDate => "policy_date",
            })
            .collect(),
        dnt_text: s.dnt.clone(),
        gpc_text: s.gpc.clone(),
        lifetime_text: s.lifetime.clone(),
        changes_text: s.changes.clone(),
        contact_text: t
            .contact_body
            .replace("{controller}", &inv.site.controller)
            .replace("{contact}", &inv.site.contact),
        opt_out: s.opt_out.is_some(),
    };
    PolicyView {
        lang: lang.to_string(),
        dir: if ["ar", "he", "fa", "ur", "ps", "yi"].contains(&lang.split('-').next().unwrap_or(lang)) {
            "rtl"
        } else {
            "ltr"
        },
        policy_version: crumb_core::policy_version(inv),
        site: SiteView {
            id: inv.site.id.clone(),
            name: inv.site.name.clone(),
            controller: inv.site.controller.clone(),
            contact: inv.site.contact.clone(),
            contact_href: contact_href(&inv.site.contact),
            address: inv.site.address.clone(),
            effective_date: inv.site.effective_date.clone(),
            privacy_policy_url: inv.site.privacy_policy_url.as_deref().and_then(safe_url),
            intro: inv.site.intro.as_ref().map(text),
            origins: inv.site.origins.clone(),
        },
        has_banner: facts.banner,
        facts,
        sentences: s,
        categories,
        storage: inv.storage.iter().map(|i| item_view(inv, i, lang, t)).collect(),
        services,
        rules,
        changes: None,
        languages: inv.site.languages.clone(),
        base_url: base_url.map(|b| b.trim_end_matches('/').to_string()),
        t: Some(t),
    }
}
