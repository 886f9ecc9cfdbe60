//! Conformance stories for the [aggregates](crate::aggregates): after every append,
//! failed append, retention run and rebuild, the stored aggregates equal
//! [`recount`] of the stored records.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aggregates::{AggQuery, Buckets, Dim, Key, Table, recount};
use crate::storage::Storage;
use crate::{CheckpointKey, Entry, GENESIS, Record, retention};

/// A small deterministic generator (the cases must be the same on both backends).
pub(crate) struct Gen(pub(crate) u64);

impl Gen {
    pub(crate) fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const T0: i64 = 1_800_000_000_000;

fn random_entry(g: &mut Gen) -> Entry {
    // Decisions spread over three days, in no particular order: a later batch may hold a
    // visitor's earlier decision (several servers, several chains).
    let at = T0 + g.below(3 * crate::aggregates::DAY_MS as u64) as i64;
    let choices = [("necessary".to_string(), true), ("analytics".to_string(), g.below(2) == 0)]
        .into_iter()
        .chain((g.below(2) == 0).then(|| ("marketing".to_string(), g.below(3) == 0)))
        .collect();
    Entry {
        consent_id: format!("0193a2b4-7c1d-7e55-9a0b-{:012x}", g.below(8)),
        site: g.pick(&["leadsgen", "mixerlead"]).into(),
        policy_version: g.pick(&["v1", "v2"]).into(),
        choices,
        action: g.pick(&["accept_all", "reject_all", "save", "withdraw"]).into(),
        gpc: g.below(4) == 0,
        dnt: g.below(5) == 0,
        region: [None, Some("DE".to_string()), Some("FR".to_string())][g.below(3) as usize].clone(),
        mode: "opt_in".into(),
        language: None,
        url: None,
        ua_family: "firefox".into(),
        ip_hash: None,
        recorded_at: at,
        expires_at: at + 1000,
        retain_until: at + g.below(2 * crate::aggregates::DAY_MS as u64) as i64,
    }
}

/// Every stored aggregate bucket, as the storage answers when grouped by all of a table's
/// dimensions.
pub async fn stored(s: &dyn Storage) -> Buckets {
    let mut out = Buckets::new();
    for table in [Table::Decisions, Table::Categories, Table::Hours, Table::Days] {
        let q = AggQuery { table, site: None, from: i64::MIN, to: i64::MAX, group: table.dims().to_vec() };
        for row in s.aggregates(&q).await.expect("aggregates") {
            out.insert((table, row.keys), (row.n, row.first_at, row.last_at));
        }
    }
    out
}

async fn all_records(s: &dyn Storage) -> Vec<Record> {
    let mut out = Vec::new();
    for chain in s.chains().await.expect("chains") {
        out.extend(s.records(&chain, i64::MIN, 1_000_000).await.expect("records"));
    }
    out
}

async fn assert_recount(s: &dyn Storage, when: &str) {
    let records = all_records(s).await;
    let want = recount(&records);
    let got = stored(s).await;
    assert_eq!(got, want, "aggregates differ from a recount of {} records {when}", records.len());
}

/// Random batches on three chains (decisions out of time order across batches and
/// chains), failing batches, retention runs and a rebuild: the aggregates equal a recount
/// of the stored records after every step.
pub async fn aggregates_equal_recount(s: Arc<dyn Storage>) {
    let key = CheckpointKey::generate();
    let mut g = Gen(0x00C0_FFEE);
    let mut heads: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for step in 0..60 {
        let chain = g.pick(&["a", "b", "c"]);
        let (seq, hash) = heads.get(chain).cloned().unwrap_or((0, GENESIS.to_string()));
        match g.below(10) {
            // A batch that cannot commit: its last record repeats a stored (chain, seq).
            0 if seq > 0 => {
                let before = stored(s.as_ref()).await;
                let mut batch = vec![Record::chain_after(chain, seq, &hash, random_entry(&mut g))];
                let dup = s.records(chain, seq - 1, 1).await.expect("records");
                batch.extend(dup);
                assert!(s.append(&batch).await.is_err(), "a duplicate (chain, seq) must fail");
                assert_eq!(stored(s.as_ref()).await, before, "a failed batch leaves the aggregates as they were");
            }
            // Retention as of a random time within the generated days.
            1 => {
                let now = T0 + g.below(4 * crate::aggregates::DAY_MS as u64) as i64;
                retention::apply(s.as_ref(), &key, now).await.expect("retention");
            }
            _ => {
                let n = 1 + g.below(12) as usize;
                let (mut seq, mut hash) = (seq, hash);
                let mut batch = Vec::new();
                for _ in 0..n {
                    let r = Record::chain_after(chain, seq, &hash, random_entry(&mut g));
                    (seq, hash) = (r.seq, r.hash.clone());
                    batch.push(r);
                }
                s.append(&batch).await.expect("append");
                heads.insert(chain, (seq, hash));
            }
        }
        assert_recount(s.as_ref(), &format!("after step {step}")).await;
    }
    assert!(!all_records(s.as_ref()).await.is_empty(), "the story keeps some records");
    s.rebuild_aggregates().await.expect("rebuild");
    assert_recount(s.as_ref(), "after a rebuild").await;
    // Retention of everything: no record, no count.
    retention::apply(s.as_ref(), &key, i64::MAX / 2).await.expect("retention");
    assert!(stored(s.as_ref()).await.is_empty(), "no records, no aggregates");
}

/// The sums the dashboard asks for: grouped by fewer dimensions, one site, a day range.
pub async fn aggregate_queries(s: Arc<dyn Storage>) {
    let day = crate::aggregates::DAY_MS;
    let mut recs: Vec<Record> = Vec::new();
    let mut g = Gen(7);
    // Visitor 1 decides on day 0 and changes on day 1; visitor 2 decides on day 1.
    for (who, at, action) in [(1, T0, "accept_all"), (1, T0 + day, "reject_all"), (2, T0 + day + 5, "accept_all")] {
        let mut e = random_entry(&mut g);
        e.recorded_at = at;
        e.consent_id = format!("0193a2b4-7c1d-7e55-9a0b-{who:012x}");
        e.site = "leadsgen".into();
        e.action = action.into();
        let (s0, h0) = recs.last().map(|r| (r.seq, r.hash.clone())).unwrap_or((0, GENESIS.to_string()));
        recs.push(Record::chain_after("a", s0, &h0, e));
    }
    s.append(&recs).await.expect("append");
    let day0 = T0.div_euclid(day) * day;
    let q = |table, site: Option<&str>, from, to, group: Vec<Dim>| AggQuery {
        table,
        site: site.map(str::to_string),
        from,
        to,
        group,
    };
    let rows =
        s.aggregates(&q(Table::Decisions, Some("leadsgen"), day0, day0 + 2 * day, vec![Dim::Day, Dim::First])).await;
    let rows: Vec<(Vec<Key>, i64)> = rows.expect("aggregates").into_iter().map(|r| (r.keys, r.n)).collect();
    assert_eq!(
        rows,
        vec![
            (vec![Key::Time(day0), Key::Flag(true)], 1),
            (vec![Key::Time(day0 + day), Key::Flag(false)], 1),
            (vec![Key::Time(day0 + day), Key::Flag(true)], 1),
        ]
    );
    let one_day = s.aggregates(&q(Table::Hours, None, day0 + day, day0 + 2 * day, vec![])).await.expect("hours");
    assert_eq!(one_day.len(), 1);
    assert_eq!((one_day[0].n, one_day[0].first_at, one_day[0].last_at), (2, Some(T0 + day), Some(T0 + day + 5)));
    let other = s.aggregates(&q(Table::Decisions, Some("mixerlead"), i64::MIN, i64::MAX, vec![])).await;
    assert!(other.expect("aggregates").iter().all(|r| r.n == 0), "another site counts nothing");
    let cats = s
        .aggregates(&q(Table::Categories, None, i64::MIN, i64::MAX, vec![Dim::Category, Dim::Granted]))
        .await
        .expect("categories");
    let necessary = cats.iter().find(|r| r.keys == vec![Key::Text("necessary".into()), Key::Flag(true)]);
    assert_eq!(necessary.map(|r| r.n), Some(3));
}
