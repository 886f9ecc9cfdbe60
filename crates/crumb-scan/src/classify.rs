//! Suggested categories for undeclared items.
//!
//! 0. Two name rules come first, because they state the purpose more reliably than a
//!    platform's listing: a name that records the visitor's consent choice (`consent`,
//!    `cookies_policy`, `opt_out`, `do_not_track`, ...) is strictly necessary (consent
//!    cookies are exempt from consent, Article 29 Working Party Opinion 04/2012), and a
//!    name matched only by a platform-wide prefix (`_vercel_*`) whose rest says `analytics`
//!    is analytics.
//! 1. The Open Cookie Database ([`crumb_core::ocd::lookup_detailed`]: exact name beats
//!    prefix, longest prefix wins, domain-aware). The matched entry is the evidence.
//! 2. Otherwise a guess, marked `source = "guess"` with a confidence, from (in order):
//!    platform prefixes and name words (`_pk_` analytics, `sess`/`csrf` necessary, `lang`
//!    functional, `_fb`/`ads` marketing), then the shape of the item (a long random
//!    identifier kept for months on a third-party domain is a tracker), then the host (a
//!    third-party cookie with no other clue is marketing). With no clue at all the guess is
//!    `functional` at low confidence: it needs consent, and a person should look at it.

use crumb_core::StorageKind;
use crumb_core::inventory::Purpose;
use crumb_core::ocd::{self, DomainAgreement};
use serde::{Deserialize, Serialize};

/// Where a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionSource {
    /// An entry of the Open Cookie Database.
    OpenCookieDatabase,
    /// The scanner's fallback rules: a guess.
    Guess,
}

/// A suggested category for an undeclared item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The purpose: `necessary`, `functional`, `analytics` or `marketing`.
    pub purpose: Purpose,
    /// The inventory category with that purpose, when an inventory was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Where it comes from.
    pub source: SuggestionSource,
    /// 0.0 to 1.0.
    pub confidence: f32,
    /// Why: the database entry, or the rule that fired.
    pub reason: String,
    /// The database entry, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocd: Option<OcdRef>,
}

/// The Open Cookie Database entry behind a suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcdRef {
    /// Entry id.
    pub id: String,
    /// Platform (`Google Analytics`).
    pub platform: String,
    /// Name or prefix in the database.
    pub name: String,
    /// Whether `name` is a prefix.
    pub wildcard: bool,
    /// The database's description.
    pub description: String,
    /// Retention as the database states it.
    pub retention: String,
    /// Data controller.
    pub controller: String,
}

/// What the classifier knows about an item.
#[derive(Debug, Clone, Copy)]
pub struct Clues<'a> {
    /// Name or key.
    pub name: &'a str,
    /// Cookie domain or storage host.
    pub domain: Option<&'a str>,
    /// Where it lives.
    pub storage: StorageKind,
    /// Whether its domain is not the site's.
    pub third_party: bool,
    /// Lifetime in seconds, `None` for session cookies or unknown.
    pub lifetime_seconds: Option<u64>,
    /// Length of the value, when known.
    pub value_length: Option<usize>,
}

impl<'a> Clues<'a> {
    /// Clues from just a name and domain.
    pub fn name(name: &'a str, domain: Option<&'a str>) -> Clues<'a> {
        Clues {
            name,
            domain,
            storage: StorageKind::Cookie,
            third_party: false,
            lifetime_seconds: None,
            value_length: None,
        }
    }
}

/// Suggest a purpose for an item.
pub fn suggest(c: Clues<'_>) -> Suggestion {
    let lower = c.name.to_ascii_lowercase();
    if let Some(w) = CONSENT_WORDS.iter().find(|w| lower.contains(*w)) {
        return Suggestion {
            purpose: Purpose::Necessary,
            category: None,
            source: SuggestionSource::Guess,
            confidence: 0.8,
            reason: format!(
                "rule: the name contains `{w}`, so it records the consent choice, which needs no consent (WP29 Opinion 04/2012)"
            ),
            ocd: None,
        };
    }
    let found = ocd::lookup_detailed(c.name, c.domain);
    if let Some((e, _)) = found
        && e.wildcard
        && lower[e.name.len().min(lower.len())..].contains("analytic")
    {
        return Suggestion {
            purpose: Purpose::Analytics,
            category: None,
            source: SuggestionSource::Guess,
            confidence: 0.75,
            reason: format!(
                "rule: only the platform prefix `{}*` is known, and the rest of the name says analytics",
                e.name
            ),
            ocd: None,
        };
    }
    if let Some((e, agreement)) = found {
        let (purpose, why) = e.purpose_reason();
        let confidence = match (e.wildcard, agreement) {
            (false, DomainAgreement::Same) => 0.95,
            (false, DomainAgreement::FirstParty) => 0.9,
            (false, DomainAgreement::Other) => 0.8,
            (true, DomainAgreement::Same) => 0.85,
            (true, _) => 0.7,
        };
        return Suggestion {
            purpose,
            category: None,
            source: SuggestionSource::OpenCookieDatabase,
            confidence,
            reason: format!(
                "Open Cookie Database: `{}{}` ({}), {why}",
                e.name,
                if e.wildcard { "*" } else { "" },
                e.platform
            ),
            ocd: Some(OcdRef {
                id: e.id.clone(),
                platform: e.platform.clone(),
                name: e.name.clone(),
                wildcard: e.wildcard,
                description: e.description.clone(),
                retention: e.retention.clone(),
                controller: e.controller.clone(),
            }),
        };
    }
    let (purpose, confidence, reason) = guess(c);
    Suggestion { purpose, category: None, source: SuggestionSource::Guess, confidence, reason, ocd: None }
}

/// Words of names that record the visitor's consent choice.
const CONSENT_WORDS: &[&str] = &[
    "consent",
    "cookies_policy",
    "cookie_policy",
    "cookies_pref",
    "cookie_pref",
    "cookie-perm",
    "cookie_perm",
    "opt_out",
    "optout",
    "opt-out",
    "opt_in",
    "do_not_track",
    "optanon",
    "cookielaw",
];

/// Name fragments and the purpose they suggest, most specific first. Matched against the
/// lowercased name; `^` anchors at the start.
const WORDS: &[(&str, Purpose, f32)] = &[
    // Platform prefixes the database does not list by name.
    ("^_pk_", Purpose::Analytics, 0.8),
    ("^ajs_", Purpose::Analytics, 0.75),
    ("^amplitude", Purpose::Analytics, 0.75),
    ("^mp_", Purpose::Analytics, 0.6),
    ("^_hj", Purpose::Analytics, 0.75),
    ("^_ga", Purpose::Analytics, 0.7),
    ("^_cl", Purpose::Analytics, 0.5),
    ("^_fb", Purpose::Marketing, 0.75),
    ("^_gcl", Purpose::Marketing, 0.75),
    ("^_uet", Purpose::Marketing, 0.75),
    ("^_tt", Purpose::Marketing, 0.6),
    ("^_li", Purpose::Marketing, 0.5),
    ("^__stripe", Purpose::Necessary, 0.7),
    ("^wp-settings", Purpose::Functional, 0.6),
    ("^wordpress_logged_in", Purpose::Necessary, 0.7),
    // Words.
    ("consent", Purpose::Necessary, 0.6),
    ("cookieyes", Purpose::Necessary, 0.6),
    ("cookielaw", Purpose::Necessary, 0.6),
    ("csrf", Purpose::Necessary, 0.7),
    ("xsrf", Purpose::Necessary, 0.7),
    ("sess", Purpose::Necessary, 0.55),
    ("auth", Purpose::Necessary, 0.55),
    ("login", Purpose::Necessary, 0.55),
    ("token", Purpose::Necessary, 0.45),
    ("cart", Purpose::Necessary, 0.5),
    ("basket", Purpose::Necessary, 0.5),
    ("checkout", Purpose::Necessary, 0.5),
    ("captcha", Purpose::Necessary, 0.6),
    ("loadbalanc", Purpose::Necessary, 0.6),
    ("awsalb", Purpose::Necessary, 0.6),
    ("route", Purpose::Necessary, 0.4),
    ("ads", Purpose::Marketing, 0.5),
    ("advert", Purpose::Marketing, 0.6),
    ("pixel", Purpose::Marketing, 0.55),
    ("retarget", Purpose::Marketing, 0.6),
    ("campaign", Purpose::Marketing, 0.45),
    ("affiliate", Purpose::Marketing, 0.5),
    ("gclid", Purpose::Marketing, 0.6),
    ("fbclid", Purpose::Marketing, 0.6),
    ("utm", Purpose::Marketing, 0.45),
    ("track", Purpose::Analytics, 0.45),
    ("analytic", Purpose::Analytics, 0.6),
    ("stat", Purpose::Analytics, 0.35),
    ("visitor", Purpose::Analytics, 0.4),
    ("visit", Purpose::Analytics, 0.35),
    ("experiment", Purpose::Analytics, 0.45),
    ("abtest", Purpose::Analytics, 0.45),
    ("ab_test", Purpose::Analytics, 0.45),
    ("heatmap", Purpose::Analytics, 0.55),
    ("lang", Purpose::Functional, 0.5),
    ("locale", Purpose::Functional, 0.5),
    ("currency", Purpose::Functional, 0.5),
    ("theme", Purpose::Functional, 0.5),
    ("dark", Purpose::Functional, 0.35),
    ("pref", Purpose::Functional, 0.45),
    ("timezone", Purpose::Functional, 0.5),
    ("region", Purpose::Functional, 0.4),
    ("country", Purpose::Functional, 0.4),
    ("font", Purpose::Functional, 0.4),
    ("chat", Purpose::Functional, 0.45),
    ("video", Purpose::Functional, 0.35),
    ("player", Purpose::Functional, 0.35),
];

/// Month in seconds, for the shape rules.
const MONTH: u64 = crumb_core::duration::MONTH;

fn guess(c: Clues<'_>) -> (Purpose, f32, String) {
    let lower = c.name.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|ch| *ch != '-' && *ch != '.').collect();
    for (word, purpose, conf) in WORDS {
        let hit = match word.strip_prefix('^') {
            Some(p) => lower.starts_with(p),
            None => compact.contains(word),
        };
        if hit {
            let how = if word.starts_with('^') { "starts with" } else { "contains" };
            return (*purpose, *conf, format!("guess: the name {how} `{}`", word.trim_start_matches('^')));
        }
    }
    let long_lived = c.lifetime_seconds.is_some_and(|s| s >= 6 * MONTH);
    let id_like = c.value_length.is_some_and(|n| n >= 16);
    if c.third_party && c.storage == StorageKind::Cookie {
        if long_lived || id_like {
            return (
                Purpose::Marketing,
                0.55,
                "guess: a third-party cookie holding a long identifier or kept for months tracks visitors across sites"
                    .into(),
            );
        }
        return (Purpose::Marketing, 0.45, "guess: set on a third-party domain".into());
    }
    if long_lived && id_like {
        return (
            Purpose::Analytics,
            0.4,
            "guess: a first-party identifier kept for months recognises returning visitors".into(),
        );
    }
    (Purpose::Functional, 0.25, "guess: no known name, shape or host; needs a person to look at it".into())
}

/// The site's category for a purpose: the first category whose purpose is that one.
pub fn category_for(inv: &crumb_core::Inventory, purpose: Purpose) -> Option<String> {
    inv.categories.iter().find(|c| c.purpose() == purpose).map(|c| c.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_first_with_entry_as_evidence() {
        let s = suggest(Clues::name("_ga_ABC123", Some(".example.com")));
        assert_eq!(s.source, SuggestionSource::OpenCookieDatabase);
        assert_eq!(s.purpose, Purpose::Analytics);
        assert_eq!(s.ocd.as_ref().map(|o| o.name.as_str()), Some("_ga_"));
        assert!(s.reason.contains("Google Analytics"), "{}", s.reason);
    }

    #[test]
    fn consent_and_analytics_name_rules() {
        let s = suggest(Clues::name("mtm_consent", None));
        assert_eq!(s.purpose, Purpose::Necessary);
        assert!(s.reason.starts_with("rule:"));
        let v = suggest(Clues::name("_vercel_analytics", None));
        assert_eq!(v.purpose, Purpose::Analytics);
        // An exact database entry is not overridden by the analytics rule.
        assert_eq!(suggest(Clues::name("_ga", None)).source, SuggestionSource::OpenCookieDatabase);
    }

    #[test]
    fn guesses_are_marked_with_confidence() {
        let s = suggest(Clues::name("zz_csrf_guard", Some("example.com")));
        assert_eq!(s.source, SuggestionSource::Guess);
        assert_eq!(s.purpose, Purpose::Necessary);
        assert!(s.confidence < 0.9 && s.confidence > 0.0);
        let tp = suggest(Clues {
            name: "qqzx",
            domain: Some("tracker.invalid"),
            storage: StorageKind::Cookie,
            third_party: true,
            lifetime_seconds: Some(400 * 86_400),
            value_length: Some(32),
        });
        assert_eq!((tp.purpose, tp.source), (Purpose::Marketing, SuggestionSource::Guess));
        let none = suggest(Clues::name("qqzx", Some("example.com")));
        assert_eq!(none.purpose, Purpose::Functional);
        assert!(none.confidence < 0.3);
    }
}
