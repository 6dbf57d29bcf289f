//! Crash cycles: start the real service, post from several clients at once, SIGKILL it at a
//! random (seeded) moment, read back what the stopped service's log holds with `distillguard
//! export`, check that every acknowledged `request_id` is there exactly once, and start again on
//! the same data directory. Shared by a test (a few cycles) and `examples/crash_cycles.rs`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use super::{Server, binary};

pub struct Options {
    pub cycles: usize,
    pub posters: usize,
    pub records_per_batch: usize,
    pub seed: u64,
    /// The kill comes this long after the posters start, drawn uniformly.
    pub kill_after_ms: std::ops::Range<u64>,
}

/// One cycle's figures.
#[derive(Debug, Default)]
pub struct Cycle {
    pub kill_after_ms: u64,
    /// Batches answered 200 in this cycle.
    pub acked_batches: usize,
    /// Batches posted but unanswered when the kill came, whose records were found stored: a
    /// commit that finished before the answer could be sent. Allowed; the client retries and
    /// gets duplicates.
    pub durable_unanswered: usize,
    /// Acknowledged records missing from the log, over every cycle so far (must be 0).
    pub lost: usize,
    /// request_ids stored more than once (must be 0).
    pub doubled: usize,
    /// Records in the log after the cycle.
    pub stored: usize,
    /// From spawning the service to `/readyz` answering 200 after the kill.
    pub restart_ms: u64,
}

/// The request_ids of one posted batch, and whether the service acknowledged it.
struct Posted {
    ids: Vec<String>,
    acked: bool,
}

/// Runs the cycles in `data_dir`, calling `each` after every cycle.
pub async fn run(
    data_dir: &Path,
    opts: &Options,
    mut each: impl FnMut(usize, &Cycle),
) -> Vec<Cycle> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let client = reqwest::Client::new();
    // Every batch ever acknowledged, across cycles: an earlier cycle's records must survive too.
    let mut acked_ids: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for cycle in 0..opts.cycles {
        let started = Instant::now();
        let mut server = Server::start(data_dir, &[]);
        let restart_ms = started.elapsed().as_millis() as u64;
        let posted: Arc<Mutex<Vec<Posted>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let posters: Vec<_> = (0..opts.posters)
            .map(|k| {
                let (c, url) = (client.clone(), server.url("/v1/logs"));
                let (posted, stop) = (posted.clone(), stop.clone());
                let n = opts.records_per_batch;
                tokio::spawn(async move {
                    let mut b = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let ids: Vec<String> =
                            (0..n).map(|i| format!("c{cycle}-p{k}-b{b}-{i}")).collect();
                        let body = batch_body(&ids, cycle as i64);
                        let acked = loop {
                            let r = super::post_ndjson(&c, &url, body.clone()).await;
                            match r.map(|r| r.status().as_u16()) {
                                Ok(200) => break Some(true),
                                // Busy: nothing was taken; the same batch again.
                                Ok(503) => tokio::time::sleep(Duration::from_millis(2)).await,
                                Ok(st) => panic!("status {st}"),
                                Err(_) => break None,
                            }
                        };
                        posted.lock().unwrap().push(Posted {
                            ids,
                            acked: acked == Some(true),
                        });
                        if acked.is_none() {
                            break; // the service is gone
                        }
                        b += 1;
                    }
                })
            })
            .collect();
        let kill_after_ms = rng.random_range(opts.kill_after_ms.clone());
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for p in posters {
            p.await.unwrap();
        }
        drop(server);

        let counts = stored_ids(data_dir);
        let posted = std::mem::take(&mut *posted.lock().unwrap());
        let acked: Vec<&Posted> = posted.iter().filter(|p| p.acked).collect();
        acked_ids.extend(acked.iter().flat_map(|p| p.ids.iter().cloned()));
        let report = Cycle {
            kill_after_ms,
            acked_batches: acked.len(),
            durable_unanswered: posted
                .iter()
                .filter(|p| !p.acked && p.ids.iter().all(|id| counts.contains_key(id)))
                .count(),
            lost: acked_ids
                .iter()
                .filter(|id| !counts.contains_key(*id))
                .count(),
            doubled: counts.values().filter(|&&n| n > 1).count(),
            stored: counts.values().sum(),
            restart_ms,
        };
        each(cycle, &report);
        out.push(report);
    }
    out
}

fn batch_body(ids: &[String], ts_offset: i64) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let rec = serde_json::json!({
            "ts": 1_772_409_600 + ts_offset * 60 + i as i64 % 60,
            "account_id": format!("acct-{}", i % 13),
            "request_id": id,
            "prompt": "summarise the following passage in three sentences",
        });
        serde_json::to_writer(&mut body, &rec).unwrap();
        body.push(b'\n');
    }
    body
}

/// How many times each request_id is in the log, as `distillguard export` reads it.
pub fn stored_ids(data_dir: &Path) -> HashMap<String, usize> {
    let out = Command::new(binary())
        .arg("export")
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run distillguard export");
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = HashMap::new();
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("a JSON record");
        let id = v["request_id"].as_str().expect("a request_id").to_string();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}
