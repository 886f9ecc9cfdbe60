//! Chunked bodies from the upstream: the scanner never panics, never claims more bytes than
//! it was given, and finds the same end whether the bytes come at once or in two pieces.
#![no_main]

use crumb_guard::proxy::wire::ChunkedScanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else { return };
    let mut whole = ChunkedScanner::new();
    let at_once = whole.scan(input).map(|n| (n, whole.is_done()));
    if let Ok((n, _)) = at_once {
        assert!(n <= input.len());
    }
    let cut = usize::from(cut) % (input.len() + 1);
    let mut parts = ChunkedScanner::new();
    let in_two = parts.scan(&input[..cut]).and_then(|a| {
        if parts.is_done() {
            return Ok((a, true));
        }
        parts.scan(&input[cut..]).map(|b| (a + b, parts.is_done()))
    });
    match (at_once, in_two) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("at once {a:?}, in two {b:?}"),
    }
});
