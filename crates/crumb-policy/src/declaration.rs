//! The per-cookie details the banner loads on demand (`/s/{site}/declaration.json`).

use crumb_core::Party;
use crumb_core::inventory::{Inventory, MatchKind};

use crate::i18n;
use crate::words::{attributes, duration_words, safe_url};

/// Per-cookie details the banner loads on demand (`/s/{site}/declaration.json`): for each
/// category, its items with purpose and duration in every language of the site, their party
/// (`third_party` when the item lives on another site's domain; `set_by` the company that
/// sets a first-party item for the site), and, for the banner's deletion on refusal, each
/// item's `match` (`exact`, `prefix`, `regex`), `pattern` (the name, prefix or regex
/// source), `domain` and `path`.
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
                        Err(_) => (MatchKind::Exact, i.name.clone()),
                    };
                    let durations: serde_json::Map<String, serde_json::Value> = langs
                        .iter()
                        .map(|l| (l.clone(), duration_words(i.lifetime().ok().flatten(), i18n::texts(l)).into()))
                        .collect();
                    let third = inv.party(i) == Party::Third;
                    serde_json::json!({
                        "name": i.name,
                        "storage": i.storage().as_str(),
                        "provider": i.set_by().unwrap_or(&inv.site.name),
                        "third_party": third,
                        "set_by": if third { None } else { i.set_by() },
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
