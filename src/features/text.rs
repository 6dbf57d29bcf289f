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
    /// The smallest hashes of the prompt's distinct content words (0 = none), for the
    /// account's vocabulary sketch: what subjects it asks about, not how it phrases them.
    pub vocab: [u64; VOCAB_PER_PROMPT],
}

/// Content-word hashes kept per prompt.
pub const VOCAB_PER_PROMPT: usize = 8;
/// Shortest word counted as content; shorter ones are mostly function words.
const CONTENT_MIN_LEN: usize = 5;
/// Common words of five letters or more that say nothing about the subject.
const STOP: &[&str] = &[
    "about",
    "after",
    "again",
    "because",
    "before",
    "being",
    "below",
    "between",
    "could",
    "please",
    "should",
    "their",
    "there",
    "these",
    "thing",
    "things",
    "think",
    "those",
    "through",
    "under",
    "using",
    "where",
    "which",
    "while",
    "would",
    "write",
    "explain",
    "answer",
    "question",
    "following",
];

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
        vocab: content_words(trimmed),
    }
}

/// The [`VOCAB_PER_PROMPT`] smallest hashes of the distinct content words of a prompt: ASCII
/// letters only, lower-cased, [`CONTENT_MIN_LEN`] letters or more, common words left out.
/// Keeping the smallest hashes (not the first words) lets an account's sketch keep the
/// smallest hashes over all its prompts, so it estimates how many distinct words it used.
fn content_words(prompt: &str) -> [u64; VOCAB_PER_PROMPT] {
    let mut out = [u64::MAX; VOCAB_PER_PROMPT];
    let mut word = [0u8; 64];
    let bytes = prompt.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Words are the runs of ASCII letters; only the runs long enough are looked at.
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let run = &bytes[start..i];
        if run.len() < CONTENT_MIN_LEN {
            continue;
        }
        let lower: Vec<u8>;
        let word = if run.len() <= word.len() {
            let w = &mut word[..run.len()];
            for (l, b) in w.iter_mut().zip(run) {
                *l = b.to_ascii_lowercase();
            }
            &*w
        } else {
            lower = run.to_ascii_lowercase();
            &lower
        };
        let h = xxh3_64_with_seed(word, 5).max(1);
        // The stop list is looked at only for the few words that would be kept, by hash first.
        if h < out[VOCAB_PER_PROMPT - 1] && !out.contains(&h) && !is_stop_word(h, word) {
            let i = out.partition_point(|&x| x < h);
            out[i..].rotate_right(1);
            out[i] = h;
        }
    }
    out.map(|h| if h == u64::MAX { 0 } else { h })
}

/// Whether a lower-cased word of hash `h` is in [`STOP`]: its hash among the stop words' (one
/// comparison each), and then its letters.
fn is_stop_word(h: u64, word: &[u8]) -> bool {
    static HASHES: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    let hashes = HASHES.get_or_init(|| {
        STOP.iter()
            .map(|s| xxh3_64_with_seed(s.as_bytes(), 5).max(1))
            .collect()
    });
    hashes
        .iter()
        .zip(STOP)
        .any(|(&sh, s)| sh == h && s.as_bytes() == word)
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
pub(crate) fn normalise(word: &str, buf: &mut Vec<u8>) {
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
    fn content_words_ignore_case_order_and_function_words() {
        let a = content_words("Photosynthesis converts sunlight: WHICH plants store as sugar");
        let b = content_words("plants store sugar as sunlight converts photosynthesis, which");
        assert_eq!(a, b);
        let n = a.iter().filter(|&&h| h != 0).count();
        // photosynthesis, converts, sunlight, plants, store, sugar
        assert_eq!(n, 6);
        assert!(a[..n].windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            content_words("the cat sat on a mat, which is there"),
            [0; 8]
        );
        let long: String = (0..100u8)
            .map(|i| {
                format!(
                    "topic{}{} ",
                    (b'a' + i / 26) as char,
                    (b'a' + i % 26) as char
                )
            })
            .collect();
        assert!(content_words(&long).iter().all(|&h| h != 0));
    }

    /// Content words as first written: letters pushed one by one, the stop list read through.
    fn content_words_plainly(prompt: &str) -> [u64; VOCAB_PER_PROMPT] {
        let mut hashes: Vec<u64> = prompt
            .split(|c: char| !c.is_ascii_alphabetic())
            .map(str::to_ascii_lowercase)
            .filter(|w| w.len() >= CONTENT_MIN_LEN && !STOP.contains(&w.as_str()))
            .map(|w| xxh3_64_with_seed(w.as_bytes(), 5).max(1))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut out = [0; VOCAB_PER_PROMPT];
        for (o, h) in out.iter_mut().zip(hashes) {
            *o = h;
        }
        out
    }

    #[test]
    fn content_words_agree_with_a_plain_reading() {
        let long = "x".repeat(70);
        for p in [
            "",
            "Photosynthesis converts sunlight; WHICH plants store as sugar, because THERE",
            "café naïve résumé façade coöperate: straße words between accents",
            &format!("{long} {long}y short {long}"),
            "Question 12: explain step by step why the sky looks blue at noon today, please answer",
        ] {
            assert_eq!(content_words(p), content_words_plainly(p), "{p:?}");
        }
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
