//! The upgrade story both backends run: a database written by an earlier release, at an
//! earlier migration and holding data, opened by the current code. The backend's test
//! builds it (its own migrations up to a version, records stored with its own bulk insert,
//! rows written with plain SQL); this module makes the records and checks what the
//! migrated database must hold.

use std::collections::BTreeMap;

use crate::aggregates::{DAY_MS, recount};
use crate::conformance_aggregates::stored;
use crate::storage::Storage;
use crate::{GENESIS, Record, WebhookRow};

/// The admin account the old database holds (its row is written by [`OLD_ROWS`]).
pub const OLD_ADMIN: &str = "old-admin";

/// Rows an earlier release wrote besides the records, as SQL both backends accept, keyed by
/// the migration that created their table: a database at version `v` gets those of every
/// migration up to `v`.
pub const OLD_ROWS: &[(i64, &str)] = &[
    (2, "INSERT INTO admin_users (name, password_hash, created_at) VALUES ('old-admin', '$argon2id$old', 1)"),
    (
        7,
        "INSERT INTO webhooks (id, site, url, events, secret, created_at, created_by) \
         VALUES ('wh_old', 'leadsgen', 'http://127.0.0.1:9/old', '[\"scan.errors\"]', 'whsec_old', 1, 'old-admin')",
    ),
];

/// Records an earlier release stored: two chains, two sites, visitors deciding again on
/// later days (first decisions and changes), over five days and several hours of each.
pub fn old_records() -> Vec<Record> {
    let t0 = 1_800_000_000_000 - 1_800_000_000_000 % DAY_MS + 5_000;
    let mut heads: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for i in 0..60 {
        let chain = if i % 4 == 3 { "b" } else { "a" };
        let (seq, hash) = heads.get(chain).cloned().unwrap_or((0, GENESIS.to_string()));
        let e = crate::conformance::sample_entry(i, t0 + (i % 5) * DAY_MS + (i % 7) * 3_600_000 + i);
        let r = Record::chain_after(chain, seq, &hash, e);
        heads.insert(chain, (r.seq, r.hash.clone()));
        out.push(r);
    }
    out
}

/// Check the database built at migration `from` from [`old_records`] and [`OLD_ROWS`],
/// after the current code opened (and so migrated) it: the records and rows are intact,
/// every aggregate (the daily rollup included) equals a recount of the records, and the
/// webhooks table works.
pub async fn after_upgrade(s: &dyn Storage, from: i64) {
    let old = old_records();
    let mut got = Vec::new();
    for chain in ["a", "b"] {
        got.extend(s.records(chain, i64::MIN, 1_000).await.expect("records"));
    }
    let key = |r: &Record| (r.chain.clone(), r.seq);
    let mut want = old.clone();
    want.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, want, "the records survive the upgrade from migration {from}");
    assert!(got.iter().all(|r| r.computed_hash() == r.hash), "every record still hashes to its hash");
    assert_eq!(stored(s).await, recount(&old), "the aggregates, days included, equal a recount after the upgrade");
    assert_eq!(s.admin_password_hash(OLD_ADMIN).await.expect("admin"), Some("$argon2id$old".to_string()));
    let before: Vec<String> = s.webhooks(None).await.expect("webhooks").into_iter().map(|h| h.id).collect();
    assert_eq!(before, if from >= 7 { vec!["wh_old".to_string()] } else { vec![] }, "webhooks kept");
    let hook = WebhookRow {
        id: "wh_new".into(),
        site: "mixerlead".into(),
        url: "http://127.0.0.1:9/new".into(),
        events: vec!["scan.errors".into()],
        created_at: 2,
        created_by: OLD_ADMIN.into(),
    };
    s.add_webhook(&hook, "whsec_new").await.expect("add a webhook after the upgrade");
    assert!(s.webhooks(Some("mixerlead")).await.expect("webhooks").contains(&hook));
    // A batch after the upgrade is counted into the new tables too.
    let last = s.chain_head("a").await.expect("head").expect("chain a");
    let next = Record::chain_after("a", last.0, &last.1, crate::conformance::sample_entry(99, 1_800_000_000_000));
    s.append(std::slice::from_ref(&next)).await.expect("append after the upgrade");
    let mut all = old;
    all.push(next);
    assert_eq!(stored(s).await, recount(&all), "a new batch keeps the aggregates equal to a recount");
}
