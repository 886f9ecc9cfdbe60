//! `Set-Cookie` response headers (several per response, split on NUL bytes in the input):
//! the filter never panics and only ever removes or rewrites, never adds.
#![no_main]

mod common;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut h = HeaderMap::new();
    for part in data.split(|&b| b == 0) {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            h.append("set-cookie", v);
        }
    }
    let before = h.get_all("set-cookie").iter().count();
    let g = common::guard();
    let allowed = g.allowed(&g.consent_at(&HeaderMap::new(), 1_800_000_000));
    let r = g.filter_at(&mut h, allowed, "/", 1_800_000_000);
    let after = h.get_all("set-cookie").iter().count();
    assert_eq!(r.seen, before);
    assert_eq!(after, before - r.refused - r.undeclared_blocked);
});
