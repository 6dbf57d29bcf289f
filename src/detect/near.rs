//! Near-duplicate prompts between the members of a group, from the MinHash signatures of their
//! sampled prompts (`features::minhash`): evidence a reviewer can read ("accounts A and B sent
//! near-duplicate prompts: estimated Jaccard 0.83 over 6 prompt pairs").
//!
//! Candidates come from LSH buckets (prompts of different members agreeing in every bin of a
//! band), never from all pairs; each candidate is then judged on its whole signature.

use foldhash::{HashMap, HashSet};

use crate::features::minhash::Signature;

use super::AccountView;
// Long buckets are paired as posting lists are: linear cost, and a big group stays connected.
use super::link::candidate_pairs;
use super::score::Scorecard;

/// Estimated Jaccard similarity at which two prompts count as near-duplicates.
pub const NEAR_JACCARD: f64 = 0.6;

/// What the members' near-duplicate prompts add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NearDuplicates {
    /// Members with a near-duplicate of another member's prompt.
    pub members: usize,
    /// Pairs of members with at least one such prompt pair.
    pub account_pairs: usize,
    /// Prompt pairs (of different members) judged near-duplicate.
    pub prompt_pairs: usize,
    /// Their mean estimated Jaccard similarity.
    pub mean_jaccard: f64,
    /// The member pair with the most near-duplicate prompt pairs: (index, index, pairs, mean
    /// estimated Jaccard), indices into the group's views.
    pub strongest: Option<(usize, usize, usize, f64)>,
}

/// Near-duplicate prompts among `views` (the members of one group).
pub fn among(views: &[AccountView<'_>]) -> NearDuplicates {
    // Every signed sampled prompt, with the member that sent it.
    let prompts: Vec<(u32, &Signature)> = views
        .iter()
        .enumerate()
        .flat_map(|(m, v)| {
            v.state
                .sample
                .iter()
                .filter_map(move |s| s.signature.as_ref().map(|sig| (m as u32, sig)))
        })
        .collect();
    let mut buckets: HashMap<(u8, u32), Vec<u32>> = HashMap::default();
    for (i, (_, sig)) in prompts.iter().enumerate() {
        for (b, key) in sig.bands().into_iter().enumerate() {
            buckets.entry((b as u8, key)).or_default().push(i as u32);
        }
    }
    let mut seen: HashSet<(u32, u32)> = HashSet::default();
    let mut by_pair: HashMap<(u32, u32), (usize, f64)> = HashMap::default();
    let mut judge = |a: u32, b: u32| {
        let (pa, pb) = (prompts[a as usize], prompts[b as usize]);
        if pa.0 == pb.0 || !seen.insert((a.min(b), a.max(b))) {
            return;
        }
        let j = pa.1.jaccard(pb.1);
        if j >= NEAR_JACCARD {
            let e = by_pair.entry((pa.0.min(pb.0), pa.0.max(pb.0))).or_default();
            e.0 += 1;
            e.1 += j;
        }
    };
    for list in buckets.values().filter(|l| l.len() >= 2) {
        candidate_pairs(list, &mut judge);
    }
    let mut out = NearDuplicates {
        account_pairs: by_pair.len(),
        ..Default::default()
    };
    let mut with: HashSet<u32> = HashSet::default();
    let mut sum = 0.0;
    for (&(a, b), &(n, s)) in &by_pair {
        with.insert(a);
        with.insert(b);
        out.prompt_pairs += n;
        sum += s;
        let candidate = (a as usize, b as usize, n, s / n as f64);
        // The most prompt pairs, then the closest, then the lowest indices: the same answer
        // whatever order the map iterates in.
        let better = out.strongest.is_none_or(|(x, y, m, j)| {
            (n, candidate.3, std::cmp::Reverse((a as usize, b as usize)))
                > (m, j, std::cmp::Reverse((x, y)))
        });
        if better {
            out.strongest = Some(candidate);
        }
    }
    out.members = with.len();
    if out.prompt_pairs > 0 {
        out.mean_jaccard = sum / out.prompt_pairs as f64;
    }
    out
}

/// Weight of `near_duplicate_prompts` in the score: reported, not counted (docs/signals.md says
/// what counting it did).
pub const NEAR_DUPLICATE_WEIGHT: f64 = 0.0;

/// Members of a group judged at most (16 signed prompts each, 8 bands: at most 128,000 bucket
/// entries).
const MAX_MEMBERS: usize = 1000;

/// The members of a group `among` is run on: a bound on the work and memory for the largest
/// groups, their first members by id.
pub fn judged<'a, 'v>(views: &'a [AccountView<'v>]) -> &'a [AccountView<'v>] {
    &views[..views.len().min(MAX_MEMBERS)]
}

/// The `near_duplicate_prompts` signal of a group of two or more, from `near`, what [`among`]
/// found among its [`judged`] members: the share of members that sent a near-duplicate of
/// another member's prompt, with the strongest pair named.
pub fn signal(card: &mut Scorecard, views: &[AccountView<'_>], near: &NearDuplicates) {
    let Some((a, b, pairs, j)) = near.strongest else {
        return;
    };
    let m = judged(views).len();
    let of_first = if m < views.len() {
        format!(" (the first {m} of {} members by id)", views.len())
    } else {
        String::new()
    };
    card.coordination(
        "near_duplicate_prompts",
        near.members as f64 / m as f64,
        NEAR_DUPLICATE_WEIGHT,
        || {
            format!(
                "{} of {m} accounts sent near-duplicate prompts (word-shingle sets with estimated \
             Jaccard similarity {NEAR_JACCARD} or more): {} prompt pairs between {} pairs of \
             accounts, mean {:.2}; accounts {} and {} sent near-duplicate prompts: estimated \
             Jaccard {j:.2} over {pairs} prompt pairs{of_first}{}",
                near.members,
                near.prompt_pairs,
                near.account_pairs,
                near.mean_jaccard,
                views[a].id,
                views[b].id,
                if NEAR_DUPLICATE_WEIGHT == 0.0 {
                    " (reported, not counted)"
                } else {
                    ""
                }
            )
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::AccountState;

    /// An account sending `prompts`, one a second.
    fn account(prompts: &[String]) -> AccountState {
        super::super::score::tests::account(0..prompts.len() as i64, |i| prompts[i].clone())
    }

    const TOPICS: [&str; 8] = [
        "the French revolution and its causes",
        "how vaccines train the immune system",
        "why the sky is blue at noon",
        "the rules of chess for beginners",
        "compound interest on a small loan",
        "photosynthesis in desert plants",
        "the history of the printing press",
        "how tides follow the moon",
    ];

    fn wrapped(topic: &str) -> String {
        format!(
            "You are an expert tutor. Read the question carefully and reason about it before \
             answering. Question: explain {topic}. Think it through one step at a time, state \
             every assumption you make, and give the final answer on the last line."
        )
    }

    #[test]
    fn finds_a_shared_wrapper_and_not_unrelated_prompts() {
        let a = account(&TOPICS[..4].iter().map(|t| wrapped(t)).collect::<Vec<_>>());
        let b = account(&TOPICS[4..].iter().map(|t| wrapped(t)).collect::<Vec<_>>());
        let c = account(
            &TOPICS
                .iter()
                .map(|t| format!("hey, my kid asked me about {t} tonight and I had no idea what to tell her, any simple way to put it?"))
                .collect::<Vec<_>>(),
        );
        let views = [
            AccountView { id: "a", state: &a },
            AccountView { id: "b", state: &b },
            AccountView { id: "c", state: &c },
        ];
        let near = among(&views);
        assert_eq!(near.account_pairs, 1, "{near:?}");
        assert_eq!(near.members, 2);
        let (x, y, pairs, j) = near.strongest.unwrap();
        assert_eq!((x, y), (0, 1));
        assert!(pairs >= 12, "{pairs} of 16 wrapped pairs found");
        assert!(j > 0.6 && j < 1.0, "{j}");
        // The unrelated account alone with one of them: nothing.
        assert_eq!(among(&views[1..]), NearDuplicates::default());
    }
}
