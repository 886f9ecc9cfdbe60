//! Hosts and origins as the inventory writes them: origin patterns, cookie domains.

/// Whether `host` matches an origin pattern (`example.com`, `*.example.com`, or a URL whose host is that).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = origin_host(pattern);
    let host = host.trim_start_matches('.').to_ascii_lowercase();
    if let Some(parent) = pattern.strip_prefix("*.") {
        host == parent || host.ends_with(&format!(".{parent}"))
    } else {
        host == pattern
    }
}

/// The host part of an origin as written in the inventory (`https://a.b:8080` -> `a.b`).
pub fn origin_host(origin: &str) -> String {
    let o = origin.trim().to_ascii_lowercase();
    let o = o.split_once("://").map(|(_, rest)| rest.to_string()).unwrap_or(o);
    let o = o.split('/').next().unwrap_or_default().to_string();
    if o.starts_with('[') {
        return o.split(']').next().map(|h| format!("{h}]")).unwrap_or(o);
    }
    o.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h.to_string())
        .unwrap_or(o)
}

/// Whether a cookie domain (`.example.com`) covers `host` (`www.example.com`).
pub fn domain_covers(cookie_domain: &str, host: &str) -> bool {
    let d = cookie_domain.trim_start_matches('.').to_ascii_lowercase();
    let h = host.trim_start_matches('.').to_ascii_lowercase();
    !d.is_empty() && (h == d || h.ends_with(&format!(".{d}")))
}

/// The URL without its scheme (`https://a.b/x` and `//a.b/x` -> `a.b/x`), so that a pattern
/// written with `https://` also covers the page's `http://` or scheme-relative URLs.
fn without_scheme(u: &str) -> &str {
    let u = u.trim();
    for p in ["https://", "http://", "//"] {
        if u.len() >= p.len() && u[..p.len()].eq_ignore_ascii_case(p) {
            return &u[p.len()..];
        }
    }
    u
}

/// Whether `url` matches a service's `url_patterns` entry: a prefix of the URL, or, when the
/// pattern has `*`, a glob over the whole URL (`*` stands for any run of characters). The
/// scheme is ignored on both sides; the host is compared without regard to case.
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let (p, u) = (without_scheme(pattern), without_scheme(url));
    let host_end = |s: &str| s.find(['/', '?', '#']).unwrap_or(s.len());
    // Lowercase the host part only: paths are case-sensitive.
    let lower = |s: &str| {
        let e = host_end(s);
        format!("{}{}", s[..e].to_ascii_lowercase(), &s[e..])
    };
    let (p, u) = (lower(p), lower(u));
    if !p.contains('*') {
        return !p.is_empty() && u.starts_with(&p);
    }
    glob(p.as_bytes(), u.as_bytes())
}

/// `*` glob over bytes, iterative with one backtrack point (linear in practice).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        assert!(host_matches("*.leadsgen.app", "app.leadsgen.app"));
        assert!(host_matches("*.leadsgen.app", "leadsgen.app"));
        assert!(!host_matches("*.leadsgen.app", "evilleadsgen.app"));
        assert!(host_matches("https://leadsgen.app:8443", "leadsgen.app"));
        assert_eq!(origin_host("http://127.0.0.1:8080/x"), "127.0.0.1");
        assert!(domain_covers(".mixerlead.com", "app.mixerlead.com"));
        assert!(!domain_covers(".mixerlead.com", "notmixerlead.com"));
    }

    #[test]
    fn url_patterns() {
        let p = "https://cdn.jsdelivr.net/npm/posthog-js";
        assert!(url_matches(p, "https://cdn.jsdelivr.net/npm/posthog-js@1/dist/array.js"));
        assert!(url_matches(p, "//CDN.jsdelivr.net/npm/posthog-js/x.js"));
        assert!(!url_matches(p, "https://cdn.jsdelivr.net/npm/other/x.js"));
        let g = "https://*.example.net/*/pixel.js";
        assert!(url_matches(g, "http://a.example.net/v2/pixel.js"));
        assert!(!url_matches(g, "http://a.example.net/v2/pixel.js?x=1"));
        assert!(url_matches("https://a.b/*", "https://a.b/x?y"));
        assert!(!url_matches("", "https://a.b/"));
        assert!(!url_matches("https://a.b/P", "https://a.b/p"));
    }
}
