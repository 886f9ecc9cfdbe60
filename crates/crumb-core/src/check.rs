//! `crumb check`: everything that makes an inventory contradict itself or the law it declares.
//!
//! [`check_source`] parses the TOML, then runs every rule; each [`Diagnostic`] carries the
//! byte span it is about so the CLI can point at file:line:column.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Serialize;
use toml::de::{DeTable, DeValue};

use crate::duration::{Duration, MONTH};
use crate::inventory::{Inventory, Item, Purpose, SameSite, StorageKind};
use crate::ocd;

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

struct Ctx<'a> {
    table: Option<toml::Spanned<DeTable<'a>>>,
    out: Vec<Diagnostic>,
}

/// A path into the TOML document: keys and array indexes.
#[derive(Debug, Clone)]
enum Seg {
    Key(&'static str),
    Index(usize),
}
use Seg::{Index as I, Key as K};

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

    fn error(&mut self, code: &'static str, path: &[Seg], message: impl Into<String>, help: impl Into<String>) {
        self.push(Severity::Error, code, path, message.into(), None, Some(help.into()));
    }

    fn warn(&mut self, code: &'static str, path: &[Seg], message: impl Into<String>, help: impl Into<String>) {
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

/// Check an inventory given as TOML source.
pub fn check_source(src: &str) -> Checked {
    let mut cx = Ctx { table: None, out: Vec::new() };
    if src.trim().is_empty() {
        cx.out.push(Diagnostic {
            severity: Severity::Error,
            code: "empty",
            message: "the inventory is empty".into(),
            span: None,
            label: None,
            help: Some("run `crumb init` to write a commented starter inventory".into()),
        });
        return Checked { inventory: None, diagnostics: cx.out };
    }
    match DeTable::parse(src) {
        Ok(t) => cx.table = Some(t),
        Err(e) => {
            cx.out.push(Diagnostic {
                severity: Severity::Error,
                code: "syntax",
                message: format!("this is not valid TOML: {}", e.message()),
                span: e.span(),
                label: Some("here".into()),
                help: Some("see docs/inventory.md for the format, or run `crumb init` for an example".into()),
            });
            return Checked { inventory: None, diagnostics: cx.out };
        }
    }
    let inv = match toml::from_str::<Inventory>(src) {
        Ok(inv) => inv,
        Err(e) => {
            cx.out.push(serde_error(&e));
            return Checked { inventory: None, diagnostics: cx.out };
        }
    };
    check_inventory(&mut cx, &inv);
    let mut diagnostics = cx.out;
    diagnostics.sort_by_key(|d| (d.severity, d.span.as_ref().map(|s| s.start).unwrap_or(usize::MAX)));
    Checked { inventory: Some(inv), diagnostics }
}

fn serde_error(e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim().to_string();
    let mut help = None;
    let mut code = "invalid";
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        code = "unknown-key";
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        help = Some(match did_you_mean(field, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if expected.is_empty() => "remove it".to_string(),
            None => format!("the keys allowed here are: {}", expected.join(", ")),
        });
    } else if msg.starts_with("missing field") {
        code = "missing-key";
        help = Some("add it; `crumb init` writes an inventory with every required key".into());
    } else if msg.starts_with("unknown variant") {
        code = "unknown-value";
        let (given, tail) = msg.trim_start_matches("unknown variant `").split_once('`').unwrap_or(("", ""));
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        help = Some(match did_you_mean(given, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", expected.join(", ")),
        });
    } else if msg.contains("invalid type") || msg.contains("expected") {
        code = "wrong-type";
        help = Some("see docs/inventory.md for the type of each key".into());
    }
    Diagnostic { severity: Severity::Error, code, message: msg, span: e.span(), label: Some("here".into()), help }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_http_url(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    (l.starts_with("https://") || l.starts_with("http://"))
        && l.len() > 8
        && !s.chars().any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>' || c == '\'' || c == '`')
}

fn is_email(s: &str) -> bool {
    let Some((user, host)) = s.split_once('@') else { return false };
    !user.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c))
}

fn is_host_pattern(s: &str) -> bool {
    let h = crate::inventory::origin_host(s);
    let h = h.strip_prefix("*.").unwrap_or(&h);
    !h.is_empty()
        && !h.contains('*')
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')
}

fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Characters a cookie name may not contain (RFC 6265 token).
fn bad_cookie_name_char(c: char) -> bool {
    c.is_control() || c.is_whitespace() || "()<>@,;:\\\"/[]?={}".contains(c) || !c.is_ascii()
}

const AUTH_NAME_WORDS: &[&str] = &[
    "auth",
    "token",
    "jwt",
    "sessionid",
    "session_id",
    "session-id",
    "session-token",
    "session_token",
    "sessid",
    "connect.sid",
    "remember_me",
    "login",
];
const AUTH_PURPOSE_WORDS: &[&str] = &["authenticat", "signed in", "sign in", "logged in", "log in", "login"];

fn looks_like_auth(item: &Item, lang: &str) -> bool {
    let n = item.name.to_ascii_lowercase();
    let p = item.purpose.get(lang, lang).to_ascii_lowercase();
    n == "sid" || AUTH_NAME_WORDS.iter().any(|w| n.contains(w)) || AUTH_PURPOSE_WORDS.iter().any(|w| p.contains(w))
}

fn check_inventory(cx: &mut Ctx<'_>, inv: &Inventory) {
    site(cx, inv);
    rules(cx, inv);
    categories(cx, inv);
    let category_ids: Vec<&str> = inv.categories.iter().map(|c| c.id.as_str()).collect();
    for (array, items, is_cookie) in [("cookies", &inv.cookies, true), ("storage", &inv.storage, false)] {
        let array: &'static str = array;
        for (i, item) in items.iter().enumerate() {
            item_rules(cx, inv, &category_ids, array, i, item, is_cookie);
        }
    }
    duplicates(cx, inv);
    services(cx, inv, &category_ids);
    translations(cx, inv);
    if !inv.banner.enabled && inv.has_non_essential() {
        let first = inv.categories.iter().position(|c| !c.required);
        cx.error(
            "banner-off",
            &[K("banner"), K("enabled")],
            "the banner is turned off, but the site declares items that need consent",
            match first {
                Some(i) => format!(
                    "turn the banner on, or make every category strictly necessary (category `{}` is not)",
                    inv.categories[i].id
                ),
                None => "turn the banner on, or move every item into a strictly necessary category".to_string(),
            },
        );
    }
    if inv.banner.enabled
        && inv.has_non_essential()
        && !inv.cookies.iter().any(|c| c.pattern().is_ok_and(|p| p.matches(&inv.banner.cookie_name)))
    {
        cx.warn(
            "consent-cookie-undeclared",
            &[K("banner")],
            format!("the consent cookie `{}` that the banner sets is not declared", inv.banner.cookie_name),
            format!(
                "add a [[cookies]] entry named `{}` in a strictly necessary category, so the policy lists it",
                inv.banner.cookie_name
            ),
        );
    }
}

fn site(cx: &mut Ctx<'_>, inv: &Inventory) {
    let s = &inv.site;
    if !is_slug(&s.id) {
        cx.error(
            "site-id",
            &[K("site"), K("id")],
            format!("site id `{}` cannot be used in URLs", s.id),
            "use lowercase letters, digits, `-` and `_` (at most 63), like `leadsgen`",
        );
    }
    if s.name.trim().is_empty() {
        cx.error(
            "site-name",
            &[K("site"), K("name")],
            "the site has no name",
            "give the name visitors know the site by",
        );
    }
    if s.controller.trim().is_empty() {
        cx.error(
            "controller",
            &[K("site"), K("controller")],
            "no data controller is named",
            "name the legal entity responsible for the site (GDPR Art. 13(1)(a))",
        );
    }
    if s.origins.is_empty() {
        cx.error(
            "origins",
            &[K("site"), K("origins")],
            "the site declares no origins",
            "list the hosts it runs on, like `[\"example.com\", \"*.example.com\"]`",
        );
    }
    for (i, o) in s.origins.iter().enumerate() {
        if !is_host_pattern(o) {
            cx.error(
                "origin",
                &[K("site"), K("origins"), I(i)],
                format!("`{o}` is not a host or `*.host` pattern"),
                "write a host like `example.com` or `*.example.com`",
            );
        }
    }
    if !is_email(&s.contact) && !is_http_url(&s.contact) {
        cx.error(
            "contact",
            &[K("site"), K("contact")],
            format!("`{}` is neither an e-mail address nor an http(s) URL", s.contact),
            "give an address visitors can write to, like `privacy@example.com`",
        );
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(&s.effective_date, date_fmt).is_err() {
        cx.error(
            "effective-date",
            &[K("site"), K("effective_date")],
            format!("`{}` is not a date", s.effective_date),
            "write it as YYYY-MM-DD, like `2026-04-12`",
        );
    }
    if s.languages.is_empty() {
        cx.error(
            "languages",
            &[K("site"), K("languages")],
            "no language is declared",
            "list at least one, like `[\"en\"]`; the first is the default",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, l) in s.languages.iter().enumerate() {
        if !is_language_tag(l) {
            cx.error(
                "language",
                &[K("site"), K("languages"), I(i)],
                format!("`{l}` is not a language tag"),
                "use BCP 47 tags like `en`, `de`, `pt-BR`",
            );
        } else if !seen.insert(l.to_ascii_lowercase()) {
            cx.error(
                "duplicate-language",
                &[K("site"), K("languages"), I(i)],
                format!("language `{l}` is listed twice"),
                "remove the second one",
            );
        }
    }
    if let Some(url) = &s.privacy_policy_url
        && !is_http_url(url)
    {
        cx.error(
            "url",
            &[K("site"), K("privacy_policy_url")],
            format!("`{url}` is not an http(s) URL"),
            "link the privacy policy with an https:// address",
        );
    }
    if let Some(d) = &s.cookie_domain {
        let bare = d.trim_start_matches('.');
        if !is_host_pattern(bare) || bare.contains('*') || !bare.contains('.') && bare != "localhost" {
            cx.error(
                "cookie-domain",
                &[K("site"), K("cookie_domain")],
                format!("`{d}` cannot be a cookie domain"),
                "give the parent domain the site's hosts share, like `example.com`",
            );
        } else if !s
            .origins
            .iter()
            .any(|o| crate::inventory::domain_covers(bare, crate::inventory::origin_host(o).trim_start_matches("*.")))
        {
            cx.error(
                "cookie-domain",
                &[K("site"), K("cookie_domain")],
                format!("cookie domain `{d}` covers none of the site's origins"),
                "use a parent domain of the origins, or remove it",
            );
        }
    }
}

fn rules(cx: &mut Ctx<'_>, inv: &Inventory) {
    let r = &inv.rules;
    match Duration::parse(&r.consent_lifetime) {
        Ok(Duration::Session) => cx.error("consent-lifetime", &[K("rules"), K("consent_lifetime")], "consent cannot last only a session: visitors would be asked on every visit", "use a fixed lifetime like `6 months`"),
        Ok(Duration::Fixed(s)) if s > MAX_LIFETIME_MONTHS * MONTH => cx.error(
            "consent-lifetime",
            &[K("rules"), K("consent_lifetime")],
            format!("a consent lifetime of {} is longer than {MAX_LIFETIME_MONTHS} months", Duration::Fixed(s)),
            "European regulators accept at most 13 months before asking again; use `6 months` (the default) or up to `13 months`",
        ),
        Ok(_) => {}
        Err(e) => cx.error("duration", &[K("rules"), K("consent_lifetime")], e.to_string(), "write a lifetime like `6 months` or `P6M`"),
    }
    match Duration::parse(&r.retain) {
        Ok(Duration::Session) => cx.error(
            "retain",
            &[K("rules"), K("retain")],
            "records cannot be kept for a session",
            "keep consent records as long as you must prove consent, like `5 years`",
        ),
        Ok(_) => {}
        Err(e) => cx.error("duration", &[K("rules"), K("retain")], e.to_string(), "write a period like `5 years`"),
    }
    use crate::inventory::RegionalMode;
    if r.regional_mode == RegionalMode::ByCountry && r.country_header.is_none() {
        cx.error(
            "country-header",
            &[K("rules"), K("regional_mode")],
            "`by_country` needs a trusted country header",
            "set `country_header = \"CF-IPCountry\"` (or your CDN's header); without it every visitor gets opt-in",
        );
    }
    if r.regional_mode == RegionalMode::ByCountry && r.opt_out_countries.is_empty() {
        cx.warn(
            "opt-out-countries",
            &[K("rules"), K("regional_mode")],
            "`by_country` with no `opt_out_countries` gives every visitor opt-in",
            "list the countries that get opt-out, like `[\"US\"]`, or use `regional_mode = \"opt_in\"`",
        );
    }
    if r.regional_mode != RegionalMode::ByCountry && !r.opt_out_countries.is_empty() {
        cx.warn(
            "opt-out-countries",
            &[K("rules"), K("opt_out_countries")],
            "`opt_out_countries` only applies with `regional_mode = \"by_country\"`",
            "set `regional_mode = \"by_country\"` or remove the list",
        );
    }
    for (i, c) in r.opt_out_countries.iter().enumerate() {
        let ok = c.len() == 2 && c.chars().all(|c| c.is_ascii_alphabetic())
            || c.len() > 3 && c.as_bytes()[2] == b'-' && c[..2].chars().all(|c| c.is_ascii_alphabetic());
        if !ok {
            cx.error(
                "country",
                &[K("rules"), K("opt_out_countries"), I(i)],
                format!("`{c}` is not a country code"),
                "use ISO 3166-1 alpha-2 like `US`, or a subdivision like `US-CA`",
            );
        }
    }
}

fn categories(cx: &mut Ctx<'_>, inv: &Inventory) {
    if inv.categories.is_empty() {
        cx.error(
            "no-categories",
            &[K("site")],
            "the inventory declares no categories",
            "add at least one [[categories]] entry, like a strictly necessary one with `required = true`",
        );
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in inv.categories.iter().enumerate() {
        if !is_slug(&c.id) {
            cx.error(
                "category-id",
                &[K("categories"), I(i), K("id")],
                format!("category id `{}` is not usable", c.id),
                "use lowercase letters, digits, `-` and `_`, like `analytics`",
            );
        }
        if let Some(first) = seen.insert(c.id.as_str(), i) {
            cx.error(
                "duplicate-category",
                &[K("categories"), I(i), K("id")],
                format!("category `{}` is declared twice (first as category #{})", c.id, first + 1),
                "give each category its own id, or merge them",
            );
        }
        if c.required {
            let tracking: Vec<&str> = c.consent_mode.iter().filter(|t| t.is_tracking()).map(|t| t.as_str()).collect();
            if !tracking.is_empty() {
                cx.error(
                    "required-tracking",
                    &[K("categories"), I(i), K("consent_mode")],
                    format!("strictly necessary category `{}` grants {} without asking", c.id, tracking.join(", ")),
                    "advertising and analytics are never strictly necessary: move these Consent Mode types to a category that asks",
                );
            }
        }
        if c.title.is_empty() {
            cx.error(
                "category-title",
                &[K("categories"), I(i), K("title")],
                format!("category `{}` has no title", c.id),
                "give it a title visitors understand",
            );
        }
        if !c.required && c.description.is_empty() {
            cx.error(
                "category-description",
                &[K("categories"), I(i), K("description")],
                format!("category `{}` asks for consent without saying what for", c.id),
                "describe its purpose: consent must be informed (GDPR Art. 4(11))",
            );
        }
        if !c.required && !inv.items().any(|it| it.category == c.id) && !inv.services.iter().any(|s| s.category == c.id)
        {
            cx.warn(
                "empty-category",
                &[K("categories"), I(i), K("id")],
                format!("category `{}` asks for consent but nothing uses it", c.id),
                "declare its cookies and services, or remove it",
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn item_rules(
    cx: &mut Ctx<'_>,
    inv: &Inventory,
    category_ids: &[&str],
    array: &'static str,
    i: usize,
    item: &Item,
    is_cookie: bool,
) {
    let at = |k: &'static str| [K(array), I(i), K(k)];
    let lang = inv.default_language();
    match item.pattern() {
        Err(e) => cx.error(
            "pattern",
            &at("name"),
            format!("`{}`: {e}", item.name),
            "fix the name, or set `match` to `exact`, `prefix` or `regex`",
        ),
        Ok(p) => {
            let (kind, text) = p.parts();
            if is_cookie && kind != crate::inventory::MatchKind::Regex && text.chars().any(bad_cookie_name_char) {
                cx.error(
                    "cookie-name",
                    &at("name"),
                    format!("`{}` cannot be a cookie name", item.name),
                    "cookie names cannot contain spaces, control characters or ()<>@,;:\\\"/[]?={}",
                );
            }
        }
    }
    if !category_ids.contains(&item.category.as_str()) {
        let help = match did_you_mean(&item.category, category_ids.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("declare it under [[categories]], or use one of: {}", category_ids.join(", ")),
        };
        cx.error(
            "unknown-category",
            &at("category"),
            format!("`{}` uses category `{}`, which is not declared", item.name, item.category),
            help,
        );
    }
    if let Some(s) = &item.service
        && inv.service(s).is_none()
    {
        let ids: Vec<&str> = inv.services.iter().map(|s| s.id.as_str()).collect();
        let help = match did_you_mean(s, ids.iter().copied()) {
            Some(x) => format!("did you mean `{x}`?"),
            None => "declare it under [[services]], or remove `service`".into(),
        };
        cx.error(
            "unknown-service",
            &at("service"),
            format!("`{}` names service `{s}`, which is not declared", item.name),
            help,
        );
    }
    if item.purpose.is_empty() {
        cx.error(
            "purpose",
            &at("purpose"),
            format!("`{}` has no purpose", item.name),
            "say what it is for: visitors must be told (GDPR Art. 13(1)(c))",
        );
    }
    match (is_cookie, item.kind) {
        (true, Some(k)) if k != StorageKind::Cookie => cx.error(
            "storage-kind",
            &at("kind"),
            format!("`{}` is under [[cookies]] but says kind `{}`", item.name, k.as_str()),
            "move it to [[storage]], or remove `kind`",
        ),
        (false, None) => cx.error(
            "storage-kind",
            &[K(array), I(i), K("name")],
            format!("storage item `{}` does not say where it lives", item.name),
            "add `kind = \"local_storage\"`, `\"session_storage\"` or `\"indexed_db\"`",
        ),
        (false, Some(StorageKind::Cookie)) => cx.error(
            "storage-kind",
            &at("kind"),
            format!("`{}` is a cookie under [[storage]]", item.name),
            "move it to [[cookies]]",
        ),
        _ => {}
    }
    match item.lifetime() {
        Err(e) => {
            let help = if is_cookie {
                "write `session`, `72 hours`, `30 days`, `1 year` or ISO-8601 like `P30D`"
            } else {
                "write `session`, `persistent` (never cleared), or a lifetime like `30 days`"
            };
            cx.error("duration", &at("duration"), e.to_string(), help);
        }
        Ok(Some(Duration::Fixed(s))) if is_cookie && s > 400 * crate::duration::DAY => cx.warn(
            "duration-capped",
            &at("duration"),
            format!("`{}` is declared to last {}, but browsers cap cookies at 400 days", item.name, Duration::Fixed(s)),
            "declare at most `400 days`, as browsers will keep it no longer",
        ),
        _ => {}
    }
    if !is_cookie {
        for (k, set) in [
            ("domain", item.domain.is_some()),
            ("path", item.path.is_some()),
            ("http_only", item.http_only.is_some()),
            ("secure", item.secure.is_some()),
            ("same_site", item.same_site.is_some()),
        ] {
            if set {
                cx.error(
                    "cookie-attribute",
                    &at(k),
                    format!("`{k}` is a cookie attribute, but `{}` is web storage", item.name),
                    "remove it",
                );
            }
        }
        return;
    }
    if item.same_site == Some(SameSite::None) && item.secure != Some(true) {
        cx.error(
            "samesite-none",
            &at("same_site"),
            format!("`{}` is `SameSite=None` without `Secure`", item.name),
            "browsers reject such cookies: add `secure = true`",
        );
    }
    if let Some(d) = &item.domain
        && !is_host_pattern(d.trim_start_matches('.'))
    {
        cx.error(
            "cookie-domain",
            &at("domain"),
            format!("`{d}` is not a domain"),
            "write a domain like `.example.com`",
        );
    }
    if let Some(p) = &item.path
        && !p.starts_with('/')
    {
        cx.error(
            "cookie-path",
            &at("path"),
            format!("path `{p}` does not start with `/`"),
            "write a path like `/` or `/app`",
        );
    }
    let required = inv.is_required(&item.category);
    if required && looks_like_auth(item, lang) && (item.http_only != Some(true) || item.secure != Some(true)) {
        let missing: Vec<&str> = [("HttpOnly", item.http_only), ("Secure", item.secure)]
            .into_iter()
            .filter(|(_, v)| *v != Some(true))
            .map(|(n, _)| n)
            .collect();
        cx.warn(
            "insecure-auth-cookie",
            &[K(array), I(i), K("name")],
            format!("`{}` looks like an authentication cookie but is not declared {}", item.name, missing.join(" and ")),
            "set `http_only = true` and `secure = true` so scripts and plain HTTP cannot read the session; if it carries no credential, say so in its purpose",
        );
    }
    if required {
        let domain = item.domain.as_deref().or_else(|| inv.site.origins.first().map(String::as_str));
        let name = match item.pattern() {
            Ok(crate::pattern::NamePattern::Prefix(p)) => p,
            _ => item.name.clone(),
        };
        // The database saw some names only on another party's domain. Tracking scripts set
        // theirs on the site's domain under distinctive names (`_fbp`, `_gcl_au`); a plain
        // name (`sessionid`, `auth_token`) known from elsewhere is the site's own cookie
        // that happens to share it, and so is any name the site scopes to its own domain.
        let foreign_ok = item.domain.is_none() && name.starts_with('_');
        if let Some((e, agreement)) = ocd::lookup_detailed(&name, domain)
            && (agreement != ocd::DomainAgreement::Other || foreign_ok)
            && matches!(e.purpose(), Purpose::Analytics | Purpose::Marketing)
        {
            cx.warn(
                "known-tracking-as-necessary",
                &at("category"),
                format!(
                    "`{}` is declared strictly necessary, but the Open Cookie Database lists `{}` ({}) as {} (entry {})",
                    item.name,
                    e.name,
                    e.platform,
                    e.purpose().as_str(),
                    e.id
                ),
                format!("move it to a category that asks for consent, like one for {}", e.purpose().as_str()),
            );
        }
    }
}

fn duplicates(cx: &mut Ctx<'_>, inv: &Inventory) {
    let mut seen: BTreeMap<(StorageKind, String, String), (&'static str, usize)> = BTreeMap::new();
    for (array, items) in [("cookies", &inv.cookies), ("storage", &inv.storage)] {
        for (i, item) in items.iter().enumerate() {
            let key = (
                item.storage(),
                item.name.clone(),
                item.domain.clone().unwrap_or_default().trim_start_matches('.').to_string(),
            );
            if let Some((a, j)) = seen.get(&key) {
                cx.error(
                    "duplicate-item",
                    &[K(array), I(i), K("name")],
                    format!("`{}` is declared twice (also {a} #{})", item.name, j + 1),
                    "declare each name once per storage kind and domain; merge the two entries",
                );
            } else {
                seen.insert(key, (array, i));
            }
        }
    }
}

fn services(cx: &mut Ctx<'_>, inv: &Inventory, category_ids: &[&str]) {
    let mut seen = BTreeSet::new();
    for (i, s) in inv.services.iter().enumerate() {
        let at = |k: &'static str| [K("services"), I(i), K(k)];
        if !is_slug(&s.id) {
            cx.error(
                "service-id",
                &at("id"),
                format!("service id `{}` is not usable", s.id),
                "use lowercase letters, digits, `-` and `_`, like `youtube`",
            );
        }
        if !seen.insert(s.id.as_str()) {
            cx.error(
                "duplicate-service",
                &at("id"),
                format!("service `{}` is declared twice", s.id),
                "give each service its own id",
            );
        }
        if !category_ids.contains(&s.category.as_str()) {
            let help = match did_you_mean(&s.category, category_ids.iter().copied()) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!("use one of: {}", category_ids.join(", ")),
            };
            cx.error(
                "unknown-category",
                &at("category"),
                format!("service `{}` uses category `{}`, which is not declared", s.id, s.category),
                help,
            );
        }
        if let Some(url) = &s.privacy_policy
            && !is_http_url(url)
        {
            cx.error(
                "url",
                &at("privacy_policy"),
                format!("`{url}` is not an http(s) URL"),
                "link the provider's privacy policy with an https:// address",
            );
        }
        for (j, h) in s.hosts.iter().enumerate() {
            if !is_host_pattern(h) {
                cx.error(
                    "host",
                    &[K("services"), I(i), K("hosts"), I(j)],
                    format!("`{h}` is not a host"),
                    "write a host like `js.stripe.com` or `*.stripe.network`",
                );
            }
        }
        for (j, c) in s.cookies.iter().enumerate() {
            match inv.items().find(|it| &it.name == c) {
                None => {
                    let names: Vec<&str> = inv.items().map(|it| it.name.as_str()).collect();
                    let help = match did_you_mean(c, names.iter().copied()) {
                        Some(x) => format!("did you mean `{x}`?"),
                        None => "declare it under [[cookies]] or [[storage]]".into(),
                    };
                    cx.error(
                        "unknown-item",
                        &[K("services"), I(i), K("cookies"), I(j)],
                        format!("service `{}` sets `{c}`, which is not declared", s.id),
                        help,
                    );
                }
                Some(it)
                    if it.category != s.category
                        && category_ids.contains(&it.category.as_str())
                        && !inv.is_required(&it.category)
                        && inv.is_required(&s.category) =>
                {
                    cx.error(
                        "service-category",
                        &[K("services"), I(i), K("category")],
                        format!(
                            "service `{}` is strictly necessary but sets `{c}` of category `{}`",
                            s.id, it.category
                        ),
                        "a service that sets cookies needing consent must itself need consent: use the same category",
                    );
                }
                _ => {}
            }
        }
    }
}

fn translations(cx: &mut Ctx<'_>, inv: &Inventory) {
    let langs = &inv.site.languages;
    let default = inv.default_language().to_string();
    let check = |cx: &mut Ctx<'_>, path: Vec<Seg>, what: String, t: &crate::text::Text| {
        if let crate::text::Text::PerLanguage(map) = t {
            for l in langs {
                if !map.contains_key(l) {
                    cx.warn(
                        "missing-translation",
                        &path,
                        format!("{what} has no `{l}` text"),
                        format!("add `{l} = \"...\"`; visitors reading {l} see the {default} text meanwhile"),
                    );
                }
            }
            for k in map.keys() {
                if !langs.contains(k) {
                    cx.warn(
                        "unknown-language",
                        &path,
                        format!("{what} has a `{k}` text, but `{k}` is not in site.languages"),
                        format!("add `{k}` to site.languages, or remove the text"),
                    );
                }
            }
        } else if langs.len() > 1 {
            cx.warn(
                "missing-translation",
                &path,
                format!("{what} is given in one language only"),
                format!(
                    "give it per language, like `{{ {} }}`",
                    langs.iter().map(|l| format!("{l} = \"...\"")).collect::<Vec<_>>().join(", ")
                ),
            );
        }
    };
    for (i, c) in inv.categories.iter().enumerate() {
        check(cx, vec![K("categories"), I(i), K("title")], format!("category `{}` title", c.id), &c.title);
        check(
            cx,
            vec![K("categories"), I(i), K("description")],
            format!("category `{}` description", c.id),
            &c.description,
        );
    }
    for (array, items) in [("cookies", &inv.cookies), ("storage", &inv.storage)] {
        for (i, it) in items.iter().enumerate() {
            check(cx, vec![K(array), I(i), K("purpose")], format!("`{}` purpose", it.name), &it.purpose);
        }
    }
}
