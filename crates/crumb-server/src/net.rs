//! Client addresses, their anonymisation, user-agent families and origins.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;
use crumb_core::inventory::{Inventory, host_matches, origin_host};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The client address: the peer, or the last address in `X-Forwarded-For` that is not a
/// trusted proxy when the peer is one.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let mut ip = canonical(peer.ip());
    if !trusted.contains(&ip) {
        return ip;
    }
    let Some(xff) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) else { return ip };
    for hop in xff.rsplit(',') {
        let Ok(h) = hop.trim().parse::<IpAddr>() else { break };
        ip = canonical(h);
        if !trusted.contains(&ip) {
            break;
        }
    }
    ip
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Truncate to the /24 (IPv4) or /48 (IPv6) network.
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    }
}

/// Anonymises addresses: HMAC-SHA256 of the truncated address under the configured key,
/// first 32 hex characters. The keyed state is computed once, not per request.
#[derive(Clone)]
pub struct Anonymiser(Hmac<Sha256>);

impl Anonymiser {
    /// An anonymiser keyed with `key`.
    pub fn new(key: &[u8]) -> Anonymiser {
        // HMAC takes keys of any length: a longer one is hashed, a shorter one padded.
        Anonymiser(Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length"))
    }

    /// The stored form of `ip`.
    pub fn anonymise(&self, ip: IpAddr) -> String {
        let mut mac = self.0.clone();
        mac.update(truncate(ip).to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

/// A coarse user-agent family.
pub fn ua_family(ua: Option<&str>) -> &'static str {
    let Some(ua) = ua else { return "unknown" };
    let l = ua.to_ascii_lowercase();
    if l.contains("bot") || l.contains("crawler") || l.contains("spider") || l.contains("headlesschrome") {
        "bot"
    } else if l.contains("edg/") {
        "edge"
    } else if l.contains("opr/") || l.contains("opera") {
        "opera"
    } else if l.contains("firefox/") {
        "firefox"
    } else if l.contains("chrome/") || l.contains("chromium/") {
        "chrome"
    } else if l.contains("safari/") {
        "safari"
    } else if l.starts_with("curl/") || l.contains("python") || l.contains("go-http") || l.contains("wrk") {
        "tool"
    } else {
        "other"
    }
}

/// Whether `origin` (an `Origin` header) is one the site declares: https on a declared host,
/// http only where the inventory writes `http://` explicitly, and with `dev` any loopback
/// origin over http.
pub fn origin_allowed(inv: &Inventory, origin: &str, dev: bool) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    let Some((scheme, _)) = origin.split_once("://") else { return false };
    let host = origin_host(&origin);
    if dev && scheme == "http" && matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
        return true;
    }
    inv.site.origins.iter().any(|pattern| {
        let p = pattern.trim().to_ascii_lowercase();
        let scheme_ok = if p.starts_with("http://") { scheme == "http" } else { scheme == "https" };
        scheme_ok && host_matches(&p, &host)
    })
}

/// `url` without query and fragment, if it is an http(s) URL of reasonable length.
pub fn clean_url(url: &str) -> Option<String> {
    let u = url.trim();
    let u = u.split(['?', '#']).next().unwrap_or_default();
    let lower = u.to_ascii_lowercase();
    if u.len() > 2048 || !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    Some(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_hashing() {
        let a: IpAddr = "203.0.113.77".parse().expect("ip");
        let b: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(truncate(a).to_string(), "203.0.113.0");
        let (k, other) = (Anonymiser::new(b"k"), Anonymiser::new(b"other key"));
        assert_eq!(k.anonymise(a), k.anonymise(b));
        assert_ne!(k.anonymise(a), other.anonymise(a));
        assert_eq!(k.anonymise(a).len(), 32);
        assert!(k.anonymise(a).bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(!k.anonymise(a).contains("203"));
        // The stored form: HMAC-SHA256 of the truncated address's text, first 32 hex digits
        // (ledgers written before the keyed state was cached hold the same values).
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").expect("key");
        mac.update(b"203.0.113.0");
        assert_eq!(k.anonymise(a), hex::encode(mac.finalize().into_bytes())[..32]);
        let v6: IpAddr = "2001:db8:abcd:12:1::1".parse().expect("ip");
        let v6_same_48: IpAddr = "2001:db8:abcd:ffff::2".parse().expect("ip");
        assert_eq!(k.anonymise(v6), k.anonymise(v6_same_48));
        assert_ne!(k.anonymise(v6), k.anonymise(a));
        assert_eq!(truncate(v6).to_string(), "2001:db8:abcd::");
    }

    #[test]
    fn forwarded_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.1, 10.0.0.2".parse().expect("hv"));
        let proxy: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
        assert_eq!(client_ip(proxy, &h, &[]).to_string(), "10.0.0.1");
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip")];
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "198.51.100.1");
    }

    #[test]
    fn origins_and_urls() {
        let inv = crumb_core::parse_inventory(crumb_core::testdata::LEADSGEN).expect("leadsgen");
        assert!(origin_allowed(&inv, "https://leadsgen.app", false));
        assert!(!origin_allowed(&inv, "http://leadsgen.app", false));
        assert!(!origin_allowed(&inv, "https://evil.example", false));
        assert!(!origin_allowed(&inv, "http://127.0.0.1:8080", false));
        assert!(origin_allowed(&inv, "http://127.0.0.1:8080", true));
        assert_eq!(clean_url("https://a.b/p?q=1#f").as_deref(), Some("https://a.b/p"));
        assert_eq!(clean_url("javascript:alert(1)"), None);
        assert_eq!(
            ua_family(Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")),
            "firefox"
        );
    }
}
