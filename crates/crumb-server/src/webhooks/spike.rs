//! The reject-rate spike rule, checked by every `crumb serve` every few minutes.
//!
//! For each site: the share of `reject_all` among the decisions of the last hour against
//! the share in the 7 days before that hour. It is a spike when the hour has at least
//! [`MIN_HOUR`] decisions, the 7 days at least [`MIN_BASELINE`], and the hour's share is
//! both at least [`MIN_RISE`] (15 points) above and at least [`MIN_RATIO`] (1.5) times the
//! trailing share. At most one event per site and clock hour (its key names the hour), so
//! several servers checking the same figures queue it once.

use std::sync::Arc;
use std::time::Duration;

use crumb_ledger::{Stats, Storage, StorageError, now_ms};

use super::{REJECT_SPIKE, emit};
use crate::state::AppState;

/// Fewest decisions in the last hour for the rule to speak.
pub const MIN_HOUR: i64 = 30;
/// Fewest decisions in the trailing 7 days for the rule to speak.
pub const MIN_BASELINE: i64 = 100;
/// Smallest rise of the reject share, in share points (0.15 = 15 percentage points).
pub const MIN_RISE: f64 = 0.15;
/// Smallest ratio of the hour's share to the trailing share.
pub const MIN_RATIO: f64 = 1.5;

const HOUR: i64 = 3_600_000;

/// `(rejects, decisions)` of a window.
fn rejects(s: &Stats) -> (i64, i64) {
    let r = s.by_action.iter().find(|(a, _)| a == "reject_all").map(|(_, n)| *n).unwrap_or(0);
    (r, s.records)
}

/// Whether `hour` against `baseline` (both `(rejects, decisions)`) is a spike.
pub fn is_spike(hour: (i64, i64), baseline: (i64, i64)) -> bool {
    if hour.1 < MIN_HOUR || baseline.1 < MIN_BASELINE {
        return false;
    }
    let now = hour.0 as f64 / hour.1 as f64;
    let before = baseline.0 as f64 / baseline.1 as f64;
    now - before >= MIN_RISE && now >= MIN_RATIO * before
}

/// Check every site once at `now`; returns how many events were queued.
pub async fn check(storage: &dyn Storage, sites: &[String], now: i64) -> Result<u64, StorageError> {
    let mut queued = 0;
    for site in sites {
        let hour = rejects(&storage.stats(Some(site), now - HOUR, now).await?);
        let baseline = rejects(&storage.stats(Some(site), now - HOUR - 7 * 24 * HOUR, now - HOUR).await?);
        if !is_spike(hour, baseline) {
            continue;
        }
        let share = |(r, n): (i64, i64)| (r as f64 * 1000.0 / n as f64).round() / 1000.0;
        let data = serde_json::json!({
            "window": {"from": crumb_ledger::export::rfc3339(now - HOUR), "to": crumb_ledger::export::rfc3339(now)},
            "hour": {"decisions": hour.1, "rejects": hour.0, "reject_share": share(hour)},
            "trailing_7d": {"decisions": baseline.1, "rejects": baseline.0, "reject_share": share(baseline)},
            "rule": format!("hour share >= trailing share + {MIN_RISE} and >= {MIN_RATIO} x trailing share; at least {MIN_HOUR} decisions in the hour and {MIN_BASELINE} in the 7 days"),
        });
        let key = format!("{REJECT_SPIKE}:{site}:{}", now.div_euclid(HOUR));
        queued += emit(storage, Some(site), REJECT_SPIKE, &key, data, now).await?;
    }
    Ok(queued)
}

/// Check every `every_ms` forever.
pub async fn run(state: AppState, storage: Arc<dyn Storage>, every_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(every_ms.max(100)));
    loop {
        tick.tick().await;
        let mut sites: Vec<String> = state.sites().by_id.keys().cloned().collect();
        sites.sort();
        if let Err(e) = check(&*storage, &sites, now_ms()).await {
            tracing::warn!(error = %e, "reject spike check failed; will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(is_spike((20, 40), (100, 1000)), "50% against 10%");
        assert!(!is_spike((20, 29), (100, 1000)), "too few in the hour");
        assert!(!is_spike((20, 40), (10, 99)), "too few in the 7 days");
        assert!(is_spike((12, 40), (100, 1000)), "30% against 10%: +20 points, 3x");
        assert!(!is_spike((8, 40), (100, 1000)), "20% against 10%: only +10 points");
        assert!(!is_spike((32, 40), (600, 1000)), "80% against 60%: +20 points but 1.33x");
    }
}
