//! Load on the real service: closed-loop clients to find what it sustains, an open-loop
//! stream at a fixed rate to overload it, and the answers tallied; peak memory read from /proc.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the posts were answered.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ok: u64,
    pub records_ok: u64,
    /// 429 or 503 with a `Retry-After` header.
    pub refused_with_retry_after: u64,
    /// 429 or 503 without one (must be 0).
    pub refused_without_retry_after: u64,
    /// Any other status, by status.
    pub other: BTreeMap<u16, u64>,
    /// No answer at all (connection refused or reset).
    pub failed: u64,
    /// Open loop only: posts not sent because `max_outstanding` were already waiting.
    pub not_sent: u64,
    pub seconds: f64,
}

impl Tally {
    pub fn records_per_s(&self) -> f64 {
        self.records_ok as f64 / self.seconds
    }

    fn add(&mut self, status: Option<(u16, bool)>, records: u64) {
        match status {
            Some((200, _)) => {
                self.ok += 1;
                self.records_ok += records;
            }
            Some((429 | 503, true)) => self.refused_with_retry_after += 1,
            Some((429 | 503, false)) => self.refused_without_retry_after += 1,
            Some((st, _)) => *self.other.entry(st).or_default() += 1,
            None => self.failed += 1,
        }
    }
}

/// A body of `n` records whose request_ids start with `prefix`.
pub fn body(prefix: &str, n: usize) -> Vec<u8> {
    let mut out = String::with_capacity(n * 160);
    for i in 0..n {
        out.push_str(&format!(
            "{{\"ts\":{},\"account_id\":\"acct-{}\",\"request_id\":\"{prefix}-{i}\",\"model\":\"m\",\"prompt\":\"explain the following step by step {i}\"}}\n",
            1_772_409_600 + (i % 3600),
            i % 997
        ));
    }
    out.into_bytes()
}

async fn post(c: &reqwest::Client, url: &str, body: Vec<u8>) -> Option<(u16, bool)> {
    let r = super::post_ndjson(c, url, body).await.ok()?;
    let retry = r.headers().contains_key("retry-after");
    let status = r.status().as_u16();
    r.bytes().await.ok()?;
    Some((status, retry))
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn next_body(batch: usize) -> Vec<u8> {
    body(&format!("l{}", NEXT.fetch_add(1, Ordering::Relaxed)), batch)
}

/// `clients` posting one batch after another for `time`; after a refusal a client pauses
/// 20 ms (briefer than `Retry-After`, to keep the service saturated).
pub async fn closed_loop(url: &str, clients: usize, batch: usize, time: Duration) -> Tally {
    let c = reqwest::Client::new();
    let started = Instant::now();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (c, url, tally) = (c.clone(), url.to_string(), tally.clone());
            tokio::spawn(async move {
                while started.elapsed() < time {
                    let answer = post(&c, &url, next_body(batch)).await;
                    tally.lock().unwrap().add(answer, batch as u64);
                    if answer.is_none_or(|(st, _)| st != 200) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut t = tally.lock().unwrap().clone();
    t.seconds = started.elapsed().as_secs_f64();
    t
}

/// Posts of `batch` records at `per_s` posts a second for `time`, whatever the answers (an
/// overload does not slow the senders down), with at most `max_outstanding` waiting.
pub async fn open_loop(
    url: &str,
    per_s: f64,
    batch: usize,
    time: Duration,
    max_outstanding: usize,
) -> Tally {
    let c = reqwest::Client::new();
    let started = Instant::now();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(tokio::sync::Semaphore::new(max_outstanding));
    let mut tasks = Vec::new();
    let mut sent = 0u64;
    while started.elapsed() < time {
        let due = Duration::from_secs_f64(sent as f64 / per_s);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        sent += 1;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tally.lock().unwrap().not_sent += 1;
            continue;
        };
        let (c, url, tally) = (c.clone(), url.to_string(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let answer = post(&c, &url, next_body(batch)).await;
            tally.lock().unwrap().add(answer, batch as u64);
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut t = tally.lock().unwrap().clone();
    t.seconds = started.elapsed().as_secs_f64();
    t
}

/// (peak, current) resident memory of a process in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
