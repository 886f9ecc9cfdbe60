//! Banner injection: a `<script async src=...>` tag inserted before `</head>` of HTML
//! responses, streaming (chunk by chunk, never the whole body), for identity, gzip and
//! brotli bodies, with the page's CSP nonce carried over.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// Boxed error of an injected body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How far into a document (decoded bytes) the scanner looks for `</head>` or `<body`
/// before giving up and passing the rest through untouched.
pub const MAX_SCAN: usize = 1 << 20;

/// Body encodings the injector can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No `Content-Encoding` (or `identity`).
    Identity,
    /// `gzip` (re-encoded after injection).
    Gzip,
    /// `br` (re-encoded after injection).
    Brotli,
}

impl Encoding {
    /// The encoding a `Content-Encoding` header names; `None` for anything else (`zstd`,
    /// `deflate`, stacked encodings), which is passed through without injection.
    pub fn from_header(v: Option<&HeaderValue>) -> Option<Encoding> {
        let Some(v) = v else { return Some(Encoding::Identity) };
        match v.to_str().ok()?.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(Encoding::Identity),
            "gzip" | "x-gzip" => Some(Encoding::Gzip),
            "br" => Some(Encoding::Brotli),
            _ => None,
        }
    }
}

/// The nonce of `script-src` (or `script-src-elem`, or else `default-src`) in the
/// response's `Content-Security-Policy` headers.
pub fn csp_nonce(headers: &HeaderMap) -> Option<String> {
    let mut fallback = None;
    for value in headers.get_all("content-security-policy").iter().filter_map(|v| v.to_str().ok()) {
        for directive in value.split(';') {
            let mut tokens = directive.split_ascii_whitespace();
            let Some(name) = tokens.next() else { continue };
            let name = name.to_ascii_lowercase();
            let nonce = tokens
                .find_map(|t| t.strip_prefix("'nonce-").and_then(|t| t.strip_suffix('\'')))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b)));
            match (name.as_str(), nonce) {
                ("script-src" | "script-src-elem", Some(n)) => return Some(n.to_string()),
                ("default-src", Some(n)) => fallback = fallback.or(Some(n.to_string())),
                _ => {}
            }
        }
    }
    fallback
}

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The tag inserted: `<script async src="SRC" nonce="N"></script>`.
pub fn script_tag(src: &str, nonce: Option<&str>) -> Bytes {
    let nonce = nonce.map(|n| format!(" nonce=\"{}\"", escape_attr(n))).unwrap_or_default();
    Bytes::from(format!("<script async src=\"{}\"{nonce}></script>", escape_attr(src)))
}

/// Finds the insertion point (before `</head` or, in a document without one, `<body`),
/// across chunk boundaries.
#[derive(Debug)]
pub struct Scanner {
    tag: Option<Bytes>,
    carry: Vec<u8>,
    scanned: usize,
}

/// Longest marker minus one: bytes kept between chunks.
const CARRY: usize = 5;

fn find_marker(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'<') {
        let at = i + off;
        let rest = &buf[at + 1..];
        let is = |m: &[u8]| rest.len() >= m.len() && rest[..m.len()].eq_ignore_ascii_case(m);
        if is(b"/head") || is(b"body") {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

impl Scanner {
    /// A scanner that inserts `tag` once.
    pub fn new(tag: Bytes) -> Scanner {
        Scanner { tag: Some(tag), carry: Vec::new(), scanned: 0 }
    }

    /// Whether the tag has been inserted (or the scanner gave up).
    pub fn done(&self) -> bool {
        self.tag.is_none()
    }

    /// Feed a chunk; append what can be sent now to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(tag) = &self.tag else {
            out.extend_from_slice(chunk);
            return;
        };
        self.scanned += chunk.len();
        let owned;
        let buf: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            owned = std::mem::take(&mut self.carry);
            &owned
        };
        if let Some(pos) = find_marker(buf) {
            out.reserve(buf.len() + tag.len());
            out.extend_from_slice(&buf[..pos]);
            out.extend_from_slice(tag);
            out.extend_from_slice(&buf[pos..]);
            self.tag = None;
        } else if self.scanned > MAX_SCAN {
            out.extend_from_slice(buf);
            self.tag = None;
        } else {
            let keep = buf.len().min(CARRY);
            out.extend_from_slice(&buf[..buf.len() - keep]);
            self.carry = buf[buf.len() - keep..].to_vec();
        }
    }

    /// Feed a chunk that needs no decoding: once the tag is in, chunks pass through uncopied.
    pub fn push_bytes(&mut self, chunk: Bytes) -> Bytes {
        if self.done() && self.carry.is_empty() {
            return chunk;
        }
        let mut out = Vec::with_capacity(chunk.len() + 128);
        self.push(&chunk, &mut out);
        Bytes::from(out)
    }

    /// The end of the body: whatever was held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.carry);
        self.tag = None;
    }
}

/// A gzip decoder and the encoder that re-compresses its output.
type GzipPair = (flate2::write::GzDecoder<Vec<u8>>, flate2::write::GzEncoder<Vec<u8>>);
/// A brotli decoder and the encoder that re-compresses its output (taken when finished).
type BrotliPair = (brotli::DecompressorWriter<Vec<u8>>, Option<brotli::CompressorWriter<Vec<u8>>>);

enum Codec {
    Identity,
    Gzip(Box<GzipPair>),
    Brotli(Box<BrotliPair>),
}

impl Codec {
    fn new(enc: Encoding) -> Codec {
        match enc {
            Encoding::Identity => Codec::Identity,
            Encoding::Gzip => Codec::Gzip(Box::new((
                flate2::write::GzDecoder::new(Vec::new()),
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(5)),
            ))),
            Encoding::Brotli => Codec::Brotli(Box::new((
                brotli::DecompressorWriter::new(Vec::new(), 8192),
                Some(brotli::CompressorWriter::new(Vec::new(), 8192, 5, 22)),
            ))),
        }
    }

    fn push(&mut self, scanner: &mut Scanner, chunk: Bytes) -> std::io::Result<Bytes> {
        let mut plain_out = Vec::new();
        match self {
            Codec::Identity => Ok(scanner.push_bytes(chunk)),
            Codec::Gzip(c) => {
                let (dec, enc) = &mut **c;
                dec.write_all(&chunk)?;
                dec.flush()?;
                scanner.push(dec.get_ref(), &mut plain_out);
                dec.get_mut().clear();
                enc.write_all(&plain_out)?;
                enc.flush()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Brotli(c) => {
                let (dec, enc) = &mut **c;
                dec.write_all(&chunk)?;
                dec.flush()?;
                scanner.push(dec.get_ref(), &mut plain_out);
                dec.get_mut().clear();
                let enc = enc.as_mut().ok_or_else(|| std::io::Error::other("brotli encoder already finished"))?;
                enc.write_all(&plain_out)?;
                enc.flush()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
        }
    }

    fn finish(&mut self, scanner: &mut Scanner) -> std::io::Result<Bytes> {
        let mut plain_out = Vec::new();
        match self {
            Codec::Identity => {
                scanner.finish(&mut plain_out);
                Ok(Bytes::from(plain_out))
            }
            Codec::Gzip(c) => {
                let (dec, enc) = &mut **c;
                dec.try_finish()?;
                scanner.push(dec.get_ref(), &mut plain_out);
                dec.get_mut().clear();
                scanner.finish(&mut plain_out);
                enc.write_all(&plain_out)?;
                enc.try_finish()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Brotli(c) => {
                let (dec, enc) = &mut **c;
                dec.close().map_err(|_| std::io::Error::other("truncated brotli body"))?;
                scanner.push(dec.get_ref(), &mut plain_out);
                dec.get_mut().clear();
                scanner.finish(&mut plain_out);
                let mut enc = enc.take().ok_or_else(|| std::io::Error::other("brotli encoder already finished"))?;
                enc.write_all(&plain_out)?;
                Ok(Bytes::from(enc.into_inner()))
            }
        }
    }
}

pin_project! {
    /// A response body with the banner tag inserted.
    pub struct InjectBody<B> {
        #[pin]
        inner: B,
        codec: Codec,
        scanner: Scanner,
        ended: bool,
    }
}

impl<B> InjectBody<B> {
    /// Wrap `inner` (encoded as `encoding`), inserting `tag` once.
    pub fn new(inner: B, encoding: Encoding, tag: Bytes) -> InjectBody<B> {
        InjectBody { inner, codec: Codec::new(encoding), scanner: Scanner::new(tag), ended: false }
    }
}

impl<B> Body for InjectBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if *this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.codec.push(this.scanner, data)?;
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => {
                    *this.ended = true;
                    let out = this.codec.finish(this.scanner)?;
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Whether a response is an HTML page the tag can go into, and in which encoding.
pub fn injectable(status: StatusCode, headers: &HeaderMap) -> Option<Encoding> {
    if !status.is_success() || status == StatusCode::NO_CONTENT || status == StatusCode::PARTIAL_CONTENT {
        return None;
    }
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().get(..9).is_some_and(|p| p.eq_ignore_ascii_case("text/html")));
    if !html {
        return None;
    }
    Encoding::from_header(headers.get(CONTENT_ENCODING))
}

/// Insert the banner script (source `src`) into an HTML response, or give it back unchanged
/// when it is not an HTML page in an encoding the injector handles. `Content-Length` is
/// removed (the body is re-chunked) and a strong `ETag` becomes weak.
pub fn inject<B>(res: Response<B>, src: &str) -> Result<Response<InjectBody<B>>, Response<B>> {
    let Some(encoding) = injectable(res.status(), res.headers()) else { return Err(res) };
    let (mut parts, body) = res.into_parts();
    let tag = script_tag(src, csp_nonce(&parts.headers).as_deref());
    parts.headers.remove(CONTENT_LENGTH);
    if let Some(etag) = parts.headers.get(ETAG).and_then(|v| v.to_str().ok())
        && !etag.starts_with("W/")
        && let Ok(weak) = HeaderValue::try_from(format!("W/{etag}"))
    {
        parts.headers.insert(ETAG, weak);
    }
    Ok(Response::from_parts(parts, InjectBody::new(body, encoding, tag)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = Scanner::new(Bytes::from_static(b"<X>"));
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn inserts_once_across_any_split() {
        let doc = b"<html><head><title>t</title></HEAD><body>x</head></body></html>";
        for split in 0..doc.len() {
            let (a, b) = doc.split_at(split);
            let out = run(&[a, b]);
            assert_eq!(out, b"<html><head><title>t</title><X></HEAD><body>x</head></body></html>", "split {split}");
        }
        assert_eq!(run(&[b"<p>no head", b"<body>"]), b"<p>no head<X><body>");
        assert_eq!(run(&[b"plain text"]), b"plain text");
    }

    #[test]
    fn nonce_from_csp() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'self'; script-src 'nonce-abc+/=' 'strict-dynamic'"),
        );
        assert_eq!(csp_nonce(&h).as_deref(), Some("abc+/="));
        h.insert("content-security-policy", HeaderValue::from_static("script-src 'nonce-\"x'"));
        assert_eq!(csp_nonce(&h), None);
        assert_eq!(
            &script_tag("/b.js?a=1&b=\"", Some("n1"))[..],
            b"<script async src=\"/b.js?a=1&amp;b=&quot;\" nonce=\"n1\"></script>"
        );
    }
}
