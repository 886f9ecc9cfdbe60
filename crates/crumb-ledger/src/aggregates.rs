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
//! [`recount`] is that recount, written independently of the SQL, for tests.

use std::collections::BTreeMap;

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
        let first = seen.insert(e.consent_id.clone());
        let site = Key::Text(e.site.clone());
        let day = Key::Time(e.recorded_at.div_euclid(DAY_MS) * DAY_MS);
        let hour = Key::Time(e.recorded_at.div_euclid(HOUR_MS) * HOUR_MS);
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
