//! Classifying policy changes as material (everyone is asked again) or minor.
//!
//! A change is **material** when it adds a category, adds a non-essential cookie, storage
//! item or service, widens a purpose (any change to the purpose of a non-essential item,
//! service or category: Crumb cannot tell a rewording from a widening, so it asks again),
//! lengthens a duration or the consent lifetime, moves an item into a non-essential
//! category, makes a signal count for less (`honor` to `ignore`), or sends data to new
//! hosts. Everything else (removals, shorter durations, texts of strictly necessary items,
//! contact details, dates) is minor.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::duration::Duration;
use crate::inventory::{Inventory, Item, SignalRule, StorageKind};

/// One difference between two versions of an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Whether every visitor must be asked again.
    pub material: bool,
    /// Where in the inventory (`cookies._fbp.duration`).
    pub path: String,
    /// What changed, in a sentence.
    pub description: String,
    /// What changed, as data: what a policy needs to say it in a visitor's words.
    pub what: What,
}

/// What changed, with the ids, names and durations (as the inventory writes them) involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// Site details: name, controller, contact, dates, origins, languages, introduction.
    Site,
    /// A signal (`dnt`, `gpc`) is no longer honoured.
    SignalIgnored { signal: String },
    /// A signal is now honoured.
    SignalHonoured { signal: String },
    /// The consent lifetime changed.
    Lifetime { from: String, to: String },
    /// Who gets opt-in and who opt-out changed.
    RegionalMode,
    /// How changes are announced changed.
    Announcements,
    /// The banner was switched on.
    BannerOn,
    /// The banner was switched off.
    BannerOff,
    /// A new category.
    NewCategory { category: String },
    /// A strictly necessary category now asks for consent.
    CategoryAsks { category: String },
    /// A category is now strictly necessary.
    CategoryRequired { category: String },
    /// A category's title or description changed.
    CategoryText { category: String },
    /// A category grants more (or fewer) Consent Mode types.
    CategoryTypes { category: String, more: bool },
    /// A category was removed.
    CategoryRemoved { category: String },
    /// A new cookie or storage item.
    NewItem { storage: StorageKind, name: String, category: String },
    /// An item moved to another category.
    ItemCategory { storage: StorageKind, name: String, from: String, to: String },
    /// An item's purpose changed.
    ItemPurpose { storage: StorageKind, name: String },
    /// An item is set by someone else.
    ItemSetter { storage: StorageKind, name: String },
    /// An item's duration changed.
    ItemDuration { storage: StorageKind, name: String, from: String, to: String, longer: bool },
    /// A cookie's attributes changed.
    ItemAttributes { storage: StorageKind, name: String },
    /// An item's name now matches other names.
    ItemMatch { storage: StorageKind, name: String },
    /// An item is no longer used.
    ItemRemoved { storage: StorageKind, name: String },
    /// A new service.
    NewService { service: String },
    /// A service moved to another category.
    ServiceCategory { service: String, from: String, to: String },
    /// A service's purpose changed.
    ServicePurpose { service: String },
    /// A service contacts new hosts.
    ServiceHosts { service: String, hosts: Vec<String> },
    /// A service is provided by another company.
    ServiceProvider { service: String },
    /// A service's other details changed.
    ServiceDetails { service: String },
    /// A service was removed.
    ServiceRemoved { service: String },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = if self.material { "material" } else { "minor" };
        write!(f, "{tag:8} {}: {}", self.path, self.description)
    }
}

/// Whether any of the changes is material.
pub fn is_material(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.material)
}

struct Diff<'a> {
    old: &'a Inventory,
    new: &'a Inventory,
    out: Vec<Change>,
}

impl Diff<'_> {
    fn push(&mut self, material: bool, path: impl Into<String>, description: impl Into<String>, what: What) {
        self.out.push(Change { material, path: path.into(), description: description.into(), what });
    }
}

fn item_key(i: &Item) -> String {
    format!("{}:{}", i.storage().as_str(), i.name)
}

/// List the changes from `old` to `new`.
pub fn diff(old: &Inventory, new: &Inventory) -> Vec<Change> {
    let mut d = Diff { old, new, out: Vec::new() };
    site(&mut d);
    rules(&mut d);
    categories(&mut d);
    items(&mut d);
    services(&mut d);
    d.out
}

fn site(d: &mut Diff<'_>) {
    let (o, n) = (&d.old.site, &d.new.site);
    let fields: [(&str, String, String); 6] = [
        ("site.name", o.name.clone(), n.name.clone()),
        ("site.controller", o.controller.clone(), n.controller.clone()),
        ("site.contact", o.contact.clone(), n.contact.clone()),
        ("site.effective_date", o.effective_date.clone(), n.effective_date.clone()),
        ("site.origins", o.origins.join(", "), n.origins.join(", ")),
        ("site.languages", o.languages.join(", "), n.languages.join(", ")),
    ];
    for (path, a, b) in fields {
        if a != b {
            d.push(false, path, format!("`{a}` became `{b}`"), What::Site);
        }
    }
    if o.cookie_domain != n.cookie_domain
        || o.privacy_policy_url != n.privacy_policy_url
        || o.intro != n.intro
        || o.address != n.address
    {
        d.push(false, "site", "site details or introduction changed", What::Site);
    }
}

fn rules(d: &mut Diff<'_>) {
    let (o, n) = (&d.old.rules, &d.new.rules);
    for (name, a, b) in [("rules.dnt", o.dnt, n.dnt), ("rules.gpc", o.gpc, n.gpc)] {
        if a != b {
            let material = a == SignalRule::Honor;
            let signal = name.trim_start_matches("rules.").to_string();
            let what = if material { What::SignalIgnored { signal } } else { What::SignalHonoured { signal } };
            d.push(material, name, format!("{a:?} became {b:?}").to_lowercase(), what);
        }
    }
    if let (Ok(a), Ok(b)) = (o.lifetime(), n.lifetime())
        && a != b
    {
        let what = What::Lifetime { from: o.consent_lifetime.clone(), to: n.consent_lifetime.clone() };
        d.push(b.longer_than(a), "rules.consent_lifetime", format!("{a} became {b}"), what);
    }
    if o.regional_mode != n.regional_mode || o.opt_out_countries != n.opt_out_countries {
        d.push(true, "rules.regional_mode", "who gets opt-in and who opt-out changed", What::RegionalMode);
    }
    if o.announce_changes != n.announce_changes {
        d.push(false, "rules.announce_changes", "how changes are announced changed", What::Announcements);
    }
    if d.old.banner.enabled != d.new.banner.enabled {
        d.push(
            d.new.banner.enabled,
            "banner.enabled",
            format!("the banner is now {}", if d.new.banner.enabled { "on" } else { "off" }),
            if d.new.banner.enabled { What::BannerOn } else { What::BannerOff },
        );
    }
}

fn categories(d: &mut Diff<'_>) {
    let old: BTreeMap<_, _> = d.old.categories.iter().map(|c| (c.id.as_str(), c)).collect();
    for c in &d.new.categories {
        let path = format!("categories.{}", c.id);
        let category = c.id.clone();
        match old.get(c.id.as_str()) {
            None => d.push(true, path, "a new category", What::NewCategory { category }),
            Some(o) => {
                if o.required && !c.required {
                    d.push(
                        true,
                        path.clone(),
                        "was strictly necessary, now asks for consent",
                        What::CategoryAsks { category: category.clone() },
                    );
                } else if !o.required && c.required {
                    d.push(
                        true,
                        path.clone(),
                        "now strictly necessary: no longer asks for consent",
                        What::CategoryRequired { category: category.clone() },
                    );
                }
                if o.description != c.description || o.title != c.title {
                    d.push(
                        !c.required,
                        format!("{path}.description"),
                        "title or description changed",
                        What::CategoryText { category: category.clone() },
                    );
                }
                let added: Vec<_> = c.consent_mode.iter().filter(|t| !o.consent_mode.contains(t)).collect();
                if !added.is_empty() {
                    let what = What::CategoryTypes { category: category.clone(), more: true };
                    d.push(
                        true,
                        format!("{path}.consent_mode"),
                        format!("now also grants {added:?}").to_lowercase(),
                        what,
                    );
                } else if o.consent_mode != c.consent_mode {
                    let what = What::CategoryTypes { category, more: false };
                    d.push(false, format!("{path}.consent_mode"), "grants fewer Consent Mode types", what);
                }
            }
        }
    }
    for c in &d.old.categories {
        if d.new.category(&c.id).is_none() {
            d.push(
                false,
                format!("categories.{}", c.id),
                "category removed",
                What::CategoryRemoved { category: c.id.clone() },
            );
        }
    }
}

fn items(d: &mut Diff<'_>) {
    let old: BTreeMap<_, _> = d.old.items().map(|i| (item_key(i), i)).collect();
    let new_items: Vec<_> = d.new.items().collect();
    for i in new_items {
        let key = item_key(i);
        let path = format!("{}.{}", if i.storage() == StorageKind::Cookie { "cookies" } else { "storage" }, i.name);
        let (storage, name) = (i.storage(), i.name.clone());
        let essential = d.new.is_required(&i.category);
        let Some(o) = old.get(&key) else {
            let what = What::NewItem { storage, name, category: i.category.clone() };
            let description = if essential { "a new strictly necessary item" } else { "a new item that needs consent" };
            d.push(!essential, path, description, what);
            continue;
        };
        if o.category != i.category {
            let what =
                What::ItemCategory { storage, name: name.clone(), from: o.category.clone(), to: i.category.clone() };
            d.push(
                !essential,
                format!("{path}.category"),
                format!("moved from `{}` to `{}`", o.category, i.category),
                what,
            );
        }
        if o.purpose != i.purpose {
            d.push(
                !essential,
                format!("{path}.purpose"),
                "purpose changed",
                What::ItemPurpose { storage, name: name.clone() },
            );
        }
        if o.provider != i.provider || o.service != i.service {
            let what = What::ItemSetter { storage, name: name.clone() };
            d.push(!essential, format!("{path}.provider"), "set by a different party", what);
        }
        match (o.lifetime(), i.lifetime()) {
            (Ok(a), Ok(b)) if a != b => {
                let longer = match (a, b) {
                    (Some(a), Some(b)) => b.longer_than(a),
                    (Some(_), None) => true,
                    _ => false,
                };
                let show = |x: Option<Duration>| x.map(|x| x.to_string()).unwrap_or_else(|| "persistent".into());
                let what = What::ItemDuration {
                    storage,
                    name: name.clone(),
                    from: o.duration.clone(),
                    to: i.duration.clone(),
                    longer,
                };
                d.push(longer, format!("{path}.duration"), format!("{} became {}", show(a), show(b)), what);
            }
            _ => {}
        }
        if o.domain != i.domain
            || o.path != i.path
            || o.http_only != i.http_only
            || o.secure != i.secure
            || o.same_site != i.same_site
        {
            let what = What::ItemAttributes { storage, name: name.clone() };
            d.push(false, format!("{path}.attributes"), "cookie attributes changed", what);
        }
        if o.match_kind != i.match_kind {
            d.push(!essential, format!("{path}.match"), "now matches other names", What::ItemMatch { storage, name });
        }
    }
    for o in d.old.items() {
        if !d.new.items().any(|i| item_key(i) == item_key(o)) {
            let what = What::ItemRemoved { storage: o.storage(), name: o.name.clone() };
            d.push(false, format!("items.{}", o.name), "no longer used", what);
        }
    }
}

fn services(d: &mut Diff<'_>) {
    for s in &d.new.services {
        let path = format!("services.{}", s.id);
        let service = s.id.clone();
        let essential = d.new.is_required(&s.category);
        let Some(o) = d.old.service(&s.id) else {
            d.push(!essential, path, "a new third-party service", What::NewService { service });
            continue;
        };
        if o.category != s.category {
            let what =
                What::ServiceCategory { service: service.clone(), from: o.category.clone(), to: s.category.clone() };
            d.push(
                !essential,
                format!("{path}.category"),
                format!("moved from `{}` to `{}`", o.category, s.category),
                what,
            );
        }
        if o.purpose != s.purpose {
            let what = What::ServicePurpose { service: service.clone() };
            d.push(!essential, format!("{path}.purpose"), "purpose changed", what);
        }
        let new_hosts: Vec<String> = s.hosts.iter().filter(|h| !o.hosts.contains(h)).cloned().collect();
        if !new_hosts.is_empty() {
            let description = format!("now contacts {}", new_hosts.join(", "));
            let what = What::ServiceHosts { service: service.clone(), hosts: new_hosts };
            d.push(!essential, format!("{path}.hosts"), description, what);
        }
        if o.provider != s.provider || o.name != s.name {
            let what = What::ServiceProvider { service: service.clone() };
            d.push(!essential, format!("{path}.provider"), "provided by a different company", what);
        }
        if o.privacy_policy != s.privacy_policy || o.cookies != s.cookies || o.on_interaction != s.on_interaction {
            d.push(false, path, "details changed", What::ServiceDetails { service });
        }
    }
    for o in &d.old.services {
        if d.new.service(&o.id).is_none() {
            let what = What::ServiceRemoved { service: o.id.clone() };
            d.push(false, format!("services.{}", o.id), "service removed", what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::LEADSGEN;

    type Case = (&'static str, Box<dyn FnOnce(&mut Inventory)>);

    fn base() -> Inventory {
        toml::from_str(LEADSGEN).expect("example parses")
    }

    fn classify(f: impl FnOnce(&mut Inventory)) -> (bool, Vec<Change>) {
        let old = base();
        let mut new = old.clone();
        f(&mut new);
        let changes = diff(&old, &new);
        (is_material(&changes), changes)
    }

    #[test]
    fn no_change_no_diff() {
        assert!(diff(&base(), &base()).is_empty());
    }

    #[test]
    fn material_changes() {
        let cases: Vec<Case> = vec![
            (
                "new category",
                Box::new(|i| {
                    let mut c = i.categories[1].clone();
                    c.id = "personalization".into();
                    i.categories.push(c);
                }),
            ),
            (
                "new non-essential cookie",
                Box::new(|i| {
                    let mut c = i.cookies[4].clone();
                    c.name = "font-size".into();
                    i.cookies.push(c);
                }),
            ),
            ("wider purpose", Box::new(|i| i.cookies[9].purpose = "Conversion tracking and retargeting".into())),
            ("longer duration", Box::new(|i| i.cookies[9].duration = "180 days".into())),
            ("longer consent lifetime", Box::new(|i| i.rules.consent_lifetime = "13 months".into())),
            ("dnt no longer honoured", Box::new(|i| i.rules.dnt = SignalRule::Ignore)),
            (
                "new service",
                Box::new(|i| {
                    let mut s = i.services[3].clone();
                    s.id = "tiktok".into();
                    i.services.push(s);
                }),
            ),
            ("service contacts new host", Box::new(|i| i.services[3].hosts.push("graph.facebook.com".into()))),
            ("moved to marketing", Box::new(|i| i.cookies[4].category = "marketing".into())),
        ];
        for (name, f) in cases {
            let (material, changes) = classify(f);
            assert!(material, "{name} should be material: {changes:#?}");
        }
    }

    #[test]
    fn minor_changes() {
        let cases: Vec<Case> = vec![
            ("contact", Box::new(|i| i.site.contact = "dpo@leadsgen.app".into())),
            ("date", Box::new(|i| i.site.effective_date = "2026-05-01".into())),
            ("shorter duration", Box::new(|i| i.cookies[9].duration = "30 days".into())),
            (
                "cookie removed",
                Box::new(|i| {
                    i.cookies.remove(9);
                    i.services[3].cookies.clear();
                }),
            ),
            (
                "new necessary cookie",
                Box::new(|i| {
                    let mut c = i.cookies[0].clone();
                    c.name = "next-auth.callback-url".into();
                    i.cookies.push(c);
                }),
            ),
            ("necessary purpose reworded", Box::new(|i| i.cookies[0].purpose = "Keeps you logged in".into())),
            (
                "gpc honoured now",
                Box::new(|i| {
                    i.rules.dnt = SignalRule::Honor;
                    i.rules.gpc = SignalRule::Honor;
                }),
            ),
            ("shorter lifetime", Box::new(|i| i.rules.consent_lifetime = "6 months".into())),
        ];
        for (name, f) in cases {
            let (material, changes) = classify(f);
            assert!(!material, "{name} should be minor: {changes:#?}");
            if name != "gpc honoured now" {
                assert!(!changes.is_empty(), "{name} should be listed");
            }
        }
    }
}
