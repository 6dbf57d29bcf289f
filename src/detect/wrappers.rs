//! Shared reasoning wrappers: the phrasings a group's members have in common are themselves
//! requests for step-by-step reasoning.
//!
//! Camouflage dilutes how much of each account's traffic asks for reasoning, but not what the
//! accounts share: an operator's script is the part every account repeats, and when that part
//! is "walk me through this step by step: {question}" around different questions, the
//! coordinated traffic is what harvests reasoning traces. Only phrasings that are the group's
//! own count (improbable among unrelated accounts); a habit many people share does not.

use foldhash::HashMap;

use crate::features::{AccountState, Cue};

use super::index::{self, Population, Tie};
use super::score::Scorecard;
use super::{AccountView, improbability, improbable, template_display};

/// What the shared reasoning wrappers of a group add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedWrappers {
    /// Members holding at least one of the group's own reasoning phrasings.
    pub members: usize,
    /// Such phrasings, most-held first: (slot, key, members holding it, accounts in all).
    pub phrases: Vec<(u8, u64, usize, usize)>,
}

/// Extraction weight of a group whose every member shares its reasoning wrappers; it falls to 0
/// as the share of members holding them falls to half.
const WEIGHT: f64 = 2.0;
/// How improbable among unrelated accounts a phrasing's sharing must be to be the group's own.
const OWN_PHRASE: f64 = 0.5;

/// Prefix and suffix keys an account sends more than once, in requests for step-by-step
/// reasoning among others: its recurring phrasings (`index::recurring_phrases`) that its
/// reasoning prompts' sketch or its sampled reasoning prompts also hold.
pub fn recurring_reasoning_phrases(state: &AccountState) -> Vec<(u8, u64)> {
    let reasoning = Cue::Reasoning.bit();
    let in_reasoning = |slot: u8, key: u64| {
        let end = usize::from(slot / 2);
        state.reasoning_phrases[end].iter().any(|(k, _)| k == key)
            || state
                .sample
                .iter()
                .any(|s| s.cues & reasoning != 0 && s.keys[slot as usize] == key)
    };
    index::recurring_phrases(state)
        .into_iter()
        .filter(|&(slot, key)| (slot == 0 || slot == 2) && in_reasoning(slot, key))
        .collect()
}

/// The reasoning phrasings `views` (one group's members) share that are their own.
pub fn among(views: &[AccountView<'_>], pop: &Population) -> SharedWrappers {
    let m = views.len();
    let per_member: Vec<Vec<(u8, u64)>> = views
        .iter()
        .map(|v| recurring_reasoning_phrases(v.state))
        .collect();
    let mut holders: HashMap<(u8, u64), usize> = HashMap::default();
    for keys in &per_member {
        for &k in keys {
            *holders.entry(k).or_default() += 1;
        }
    }
    let rest = pop.size.saturating_sub(m);
    let mut phrases: Vec<(u8, u64, usize, usize)> = holders
        .into_iter()
        .filter(|&(_, x)| x >= 2)
        .filter_map(|((slot, key), x)| {
            // Every holder of a reasoning phrasing also holds it as a phrasing.
            let population = pop.holders(Tie::Phrase(slot), key).max(x);
            let p = improbability(x, m, population - x, rest);
            (improbable(p) >= OWN_PHRASE).then_some((slot, key, x, population))
        })
        .collect();
    phrases.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
    let members = per_member
        .iter()
        .filter(|keys| {
            keys.iter()
                .any(|&(s, k)| phrases.iter().any(|p| (p.0, p.1) == (s, k)))
        })
        .count();
    SharedWrappers { members, phrases }
}

/// Adds `shared_reasoning_wrappers` for a group of two or more, from `shared`, what [`among`]
/// found among its members.
pub fn signal(card: &mut Scorecard, views: &[AccountView<'_>], shared: &SharedWrappers) {
    if shared.members == 0 {
        return;
    }
    let m = views.len();
    // A script is repeated by most of an operator's accounts; a phrasing a few colleagues
    // happen to share is not one.
    let share = shared.members as f64 / m as f64;
    card.extraction(
        "shared_reasoning_wrappers",
        (share - 0.5) / 0.5,
        WEIGHT,
        || {
            let listed: Vec<String> = shared
                .phrases
                .iter()
                .take(3)
                .map(|&(slot, key, x, population)| {
                    format!(
                        "{} ({x} accounts; {population} in all)",
                        template_display(slot, key, views)
                    )
                })
                .collect();
            format!(
                "{} of {m} accounts wrap their requests for step-by-step reasoning in {} of \
                 their own: {}; what the accounts have in common asks for reasoning traces",
                shared.members,
                match shared.phrases.len() {
                    1 => "a phrasing".to_string(),
                    n => format!("{n} phrasings"),
                },
                listed.join("; ")
            )
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Allowlist, test_views};

    /// An account sending `prompts`, one a minute.
    fn account(prompts: &[String]) -> AccountState {
        super::super::score::tests::account((0..prompts.len() as i64).map(|i| i * 60), |i| {
            prompts[i].clone()
        })
    }

    const WRAPPERS: [&str; 3] = [
        "Could you walk me through this slowly, every step? {q}",
        "Break it down for me one step at a time: {q}",
        "{q} Please lay out your reasoning before the answer.",
    ];

    /// Three wrappers around questions no one else asks, and one-off camouflage prompts.
    fn operator(n: usize) -> AccountState {
        let mut prompts = Vec::new();
        for i in 0..12 {
            let q = format!(
                "question {i} of set {n}: how many ways can {} rooks sit?",
                i + n
            );
            prompts.push(WRAPPERS[i % 3].replace("{q}", &q));
            prompts.push(format!(
                "camouflage {n}-{i}: a recipe for soup with {i} leeks"
            ));
        }
        account(&prompts)
    }

    /// Someone who habitually asks "explain step by step", as many people do.
    fn habit(n: usize) -> AccountState {
        let prompts: Vec<String> = (0..6)
            .map(|i| format!("Can you explain step by step topic {n}.{i} about tides"))
            .collect();
        account(&prompts)
    }

    /// A shared wrapper that asks for no reasoning.
    fn translator(n: usize) -> AccountState {
        let prompts: Vec<String> = (0..6)
            .map(|i| format!("Translate into French for our shop {n}: sentence {i} about prices"))
            .collect();
        account(&prompts)
    }

    fn one_off(n: usize) -> AccountState {
        account(&[format!("unrelated prompt number {n} about gardening")])
    }

    #[test]
    fn an_operators_wrappers_are_its_own_and_a_common_habit_is_not() {
        let mut states: Vec<AccountState> = (0..3).map(operator).collect();
        states.extend((0..30).map(habit));
        states.extend((0..3).map(translator));
        states.extend((0..150).map(one_off));
        let ids = test_views::ids(states.len());
        let views = test_views::views(&ids, &states);
        let pop = Population::build(&views, &Allowlist::new());

        let ops = among(&views[..3], &pop);
        assert_eq!(ops.members, 3, "{ops:?}");
        assert!(ops.phrases.len() >= 2, "{ops:?}");
        assert!(ops.phrases.iter().all(|p| p.2 == 3 && p.3 == 3), "{ops:?}");

        // Two of the thirty with the habit share it, but so do twenty-eight others.
        let habit_pair = among(&views[3..5], &pop);
        assert!(!recurring_reasoning_phrases(views[3].state).is_empty());
        assert_eq!(habit_pair, SharedWrappers::default());

        // A wrapper only these three use, but it asks for no reasoning.
        assert_eq!(among(&views[33..36], &pop), SharedWrappers::default());

        // An operator beside an unrelated account: nothing shared.
        assert_eq!(among(&[views[0], views[100]], &pop).members, 0);

        // As a signal: in full when every member holds them, not at all when fewer than half do.
        let strength = |group: &[AccountView<'_>]| {
            let mut card = Scorecard::default();
            signal(&mut card, group, &among(group, &pop));
            let (_, signals) = card.finish();
            signals
                .iter()
                .find(|s| s.name == "shared_reasoning_wrappers")
                .map(|s| s.score)
        };
        assert_eq!(strength(&views[..3]), Some(1.0));
        let mut diluted = views[..3].to_vec();
        diluted.extend_from_slice(&views[100..104]);
        assert_eq!(among(&diluted, &pop).members, 3);
        assert_eq!(strength(&diluted), None);
    }
}
