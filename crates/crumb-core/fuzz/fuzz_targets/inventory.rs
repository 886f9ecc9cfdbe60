//! Any bytes as an inventory: `crumb check` must answer with diagnostics, never panic, and
//! every diagnostic's span must lie inside the source.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let checked = crumb_core::check_source(src);
    for d in &checked.diagnostics {
        if let Some(span) = &d.span {
            assert!(span.start <= span.end && span.end <= src.len());
        }
    }
    if let Some(inv) = checked.valid() {
        let _ = crumb_core::policy_version(inv);
        let _ = crumb_core::Matcher::new(inv);
    }
});
