//! The classifier: parity with the training script, framework defaults, domain awareness,
//! safe drafts, and no panics on any input.

use crumb_core::classify::{self, FeatureInput, Model, Observation, Source, features, frameworks};
use crumb_core::{Purpose, StorageKind};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    domain: Option<String>,
    storage: String,
    party: Option<String>,
    seconds: Option<u64>,
    value: Option<String>,
    http_only: Option<bool>,
    secure: Option<bool>,
    features: Vec<String>,
    class: String,
}

#[test]
fn features_and_predictions_match_the_training_script() {
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("../../../bench/classify/data/parity.json")).expect("parity.json");
    assert!(cases.len() > 40);
    let model = Model::embedded();
    for c in &cases {
        let input = FeatureInput {
            name: &c.name,
            domain: c.domain.as_deref(),
            storage: Some(match c.storage.as_str() {
                "local" => StorageKind::LocalStorage,
                "session" => StorageKind::SessionStorage,
                _ => StorageKind::Cookie,
            }),
            third_party: c.party.as_deref().map(|p| p == "third"),
            seconds: c.seconds,
            value: c.value.as_deref(),
            http_only: c.http_only,
            secure: c.secure,
            setter: None,
        };
        let f = features::features(&input);
        assert_eq!(f, c.features, "features of {}", c.name);
        let p = model.probabilities(&f);
        let best = (0..4).max_by(|a, b| p[*a].total_cmp(&p[*b])).expect("4 classes");
        assert_eq!(classify::model::CLASSES[best].as_str(), c.class, "class of {}", c.name);
    }
}

fn obs(name: &str, domain: &str, third: bool) -> Observation {
    Observation { name: name.into(), domain: Some(domain.into()), third_party: Some(third), ..Observation::default() }
}

#[test]
fn framework_defaults_are_necessary_on_the_sites_own_domain() {
    for name in [
        "sessionid",
        "csrftoken",
        "_myapp_session",
        "laravel_session",
        "XSRF-TOKEN",
        "connect.sid",
        "next-auth.session-token",
        "__Secure-next-auth.session-token",
        "__Host-next-auth.csrf-token",
        "next-auth.callback-url",
        "ASP.NET_SessionId",
        ".AspNetCore.Session",
        ".AspNetCore.Antiforgery.cdV5uW_Ejgc",
        "PHPSESSID",
        "JSESSIONID",
    ] {
        let c = classify::classify(&obs(name, "shop.example", false));
        assert_eq!((c.purpose, c.source), (Purpose::Necessary, Source::Framework), "{name}: {}", c.reason);
        assert!(!c.review);
    }
    assert_eq!(frameworks::lookup("csrftoken").map(|f| f.http_only), Some(frameworks::HttpOnly::ScriptReadable));
    assert_eq!(frameworks::lookup("XSRF-TOKEN").map(|f| f.http_only), Some(frameworks::HttpOnly::ScriptReadable));
    assert_eq!(frameworks::lookup("sessionid").map(|f| f.http_only), Some(frameworks::HttpOnly::Yes));
    assert!(frameworks::lookup("_ga").is_none());
}

#[test]
fn distinctive_framework_names_are_necessary_on_an_embedded_apps_domain() {
    // colorland.pl declares the booking widget's Laravel cookies on app.refericon.pl as necessary.
    for name in ["XSRF-TOKEN", "laravel_session", "JSESSIONID", "PHPSESSID", "ASP.NET_SessionId", "connect.sid"] {
        let c = classify::classify(&Observation {
            lifetime_seconds: Some(7199),
            value: Some("eyJpdiI6InNHTFNrSndNQjNyQURiXC9aTUZTc1wv".into()),
            ..obs(name, "app.refericon.pl", true)
        });
        assert_eq!((c.purpose, c.source), (Purpose::Necessary, Source::Framework), "{name}: {}", c.reason);
    }
    // Generic names stay framework defaults only on the site's own domain: Instagram's
    // `sessionid` is Instagram's.
    for name in ["sessionid", "csrftoken", "_myapp_session"] {
        let c = classify::classify(&obs(name, ".instagram.com", true));
        assert_ne!(c.source, Source::Framework, "{name}: {}", c.reason);
    }
}

#[test]
fn platform_entries_apply_only_on_the_platforms_domain() {
    // Instagram's `sessionid` on instagram.com is Instagram's; on the site it is Django's.
    let ig = classify::applicable_entry(&obs("sessionid", ".instagram.com", true));
    assert_eq!(ig.map(|e| e.platform.as_str()), Some("Instagram"));
    assert!(classify::applicable_entry(&obs("sessionid", "shop.example", false)).is_none());
    // GitHub's `user_session` likewise.
    assert!(classify::applicable_entry(&obs("user_session", "app.example", false)).is_none());
    let gh = classify::applicable_entry(&Observation {
        set_by: Some("https://github.com/login".into()),
        ..obs("user_session", "github.com", true)
    });
    assert_eq!(gh.map(|e| e.platform.as_str()), Some("GitHub"));
    // A first-party `auth_token` is never drafted marketing.
    let a = classify::classify(&Observation { http_only: Some(true), ..obs("auth_token", "app.example", false) });
    assert_ne!(a.purpose, Purpose::Marketing, "{}", a.reason);
    // Entries without a domain (a tracker's first-party cookie) still apply anywhere.
    assert_eq!(
        classify::applicable_entry(&obs("_fbp", ".shop.example", false)).map(|e| e.platform.as_str()),
        Some("Facebook")
    );
}

#[test]
fn well_known_trackers_are_recognised() {
    for (name, domain, third, want) in [
        ("_ga", ".shop.example", false, Purpose::Analytics),
        ("_gid", ".shop.example", false, Purpose::Analytics),
        ("_fbp", ".shop.example", false, Purpose::Marketing),
        ("IDE", ".doubleclick.net", true, Purpose::Marketing),
        ("_pk_id.1.a1b2", "shop.example", false, Purpose::Analytics),
    ] {
        let c = classify::classify(&obs(name, domain, third));
        assert_eq!(c.purpose, want, "{name}: {}", c.reason);
    }
}

#[test]
fn unsure_server_only_cookies_are_drafted_necessary_for_review() {
    // A made-up first-party HttpOnly name: whatever the model leans to, it is not marketing.
    let c = classify::classify(&Observation {
        http_only: Some(true),
        set_by_server: Some(true),
        ..obs("zq_track_ads_x", "shop.example", false)
    });
    assert_ne!(c.purpose, Purpose::Marketing, "{}", c.reason);
    // Low confidence is marked.
    let u = classify::classify(&obs("qqzx", "shop.example", false));
    assert_eq!(u.review, u.confidence < classify::REVIEW_BELOW);
}

#[test]
fn posthog_session_storage_key_is_not_necessary() {
    let c = classify::classify(&Observation {
        storage: Some(StorageKind::LocalStorage),
        ..obs("ph_phc_AbCdEf123_posthog", "shop.example", false)
    });
    assert_ne!(c.purpose, Purpose::Necessary, "{}", c.reason);
}

proptest! {
    #[test]
    fn no_input_panics(name in ".{0,40}", domain in proptest::option::of(".{0,30}"), value in proptest::option::of(".{0,60}"),
                       secs in proptest::option::of(0u64..u64::MAX), third in proptest::option::of(any::<bool>()),
                       setter in proptest::option::of(".{0,40}")) {
        let o = Observation { name, domain, value, lifetime_seconds: secs, third_party: third, set_by: setter, ..Observation::default() };
        let c = classify::classify(&o);
        prop_assert!((0.0..=1.0).contains(&c.confidence));
    }
}
