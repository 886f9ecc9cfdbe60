//! The crawl: which URLs belong to the site, `robots.txt`, sitemaps, deduplication.

use std::collections::HashSet;

use url::Url;

/// The user-agent token `robots.txt` groups are matched against (besides `*`).
pub const ROBOTS_AGENT: &str = "crumb";

/// The registrable part of a host, approximated without a public-suffix list: the last two
/// labels, or three when the second-to-last is a short second-level label under a country
/// code (`example.co.uk`). IP addresses and `localhost` are their own site.
pub fn site_of(host: &str) -> String {
    let host = host.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') || !host.contains('.') {
        return host;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    if n >= 3 {
        let tld = labels[n - 1];
        let sld = labels[n - 2];
        let second_level = ["co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"];
        if tld.len() == 2 && second_level.contains(&sld) {
            return labels[n - 3..].join(".");
        }
    }
    labels[n.saturating_sub(2)..].join(".")
}

/// Whether two hosts belong to the same site.
pub fn same_site(a: &str, b: &str) -> bool {
    site_of(a) == site_of(b)
}

/// File extensions that are never pages.
const NOT_PAGES: &[&str] = &[
    "pdf", "jpg", "jpeg", "png", "gif", "webp", "svg", "ico", "css", "js", "mjs", "json", "xml", "txt", "zip", "gz",
    "tgz", "mp3", "mp4", "webm", "mov", "avi", "woff", "woff2", "ttf", "otf", "eot", "csv", "doc", "docx", "xls",
    "xlsx", "ppt", "pptx", "dmg", "exe", "apk", "rss", "atom",
];

/// Normalise a URL for deduplication: http(s) only, no fragment, default port dropped,
/// empty path as `/`. Returns `None` for URLs that are not pages.
pub fn normalize(u: &Url) -> Option<Url> {
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let mut u = u.clone();
    u.set_fragment(None);
    let ext = u.path().rsplit('/').next().and_then(|last| last.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
    if ext.is_some_and(|e| NOT_PAGES.contains(&e.as_str())) {
        return None;
    }
    Some(u)
}

/// The crawl's to-do list: same-site, deduplicated, in discovery order.
#[derive(Debug)]
pub struct Frontier {
    host: String,
    port: Option<u16>,
    seen: HashSet<String>,
    queue: std::collections::VecDeque<(Url, &'static str)>,
}

/// A host without a leading `www.`, lowercased: `www.example.com` and `example.com` are one
/// site's pages.
fn bare_host(u: &Url) -> String {
    let h = u.host_str().unwrap_or_default().to_ascii_lowercase();
    h.strip_prefix("www.").map(str::to_string).unwrap_or(h)
}

/// The port, `None` for the scheme's default (so `http://x/` and `https://x/` agree).
fn explicit_port(u: &Url) -> Option<u16> {
    u.port()
}

impl Frontier {
    /// A frontier for the origin of `start`.
    pub fn new(start: &Url) -> Frontier {
        Frontier { host: bare_host(start), port: explicit_port(start), seen: HashSet::new(), queue: Default::default() }
    }

    /// Whether `u` is a page of the scanned site: the start URL's host (with or without
    /// `www.`) and port. Other origins, even on the same registrable domain or the same
    /// machine (the consent server behind the banner's policy link, `localhost` for
    /// `127.0.0.1`), are not crawled as pages of the site.
    pub fn on_site(&self, u: &Url) -> bool {
        u.host_str().is_some() && bare_host(u) == self.host && explicit_port(u) == self.port
    }

    /// Add a URL if it is a same-site page not seen before. Returns whether it was added.
    pub fn push(&mut self, u: &Url, via: &'static str) -> bool {
        let Some(n) = normalize(u) else { return false };
        if !self.on_site(&n) {
            return false;
        }
        if self.seen.insert(n.as_str().to_string()) {
            self.queue.push_back((n, via));
            true
        } else {
            false
        }
    }

    /// The next URL to scan.
    pub fn pop(&mut self) -> Option<(Url, &'static str)> {
        self.queue.pop_front()
    }

    /// URLs still queued.
    pub fn remaining(&mut self) -> impl Iterator<Item = (Url, &'static str)> + '_ {
        self.queue.drain(..)
    }
}

/// One `robots.txt` group: its user agents and its `(allow, path)` rules.
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules of a `robots.txt` that apply to Crumb.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    /// `(allow, path prefix)` rules of the group that applies.
    rules: Vec<(bool, String)>,
    /// `Sitemap:` URLs.
    pub sitemaps: Vec<String>,
}

impl Robots {
    /// Parse a `robots.txt`. The group naming `crumb` applies if there is one, else `*`.
    /// Within it the longest matching rule wins, `Allow` winning ties; `*` inside a path and
    /// a trailing `$` are honoured.
    pub fn parse(text: &str) -> Robots {
        let mut sitemaps = Vec::new();
        // Groups: (agents, rules).
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new()));
                    }
                    in_agents = true;
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut()
                        && !value.is_empty()
                    {
                        g.1.push((key == "allow", value));
                    }
                }
                "sitemap" => sitemaps.push(value),
                _ => {}
            }
        }
        let pick = |agent: &str| -> Vec<(bool, String)> {
            groups.iter().filter(|g| g.0.iter().any(|a| a == agent)).flat_map(|g| g.1.clone()).collect()
        };
        let mut rules = pick(ROBOTS_AGENT);
        if rules.is_empty() && !groups.iter().any(|g| g.0.iter().any(|a| a == ROBOTS_AGENT)) {
            rules = pick("*");
        }
        Robots { rules, sitemaps }
    }

    /// Whether the path (with query) may be fetched.
    pub fn allows(&self, path_and_query: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pat) in &self.rules {
            if pattern_matches(pat, path_and_query) {
                let len = pat.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

fn pattern_matches(pat: &str, path: &str) -> bool {
    match pat.strip_suffix('$') {
        Some(p) => glob(p.as_bytes(), path.as_bytes(), true),
        None => glob(pat.as_bytes(), path.as_bytes(), false),
    }
}

/// `*` matches any run of bytes; `full` requires the whole of `s` to be consumed.
fn glob(p: &[u8], s: &[u8], full: bool) -> bool {
    match p.split_first() {
        None => !full || s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..], full)),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..], full),
    }
}

/// The `<loc>` URLs of a sitemap or sitemap index, with XML entities decoded.
pub fn sitemap_locs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<loc>") {
        rest = &rest[start + 5..];
        let Some(end) = rest.find("</loc>") else { break };
        let raw = rest[..end].trim();
        let raw = raw.strip_prefix("<![CDATA[").and_then(|r| r.strip_suffix("]]>")).unwrap_or(raw);
        out.push(
            raw.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'"),
        );
        rest = &rest[end..];
    }
    out
}

/// Whether a sitemap document is an index of other sitemaps.
pub fn is_sitemap_index(xml: &str) -> bool {
    xml.contains("<sitemapindex")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites() {
        assert!(same_site("www.example.com", "shop.example.com"));
        assert!(same_site("a.example.co.uk", "example.co.uk"));
        assert!(!same_site("example.co.uk", "other.co.uk"));
        assert!(!same_site("127.0.0.1", "localhost"));
        assert!(!same_site("tracker.net", "example.com"));
    }

    #[test]
    fn frontier_dedups_and_stays_on_site() {
        let start = Url::parse("http://127.0.0.1:8080/").expect("url");
        let mut f = Frontier::new(&start);
        assert!(f.push(&start, "start"));
        assert!(!f.push(&Url::parse("http://127.0.0.1:8080/#top").expect("url"), "link"));
        assert!(f.push(&Url::parse("http://127.0.0.1:8080/a?x=1").expect("url"), "link"));
        assert!(!f.push(&Url::parse("http://localhost:8080/a").expect("url"), "link"));
        // The consent server on the same machine, another port: not a page of the site.
        assert!(!f.push(&Url::parse("http://127.0.0.1:9090/policy/shop").expect("url"), "link"));
        let mut g = Frontier::new(&Url::parse("https://www.shop.example/").expect("url"));
        assert!(g.push(&Url::parse("https://shop.example/about").expect("url"), "link"));
        assert!(g.push(&Url::parse("http://www.shop.example/faq").expect("url"), "link"));
        assert!(!g.push(&Url::parse("https://consent.shop.example/policy").expect("url"), "link"));
        assert!(!f.push(&Url::parse("http://127.0.0.1:8080/file.pdf").expect("url"), "link"));
        assert!(!f.push(&Url::parse("mailto:a@b.c").expect("url"), "link"));
        assert_eq!(f.remaining().count(), 2);
    }

    #[test]
    fn robots_rules() {
        let r = Robots::parse(
            "User-agent: Googlebot\nDisallow: /\n\nUser-agent: *\nDisallow: /private\nAllow: /private/ok\nDisallow: /*.php$\nSitemap: http://x/sitemap.xml\n",
        );
        assert!(r.allows("/"));
        assert!(!r.allows("/private/x"));
        assert!(r.allows("/private/ok/1"));
        assert!(!r.allows("/index.php"));
        assert!(r.allows("/index.php?x=1"));
        assert_eq!(r.sitemaps, vec!["http://x/sitemap.xml".to_string()]);
        let own = Robots::parse("User-agent: *\nDisallow: /\nUser-agent: crumb\nDisallow: /no\n");
        assert!(own.allows("/yes"));
        assert!(!own.allows("/no"));
    }

    #[test]
    fn sitemaps() {
        let xml = "<urlset><url><loc> http://a/x?a=1&amp;b=2 </loc></url><url><loc><![CDATA[http://a/y]]></loc></url></urlset>";
        assert_eq!(sitemap_locs(xml), vec!["http://a/x?a=1&b=2", "http://a/y"]);
        assert!(is_sitemap_index("<sitemapindex><sitemap><loc>http://a/s.xml</loc></sitemap></sitemapindex>"));
    }
}
