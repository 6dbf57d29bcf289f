//! Phrase lexicons for the kinds of request that harvest training data.
//!
//! General phrasing that people and harnesses use, matched case-insensitively
//! anywhere in a prompt or system prompt. The lists are documented in
//! docs/signals.md; a hit says what the request asks for, not that it is abuse.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

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
    automaton: AhoCorasick,
    cue_of: Vec<u8>,
}

impl Default for Lexicon {
    fn default() -> Self {
        Self::new()
    }
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
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // Overlapping search cannot use a prefilter, so it walks every byte: a DFA makes
            // each step one table lookup (the patterns are few, so the table is small).
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .expect("lexicon patterns are valid");
        Lexicon { automaton, cue_of }
    }

    /// The cues present in `text`, as a bit set of [`Cue::bit`].
    pub fn cues(&self, text: &str) -> u8 {
        let all = CUES.iter().fold(0, |m, c| m | c.bit());
        let mut found = 0u8;
        for m in self.automaton.find_overlapping_iter(text) {
            found |= self.cue_of[m.pattern().as_usize()];
            if found == all {
                break;
            }
        }
        found
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

    #[test]
    fn several_cues_in_one_prompt() {
        let l = Lexicon::new();
        let c = l.cues("Implement a parser and explain each step; thought: observation:");
        assert_ne!(c & Cue::Coding.bit(), 0);
        assert_ne!(c & Cue::Reasoning.bit(), 0);
        assert_ne!(c & Cue::Agentic.bit(), 0);
    }
}
