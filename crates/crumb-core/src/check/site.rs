//! Rules about `[site]` and `[rules]`: ids, origins, contacts, languages, cookie domain,
//! consent lifetime and retention.

use std::collections::BTreeSet;

use crate::duration::{Duration, MONTH};
use crate::inventory::Inventory;

use super::ctx::{Ctx, MAX_LIFETIME_MONTHS, Seg};
use super::syntax::*;
use Seg::{Index as I, Key as K};

pub(super) fn site(cx: &mut Ctx<'_>, inv: &Inventory) {
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

pub(super) fn rules(cx: &mut Ctx<'_>, inv: &Inventory) {
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
