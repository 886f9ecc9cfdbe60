//! Declared names of cookies and storage items: exact, prefix (`_ga_*`) or regex, compiled
//! once. Pure and independent of the inventory, so the inventory and the matcher both use it.

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a name in the inventory matches observed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The name exactly.
    Exact,
    /// Any name starting with it (a trailing `*` on the name means the same).
    Prefix,
    /// A regular expression matched against the whole name.
    Regex,
}

/// A compiled name pattern.
#[derive(Debug, Clone)]
pub enum NamePattern {
    /// The name exactly.
    Exact(String),
    /// Names starting with this.
    Prefix(String),
    /// Names the whole regex matches.
    Regex(Regex),
}

/// Why a name pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An empty name.
    #[error("the name is empty")]
    Empty,
    /// `*` somewhere other than the end of a name.
    #[error("`*` may only end a name (`_ga_*`); for anything else use `match = \"regex\"`")]
    InnerStar,
    /// A regex that does not compile.
    #[error("invalid regular expression: {0}")]
    Regex(String),
    /// A prefix pattern with nothing before the `*`.
    #[error("a prefix needs at least one character before `*`")]
    EmptyPrefix,
}

impl NamePattern {
    /// Build the pattern for `name` under `kind` (`None`: exact, or prefix if it ends in `*`).
    pub fn new(name: &str, kind: Option<MatchKind>) -> Result<Self, PatternError> {
        if name.is_empty() {
            return Err(PatternError::Empty);
        }
        match kind {
            Some(MatchKind::Regex) => Regex::new(&format!("^(?:{name})$"))
                .map(NamePattern::Regex)
                .map_err(|e| PatternError::Regex(e.to_string())),
            Some(MatchKind::Prefix) => {
                let p = name.strip_suffix('*').unwrap_or(name);
                if p.is_empty() {
                    return Err(PatternError::EmptyPrefix);
                }
                if p.contains('*') {
                    return Err(PatternError::InnerStar);
                }
                Ok(NamePattern::Prefix(p.to_string()))
            }
            Some(MatchKind::Exact) => Ok(NamePattern::Exact(name.to_string())),
            None => match name.find('*') {
                None => Ok(NamePattern::Exact(name.to_string())),
                Some(i) if i + 1 == name.len() => {
                    if i == 0 {
                        Err(PatternError::EmptyPrefix)
                    } else {
                        Ok(NamePattern::Prefix(name[..i].to_string()))
                    }
                }
                Some(_) => Err(PatternError::InnerStar),
            },
        }
    }

    /// Whether `name` fits.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(n) => n == name,
            NamePattern::Prefix(p) => name.starts_with(p.as_str()),
            NamePattern::Regex(r) => r.is_match(name),
        }
    }

    /// Precedence of a match: higher wins.
    pub fn rank(&self) -> (u8, usize) {
        match self {
            NamePattern::Exact(n) => (3, n.len()),
            NamePattern::Prefix(p) => (2, p.len()),
            NamePattern::Regex(_) => (1, 0),
        }
    }

    /// The pattern as the banner's deletion code needs it: `(kind, text)`.
    pub fn parts(&self) -> (MatchKind, String) {
        match self {
            NamePattern::Exact(n) => (MatchKind::Exact, n.clone()),
            NamePattern::Prefix(p) => (MatchKind::Prefix, p.clone()),
            NamePattern::Regex(r) => (MatchKind::Regex, r.as_str().to_string()),
        }
    }
}
