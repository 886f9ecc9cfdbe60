//! Any text as a duration: parsed or refused, and what parses reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Ok(d) = crumb_core::Duration::parse(s) {
        assert_eq!(crumb_core::Duration::parse(&d.humanize()), Ok(d));
    }
});
