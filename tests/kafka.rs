//! Scale-out over Kafka: three `distillguard serve` processes share a partitioned logs topic on
//! librdkafka's mock cluster (a Kafka-protocol broker inside this test process, reached over
//! loopback TCP), or on the real broker that `DISTILLGUARD_TEST_KAFKA` names (`host:port`; the
//! tests then make their own topics, with unique names, through the admin API). Half the log is
//! produced to the topic, the other half posted to one instance's `/v1/logs`, which produces
//! it. One instance is killed mid-stream; the report the survivors serve must equal the
//! single-process scan of the same log, every record counted once.
#![cfg(feature = "kafka")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, fixture};
use distillguard::serve::kafka::forward::produce_keyed;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

const PARTITIONS: i32 = 6;
/// The service's own topics (`<group>-<suffix>`) and their partitions.
const SERVICE_TOPICS: [(&str, i32); 3] =
    [("changelog", PARTITIONS), ("control", 1), ("reports", 1)];

/// The broker a test runs against, and the names of its topics.
struct Cluster {
    /// Held for the test's length: the broker lives in it.
    _mock: Option<MockCluster<'static, DefaultProducerContext>>,
    brokers: String,
    topic: String,
    group: String,
}

impl Cluster {
    fn new(test: &str) -> Cluster {
        match std::env::var("DISTILLGUARD_TEST_KAFKA") {
            Ok(brokers) => {
                // A real broker keeps what earlier runs left: fresh names for every run.
                let run = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                Cluster {
                    _mock: None,
                    brokers,
                    topic: format!("{test}-{run}-logs"),
                    group: format!("{test}-{run}"),
                }
            }
            Err(_) => {
                let mock = MockCluster::new(1).unwrap();
                Cluster {
                    brokers: mock.bootstrap_servers(),
                    _mock: Some(mock),
                    topic: "logs".into(),
                    group: "dg".into(),
                }
            }
        }
    }

    /// Makes the logs topic and the internal topics (`<group>-<suffix>`).
    fn create(&self, logs: i32, internal: &[(&str, i32)]) {
        let topics: Vec<(String, i32)> = std::iter::once((self.topic.clone(), logs))
            .chain(
                internal
                    .iter()
                    .map(|(s, n)| (format!("{}-{s}", self.group), *n)),
            )
            .collect();
        match &self._mock {
            Some(mock) => {
                for (t, n) in &topics {
                    mock.create_topic(t, *n, 1).unwrap();
                }
            }
            None => {
                let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
                    .set("bootstrap.servers", &self.brokers)
                    .create()
                    .unwrap();
                let new: Vec<NewTopic<'_>> = topics
                    .iter()
                    .map(|(t, n)| NewTopic::new(t, *n, TopicReplication::Fixed(1)))
                    .collect();
                let runtime = tokio::runtime::Runtime::new().unwrap();
                for r in runtime
                    .block_on(admin.create_topics(&new, &AdminOptions::new()))
                    .unwrap()
                {
                    r.unwrap();
                }
            }
        }
    }
}

fn sample_lines() -> Vec<Vec<u8>> {
    let gz =
        flate2::read::GzDecoder::new(std::fs::File::open(fixture("sample.ndjson.gz")).unwrap());
    BufReader::new(gz)
        .split(b'\n')
        .map(Result::unwrap)
        .filter(|l| !l.is_empty())
        .collect()
}

fn account_of(line: &[u8]) -> String {
    let v: Value = serde_json::from_slice(line).unwrap();
    v["account_id"].as_str().unwrap().to_string()
}

/// Produces lines keyed by account onto the account's partition, and waits for every
/// acknowledgement.
fn produce(cluster: &Cluster, lines: &[Vec<u8>]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.brokers)
        .set("acks", "all")
        .create()
        .unwrap();
    let accounts: Vec<String> = lines.iter().map(|l| account_of(l)).collect();
    let records = accounts
        .iter()
        .zip(lines)
        .map(|(a, l)| (a.as_str(), l.as_slice()));
    produce_keyed(
        &producer,
        &cluster.topic,
        PARTITIONS as u32,
        records,
        Duration::from_secs(30),
    )
    .unwrap();
}

/// Starts `serve` with a `[kafka]` table; `top` goes before the table, `extra` inside it.
fn start_instance(
    dir: &std::path::Path,
    cluster: &Cluster,
    name: &str,
    top: &str,
    extra: &str,
) -> Server {
    let Cluster {
        brokers,
        topic,
        group,
        ..
    } = cluster;
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "detect_interval = \"1s\"\n\
             {top}\
             [kafka]\n\
             brokers = \"{brokers}\"\n\
             topic = \"{topic}\"\n\
             group = \"{group}\"\n\
             flush_interval = \"200ms\"\n\
             session_timeout = \"3s\"\n\
             {extra}"
        ),
    )
    .unwrap();
    Server::start(&data, &[("DISTILLGUARD_CONFIG", config.to_str().unwrap())])
}

fn report_of(server: &Server) -> Option<Value> {
    let body = reqwest::blocking_get(&server.url("/v1/report"))?;
    serde_json::from_str(&body).ok()
}

/// Polls `server` until its report counts `records` records, or panics after `limit`.
fn wait_for_records(server: &Server, records: u64, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(r) = report_of(server)
            && r["stats"]["records_accepted"].as_u64() == Some(records)
        {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no report with {records} records in time; last: {:?}",
            report_of(server).map(|r| r["stats"].clone())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

mod reqwest {
    /// A GET over a plain connection; the body when the answer is 200.
    pub fn blocking_get(url: &str) -> Option<String> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_at(rest.find('/')?);
        let mut s = std::net::TcpStream::connect(host).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        let (head, body) = answer.split_once("\r\n\r\n")?;
        if !head.starts_with("HTTP/1.1 200") {
            return None;
        }
        Some(body.to_string())
    }
}

#[test]
fn three_instances_with_one_killed_report_like_one_scan() {
    let cluster = Cluster::new("kill");
    cluster.create(PARTITIONS, &SERVICE_TOPICS);

    let expected = scan_of_sample();
    let records = expected["stats"]["records_accepted"].as_u64().unwrap();
    assert!(!expected["clusters"].as_array().unwrap().is_empty());

    let lines = sample_lines();
    let (first, second) = lines.split_at(lines.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let mut instances: Vec<Server> = ["a", "b", "c"]
        .iter()
        .map(|n| start_instance(dir.path(), &cluster, n, "", ""))
        .collect();

    // The first half counted and published: every instance holds state in the changelog.
    produce(&cluster, first);
    let engine = distillguard::engine::Engine::new();
    for l in first {
        engine.ingest(&distillguard::record::Record::parse(l).unwrap());
    }
    wait_for_records(&instances[2], engine.accepted(), Duration::from_secs(60));
    // The second half is posted to /v1/logs of another instance, in pieces, which produces it
    // to the topic; one instance is killed without warning while it flows, so it dies with
    // records read but not yet in the changelog or committed.
    let poster = {
        let host = instances[1]
            .url
            .strip_prefix("http://")
            .unwrap()
            .to_string();
        let second = second.to_vec();
        std::thread::spawn(move || post_lines(&host, &second, Duration::from_millis(150)))
    };
    std::thread::sleep(Duration::from_millis(400));
    let mut killed = instances.remove(0);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    poster.join().unwrap();

    for survivor in &instances {
        let report = wait_for_records(survivor, records, Duration::from_secs(90));
        assert_same_findings(&report, &expected);
    }
    // The killed instance's partitions moved: the survivors read accounts back from the
    // changelog after the first half was counted.
    let restored: u64 = instances
        .iter()
        .map(|i| {
            let stats: Value =
                serde_json::from_str(&reqwest::blocking_get(&i.url("/v1/stats")).unwrap()).unwrap();
            stats["kafka"]["accounts_restored"].as_u64().unwrap()
        })
        .sum();
    assert!(restored > 0, "no account was restored from the changelog");

    // SIGTERM: the instance writes what it holds, leaves the group and exits cleanly.
    let status = instances[0].terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}");
}

fn scan_of_sample() -> Value {
    scan_of_sample_with(&[])
}

fn scan_of_sample_with(flags: &[&str]) -> Value {
    let scan = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["scan", "--format", "json", "--quiet"])
        .args(flags)
        .arg(fixture("sample.ndjson.gz"))
        .output()
        .unwrap();
    serde_json::from_slice(&scan.stdout).unwrap()
}

fn assert_same_findings(report: &Value, expected: &Value) {
    assert_eq!(report["clusters"], expected["clusters"]);
    for key in [
        "records_accepted",
        "duplicates",
        "accounts",
        "first_seen",
        "last_seen",
    ] {
        assert_eq!(report["stats"][key], expected["stats"][key], "{key}");
    }
}

#[test]
fn records_not_keyed_by_account_are_rekeyed_first() {
    let cluster = Cluster::new("rekey");
    cluster.create(
        3,
        &[
            ("accounts", 4),
            ("changelog", 4),
            ("control", 1),
            ("reports", 1),
        ],
    );
    let expected = scan_of_sample();
    // Lines spread over the partitions in turn, as a producer without keys does: an account's
    // records land on every partition.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.brokers)
        .create()
        .unwrap();
    for (i, line) in sample_lines().iter().enumerate() {
        let record = BaseRecord::<(), _>::to(&cluster.topic)
            .partition(i as i32 % 3)
            .payload(line.as_slice());
        producer.send(record).map_err(|(e, _)| e).unwrap();
        if i % 1000 == 0 {
            producer.flush(Duration::from_secs(30)).unwrap();
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let instances: Vec<Server> = ["a", "b"]
        .iter()
        .map(|n| start_instance(dir.path(), &cluster, n, "", "rekey = true\n"))
        .collect();
    let records = expected["stats"]["records_accepted"].as_u64().unwrap();
    for i in &instances {
        let report = wait_for_records(i, records, Duration::from_secs(90));
        assert_same_findings(&report, &expected);
    }
}

/// Posts `lines` to `/v1/logs` at `host` in ten pieces, `pause` apart.
fn post_lines(host: &str, lines: &[Vec<u8>], pause: Duration) {
    for piece in lines.chunks(lines.len() / 10 + 1) {
        let body = piece.join(&b'\n');
        let head = format!(
            "POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        assert_eq!(common::raw_request(host, &head, &body).unwrap(), 200);
        std::thread::sleep(pause);
    }
}

/// Every message value of every partition of `topic`, from the start.
fn read_topic(cluster: &Cluster, topic: &str) -> Vec<Vec<u8>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cluster.brokers)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        list.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut values = Vec::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(3) {
        if let Some(m) = consumer.poll(Duration::from_millis(200)) {
            values.push(m.unwrap().payload().unwrap_or_default().to_vec());
            quiet_since = Instant::now();
        }
    }
    values
}

#[test]
fn privacy_mode_keeps_prompt_text_out_of_every_topic() {
    let cluster = Cluster::new("privacy");
    cluster.create(PARTITIONS, &SERVICE_TOPICS);
    let expected = scan_of_sample_with(&["--privacy-mode"]);
    let records = expected["stats"]["records_accepted"].as_u64().unwrap();
    let lines = sample_lines();
    // Stretches of prompt text that a leak would carry verbatim (plain words, so that JSON
    // escaping cannot hide them).
    let markers_of = |lines: &[Vec<u8>]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| {
                let rec = distillguard::record::Record::parse(l).unwrap();
                let words: String = rec.prompt?.chars().take(40).collect();
                (words.chars().count() == 40
                    && words.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
                .then_some(words)
            })
            .take(100)
            .collect()
    };
    // Half the log comes from an outside producer, whole; the service's own engines must still
    // keep none of its text. The other half is posted and must reach the topic reduced.
    let (produced, posted) = lines.split_at(lines.len() / 2);
    let outside = markers_of(produced);
    // Only text that the outside half does not also carry can tell a leak from the posted half.
    let ours: Vec<String> = markers_of(posted)
        .into_iter()
        .filter(|m| {
            !produced
                .iter()
                .any(|l| l.windows(m.len()).any(|w| w == m.as_bytes()))
        })
        .collect();
    assert!(
        outside.len() >= 50 && ours.len() >= 20,
        "{} {}",
        outside.len(),
        ours.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let server = start_instance(dir.path(), &cluster, "a", "privacy_mode = true\n", "");
    produce(&cluster, produced);
    post_lines(
        server.url.strip_prefix("http://").unwrap(),
        posted,
        Duration::ZERO,
    );
    let report = wait_for_records(&server, records, Duration::from_secs(90));
    assert_same_findings(&report, &expected);

    let everything: Vec<&String> = outside.iter().chain(&ours).collect();
    for (suffix, markers) in [
        ("", ours.iter().collect::<Vec<_>>()),
        ("changelog", everything.clone()),
        ("reports", everything.clone()),
    ] {
        let topic = if suffix.is_empty() {
            cluster.topic.clone()
        } else {
            format!("{}-{suffix}", cluster.group)
        };
        let values = read_topic(&cluster, &topic);
        assert!(!values.is_empty(), "{topic} is empty");
        for v in &values {
            for m in &markers {
                assert!(
                    !v.windows(m.len()).any(|w| w == m.as_bytes()),
                    "{topic} holds prompt text: {m:?}"
                );
            }
        }
    }
    let body = reqwest::blocking_get(&server.url("/v1/report")).unwrap();
    assert!(everything.iter().all(|m| !body.contains(m.as_str())));
}
