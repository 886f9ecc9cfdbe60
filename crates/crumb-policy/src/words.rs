//! Small pieces of text: durations in words, lists, quoted titles, cookie attributes, safe
//! links and Markdown escaping.

use crumb_core::duration::{DAY, Duration, HOUR, MINUTE, MONTH, WEEK, YEAR};
use crumb_core::inventory::{Item, StorageKind};

use crate::i18n::Texts;

/// `http(s)://` and `mailto:` URLs without characters that could break out of an attribute.
pub fn safe_url(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:");
    let chars_ok = !u.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>`\\".contains(c));
    (scheme_ok && chars_ok && u.len() > 8).then(|| u.to_string())
}

/// The link for a contact: `mailto:` for an e-mail address, else the URL if it is safe.
pub fn contact_href(contact: &str) -> Option<String> {
    if contact.contains('@') && !contact.contains("://") {
        safe_url(&format!("mailto:{contact}"))
    } else {
        safe_url(contact)
    }
}

/// A duration in words in the given language.
pub fn duration_words(d: Option<Duration>, t: &Texts) -> String {
    let Some(d) = d else { return t.persistent.to_string() };
    let Duration::Fixed(s) = d else { return t.session.to_string() };
    let units = [(YEAR, 6), (MONTH, 5), (WEEK, 4), (DAY, 3), (HOUR, 2), (MINUTE, 1)];
    let (n, idx) = units
        .iter()
        .find(|(size, _)| s >= *size && s % size == 0)
        .map(|(size, i)| (s / size, *i))
        .or_else(|| (s >= DAY && s % HOUR == 0).then_some((s / HOUR, 2)))
        .unwrap_or((s, 0));
    let (one, many) = t.units[idx];
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration as the inventory writes it (`90 days`, `session`, `persistent`), in words.
pub fn duration_text_words(text: &str, storage: StorageKind, t: &Texts) -> String {
    if storage != StorageKind::Cookie && text.trim().eq_ignore_ascii_case(crumb_core::inventory::PERSISTENT) {
        return duration_words(None, t);
    }
    match Duration::parse(text) {
        Ok(d) => duration_words(Some(d), t),
        Err(_) => text.to_string(),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_list(items: &[String], t: &Texts) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {} {last}", init.join(", "), t.list_and),
    }
}

/// A title in the language's quotation marks.
pub fn quoted(s: &str, t: &Texts) -> String {
    format!("{}{s}{}", t.quote_open, t.quote_close)
}

/// A cookie's attributes as its header would state them.
pub fn attributes(item: &Item) -> String {
    if item.storage() != StorageKind::Cookie {
        return String::new();
    }
    let mut out = Vec::new();
    if item.http_only == Some(true) {
        out.push("HttpOnly".to_string());
    }
    if item.secure == Some(true) {
        out.push("Secure".to_string());
    }
    if let Some(s) = item.same_site {
        out.push(format!("SameSite={}", s.as_str()));
    }
    if let Some(d) = &item.domain {
        out.push(format!("Domain={d}"));
    }
    if let Some(p) = &item.path {
        out.push(format!("Path={p}"));
    }
    out.join(", ")
}

/// Escape text for Markdown: HTML is neutralised and Markdown syntax shown literally.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (n, c) in s.chars().enumerate() {
        match c {
            '#' | '+' | '-' | '>' if n == 0 => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}
