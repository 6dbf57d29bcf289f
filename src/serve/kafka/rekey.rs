//! Re-keying: when the producers of the logs topic do not key records by account, the
//! instances first move every record onto `<group>-accounts`, on its account's partition, and
//! the partition owners consume that topic instead. Input offsets are committed after the
//! re-keyed records are acknowledged, so a record is re-keyed at least once; one re-keyed twice
//! (an instance died between the two) is dropped by its owner by `request_id`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaError, Settings, partitions_of};
use crate::partition::partition_of;
use crate::record::Record;

pub struct Rekey {
    settings: Settings,
    consumer: BaseConsumer,
    producer: BaseProducer,
    /// Partitions of the accounts topic.
    partitions: u32,
}

impl Rekey {
    pub fn new(settings: Settings) -> Result<Rekey, KafkaError> {
        let group = format!("{}-rekey", settings.kafka.group);
        let consumer: BaseConsumer = settings.group_consumer(&group).create()?;
        let partitions = partitions_of(&consumer, &settings.input_topic(), settings.timeout)?;
        consumer.subscribe(&[&settings.kafka.topic])?;
        Ok(Rekey {
            producer: settings.producer().create()?,
            settings,
            consumer,
            partitions,
        })
    }

    pub fn run(self, stop: &AtomicBool) {
        let target = self.settings.input_topic();
        let mut offsets = TopicPartitionList::new();
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
                        let mut record = BaseRecord::to(&target)
                            .partition(partition_of(&account, self.partitions) as i32)
                            .key(account.as_bytes())
                            .payload(msg.payload().unwrap_or_default());
                        loop {
                            match self.producer.send(record) {
                                Ok(()) => break,
                                Err((
                                    rdkafka::error::KafkaError::MessageProduction(
                                        RDKafkaErrorCode::QueueFull,
                                    ),
                                    back,
                                )) => {
                                    record = back;
                                    self.producer.poll(Duration::from_millis(20));
                                }
                                Err((e, _)) => {
                                    tracing::warn!("re-keying a record failed: {e}");
                                    break;
                                }
                            }
                        }
                    }
                    let _ = offsets.add_partition_offset(
                        msg.topic(),
                        msg.partition(),
                        Offset::Offset(msg.offset() + 1),
                    );
                }
                Some(Err(e)) => tracing::warn!("reading {}: {e}", self.settings.kafka.topic),
                None => {}
            }
            if offsets.count() > 0 && last_flush.elapsed() >= self.settings.kafka.flush_interval {
                // Committed only once every re-keyed record before them is acknowledged.
                match self.producer.flush(self.settings.timeout) {
                    Ok(()) => {
                        if let Err(e) = self.consumer.commit(&offsets, CommitMode::Sync) {
                            tracing::warn!("re-key offsets not committed: {e}");
                        }
                        offsets = TopicPartitionList::new();
                    }
                    Err(e) => tracing::warn!("re-keyed records not acknowledged: {e}"),
                }
                last_flush = Instant::now();
            }
        }
        let _ = self.producer.flush(self.settings.timeout);
        if offsets.count() > 0 {
            let _ = self.consumer.commit(&offsets, CommitMode::Sync);
        }
        self.consumer.unsubscribe();
    }
}
