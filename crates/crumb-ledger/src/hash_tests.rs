use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;
use crate::GENESIS;

/// An optional field added after v1 (omitted when absent), as a later version of
/// `entry_fields` would append it.
fn added<'a>(name: &'static str, value: Option<Value<'a>>) -> Field<'a> {
    Field { name, value, absent: Absent::Omitted }
}

const CHAIN: &str = "w-0193a2b47c1d7e559a0b000000000000";

fn pinned_entry() -> Entry {
    Entry {
        consent_id: "0193a2b4-7c1d-7e55-9a0b-000000000001".into(),
        site: "leadsgen".into(),
        policy_version: "3f2a9c1b7e4d5a6b".into(),
        choices: BTreeMap::from([
            ("necessary".to_string(), true),
            ("analytics".to_string(), false),
            ("marketing".to_string(), true),
        ]),
        action: "save".into(),
        gpc: true,
        dnt: false,
        region: Some("DE".into()),
        mode: "opt_in".into(),
        language: None,
        url: Some("https://leadsgen.app/pricing".into()),
        ua_family: "firefox".into(),
        ip_hash: Some("ab".repeat(16)),
        recorded_at: 1_800_000_000_000,
        expires_at: 1_831_536_000_000,
        retain_until: 1_957_680_000_000,
    }
}

/// The hash today's ledgers hold for this record (computed by the serde-derived encoding
/// this module replaced, at commit ae9447f): v1 must keep producing it.
#[test]
fn the_hash_of_a_fixed_record_is_pinned() {
    assert_eq!(
        record_hash(CHAIN, 1, GENESIS, &pinned_entry()),
        "5f86939e496137ec03e772cac3919cc8fc2c930db8d8f007d88be074119eb5fc"
    );
}

/// The exact bytes, as `docs/ledger.md` shows them.
#[test]
fn the_canonical_bytes_of_a_fixed_record() {
    let expected = concat!(
        r#"{"v":1,"chain":"w-0193a2b47c1d7e559a0b000000000000","seq":1,"#,
        r#""prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","#,
        r#""entry":{"consent_id":"0193a2b4-7c1d-7e55-9a0b-000000000001","site":"leadsgen","#,
        r#""policy_version":"3f2a9c1b7e4d5a6b","choices":{"analytics":false,"marketing":true,"necessary":true},"#,
        r#""action":"save","gpc":true,"dnt":false,"region":"DE","mode":"opt_in","language":null,"#,
        r#""url":"https://leadsgen.app/pricing","ua_family":"firefox","#,
        r#""ip_hash":"abababababababababababababababab","recorded_at":1800000000000,"#,
        r#""expires_at":1831536000000,"retain_until":1957680000000}}"#
    );
    assert_eq!(String::from_utf8(canonical_record(CHAIN, 1, GENESIS, &pinned_entry())).expect("utf-8"), expected);
}

/// A new optional field, absent, leaves the bytes (and so every old hash) as they were;
/// present, it is appended after `retain_until` and changes the hash.
#[test]
fn an_added_optional_field_keeps_old_hashes() {
    let e = pinned_entry();
    let before = encode(CHAIN, 1, GENESIS, &entry_fields(&e));
    let mut after = entry_fields(&e).to_vec();
    after.push(added("consent_mode", None));
    after.push(added("tcf_string", None));
    assert_eq!(encode(CHAIN, 1, GENESIS, &after), before);
    after[16] = added("consent_mode", Some(Value::Str("v2")));
    let with = String::from_utf8(encode(CHAIN, 1, GENESIS, &after)).expect("utf-8");
    assert!(with.ends_with(r#","retain_until":1957680000000,"consent_mode":"v2"}}"#), "{with}");
    assert_ne!(with.as_bytes(), before.as_slice());
}

/// The serde-derived input the hash was computed from before v1 was written down: the
/// fields of `Entry` as they were then, in declaration order.
#[derive(Serialize)]
struct LegacyInput<'a> {
    v: u8,
    chain: &'a str,
    seq: i64,
    prev_hash: &'a str,
    entry: LegacyEntry<'a>,
}

#[derive(Serialize)]
struct LegacyEntry<'a> {
    consent_id: &'a str,
    site: &'a str,
    policy_version: &'a str,
    choices: &'a BTreeMap<String, bool>,
    action: &'a str,
    gpc: bool,
    dnt: bool,
    region: &'a Option<String>,
    mode: &'a str,
    language: &'a Option<String>,
    url: &'a Option<String>,
    ua_family: &'a str,
    ip_hash: &'a Option<String>,
    recorded_at: i64,
    expires_at: i64,
    retain_until: i64,
}

fn legacy(chain: &str, seq: i64, prev_hash: &str, e: &Entry) -> Vec<u8> {
    let input = LegacyInput {
        v: 1,
        chain,
        seq,
        prev_hash,
        entry: LegacyEntry {
            consent_id: &e.consent_id,
            site: &e.site,
            policy_version: &e.policy_version,
            choices: &e.choices,
            action: &e.action,
            gpc: e.gpc,
            dnt: e.dnt,
            region: &e.region,
            mode: &e.mode,
            language: &e.language,
            url: &e.url,
            ua_family: &e.ua_family,
            ip_hash: &e.ip_hash,
            recorded_at: e.recorded_at,
            expires_at: e.expires_at,
            retain_until: e.retain_until,
        },
    };
    serde_json::to_vec(&input).expect("serialise")
}

/// What the canonical bytes decode back to.
#[derive(Debug, PartialEq, Deserialize)]
struct Decoded {
    v: u8,
    chain: String,
    seq: i64,
    prev_hash: String,
    entry: Entry,
}

/// Any string: every char, control characters, quotes and backslashes included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..10).prop_map(|c| c.into_iter().collect()),
        prop::collection::vec(prop::sample::select(vec!['"', '\\', '\n', '\u{1}', '\u{7f}', 'a', ',', ':', '}']), 0..6)
            .prop_map(|c| c.into_iter().collect()),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let strings = (text(), text(), text(), text(), text(), text());
    let options =
        (prop::option::of(text()), prop::option::of(text()), prop::option::of(text()), prop::option::of(text()));
    let rest = (prop::collection::btree_map(text(), any::<bool>(), 0..4), any::<(bool, bool, i64, i64, i64)>());
    (strings, options, rest).prop_map(
        |(
            (consent_id, site, policy_version, action, mode, ua_family),
            (region, language, url, ip_hash),
            (choices, (gpc, dnt, recorded_at, expires_at, retain_until)),
        )| Entry {
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
        },
    )
}

proptest! {
    /// v1 is byte for byte the encoding every existing ledger was hashed with.
    #[test]
    fn v1_is_the_encoding_existing_ledgers_were_hashed_with(
        chain in text(), seq in any::<i64>(), prev in text(), e in entry()
    ) {
        prop_assert_eq!(canonical_record(&chain, seq, &prev, &e), legacy(&chain, seq, &prev, &e));
    }

    /// The encoding is unambiguous: the bytes are JSON that decodes back to exactly the
    /// record they came from, so two different records never share their bytes.
    #[test]
    fn the_encoding_decodes_back_to_its_record(
        chain in text(), seq in any::<i64>(), prev in text(), e in entry()
    ) {
        let bytes = canonical_record(&chain, seq, &prev, &e);
        let decoded: Decoded = serde_json::from_slice(&bytes).expect("canonical bytes are JSON");
        prop_assert_eq!(decoded, Decoded { v: RECORD_HASH_VERSION, chain, seq, prev_hash: prev, entry: e });
    }

    /// Two different records (differing in any one place) never encode alike.
    #[test]
    fn different_records_encode_differently(
        a in (text(), any::<i64>(), text(), entry()), b in (text(), any::<i64>(), text(), entry())
    ) {
        let ea = canonical_record(&a.0, a.1, &a.2, &a.3);
        let eb = canonical_record(&b.0, b.1, &b.2, &b.3);
        prop_assert_eq!(ea == eb, a == b);
    }

    /// An added optional field, when present, decodes back to its value; when absent, the
    /// bytes are the ones without it.
    #[test]
    fn added_fields_are_unambiguous(e in entry(), extra in prop::option::of(text())) {
        let mut fields = entry_fields(&e).to_vec();
        fields.push(added("added", extra.as_deref().map(Value::Str)));
        let bytes = encode("c", 1, GENESIS, &fields);
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        prop_assert_eq!(json["entry"].get("added").and_then(|v| v.as_str()), extra.as_deref());
        if extra.is_none() {
            prop_assert_eq!(bytes, canonical_record("c", 1, GENESIS, &e));
        }
    }
}
