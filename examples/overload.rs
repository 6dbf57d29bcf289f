//! Overload, measured: what the real service sustains with closed-loop clients, then twice that
//! as an open-loop stream, then half of it again. Prints the answers (refusals must carry
//! `Retry-After`), peak resident memory, and whether the service recovered. Run it with
//! `scripts/overload.sh`, which builds the binary it drives.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::Server;
use common::load::{self, Tally};

const BATCH: usize = 1000;

fn show(phase: &str, t: &Tally, pid: u32) {
    let (peak, now) = load::rss_kib(pid).unwrap_or_default();
    println!(
        "{phase:<22} {:>9.0} rec/s acked | 200: {:>5} | 429/503 with Retry-After: {:>5} | without: {} | other: {:?} | no answer: {} | not sent: {} | RSS {} MiB (peak {} MiB)",
        t.records_per_s(),
        t.ok,
        t.refused_with_retry_after,
        t.refused_without_retry_after,
        t.other,
        t.failed,
        t.not_sent,
        now / 1024,
        peak / 1024
    );
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .map_or(10, |a| a.parse().expect("SECONDS"));
    let time = Duration::from_secs(secs);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let url = s.url("/v1/logs");
    let pid = s.child.id();

    let capacity = load::closed_loop(&url, 8, BATCH, time).await;
    show("capacity (8 clients)", &capacity, pid);
    let per_s = capacity.records_per_s() / BATCH as f64;

    let over = load::open_loop(&url, 2.0 * per_s, BATCH, time, 4096).await;
    show("2x capacity, open loop", &over, pid);

    let after = load::open_loop(&url, 0.5 * per_s, BATCH, time, 4096).await;
    show("0.5x capacity", &after, pid);

    let alive = s.child.try_wait().unwrap().is_none();
    let recovered = after.ok > 0
        && after.refused_with_retry_after + after.refused_without_retry_after == 0
        && after.failed == 0;
    println!(
        "service alive: {alive}; recovered (every post at 0.5x acknowledged): {recovered}; \
         refusals without Retry-After: {}",
        over.refused_without_retry_after + after.refused_without_retry_after
    );
    if !alive || !recovered || over.refused_without_retry_after > 0 || !over.other.is_empty() {
        std::process::exit(1);
    }
}
