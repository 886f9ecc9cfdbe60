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
use crate::inventory::{Inventory, Item, SignalRule};

/// One difference between two versions of an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Whether every visitor must be asked again.
    pub material: bool,
    /// Where in the inventory (`cookies._fbp.duration`).
    pub path: String,
    /// What changed, in a sentence.
    pub description: String,
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
    fn push(&mut self, material: bool, path: impl Into<String>, description: impl Into<String>) {
        self.out.push(Change { material, path: path.into(), description: description.into() });
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
            d.push(false, path, format!("`{a}` became `{b}`"));
        }
    }
    if o.cookie_domain != n.cookie_domain
        || o.privacy_policy_url != n.privacy_policy_url
        || o.intro != n.intro
        || o.address != n.address
    {
        d.push(false, "site", "site details or introduction changed");
    }
}

fn rules(d: &mut Diff<'_>) {
    let (o, n) = (&d.old.rules, &d.new.rules);
    for (name, a, b) in [("rules.dnt", o.dnt, n.dnt), ("rules.gpc", o.gpc, n.gpc)] {
        if a != b {
            let material = a == SignalRule::Honor;
            d.push(material, name, format!("{a:?} became {b:?}").to_lowercase());
        }
    }
    if let (Ok(a), Ok(b)) = (o.lifetime(), n.lifetime())
        && a != b
    {
        d.push(b.longer_than(a), "rules.consent_lifetime", format!("{a} became {b}"));
    }
    if o.regional_mode != n.regional_mode || o.opt_out_countries != n.opt_out_countries {
        d.push(true, "rules.regional_mode", "who gets opt-in and who opt-out changed");
    }
    if o.announce_changes != n.announce_changes {
        d.push(false, "rules.announce_changes", "how changes are announced changed");
    }
    if d.old.banner.enabled != d.new.banner.enabled {
        d.push(
            d.new.banner.enabled,
            "banner.enabled",
            format!("the banner is now {}", if d.new.banner.enabled { "on" } else { "off" }),
        );
    }
}

fn categories(d: &mut Diff<'_>) {
    let old: BTreeMap<_, _> = d.old.categories.iter().map(|c| (c.id.as_str(), c)).collect();
    for c in &d.new.categories {
        let path = format!("categories.{}", c.id);
        match old.get(c.id.as_str()) {
            None => d.push(true, path, "a new category"),
            Some(o) => {
                if o.required && !c.required {
                    d.push(true, path.clone(), "was strictly necessary, now asks for consent");
                } else if !o.required && c.required {
                    d.push(true, path.clone(), "now strictly necessary: no longer asks for consent");
                }
                if o.description != c.description || o.title != c.title {
                    d.push(!c.required, format!("{path}.description"), "title or description changed");
                }
                let added: Vec<_> = c.consent_mode.iter().filter(|t| !o.consent_mode.contains(t)).collect();
                if !added.is_empty() {
                    d.push(true, format!("{path}.consent_mode"), format!("now also grants {added:?}").to_lowercase());
                } else if o.consent_mode != c.consent_mode {
                    d.push(false, format!("{path}.consent_mode"), "grants fewer Consent Mode types");
                }
            }
        }
    }
    for c in &d.old.categories {
        if d.new.category(&c.id).is_none() {
            d.push(false, format!("categories.{}", c.id), "category removed");
        }
    }
}

fn items(d: &mut Diff<'_>) {
    let old: BTreeMap<_, _> = d.old.items().map(|i| (item_key(i), i)).collect();
    let new_items: Vec<_> = d.new.items().collect();
    for i in new_items {
        let key = item_key(i);
        let path = format!(
            "{}.{}",
            if i.storage() == crate::inventory::StorageKind::Cookie { "cookies" } else { "storage" },
            i.name
        );
        let essential = d.new.is_required(&i.category);
        let Some(o) = old.get(&key) else {
            d.push(
                !essential,
                path,
                if essential { "a new strictly necessary item" } else { "a new item that needs consent" },
            );
            continue;
        };
        if o.category != i.category {
            d.push(!essential, format!("{path}.category"), format!("moved from `{}` to `{}`", o.category, i.category));
        }
        if o.purpose != i.purpose {
            d.push(!essential, format!("{path}.purpose"), "purpose changed");
        }
        if o.provider != i.provider || o.service != i.service {
            d.push(!essential, format!("{path}.provider"), "set by a different party");
        }
        match (o.lifetime(), i.lifetime()) {
            (Ok(a), Ok(b)) if a != b => {
                let longer = match (a, b) {
                    (Some(a), Some(b)) => b.longer_than(a),
                    (Some(_), None) => true,
                    _ => false,
                };
                let show = |x: Option<Duration>| x.map(|x| x.to_string()).unwrap_or_else(|| "persistent".into());
                d.push(longer, format!("{path}.duration"), format!("{} became {}", show(a), show(b)));
            }
            _ => {}
        }
        if o.domain != i.domain
            || o.path != i.path
            || o.http_only != i.http_only
            || o.secure != i.secure
            || o.same_site != i.same_site
        {
            d.push(false, format!("{path}.attributes"), "cookie attributes changed");
        }
        if o.match_kind != i.match_kind {
            d.push(!essential, format!("{path}.match"), "now matches other names");
        }
    }
    for o in d.old.items() {
        if !d.new.items().any(|i| item_key(i) == item_key(o)) {
            d.push(false, format!("items.{}", o.name), "no longer used");
        }
    }
}

fn services(d: &mut Diff<'_>) {
    for s in &d.new.services {
        let path = format!("services.{}", s.id);
        let essential = d.new.is_required(&s.category);
        let Some(o) = d.old.service(&s.id) else {
            d.push(!essential, path, "a new third-party service");
            continue;
        };
        if o.category != s.category {
            d.push(!essential, format!("{path}.category"), format!("moved from `{}` to `{}`", o.category, s.category));
        }
        if o.purpose != s.purpose {
            d.push(!essential, format!("{path}.purpose"), "purpose changed");
        }
        let new_hosts: Vec<_> = s.hosts.iter().filter(|h| !o.hosts.contains(h)).collect();
        if !new_hosts.is_empty() {
            d.push(
                !essential,
                format!("{path}.hosts"),
                format!("now contacts {}", new_hosts.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ")),
            );
        }
        if o.provider != s.provider || o.name != s.name {
            d.push(!essential, format!("{path}.provider"), "provided by a different company");
        }
        if o.privacy_policy != s.privacy_policy || o.cookies != s.cookies || o.on_interaction != s.on_interaction {
            d.push(false, path, "details changed");
        }
    }
    for o in &d.old.services {
        if d.new.service(&o.id).is_none() {
            d.push(false, format!("services.{}", o.id), "service removed");
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
