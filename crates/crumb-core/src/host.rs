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
}
