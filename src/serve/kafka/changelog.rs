//! The changelog: one compacted topic whose key is an account id and whose value is everything
//! needed to own that account elsewhere. Partition `p` of the changelog holds the accounts of
//! partition `p` of the logs topic, so a partition's state is rebuilt from one partition.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::KafkaError;
use crate::engine::{AccountEntry, Engine};

/// Layout version of a changelog value, its first byte. Version 2: account states keep the
/// phrases of reasoning prompts.
const VERSION: u8 = 2;

/// One account's changelog value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub account: AccountEntry,
    /// Hashes of the request ids counted for the account, so a duplicate that arrives after the
    /// account moved is still dropped.
    pub requests: Vec<u64>,
    /// Records of the account dropped as duplicates.
    pub duplicates: u64,
    /// Offset, in the logs partition, of the last record folded into this value. A record at or
    /// before it is already counted: it is skipped when replayed after a move.
    pub through: i64,
    /// With re-keying: per input partition, the offset there of the last record folded in.
    pub sources: Vec<(i32, i64)>,
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        postcard::to_io(self, &mut out).expect("an entry always serializes");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, KafkaError> {
        match bytes.split_first() {
            Some((&VERSION, rest)) => postcard::from_bytes(rest)
                .map_err(|e| KafkaError::Corrupt(format!("changelog entry: {e}"))),
            Some((v, _)) => Err(KafkaError::Corrupt(format!(
                "changelog entry of layout {v}, this version reads {VERSION}"
            ))),
            None => Err(KafkaError::Corrupt("empty changelog entry".into())),
        }
    }

    /// Adds the account to an engine with what it needs to de-duplicate further records.
    pub fn restore_into(&self, id: &str, engine: &Engine) {
        engine.import_account(id, self.account.clone());
        engine.import_requests(&self.requests, self.duplicates);
    }
}

/// Reads partitions of `topic` from their beginning to their end as they are when called; the
/// last value of each key wins, as compaction would leave it.
pub fn read(
    reader: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    timeout: Duration,
) -> Result<HashMap<String, Entry>, KafkaError> {
    let mut entries = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    // The next offset to read, per partition, up to its end.
    let mut pending = HashMap::new();
    for &p in partitions {
        let (low, high) = reader.fetch_watermarks(topic, p, timeout)?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
            pending.insert(p, high);
        }
    }
    if pending.is_empty() {
        return Ok(entries);
    }
    reader.assign(&tpl)?;
    let deadline = Instant::now() + timeout;
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(KafkaError::Timeout(format!(
                "reading {topic} partitions {:?}",
                pending.keys().collect::<Vec<_>>()
            )));
        }
        let Some(msg) = reader.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        if let Some(key) = msg.key() {
            let key = String::from_utf8_lossy(key).into_owned();
            match msg.payload() {
                Some(v) => {
                    entries.insert(key, Entry::decode(v)?);
                }
                // A tombstone: the account left the state.
                None => {
                    entries.remove(&key);
                }
            }
        }
        if pending.get(&msg.partition()) <= Some(&(msg.offset() + 1)) {
            pending.remove(&msg.partition());
        }
    }
    reader.unassign()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn entries_round_trip_and_refuse_other_layouts() {
        let engine = Engine::new();
        let line = br#"{"ts":1767225600,"account_id":"a","request_id":"r1","ip":"203.0.113.9"}"#;
        engine.ingest(&Record::parse(line).unwrap());
        let entry = Entry {
            account: engine.export_account("a").unwrap(),
            requests: vec![crate::engine::request_hash("r1")],
            duplicates: 2,
            through: 41,
            sources: vec![(2, 7)],
        };
        let bytes = entry.encode();
        assert_eq!(Entry::decode(&bytes).unwrap(), entry);
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(Entry::decode(&other).is_err());
        assert!(Entry::decode(&bytes[..bytes.len() - 1]).is_err());

        let restored = Engine::new();
        entry.restore_into("a", &restored);
        assert!(restored.has_request("r1"));
        assert_eq!((restored.accepted(), restored.duplicates()), (1, 2));
    }
}
