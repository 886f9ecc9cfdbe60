//! Consent state: the `crumb_consent` cookie the banner writes and the guard reads, the
//! decision of what a visitor has allowed, and the rules a recorded decision obeys
//! ([`validate_choices`]).
//!
//! Cookie value format (version 1), dot-separated, no characters that need quoting:
//!
//! ```text
//! 1.<consent id or ->.<policy version>.<granted category ids joined by ~, or ->.<unix seconds>
//! 1.0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b.3f2a9c1b7e4d5a6b.functional~analytics.1763856000
//! ```

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, RegionalMode, SignalRule};

/// The cookie's format version.
pub const COOKIE_FORMAT: &str = "1";
/// Longest consent cookie value accepted (bytes); anything longer is treated as malformed.
pub const MAX_COOKIE_LEN: usize = 1024;

/// What the consent cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentCookie {
    /// The ledger's consent id, once the server has answered (`None` until then).
    pub consent_id: Option<String>,
    /// The policy version the visitor decided on.
    pub version: String,
    /// Categories the visitor granted (required ones need not be listed).
    pub granted: BTreeSet<String>,
    /// When the decision was made (unix seconds).
    pub at: i64,
}

/// Why a consent cookie could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Longer than [`MAX_COOKIE_LEN`].
    #[error("the consent cookie is too long")]
    TooLong,
    /// Not five dot-separated fields of format 1.
    #[error("the consent cookie is not in format 1")]
    Format,
    /// A field has characters it may not have.
    #[error("the consent cookie has an invalid {0}")]
    Field(&'static str),
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

impl ConsentCookie {
    /// Read a cookie value.
    pub fn decode(value: &str) -> Result<Self, CookieError> {
        if value.len() > MAX_COOKIE_LEN {
            return Err(CookieError::TooLong);
        }
        let value = value.trim().trim_matches('"');
        let parts: Vec<&str> = value.split('.').collect();
        let [fmt, id, version, granted, at] = parts.as_slice() else {
            return Err(CookieError::Format);
        };
        if *fmt != COOKIE_FORMAT {
            return Err(CookieError::Format);
        }
        let consent_id = match *id {
            "-" => None,
            id if !id.is_empty() && id.len() <= 64 && id.chars().all(is_id_char) => Some(id.to_string()),
            _ => return Err(CookieError::Field("consent id")),
        };
        if version.is_empty() || version.len() > 64 || !version.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(CookieError::Field("policy version"));
        }
        let granted = match *granted {
            "-" | "" => BTreeSet::new(),
            g => g
                .split('~')
                .map(|c| {
                    if !c.is_empty() && c.len() <= 64 && c.chars().all(is_id_char) {
                        Ok(c.to_string())
                    } else {
                        Err(CookieError::Field("category"))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let at = at.parse::<i64>().map_err(|_| CookieError::Field("time"))?;
        if at < 0 {
            return Err(CookieError::Field("time"));
        }
        Ok(ConsentCookie { consent_id, version: version.to_string(), granted, at })
    }

    /// Write the cookie value.
    pub fn encode(&self) -> String {
        let granted = if self.granted.is_empty() {
            "-".to_string()
        } else {
            self.granted.iter().map(String::as_str).collect::<Vec<_>>().join("~")
        };
        format!("{COOKIE_FORMAT}.{}.{}.{granted}.{}", self.consent_id.as_deref().unwrap_or("-"), self.version, self.at)
    }
}

/// Privacy signals a request carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// `DNT: 1`.
    pub dnt: bool,
}

/// Where a visitor's allowed categories came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The visitor decided (a valid, unexpired cookie).
    Decision,
    /// No (valid) decision: opt-in region, only required categories.
    NoDecisionOptIn,
    /// No decision: opt-out region, everything not refused by a signal.
    NoDecisionOptOut,
}

/// What a visitor has allowed, as the guard and the server see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    /// Categories allowed now (required ones included).
    pub allowed: BTreeSet<String>,
    /// Why.
    pub basis: Basis,
    /// The consent id, if a decision carries one.
    pub consent_id: Option<String>,
    /// Signals seen.
    pub signals: Signals,
    /// The consent mode in force for this visitor.
    pub mode: RegionalMode,
}

impl ConsentState {
    /// Whether a category is allowed.
    pub fn allows(&self, category: &str) -> bool {
        self.allowed.contains(category)
    }
}

/// The consent mode for a visitor from `country` (ISO alpha-2 or `US-CA`), per the site's rules.
pub fn mode_for(inv: &Inventory, country: Option<&str>) -> RegionalMode {
    match inv.rules.regional_mode {
        RegionalMode::ByCountry => {
            let Some(c) = country.map(|c| c.trim().to_ascii_uppercase()) else {
                return RegionalMode::OptIn;
            };
            let hit = inv.rules.opt_out_countries.iter().any(|o| {
                let o = o.to_ascii_uppercase();
                o == c || c.split('-').next() == Some(o.as_str())
            });
            if hit { RegionalMode::OptOut } else { RegionalMode::OptIn }
        }
        m => m,
    }
}

/// Decide what a visitor allows.
///
/// `cookie` is the raw consent cookie value, if any; a malformed, expired or
/// materially outdated one counts as no decision. `valid_versions` lists the policy
/// versions still covered by consent (the current one and those after the last material
/// change); when empty, any version is accepted.
pub fn decide(
    inv: &Inventory,
    cookie: Option<&str>,
    signals: Signals,
    mode: RegionalMode,
    valid_versions: &[String],
    now: i64,
) -> ConsentState {
    let required: BTreeSet<String> = inv.categories.iter().filter(|c| c.required).map(|c| c.id.clone()).collect();
    // Parsed only when there is a cookie to check (the guard decides on every request).
    let lifetime = || inv.rules.lifetime().ok().and_then(|d| d.seconds()).unwrap_or(crate::duration::MONTH * 6);
    let decision = cookie
        .and_then(|v| ConsentCookie::decode(v).ok())
        .filter(|c| c.at <= now + 300 && now - c.at < lifetime() as i64)
        .filter(|c| valid_versions.is_empty() || valid_versions.iter().any(|v| v == &c.version));
    let honor = |rule: SignalRule, on: bool| rule == SignalRule::Honor && on;
    let signal_denies = honor(inv.rules.gpc, signals.gpc) || honor(inv.rules.dnt, signals.dnt);
    if let Some(c) = decision {
        let mut allowed = required;
        allowed.extend(c.granted.into_iter().filter(|g| inv.category(g).is_some()));
        return ConsentState { allowed, basis: Basis::Decision, consent_id: c.consent_id, signals, mode };
    }
    match mode {
        RegionalMode::OptOut => {
            let allowed = inv
                .categories
                .iter()
                .filter(|c| c.required || !(signal_denies && c.denied_by_signals()))
                .map(|c| c.id.clone())
                .collect();
            ConsentState { allowed, basis: Basis::NoDecisionOptOut, consent_id: None, signals, mode }
        }
        _ => ConsentState {
            allowed: required,
            basis: Basis::NoDecisionOptIn,
            consent_id: None,
            signals,
            mode: RegionalMode::OptIn,
        },
    }
}

/// What the visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accepted every category.
    AcceptAll,
    /// Refused every optional category.
    RejectAll,
    /// Saved a selection.
    Save,
    /// Withdrew consent.
    Withdraw,
}

impl Action {
    /// The name stored in the ledger (`accept_all`, `reject_all`, `save`, `withdraw`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AcceptAll => "accept_all",
            Action::RejectAll => "reject_all",
            Action::Save => "save",
            Action::Withdraw => "withdraw",
        }
    }
}

/// Why a visitor's choices cannot be recorded for a site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// A choice names a category the site does not have.
    #[error("site `{site}` has no category `{category}`")]
    UnknownCategory {
        /// Site id.
        site: String,
        /// The unknown category id.
        category: String,
    },
    /// A strictly necessary category was refused.
    #[error("category `{0}` is strictly necessary and cannot be refused")]
    RequiredCategory(String),
    /// An optional category has no choice.
    #[error("choices must include category `{0}`")]
    MissingCategory(String),
    /// The action contradicts the choices (`accept_all` with a refusal, `reject_all` or
    /// `withdraw` with a grant).
    #[error("action `{}` does not match the choices", .0.as_str())]
    InconsistentAction(Action),
}

impl ChoiceError {
    /// A stable machine-readable code (`unknown_category`, `required_category`,
    /// `missing_category`, `inconsistent_action`).
    pub fn code(&self) -> &'static str {
        match self {
            ChoiceError::UnknownCategory { .. } => "unknown_category",
            ChoiceError::RequiredCategory(_) => "required_category",
            ChoiceError::MissingCategory(_) => "missing_category",
            ChoiceError::InconsistentAction(_) => "inconsistent_action",
        }
    }
}

/// Check a visitor's choices against the site's categories and return the complete set
/// to record: every category of the site, required ones `true`.
///
/// Rules: no unknown category; a required category may be omitted but not refused; every
/// optional category must be chosen explicitly; `accept_all` grants every optional
/// category, `reject_all` and `withdraw` refuse every one, `save` is any selection.
pub fn validate_choices(
    inv: &Inventory,
    choices: &BTreeMap<String, bool>,
    action: Action,
) -> Result<BTreeMap<String, bool>, ChoiceError> {
    if let Some(unknown) = choices.keys().find(|k| inv.category(k).is_none()) {
        return Err(ChoiceError::UnknownCategory { site: inv.site.id.clone(), category: unknown.clone() });
    }
    let mut out = BTreeMap::new();
    for c in &inv.categories {
        let chosen = match (c.required, choices.get(&c.id)) {
            (true, Some(false)) => return Err(ChoiceError::RequiredCategory(c.id.clone())),
            (true, _) => true,
            (false, Some(v)) => *v,
            (false, None) => return Err(ChoiceError::MissingCategory(c.id.clone())),
        };
        out.insert(c.id.clone(), chosen);
    }
    let mut optional = inv.categories.iter().filter(|c| !c.required).map(|c| out.get(&c.id).copied().unwrap_or(false));
    let consistent = match action {
        Action::AcceptAll => optional.all(|v| v),
        Action::RejectAll | Action::Withdraw => optional.all(|v| !v),
        Action::Save => true,
    };
    if !consistent {
        return Err(ChoiceError::InconsistentAction(action));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::LEADSGEN;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_refusals() {
        let c = ConsentCookie {
            consent_id: Some("0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b".into()),
            version: "3f2a9c1b7e4d5a6b".into(),
            granted: ["analytics".to_string(), "functional".to_string()].into(),
            at: 1_763_856_000,
        };
        let s = c.encode();
        assert_eq!(s, "1.0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b.3f2a9c1b7e4d5a6b.analytics~functional.1763856000");
        assert_eq!(ConsentCookie::decode(&s), Ok(c));
        for bad in ["", "2.-.v.-.1", "1.-.v.-", "1.<x>.v.-.1", "1.-.v.a b.1", "1.-.v.-.-5", "1.-..-.1"] {
            assert!(ConsentCookie::decode(bad).is_err(), "{bad}");
        }
        assert_eq!(ConsentCookie::decode(&"x".repeat(5000)), Err(CookieError::TooLong));
    }

    #[test]
    fn decisions() {
        let inv: Inventory = toml::from_str(LEADSGEN).expect("example parses");
        let now = 1_800_000_000;
        let none = decide(&inv, None, Signals::default(), RegionalMode::OptIn, &[], now);
        assert_eq!(none.allowed, ["necessary".to_string()].into());
        let opt_out = decide(&inv, None, Signals { gpc: true, dnt: false }, RegionalMode::OptOut, &[], now);
        assert!(opt_out.allows("functional") && !opt_out.allows("analytics") && !opt_out.allows("marketing"));
        let cookie = format!("1.-.abc.analytics~bogus.{}", now - 10);
        let d = decide(&inv, Some(&cookie), Signals::default(), RegionalMode::OptIn, &[], now);
        assert!(d.allows("analytics") && d.allows("necessary") && !d.allows("bogus") && !d.allows("marketing"));
        let expired = format!("1.-.abc.analytics.{}", now - 400 * 86_400);
        assert_eq!(
            decide(&inv, Some(&expired), Signals::default(), RegionalMode::OptIn, &[], now).basis,
            Basis::NoDecisionOptIn
        );
        let stale = decide(&inv, Some(&cookie), Signals::default(), RegionalMode::OptIn, &["def".into()], now);
        assert_eq!(stale.basis, Basis::NoDecisionOptIn);
    }

    fn leadsgen() -> Inventory {
        toml::from_str(LEADSGEN).expect("example parses")
    }

    fn choices(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn choices_are_completed_with_required_categories() {
        let inv = leadsgen();
        let all = [("functional", true), ("analytics", true), ("marketing", true)];
        let got = validate_choices(&inv, &choices(&all), Action::AcceptAll).expect("valid");
        assert_eq!(got.get("necessary"), Some(&true), "required category recorded as granted");
        assert_eq!(got.len(), inv.categories.len(), "every category recorded");
        let some = [("necessary", true), ("functional", true), ("analytics", false), ("marketing", false)];
        assert_eq!(validate_choices(&inv, &choices(&some), Action::Save).expect("valid"), choices(&some));
    }

    #[test]
    fn each_rule_has_its_error() {
        let inv = leadsgen();
        let none = [("functional", false), ("analytics", false), ("marketing", false)];
        type Case<'a> = (Vec<(&'a str, bool)>, Action, &'a str);
        let cases: [Case; 6] = [
            (vec![("bogus", true)], Action::Save, "unknown_category"),
            ([("necessary", false)].into_iter().chain(none).collect(), Action::RejectAll, "required_category"),
            (vec![("functional", true), ("analytics", true)], Action::Save, "missing_category"),
            (
                vec![("functional", true), ("analytics", true), ("marketing", false)],
                Action::AcceptAll,
                "inconsistent_action",
            ),
            (
                vec![("functional", true), ("analytics", false), ("marketing", false)],
                Action::RejectAll,
                "inconsistent_action",
            ),
            (
                vec![("functional", false), ("analytics", true), ("marketing", false)],
                Action::Withdraw,
                "inconsistent_action",
            ),
        ];
        for (pairs, action, code) in cases {
            let err = validate_choices(&inv, &choices(&pairs), action).expect_err(code);
            assert_eq!(err.code(), code, "{pairs:?} {action:?}: {err}");
        }
        assert_eq!(validate_choices(&inv, &choices(&none), Action::Withdraw).map(|c| c["analytics"]), Ok(false));
    }

    proptest! {
        /// Whatever the input, an accepted set names exactly the site's categories, grants every
        /// required one and agrees with the action.
        #[test]
        fn accepted_choices_obey_the_rules(
            picks in proptest::collection::btree_map("(necessary|functional|analytics|marketing|x)", any::<bool>(), 0..6),
            action in prop_oneof![Just(Action::AcceptAll), Just(Action::RejectAll), Just(Action::Save), Just(Action::Withdraw)],
        ) {
            let inv = leadsgen();
            if let Ok(out) = validate_choices(&inv, &picks, action) {
                prop_assert_eq!(out.len(), inv.categories.len());
                for c in &inv.categories {
                    let v = out[&c.id];
                    prop_assert!(!c.required || v);
                    match action {
                        Action::AcceptAll => prop_assert!(v),
                        Action::RejectAll | Action::Withdraw => prop_assert!(c.required || !v),
                        Action::Save => prop_assert_eq!(v, picks.get(&c.id).copied().unwrap_or(true)),
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in "\\PC{0,200}") {
            let _ = ConsentCookie::decode(&s);
        }

        #[test]
        fn encode_decode_round_trips(id in proptest::option::of("[a-f0-9][a-f0-9-]{0,35}"), v in "[a-f0-9]{16}", cats in proptest::collection::btree_set("[a-z_]{1,12}", 0..6), at in 0i64..4_000_000_000) {
            let c = ConsentCookie { consent_id: id, version: v, granted: cats, at };
            prop_assert_eq!(ConsentCookie::decode(&c.encode()), Ok(c));
        }
    }
}
