//! Near-duplicate prompt text: word shingles, a fixed-size MinHash signature, LSH bands.
//!
//! A prompt's shingles are its runs of [`SHINGLE_WORDS`] consecutive words, normalised as the
//! template keys are (lower-case, digits folded, punctuation at word ends dropped). Two prompts'
//! similarity is the Jaccard similarity of their shingle sets: a harness that wraps differing
//! content in the same (or a lightly paraphrased) wrapper gives prompts that share much of it.
//!
//! The signature is one-permutation MinHash: each shingle is hashed once and falls in one of
//! [`BINS`] bins by its top bits; a bin keeps its smallest hash. Empty bins borrow from a
//! non-empty bin picked by a fixed probe sequence (optimal densification, Shrivastava 2017), so
//! two prompts agree in a bin with probability equal to their Jaccard similarity. Only the low
//! 8 bits of each bin's hash are kept (b-bit MinHash, Li and König 2010): 32 bytes a prompt,
//! which is what lets every sampled prompt of an account carry one. Unrelated bins then agree
//! by chance 1 time in 256; [`Signature::jaccard`] corrects for that.
//!
//! Hashing each shingle once (not once per bin, as classic MinHash does) keeps the cost of a
//! prompt close to that of reading its words.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::text::normalise;

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 3;
/// Bins of the signature (one byte each).
pub const BINS: usize = 32;
/// LSH bands and the bins per band: two prompts become candidates when all the bins of one
/// band agree. With 8 bands of 4, a pair at Jaccard 0.8 is a candidate 98 % of the time, at
/// 0.5 40 %, at 0.3 6 %.
pub const BANDS: usize = 8;
pub const ROWS: usize = BINS / BANDS;
/// Prompts shorter than this have no signature: short prompts ("thanks", "continue") are
/// near-duplicates of everybody's.
pub const MIN_WORDS: usize = 8;

const SHINGLE_SEED: u64 = 0x6d69_6e68_6173_6831;

/// A prompt's b-bit one-permutation MinHash: [`BINS`] bytes, packed in words so it serialises
/// as a fixed array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Signature([u64; BINS / 8]);

impl Signature {
    /// The signature of a prompt's shingles; `None` for a prompt of fewer than [`MIN_WORDS`]
    /// words.
    pub fn of(prompt: &str) -> Option<Signature> {
        let mut mins = [u64::MAX; BINS];
        let mut words = 0;
        for_each_shingle(prompt, |h, _, n| {
            words = n;
            let bin = (h >> (64 - BINS.trailing_zeros())) as usize;
            mins[bin] = mins[bin].min(h);
        });
        (words >= MIN_WORDS).then(|| Signature::from_bins(&mins))
    }

    /// The signature of a set of shingle hashes (already well mixed); `None` when it is empty.
    pub fn of_hashes(hashes: impl IntoIterator<Item = u64>) -> Option<Signature> {
        let mut mins = [u64::MAX; BINS];
        let mut any = false;
        for h in hashes {
            let bin = (h >> (64 - BINS.trailing_zeros())) as usize;
            mins[bin] = mins[bin].min(h);
            any = true;
        }
        any.then(|| Signature::from_bins(&mins))
    }

    /// Densifies the bins' minimums (at least one must be set) and keeps their low bytes.
    fn from_bins(mins: &[u64; BINS]) -> Signature {
        let mut words = [0u64; BINS / 8];
        for (i, &min) in mins.iter().enumerate() {
            let mut h = min;
            // An empty bin takes the value of the first non-empty bin on its own fixed probe
            // sequence; both prompts of a pair probe the same sequence.
            let mut attempt = 0;
            while h == u64::MAX {
                attempt += 1;
                h = mins[probe(i, attempt)];
                if attempt > 4 * BINS {
                    // Probing has all but surely hit a set bin by now; scan to be certain.
                    h = *mins.iter().find(|&&m| m != u64::MAX).expect("a set bin");
                }
            }
            words[i / 8] |= u64::from(h as u8) << (8 * (i % 8));
        }
        Signature(words)
    }

    /// Bins in which the two signatures agree.
    pub fn agreements(&self, other: &Signature) -> u32 {
        self.0
            .iter()
            .zip(other.0)
            .map(|(a, b)| {
                // A byte of a ^ b is zero where the bins agree: count the zero bytes.
                let x = a ^ b;
                let nonzero = (((x & 0x7f7f_7f7f_7f7f_7f7f) + 0x7f7f_7f7f_7f7f_7f7f) | x)
                    & 0x8080_8080_8080_8080;
                8 - nonzero.count_ones()
            })
            .sum()
    }

    /// Estimated Jaccard similarity of the two prompts' shingle sets, corrected for bins that
    /// agree by chance in their low byte (1 in 256).
    pub fn jaccard(&self, other: &Signature) -> f64 {
        let chance = 1.0 / 256.0;
        let agree = f64::from(self.agreements(other)) / BINS as f64;
        ((agree - chance) / (1.0 - chance)).clamp(0.0, 1.0)
    }

    /// The LSH band keys: band `b`'s [`ROWS`] bytes as one number.
    pub fn bands(&self) -> [u32; BANDS] {
        let bytes: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = [0u32; BANDS];
        for (o, chunk) in out.iter_mut().zip(bytes.chunks_exact(ROWS)) {
            *o = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        }
        out
    }
}

/// Calls `f(hash, shingle text, words so far)` for each shingle of `prompt`: runs of
/// [`SHINGLE_WORDS`] normalised words (a prompt with fewer words is one shingle). The text is
/// the normalised words, each followed by a space.
pub fn for_each_shingle(prompt: &str, mut f: impl FnMut(u64, &[u8], usize)) {
    // One buffer per thread, reused: an allocation per prompt showed in the profile.
    thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        shingles_into(prompt, buf, &mut f);
    });
}

fn shingles_into(prompt: &str, buf: &mut Vec<u8>, f: &mut impl FnMut(u64, &[u8], usize)) {
    // Where each word starts in `buf`, the last SHINGLE_WORDS + 1 of them.
    let mut starts = [0usize; SHINGLE_WORDS + 1];
    let mut n = 0;
    for w in prompt.split_whitespace() {
        let before = buf.len();
        normalise(w, buf);
        if buf.len() == before + 1 {
            // Only punctuation: not a word.
            buf.truncate(before);
            continue;
        }
        starts[n % (SHINGLE_WORDS + 1)] = before;
        n += 1;
        if n >= SHINGLE_WORDS {
            let from = starts[(n - SHINGLE_WORDS) % (SHINGLE_WORDS + 1)];
            let text = &buf[from..];
            f(shingle_hash(text), text, n);
        }
    }
    if (1..SHINGLE_WORDS).contains(&n) {
        f(shingle_hash(buf), buf, n);
    }
}

/// Attempts of each bin's probe sequence kept in a table: a short prompt leaves most bins
/// empty, and computing every probe was about a third of the signature's time in a scan's profile.
const PROBES_KEPT: usize = 16;
static PROBES: [[u8; PROBES_KEPT]; BINS] = {
    let mut t = [[0u8; PROBES_KEPT]; BINS];
    let mut i = 0;
    while i < BINS {
        let mut a = 0;
        while a < PROBES_KEPT {
            t[i][a] = probe_of(i, a + 1) as u8;
            a += 1;
        }
        i += 1;
    }
    t
};

/// The bin an empty bin `i` looks at on its `attempt`-th probe (from 1).
fn probe(i: usize, attempt: usize) -> usize {
    match PROBES[i].get(attempt - 1) {
        Some(&j) => usize::from(j),
        None => probe_of(i, attempt),
    }
}

const fn probe_of(i: usize, attempt: usize) -> usize {
    (mix(((i as u64) << 32) | attempt as u64) % BINS as u64) as usize
}

/// The hash of a shingle's normalised text (words each followed by a space).
pub fn shingle_hash(text: &[u8]) -> u64 {
    xxh3_64_with_seed(text, SHINGLE_SEED)
}

/// splitmix64's finaliser: the probe sequence of densification.
const fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn shingles(p: &str) -> HashSet<Vec<u8>> {
        let mut out = HashSet::new();
        for_each_shingle(p, |_, t, _| {
            out.insert(t.to_vec());
        });
        out
    }

    fn exact(a: &str, b: &str) -> f64 {
        let (a, b) = (shingles(a), shingles(b));
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    }

    /// A prompt of `n` words drawn from a vocabulary of 5,000, from a seed (letters only:
    /// digits are folded by the normalisation).
    fn words(seed: u64, n: usize) -> Vec<String> {
        (0..n as u64)
            .map(|i| {
                let w = mix((seed << 20) | i) % 5000;
                (0..3)
                    .map(|k| (b'a' + (w / 26u64.pow(k) % 26) as u8) as char)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn shingles_are_normalised_word_runs() {
        let got: Vec<String> = {
            let mut v = Vec::new();
            for_each_shingle("Problem 12: Solve -- it, NOW", |_, t, _| {
                v.push(String::from_utf8(t.to_vec()).unwrap())
            });
            v
        };
        assert_eq!(got, ["problem 0 solve ", "0 solve it ", "solve it now "]);
        let mut short = Vec::new();
        for_each_shingle("Hi there", |_, t, n| short.push((t.to_vec(), n)));
        assert_eq!(short, [(b"hi there ".to_vec(), 2)]);
    }

    #[test]
    fn identical_prompts_agree_everywhere_and_short_ones_are_not_signed() {
        let p = "Answer the question below and explain each step of the working carefully";
        let s = Signature::of(p).unwrap();
        assert_eq!(s.agreements(&Signature::of(p).unwrap()), BINS as u32);
        assert_eq!(s.jaccard(&s), 1.0);
        assert!(Signature::of("please continue with the answer").is_none());
    }

    #[test]
    fn estimates_follow_exact_jaccard() {
        // Pairs sharing a varying part of their words: the estimate's error over many pairs
        // must be small and unbiased; one pair's error is about ±0.09 at 32 bins.
        let (mut err, mut bias, mut n) = (0.0, 0.0, 0.0);
        for seed in 0..300u64 {
            let shared = (seed % 10) as usize * 10;
            let mut a = words(seed, 100);
            let mut b = words(seed + 1000, 100);
            b[..shared].clone_from_slice(&a[..shared]);
            if seed % 2 == 0 {
                a.reverse();
                b.reverse();
            }
            let (a, b) = (a.join(" "), b.join(" "));
            let d = Signature::of(&a)
                .unwrap()
                .jaccard(&Signature::of(&b).unwrap())
                - exact(&a, &b);
            err += d * d;
            bias += d;
            n += 1.0;
        }
        let (rmse, bias) = ((err / n).sqrt(), bias / n);
        assert!(rmse < 0.1, "rmse {rmse}");
        assert!(bias.abs() < 0.02, "bias {bias}");
    }

    #[test]
    fn bands_catch_near_duplicates_and_seldom_unrelated_prompts() {
        let shares_band =
            |a: &Signature, b: &Signature| a.bands().iter().zip(b.bands()).any(|(x, y)| *x == y);
        let (mut near, mut far) = (0, 0);
        for seed in 0..200u64 {
            // One wrapper of 60 words around 4 words of differing content, one word of the
            // wrapper changed: Jaccard 53/71 = 0.75, a candidate with 8 bands of 4 95 % of
            // the time.
            let wrapper = words(7, 60);
            let mut a = wrapper.clone();
            a.splice(20..20, words(seed, 4));
            let mut b = wrapper;
            b[5] = "changed".into();
            b.splice(20..20, words(seed + 500, 4));
            assert!((exact(&a.join(" "), &b.join(" ")) - 53.0 / 71.0).abs() < 0.03);
            let (sa, sb) = (
                Signature::of(&a.join(" ")).unwrap(),
                Signature::of(&b.join(" ")).unwrap(),
            );
            near += usize::from(shares_band(&sa, &sb));
            let c = Signature::of(&words(seed + 9000, 50).join(" ")).unwrap();
            far += usize::from(shares_band(&sa, &c));
        }
        assert!(near >= 175, "near-duplicates candidates {near} of 200");
        assert!(far <= 2, "unrelated candidates {far} of 200");
    }

    #[test]
    fn the_probe_table_is_the_probe_sequence() {
        for i in 0..BINS {
            for attempt in 1..=2 * PROBES_KEPT {
                assert_eq!(probe(i, attempt), probe_of(i, attempt));
            }
        }
    }

    #[test]
    fn every_bin_of_a_short_prompt_holds_one_of_its_shingles() {
        // Most bins are empty before densification fills them from the set ones.
        let p = "Tell me a joke about cats and dogs please";
        let mut low = HashSet::new();
        for_each_shingle(p, |h, _, _| {
            low.insert(h as u8);
        });
        assert!(low.len() < BINS / 2);
        let s = Signature::of(p).unwrap();
        let bytes: Vec<u8> = s.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert!(bytes.iter().all(|b| low.contains(b)), "{bytes:?}");
    }

    #[test]
    fn signature_of_hashes_matches_signature_of_text() {
        let p = "Summarise the following passage for a student in three short sentences please";
        let mut hashes = Vec::new();
        for_each_shingle(p, |h, _, _| hashes.push(h));
        assert_eq!(Signature::of_hashes(hashes), Signature::of(p));
        assert_eq!(Signature::of_hashes([]), None);
    }
}
