//! Separating groups that prompt content alone chained together.
//!
//! A campaign replaying a public benchmark and a researcher evaluating on
//! the same benchmark send the same words; only the campaign shares cards and
//! proxies. When most of a group shares operator infrastructure, the members
//! that hold none of it are taken out and regrouped by their own ties, so an
//! unrelated account stands alone and a second campaign that happened to be
//! chained on stays whole. When the operator is the minority, members bound by
//! a network of their own are taken out instead.
//!
//! Before that, a group spanning several organisations (`org_id`) that share
//! no card and no network is cut along them: distinct customers billed and
//! connected separately are not one operator because their staff ask
//! questions in the same words or use the same client library.

use std::collections::HashMap;

use super::AccountView;
use super::index::{Population, Tie};
use super::link::UnionFind;
use crate::features::Attr;

/// Attributes that show a common operator behind accounts (as opposed to common content).
const OPERATOR_ATTRS: [Attr; 6] = [
    Attr::Payment,
    Attr::Ip,
    Attr::Net,
    Attr::Tls,
    Attr::UserAgent,
    Attr::EmailDomain,
];

/// Attributes that show one operator behind accounts of different organisations:
/// a client library or an e-mail provider is shared by strangers, a card or a
/// network is not.
const CROSSING_ATTRS: [Attr; 3] = [Attr::Payment, Attr::Ip, Attr::Net];

/// Share of a group that must hold one of its own operator values before the
/// members that hold none are split off.
const CORE_SHARE: f64 = 0.7;

/// Members a network must bind before they are split from a group they
/// are a minority of.
const MIN_MINORITY_CORE: usize = 5;

/// Share of a group that must hold a value for it to count as the group's own.
const OWN_VALUE_SHARE: f64 = 0.3;

pub struct Splitter<'a> {
    accounts: &'a [AccountView<'a>],
    pop: &'a Population,
    /// The tied pairs (a, b), a < b, ascending: an account's ties to later accounts are one run.
    pairs: &'a [(u32, u32)],
}

impl<'a> Splitter<'a> {
    pub fn new(
        accounts: &'a [AccountView<'a>],
        pop: &'a Population,
        pairs: &'a [(u32, u32)],
    ) -> Self {
        debug_assert!(pairs.is_sorted() && pairs.iter().all(|(a, b)| a < b));
        Splitter {
            accounts,
            pop,
            pairs,
        }
    }

    /// The group cut along organisations that share no card or network (see
    /// [`Self::by_organisation`]), each part then split by [`Self::split_core`].
    pub fn split(&self, group: &[u32]) -> Vec<Vec<u32>> {
        match self.by_organisation(group) {
            Some(parts) => parts.iter().flat_map(|p| self.split_core(p)).collect(),
            None => self.split_core(group),
        }
    }

    /// The organisation an account sends under most, if any.
    fn org_of(&self, i: u32) -> Option<u64> {
        self.accounts[i as usize].state.attrs[Attr::Org as usize]
            .iter()
            .max_by_key(|&(h, n)| (n, std::cmp::Reverse(h)))
            .map(|(h, _)| h)
    }

    /// The group's organisations as separate groups, when it holds at least two
    /// with two or more members each and no card, IP or /24 is held in two of
    /// them. A member without an organisation joins the one whose card or
    /// network it shares; the others are regrouped by their own ties.
    fn by_organisation(&self, group: &[u32]) -> Option<Vec<Vec<u32>>> {
        if group.len() < 4 {
            return None;
        }
        let mut orgs: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut loose = Vec::new();
        for &i in group {
            match self.org_of(i) {
                Some(o) => orgs.entry(o).or_default().push(i),
                None => loose.push(i),
            }
        }
        if orgs.values().filter(|m| m.len() >= 2).count() < 2 {
            return None;
        }
        let mut owner: HashMap<(Attr, u64), u64> = HashMap::new();
        for (&org, members) in &orgs {
            for &i in members {
                for (attr, h) in self.crossing_values(i) {
                    if *owner.entry((attr, h)).or_insert(org) != org {
                        return None;
                    }
                }
            }
        }
        let mut rest = Vec::new();
        for i in loose {
            let mut joined: Vec<u64> = self
                .crossing_values(i)
                .filter_map(|v| owner.get(&v).copied())
                .collect();
            joined.sort_unstable();
            joined.dedup();
            match joined[..] {
                [org] => orgs.get_mut(&org).expect("owner is an org").push(i),
                _ => rest.push(i),
            }
        }
        let mut parts: Vec<Vec<u32>> = orgs.into_values().collect();
        for p in &mut parts {
            p.sort_unstable();
        }
        // Deterministic order whatever the map's: by lowest member.
        parts.sort_unstable();
        parts.extend(self.regroup(&rest));
        Some(parts)
    }

    fn crossing_values(&self, i: u32) -> impl Iterator<Item = (Attr, u64)> + '_ {
        CROSSING_ATTRS.iter().flat_map(move |&attr| {
            self.accounts[i as usize].state.attrs[attr as usize]
                .iter()
                .map(move |(h, _)| (attr, h))
        })
    }

    /// The group itself, or its operator core followed by the rest regrouped.
    fn split_core(&self, group: &[u32]) -> Vec<Vec<u32>> {
        if group.len() < 3 {
            return vec![group.to_vec()];
        }
        let own = self.own_values(group);
        let holds = |i: u32| {
            OPERATOR_ATTRS.iter().any(|&attr| {
                self.accounts[i as usize].state.attrs[attr as usize]
                    .iter()
                    .any(|(h, _)| own.contains_key(&(attr, h)))
            })
        };
        let (core, rest): (Vec<u32>, Vec<u32>) = group.iter().partition(|&&i| holds(i));
        if rest.is_empty() {
            return vec![group.to_vec()];
        }
        if (core.len() as f64) < CORE_SHARE * group.len() as f64 {
            return self
                .minority_cores(group)
                .unwrap_or_else(|| vec![group.to_vec()]);
        }
        let mut out = vec![core];
        out.extend(self.regroup(&rest));
        out
    }

    /// Members bound by networks (IPs, /24s) that nobody outside the group holds,
    /// [`MIN_MINORITY_CORE`] or more of them, split from the rest, which is regrouped.
    /// Cards do not bind here: a campaign pays with several, a few accounts on each,
    /// and cutting at its cards cut one campaign into pieces.
    fn minority_cores(&self, group: &[u32]) -> Option<Vec<Vec<u32>>> {
        let mut holders: HashMap<(Attr, u64), Vec<u32>> = HashMap::new();
        for (k, &i) in group.iter().enumerate() {
            for v in self
                .crossing_values(i)
                .filter(|&(attr, _)| attr != Attr::Payment)
            {
                holders.entry(v).or_default().push(k as u32);
            }
        }
        let mut uf = UnionFind::new(group.len());
        let mut bound = vec![false; group.len()];
        for (&(attr, h), ks) in &holders {
            if ks.len() >= MIN_MINORITY_CORE && self.pop.holders(Tie::Attr(attr), h) == ks.len() {
                for &k in ks {
                    bound[k as usize] = true;
                    uf.union(ks[0], k);
                }
            }
        }
        let mut cores = Vec::new();
        let mut rest = Vec::new();
        for g in uf.groups().iter() {
            let members: Vec<u32> = g.iter().map(|&k| group[k as usize]).collect();
            if g.len() >= MIN_MINORITY_CORE && bound[g[0] as usize] {
                cores.push(members);
            } else {
                rest.extend(members);
            }
        }
        if cores.is_empty() || (cores.len() == 1 && rest.is_empty()) {
            return None;
        }
        rest.sort_unstable();
        cores.sort_unstable();
        cores.extend(self.regroup(&rest));
        Some(cores)
    }

    /// Operator values held by at least two and [`OWN_VALUE_SHARE`] of the
    /// members, and by few accounts outside the group.
    fn own_values(&self, group: &[u32]) -> HashMap<(Attr, u64), usize> {
        let mut inside: HashMap<(Attr, u64), usize> = HashMap::new();
        for &i in group {
            for attr in OPERATOR_ATTRS {
                for (h, _) in self.accounts[i as usize].state.attrs[attr as usize].iter() {
                    *inside.entry((attr, h)).or_default() += 1;
                }
            }
        }
        let need = (OWN_VALUE_SHARE * group.len() as f64).max(2.0);
        inside.retain(|&(attr, h), &mut x| {
            let population = self.pop.holders(Tie::Attr(attr), h);
            // Strangers share a client build or an e-mail provider, not a card or a network:
            // those count only when nobody outside the group holds them.
            let outside = if CROSSING_ATTRS.contains(&attr) { x } else { 0 };
            x as f64 >= need && population <= x + outside
        });
        inside
    }

    /// Groups `members` (ascending) again by the ties among themselves only.
    fn regroup(&self, members: &[u32]) -> Vec<Vec<u32>> {
        let mut uf = UnionFind::new(members.len());
        for (k, &i) in members.iter().enumerate() {
            // Each tie is met once, from its lower account.
            let from = self.pairs.partition_point(|&(a, _)| a < i);
            let ties = self.pairs[from..].iter().take_while(|&&(a, _)| a == i);
            for &(_, b) in ties {
                if let Ok(m) = members.binary_search(&b) {
                    uf.union(k as u32, m as u32);
                }
            }
        }
        uf.groups()
            .iter()
            .map(|g| g.iter().map(|&k| members[k as usize]).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::detect::DetectConfig;
    use crate::engine::Engine;
    use crate::record::Record;

    fn id(a: usize) -> String {
        format!("acct{a:02}")
    }

    /// The groups of two or more (at score 0 and above) that accounts 0.. form,
    /// given each one's extra fields, among eighty unrelated accounts (so that
    /// what they share is not common). Each sends six prompts of one template.
    fn groups(fields: &[String]) -> Vec<Vec<String>> {
        groups_among(fields, &[])
    }

    /// [`groups`], with the first unrelated accounts given `outsiders`' extra fields.
    fn groups_among(fields: &[String], outsiders: &[&str]) -> Vec<Vec<String>> {
        let engine = Engine::new();
        for a in 0..80 {
            let extra = outsiders.get(a).map_or(String::new(), |f| format!(",{f}"));
            let line = format!(
                r#"{{"ts":1767225600,"account_id":"other{a}","request_id":"o{a}","ip":"192.0.{a}.1"{extra},"prompt":"question {a}"}}"#
            );
            engine.ingest(&Record::parse(line.as_bytes()).unwrap());
        }
        for (a, fields) in fields.iter().enumerate() {
            for r in 0..6 {
                let line = format!(
                    r#"{{"ts":{},"account_id":"{}","request_id":"{a}-{r}",{fields},"prompt":"Please answer the following question for our records: what is item {} about and who uses it"}}"#,
                    1_767_225_600 + a * 50 + r * 3_600,
                    id(a),
                    ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"][r],
                );
                engine.ingest(&Record::parse(line.as_bytes()).unwrap());
            }
        }
        let cfg = DetectConfig {
            min_score: 0.0,
            ..DetectConfig::default()
        };
        let mut out: Vec<Vec<String>> = engine
            .detect(&cfg)
            .into_iter()
            .filter(|c| c.size > 1)
            .map(|c| c.accounts)
            .collect();
        out.sort();
        out
    }

    fn ids(r: std::ops::Range<usize>) -> Vec<String> {
        r.map(id).collect()
    }

    /// Eight accounts in two organisations, each with its own card and /24;
    /// `shared_card` gives one account of the second organisation the first one's card.
    fn organisations(shared_card: bool) -> Vec<Vec<String>> {
        let fields: Vec<String> = (0..8)
            .map(|a| {
                let org = a / 4;
                let card = if shared_card && a == 7 { 0 } else { org };
                format!(r#""org_id":"org{org}","payment_fingerprint":"card{card}","ip":"10.0.{org}.{a}""#)
            })
            .collect();
        groups(&fields)
    }

    #[test]
    fn organisations_tied_only_by_content_are_separated() {
        assert_eq!(organisations(false), vec![ids(0..4), ids(4..8)]);
    }

    #[test]
    fn organisations_sharing_a_card_stay_one_group() {
        assert_eq!(organisations(true), vec![ids(0..8)]);
    }

    #[test]
    fn a_minority_on_its_own_network_is_split_from_what_content_chained_on() {
        // Accounts 0-4 send from one /24 nobody else uses, 5-11 each from their own;
        // the template ties all twelve.
        let fields: Vec<String> = (0..12)
            .map(|a| format!(r#""ip":"10.1.{}.{a}""#, if a < 5 { 0 } else { a }))
            .collect();
        assert_eq!(groups(&fields), vec![ids(0..5), ids(5..12)]);
    }

    #[test]
    fn a_client_strangers_also_use_does_not_make_its_users_the_operators() {
        // Accounts 0-6 send from one /24 nobody else uses, 7-11 each from their own; the
        // template ties all twelve. 0-6 and two of the others run one SDK build, which three
        // unrelated accounts outside the group run too: a popular client, not the operator's.
        let sdk = r#""user_agent":"sdk/1.0""#;
        let fields: Vec<String> = (0..12)
            .map(|a| {
                let net = if a < 7 { 0 } else { a };
                let ua = if a < 9 {
                    format!(",{sdk}")
                } else {
                    String::new()
                };
                format!(r#""ip":"10.1.{net}.{a}"{ua}"#)
            })
            .collect();
        assert_eq!(
            groups_among(&fields, &[sdk; 3]),
            vec![ids(0..7), ids(7..12)]
        );
    }
}
