//! A site's figures over a time range, summed from the
//! [aggregates](crumb_ledger::aggregates) (never by counting records): what the statistics
//! API answers and the dashboard's overview shows, so both give the same numbers. Whole
//! UTC days of the range are read from the daily rollup (`agg_days`), only the partial
//! days at its edges from the hours (`agg_hours`): a year is ~365 buckets per action, not
//! ~8,760.

use crumb_ledger::aggregates::{DAY_MS, HOUR_MS};
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

/// The parts of `from..to` to read: hours before the first whole day, the whole days, hours
/// after the last whole day (ranges that are empty are left out).
fn parts(from: i64, to: i64) -> Vec<(Table, i64, i64)> {
    // The first day start at or after `from`, the last at or before `to` (no overflow at
    // the ends of i64: `from` rounds up, `to` rounds down).
    let first_day =
        if from.rem_euclid(DAY_MS) == 0 { from } else { (from.div_euclid(DAY_MS) + 1).saturating_mul(DAY_MS) };
    let last_day = to.div_euclid(DAY_MS) * DAY_MS;
    if first_day >= last_day {
        return if from < to { vec![(Table::Hours, from, to)] } else { vec![] };
    }
    [(Table::Hours, from, first_day), (Table::Days, first_day, last_day), (Table::Hours, last_day, to)]
        .into_iter()
        .filter(|(_, a, b)| a < b)
        .collect()
}

/// Sum the aggregates of `site` (all sites when `None`) for the hours starting in
/// `from..to`: the whole days among them from the daily rollup, the rest from the hours.
pub async fn figures(storage: &dyn Storage, site: Option<&str>, from: i64, to: i64) -> Result<Figures, StorageError> {
    let mut f = Figures { by_action: ACTIONS.iter().map(|a| (a.to_string(), 0)).collect(), ..Figures::default() };
    for (table, from, to) in parts(from, to) {
        let q = AggQuery { table, site: site.map(str::to_string), from, to, group: vec![Dim::Action, Dim::First] };
        for row in storage.aggregates(&q).await? {
            let (Some(Key::Text(action)), Some(Key::Flag(first))) = (row.keys.first(), row.keys.get(1)) else {
                continue;
            };
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
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_from_the_rollup_and_the_edges_from_hours() {
        let d = 1_800_000_000_000 / DAY_MS * DAY_MS;
        let h = HOUR_MS;
        assert_eq!(
            parts(d - 3 * h, d + 2 * DAY_MS + 5 * h),
            vec![
                (Table::Hours, d - 3 * h, d),
                (Table::Days, d, d + 2 * DAY_MS),
                (Table::Hours, d + 2 * DAY_MS, d + 2 * DAY_MS + 5 * h)
            ]
        );
        assert_eq!(parts(d, d + DAY_MS), vec![(Table::Days, d, d + DAY_MS)]);
        assert_eq!(parts(d + h, d + DAY_MS), vec![(Table::Hours, d + h, d + DAY_MS)], "no whole day");
        assert_eq!(parts(d + h, d + 2 * h), vec![(Table::Hours, d + h, d + 2 * h)]);
        assert_eq!(parts(d, d), vec![]);
        let all = parts(i64::MIN, i64::MAX);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].0, Table::Days);
        assert_eq!((all[0].1, all[2].2), (i64::MIN, i64::MAX));
    }
}
