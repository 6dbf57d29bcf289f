//! Micro-benchmarks of the scan's hot paths on simulated records: parsing, prompt text features,
//! near-duplicate sketching (MinHash) and LSH banding, the per-account update, whole-record
//! ingest, union-find, the cross-account stage, and the service's durable log append.
//!
//! `cargo bench --bench hot_paths` (add `-- parse` etc. to run some). Inputs are generated here by
//! the scale simulator, so nothing is read from the repository.

use std::sync::OnceLock;

use distillguard::detect::DetectConfig;
use distillguard::detect::link::UnionFind;
use distillguard::engine::Engine;
use distillguard::features::minhash::Signature;
use distillguard::features::{AccountState, Dictionary, Lexicon, Observation, text};
use distillguard::record::Record;
use distillguard::serve::store::{Append, BatchBytes, Store, spawn_writer};
use distillguard::sim::{ScaleConfig, generate_scale};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};

fn main() {
    divan::main();
}

/// Simulated NDJSON lines for `accounts` accounts at 10 records each.
fn simulated(accounts: u64) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cfg = ScaleConfig::new(11, accounts, accounts * 10);
    cfg.plain = true;
    let s = generate_scale(&cfg, dir.path()).expect("simulated logs");
    std::fs::read_to_string(s.logs_path)
        .expect("simulated logs")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The first 2,000 lines of one standard-sized shard.
fn lines() -> &'static [String] {
    static LINES: OnceLock<Vec<String>> = OnceLock::new();
    &LINES.get_or_init(|| simulated(4000))[..2000]
}

fn records() -> &'static [Record<'static>] {
    static RECORDS: OnceLock<Vec<Record<'static>>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        lines()
            .iter()
            .map(|l| {
                Record::parse(l.as_bytes())
                    .expect("valid record")
                    .into_owned()
            })
            .collect()
    })
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(Lexicon::new)
}

#[divan::bench]
fn parse_record(bencher: Bencher) {
    let lines = lines();
    let bytes: usize = lines.iter().map(String::len).sum();
    bencher.counter(BytesCount::new(bytes)).bench(|| {
        for l in lines {
            divan::black_box_drop(Record::parse(divan::black_box(l.as_bytes())));
        }
    });
}

#[divan::bench]
fn prompt_features(bencher: Bencher) {
    let prompts = prompts();
    let lexicon = lexicon();
    bencher.counter(ItemsCount::new(prompts.len())).bench(|| {
        for p in &prompts {
            divan::black_box_drop(text::analyze(divan::black_box(p), lexicon));
        }
    });
}

fn prompts() -> Vec<&'static str> {
    records()
        .iter()
        .filter_map(|r| r.prompt.as_deref())
        .collect()
}

/// Word shingles and the MinHash signature of each prompt (text sketching).
#[divan::bench]
fn minhash_signature(bencher: Bencher) {
    let prompts = prompts();
    bencher.counter(ItemsCount::new(prompts.len())).bench(|| {
        for p in &prompts {
            divan::black_box_drop(Signature::of(divan::black_box(p)));
        }
    });
}

/// Every signature's LSH bands into buckets, as a group's near-duplicate search makes them.
#[divan::bench]
fn lsh_banding(bencher: Bencher) {
    let sigs: Vec<Signature> = prompts().iter().filter_map(|p| Signature::of(p)).collect();
    bencher.counter(ItemsCount::new(sigs.len())).bench(|| {
        let mut buckets: std::collections::HashMap<
            (u8, u32),
            Vec<u32>,
            foldhash::fast::RandomState,
        > = Default::default();
        for (i, s) in sigs.iter().enumerate() {
            for (b, key) in divan::black_box(s).bands().into_iter().enumerate() {
                buckets.entry((b as u8, key)).or_default().push(i as u32);
            }
        }
        buckets
    });
}

#[divan::bench]
fn observation(bencher: Bencher) {
    let (records, lexicon) = (records(), lexicon());
    bencher.counter(ItemsCount::new(records.len())).bench(|| {
        for r in records {
            divan::black_box_drop(Observation::of(divan::black_box(r), lexicon));
        }
    });
}

/// Every record folded into one account's state: after the first few hundred the bounded
/// sketches are full, which is the steady state of a busy account.
#[divan::bench]
fn account_update(bencher: Bencher) {
    let (records, lexicon) = (records(), lexicon());
    let obs: Vec<Observation<'_>> = records
        .iter()
        .map(|r| Observation::of(r, lexicon))
        .collect();
    let dict = Dictionary::default();
    bencher
        .counter(ItemsCount::new(obs.len()))
        .with_inputs(AccountState::default)
        .bench_local_refs(|state| {
            for o in &obs {
                state.apply(o, &dict);
            }
        });
}

/// Parse, observe and fold one record, through the engine's shared map and de-duplication.
#[divan::bench]
fn ingest(bencher: Bencher) {
    let lines = lines();
    bencher
        .counter(ItemsCount::new(lines.len()))
        .with_inputs(Engine::new)
        .bench_local_refs(|engine| {
            for l in lines {
                if let Ok(r) = Record::parse(l.as_bytes()) {
                    engine.ingest(&r);
                }
            }
        });
}

/// Union-find over a sparse random graph of `n` nodes and `n` edges, then the groups.
#[divan::bench(args = [10_000, 1_000_000])]
fn union_find(bencher: Bencher, n: u32) {
    // A fixed linear congruential sequence: cheap and reproducible.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((x >> 33) % u64::from(n)) as u32
    };
    let edges: Vec<(u32, u32)> = (0..n).map(|_| (next(), next())).collect();
    bencher.counter(ItemsCount::new(n)).bench(|| {
        let mut uf = UnionFind::new(n as usize);
        for &(a, b) in &edges {
            uf.union(a, b);
        }
        divan::black_box_drop(uf.groups());
    });
}

/// The cross-account stage on every account of a simulated log.
#[divan::bench(args = [4_000, 40_000], sample_count = 5, sample_size = 1)]
fn detect(bencher: Bencher, accounts: u64) {
    let engine = Engine::new();
    for l in simulated(accounts) {
        if let Ok(r) = Record::parse(l.as_bytes()) {
            engine.ingest(&r);
        }
    }
    let cfg = DetectConfig::default();
    bencher
        .counter(ItemsCount::new(engine.accounts()))
        .bench(|| engine.detect(&cfg));
}

/// One 1,000-record batch appended to the service's write-ahead log through its writer thread and
/// acknowledged once committed with fsync: the durable part of answering a post.
#[divan::bench(sample_count = 30, sample_size = 1)]
fn wal_append(bencher: Bencher) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = std::sync::Arc::new(Store::open(dir.path()).expect("log store"));
    let (tx, writer) = spawn_writer(store, 64);
    let lines = &lines()[..1000];
    bencher.counter(ItemsCount::new(lines.len())).bench(|| {
        let mut batch = BatchBytes::new();
        for (i, l) in lines.iter().enumerate() {
            batch.push(l.as_bytes(), i as i64);
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        tx.blocking_send(Append { batch, done })
            .expect("writer running");
        answer
            .blocking_recv()
            .expect("writer answers")
            .expect("committed");
    });
    drop(tx);
    writer.join().expect("writer thread");
}
