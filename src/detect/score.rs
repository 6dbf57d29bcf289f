//! Scoring a group: a scorecard of named signals, each adding log-odds.
//!
//! The score is `sigmoid(BIAS + sum of contributions)`. Every contribution is
//! a signal's strength (0..1) times its weight, so a reviewer can see exactly
//! what moved the score. Ties between accounts (coordination) count in
//! proportion to how extraction-like the content of the traffic is: shared
//! infrastructure, one gateway and one system prompt are what companies look
//! like too, so they cannot unlock the ties on their own.

use crate::features::Cue;
use crate::report::Signal;

use super::aggregate::{Aggregate, NIGHT_HOURS, frac};

/// Log-odds before any evidence: a group is presumed legitimate.
pub const BIAS: f64 = -6.0;
/// Content points at which ties count in full.
const FULL_COORDINATION_AT: f64 = 4.0;
const MIN_COORDINATION_FACTOR: f64 = 0.25;

pub struct Scorecard {
    /// Whether signals carry their sentence. Most groups (single accounts above all) score too
    /// low to be reported, and writing sentences for them cost more than scoring them.
    explain: bool,
    extraction: Vec<Signal>,
    automation: Vec<Signal>,
    coordination: Vec<Signal>,
    legitimacy: Vec<Signal>,
}

impl Default for Scorecard {
    fn default() -> Self {
        Scorecard::explaining()
    }
}

/// A signal's sentence, written only when the scorecard explains.
pub trait Explain: FnOnce() -> String {}

impl<F: FnOnce() -> String> Explain for F {}

fn signal(name: &str, strength: f64, weight: f64, detail: String) -> Signal {
    let strength = strength.clamp(0.0, 1.0);
    Signal {
        name: name.to_string(),
        score: round3(strength),
        contribution: round3(strength * weight),
        detail,
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

impl Scorecard {
    /// A scorecard whose signals say why, with the numbers behind them.
    pub fn explaining() -> Self {
        Scorecard {
            explain: true,
            extraction: Vec::new(),
            automation: Vec::new(),
            coordination: Vec::new(),
            legitimacy: Vec::new(),
        }
    }

    /// A scorecard that only scores: the same score and contributions, no sentences.
    pub fn scoring_only() -> Self {
        Scorecard {
            explain: false,
            ..Scorecard::explaining()
        }
    }

    fn signal(
        &self,
        name: &str,
        strength: f64,
        weight: f64,
        detail: impl Explain,
    ) -> Option<Signal> {
        (strength > 0.0).then(|| {
            if self.explain {
                signal(name, strength, weight, detail())
            } else {
                // The score is the sum of contributions; names only order the listing.
                signal("", strength, weight, String::new())
            }
        })
    }

    /// Signals that the content of the traffic harvests training data.
    pub fn extraction(&mut self, name: &str, strength: f64, weight: f64, detail: impl Explain) {
        self.extraction
            .extend(self.signal(name, strength, weight, detail));
    }

    /// Signals that the traffic is sent by a machine rather than people.
    pub fn automation(&mut self, name: &str, strength: f64, weight: f64, detail: impl Explain) {
        self.automation
            .extend(self.signal(name, strength, weight, detail));
    }

    /// Signals that the accounts are run by one operator.
    pub fn coordination(&mut self, name: &str, strength: f64, weight: f64, detail: impl Explain) {
        self.coordination
            .extend(self.signal(name, strength, weight, detail));
    }

    /// Signs of legitimate use (negative contributions).
    pub fn legitimacy(&mut self, name: &str, strength: f64, weight: f64, detail: impl Explain) {
        self.legitimacy
            .extend(self.signal(name, strength, -weight, detail));
    }

    /// The score and the signals, strongest contribution first.
    pub fn finish(mut self) -> (f64, Vec<Signal>) {
        let extraction: f64 = self.extraction.iter().map(|s| s.contribution).sum();
        let factor = (extraction / FULL_COORDINATION_AT).clamp(MIN_COORDINATION_FACTOR, 1.0);
        if factor < 1.0 {
            for s in &mut self.coordination {
                s.contribution = round3(s.contribution * factor);
                if !self.explain {
                    continue;
                }
                s.detail = format!(
                    "{} (counted at {} because the requests are only partly extraction-like)",
                    s.detail,
                    pct(factor)
                );
            }
        }
        let mut signals = self.extraction;
        signals.append(&mut self.automation);
        signals.append(&mut self.coordination);
        signals.append(&mut self.legitimacy);
        let logit = BIAS + signals.iter().map(|s| s.contribution).sum::<f64>();
        signals.sort_by(|a, b| {
            b.contribution
                .abs()
                .total_cmp(&a.contribution.abs())
                .then_with(|| a.name.cmp(&b.name))
        });
        (round3(1.0 / (1.0 + (-logit).exp())), signals)
    }
}

/// The per-traffic signals: what the requests ask for and how they are sent.
pub fn traffic_signals(card: &mut Scorecard, a: &Aggregate) {
    pacing_signals(card, a);
    breadth_signal(card, a);
    let n = a.requests;
    let cue = |c: Cue| a.share(c);
    let r = cue(Cue::Reasoning);
    card.extraction("reasoning_elicitation", r, 3.0, || {
        format!("{} of {n} requests ask for step-by-step reasoning", pct(r))
    });
    let g = cue(Cue::Rubric);
    card.extraction("rubric_grading", g, 3.0, || {
        format!(
            "{} of requests ask the model to grade or rank answers against criteria",
            pct(g)
        )
    });
    let t = cue(Cue::Agentic);
    card.extraction("agentic_tool_use", t, 2.5, || {
        format!("{} of requests carry tool or agent scaffolding", pct(t))
    });
    let c = cue(Cue::Coding);
    card.extraction("coding_tasks", c, 1.0, || {
        format!("{} of requests are coding tasks", pct(c))
    });
    if a.turn_known >= 10 {
        let single = frac(a.first_turns, a.turn_known);
        card.extraction("single_turn", (single - 0.5) / 0.5, 1.5, || {
            format!(
                "{} of requests open a new conversation (turn 1)",
                pct(single)
            )
        });
        let multi = 1.0 - single;
        card.legitimacy("conversational", (multi - 0.2) / 0.4, 2.0, || {
            format!(
                "{} of requests continue a conversation, as people do",
                pct(multi)
            )
        });
    }
    let ratio = if a.prompt_tokens > 0 && a.tokens_known >= 10 {
        a.completion_tokens as f64 / a.prompt_tokens as f64
    } else {
        0.0
    };
    let high_cap = frac(a.high_max_tokens, a.max_tokens_known.max(1));
    let long = ((ratio - 2.0) / 6.0).max(if a.max_tokens_known >= 10 {
        high_cap
    } else {
        0.0
    });
    card.extraction("long_outputs", long, 1.2, || {
        format!(
            "answers are {ratio:.1}x the prompt's tokens; {} of requests ask for {}+ output tokens",
            pct(high_cap),
            crate::features::HIGH_MAX_TOKENS
        )
    });
    if a.requests >= 20 {
        let sys = a
            .top_value(crate::features::Attr::SystemPrompt)
            .map_or(0.0, |(_, _, req)| frac(req, a.requests));
        let params = a.top_params_requests().map_or(0.0, |c| frac(c, a.requests));
        let harness = sys.max(params * 0.7);
        card.automation("fixed_harness", (harness - 0.5) / 0.4, 1.5, || {
            format!(
                "{} of requests use one system prompt and {} one parameter set",
                pct(sys),
                pct(params)
            )
        });
    }
    let span = a.span_hours();
    if span >= 12.0 {
        let span_slots = (span.ceil() + 1.0).min(256.0);
        let coverage = f64::from(a.active_hour_count()) / span_slots;
        card.automation("around_the_clock", (coverage - 0.5) / 0.4, 1.0, || {
            format!(
                "active in {} of the {:.0} hours between first and last request",
                pct(coverage.min(1.0)),
                span_slots
            )
        });
    }
    if a.created_known > 0 {
        let fresh = a.fresh as f64 / a.created_known as f64;
        card.automation("fresh_accounts", fresh, 0.8, || {
            format!(
                "{} of {} accounts were first used within two days of sign-up",
                a.fresh, a.created_known
            )
        });
    }
    if a.ip_known > 0 {
        let share = a.rotating as f64 / a.ip_known as f64;
        // One account seen rotating is weak evidence for a group: discount by how many were seen.
        let confidence = a.ip_known as f64 / (a.ip_known as f64 + 1.0);
        card.automation(
            "rotating_addresses",
            share * confidence,
            1.0,
            || format!(
                "{} of {} accounts send from a different IP address on most requests (rotating proxies)",
                a.rotating, a.ip_known
            ),
        );
    }
    if a.status_known >= 20 {
        let limited = frac(a.rate_limited, a.status_known);
        card.automation("rate_limited", limited / 0.1, 0.5, || {
            format!("{} of requests were rate limited (429)", pct(limited))
        });
    }
}

/// Hours of pooled member activity before the spread of hourly counts is judged.
const PACING_MIN_HOURS: u32 = 12;
pub const STEADY_PACING_WEIGHT: f64 = 1.0;

/// How the requests are spread in time: steadily, and through the night.
///
/// `no_night` is reported with weight 0: it fires on the same groups as `around_the_clock`
/// (and on automated products), and counting it changed no figure in docs/quality.md.
fn pacing_signals(card: &mut Scorecard, a: &Aggregate) {
    if a.pacing.hours >= PACING_MIN_HOURS {
        let d = a.pacing.dispersion();
        card.automation(
            "steady_pacing",
            (3.0 - d) / 2.0,
            STEADY_PACING_WEIGHT,
            || format!(
                "requests arrive as steadily as a script's: the variance of the hourly counts is \
                 {d:.1}x their mean over {} hours of {} accounts (about 1 for a steady stream, \
                 far more for people working in sessions)",
                a.pacing.hours, a.paced
            ),
        );
    }
    if a.night_requests > 0 {
        let q = a.quiet_requests / a.night_requests as f64;
        card.automation("no_night", (q - 0.08) / 0.12, 0.0, || {
            format!(
                "{} of requests fall in each account's quietest {NIGHT_HOURS} hours of the day \
                 ({} accounts); people leave them nearly empty, machines that never stop send 25% \
                 there (reported, not counted)",
                pct(q),
                a.night_members
            )
        });
    }
}

/// Prompts before the breadth of subjects is judged.
const BREADTH_MIN_PROMPTS: u64 = 50;

/// How many subjects the prompts range over, from the distinct content words they use.
///
/// Reported with weight 0: a public benchmark is a sweep across subjects too, and counting it
/// (at 1.0) lifted two researchers running one benchmark from 0.33 to 0.48 (docs/quality.md).
fn breadth_signal(card: &mut Scorecard, a: &Aggregate) {
    if a.prompts < BREADTH_MIN_PROMPTS {
        return;
    }
    let words = a.distinct_words();
    let per_prompt = words / a.prompts as f64;
    let strength = ((words.log10() - 3.0) / 1.0).clamp(0.0, 1.0) * (per_prompt / 2.0).min(1.0);
    card.extraction("topic_sweep", strength, 0.0, || {
        format!(
            "about {words:.0} distinct content words over {} prompts ({per_prompt:.1} new per \
             prompt): a sweep across many subjects rather than one application's narrow template \
             (reported, not counted)",
            a.prompts
        )
    });
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::features::{AccountState, Dictionary, Lexicon, Observation};
    use crate::record::Record;

    const HOUR_S: i64 = 3_600;

    /// An account sending one prompt at each of `times` (seconds).
    pub(in crate::detect) fn account(
        times: impl IntoIterator<Item = i64>,
        prompt: impl Fn(usize) -> String,
    ) -> AccountState {
        let (lex, dict) = (Lexicon::new(), Dictionary::default());
        let mut st = AccountState::default();
        for (i, t) in times.into_iter().enumerate() {
            let line = format!(
                r#"{{"ts":{},"account_id":"a","prompt":{:?}}}"#,
                1_772_366_400 + t,
                prompt(i)
            );
            let rec = Record::parse(line.as_bytes()).unwrap();
            st.apply(&Observation::of(&rec, &lex), &dict);
        }
        st
    }

    fn signals(states: &[AccountState]) -> Vec<Signal> {
        let mut card = Scorecard::default();
        traffic_signals(&mut card, &Aggregate::of(states));
        card.finish().1
    }

    fn find<'a>(sigs: &'a [Signal], name: &str) -> Option<&'a Signal> {
        sigs.iter().find(|s| s.name == name)
    }

    #[test]
    fn scoring_only_gives_the_score_and_contributions_without_sentences() {
        // Coding prompts every 20 minutes: partly extraction-like, so coordination is scaled.
        let ask = |i| format!("Please write a function in python for case #{i}");
        let states = [account((0..150).map(|i| i * 1200), ask)];
        let agg = Aggregate::of(&states);
        let fill = |card: &mut Scorecard| {
            traffic_signals(card, &agg);
            card.coordination("shared_payment", 0.8, 2.5, || "a card".into());
        };
        let (mut explaining, mut scoring) = (Scorecard::explaining(), Scorecard::scoring_only());
        fill(&mut explaining);
        fill(&mut scoring);
        let (score, signals) = explaining.finish();
        let (only, bare) = scoring.finish();
        assert!(signals.len() >= 4, "{signals:?}");
        assert_eq!(only, score);
        let mut a: Vec<f64> = signals.iter().map(|s| s.contribution).collect();
        let mut b: Vec<f64> = bare.iter().map(|s| s.contribution).collect();
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        assert_eq!(a, b);
        assert!(signals.iter().all(|s| !s.detail.is_empty()));
        let card = find(&signals, "shared_payment").unwrap();
        assert!(card.detail.contains("counted at"), "{card:?}");
        assert!(
            bare.iter()
                .all(|s| s.detail.is_empty() && s.name.is_empty())
        );
    }

    #[test]
    fn a_steady_stream_paces_and_sessions_do_not() {
        let same = |_| "What is the capital of France?".to_string();
        // Two scripts, each one request every 20 minutes for two days.
        let steady: Vec<_> = (0..2)
            .map(|k| account((0..144).map(|i| i * 1200 + k * 7), same))
            .collect();
        let sigs = signals(&steady);
        let pacing = find(&sigs, "steady_pacing").expect("steady_pacing");
        assert_eq!(pacing.contribution, STEADY_PACING_WEIGHT);
        let night = find(&sigs, "no_night").expect("no_night");
        assert_eq!((night.score, night.contribution), (1.0, 0.0));
        // Two people: every evening a session of eight requests a minute and a half apart.
        let people: Vec<_> = (0..2)
            .map(|k| {
                let times = (0..6).flat_map(move |d| {
                    (0..8).map(move |i| d * 24 * HOUR_S + 19 * HOUR_S + k * 600 + i * 90)
                });
                account(times, same)
            })
            .collect();
        let sigs = signals(&people);
        assert!(find(&sigs, "steady_pacing").is_none(), "{sigs:?}");
        assert!(find(&sigs, "no_night").is_none(), "{sigs:?}");
    }

    #[test]
    fn topic_sweep_is_reported_for_many_subjects_and_not_for_one_template() {
        let letters = |i: usize| -> String {
            (0..4)
                .map(|k| (b'a' + ((i / 26usize.pow(k)) % 26) as u8) as char)
                .collect()
        };
        // Every prompt about new subjects: ten words of its own.
        let sweep = account((0..400).map(|i| i * 60), |i| {
            (0..10)
                .map(|k| format!("subject{} ", letters(i * 10 + k)))
                .collect()
        });
        let sigs = signals(&[sweep]);
        let s = find(&sigs, "topic_sweep").expect("topic_sweep");
        assert!(s.score > 0.3 && s.contribution == 0.0, "{s:?}");
        // One template with a small slot: a narrow product.
        let narrow = account((0..400).map(|i| i * 60), |i| {
            format!(
                "Summarise the weather forecast for station {} tomorrow",
                letters(i % 20)
            )
        });
        assert!(find(&signals(&[narrow]), "topic_sweep").is_none());
    }
}
