//! `Cookie` request headers: parsing and the consent decision never panic.
#![no_main]

mod common;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = HeaderValue::from_bytes(data) else { return };
    if let Ok(s) = v.to_str() {
        for c in cookie::Cookie::split_parse(s).flatten() {
            let _ = (c.name(), c.value());
        }
    }
    let mut h = HeaderMap::new();
    h.insert("cookie", v.clone());
    h.insert("sec-gpc", v);
    let g = common::guard();
    let state = g.consent_at(&h, 1_800_000_000);
    assert!(state.allows("necessary"));
});
