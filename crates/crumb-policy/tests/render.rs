//! The rendered policies: snapshots, the facts of the two reference policies, escaping of
//! hostile inventories, languages and template overrides.

use crumb_core::testdata::{LEADSGEN, MIXERLEAD};
use crumb_core::{Inventory, parse_inventory};
use crumb_policy::{Format, RenderOptions, render};

fn inv(src: &str) -> Inventory {
    parse_inventory(src).expect("example inventory is valid")
}

fn rendered(src: &str, format: Format, lang: Option<&str>) -> String {
    render(&inv(src), &RenderOptions { format, lang: lang.map(str::to_string), ..Default::default() }).expect("renders")
}

#[test]
fn snapshots() {
    for (name, src) in [("leadsgen", LEADSGEN), ("mixerlead", MIXERLEAD)] {
        insta::assert_snapshot!(format!("{name}.html"), rendered(src, Format::Html, None));
        insta::assert_snapshot!(format!("{name}.md"), rendered(src, Format::Markdown, None));
        insta::assert_snapshot!(format!("{name}.json"), rendered(src, Format::Json, None));
    }
    insta::assert_snapshot!("leadsgen.de.md", {
        let mut src = LEADSGEN.replace("languages = [\"en\"]", "languages = [\"en\", \"de\"]");
        src = src.replace("title = \"Analytics\"", "title = { en = \"Analytics\", de = \"Statistik\" }");
        render(&inv(&src), &RenderOptions { format: Format::Markdown, lang: Some("de".into()), ..Default::default() })
            .expect("renders")
    });
}

/// Each row of a policy table: (name, purpose, duration) as the reference policy states it.
const LEADSGEN_ROWS: &[(&str, &str, &str)] = &[
    ("next-auth.session-token", "Keeps you signed in", "30 days"),
    ("next-auth.csrf-token", "CSRF protection", "Session"),
    ("__stripe_mid", "Stripe fraud prevention", "1 year"),
    ("cookie-consent", "Remembers your cookie preferences", "1 year"),
    ("theme", "Dark/light mode preference", "1 year"),
    ("sidebar-collapsed", "Dashboard sidebar state", "1 year"),
    ("last-workspace", "Last active workspace", "30 days"),
    ("_plausible", "Privacy-friendly page views", "Session"),
    ("_vercel_analytics", "Web vitals + route timings", "Session"),
    ("_fbp", "Facebook Pixel (conversion tracking)", "90 days"),
    ("_gcl_au", "Google Ads attribution", "90 days"),
];

fn json(src: &str) -> serde_json::Value {
    serde_json::from_str(&rendered(src, Format::Json, None)).expect("valid JSON")
}

#[test]
fn leadsgen_states_every_fact_of_its_reference_policy() {
    let v = json(LEADSGEN);
    let cats: Vec<&str> =
        v["categories"].as_array().expect("array").iter().map(|c| c["id"].as_str().unwrap_or("")).collect();
    assert_eq!(cats, ["necessary", "functional", "analytics", "marketing"]);
    let rows: Vec<(String, String, String, String)> = v["categories"]
        .as_array()
        .expect("array")
        .iter()
        .flat_map(|c| {
            let cat = c["id"].as_str().unwrap_or("").to_string();
            c["cookies"].as_array().cloned().unwrap_or_default().into_iter().map(move |i| {
                (
                    cat.clone(),
                    i["name"].as_str().unwrap_or("").to_string(),
                    i["purpose"].as_str().unwrap_or("").to_string(),
                    i["duration"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect();
    assert_eq!(rows.len(), LEADSGEN_ROWS.len());
    for (name, purpose, duration) in LEADSGEN_ROWS {
        assert!(
            rows.iter().any(|(_, n, p, d)| n == name && p == purpose && d == duration),
            "{name} / {purpose} / {duration} not in {rows:#?}"
        );
    }
    let cat_of = |n: &str| rows.iter().find(|r| r.1 == n).map(|r| r.0.clone()).unwrap_or_default();
    assert_eq!(cat_of("__stripe_mid"), "necessary");
    assert_eq!(cat_of("_fbp"), "marketing");
    assert_eq!(cat_of("_gcl_au"), "marketing");
    assert_eq!(cat_of("theme"), "functional");
    assert_eq!(v["rules"]["dnt"], "honor");
    assert_eq!(v["rules"]["regional_mode"], "opt_in");
    assert_eq!(v["site"]["contact"], "privacy@leadsgen.app");
    assert_eq!(v["site"]["effective_date"], "2026-04-12");
    assert!(v["services"].as_array().expect("services").iter().any(|s| s["name"] == "Stripe"));

    let html = rendered(LEADSGEN, Format::Html, None);
    assert!(html.contains(
        "We honour the Do Not Track (DNT) signal: when your browser sends it, we take it as your refusal of “Analytics” and “Marketing”."
    ));
    let cookie = |n: &str| {
        v["categories"]
            .as_array()
            .expect("array")
            .iter()
            .flat_map(|c| c["cookies"].as_array().cloned().unwrap_or_default())
            .find(|c| c["name"] == n)
            .expect(n)
    };
    assert_eq!(cookie("__stripe_mid")["party"], "First party, set on our behalf by Stripe", "on the site's domain");
    assert_eq!(cookie("__stripe_mid")["third_party"], false);
    assert_eq!(cookie("_fbp")["set_by"], "Meta");
    assert!(html.contains("data-crumb-open"), "the policy links to the banner's preferences");
    assert!(html.contains("by the cookie banner, which asks you again"));
    assert!(html.contains("by an in-app notification"));
    assert!(html.contains("mailto:privacy@leadsgen.app"));
}

#[test]
fn mixerlead_states_every_fact_of_its_reference_policy() {
    let v = json(MIXERLEAD);
    let essential = &v["categories"][0];
    assert_eq!(essential["required"], true);
    assert_eq!(v["categories"].as_array().map(Vec::len), Some(1), "essential cookies only");
    let cookie =
        |n: &str| essential["cookies"].as_array().expect("cookies").iter().find(|c| c["name"] == n).cloned().expect(n);
    let auth = cookie("auth_token");
    assert_eq!(auth["duration"], "3 days", "72 hours");
    assert_eq!(auth["attributes"], "HttpOnly, Secure, SameSite=Lax, Domain=.mixerlead.com, Path=/");
    let flag = cookie("session_active");
    assert_eq!(flag["attributes"], "Secure, SameSite=Lax, Domain=.mixerlead.com, Path=/");
    assert!(flag["purpose"].as_str().expect("purpose").starts_with("JavaScript-readable session indicator"));
    let storage: Vec<&str> =
        v["storage"].as_array().expect("storage").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(storage, ["auth-storage", "app-storage"]);
    assert!(v["storage"].as_array().expect("storage").iter().all(|s| s["storage"] == "local_storage"));
    let services: Vec<&str> =
        v["services"].as_array().expect("services").iter().filter_map(|s| s["name"].as_str()).collect();
    for s in ["Razorpay", "Sign in with Google", "Sign in with Microsoft", "Sign in with GitHub", "ALTCHA"] {
        assert!(services.contains(&s), "{s} missing from {services:?}");
    }
    assert!(v["services"].as_array().expect("services").iter().all(|s| s["on_interaction"] == true));
    assert_eq!(v["has_banner"], false);
    assert_eq!(v["rules"]["announce_changes"], serde_json::json!(["email", "in_app", "policy_date"]));
    let html = rendered(MIXERLEAD, Format::Html, None);
    assert!(html.contains("ePrivacy Directive, Article 5(3)") && html.contains("regulation 6(4)"));
    for absent in ["banner", "settings", "switch", "data-crumb-open"] {
        assert!(!html.to_lowercase().contains(absent), "an essential-only policy mentions {absent:?}");
    }
    assert!(html.contains("does not set cookies or track users across sites"));
    assert!(html.contains("https://mixerlead.com/privacy"));
    assert!(html.contains("by e-mail"));
}

const HOSTILE: &str = r##"
[site]
id = "evil"
name = "<script>alert('name')</script>"
origins = ["evil.example"]
controller = "Evil & Co <b>bold</b>"
contact = "javascript:alert(1)"
effective_date = "2026-01-01"
privacy_policy_url = "javascript:alert('pp')"
intro = "# Heading injection\n[click](javascript:alert(2)) <img src=x onerror=alert(3)> {{ 7 * 7 }}"

[[categories]]
id = "necessary"
title = "</style><script>alert('title')</script>"
description = "| broken | table |"
required = true

[[cookies]]
name = "<img src=x onerror=alert(4)>"
category = "necessary"
purpose = "\"><svg onload=alert(5)>"
duration = "1 day"
domain = "\" onmouseover=\"alert(6)"

[[services]]
id = "svc"
name = "<iframe src=javascript:alert(7)>"
provider = "P"
category = "necessary"
hosts = ["<b>host</b>"]
privacy_policy = "javascript:alert('svc')"
"##;

#[test]
fn hostile_inventory_renders_escaped_in_every_format() {
    // Parsed without `crumb check` (which refuses most of this), to test the renderer alone.
    let inv: Inventory = toml::from_str(HOSTILE).expect("parses as TOML");
    let opts = |format| RenderOptions { format, ..Default::default() };
    let html = render(&inv, &opts(Format::Html)).expect("html");
    for bad in ["<script>alert", "<img src=x", "<svg", "<iframe", "href=\"javascript:", "<b>"] {
        assert!(!html.contains(bad), "HTML contains {bad:?}");
    }
    // Every tag in the output is one the template wrote, and no tag carries an event handler.
    let allowed = [
        "html", "head", "meta", "title", "style", "body", "a", "main", "header", "h1", "h2", "h3", "p", "span", "dl",
        "dt", "dd", "time", "code", "nav", "ol", "li", "section", "div", "table", "caption", "thead", "tr", "th",
        "tbody", "td", "footer",
    ];
    let tags = regex::Regex::new(r"</?([a-zA-Z][a-zA-Z0-9]*)").expect("regex");
    for cap in tags.captures_iter(&html) {
        assert!(allowed.contains(&&cap[1]), "unexpected tag <{}>", &cap[1]);
    }
    // Attribute values are quoted and their quotes escaped: drop them, then look for handlers.
    let unquoted = regex::Regex::new(r#""[^"]*""#).expect("regex").replace_all(&html, "\"\"").to_string();
    let html = unquoted;
    let handlers = regex::Regex::new(r"<[^>]*\son[a-z]+\s*=").expect("regex");
    assert!(
        !handlers.is_match(&html),
        "an event handler attribute got through: {:?}",
        handlers.find(&html).map(|m| m.as_str())
    );
    assert!(html.contains("&lt;script&gt;alert"), "shown as text");
    assert!(!html.contains("49"), "values are not evaluated as templates");
    let md = render(&inv, &opts(Format::Markdown)).expect("md");
    for bad in ["<script", "<img", "<svg", "<iframe", "<b>", "\n# Heading"] {
        assert!(!md.contains(bad), "Markdown contains {bad:?}");
    }
    let link = regex::Regex::new(r"(^|[^\\])\]\(\s*<?javascript:").expect("regex");
    assert!(!link.is_match(&md), "an unescaped javascript: link got through");
    assert!(md.contains("\\[click\\]"), "link syntax is shown literally");
    assert!(!md.contains("| broken | table |"), "table syntax is escaped");
    let json = render(&inv, &opts(Format::Json)).expect("json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["site"]["name"], "<script>alert('name')</script>", "JSON carries data exactly");
    assert_eq!(v["site"]["contact_href"], serde_json::Value::Null, "no javascript: link");
    assert_eq!(v["services"][0]["privacy_policy"], serde_json::Value::Null);
}

#[test]
fn languages() {
    let src = LEADSGEN.replace("languages = [\"en\"]", "languages = [\"en\", \"de\", \"fr\"]");
    let inv = inv(&src);
    let de = render(&inv, &RenderOptions { format: Format::Html, lang: Some("de".into()), ..Default::default() })
        .expect("de");
    assert!(de.contains("<html lang=\"de\"") && de.contains("Cookie-Richtlinie") && de.contains("30 Tage"));
    let fr = render(&inv, &RenderOptions { format: Format::Html, lang: Some("fr".into()), ..Default::default() })
        .expect("fr");
    assert!(fr.contains("Politique relative aux cookies") && fr.contains("1 an"));
    let err = render(&inv, &RenderOptions { lang: Some("it".into()), ..Default::default() }).expect_err("undeclared");
    assert!(err.to_string().contains("en, de, fr"), "{err}");
}

#[test]
fn html_is_self_contained_and_accessible() {
    let html = rendered(LEADSGEN, Format::Html, None);
    for external in ["src=\"http", "href=\"//", "@import", "url(", "<link", "<script"] {
        assert!(!html.contains(external), "external resource: {external}");
    }
    assert!(html.contains("<html lang=\"en\" dir=\"ltr\">"));
    assert!(html.contains("prefers-color-scheme:dark") && html.contains("@media print"));
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(html.matches("<th scope=\"col\">").count() >= 6);
    assert!(html.matches("<caption>").count() >= 4);
}

#[test]
fn templates_can_be_overridden() {
    let dir = std::env::temp_dir().join(format!("crumb-tpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("policy.md"), "Custom {{ site.name | md }} v{{ policy_version }}\n").expect("write");
    let out = render(
        &inv(LEADSGEN),
        &RenderOptions { format: Format::Markdown, templates: Some(dir.clone()), ..Default::default() },
    )
    .expect("renders");
    assert!(out.starts_with("Custom LeadsGen v"), "{out}");
    // HTML still comes from the built-in template.
    let html =
        render(&inv(LEADSGEN), &RenderOptions { templates: Some(dir.clone()), ..Default::default() }).expect("html");
    assert!(html.starts_with("<!doctype html>"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn what_changed_since_the_last_material_version() {
    let old = inv(LEADSGEN);
    let mut src = LEADSGEN.replace("languages = [\"en\"]", "languages = [\"en\", \"de\"]");
    src = src
        .replace("dnt = \"honor\"", "dnt = \"ignore\"")
        .replace("consent_lifetime = \"1 year\"", "consent_lifetime = \"13 months\"");
    src = src.replace("duration = \"90 days\"", "duration = \"180 days\"");
    src.push_str(
        "\n[[cookies]]\nname = \"_tt\"\ncategory = \"marketing\"\nprovider = \"TikTok\"\nservice = \"tiktok\"\n\
         purpose = \"TikTok conversion tracking.\"\nduration = \"13 months\"\ndomain = \".tiktok.com\"\n\
         [[services]]\nid = \"tiktok\"\nname = \"TikTok Pixel\"\nprovider = \"TikTok Technology Ltd.\"\n\
         category = \"marketing\"\npurpose = \"Conversion tracking\"\nhosts = [\"analytics.tiktok.com\"]\n\
         cookies = [\"_tt\"]\nprivacy_policy = \"https://www.tiktok.com/legal/privacy-policy\"\n",
    );
    let new = inv(&src);
    let opts = |format, lang: &str| RenderOptions { format, lang: Some(lang.into()), ..Default::default() };
    let render = |inv: &Inventory, o: &RenderOptions| crumb_policy::render_since(inv, Some(&old), o);
    let html = render(&new, &opts(Format::Html, "en")).expect("renders");
    assert!(html.contains("<h3 id=\"what-changed\">What changed since the version of 2026-04-12</h3>"), "{html}");
    for said in [
        "New cookie “_tt” (“Marketing”): TikTok conversion tracking; it lasts 13 months.",
        "We now use TikTok Pixel (TikTok Technology Ltd.) for “Marketing”.",
        "“_fbp” now lasts 180 days instead of 90 days.",
        "We no longer honour the Do Not Track (DNT) signal.",
        "We now keep your choice for 13 months instead of 1 year.",
    ] {
        assert!(html.contains(&format!("<li>{said}</li>")), "missing {said:?}");
    }
    assert!(!html.contains("<li>Our details"), "minor changes are not listed");
    let de = render(&new, &opts(Format::Markdown, "de")).expect("renders");
    assert!(de.contains("### Was sich seit der Fassung vom 2026-04-12 geändert hat"), "{de}");
    assert!(
        de.contains("- Neues Cookie „\\_tt“ („Marketing“): TikTok conversion tracking; Speicherdauer 13 Monate."),
        "{de}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&new, &opts(Format::Json, "en")).expect("json")).expect("valid");
    assert_eq!(json["changes"]["since_version"], crumb_core::policy_version(&old));
    // Only minor changes: no section.
    let minor = inv(&LEADSGEN.replace("2026-04-12", "2026-05-01"));
    let out = render(&minor, &opts(Format::Html, "en")).expect("renders");
    assert!(!out.contains("what-changed"));
    // Every kind of change has words, in every built-in language, with no placeholder left.
    let mut wild = new.clone();
    wild.categories.remove(1);
    wild.cookies.retain(|c| c.category != "functional");
    wild.services[0].hosts.push("r.stripe.com".into());
    wild.services[1].provider = "Plausible GmbH".into();
    wild.cookies[0].purpose = "Keeps you signed in, everywhere".into();
    wild.rules.regional_mode = crumb_core::inventory::RegionalMode::OptOut;
    for lang in ["en", "de", "fr"] {
        for c in crumb_core::diff::diff(&old, &wild) {
            let s = crumb_policy::change_sentence(&c, &old, &wild, lang);
            assert!(!s.is_empty() && !s.contains('{'), "{lang} {c}: {s:?}");
        }
    }
}
