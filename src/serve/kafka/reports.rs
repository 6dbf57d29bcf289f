//! Every instance follows the report topic and serves the latest report on its query API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::detector::decode_report;
use super::{KafkaError, Settings};
use crate::serve::App;

pub struct Follower {
    consumer: BaseConsumer,
    app: Arc<App>,
}

impl Follower {
    pub fn new(settings: &Settings, app: Arc<App>) -> Result<Follower, KafkaError> {
        let consumer: BaseConsumer = settings.reader().create()?;
        let mut tpl = TopicPartitionList::new();
        // Only the last report matters.
        tpl.add_partition_offset(&settings.kafka.report_topic(), 0, Offset::OffsetTail(1))?;
        consumer.assign(&tpl)?;
        Ok(Follower { consumer, app })
    }

    pub fn run(self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(msg)) => match msg.payload().map(decode_report) {
                    Some(Ok(report)) => self.app.detection.publish(report),
                    Some(Err(e)) => tracing::warn!("skipped a report: {e}"),
                    None => {}
                },
                Some(Err(e)) => tracing::warn!("reading reports: {e}"),
                None => {}
            }
        }
    }
}
