//! The policy's own sentences, each chosen by the facts it states: whether there is a
//! banner (and a floating button, a parent cookie domain), the regional mode, how DNT and
//! GPC are treated, whether there are cookies, web storage, third-party cookies, services
//! and on-interaction services, and how changes are announced. A sentence about a mechanism
//! the site does not have is never produced.

use crumb_core::inventory::{Announcement, Inventory, RegionalMode, SignalRule, StorageKind};
use crumb_core::{Item, Party};
use serde::Serialize;

use crate::i18n::Texts;
use crate::words::{duration_words, join_list, quoted};

/// The facts about a site that decide which sentences its policy says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Visitors see a banner: the banner is enabled and something needs consent.
    pub banner: bool,
    /// The floating button reopens the settings (only with a banner).
    pub floating_button: bool,
    /// Everyone is asked first (`opt_in`, or `by_country` with no opt-out region).
    pub opt_in: bool,
    /// Everyone may opt out (`opt_out`).
    pub opt_out: bool,
    /// `by_country` regions that get opt-out (empty otherwise).
    pub opt_out_regions: Vec<String>,
    /// DNT honoured.
    pub dnt: bool,
    /// GPC honoured.
    pub gpc: bool,
    /// Ids of the categories an honoured signal refuses.
    pub signal_denied: Vec<String>,
    /// The site declares cookies.
    pub cookies: bool,
    /// The site declares web storage.
    pub storage: bool,
    /// Optional categories hold first-party cookies / web storage the banner deletes on refusal.
    pub optional_cookies: bool,
    /// See `optional_cookies`.
    pub optional_storage: bool,
    /// A cookie of an optional category lives on another site's domain.
    pub optional_third_party: bool,
    /// The site names third-party services.
    pub services: bool,
    /// Some service acts only when the visitor uses it.
    pub on_interaction: bool,
    /// The consent cookie is shared with this parent domain.
    pub cookie_domain: Option<String>,
    /// Announcement channels that exist on this site.
    pub announce: Vec<Announcement>,
}

impl Facts {
    /// Read the facts from an inventory.
    pub fn of(inv: &Inventory) -> Facts {
        let banner = inv.banner.enabled && inv.has_non_essential();
        let regions = if inv.rules.regional_mode == RegionalMode::ByCountry {
            inv.rules.opt_out_countries.clone()
        } else {
            Vec::new()
        };
        let optional = |i: &&Item| !inv.is_required(&i.category);
        let first_party_optional = |kind: fn(StorageKind) -> bool| {
            inv.items().filter(optional).any(|i| kind(i.storage()) && inv.party(i) == Party::First)
        };
        Facts {
            banner,
            floating_button: banner && inv.banner.floating_button,
            opt_in: inv.rules.regional_mode == RegionalMode::OptIn
                || (inv.rules.regional_mode == RegionalMode::ByCountry && regions.is_empty()),
            opt_out: inv.rules.regional_mode == RegionalMode::OptOut,
            opt_out_regions: regions,
            dnt: inv.rules.dnt == SignalRule::Honor,
            gpc: inv.rules.gpc == SignalRule::Honor,
            signal_denied: inv.categories.iter().filter(|c| c.denied_by_signals()).map(|c| c.id.clone()).collect(),
            cookies: !inv.cookies.is_empty(),
            storage: !inv.storage.is_empty(),
            optional_cookies: first_party_optional(|k| k == StorageKind::Cookie),
            optional_storage: first_party_optional(|k| k != StorageKind::Cookie),
            optional_third_party: inv.cookies.iter().filter(optional).any(|i| inv.party(i) == Party::Third),
            services: !inv.services.is_empty(),
            on_interaction: inv.services.iter().any(|s| s.on_interaction),
            cookie_domain: inv.site.cookie_domain.clone().filter(|_| banner),
            announce: inv
                .rules
                .announce_changes
                .iter()
                .copied()
                .filter(|a| banner || *a != Announcement::Banner)
                .collect(),
        }
    }
}

/// Every built-in sentence of one policy, in one language, grouped by section.
#[derive(Debug, Clone, Serialize)]
pub struct Sentences {
    /// What cookies are (and first/third party).
    pub what: String,
    /// What web storage is; only when the site uses it.
    pub storage: Option<String>,
    /// The badge of categories that are not strictly necessary; only when there are some.
    pub asks: Option<String>,
    /// Introduction to the services table, and the on-interaction note; or that there are none.
    pub services: Vec<String>,
    /// Heading of the consent/choices section.
    pub manage_heading: String,
    /// Paragraphs before the link to the settings.
    pub manage: Vec<String>,
    /// The link to the banner's settings; only with a banner.
    pub manage_link: Option<String>,
    /// Paragraphs after the link.
    pub manage_after: Vec<String>,
    /// Do Not Track.
    pub dnt: String,
    /// Global Privacy Control.
    pub gpc: String,
    /// The opt-out right; only where opt-out applies and a banner offers it.
    pub opt_out: Option<String>,
    /// How material changes are announced; only when there is a channel.
    pub changes: Option<String>,
    /// How long a choice is kept; only with a banner.
    pub lifetime: Option<String>,
}

fn join(parts: &[&str]) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// The sentences for `inv` in the language of `t`.
pub fn sentences(inv: &Inventory, facts: &Facts, t: &Texts, lang: &str) -> Sentences {
    let default = inv.default_language();
    let regions = join_list(&facts.opt_out_regions, t);
    let noun = |cookies: bool, storage: bool| match (cookies, storage) {
        (true, true) => t.what_both,
        (false, true) => t.what_storage,
        _ => t.what_cookies,
    };
    let denied: Vec<String> = facts
        .signal_denied
        .iter()
        .filter_map(|id| inv.category(id))
        .map(|c| quoted(c.title.get(lang, default), t))
        .collect();
    let signal = |honoured: bool, off: &str, none: &str, ignore: &str| match (honoured, denied.is_empty()) {
        (true, false) => {
            join(&[&off.replace("{categories}", &join_list(&denied, t)), banner(facts, t.signal_switch_on)])
        }
        (true, true) => none.to_string(),
        (false, _) => join(&[ignore, banner(facts, t.signal_settings)]),
    };
    let mut services = Vec::new();
    if facts.services {
        services.push(t.services_intro.to_string());
        if facts.on_interaction {
            services.push(t.on_interaction_note.replace("{label}", t.on_interaction));
        }
    } else {
        services.push(t.no_services.to_string());
    }
    let lifetime = inv.rules.lifetime().ok();
    let lifetime_text = facts.banner.then(|| t.manage_lifetime.replace("{lifetime}", &duration_words(lifetime, t)));
    let (manage_heading, manage, manage_after) = if facts.banner {
        let how = if facts.opt_out {
            t.manage_opt_out.to_string()
        } else if facts.opt_in {
            t.manage_opt_in.to_string()
        } else {
            t.manage_by_country.replace("{regions}", &regions)
        };
        let withdraw = if facts.opt_out { t.withdraw_opt_out } else { t.withdraw_consent };
        let deletes = if facts.optional_cookies || facts.optional_storage {
            t.withdraw_deletes.replace("{what}", noun(facts.optional_cookies, facts.optional_storage))
        } else {
            String::new()
        };
        let after = vec![
            join(&[withdraw, &deletes, if facts.optional_third_party { t.withdraw_third_party } else { "" }]),
            lifetime_text.clone().unwrap_or_default(),
            facts.cookie_domain.as_deref().map(|d| t.cookie_domain_note.replace("{domain}", d)).unwrap_or_default(),
            t.browser_banner.replace("{what}", noun(facts.cookies, facts.storage)),
        ];
        (t.manage_heading, vec![how, if facts.floating_button { t.manage_fab.into() } else { String::new() }], after)
    } else {
        let browser = t.browser_no_banner.replace("{what}", noun(facts.cookies, facts.storage));
        (t.control_heading, vec![t.exempt.to_string(), browser, t.ask_first.to_string()], Vec::new())
    };
    let opt_out = facts.banner.then(|| {
        let note = if facts.opt_out {
            t.opt_out_note.to_string()
        } else if !facts.opt_out_regions.is_empty() {
            t.opt_out_regions.replace("{regions}", &regions)
        } else {
            return None;
        };
        Some(join(&[&note, if facts.gpc { t.gpc_counts } else { "" }]))
    });
    let channels: Vec<String> = facts
        .announce
        .iter()
        .map(|a| match a {
            Announcement::Banner => t.announce_banner,
            Announcement::Email => t.announce_email,
            Announcement::InApp => t.announce_in_app,
            Announcement::PolicyDate => t.announce_policy_date,
        })
        .map(str::to_string)
        .collect();
    let asks = inv.optional_categories().next().map(|_| {
        if facts.opt_out {
            t.asks_opt_out.to_string()
        } else if facts.opt_in {
            t.asks_opt_in.to_string()
        } else {
            t.asks_by_country.replace("{regions}", &regions)
        }
    });
    Sentences {
        what: t.what_body.to_string(),
        storage: facts.storage.then(|| t.storage_body.to_string()),
        asks,
        services,
        manage_heading: manage_heading.to_string(),
        manage: manage.into_iter().filter(|s| !s.is_empty()).collect(),
        manage_link: facts.banner.then(|| t.manage_link.to_string()),
        manage_after: manage_after.into_iter().filter(|s| !s.is_empty()).collect(),
        dnt: signal(facts.dnt, t.dnt_honor_off, t.dnt_honor_none, t.dnt_ignore),
        gpc: signal(facts.gpc, t.gpc_honor_off, t.gpc_honor_none, t.gpc_ignore),
        opt_out: opt_out.flatten(),
        changes: (!channels.is_empty()).then(|| t.changes_material.replace("{channels}", &join_list(&channels, t))),
        lifetime: lifetime_text,
    }
}

fn banner<'a>(facts: &Facts, s: &'a str) -> &'a str {
    if facts.banner { s } else { "" }
}
