//! Consent states x cookie kinds, through `crumb proxy`'s server and a real upstream on
//! 127.0.0.1.

mod common;

use common::*;
use crumb_guard::{Reason, Settings, Undeclared};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn consent(granted: &str, at: i64) -> String {
    format!("cookie-consent=1.0193a2b4-7c1d-7e55-9a0b-3c2d1e0f9a8b.3f2a9c1b7e4d5a6b.{granted}.{at}")
}

const NECESSARY: &[&str] = &["next-auth.session-token"];

fn expect(extra: &[&'static str]) -> Vec<String> {
    let mut v: Vec<String> = NECESSARY.iter().chain(extra).map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// A label, the request headers, and the cookies expected through.
type Case = (&'static str, Vec<(&'static str, String)>, Vec<String>);

#[tokio::test]
async fn consent_states_by_cookie_kinds_on_the_fast_path() {
    consent_states_by_cookie_kinds(true).await;
}

#[tokio::test]
async fn consent_states_by_cookie_kinds_through_hyper() {
    consent_states_by_cookie_kinds(false).await;
}

async fn consent_states_by_cookie_kinds(fast_path: bool) {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |c| c.fast_path = fast_path).await;
    let now = now();
    let all_functional = ["theme", "last-workspace"];
    let cases: Vec<Case> = vec![
        ("none", vec![], expect(&["mystery"])),
        ("rejected", vec![("cookie", consent("-", now))], expect(&["mystery"])),
        (
            "accepted",
            vec![("cookie", consent("functional~analytics~marketing", now))],
            expect(&["theme", "last-workspace", "_plausible", "_fbp", "mystery"]),
        ),
        (
            "custom",
            vec![("cookie", consent("functional", now))],
            expect(&[all_functional[0], all_functional[1], "mystery"]),
        ),
        ("custom analytics", vec![("cookie", consent("analytics", now))], expect(&["_plausible", "mystery"])),
        ("gpc, no decision, opt-in", vec![("sec-gpc", "1".into())], expect(&["mystery"])),
        (
            "expired",
            vec![("cookie", consent("functional~analytics~marketing", now - 400 * 86_400))],
            expect(&["mystery"]),
        ),
        ("from the future", vec![("cookie", consent("analytics", now + 86_400))], expect(&["mystery"])),
        ("malformed", vec![("cookie", "cookie-consent=1.-.v.analytics".into())], expect(&["mystery"])),
        (
            "garbage",
            vec![("cookie", "cookie-consent=%%%;;=\"x; 1.-.v.analytics.9; other=1".into())],
            expect(&["mystery"]),
        ),
        (
            "among other cookies",
            vec![("cookie", format!("a=1; {}; b=2", consent("marketing", now)))],
            expect(&["_fbp", "mystery"]),
        ),
    ];
    for (label, headers, want) in cases {
        let hdrs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (res, body) = get(p.addr, "/cookies", &hdrs).await;
        assert_eq!(res.status, 200, "{label}");
        assert_eq!(&body[..], b"cookies", "{label}");
        assert_eq!(set_cookie_names(&res.headers), want, "{label}");
    }
    // Every request took the path asked for.
    let m = p.guard.metrics();
    assert_eq!((m.proxied(fast_path), m.proxied(!fast_path)), (11, 0), "fast path {fast_path}");
    // Refusals are counted by declared name and category.
    assert!(p.guard.metrics().refused("_plausible") >= 8);
    assert!(p.guard.metrics().refused("_fbp") >= 8);
    assert!(p.guard.metrics().undeclared("mystery", Reason::Reported) >= 11);
    let text = p.guard.metrics().render();
    assert!(
        text.contains("crumb_guard_blocked_total{name=\"_plausible\",category=\"analytics\",reason=\"refused\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn attributes_are_fixed_on_cookies_let_through() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    let (res, _) = get(p.addr, "/cookies", &[("cookie", &consent("functional", now()))]).await;
    let session = set_cookie(&res.headers, "next-auth.session-token").expect("session cookie kept");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{attr} missing: {session}");
    }
    let ws = set_cookie(&res.headers, "last-workspace").expect("functional cookie kept");
    assert!(ws.contains("Max-Age=2592000") && !ws.contains("31536000"), "30-day cap not applied: {ws}");
    let theme = set_cookie(&res.headers, "theme").expect("functional cookie kept");
    assert!(theme.contains("Max-Age=31536000"), "a lifetime within the declared one is kept: {theme}");
    // With fixes off, headers pass byte for byte.
    let p = proxy(up.addr, guard(false, Settings { fix_attributes: false, ..Settings::default() }), |_| {}).await;
    let (res, _) = get(p.addr, "/cookies", &[("cookie", &consent("functional", now()))]).await;
    assert_eq!(set_cookie(&res.headers, "next-auth.session-token"), Some("next-auth.session-token=t; Path=/"));
}

#[tokio::test]
async fn undeclared_cookies_follow_the_setting() {
    let up = upstream().await;
    let accepted = consent("functional~analytics~marketing", now());
    for (setting, kept) in [(Undeclared::Block, false), (Undeclared::Allow, true), (Undeclared::Report, true)] {
        let p = proxy(up.addr, guard(false, Settings { undeclared: setting, ..Settings::default() }), |_| {}).await;
        let (res, _) = get(p.addr, "/cookies", &[("cookie", &accepted)]).await;
        let names = set_cookie_names(&res.headers);
        assert_eq!(names.contains(&"mystery".to_string()), kept, "{setting:?}: {names:?}");
        assert_eq!(names.len(), if kept { 6 } else { 5 }, "{setting:?}: {names:?}");
        let blocked = p.guard.metrics().undeclared("mystery", Reason::Undeclared);
        let reported = p.guard.metrics().undeclared("mystery", Reason::Reported);
        assert_eq!(
            (blocked, reported),
            match setting {
                Undeclared::Block => (1, 0),
                Undeclared::Allow => (0, 0),
                Undeclared::Report => (0, 1),
            }
        );
    }
}

#[tokio::test]
async fn regional_mode_from_trusted_country_header_and_gpc() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(true, Settings::default()), |_| {}).await;
    // California: opt-out, everything until refused.
    let (res, _) = get(p.addr, "/cookies", &[("cf-ipcountry", "US-CA")]).await;
    assert_eq!(set_cookie_names(&res.headers), expect(&["theme", "last-workspace", "_plausible", "_fbp", "mystery"]));
    // California with GPC: analytics and marketing pre-denied, functional kept.
    let (res, _) = get(p.addr, "/cookies", &[("cf-ipcountry", "US-CA"), ("sec-gpc", "1")]).await;
    assert_eq!(set_cookie_names(&res.headers), expect(&["theme", "last-workspace", "mystery"]));
    // California with an explicit rejection.
    let (res, _) = get(p.addr, "/cookies", &[("cf-ipcountry", "US-CA"), ("cookie", &consent("-", now()))]).await;
    assert_eq!(set_cookie_names(&res.headers), expect(&["mystery"]));
    // Germany and unknown countries: opt-in.
    for country in [Some("DE"), None] {
        let h: Vec<(&str, &str)> = country.map(|c| ("cf-ipcountry", c)).into_iter().collect();
        let (res, _) = get(p.addr, "/cookies", &h).await;
        assert_eq!(set_cookie_names(&res.headers), expect(&["mystery"]), "{country:?}");
    }
}

#[tokio::test]
async fn refused_cookies_still_held_by_the_browser_are_expired() {
    let up = upstream().await;
    let p = proxy(up.addr, guard(false, Settings::default()), |_| {}).await;
    // Consent withdrawn: only functional granted; the browser still has analytics and
    // marketing cookies from before, plus necessary, functional and unknown ones.
    let held = format!(
        "_plausible=old; _fbp=fb.1; theme=dark; next-auth.session-token=t; other=1; {}",
        consent("functional", now())
    );
    let (res, _) = get(p.addr, "/json", &[("cookie", &held)]).await;
    assert_eq!(set_cookie_names(&res.headers), ["_fbp", "_plausible"]);
    for name in ["_fbp", "_plausible"] {
        let v = set_cookie(&res.headers, name).expect("expiry");
        for attr in ["Max-Age=0", "Path=/", "HttpOnly", "SameSite=Lax", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"] {
            assert!(v.contains(attr), "{attr} missing in {v}");
        }
        assert_eq!(p.guard.metrics().expired(name), 1);
    }
    // Granted again: nothing expired.
    let held = format!("_plausible=old; {}", consent("analytics", now()));
    let (res, _) = get(p.addr, "/json", &[("cookie", &held)]).await;
    assert_eq!(set_cookie_names(&res.headers), Vec::<String>::new());
    // Switched off: nothing expired either.
    let p = proxy(up.addr, guard(false, Settings { expire_refused: false, ..Settings::default() }), |_| {}).await;
    let (res, _) = get(p.addr, "/json", &[("cookie", "_plausible=old")]).await;
    assert_eq!(set_cookie_names(&res.headers), Vec::<String>::new());
}
