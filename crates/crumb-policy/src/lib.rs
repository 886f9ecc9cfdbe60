//! # crumb-policy
//!
//! Renders a [`crumb_core::Inventory`] as the site's cookie policy: self-contained HTML,
//! Markdown or JSON, in any of the site's languages, with built-in texts in English, German
//! and French. Templates are [minijinja](https://docs.rs/minijinja) files an operator can
//! override from a directory (`policy.html`, `policy.md`); every value is escaped for its
//! format, and only `http(s):` and `mailto:` links are ever rendered as links.

use std::path::PathBuf;

use crumb_core::duration::{DAY, Duration, HOUR, MINUTE, MONTH, WEEK, YEAR};
use crumb_core::inventory::{Announcement, Inventory, Item, RegionalMode, SignalRule, StorageKind};
use serde::Serialize;

pub mod i18n;

use i18n::Texts;

const HTML_TEMPLATE: &str = include_str!("../templates/policy.html");
const MD_TEMPLATE: &str = include_str!("../templates/policy.md");

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Self-contained, accessible HTML page.
    #[default]
    Html,
    /// Markdown (GitHub-flavoured tables).
    Markdown,
    /// JSON, for machines and other front ends.
    Json,
}

impl Format {
    /// The file extension for this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Json => "json",
        }
    }

    /// The media type for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Output format.
    pub format: Format,
    /// Language; the site's default when `None`. Must be one of the site's languages.
    pub lang: Option<String>,
    /// Directory with `policy.html` and/or `policy.md` overriding the built-in templates.
    pub templates: Option<PathBuf>,
    /// Public base URL of the Crumb server, to link the machine-readable variants.
    pub base_url: Option<String>,
}

/// Why a policy could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// `--lang` names a language the site does not declare.
    #[error("the site does not declare language `{lang}`; it declares: {available}")]
    UnknownLanguage {
        /// Requested.
        lang: String,
        /// Declared, comma-separated.
        available: String,
    },
    /// A template (built-in or override) failed.
    #[error("template error: {0:#}")]
    Template(#[from] minijinja::Error),
    /// The JSON could not be written.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

/// One cookie or storage item, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub name: String,
    /// `exact`, `prefix` or `regex`.
    pub matching: &'static str,
    pub storage: &'static str,
    pub kind_label: &'static str,
    pub category: String,
    pub category_title: String,
    pub provider: String,
    pub third_party: bool,
    pub party: &'static str,
    pub service: Option<String>,
    pub purpose: String,
    pub duration: String,
    pub attributes: String,
}

/// One category, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub required: bool,
    pub consent_mode: Vec<&'static str>,
    pub cookies: Vec<ItemView>,
    pub services: Vec<String>,
}

/// One third-party service, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub category: String,
    pub category_title: String,
    pub purpose: String,
    pub hosts: Vec<String>,
    pub privacy_policy: Option<String>,
    pub on_interaction: bool,
}

/// The site, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    pub id: String,
    pub name: String,
    pub controller: String,
    pub contact: String,
    pub contact_href: Option<String>,
    pub address: Option<String>,
    pub effective_date: String,
    pub privacy_policy_url: Option<String>,
    pub intro: Option<String>,
    pub origins: Vec<String>,
}

/// Consent rules as the policy states them.
#[derive(Debug, Clone, Serialize)]
pub struct RulesView {
    pub dnt: &'static str,
    pub gpc: &'static str,
    pub consent_lifetime: String,
    pub regional_mode: &'static str,
    pub announce_changes: Vec<&'static str>,
    /// Sentences filled in for this site.
    pub dnt_text: String,
    pub gpc_text: String,
    pub lifetime_text: String,
    pub changes_text: Option<String>,
    pub contact_text: String,
    pub opt_out: bool,
}

/// Everything a template sees.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub lang: String,
    pub dir: &'static str,
    pub policy_version: String,
    pub site: SiteView,
    pub has_banner: bool,
    pub categories: Vec<CategoryView>,
    pub storage: Vec<ItemView>,
    pub services: Vec<ServiceView>,
    pub rules: RulesView,
    pub languages: Vec<String>,
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t: Option<&'static Texts>,
}

/// `http(s)://` and `mailto:` URLs without characters that could break out of an attribute.
pub fn safe_url(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:");
    let chars_ok = !u.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>`\\".contains(c));
    (scheme_ok && chars_ok && u.len() > 8).then(|| u.to_string())
}

fn contact_href(contact: &str) -> Option<String> {
    if contact.contains('@') && !contact.contains("://") {
        safe_url(&format!("mailto:{contact}"))
    } else {
        safe_url(contact)
    }
}

/// A duration in words in the given language.
pub fn duration_words(d: Option<Duration>, t: &Texts) -> String {
    let Some(d) = d else { return t.persistent.to_string() };
    let Duration::Fixed(s) = d else { return t.session.to_string() };
    let units = [(YEAR, 6), (MONTH, 5), (WEEK, 4), (DAY, 3), (HOUR, 2), (MINUTE, 1)];
    let (n, idx) = units
        .iter()
        .find(|(size, _)| s >= *size && s % size == 0)
        .map(|(size, i)| (s / size, *i))
        .or_else(|| (s >= DAY && s % HOUR == 0).then_some((s / HOUR, 2)))
        .unwrap_or((s, 0));
    let (one, many) = t.units[idx];
    format!("{n} {}", if n == 1 { one } else { many })
}

fn join_list(items: &[String], t: &Texts) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {} {last}", init.join(", "), t.list_and),
    }
}

fn attributes(item: &Item) -> String {
    if item.storage() != StorageKind::Cookie {
        return String::new();
    }
    let mut out = Vec::new();
    if item.http_only == Some(true) {
        out.push("HttpOnly".to_string());
    }
    if item.secure == Some(true) {
        out.push("Secure".to_string());
    }
    if let Some(s) = item.same_site {
        out.push(format!("SameSite={}", s.as_str()));
    }
    if let Some(d) = &item.domain {
        out.push(format!("Domain={d}"));
    }
    if let Some(p) = &item.path {
        out.push(format!("Path={p}"));
    }
    out.join(", ")
}

/// The language to render: the requested one if the site declares it, else the default.
pub fn pick_language(inv: &Inventory, lang: Option<&str>) -> Result<String, PolicyError> {
    match lang {
        None => Ok(inv.default_language().to_string()),
        Some(l) => inv.site.languages.iter().find(|x| x.eq_ignore_ascii_case(l)).cloned().ok_or_else(|| {
            PolicyError::UnknownLanguage { lang: l.to_string(), available: inv.site.languages.join(", ") }
        }),
    }
}

/// Build the view of the policy in `lang` (which must be one of the site's languages).
pub fn view(inv: &Inventory, lang: &str, base_url: Option<&str>) -> PolicyView {
    let t = i18n::texts(lang);
    let default = inv.default_language();
    let text = |x: &crumb_core::Text| x.get(lang, default).to_string();
    let category_title = |id: &str| inv.category(id).map(|c| text(&c.title)).unwrap_or_else(|| id.to_string());
    let item_view = |i: &Item| {
        let third = i.is_third_party();
        let (matching, _) = match i.pattern() {
            Ok(p) => match p.parts().0 {
                crumb_core::inventory::MatchKind::Exact => ("exact", ()),
                crumb_core::inventory::MatchKind::Prefix => ("prefix", ()),
                crumb_core::inventory::MatchKind::Regex => ("regex", ()),
            },
            Err(_) => ("exact", ()),
        };
        ItemView {
            name: i.name.clone(),
            matching,
            storage: i.storage().as_str(),
            kind_label: match i.storage() {
                StorageKind::Cookie => t.cookie,
                StorageKind::LocalStorage => t.local_storage,
                StorageKind::SessionStorage => t.session_storage,
                StorageKind::IndexedDb => t.indexed_db,
            },
            category: i.category.clone(),
            category_title: category_title(&i.category),
            provider: if third { i.provider.clone().unwrap_or_default() } else { inv.site.name.clone() },
            third_party: third,
            party: if third { t.third_party } else { t.first_party },
            service: i
                .service
                .as_deref()
                .and_then(|s| inv.service(s))
                .map(|s| s.name.clone())
                .filter(|n| Some(n) != i.provider.as_ref()),
            purpose: text(&i.purpose),
            duration: duration_words(i.lifetime().ok().flatten(), t),
            attributes: attributes(i),
        }
    };
    let categories = inv
        .categories
        .iter()
        .map(|c| CategoryView {
            id: c.id.clone(),
            title: text(&c.title),
            description: text(&c.description),
            required: c.required,
            consent_mode: c.consent_mode.iter().map(|m| m.as_str()).collect(),
            cookies: inv.cookies.iter().filter(|i| i.category == c.id).map(item_view).collect(),
            services: inv.services.iter().filter(|s| s.category == c.id).map(|s| s.name.clone()).collect(),
        })
        .collect();
    let services = inv
        .services
        .iter()
        .map(|s| ServiceView {
            id: s.id.clone(),
            name: s.name.clone(),
            provider: s.provider.clone(),
            category: s.category.clone(),
            category_title: category_title(&s.category),
            purpose: text(&s.purpose),
            hosts: s.hosts.clone(),
            privacy_policy: s.privacy_policy.as_deref().and_then(safe_url),
            on_interaction: s.on_interaction,
        })
        .collect();
    let denied: Vec<String> =
        inv.categories.iter().filter(|c| c.denied_by_signals()).map(|c| text(&c.title).to_lowercase()).collect();
    let signal_text = |rule: SignalRule, honor: &str, ignore: &str| {
        if rule == SignalRule::Honor && !denied.is_empty() {
            honor.replace("{categories}", &join_list(&denied, t))
        } else if rule == SignalRule::Honor {
            // Nothing a signal could turn off: the site honours it trivially.
            honor.replace("{categories}", &t.categories_heading.to_lowercase())
        } else {
            ignore.to_string()
        }
    };
    let lifetime = inv.rules.lifetime().ok();
    let channels: Vec<String> = inv
        .rules
        .announce_changes
        .iter()
        .map(|a| match a {
            Announcement::Banner => t.announce_banner,
            Announcement::Email => t.announce_email,
            Announcement::InApp => t.announce_in_app,
            Announcement::PolicyDate => t.announce_policy_date,
        })
        .map(str::to_string)
        .collect();
    let has_banner = inv.banner.enabled && inv.has_non_essential();
    PolicyView {
        lang: lang.to_string(),
        dir: if ["ar", "he", "fa", "ur", "ps", "yi"].contains(&lang.split('-').next().unwrap_or(lang)) {
            "rtl"
        } else {
            "ltr"
        },
        policy_version: crumb_core::policy_version(inv),
        site: SiteView {
            id: inv.site.id.clone(),
            name: inv.site.name.clone(),
            controller: inv.site.controller.clone(),
            contact: inv.site.contact.clone(),
            contact_href: contact_href(&inv.site.contact),
            address: inv.site.address.clone(),
            effective_date: inv.site.effective_date.clone(),
            privacy_policy_url: inv.site.privacy_policy_url.as_deref().and_then(safe_url),
            intro: inv.site.intro.as_ref().map(text),
            origins: inv.site.origins.clone(),
        },
        has_banner,
        categories,
        storage: inv.storage.iter().map(item_view).collect(),
        services,
        rules: RulesView {
            dnt: if inv.rules.dnt == SignalRule::Honor { "honor" } else { "ignore" },
            gpc: if inv.rules.gpc == SignalRule::Honor { "honor" } else { "ignore" },
            consent_lifetime: lifetime.map(|d| d.humanize()).unwrap_or_default(),
            regional_mode: match inv.rules.regional_mode {
                RegionalMode::OptIn => "opt_in",
                RegionalMode::OptOut => "opt_out",
                RegionalMode::ByCountry => "by_country",
            },
            announce_changes: inv
                .rules
                .announce_changes
                .iter()
                .map(|a| match a {
                    Announcement::Banner => "banner",
                    Announcement::Email => "email",
                    Announcement::InApp => "in_app",
                    Announcement::PolicyDate => "policy_date",
                })
                .collect(),
            dnt_text: signal_text(inv.rules.dnt, t.dnt_honor, t.dnt_ignore),
            gpc_text: signal_text(inv.rules.gpc, t.gpc_honor, t.gpc_ignore),
            lifetime_text: t.manage_lifetime.replace("{lifetime}", &duration_words(lifetime, t)),
            changes_text: (!channels.is_empty())
                .then(|| t.changes_material.replace("{channels}", &join_list(&channels, t))),
            contact_text: t
                .contact_body
                .replace("{controller}", &inv.site.controller)
                .replace("{contact}", &inv.site.contact),
            opt_out: inv.rules.regional_mode != RegionalMode::OptIn,
        },
        languages: inv.site.languages.clone(),
        base_url: base_url.map(|b| b.trim_end_matches('/').to_string()),
        t: Some(t),
    }
}

/// Escape text for Markdown: HTML is neutralised and Markdown syntax shown literally.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (n, c) in s.chars().enumerate() {
        match c {
            '#' | '+' | '-' | '>' if n == 0 => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A minijinja loader for templates an operator can override: a file of the template's name
/// in `templates` (when given and present) wins over the built-in text `builtin` returns.
pub fn override_loader(
    templates: Option<PathBuf>,
    builtin: fn(&str) -> Option<&'static str>,
) -> impl Fn(&str) -> Result<Option<String>, minijinja::Error> + Send + Sync + 'static {
    move |name| {
        if let Some(dir) = &templates {
            let path = dir.join(name);
            if path.is_file() {
                return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::TemplateNotFound,
                        format!("cannot read {}: {e}", path.display()),
                    )
                });
            }
        }
        Ok(builtin(name).map(str::to_string))
    }
}

fn environment(templates: Option<PathBuf>) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("md", |s: String| escape_markdown(&s));
    // URLs reach templates only through `safe_url`; in attributes they need `&` and quotes
    // escaped but not `/` (minijinja's HTML escaping writes `/` as `&#x2f;`).
    env.add_filter("url", |s: String| {
        let escaped = s
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        minijinja::Value::from_safe_string(escaped)
    });
    env.set_loader(override_loader(templates, |name| match name {
        "policy.html" => Some(HTML_TEMPLATE),
        "policy.md" => Some(MD_TEMPLATE),
        _ => None,
    }));
    env
}

/// Render the policy.
pub fn render(inv: &Inventory, opts: &RenderOptions) -> Result<String, PolicyError> {
    let lang = pick_language(inv, opts.lang.as_deref())?;
    let mut v = view(inv, &lang, opts.base_url.as_deref());
    match opts.format {
        Format::Json => {
            v.t = None;
            let mut s = serde_json::to_string_pretty(&v)?;
            s.push('\n');
            Ok(s)
        }
        Format::Html | Format::Markdown => {
            let env = environment(opts.templates.clone());
            let name = if opts.format == Format::Html { "policy.html" } else { "policy.md" };
            let tmpl = env.get_template(name)?;
            let mut s = tmpl.render(minijinja::Value::from_serialize(&v))?;
            if !s.ends_with('\n') {
                s.push('\n');
            }
            Ok(s)
        }
    }
}

/// Per-cookie details the banner loads on demand (`/s/{site}/declaration.json`): for each
/// category, its items with purpose and duration in every language of the site, and, for the
/// banner's deletion on refusal, each item's `match` (`exact`, `prefix`, `regex`), `pattern`
/// (the name, prefix or regex source), `domain` and `path`.
pub fn declaration(inv: &Inventory) -> serde_json::Value {
    let langs = &inv.site.languages;
    let categories: Vec<serde_json::Value> = inv
        .categories
        .iter()
        .map(|c| {
            let items: Vec<serde_json::Value> = inv
                .items()
                .filter(|i| i.category == c.id)
                .map(|i| {
                    // what the banner deletes when the category is refused: the matcher's own
                    // reading of the name, and the declared domain and path
                    let (match_kind, pattern) = match i.pattern() {
                        Ok(p) => p.parts(),
                        Err(_) => (crumb_core::inventory::MatchKind::Exact, i.name.clone()),
                    };
                    let durations: serde_json::Map<String, serde_json::Value> = langs
                        .iter()
                        .map(|l| (l.clone(), duration_words(i.lifetime().ok().flatten(), i18n::texts(l)).into()))
                        .collect();
                    serde_json::json!({
                        "name": i.name,
                        "storage": i.storage().as_str(),
                        "provider": if i.is_third_party() { i.provider.clone() } else { Some(inv.site.name.clone()) },
                        "third_party": i.is_third_party(),
                        "service": i.service,
                        "purpose": i.purpose.resolve(langs),
                        "duration": durations,
                        "attributes": attributes(i),
                        "match": match_kind,
                        "pattern": pattern,
                        "domain": i.domain,
                        "path": i.path,
                    })
                })
                .collect();
            serde_json::json!({
                "id": c.id,
                "required": c.required,
                "title": c.title.resolve(langs),
                "items": items,
                "services": inv.services.iter().filter(|s| s.category == c.id).map(|s| serde_json::json!({
                    "id": s.id,
                    "name": s.name,
                    "provider": s.provider,
                    "purpose": s.purpose.resolve(langs),
                    "hosts": s.hosts,
                    "privacy_policy": s.privacy_policy.as_deref().and_then(safe_url),
                    "on_interaction": s.on_interaction,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "site": inv.site.id,
        "policy_version": crumb_core::policy_version(inv),
        "languages": langs,
        "categories": categories,
    })
}
