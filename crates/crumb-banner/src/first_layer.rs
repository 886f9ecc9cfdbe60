//! The first layer's markup, rendered once on the server for both ways a page gets it:
//!
//! - inlined into `banner.js` (the `bar` string of each language), which inserts it and wires
//!   its buttons, so the script carries no rendering code for it;
//! - put straight into the HTML by the guard ([`first_layer_html`]: markup and inline CSS, no
//!   script), so the banner is on screen at the page's first contentful paint; `banner.js` then
//!   finds `#crumb` in the page and attaches to it instead of rendering a second one.
//!
//! Both come from [`bar_html`], so they are the same bytes. The script adds what depends on the
//! browser: the absolute policy link, the click handlers and, when it honours a GPC or DNT
//! signal, the sentence saying so (`p.cb-sig`, also named by `aria-describedby`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::ClientConfig;
use crumb_core::inventory::RegionalMode;

use crate::text;

/// The committed, minified first-layer CSS (`build.sh` writes it; `banner.js` carries the same).
pub const BANNER_CSS: &str = include_str!("../dist/banner.min.css");

/// Languages written right to left.
const RTL: [&str; 10] = ["ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"];

fn base(lang: &str) -> String {
    lang.split('-').next().unwrap_or_default().to_ascii_lowercase()
}

/// The language the banner speaks to a browser sending `accept_language`: the first tag the
/// site offers (exact, then by base language), else the site's default. `banner.js` applies the
/// same rule to `navigator.languages`, from which browsers build `Accept-Language`.
pub fn pick_language<'a>(cfg: &'a ClientConfig, accept_language: Option<&str>) -> &'a str {
    let offered = &cfg.languages;
    for tag in accept_language.unwrap_or_default().split(',') {
        let tag = tag.split(';').next().unwrap_or_default().trim();
        if tag.is_empty() || tag == "*" {
            continue;
        }
        if let Some(l) = offered.iter().find(|l| l.eq_ignore_ascii_case(tag)) {
            return l;
        }
        if let Some(l) = offered.iter().find(|l| base(l) == base(tag)) {
            return l;
        }
    }
    offered.first().map(String::as_str).unwrap_or("en")
}

/// HTML-escape text or an attribute value.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The first layer's dialog (`div.cb-bar`) in `lang`: title, text, policy link and the three
/// buttons Accept all, Reject all (Do Not Sell… in an opt-out region) and Preferences.
pub fn bar_html(cfg: &ClientConfig, lang: &str) -> String {
    let (c, _) = text::for_language(lang);
    let opt_out = cfg.mode == RegionalMode::OptOut;
    let mut h = String::with_capacity(640);
    let _ = write!(
        h,
        "<div class=cb-bar role=dialog aria-labelledby=cb-t aria-describedby=cb-d tabindex=-1>\
<h2 id=cb-t>{}</h2><p id=cb-d>{} <a href=\"{}\">{}</a></p><div class=cb-row>",
        esc(&c.title.replace("{site}", &cfg.site_name)),
        esc(if opt_out { c.text_opt_out } else { c.text_opt_in }),
        esc(&cfg.policy_url),
        esc(c.policy),
    );
    for label in [c.accept, if opt_out { c.dns } else { c.reject }, c.prefs] {
        let _ = write!(h, "<button type=button class=cb-b>{}</button>", esc(label));
    }
    h.push_str("</div></div>");
    h
}

/// `rtl` for a right-to-left language, else `ltr`.
pub fn dir(lang: &str) -> &'static str {
    if RTL.contains(&base(lang).as_str()) { "rtl" } else { "ltr" }
}

/// The first-stage strings of one language: the first layer's markup, its direction, the
/// floating button's markup and the signal sentence.
pub(crate) fn core_text(cfg: &ClientConfig, lang: &str) -> BTreeMap<&'static str, String> {
    let (c, _) = text::for_language(lang);
    let signal = if cfg.mode == RegionalMode::OptOut { c.signal_opt_out } else { c.signal_opt_in };
    let fab = format!("<button type=button class=cb-fab>{}</button>", esc(c.fab));
    [("bar", bar_html(cfg, lang)), ("dir", dir(lang).into()), ("fab", fab), ("signal", signal.into())].into()
}

/// The second-stage strings of one language (preferences dialog and embed placeholder).
pub(crate) fn more_text(cfg: &ClientConfig, lang: &str) -> BTreeMap<&'static str, &'static str> {
    let (c, p) = text::for_language(lang);
    let refuse = if cfg.mode == RegionalMode::OptOut { ("dns", c.dns) } else { ("reject", c.reject) };
    [
        ("ptitle", p.ptitle),
        ("ptext", p.ptext),
        ("save", p.save),
        ("close", p.close),
        ("always", p.always),
        ("used", p.used),
        ("details", p.details),
        ("error", p.error),
        ("receipt", p.receipt),
        ("blocked", c.blocked),
        ("allow", c.allow),
        ("accept", c.accept),
        refuse,
        ("policy", c.policy),
    ]
    .into()
}

/// The first layer as the guard puts it right after `<body …>` for a visitor without a consent
/// cookie: a `<style>` (with `nonce`, for the page's Content-Security-Policy) and
/// `<div id="crumb" lang dir>` holding [`bar_html`] in the language [`pick_language`] picks for
/// `accept_language`. Empty when the site needs no banner.
///
/// `cfg` should carry absolute URLs (the guard builds it with the Crumb server's public base
/// URL) so that the policy link works before the script attaches; the script sets it again.
pub fn first_layer_html(cfg: &ClientConfig, accept_language: Option<&str>, nonce: Option<&str>) -> String {
    if !cfg.needs_banner {
        return String::new();
    }
    let lang = pick_language(cfg, accept_language);
    let dir = dir(lang);
    let nonce = nonce.map(|n| format!(" nonce=\"{}\"", esc(n))).unwrap_or_default();
    format!(
        "<style{nonce}>{BANNER_CSS}</style><div id=crumb lang=\"{}\" dir={dir}>{}</div>",
        esc(lang),
        bar_html(cfg, lang)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientContext, client_config};
    use crumb_core::testdata::LEADSGEN;

    fn cfg(src: &str, mode: RegionalMode) -> ClientConfig {
        let inv = toml::from_str(src).expect("example parses");
        let ctx = ClientContext {
            base_url: "https://c.example".into(),
            version: "0123456789abcdef".into(),
            valid_versions: Vec::new(),
            mode,
            region: None,
        };
        client_config(&inv, &ctx)
    }

    #[test]
    fn language_from_accept_language_like_the_script() {
        let c = cfg(&LEADSGEN.replace("languages = [\"en\"]", "languages = [\"en\", \"de\"]"), RegionalMode::OptIn);
        assert_eq!(c.languages, ["en", "de"]);
        let second = c.languages[1].clone();
        let tag = format!("xx,{}-ZZ;q=0.9,{};q=0.8", second.to_uppercase(), c.languages[0]);
        assert_eq!(pick_language(&c, Some(&tag)), second, "base language of the first offered tag");
        assert_eq!(pick_language(&c, Some("xx, *")), c.languages[0], "else the default");
        assert_eq!(pick_language(&c, None), c.languages[0]);
        let html = first_layer_html(&c, Some(&second), None);
        assert!(html.starts_with("<style>") && html.contains(&format!("lang=\"{second}\"")));
        assert_eq!(dir("ar-EG"), "rtl");
        assert_eq!(dir("en"), "ltr");
    }

    #[test]
    fn escapes_site_texts_and_renders_nothing_without_a_banner() {
        let mut c = cfg(LEADSGEN, RegionalMode::OptIn);
        c.site_name = "<b>&\"".into();
        assert!(bar_html(&c, "en").contains("Cookies on &lt;b&gt;&amp;&quot;"));
        c.needs_banner = false;
        assert_eq!(first_layer_html(&c, None, None), "");
    }
}
