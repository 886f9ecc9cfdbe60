//! The banner's configuration and texts agree with the policy across the rule space: the
//! banner shows exactly when the policy says there is one, with the floating button, the
//! signal rules, the categories a signal refuses and the opt-in/opt-out choices the policy
//! describes, in every built-in language.

use crumb_banner::SiteBanner;
use crumb_banner::config::{ClientContext, client_config};
use crumb_core::inventory::{RegionalMode, SignalRule};
use crumb_core::parse_inventory;
use proptest::prelude::*;

/// A generated inventory: optional categories, signals, mode, banner and button switches.
fn toml_of(optional: &[bool], dnt: bool, gpc: bool, mode: usize, enabled: bool, fab: bool, services: bool) -> String {
    let cats = [
        ("functional", "Comfort", "[]"),
        ("analytics", "Stats", "[\"analytics_storage\"]"),
        ("marketing", "Ads", "[\"ad_storage\"]"),
    ];
    let signal = |b: bool| if b { "honor" } else { "ignore" };
    let mode_name = ["opt_in", "opt_out", "by_country"][mode];
    let mut t = format!(
        "[site]\nid = \"gen\"\nname = \"Gen\"\norigins = [\"gen.example\"]\ncontroller = \"Gen Ltd\"\ncontact = \"privacy@gen.example\"\n\
         effective_date = \"2026-01-01\"\nlanguages = [\"en\", \"de\", \"fr\"]\n[rules]\ndnt = \"{}\"\ngpc = \"{}\"\nregional_mode = \"{mode_name}\"\n{}\
         [banner]\nenabled = {}\nfloating_button = {fab}\n[[categories]]\nid = \"necessary\"\ntitle = \"Needed\"\ndescription = \"Needed.\"\nrequired = true\n\
         [[cookies]]\nname = \"sid\"\ncategory = \"necessary\"\npurpose = \"Session.\"\nduration = \"session\"\n",
        signal(dnt),
        signal(gpc),
        if mode == 2 { "country_header = \"CF-IPCountry\"\nopt_out_countries = [\"US-CA\"]\n" } else { "" },
        enabled || optional.iter().any(|o| *o),
    );
    for ((id, title, types), on) in cats.iter().zip(optional) {
        if *on {
            t.push_str(&format!(
                "[[categories]]\nid = \"{id}\"\ntitle = \"{title}\"\ndescription = \"About {title}.\"\nconsent_mode = {types}\n\
                 [[cookies]]\nname = \"c_{id}\"\ncategory = \"{id}\"\npurpose = \"For {title}.\"\nduration = \"30 days\"\n"
            ));
        }
    }
    if services {
        t.push_str("[[services]]\nid = \"pay\"\nname = \"Pay\"\nprovider = \"Pay Inc.\"\ncategory = \"necessary\"\nhosts = [\"pay.example\"]\nprivacy_policy = \"https://pay.example/privacy\"\non_interaction = true\n");
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn banner_and_policy_agree(
        optional in prop::collection::vec(any::<bool>(), 3),
        dnt in any::<bool>(),
        gpc in any::<bool>(),
        mode in 0usize..3,
        enabled in any::<bool>(),
        fab in any::<bool>(),
        services in any::<bool>(),
    ) {
        let src = toml_of(&optional, dnt, gpc, mode, enabled, fab, services);
        let inv = parse_inventory(&src).map_err(|e| TestCaseError::fail(format!("{e:?}\n{src}")))?;
        let view = crumb_policy::view(&inv, "en", None);
        let modes: &[RegionalMode] = match inv.rules.regional_mode {
            RegionalMode::OptIn => &[RegionalMode::OptIn],
            RegionalMode::OptOut => &[RegionalMode::OptOut],
            RegionalMode::ByCountry => &[RegionalMode::OptIn, RegionalMode::OptOut],
        };
        for &m in modes {
            let ctx = ClientContext { base_url: "https://consent.gen.example".into(), version: crumb_core::policy_version(&inv), valid_versions: Vec::new(), mode: m, region: None };
            let cfg = client_config(&inv, &ctx);
            prop_assert_eq!(cfg.needs_banner, view.facts.banner, "banner shown exactly when the policy says so");
            prop_assert_eq!(cfg.needs_banner && cfg.floating_button, view.facts.floating_button);
            prop_assert_eq!(cfg.signals.dnt == SignalRule::Honor, view.facts.dnt);
            prop_assert_eq!(cfg.signals.gpc == SignalRule::Honor, view.facts.gpc);
            let denied: Vec<String> = cfg.categories.iter().filter(|c| c.signals_deny).map(|c| c.id.clone()).collect();
            prop_assert_eq!(&denied, &view.facts.signal_denied, "the categories a signal refuses");
            let b = SiteBanner::build(&cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let js = String::from_utf8(b.banner.js.to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for lang in ["en", "de", "fr"] {
                let (c, _) = crumb_banner::text::for_language(lang);
                // Opt-out offers "Do Not Sell or Share" and no reject-all; opt-in the reverse.
                prop_assert_eq!(js.contains(c.dns), m == RegionalMode::OptOut, "{} {:?}", lang, m);
                prop_assert_eq!(js.contains(c.reject), m == RegionalMode::OptIn, "{} {:?}", lang, m);
                // The policy describes the same choice where the banner offers it.
                let policy = crumb_policy::view(&inv, lang, None);
                prop_assert_eq!(policy.sentences.opt_out.is_some(), view.facts.banner && inv.rules.regional_mode != RegionalMode::OptIn);
            }
            for partners in ["partners", "Partner", "partenaires"] {
                prop_assert!(!js.contains(partners), "the banner speaks of partners the site may not have");
            }
        }
    }
}
