//! The engine both doors share: it owns the account states and runs ingest and detection.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::{DashMap, DashSet};
use foldhash::fast::RandomState;
use xxhash_rust::xxh3::xxh3_64;

use crate::detect::{self, AccountView, DetectConfig};
use crate::features::{ATTRS, AccountState, Attr, Dictionary, Lexicon, Observation, TextFeatures};
use crate::record::Record;
use crate::report::{Cluster, Signal, Stats, rfc3339};

/// One account as the engine holds it: its activity and what its own traffic says.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSummary {
    pub requests: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The score of the account's traffic taken alone (no cross-account ties).
    pub score: f64,
    pub signals: Vec<Signal>,
    /// A few of its prompts, shortened.
    pub examples: Vec<String>,
    /// The models it used, in the order it first used them (the first few).
    pub models: Vec<String>,
}

/// Layout of [`Snapshot`]; changes whenever [`AccountState`] or the snapshot gains or loses a
/// field. Format 2 added the hourly counts and content-word hashes, format 3 the phrases of
/// reasoning prompts. (Snapshots before format 2 carry no format: they begin with the account
/// count, never this number.)
pub const SNAPSHOT_FORMAT: u32 = 0x4447_0003;

/// The whole state of an engine, to store and restore: every account, the request ids seen, the
/// values' display text and the counters. Restoring it and folding in the records after it gives
/// the state of folding everything, because every part of the state combines in any order.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`]: the encoding is positional, so a snapshot of another layout of the
    /// state must be recognised rather than read as shifted fields.
    format: u32,
    accounts: Vec<(Box<str>, AccountState)>,
    seen: Vec<u64>,
    dictionary: Vec<((crate::features::Attr, u64), Box<str>)>,
    accepted: u64,
    duplicates: u64,
    first_ms: i64,
    last_ms: i64,
}

impl Snapshot {
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a snapshot always serializes")
    }

    /// Reads a snapshot of this build's layout; any other is an error (the log is replayed).
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, postcard::Error> {
        let (format, _) = postcard::take_from_bytes::<u32>(bytes)?;
        if format != SNAPSHOT_FORMAT {
            return Err(postcard::Error::DeserializeBadEncoding);
        }
        postcard::from_bytes(bytes)
    }
}

/// One account's state with the display text of the values it holds: what a partition hands to
/// another process (a changelog entry) so that the account can be detected on, or owned, there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountEntry {
    pub state: AccountState,
    pub values: Vec<((Attr, u64), Box<str>)>,
}

/// The hash under which a `request_id` is remembered for de-duplication.
pub fn request_hash(request_id: &str) -> u64 {
    xxh3_64(request_id.as_bytes())
}

/// One account's activity hour by hour and the attribute values it holds, for timelines and
/// the graph of what ties a cluster's accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub requests: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Requests by hour of day (UTC).
    pub hours_of_day: [u32; 24],
    /// Absolute hours (Unix ms / 3,600,000) with at least one request, ascending. The state
    /// keeps a ring of 256 hours, so only the last 256 hours before `last_ms` are known.
    pub active_hours: Vec<i64>,
    /// Evidence attributes' values as a reviewer reads them: (attribute name, value).
    pub values: Vec<(&'static str, String)>,
}

/// Hours the activity ring holds.
const RING_HOURS: i64 = 256;

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    New,
    /// Its `request_id` was seen before; it is counted once.
    Duplicate,
}

pub struct Engine {
    // foldhash rather than the default SipHash: every record looks up its account and its
    // request id, and these keys are not chosen by whoever sends the requests.
    /// States are boxed: the table then holds pointers, so its spare capacity and the copy made
    /// when it grows cost a few bytes per account instead of a whole state.
    accounts: DashMap<Box<str>, Box<AccountState>, RandomState>,
    /// Hashes of the request ids seen, so a retried record counts once.
    seen: DashSet<u64, RandomState>,
    dict: Dictionary,
    lexicon: Lexicon,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    first_ms: AtomicI64,
    last_ms: AtomicI64,
    /// Privacy mode: no prompt or system prompt text is kept, only what the detector derives.
    privacy: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    pub fn new() -> Self {
        Engine {
            accounts: DashMap::with_hasher(RandomState::default()),
            seen: DashSet::with_hasher(RandomState::default()),
            dict: Dictionary::default(),
            lexicon: Lexicon::new(),
            accepted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            first_ms: AtomicI64::new(i64::MAX),
            last_ms: AtomicI64::new(i64::MIN),
            privacy: false,
        }
    }

    /// An engine that keeps no prompt or system prompt text (privacy mode) when `privacy`.
    pub fn with_privacy(privacy: bool) -> Self {
        Engine {
            privacy,
            ..Engine::new()
        }
    }

    /// What the detector takes from a record's text, for a record about to be reduced (privacy
    /// mode): with the prompt's signature, which cannot be computed once the text is gone.
    pub fn text_features(&self, rec: &Record<'_>) -> TextFeatures {
        TextFeatures::signed(rec, &self.lexicon)
    }

    /// Folds one record into its account's state. Safe to call from many threads.
    pub fn ingest(&self, rec: &Record<'_>) -> Ingested {
        if self.is_duplicate(rec) {
            return Ingested::Duplicate;
        }
        // The text work happens before taking the account's lock.
        let obs = Observation::with_text(rec, TextFeatures::of(rec, &self.lexicon), !self.privacy);
        self.fold(rec, &obs)
    }

    /// [`Engine::ingest`] for a record whose text features were derived already (a reduced
    /// record of privacy mode, whose text is gone, or one about to be reduced).
    pub fn ingest_with(&self, rec: &Record<'_>, text: TextFeatures) -> Ingested {
        if self.is_duplicate(rec) {
            return Ingested::Duplicate;
        }
        let obs = Observation::with_text(rec, text, !self.privacy);
        self.fold(rec, &obs)
    }

    fn is_duplicate(&self, rec: &Record<'_>) -> bool {
        if let Some(id) = &rec.request_id
            && !self.seen.insert(request_hash(id))
        {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn fold(&self, rec: &Record<'_>, obs: &Observation<'_>) -> Ingested {
        match self.accounts.get_mut(rec.account_id.as_ref()) {
            Some(mut state) => state.apply(obs, &self.dict),
            None => self
                .accounts
                .entry(rec.account_id.as_ref().into())
                .or_default()
                .apply(obs, &self.dict),
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.first_ms.fetch_min(rec.ts_ms, Ordering::Relaxed);
        self.last_ms.fetch_max(rec.ts_ms, Ordering::Relaxed);
        Ingested::New
    }

    /// Runs the cross-account stage over every account.
    pub fn detect(&self, cfg: &DetectConfig) -> Vec<Cluster> {
        let guards: Vec<_> = self.accounts.iter().collect();
        let mut views: Vec<AccountView<'_>> = guards
            .iter()
            .map(|g| AccountView {
                id: g.key(),
                state: g.value(),
            })
            .collect();
        views.sort_unstable_by(|a, b| a.id.cmp(b.id));
        detect::detect(&views, &self.dict, cfg)
    }

    /// A copy of the state. Callers keep ingest out while it is taken, so that it matches a
    /// known point of the input.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            format: SNAPSHOT_FORMAT,
            accounts: self
                .accounts
                .iter()
                .map(|e| (e.key().clone(), AccountState::clone(e.value())))
                .collect(),
            seen: self.seen.iter().map(|h| *h).collect(),
            dictionary: self.dict.entries(),
            accepted: self.accepted(),
            duplicates: self.duplicates(),
            first_ms: self.first_ms.load(Ordering::Relaxed),
            last_ms: self.last_ms.load(Ordering::Relaxed),
        }
    }

    /// The engine a snapshot holds; with `privacy`, any prompt text in it (from before privacy
    /// mode was set) is dropped on the way in.
    pub fn from_snapshot(s: Snapshot, privacy: bool) -> Engine {
        let engine = Engine::with_privacy(privacy);
        for (id, mut state) in s.accounts {
            if privacy {
                state.forget_text();
            }
            engine.accounts.insert(id, Box::new(state));
        }
        for h in s.seen {
            engine.seen.insert(h);
        }
        for ((attr, hash), text) in s.dictionary {
            engine.dict.insert(attr, hash, text);
        }
        engine.accepted.store(s.accepted, Ordering::Relaxed);
        engine.duplicates.store(s.duplicates, Ordering::Relaxed);
        engine.first_ms.store(s.first_ms, Ordering::Relaxed);
        engine.last_ms.store(s.last_ms, Ordering::Relaxed);
        if privacy {
            engine.dict.forget_text();
        }
        engine
    }

    /// One account's state and the text of its values, to hand to another engine.
    pub fn export_account(&self, id: &str) -> Option<AccountEntry> {
        let state = self.accounts.get(id)?;
        let held = ATTRS
            .iter()
            .flat_map(|&attr| {
                state.attrs[attr as usize]
                    .iter()
                    .map(move |(h, _)| (attr, h))
            })
            .chain(state.model_since.iter().map(|&(h, _)| (Attr::Model, h)));
        let mut values: Vec<_> = held
            .filter_map(|(attr, h)| Some(((attr, h), self.dict.get(attr, h)?.into_boxed_str())))
            .collect();
        values.sort_unstable();
        values.dedup_by(|a, b| a.0 == b.0);
        Some(AccountEntry {
            state: AccountState::clone(&state),
            values,
        })
    }

    /// Adds an account exported by another engine, which must not already be here. The counters
    /// and time span grow by its requests, so an engine built from the entries of disjoint
    /// accounts equals one that ingested all their records.
    pub fn import_account(&self, id: &str, entry: AccountEntry) {
        let AccountEntry { state, values } = entry;
        for ((attr, hash), text) in values {
            self.dict.insert(attr, hash, text);
        }
        self.accepted
            .fetch_add(u64::from(state.requests), Ordering::Relaxed);
        if state.requests > 0 {
            self.first_ms.fetch_min(state.first_ms, Ordering::Relaxed);
            self.last_ms.fetch_max(state.last_ms, Ordering::Relaxed);
        }
        let old = self.accounts.insert(id.into(), Box::new(state));
        debug_assert!(old.is_none(), "account {id} imported twice");
    }

    /// Remembers request ids (by [`request_hash`]) counted elsewhere, and the duplicates dropped
    /// there, so that they are dropped here too.
    pub fn import_requests(&self, hashes: &[u64], duplicates: u64) {
        for &h in hashes {
            self.seen.insert(h);
        }
        self.duplicates.fetch_add(duplicates, Ordering::Relaxed);
    }

    pub fn has_account(&self, id: &str) -> bool {
        self.accounts.contains_key(id)
    }

    /// Whether a record with this `request_id` was ingested.
    pub fn has_request(&self, request_id: &str) -> bool {
        self.seen.contains(&request_hash(request_id))
    }

    /// One account's activity and the signals of its own traffic.
    pub fn account(&self, id: &str) -> Option<AccountSummary> {
        let state = self.accounts.get(id)?;
        let agg = detect::aggregate::Aggregate::of([&**state.value()]);
        let mut card = detect::score::Scorecard::default();
        detect::score::traffic_signals(&mut card, &agg);
        let (score, signals) = card.finish();
        Some(AccountSummary {
            requests: u64::from(state.requests),
            first_ms: state.first_ms,
            last_ms: state.last_ms,
            score,
            signals,
            examples: state.examples().map(str::to_string).collect(),
            models: {
                let mut since = state.model_since.clone();
                since.sort_by_key(|&(hash, ts)| (ts, hash));
                since
                    .into_iter()
                    .filter_map(|(hash, _)| self.dict.get(crate::features::Attr::Model, hash))
                    .collect()
            },
        })
    }

    /// One account's hourly activity and attribute values; read-only.
    pub fn activity(&self, id: &str) -> Option<Activity> {
        let state = self.accounts.get(id)?;
        let (first, last) = (
            state.first_ms.div_euclid(3_600_000),
            state.last_ms.div_euclid(3_600_000),
        );
        let active_hours = (first.max(last - RING_HOURS + 1)..=last)
            .filter(|h| {
                let slot = h.rem_euclid(RING_HOURS) as usize;
                state.active_hours[slot / 64] & (1 << (slot % 64)) != 0
            })
            .collect();
        let values = detect::index::EVIDENCE_ATTRS
            .iter()
            .flat_map(|&attr| {
                state.attrs[attr as usize]
                    .iter()
                    .filter_map(move |(h, _)| self.dict.get(attr, h).map(|v| (attr.name(), v)))
            })
            .collect();
        Some(Activity {
            requests: u64::from(state.requests),
            first_ms: state.first_ms,
            last_ms: state.last_ms,
            hours_of_day: state.hours,
            active_hours,
            values,
        })
    }

    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// The report's statistics that describe the state: records, duplicates, accounts, time span.
    /// The door fills in what it knows about its inputs.
    pub fn state_stats(&self) -> Stats {
        let span = self.time_span();
        Stats {
            records_accepted: self.accepted(),
            duplicates: self.duplicates(),
            accounts: self.accounts() as u64,
            first_seen: span.map(|s| rfc3339(s.0)),
            last_seen: span.map(|s| rfc3339(s.1)),
            span_hours: span.map_or(0.0, |(a, b)| ((b - a) as f64 / 36_000.0).round() / 100.0),
            ..Stats::default()
        }
    }

    /// First and last record times, when any record was accepted.
    pub fn time_span(&self) -> Option<(i64, i64)> {
        let (a, b) = (
            self.first_ms.load(Ordering::Relaxed),
            self.last_ms.load(Ordering::Relaxed),
        );
        (a <= b).then_some((a, b))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample_lines() -> Vec<Vec<u8>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample.ndjson.gz");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn ingest(engine: &Engine, lines: &[Vec<u8>]) {
        for l in lines {
            engine.ingest(&Record::parse(l).unwrap());
        }
    }

    #[test]
    fn a_snapshot_of_another_layout_is_refused() {
        let engine = Engine::new();
        ingest(&engine, &sample_lines());
        let mut bytes = engine.snapshot().encode();
        assert!(Snapshot::decode(&bytes).is_ok());
        // Before formats were written, a snapshot began with its account count.
        let unversioned = postcard::to_stdvec(&(3u32, 7u64)).unwrap();
        assert!(Snapshot::decode(&unversioned).is_err());
        // A later format is not read as this one.
        let next = postcard::to_stdvec(&(SNAPSHOT_FORMAT + 1)).unwrap();
        bytes.splice(..next.len(), next);
        assert!(Snapshot::decode(&bytes).is_err());
    }

    #[test]
    fn a_restored_snapshot_continues_like_the_original() {
        let lines = sample_lines();
        let (before, after) = lines.split_at(lines.len() / 2);
        let whole = Engine::new();
        ingest(&whole, &lines);

        let first = Engine::new();
        ingest(&first, before);
        let bytes = first.snapshot().encode();
        let restored = Engine::from_snapshot(Snapshot::decode(&bytes).unwrap(), false);
        ingest(&restored, after);
        // A record of the first half posted again is still a duplicate.
        assert_eq!(
            restored.ingest(&Record::parse(&before[0]).unwrap()),
            Ingested::Duplicate
        );

        let cfg = DetectConfig::default();
        let expected = serde_json::to_value(whole.detect(&cfg)).unwrap();
        assert_eq!(
            serde_json::to_value(restored.detect(&cfg)).unwrap(),
            expected
        );
        assert_eq!(restored.accounts(), whole.accounts());
        assert_eq!(restored.accepted(), whole.accepted());
        assert_eq!(restored.duplicates(), whole.duplicates() + 1);
        assert!(Snapshot::decode(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn privacy_mode_keeps_no_text_and_detects_the_same() {
        let lines = sample_lines();
        let (plain, private) = (Engine::new(), Engine::with_privacy(true));
        ingest(&plain, &lines);
        ingest(&private, &lines);
        let cfg = DetectConfig::default();
        let (a, b) = (plain.detect(&cfg), private.detect(&cfg));
        let shape = |cs: &[Cluster]| -> Vec<(String, f64, Vec<String>)> {
            cs.iter()
                .map(|c| (c.id.clone(), c.score, c.accounts.clone()))
                .collect()
        };
        assert!(!a.is_empty());
        assert_eq!(shape(&a), shape(&b));
        assert!(a[0].examples.len() > 1);
        assert!(b.iter().all(|c| c.examples.is_empty()));
        let system = |cs: &[Cluster]| -> Vec<String> {
            cs.iter()
                .flat_map(|c| &c.shared)
                .filter(|s| s.attribute == "system_prompt")
                .map(|s| s.value.clone())
                .collect()
        };
        assert!(
            system(&b).iter().all(|v| v.starts_with('#')),
            "{:?}",
            system(&b)
        );
        assert_eq!(system(&a).len(), system(&b).len());
        // A snapshot written with text loses it when loaded in privacy mode.
        let loaded =
            Engine::from_snapshot(Snapshot::decode(&plain.snapshot().encode()).unwrap(), true);
        assert_eq!(shape(&loaded.detect(&cfg)), shape(&a));
        let member = &a[0].accounts[0];
        assert!(loaded.account(member).unwrap().examples.is_empty());
        assert!(!plain.account(member).unwrap().examples.is_empty());
        assert!(loaded.detect(&cfg).iter().all(|c| {
            c.examples.is_empty()
                && system(std::slice::from_ref(c))
                    .iter()
                    .all(|v| v.starts_with('#'))
        }));
    }

    #[test]
    fn partitioned_engines_merge_into_the_single_engine() {
        let lines = sample_lines();
        let whole = Engine::new();
        ingest(&whole, &lines);
        // Each record goes to the engine of its account's partition, as instances consuming
        // a partitioned topic see them.
        let parts: Vec<Engine> = (0..3).map(|_| Engine::new()).collect();
        let mut ids = std::collections::BTreeSet::new();
        for l in &lines {
            let rec = Record::parse(l).unwrap();
            parts[crate::partition::partition_of(&rec.account_id, 3) as usize].ingest(&rec);
            ids.insert(rec.account_id.to_string());
        }
        assert!(parts.iter().all(|p| p.accounts() > 0));
        let merged = Engine::new();
        for id in &ids {
            let owner = &parts[crate::partition::partition_of(id, 3) as usize];
            let entry = owner.export_account(id).unwrap();
            // Entries cross processes serialized.
            let bytes = postcard::to_stdvec(&entry).unwrap();
            merged.import_account(id, postcard::from_bytes(&bytes).unwrap());
        }
        merged.import_requests(&[], parts.iter().map(Engine::duplicates).sum());
        let cfg = DetectConfig::default();
        let clusters = whole.detect(&cfg);
        assert!(!clusters.is_empty());
        assert_eq!(
            serde_json::to_value(merged.detect(&cfg)).unwrap(),
            serde_json::to_value(clusters).unwrap()
        );
        assert_eq!(merged.state_stats(), whole.state_stats());
        assert!(whole.export_account("nobody").is_none());
    }

    #[test]
    fn activity_lists_active_hours_and_values() {
        let engine = Engine::new();
        // 2026-01-01T00:00:00Z is hour 490,896.
        let base = 1_767_225_600;
        for (i, s) in [7_200, 7_300, 14_400 + 30, 3_600 * 100].iter().enumerate() {
            let line = format!(
                r#"{{"ts":{},"account_id":"a","request_id":"r{i}","ip":"203.0.113.9"}}"#,
                base + s
            );
            engine.ingest(&Record::parse(line.as_bytes()).unwrap());
        }
        let a = engine.activity("a").unwrap();
        assert_eq!(a.requests, 4);
        assert_eq!(a.active_hours, vec![490_898, 490_900, 490_996]);
        assert!(a.values.contains(&("ip", "203.0.113.9".to_string())));
        assert!(
            a.values
                .contains(&("network", "203.0.113.0/24".to_string()))
        );
        assert!(engine.activity("b").is_none());
    }
}
