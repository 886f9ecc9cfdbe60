//! The draft from a report built by hand: services proposed for contacted hosts.

use super::*;

fn report(hosts: &[&str]) -> ScanReport {
    let hosts: Vec<serde_json::Value> = hosts
        .iter()
        .map(|h| serde_json::json!({"host": h, "first_url": format!("https://{h}/x.js"), "requests": 2}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "schema_version": 1, "tool": "crumb test", "target": "https://shop.example/",
        "started_at": "2026-12-03T08:00:00Z", "duration_ms": 1, "browser": "Chrome/1",
        "third_party_cookies_blocked": false,
        "summary": {"pages": 1, "pages_failed": 0, "cookies": 0, "storage_items": 0,
                    "third_party_hosts": hosts.len(), "errors": 0, "warnings": 0, "notes": 0},
        "findings": [],
        "pages": [{"url": "https://shop.example/", "found_via": "start", "phases": [
            {"phase": "before_consent", "banner": "none", "observed": [], "third_party_hosts": hosts, "duration_ms": 1}
        ]}],
        "skipped": []
    }))
    .expect("a report")
}

#[test]
fn contacted_hosts_get_a_proposed_service_once() {
    let r = report(&["cdn.tracker.example", "CDN.tracker.example", "shop.example", "js.stripe.com"]);
    let existing = "[site]\nid = \"shop\"\nname = \"Shop\"\norigins = [\"shop.example\"]\ncontroller = \"Shop\"\ncontact = \"p@shop.example\"\neffective_date = \"2026-01-01\"\nlanguages = [\"en\"]\n\n[[categories]]\nid = \"necessary\"\ntitle = \"N\"\ndescription = \"N\"\nrequired = true\n\n[[services]]\nid = \"stripe\"\nname = \"Stripe\"\nprovider = \"Stripe\"\ncategory = \"necessary\"\nhosts = [\"js.stripe.com\"]\n";
    let text = draft(&r, Some(existing)).expect("a draft");
    let inv = crumb_core::parse_inventory(&text).expect("the draft passes crumb check");
    let proposed: Vec<&crumb_core::Service> =
        inv.services.iter().filter(|s| s.hosts == ["cdn.tracker.example"]).collect();
    assert_eq!(proposed.len(), 1, "{text}");
    assert_eq!(proposed[0].category, "marketing");
    assert!(inv.category("marketing").is_some());
    assert_eq!(inv.services.len(), 2, "the site's own host and a listed host get none: {text}");
    let fresh = draft(&report(&["cdn.tracker.example"]), None).expect("a new draft");
    assert!(fresh.contains("hosts = [\"cdn.tracker.example\"]"), "{fresh}");
}
