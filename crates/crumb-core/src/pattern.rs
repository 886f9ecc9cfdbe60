//! Cookie and storage names, and the one matcher that the banner, scanner and guard share.
//!
//! Precedence when several declarations fit an observed name: an exact name beats a prefix,
//! a longer prefix beats a shorter one, a prefix beats a regex, and among regexes the first
//! declared wins. A declaration with a `domain` only fits cookies on that domain; one without
//! fits the site's own hosts (and, for a service's cookies, that service's hosts).

use crate::inventory::{Inventory, Item, StorageKind, domain_covers, host_matches};
pub use crate::name::{MatchKind, NamePattern, PatternError};

/// One compiled declaration.
#[derive(Debug, Clone)]
struct Entry {
    index: usize,
    storage: StorageKind,
    pattern: NamePattern,
    domain: Option<String>,
    hosts: Vec<String>,
}

/// The matcher over one inventory's items.
#[derive(Debug, Clone)]
pub struct Matcher {
    entries: Vec<Entry>,
    site_hosts: Vec<String>,
}

/// An observed cookie or storage item to look up.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Where it was seen.
    pub storage: StorageKind,
    /// Its name.
    pub name: &'a str,
    /// The cookie's domain (or the storage's origin host); `None` when unknown.
    pub domain: Option<&'a str>,
}

impl Matcher {
    /// Compile the inventory's items. Items whose pattern is invalid are skipped
    /// (`crumb check` reports them).
    pub fn new(inv: &Inventory) -> Matcher {
        let entries = inv
            .items()
            .enumerate()
            .filter_map(|(index, item)| {
                let pattern = item.pattern().ok()?;
                let hosts = item
                    .service
                    .as_deref()
                    .and_then(|s| inv.service(s))
                    .into_iter()
                    .chain(inv.services.iter().filter(|s| s.cookies.iter().any(|c| c == &item.name)))
                    .flat_map(|s| s.hosts.iter().cloned())
                    .collect();
                Some(Entry { index, storage: item.storage(), pattern, domain: item.domain.clone(), hosts })
            })
            .collect();
        Matcher { entries, site_hosts: inv.site.origins.clone() }
    }

    /// The index (into [`Inventory::items`]) of the declaration that best fits `obs`.
    pub fn find_index(&self, obs: Observed<'_>) -> Option<usize> {
        self.entries
            .iter()
            .filter(|e| e.storage == obs.storage && e.pattern.matches(obs.name))
            .filter(|e| self.domain_fits(e, obs.domain))
            .max_by(|a, b| a.pattern.rank().cmp(&b.pattern.rank()).then(b.index.cmp(&a.index)))
            .map(|e| e.index)
    }

    /// The declaration that best fits `obs`.
    pub fn find<'i>(&self, inv: &'i Inventory, obs: Observed<'_>) -> Option<&'i Item> {
        self.find_index(obs).and_then(|i| inv.items().nth(i))
    }

    fn domain_fits(&self, e: &Entry, domain: Option<&str>) -> bool {
        let Some(domain) = domain else { return true };
        let domain = domain.trim_start_matches('.');
        if let Some(d) = &e.domain {
            // A declared `.example.com` fits cookies on example.com or any subdomain of it.
            return domain_covers(d, domain) || domain_covers(domain, d.trim_start_matches('.'));
        }
        self.site_hosts.iter().chain(e.hosts.iter()).any(|h| host_matches(h, domain) || site_shares_parent(h, domain))
    }
}

/// `*.example.com` or `example.com` declared; cookie seen on `.example.com` or a sibling subdomain.
fn site_shares_parent(origin: &str, domain: &str) -> bool {
    let o = crate::inventory::origin_host(origin);
    let o = o.trim_start_matches("*.");
    domain_covers(domain, o) || domain_covers(o, domain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inv(items: &[(&str, Option<MatchKind>, Option<&str>)]) -> Inventory {
        let mut src = String::from(
            "[site]\nid='s'\nname='S'\norigins=['example.com']\ncontroller='C'\ncontact='a@example.com'\neffective_date='2026-01-01'\n[[categories]]\nid='necessary'\ntitle='N'\ndescription='N'\nrequired=true\n",
        );
        for (n, k, d) in items {
            src.push_str(&format!("[[cookies]]\nname='{n}'\ncategory='necessary'\npurpose='p'\nduration='1 day'\n"));
            if let Some(k) = k {
                let k = match k {
                    MatchKind::Exact => "exact",
                    MatchKind::Prefix => "prefix",
                    MatchKind::Regex => "regex",
                };
                src.push_str(&format!("match='{k}'\n"));
            }
            if let Some(d) = d {
                src.push_str(&format!("domain='{d}'\n"));
            }
        }
        toml::from_str(&src).expect("test inventory parses")
    }

    fn cookie<'a>(name: &'a str, domain: Option<&'a str>) -> Observed<'a> {
        Observed { storage: StorageKind::Cookie, name, domain }
    }

    #[test]
    fn exact_beats_prefix_beats_regex_longest_prefix_wins() {
        let i = inv(&[
            ("_g.*", Some(MatchKind::Regex), None),
            ("_ga*", None, None),
            ("_ga_*", None, None),
            ("_ga", None, None),
        ]);
        let m = Matcher::new(&i);
        assert_eq!(m.find_index(cookie("_ga", None)), Some(3));
        assert_eq!(m.find_index(cookie("_ga_ABC", None)), Some(2));
        assert_eq!(m.find_index(cookie("_gat", None)), Some(1));
        assert_eq!(m.find_index(cookie("_gz", None)), Some(0));
        assert_eq!(m.find_index(cookie("ga", None)), None);
    }

    #[test]
    fn domain_aware() {
        let i = inv(&[("_fbp", None, Some(".facebook.com")), ("sid", None, None)]);
        let m = Matcher::new(&i);
        assert_eq!(m.find_index(cookie("_fbp", Some("www.facebook.com"))), Some(0));
        assert_eq!(m.find_index(cookie("_fbp", Some("example.com"))), None);
        assert_eq!(m.find_index(cookie("sid", Some(".example.com"))), Some(1));
        assert_eq!(m.find_index(cookie("sid", Some("tracker.net"))), None);
        // Storage kinds do not mix.
        let ls = Observed { storage: StorageKind::LocalStorage, name: "sid", domain: None };
        assert_eq!(m.find_index(ls), None);
    }

    #[test]
    fn patterns_refuse_bad_forms() {
        assert_eq!(NamePattern::new("a*b", None).err(), Some(PatternError::InnerStar));
        assert_eq!(NamePattern::new("*", None).err(), Some(PatternError::EmptyPrefix));
        assert!(matches!(NamePattern::new("(", Some(MatchKind::Regex)), Err(PatternError::Regex(_))));
        assert!(NamePattern::new("a.b", Some(MatchKind::Regex)).is_ok_and(|p| !p.matches("xa.bx")));
    }

    proptest! {
        #[test]
        fn prefix_matches_exactly_the_names_it_starts(p in "[a-z_]{1,8}", rest in "[a-z0-9_]{0,8}", other in "[a-z0-9_]{1,16}") {
            let pat = NamePattern::new(&format!("{p}*"), None).expect("valid prefix");
            let full = format!("{p}{rest}");
            prop_assert!(pat.matches(&full));
            prop_assert_eq!(pat.matches(&other), other.starts_with(&p));
        }

        #[test]
        fn longest_prefix_always_wins(a in "[a-z]{1,4}", b in "[a-z]{1,4}", tail in "[a-z]{0,4}") {
            let short = a.clone();
            let long = format!("{a}{b}");
            let i = inv(&[(&format!("{short}*"), None, None), (&format!("{long}*"), None, None)]);
            let name = format!("{long}{tail}");
            prop_assert_eq!(Matcher::new(&i).find_index(cookie(&name, None)), Some(1));
        }

        #[test]
        fn exact_always_beats_patterns(name in "[a-z_]{2,10}") {
            let i = inv(&[(".*", Some(MatchKind::Regex), None), (&format!("{}*", &name[..1]), None, None), (&name, None, None)]);
            prop_assert_eq!(Matcher::new(&i).find_index(cookie(&name, None)), Some(2));
        }

        #[test]
        fn never_panics_on_any_name(name in "\\PC{0,30}", pat in "\\PC{0,12}") {
            for k in [None, Some(MatchKind::Exact), Some(MatchKind::Prefix), Some(MatchKind::Regex)] {
                if let Ok(p) = NamePattern::new(&pat, k) { let _ = p.matches(&name); }
            }
        }
    }
}
