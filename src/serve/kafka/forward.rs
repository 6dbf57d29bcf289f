//! Posts in Kafka mode: accepted records are produced to the logs topic, each on its account's
//! partition, and the post is answered once the cluster has acknowledged all of them (acks=all).
//! The partition owners count them, as they count records from any other producer.

use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryFuture, FutureProducer, FutureRecord, Producer,
};
use rdkafka::types::RDKafkaErrorCode;

use super::{KafkaError, Settings};
use crate::partition::partition_of;

pub struct Forwarder {
    producer: FutureProducer,
    topic: String,
    partitions: u32,
    runtime: tokio::runtime::Handle,
}

impl Forwarder {
    /// Called from the runtime's blocking pool; keeps its handle to wait on deliveries.
    pub fn new(settings: &Settings, runtime: tokio::runtime::Handle) -> Result<Self, KafkaError> {
        // Posted records are keyed already: they skip the re-keying stage.
        let topic = settings.input_topic();
        let probe: BaseConsumer = settings.reader().create()?;
        let partitions = super::partitions_of(&probe, &topic, settings.timeout)?;
        Ok(Forwarder {
            producer: settings.producer().create()?,
            topic,
            partitions,
            runtime,
        })
    }
}

impl crate::serve::Forward for Forwarder {
    fn send(&self, records: &[(String, Vec<u8>)]) -> Result<(), String> {
        let mut deliveries: Vec<DeliveryFuture> = Vec::with_capacity(records.len());
        for (account, bytes) in records {
            let mut record = FutureRecord::to(&self.topic)
                .partition(partition_of(account, self.partitions) as i32)
                .key(account.as_str())
                .payload(bytes.as_slice());
            loop {
                match self.producer.send_result(record) {
                    Ok(d) => break deliveries.push(d),
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                        back,
                    )) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => return Err(e.to_string()),
                }
            }
        }
        for d in deliveries {
            match self.runtime.block_on(d) {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(e.to_string()),
                Err(_) => return Err("the producer stopped".into()),
            }
        }
        Ok(())
    }
}

/// Produces (account id, record) pairs, each on its account's partition of `topic` (of
/// `partitions`), and returns once all are acknowledged: for loading a topic from files.
pub fn produce_keyed<'a>(
    producer: &BaseProducer,
    topic: &str,
    partitions: u32,
    records: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    for (account, bytes) in records {
        let mut record = BaseRecord::to(topic)
            .partition(partition_of(account, partitions) as i32)
            .key(account)
            .payload(bytes);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    back,
                )) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }
    Ok(producer.flush(timeout)?)
}
