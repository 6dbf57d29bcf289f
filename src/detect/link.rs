//! Ties between accounts: pair evidence from shared values, and the groups
//! that the strong ties form.
//!
//! A shared value counts for more the rarer it is in the population
//! (specificity), and for more when it is of a kind that unrelated accounts
//! rarely share (a payment method more than a user agent). Related kinds form
//! a group (an IP and its /24 are one piece of evidence, not two), and a pair
//! is tied when its evidence from independent groups is strong enough.

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

/// A shared value that can tie its holders, and what it adds to a pair's evidence.
struct Link {
    /// Index of the value in the population.
    value: u32,
    evidence: f32,
    group: Group,
    /// Shared phrases add up; every other kind counts its strongest value.
    additive: bool,
}

/// The values that can tie, and for each account the ones it holds.
struct Links {
    links: Vec<Link>,
    /// Run `a` lists the indices into `links` of the values account `a` holds, in (tie, hash)
    /// order.
    held: Runs,
}

impl Links {
    fn of(pop: &Population) -> Self {
        let reference = pop.size.max(MIN_REFERENCE_POPULATION);
        let links: Vec<Link> = (0..pop.shared_values())
            .filter_map(|v| {
                let (tie, _, members) = pop.shared(v);
                let (group, weight) = group_and_weight(tie)?;
                if members.len() as f64 > MAX_HOLDER_SHARE * pop.size as f64 {
                    return None;
                }
                let spec = specificity(members.len(), reference);
                let additive = matches!(tie, Tie::Phrase(_));
                if additive && spec < MIN_PHRASE_SPECIFICITY {
                    return None;
                }
                Some(Link {
                    value: v as u32,
                    evidence: (weight * spec) as f32,
                    group,
                    additive,
                })
            })
            .collect();
        // Counting sort by holder: count, sum to ends, then fill backwards so that each
        // account's links stay in ascending order and `starts` ends up at the starts.
        let mut starts = vec![0u32; pop.size + 1];
        for link in &links {
            for &a in pop.shared(link.value as usize).2 {
                starts[a as usize + 1] += 1;
            }
        }
        for a in 1..starts.len() {
            starts[a] += starts[a - 1];
        }
        let mut held = vec![0u32; starts[pop.size] as usize];
        for (l, link) in links.iter().enumerate().rev() {
            for &a in pop.shared(link.value as usize).2 {
                let end = &mut starts[a as usize + 1];
                *end -= 1;
                held[*end as usize] = l as u32;
            }
        }
        starts.rotate_left(1);
        starts[pop.size] = held.len() as u32;
        Links {
            links,
            held: Runs {
                starts,
                items: held,
            },
        }
    }

    fn held_by(&self, a: u32) -> impl Iterator<Item = &Link> {
        self.held
            .run(a as usize)
            .iter()
            .map(|&l| &self.links[l as usize])
    }
}

/// Calls `f` for the candidate pairs of a list of holders: all pairs up to [`FULL_PAIRS_UP_TO`],
/// each holder with its next [`WINDOW`] neighbours on the ring beyond (the pairs
/// [`tied_pairs`] considers for a shared value).
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

/// Marks an account with no evidence yet in [`tied_pairs`]' scratch array.
const NOT_SEEN: u32 = u32::MAX;

/// Pairs of accounts that are tied, from the population's shared values, ascending.
pub fn tied_pairs(pop: &Population) -> Vec<(u32, u32)> {
    let mut tied = Vec::new();
    each_pair_evidence(pop, |a, b, groups| {
        if is_tie(groups) {
            tied.push((a, b));
        }
    });
    tied
}

/// Calls `visit` with the evidence of every pair of accounts that share a linking value, in
/// ascending order of pairs.
///
/// Evidence is gathered account by account: while `a` is visited, that of every pair (a, b)
/// with b > a accumulates in a scratch entry found through an array indexed by b, and is judged
/// before the next account. Nothing is kept per pair but the tied ones, and memory is touched
/// in order rather than at random places of a map of all pairs. Each account's values are
/// walked in (tie, hash) order, so a pair's shared phrases always add up in the same order.
fn each_pair_evidence(pop: &Population, mut visit: impl FnMut(u32, u32, &[f32; GROUPS])) {
    let links = Links::of(pop);
    let mut entry_of = vec![NOT_SEEN; pop.size];
    let mut touched: Vec<(u32, PairEvidence)> = Vec::new();
    for a in 0..pop.size as u32 {
        for link in links.held_by(a) {
            let members = pop.shared(link.value as usize).2;
            let mut add = |b: u32| {
                let e = &mut entry_of[b as usize];
                if *e == NOT_SEEN {
                    *e = touched.len() as u32;
                    touched.push((b, PairEvidence::default()));
                }
                let ev = &mut touched[*e as usize].1;
                if link.additive {
                    ev.phrases += link.evidence;
                    ev.phrase_count += 1;
                } else {
                    let slot = &mut ev.groups[link.group as usize];
                    *slot = slot.max(link.evidence);
                }
            };
            let pos = members.partition_point(|&m| m < a);
            let n = members.len();
            if n <= FULL_PAIRS_UP_TO {
                members[pos + 1..].iter().for_each(|&b| add(b));
            } else {
                // Neighbours on the ring both ways; the pair is counted from its lower account.
                for d in 1..=WINDOW {
                    for b in [members[(pos + d) % n], members[(pos + n - d) % n]] {
                        if b > a {
                            add(b);
                        }
                    }
                }
            }
        }
        touched.sort_unstable_by_key(|&(b, _)| b);
        for &(b, ev) in &touched {
            entry_of[b as usize] = NOT_SEEN;
            visit(a, b, &ev.finish());
        }
        touched.clear();
    }
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

    /// The groups, each sorted, in order of their smallest member: one run each, no allocation
    /// per group, where most groups are a single account.
    pub fn groups(mut self) -> Runs {
        let n = self.parent.len();
        for i in 0..n as u32 {
            let root = self.find(i);
            self.parent[i as usize] = root;
        }
        // Each group's run in `members` is placed when its smallest member is met; `size` of a
        // root then turns into where its next member goes.
        let mut placed = vec![false; n];
        let mut starts = Vec::new();
        let mut members = vec![0u32; n];
        let mut next = 0u32;
        for i in 0..n {
            let root = self.parent[i] as usize;
            if !placed[root] {
                placed[root] = true;
                starts.push(next);
                let size = self.size[root];
                self.size[root] = next;
                next += size;
            }
            members[self.size[root] as usize] = i as u32;
            self.size[root] += 1;
        }
        starts.push(next);
        Runs {
            starts,
            items: members,
        }
    }
}

/// Lists held as runs of one array: run `i` is `items[starts[i]..starts[i + 1]]`.
pub struct Runs {
    /// One more than there are runs: the last is where the last run ends.
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Runs {
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn run(&self, i: usize) -> &[u32] {
        &self.items[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Every run, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.starts
            .windows(2)
            .map(|w| &self.items[w[0] as usize..w[1] as usize])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::detect::index::{LINKING_ATTRS, dominant_templates, recurring_phrases};
    use crate::detect::{AccountView, Allowlist, test_views};
    use crate::features::AccountState;

    /// Pairing as a map from each value to its holders and a map of every pair's evidence,
    /// written the plain way, to check the account-by-account pass against.
    fn pair_evidence_by_maps(accounts: &[AccountView<'_>]) -> Vec<((u32, u32), [f32; GROUPS])> {
        let mut postings: HashMap<(Tie, u64), Vec<u32>> = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            for attr in LINKING_ATTRS {
                for (h, _) in a.state.attrs[attr as usize].iter() {
                    postings
                        .entry((Tie::Attr(attr), h))
                        .or_default()
                        .push(i as u32);
                }
            }
            for (slot, k) in recurring_phrases(a.state) {
                postings
                    .entry((Tie::Phrase(slot), k))
                    .or_default()
                    .push(i as u32);
            }
            for (slot, k) in dominant_templates(a.state) {
                postings
                    .entry((Tie::Template(slot), k))
                    .or_default()
                    .push(i as u32);
            }
        }
        let n = accounts.len();
        let mut keys: Vec<_> = postings.keys().copied().collect();
        keys.sort_unstable();
        let mut evidence: HashMap<(u32, u32), PairEvidence> = HashMap::new();
        for key in keys {
            let members = &postings[&key];
            let (group, weight) = group_and_weight(key.0).unwrap();
            if members.len() < 2 || members.len() as f64 > MAX_HOLDER_SHARE * n as f64 {
                continue;
            }
            let spec = specificity(members.len(), n.max(MIN_REFERENCE_POPULATION));
            let additive = matches!(key.0, Tie::Phrase(_));
            if additive && spec < MIN_PHRASE_SPECIFICITY {
                continue;
            }
            let e = (weight * spec) as f32;
            let mut add = |a: u32, b: u32| {
                let ev = evidence.entry((a.min(b), a.max(b))).or_default();
                if additive {
                    ev.phrases += e;
                    ev.phrase_count += 1;
                } else {
                    let slot = &mut ev.groups[group as usize];
                    *slot = slot.max(e);
                }
            };
            let len = members.len();
            for i in 0..len {
                if len <= FULL_PAIRS_UP_TO {
                    (i + 1..len).for_each(|j| add(members[i], members[j]));
                } else {
                    (1..=WINDOW).for_each(|d| add(members[i], members[(i + d) % len]));
                }
            }
        }
        let mut all: Vec<_> = evidence
            .into_iter()
            .map(|(p, ev)| (p, ev.finish()))
            .collect();
        all.sort_unstable_by_key(|&(p, _)| p);
        all
    }

    #[test]
    fn pairing_account_by_account_gives_the_evidence_of_a_map_of_all_pairs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Small pools so that values are shared by a few, by dozens and by more than 64
        // accounts (paired by neighbours), and phrases shared by several add up.
        let pools: [(Attr, u64); 6] = [
            (Attr::Payment, 400),
            (Attr::Ip, 3000),
            (Attr::Net, 30),
            (Attr::Tls, 6),
            (Attr::UserAgent, 40),
            (Attr::EmailDomain, 3),
        ];
        let states: Vec<AccountState> = (0..1500)
            .map(|_| {
                let mut s = AccountState::default();
                for (attr, pool) in pools {
                    for _ in 0..rng.random_range(0..3) {
                        s.attrs[attr as usize].add(rng.random_range(1..=pool));
                    }
                }
                for _ in 0..rng.random_range(0..6) {
                    let key = rng.random_range(1..=150u64);
                    let end = rng.random_range(0..2);
                    s.phrases[end].add(key);
                    s.phrases[end].add(key);
                }
                s
            })
            .collect();
        let ids = test_views::ids(states.len());
        let views = test_views::views(&ids, &states);
        let pop = Population::build(&views, &Allowlist::new());
        let expected = pair_evidence_by_maps(&views);
        let mut got = Vec::new();
        each_pair_evidence(&pop, |a, b, groups| got.push(((a, b), *groups)));
        // Bit for bit: phrases must add up in the same order.
        let bits = |v: &[((u32, u32), [f32; GROUPS])]| -> Vec<((u32, u32), [u32; GROUPS])> {
            v.iter().map(|(p, g)| (*p, g.map(f32::to_bits))).collect()
        };
        assert_eq!(bits(&got), bits(&expected));
        let tied: Vec<(u32, u32)> = expected
            .iter()
            .filter(|(_, g)| is_tie(g))
            .map(|&(p, _)| p)
            .collect();
        assert!(tied.len() > 1000, "{}", tied.len());
        assert_eq!(tied_pairs(&pop), tied);
    }

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
        let groups: Vec<Vec<u32>> = uf.groups().iter().map(<[u32]>::to_vec).collect();
        assert_eq!(groups, vec![vec![0, 3, 5], vec![1, 2], vec![4]]);
    }
}
