//! The HTML response body through the guard's HTML pass ([`crate::html`]): decoded,
//! rewritten and re-encoded chunk by chunk (never the whole body), for identity, gzip and
//! brotli bodies, with the page's CSP nonce carried over to the banner tag.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::html::{HtmlPass, charset};
use crate::rules::Plan;

/// Boxed error of an injected body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

    fn push(&mut self, pass: &mut HtmlPass, chunk: Bytes) -> Result<Bytes, BoxError> {
        let mut plain_out = Vec::new();
        match self {
            Codec::Identity => {
                pass.push(&chunk, &mut plain_out)?;
                Ok(Bytes::from(plain_out))
            }
            Codec::Gzip(c) => {
                let (dec, enc) = &mut **c;
                dec.write_all(&chunk)?;
                dec.flush()?;
                pass.push(dec.get_ref(), &mut plain_out)?;
                dec.get_mut().clear();
                enc.write_all(&plain_out)?;
                enc.flush()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Brotli(c) => {
                let (dec, enc) = &mut **c;
                dec.write_all(&chunk)?;
                dec.flush()?;
                pass.push(dec.get_ref(), &mut plain_out)?;
                dec.get_mut().clear();
                let enc = enc.as_mut().ok_or_else(|| std::io::Error::other("brotli encoder already finished"))?;
                enc.write_all(&plain_out)?;
                enc.flush()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
        }
    }

    fn finish(&mut self, pass: &mut HtmlPass) -> Result<Bytes, BoxError> {
        let mut plain_out = Vec::new();
        match self {
            Codec::Identity => {
                pass.finish(&mut plain_out)?;
                Ok(Bytes::from(plain_out))
            }
            Codec::Gzip(c) => {
                let (dec, enc) = &mut **c;
                dec.try_finish()?;
                pass.push(dec.get_ref(), &mut plain_out)?;
                dec.get_mut().clear();
                pass.finish(&mut plain_out)?;
                enc.write_all(&plain_out)?;
                enc.try_finish()?;
                Ok(Bytes::from(std::mem::take(enc.get_mut())))
            }
            Codec::Brotli(c) => {
                let (dec, enc) = &mut **c;
                dec.close().map_err(|_| std::io::Error::other("truncated brotli body"))?;
                pass.push(dec.get_ref(), &mut plain_out)?;
                dec.get_mut().clear();
                pass.finish(&mut plain_out)?;
                let mut enc = enc.take().ok_or_else(|| std::io::Error::other("brotli encoder already finished"))?;
                enc.write_all(&plain_out)?;
                Ok(Bytes::from(enc.into_inner()))
            }
        }
    }
}

/// The HTML pass over a body in one encoding.
struct Pipeline {
    codec: Codec,
    pass: HtmlPass,
    ended: bool,
}

pin_project! {
    /// A response body: through the HTML pass when the response is a page the guard
    /// rewrites, passed through untouched otherwise.
    pub struct InjectBody<B> {
        #[pin]
        inner: B,
        pipeline: Option<Box<Pipeline>>,
    }
}

impl<B> InjectBody<B> {
    /// `inner` (encoded as `encoding`) through `pass`.
    pub fn new(inner: B, encoding: Encoding, pass: HtmlPass) -> InjectBody<B> {
        InjectBody { inner, pipeline: Some(Box::new(Pipeline { codec: Codec::new(encoding), pass, ended: false })) }
    }

    /// `inner` untouched.
    pub fn untouched(inner: B) -> InjectBody<B> {
        InjectBody { inner, pipeline: None }
    }

    /// Whether the body goes through the HTML pass.
    pub fn is_rewritten(&self) -> bool {
        self.pipeline.is_some()
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
        let Some(p) = this.pipeline.as_deref_mut() else {
            return this.inner.poll_frame(cx).map_err(Into::into);
        };
        loop {
            if p.ended {
                return Poll::Ready(None);
            }
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let out = p.codec.push(&mut p.pass, data)?;
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => {
                    p.ended = true;
                    let out = p.codec.finish(&mut p.pass)?;
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.pipeline {
            Some(p) => p.ended,
            None => self.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.pipeline {
            Some(_) => SizeHint::default(),
            None => self.inner.size_hint(),
        }
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

/// Put an HTML response through the HTML pass of `plan` (`None`: nothing to do for this
/// request, like a `HEAD`), or give it back untouched when it is not an HTML page in an
/// encoding the pass handles, or when the plan needs no pass (no banner, nothing held back
/// for a visitor who granted everything). A rewritten response loses `Content-Length` (the
/// body is re-chunked) and a strong `ETag` becomes weak. An HTML response whose content
/// depends on the visitor's choice gets `Vary: Cookie, Sec-GPC`, so that a shared cache
/// does not give one visitor's page to another.
pub fn rewrite<B>(res: Response<B>, plan: Option<Plan>) -> Response<InjectBody<B>> {
    let Some(plan) = plan else { return res.map(InjectBody::untouched) };
    let Some(encoding) = injectable(res.status(), res.headers()) else { return res.map(InjectBody::untouched) };
    let (mut parts, body) = res.into_parts();
    if plan.varies_by_consent() {
        parts.headers.append(VARY, HeaderValue::from_static("Cookie, Sec-GPC"));
    }
    if !plan.needs_pass() {
        return Response::from_parts(parts, InjectBody::untouched(body));
    }
    let nonce = csp_nonce(&parts.headers);
    let enc = charset(parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()));
    let pass = HtmlPass::new(plan, nonce.as_deref(), enc);
    parts.headers.remove(CONTENT_LENGTH);
    if let Some(etag) = parts.headers.get(ETAG).and_then(|v| v.to_str().ok())
        && !etag.starts_with("W/")
        && let Ok(weak) = HeaderValue::try_from(format!("W/{etag}"))
    {
        parts.headers.insert(ETAG, weak);
    }
    Response::from_parts(parts, InjectBody::new(body, encoding, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        h.insert("content-security-policy", HeaderValue::from_static("default-src 'nonce-d1'"));
        assert_eq!(csp_nonce(&h).as_deref(), Some("d1"));
    }
}
