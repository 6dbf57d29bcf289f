//! The traffic of a group of accounts (or one), summed from their states.

use std::collections::HashMap;

use crate::features::rhythm::{Spread, quiet_share};
use crate::features::sketch::distinct_estimate;
use crate::features::{ATTRS, AccountState, Attr, Cue, VOCAB};

/// Summed counters of a group's members. Shares are taken over the sum, so a
/// busy member weighs by its volume.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    pub members: usize,
    pub requests: u64,
    pub prompts: u64,
    pub cues: [u64; 4],
    pub turn_known: u64,
    pub first_turns: u64,
    pub tokens_known: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub max_tokens_known: u64,
    pub high_max_tokens: u64,
    pub status_known: u64,
    pub rate_limited: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub hours: [u64; 24],
    pub active_hours: [u64; 4],
    /// Members whose creation time is known, and those first used within two days of it.
    pub created_known: usize,
    pub fresh: usize,
    /// Members with 10+ requests, and those sending from a different address on most of them.
    pub ip_known: usize,
    pub rotating: usize,
    /// Per attribute: value hash -> summed request count over members (sampled values only).
    pub values: Vec<HashMap<u64, (usize, u64)>>,
    pub params: HashMap<u64, u64>,
    /// Hourly-count spread pooled over members with [`PACED_MIN_REQUESTS`]+ requests over
    /// [`PACED_MIN_HOURS`]+ hours, and how many they are.
    pub pacing: Spread,
    pub paced: usize,
    /// Requests in each member's quietest six hours of the day, and all requests, over
    /// members with [`NIGHT_MIN_REQUESTS`]+ requests over a day or more.
    pub quiet_requests: f64,
    pub night_requests: u64,
    pub night_members: usize,
    /// The members' content-word sketches merged: the [`VOCAB`] smallest hashes of the union,
    /// and whether any member saw more than it kept.
    pub vocab: Vec<u64>,
    pub vocab_overflowed: bool,
}

/// A member's pacing counts only over enough requests and hours to judge it.
pub const PACED_MIN_REQUESTS: u32 = 8;
pub const PACED_MIN_HOURS: u32 = 4;
/// ... and at a rate of at least one request per two hours: below that, a person's sessions of
/// one or two requests are as scattered over the hours as a Poisson stream's.
pub const PACED_MIN_RATE: f64 = 0.5;
/// A member's day counts only over enough requests for its quiet hours to be empty by chance
/// rarely: a steady stream of 24 leaves a given six hours empty with chance 0.75²⁴ ≈ 10⁻³.
pub const NIGHT_MIN_REQUESTS: u32 = 24;
/// Hours of the quiet window (a night).
pub const NIGHT_HOURS: usize = 6;

const FRESH_MS: i64 = 48 * 3_600_000;

impl Aggregate {
    pub fn of<'a>(states: impl IntoIterator<Item = &'a AccountState>) -> Self {
        let mut a = Aggregate {
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            values: vec![HashMap::new(); ATTRS.len()],
            ..Default::default()
        };
        for s in states {
            a.add(s);
        }
        a
    }

    fn add(&mut self, s: &AccountState) {
        self.members += 1;
        self.requests += u64::from(s.requests);
        self.prompts += u64::from(s.prompts);
        for (i, c) in s.cues.iter().enumerate() {
            self.cues[i] += u64::from(*c);
        }
        self.turn_known += u64::from(s.turn_known);
        self.first_turns += u64::from(s.first_turns);
        self.tokens_known += u64::from(s.tokens_known);
        self.prompt_tokens += s.prompt_tokens;
        self.completion_tokens += s.completion_tokens;
        self.max_tokens_known += u64::from(s.max_tokens_known);
        self.high_max_tokens += u64::from(s.high_max_tokens);
        self.status_known += u64::from(s.status_known);
        self.rate_limited += u64::from(s.rate_limited);
        self.first_ms = self.first_ms.min(s.first_ms);
        self.last_ms = self.last_ms.max(s.last_ms);
        for (h, c) in s.hours.iter().enumerate() {
            self.hours[h] += u64::from(*c);
        }
        for (w, bits) in s.active_hours.iter().enumerate() {
            self.active_hours[w] |= bits;
        }
        if let Some(created) = s.created_ms {
            self.created_known += 1;
            self.fresh += usize::from(s.first_ms - created <= FRESH_MS);
        }
        let ips = &s.attrs[Attr::Ip as usize];
        if s.requests >= 10 && !ips.is_empty() {
            self.ip_known += 1;
            let distinct = ips.distinct();
            self.rotating +=
                usize::from(distinct >= 5.0 && distinct >= 0.3 * f64::from(s.requests));
        }
        for attr in ATTRS {
            let map = &mut self.values[attr as usize];
            for (h, c) in s.attrs[attr as usize].iter() {
                let e = map.entry(h).or_default();
                e.0 += 1;
                e.1 += u64::from(c);
            }
        }
        for (h, c) in s.params.iter() {
            *self.params.entry(h).or_default() += u64::from(c);
        }
        let spread = s.hour_counts.spread(s.first_ms, s.last_ms);
        if s.requests >= PACED_MIN_REQUESTS
            && spread.hours >= PACED_MIN_HOURS
            && f64::from(s.requests) >= PACED_MIN_RATE * f64::from(spread.hours)
        {
            self.paced += 1;
            self.pacing.hours += spread.hours;
            self.pacing.requests += spread.requests;
            self.pacing.squares += spread.squares;
        }
        if s.requests >= NIGHT_MIN_REQUESTS && s.last_ms - s.first_ms >= 24 * 3_600_000 {
            self.night_members += 1;
            self.quiet_requests += quiet_share(&s.hours, NIGHT_HOURS) * f64::from(s.requests);
            self.night_requests += u64::from(s.requests);
        }
        self.vocab_overflowed |= s.vocab.overflowed();
        self.vocab.extend(s.vocab.iter().map(|(h, _)| h));
        self.vocab.sort_unstable();
        self.vocab.dedup();
        if self.vocab.len() > VOCAB {
            self.vocab.truncate(VOCAB);
            self.vocab_overflowed = true;
        }
    }

    /// Estimated distinct content words over the members' prompts: exact while no sketch
    /// overflowed, a KMV estimate from the merged sketch beyond.
    pub fn distinct_words(&self) -> f64 {
        let kth = self.vocab.last().copied().unwrap_or(0);
        distinct_estimate(self.vocab_overflowed, self.vocab.len(), kth)
    }

    pub fn share(&self, cue: Cue) -> f64 {
        frac(self.cues[cue as usize], self.requests)
    }

    /// The value of `attr` held by most members: (hash, members, requests).
    pub fn top_value(&self, attr: Attr) -> Option<(u64, usize, u64)> {
        self.values[attr as usize]
            .iter()
            .map(|(h, (m, r))| (*h, *m, *r))
            .max_by_key(|(h, m, r)| (*m, *r, std::cmp::Reverse(*h)))
    }

    pub fn span_hours(&self) -> f64 {
        if self.last_ms < self.first_ms {
            return 0.0;
        }
        (self.last_ms - self.first_ms) as f64 / 3_600_000.0
    }

    pub fn active_hour_count(&self) -> u32 {
        self.active_hours.iter().map(|w| w.count_ones()).sum()
    }
}

pub fn frac(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
