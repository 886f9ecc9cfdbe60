//! What the banner's interceptor holds back while a category is refused.
//!
//! The server turns a category's declared `hosts` and `url_patterns` into one JavaScript
//! regular expression over the URL's host (with port), path and query (`u.host + u.pathname +
//! u.search` of `new URL(u, location.href)`), so the script only runs `RegExp(block).test(…)`. The rules are the inventory's, as the guard applies
//! them to the HTML:
//!
//! - a host `example.com` matches that host only; `*.example.com` matches it and every host
//!   below it; a scheme, port or path written in the inventory is ignored (`origin_host`);
//! - a URL pattern without `*` is a prefix of the URL, one with `*` a glob over the whole URL
//!   (`*` = any run of characters); the scheme is ignored on both sides and the host compared
//!   in lower case.

use crumb_core::inventory::origin_host;

/// Escape regex syntax (`*` included: globs are handled by the caller).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The host alternative of one declared host pattern, or `None` for an empty one.
fn host_alt(pattern: &str) -> Option<String> {
    let host = origin_host(pattern);
    match host.strip_prefix("*.") {
        Some(parent) if !parent.is_empty() => Some(format!("(?:[^/]*\\.)?{}", escape(parent))),
        _ if host.is_empty() || host.contains('*') => None,
        _ => Some(escape(&host)),
    }
}

/// The regex of one URL pattern: scheme-less, host lower-cased, `*` as `.*`, anchored at the
/// end only when it is a glob.
fn url_alt(pattern: &str) -> Option<String> {
    let p = pattern.trim();
    let lower = p.to_ascii_lowercase();
    let rest =
        ["https://", "http://", "//"].iter().find_map(|s| lower.starts_with(s).then(|| &p[s.len()..])).unwrap_or(p);
    if rest.is_empty() {
        return None;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let rest = format!("{}{}", rest[..host_end].to_ascii_lowercase(), &rest[host_end..]);
    let body = rest.split('*').map(escape).collect::<Vec<_>>().join(".*");
    Some(if rest.contains('*') { format!("{body}$") } else { body })
}

/// One regex source matching every absolute URL on `hosts` or matching `url_patterns`;
/// `None` when nothing is declared.
pub fn block_regex<'a>(
    hosts: impl IntoIterator<Item = &'a str>,
    url_patterns: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut alts = Vec::new();
    let hosts: Vec<String> = hosts.into_iter().filter_map(host_alt).collect();
    if !hosts.is_empty() {
        alts.push(format!("(?:{})(?::\\d+)?/", hosts.join("|")));
    }
    alts.extend(url_patterns.into_iter().filter_map(url_alt));
    (!alts.is_empty()).then(|| format!("^(?:{})", alts.join("|")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the script tests: host (with a non-default port), path and query of an absolute URL.
    struct Block(regex::Regex);

    impl Block {
        fn is_match(&self, url: &str) -> bool {
            let rest = url.split_once("://").map_or(url, |(_, r)| r);
            let rest = rest.split('#').next().unwrap_or_default();
            let (auth, path) = rest.find(['/', '?']).map_or((rest, "/"), |i| rest.split_at(i));
            let host = auth.rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
            let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
            self.0.is_match(&format!("{host}{path}"))
        }
    }

    fn re(hosts: &[&str], urls: &[&str]) -> Block {
        Block(
            regex::Regex::new(&block_regex(hosts.iter().copied(), urls.iter().copied()).expect("something declared"))
                .expect("valid regex"),
        )
    }

    #[test]
    fn hosts_exact_and_below() {
        let r = re(&["plausible.io", "*.stripe.network", "https://Connect.Facebook.net:443/x"], &[]);
        for hit in [
            "https://plausible.io/js/script.js",
            "http://plausible.io:8080/x",
            "https://m.stripe.network/inner.html",
            "https://stripe.network/",
            "https://a.b.stripe.network/x?y",
            "https://connect.facebook.net/en_US/fbevents.js",
            "https://user:pw@plausible.io/",
        ] {
            assert!(r.is_match(hit), "{hit}");
        }
        for miss in [
            "https://www.plausible.io/",
            "https://plausible.io.evil.com/",
            "https://evilstripe.network/",
            "https://example.com/?u=https://plausible.io/",
            "https://example.com/plausible.io/",
            "https://plausible.io@evil.com/",
        ] {
            assert!(!r.is_match(miss), "{miss}");
        }
    }

    #[test]
    fn url_patterns_as_the_guard_reads_them() {
        let r = re(&[], &["https://cdn.jsdelivr.net/npm/posthog-js", "https://*.example.net/*/pixel.js"]);
        assert!(r.is_match("https://cdn.jsdelivr.net/npm/posthog-js@1/dist/array.js"));
        assert!(r.is_match("http://cdn.jsdelivr.net/npm/posthog-js/x.js"));
        assert!(!r.is_match("https://cdn.jsdelivr.net/npm/other/x.js"));
        assert!(r.is_match("http://a.example.net/v2/pixel.js"));
        assert!(!r.is_match("http://a.example.net/v2/pixel.js?x=1"));
        let r = re(&[], &["https://CDN.example/P.js"]);
        assert!(r.is_match("https://cdn.example/P.js") && !r.is_match("https://cdn.example/p.js"));
    }

    #[test]
    fn nothing_declared_blocks_nothing() {
        assert_eq!(block_regex([], []), None);
        assert_eq!(block_regex(["", "*"], [" "]), None);
    }
}
