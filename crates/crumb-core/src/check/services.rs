//! Rules about `[[services]]` and about translations of every text.

use std::collections::BTreeSet;

use crate::inventory::Inventory;

use super::ctx::{Ctx, Seg, did_you_mean};
use super::syntax::*;
use Seg::{Index as I, Key as K};

/// Shortest `inline_patterns` entry: shorter text would match unrelated scripts.
const MIN_INLINE_PATTERN: usize = 6;

pub(super) fn services(cx: &mut Ctx<'_>, inv: &Inventory, category_ids: &[&str]) {
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
        for (j, u) in s.url_patterns.iter().enumerate() {
            let rest = ["https://", "http://", "//"].iter().find_map(|p| u.trim().strip_prefix(p));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
            if host.is_none_or(|h| h.is_empty()) {
                cx.error(
                    "url-pattern",
                    &[K("services"), I(i), K("url_patterns"), I(j)],
                    format!("`{u}` is not a URL pattern"),
                    "write a URL prefix like `https://cdn.jsdelivr.net/npm/posthog-js` or a glob like `https://*.example.net/*/pixel.js`",
                );
            }
        }
        for (j, p) in s.inline_patterns.iter().enumerate() {
            if p.trim().chars().count() < MIN_INLINE_PATTERN {
                cx.error(
                    "inline-pattern",
                    &[K("services"), I(i), K("inline_patterns"), I(j)],
                    format!("inline pattern `{p}` is too short to tell this service's snippet from other scripts"),
                    format!("use at least {MIN_INLINE_PATTERN} characters the snippet contains, like `posthog.init(`"),
                );
            }
        }
        if s.hosts.is_empty()
            && s.url_patterns.is_empty()
            && s.inline_patterns.is_empty()
            && category_ids.contains(&s.category.as_str())
            && !inv.is_required(&s.category)
        {
            cx.warn(
                "unrecognisable-service",
                &at("id"),
                format!(
                    "service `{}` needs consent ({}) but declares no hosts, url_patterns or inline_patterns, so neither the guard nor the banner can hold its tags back",
                    s.id, s.category
                ),
                "list the hosts it loads from (`hosts = [\"cdn.example.com\"]`), or `url_patterns`/`inline_patterns` for a shared CDN or an inline snippet",
            );
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

pub(super) fn translations(cx: &mut Ctx<'_>, inv: &Inventory) {
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
