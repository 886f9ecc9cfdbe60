//! Small syntax predicates shared by the rules: slugs, URLs, e-mail addresses, hosts,
//! language tags, cookie-name characters and sign-in-looking items.

use crate::inventory::Item;

pub(super) fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub(super) fn is_http_url(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    (l.starts_with("https://") || l.starts_with("http://"))
        && l.len() > 8
        && !s.chars().any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>' || c == '\'' || c == '`')
}

pub(super) fn is_email(s: &str) -> bool {
    let Some((user, host)) = s.split_once('@') else { return false };
    !user.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c))
}

pub(super) fn is_host_pattern(s: &str) -> bool {
    let h = crate::inventory::origin_host(s);
    let h = h.strip_prefix("*.").unwrap_or(&h);
    !h.is_empty()
        && !h.contains('*')
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')
}

pub(super) fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Characters a cookie name may not contain (RFC 6265 token).
pub(super) fn bad_cookie_name_char(c: char) -> bool {
    c.is_control() || c.is_whitespace() || "()<>@,;:\\\"/[]?={}".contains(c) || !c.is_ascii()
}

pub(super) const AUTH_NAME_WORDS: &[&str] = &[
    "auth",
    "token",
    "jwt",
    "sessionid",
    "session_id",
    "session-id",
    "session-token",
    "session_token",
    "sessid",
    "connect.sid",
    "remember_me",
    "login",
];
pub(super) const AUTH_PURPOSE_WORDS: &[&str] = &["authenticat", "signed in", "sign in", "logged in", "log in", "login"];

pub(super) fn looks_like_auth(item: &Item, lang: &str) -> bool {
    let n = item.name.to_ascii_lowercase();
    let p = item.purpose.get(lang, lang).to_ascii_lowercase();
    n == "sid" || AUTH_NAME_WORDS.iter().any(|w| n.contains(w)) || AUTH_PURPOSE_WORDS.iter().any(|w| p.contains(w))
}
