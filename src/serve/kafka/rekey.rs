//! Re-keying: when the producers of the logs topic do not key records by account, the
//! instances first move every record onto `<group>-accounts`, on its account's partition, and
//! the partition owners consume that topic instead. Input offsets are committed after the
//! re-keyed records are acknowledged, every `flush_interval` and before a rebalance takes
//! partitions away (which a broker may refuse while the rebalance is under way), so a record is
//! re-keyed at least once. Each re-keyed record carries its input partition and offset in the
//! [`SOURCE_HEADER`] header; an account's records from one input partition reach its owner in
//! input order, so the owner skips a copy whose input offset it has already passed, and a
//! record re-keyed twice is counted once, not as a duplicate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaError, Settings, partitions_of};
use crate::partition::partition_of;
use crate::record::Record;

/// The header of a re-keyed record: its input partition (4 bytes) and offset (8), big-endian.
pub const SOURCE_HEADER: &str = "distillguard-source";

/// The input partition and offset a re-keyed record carries.
pub fn source_of(msg: &impl Message) -> Option<(i32, i64)> {
    let header = msg
        .headers()?
        .iter()
        .find(|h| h.key == SOURCE_HEADER)?
        .value?;
    let (p, o) = (header.get(..4)?, header.get(4..12)?);
    Some((
        i32::from_be_bytes(p.try_into().ok()?),
        i64::from_be_bytes(o.try_into().ok()?),
    ))
}

pub struct Rekey {
    settings: Settings,
    consumer: BaseConsumer<Handover>,
    /// Partitions of the accounts topic.
    partitions: u32,
}

/// The producer and the input offsets not yet committed. Before partitions are taken away in a
/// rebalance, what was re-keyed from them is flushed and committed, so the next reader starts
/// after it: only an instance that dies re-keys a record twice.
struct Handover {
    producer: BaseProducer,
    /// The offset after the last record re-keyed, per input partition.
    pending: Mutex<HashMap<i32, i64>>,
    topic: String,
    timeout: Duration,
}

impl Handover {
    /// Waits for every re-keyed record, then commits the offsets after them.
    fn commit(&self, consumer: &BaseConsumer<Handover>) -> Result<(), KafkaError> {
        self.producer.flush(self.timeout)?;
        let mut pending = self.pending.lock().expect("pending offsets");
        if pending.is_empty() {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        for (&p, &next) in pending.iter() {
            offsets.add_partition_offset(&self.topic, p, Offset::Offset(next))?;
        }
        consumer.commit(&offsets, CommitMode::Sync)?;
        pending.clear();
        Ok(())
    }
}

impl ClientContext for Handover {}

impl ConsumerContext for Handover {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Handover>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance
            && let Err(e) = self.commit(consumer)
        {
            tracing::warn!("re-keyed records not committed before a rebalance: {e}");
        }
    }
}

impl Rekey {
    pub fn new(settings: Settings) -> Result<Rekey, KafkaError> {
        let group = format!("{}-rekey", settings.kafka.group);
        let consumer: BaseConsumer<Handover> = settings
            .group_consumer(&group)
            .create_with_context(Handover {
                producer: settings.producer().create()?,
                pending: Mutex::new(HashMap::new()),
                topic: settings.kafka.topic.clone(),
                timeout: settings.timeout,
            })?;
        let probe: BaseConsumer = settings.reader().create()?;
        let partitions = partitions_of(&probe, &settings.input_topic(), settings.timeout)?;
        consumer.subscribe(&[&settings.kafka.topic])?;
        Ok(Rekey {
            settings,
            consumer,
            partitions,
        })
    }

    pub fn run(self, stop: &AtomicBool) {
        let target = self.settings.input_topic();
        let handover = self.consumer.context();
        let producer = &handover.producer;
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(msg)) => {
                    // A record without an account cannot be owned; the owners never see it.
                    if let Some(account) = msg
                        .payload()
                        .and_then(|b| Record::parse(b).ok())
                        .map(|r| r.account_id.to_string())
                    {
                        let mut source = [0u8; 12];
                        source[..4].copy_from_slice(&msg.partition().to_be_bytes());
                        source[4..].copy_from_slice(&msg.offset().to_be_bytes());
                        let headers = OwnedHeaders::new().insert(Header {
                            key: SOURCE_HEADER,
                            value: Some(&source),
                        });
                        let mut record = BaseRecord::to(&target)
                            .headers(headers)
                            .partition(partition_of(&account, self.partitions) as i32)
                            .key(account.as_bytes())
                            .payload(msg.payload().unwrap_or_default());
                        loop {
                            match producer.send(record) {
                                Ok(()) => break,
                                Err((
                                    rdkafka::error::KafkaError::MessageProduction(
                                        RDKafkaErrorCode::QueueFull,
                                    ),
                                    back,
                                )) => {
                                    record = back;
                                    producer.poll(Duration::from_millis(20));
                                }
                                Err((e, _)) => {
                                    tracing::warn!("re-keying a record failed: {e}");
                                    break;
                                }
                            }
                        }
                    }
                    handover
                        .pending
                        .lock()
                        .expect("pending offsets")
                        .insert(msg.partition(), msg.offset() + 1);
                }
                Some(Err(e)) => tracing::warn!("reading {}: {e}", self.settings.kafka.topic),
                None => {}
            }
            if last_flush.elapsed() >= self.settings.kafka.flush_interval {
                if let Err(e) = handover.commit(&self.consumer) {
                    tracing::warn!("re-keyed records not committed: {e}");
                }
                last_flush = Instant::now();
            }
        }
        if let Err(e) = handover.commit(&self.consumer) {
            tracing::warn!("re-keyed records not committed: {e}");
        }
        self.consumer.unsubscribe();
    }
}
