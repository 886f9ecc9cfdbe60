//! Malformed `Cookie`, `Set-Cookie`, consent cookie and signal headers never panic the guard,
//! and a header that is kept is kept byte for byte unless the declared attributes apply.

use crumb_guard::{Guard, Settings, Undeclared};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

fn guard(undeclared: Undeclared) -> Guard {
    let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("valid example");
    Guard::new(inv, Settings { undeclared, ..Settings::default() }).expect("guard")
}

/// Header-value bytes: visible ASCII, spaces, tabs and obs-text, biased toward cookie syntax.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"=".to_vec()),
        Just(b";".to_vec()),
        Just(b"; ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"cookie-consent=".to_vec()),
        Just(b"1.-.abc.analytics~marketing.1800000000".to_vec()),
        Just(b"_plausible".to_vec()),
        Just(b"Max-Age=".to_vec()),
        Just(b"Expires=Thu, 01 Jan 1970 00:00:00 GMT".to_vec()),
        Just(b"Domain=.".to_vec()),
        Just(b"SameSite=".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"-1".to_vec()),
        proptest::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..12),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn request_headers_never_panic(cookie in header_bytes(), gpc in header_bytes(), country in header_bytes()) {
        let g = guard(Undeclared::Report);
        let mut h = HeaderMap::new();
        for (name, v) in [("cookie", &cookie), ("sec-gpc", &gpc), ("dnt", &country)] {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                h.append(name, v);
            }
        }
        let state = g.consent_at(&h, 1_800_000_000);
        prop_assert!(state.allows("necessary"));
    }

    #[test]
    fn set_cookie_headers_never_panic(values in proptest::collection::vec(header_bytes(), 0..6), block in any::<bool>()) {
        let g = guard(if block { Undeclared::Block } else { Undeclared::Allow });
        let mut h = HeaderMap::new();
        let mut n = 0;
        for v in &values {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                h.append("set-cookie", v);
                n += 1;
            }
        }
        let r = g.filter_at(&mut h, g.allowed(&g.consent_at(&HeaderMap::new(), 0)), "/", 1_800_000_000);
        prop_assert_eq!(r.seen, n);
        prop_assert_eq!(h.get_all("set-cookie").iter().count(), n - r.refused - r.undeclared_blocked);
    }

    #[test]
    fn consent_cookie_decoder_never_panics(v in header_bytes()) {
        let _ = crumb_core::consent::ConsentCookie::decode(&String::from_utf8_lossy(&v));
    }
}
