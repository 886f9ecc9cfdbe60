//! The diagnostics `crumb check` reports and the context rules push them into, with the
//! span lookup that points each one at its place in the TOML source.

use std::ops::Range;

use serde::Serialize;
use toml::de::{DeTable, DeValue};

use crate::inventory::Inventory;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The inventory is refused.
    Error,
    /// Accepted, but probably wrong.
    Warning,
}

/// One finding about an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code (`unknown-category`); `docs/inventory.md` lists them all.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Byte range in the source it is about.
    pub span: Option<Range<usize>>,
    /// Short label shown under the span.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

/// The result of checking a source.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The inventory, when it could be read at all (it may still have errors).
    pub inventory: Option<Inventory>,
    /// Every finding, errors first, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    /// The inventory, only when it has no errors.
    pub fn valid(&self) -> Option<&Inventory> {
        if self.has_errors() { None } else { self.inventory.as_ref() }
    }
}

/// The longest consent lifetime the ePrivacy guidance accepts.
pub const MAX_LIFETIME_MONTHS: u64 = 13;

/// What the rules share: the parsed TOML (for spans) and the diagnostics so far.
pub(super) struct Ctx<'a> {
    pub(super) table: Option<toml::Spanned<DeTable<'a>>>,
    pub(super) out: Vec<Diagnostic>,
}

/// A path into the TOML document: keys and array indexes.
#[derive(Debug, Clone)]
pub(super) enum Seg {
    Key(&'static str),
    Index(usize),
}

impl<'a> Ctx<'a> {
    fn locate(&self, path: &[Seg]) -> Option<Range<usize>> {
        let root = self.table.as_ref()?;
        let mut span = None;
        let mut table: Option<&DeTable<'a>> = Some(root.get_ref());
        let mut value: Option<&DeValue<'a>> = None;
        for seg in path {
            match seg {
                Seg::Key(k) => {
                    let t = match (table, value) {
                        (Some(t), None) => t,
                        (_, Some(v)) => v.as_table()?,
                        _ => return span,
                    };
                    let Some((key, v)) = t.get_key_value(*k) else { return span };
                    value = Some(v.get_ref());
                    table = None;
                    // Point at the value for scalars, at the key for tables.
                    span = Some(if v.get_ref().is_table() {
                        key.span()
                    } else if v.get_ref().is_array() {
                        key.span().start..v.span().end
                    } else {
                        v.span()
                    });
                }
                Seg::Index(i) => {
                    let Some(arr) = value.and_then(|v| v.as_array()) else { return span };
                    let Some(v) = arr.get(*i) else { return span };
                    span = Some(v.span());
                    value = Some(v.get_ref());
                }
            }
        }
        span
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        path: &[Seg],
        message: String,
        label: Option<String>,
        help: Option<String>,
    ) {
        let span = self.locate(path);
        self.out.push(Diagnostic { severity, code, message, span, label, help });
    }

    pub(super) fn error(
        &mut self,
        code: &'static str,
        path: &[Seg],
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Severity::Error, code, path, message.into(), None, Some(help.into()));
    }

    pub(super) fn warn(
        &mut self,
        code: &'static str,
        path: &[Seg],
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Severity::Warning, code, path, message.into(), None, Some(help.into()));
    }
}

/// Suggest the closest of `candidates` to `word`, if close enough.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
