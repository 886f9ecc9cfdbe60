//! Unit tests of the guard's consent reading and `Set-Cookie` filter.

use super::*;
use crumb_core::testdata::LEADSGEN;

fn guard(undeclared: Undeclared) -> Guard {
    let inv = crumb_core::parse_inventory(LEADSGEN).expect("example parses");
    Guard::new(inv, Settings { undeclared, ..Settings::default() }).expect("guard builds")
}

fn headers(set_cookies: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for s in set_cookies {
        h.append(SET_COOKIE, HeaderValue::from_str(s).expect("valid header"));
    }
    h
}

fn names(h: &HeaderMap) -> Vec<String> {
    h.get_all(SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_string()).collect()
}

const NOW: i64 = 1_800_000_000;

#[test]
fn refused_categories_are_removed_and_required_kept() {
    let g = guard(Undeclared::Report);
    let state = g.consent_at(&HeaderMap::new(), NOW);
    let mut h =
        headers(&["theme=dark; Path=/", "_plausible=1", "next-auth.csrf-token=x; Secure; HttpOnly; SameSite=Lax"]);
    let r = g.filter_at(&mut h, g.allowed(&state), "/", NOW);
    assert_eq!(r.refused, 2);
    assert_eq!(names(&h), ["next-auth.csrf-token=x; Secure; HttpOnly; SameSite=Lax"]);
}

#[test]
fn granted_categories_pass_and_attributes_are_fixed() {
    let g = guard(Undeclared::Report);
    let mut req = HeaderMap::new();
    req.insert(COOKIE, HeaderValue::from_str(&format!("a=b; cookie-consent=1.-.v.functional.{NOW}")).expect("hdr"));
    let state = g.consent_at(&req, NOW);
    assert!(state.allows("functional") && !state.allows("analytics"));
    // `last-workspace` is declared for 30 days: a 1-year Max-Age is capped.
    let mut h = headers(&["last-workspace=w1; Max-Age=31536000", "next-auth.session-token=t"]);
    let r = g.filter_at(&mut h, g.allowed(&state), "/", NOW);
    assert_eq!(r.rewritten, 2);
    let out = names(&h);
    assert!(out[0].contains("Max-Age=2592000"), "{out:?}");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(out[1].contains(attr), "{attr} missing in {out:?}");
    }
}

#[test]
fn undeclared_settings_and_deletions() {
    let mut h = headers(&["mystery=1", "theme=; Max-Age=0", "cookie-consent=1.-.v.-.1"]);
    let g = guard(Undeclared::Block);
    let r = g.filter_at(&mut h, Allowed::default(), "/", NOW);
    assert_eq!((r.undeclared_blocked, r.refused), (1, 0));
    assert_eq!(names(&h), ["theme=; Max-Age=0", "cookie-consent=1.-.v.-.1"]);
    let mut h = headers(&["mystery=1", "=bad"]);
    let r = guard(Undeclared::Report).filter_at(&mut h, Allowed::default(), "/", NOW);
    assert_eq!(r.undeclared_reported, 1);
    assert_eq!(h.get_all(SET_COOKIE).iter().count(), 2);
    let mut h = headers(&["mystery=1"]);
    let r = guard(Undeclared::Allow).filter_at(&mut h, Allowed::default(), "/", NOW);
    assert_eq!(r, FilterReport { seen: 1, ..FilterReport::default() });
}

#[test]
fn gpc_and_country_and_malformed_consent() {
    let g = guard(Undeclared::Report);
    let mut req = HeaderMap::new();
    req.insert(COOKIE, HeaderValue::from_static("cookie-consent=garbage"));
    assert_eq!(g.consent_at(&req, NOW).basis, crumb_core::consent::Basis::NoDecisionOptIn);
    req.insert("sec-gpc", HeaderValue::from_static("1"));
    assert!(g.consent_at(&req, NOW).signals.gpc);
}
