//! The one cookie and storage classifier: the scanner's suggestions, `crumb scan
//! --write-inventory`, `crumb classify` and `crumb check`'s known-cookie warning all call
//! [`classify`].
//!
//! In order:
//! 1. **Framework defaults** ([`frameworks`]): a first-party `sessionid`, `csrftoken` or
//!    `_<app>_session`, and on any domain (an embedded application's own session)
//!    `laravel_session`, `XSRF-TOKEN`, `connect.sid`, `next-auth.*`, `ASP.NET_SessionId`,
//!    `.AspNetCore.*`, `PHPSESSID` or `JSESSIONID`, is strictly necessary.
//! 2. **Consent records**: a name that stores the consent choice (`consent`,
//!    `cookies_policy`, `optanon`, ...) is strictly necessary (WP29 Opinion 04/2012).
//! 3. **The learned model** ([`model`]): logistic regression over the name's tokens,
//!    character trigrams and prefixes, the party and (for third parties) the domain, the
//!    setter's host, the lifetime, the value's shape, length and entropy, `HttpOnly`,
//!    `Secure` and the storage kind; trained on the Open Cookie Database and real sites'
//!    declarations (`bench/classify`).
//!
//! The Open Cookie Database entry for the name is shown as evidence only when it applies:
//! an entry recorded on a platform's domain (Instagram's `sessionid`, GitHub's
//! `user_session`) applies only when the cookie lives on, or was set by, that domain.
//!
//! **Safe drafts.** Below [`REVIEW_BELOW`] the result is marked `review` and moved to the
//! most protective category that does not break the site: a cookie only the site's own
//! server can read (first party, `HttpOnly`) is drafted necessary unless the evidence for
//! marketing is strong, because blocking it would sign people out; anything else goes to
//! the most protective of the classes the model finds plausible.

pub mod features;
pub mod frameworks;
pub mod model;

use serde::{Deserialize, Serialize};

use crate::inventory::{Purpose, StorageKind, domain_covers};
use crate::ocd::{self, OcdEntry};
pub use features::FeatureInput;
pub use model::Model;

/// Below this confidence a suggestion is marked for review.
pub const REVIEW_BELOW: f32 = 0.6;
/// Model probability that counts as strong evidence for marketing on a server-only cookie.
pub const STRONG_MARKETING: f32 = 0.9;

/// What is known about one cookie or storage item.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Name or key.
    pub name: String,
    /// Cookie domain or storage host.
    #[serde(default)]
    pub domain: Option<String>,
    /// Cookie, localStorage, sessionStorage or IndexedDB (default: cookie).
    #[serde(default)]
    pub storage: Option<StorageKind>,
    /// Whether it belongs to another site than the one scanned.
    #[serde(default)]
    pub third_party: Option<bool>,
    /// Lifetime in seconds; 0 for a session cookie.
    #[serde(default)]
    pub lifetime_seconds: Option<u64>,
    /// The value, when known.
    #[serde(default)]
    pub value: Option<String>,
    /// `HttpOnly`, when known.
    #[serde(default)]
    pub http_only: Option<bool>,
    /// `Secure`, when known.
    #[serde(default)]
    pub secure: Option<bool>,
    /// Host or script URL of whatever set it.
    #[serde(default)]
    pub set_by: Option<String>,
    /// Whether it was set by an HTTP response (true) or a script (false).
    #[serde(default)]
    pub set_by_server: Option<bool>,
}

/// Where a classification comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A framework's default cookie.
    Framework,
    /// A name rule (consent records).
    Rule,
    /// The learned model, agreeing with an Open Cookie Database entry that applies.
    OpenCookieDatabase,
    /// The learned model.
    Model,
}

impl Source {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Framework => "framework",
            Source::Rule => "rule",
            Source::OpenCookieDatabase => "open_cookie_database",
            Source::Model => "model",
        }
    }
}

/// A classification.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// The suggested purpose.
    pub purpose: Purpose,
    /// 0.0 to 1.0.
    pub confidence: f32,
    /// Where it comes from.
    pub source: Source,
    /// Why.
    pub reason: String,
    /// Below [`REVIEW_BELOW`]: a person should confirm it.
    pub review: bool,
    /// The Open Cookie Database entry that applies, if any.
    #[serde(skip)]
    pub ocd: Option<&'static OcdEntry>,
    /// The framework default, if any.
    #[serde(skip)]
    pub framework: Option<&'static frameworks::FrameworkCookie>,
}

/// Words of names that record the visitor's consent choice.
pub const CONSENT_WORDS: &[&str] = &[
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

fn host_of(s: &str) -> &str {
    let s = s.split_once("://").map_or(s, |(_, r)| r);
    let s = s.split(['/', '?', '#']).next().unwrap_or(s);
    s.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(s, |(h, _)| h)
}

/// The Open Cookie Database entry that applies to an observation: an exact name beats a
/// prefix (at least [`ocd::MIN_FREE_PREFIX`] long), a longer prefix a shorter one; an entry
/// recorded on a domain applies only when the cookie's domain or its setter's host is
/// that domain (or under it). Tracking scripts write their own distinctive names onto the
/// site's domain (`_fbp`, `_gcl_au`), so an analytics or marketing entry whose name starts
/// with `_` applies on any domain; a plain name (`sessionid`, `auth_token`) does not.
pub fn applicable_entry(o: &Observation) -> Option<&'static OcdEntry> {
    let dom = o.domain.as_deref().map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    let setter = o.set_by.as_deref().map(|s| host_of(s).to_ascii_lowercase());
    let on = |e: &OcdEntry, h: &Option<String>| {
        h.as_deref().is_some_and(|h| domain_covers(&e.domain, h) || domain_covers(h, &e.domain))
    };
    ocd::entries()
        .iter()
        .filter(|e| {
            let hit = if e.wildcard {
                o.name.starts_with(e.name.as_str()) && e.name.len() >= ocd::MIN_FREE_PREFIX
            } else {
                e.name == o.name
            };
            let tracker = e.name.starts_with('_') && matches!(e.purpose(), Purpose::Analytics | Purpose::Marketing);
            hit && (e.domain.is_empty() || tracker || on(e, &dom) || on(e, &setter))
        })
        .max_by_key(|e| (!e.wildcard, e.name.len(), !e.domain.is_empty()))
}

/// Classify with the embedded model.
pub fn classify(o: &Observation) -> Classification {
    classify_with(Model::embedded(), o)
}

/// Classify with a given model (the benchmark passes each fold's model).
pub fn classify_with(model: &Model, o: &Observation) -> Classification {
    let third = o.third_party == Some(true);
    let entry = applicable_entry(o);
    if let Some(fw) = frameworks::lookup(&o.name).filter(|f| !third || f.anywhere) {
        return Classification {
            purpose: Purpose::Necessary,
            confidence: 0.95,
            source: Source::Framework,
            reason: format!("framework default: {} {} ({})", fw.framework, fw.what, fw.docs),
            review: false,
            ocd: entry,
            framework: Some(fw),
        };
    }
    let lower = o.name.to_lowercase();
    if let Some(w) = CONSENT_WORDS.iter().find(|w| lower.contains(*w)) {
        return Classification {
            purpose: Purpose::Necessary,
            confidence: 0.85,
            source: Source::Rule,
            reason: format!(
                "rule: the name contains `{w}`, so it records the consent choice, which needs no consent (WP29 Opinion 04/2012)"
            ),
            review: false,
            ocd: entry,
            framework: None,
        };
    }
    let input = FeatureInput {
        name: &o.name,
        domain: o.domain.as_deref(),
        storage: o.storage,
        third_party: o.third_party,
        seconds: o.lifetime_seconds,
        value: o.value.as_deref(),
        http_only: o.http_only,
        secure: o.secure,
        setter: o.set_by.as_deref().map(host_of),
    };
    let feats = features::features(&input);
    let p = model.probabilities(&feats);
    let best = (0..4).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0);
    let mut purpose = model::CLASSES[best];
    let confidence = p[best];
    let top: Vec<String> = model.top_features(&feats, best, 3).into_iter().map(|(f, _)| f).collect();
    let agrees = entry.filter(|e| e.purpose() == purpose);
    let mut reason =
        format!("model: {} at {:.0}% (strongest features: {})", purpose.as_str(), confidence * 100.0, top.join(", "));
    if let Some(e) = entry {
        let (ep, why) = e.purpose_reason();
        reason.push_str(&format!(
            "; Open Cookie Database `{}{}` ({}): {} ({why})",
            e.name,
            if e.wildcard { "*" } else { "" },
            e.platform,
            ep.as_str()
        ));
    }
    let source = if agrees.is_some() { Source::OpenCookieDatabase } else { Source::Model };
    let server_only =
        !third && o.http_only == Some(true) && o.storage.unwrap_or(StorageKind::Cookie) == StorageKind::Cookie;
    let strong_marketing =
        p[3] >= STRONG_MARKETING || entry.is_some_and(|e| e.purpose() == Purpose::Marketing && !e.domain.is_empty());
    let review = confidence < REVIEW_BELOW;
    if server_only && purpose == Purpose::Marketing && !strong_marketing {
        purpose = Purpose::Necessary;
        reason.push_str(
            "; drafted necessary: only the site's own server can read this HttpOnly first-party cookie, and blocking it would break the site without strong evidence of marketing",
        );
        return Classification { purpose, confidence, source, reason, review: true, ocd: entry, framework: None };
    }
    if review {
        let plausible = |c: usize| p[c] >= 0.2;
        purpose = if server_only {
            Purpose::Necessary
        } else {
            // Most protective plausible class: marketing, analytics, functional, necessary.
            [3usize, 2, 1, 0].into_iter().find(|c| plausible(*c)).map_or(purpose, |c| model::CLASSES[c])
        };
        reason.push_str(&format!(
            "; below {:.0}% confidence: drafted {} for review",
            REVIEW_BELOW * 100.0,
            purpose.as_str()
        ));
    }
    Classification { purpose, confidence, source, reason, review, ocd: entry, framework: None }
}
