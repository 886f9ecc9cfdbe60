//! `--write-inventory`: a draft inventory from what a scan observed, or new entries merged
//! into an existing one. The result always passes `crumb check` (it is validated with
//! [`crumb_core::check_source`] before it is returned).

use std::collections::BTreeSet;

use crumb_core::inventory::{
    BannerSettings, Category, ConsentModeType, Inventory, Item, Purpose, Rules, SameSite, Site, StorageKind,
};
use crumb_core::{Duration, Matcher, Observed, Text};

use crate::classify::{self, SuggestionSource};
use crate::findings::suggestion_for;
use crate::model::{ObservedItem, ScanReport};

/// Why no draft could be written.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The existing file is not an inventory.
    #[error("the existing inventory could not be read: {0}")]
    Existing(String),
    /// The draft does not pass `crumb check` (a bug, or a merge with an invalid file).
    #[error("the draft does not pass `crumb check`: {0}")]
    Invalid(String),
}

fn standard_category(purpose: Purpose) -> Category {
    let (id, title, description, required, modes): (&str, &str, &str, bool, Vec<ConsentModeType>) = match purpose {
        Purpose::Necessary => (
            "necessary",
            "Strictly necessary",
            "Needed for the site to work; always on.",
            true,
            vec![ConsentModeType::SecurityStorage],
        ),
        Purpose::Functional => (
            "functional",
            "Functional",
            "Remember your choices and enable optional features.",
            false,
            vec![ConsentModeType::FunctionalityStorage, ConsentModeType::PersonalizationStorage],
        ),
        Purpose::Analytics => (
            "analytics",
            "Analytics",
            "Measure how the site is used so we can improve it.",
            false,
            vec![ConsentModeType::AnalyticsStorage],
        ),
        Purpose::Marketing => (
            "marketing",
            "Marketing",
            "Measure and personalise advertising, including across other sites.",
            false,
            vec![ConsentModeType::AdStorage, ConsentModeType::AdUserData, ConsentModeType::AdPersonalization],
        ),
    };
    Category {
        id: id.into(),
        title: Text::One(title.into()),
        description: Text::One(description.into()),
        required,
        consent_mode: modes,
        signals_deny: None,
    }
}

/// A declared duration for an observed lifetime: whole days (rounded up) from a day on,
/// whole hours below.
fn duration_for(o: &ObservedItem) -> String {
    match o.storage {
        StorageKind::Cookie => match (o.session, o.lifetime_seconds) {
            (Some(false), Some(s)) if s > 0 => {
                let day = crumb_core::duration::DAY;
                let hour = crumb_core::duration::HOUR;
                if s >= day {
                    Duration::Fixed(s.div_ceil(day) * day).humanize()
                } else {
                    Duration::Fixed(s.div_ceil(hour).max(1) * hour).humanize()
                }
            }
            _ => "session".into(),
        },
        StorageKind::SessionStorage => "session".into(),
        StorageKind::LocalStorage | StorageKind::IndexedDb => crumb_core::inventory::PERSISTENT.into(),
    }
}

fn new_inventory(report: &ScanReport) -> Inventory {
    let url = url::Url::parse(&report.target).ok();
    let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or("example.com").to_string();
    let id: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let origin = url.as_ref().map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let today = time::OffsetDateTime::now_utc().date();
    Inventory {
        schema: None,
        site: Site {
            id: if id.is_empty() { "site".into() } else { id },
            name: host.clone(),
            origins: vec![host.clone()],
            controller: host,
            contact: format!("{origin}/"),
            address: None,
            effective_date: format!("{:04}-{:02}-{:02}", today.year(), today.month() as u8, today.day()),
            languages: vec!["en".into()],
            cookie_domain: None,
            privacy_policy_url: None,
            intro: None,
        },
        rules: Rules::default(),
        banner: BannerSettings::default(),
        categories: vec![standard_category(Purpose::Necessary)],
        cookies: Vec::new(),
        storage: Vec::new(),
        services: Vec::new(),
    }
}

/// Third-party items belong to a service listing their host (an existing one, or a new
/// one per host), so the matcher fits them on that host.
fn attach_services(inv: &mut Inventory, items: &mut [Item], hosts: &[(String, usize)]) {
    let rank = |inv: &Inventory, cat: &str| match inv.category(cat).map(|c| c.purpose()) {
        Some(Purpose::Marketing) => 3,
        Some(Purpose::Analytics) => 2,
        Some(Purpose::Functional) => 1,
        _ => 0,
    };
    for (host, idx) in hosts {
        let Some(item) = items.get_mut(*idx) else { continue };
        let existing =
            inv.services.iter().position(|s| s.hosts.iter().any(|h| crumb_core::inventory::host_matches(h, host)));
        let si = match existing {
            Some(si) => si,
            None => {
                let id: String = host
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
                    .collect::<String>()
                    .trim_matches('-')
                    .to_string();
                let id = if inv.service(&id).is_some() || id.is_empty() {
                    format!("host-{}", inv.services.len() + 1)
                } else {
                    id
                };
                inv.services.push(crumb_core::Service {
                    id,
                    name: item.provider.clone().unwrap_or_else(|| host.clone()),
                    provider: item.provider.clone().unwrap_or_else(|| host.clone()),
                    category: item.category.clone(),
                    purpose: Text::One(String::new()),
                    hosts: vec![host.clone()],
                    url_patterns: Vec::new(),
                    inline_patterns: Vec::new(),
                    cookies: Vec::new(),
                    privacy_policy: None,
                    on_interaction: false,
                });
                inv.services.len() - 1
            }
        };
        let item_rank = rank(inv, &item.category);
        let svc = &mut inv.services[si];
        if !svc.cookies.contains(&item.name) {
            svc.cookies.push(item.name.clone());
        }
        item.service = Some(svc.id.clone());
        let svc_cat = svc.category.clone();
        if item_rank > rank(inv, &svc_cat) {
            inv.services[si].category = item.category.clone();
        }
    }
}

/// A service for every third-party host the pages contacted that no service lists yet
/// (scripts, pixels, frames that set nothing the scan could see), so the guard and the
/// banner can hold their tags back. The category is a guess (marketing, the strictest) that
/// the purpose text asks a person to review.
fn propose_host_services(inv: &mut Inventory, report: &ScanReport) {
    let mut seen = BTreeSet::new();
    let contacted = report.pages.iter().flat_map(|p| p.phases.iter()).flat_map(|ph| ph.third_party_hosts.iter());
    for h in contacted {
        let host = h.host.trim().trim_start_matches('.').to_ascii_lowercase();
        if host.is_empty()
            || inv.is_site_host(&host)
            || !seen.insert(host.clone())
            || inv.services.iter().any(|s| s.hosts.iter().any(|p| crumb_core::inventory::host_matches(p, &host)))
        {
            continue;
        }
        let category = match classify::category_for(inv, Purpose::Marketing) {
            Some(c) => c,
            None => {
                let c = standard_category(Purpose::Marketing);
                let id = c.id.clone();
                inv.categories.push(c);
                id
            }
        };
        let slug: String = host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        let id = if slug.is_empty() || inv.service(&slug).is_some() {
            format!("host-{}", inv.services.len() + 1)
        } else {
            slug
        };
        inv.services.push(crumb_core::Service {
            id,
            name: host.clone(),
            provider: host.clone(),
            category,
            purpose: Text::One(format!(
                "Contacted by the site's pages ({} requests, first {}). The category is a guess: say what it does and pick its category.",
                h.requests, h.first_url
            )),
            hosts: vec![host],
            url_patterns: Vec::new(),
            inline_patterns: Vec::new(),
            cookies: Vec::new(),
            privacy_policy: None,
            on_interaction: false,
        });
    }
}

/// The draft as TOML: `existing` (the file's current text, if any) with an entry added for
/// every observed item no declaration fits.
pub fn draft(report: &ScanReport, existing: Option<&str>) -> Result<String, DraftError> {
    let mut inv = match existing {
        Some(src) => toml::from_str::<Inventory>(src).map_err(|e| DraftError::Existing(e.message().to_string()))?,
        None => new_inventory(report),
    };
    let matcher = Matcher::new(&inv);
    let consent_cookie = inv.banner.cookie_name.clone();
    let mut added = BTreeSet::new();
    let mut new_items: Vec<Item> = Vec::new();
    let mut third_party_hosts: Vec<(String, usize)> = Vec::new();
    for o in report.observations() {
        let obs = Observed { storage: o.storage, name: &o.name, domain: Some(&o.domain) };
        if matcher.find_index(obs).is_some()
            || crate::findings::is_consent_record(o.storage, &o.name, o.third_party, &consent_cookie)
        {
            continue;
        }
        let s = suggestion_for(o, Some(&inv));
        let ocd = s.ocd.as_ref().filter(|_| s.source == SuggestionSource::OpenCookieDatabase);
        let name = match ocd {
            Some(e) if e.wildcard && o.name.starts_with(&e.name) && o.name != e.name => format!("{}*", e.name),
            _ => o.name.clone(),
        };
        let domain = if o.storage == StorageKind::Cookie && (o.third_party || o.domain.starts_with('.')) {
            Some(o.domain.clone())
        } else {
            None
        };
        if !added.insert((o.storage, name.clone(), domain.clone())) {
            continue;
        }
        let category = match inv.categories.iter().find(|c| c.purpose() == s.purpose) {
            Some(c) => c.id.clone(),
            None => {
                let c = standard_category(s.purpose);
                let id = c.id.clone();
                if inv.category(&id).is_none() {
                    inv.categories.push(c);
                }
                id
            }
        };
        let purpose = match ocd {
            Some(e) if !e.description.trim().is_empty() => e.description.trim().to_string(),
            _ => format!(
                "Observed by crumb scan on {} ({}); suggested category {} ({}). Describe what it does.",
                o.page,
                o.phase.as_str(),
                s.purpose.as_str(),
                s.reason
            ),
        };
        let provider = if o.third_party {
            Some(
                ocd.map(|e| e.controller.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .unwrap_or(o.domain.trim_start_matches('.').to_string()),
            )
        } else {
            None
        };
        let cookie = o.storage == StorageKind::Cookie;
        if o.third_party {
            third_party_hosts.push((o.domain.trim_start_matches('.').to_string(), new_items.len()));
        }
        new_items.push(Item {
            name,
            match_kind: None,
            kind: (!cookie).then_some(o.storage),
            category,
            provider,
            service: None,
            purpose: Text::One(purpose),
            duration: duration_for(o),
            domain,
            path: if cookie { o.path.clone() } else { None },
            http_only: if cookie { o.http_only } else { None },
            secure: if cookie { o.secure } else { None },
            same_site: if cookie {
                o.same_site.as_deref().and_then(|s| match s {
                    "Strict" => Some(SameSite::Strict),
                    "Lax" => Some(SameSite::Lax),
                    "None" => Some(SameSite::None),
                    _ => None,
                })
            } else {
                None
            },
            review: s.review,
        });
    }
    attach_services(&mut inv, &mut new_items, &third_party_hosts);
    propose_host_services(&mut inv, report);
    for item in new_items {
        if item.storage() == StorageKind::Cookie {
            inv.cookies.push(item);
        } else {
            inv.storage.push(item);
        }
    }
    let body = toml::to_string_pretty(&inv).map_err(|e| DraftError::Invalid(e.to_string()))?;
    let text = match existing {
        Some(_) => body,
        None => format!(
            "# Draft inventory written by `crumb scan --write-inventory` from {}.\n# Review every entry: the controller, contact and purposes need your words.\n\n{body}",
            report.target
        ),
    };
    let checked = crumb_core::check_source(&text);
    if checked.has_errors() {
        let msgs: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == crumb_core::Severity::Error)
            .map(|d| d.message.clone())
            .collect();
        return Err(DraftError::Invalid(msgs.join("; ")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
