//! Crash safety, measured: many cycles of concurrent ingest, SIGKILL at a random moment, and a
//! check that every acknowledged `request_id` is in the log exactly once. Run it with
//! `scripts/crash_cycles.sh [CYCLES] [SEED]`, which builds the binary it drives.

#[path = "../tests/common/mod.rs"]
mod common;

use common::crash::{self, Options};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let cycles = args.next().map_or(100, |a| a.parse().expect("CYCLES"));
    let seed = args.next().map_or(1, |a| a.parse().expect("SEED"));
    let opts = Options {
        cycles,
        posters: 6,
        records_per_batch: 100,
        seed,
        kill_after_ms: 20..400,
    };
    let dir = tempfile::tempdir().unwrap();
    println!(
        "cycle  kill_ms  acked_batches  durable_unanswered  stored_records  lost  doubled  restart_ms"
    );
    let reports = crash::run(dir.path(), &opts, |i, c| {
        println!(
            "{i:>5}  {:>7}  {:>13}  {:>18}  {:>14}  {:>4}  {:>7}  {:>10}",
            c.kill_after_ms,
            c.acked_batches,
            c.durable_unanswered,
            c.stored,
            c.lost,
            c.doubled,
            c.restart_ms
        );
    })
    .await;
    let acked: usize = reports.iter().map(|c| c.acked_batches).sum();
    let unanswered: usize = reports.iter().map(|c| c.durable_unanswered).sum();
    let lost = reports.iter().map(|c| c.lost).max().unwrap_or(0);
    let doubled = reports.iter().map(|c| c.doubled).max().unwrap_or(0);
    let mut restart: Vec<u64> = reports.iter().map(|c| c.restart_ms).collect();
    restart.sort_unstable();
    let stored = reports.last().map_or(0, |c| c.stored);
    println!(
        "total: {cycles} cycles, {acked} batches acknowledged ({} records), {unanswered} durable but unanswered, \
         {stored} records stored, {lost} acknowledged records lost, {doubled} request_ids stored twice, \
         restart to ready p50 {} ms / max {} ms",
        acked * opts.records_per_batch,
        restart[restart.len() / 2],
        restart[restart.len() - 1]
    );
    if lost > 0 || doubled > 0 {
        std::process::exit(1);
    }
}
