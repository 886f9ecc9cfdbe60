//! Rules about `[[categories]]`, each `[[cookies]]` and `[[storage]]` item, and duplicates.

use std::collections::BTreeMap;

use crate::duration::Duration;
use crate::inventory::{Inventory, Item, Purpose, SameSite, StorageKind};
use crate::ocd;

use super::ctx::{Ctx, Seg, did_you_mean};
use super::syntax::*;
use Seg::{Index as I, Key as K};

pub(super) fn categories(cx: &mut Ctx<'_>, inv: &Inventory) {
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
pub(super) fn item_rules(
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
    if item.review {
        cx.warn(
            "review-suggested",
            &at("review"),
            format!(
                "`{}` was drafted into `{}` with low confidence and is marked for review",
                item.name, item.category
            ),
            "check what it does, fix `category` if needed, then remove `review = true`",
        );
    }
    let required = inv.is_required(&item.category);
    // A framework that makes a cookie script-readable on purpose (Django's `csrftoken`,
    // `XSRF-TOKEN`) cannot have it HttpOnly, and it carries no credential.
    let script_readable = crate::classify::frameworks::lookup(&item.name)
        .is_some_and(|f| f.http_only == crate::classify::frameworks::HttpOnly::ScriptReadable);
    if required
        && !script_readable
        && looks_like_auth(item, lang)
        && (item.http_only != Some(true) || item.secure != Some(true))
    {
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
    // Without `domain` a cookie is read as living on the site (first party, set on its behalf
    // by the named provider). A plain name the database knows only on another party's domain
    // (`VISITOR_INFO1_LIVE` on youtube.com) is that party's cookie, declared without its domain.
    if is_cookie
        && item.domain.is_none()
        && let Some(provider) = item.set_by()
        && !item.name.starts_with('_')
        && let Some((e, ocd::DomainAgreement::Other)) =
            ocd::lookup_detailed(&item.name, inv.site.origins.first().map(String::as_str))
        && e.name == item.name
    {
        cx.warn(
            "third-party-without-domain",
            &at("name"),
            format!(
                "`{}` has no `domain`, so the policy lists it as first party set on the site by {provider}, but the Open Cookie Database knows it on `{}`",
                item.name, e.domain
            ),
            format!("if it lives there, declare `domain = \".{}\"` so the policy lists it as third party", e.domain),
        );
    }
    if required {
        let domain = item.domain.as_deref().or_else(|| inv.site.origins.first().map(String::as_str));
        let name = match item.pattern() {
            Ok(crate::pattern::NamePattern::Prefix(p)) => p,
            _ => item.name.clone(),
        };
        // The same classifier as the scanner: it says analytics or marketing, and an Open
        // Cookie Database entry that applies here (a platform's entry only on that
        // platform's domain; a tracker's `_`-prefixed name anywhere) agrees.
        let obs = crate::classify::Observation {
            name: name.clone(),
            domain: domain.map(str::to_string),
            storage: Some(item.storage()),
            http_only: item.http_only,
            secure: item.secure,
            ..Default::default()
        };
        let c = crate::classify::classify(&obs);
        if let Some(e) = c.ocd
            && c.source == crate::classify::Source::OpenCookieDatabase
            && matches!(c.purpose, Purpose::Analytics | Purpose::Marketing)
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

pub(super) fn duplicates(cx: &mut Ctx<'_>, inv: &Inventory) {
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
