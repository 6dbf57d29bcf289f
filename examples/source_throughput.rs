//! Rough throughput of the input reader on synthetic logs: NDJSON and a pretty-printed JSON
//! array, plain and gzip. `cargo run --release --example source_throughput`
use distillguard::source::{ReadOptions, read_reader};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

fn record(i: usize) -> String {
    format!(
        r#"{{"ts":"2025-01-01T00:00:{:02}Z","account_id":"acct-{}","request_id":"r-{i}","ip":"10.0.{}.{}","model":"m-large","prompt":"Explain, step by step and with \"quotes\", topic number {i} in detail. {}","prompt_tokens":{},"completion_tokens":{}}}"#,
        i % 60,
        i % 977,
        i % 256,
        i % 7,
        "Lorem ipsum dolor sit amet. ".repeat(i % 9),
        i % 500,
        i % 900
    )
}

fn measure(label: &str, data: &[u8]) {
    let start = Instant::now();
    let mut items = 0u64;
    let summary = read_reader(
        data,
        0,
        &Arc::from(label),
        &ReadOptions::default(),
        &AtomicU64::new(0),
        &mut |b| {
            items += b.len() as u64;
            true
        },
    )
    .expect("synthetic data reads");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:>14}: {:>7.0} MB/s decompressed, {:>5.2} M items/s ({} items)",
        summary.bytes_decompressed as f64 / secs / 1e6,
        items as f64 / secs / 1e6,
        items
    );
}

fn main() {
    let records: Vec<String> = (0..400_000).map(record).collect();
    let ndjson = records.join("\n").into_bytes();
    let array = format!("[\n  {}\n]\n", records.join(",\n  ")).into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&ndjson).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&ndjson[..], 3).unwrap();
    for _ in 0..2 {
        measure("ndjson", &ndjson);
        measure("json array", &array);
        measure("ndjson.gz", &gz);
        measure("ndjson.zst", &zst);
    }
}
