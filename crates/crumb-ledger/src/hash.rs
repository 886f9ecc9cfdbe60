//! The record hash and its canonical encoding (version 1), as `docs/ledger.md` ("Record
//! hash") writes it down.
//!
//! The hashed bytes are built here field by field, not derived from `Entry`'s serde
//! implementation: adding a field to [`Entry`] does not change any hash until the field is
//! added to `entry_fields`, and the rules below keep old records verifying when it is.
//!
//! Encoding v1: a JSON object without whitespace,
//! `{"v":1,"chain":S,"seq":I,"prev_hash":S,"entry":{...}}`, whose `entry` holds the fields
//! of `entry_fields` in that order. Strings are UTF-8 with only `"`, `\` and the control
//! characters U+0000 to U+001F escaped (`\b \f \n \r \t`, otherwise `\u00xx` in lower-case
//! hex); integers are decimal without leading zeros; booleans `true`/`false`; `choices` is an
//! object with its categories in byte order. The sixteen fields of v1 are always written,
//! an absent optional one as `null`. A field added later must be optional and is appended
//! after the last one, written only when present: a record without it keeps the bytes, and
//! so the hash, it had before the field existed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::Entry;

/// Version of the canonical encoding, the `"v"` member of the hashed bytes.
pub const RECORD_HASH_VERSION: u8 = 1;

/// A field's value in the canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// A JSON string.
    Str(&'a str),
    /// A JSON integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `{"category":bool,...}` in byte order of the categories.
    Choices(&'a BTreeMap<String, bool>),
}

/// How a field is written when it has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// As `null`: the optional fields of v1.
    Null,
    /// Not at all: every optional field added after v1.
    Omitted,
}

/// One member of the encoded entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub(crate) name: &'static str,
    pub(crate) value: Option<Value<'a>>,
    pub(crate) absent: Absent,
}

impl<'a> Field<'a> {
    fn required(name: &'static str, value: Value<'a>) -> Self {
        Field { name, value: Some(value), absent: Absent::Null }
    }

    fn optional(name: &'static str, value: Option<&'a str>) -> Self {
        Field { name, value: value.map(Value::Str), absent: Absent::Null }
    }
}

/// The fields of an entry in encoding order. The destructuring is exhaustive on purpose: a
/// new field of [`Entry`] does not compile until it is placed here (appended, as
/// [`Absent::Omitted`]) or deliberately left out of the hash.
pub(crate) fn entry_fields(entry: &Entry) -> [Field<'_>; 16] {
    let Entry {
        consent_id,
        site,
        policy_version,
        choices,
        action,
        gpc,
        dnt,
        region,
        mode,
        language,
        url,
        ua_family,
        ip_hash,
        recorded_at,
        expires_at,
        retain_until,
    } = entry;
    [
        Field::required("consent_id", Value::Str(consent_id)),
        Field::required("site", Value::Str(site)),
        Field::required("policy_version", Value::Str(policy_version)),
        Field::required("choices", Value::Choices(choices)),
        Field::required("action", Value::Str(action)),
        Field::required("gpc", Value::Bool(*gpc)),
        Field::required("dnt", Value::Bool(*dnt)),
        Field::optional("region", region.as_deref()),
        Field::required("mode", Value::Str(mode)),
        Field::optional("language", language.as_deref()),
        Field::optional("url", url.as_deref()),
        Field::required("ua_family", Value::Str(ua_family)),
        Field::optional("ip_hash", ip_hash.as_deref()),
        Field::required("recorded_at", Value::Int(*recorded_at)),
        Field::required("expires_at", Value::Int(*expires_at)),
        Field::required("retain_until", Value::Int(*retain_until)),
    ]
}

/// The hash of a record: SHA-256 (lower-case hex) of [`canonical_record`].
pub fn record_hash(chain: &str, seq: i64, prev_hash: &str, entry: &Entry) -> String {
    hex::encode(Sha256::digest(canonical_record(chain, seq, prev_hash, entry)))
}

/// The bytes [`record_hash`] hashes: the canonical encoding v1 of a record.
pub fn canonical_record(chain: &str, seq: i64, prev_hash: &str, entry: &Entry) -> Vec<u8> {
    encode(chain, seq, prev_hash, &entry_fields(entry))
}

/// The canonical encoding of a record whose entry has the fields `entry`.
pub(crate) fn encode(chain: &str, seq: i64, prev_hash: &str, entry: &[Field<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"v\":");
    int(&mut out, i64::from(RECORD_HASH_VERSION));
    member(&mut out, "chain", Value::Str(chain));
    member(&mut out, "seq", Value::Int(seq));
    member(&mut out, "prev_hash", Value::Str(prev_hash));
    out.extend_from_slice(b",\"entry\":{");
    let mut first = true;
    for f in entry {
        if f.value.is_none() && f.absent == Absent::Omitted {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        string(&mut out, f.name);
        out.push(b':');
        match f.value {
            Some(v) => value(&mut out, v),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"}}");
    out
}

/// `,"name":value`
fn member(out: &mut Vec<u8>, name: &str, v: Value<'_>) {
    out.push(b',');
    string(out, name);
    out.push(b':');
    value(out, v);
}

fn value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Str(s) => string(out, s),
        Value::Int(i) => int(out, i),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Choices(choices) => {
            out.push(b'{');
            for (i, (category, choice)) in choices.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, category);
                out.push(b':');
                value(out, Value::Bool(*choice));
            }
            out.push(b'}');
        }
    }
}

/// A decimal integer: `-` for negatives, no leading zeros.
fn int(out: &mut Vec<u8>, i: i64) {
    // 20 digits hold every u64, and so the magnitude of every i64.
    let mut digits = [0u8; 20];
    let (mut n, mut at) = (i.unsigned_abs(), digits.len());
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string: `"` and `\` and the control characters escaped, everything else as is.
fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    // Runs of bytes that need no escape are copied whole. Bytes of multi-byte UTF-8
    // sequences are >= 0x80 and never escaped.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]),
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
