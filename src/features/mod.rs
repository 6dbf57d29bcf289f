//! Per-account state: everything the detector keeps about one account.
//!
//! An account's state is updated one record at a time and stays bounded in
//! size whatever the account's volume: counters, hour histograms, and the
//! order-independent sketches of [`sketch`]. The work that needs no lock
//! (parsing text, hashing attributes) happens in [`Observation::of`]; applying
//! an observation to the state is cheap.

pub mod attrs;
pub mod lexicon;
pub mod minhash;
pub mod rhythm;
pub mod sketch;
pub mod text;

use dashmap::DashMap;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::record::Record;
pub use attrs::{ATTRS, Attr};
pub use lexicon::{CUES, Cue, Lexicon};
use minhash::Signature;
use rhythm::HourCounts;
use sketch::{BottomK, TopValues};
pub use text::PromptFeatures;

/// Distinct values kept per attribute per account.
pub const VALUES_PER_ATTR: usize = 4;
/// Prompts sampled per account for templates and examples.
pub const PROMPT_SAMPLE: usize = 16;
/// Sampled prompts whose text is kept as evidence.
pub const EXAMPLES: usize = 3;
const EXAMPLE_CHARS: usize = 240;
/// Distinct 4-word prefix and suffix keys kept per account, with their counts.
pub const PHRASES_PER_END: usize = 12;
/// Distinct prefix and suffix keys of reasoning prompts kept per account, with their counts.
pub const REASONING_PHRASES_PER_END: usize = 8;
/// Content-word hashes kept per account: a distinct count of the words it used.
pub const VOCAB: usize = 16;
/// Models whose first use is remembered per account.
pub const MODELS_TRACKED: usize = 4;
/// `max_tokens` at or above this counts as a high output cap.
pub const HIGH_MAX_TOKENS: u64 = 4000;

/// What the detector takes from a record's prompt and system prompt. In privacy mode it is all
/// that is kept of the text: a record is reduced to it before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct TextFeatures {
    pub prompt: Option<PromptFeatures>,
    /// The system prompt's value hash, as [`attrs::value_hash`] gives it.
    pub system_prompt: Option<u64>,
    pub system_cues: u8,
    /// The prompt's near-duplicate signature, for a record about to lose its text ([`Self::signed`]);
    /// otherwise it is computed only if the account's sample admits the prompt. Not in this
    /// struct's own serialised form, which older stored records have: the reduced record stores
    /// it after (see `record::reduced`).
    #[serde(skip)]
    pub prompt_signature: Option<Signature>,
}

impl TextFeatures {
    pub fn of(record: &Record<'_>, lexicon: &Lexicon) -> Self {
        let system = record
            .system_prompt
            .as_deref()
            .map(|s| (s, attrs::value_hash(Attr::SystemPrompt, s.as_bytes())));
        TextFeatures {
            prompt: record.prompt.as_deref().map(|p| text::analyze(p, lexicon)),
            system_prompt: system.map(|(_, h)| h),
            // A client sends the same system prompt with every request.
            system_cues: system.map_or(0, |(s, h)| lexicon.cues_repeated(h, s)),
            prompt_signature: None,
        }
    }

    /// [`Self::of`] with the prompt's signature, for a record whose text is about to be dropped.
    pub fn signed(record: &Record<'_>, lexicon: &Lexicon) -> Self {
        TextFeatures {
            prompt_signature: record.prompt.as_deref().and_then(Signature::of),
            ..Self::of(record, lexicon)
        }
    }
}

/// What one record tells about its account, computed without holding any lock.
pub struct Observation<'r> {
    pub record: &'r Record<'r>,
    pub prompt: Option<PromptFeatures>,
    pub system_cues: u8,
    pub attrs: Vec<(Attr, u64)>,
    /// Hash of (temperature, max_tokens): the client's fixed parameters.
    pub params: Option<u64>,
    pub signature: Option<Signature>,
    /// Whether the record's prompt text may be kept as evidence (not in privacy mode).
    pub keep_text: bool,
}

impl<'r> Observation<'r> {
    pub fn of(record: &'r Record<'r>, lexicon: &Lexicon) -> Self {
        Self::with_text(record, TextFeatures::of(record, lexicon), true)
    }

    /// The observation of a record whose text features are already known; `keep_text` false
    /// keeps no text of it (and a reduced record has none).
    pub fn with_text(record: &'r Record<'r>, text: TextFeatures, keep_text: bool) -> Self {
        let params = (record.temperature.is_some() || record.max_tokens.is_some()).then(|| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&record.temperature.unwrap_or(-1.0).to_le_bytes());
            b[8..].copy_from_slice(&record.max_tokens.unwrap_or(u64::MAX).to_le_bytes());
            xxh3_64_with_seed(&b, 77)
        });
        let mut attrs = attrs::hashes_of(record);
        if let Some(h) = text.system_prompt {
            attrs.push((Attr::SystemPrompt, h));
        }
        Observation {
            record,
            prompt: text.prompt,
            system_cues: text.system_cues,
            attrs,
            params,
            signature: text.prompt_signature,
            keep_text,
        }
    }
}

/// A prompt kept in an account's sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampledPrompt {
    pub keys: [u64; 4],
    pub cues: u8,
    /// Near-duplicate signature (32 bytes), for prompts of [`minhash::MIN_WORDS`] words or more.
    pub signature: Option<Signature>,
    /// Text of the prompt, kept only for the first [`EXAMPLES`] of the sample.
    pub example: Option<Box<str>>,
}

/// Display text of attribute values and templates, shared by all accounts
/// (a popular value is stored once).
#[derive(Default)]
pub struct Dictionary {
    values: DashMap<(Attr, u64), Box<str>, foldhash::fast::RandomState>,
}

impl Dictionary {
    pub fn get(&self, attr: Attr, hash: u64) -> Option<String> {
        self.values.get(&(attr, hash)).map(|v| v.to_string())
    }

    /// Remembers how a value reads. A system prompt whose text is not kept reads as its hash.
    fn remember(&self, attr: Attr, hash: u64, rec: &Record<'_>, keep_text: bool) {
        if self.values.contains_key(&(attr, hash)) {
            return;
        }
        let text = match attr {
            Attr::SystemPrompt if !keep_text => None,
            _ => attrs::display_of(attr, rec),
        };
        let text = text.unwrap_or_else(|| hash_display(hash));
        self.values.insert((attr, hash), text.into_boxed_str());
    }

    /// Replaces the text of every system prompt with its hash (privacy mode over a state that
    /// was built with text).
    pub fn forget_text(&self) {
        for mut e in self.values.iter_mut() {
            if e.key().0 == Attr::SystemPrompt {
                *e.value_mut() = hash_display(e.key().1).into_boxed_str();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Every remembered value, for a snapshot.
    pub fn entries(&self) -> Vec<((Attr, u64), Box<str>)> {
        self.values
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// Restores a value from a snapshot.
    pub fn insert(&self, attr: Attr, hash: u64, text: Box<str>) {
        self.values.insert((attr, hash), text);
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// How a value without display text reads: its hash.
pub fn hash_display(hash: u64) -> String {
    format!("#{hash:016x}")
}

/// Everything kept about one account. All fields combine commutatively, so the
/// state does not depend on the order records arrive in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountState {
    pub requests: u32,
    pub first_ms: i64,
    pub last_ms: i64,
    pub created_ms: Option<i64>,
    /// Requests per hour of the day (UTC).
    pub hours: [u32; 24],
    /// Distinct absolute hours with activity, as a bitmap of hour index mod 256.
    pub active_hours: [u64; 4],
    pub prompts: u32,
    /// Requests whose prompt or system prompt carries each cue (indexed by [`Cue`]).
    pub cues: [u32; 4],
    pub turn_known: u32,
    pub first_turns: u32,
    pub max_turn: u32,
    pub tokens_known: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub max_tokens_known: u32,
    pub high_max_tokens: u32,
    pub status_known: u32,
    pub rate_limited: u32,
    pub attrs: [TopValues<VALUES_PER_ATTR>; ATTRS.len()],
    pub params: TopValues<VALUES_PER_ATTR>,
    pub sample: BottomK<SampledPrompt, PROMPT_SAMPLE>,
    /// The 4-word prefix (index 0) and suffix (index 1) keys with the smallest
    /// hashes, counted over all prompts. Accounts that wrap content in the same
    /// phrases keep the same keys here (coordinated sampling), with counts above 1.
    pub phrases: [TopValues<PHRASES_PER_END>; 2],
    /// The same keys drawn only from prompts that ask for step-by-step reasoning. A wrapper
    /// around harvested questions survives here however many one-off prompts (camouflage,
    /// ordinary use) the account also sends, which crowd it out of `phrases`.
    pub reasoning_phrases: [TopValues<REASONING_PHRASES_PER_END>; 2],
    /// When the account first used each model: the [`MODELS_TRACKED`] earliest
    /// (model hash, time) pairs, so a later switch to a new model shows.
    pub model_since: Vec<(u64, i64)>,
    /// Requests per absolute hour: how steadily the account sends (see [`rhythm`]).
    pub hour_counts: HourCounts,
    /// The [`VOCAB`] smallest content-word hashes over all prompts: how many distinct
    /// subjects the account's prompts range over (a KMV distinct count).
    pub vocab: TopValues<VOCAB>,
}

impl Default for AccountState {
    fn default() -> Self {
        AccountState {
            requests: 0,
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            created_ms: None,
            hours: [0; 24],
            active_hours: [0; 4],
            prompts: 0,
            cues: [0; 4],
            turn_known: 0,
            first_turns: 0,
            max_turn: 0,
            tokens_known: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            max_tokens_known: 0,
            high_max_tokens: 0,
            status_known: 0,
            rate_limited: 0,
            attrs: Default::default(),
            params: Default::default(),
            sample: Default::default(),
            phrases: Default::default(),
            reasoning_phrases: Default::default(),
            model_since: Vec::new(),
            hour_counts: HourCounts::default(),
            vocab: TopValues::default(),
        }
    }
}

impl AccountState {
    /// Folds one observation into the state.
    pub fn apply(&mut self, obs: &Observation<'_>, dict: &Dictionary) {
        let rec = obs.record;
        self.requests = self.requests.saturating_add(1);
        self.first_ms = self.first_ms.min(rec.ts_ms);
        self.last_ms = self.last_ms.max(rec.ts_ms);
        if let Some(c) = rec.account_created_ms {
            self.created_ms = Some(self.created_ms.map_or(c, |m| m.min(c)));
        }
        let hour_index = rec.ts_ms.div_euclid(3_600_000);
        self.hours[hour_index.rem_euclid(24) as usize] += 1;
        let slot = hour_index.rem_euclid(256) as usize;
        self.active_hours[slot / 64] |= 1 << (slot % 64);
        self.hour_counts.add(rec.ts_ms);

        let mut cues = obs.system_cues;
        if let Some(p) = &obs.prompt {
            self.prompts += 1;
            cues |= p.cues;
            for &w in p.vocab.iter().take_while(|&&w| w != 0) {
                self.vocab.add(w);
            }
            for (end, slot) in [(0, 0), (1, 2)] {
                if p.keys[slot] != 0 {
                    self.phrases[end].add(p.keys[slot]);
                    if p.cues & Cue::Reasoning.bit() != 0 {
                        self.reasoning_phrases[end].add(p.keys[slot]);
                    }
                }
            }
            let position = self.sample.keys().take_while(|k| *k < p.hash).count();
            let text = rec.prompt.as_deref().filter(|_| obs.keep_text);
            let admitted = self.sample.offer(p.hash, || SampledPrompt {
                keys: p.keys,
                cues: p.cues,
                // Signed here, not per record: only admitted prompts keep a signature.
                signature: obs
                    .signature
                    .or_else(|| rec.prompt.as_deref().and_then(Signature::of)),
                example: text
                    .filter(|_| position < EXAMPLES)
                    .map(|t| text::excerpt(t, EXAMPLE_CHARS).into()),
            });
            // Texts are kept for the first EXAMPLES only; an item pushed past them drops its text.
            // (An item ends among the first EXAMPLES only if it was there when admitted.)
            if admitted && position < EXAMPLES {
                for s in self.sample.tail_mut(EXAMPLES) {
                    s.example = None;
                }
            }
        }
        for cue in CUES {
            if cues & cue.bit() != 0 {
                self.cues[cue as usize] += 1;
            }
        }
        if let Some(turn) = rec.turn {
            self.turn_known += 1;
            self.first_turns += u32::from(turn == 1);
            self.max_turn = self.max_turn.max(turn);
        }
        if rec.prompt_tokens.is_some() || rec.completion_tokens.is_some() {
            self.tokens_known += 1;
            self.prompt_tokens += rec.prompt_tokens.unwrap_or(0);
            self.completion_tokens += rec.completion_tokens.unwrap_or(0);
        }
        if let Some(m) = rec.max_tokens {
            self.max_tokens_known += 1;
            self.high_max_tokens += u32::from(m >= HIGH_MAX_TOKENS);
        }
        if let Some(s) = rec.status {
            self.status_known += 1;
            self.rate_limited += u32::from(s == 429);
        }
        for &(attr, hash) in &obs.attrs {
            if self.attrs[attr as usize].add(hash) {
                dict.remember(attr, hash, rec, obs.keep_text);
            }
            if attr == Attr::Model {
                self.note_model(hash, rec.ts_ms);
            }
        }
        if let Some(p) = obs.params {
            self.params.add(p);
        }
    }

    /// Keeps the earliest first use of the [`MODELS_TRACKED`] earliest-used
    /// models, whatever order the records come in.
    fn note_model(&mut self, model: u64, ts: i64) {
        if let Some(e) = self.model_since.iter_mut().find(|e| e.0 == model) {
            e.1 = e.1.min(ts);
        } else if self.model_since.len() < MODELS_TRACKED {
            self.model_since.push((model, ts));
        } else if let Some(latest) = self.model_since.iter_mut().max_by_key(|e| (e.1, e.0))
            && (ts, model) < (latest.1, latest.0)
        {
            *latest = (model, ts);
        }
    }

    /// Share of requests carrying a cue.
    pub fn cue_share(&self, cue: Cue) -> f64 {
        ratio(self.cues[cue as usize], self.requests)
    }

    pub fn active_hour_count(&self) -> u32 {
        self.active_hours.iter().map(|w| w.count_ones()).sum()
    }

    /// Drops every example prompt's text (privacy mode over a state that was built with text).
    pub fn forget_text(&mut self) {
        for s in self.sample.tail_mut(0) {
            s.example = None;
        }
    }

    /// Example prompts kept as evidence.
    pub fn examples(&self) -> impl Iterator<Item = &str> {
        self.sample.iter().filter_map(|s| s.example.as_deref())
    }
}

pub fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> Record<'_> {
        Record::parse(json.as_bytes()).unwrap()
    }

    fn state_of(lines: &[String]) -> AccountState {
        let lex = Lexicon::new();
        let dict = Dictionary::default();
        let mut st = AccountState::default();
        for l in lines {
            let r = rec(l);
            st.apply(&Observation::of(&r, &lex), &dict);
        }
        st
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"ts":{},"account_id":"a","ip":"10.0.{}.{}","prompt":"Question {i}: explain step by step why the sky looks blue at noon today {i}","turn":1,"max_tokens":8192,"status":{}}}"#,
                    1_772_366_400 + i * 97,
                    i % 7,
                    i % 250,
                    if i % 10 == 0 { 429 } else { 200 }
                )
            })
            .collect()
    }

    #[test]
    fn state_is_independent_of_record_order() {
        let l = lines(300);
        let mut r = l.clone();
        r.reverse();
        assert_eq!(state_of(&l), state_of(&r));
    }

    #[test]
    fn state_stays_bounded_whatever_the_volume() {
        let small = state_of(&lines(50));
        let big = state_of(&lines(5000));
        assert_eq!(big.sample.len(), PROMPT_SAMPLE);
        assert!(big.attrs[Attr::Ip as usize].iter().count() <= VALUES_PER_ATTR);
        assert_eq!(big.examples().count(), EXAMPLES);
        assert_eq!(small.examples().count(), EXAMPLES);
        assert_eq!(big.requests, 5000);
        assert!(big.vocab.iter().count() <= VOCAB);
        // Every sampled prompt is signed, and the signature is its only growth: 40 bytes.
        assert!(big.sample.iter().all(|s| s.signature.is_some()));
        assert!(std::mem::size_of::<SampledPrompt>() <= 56 + 40);
    }

    #[test]
    fn counters_follow_the_records() {
        let st = state_of(&lines(100));
        assert_eq!(st.cue_share(Cue::Reasoning), 1.0);
        assert_eq!(st.first_turns, 100);
        assert_eq!(st.high_max_tokens, 100);
        assert_eq!(st.rate_limited, 10);
        assert_eq!(st.last_ms - st.first_ms, 99 * 97 * 1000);
    }
}
