//! Prometheus metrics, rendered by hand in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crumb_ledger::WriterMetrics;
use crumb_ledger::writer::{BATCH_BUCKETS, LATENCY_BUCKETS_MS};

/// Request counters by route and status.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    /// Count one request.
    pub fn request(&self, route: &str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), status)).or_default() += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self, w: &WriterMetrics, sites: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP crumb_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE crumb_http_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(out, "crumb_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP crumb_ledger_commit_seconds Time to commit one batch of consent records.");
        let _ = writeln!(out, "# TYPE crumb_ledger_commit_seconds histogram");
        let mut cum = 0;
        for (i, b) in LATENCY_BUCKETS_MS.iter().enumerate() {
            cum += load(&w.latency[i]);
            let _ = writeln!(out, "crumb_ledger_commit_seconds_bucket{{le=\"{}\"}} {cum}", b / 1000.0);
        }
        cum += load(&w.latency[LATENCY_BUCKETS_MS.len()]);
        let _ = writeln!(out, "crumb_ledger_commit_seconds_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(out, "crumb_ledger_commit_seconds_sum {}", load(&w.latency_sum_us) as f64 / 1e6);
        let _ = writeln!(out, "crumb_ledger_commit_seconds_count {cum}");
        let _ = writeln!(out, "# HELP crumb_ledger_batch_size Records per committed batch.");
        let _ = writeln!(out, "# TYPE crumb_ledger_batch_size histogram");
        let mut cum = 0;
        for (i, b) in BATCH_BUCKETS.iter().enumerate() {
            cum += load(&w.batch_sizes[i]);
            let _ = writeln!(out, "crumb_ledger_batch_size_bucket{{le=\"{b}\"}} {cum}");
        }
        cum += load(&w.batch_sizes[BATCH_BUCKETS.len()]);
        let _ = writeln!(out, "crumb_ledger_batch_size_bucket{{le=\"+Inf\"}} {cum}");
        let _ = writeln!(out, "crumb_ledger_batch_size_sum {}", load(&w.batch_size_sum));
        let _ = writeln!(out, "crumb_ledger_batch_size_count {cum}");
        let _ = writeln!(out, "# HELP crumb_ledger_records_total Consent records committed.");
        let _ = writeln!(out, "# TYPE crumb_ledger_records_total counter");
        let _ = writeln!(out, "crumb_ledger_records_total {}", load(&w.records));
        let _ = writeln!(out, "# HELP crumb_ledger_queue_depth Consent records waiting for the writer.");
        let _ = writeln!(out, "# TYPE crumb_ledger_queue_depth gauge");
        let _ = writeln!(out, "crumb_ledger_queue_depth {}", w.queue_depth.load(Ordering::Relaxed).max(0));
        let _ = writeln!(out, "# HELP crumb_ledger_storage_errors_total Failed storage operations.");
        let _ = writeln!(out, "# TYPE crumb_ledger_storage_errors_total counter");
        let _ = writeln!(out, "crumb_ledger_storage_errors_total {}", load(&w.storage_errors));
        let _ = writeln!(out, "# HELP crumb_sites Sites loaded.");
        let _ = writeln!(out, "# TYPE crumb_sites gauge");
        let _ = writeln!(out, "crumb_sites {sites}");
        out
    }
}
