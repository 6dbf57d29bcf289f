//! Ties between accounts: pair evidence from shared values, and the groups
//! that the strong ties form.
//!
//! A shared value counts for more the rarer it is in the population
//! (specificity), and for more when it is of a kind that unrelated accounts
//! rarely share (a payment method more than a user agent). Related kinds form
//! a group (an IP and its /24 are one piece of evidence, not two), and a pair
//! is tied when its evidence from independent groups is strong enough.

// foldhash: these maps are rebuilt over every account on each run, and SipHash showed in
// the profile; nothing depends on their iteration order.
use foldhash::HashMap;

use crate::features::Attr;

use super::index::{Population, Tie};

/// Independent families of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Network = 0,
    Client,
    Billing,
    Email,
    Content,
    Org,
}

const GROUPS: usize = 6;

/// The group of a tie and the most it can add to a pair's evidence.
pub fn group_and_weight(tie: Tie) -> Option<(Group, f64)> {
    Some(match tie {
        Tie::Attr(Attr::Ip) => (Group::Network, 2.0),
        Tie::Attr(Attr::Net) => (Group::Network, 1.2),
        Tie::Attr(Attr::Tls) => (Group::Client, 1.0),
        Tie::Attr(Attr::UserAgent) => (Group::Client, 0.6),
        Tie::Attr(Attr::Payment) => (Group::Billing, 3.0),
        Tie::Attr(Attr::EmailDomain) => (Group::Email, 0.8),
        Tie::Attr(Attr::SystemPrompt) => (Group::Content, 2.0),
        Tie::Template(_) => (Group::Content, 3.0),
        // Per shared phrase; these add up (see `PHRASE_CAP`).
        Tie::Phrase(_) => (Group::Content, 1.0),
        Tie::Attr(Attr::Org) => (Group::Org, 3.0),
        Tie::Attr(_) => return None,
    })
}

/// How specific a value held by `holders` of `population` accounts is, in [0, 1]:
/// 1 for a value only a pair holds, falling to 0 as it becomes universal.
pub fn specificity(holders: usize, population: usize) -> f64 {
    if holders < 2 || population < 3 {
        return 0.0;
    }
    let n = population as f64;
    ((n / holders as f64).ln() / n.ln()).clamp(0.0, 1.0)
}

/// Posting lists longer than this are not expanded into all pairs; each member
/// is paired with its next `WINDOW` neighbours instead, which keeps the graph
/// connected at linear cost.
const FULL_PAIRS_UP_TO: usize = 64;
const WINDOW: usize = 8;
/// Specificity is measured against at least this many accounts: in a small
/// or young population (the first hours of a stream) a value shared by a
/// hundred accounts is no less telling than in a large one.
const MIN_REFERENCE_POPULATION: usize = 2000;
/// Values held by more than this share of accounts tell nothing about anyone.
const MAX_HOLDER_SHARE: f64 = 0.25;

/// Evidence needed to tie a pair, and what a single group must reach alone.
pub const TIE_THRESHOLD: f64 = 2.0;
const SINGLE_GROUP_THRESHOLD: f64 = 1.5;

/// Shared phrases and prompts add up, to at most this much content evidence:
/// one shared phrase is a coincidence, a handful is a shared script. Only rare
/// ones count (specificity of at least 0.5: held by at most √N accounts), and
/// only when a pair shares several.
const PHRASE_CAP: f32 = 3.0;
const MIN_PHRASE_SPECIFICITY: f64 = 0.5;
const MIN_SHARED_PHRASES: u16 = 2;

/// Evidence for one pair: the strongest tie of each group, plus the sum of shared phrases.
#[derive(Default, Clone, Copy)]
struct PairEvidence {
    groups: [f32; GROUPS],
    phrases: f32,
    phrase_count: u16,
}

impl PairEvidence {
    fn finish(mut self) -> [f32; GROUPS] {
        if self.phrase_count >= MIN_SHARED_PHRASES {
            let c = Group::Content as usize;
            self.groups[c] = self.groups[c].max(self.phrases.min(PHRASE_CAP));
        }
        self.groups
    }
}

/// Calls `f` for the candidate pairs of a list of holders: all pairs up to [`FULL_PAIRS_UP_TO`],
/// each holder with its next [`WINDOW`] neighbours beyond.
pub fn candidate_pairs(list: &[u32], mut f: impl FnMut(u32, u32)) {
    let n = list.len();
    if n <= FULL_PAIRS_UP_TO {
        for i in 0..n {
            for j in i + 1..n {
                f(list[i], list[j]);
            }
        }
    } else {
        for i in 0..n {
            for d in 1..=WINDOW {
                f(list[i], list[(i + d) % n]);
            }
        }
    }
}

/// Pairs of accounts that are tied, from the population's posting lists.
pub fn tied_pairs(pop: &Population) -> Vec<(u32, u32)> {
    let mut evidence: HashMap<(u32, u32), PairEvidence> = HashMap::default();
    let mut keys: Vec<_> = pop.postings.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let members = &pop.postings[&key];
        let Some((group, weight)) = group_and_weight(key.0) else {
            continue;
        };
        if members.len() < 2 || members.len() as f64 > MAX_HOLDER_SHARE * pop.size as f64 {
            continue;
        }
        let spec = specificity(members.len(), pop.size.max(MIN_REFERENCE_POPULATION));
        let e = (weight * spec) as f32;
        let additive = matches!(key.0, Tie::Phrase(_));
        if additive && spec < MIN_PHRASE_SPECIFICITY {
            continue;
        }
        let mut add = |a: u32, b: u32| {
            let pair = if a < b { (a, b) } else { (b, a) };
            let ev = evidence.entry(pair).or_default();
            if additive {
                ev.phrases += e;
                ev.phrase_count += 1;
            } else {
                let slot = &mut ev.groups[group as usize];
                *slot = slot.max(e);
            }
        };
        candidate_pairs(members, &mut add);
    }
    let mut tied: Vec<(u32, u32)> = evidence
        .into_iter()
        .filter(|(_, ev)| is_tie(&ev.finish()))
        .map(|(p, _)| p)
        .collect();
    tied.sort_unstable();
    tied
}

fn is_tie(groups: &[f32; GROUPS]) -> bool {
    let total: f64 = groups.iter().map(|&g| f64::from(g)).sum();
    if total < TIE_THRESHOLD {
        return false;
    }
    let present = groups.iter().filter(|&&g| g >= 0.3).count();
    let strong_alone = [Group::Billing, Group::Content, Group::Org]
        .iter()
        .any(|g| f64::from(groups[*g as usize]) >= SINGLE_GROUP_THRESHOLD);
    present >= 2 || strong_alone
}

/// Disjoint sets with path halving and union by size.
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = self.parent[x as usize];
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }

    /// The groups, each sorted, in order of their smallest member.
    pub fn groups(mut self) -> Vec<Vec<u32>> {
        let n = self.parent.len();
        let mut by_root: HashMap<u32, Vec<u32>> = HashMap::default();
        for i in 0..n as u32 {
            let r = self.find(i);
            by_root.entry(r).or_default().push(i);
        }
        let mut groups: Vec<Vec<u32>> = by_root.into_values().collect();
        groups.sort_unstable_by_key(|g| g[0]);
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specificity_falls_with_popularity() {
        assert!(specificity(2, 1000) > 0.85);
        assert!(specificity(100, 1000) < 0.4);
        assert_eq!(specificity(1000, 1000), 0.0);
        assert_eq!(specificity(1, 1000), 0.0);
    }

    #[test]
    fn a_shared_ip_alone_does_not_tie_but_a_card_does() {
        let mut g = [0f32; GROUPS];
        g[Group::Network as usize] = 1.8;
        assert!(!is_tie(&g));
        g[Group::Client as usize] = 0.4;
        assert!(is_tie(&g));
        let mut g = [0f32; GROUPS];
        g[Group::Billing as usize] = 2.5;
        assert!(is_tie(&g));
    }

    #[test]
    fn union_find_groups() {
        let mut uf = UnionFind::new(6);
        uf.union(0, 3);
        uf.union(3, 5);
        uf.union(1, 2);
        assert_eq!(uf.groups(), vec![vec![0, 3, 5], vec![1, 2], vec![4]]);
    }
}
