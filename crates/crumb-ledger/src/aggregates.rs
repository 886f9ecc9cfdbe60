//! Aggregates: counts of the ledger's records kept beside them, in the same transaction as
//! each batch, so the dashboard and the statistics API never count records.
//!
//! Four tables, each a count `n` per combination of its dimensions ([`Table`]):
//!
//! - `agg_decisions`: per site, UTC day, action, region (`""` when unknown), GPC, DNT,
//!   policy version and first decision or change;
//! - `agg_categories`: per site, UTC day, category and granted or refused;
//! - `agg_hours`: per site, UTC hour, action and first decision or change, with the first
//!   and last record time of each bucket;
//! - `agg_days`: the same per UTC day instead of hour (the sum of that day's hours), so a
//!   window of months reads days and only its partial edge days read hours.
//!
//! A record is a visitor's *first decision* when no record of its consent id comes before
//! it in `(recorded_at, chain, seq)` order among the records stored; every other record is a
//! *change*. The aggregates always equal a recount of the records that are stored: a batch
//! adds its records' counts in its own transaction (a batch that fails leaves neither),
//! and retention removes the counts of the records it deletes in the same transaction.
//! [`recount`] is that recount, written independently of the SQL, for tests; [`count`] is
//! what a batch adds, computed from its records in memory by the storage that writes them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::Record;

/// One UTC day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// An aggregate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Table {
    /// `agg_decisions`.
    Decisions,
    /// `agg_categories`.
    Categories,
    /// `agg_hours`.
    Hours,
    /// `agg_days`: `agg_hours` rolled up per UTC day.
    Days,
}

/// A dimension to group by. Each table has some of them ([`Table::dims`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Dim {
    /// Site id.
    Site,
    /// Start of the UTC day (Unix ms): decisions, categories and days.
    Day,
    /// Start of the UTC hour (Unix ms): hours.
    Hour,
    /// Action.
    Action,
    /// Region (`""` when unknown).
    Region,
    /// GPC sent.
    Gpc,
    /// DNT sent.
    Dnt,
    /// Policy version.
    Version,
    /// First decision (true) or change (false).
    First,
    /// Category.
    Category,
    /// Category granted (true) or refused (false).
    Granted,
}

impl Table {
    /// The dimensions the table keeps, in key order.
    pub fn dims(self) -> &'static [Dim] {
        match self {
            Table::Decisions => {
                &[Dim::Site, Dim::Day, Dim::Action, Dim::Region, Dim::Gpc, Dim::Dnt, Dim::Version, Dim::First]
            }
            Table::Categories => &[Dim::Site, Dim::Day, Dim::Category, Dim::Granted],
            Table::Hours => &[Dim::Site, Dim::Hour, Dim::Action, Dim::First],
            Table::Days => &[Dim::Site, Dim::Day, Dim::Action, Dim::First],
        }
    }

    /// Whether the table keeps each bucket's first and last record time (hours and days).
    pub fn timed(self) -> bool {
        matches!(self, Table::Hours | Table::Days)
    }
}

/// A value of a dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    /// Text (site, action, region, version, category).
    Text(String),
    /// Time (day or hour start, Unix ms).
    Time(i64),
    /// Flag (GPC, DNT, first, granted).
    Flag(bool),
}

impl Key {
    /// The text, if this is text.
    pub fn text(&self) -> Option<&str> {
        if let Key::Text(s) = self { Some(s) } else { None }
    }
    /// The time, if this is a time.
    pub fn time(&self) -> Option<i64> {
        if let Key::Time(t) = self { Some(*t) } else { None }
    }
    /// The flag, if this is a flag.
    pub fn flag(&self) -> Option<bool> {
        if let Key::Flag(f) = self { Some(*f) } else { None }
    }
}

/// A question to the aggregates: sum `n` of `table` over `from <= day (or hour) < to`,
/// optionally of one site, grouped by `group` (dimensions of that table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggQuery {
    /// The table.
    pub table: Table,
    /// One site, or all.
    pub site: Option<String>,
    /// Start of the range (Unix ms), inclusive, compared with the bucket's start.
    pub from: i64,
    /// End of the range (Unix ms), exclusive.
    pub to: i64,
    /// Dimensions to group by, in the order of [`AggRow::keys`].
    pub group: Vec<Dim>,
}

/// One answer row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AggRow {
    /// The group's values, in the order of [`AggQuery::group`].
    pub keys: Vec<Key>,
    /// Records counted.
    pub n: i64,
    /// Earliest record time (hours and days only).
    pub first_at: Option<i64>,
    /// Latest record time (hours and days only).
    pub last_at: Option<i64>,
}

/// Every bucket of the four tables: `(table, keys)` to `(n, first_at, last_at)`.
pub type Buckets = BTreeMap<(Table, Vec<Key>), (i64, Option<i64>, Option<i64>)>;

/// Every bucket of the four tables, as a recount from `records` gives it: the oracle the
/// conformance suite compares the stored aggregates with. Buckets with no record are absent.
pub fn recount(records: &[Record]) -> Buckets {
    count(records, &HashMap::new())
}

/// The start of `t`'s UTC day as the SQL computes it (`(t / 86400000) * 86400000`: division
/// truncates, so no time overflows).
fn day_start(t: i64) -> i64 {
    (t / DAY_MS) * DAY_MS
}

/// A visitor's earliest stored decision, the one the aggregates count as their first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFirst {
    /// Its time (Unix ms).
    pub recorded_at: i64,
    /// Its chain.
    pub chain: String,
    /// Its position.
    pub seq: i64,
    /// Its site.
    pub site: String,
}

impl StoredFirst {
    fn follows(&self, r: &Record) -> bool {
        (r.entry.recorded_at, r.chain.as_str(), r.seq) < (self.recorded_at, self.chain.as_str(), self.seq)
    }
}

/// The buckets a batch of new `records` adds to the aggregates, given each of its visitors'
/// earliest stored decision (`stored`, by consent id; absent for a new visitor): a record is
/// a first decision when it precedes every other record of its visitor, stored or in the
/// batch. With nothing stored this is [`recount`]. A stored first decision that a record of
/// the batch precedes stops being first: its day is among [`displaced_days`], to recount.
pub fn count(records: &[Record], stored: &HashMap<String, StoredFirst>) -> Buckets {
    let mut order: Vec<&Record> = records.iter().collect();
    order.sort_by(|a, b| (a.entry.recorded_at, &a.chain, a.seq).cmp(&(b.entry.recorded_at, &b.chain, b.seq)));
    let mut seen = std::collections::HashSet::new();
    let mut out = Buckets::new();
    let mut add = |table, keys: Vec<Key>, at: Option<i64>| {
        let slot = out.entry((table, keys)).or_insert((0, at, at));
        slot.0 += 1;
        slot.1 = slot.1.min(at);
        slot.2 = slot.2.max(at);
    };
    for r in order {
        let e = &r.entry;
        let first = seen.insert(e.consent_id.as_str()) && stored.get(&e.consent_id).is_none_or(|s| s.follows(r));
        let site = Key::Text(e.site.clone());
        let day = Key::Time(day_start(e.recorded_at));
        let hour = Key::Time((e.recorded_at / HOUR_MS) * HOUR_MS);
        let action = Key::Text(e.action.clone());
        add(
            Table::Decisions,
            vec![
                site.clone(),
                day.clone(),
                action.clone(),
                Key::Text(e.region.clone().unwrap_or_default()),
                Key::Flag(e.gpc),
                Key::Flag(e.dnt),
                Key::Text(e.policy_version.clone()),
                Key::Flag(first),
            ],
            None,
        );
        for (cat, granted) in &e.choices {
            add(Table::Categories, vec![site.clone(), day.clone(), Key::Text(cat.clone()), Key::Flag(*granted)], None);
        }
        add(Table::Hours, vec![site.clone(), hour, action.clone(), Key::Flag(first)], Some(e.recorded_at));
        add(Table::Days, vec![site, day, action, Key::Flag(first)], Some(e.recorded_at));
    }
    out
}

/// The `(site, day start)` of each stored first decision that a record of `records`
/// precedes (it is a change once the batch is stored): those days must be counted again.
pub fn displaced_days(records: &[Record], stored: &HashMap<String, StoredFirst>) -> BTreeSet<(String, i64)> {
    records
        .iter()
        .filter_map(|r| stored.get(&r.entry.consent_id).filter(|s| s.follows(r)))
        .map(|s| (s.site.clone(), day_start(s.recorded_at)))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Records of a few visitors on two chains at times chosen by the test (any i64).
    fn records(spec: &[(u8, u8, i64)]) -> Vec<Record> {
        let mut heads: HashMap<String, (i64, String)> = HashMap::new();
        spec.iter()
            .map(|(visitor, chain, at)| {
                let chain = format!("w{}", chain % 2);
                let (seq, hash) = heads.get(&chain).cloned().unwrap_or((0, crate::GENESIS.to_string()));
                let mut e = crate::testutil::entry(i64::from(visitor % 6));
                e.recorded_at = *at;
                let r = Record::chain_after(&chain, seq, &hash, e);
                heads.insert(chain, (r.seq, r.hash.clone()));
                r
            })
            .collect()
    }

    fn earliest(stored: &[Record]) -> HashMap<String, StoredFirst> {
        let mut out: HashMap<String, StoredFirst> = HashMap::new();
        for r in stored {
            let s = StoredFirst {
                recorded_at: r.entry.recorded_at,
                chain: r.chain.clone(),
                seq: r.seq,
                site: r.entry.site.clone(),
            };
            match out.get(&r.entry.consent_id) {
                Some(have) if !have.follows(r) => {}
                _ => {
                    out.insert(r.entry.consent_id.clone(), s);
                }
            }
        }
        out
    }

    fn day_of(table: Table, keys: &[Key]) -> Option<i64> {
        let t = keys.get(1)?.time()?;
        Some(if table == Table::Hours { day_start(t) } else { t })
    }

    proptest! {
        /// Stored counts plus a batch's [`count`] equal a recount of everything, on every
        /// day but the [`displaced_days`] (which storage recounts); no time panics.
        #[test]
        fn a_batch_adds_what_a_recount_finds(
            spec in proptest::collection::vec((0u8..8, 0u8..2, prop_oneof![
                1_700_000_000_000i64..1_700_300_000_000,
                any::<i64>(),
            ]), 1..40),
            split in 0usize..40,
        ) {
            let all = records(&spec);
            let split = split.min(all.len());
            let (stored, batch) = all.split_at(split);
            let firsts = earliest(stored);
            let displaced = displaced_days(batch, &firsts);
            let mut sum = recount(stored);
            for (k, (n, lo, hi)) in count(batch, &firsts) {
                let slot = sum.entry(k).or_insert((0, lo, hi));
                slot.0 += n;
                slot.1 = slot.1.min(lo);
                slot.2 = slot.2.max(hi);
            }
            let keep = |(t, keys): &(Table, Vec<Key>)| {
                let site = keys[0].text().unwrap_or_default().to_string();
                day_of(*t, keys).is_none_or(|d| !displaced.contains(&(site, d)))
            };
            let want: Buckets = recount(&all).into_iter().filter(|(k, _)| keep(k)).collect();
            let got: Buckets = sum.into_iter().filter(|(k, _)| keep(k)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
