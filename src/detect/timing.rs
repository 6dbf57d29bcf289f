//! Coordination in time: accounts signed up in a burst, accounts that take
//! over as others stop (ban evasion), and accounts that move to a new model
//! together. Each is judged against the population, so a busy sign-up day or
//! a popular model launch does not look coordinated by itself.

use std::collections::HashMap;

use statrs::distribution::{Binomial, DiscreteCDF};

use super::AccountView;
use super::score::{Scorecard, pct};
use crate::report::rfc3339;

const HOUR_MS: i64 = 3_600_000;
/// Width of the window a burst of sign-ups or model switches must fit in.
const BURST_WINDOW_MS: i64 = 6 * HOUR_MS;
/// A successor starts within this long after a predecessor's last request.
const SUCCESSION_GAP_MS: i64 = HOUR_MS;
/// A predecessor must have stopped at least this long before the group's last request.
const STOPPED_FOR_MS: i64 = 12 * HOUR_MS;
/// A switch is a first use this long after the account's own first request.
const SWITCH_AFTER_MS: i64 = HOUR_MS;
/// Timing that chance explains this often or more is not reported.
const NOTABLE_P: f64 = 0.01;

/// Population-wide times, sorted, to tell a burst from a busy day.
pub struct Timelines {
    created: Vec<i64>,
    first: Vec<i64>,
    /// Per model: when accounts that had used another model first switched to it.
    switches: HashMap<u64, Vec<i64>>,
}

impl Timelines {
    pub fn build(accounts: &[AccountView<'_>]) -> Self {
        let mut created: Vec<i64> = accounts.iter().filter_map(|a| a.state.created_ms).collect();
        let mut first: Vec<i64> = accounts.iter().map(|a| a.state.first_ms).collect();
        let mut switches: HashMap<u64, Vec<i64>> = HashMap::new();
        for a in accounts {
            for (model, at) in switched_models(a) {
                switches.entry(model).or_default().push(at);
            }
        }
        created.sort_unstable();
        first.sort_unstable();
        for v in switches.values_mut() {
            v.sort_unstable();
        }
        Timelines {
            created,
            first,
            switches,
        }
    }
}

/// Models an account began using at least [`SWITCH_AFTER_MS`] after its first request.
fn switched_models<'a>(a: &'a AccountView<'_>) -> impl Iterator<Item = (u64, i64)> + 'a {
    let first = a.state.first_ms;
    a.state
        .model_since
        .iter()
        .filter(move |&&(_, at)| at >= first + SWITCH_AFTER_MS)
        .copied()
}

fn count_in(sorted: &[i64], from: i64, to: i64) -> usize {
    sorted.partition_point(|&t| t < to) - sorted.partition_point(|&t| t < from)
}

/// The window of [`BURST_WINDOW_MS`] holding the most of `times`: (start, count).
fn densest_window(times: &mut [i64]) -> (i64, usize) {
    times.sort_unstable();
    let (mut best, mut lo) = ((0, 0), 0);
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= BURST_WINDOW_MS {
            lo += 1;
        }
        if hi + 1 - lo > best.1 {
            best = (times[lo], hi + 1 - lo);
        }
    }
    best
}

/// Strength of `x` of `m` members falling in a window that `outside` of the
/// other `rest` accounts also fall in: their share times how improbable.
fn burst_strength(x: usize, m: usize, outside: usize, rest: usize) -> (f64, f64) {
    let p = super::improbability(x, m, outside, rest);
    (x as f64 / m as f64 * super::improbable(p), p)
}

pub fn timing_signals(card: &mut Scorecard, views: &[AccountView<'_>], t: &Timelines) {
    let m = views.len();
    if m < 3 {
        return;
    }
    let rest = t.first.len().saturating_sub(m);
    signup_burst(card, views, t, rest);
    succession(card, views);
    model_switch(card, views, t, rest);
    taking_turns(card, views);
}

/// Members compared pairwise for taking turns, at most (the first by id).
const TURNS_MAX_MEMBERS: usize = 400;
/// Overlaps expected by chance before too few are seen to mean anything.
const TURNS_MIN_EXPECTED: f64 = 8.0;
/// Hourly activity is clumpy, so a small deficit is not a pattern however many hours there are.
const TURNS_MAX_SHARE: f64 = 0.5;

/// Accounts taking turns on one stream: each active in hours the others are
/// not, far more than independent accounts would be. (Activity in the same
/// hours is not a signal: people share a working day.)
fn taking_turns(card: &mut Scorecard, views: &[AccountView<'_>]) {
    let begin = views.iter().map(|v| v.state.first_ms).min().unwrap_or(0);
    let end = views.iter().map(|v| v.state.last_ms).max().unwrap_or(0);
    let span = ((end - begin) / HOUR_MS + 1) as f64;
    // The hour bitmaps are a ring of 256 hours: longer spans would alias.
    if !(24.0..=256.0).contains(&span) {
        return;
    }
    let hours: Vec<[u64; 4]> = views
        .iter()
        .take(TURNS_MAX_MEMBERS)
        .map(|v| v.state.active_hours)
        .collect();
    let (observed, expected) = overlaps(&hours, span);
    // Both: enough overlaps expected to judge, and at most half of them seen.
    if expected < TURNS_MIN_EXPECTED || f64::from(observed) > TURNS_MAX_SHARE * expected {
        return;
    }
    // Few overlaps where many were expected: a Poisson lower tail.
    let p = match statrs::distribution::Poisson::new(expected) {
        Ok(d) => d.cdf(observed as u64),
        Err(_) => 1.0,
    };
    if p > NOTABLE_P {
        return;
    }
    card.coordination(
        "taking_turns",
        super::improbable(p),
        1.5,
        || format!(
            "the accounts were active in the same hour {observed} times where independent accounts would be about {expected:.0} times: they take turns (chance {p:.0e})"
        ),
    );
}

/// Pairwise same-hour activity: observed, and expected were the accounts
/// independent with their own activity rates over `span` hours.
fn overlaps(hours: &[[u64; 4]], span: f64) -> (u32, f64) {
    let count = |h: &[u64; 4]| h.iter().map(|w| w.count_ones()).sum::<u32>();
    let rates: Vec<f64> = hours.iter().map(|h| f64::from(count(h)) / span).collect();
    let (mut observed, mut expected) = (0u32, 0.0);
    for i in 0..hours.len() {
        for j in i + 1..hours.len() {
            observed += (0..4)
                .map(|w| (hours[i][w] & hours[j][w]).count_ones())
                .sum::<u32>();
            expected += rates[i] * rates[j] * span;
        }
    }
    (observed, expected)
}

fn signup_burst(card: &mut Scorecard, views: &[AccountView<'_>], t: &Timelines, rest: usize) {
    let m = views.len();
    let mut created: Vec<i64> = views.iter().filter_map(|v| v.state.created_ms).collect();
    let (start, x) = densest_window(&mut created);
    if x < 3 {
        return;
    }
    let all = count_in(&t.created, start, start + BURST_WINDOW_MS);
    let (strength, p) = burst_strength(x, m, all - x, rest);
    if p > NOTABLE_P {
        return;
    }
    card.coordination(
        "signup_burst",
        strength,
        1.5,
        || format!(
            "{x} of {m} accounts were created within 6 hours of {} ({all} accounts in all then; chance among unrelated accounts {p:.0e})",
            rfc3339(start)
        ),
    );
}

/// Members that began within an hour after another member stopped for good:
/// banned or burnt accounts replaced by fresh ones on the same stream. Judged
/// against the group's own rate of stops, so staff who come and go at random
/// in a big company do not count.
fn succession(card: &mut Scorecard, views: &[AccountView<'_>]) {
    let m = views.len();
    let begin = views.iter().map(|v| v.state.first_ms).min().unwrap_or(0);
    let end = views.iter().map(|v| v.state.last_ms).max().unwrap_or(0);
    let mut stops: Vec<i64> = views
        .iter()
        .map(|v| v.state.last_ms)
        .filter(|&l| l <= end - STOPPED_FOR_MS)
        .collect();
    stops.sort_unstable();
    // Only members that joined after the group began can be replacements.
    let late: Vec<i64> = views
        .iter()
        .map(|v| v.state.first_ms)
        .filter(|&f| f >= begin + STOPPED_FOR_MS)
        .collect();
    let successors = late
        .iter()
        .filter(|&&f| count_in(&stops, f - SUCCESSION_GAP_MS, f + 1) > 0)
        .count();
    if successors < 3 {
        return;
    }
    // Chance that a first request lands within the gap after some stop, were they unrelated.
    let span = ((end - begin) as f64).max(SUCCESSION_GAP_MS as f64);
    let per_gap = stops.len() as f64 * SUCCESSION_GAP_MS as f64 / span;
    let chance = (1.0 - (-per_gap).exp()).clamp(1e-6, 1.0);
    let p = match Binomial::new(chance, late.len() as u64) {
        Ok(b) => b.sf(successors as u64 - 1),
        Err(_) => 1.0,
    };
    if p > NOTABLE_P {
        return;
    }
    let share = successors as f64 / m as f64;
    card.coordination(
        "succession",
        (share / 0.5).min(1.0) * super::improbable(p),
        2.0,
        || format!(
            "{successors} of {m} accounts ({}) made their first request within an hour after another member's last, as replacements do (chance among unrelated accounts {p:.0e})",
            pct(share)
        ),
    );
}

fn model_switch(card: &mut Scorecard, views: &[AccountView<'_>], t: &Timelines, rest: usize) {
    let m = views.len();
    let mut by_model: HashMap<u64, Vec<i64>> = HashMap::new();
    for v in views {
        for (model, at) in switched_models(v) {
            by_model.entry(model).or_default().push(at);
        }
    }
    let best = by_model
        .into_iter()
        .map(|(model, mut times)| (densest_window(&mut times), model))
        .max_by_key(|&((start, x), model)| (x, std::cmp::Reverse(start), model));
    let Some(((start, x), model)) = best else {
        return;
    };
    if x < 3 {
        return;
    }
    let all = t
        .switches
        .get(&model)
        .map_or(x, |s| count_in(s, start, start + BURST_WINDOW_MS));
    // Only accounts already active before the window could switch in it.
    let active_before = t.first.partition_point(|&f| f < start).saturating_sub(x);
    let (strength, p) = burst_strength(x, m, all - x, active_before.min(rest));
    if p > NOTABLE_P {
        return;
    }
    card.coordination(
        "model_switch",
        strength,
        1.5,
        || format!(
            "{x} of {m} accounts moved to a new model within 6 hours of {} ({all} accounts in all did so then; chance among unrelated accounts {p:.0e})",
            rfc3339(start)
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densest_window_finds_the_burst() {
        let h = HOUR_MS;
        let mut t = vec![0, 50 * h, 51 * h, 52 * h, 53 * h, 90 * h];
        assert_eq!(densest_window(&mut t), (50 * h, 4));
        let mut spread = vec![0, 7 * h, 14 * h];
        assert_eq!(densest_window(&mut spread).1, 1);
    }

    #[test]
    fn turns_show_as_fewer_overlaps_than_chance() {
        // Four accounts, each active in its own 6-hour shift every day for 4 days.
        let shift = |k: usize| {
            let mut h = [0u64; 4];
            for day in 0..4 {
                for hour in 0..6 {
                    let slot = day * 24 + k * 6 + hour;
                    h[slot / 64] |= 1 << (slot % 64);
                }
            }
            h
        };
        let turns: Vec<[u64; 4]> = (0..4).map(shift).collect();
        let (observed, expected) = overlaps(&turns, 96.0);
        assert_eq!(observed, 0);
        assert!(expected > 30.0, "{expected}");
        // The same accounts all on the same shift overlap far more than chance.
        let same: Vec<[u64; 4]> = (0..4).map(|_| shift(0)).collect();
        let (observed, expected) = overlaps(&same, 96.0);
        assert!(f64::from(observed) > 3.0 * expected);
    }

    #[test]
    fn accounts_on_shifts_are_reported_as_taking_turns() {
        use crate::features::AccountState;
        let states: Vec<AccountState> = (0..4)
            .map(|k| {
                let mut s = AccountState::default();
                for day in 0..4i64 {
                    for hour in 0..6i64 {
                        let slot = (day * 24 + k * 6 + hour) as usize;
                        s.active_hours[slot / 64] |= 1 << (slot % 64);
                    }
                }
                s.first_ms = k * 6 * HOUR_MS;
                s.last_ms = (3 * 24 + k * 6 + 5) * HOUR_MS;
                s
            })
            .collect();
        let ids = ["a", "b", "c", "d"];
        let views = crate::detect::test_views::views(&ids, &states);
        let mut card = Scorecard::default();
        taking_turns(&mut card, &views);
        let (_, signals) = card.finish();
        let turns = signals.iter().find(|s| s.name == "taking_turns").unwrap();
        assert!(turns.score > 0.5, "{turns:?}");
        assert!(turns.detail.contains("0 times"), "{}", turns.detail);
    }

    #[test]
    fn count_in_is_half_open() {
        assert_eq!(count_in(&[1, 2, 3, 4], 2, 4), 2);
    }
}
