//! Separating groups that prompt content alone chained together.
//!
//! A campaign replaying a public benchmark and a researcher evaluating on
//! the same benchmark send the same words; only the campaign shares cards and
//! proxies. When most of a group shares operator infrastructure, the members
//! that hold none of it are taken out and regrouped by their own ties, so an
//! unrelated account stands alone and a second campaign that happened to be
//! chained on stays whole.

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

/// Share of a group that must hold one of its own operator values before the
/// members that hold none are split off.
const CORE_SHARE: f64 = 0.7;

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

    /// The group itself, or its operator core followed by the rest regrouped.
    pub fn split(&self, group: &[u32]) -> Vec<Vec<u32>> {
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
        if rest.is_empty() || (core.len() as f64) < CORE_SHARE * group.len() as f64 {
            return vec![group.to_vec()];
        }
        let mut out = vec![core];
        out.extend(self.regroup(&rest));
        out
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
            x as f64 >= need && self.pop.holders(Tie::Attr(attr), h) <= 2 * x
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
