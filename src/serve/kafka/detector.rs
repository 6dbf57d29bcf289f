//! The cross-account stage in Kafka mode. Every instance joins a second consumer group on the
//! one-partition control topic; the member that owns its partition is the detector. It reads
//! every account's changelog entry (the changelog is compact by design: one bounded summary
//! per account), runs detection over them like a single engine, and publishes the report.
//! When the detector dies, the control partition moves and another member takes over.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::changelog::Entry;
use super::{KafkaError, Settings};
use crate::engine::Engine;
use crate::report::Report;
use crate::serve::App;
use crate::serve::detection;

pub struct Detector {
    settings: Settings,
    app: Arc<App>,
    election: BaseConsumer,
    producer: BaseProducer,
}

/// The accounts' entries as the changelog holds them, read as it grows.
struct Collector {
    reader: BaseConsumer,
    entries: HashMap<String, Entry>,
    /// Next offset to read per changelog partition.
    next: HashMap<i32, i64>,
    changed: bool,
}

impl Detector {
    pub fn new(settings: Settings, app: Arc<App>) -> Result<Detector, KafkaError> {
        let group = format!("{}-detector", settings.kafka.group);
        let election: BaseConsumer = settings.group_consumer(&group).create()?;
        election.subscribe(&[&settings.kafka.control_topic()])?;
        let producer = settings.producer().create()?;
        Ok(Detector {
            settings,
            app,
            election,
            producer,
        })
    }

    pub fn run(self, stop: &AtomicBool) {
        let mut collector: Option<Collector> = None;
        let mut last_run: Option<Instant> = None;
        let interval = self.app.cfg.detect_interval;
        while !stop.load(Ordering::Relaxed) {
            // Nothing is written to the control topic; polling keeps the membership alive.
            let _ = self.election.poll(Duration::from_millis(200));
            let leading = self.election.assignment().is_ok_and(|a| a.count() > 0);
            if !leading {
                if collector.take().is_some() {
                    tracing::info!("no longer the detecting instance");
                }
                continue;
            }
            if last_run.is_some_and(|t| t.elapsed() < interval) {
                continue;
            }
            let c = match collector.take() {
                Some(c) => Ok(c),
                None => {
                    tracing::info!("this instance is the detecting instance");
                    Collector::new(&self.settings)
                }
            };
            match c.and_then(|mut c| {
                c.catch_up(&self.settings)?;
                if c.changed {
                    self.publish(&c)?;
                    c.changed = false;
                }
                Ok(c)
            }) {
                Ok(c) => collector = Some(c),
                Err(e) => tracing::warn!("detection over the changelog failed: {e}"),
            }
            last_run = Some(Instant::now());
        }
        self.election.unsubscribe();
    }

    fn publish(&self, c: &Collector) -> Result<(), KafkaError> {
        let engine = Engine::with_privacy(self.settings.privacy);
        for (id, e) in &c.entries {
            engine.import_account(id, e.account.clone());
            engine.import_requests(&[], e.duplicates);
        }
        let snap = detection::run_over(&self.app, &engine, 0, c.entries.len());
        let value = encode_report(&snap.report);
        let topic = self.settings.kafka.report_topic();
        self.producer
            .send(
                BaseRecord::<[u8], _>::to(&topic)
                    .partition(0)
                    .key(b"report".as_slice())
                    .payload(&value),
            )
            .map_err(|(e, _)| e)?;
        self.producer.flush(self.settings.timeout)?;
        tracing::info!(
            clusters = snap.report.clusters.len(),
            accounts = snap.report.stats.accounts,
            records = snap.report.stats.records_accepted,
            bytes = value.len(),
            "report published"
        );
        Ok(())
    }
}

impl Collector {
    fn new(settings: &Settings) -> Result<Collector, KafkaError> {
        Ok(Collector {
            reader: settings.reader().create()?,
            entries: HashMap::new(),
            next: HashMap::new(),
            changed: true,
        })
    }

    /// Reads the changelog up to its end as it is now.
    fn catch_up(&mut self, settings: &Settings) -> Result<(), KafkaError> {
        let topic = settings.kafka.changelog_topic();
        let meta = self.reader.fetch_metadata(Some(&topic), settings.timeout)?;
        let partitions: Vec<i32> = meta
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(KafkaError::NoTopic(topic));
        }
        let mut pending = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            let (_, high) = self.reader.fetch_watermarks(&topic, p, settings.timeout)?;
            let next = self.next.get(&p).copied();
            tpl.add_partition_offset(&topic, p, next.map_or(Offset::Beginning, Offset::Offset))?;
            if next.unwrap_or(0) < high {
                pending.insert(p, high);
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        self.reader.assign(&tpl)?;
        let deadline = Instant::now() + settings.timeout;
        while !pending.is_empty() {
            if Instant::now() > deadline {
                return Err(KafkaError::Timeout(format!("reading {topic}")));
            }
            let Some(msg) = self.reader.poll(Duration::from_millis(200)) else {
                continue;
            };
            let msg = msg?;
            let p = msg.partition();
            self.next.insert(p, msg.offset() + 1);
            if let Some(key) = msg.key() {
                let key = String::from_utf8_lossy(key).into_owned();
                match msg.payload() {
                    Some(v) => {
                        self.entries.insert(key, Entry::decode(v)?);
                    }
                    None => {
                        self.entries.remove(&key);
                    }
                }
                self.changed = true;
            }
            if pending.get(&p) <= Some(&(msg.offset() + 1)) {
                pending.remove(&p);
            }
        }
        Ok(())
    }
}

/// A report as the report topic holds it: postcard (floats exact, unlike a JSON round trip),
/// zstd-compressed, after a layout byte.
pub fn encode_report(report: &Report) -> Vec<u8> {
    let bytes = postcard::to_stdvec(report).expect("a report always serializes");
    let mut out = vec![REPORT_LAYOUT];
    zstd::stream::copy_encode(bytes.as_slice(), &mut out, 3).expect("compressing in memory");
    out
}

const REPORT_LAYOUT: u8 = 1;

pub fn decode_report(bytes: &[u8]) -> Result<Report, KafkaError> {
    let corrupt = |e: &dyn std::fmt::Display| KafkaError::Corrupt(format!("report: {e}"));
    match bytes.split_first() {
        Some((&REPORT_LAYOUT, rest)) => {
            let raw = zstd::decode_all(rest).map_err(|e| corrupt(&e))?;
            postcard::from_bytes(&raw).map_err(|e| corrupt(&e))
        }
        _ => Err(corrupt(&"unknown layout")),
    }
}
