//! `crumb check`: everything that makes an inventory contradict itself or the law it declares.
//!
//! [`check_source`] parses the TOML, then runs every rule; each [`Diagnostic`] carries the
//! byte span it is about so the CLI can point at file:line:column.

use toml::de::DeTable;

use crate::inventory::Inventory;

mod ctx;
mod items;
mod services;
mod site;
mod syntax;

use Seg::Key as K;
pub use ctx::{Checked, Diagnostic, MAX_LIFETIME_MONTHS, Severity, did_you_mean};
use ctx::{Ctx, Seg};

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
fn check_inventory(cx: &mut Ctx<'_>, inv: &Inventory) {
    site::site(cx, inv);
    site::rules(cx, inv);
    items::categories(cx, inv);
    let category_ids: Vec<&str> = inv.categories.iter().map(|c| c.id.as_str()).collect();
    for (array, items, is_cookie) in [("cookies", &inv.cookies, true), ("storage", &inv.storage, false)] {
        let array: &'static str = array;
        for (i, item) in items.iter().enumerate() {
            items::item_rules(cx, inv, &category_ids, array, i, item, is_cookie);
        }
    }
    items::duplicates(cx, inv);
    services::services(cx, inv, &category_ids);
    services::translations(cx, inv);
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
    if inv.banner.enabled
        && inv.has_non_essential()
        && !inv.storage.iter().any(|i| {
            i.storage() == crate::inventory::StorageKind::LocalStorage
                && i.pattern().is_ok_and(|p| p.matches(&inv.banner.cookie_name))
        })
    {
        cx.warn(
            "consent-receipt-undeclared",
            &[K("banner")],
            format!(
                "the `localStorage` item `{}` in which the banner keeps the visitor's receipt is not declared",
                inv.banner.cookie_name
            ),
            format!(
                "add a [[storage]] entry named `{}` with `kind = \"local_storage\"` in a strictly necessary \
                 category (duration `persistent`), so the policy lists it",
                inv.banner.cookie_name
            ),
        );
    }
}
