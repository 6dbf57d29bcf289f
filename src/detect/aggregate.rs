//! The traffic of a group of accounts (or one), summed from their states.

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
    /// Values the members hold (sampled values only), by attribute and then hash, each once
    /// with its holders and summed request count. One sorted array rather than a map per
    /// attribute: most groups are a single account, whose sketches are already in this order.
    values: Vec<HeldValue>,
    /// Parameter sets (hash, summed request count), by hash.
    params: Vec<(u64, u64)>,
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

/// A value held by members of a group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldValue {
    pub attr: Attr,
    pub hash: u64,
    /// Members holding it.
    pub holders: usize,
    /// Their requests with it.
    pub requests: u64,
}

impl Aggregate {
    pub fn of<'a>(states: impl IntoIterator<Item = &'a AccountState>) -> Self {
        let mut a = Aggregate {
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            ..Default::default()
        };
        for s in states {
            a.add(s);
        }
        if a.members > 1 {
            a.values.sort_unstable_by_key(|v| (v.attr, v.hash));
            a.values.dedup_by(|next, kept| {
                let same = (next.attr, next.hash) == (kept.attr, kept.hash);
                if same {
                    kept.holders += next.holders;
                    kept.requests += next.requests;
                }
                same
            });
            a.params.sort_unstable_by_key(|&(h, _)| h);
            a.params.dedup_by(|next, kept| {
                let same = next.0 == kept.0;
                if same {
                    kept.1 += next.1;
                }
                same
            });
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
        // Each sketch is sorted by hash and attributes come in order: a single member's values
        // need no sorting (see `of`).
        for attr in ATTRS {
            self.values
                .extend(s.attrs[attr as usize].iter().map(|(hash, c)| HeldValue {
                    attr,
                    hash,
                    holders: 1,
                    requests: u64::from(c),
                }));
        }
        self.params
            .extend(s.params.iter().map(|(h, c)| (h, u64::from(c))));
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

    /// The values of `attr` the members hold, by hash.
    pub fn values(&self, attr: Attr) -> &[HeldValue] {
        let from = self.values.partition_point(|v| v.attr < attr);
        let to = self.values.partition_point(|v| v.attr <= attr);
        &self.values[from..to]
    }

    /// The value of `attr` held by most members: (hash, members, requests).
    pub fn top_value(&self, attr: Attr) -> Option<(u64, usize, u64)> {
        self.values(attr)
            .iter()
            .map(|v| (v.hash, v.holders, v.requests))
            .max_by_key(|(h, m, r)| (*m, *r, std::cmp::Reverse(*h)))
    }

    /// Requests of the parameter set most requests used.
    pub fn top_params_requests(&self) -> Option<u64> {
        self.params.iter().map(|&(_, c)| c).max()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_values_are_merged_with_their_holders_and_requests() {
        let mut states = vec![AccountState::default(); 3];
        for (s, ips) in states.iter_mut().zip([[9, 4, 4], [4, 7, 7], [9, 9, 4]]) {
            for ip in ips {
                s.attrs[Attr::Ip as usize].add(ip);
            }
            s.attrs[Attr::Payment as usize].add(1);
            s.params.add(5);
        }
        states[2].params.add(6);
        let agg = Aggregate::of(&states);
        let ips: Vec<(u64, usize, u64)> = agg
            .values(Attr::Ip)
            .iter()
            .map(|v| (v.hash, v.holders, v.requests))
            .collect();
        assert_eq!(ips, vec![(4, 3, 4), (7, 1, 2), (9, 2, 3)]);
        assert_eq!(agg.top_value(Attr::Ip), Some((4, 3, 4)));
        assert_eq!(agg.top_value(Attr::Payment), Some((1, 3, 3)));
        assert_eq!(agg.top_value(Attr::Tls), None);
        assert_eq!(agg.top_params_requests(), Some(3));
        // A single account's values come straight from its sketches, in the same order.
        let one = Aggregate::of(&states[..1]);
        assert_eq!(one.top_value(Attr::Ip), Some((4, 1, 2)));
        assert_eq!(one.values(Attr::Ip).len(), 2);
    }
}
