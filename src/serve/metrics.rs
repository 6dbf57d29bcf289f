//! Prometheus text exposition, hand-rolled: a few counters and histograms need no framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// What the partition owner of the Kafka mode did since the process started.
#[derive(Debug, Default)]
pub struct KafkaProgress {
    /// Records folded into the owned partitions' state.
    pub records: AtomicU64,
    /// Messages that are not a contract record.
    pub rejected: AtomicU64,
    /// Records read again after a move and skipped: their account's summary already had them.
    pub replayed: AtomicU64,
    /// Partitions rebuilt from the changelog, and the accounts read back doing so.
    pub rebuilds: AtomicU64,
    pub accounts_restored: AtomicU64,
}

impl KafkaProgress {
    pub fn to_json(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        serde_json::json!({
            "records": self.records.load(Relaxed),
            "rejected": self.rejected.load(Relaxed),
            "replayed": self.replayed.load(Relaxed),
            "partition_rebuilds": self.rebuilds.load(Relaxed),
            "accounts_restored": self.accounts_restored.load(Relaxed),
        })
    }
}

/// What the service counts while it runs (since the process started).
#[derive(Debug, Default)]
pub struct Metrics {
    pub kafka: Arc<KafkaProgress>,
    pub records_accepted: AtomicU64,
    pub records_rejected: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub batches_accepted: AtomicU64,
    pub batches_refused_busy: AtomicU64,
    /// Posts answered 503 because their batch could not be committed.
    pub batches_refused_storage: AtomicU64,
    /// Posts answered 429: their token was over `ingest_rate_limit`.
    pub batches_refused_rate: AtomicU64,
    pub detection_runs: AtomicU64,
    pub detection_seconds: Histogram,
    pub compactions: AtomicU64,
    /// By (method, route, status).
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// By (method, route).
    latency: Mutex<BTreeMap<(String, String), std::sync::Arc<Histogram>>>,
}

/// Values read at scrape time from the rest of the service.
pub struct Gauges {
    pub store_bytes: u64,
    pub log_commits: u64,
    pub log_batches: u64,
    pub accounts: u64,
    pub records_in_window: u64,
    pub ready: bool,
    /// Clusters of the latest detection run by score band (lower bound, count).
    pub clusters_by_band: Vec<(&'static str, u64)>,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .expect("request counters")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = self
            .latency
            .lock()
            .expect("latency histograms")
            .entry((method.to_string(), route.to_string()))
            .or_default()
            .clone();
        h.observe(took);
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut out,
            "distillguard_records_ingested_total",
            "Records accepted and made durable.",
            &self.records_accepted,
        );
        counter(
            &mut out,
            "distillguard_records_rejected_total",
            "Records rejected, with a reason, in otherwise accepted or refused posts.",
            &self.records_rejected,
        );
        counter(
            &mut out,
            "distillguard_records_duplicate_total",
            "Records whose request_id was already stored.",
            &self.records_duplicate,
        );
        counter(
            &mut out,
            "distillguard_batches_ingested_total",
            "Posts acknowledged after their commit.",
            &self.batches_accepted,
        );
        counter(
            &mut out,
            "distillguard_batches_busy_total",
            "Posts answered 503 because too many were in flight.",
            &self.batches_refused_busy,
        );
        counter(
            &mut out,
            "distillguard_batches_storage_failed_total",
            "Posts answered 503 because the log could not be written (disk full, read-only, I/O error).",
            &self.batches_refused_storage,
        );
        counter(
            &mut out,
            "distillguard_batches_rate_limited_total",
            "Posts answered 429 because their token was over ingest_rate_limit.",
            &self.batches_refused_rate,
        );
        counter(
            &mut out,
            "distillguard_detection_runs_total",
            "Detection runs completed.",
            &self.detection_runs,
        );
        counter(
            &mut out,
            "distillguard_compactions_total",
            "Compactions that moved the time window.",
            &self.compactions,
        );
        let name = "distillguard_detection_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Duration of detection runs.\n# TYPE {name} histogram"
        );
        self.detection_seconds.render(&mut out, name, "");

        gauge(
            &mut out,
            "distillguard_store_bytes",
            "Size of the log file on disk.",
            g.store_bytes,
        );
        let name = "distillguard_log_commits_total";
        let _ = writeln!(
            out,
            "# HELP {name} Durable commits of the log (one fsync each; several posts per commit under load).\n# TYPE {name} counter\n{name} {}",
            g.log_commits
        );
        gauge(
            &mut out,
            "distillguard_log_batches",
            "Batches in the log.",
            g.log_batches,
        );
        gauge(
            &mut out,
            "distillguard_accounts",
            "Accounts in the state.",
            g.accounts,
        );
        gauge(
            &mut out,
            "distillguard_records_in_window",
            "Distinct records in the state (inside the time window).",
            g.records_in_window,
        );
        gauge(
            &mut out,
            "distillguard_ready",
            "1 once the log is replayed and posts are taken.",
            u64::from(g.ready),
        );
        let name = "distillguard_clusters";
        let _ = writeln!(
            out,
            "# HELP {name} Clusters flagged by the latest detection run, by score band (lower bound).\n# TYPE {name} gauge"
        );
        for (band, n) in &g.clusters_by_band {
            let _ = writeln!(out, "{name}{{score_band=\"{band}\"}} {n}");
        }

        let name = "distillguard_http_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP requests answered.\n# TYPE {name} counter"
        );
        for ((m, r, s), n) in self.requests.lock().expect("request counters").iter() {
            let _ = writeln!(
                out,
                "{name}{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        let name = "distillguard_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer HTTP requests.\n# TYPE {name} histogram"
        );
        for ((m, r), h) in self.latency.lock().expect("latency histograms").iter() {
            h.render(&mut out, name, &format!("method=\"{m}\",route=\"{r}\""));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.request("POST", "/v1/logs", 200, Duration::from_millis(3));
        m.request("POST", "/v1/logs", 200, Duration::from_millis(30));
        m.detection_seconds.observe(Duration::from_millis(2));
        let text = m.render(&Gauges {
            store_bytes: 10,
            log_commits: 1,
            log_batches: 1,
            accounts: 2,
            records_in_window: 3,
            ready: true,
            clusters_by_band: vec![("0.9", 1)],
        });
        assert!(text.contains(
            "distillguard_http_requests_total{method=\"POST\",route=\"/v1/logs\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "distillguard_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/logs\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("distillguard_detection_duration_seconds_count 1"));
        assert!(text.contains("distillguard_clusters{score_band=\"0.9\"} 1"));
    }
}
