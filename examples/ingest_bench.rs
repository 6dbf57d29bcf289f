//! Ingest throughput with durable acknowledgement: the real service in this process, clients
//! posting simulator records over HTTP, each post answered only after its commit (fsync).
//!
//! ```sh
//! cargo run --release --example ingest_bench -- [RECORDS] [BATCH] [CLIENTS,...] [privacy]
//! cargo run --release --example ingest_bench -- 200000 1000 1,4,8
//! cargo run --release --example ingest_bench -- 200000 1000 1,4,8 privacy   # privacy mode
//! ```
//! Also times the replay of the log when the service starts again on the same data.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use distillguard::sim::{SimConfig, generate};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.first().map_or(200_000, |a| a.parse().unwrap());
    let batch: usize = args.get(1).map_or(1000, |a| a.parse().unwrap());
    let clients: Vec<usize> = args.get(2).map_or(vec![1, 4, 8], |a| {
        a.split(',').map(|c| c.parse().unwrap()).collect()
    });
    let privacy = args.get(3).is_some_and(|a| a == "privacy");
    let config = |dir: &std::path::Path| distillguard::serve::config::Config {
        privacy_mode: privacy,
        ..common::config(dir)
    };

    let sim_dir = tempfile::tempdir().unwrap();
    let mut sim = SimConfig::standard(3);
    sim.corpora_dir = None;
    let summary = generate(&sim, sim_dir.path()).unwrap();
    let lines = common::read_lines(&summary.logs_path);
    // Repeat the log with fresh request ids until there are enough records.
    let records: Vec<Vec<u8>> = (0..total)
        .map(|i| {
            let line = &lines[i % lines.len()];
            let round = i / lines.len();
            if round == 0 {
                return line.clone();
            }
            let text = String::from_utf8_lossy(line);
            text.replacen(
                "\"request_id\":\"",
                &format!("\"request_id\":\"r{round}-"),
                1,
            )
            .into_bytes()
        })
        .collect();
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new(records.chunks(batch).map(|c| c.join(&b'\n')).collect());
    println!(
        "{} records ({:.0} bytes each on average), batches of {batch}, {} posts{}",
        total,
        bytes as f64 / total as f64,
        bodies.len(),
        if privacy { ", privacy mode" } else { "" }
    );

    for &n in &clients {
        let data = tempfile::tempdir().unwrap();
        let server = common::LocalServer::start(config(data.path())).await;
        let client = reqwest::Client::new();
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, url, bodies, next) = (
                    client.clone(),
                    server.url.clone(),
                    bodies.clone(),
                    next.clone(),
                );
                tokio::spawn(async move {
                    let mut accepted = 0;
                    let mut latencies = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let sent = Instant::now();
                        let v = common::post(&client, &url, body.clone()).await;
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        accepted +=
                            v["accepted"].as_u64().unwrap() + v["duplicates"].as_u64().unwrap();
                    }
                    (accepted, latencies)
                })
            })
            .collect();
        let mut done = 0;
        let mut latencies = Vec::new();
        for t in tasks {
            let (n, l) = t.await.unwrap();
            done += n;
            latencies.extend(l);
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(done as usize, total);
        let stats = common::get(&client, &server.url, "/v1/stats").await;
        let commits = stats["log"]["commits_since_start"].as_f64().unwrap();
        let log_mb = stats["log"]["bytes"].as_f64().unwrap() / 1e6;
        println!(
            "clients {n:>2}: {:>8.0} records/s ({:.1} MB/s, {:.0} posts/s, {:.1} posts per commit, \
             post p50 {:.1} ms, p99 {:.1} ms, {:.2} s, log {log_mb:.1} MB)",
            total as f64 / secs,
            bytes as f64 / secs / 1e6,
            bodies.len() as f64 / secs,
            bodies.len() as f64 / commits.max(1.0),
            pct(0.5),
            pct(0.99),
            secs
        );
        server.stop().await;
        if n == *clients.last().unwrap() {
            let started = Instant::now();
            let server = common::LocalServer::start(config(data.path())).await;
            let secs = started.elapsed().as_secs_f64();
            let stats = common::get(&client, &server.url, "/v1/stats").await;
            let restored = &stats["snapshot"]["restored_at_start"];
            let how = if restored["from_snapshot"] == true {
                "loaded from the snapshot taken at the clean stop"
            } else {
                "replayed from the log"
            };
            println!(
                "restart: {} records {how} in {secs:.2} s ({:.0} records/s; {} replayed)",
                stats["records_accepted"],
                stats["records_accepted"].as_f64().unwrap() / secs,
                restored["records_replayed"]
            );
            server.stop().await;
        }
    }
}
