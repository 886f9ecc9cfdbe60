//! HTTP/1.1 on the wire, for the proxy's fast path (`proxy/fast.rs`): request and response
//! heads parsed with `httparse` and rewritten for the next hop, and the end of a chunked
//! body found without decoding it.
//!
//! Public so that the fuzz targets and tests can drive them; the proxy is their only user.
//!
//! The fast path takes only requests it can frame without doubt. [`parse_request`] answers
//! [`NotTaken::Unsupported`] for everything else (HTTP/1.0, `Transfer-Encoding`, several or invalid
//! `Content-Length`s, `Upgrade`, `Expect`, absolute-form targets, `CONNECT`, heads too big
//! or malformed), and the proxy hands the connection, unread bytes included, to its hyper
//! path, which has answered those cases all along.

use http::header::{HeaderName, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

/// Headers per message the fast path parses; a message with more goes to the hyper path
/// (requests) or is refused (responses, `502`).
pub const MAX_HEADERS: usize = 96;

/// Hop-by-hop request headers (RFC 9110 §7.6.1, and `Proxy-Authorization`, which is for
/// this hop only), never forwarded upstream.
const REQUEST_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Hop-by-hop response headers. `Transfer-Encoding` is not among them: a chunked body is
/// forwarded as it came, framing and all, so its header goes with it.
const RESPONSE_HOP: [&str; 6] = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "te", "upgrade"];

/// At most this many header names in one `Connection` header list (all of them removed).
const MAX_CONNECTION_TOKENS: usize = 16;

/// A request the fast path does not forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotTaken {
    /// Valid HTTP, perhaps, but not for the fast path: the hyper path gets the connection.
    #[error("request not taken by the HTTP/1.1 fast path: {0}")]
    Unsupported(&'static str),
    /// Invalid for any path (RFC 9112 §3.2: no `Host`, or several): the visitor gets a `400`.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
}

use NotTaken::{BadRequest, Unsupported};

/// A response head the proxy refuses to forward (the visitor gets a `502`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid upstream response: {0}")]
pub struct InvalidResponse(pub &'static str);

/// Parsing a head: not all of it has arrived yet, or all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// More bytes are needed.
    Partial,
    /// The head is complete.
    Complete(T),
}

/// How requests are rewritten for the upstream.
#[derive(Debug, Clone)]
pub struct RequestRewrite {
    /// The `Host` header sent upstream (the upstream's authority, as nginx's `proxy_pass`).
    pub upstream_host: String,
    /// A path prefix from the upstream URL (`""` or `/app`, no trailing slash).
    pub base_path: String,
    /// Keep `X-Forwarded-Proto`/`-Host` a trusted front proxy set.
    pub trust_forwarded: bool,
    /// The trusted country header of the inventory (`rules.country_header`), if any.
    pub country_header: Option<HeaderName>,
}

/// What the proxy needs to know of a request after its head was rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Length of the head in the input (the body starts there).
    pub head_len: usize,
    /// `Content-Length` (0 without one).
    pub body_len: u64,
    /// The visitor asked to close the connection after this request.
    pub close: bool,
    /// A `HEAD` request (its response has no body whatever its headers say).
    pub head_method: bool,
    /// The path without the query, as a range of the input (for logs).
    pub path: std::ops::Range<usize>,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The comma-separated tokens of a header value, trimmed, empty ones skipped.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii).filter(|t| !t.is_empty())
}

/// A `Content-Length` value: 1 to 19 ASCII digits, nothing else.
fn content_length(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The range `part` occupies in `buf` (`part` is a slice of `buf`).
fn range_in(buf: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize).min(buf.len());
    start..(start + part.len()).min(buf.len())
}

/// Parse a request head at the start of `buf` and, when the fast path takes it, write the
/// head to send upstream into `out` (cleared first) and the headers the guard decides on
/// (`Cookie`, `Sec-GPC`, `DNT`, the country header) into `consent` (cleared first).
///
/// Hop-by-hop headers and those the `Connection` header names are removed; `Host` becomes
/// the upstream's; `X-Forwarded-For` gets `client_ip` appended; `X-Forwarded-Proto` is set to
/// `http` and `X-Forwarded-Host` to the visitor's `Host` (both kept as sent when
/// `trust_forwarded` and present).
pub fn parse_request(
    buf: &[u8],
    rewrite: &RequestRewrite,
    client_ip: &str,
    out: &mut Vec<u8>,
    consent: &mut HeaderMap,
) -> Result<Parsed<RequestInfo>, NotTaken> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(Unsupported("too many headers")),
        Err(_) => return Err(Unsupported("malformed head")),
    };
    let (Some(method), Some(path), Some(1)) = (req.method, req.path, req.version) else {
        return Err(Unsupported("not HTTP/1.1"));
    };
    if method == "CONNECT" || !path.starts_with('/') {
        return Err(Unsupported("not an origin-form request target"));
    }

    // First pass: framing and the names `Connection` lists.
    let mut body_len = None;
    let mut close = false;
    let mut named: [&[u8]; MAX_CONNECTION_TOKENS] = [&[]; MAX_CONNECTION_TOKENS];
    let mut named_len = 0;
    let mut host: Option<&[u8]> = None;
    let (mut have_xfp, mut have_xfh) = (false, false);
    for h in req.headers.iter() {
        let name = h.name;
        if eq(name, "transfer-encoding") {
            return Err(Unsupported("Transfer-Encoding"));
        } else if eq(name, "content-length") {
            if body_len.is_some() {
                return Err(Unsupported("several Content-Length headers"));
            }
            body_len = Some(content_length(h.value).ok_or(Unsupported("invalid Content-Length"))?);
        } else if eq(name, "upgrade") {
            return Err(Unsupported("Upgrade"));
        } else if eq(name, "expect") {
            return Err(Unsupported("Expect"));
        } else if eq(name, "host") {
            if host.is_some() {
                return Err(BadRequest("several Host headers"));
            }
            host = Some(h.value);
        } else if eq(name, "x-forwarded-proto") {
            have_xfp = true;
        } else if eq(name, "x-forwarded-host") {
            have_xfh = true;
        } else if eq(name, "connection") {
            for t in tokens(h.value) {
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if t.eq_ignore_ascii_case(b"upgrade") {
                    return Err(Unsupported("Connection: upgrade"));
                } else if !t.eq_ignore_ascii_case(b"keep-alive") {
                    if named_len == MAX_CONNECTION_TOKENS {
                        return Err(Unsupported("too many Connection tokens"));
                    }
                    named[named_len] = t;
                    named_len += 1;
                }
            }
        }
    }
    if host.is_none() {
        return Err(BadRequest("no Host header"));
    }
    let named = &named[..named_len];
    let keep_xfp = rewrite.trust_forwarded && have_xfp;
    let keep_xfh = rewrite.trust_forwarded && have_xfh;

    out.clear();
    consent.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(rewrite.base_path.as_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(out, b"host", rewrite.upstream_host.as_bytes());
    // The visitor's X-Forwarded-For values, joined, then its address.
    let mut xff_value: Vec<u8> = Vec::new();
    let mut had_xff = false;
    for h in req.headers.iter() {
        let name = h.name;
        if REQUEST_HOP.iter().any(|hop| eq(name, hop))
            || eq(name, "host")
            || named.iter().any(|t| t.eq_ignore_ascii_case(name.as_bytes()))
        {
            continue;
        }
        if eq(name, "x-forwarded-for") {
            if had_xff {
                xff_value.extend_from_slice(b", ");
            }
            had_xff = true;
            xff_value.extend_from_slice(h.value.trim_ascii());
            continue;
        }
        if (eq(name, "x-forwarded-proto") && !keep_xfp) || (eq(name, "x-forwarded-host") && !keep_xfh) {
            continue;
        }
        let wanted = eq(name, "cookie")
            || eq(name, "sec-gpc")
            || eq(name, "dnt")
            || rewrite.country_header.as_ref().is_some_and(|c| eq(name, c.as_str()));
        if wanted && let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(h.value)) {
            consent.append(n, v);
        }
        push_header(out, name.as_bytes(), h.value);
    }
    if had_xff {
        xff_value.extend_from_slice(b", ");
    }
    xff_value.extend_from_slice(client_ip.as_bytes());
    push_header(out, b"x-forwarded-for", &xff_value);
    if !keep_xfp {
        push_header(out, b"x-forwarded-proto", b"http");
    }
    if let Some(h) = host
        && !keep_xfh
    {
        push_header(out, b"x-forwarded-host", h);
    }
    out.extend_from_slice(b"\r\n");
    let path_only = path.split('?').next().unwrap_or(path);
    Ok(Parsed::Complete(RequestInfo {
        head_len,
        body_len: body_len.unwrap_or(0),
        close,
        head_method: method == "HEAD",
        path: range_in(buf, path_only.as_bytes()),
    }))
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (`HEAD`, `1xx`, `204`, `304`).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`, forwarded as it is ([`ChunkedScanner`] finds the end).
    Chunked,
    /// Until the upstream closes the connection (the visitor's connection closes too).
    UntilClose,
}

/// What the proxy needs to know of a response after its head was rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseInfo {
    /// Length of the head in the input.
    pub head_len: usize,
    /// The status code.
    pub status: u16,
    /// How the body is delimited.
    pub framing: Framing,
    /// The upstream connection cannot take another request after this response.
    pub upstream_close: bool,
}

/// Parse a response head at the start of `buf` and write it, for the visitor, into `out`
/// (cleared first), without the final empty line and without its `Set-Cookie` headers,
/// which go into `set_cookies` (cleared first) for the guard to filter: the caller appends
/// what is left of them, any `Connection: close`, and `\r\n`.
///
/// `head_method`: the request was a `HEAD` (no body, whatever the headers say).
/// An interim (`1xx`) response is rewritten like any other; the caller forwards it and
/// parses the next head. `101 Switching Protocols` is refused: the fast path never asks
/// for an upgrade.
pub fn parse_response(
    buf: &[u8],
    head_method: bool,
    out: &mut Vec<u8>,
    set_cookies: &mut HeaderMap,
) -> Result<Parsed<ResponseInfo>, InvalidResponse> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(InvalidResponse("too many headers")),
        Err(_) => return Err(InvalidResponse("malformed head")),
    };
    let (Some(version), Some(status)) = (res.version, res.code) else {
        return Err(InvalidResponse("malformed status line"));
    };
    if status == 101 {
        return Err(InvalidResponse("101 Switching Protocols without an upgrade request"));
    }
    if !(100..=999).contains(&status) {
        return Err(InvalidResponse("status code out of range"));
    }

    let mut length: Option<u64> = None;
    let mut chunked: Option<bool> = None;
    let mut close = version == 0;
    let mut named: [&[u8]; MAX_CONNECTION_TOKENS] = [&[]; MAX_CONNECTION_TOKENS];
    let mut named_len = 0;
    for h in res.headers.iter() {
        let name = h.name;
        if eq(name, "content-length") {
            let n = content_length(h.value).ok_or(InvalidResponse("invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(InvalidResponse("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if eq(name, "transfer-encoding") {
            // The last coding decides: chunked frames the body, anything else runs to the close.
            if let Some(last) = tokens(h.value).last() {
                chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
            }
        } else if eq(name, "connection") {
            for t in tokens(h.value) {
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    if version == 0 {
                        close = false;
                    }
                } else if named_len < MAX_CONNECTION_TOKENS {
                    named[named_len] = t;
                    named_len += 1;
                } else {
                    return Err(InvalidResponse("too many Connection tokens"));
                }
            }
        }
    }
    let named = &named[..named_len];
    let framing = if head_method || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };

    out.clear();
    set_cookies.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&[b'0' + (status / 100) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8]);
    out.push(b' ');
    out.extend_from_slice(res.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in res.headers.iter() {
        let name = h.name;
        if RESPONSE_HOP.iter().any(|hop| eq(name, hop)) || named.iter().any(|t| t.eq_ignore_ascii_case(name.as_bytes()))
        {
            continue;
        }
        // A body delimited by chunking or by the close carries no Content-Length (RFC 9112 §6.3).
        if eq(name, "content-length") && matches!(framing, Framing::Chunked | Framing::UntilClose) {
            continue;
        }
        if eq(name, "set-cookie") {
            match HeaderValue::from_bytes(h.value) {
                Ok(v) => {
                    set_cookies.append(SET_COOKIE, v);
                }
                // Not representable as a header value: it cannot be judged, so it is not passed on.
                Err(_) => continue,
            }
            continue;
        }
        push_header(out, name.as_bytes(), h.value);
    }
    Ok(Parsed::Complete(ResponseInfo {
        head_len,
        status,
        framing,
        upstream_close: close || framing == Framing::UntilClose,
    }))
}

/// Append `Set-Cookie` lines for every value in `set_cookies` to a head being written.
pub fn push_set_cookies(out: &mut Vec<u8>, set_cookies: &HeaderMap) {
    for v in set_cookies.get_all(SET_COOKIE) {
        push_header(out, b"set-cookie", v.as_bytes());
    }
}

/// Longest chunk-extension part of one chunk-size line.
const MAX_CHUNK_EXT: usize = 4096;
/// Longest trailer section.
const MAX_TRAILERS: usize = 16 * 1024;

/// Where a chunked body is in its framing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    /// The first hex digit of a chunk size.
    #[default]
    SizeStart,
    /// More hex digits of a chunk size.
    Size,
    /// Whitespace after the size.
    SizeSpace,
    /// A chunk extension, up to the line's CR.
    Extension,
    /// The LF of the chunk-size line.
    SizeLf,
    /// Chunk data.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// The start of a trailer line, or the final CRLF.
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// The LF ending a trailer line.
    TrailerLf,
    /// The LF of the final CRLF.
    EndLf,
    /// The body is complete.
    Done,
}

/// The chunked body is malformed (or uses sizes and extensions beyond the scanner's limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub struct ChunkedError(pub &'static str);

/// Finds where a `Transfer-Encoding: chunked` body ends (RFC 9112 §7.1) without decoding
/// it, so the proxy can forward its bytes unchanged and know when the response is over.
/// Feed it the body's bytes in any pieces.
#[derive(Debug, Clone, Default)]
pub struct ChunkedScanner {
    state: ChunkState,
    /// The chunk size being read, then the data bytes still to come.
    remaining: u64,
    digits: u8,
    ext_len: usize,
    trailer_len: usize,
}

impl ChunkedScanner {
    /// A scanner at the start of a body.
    pub fn new() -> ChunkedScanner {
        ChunkedScanner::default()
    }

    /// The last chunk and the trailers have been seen.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Scan the next bytes of the body. Returns how many belong to it: all of `input`
    /// unless the body ends inside it (then [`ChunkedScanner::is_done`]).
    pub fn scan(&mut self, input: &[u8]) -> Result<usize, ChunkedError> {
        use ChunkState::*;
        let mut i = 0;
        while i < input.len() {
            if self.state == Data {
                let n = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(input.len() - i);
                i += n;
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = DataCr;
                }
                continue;
            }
            let b = input[i];
            self.state = match (self.state, b) {
                (SizeStart, b) if b.is_ascii_hexdigit() => {
                    self.remaining = u64::from(hex(b));
                    self.digits = 1;
                    self.ext_len = 0;
                    Size
                }
                (SizeStart, _) => return Err(ChunkedError("chunk size expected")),
                (Size, b) if b.is_ascii_hexdigit() => {
                    self.digits += 1;
                    if self.digits > 15 {
                        return Err(ChunkedError("chunk size too large"));
                    }
                    self.remaining = self.remaining * 16 + u64::from(hex(b));
                    Size
                }
                (Size | SizeSpace, b' ' | b'\t') => SizeSpace,
                (Size | SizeSpace, b';') => Extension,
                (Size | SizeSpace, b'\r') => SizeLf,
                (Size | SizeSpace, _) => return Err(ChunkedError("invalid chunk-size line")),
                (Extension, b'\r') => SizeLf,
                (Extension, b) if b != b'\t' && (b < 0x20 || b == 0x7f) => {
                    return Err(ChunkedError("control character in a chunk extension"));
                }
                (Extension, _) => {
                    self.ext_len += 1;
                    if self.ext_len > MAX_CHUNK_EXT {
                        return Err(ChunkedError("chunk extension too long"));
                    }
                    Extension
                }
                (SizeLf, b'\n') if self.remaining == 0 => TrailerStart,
                (SizeLf, b'\n') => Data,
                (SizeLf, _) => return Err(ChunkedError("CRLF expected after the chunk size")),
                (DataCr, b'\r') => DataLf,
                (DataLf, b'\n') => SizeStart,
                (DataCr | DataLf, _) => return Err(ChunkedError("CRLF expected after chunk data")),
                (TrailerStart, b'\r') => EndLf,
                (Trailer, b'\r') => TrailerLf,
                (TrailerStart | Trailer, b) if b != b'\t' && (b < 0x20 || b == 0x7f) => {
                    return Err(ChunkedError("control character in a trailer"));
                }
                (TrailerStart | Trailer, _) => {
                    self.trailer_len += 1;
                    if self.trailer_len > MAX_TRAILERS {
                        return Err(ChunkedError("trailers too long"));
                    }
                    Trailer
                }
                (TrailerLf, b'\n') => TrailerStart,
                (TrailerLf, _) => return Err(ChunkedError("CRLF expected after a trailer")),
                (EndLf, b'\n') => {
                    self.state = Done;
                    return Ok(i + 1);
                }
                (EndLf, _) => return Err(ChunkedError("CRLF expected at the end of the body")),
                (Data, _) => Data,
                (Done, _) => return Ok(i),
            };
            i += 1;
        }
        Ok(i)
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests;
