//! Inverted indexes over the population: which accounts hold each value.
//!
//! Candidate pairs come only from here (accounts that share something), never
//! from all pairs of accounts.

// foldhash: these maps are rebuilt over every account on each run, and SipHash showed in
// the profile; nothing depends on their iteration order.
use foldhash::HashMap;

use crate::features::text::TEMPLATE_KINDS;
use crate::features::{ATTRS, AccountState, Attr};

use super::{AccountView, Allowlist};

/// Something two accounts can have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tie {
    Attr(Attr),
    /// A prompt template (a prefix or suffix key) that dominates an account's prompts;
    /// the slot says which of the four keys (see `features::text::TEMPLATE_KINDS`).
    Template(u8),
    /// A prefix or suffix key that recurs in at least two of an account's sampled
    /// prompts: phrasing the account reuses around different content, such as a
    /// set of paraphrased wrappers rotated across accounts.
    Phrase(u8),
}

/// Attributes that can tie accounts together. Country and model are too
/// coarse to tie anyone; ASN only shows as evidence.
pub const LINKING_ATTRS: [Attr; 8] = [
    Attr::Ip,
    Attr::Net,
    Attr::UserAgent,
    Attr::Tls,
    Attr::Payment,
    Attr::EmailDomain,
    Attr::Org,
    Attr::SystemPrompt,
];

/// Attributes reported as shared evidence on a cluster.
pub const EVIDENCE_ATTRS: [Attr; 9] = [
    Attr::Payment,
    Attr::Ip,
    Attr::Net,
    Attr::Asn,
    Attr::Tls,
    Attr::UserAgent,
    Attr::EmailDomain,
    Attr::SystemPrompt,
    Attr::Org,
];

/// A value held by two or more accounts. Its holders are `Population::holders_of` it: the
/// run of `members` from its `start` to the next value's.
#[derive(Clone, Copy)]
struct Shared {
    hash: u64,
    start: u32,
    tie: u8,
}

/// Who holds which value, as one array sorted by value rather than a map of lists: most values
/// (addresses above all) have a single holder and tie nobody, so they are dropped once counted,
/// and the rest cost 16 bytes a value plus 4 a holder, with no allocation of their own.
pub struct Population {
    pub size: usize,
    /// Values held by two or more accounts, ascending by (tie, hash) as [`Tie`] orders them.
    values: Vec<Shared>,
    /// Holders of every shared value, value after value, each run ascending.
    members: Vec<u32>,
}

/// One (value, holder) pair while the index is built.
struct Posting {
    hash: u64,
    account: u32,
    tie: u8,
}

impl Population {
    /// Allowlisted values get no posting list, so they create no candidate pairs and count as
    /// held by nobody.
    pub fn build(accounts: &[AccountView<'_>], allow: &Allowlist) -> Self {
        let mut evidence_attrs: Vec<Attr> = LINKING_ATTRS.to_vec();
        evidence_attrs.extend(EVIDENCE_ATTRS);
        evidence_attrs.sort();
        evidence_attrs.dedup();
        // Attribute values are counted first so that the array is allocated once at about its
        // final size (prompt keys add a few more); growing it by doubling would double the peak.
        let attr_postings: usize = accounts
            .iter()
            .map(|a| {
                evidence_attrs
                    .iter()
                    .map(|&attr| a.state.attrs[attr as usize].iter().count())
                    .sum::<usize>()
            })
            .sum();
        let mut postings: Vec<Posting> = Vec::with_capacity(attr_postings + accounts.len());
        for (i, a) in accounts.iter().enumerate() {
            let account = i as u32;
            for &attr in &evidence_attrs {
                for (hash, _) in a.state.attrs[attr as usize].iter() {
                    if !allow.contains(&(attr, hash)) {
                        let tie = tie_code(Tie::Attr(attr));
                        postings.push(Posting { hash, account, tie });
                    }
                }
            }
            let text = recurring_phrases(a.state)
                .into_iter()
                .map(|(slot, key)| (Tie::Phrase(slot), key))
                .chain(
                    dominant_templates(a.state)
                        .into_iter()
                        .map(|(slot, key)| (Tie::Template(slot), key)),
                );
            for (tie, hash) in text {
                let tie = tie_code(tie);
                postings.push(Posting { hash, account, tie });
            }
        }
        postings.sort_unstable_by_key(|p| (p.tie, p.hash, p.account));
        let mut values = Vec::new();
        let mut members = Vec::new();
        for run in postings.chunk_by(|a, b| (a.tie, a.hash) == (b.tie, b.hash)) {
            if run.len() < 2 {
                continue;
            }
            values.push(Shared {
                hash: run[0].hash,
                start: offset(members.len()),
                tie: run[0].tie,
            });
            members.extend(run.iter().map(|p| p.account));
        }
        drop(postings);
        values.shrink_to_fit();
        members.shrink_to_fit();
        Population {
            size: accounts.len(),
            values,
            members,
        }
    }

    /// How many accounts hold a value: exact for a value held by two or more, 0 for one held by
    /// a single account (never asked: evidence is what at least two members hold).
    pub fn holders(&self, tie: Tie, hash: u64) -> usize {
        let key = (tie_code(tie), hash);
        self.values
            .binary_search_by_key(&key, |v| (v.tie, v.hash))
            .map_or(0, |v| self.holders_of(v).len())
    }

    /// Number of values held by two or more accounts.
    pub fn shared_values(&self) -> usize {
        self.values.len()
    }

    /// The `v`-th shared value (in (tie, hash) order) and its holders, ascending.
    pub fn shared(&self, v: usize) -> (Tie, u64, &[u32]) {
        let value = self.values[v];
        (tie_of(value.tie), value.hash, self.holders_of(v))
    }

    fn holders_of(&self, v: usize) -> &[u32] {
        let start = self.values[v].start as usize;
        let end = self
            .values
            .get(v + 1)
            .map_or(self.members.len(), |next| next.start as usize);
        &self.members[start..end]
    }
}

/// Holders are indexed by u32, as accounts are.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 (value, holder) pairs")
}

/// A tie as one byte, in the order `Tie` sorts: attributes, then templates, then phrases.
fn tie_code(tie: Tie) -> u8 {
    let attrs = ATTRS.len() as u8;
    match tie {
        Tie::Attr(a) => a as u8,
        Tie::Template(slot) => attrs + slot,
        Tie::Phrase(slot) => attrs + TEMPLATE_SLOTS + slot,
    }
}

fn tie_of(code: u8) -> Tie {
    let attrs = ATTRS.len() as u8;
    if code < attrs {
        Tie::Attr(ATTRS[code as usize])
    } else if code < attrs + TEMPLATE_SLOTS {
        Tie::Template(code - attrs)
    } else {
        Tie::Phrase(code - attrs - TEMPLATE_SLOTS)
    }
}

/// Template keys per prompt.
const TEMPLATE_SLOTS: u8 = TEMPLATE_KINDS.len() as u8;

/// Template keys that recur in at least 40 % (and 3) of an account's sampled prompts.
pub fn dominant_templates(state: &AccountState) -> Vec<(u8, u64)> {
    let n = state.sample.len();
    if n < 3 {
        return Vec::new();
    }
    keys_seen_at_least(state, 3.max((n * 2).div_ceil(5)))
}

/// Keys that recur in at least two of an account's prompts: those of its sampled
/// prompts, and the 4-word prefix and suffix keys it keeps with their counts, over all its
/// prompts and over its reasoning prompts.
pub fn recurring_phrases(state: &AccountState) -> Vec<(u8, u64)> {
    let mut out = keys_seen_at_least(state, 2);
    for (end, slot) in [(0usize, 0u8), (1, 2)] {
        let all = state.phrases[end].iter();
        let reasoning = state.reasoning_phrases[end].iter();
        out.extend(
            all.chain(reasoning)
                .filter(|&(_, count)| count >= 2)
                .map(|(k, _)| (slot, k)),
        );
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn keys_seen_at_least(state: &AccountState, need: usize) -> Vec<(u8, u64)> {
    let mut counts: HashMap<(u8, u64), usize> = HashMap::default();
    for s in state.sample.iter() {
        for (slot, &k) in s.keys.iter().enumerate() {
            if k != 0 {
                *counts.entry((slot as u8, k)).or_default() += 1;
            }
        }
    }
    let mut out: Vec<(u8, u64)> = counts
        .into_iter()
        .filter(|&(_, c)| c >= need)
        .map(|(k, _)| k)
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{AccountState, Dictionary, Lexicon, Observation};
    use crate::record::Record;

    #[test]
    fn a_reasoning_wrapper_recurs_among_many_one_off_prompts() {
        let lex = Lexicon::new();
        let dict = Dictionary::default();
        let mut state = AccountState::default();
        let mut add = |prompt: String| {
            let line = format!(r#"{{"ts":1772366400,"account_id":"a","prompt":"{prompt}"}}"#);
            let rec = Record::parse(line.as_bytes()).unwrap();
            state.apply(&Observation::of(&rec, &lex), &dict);
        };
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
        ];
        let one_off = |i: usize| {
            let w: Vec<&str> = (0..6).map(|k| words[(i / 7usize.pow(k)) % 7]).collect();
            w.join(" ")
        };
        // Camouflage: one-off questions whose keys outnumber the wrapper's many times over.
        for i in 0..300 {
            add(format!("{} what do you make of it", one_off(i)));
        }
        let wrapped = |i: usize| format!("Please go through this step by step: {}", one_off(i));
        for i in 0..5 {
            add(wrapped(1000 + i));
        }
        let key = crate::features::text::analyze(&wrapped(0), &lex).keys[0];
        assert!(
            !state.phrases[0].iter().any(|(k, _)| k == key),
            "crowded out of the sketch over all prompts"
        );
        assert!(recurring_phrases(&state).contains(&(0, key)));
    }

    #[test]
    fn allowlisted_values_have_no_postings() {
        let mut state = AccountState::default();
        state.attrs[Attr::Net as usize].add(7);
        state.attrs[Attr::Payment as usize].add(9);
        let views = [
            AccountView {
                id: "a",
                state: &state,
            },
            AccountView {
                id: "b",
                state: &state,
            },
        ];
        let pop = Population::build(&views, &Allowlist::new());
        assert_eq!(pop.holders(Tie::Attr(Attr::Net), 7), 2);
        let allow = Allowlist::from([(Attr::Net, 7)]);
        let pop = Population::build(&views, &allow);
        assert_eq!(pop.holders(Tie::Attr(Attr::Net), 7), 0);
        assert_eq!(pop.holders(Tie::Attr(Attr::Payment), 9), 2);
    }
}
