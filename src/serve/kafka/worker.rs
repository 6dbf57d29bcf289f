//! The partition owner: consumes the logs topic in the consumer group, keeps one engine per
//! partition it owns (the partitions of a batch are folded in parallel, one shard each), writes
//! the accounts that changed to the changelog, and commits the consumer offsets only once the
//! changelog has acknowledged them (acks=all).
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
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::changelog::{self, Entry};
use super::{KafkaError, Settings, rekey};
use crate::engine::{Engine, Ingested, request_hash};
use crate::record::{Record, reduced};
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
    fn from_changelog(entries: HashMap<String, Entry>, privacy: bool) -> Shard {
        let engine = Engine::with_privacy(privacy);
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

/// Messages folded together; the partitions in a batch are folded in parallel.
const BATCH: usize = 2_000;

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
        // A message that arrived after a revocation, for the next batch.
        let mut carried: Option<OwnedMessage> = None;
        while !stop.load(Ordering::Relaxed) {
            let mut batch: Vec<OwnedMessage> = carried.take().into_iter().collect();
            // Waits for the first message, then takes what is already there. A batch ends at a
            // rebalance: what came before it is folded before the revoked partitions are dropped.
            let mut wait = Duration::from_millis(if batch.is_empty() { 100 } else { 0 });
            let mut rebalanced = false;
            while batch.len() < BATCH && !rebalanced {
                let polled = consumer.poll(wait);
                wait = Duration::ZERO;
                rebalanced = !consumer
                    .context()
                    .revoked
                    .lock()
                    .expect("revoked")
                    .is_empty();
                match polled {
                    Some(Ok(msg)) if rebalanced => carried = Some(msg.detach()),
                    Some(Ok(msg)) => batch.push(msg.detach()),
                    // The client reports broker and transport trouble here and recovers by itself.
                    Some(Err(e)) => {
                        tracing::warn!("consuming: {e}");
                        break;
                    }
                    None => break,
                }
            }
            if let Err(e) = owned.fold_batch(&consumer, &batch) {
                tracing::warn!("{e}: rejoining the group, from the committed offsets");
                carried = None;
                owned.restart(&consumer);
                continue;
            }
            let revoked: Vec<i32> =
                std::mem::take(&mut *consumer.context().revoked.lock().expect("revoked"));
            for p in revoked {
                // Unwritten changes are dropped with it: their records are after the committed
                // offset, and whoever owns the partition next reads them again.
                if owned.shards.remove(&p).is_some() {
                    tracing::info!(partition = p, "partition revoked");
                }
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

    /// Folds a batch of messages into their partitions' shards, the partitions in parallel
    /// (each shard has its own engine). A partition new to this instance is rebuilt from the
    /// changelog first; if the consumer's position is past its committed offset, it is sought
    /// back and its messages in the batch are left for later.
    fn fold_batch(
        &mut self,
        consumer: &BaseConsumer<Rebalances>,
        batch: &[OwnedMessage],
    ) -> Result<(), KafkaError> {
        let mut groups: HashMap<i32, Vec<&OwnedMessage>> = HashMap::new();
        for msg in batch {
            groups.entry(msg.partition()).or_default().push(msg);
        }
        let arriving: Vec<(i32, i64)> = groups
            .iter()
            .filter(|(p, _)| !self.shards.contains_key(p))
            .map(|(&p, msgs)| (p, msgs[0].offset()))
            .collect();
        for (p, first) in arriving {
            if self.arrive(consumer, p, first)? {
                groups.remove(&p);
            }
        }
        let mut work: Vec<(&mut Shard, Vec<&OwnedMessage>)> = self
            .shards
            .iter_mut()
            .filter_map(|(p, shard)| Some((shard, groups.remove(p)?)))
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = work.len().div_ceil(threads).max(1);
        let progress = &*self.progress;
        std::thread::scope(|scope| {
            for chunk in work.chunks_mut(per_thread) {
                scope.spawn(move || {
                    for (shard, msgs) in chunk {
                        for msg in msgs.iter() {
                            fold(shard, progress, msg);
                        }
                    }
                });
            }
        });
        Ok(())
    }

    /// Rebuilds a partition that arrived from its changelog. Returns whether the consumer was
    /// sought back to the committed offset (its messages at hand are then too far on).
    fn arrive(
        &mut self,
        consumer: &BaseConsumer<Rebalances>,
        p: i32,
        first: i64,
    ) -> Result<bool, KafkaError> {
        let started = Instant::now();
        let topic = self.settings.kafka.changelog_topic();
        let entries = changelog::read(&self.reader, &topic, &[p], self.settings.timeout)?;
        let shard = Shard::from_changelog(entries, self.settings.privacy);
        // The partition starts at its committed offset; a position past it would lose the
        // records in between.
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
        match committed {
            Some(c) if first > c => {
                consumer.seek(
                    &self.settings.input_topic(),
                    p,
                    Offset::Offset(c),
                    self.settings.timeout,
                )?;
                Ok(true)
            }
            _ => Ok(false),
        }
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

/// Folds one message into its partition's shard: skipped when its account's summary already
/// has it (replayed after a move), dropped as a duplicate by `request_id`, or counted.
fn fold(shard: &mut Shard, progress: &Progress, msg: &OwnedMessage) {
    shard.next = Some(msg.offset() + 1);
    // In privacy mode the service forwards records already reduced (no prompt text).
    let Some((rec, text)) = msg.payload().and_then(|b| match reduced::decode(b) {
        Some((rec, text)) => Some((rec, Some(text))),
        None => Record::parse(b).ok().map(|rec| (rec, None)),
    }) else {
        progress.rejected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let account: &str = &rec.account_id;
    let log = match shard.logs.get_mut(account) {
        Some(log) => log,
        None => shard.logs.entry(account.into()).or_default(),
    };
    let source = rekey::source_of(msg);
    if msg.offset() <= log.through || source.is_some_and(|s| log.passed(s)) {
        progress.replayed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let ingested = match text {
        Some(text) => shard.engine.ingest_with(&rec, text),
        None => shard.engine.ingest(&rec),
    };
    match ingested {
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
    progress.records.fetch_add(1, Ordering::Relaxed);
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
