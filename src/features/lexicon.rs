//! Phrase lexicons for the kinds of request that harvest training data.
//!
//! General phrasing that people and harnesses use, matched case-insensitively
//! anywhere in a prompt or system prompt. The lists are documented in
//! docs/signals.md; a hit says what the request asks for, not that it is abuse.

use std::cell::RefCell;
use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// What a prompt asks the model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cue {
    /// Step-by-step reasoning traces.
    Reasoning = 0,
    /// Grading or ranking answers against criteria (the model as a reward model).
    Rubric = 1,
    /// Tool use, function calling, agent loops.
    Agentic = 2,
    /// Writing or fixing code.
    Coding = 3,
}

pub const CUES: [Cue; 4] = [Cue::Reasoning, Cue::Rubric, Cue::Agentic, Cue::Coding];

impl Cue {
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

const REASONING: &[&str] = &[
    "step by step",
    "step-by-step",
    "show your work",
    "show all your work",
    "show your reasoning",
    "show all of your reasoning",
    "explain your reasoning",
    "reasoning process",
    "chain of thought",
    "chain-of-thought",
    "think through",
    "think carefully",
    "let's think",
    "reason through",
    "reason about this",
    "walk me through",
    "walk through your",
    "explain each step",
    "justify each step",
    "detailed reasoning",
    "intermediate steps",
    "before giving the final answer",
    "before the final answer",
    "before answering",
    "derive the answer",
    "explain how you arrived",
    "show the derivation",
    "thought process",
    "your thinking",
    "each step",
    "every step",
    "work through",
    "reasoning",
    "one step at a time",
];

const RUBRIC: &[&str] = &[
    "rubric",
    "grade the",
    "grade this",
    "grade each",
    "score the",
    "score each",
    "score this",
    "rate the following",
    "rate this response",
    "rate each",
    "on a scale of",
    "on a scale from",
    "from 1 to 10",
    "from 1 to 5",
    "evaluate the response",
    "evaluate the answer",
    "evaluate the following",
    "which response is better",
    "which answer is better",
    "compare the two responses",
    "preferred response",
    "candidate answer",
    "candidate response",
    "reference answer",
    "assign a score",
    "scoring criteria",
    "grading criteria",
    "judge whether",
    "is the answer correct",
];

const AGENTIC: &[&str] = &[
    "you have access to the following tools",
    "you have access to these tools",
    "available tools",
    "available functions",
    "tool call",
    "tool_call",
    "function call",
    "function_call",
    "call a function",
    "call the function",
    "use the tool",
    "\"parameters\":",
    "\"tool\":",
    "action input:",
    "observation:",
    "thought:",
    "final answer:",
    "agent loop",
    "execute the command",
    "run the command",
    "shell command",
    "the next action",
];

const CODING: &[&str] = &[
    "write a function",
    "write a python",
    "write code",
    "write a program",
    "write a script",
    "implement a",
    "implement the",
    "python function",
    "in python",
    "javascript",
    "typescript",
    "in rust",
    "in java",
    "c++",
    "sql query",
    "```",
    "def ",
    "unit test",
    "test cases",
    "refactor",
    "debug this",
    "compile error",
    "stack trace",
    "regular expression",
    "algorithm",
    "time complexity",
];

/// The compiled lexicons: one automaton, each pattern tagged with its cue.
pub struct Lexicon {
    dfa: DFA,
    start: StateID,
    cue_of: Vec<u8>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Self::new()
    }
}

/// System prompts whose cues a thread has looked up, and the most it keeps.
const REPEATED_MAX: usize = 4096;

thread_local! {
    /// Cues of the system prompts seen lately, by their hash, with their text to confirm a hit.
    /// The lexicon is the same everywhere, so the cues of a text are the same whatever instance
    /// found them.
    static REPEATED: RefCell<HashMap<u64, (Box<str>, u8), foldhash::fast::RandomState>> =
        RefCell::default();
}

impl Lexicon {
    pub fn new() -> Self {
        let mut patterns = Vec::new();
        let mut cue_of = Vec::new();
        for (cue, list) in [
            (Cue::Reasoning, REASONING),
            (Cue::Rubric, RUBRIC),
            (Cue::Agentic, AGENTIC),
            (Cue::Coding, CODING),
        ] {
            for p in list {
                patterns.push(*p);
                cue_of.push(cue.bit());
            }
        }
        // Every occurrence counts, so the search must see overlapping matches, which cannot use
        // a prefilter and steps every byte: a DFA makes each step one table look-up, and stepping
        // it here (not through the library's overlapping iterator) leaves only that in the loop.
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&patterns)
            .expect("lexicon patterns are valid");
        let start = dfa
            .start_state(Anchored::No)
            .expect("an unanchored DFA has an unanchored start");
        Lexicon { dfa, start, cue_of }
    }

    /// The cues present in `text`, as a bit set of [`Cue::bit`].
    pub fn cues(&self, text: &str) -> u8 {
        let all = CUES.iter().fold(0, |m, c| m | c.bit());
        let dfa = &self.dfa;
        let mut sid = self.start;
        let mut found = 0u8;
        for &b in text.as_bytes() {
            sid = dfa.next_state(Anchored::No, sid, b);
            // Under standard semantics a state's matches are every pattern ending here, so the
            // states walked through hold every occurrence, overlapping or not.
            if dfa.is_match(sid) {
                for i in 0..dfa.match_len(sid) {
                    found |= self.cue_of[dfa.match_pattern(sid, i).as_usize()];
                }
                if found == all {
                    break;
                }
            }
        }
        found
    }

    /// [`Lexicon::cues`] of a text that recurs, such as a client's system prompt (sent with
    /// every one of its requests), remembered per thread under `hash`, a hash of the text.
    pub fn cues_repeated(&self, hash: u64, text: &str) -> u8 {
        REPEATED.with_borrow_mut(|seen| {
            if let Some((known, cues)) = seen.get(&hash)
                && **known == *text
            {
                return *cues;
            }
            let cues = self.cues(text);
            if seen.len() >= REPEATED_MAX {
                seen.clear();
            }
            seen.insert(hash, (text.into(), cues));
            cues
        })
    }

    /// The patterns of one cue, for documentation and tests.
    pub fn patterns(cue: Cue) -> &'static [&'static str] {
        match cue {
            Cue::Reasoning => REASONING,
            Cue::Rubric => RUBRIC,
            Cue::Agentic => AGENTIC,
            Cue::Coding => CODING,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cue_case_insensitively() {
        let l = Lexicon::new();
        assert_eq!(l.cues("Please think STEP BY STEP."), Cue::Reasoning.bit());
        assert_eq!(
            l.cues("Grade the answer on a scale of 1-10"),
            Cue::Rubric.bit()
        );
        assert_eq!(
            l.cues("You have access to the following tools: search"),
            Cue::Agentic.bit()
        );
        assert_eq!(l.cues("Write a Python function to sort"), Cue::Coding.bit());
        assert_eq!(l.cues("What should I cook tonight?"), 0);
    }

    /// The cues as first found: the library's own overlapping search.
    fn overlapping(text: &str) -> u8 {
        let patterns: Vec<(&str, u8)> = CUES
            .iter()
            .flat_map(|&c| Lexicon::patterns(c).iter().map(move |p| (*p, c.bit())))
            .collect();
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns.iter().map(|p| p.0))
            .unwrap();
        ac.find_overlapping_iter(text)
            .fold(0, |m, hit| m | patterns[hit.pattern().as_usize()].1)
    }

    #[test]
    fn stepping_the_dfa_finds_what_overlapping_search_finds() {
        let l = Lexicon::new();
        let every: String = CUES
            .iter()
            .flat_map(|&c| Lexicon::patterns(c).iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut texts = vec![every.clone(), every.to_uppercase(), String::new()];
        // Each pattern alone, cut short, and run into its neighbours.
        for c in CUES {
            for p in Lexicon::patterns(c) {
                texts.push(p.to_string());
                texts.push(p[..p.len() - 1].to_string());
                texts.push(format!("x{p}{p}y"));
            }
        }
        for pair in every.as_bytes().windows(40).step_by(7) {
            texts.push(String::from_utf8_lossy(pair).into_owned());
        }
        for t in &texts {
            assert_eq!(l.cues(t), overlapping(t), "{t:?}");
            let h = crate::features::attrs::value_hash(
                crate::features::Attr::SystemPrompt,
                t.as_bytes(),
            );
            assert_eq!(l.cues_repeated(h, t), l.cues(t), "{t:?}");
            // A hash that collides with another text's is confirmed against the text.
            assert_eq!(l.cues_repeated(h, "plain words"), 0);
        }
    }

    #[test]
    fn several_cues_in_one_prompt() {
        let l = Lexicon::new();
        let c = l.cues("Implement a parser and explain each step; thought: observation:");
        assert_ne!(c & Cue::Coding.bit(), 0);
        assert_ne!(c & Cue::Reasoning.bit(), 0);
        assert_ne!(c & Cue::Agentic.bit(), 0);
    }
}
