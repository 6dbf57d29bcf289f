//! The traffic of a group of accounts (or one), summed from their states.

use std::collections::HashMap;

use crate::features::{ATTRS, AccountState, Attr, Cue};

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
}

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
