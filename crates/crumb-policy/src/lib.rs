//! # crumb-policy
//!
//! Renders a [`crumb_core::Inventory`] as the site's cookie policy: self-contained HTML,
//! Markdown or JSON, in any of the site's languages, with built-in texts in English, German
//! and French. Templates are [minijinja](https://docs.rs/minijinja) files an operator can
//! override from a directory (`policy.html`, `policy.md`); every value is escaped for its
//! format, and only `http(s):` and `mailto:` links are ever rendered as links.

use std::path::PathBuf;

use crumb_core::inventory::Inventory;

mod change_texts;
pub mod changes;
mod declaration;
pub mod i18n;
pub mod sentences;
mod view;
mod words;

pub use changes::{ChangesView, change_sentence};
pub use declaration::declaration;
pub use view::{CategoryView, ItemView, PolicyView, RulesView, ServiceView, SiteView, item_view, view};
pub use words::{duration_words, escape_markdown, safe_url};

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

/// The language to render: the requested one if the site declares it, else the default.
pub fn pick_language(inv: &Inventory, lang: Option<&str>) -> Result<String, PolicyError> {
    match lang {
        None => Ok(inv.default_language().to_string()),
        Some(l) => inv.site.languages.iter().find(|x| x.eq_ignore_ascii_case(l)).cloned().ok_or_else(|| {
            PolicyError::UnknownLanguage { lang: l.to_string(), available: inv.site.languages.join(", ") }
        }),
    }
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
    render_since(inv, None, opts)
}

/// Render the policy with a "what changed" section: the material changes since `previous`,
/// the inventory of the last materially different version (none when there are none).
pub fn render_since(
    inv: &Inventory,
    previous: Option<&Inventory>,
    opts: &RenderOptions,
) -> Result<String, PolicyError> {
    let lang = pick_language(inv, opts.lang.as_deref())?;
    let mut v = view(inv, &lang, opts.base_url.as_deref());
    v.changes = previous.and_then(|old| changes::changes_view(old, inv, &lang));
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
