//! The engine both doors share: it owns the account states and runs ingest and detection.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::{DashMap, DashSet};
use foldhash::fast::RandomState;
use xxhash_rust::xxh3::xxh3_64;

use crate::detect::{self, AccountView, DetectConfig};
use crate::features::{AccountState, Dictionary, Lexicon, Observation};
use crate::record::Record;
use crate::report::Cluster;

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
        }
    }

    /// Folds one record into its account's state. Safe to call from many threads.
    pub fn ingest(&self, rec: &Record<'_>) -> Ingested {
        if let Some(id) = &rec.request_id
            && !self.seen.insert(xxh3_64(id.as_bytes()))
        {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return Ingested::Duplicate;
        }
        // The text work happens before taking the account's lock.
        let obs = Observation::of(rec, &self.lexicon);
        match self.accounts.get_mut(rec.account_id.as_ref()) {
            Some(mut state) => state.apply(&obs, &self.dict),
            None => self
                .accounts
                .entry(rec.account_id.as_ref().into())
                .or_default()
                .apply(&obs, &self.dict),
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

    pub fn has_account(&self, id: &str) -> bool {
        self.accounts.contains_key(id)
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

    /// First and last record times, when any record was accepted.
    pub fn time_span(&self) -> Option<(i64, i64)> {
        let (a, b) = (
            self.first_ms.load(Ordering::Relaxed),
            self.last_ms.load(Ordering::Relaxed),
        );
        (a <= b).then_some((a, b))
    }
}
