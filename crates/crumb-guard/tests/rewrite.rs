//! The HTML pass on real-world-shaped pages: the analytics snippets as their READMEs publish
//! them (PostHog, Mixpanel, Amplitude, Google Tag Manager, Meta Pixel, a YouTube embed),
//! for visitors with and without a choice, split at every byte, gzip and brotli, CSP nonce.

use std::io::{Read, Write};

use bytes::Bytes;
use crumb_guard::html::{HtmlPass, rewrite_document};
use crumb_guard::inject::rewrite;
use crumb_guard::rules::UNDECLARED;
use crumb_guard::{BannerTag, FirstLayer, Guard, Plan, Rewriter, Settings, Undeclared};
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;

const INVENTORY: &str = r#"
[site]
id = "shop"
name = "Shop"
origins = ["shop.example"]
controller = "Shop Ltd."
contact = "privacy@shop.example"
effective_date = "2026-01-01"
languages = ["en"]

[banner]
cookie_name = "crumb_consent"

[[categories]]
id = "necessary"
title = "Necessary"
description = "Needed."
required = true

[[categories]]
id = "analytics"
title = "Analytics"
description = "Measurement."

[[categories]]
id = "marketing"
title = "Marketing"
description = "Ads."

[[cookies]]
name = "crumb_consent"
category = "necessary"
purpose = "Remembers your choice."
duration = "6 months"

[[services]]
id = "posthog"
name = "PostHog"
provider = "PostHog Inc."
category = "analytics"
hosts = ["us-assets.i.posthog.com", "us.i.posthog.com"]
inline_patterns = ["posthog.init("]

[[services]]
id = "mixpanel"
name = "Mixpanel"
provider = "Mixpanel Inc."
category = "analytics"
hosts = ["cdn.mxpnl.com", "api-js.mixpanel.com"]
inline_patterns = ["mixpanel.init("]

[[services]]
id = "amplitude"
name = "Amplitude"
provider = "Amplitude Inc."
category = "analytics"
url_patterns = ["https://cdn.amplitude.com/script/"]
inline_patterns = ["amplitude.init("]

[[services]]
id = "gtm"
name = "Google Tag Manager"
provider = "Google Ireland Ltd."
category = "marketing"
hosts = ["www.googletagmanager.com"]
inline_patterns = ["googletagmanager.com/gtm.js"]

[[services]]
id = "meta-pixel"
name = "Meta Pixel"
provider = "Meta Platforms Ireland Ltd."
category = "marketing"
hosts = ["connect.facebook.net", "www.facebook.com"]
inline_patterns = ["fbq('init'"]

[[services]]
id = "youtube"
name = "YouTube"
provider = "Google Ireland Ltd."
category = "marketing"
hosts = ["www.youtube-nocookie.com", "i.ytimg.com"]

[[services]]
id = "stripe"
name = "Stripe"
provider = "Stripe, Inc."
category = "necessary"
hosts = ["js.stripe.com"]
"#;

/// A shop page with the snippets as their docs publish them (keys replaced).
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Shop</title>
<link rel="stylesheet" href="/static/site.css">
<link rel="preconnect" href="https://us.i.posthog.com">
<link rel="dns-prefetch" href="//cdn.mxpnl.com">
<!-- Google Tag Manager -->
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-ABC123');</script>
<!-- End Google Tag Manager -->
<script>
    !function(t,e){var o,n,p,r;e.__SV||(window.posthog=e,e._i=[],e.init=function(i,s,a){function g(t,e){var o=e.split(".");2==o.length&&(t=t[o[0]],e=o[1]),t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}(p=t.createElement("script")).type="text/javascript",p.crossOrigin="anonymous",p.async=!0,p.src=s.api_host.replace(".i.posthog.com","-assets.i.posthog.com")+"/static/array.js",(r=t.getElementsByTagName("script")[0]).parentNode.insertBefore(p,r)},e.__SV=1)}(document,window.posthog||[]);
    posthog.init('phc_TEST', {api_host: 'https://us.i.posthog.com', person_profiles: 'identified_only'})
</script>
<script type="text/javascript">
(function (f, b) { if (!b.__SV) { var e, g, i, h; window.mixpanel = b; b._i = []; b.init = function (e, f, c) { var a = b; a.push([e, f, c]) }; b.__SV = 1.2; e = f.createElement("script"); e.type = "text/javascript"; e.async = !0; e.src = "//cdn.mxpnl.com/libs/mixpanel-2-latest.min.js"; g = f.getElementsByTagName("script")[0]; g.parentNode.insertBefore(e, g); } })(document, window.mixpanel || []);
mixpanel.init("TOKEN", {debug: false, track_pageview: true, persistence: "localStorage"});
</script>
<script src="https://cdn.amplitude.com/script/API_KEY.js"></script>
<script>window.amplitude.init('API_KEY', {"fetchRemoteConfig":true,"autocapture":true});</script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>
<script type="module" src="https://cdn.amplitude.com/script/mod.js" nonce="n0nce" integrity="sha384-x"></script>
<script src="https://js.stripe.com/v3/"></script>
<script src="/static/app.js" defer></script>
<script>window.app = {ready: true};</script>
<script type="application/ld+json">{"@type": "Organization", "note": "posthog.init("}</script>
<script type="text/plain" data-crumb-category="analytics" src="https://us-assets.i.posthog.com/static/array.js"></script>
</head>
<body class="home">
<!-- Google Tag Manager (noscript) -->
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-ABC123"
height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<!-- End Google Tag Manager (noscript) -->
<noscript><img height="1" width="1" style="display:none"
src="https://www.facebook.com/tr?id=1234&ev=PageView&noscript=1"/></noscript>
<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="Video" allowfullscreen></iframe>
<img src="https://i.ytimg.com/vi/x/hq.jpg" srcset="https://i.ytimg.com/vi/x/hq.jpg 1x, https://i.ytimg.com/vi/x/max.jpg 2x" alt="">
<video poster="https://i.ytimg.com/p.jpg"><source src="https://i.ytimg.com/v.mp4" type="video/mp4"><track src="/captions.vtt"></video>
<img src="/static/logo.png" alt="Shop">
</body>
</html>
"#;

fn guard(undeclared: Undeclared) -> Guard {
    let inv = crumb_core::parse_inventory(INVENTORY).expect("test inventory is valid");
    Guard::new(inv, Settings { undeclared, ..Settings::default() }).expect("guard")
}

const TAG: &str = "/s/shop/banner.js";

fn rewriter(undeclared: Undeclared) -> Rewriter {
    Rewriter::new(&guard(undeclared), Some(BannerTag::script(TAG)))
}

/// The plan for a visitor with consent cookie `cookie` (`None`: no choice yet).
fn plan(r: &Rewriter, cookie: Option<&str>) -> Plan {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("shop.example"));
    if let Some(c) = cookie {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        h.insert("cookie", HeaderValue::from_str(&format!("crumb_consent=1.-.v.{c}.{now}")).expect("hdr"));
    }
    r.plan_for_request(&h, None, None)
}

fn run(plan: Plan, nonce: Option<&str>, doc: &str) -> String {
    String::from_utf8(rewrite_document(plan, nonce, doc.as_bytes()).expect("rewrites")).expect("utf-8")
}

/// The start tag of the element whose start tag contains `needle`.
fn tag_with<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html.find(needle).unwrap_or_else(|| panic!("`{needle}` not in {html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    &html[start..=end]
}

#[test]
fn a_visitor_without_a_choice_gets_every_optional_service_held() {
    let r = rewriter(Undeclared::Report);
    let out = run(plan(&r, None), None, PAGE);
    // The banner tag is the first child of <head>, before every script of the page.
    assert!(out.contains(&format!("<head><script src=\"{TAG}\"></script>\n<meta charset=\"utf-8\">")), "{out}");
    assert!(out.contains("<html lang=\"en\" data-crumb-rewritten=\"\">"));
    // Preloads to held hosts lose their href; the stylesheet stays.
    assert_eq!(
        tag_with(&out, "us.i.posthog.com\""),
        "<link rel=\"preconnect\" data-crumb-href=\"https://us.i.posthog.com\" data-crumb-category=\"analytics\" data-crumb-service=\"posthog\">"
    );
    assert!(out.contains(
        "data-crumb-href=\"//cdn.mxpnl.com\" data-crumb-category=\"analytics\" data-crumb-service=\"mixpanel\""
    ));
    assert!(out.contains("<link rel=\"stylesheet\" href=\"/static/site.css\">"));
    // Inline snippets: the original element runs nothing, an inert copy holds the text.
    assert!(out.contains(
        "<script></script><script type=\"text/plain\" data-crumb-category=\"marketing\" data-crumb-service=\"gtm\">(function(w,d,s,l,i){"
    ));
    assert!(out.contains(
        "<script></script><script type=\"text/plain\" data-crumb-category=\"analytics\" data-crumb-service=\"posthog\">\n    !function(t,e)"
    ));
    assert!(out.contains("<script type=\"text/javascript\"></script><script type=\"text/plain\" data-crumb-type=\"text/javascript\" data-crumb-category=\"analytics\" data-crumb-service=\"mixpanel\">\n(function (f, b)"));
    assert!(out.contains("<script></script><script type=\"text/plain\" data-crumb-category=\"analytics\" data-crumb-service=\"amplitude\">window.amplitude.init("));
    // Scripts from held hosts and URL patterns: inert, every attribute kept.
    assert_eq!(
        tag_with(&out, "cdn.amplitude.com/script/API_KEY.js"),
        "<script src=\"https://cdn.amplitude.com/script/API_KEY.js\" type=\"text/plain\" data-crumb-category=\"analytics\" data-crumb-service=\"amplitude\">"
    );
    assert_eq!(
        tag_with(&out, "gtag/js"),
        "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-TEST\" type=\"text/plain\" data-crumb-category=\"marketing\" data-crumb-service=\"gtm\">"
    );
    assert_eq!(
        tag_with(&out, "mod.js"),
        "<script type=\"text/plain\" src=\"https://cdn.amplitude.com/script/mod.js\" nonce=\"n0nce\" integrity=\"sha384-x\" data-crumb-type=\"module\" data-crumb-category=\"analytics\" data-crumb-service=\"amplitude\">"
    );
    // Strictly necessary, first-party, non-matching, non-JavaScript and hand-gated: untouched.
    for kept in [
        "<script src=\"https://js.stripe.com/v3/\"></script>",
        "<script src=\"/static/app.js\" defer></script>",
        "<script>window.app = {ready: true};</script>",
        "<script type=\"application/ld+json\">{\"@type\": \"Organization\", \"note\": \"posthog.init(\"}</script>",
        "<script type=\"text/plain\" data-crumb-category=\"analytics\" src=\"https://us-assets.i.posthog.com/static/array.js\"></script>",
        "<img src=\"/static/logo.png\" alt=\"Shop\">",
        "<track src=\"/captions.vtt\">",
    ] {
        assert!(out.contains(kept), "kept as is: {kept}\n{out}");
    }
    // Frames, pixels, images, media.
    assert!(out.contains("style=\"display:none;visibility:hidden\" data-crumb-src=\"https://www.googletagmanager.com/ns.html?id=GTM-ABC123\" data-crumb-category=\"marketing\" data-crumb-service=\"gtm\"></iframe>"), "{out}");
    // `<noscript>` fallbacks load for visitors with scripting off: held too.
    assert!(out.contains("<noscript><img height=\"1\" width=\"1\" style=\"display:none\" data-crumb-src=\"https://www.facebook.com/tr?id=1234&ev=PageView&noscript=1\" data-crumb-category=\"marketing\" data-crumb-service=\"meta-pixel\" /></noscript>"), "{out}");
    assert_eq!(
        tag_with(&out, "embed/dQw4w9WgXcQ"),
        "<iframe width=\"560\" height=\"315\" title=\"Video\" allowfullscreen data-crumb-src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">"
    );
    assert!(out.contains("<img alt=\"\" data-crumb-src=\"https://i.ytimg.com/vi/x/hq.jpg\" data-crumb-srcset=\"https://i.ytimg.com/vi/x/hq.jpg 1x, https://i.ytimg.com/vi/x/max.jpg 2x\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">"));
    assert!(out.contains("<video data-crumb-poster=\"https://i.ytimg.com/p.jpg\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\"><source type=\"video/mp4\" data-crumb-src=\"https://i.ytimg.com/v.mp4\""));
    // No request-making attribute to a held host is left outside an element marked inert.
    for attr in [" src=\"", " href=\"", " srcset=\"", " poster=\""] {
        for (i, _) in out.match_indices(attr) {
            let start = out[..i].rfind('<').expect("inside a tag");
            let end = i + out[i..].find('>').expect("tag end");
            let tag = &out[start..=end];
            let url = out[i + attr.len()..].split('"').next().unwrap_or_default();
            let held = [
                "posthog.com",
                "mxpnl.com",
                "cdn.amplitude.com",
                "googletagmanager.com",
                "facebook.com",
                "youtube",
                "ytimg",
            ];
            assert!(
                tag.contains("data-crumb-category") || !held.iter().any(|h| url.contains(h)),
                "a live {attr} to {url} is left: {tag}"
            );
        }
    }
}

#[test]
fn granted_categories_pass_and_a_visitor_who_granted_everything_gets_only_the_tag() {
    let r = rewriter(Undeclared::Report);
    let out = run(plan(&r, Some("analytics")), None, PAGE);
    assert!(out.contains("<script src=\"https://cdn.amplitude.com/script/API_KEY.js\"></script>"));
    assert!(out.contains("posthog.init('phc_TEST'") && !out.contains("data-crumb-service=\"posthog\">"));
    assert!(out.contains("data-crumb-service=\"gtm\""), "marketing still held");
    let all = plan(&r, Some("analytics~marketing"));
    assert!(!all.holds_anything());
    let out = run(all, None, PAGE);
    assert_eq!(out, PAGE.replacen("<head>", &format!("<head><script src=\"{TAG}\"></script>"), 1));
}

#[test]
fn the_first_layer_follows_body_for_a_visitor_who_has_not_decided() {
    let r = rewriter(Undeclared::Report).with_first_layer(FirstLayer::new(|lang, nonce| {
        Some(format!(
            "<div id=\"crumb\" data-lang=\"{}\" data-nonce=\"{}\"></div>",
            lang.unwrap_or("-"),
            nonce.unwrap_or("-")
        ))
    }));
    let doc = "<html><head><title>t</title></head><body class=\"x\"><p>hi</p></body></html>";
    let mut h = HeaderMap::new();
    h.insert("accept-language", HeaderValue::from_static("de-DE,de;q=0.9"));
    let undecided = r.plan_for_request(&h, None, None);
    assert!(undecided.varies_by_consent());
    let out = run(undecided, Some("n0nce"), doc);
    assert!(
        out.contains(
            "<body class=\"x\"><div id=\"crumb\" data-lang=\"de-DE,de;q=0.9\" data-nonce=\"n0nce\"></div><p>hi</p>"
        ),
        "{out}"
    );
    assert_eq!(out.matches("id=\"crumb\"").count(), 1);
    let decided = run(plan(&r, Some("analytics~marketing")), None, doc);
    assert!(!decided.contains("id=\"crumb\""), "a visitor who decided gets no first layer: {decided}");
    let refused = run(plan(&r, Some("-")), None, doc);
    assert!(!refused.contains("id=\"crumb\""), "refusing everything is a decision too: {refused}");
}

#[test]
fn undeclared_third_party_scripts_follow_the_undeclared_setting() {
    let doc = "<html><head><script src=\"https://cdn.unknown.example/t.js\"></script><script src=\"https://shop.example/a.js\"></script><img src=\"https://cdn.unknown.example/p.gif\"></head></html>";
    let out = run(plan(&rewriter(Undeclared::Block), Some("analytics~marketing")), None, doc);
    assert!(out.contains(&format!(
        "<script src=\"https://cdn.unknown.example/t.js\" type=\"text/plain\" data-crumb-category=\"{UNDECLARED}\"></script>"
    )));
    assert!(out.contains("<script src=\"https://shop.example/a.js\"></script>"), "the site's own host is first party");
    assert!(out.contains("<img src=\"https://cdn.unknown.example/p.gif\">"), "only scripts follow the setting");
    for undeclared in [Undeclared::Report, Undeclared::Allow] {
        let out = run(plan(&rewriter(undeclared), None), None, doc);
        assert!(out.contains("<script src=\"https://cdn.unknown.example/t.js\"></script>"), "{undeclared:?}: {out}");
    }
}

#[test]
fn without_url_patterns_the_narrowed_selectors_rewrite_like_the_full_ones() {
    // Without `url_patterns` anywhere only URLs containing `//` can be held, and the pass
    // lets `lol_html` skip the other frames, media and links by attribute; with one, every
    // element goes to the handlers. The same page must come out either way.
    let no_patterns =
        INVENTORY.replace("url_patterns = [\"https://cdn.amplitude.com/script/\"]", "hosts = [\"cdn.amplitude.com\"]");
    let with_pattern = format!(
        "{no_patterns}\n[[services]]\nid = \"never\"\nname = \"Never\"\nprovider = \"N\"\ncategory = \"analytics\"\nurl_patterns = [\"https://never.example/x/\"]\n"
    );
    let extra = r#"<source srcset="/a.jpg 1x, https://i.ytimg.com/b.jpg 2x"><source srcset="/c.jpg 1x">
<audio src="//i.ytimg.com/a.mp3"></audio><audio src="/a.mp3"></audio><track src="https://i.ytimg.com/t.vtt">
<img src="/p.jpg" srcset="/p2.jpg 2x"><img src="https:&#x2F;&#x2F;i.ytimg.com/e.jpg"><img src="x" poster="https://i.ytimg.com/q.jpg">
<video src="https://i.ytimg.com/v2.mp4"></video><video src="/v.mp4" poster="/v.jpg"></video>
<iframe src="/embed"></iframe><iframe src="HTTPS://WWW.YOUTUBE-NOCOOKIE.COM/embed/up"></iframe>
<link rel="preload" as="image" href="https://i.ytimg.com/x.jpg"><link rel="preload" as="image" href="/x.jpg"><link href="https://i.ytimg.com/y.jpg">
"#;
    let doc = PAGE.replace("</body>", &format!("{extra}</body>"));
    let page_for = |inventory: &str| {
        let inv = crumb_core::parse_inventory(inventory).expect("inventory is valid");
        let guard = Guard::new(inv, Settings::default()).expect("guard");
        run(plan(&Rewriter::new(&guard, Some(BannerTag::script(TAG))), None), None, &doc)
    };
    let narrowed = page_for(&no_patterns);
    assert_eq!(narrowed, page_for(&with_pattern));
    for held in [
        "<source data-crumb-srcset=\"/a.jpg 1x, https://i.ytimg.com/b.jpg 2x\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">",
        "<audio data-crumb-src=\"//i.ytimg.com/a.mp3\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">",
        "<track data-crumb-src=\"https://i.ytimg.com/t.vtt\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">",
        "<video data-crumb-src=\"https://i.ytimg.com/v2.mp4\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">",
        "data-crumb-src=\"HTTPS://WWW.YOUTUBE-NOCOOKIE.COM/embed/up\" data-crumb-category=\"marketing\"",
        "<link rel=\"preload\" as=\"image\" data-crumb-href=\"https://i.ytimg.com/x.jpg\" data-crumb-category=\"marketing\" data-crumb-service=\"youtube\">",
        "<script src=\"https://cdn.amplitude.com/script/API_KEY.js\" type=\"text/plain\" data-crumb-category=\"analytics\" data-crumb-service=\"amplitude\">",
    ] {
        assert!(narrowed.contains(held), "held: {held}\n{narrowed}");
    }
    for kept in [
        "<source srcset=\"/c.jpg 1x\">",
        "<audio src=\"/a.mp3\">",
        "<img src=\"/p.jpg\" srcset=\"/p2.jpg 2x\">",
        "<img src=\"https:&#x2F;&#x2F;i.ytimg.com/e.jpg\">",
        "<video src=\"/v.mp4\" poster=\"/v.jpg\">",
        "<iframe src=\"/embed\">",
        "<link rel=\"preload\" as=\"image\" href=\"/x.jpg\">",
        "<link href=\"https://i.ytimg.com/y.jpg\">",
    ] {
        assert!(narrowed.contains(kept), "kept: {kept}\n{narrowed}");
    }
}

#[test]
fn the_tag_carries_the_nonce_and_goes_first_even_without_head() {
    let r = rewriter(Undeclared::Report);
    let out = run(plan(&r, None), Some("abc"), "<html><head><script src=/x.js></script></head></html>");
    assert!(out.starts_with(&format!(
        "<html data-crumb-rewritten=\"\"><head><script src=\"{TAG}\" nonce=\"abc\"></script><script"
    )));
    let out = run(plan(&r, None), None, "<!doctype html><title>t</title><script>1</script><body>x");
    assert_eq!(out, format!("<!doctype html><title>t</title><script src=\"{TAG}\"></script><script>1</script><body>x"));
    let out = run(plan(&r, None), None, "<p>no head<body>x");
    assert_eq!(out, format!("<p>no head<script src=\"{TAG}\"></script><body>x"));
    let custom = Rewriter::new(
        &guard(Undeclared::Report),
        Some(BannerTag::custom(|n| format!("<x-tag n=\"{}\">", n.unwrap_or("-")))),
    );
    assert_eq!(run(plan(&custom, None), Some("q"), "<head></head>"), "<head><x-tag n=\"q\"></head>");
}

/// Rewrite `doc` fed as the given pieces.
fn run_split(plan: Plan, doc: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut pass = HtmlPass::new(plan, Some("n"), None);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        pass.push(&doc[at..c], &mut out).expect("push");
        at = c;
    }
    pass.push(&doc[at..], &mut out).expect("push");
    pass.finish(&mut out).expect("finish");
    out
}

const SMALL: &str = "<html><head><title>t</title><script>posthog.init('k')</script><script src=\"https://us.i.posthog.com/a.js\"></script></head><body><iframe src=\"https://www.youtube-nocookie.com/embed/x\"></iframe><script>ok()</script></body></html>";

#[test]
fn every_single_split_gives_the_same_bytes() {
    let r = rewriter(Undeclared::Report);
    let whole = run_split(plan(&r, None), SMALL.as_bytes(), &[]);
    assert!(String::from_utf8_lossy(&whole).contains("data-crumb-service=\"posthog\">posthog.init('k')</script>"));
    for cut in 0..=SMALL.len() {
        assert_eq!(run_split(plan(&r, None), SMALL.as_bytes(), &[cut]), whole, "split at {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn any_chunking_gives_the_same_bytes(mut cuts in proptest::collection::vec(0..=SMALL.len(), 0..12)) {
        cuts.sort_unstable();
        let r = rewriter(Undeclared::Report);
        let whole = run_split(plan(&r, None), SMALL.as_bytes(), &[]);
        prop_assert_eq!(run_split(plan(&r, None), SMALL.as_bytes(), &cuts), whole);
    }
}

fn html_response(body: Vec<u8>, encoding: Option<&str>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    res.headers_mut().insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    res.headers_mut()
        .insert("content-security-policy", HeaderValue::from_static("script-src 'nonce-zz9' 'strict-dynamic'"));
    if let Some(e) = encoding {
        res.headers_mut().insert("content-encoding", HeaderValue::from_str(e).expect("hdr"));
    }
    res
}

async fn body_of(res: Response<crumb_guard::inject::InjectBody<Full<Bytes>>>) -> (http::response::Parts, Vec<u8>) {
    let (parts, body) = res.into_parts();
    (parts, body.collect().await.expect("body").to_bytes().to_vec())
}

#[tokio::test]
async fn gzip_and_brotli_pages_are_rewritten_and_stay_compressed() {
    let r = rewriter(Undeclared::Report);
    let expected = run(plan(&r, None), Some("zz9"), PAGE);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PAGE.as_bytes()).expect("gzip");
    let (parts, body) =
        body_of(rewrite(html_response(gz.finish().expect("gzip"), Some("gzip")), Some(plan(&r, None)))).await;
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut plain).expect("valid gzip");
    assert_eq!(plain, expected);
    assert_eq!(parts.headers.get("vary").and_then(|v| v.to_str().ok()), Some("Cookie, Sec-GPC"));

    let mut br = Vec::new();
    brotli::CompressorWriter::new(&mut br, 4096, 5, 22).write_all(PAGE.as_bytes()).expect("brotli");
    let (_, body) = body_of(rewrite(html_response(br, Some("br")), Some(plan(&r, None)))).await;
    let mut plain = String::new();
    brotli::Decompressor::new(&body[..], 4096).read_to_string(&mut plain).expect("valid brotli");
    assert_eq!(plain, expected);
    assert!(plain.contains(&format!("<script src=\"{TAG}\" nonce=\"zz9\"></script>")));
}

#[tokio::test]
async fn no_pass_at_all_without_a_banner_for_a_visitor_who_granted_everything() {
    let r = Rewriter::new(&guard(Undeclared::Report), None);
    let res = rewrite(html_response(PAGE.as_bytes().to_vec(), None), Some(plan(&r, Some("analytics~marketing"))));
    assert!(!res.body().is_rewritten());
    let (_, body) = body_of(res).await;
    assert_eq!(body, PAGE.as_bytes());
    // Not HTML: untouched, whatever the visitor chose.
    let mut json = html_response(b"{\"a\":\"<script src=https://us.i.posthog.com/>\"}".to_vec(), None);
    json.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    assert!(!rewrite(json, Some(plan(&r, None))).body().is_rewritten());
}
