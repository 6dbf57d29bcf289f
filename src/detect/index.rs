//! Inverted indexes over the population: which accounts hold each value.
//!
//! Candidate pairs come only from here (accounts that share something), never
//! from all pairs of accounts.

use std::collections::HashMap;

use crate::features::{AccountState, Attr};

use super::AccountView;

/// Something two accounts can have in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tie {
    Attr(Attr),
    /// A prompt template (a prefix or suffix key) that dominates an account's prompts;
    /// the slot says which of the four keys (see `features::text::TEMPLATE_KINDS`).
    Template(u8),
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
    pub fn build(accounts: &[AccountView<'_>]) -> Self {
        let mut postings: HashMap<(Tie, u64), Vec<u32>> = HashMap::new();
        let mut templates = Vec::with_capacity(accounts.len());
        let mut evidence_attrs: Vec<Attr> = LINKING_ATTRS.to_vec();
        evidence_attrs.extend(EVIDENCE_ATTRS);
        evidence_attrs.sort();
        evidence_attrs.dedup();
        for (i, a) in accounts.iter().enumerate() {
            let i = i as u32;
            for &attr in &evidence_attrs {
                for (h, _) in a.state.attrs[attr as usize].iter() {
                    postings.entry((Tie::Attr(attr), h)).or_default().push(i);
                }
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

/// Template keys that recur in at least 40 % of an account's sampled prompts (and at least 3).
pub fn dominant_templates(state: &AccountState) -> Vec<(u8, u64)> {
    let n = state.sample.len();
    if n < 3 {
        return Vec::new();
    }
    let need = 3.max((n * 2).div_ceil(5));
    let mut counts: HashMap<(u8, u64), usize> = HashMap::new();
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
    out.sort();
    out
}
