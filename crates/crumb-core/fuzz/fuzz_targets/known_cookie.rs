//! Any observed name and domain looked up in the Open Cookie Database.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Option<&str>)| {
    let (name, domain) = input;
    if let Some(e) = crumb_core::ocd::lookup(name, domain) {
        assert!(if e.wildcard { name.starts_with(e.name.as_str()) } else { e.name == name });
    }
});
