//! Time to detection through the service: a simulator log replayed in time order through
//! `POST /v1/logs`, with `POST /v1/detect` after every simulated hour. For each campaign: hours
//! from its first request until one of its accounts is in a flagged cluster.
//!
//! ```sh
//! cargo run --release --example time_to_detection -- [SEED]     # default seed 11
//! ```

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashSet};

use distillguard::record::Record;
use distillguard::sim::{SimConfig, generate};

const HOUR: i64 = 3_600_000;

#[tokio::main]
async fn main() {
    let seed: u64 = std::env::args().nth(1).map_or(11, |a| a.parse().unwrap());
    let sim_dir = tempfile::tempdir().unwrap();
    let mut sim = SimConfig::standard(seed);
    sim.corpora_dir = None;
    let summary = generate(&sim, sim_dir.path()).unwrap();
    let lines = common::read_lines(&summary.logs_path);
    // The log is in time order; group it by hour.
    let mut hours: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for line in &lines {
        let ts = Record::parse(line).unwrap().ts_ms;
        let body = hours.entry(ts.div_euclid(HOUR)).or_default();
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    println!(
        "seed {seed}: {} records, {} accounts, {} campaigns, {} hours",
        summary.records,
        summary.accounts,
        summary.campaigns.len(),
        hours.len()
    );

    let data = tempfile::tempdir().unwrap();
    let server = common::LocalServer::start(common::config(data.path())).await;
    let client = reqwest::Client::new();
    let first_ms = |c: &distillguard::sim::CampaignInfo| {
        distillguard::record::parse_rfc3339_ms(&c.first_ts).unwrap()
    };
    let mut found: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    let mut detect_ms = Vec::new();
    let mut at_end: BTreeMap<String, usize> = BTreeMap::new();
    let in_campaign: HashSet<&str> = summary
        .campaigns
        .iter()
        .flat_map(|c| c.accounts.iter().map(String::as_str))
        .collect();
    let mut others_flagged = 0;
    for (&hour, body) in &hours {
        // Bodies of at most ~8 MiB, cut at line ends.
        let mut rest = &body[..];
        while !rest.is_empty() {
            let cut = if rest.len() <= 8 << 20 {
                rest.len()
            } else {
                rest[..8 << 20].iter().rposition(|b| *b == b'\n').unwrap() + 1
            };
            common::post(&client, &server.url, rest[..cut].to_vec()).await;
            rest = &rest[cut..];
        }
        let run = common::detect(&client, &server.url).await;
        detect_ms.push(run["duration_ms"].as_u64().unwrap());
        let page = common::get(&client, &server.url, "/v1/clusters?limit=1000").await;
        let flagged: HashSet<&str> = page["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["accounts"].as_array().unwrap().iter())
            .filter_map(|a| a.as_str())
            .collect();
        others_flagged = flagged.iter().filter(|a| !in_campaign.contains(*a)).count();
        let now = (hour + 1) * HOUR;
        for c in &summary.campaigns {
            let hit = c
                .accounts
                .iter()
                .filter(|a| flagged.contains(a.as_str()))
                .count();
            at_end.insert(c.name.clone(), hit);
            if hit > 0 && !found.contains_key(&c.name) {
                found.insert(c.name.clone(), (now - first_ms(c), hit));
            }
        }
    }
    println!(
        "\n{:<18} {:<11} {:>8} {:>8}  {:>17}  flagged then, at the end",
        "campaign", "style", "accounts", "records", "time to detection"
    );
    for c in &summary.campaigns {
        let when = match found.get(&c.name) {
            Some((ms, hit)) => format!(
                "{:>15.1} h  {hit}, {}",
                *ms as f64 / HOUR as f64,
                at_end[&c.name]
            ),
            None => format!("{:>17}", "not flagged"),
        };
        println!(
            "{:<18} {:<11} {:>8} {:>8}  {when}",
            c.name, c.style, c.account_count, c.records
        );
    }
    println!("accounts outside the campaigns flagged at the end: {others_flagged}");
    detect_ms.sort_unstable();
    println!(
        "\n{} detection runs: median {} ms, max {} ms",
        detect_ms.len(),
        detect_ms[detect_ms.len() / 2],
        detect_ms.last().unwrap()
    );
    server.stop().await;
}
