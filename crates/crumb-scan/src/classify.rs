//! Suggested categories for undeclared items: the scanner's view of
//! [`crumb_core::classify`], the one classifier that `crumb classify`, `--write-inventory`
//! and `crumb check` also use. This module turns what the scanner observed into the
//! classifier's [`Observation`] and its answer into a [`Suggestion`] for the report.

use crumb_core::StorageKind;
use crumb_core::classify::{self as core, Observation, Source};
use crumb_core::inventory::Purpose;
use serde::{Deserialize, Serialize};

/// Where a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionSource {
    /// A web framework's default cookie.
    Framework,
    /// A name rule (consent records).
    Rule,
    /// The learned model, agreeing with an Open Cookie Database entry that applies.
    OpenCookieDatabase,
    /// The learned model alone.
    Model,
}

impl From<Source> for SuggestionSource {
    fn from(s: Source) -> Self {
        match s {
            Source::Framework => SuggestionSource::Framework,
            Source::Rule => SuggestionSource::Rule,
            Source::OpenCookieDatabase => SuggestionSource::OpenCookieDatabase,
            Source::Model => SuggestionSource::Model,
        }
    }
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
    /// Below the review threshold: a person should confirm it before relying on it.
    #[serde(default)]
    pub review: bool,
    /// Why: the rule, framework or model features, and the database entry that applies.
    pub reason: String,
    /// The Open Cookie Database entry that applies, when there is one.
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

/// What the scanner knows about an item.
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
    /// `HttpOnly`, for cookies.
    pub http_only: Option<bool>,
    /// `Secure`, for cookies.
    pub secure: Option<bool>,
    /// The response or script URL that set it.
    pub set_by: Option<&'a str>,
    /// Whether an HTTP response (not a script) set it.
    pub set_by_server: Option<bool>,
}

impl<'a> Clues<'a> {
    /// Clues from just a name and domain (a first-party cookie).
    pub fn name(name: &'a str, domain: Option<&'a str>) -> Clues<'a> {
        Clues {
            name,
            domain,
            storage: StorageKind::Cookie,
            third_party: false,
            lifetime_seconds: None,
            http_only: None,
            secure: None,
            set_by: None,
            set_by_server: None,
        }
    }

    /// The classifier's observation.
    pub fn observation(&self) -> Observation {
        Observation {
            name: self.name.to_string(),
            domain: self.domain.map(str::to_string),
            storage: Some(self.storage),
            third_party: Some(self.third_party),
            lifetime_seconds: self.lifetime_seconds,
            value: None,
            http_only: self.http_only,
            secure: self.secure,
            set_by: self.set_by.map(str::to_string),
            set_by_server: self.set_by_server,
        }
    }
}

/// A [`Suggestion`] from the classifier's answer.
pub fn suggestion(c: &core::Classification) -> Suggestion {
    Suggestion {
        purpose: c.purpose,
        category: None,
        source: c.source.into(),
        confidence: c.confidence,
        review: c.review,
        reason: c.reason.clone(),
        ocd: c.ocd.map(|e| OcdRef {
            id: e.id.clone(),
            platform: e.platform.clone(),
            name: e.name.clone(),
            wildcard: e.wildcard,
            description: e.description.clone(),
            retention: e.retention.clone(),
            controller: e.controller.clone(),
        }),
    }
}

/// Suggest a purpose for an item.
pub fn suggest(c: Clues<'_>) -> Suggestion {
    suggestion(&core::classify(&c.observation()))
}

/// The site's category for a purpose: the first category whose purpose is that one.
pub fn category_for(inv: &crumb_core::Inventory, purpose: Purpose) -> Option<String> {
    inv.categories.iter().find(|c| c.purpose() == purpose).map(|c| c.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_django_session_on_the_sites_domain_is_necessary() {
        let s = suggest(Clues { http_only: Some(true), ..Clues::name("sessionid", Some("shop.example")) });
        assert_eq!((s.purpose, s.source), (Purpose::Necessary, SuggestionSource::Framework));
        assert!(s.reason.contains("Django"), "{}", s.reason);
    }

    #[test]
    fn database_entry_as_evidence() {
        let s = suggest(Clues::name("_ga_ABC123", Some(".example.com")));
        assert_eq!(s.purpose, Purpose::Analytics);
        assert_eq!(s.ocd.as_ref().map(|o| o.name.as_str()), Some("_ga_"));
        assert!(s.reason.contains("Google Analytics"), "{}", s.reason);
    }

    #[test]
    fn consent_names_are_necessary_by_rule() {
        let s = suggest(Clues::name("mtm_consent", None));
        assert_eq!((s.purpose, s.source), (Purpose::Necessary, SuggestionSource::Rule));
    }
}
