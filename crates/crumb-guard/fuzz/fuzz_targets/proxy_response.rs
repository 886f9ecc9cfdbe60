//! Response heads from the upstream, as `crumb proxy`'s HTTP/1.1 fast path reads them:
//! parsing never panics, and what goes to the visitor parses as one well-formed head.
#![no_main]

use crumb_guard::proxy::wire::{Parsed, parse_response, push_set_cookies};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head_method = data.first().is_some_and(|b| b & 1 == 1);
    let (mut out, mut cookies) = (Vec::new(), HeaderMap::new());
    let Ok(Parsed::Complete(info)) = parse_response(data, head_method, &mut out, &mut cookies) else {
        return;
    };
    assert!(info.head_len <= data.len());
    push_set_cookies(&mut out, &cookies);
    out.extend_from_slice(b"\r\n");
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut res = httparse::Response::new(&mut headers);
    assert_eq!(res.parse(&out), Ok(httparse::Status::Complete(out.len())), "{:?}", String::from_utf8_lossy(&out));
    assert_eq!(res.code, Some(info.status));
});
