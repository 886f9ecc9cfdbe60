//! Policy changes in a visitor's words: what `crumb policy diff` prints next to each change,
//! and the "what changed" section a policy shows for its last material version.

use crumb_core::Text;
use crumb_core::diff::{Change, What, diff};
use crumb_core::inventory::{Inventory, StorageKind};
use serde::Serialize;

use crate::change_texts::change_texts;
use crate::i18n::texts;
use crate::words::{duration_text_words, join_list, quoted};

/// The "what changed" section of a policy.
#[derive(Debug, Clone, Serialize)]
pub struct ChangesView {
    /// The section heading, naming the earlier version's effective date.
    pub heading: String,
    /// Policy version of the earlier inventory.
    pub since_version: String,
    /// Effective date of the earlier inventory.
    pub since_date: String,
    /// One sentence per material change.
    pub items: Vec<String>,
}

/// The material changes from `old` to `new` in `lang`; `None` when there are none.
pub fn changes_view(old: &Inventory, new: &Inventory, lang: &str) -> Option<ChangesView> {
    let items: Vec<String> =
        diff(old, new).iter().filter(|c| c.material).map(|c| change_sentence(c, old, new, lang)).collect();
    if items.is_empty() {
        return None;
    }
    Some(ChangesView {
        heading: texts(lang).changes_since.replace("{date}", &old.site.effective_date),
        since_version: crumb_core::policy_version(old),
        since_date: old.site.effective_date.clone(),
        items,
    })
}

fn sentence_end(s: &str) -> String {
    let s = s.trim();
    if s.ends_with(['.', '!', '?', '…']) { s.to_string() } else { format!("{s}.") }
}

/// One change in a visitor's words in `lang`: names and titles from the inventory that has
/// them (the new one, or the old one for what was removed), durations in words.
pub fn change_sentence(c: &Change, old: &Inventory, new: &Inventory, lang: &str) -> String {
    let t = texts(lang);
    let ct = change_texts(lang);
    let default = new.default_language();
    let text = |x: &Text| x.get(lang, default).trim().to_string();
    let title = |id: &str| {
        let c = new.category(id).or_else(|| old.category(id));
        quoted(&c.map(|c| text(&c.title)).unwrap_or_else(|| id.to_string()), t)
    };
    let item = |storage: StorageKind, name: &str| {
        new.items().chain(old.items()).find(|i| i.storage() == storage && i.name == name).cloned()
    };
    let service = |id: &str| new.service(id).or_else(|| old.service(id)).cloned();
    let dur = |s: &str, storage| duration_text_words(s, storage, t);
    let q = |s: &str| quoted(s, t);
    let signal = |s: &str| if s == "dnt" { "Do Not Track (DNT)" } else { "Global Privacy Control (GPC)" };
    match &c.what {
        What::Site => ct.site.to_string(),
        What::SignalIgnored { signal: s } => ct.signal_ignored.replace("{signal}", signal(s)),
        What::SignalHonoured { signal: s } => ct.signal_honoured.replace("{signal}", signal(s)),
        What::Lifetime { from, to } => ct
            .lifetime
            .replace("{from}", &dur(from, StorageKind::Cookie))
            .replace("{to}", &dur(to, StorageKind::Cookie)),
        What::RegionalMode => ct.regional.to_string(),
        What::Announcements => ct.announcements.to_string(),
        What::BannerOn => ct.banner_on.to_string(),
        What::BannerOff => ct.banner_off.to_string(),
        What::NewCategory { category } => ct.new_category.replace("{title}", &title(category)).replace(
            "{description}",
            &sentence_end(&new.category(category).map(|c| text(&c.description)).unwrap_or_default()),
        ),
        What::CategoryAsks { category } => ct.category_asks.replace("{title}", &title(category)),
        What::CategoryRequired { category } => ct.category_required.replace("{title}", &title(category)),
        What::CategoryText { category } => ct.category_text.replace("{title}", &title(category)).replace(
            "{description}",
            &sentence_end(&new.category(category).map(|c| text(&c.description)).unwrap_or_default()),
        ),
        What::CategoryTypes { category, more } => {
            (if *more { ct.category_more } else { ct.category_fewer }).replace("{title}", &title(category))
        }
        What::CategoryRemoved { category } => ct.category_removed.replace("{title}", &title(category)),
        What::NewItem { storage, name, category } => {
            let i = item(*storage, name);
            let purpose = i.as_ref().map(|i| text(&i.purpose)).unwrap_or_default();
            let duration = i.as_ref().map(|i| dur(&i.duration, *storage)).unwrap_or_default();
            (if *storage == StorageKind::Cookie { ct.new_cookie } else { ct.new_storage })
                .replace("{name}", &q(name))
                .replace("{category}", &title(category))
                .replace("{purpose}", purpose.trim_end_matches('.'))
                .replace("{duration}", &duration)
        }
        What::ItemCategory { name, from, to, .. } => {
            ct.item_category.replace("{name}", &q(name)).replace("{from}", &title(from)).replace("{to}", &title(to))
        }
        What::ItemPurpose { storage, name } => ct
            .item_purpose
            .replace("{name}", &q(name))
            .replace("{purpose}", &sentence_end(&item(*storage, name).map(|i| text(&i.purpose)).unwrap_or_default())),
        What::ItemSetter { storage, name } => {
            let i = new.items().find(|i| i.storage() == *storage && &i.name == name);
            let by = i.and_then(|i| i.set_by()).unwrap_or(&new.site.name).to_string();
            ct.item_setter.replace("{name}", &q(name)).replace("{provider}", &by)
        }
        What::ItemDuration { storage, name, from, to, .. } => ct
            .item_duration
            .replace("{name}", &q(name))
            .replace("{from}", &dur(from, *storage))
            .replace("{to}", &dur(to, *storage)),
        What::ItemAttributes { name, .. } => ct.item_attributes.replace("{name}", &q(name)),
        What::ItemMatch { name, .. } => ct.item_match.replace("{name}", &q(name)),
        What::ItemRemoved { name, .. } => ct.item_removed.replace("{name}", &q(name)),
        What::NewService { service: id } => {
            let s = service(id);
            ct.new_service
                .replace("{service}", &s.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| id.clone()))
                .replace("{provider}", &s.as_ref().map(|s| s.provider.clone()).unwrap_or_default())
                .replace("{category}", &title(&s.map(|s| s.category).unwrap_or_default()))
        }
        What::ServiceCategory { service: id, from, to } => ct
            .service_category
            .replace("{service}", &service(id).map(|s| s.name).unwrap_or_else(|| id.clone()))
            .replace("{from}", &title(from))
            .replace("{to}", &title(to)),
        What::ServicePurpose { service: id } => {
            let s = service(id);
            ct.service_purpose
                .replace("{service}", &s.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| id.clone()))
                .replace("{purpose}", &sentence_end(&s.map(|s| text(&s.purpose)).unwrap_or_default()))
        }
        What::ServiceHosts { service: id, hosts } => ct
            .service_hosts
            .replace("{service}", &service(id).map(|s| s.name).unwrap_or_else(|| id.clone()))
            .replace("{hosts}", &join_list(hosts, t)),
        What::ServiceProvider { service: id } => {
            let s = service(id);
            ct.service_provider
                .replace("{service}", &s.as_ref().map(|s| s.name.clone()).unwrap_or_else(|| id.clone()))
                .replace("{provider}", &s.map(|s| s.provider).unwrap_or_default())
        }
        What::ServiceDetails { service: id } => {
            ct.service_details.replace("{service}", &service(id).map(|s| s.name).unwrap_or_else(|| id.clone()))
        }
        What::ServiceRemoved { service: id } => {
            ct.service_removed.replace("{service}", &service(id).map(|s| s.name).unwrap_or_else(|| id.clone()))
        }
    }
}
