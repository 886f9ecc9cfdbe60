//! Texts given once or per language.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A text shown to visitors: either one string (in the site's first language) or a table
/// of translations keyed by language tag (`en`, `de`, `fr`, `pt-BR`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    /// One text, in the site's default language.
    One(String),
    /// Translations keyed by language tag.
    PerLanguage(BTreeMap<String, String>),
}

impl Default for Text {
    fn default() -> Self {
        Text::One(String::new())
    }
}

impl Text {
    /// The text in `lang`, falling back to `default_lang`, then to any translation.
    pub fn get<'a>(&'a self, lang: &str, default_lang: &str) -> &'a str {
        match self {
            Text::One(s) => s,
            Text::PerLanguage(map) => map
                .get(lang)
                .or_else(|| base_language(lang).and_then(|b| map.get(b)))
                .or_else(|| map.get(default_lang))
                .or_else(|| map.values().next())
                .map(String::as_str)
                .unwrap_or(""),
        }
    }

    /// Whether a translation exists for `lang` (a single text counts for the default language only).
    pub fn has(&self, lang: &str, default_lang: &str) -> bool {
        match self {
            Text::One(s) => lang == default_lang && !s.is_empty(),
            Text::PerLanguage(map) => map.get(lang).is_some_and(|s| !s.is_empty()),
        }
    }

    /// Whether no text was given at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Text::One(s) => s.trim().is_empty(),
            Text::PerLanguage(map) => map.values().all(|s| s.trim().is_empty()),
        }
    }

    /// Every translation, as (language, text); a single text is reported under `default_lang`.
    pub fn translations<'a>(&'a self, default_lang: &'a str) -> Vec<(&'a str, &'a str)> {
        match self {
            Text::One(s) => vec![(default_lang, s.as_str())],
            Text::PerLanguage(map) => map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        }
    }

    /// Resolve to one map covering every language in `langs`.
    pub fn resolve(&self, langs: &[String]) -> BTreeMap<String, String> {
        let default = langs.first().map(String::as_str).unwrap_or("en");
        langs.iter().map(|l| (l.clone(), self.get(l, default).to_string())).collect()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::One(s.to_string())
    }
}

/// `pt-BR` -> `pt`.
pub fn base_language(lang: &str) -> Option<&str> {
    lang.split_once(['-', '_']).map(|(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_through_base_and_default() {
        let t = Text::PerLanguage(BTreeMap::from([
            ("en".to_string(), "Hello".to_string()),
            ("pt".to_string(), "Olá".to_string()),
        ]));
        assert_eq!(t.get("pt-BR", "en"), "Olá");
        assert_eq!(t.get("de", "en"), "Hello");
        assert!(t.has("en", "en"));
        assert!(!t.has("de", "en"));
        assert_eq!(Text::from("x").get("de", "en"), "x");
    }
}
