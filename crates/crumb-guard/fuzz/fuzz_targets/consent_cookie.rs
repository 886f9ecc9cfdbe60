//! The consent-cookie decoder: never panics, and whatever it accepts round-trips.
#![no_main]

use crumb_core::consent::ConsentCookie;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(c) = ConsentCookie::decode(s) {
        assert_eq!(ConsentCookie::decode(&c.encode()), Ok(c));
    }
});
