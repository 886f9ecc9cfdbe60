//! Request heads from visitors, as `crumb proxy`'s HTTP/1.1 fast path reads them: parsing
//! and rewriting never panic, and what goes upstream is one well-formed head with exactly
//! one `Host`, no hop-by-hop header and no `Transfer-Encoding`.
#![no_main]

use crumb_guard::proxy::wire::{Parsed, RequestRewrite, parse_request};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rewrite = RequestRewrite {
        upstream_host: "127.0.0.1:3000".into(),
        base_path: String::new(),
        trust_forwarded: data.first().is_some_and(|b| b & 1 == 1),
        country_header: Some(http::HeaderName::from_static("cf-ipcountry")),
    };
    let (mut out, mut consent) = (Vec::new(), HeaderMap::new());
    let Ok(Parsed::Complete(info)) = parse_request(data, &rewrite, "192.0.2.1", &mut out, &mut consent) else {
        return;
    };
    assert!(info.head_len <= data.len() && info.path.end <= info.head_len);
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    assert_eq!(req.parse(&out), Ok(httparse::Status::Complete(out.len())), "{:?}", String::from_utf8_lossy(&out));
    assert_eq!(req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).count(), 1);
    for hop in ["connection", "keep-alive", "te", "transfer-encoding", "upgrade", "proxy-authorization"] {
        assert!(!req.headers.iter().any(|h| h.name.eq_ignore_ascii_case(hop)), "{hop} forwarded");
    }
});
