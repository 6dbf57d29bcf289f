//! Throughput of 1, 2, 3 … `distillguard serve` instances consuming one Kafka topic.
//!
//! ```sh
//! cargo build --release
//! target/release/distillguard simulate --accounts 100000 --records 800000 --plain --out /tmp/sim
//! target/release/distillguard scan /tmp/sim/logs.ndjson --format json --quiet > /tmp/sim/scan.json
//! cargo run --release --example kafka_scale -- /tmp/sim/logs.ndjson 1,2,3 /tmp/sim/scan.json
//! ```
//! For each instance count: a fresh librdkafka mock cluster in this process (a Kafka-protocol
//! broker on loopback), the log produced to a 12-partition topic keyed by account, then that many
//! `target/release/distillguard serve` processes started together; the time is from their start
//! until one of them serves a report that counts every record. It includes joining the group
//! and the final detection run (every second); "after the first" is the time from the first
//! report that counts any record, which leaves the joining out. The mock cluster keeps about
//! 5 MB per partition (it deletes older data beyond that), so the log must fit: 200,000
//! simulated records over 12 partitions do, with lz4. Peak RSS of each instance is read from /proc. With a scan's
//! report as the third argument, each run's clusters must equal the scan's.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use distillguard::serve::config::KafkaSettings;
use distillguard::serve::kafka::forward::produce_keyed;
use distillguard::serve::kafka::{Settings, changelog};
use rdkafka::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::BaseProducer;
use serde_json::Value;

const PARTITIONS: i32 = 12;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let log = PathBuf::from(args.first().expect("a plain NDJSON log"));
    let counts: Vec<usize> = args
        .get(1)
        .map_or("1,2,3", String::as_str)
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("distillguard");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release"
    );
    let lines: Vec<(String, Vec<u8>)> = BufReader::new(std::fs::File::open(&log).unwrap())
        .split(b'\n')
        .map(Result::unwrap)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_slice(&l).unwrap();
            (v["account_id"].as_str().unwrap().to_string(), l)
        })
        .collect();
    let records = lines.len() as u64;
    let scan: Option<Value> = args
        .get(2)
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap());
    println!("{records} records");
    println!(
        "| instances | seconds | records/s | seconds after the first | records/s after the first | peak RSS per instance (MiB) |"
    );
    println!("|---|---|---|---|---|---|");
    for n in counts {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        for (topic, partitions) in [
            ("logs", PARTITIONS),
            ("dg-changelog", PARTITIONS),
            ("dg-control", 1),
            ("dg-reports", 1),
        ] {
            cluster.create_topic(topic, partitions, 1).unwrap();
        }
        let produced = Instant::now();
        produce(&brokers, &lines);
        eprintln!("produced in {:.1} s", produced.elapsed().as_secs_f64());
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let mut instances: Vec<(Child, String)> = (0..n)
            .map(|i| spawn(&bin, dir.path(), &brokers, i))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(1800);
        let mut first_counted = None;
        let report = loop {
            let report = report_of(&instances[0].1);
            let counted = report.as_ref().map_or(0, |r| {
                let s = &r["stats"];
                s["records_accepted"].as_u64().unwrap_or(0) + s["duplicates"].as_u64().unwrap_or(0)
            });
            if counted > 0 && first_counted.is_none() {
                first_counted = Some((Instant::now(), counted));
            }
            if counted >= records {
                break report.unwrap();
            }
            assert!(Instant::now() < deadline, "not done in time");
            std::thread::sleep(Duration::from_millis(250));
        };
        let secs = started.elapsed().as_secs_f64();
        let (t0, at_first) = first_counted.expect("counted");
        let after = t0.elapsed().as_secs_f64();
        if let Some(scan) = &scan {
            assert_eq!(
                report["clusters"], scan["clusters"],
                "clusters differ from the scan's"
            );
        }
        let rss: Vec<String> = instances
            .iter()
            .map(|(c, _)| format!("{:.0}", peak_rss_mib(c.id())))
            .collect();
        println!(
            "| {n} | {secs:.1} | {:.0} | {after:.1} | {:.0} | {} |",
            records as f64 / secs,
            (records - at_first) as f64 / after.max(0.001),
            rss.join(", ")
        );
        for (c, _) in &mut instances {
            let _ = c.kill();
            let _ = c.wait();
        }
        changelog_size(&brokers);
    }
}

/// What the detecting instance reads: the changelog's last value per account.
fn changelog_size(brokers: &str) {
    let settings = Settings::new(KafkaSettings {
        brokers: brokers.to_string(),
        group: "dg".into(),
        ..KafkaSettings::default()
    });
    let reader: BaseConsumer = settings.reader().create().unwrap();
    let partitions: Vec<i32> = (0..PARTITIONS).collect();
    let topic = settings.kafka.changelog_topic();
    let entries = changelog::read(&reader, &topic, &partitions, Duration::from_secs(300)).unwrap();
    let bytes: usize = entries.values().map(|e| e.encode().len()).sum();
    let hashes: usize = entries.values().map(|e| e.requests.len()).sum();
    eprintln!(
        "changelog: {} accounts, {:.1} MB of entries ({:.0} bytes per account), {hashes} request-id hashes",
        entries.len(),
        bytes as f64 / 1e6,
        bytes as f64 / entries.len().max(1) as f64
    );
}

fn produce(brokers: &str, lines: &[(String, Vec<u8>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let records = lines.iter().map(|(a, l)| (a.as_str(), l.as_slice()));
    produce_keyed(
        &producer,
        "logs",
        PARTITIONS as u32,
        records,
        Duration::from_secs(300),
    )
    .unwrap();
}

fn spawn(bin: &Path, dir: &Path, brokers: &str, i: usize) -> (Child, String) {
    let data = dir.join(format!("i{i}"));
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.join(format!("i{i}.toml"));
    std::fs::write(
        &config,
        format!(
            "detect_interval = \"1s\"\n[kafka]\nbrokers = \"{brokers}\"\ntopic = \"logs\"\n\
             group = \"dg\"\nflush_interval = \"1s\"\nsession_timeout = \"6s\"\n"
        ),
    )
    .unwrap();
    // A port that was free a moment ago; the instance is ready once it answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(bin)
        .args(["serve", "--listen", &listen, "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or("warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (child, format!("http://{listen}"))
}

fn report_of(url: &str) -> Option<Value> {
    let host = url.strip_prefix("http://")?;
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET /v1/report HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    serde_json::from_slice(&answer[at + 4..]).ok()
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
