//! Inverted indexes over the population: which accounts hold each value.
//!
//! Candidate pairs come only from here (accounts that share something), never
//! from all pairs of accounts.

// foldhash: these maps are rebuilt over every account on each run, and SipHash showed in
// the profile; nothing depends on their iteration order.
use foldhash::HashMap;

use crate::features::{AccountState, Attr};

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

pub struct Population {
    pub size: usize,
    /// (tie, value hash) -> indices of the accounts holding it, ascending.
    pub postings: HashMap<(Tie, u64), Vec<u32>>,
    /// Per account: its dominant templates as (slot, key).
    pub templates: Vec<Vec<(u8, u64)>>,
}

impl Population {
    /// Allowlisted values get no posting list, so they create no candidate pairs and count as
    /// held by nobody.
    pub fn build(accounts: &[AccountView<'_>], allow: &Allowlist) -> Self {
        let mut postings: HashMap<(Tie, u64), Vec<u32>> = HashMap::default();
        let mut templates = Vec::with_capacity(accounts.len());
        let mut evidence_attrs: Vec<Attr> = LINKING_ATTRS.to_vec();
        evidence_attrs.extend(EVIDENCE_ATTRS);
        evidence_attrs.sort();
        evidence_attrs.dedup();
        for (i, a) in accounts.iter().enumerate() {
            let i = i as u32;
            for &attr in &evidence_attrs {
                for (h, _) in a.state.attrs[attr as usize].iter() {
                    if allow.contains(&(attr, h)) {
                        continue;
                    }
                    postings.entry((Tie::Attr(attr), h)).or_default().push(i);
                }
            }
            for (slot, key) in recurring_phrases(a.state) {
                postings
                    .entry((Tie::Phrase(slot), key))
                    .or_default()
                    .push(i);
            }
            let dom = dominant_templates(a.state);
            for &(slot, key) in &dom {
                postings
                    .entry((Tie::Template(slot), key))
                    .or_default()
                    .push(i);
            }
            templates.push(dom);
        }
        Population {
            size: accounts.len(),
            postings,
            templates,
        }
    }

    /// How many accounts hold a value.
    pub fn holders(&self, tie: Tie, hash: u64) -> usize {
        self.postings.get(&(tie, hash)).map_or(0, Vec::len)
    }
}

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
