//! What the detector keeps of one prompt: a hash, cue bits and template keys.
//!
//! Template keys catch harnesses that wrap differing content in the same
//! words: the first and last few words of a prompt, lower-cased, with digits
//! folded, hashed. A wrapper shows up as a key that recurs across an account's
//! prompts (and across accounts); the content around it does not.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::lexicon::Lexicon;

/// Number of words in the short and long prefix/suffix keys.
const SHORT: usize = 4;
const LONG: usize = 8;

/// Which template key a slot holds.
pub const TEMPLATE_KINDS: [&str; 4] = [
    "first 4 words",
    "first 8 words",
    "last 4 words",
    "last 8 words",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PromptFeatures {
    /// Hash of the whole prompt (trimmed); equal prompts have equal hashes.
    pub hash: u64,
    /// Bit set of lexicon cues.
    pub cues: u8,
    /// Prefix and suffix keys (see [`TEMPLATE_KINDS`]); 0 where the prompt is too short.
    pub keys: [u64; 4],
    pub words: u32,
}

pub fn analyze(prompt: &str, lexicon: &Lexicon) -> PromptFeatures {
    let trimmed = prompt.trim();
    let words = word_count(trimmed);
    let mut keys = [0u64; 4];
    // A key must cover at most half the prompt, so a short prompt is not its own "template".
    if words >= 2 * SHORT {
        let long = words >= 2 * LONG;
        let mut buf = Vec::with_capacity(128);
        [keys[0], keys[1]] = end_keys(trimmed.split_whitespace(), long, [1, 2], &mut buf);
        [keys[2], keys[3]] = end_keys(trimmed.split_whitespace().rev(), long, [3, 4], &mut buf);
    }
    PromptFeatures {
        hash: xxh3_64(trimmed.as_bytes()),
        cues: lexicon.cues(trimmed),
        keys,
        words: words as u32,
    }
}

/// Words as `split_whitespace` counts them, byte by byte for ASCII text (most prompts), which
/// spares decoding every character.
fn word_count(s: &str) -> usize {
    if !s.is_ascii() {
        return s.split_whitespace().count();
    }
    let mut words = 0;
    let mut in_word = false;
    for &b in s.as_bytes() {
        // The ASCII characters with the Unicode White_Space property.
        let space = b == b' ' || (b'\t'..=b'\r').contains(&b);
        words += usize::from(!space && !in_word);
        in_word = !space;
    }
    words
}

/// The SHORT-word and (when `long`) LONG-word keys of one end of a prompt, `words` running from
/// that end. The SHORT-word text is a prefix of the LONG-word text, so one pass serves both.
fn end_keys<'a>(
    words: impl Iterator<Item = &'a str>,
    long: bool,
    seeds: [u64; 2],
    buf: &mut Vec<u8>,
) -> [u64; 2] {
    buf.clear();
    let mut short_len = 0;
    for (i, w) in words.take(if long { LONG } else { SHORT }).enumerate() {
        normalise(w, buf);
        if i + 1 == SHORT {
            short_len = buf.len();
        }
    }
    [
        key_hash(&buf[..short_len], seeds[0]),
        if long { key_hash(buf, seeds[1]) } else { 0 },
    ]
}

/// Appends a normalised word and a space: ASCII lower-case, runs of digits folded to one `0`,
/// punctuation at either end dropped, so "Problem 12:" and "problem 7" agree.
fn normalise(word: &str, buf: &mut Vec<u8>) {
    let w = word.trim_matches(|c: char| c.is_ascii_punctuation());
    let mut last_digit = false;
    for b in w.bytes() {
        if b.is_ascii_digit() {
            if !last_digit {
                buf.push(b'0');
            }
            last_digit = true;
        } else {
            buf.push(b.to_ascii_lowercase());
            last_digit = false;
        }
    }
    buf.push(b' ');
}

/// Never 0: 0 marks "no key".
fn key_hash(normalised: &[u8], seed: u64) -> u64 {
    xxh3_64_with_seed(normalised, seed).max(1)
}

/// The first `max_chars` characters of a prompt, on one line, for evidence.
pub fn excerpt(prompt: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in prompt.trim().chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys as first written: each end and length hashed on its own.
    fn key<'a>(words: impl Iterator<Item = &'a str>, seed: u64) -> u64 {
        let mut buf = Vec::new();
        for w in words {
            normalise(w, &mut buf);
        }
        key_hash(&buf, seed)
    }

    #[test]
    fn end_keys_match_separate_keys() {
        let l = Lexicon::new();
        for p in [
            "one two three four five six seven eight",
            "Problem 12: Solve x + 3 = 7. Show every step, then give the answer on the last line.",
            "  Tabs\tand\nnewlines, «quotes», café, 2024-01-01, and   more words here to pass sixteen of them in total ok ",
        ] {
            let t = p.trim();
            let n = t.split_whitespace().count();
            let want = [
                if n >= 2 * SHORT {
                    key(t.split_whitespace().take(SHORT), 1)
                } else {
                    0
                },
                if n >= 2 * LONG {
                    key(t.split_whitespace().take(LONG), 2)
                } else {
                    0
                },
                if n >= 2 * SHORT {
                    key(t.split_whitespace().rev().take(SHORT), 3)
                } else {
                    0
                },
                if n >= 2 * LONG {
                    key(t.split_whitespace().rev().take(LONG), 4)
                } else {
                    0
                },
            ];
            assert_eq!(analyze(p, &l).keys, want, "{p:?}");
        }
    }

    #[test]
    fn word_count_agrees_with_split_whitespace() {
        for s in [
            "",
            "  ",
            "one",
            " two  words ",
            "tab\tand\nnewline\r\nand\x0bvertical\x0cfeed",
            "\x1cnot\x1fspace",
            "café au lait\u{a0}non-breaking",
            "x\u{2003}em space",
        ] {
            assert_eq!(word_count(s), s.split_whitespace().count(), "{s:?}");
        }
    }

    #[test]
    fn wrappers_share_keys_and_content_does_not() {
        let l = Lexicon::new();
        let a = analyze(
            "Solve the following problem carefully. Natalia sold clips to 48 of her friends in April, and then she sold half as many in May. How many did she sell?",
            &l,
        );
        let b = analyze(
            "Solve the following problem carefully. Weng earns 12 dollars an hour for babysitting and worked 50 minutes yesterday. How much did she earn?",
            &l,
        );
        // The wrapper is five words long: the 4-word prefix is shared, the 8-word one reaches the content.
        assert_eq!(a.keys[0], b.keys[0]);
        assert_ne!(a.keys[1], b.keys[1]);
        assert_ne!(a.keys[2], b.keys[2]);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn digits_and_case_are_folded() {
        let l = Lexicon::new();
        let a = analyze(
            "Problem 12: compute the sum of these numbers now please, thanks",
            &l,
        );
        let b = analyze(
            "problem 7 compute the sum of other numbers now please, thanks",
            &l,
        );
        assert_eq!(a.keys[0], b.keys[0]);
        assert_eq!(a.keys[2], b.keys[2]);
    }

    #[test]
    fn short_prompts_have_no_keys() {
        let f = analyze("hi there", &Lexicon::new());
        assert_eq!(f.keys, [0; 4]);
        assert_eq!(f.words, 2);
    }

    #[test]
    fn excerpt_is_bounded_and_single_line() {
        assert_eq!(excerpt("a\nb", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
