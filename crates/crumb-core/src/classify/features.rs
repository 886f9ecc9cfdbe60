//! Features of an observation, exactly as `bench/classify/features.py` computes them
//! (the training side). The parity test compares both on `bench/classify/data/parity.json`.

use crate::StorageKind;

/// Number of hash buckets the model's weights are laid out in.
pub const BUCKETS: usize = 1 << 14;

/// What the feature extractor reads.
#[derive(Debug, Clone, Default)]
pub struct FeatureInput<'a> {
    /// Cookie or key name.
    pub name: &'a str,
    /// Cookie domain or storage host.
    pub domain: Option<&'a str>,
    /// Cookie, localStorage or sessionStorage.
    pub storage: Option<StorageKind>,
    /// `Some(true)` third party, `Some(false)` first party, `None` unknown.
    pub third_party: Option<bool>,
    /// Lifetime in seconds; `Some(0)` for a session cookie, `None` unknown.
    pub seconds: Option<u64>,
    /// The value, when known.
    pub value: Option<&'a str>,
    /// `HttpOnly`, when known.
    pub http_only: Option<bool>,
    /// `Secure`, when known.
    pub secure: Option<bool>,
    /// Host of whatever set it (response or script), when known.
    pub setter: Option<&'a str>,
}

/// FNV-1a, 32 bits.
pub fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Name tokens: split at camelCase and non-alphanumerics, lowercased; digit runs become
/// `<num>`, long digit-bearing tokens `<id>`; tokens shorter than 2 are dropped.
pub fn tokens(name: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for ch in name.chars() {
        if prev_lower && ch.is_ascii_uppercase() {
            spaced.push(' ');
        }
        prev_lower = ch.is_ascii_lowercase();
        spaced.push(ch);
    }
    spaced
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.bytes().all(|b| b.is_ascii_digit()) {
                "<num>".to_string()
            } else if t.chars().count() >= 12 && t.bytes().filter(u8::is_ascii_digit).count() >= 3 {
                "<id>".to_string()
            } else {
                t.to_string()
            }
        })
        .filter(|t| t.chars().count() >= 2)
        .collect()
}

fn duration_bucket(seconds: Option<u64>) -> &'static str {
    match seconds {
        None => "unknown",
        Some(0) => "session",
        Some(s) if s <= 3600 => "hour",
        Some(s) if s <= 86_400 => "day",
        Some(s) if s <= 31 * 86_400 => "month",
        Some(s) if s <= 366 * 86_400 => "year",
        Some(_) => "years",
    }
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && all(p, |c| c.is_ascii_hexdigit()))
}

fn is_number(v: &str) -> bool {
    let v = v.strip_prefix('-').unwrap_or(v);
    match v.split_once('.') {
        Some((a, b)) => all(a, |c| c.is_ascii_digit()) && all(b, |c| c.is_ascii_digit()),
        None => all(v, |c| c.is_ascii_digit()),
    }
}

fn has_percent_escape(v: &str) -> bool {
    let b = v.as_bytes();
    b.windows(3).any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// The shape of a value (`uuid`, `base64`, `json`, ...).
pub fn value_shape(v: &str) -> &'static str {
    if v.is_empty() {
        return "empty";
    }
    if is_number(v) {
        let d = v.len();
        let ts = v.starts_with('1') && (d == 10 || d == 13) && all(v, |c| c.is_ascii_digit());
        return if ts { "timestamp" } else { "number" };
    }
    if is_uuid(v) {
        return "uuid";
    }
    let b = v.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let dot = |i: usize| b.get(i) == Some(&b'.');
    let ga = b.starts_with(b"GA") && digit(2) && dot(3) && digit(4) && dot(5);
    let fb = b.starts_with(b"fb.") && digit(3) && dot(4);
    if ga || fb {
        return "vendor_id";
    }
    if v.starts_with('{') || v.starts_with('[') || v.starts_with("%7B") || v.starts_with("%5B") {
        return "json";
    }
    if v.len() >= 16 && all(v, |c| c.is_ascii_hexdigit()) {
        return "hex";
    }
    if has_percent_escape(v) || (v.contains('=') && v.contains('&')) {
        return "urlencoded";
    }
    let body = v.trim_end_matches('=');
    if v.len() - body.len() <= 2
        && body.chars().count() >= 16
        && all(body, |c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '-'))
    {
        return "base64";
    }
    let lower2 = |x: &[u8]| x.iter().all(u8::is_ascii_lowercase);
    let locale = match b.len() {
        2 => lower2(b),
        5 => lower2(&b[..2]) && matches!(b[2], b'-' | b'_') && b[3..].iter().all(u8::is_ascii_alphabetic),
        _ => false,
    };
    if locale {
        return "locale";
    }
    if matches!(v.to_lowercase().as_str(), "true" | "false" | "yes" | "no") {
        return "bool";
    }
    "text"
}

fn entropy_bucket(v: &str) -> &'static str {
    if v.is_empty() {
        return "0";
    }
    let mut counts = std::collections::HashMap::new();
    let mut n = 0f64;
    for c in v.chars() {
        *counts.entry(c).or_insert(0f64) += 1.0;
        n += 1.0;
    }
    let e: f64 = counts.values().map(|k| -(k / n) * (k / n).log2()).sum();
    if e < 2.5 {
        "low"
    } else if e < 4.0 {
        "mid"
    } else {
        "high"
    }
}

fn len_bucket(n: usize) -> String {
    for limit in [0usize, 4, 16, 32, 64, 128] {
        if n <= limit {
            return limit.to_string();
        }
    }
    "long".into()
}

/// The registrable part of a domain, approximately (`www.example.co.uk` -> `example.co.uk`).
pub fn registrable(domain: &str) -> String {
    let lower = domain.trim_start_matches('.').to_lowercase();
    let parts: Vec<&str> = lower.split('.').filter(|p| !p.is_empty()).collect();
    let n = parts.len();
    let take =
        if n >= 3 && parts[n - 1].len() == 2 && matches!(parts[n - 2], "co" | "com" | "org" | "net" | "ac" | "gov") {
            3
        } else {
            2
        };
    parts[n.saturating_sub(take)..].join(".")
}

/// Every feature string of an observation.
pub fn features(i: &FeatureInput<'_>) -> Vec<String> {
    let mut f = vec!["b".to_string()];
    f.extend(tokens(i.name).into_iter().map(|t| format!("t:{t}")));
    let norm: Vec<char> = std::iter::once('^')
        .chain(i.name.to_lowercase().chars().map(|c| if c.is_ascii_digit() { '0' } else { c }))
        .chain(std::iter::once('$'))
        .collect();
    for w in norm.windows(3) {
        f.push(format!("g:{}", w.iter().collect::<String>()));
    }
    let low: Vec<char> = i.name.to_lowercase().chars().collect();
    f.push(format!("p:{}", low.iter().take(4).collect::<String>()));
    f.push(format!("p2:{}", low.iter().take(2).collect::<String>()));
    let party = match i.third_party {
        Some(true) => "third",
        Some(false) => "first",
        None => "unknown",
    };
    f.push(format!("party:{party}"));
    if i.third_party == Some(true)
        && let Some(d) = i.domain.filter(|d| !d.is_empty())
    {
        f.push(format!("d:{}", registrable(d)));
    }
    if let Some(s) = i.setter.filter(|s| !s.is_empty()) {
        f.push(format!("set:{}", registrable(s)));
    }
    let storage = match i.storage.unwrap_or(StorageKind::Cookie) {
        StorageKind::Cookie => "cookie",
        StorageKind::LocalStorage => "local",
        StorageKind::SessionStorage => "session",
        StorageKind::IndexedDb => "indexeddb",
    };
    f.push(format!("s:{storage}"));
    f.push(format!("dur:{}", duration_bucket(i.seconds)));
    if let Some(v) = i.value {
        f.push(format!("v:{}", value_shape(v)));
        f.push(format!("vl:{}", len_bucket(v.chars().count())));
        f.push(format!("ve:{}", entropy_bucket(v)));
    }
    if let Some(h) = i.http_only {
        f.push(format!("a:h{}", u8::from(h)));
    }
    if let Some(s) = i.secure {
        f.push(format!("a:s{}", u8::from(s)));
    }
    f
}
