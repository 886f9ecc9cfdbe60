//! Every `crumb check` diagnostic, each triggered by a small inventory, with the span it
//! points at.

use crumb_core::check::{Severity, check_source};

const BASE: &str = r#"
[site]
id = "shop"
name = "Shop"
origins = ["shop.example", "*.shop.example"]
controller = "Shop Ltd."
contact = "privacy@shop.example"
effective_date = "2026-01-01"
languages = ["en"]

[[categories]]
id = "necessary"
title = "Necessary"
description = "Needed."
required = true
consent_mode = ["security_storage"]

[[categories]]
id = "analytics"
title = "Analytics"
description = "Measurement."
consent_mode = ["analytics_storage"]

[[cookies]]
name = "crumb_consent"
category = "necessary"
purpose = "Remembers your choice."
duration = "6 months"

[[storage]]
name = "crumb_consent"
kind = "local_storage"
category = "necessary"
purpose = "Keeps the receipt of your last choice."
duration = "persistent"

[[cookies]]
name = "_pk_id.*"
category = "analytics"
purpose = "Visitor id."
duration = "13 months"
"#;

/// Check `src` and return the diagnostic with `code`, asserting its severity and that its
/// span covers `points_at`.
fn expect(src: &str, code: &str, severity: Severity, points_at: Option<&str>) {
    let checked = check_source(src);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("expected `{code}`, got {:#?}", checked.diagnostics));
    assert_eq!(d.severity, severity, "{d:#?}");
    assert!(d.help.as_deref().is_some_and(|h| !h.is_empty()), "every diagnostic says how to fix it: {d:#?}");
    if let Some(text) = points_at {
        let span = d.span.clone().unwrap_or_else(|| panic!("`{code}` has no span"));
        let at = &src[span.clone()];
        assert!(at.contains(text), "`{code}` points at {at:?} ({span:?}), expected it to contain {text:?}");
    }
}

fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn base_is_clean() {
    let c = check_source(BASE);
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn empty_and_syntax() {
    expect("", "empty", Severity::Error, None);
    expect("  \n\n", "empty", Severity::Error, None);
    expect("[site\nid = 1", "syntax", Severity::Error, Some(""));
    expect(&with("[[cookies]]\nname = \"x\"\nname = \"y\""), "syntax", Severity::Error, None);
}

#[test]
fn unknown_keys_say_did_you_mean() {
    let src = BASE.replace("purpose = \"Visitor id.\"", "purpsoe = \"Visitor id.\"");
    expect(&src, "unknown-key", Severity::Error, Some("purpsoe"));
    let d = check_source(&src).diagnostics.into_iter().find(|d| d.code == "unknown-key").expect("diagnostic");
    assert_eq!(d.help.as_deref(), Some("did you mean `purpose`?"));
}

#[test]
fn wrong_types_and_missing_keys() {
    expect(&BASE.replace("required = true", "required = \"yes\""), "wrong-type", Severity::Error, Some("\"yes\""));
    expect(&BASE.replace("controller = \"Shop Ltd.\"\n", ""), "missing-key", Severity::Error, None);
    expect(
        &BASE.replace("\"analytics_storage\"", "\"analytics\""),
        "unknown-value",
        Severity::Error,
        Some("analytics"),
    );
}

#[test]
fn unknown_category_suggests() {
    let src = BASE.replace("category = \"analytics\"", "category = \"analytic\"");
    expect(&src, "unknown-category", Severity::Error, Some("\"analytic\""));
    let d = check_source(&src).diagnostics.into_iter().find(|d| d.code == "unknown-category").expect("diagnostic");
    assert_eq!(d.help.as_deref(), Some("did you mean `analytics`?"));
}

#[test]
fn duplicates() {
    expect(
        &with("[[cookies]]\nname = \"crumb_consent\"\ncategory = \"necessary\"\npurpose = \"x\"\nduration = \"1 day\""),
        "duplicate-item",
        Severity::Error,
        Some("crumb_consent"),
    );
    expect(
        &with("[[categories]]\nid = \"analytics\"\ntitle = \"A\"\ndescription = \"B\""),
        "duplicate-category",
        Severity::Error,
        Some("\"analytics\""),
    );
    let svc = "[[services]]\nid = \"m\"\nname = \"M\"\nprovider = \"M\"\ncategory = \"analytics\"\n";
    expect(&with(&format!("{svc}{svc}")), "duplicate-service", Severity::Error, Some("\"m\""));
    expect(
        &BASE.replace("languages = [\"en\"]", "languages = [\"en\", \"en\"]"),
        "duplicate-language",
        Severity::Error,
        Some("\"en\""),
    );
}

#[test]
fn bad_durations() {
    expect(&BASE.replace("\"13 months\"", "\"13 moons\""), "duration", Severity::Error, Some("13 moons"));
    expect(&BASE.replace("\"13 months\"", "\"forever\""), "duration", Severity::Error, Some("forever"));
    expect(&with("[rules]\nretain = \"ages\""), "duration", Severity::Error, Some("ages"));
    expect(&BASE.replace("\"13 months\"", "\"2 years\""), "duration-capped", Severity::Warning, Some("2 years"));
}

#[test]
fn consent_lifetime_over_13_months() {
    expect(&with("[rules]\nconsent_lifetime = \"14 months\""), "consent-lifetime", Severity::Error, Some("14 months"));
    expect(&with("[rules]\nconsent_lifetime = \"session\""), "consent-lifetime", Severity::Error, Some("session"));
    assert!(!check_source(&with("[rules]\nconsent_lifetime = \"13 months\"")).has_errors());
    assert!(!check_source(&with("[rules]\nconsent_lifetime = \"P1Y\"")).has_errors());
}

#[test]
fn banner_off_with_non_essential_items() {
    expect(&with("[banner]\nenabled = false"), "banner-off", Severity::Error, Some("false"));
    // Essential only: turning the banner off is fine.
    let essential = BASE.split("[[categories]]\nid = \"analytics\"").next().expect("split").to_string();
    let essential = format!("{essential}\n[banner]\nenabled = false\n");
    let c = check_source(&essential);
    assert!(!c.has_errors(), "{:#?}", c.diagnostics);
}

#[test]
fn required_category_with_tracking_consent_mode() {
    let src =
        BASE.replace("consent_mode = [\"security_storage\"]", "consent_mode = [\"security_storage\", \"ad_storage\"]");
    expect(&src, "required-tracking", Severity::Error, Some("ad_storage"));
}

#[test]
fn insecure_auth_cookie_warns() {
    let src = with(
        "[[cookies]]\nname = \"sessionid\"\ncategory = \"necessary\"\npurpose = \"Keeps you signed in.\"\nduration = \"session\"\nhttp_only = true",
    );
    expect(&src, "insecure-auth-cookie", Severity::Warning, Some("sessionid"));
    let d = check_source(&src).diagnostics.into_iter().find(|d| d.code == "insecure-auth-cookie").expect("d");
    assert!(d.message.contains("Secure") && !d.message.contains("HttpOnly"), "{}", d.message);
    let ok = with(
        "[[cookies]]\nname = \"sessionid\"\ncategory = \"necessary\"\npurpose = \"Keeps you signed in.\"\nduration = \"session\"\nhttp_only = true\nsecure = true",
    );
    let c = check_source(&ok);
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn framework_csrf_tokens_are_not_asked_to_be_http_only() {
    // Django makes `csrftoken` script-readable on purpose (CSRF_COOKIE_HTTPONLY = False).
    let src = with(
        "[[cookies]]\nname = \"csrftoken\"\ncategory = \"necessary\"\npurpose = \"Protects forms against CSRF.\"\nduration = \"1 year\"\nhttp_only = false",
    );
    let c = check_source(&src);
    assert!(!c.diagnostics.iter().any(|d| d.code == "insecure-auth-cookie"), "{:#?}", c.diagnostics);
    // Django's session id on the site's own domain is not Instagram's marketing cookie.
    let s = with(
        "[[cookies]]\nname = \"sessionid\"\ncategory = \"necessary\"\npurpose = \"Keeps you signed in.\"\nduration = \"session\"\nhttp_only = true\nsecure = true",
    );
    assert!(check_source(&s).diagnostics.is_empty(), "{:#?}", check_source(&s).diagnostics);
}

#[test]
fn items_marked_for_review_warn() {
    let src = with(
        "[[cookies]]\nname = \"zq_pref\"\ncategory = \"necessary\"\npurpose = \"Drafted.\"\nduration = \"1 year\"\nreview = true",
    );
    expect(&src, "review-suggested", Severity::Warning, Some("true"));
}

#[test]
fn known_tracking_cookie_declared_necessary_names_the_entry() {
    let src =
        with("[[cookies]]\nname = \"_ga\"\ncategory = \"necessary\"\npurpose = \"Needed.\"\nduration = \"1 year\"");
    expect(&src, "known-tracking-as-necessary", Severity::Warning, Some("\"necessary\""));
    let d = check_source(&src).diagnostics.into_iter().find(|d| d.code == "known-tracking-as-necessary").expect("d");
    assert!(
        d.message.contains("Google Analytics") && d.message.contains("analytics") && d.message.contains("entry"),
        "{}",
        d.message
    );
    let fbp =
        with("[[cookies]]\nname = \"_fbp\"\ncategory = \"necessary\"\npurpose = \"Needed.\"\nduration = \"90 days\"");
    expect(&fbp, "known-tracking-as-necessary", Severity::Warning, None);
}

#[test]
fn site_fields() {
    expect(&BASE.replace("id = \"shop\"", "id = \"Shop Site\""), "site-id", Severity::Error, Some("Shop Site"));
    expect(&BASE.replace("\"shop.example\", ", "\"shop example\", "), "origin", Severity::Error, Some("shop example"));
    expect(&BASE.replace("privacy@shop.example", "nobody"), "contact", Severity::Error, Some("nobody"));
    expect(&BASE.replace("2026-01-01", "01/01/2026"), "effective-date", Severity::Error, Some("01/01/2026"));
    expect(
        &BASE.replace("languages = [\"en\"]", "languages = [\"english!\"]"),
        "language",
        Severity::Error,
        Some("english!"),
    );
    expect(&BASE.replace("languages = [\"en\"]", "languages = []"), "languages", Severity::Error, Some("[]"));
    expect(
        &BASE.replace("origins = [\"shop.example\", \"*.shop.example\"]", "origins = []"),
        "origins",
        Severity::Error,
        Some("[]"),
    );
    expect(&BASE.replace("controller = \"Shop Ltd.\"", "controller = \"\""), "controller", Severity::Error, None);
    expect(&BASE.replace("name = \"Shop\"", "name = \" \""), "site-name", Severity::Error, None);
    let src =
        BASE.replace("languages = [\"en\"]", "languages = [\"en\"]\nprivacy_policy_url = \"javascript:alert(1)\"");
    expect(&src, "url", Severity::Error, Some("javascript:alert(1)"));
    let src = BASE.replace("languages = [\"en\"]", "languages = [\"en\"]\ncookie_domain = \"other.example\"");
    expect(&src, "cookie-domain", Severity::Error, Some("other.example"));
}

#[test]
fn categories_rules() {
    expect(
        &BASE
            .replace("id = \"analytics\"", "id = \"Analytics!\"")
            .replace("category = \"analytics\"", "category = \"Analytics!\""),
        "category-id",
        Severity::Error,
        Some("Analytics!"),
    );
    expect(&BASE.replace("title = \"Analytics\"", "title = \"\""), "category-title", Severity::Error, None);
    expect(
        &BASE.replace("description = \"Measurement.\"", "description = \"\""),
        "category-description",
        Severity::Error,
        None,
    );
    let src = with(
        "[[categories]]\nid = \"marketing\"\ntitle = \"Marketing\"\ndescription = \"Ads.\"\nconsent_mode = [\"ad_storage\"]",
    );
    expect(&src, "empty-category", Severity::Warning, Some("marketing"));
    let none = BASE.split("[[categories]]").next().expect("head");
    expect(none, "no-categories", Severity::Error, None);
}

#[test]
fn item_rules() {
    expect(&BASE.replace("\"_pk_id.*\"", "\"_pk*id\""), "pattern", Severity::Error, Some("_pk*id"));
    expect(&BASE.replace("\"_pk_id.*\"", "\"pk id\""), "cookie-name", Severity::Error, Some("pk id"));
    expect(&BASE.replace("purpose = \"Visitor id.\"", "purpose = \"\""), "purpose", Severity::Error, None);
    expect(
        &with(
            "[[cookies]]\nname = \"x\"\nkind = \"local_storage\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"1 day\"",
        ),
        "storage-kind",
        Severity::Error,
        Some("local_storage"),
    );
    expect(
        &with("[[storage]]\nname = \"x\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"persistent\""),
        "storage-kind",
        Severity::Error,
        Some("\"x\""),
    );
    expect(
        &with(
            "[[storage]]\nname = \"x\"\nkind = \"local_storage\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"persistent\"\nsecure = true",
        ),
        "cookie-attribute",
        Severity::Error,
        Some("true"),
    );
    expect(
        &with("[[cookies]]\nname = \"x\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"persistent\""),
        "duration",
        Severity::Error,
        Some("persistent"),
    );
    expect(
        &with(
            "[[cookies]]\nname = \"x\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"1 day\"\nsame_site = \"none\"",
        ),
        "samesite-none",
        Severity::Error,
        Some("none"),
    );
    expect(
        &with(
            "[[cookies]]\nname = \"x\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"1 day\"\npath = \"app\"",
        ),
        "cookie-path",
        Severity::Error,
        Some("app"),
    );
    expect(
        &with(
            "[[cookies]]\nname = \"x\"\ncategory = \"necessary\"\npurpose = \"p\"\nduration = \"1 day\"\ndomain = \"a b\"",
        ),
        "cookie-domain",
        Severity::Error,
        Some("a b"),
    );
    expect(
        &with(
            "[[cookies]]\nname = \"x\"\ncategory = \"necessary\"\nservice = \"nope\"\npurpose = \"p\"\nduration = \"1 day\"",
        ),
        "unknown-service",
        Severity::Error,
        Some("nope"),
    );
}

#[test]
fn service_rules() {
    let svc = |extra: &str| {
        with(&format!("[[services]]\nid = \"m\"\nname = \"M\"\nprovider = \"M\"\ncategory = \"analytics\"\n{extra}"))
    };
    expect(&svc("privacy_policy = \"javascript:alert(1)\""), "url", Severity::Error, Some("javascript:"));
    expect(&svc("hosts = [\"bad host\"]"), "host", Severity::Error, Some("bad host"));
    expect(&svc("cookies = [\"_pk_idd\"]"), "unknown-item", Severity::Error, Some("_pk_idd"));
    expect(&svc("url_patterns = [\"cdn.example/x\"]"), "url-pattern", Severity::Error, Some("cdn.example/x"));
    expect(&svc("inline_patterns = [\"init\"]"), "inline-pattern", Severity::Error, Some("\"init\""));
    // A service needing consent that nothing can recognise, and the three ways to fix it.
    expect(&svc(""), "unrecognisable-service", Severity::Warning, Some("\"m\""));
    for fix in [
        "hosts = [\"cdn.m.example\"]",
        "url_patterns = [\"https://cdn.jsdelivr.net/npm/m-js\"]",
        "inline_patterns = [\"m.init(\"]",
    ] {
        let codes: Vec<String> = check_source(&svc(fix)).diagnostics.into_iter().map(|d| d.code.to_string()).collect();
        assert!(codes.is_empty(), "{fix}: {codes:?}");
    }
    // A strictly necessary service is never held back, so it needs no patterns.
    let necessary = with("[[services]]\nid = \"n\"\nname = \"N\"\nprovider = \"N\"\ncategory = \"necessary\"\n");
    assert!(check_source(&necessary).diagnostics.iter().all(|d| d.code != "unrecognisable-service"));
    expect(
        &with("[[services]]\nid = \"Bad Id\"\nname = \"M\"\nprovider = \"M\"\ncategory = \"analytics\""),
        "service-id",
        Severity::Error,
        Some("Bad Id"),
    );
    expect(
        &with("[[services]]\nid = \"m\"\nname = \"M\"\nprovider = \"M\"\ncategory = \"stats\""),
        "unknown-category",
        Severity::Error,
        Some("stats"),
    );
    expect(
        &with(
            "[[services]]\nid = \"m\"\nname = \"M\"\nprovider = \"M\"\ncategory = \"necessary\"\ncookies = [\"_pk_id.*\"]",
        ),
        "service-category",
        Severity::Error,
        Some("necessary"),
    );
}

#[test]
fn regional_rules() {
    expect(
        &with("[rules]\nregional_mode = \"by_country\"\nopt_out_countries = [\"US\"]"),
        "country-header",
        Severity::Error,
        Some("by_country"),
    );
    expect(
        &with("[rules]\nregional_mode = \"by_country\"\ncountry_header = \"CF-IPCountry\""),
        "opt-out-countries",
        Severity::Warning,
        None,
    );
    expect(&with("[rules]\nopt_out_countries = [\"US\"]"), "opt-out-countries", Severity::Warning, Some("US"));
    expect(
        &with(
            "[rules]\nregional_mode = \"by_country\"\ncountry_header = \"CF-IPCountry\"\nopt_out_countries = [\"USA!\"]",
        ),
        "country",
        Severity::Error,
        Some("USA!"),
    );
}

#[test]
fn translations_and_consent_cookie() {
    let src = BASE
        .replace("languages = [\"en\"]", "languages = [\"en\", \"de\"]")
        .replace("title = \"Analytics\"", "title = { en = \"Analytics\", fr = \"Statistiques\" }");
    let c = check_source(&src);
    assert!(
        c.diagnostics.iter().any(|d| d.code == "missing-translation" && d.message.contains("`de`")),
        "{:#?}",
        c.diagnostics
    );
    assert!(c.diagnostics.iter().any(|d| d.code == "unknown-language" && d.message.contains("`fr`")));
    assert!(!c.has_errors());
    let src = BASE.replace("name = \"crumb_consent\"", "name = \"prefs\"");
    expect(&src, "consent-cookie-undeclared", Severity::Warning, None);
    let src = BASE.replace("kind = \"local_storage\"", "kind = \"session_storage\"");
    expect(&src, "consent-receipt-undeclared", Severity::Warning, None);
}

#[test]
fn examples_are_clean() {
    for src in [crumb_core::testdata::LEADSGEN, crumb_core::testdata::MIXERLEAD] {
        let c = check_source(src);
        assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
    }
}

#[test]
fn hostile_bytes_never_panic() {
    for src in [
        "\u{0}",
        "[site]\nid = \"\u{202e}\"",
        "a = 1\n".repeat(10_000).as_str(),
        "[[cookies]]\n".repeat(1_000).as_str(),
    ] {
        let _ = check_source(src);
    }
}

#[test]
fn retain_must_be_a_period() {
    expect(&with("[rules]\nretain = \"session\""), "retain", Severity::Error, Some("session"));
}

#[test]
fn every_diagnostic_code_has_a_test() {
    // Every module of the checker: a new rule module must be added here too.
    let src = [
        include_str!("../src/check/mod.rs"),
        include_str!("../src/check/site.rs"),
        include_str!("../src/check/items.rs"),
        include_str!("../src/check/services.rs"),
    ]
    .concat();
    let src = src.as_str();
    let tests = include_str!("check.rs");
    let code = regex::Regex::new(r#"(?:cx\.(?:error|warn)\(\s*|code: |code = )"([a-z-]+)""#).expect("regex");
    let mut missing = Vec::new();
    let found = code.captures_iter(src).count();
    assert!(found > 50, "the code pattern found only {found} diagnostics");
    for cap in code.captures_iter(src) {
        let c = &cap[1];
        // `invalid` is the fallback for serde errors the other codes do not describe.
        if c != "invalid" && !tests.contains(&format!("\"{c}\"")) {
            missing.push(c.to_string());
        }
    }
    assert!(missing.is_empty(), "diagnostics without a test: {missing:?}");
}

#[test]
fn a_known_third_party_cookie_without_its_domain_is_pointed_out() {
    let item = |extra: &str| {
        with(&format!(
            "[[cookies]]\nname = \"VISITOR_INFO1_LIVE\"\ncategory = \"analytics\"\nprovider = \"Google\"\npurpose = \"YouTube embed.\"\nduration = \"180 days\"\n{extra}"
        ))
    };
    expect(&item(""), "third-party-without-domain", Severity::Warning, Some("VISITOR_INFO1_LIVE"));
    let d =
        check_source(&item("")).diagnostics.into_iter().find(|d| d.code == "third-party-without-domain").expect("d");
    assert!(d.message.contains("youtube.com") && d.message.contains("first party"), "{}", d.message);
    let declared = check_source(&item("domain = \".youtube.com\""));
    assert!(declared.diagnostics.iter().all(|d| d.code != "third-party-without-domain"), "{:#?}", declared.diagnostics);
    // A load balancer's cookie on the site's own domain, set by its host, is first party.
    let lb = with(
        "[[cookies]]\nname = \"AWSALB\"\ncategory = \"necessary\"\nprovider = \"Amazon Web Services\"\npurpose = \"Load balancing.\"\nduration = \"7 days\"",
    );
    assert!(check_source(&lb).diagnostics.iter().all(|d| d.code != "third-party-without-domain"));
}
