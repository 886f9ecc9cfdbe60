//! The Open Cookie Database (Apache-2.0, embedded; see `data/NOTICE.md`): known cookies
//! and storage keys, looked up domain-aware with the longest prefix winning.
//!
//! Its categories map onto Crumb's purposes like this:
//!
//! | database      | Crumb purpose |
//! |---------------|---------------|
//! | Necessary     | necessary |
//! | Security      | necessary |
//! | Functional    | necessary when the entry's description speaks of sessions, sign-in, security, CSRF, fraud, load balancing, consent, carts or checkout; functional otherwise |
//! | Personalization | functional |
//! | Analytics     | analytics |
//! | Marketing     | marketing |
//!
//! The database's "Functional" covers both what a policy calls strictly necessary and what
//! it calls functional, so the description decides; [`OcdEntry::purpose_reason`] says which
//! words did.

use std::sync::OnceLock;

use serde::Serialize;

use crate::inventory::{Purpose, domain_covers};

static CSV: &str = include_str!("../data/open-cookie-database.csv");
static DB: OnceLock<Vec<OcdEntry>> = OnceLock::new();

/// The database's own category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OcdCategory {
    /// "Necessary".
    Necessary,
    /// "Functional".
    Functional,
    /// "Analytics".
    Analytics,
    /// "Marketing".
    Marketing,
    /// "Security".
    Security,
    /// "Personalization".
    Personalization,
}

/// One row of the database.
#[derive(Debug, Clone, Serialize)]
pub struct OcdEntry {
    /// The row's id (a UUID).
    pub id: String,
    /// Platform (`Google Analytics`).
    pub platform: String,
    /// Category as the database gives it.
    pub category: OcdCategory,
    /// Cookie or key name (a prefix when `wildcard`).
    pub name: String,
    /// Domain the database saw it on, cleaned (`facebook.com`); empty for first-party.
    pub domain: String,
    /// What it does.
    pub description: String,
    /// Retention as the database states it.
    pub retention: String,
    /// Data controller.
    pub controller: String,
    /// Privacy or rights portal URL.
    pub privacy_url: String,
    /// `name` is a prefix.
    pub wildcard: bool,
}

const NECESSARY_WORDS: &[&str] = &[
    "session",
    "authenticat",
    "log in",
    "login",
    "logged",
    "sign in",
    "signed in",
    "security",
    "csrf",
    "xsrf",
    "fraud",
    "load balanc",
    "load-balanc",
    "consent",
    "cookie preferences",
    "shopping cart",
    "cart",
    "basket",
    "checkout",
    "bot",
    "captcha",
];

impl OcdEntry {
    /// The entry's meaning in Crumb's purposes (see the module documentation).
    pub fn purpose(&self) -> Purpose {
        self.purpose_reason().0
    }

    /// The purpose and why.
    pub fn purpose_reason(&self) -> (Purpose, String) {
        match self.category {
            OcdCategory::Necessary => (Purpose::Necessary, "listed as Necessary".into()),
            OcdCategory::Security => (Purpose::Necessary, "listed as Security".into()),
            OcdCategory::Analytics => (Purpose::Analytics, "listed as Analytics".into()),
            OcdCategory::Marketing => (Purpose::Marketing, "listed as Marketing".into()),
            OcdCategory::Personalization => (Purpose::Functional, "listed as Personalization".into()),
            OcdCategory::Functional => {
                let d = self.description.to_ascii_lowercase();
                match NECESSARY_WORDS.iter().find(|w| d.contains(*w)) {
                    Some(w) => (
                        Purpose::Necessary,
                        format!("listed as Functional, described with \"{w}\", so strictly necessary"),
                    ),
                    None => (Purpose::Functional, "listed as Functional".into()),
                }
            }
        }
    }
}

fn clean_domain(d: &str) -> String {
    let d = d.replace("(3rd party)", "");
    let d = d.split([' ', ',', '/']).find(|p| !p.is_empty()).unwrap_or("");
    d.trim_start_matches("*.").trim_start_matches('.').to_ascii_lowercase()
}

fn load() -> Vec<OcdEntry> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(CSV.as_bytes());
    rdr.records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            let get = |i: usize| r.get(i).unwrap_or("").trim().to_string();
            let category = match get(2).as_str() {
                "Necessary" => OcdCategory::Necessary,
                "Functional" => OcdCategory::Functional,
                "Analytics" => OcdCategory::Analytics,
                "Marketing" => OcdCategory::Marketing,
                "Security" => OcdCategory::Security,
                "Personalization" => OcdCategory::Personalization,
                _ => return None,
            };
            let name = get(3);
            if name.is_empty() {
                return None;
            }
            Some(OcdEntry {
                id: get(0),
                platform: get(1),
                category,
                name,
                domain: clean_domain(&get(4)),
                description: get(5),
                retention: get(6),
                controller: get(7),
                privacy_url: get(8),
                wildcard: get(9) == "1",
            })
        })
        .collect()
}

/// Every entry of the embedded database.
pub fn entries() -> &'static [OcdEntry] {
    DB.get_or_init(load)
}

/// Shortest prefix that may match without the domain agreeing (shorter ones over-match).
pub const MIN_FREE_PREFIX: usize = 4;

/// Look up a name seen on `domain` (the cookie's domain or the storage's host).
///
/// Exact names beat prefixes and longer prefixes beat shorter ones; among equals an entry
/// whose domain agrees with `domain` beats a first-party entry, which beats one seen on
/// another domain (third-party scripts often set cookies on the site's own domain, like
/// `_fbp`). A prefix shorter than [`MIN_FREE_PREFIX`] only matches when the domain agrees.
pub fn lookup(name: &str, domain: Option<&str>) -> Option<&'static OcdEntry> {
    lookup_detailed(name, domain).map(|(e, _)| e)
}

/// How an entry's domain relates to the domain looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainAgreement {
    /// The entry was seen on another domain.
    Other,
    /// The entry is first-party (no domain).
    FirstParty,
    /// The entry's domain covers (or is covered by) the domain looked up.
    Same,
}

/// Like [`lookup`], also saying how the domains agree.
pub fn lookup_detailed(name: &str, domain: Option<&str>) -> Option<(&'static OcdEntry, DomainAgreement)> {
    let domain = domain.map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    let agrees = |e: &OcdEntry| -> DomainAgreement {
        match (&domain, e.domain.is_empty()) {
            (_, true) => DomainAgreement::FirstParty,
            (Some(d), false) if domain_covers(&e.domain, d) || domain_covers(d, &e.domain) => DomainAgreement::Same,
            _ => DomainAgreement::Other,
        }
    };
    entries()
        .iter()
        .filter_map(|e| {
            let hit = if e.wildcard { name.starts_with(e.name.as_str()) } else { e.name == name };
            if !hit {
                return None;
            }
            let a = agrees(e);
            if e.wildcard && e.name.len() < MIN_FREE_PREFIX && a != DomainAgreement::Same {
                return None;
            }
            let kind = if e.wildcard { 1 } else { 2 };
            Some(((kind, e.name.len(), a), e))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|((_, _, a), e)| (e, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_every_row() {
        assert!(entries().len() > 2200, "{}", entries().len());
    }

    #[test]
    fn exact_then_longest_prefix() {
        assert_eq!(lookup("_ga", None).map(|e| e.name.as_str()), Some("_ga"));
        assert_eq!(lookup("_ga_ABC123", None).map(|e| e.name.as_str()), Some("_ga_"));
        assert_eq!(lookup("_gat_gtag_UA_1", None).map(|e| e.name.as_str()), Some("_gat_gtag_"));
        assert_eq!(lookup("_gat_x", None).map(|e| e.name.as_str()), Some("_gat"));
        assert_eq!(lookup("_fbp", Some(".leadsgen.app")).map(|e| e.purpose()), Some(Purpose::Marketing));
    }

    #[test]
    fn short_prefixes_need_the_domain() {
        assert!(lookup("SRabcdef", Some("example.com")).is_none_or(|e| e.name != "SR"));
        assert_eq!(lookup("token", Some("adnxs.com")).map(|e| e.platform.as_str()), Some("Xandr"));
        assert_eq!(lookup("token", Some("adform.net")).map(|e| e.platform.as_str()), Some("Adform"));
    }

    #[test]
    fn functional_split() {
        let stripe = lookup("__stripe_mid", Some("leadsgen.app")).expect("known");
        assert_eq!(stripe.purpose(), Purpose::Necessary);
        assert!(stripe.purpose_reason().1.contains("fraud"));
    }
}
