//! The streaming HTML pass, with Cloudflare's `lol_html`: the banner tag goes in as the
//! first child of `<head>`, and, for a visitor who has not granted a category, the
//! elements of that category's services are made inert (the markup contract in
//! `docs/guard.md`, "Rewriting HTML"). Chunk by chunk: the pass never holds the whole
//! document, only an inline script while it decides about it.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, Mutex};

use lol_html::html_content::{ContentType, TextChunk};
use lol_html::send::{Element, ElementContentHandlers, HtmlRewriter, Settings};
use lol_html::{AsciiCompatibleEncoding, OutputSink, Selector};

use crate::rules::{Hold, Plan, escape_attr, is_js_type};

/// Why the HTML pass failed.
pub type HtmlError = lol_html::errors::RewritingError;

/// The longest inline script text held while deciding whether it is a held service's
/// snippet; past it, what was seen decides and the rest streams through.
pub const MAX_INLINE: usize = 256 * 1024;

/// `rel` values of `<link>` that make the browser contact a host before any script runs.
const LINK_RELS: [&str; 5] = ["preload", "prefetch", "preconnect", "dns-prefetch", "modulepreload"];

/// Where the pass's output goes until [`HtmlPass::push`] takes it.
struct Sink(Arc<Mutex<Vec<u8>>>);

impl OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(chunk);
        }
    }
}

/// An inline script whose text is being collected.
struct Pending {
    /// Its attributes (name, value), in order.
    attrs: Vec<(String, String)>,
    /// Its text so far (removed from the output until decided).
    text: String,
    /// Decided before its end ([`MAX_INLINE`]): the rest streams through.
    passing: bool,
}

/// What the handlers share.
struct State {
    /// The banner tag, until inserted.
    tag: Option<String>,
    /// The banner's first layer, until inserted after `<body>`.
    first: Option<String>,
    /// The inline script being decided.
    script: Option<Pending>,
}

/// Selectors, parsed once.
struct Selectors {
    html: Selector,
    head: Selector,
    body: Selector,
    script: Selector,
    iframe: Selector,
    media: Selector,
    link: Selector,
    noscript: Selector,
    /// `iframe`, `media` and `link` narrowed to elements with a URL containing `//` in an
    /// attribute the element loads (see [`Plan::only_absolute_urls`]): `lol_html` checks the
    /// attributes while it scans the tag, so the many first-party images of a page never
    /// reach a handler.
    iframe_abs: Selector,
    media_abs: Selector,
    link_abs: Selector,
}

fn parse(s: &str) -> Selector {
    // The selectors are constants of this file; every test of the pass parses them all.
    s.parse().unwrap_or_else(|e| panic!("selector `{s}`: {e}"))
}

static SELECTORS: LazyLock<Selectors> = LazyLock::new(|| Selectors {
    html: parse("html"),
    head: parse("head"),
    body: parse("body"),
    script: parse("script"),
    iframe: parse("iframe[src]"),
    media: parse("img, video, audio, source, track"),
    link: parse("link[href][rel]"),
    noscript: parse("noscript"),
    iframe_abs: parse(r#"iframe[src*="//"]"#),
    media_abs: parse(
        r#"img[src*="//"], img[srcset*="//"], video[src*="//"], video[poster*="//"], audio[src*="//"], source[src*="//"], source[srcset*="//"], track[src*="//"]"#,
    ),
    link_abs: parse(r#"link[href*="//"][rel]"#),
});

/// The HTML pass over one response body.
pub struct HtmlPass {
    rewriter: Option<HtmlRewriter<'static, Sink>>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for HtmlPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HtmlPass").finish_non_exhaustive()
    }
}

type Handler = (Cow<'static, Selector>, ElementContentHandlers<'static>);

fn mark(el: &mut Element<'_, '_>, hold: &Hold) -> lol_html::HandlerResult {
    el.set_attribute("data-crumb-category", &hold.category)?;
    if let Some(s) = &hold.service {
        el.set_attribute("data-crumb-service", s)?;
    }
    Ok(())
}

/// Move attribute `name` to `data-crumb-<name>`.
fn park(el: &mut Element<'_, '_>, name: &str) -> lol_html::HandlerResult {
    if let Some(v) = el.get_attribute(name) {
        el.remove_attribute(name);
        el.set_attribute(&format!("data-crumb-{name}"), &v)?;
    }
    Ok(())
}

/// The start tag of the inert copy of an inline script.
fn held_start_tag(attrs: &[(String, String)], hold: &Hold) -> String {
    let mut tag = String::from("<script");
    let mut original_type = None;
    for (name, value) in attrs {
        if name == "type" {
            original_type = Some(value);
            continue;
        }
        tag.push_str(&format!(" {name}=\"{}\"", escape_attr(value)));
    }
    tag.push_str(" type=\"text/plain\"");
    if let Some(t) = original_type {
        tag.push_str(&format!(" data-crumb-type=\"{}\"", escape_attr(t)));
    }
    tag.push_str(&format!(" data-crumb-category=\"{}\"", escape_attr(&hold.category)));
    if let Some(s) = &hold.service {
        tag.push_str(&format!(" data-crumb-service=\"{}\"", escape_attr(s)));
    }
    tag.push('>');
    tag
}

fn script_handlers(plan: &Arc<Plan>, state: &Arc<Mutex<State>>) -> Handler {
    let (p, st) = (plan.clone(), state.clone());
    let holds = plan.holds_anything();
    let inline = plan.holds_inline();
    let mut handlers = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
        let mut st = st.lock().map_err(|_| "rewriter state poisoned")?;
        if let Some(tag) = st.tag.take() {
            el.before(&tag, ContentType::Html);
        }
        if !holds || el.has_attribute("data-crumb-category") {
            return Ok(());
        }
        let ty = el.get_attribute("type");
        if !is_js_type(ty.as_deref()) {
            return Ok(());
        }
        match el.get_attribute("src") {
            Some(src) => {
                if let Some(hold) = p.hold_url(&src, true) {
                    el.set_attribute("type", "text/plain")?;
                    if let Some(t) = ty {
                        el.set_attribute("data-crumb-type", &t)?;
                    }
                    mark(el, &hold)?;
                }
            }
            None if inline => {
                let attrs = el.attributes().iter().map(|a| (a.name(), a.value())).collect();
                st.script = Some(Pending { attrs, text: String::new(), passing: false });
            }
            None => {}
        }
        Ok(())
    });
    if inline {
        let (p, st) = (plan.clone(), state.clone());
        handlers = handlers.text(move |t: &mut TextChunk<'_>| {
            let mut st = st.lock().map_err(|_| "rewriter state poisoned")?;
            let last = t.last_in_text_node();
            let Some(pending) = st.script.as_mut() else { return Ok(()) };
            if pending.passing {
                if last {
                    st.script = None;
                }
                return Ok(());
            }
            pending.text.push_str(t.as_str());
            if !last && pending.text.len() <= MAX_INLINE {
                t.remove();
                return Ok(());
            }
            let text = std::mem::take(&mut pending.text);
            let out = match p.hold_inline(&text) {
                // The original element runs nothing; its inert copy holds the text and is
                // closed by the original end tag.
                Some(hold) => format!("</script>{}{text}", held_start_tag(&pending.attrs, &hold)),
                None => text,
            };
            t.replace(&out, ContentType::Html);
            if last {
                st.script = None;
            } else {
                pending.passing = true;
            }
            Ok(())
        });
    }
    (Cow::Borrowed(&SELECTORS.script), handlers)
}

fn hold_handlers(plan: &Arc<Plan>) -> Vec<Handler> {
    let p = plan.clone();
    let iframe = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
        if el.has_attribute("data-crumb-category") {
            return Ok(());
        }
        if let Some(hold) = el.get_attribute("src").and_then(|src| p.hold_url(&src, false)) {
            park(el, "src")?;
            mark(el, &hold)?;
        }
        Ok(())
    });
    let p = plan.clone();
    let media = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
        if el.has_attribute("data-crumb-category") {
            return Ok(());
        }
        // The attributes the element loads from (as `SELECTORS.media_abs` lists them), in
        // order: `src`, `poster`, then each `srcset` candidate; the first held URL decides.
        let (poster, srcset) = match el.tag_name().as_str() {
            "img" | "source" => (false, true),
            "video" => (true, false),
            _ => (false, false),
        };
        let hold = ["src", "poster"][..1 + usize::from(poster)]
            .iter()
            .filter_map(|a| el.get_attribute(a))
            .find_map(|u| p.hold_url(&u, false))
            .or_else(|| {
                let set = el.get_attribute("srcset").filter(|_| srcset)?;
                set.split(',').filter_map(|c| c.split_whitespace().next()).find_map(|u| p.hold_url(u, false))
            });
        if let Some(hold) = hold {
            for a in ["src", "srcset", "poster"] {
                park(el, a)?;
            }
            mark(el, &hold)?;
        }
        Ok(())
    });
    let p = plan.clone();
    let link = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
        if el.has_attribute("data-crumb-category") {
            return Ok(());
        }
        let rel = el.get_attribute("rel").unwrap_or_default().to_ascii_lowercase();
        if !rel.split_ascii_whitespace().any(|r| LINK_RELS.contains(&r)) {
            return Ok(());
        }
        if let Some(hold) = el.get_attribute("href").and_then(|href| p.hold_url(&href, false)) {
            park(el, "href")?;
            mark(el, &hold)?;
        }
        Ok(())
    });
    // A browser with scripting on never loads `<noscript>` content, one with scripting off
    // does (the GTM and Meta Pixel fallbacks): its markup goes through the same pass.
    let p = plan.clone();
    let mut collected = String::new();
    let noscript = ElementContentHandlers::default().text(move |t: &mut TextChunk<'_>| {
        collected.push_str(t.as_str());
        if !t.last_in_text_node() && collected.len() <= MAX_INLINE {
            t.remove();
            return Ok(());
        }
        let text = std::mem::take(&mut collected);
        let out = HtmlPass::run(&p, None, None, text.as_bytes())?;
        t.replace(&String::from_utf8_lossy(&out), ContentType::Html);
        Ok(())
    });
    let root = ElementContentHandlers::default().element(|el: &mut Element<'_, '_>| {
        el.set_attribute("data-crumb-rewritten", "")?;
        Ok(())
    });
    let s = &*SELECTORS;
    let (iframe_sel, media_sel, link_sel) = match plan.only_absolute_urls() {
        true => (&s.iframe_abs, &s.media_abs, &s.link_abs),
        false => (&s.iframe, &s.media, &s.link),
    };
    vec![
        (Cow::Borrowed(&s.html), root),
        (Cow::Borrowed(iframe_sel), iframe),
        (Cow::Borrowed(media_sel), media),
        (Cow::Borrowed(link_sel), link),
        (Cow::Borrowed(&s.noscript), noscript),
    ]
}

/// The encoding a `Content-Type` header's `charset` names (`None`: not given, or not one
/// the pass can read; the page's `<meta charset>` then decides, UTF-8 by default).
pub fn charset(content_type: Option<&str>) -> Option<AsciiCompatibleEncoding> {
    let ct = content_type?;
    let label = ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_string())
    })?;
    AsciiCompatibleEncoding::new(encoding_rs::Encoding::for_label(label.as_bytes())?)
}

impl HtmlPass {
    /// A pass carrying out `plan` on a page whose CSP nonce is `nonce`, in `encoding`
    /// (from the `Content-Type` header; see [`charset`]).
    pub fn new(plan: Plan, nonce: Option<&str>, encoding: Option<AsciiCompatibleEncoding>) -> HtmlPass {
        let plan = Arc::new(plan);
        let tag = plan.banner().map(|b| b.render(nonce));
        let first = plan.first_layer(nonce);
        HtmlPass::build(&plan, tag, first, encoding)
    }

    /// Rewrite a whole fragment with `tag` (if any) as the banner tag.
    fn run(plan: &Arc<Plan>, tag: Option<String>, first: Option<String>, doc: &[u8]) -> Result<Vec<u8>, HtmlError> {
        let mut pass = HtmlPass::build(plan, tag, first, None);
        let mut out = Vec::new();
        pass.push(doc, &mut out)?;
        pass.finish(&mut out)?;
        Ok(out)
    }

    fn build(
        plan: &Arc<Plan>,
        tag: Option<String>,
        first: Option<String>,
        encoding: Option<AsciiCompatibleEncoding>,
    ) -> HtmlPass {
        let state = Arc::new(Mutex::new(State { tag, first, script: None }));
        let mut handlers = Vec::new();
        if plan.holds_anything() {
            handlers.extend(hold_handlers(plan));
        }
        let st = state.clone();
        let head = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
            if let Some(tag) = st.lock().map_err(|_| "rewriter state poisoned")?.tag.take() {
                el.prepend(&tag, ContentType::Html);
            }
            Ok(())
        });
        handlers.push((Cow::Borrowed(&SELECTORS.head), head));
        let st = state.clone();
        let body = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
            let mut st = st.lock().map_err(|_| "rewriter state poisoned")?;
            if let Some(tag) = st.tag.take() {
                el.before(&tag, ContentType::Html);
            }
            if let Some(first) = st.first.take() {
                el.prepend(&first, ContentType::Html);
            }
            Ok(())
        });
        handlers.push((Cow::Borrowed(&SELECTORS.body), body));
        handlers.push(script_handlers(plan, &state));
        let out = Arc::new(Mutex::new(Vec::new()));
        let settings = Settings {
            element_content_handlers: handlers,
            encoding: encoding.unwrap_or_else(|| Settings::new_send().encoding),
            adjust_charset_on_meta_tag: encoding.is_none(),
            strict: false,
            ..Settings::new_send()
        };
        HtmlPass { rewriter: Some(HtmlRewriter::new(settings, Sink(out.clone()))), out }
    }

    fn drain(&self, out: &mut Vec<u8>) {
        if let Ok(mut buf) = self.out.lock() {
            if out.is_empty() {
                std::mem::swap(out, &mut buf);
            } else {
                out.append(&mut buf);
            }
        }
    }

    /// Feed a chunk of the page; append what can be sent now to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), HtmlError> {
        if let Some(rw) = self.rewriter.as_mut() {
            // The output is about as long as the input: room for it up front, instead of
            // growing (and copying) the buffer from empty as `lol_html` emits it piece by piece.
            if let Ok(mut buf) = self.out.lock() {
                buf.reserve(chunk.len() + chunk.len() / 8 + 256);
            }
            rw.write(chunk)?;
        }
        self.drain(out);
        Ok(())
    }

    /// The end of the page: append the rest to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), HtmlError> {
        if let Some(rw) = self.rewriter.take() {
            rw.end()?;
        }
        self.drain(out);
        Ok(())
    }
}

/// Rewrite a whole document at once (tests, small pages).
pub fn rewrite_document(plan: Plan, nonce: Option<&str>, doc: &[u8]) -> Result<Vec<u8>, HtmlError> {
    let tag = plan.banner().map(|b| b.render(nonce));
    let first = plan.first_layer(nonce);
    HtmlPass::run(&Arc::new(plan), tag, first, doc)
}
