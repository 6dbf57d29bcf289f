//! The partition owner: consumes the logs topic in the consumer group, keeps one engine per
//! partition it owns, writes the accounts that changed to the changelog, and commits the
//! consumer offsets only once the changelog has acknowledged them (acks=all).
//!
//! A partition that arrives (at start or after a rebalance) is rebuilt from its changelog
//! partition before its first record is folded in; records at or before an account's
//! `through` offset are already in its state and are skipped, so a record is counted once
//! however the partition moved.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::changelog::{self, Entry};
use super::{KafkaError, Settings, rekey};
use crate::engine::{Engine, Ingested, request_hash};
use crate::record::Record;
use crate::serve::metrics::KafkaProgress as Progress;

/// What the instance holds of one partition.
struct Shard {
    engine: Engine,
    logs: HashMap<Box<str>, AccountLog>,
    /// Accounts changed since the last changelog write.
    dirty: HashSet<Box<str>>,
    /// The offset after the last record read, to commit once the changelog holds it.
    next: Option<i64>,
}

/// What the changelog keeps about an account beyond its state.
struct AccountLog {
    requests: Vec<u64>,
    duplicates: u64,
    through: i64,
    sources: Vec<(i32, i64)>,
}

impl Default for AccountLog {
    fn default() -> Self {
        AccountLog {
            requests: Vec::new(),
            duplicates: 0,
            through: -1,
            sources: Vec::new(),
        }
    }
}

impl AccountLog {
    /// Whether a re-keyed record from this input position was already folded in.
    fn passed(&self, (partition, offset): (i32, i64)) -> bool {
        self.sources
            .iter()
            .any(|&(p, o)| p == partition && offset <= o)
    }

    fn note_source(&mut self, (partition, offset): (i32, i64)) {
        match self.sources.iter_mut().find(|s| s.0 == partition) {
            Some(s) => s.1 = s.1.max(offset),
            None => self.sources.push((partition, offset)),
        }
    }
}

impl Shard {
    fn from_changelog(entries: HashMap<String, Entry>) -> Shard {
        let engine = Engine::new();
        let mut logs = HashMap::with_capacity(entries.len());
        for (id, e) in entries {
            e.restore_into(&id, &engine);
            logs.insert(
                id.into_boxed_str(),
                AccountLog {
                    requests: e.requests,
                    duplicates: e.duplicates,
                    through: e.through,
                    sources: e.sources,
                },
            );
        }
        Shard {
            engine,
            logs,
            dirty: HashSet::new(),
            next: None,
        }
    }
}

/// Notes revoked partitions; they are dropped after the poll that revoked them.
#[derive(Default)]
pub struct Rebalances {
    revoked: Mutex<Vec<i32>>,
}

impl ClientContext for Rebalances {}

impl ConsumerContext for Rebalances {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut revoked = self.revoked.lock().expect("revoked");
            revoked.extend(tpl.elements().iter().map(|e| e.partition()));
        }
    }
}

/// Counts changelog writes that failed, so that offsets are not committed after one.
#[derive(Default)]
pub struct Deliveries {
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            tracing::warn!("changelog write failed: {e}");
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct Worker {
    consumer: BaseConsumer<Rebalances>,
    owned: Owned,
}

/// The partitions held and the clients that read and write their changelog.
struct Owned {
    settings: Settings,
    producer: BaseProducer<Deliveries>,
    reader: BaseConsumer,
    shards: HashMap<i32, Shard>,
    progress: Arc<Progress>,
}

impl Worker {
    pub fn new(settings: Settings, progress: Arc<Progress>) -> Result<Worker, KafkaError> {
        let consumer: BaseConsumer<Rebalances> = settings
            .group_consumer(&settings.kafka.group)
            .create_with_context(Rebalances::default())?;
        let producer = settings
            .producer()
            .create_with_context(Deliveries::default())?;
        let reader = settings.reader().create()?;
        consumer.subscribe(&[&settings.input_topic()])?;
        Ok(Worker {
            consumer,
            owned: Owned {
                settings,
                producer,
                reader,
                shards: HashMap::new(),
                progress,
            },
        })
    }

    /// Consumes until `stop` is set, then writes what it holds and leaves the group.
    pub fn run(self, stop: &AtomicBool) {
        let Worker {
            consumer,
            mut owned,
        } = self;
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let polled = consumer.poll(Duration::from_millis(100));
            let revoked: Vec<i32> =
                std::mem::take(&mut *consumer.context().revoked.lock().expect("revoked"));
            for p in revoked {
                // Unwritten changes are dropped with it: their records are after the committed
                // offset, and whoever owns the partition next reads them again.
                if owned.shards.remove(&p).is_some() {
                    tracing::info!(partition = p, "partition revoked");
                }
            }
            let handled = match polled {
                Some(Ok(msg)) => owned.handle(&consumer, &msg),
                // The client reports broker and transport trouble here and recovers by itself.
                Some(Err(e)) => {
                    tracing::warn!("consuming: {e}");
                    Ok(())
                }
                None => Ok(()),
            };
            if let Err(e) = handled {
                tracing::warn!("{e}: rejoining the group, from the committed offsets");
                owned.restart(&consumer);
                continue;
            }
            if last_flush.elapsed() >= owned.settings.kafka.flush_interval {
                if let Err(e) = owned.flush(&consumer) {
                    tracing::warn!("{e}: not committed, the changes are written again later");
                }
                last_flush = Instant::now();
            }
        }
        if let Err(e) = owned.flush(&consumer) {
            tracing::warn!("last changelog write failed: {e}");
        }
        consumer.unsubscribe();
    }
}

impl Owned {
    /// Forgets every partition and joins the group again, so positions restart from the
    /// committed offsets.
    fn restart(&mut self, consumer: &BaseConsumer<Rebalances>) {
        self.shards.clear();
        consumer.unsubscribe();
        std::thread::sleep(Duration::from_secs(1));
        let topic = self.settings.input_topic();
        if let Err(e) = consumer.subscribe(&[&topic]) {
            tracing::error!("cannot subscribe to {topic}: {e}");
        }
    }

    fn handle(
        &mut self,
        consumer: &BaseConsumer<Rebalances>,
        msg: &BorrowedMessage<'_>,
    ) -> Result<(), KafkaError> {
        let p = msg.partition();
        if !self.shards.contains_key(&p) {
            let started = Instant::now();
            let topic = self.settings.kafka.changelog_topic();
            let entries = changelog::read(&self.reader, &topic, &[p], self.settings.timeout)?;
            let shard = Shard::from_changelog(entries);
            // The partition starts at its committed offset; a position past it would lose
            // the records in between.
            let committed = self.committed(consumer, p)?;
            tracing::info!(
                partition = p,
                accounts = shard.logs.len(),
                records = shard.engine.accepted(),
                committed,
                ms = started.elapsed().as_millis() as u64,
                "partition rebuilt from the changelog"
            );
            self.progress.rebuilds.fetch_add(1, Ordering::Relaxed);
            self.progress
                .accounts_restored
                .fetch_add(shard.logs.len() as u64, Ordering::Relaxed);
            self.shards.insert(p, shard);
            if let Some(c) = committed
                && msg.offset() > c
            {
                consumer.seek(
                    &self.settings.input_topic(),
                    p,
                    Offset::Offset(c),
                    self.settings.timeout,
                )?;
                return Ok(());
            }
        }
        let shard = self.shards.get_mut(&p).expect("shard just made");
        shard.next = Some(msg.offset() + 1);
        let Some(rec) = msg.payload().and_then(|b| Record::parse(b).ok()) else {
            self.progress.rejected.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let account: &str = &rec.account_id;
        let log = match shard.logs.get_mut(account) {
            Some(log) => log,
            None => shard.logs.entry(account.into()).or_default(),
        };
        let source = rekey::source_of(msg);
        if msg.offset() <= log.through || source.is_some_and(|s| log.passed(s)) {
            self.progress.replayed.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        match shard.engine.ingest(&rec) {
            Ingested::New => {
                if let Some(id) = &rec.request_id {
                    log.requests.push(request_hash(id));
                }
            }
            Ingested::Duplicate => log.duplicates += 1,
        }
        log.through = msg.offset();
        if let Some(s) = source {
            log.note_source(s);
        }
        if !shard.dirty.contains(account) {
            shard.dirty.insert(account.into());
        }
        self.progress.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn committed(
        &self,
        consumer: &BaseConsumer<Rebalances>,
        p: i32,
    ) -> Result<Option<i64>, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.settings.input_topic(), p);
        let got = consumer.committed_offsets(tpl, self.settings.timeout)?;
        Ok(got.elements().first().and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }))
    }

    /// Writes the changed accounts to the changelog, waits for every acknowledgement, then
    /// commits the offsets after the records they reflect.
    fn flush(&mut self, consumer: &BaseConsumer<Rebalances>) -> Result<(), KafkaError> {
        let topic = self.settings.kafka.changelog_topic();
        let input = self.settings.input_topic();
        let failed_before = self.producer.context().failed.load(Ordering::Relaxed);
        let mut offsets = TopicPartitionList::new();
        let mut written = 0usize;
        for (&p, shard) in &self.shards {
            for id in &shard.dirty {
                let log = &shard.logs[id];
                let entry = Entry {
                    account: shard.engine.export_account(id).expect("a changed account"),
                    requests: log.requests.clone(),
                    duplicates: log.duplicates,
                    through: log.through,
                    sources: log.sources.clone(),
                };
                let value = entry.encode();
                let mut record = BaseRecord::to(&topic)
                    .partition(p)
                    .key(id.as_bytes())
                    .payload(&value);
                loop {
                    match self.producer.send(record) {
                        Ok(()) => break,
                        Err((
                            rdkafka::error::KafkaError::MessageProduction(
                                rdkafka::types::RDKafkaErrorCode::QueueFull,
                            ),
                            back,
                        )) => {
                            record = back;
                            self.producer.poll(Duration::from_millis(50));
                        }
                        Err((e, _)) => return Err(e.into()),
                    }
                }
                written += 1;
            }
            if let Some(next) = shard.next {
                offsets.add_partition_offset(&input, p, Offset::Offset(next))?;
            }
        }
        if offsets.count() == 0 {
            return Ok(());
        }
        self.producer.flush(self.settings.timeout)?;
        if self.producer.context().failed.load(Ordering::Relaxed) != failed_before {
            return Err(KafkaError::Changelog);
        }
        consumer.commit(&offsets, CommitMode::Sync)?;
        for shard in self.shards.values_mut() {
            shard.dirty.clear();
            shard.next = None;
        }
        tracing::debug!(accounts = written, "changelog written, offsets committed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rekeyed_copy_is_skipped_once_its_input_offset_is_passed() {
        let mut log = AccountLog::default();
        assert!(!log.passed((0, 0)));
        log.note_source((0, 10));
        log.note_source((2, 5));
        log.note_source((0, 7));
        assert!(log.passed((0, 10)) && log.passed((0, 3)) && log.passed((2, 5)));
        assert!(!log.passed((0, 11)) && !log.passed((1, 0)) && !log.passed((2, 6)));
    }
}
