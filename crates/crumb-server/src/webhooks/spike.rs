//! The reject-rate spike rule, checked by every `crumb serve` every few minutes.
//!
//! For each site: the share of `reject_all` among the decisions of the last complete clock
//! hour against the share in the 7 days before that hour, both summed from the hourly
//! aggregates ([`figures`]: whole-hour bounds, no record is counted). It is a spike when the hour has at least
//! [`MIN_HOUR`] decisions, the 7 days at least [`MIN_BASELINE`], and the hour's share is
//! both at least [`MIN_RISE`] (15 points) above and at least [`MIN_RATIO`] (1.5) times the
//! trailing share. At most one event per site and clock hour (its key names the hour), so
//! several servers checking the same figures queue it once.

use std::sync::Arc;
use std::time::Duration;

use crumb_ledger::{Storage, StorageError, now_ms};

use super::{REJECT_SPIKE, emit};
use crate::figures::{Figures, figures};

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
fn rejects(f: &Figures) -> (i64, i64) {
    (f.action("reject_all"), f.records)
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

/// Check every site once at `now`; returns how many events were queued. The hour is the
/// last clock hour that ended at or before `now` (the aggregates' finest bucket).
pub async fn check(storage: &dyn Storage, sites: &[String], now: i64) -> Result<u64, StorageError> {
    let mut queued = 0;
    let start = now.div_euclid(HOUR) * HOUR - HOUR;
    for site in sites {
        let hour = rejects(&figures(storage, Some(site), start, start + HOUR).await?);
        let baseline = rejects(&figures(storage, Some(site), start - 7 * 24 * HOUR, start).await?);
        if !is_spike(hour, baseline) {
            continue;
        }
        let share = |(r, n): (i64, i64)| (r as f64 * 1000.0 / n as f64).round() / 1000.0;
        let data = serde_json::json!({
            "window": {"from": crumb_ledger::export::rfc3339(start), "to": crumb_ledger::export::rfc3339(start + HOUR)},
            "hour": {"decisions": hour.1, "rejects": hour.0, "reject_share": share(hour)},
            "trailing_7d": {"decisions": baseline.1, "rejects": baseline.0, "reject_share": share(baseline)},
            "rule": format!("hour share >= trailing share + {MIN_RISE} and >= {MIN_RATIO} x trailing share; at least {MIN_HOUR} decisions in the hour and {MIN_BASELINE} in the 7 days"),
        });
        let key = format!("{REJECT_SPIKE}:{site}:{}", start.div_euclid(HOUR));
        queued += emit(storage, Some(site), REJECT_SPIKE, &key, data, now).await?;
    }
    Ok(queued)
}

/// Check the sites `sites` lists (the served ones, read each time) every `every_ms` forever.
pub async fn run(sites: impl Fn() -> Vec<String> + Send + 'static, storage: Arc<dyn Storage>, every_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(every_ms.max(100)));
    loop {
        tick.tick().await;
        let mut sites = sites();
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

    /// The rule over a real ledger: 10% rejects over the 7 days, 50% in the last hour,
    /// one event queued for the subscribed webhook, and only once however often it is checked.
    #[tokio::test]
    async fn a_spike_in_a_real_ledger_queues_one_event() {
        use crumb_ledger::HookStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let s = crumb_ledger_sqlite::SqliteStorage::open(&url).await.expect("open");
        let now = 1_800_000_000_000;
        let mut recs = Vec::new();
        let (mut seq, mut hash) = (0, crumb_ledger::GENESIS.to_string());
        let mut add = |at: i64, reject: bool| {
            let mut e = crumb_ledger::conformance::sample_entry(seq, at);
            e.site = "leadsgen".into();
            e.action = if reject { "reject_all" } else { "accept_all" }.into();
            let r = crumb_ledger::Record::chain_after("c", seq, &hash, e);
            seq = r.seq;
            hash = r.hash.clone();
            recs.push(r);
        };
        for i in 0..200 {
            add(now - 2 * HOUR - i * 60_000, i % 10 == 0);
        }
        for i in 0..40 {
            add(now - HOUR + 1 + i * 60_000, i % 2 == 0);
        }
        s.append(&recs).await.expect("append");
        let hook = crumb_ledger::WebhookRow {
            id: "wh_1".into(),
            site: "leadsgen".into(),
            url: "http://127.0.0.1:9/".into(),
            events: vec![REJECT_SPIKE.into()],
            created_at: 0,
            created_by: "t".into(),
        };
        s.add_webhook(&hook, "whsec_x").await.expect("hook");
        let sites = vec!["leadsgen".to_string()];
        assert_eq!(check(&s, &sites, now).await.expect("check"), 1);
        assert_eq!(check(&s, &sites, now + 60_000).await.expect("check"), 0, "once per hour");
        let claimed = s.claim_deliveries("me", now, 1_000, 10).await.expect("claim");
        let body: serde_json::Value = serde_json::from_str(&claimed[0].body).expect("json");
        assert_eq!(body["data"]["hour"]["decisions"], 40);
        assert_eq!(body["data"]["hour"]["reject_share"], 0.5);
        assert_eq!(body["data"]["trailing_7d"]["reject_share"], 0.1);
        // No spike without enough decisions in the hour: an hour later, nothing new.
        assert_eq!(check(&s, &sites, now + 2 * HOUR).await.expect("check"), 0);
    }
}
