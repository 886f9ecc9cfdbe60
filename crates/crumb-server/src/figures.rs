//! A site's figures over a time range, summed from the hourly
//! [aggregates](crumb_ledger::aggregates) (never by counting records): what the statistics
//! API answers and the dashboard's overview shows, so both give the same numbers.

use crumb_ledger::aggregates::HOUR_MS;
use crumb_ledger::{AggQuery, Dim, Key, Storage, StorageError, Table};

/// Every action, in display and CSV order.
pub const ACTIONS: [&str; 4] = ["accept_all", "reject_all", "save", "withdraw"];

/// Figures of one site (or all) over `from <= hour < to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Decisions.
    pub records: i64,
    /// Decisions that were a visitor's first (no earlier record of their consent id).
    pub first_decisions: i64,
    /// Decisions that changed an earlier one.
    pub changes: i64,
    /// Decisions per action, every action of [`ACTIONS`] listed (zeros included), in order.
    pub by_action: Vec<(String, i64)>,
    /// The first decision's time (Unix ms).
    pub first_at: Option<i64>,
    /// The last decision's time (Unix ms).
    pub last_at: Option<i64>,
}

impl Figures {
    /// Decisions of one action.
    pub fn action(&self, action: &str) -> i64 {
        self.by_action.iter().find(|(a, _)| a == action).map_or(0, |(_, n)| *n)
    }
}

/// Whether `t` is a whole UTC hour (the finest bucket the aggregates keep).
pub fn whole_hour(t: i64) -> bool {
    t.rem_euclid(HOUR_MS) == 0
}

/// Sum the hourly aggregates of `site` (all sites when `None`) for the hours starting in
/// `from..to`.
pub async fn figures(storage: &dyn Storage, site: Option<&str>, from: i64, to: i64) -> Result<Figures, StorageError> {
    let q = AggQuery {
        table: Table::Hours,
        site: site.map(str::to_string),
        from,
        to,
        group: vec![Dim::Action, Dim::First],
    };
    let mut f = Figures { by_action: ACTIONS.iter().map(|a| (a.to_string(), 0)).collect(), ..Figures::default() };
    for row in storage.aggregates(&q).await? {
        let (Some(Key::Text(action)), Some(Key::Flag(first))) = (row.keys.first(), row.keys.get(1)) else { continue };
        f.records += row.n;
        if *first {
            f.first_decisions += row.n;
        } else {
            f.changes += row.n;
        }
        match f.by_action.iter_mut().find(|(a, _)| a == action) {
            Some((_, n)) => *n += row.n,
            None => f.by_action.push((action.clone(), row.n)),
        }
        f.first_at = match (f.first_at, row.first_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        f.last_at = f.last_at.max(row.last_at);
    }
    Ok(f)
}
