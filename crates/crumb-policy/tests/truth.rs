//! Every sentence true across the rule space: inventories generated over banner on/off, DNT
//! and GPC honour/ignore, `opt_in`/`opt_out`/`by_country`, with and without third-party
//! cookies, services, on-interaction services, storage, a parent cookie domain and a
//! floating button, every `announce_changes` choice, one category or many, rendered in
//! every built-in language and every format.

use crumb_core::inventory::Inventory;
use crumb_core::{Party, parse_inventory};
use crumb_policy::i18n::{BUILT_IN, Texts};
use crumb_policy::{Format, RenderOptions, declaration, duration_words, escape_markdown, render};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Shape {
    banner_enabled: bool,
    floating_button: bool,
    dnt: bool,
    gpc: bool,
    mode: u8,
    optional: Vec<bool>,
    /// Per cookie: (category index, setter: 0 site / 1 processor / 2 third party, domain kind: 0 none / 1 site parent / 2 other site).
    cookies: Vec<(usize, u8, u8)>,
    storage: Vec<usize>,
    services: Vec<(usize, bool)>,
    cookie_domain: bool,
    announce: Vec<bool>,
}

const CATS: [(&str, &str); 4] =
    [("necessary", "Needed"), ("functional", "Comfort"), ("analytics", "Stats"), ("marketing", "Ads")];
const DURATIONS: [&str; 4] = ["session", "90 days", "1 year", "72 hours"];

fn shape() -> impl Strategy<Value = Shape> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), 0u8..3),
        prop::collection::vec(any::<bool>(), 3),
        prop::collection::vec((0usize..4, 0u8..3, 0u8..3), 0..5),
        prop::collection::vec(0usize..4, 0..3),
        prop::collection::vec((0usize..4, any::<bool>()), 0..3),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 4),
    )
        .prop_map(
            |(
                (banner_enabled, floating_button, dnt, gpc, mode),
                optional,
                cookies,
                storage,
                services,
                cookie_domain,
                announce,
            )| Shape {
                banner_enabled,
                floating_button,
                dnt,
                gpc,
                mode,
                optional,
                cookies,
                storage,
                services,
                cookie_domain,
                announce,
            },
        )
}

/// The inventory a shape describes, as `crumb.toml`; items in categories the shape leaves
/// out go to `necessary`.
fn toml_of(s: &Shape) -> String {
    let cats: Vec<usize> = std::iter::once(0).chain((1..4).filter(|i| s.optional[i - 1])).collect();
    let cat = |i: usize| CATS[if cats.contains(&i) { i } else { 0 }].0;
    let has_optional = cats.len() > 1;
    let signal = |b: bool| if b { "honor" } else { "ignore" };
    let mode = ["opt_in", "opt_out", "by_country"][s.mode as usize];
    let announce: Vec<String> = ["banner", "email", "in_app", "policy_date"]
        .iter()
        .zip(&s.announce)
        .filter(|(_, on)| **on)
        .map(|(a, _)| format!("\"{a}\""))
        .collect();
    let mut t = format!(
        "[site]\nid = \"gen\"\nname = \"Gen\"\norigins = [\"gen.example\", \"*.gen.example\"]\ncontroller = \"Gen Ltd\"\n\
         contact = \"privacy@gen.example\"\neffective_date = \"2026-01-01\"\nlanguages = [\"en\", \"de\", \"fr\"]\n{}\
         [rules]\ndnt = \"{}\"\ngpc = \"{}\"\nregional_mode = \"{mode}\"\n{}announce_changes = [{}]\n\
         [banner]\nenabled = {}\nfloating_button = {}\n",
        if s.cookie_domain { "cookie_domain = \"gen.example\"\n" } else { "" },
        signal(s.dnt),
        signal(s.gpc),
        if mode == "by_country" { "country_header = \"CF-IPCountry\"\nopt_out_countries = [\"US-CA\"]\n" } else { "" },
        announce.join(", "),
        s.banner_enabled || has_optional,
        s.floating_button,
    );
    for &i in &cats {
        let (id, title) = CATS[i];
        t.push_str(&format!(
            "[[categories]]\nid = \"{id}\"\ntitle = \"{title}\"\ndescription = \"About {title}.\"\nrequired = {}\n",
            i == 0
        ));
    }
    for (n, (c, setter, domain)) in s.cookies.iter().enumerate() {
        t.push_str(&format!(
            "[[cookies]]\nname = \"ck{n}\"\ncategory = \"{}\"\npurpose = \"Purpose of ck{n}.\"\nduration = \"{}\"\n",
            cat(*c),
            DURATIONS[n % 4]
        ));
        match setter {
            1 => t.push_str(&format!("provider = \"Proc{n}\"\n")),
            2 => t.push_str(&format!("provider = \"Other{n}\"\n")),
            _ => {}
        }
        match domain {
            1 => t.push_str("domain = \".gen.example\"\n"),
            2 => t.push_str(&format!("domain = \".other{n}.example\"\n")),
            _ => {}
        }
    }
    for (n, c) in s.storage.iter().enumerate() {
        t.push_str(&format!(
            "[[storage]]\nname = \"st{n}\"\nkind = \"local_storage\"\ncategory = \"{}\"\npurpose = \"Purpose of st{n}.\"\nduration = \"persistent\"\n",
            cat(*c)
        ));
    }
    for (n, (c, on_interaction)) in s.services.iter().enumerate() {
        t.push_str(&format!(
            "[[services]]\nid = \"sv{n}\"\nname = \"Svc{n}\"\nprovider = \"Svc{n} Inc.\"\ncategory = \"{}\"\npurpose = \"Does {n}.\"\n\
             hosts = [\"sv{n}.example\"]\nprivacy_policy = \"https://sv{n}.example/privacy\"\non_interaction = {on_interaction}\n",
            cat(*c)
        ));
    }
    t
}

/// Words that speak of a banner, its settings or switches, per language.
fn banner_words(lang: &str) -> &'static [&'static str] {
    match lang {
        "de" => &["banner", "einstellung", "schalt"],
        "fr" => &["bandeau", "paramètre", "activ"],
        _ => &["banner", "settings", "switch"],
    }
}

fn prefix(s: &str) -> &str {
    s.split('{').next().unwrap_or(s)
}

fn check(inv: &Inventory) -> Result<(), TestCaseError> {
    let banner = inv.banner.enabled && inv.has_non_essential();
    let optional_third = inv.cookies.iter().any(|i| !inv.is_required(&i.category) && inv.party(i) == Party::Third);
    let on_interaction = inv.services.iter().any(|s| s.on_interaction);
    let opt_out_somewhere = inv.rules.regional_mode != crumb_core::inventory::RegionalMode::OptIn;
    let decl = declaration(inv);
    for t in BUILT_IN.into_iter().filter(|t| inv.site.languages.iter().any(|l| l == t.lang)) {
        let t: &Texts = t;
        let opts = |format| RenderOptions { format, lang: Some(t.lang.into()), ..Default::default() };
        let json: serde_json::Value =
            serde_json::from_str(&render(inv, &opts(Format::Json)).expect("json")).expect("valid json");
        let html = render(inv, &opts(Format::Html)).expect("html");
        let md = render(inv, &opts(Format::Markdown)).expect("md");
        for (name, out) in [("html", &html), ("md", &md)] {
            let lower = out.to_lowercase();
            // No sentence about a mechanism the site does not have.
            let absent = |cond: bool, s: &str, what: &str| -> Result<(), TestCaseError> {
                prop_assert!(cond || !out.contains(prefix(s)), "{} {name}: says {what} ({:?})", t.lang, prefix(s));
                Ok(())
            };
            if !banner {
                for w in banner_words(t.lang) {
                    prop_assert!(!lower.contains(w), "{} {name}: no banner, but mentions {w:?}", t.lang);
                }
                prop_assert!(out.contains(t.exempt) && out.contains(t.ask_first), "{} {name}: exemption", t.lang);
            }
            absent(!banner, t.exempt, "the no-banner exemption")?;
            absent(banner && inv.banner.floating_button, t.manage_fab, "a floating button")?;
            absent(banner && inv.site.cookie_domain.is_some(), t.cookie_domain_note, "a parent cookie domain")?;
            absent(banner, t.manage_lifetime, "how long a choice is kept")?;
            absent(!inv.storage.is_empty(), t.storage_body, "web storage")?;
            absent(!inv.services.is_empty(), t.services_intro, "services")?;
            absent(on_interaction, t.on_interaction, "on-interaction services")?;
            absent(optional_third, t.withdraw_third_party, "third-party cookies it cannot delete")?;
            absent(opt_out_somewhere && banner, "Do Not Sell", "an opt-out choice")?;
            absent(
                banner && inv.rules.announce_changes.contains(&crumb_core::inventory::Announcement::Banner),
                t.announce_banner,
                "the banner asking again",
            )?;
            // DNT and GPC statements equal to the rules.
            for (rule, ignore, honour_off, honour_none) in [
                (inv.rules.dnt, t.dnt_ignore, t.dnt_honor_off, t.dnt_honor_none),
                (inv.rules.gpc, t.gpc_ignore, t.gpc_honor_off, t.gpc_honor_none),
            ] {
                let honoured = rule == crumb_core::inventory::SignalRule::Honor;
                prop_assert_eq!(out.contains(ignore), !honoured, "{} {}: {}", t.lang, name, ignore);
                prop_assert_eq!(
                    out.contains(prefix(honour_off)) || out.contains(honour_none),
                    honoured,
                    "{} {}: {}",
                    t.lang,
                    name,
                    honour_off
                );
            }
            // Every third-party service linked to its policy.
            for s in &inv.services {
                let url = s.privacy_policy.as_deref().expect("generated with a policy");
                let link = if name == "html" { format!("href=\"{url}\"") } else { format!("(<{url}>)") };
                prop_assert!(out.contains(&link), "{} {name}: {} not linked", t.lang, s.name);
            }
        }
        // Every declared item listed exactly once, with its duration and party.
        let listed: Vec<&serde_json::Value> = json["categories"]
            .as_array()
            .expect("categories")
            .iter()
            .flat_map(|c| c["cookies"].as_array().expect("cookies").iter())
            .chain(json["storage"].as_array().expect("storage").iter())
            .collect();
        prop_assert_eq!(listed.len(), inv.items().count());
        for i in inv.items() {
            let rows: Vec<_> = listed.iter().filter(|v| v["name"] == i.name.as_str()).collect();
            prop_assert_eq!(rows.len(), 1, "{} listed {} times", i.name, rows.len());
            let row = rows[0];
            let duration = duration_words(i.lifetime().expect("valid"), t);
            prop_assert_eq!(row["duration"].as_str(), Some(duration.as_str()));
            let party = match (inv.party(i), i.set_by()) {
                (Party::Third, _) => t.third_party.to_string(),
                (Party::First, Some(p)) => t.set_on_behalf.replace("{provider}", p),
                (Party::First, None) => t.first_party.to_string(),
            };
            prop_assert_eq!(row["party"].as_str(), Some(party.as_str()), "{}", i.name);
            let tr = format!("<tr data-name=\"{}\">", i.name);
            prop_assert_eq!(html.matches(&tr).count(), 1, "{} rows in HTML", i.name);
            let line = html.lines().find(|l| l.contains(&tr)).unwrap_or_default();
            let cell = format!("<td>{party}</td>");
            prop_assert!(
                line.contains(&cell) && line.contains(row["duration"].as_str().unwrap_or("?")),
                "HTML row {}",
                line
            );
            prop_assert_eq!(
                md.matches(&format!("\n| {} |", escape_markdown(&i.name))).count(),
                1,
                "{} rows in Markdown",
                i.name
            );
            let in_decl = decl["categories"]
                .as_array()
                .expect("categories")
                .iter()
                .flat_map(|c| c["items"].as_array().expect("items").iter())
                .filter(|d| d["name"] == i.name.as_str())
                .map(|d| d["third_party"].as_bool())
                .collect::<Vec<_>>();
            prop_assert_eq!(in_decl, vec![Some(inv.party(i) == Party::Third)], "banner declaration of {}", i.name);
        }
        prop_assert_eq!(json["has_banner"].as_bool(), Some(banner));
        prop_assert_eq!(
            json["rules"]["dnt"].as_str(),
            Some(if inv.rules.dnt == crumb_core::inventory::SignalRule::Honor { "honor" } else { "ignore" })
        );
        prop_assert_eq!(
            json["rules"]["gpc"].as_str(),
            Some(if inv.rules.gpc == crumb_core::inventory::SignalRule::Honor { "honor" } else { "ignore" })
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_sentence_is_true_across_the_rule_space(s in shape()) {
        let src = toml_of(&s);
        let inv = match parse_inventory(&src) {
            Ok(inv) => inv,
            Err(errors) => return Err(TestCaseError::fail(format!("generated inventory invalid: {errors:?}\n{src}"))),
        };
        check(&inv)?;
    }
}

fn fixture(name: &str) -> Inventory {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let src = std::fs::read_to_string(&path).expect("fixture");
    parse_inventory(&src).unwrap_or_else(|e| panic!("{name} is invalid: {e:?}"))
}

/// Named combinations, reviewed by reading the snapshots.
#[test]
fn named_combinations() {
    for (name, lang) in [
        ("essential-platform", "en"),
        ("essential-platform", "de"),
        ("opt-out-third-party", "en"),
        ("by-country-storage", "fr"),
        ("one-category-signals-idle", "en"),
    ] {
        let inv = fixture(&format!("{name}.toml"));
        check(&inv).expect("holds for the named combination");
        let md =
            render(&inv, &RenderOptions { format: Format::Markdown, lang: Some(lang.into()), ..Default::default() })
                .expect("renders");
        insta::assert_snapshot!(format!("{name}.{lang}.md"), md);
    }
}
