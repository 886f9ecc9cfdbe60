//! Unit and property tests of the fast path's wire format: heads, rewriting, chunked framing.

use super::*;
use proptest::prelude::*;

fn rewrite(trust: bool) -> RequestRewrite {
    RequestRewrite {
        upstream_host: "127.0.0.1:3000".into(),
        base_path: "/app".into(),
        trust_forwarded: trust,
        country_header: Some(HeaderName::from_static("cf-ipcountry")),
    }
}

fn request(raw: &str, trust: bool) -> Result<(String, RequestInfo, HeaderMap), NotTaken> {
    let (mut out, mut consent) = (Vec::new(), HeaderMap::new());
    match parse_request(raw.as_bytes(), &rewrite(trust), "192.0.2.7", &mut out, &mut consent)? {
        Parsed::Complete(info) => Ok((String::from_utf8(out).expect("ascii"), info, consent)),
        Parsed::Partial => panic!("partial: {raw}"),
    }
}

#[test]
fn requests_are_rewritten_for_the_upstream() {
    let raw = "POST /cart?id=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\
               Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic x\r\nX-Forwarded-For: 203.0.113.9\r\n\
               X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nCookie: a=1; cookie-consent=x\r\n\
               Sec-GPC: 1\r\nCF-IPCountry: DE\r\nContent-Length: 4\r\n\r\nbody";
    let (out, info, consent) = request(raw, false).expect("taken");
    assert_eq!(
        out,
        "POST /app/cart?id=1 HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nCookie: a=1; cookie-consent=x\r\nSec-GPC: 1\r\n\
         CF-IPCountry: DE\r\nContent-Length: 4\r\nx-forwarded-for: 203.0.113.9, 192.0.2.7\r\n\
         x-forwarded-proto: http\r\nx-forwarded-host: shop.example\r\n\r\n"
    );
    assert_eq!(info.head_len, raw.len() - 4);
    assert_eq!((info.body_len, info.close, info.head_method), (4, false, false));
    assert_eq!(&raw[info.path], "/cart");
    assert_eq!(consent.len(), 3);
    assert_eq!(consent.get("cf-ipcountry").and_then(|v| v.to_str().ok()), Some("DE"));

    // A trusted front proxy's X-Forwarded-Proto/-Host are kept.
    let (out, ..) = request(raw, true).expect("taken");
    assert!(out.contains("X-Forwarded-Proto: https\r\n") && !out.contains("x-forwarded-proto: http"), "{out}");
    assert!(out.contains("X-Forwarded-Host: evil.example\r\n") && !out.contains("x-forwarded-host"), "{out}");

    let (_, info, _) = request("HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false).expect("taken");
    assert!(info.head_method && info.close && info.body_len == 0);
}

#[test]
fn what_the_fast_path_leaves_to_hyper() {
    for (raw, why) in [
        ("GET / HTTP/1.0\r\nHost: a\r\n\r\n", "not HTTP/1.1"),
        ("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "not an origin-form request target"),
        ("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", "not HTTP/1.1"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding"),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "several Content-Length headers",
        ),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\n", "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", "invalid Content-Length"),
        ("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "Upgrade"),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n", "Connection: upgrade"),
        ("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", "Expect"),
        ("GET / HTTP/1.1\r\nHost: a\r\nBad Header: 1\r\n\r\n", "malformed head"),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "malformed head"),
    ] {
        let got = request(raw, false).map(|_| ());
        // CONNECT's authority-form target fails the origin-form check or the version check first.
        if raw.starts_with("CONNECT") {
            assert!(matches!(got, Err(Unsupported(_))), "{raw}: {got:?}");
            continue;
        }
        assert_eq!(got, Err(Unsupported(why)), "{raw}");
    }
    assert_eq!(request("GET / HTTP/1.1\r\n\r\n", false).map(|_| ()), Err(BadRequest("no Host header")));
    assert_eq!(
        request("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", false).map(|_| ()),
        Err(BadRequest("several Host headers"))
    );
    let (mut out, mut consent) = (Vec::new(), HeaderMap::new());
    let partial = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n", &rewrite(false), "::1", &mut out, &mut consent);
    assert_eq!(partial, Ok(Parsed::Partial));
}

fn response(raw: &str, head_method: bool) -> Result<(String, ResponseInfo, Vec<String>), InvalidResponse> {
    let (mut out, mut cookies) = (Vec::new(), HeaderMap::new());
    match parse_response(raw.as_bytes(), head_method, &mut out, &mut cookies)? {
        Parsed::Complete(info) => Ok((
            String::from_utf8(out).expect("ascii"),
            info,
            cookies.get_all(SET_COOKIE).iter().map(|v| v.to_str().expect("ascii").to_string()).collect(),
        )),
        Parsed::Partial => panic!("partial: {raw}"),
    }
}

#[test]
fn responses_are_rewritten_and_framed() {
    let (out, info, cookies) = response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nConnection: x-hop\r\nX-Hop: 1\r\n\
         Keep-Alive: timeout=5\r\nSet-Cookie: b=2\r\nETag: \"v\"\r\n\r\nhello",
        false,
    )
    .expect("valid");
    assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"v\"\r\n");
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!((info.status, info.framing, info.upstream_close), (200, Framing::Length(5), false));

    let chunked = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    let (out, info, _) = response(chunked, false).expect("valid");
    assert_eq!(info.framing, Framing::Chunked);
    assert!(!out.contains("Content-Length") && out.contains("Transfer-Encoding: gzip, chunked"), "{out}");
    assert_eq!(response(chunked, true).expect("valid").1.framing, Framing::None);

    let (_, info, _) = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false).expect("valid");
    assert_eq!((info.framing, info.upstream_close), (Framing::UntilClose, true));
    let (_, info, _) = response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false).expect("valid");
    assert_eq!((info.framing, info.upstream_close), (Framing::Length(1), true));
    let (out, info, _) =
        response("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false).expect("valid");
    assert!(!info.upstream_close && out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    for status in ["204 No Content", "304 Not Modified", "103 Early Hints"] {
        let (_, info, _) = response(&format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\n"), false).expect("valid");
        assert_eq!(info.framing, Framing::None, "{status}");
    }
    for (raw, why) in [
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "101 Switching Protocols without an upgrade request"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting Content-Length headers"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed head"),
    ] {
        assert_eq!(response(raw, false).map(|_| ()), Err(InvalidResponse(why)), "{raw}");
    }
}

/// Scan `input` in pieces cut at `cuts`; the bytes taken and whether the body ended.
fn scan_in_pieces(input: &[u8], cuts: &[usize]) -> Result<(usize, bool), ChunkedError> {
    let mut s = ChunkedScanner::new();
    let mut taken = 0;
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    for end in cuts {
        if end < start {
            continue;
        }
        let n = s.scan(&input[start..end])?;
        taken += n;
        if s.is_done() {
            return Ok((taken, true));
        }
        start = end;
    }
    Ok((taken, false))
}

#[test]
fn chunked_bodies_end_where_they_end() {
    let body = b"5\r\nhello\r\n1a;ext=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nExpires: never\r\n\r\nNEXT";
    assert_eq!(scan_in_pieces(body, &[]), Ok((body.len() - 4, true)));
    assert_eq!(scan_in_pieces(b"0\r\n\r\n", &[1, 2, 3]), Ok((5, true)));
    assert_eq!(scan_in_pieces(b"A \r\n0123456789\r\n", &[]), Ok((16, false)));
    for bad in [
        &b"x\r\n"[..],
        b"5\nhello\r\n",
        b"5\r\nhelloX\r\n",
        b"10000000000000000\r\n",
        b"0\r\nbad\ntrailer\r\n\r\n",
        b"5;\x01\r\n",
    ] {
        assert!(scan_in_pieces(bad, &[]).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

fn chunked(body: &[u8], sizes: &[usize], trailer: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes.get(i).copied().unwrap_or(7).clamp(1, rest.len());
        out.extend_from_slice(format!("{n:x}{}\r\n", if i % 3 == 1 { ";name=value" } else { "" }).as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        i += 1;
    }
    out.extend_from_slice(if trailer { b"0\r\nX-Checksum: 1\r\n\r\n" } else { b"0\r\n\r\n" });
    out
}

proptest! {
    #[test]
    fn any_chunking_cut_anywhere_ends_exactly(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        sizes in proptest::collection::vec(1usize..200, 0..8),
        trailer in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
        after in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let message = chunked(&body, &sizes, trailer);
        let mut input = message.clone();
        input.extend_from_slice(&after);
        prop_assert_eq!(scan_in_pieces(&input, &cuts), Ok((message.len(), true)));
    }

    #[test]
    fn arbitrary_bytes_scan_the_same_in_any_pieces(
        input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'5'), any::<u8>()], 0..200),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let whole = scan_in_pieces(&input, &[]);
        let pieces = scan_in_pieces(&input, &cuts);
        match (whole, pieces) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "whole {:?} vs pieces {:?}", a, b),
        }
    }

    #[test]
    fn rewritten_requests_parse_and_carry_no_hop_headers(raw in proptest::collection::vec(any::<u8>(), 0..300), prefix in 0usize..4) {
        let prefixes: [&[u8]; 4] = [b"", b"GET / HTTP/1.1\r\nHost: a\r\n", b"POST /x HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nConnection: "];
        let mut input = prefixes[prefix].to_vec();
        input.extend_from_slice(&raw);
        let (mut out, mut consent) = (Vec::new(), HeaderMap::new());
        if let Ok(Parsed::Complete(info)) = parse_request(&input, &rewrite(false), "192.0.2.1", &mut out, &mut consent) {
            prop_assert!(info.head_len <= input.len());
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS + 8];
            let mut req = httparse::Request::new(&mut headers);
            prop_assert_eq!(req.parse(&out), Ok(httparse::Status::Complete(out.len())));
            prop_assert_eq!(req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).count(), 1);
            for h in req.headers.iter() {
                prop_assert!(!REQUEST_HOP.iter().any(|hop| h.name.eq_ignore_ascii_case(hop)), "{} forwarded", h.name);
            }
        }
    }
}
