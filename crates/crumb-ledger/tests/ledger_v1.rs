//! A ledger written before the record hash's encoding was written down (by the serde
//! serialisation of `Entry` it replaced, at commit ae9447f) still verifies: hashes, links
//! and signed checkpoints. When a field is added to `Entry` (optional, appended to the
//! encoding as the rules in docs/ledger.md say), this fixture must keep verifying.

use crumb_ledger::keys::public_from_hex;
use crumb_ledger::verify::verify_records;
use crumb_ledger::{Checkpoint, Record};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    public_key: String,
    records: Vec<Record>,
    checkpoints: Vec<Checkpoint>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/ledger-v1.json")).expect("fixture")
}

#[test]
fn a_ledger_written_before_the_canonical_encoding_verifies() {
    let f = fixture();
    let key = public_from_hex(&f.public_key).expect("public key");
    assert_eq!(f.records.len(), 4);
    for r in &f.records {
        assert_eq!(r.computed_hash(), r.hash, "record #{}", r.seq);
    }
    let chain = &f.records[0].chain;
    assert_eq!(verify_records(chain, &f.records, &f.checkpoints, &[key]), vec![]);
}

#[test]
fn the_fixture_still_catches_an_edit() {
    let f = fixture();
    let key = public_from_hex(&f.public_key).expect("public key");
    let mut records = f.records.clone();
    records[2].entry.url = None;
    let problems = verify_records(&records[0].chain, &records, &f.checkpoints, &[key]);
    assert_eq!(problems.first().map(|p| p.seq), Some(3), "{problems:?}");
}
