//! API keys of the statistics API: their shape, their stored hash, and checking a request's
//! `Authorization: Bearer` against the ledger database.
//!
//! A key is `crumb_<id>_<secret>`: `id` is 16 hex digits, public (listings, `crumb admin
//! revoke-key`); `secret` is 32 random bytes in hex. The database keeps the SHA-256 of the
//! whole key, never the key; `crumb admin create-key` prints it once. Keys are read-only
//! and scoped to the sites they list.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crumb_ledger::{ApiKeyRow, Storage};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// How every key starts.
pub const PREFIX: &str = "crumb_";

/// Longest key name `crumb admin create-key` accepts.
pub const MAX_NAME: usize = 100;

/// A freshly generated key.
#[derive(Debug)]
pub struct NewApiKey {
    /// Public identifier.
    pub id: String,
    /// The whole key, to hand to its user once; never stored.
    pub key: String,
}

/// A new key from the operating system's random generator.
pub fn generate() -> NewApiKey {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let key = format!("{PREFIX}{id}_{}", hex::encode(secret));
    NewApiKey { id, key }
}

/// What the database stores for `key`: the hex SHA-256 of the whole key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `site` has the shape of a site id (the inventory's rule: lowercase letters,
/// digits, `-` and `_`, at most 63, starting with a letter or digit).
pub fn valid_site_id(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= 63
        && site.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && site.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Whether `name` is an acceptable description for a key: not blank, at most
/// [`MAX_NAME`] characters, no control characters.
pub fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= MAX_NAME && !name.chars().any(char::is_control)
}

/// A 401 with `WWW-Authenticate: Bearer` and a JSON body.
pub fn unauthorized(code: &'static str, message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"crumb\""));
    resp
}

/// The active key presented in `Authorization: Bearer <key>`, or the 401 (or 503) answer.
pub async fn authenticate(storage: &dyn Storage, headers: &HeaderMap) -> Result<ApiKeyRow, Response> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some((scheme, key)) = value.split_once(' ') else {
        return Err(unauthorized(
            "missing_api_key",
            "send an API key as `Authorization: Bearer crumb_...` (create one with `crumb admin create-key`)",
        ));
    };
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(unauthorized("missing_api_key", "the Authorization header must be `Bearer crumb_...`"));
    }
    if !key.starts_with(PREFIX) || key.len() > 200 {
        return Err(unauthorized("invalid_api_key", "the API key is not valid or has been revoked"));
    }
    match storage.api_key_by_hash(&hash(key)).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(unauthorized("invalid_api_key", "the API key is not valid or has been revoked")),
        Err(_) => Err(ApiError::unavailable("the database is not reachable; retry later").into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_prefixed_and_hashed_whole() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&format!("{PREFIX}{}_", a.id)), "{}", a.key);
        assert_eq!((a.id.len(), a.key.len()), (16, PREFIX.len() + 16 + 1 + 64));
        assert_eq!(hash(&a.key).len(), 64);
        assert_ne!(hash(&a.key), hash(&b.key));
        assert!(!hash(&a.key).contains(&a.key[PREFIX.len() + 17..]), "the stored hash does not hold the secret");
    }

    #[test]
    fn site_ids_and_names() {
        assert!(valid_site_id("leadsgen") && valid_site_id("a-b_1"));
        assert!(!valid_site_id("") && !valid_site_id("Leads") && !valid_site_id("-x") && !valid_site_id("a b"));
        assert!(!valid_site_id(&"a".repeat(64)));
        assert!(valid_name("BI export") && !valid_name("  ") && !valid_name("a\nb") && !valid_name(&"x".repeat(101)));
    }
}
