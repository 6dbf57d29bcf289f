//! Our near-duplicate prompt sketching measured on a file of prompts, and the identical input
//! prepared for the Python peers (`scripts/peers.sh` runs both and prints the table).
//!
//! ```sh
//! cargo run --release --example minhash_peers -- PROMPTS.jsonl OUT_DIR [EVAL_PROMPTS]
//! ```
//! PROMPTS.jsonl holds one JSON string per line. Prompts of fewer than `minhash::MIN_WORDS` words
//! are left out (they get no signature). Writes to OUT_DIR:
//! - `shingles.tsv`: each kept prompt's distinct shingles (normalised words), tab-separated, so
//!   every tool sketches exactly the same sets;
//! - `pairs.tsv`: the evaluation pairs among the first EVAL_PROMPTS prompts (default 2,000): every
//!   pair with exact Jaccard 0.3 or more and every 97th of the rest, with their exact Jaccard;
//! - `ours.json`: our timings, estimate errors on those pairs and LSH candidate recall.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::time::Instant;

use distillguard::detect::near::NEAR_JACCARD;
use distillguard::features::minhash::{BINS, Signature, for_each_shingle, shingle_hash};
use xxhash_rust::xxh3::xxh3_64;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: minhash_peers PROMPTS.jsonl OUT_DIR [EVAL_PROMPTS]");
    };
    let eval_n: usize = args.get(2).map_or(Ok(2000), |a| a.parse())?;
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out)?;

    let mut prompts = Vec::new();
    for line in std::io::BufReader::new(std::fs::File::open(input)?).lines() {
        let p: String = serde_json::from_str(&line?)?;
        if Signature::of(&p).is_some() {
            prompts.push(p);
        }
    }
    let n = prompts.len();

    // Our sketching from the raw text: shingling, hashing, signature (best of three runs, as
    // the machine is shared).
    let mut sigs = Vec::new();
    let from_text_s = best_of_three(|| {
        sigs = prompts
            .iter()
            .map(|p| Signature::of(p).expect("kept prompts are signed"))
            .collect();
    });

    // The shingle sets, as text for the peers and as hashes for exact Jaccard.
    let mut shingle_file =
        std::io::BufWriter::new(std::fs::File::create(out.join("shingles.tsv"))?);
    let mut texts: Vec<Vec<String>> = Vec::with_capacity(n);
    for p in &prompts {
        let mut set: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for_each_shingle(p, |_, t, _| {
            let t = String::from_utf8_lossy(t).trim_end().to_string();
            if seen.insert(t.clone()) {
                set.push(t);
            }
        });
        writeln!(shingle_file, "{}", set.join("\t"))?;
        texts.push(set);
    }
    shingle_file.flush()?;

    // Our sketching from the same shingle strings the peers get (their starting point), each
    // with the trailing space `for_each_shingle` hashes it with, prepared before timing.
    let bytes: Vec<Vec<Vec<u8>>> = texts
        .iter()
        .map(|set| set.iter().map(|t| format!("{t} ").into_bytes()).collect())
        .collect();
    let mut from_strings = Vec::new();
    let from_strings_s = best_of_three(|| {
        from_strings = bytes
            .iter()
            .map(|set| {
                Signature::of_hashes(set.iter().map(|t| shingle_hash(t))).expect("non-empty")
            })
            .collect();
    });
    anyhow::ensure!(
        from_strings == sigs,
        "signatures from shingle strings differ from those of the text"
    );

    // Exact Jaccard over every pair of the first eval_n prompts.
    let m = eval_n.min(n);
    let sets: Vec<Vec<u64>> = texts[..m]
        .iter()
        .map(|set| {
            let mut v: Vec<u64> = set.iter().map(|t| xxh3_64(t.as_bytes())).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut pairs = Vec::new();
    let mut pair_file = std::io::BufWriter::new(std::fs::File::create(out.join("pairs.tsv"))?);
    let mut k = 0u64;
    for i in 0..m {
        for j in i + 1..m {
            let e = exact_jaccard(&sets[i], &sets[j]);
            k += 1;
            if e >= 0.3 || k.is_multiple_of(97) {
                writeln!(pair_file, "{i}\t{j}\t{e}")?;
                pairs.push((i, j, e));
            }
        }
    }
    pair_file.flush()?;

    // LSH candidates among the first m prompts: pairs agreeing in every bin of some band.
    let started = Instant::now();
    let mut buckets: HashMap<(usize, u32), Vec<usize>> = HashMap::new();
    for (i, s) in sigs[..m].iter().enumerate() {
        for (b, key) in s.bands().into_iter().enumerate() {
            buckets.entry((b, key)).or_default().push(i);
        }
    }
    let mut candidates: HashSet<(usize, usize)> = HashSet::new();
    for list in buckets.values() {
        for (x, &i) in list.iter().enumerate() {
            for &j in &list[x + 1..] {
                candidates.insert((i.min(j), i.max(j)));
            }
        }
    }
    let lsh_s = started.elapsed().as_secs_f64();

    let errors: Vec<(f64, f64)> = pairs
        .iter()
        .map(|&(i, j, e)| (e, sigs[i].jaccard(&sigs[j]) - e))
        .collect();
    let near: Vec<&(usize, usize, f64)> = pairs.iter().filter(|p| p.2 >= NEAR_JACCARD).collect();
    let found = near
        .iter()
        .filter(|p| candidates.contains(&(p.0, p.1)))
        .count();
    let report = serde_json::json!({
        "prompts": n,
        "eval_prompts": m,
        "pairs": pairs.len(),
        "near_pairs": near.len(),
        "threshold": NEAR_JACCARD,
        "ours": {
            "bins": BINS,
            "bytes_per_signature": BINS,
            "from_text_s": from_text_s,
            "from_strings_s": from_strings_s,
            "rmse": rmse(errors.iter().map(|e| e.1)),
            "rmse_similar": rmse(errors.iter().filter(|e| e.0 >= 0.3).map(|e| e.1)),
            "mean_error": errors.iter().map(|e| e.1).sum::<f64>() / errors.len().max(1) as f64,
            "lsh_s": lsh_s,
            "candidates": candidates.len(),
            "candidate_recall": found as f64 / near.len().max(1) as f64,
        }
    });
    std::fs::write(
        out.join("ours.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{report}");
    Ok(())
}

fn best_of_three(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn exact_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f64 / (a.len() + b.len() - both) as f64
}

fn rmse(errors: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for e in errors {
        sum += e * e;
        n += 1;
    }
    (sum / n.max(1) as f64).sqrt()
}
