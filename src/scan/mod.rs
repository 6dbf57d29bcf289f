//! The offline door: log files in, report out.
//!
//! One thread reads and decompresses the inputs into batches; a worker per
//! core parses records and folds them into the engine; the calling thread
//! collects rejects in input order and draws the progress bar. Detection runs
//! once everything is read.

mod memory;
mod progress;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::detect::DetectConfig;
use crate::engine::Engine;
use crate::record::{Converter, Shape};
use crate::report::{Reject, RejectSummary, Report, Stats, generator};
use crate::source::{self, Batch, Input, ReadOptions, SourceError};

pub use progress::Progress;

#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Files, directories, or `-` for standard input.
    pub paths: Vec<PathBuf>,
    pub read: ReadOptions,
    pub detect: DetectConfig,
    /// Parser threads; 0 means one per core.
    pub threads: usize,
    pub progress: bool,
    /// Rejects shown in the report itself.
    pub rejects_in_report: usize,
    /// Where to write every reject as NDJSON.
    pub rejects_out: Option<PathBuf>,
    /// What the records look like (`Auto`: decided per input from its first records).
    pub shape: Shape,
    /// The LiteLLM reading and the field map.
    pub convert: Converter,
    /// Keep no prompt or system prompt text: none in the report's evidence, none in rejects'
    /// excerpts.
    pub privacy_mode: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            paths: Vec::new(),
            read: ReadOptions::default(),
            detect: DetectConfig::default(),
            threads: 0,
            progress: false,
            rejects_in_report: 5,
            rejects_out: None,
            shape: Shape::Auto,
            convert: Converter::default(),
            privacy_mode: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("no input: give one or more files or directories, or - for standard input")]
    NoInput,
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{path}: cannot write rejects: {source}")]
    RejectsOut {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A finished scan: the report, and the inputs that could not be read completely.
pub struct ScanOutcome {
    pub report: Report,
    /// Inputs that failed part-way (truncated, unreadable); their good records are in the report.
    pub input_errors: Vec<SourceError>,
}

/// Rejects of one batch, to be written in input order.
struct BatchResult {
    seq: u64,
    rejects: Vec<Reject>,
    items: u64,
}

pub fn scan(cfg: &ScanConfig) -> Result<ScanOutcome, ScanError> {
    if cfg.paths.is_empty() {
        return Err(ScanError::NoInput);
    }
    let started = Instant::now();
    let inputs = source::discover(&cfg.paths)?;
    let engine = Engine::with_privacy(cfg.privacy_mode);
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        cfg.threads
    };
    let mut rejects_out = match &cfg.rejects_out {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            ScanError::RejectsOut {
                path: p.display().to_string(),
                source: e,
            }
        })?)),
        None => None,
    };
    let bytes_done = AtomicU64::new(0);
    let records_done = AtomicU64::new(0);
    let total_bytes = inputs.iter().map(|i| i.size).sum::<Option<u64>>();
    let progress = Progress::new(cfg.progress, total_bytes);

    let mut input_errors = Vec::new();
    let mut summary = RejectSummary::default();
    let mut records_read = 0u64;
    let mut write_error = None;

    let (batch_tx, batch_rx) = mpsc::sync_channel::<(u64, Batch, Shape)>(threads * 2);
    let batch_rx = std::sync::Mutex::new(batch_rx);
    let (result_tx, result_rx) = mpsc::channel::<BatchResult>();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut errors = Vec::new();
            let mut seq = 0u64;
            for index in 0..inputs.len() {
                let mut shape = cfg.shape;
                let mut sink = |b: Batch| {
                    if shape == Shape::Auto {
                        shape = Converter::resolve(shape, b.iter().map(|i| i.bytes));
                        tracing::debug!("{}: records read as {shape:?}", inputs[index].name);
                    }
                    let ok = batch_tx.send((seq, b, shape)).is_ok();
                    seq += 1;
                    ok
                };
                if let Err(e) =
                    source::read_input(&inputs, index, &cfg.read, &bytes_done, &mut sink)
                {
                    tracing::warn!("{e}");
                    errors.push(e);
                }
            }
            drop(batch_tx);
            errors
        });
        for _ in 0..threads {
            let result_tx = result_tx.clone();
            let (batch_rx, engine, inputs, records_done) =
                (&batch_rx, &engine, &inputs, &records_done);
            s.spawn(move || {
                loop {
                    let next = batch_rx.lock().expect("batch queue").recv();
                    let Ok((seq, batch, shape)) = next else { break };
                    let result = process(seq, &batch, shape, inputs, engine, cfg);
                    records_done.fetch_add(result.items, Ordering::Relaxed);
                    if result_tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);

        // Collect results in batch order so rejects come out in input order.
        let mut pending = std::collections::BTreeMap::new();
        let mut next_seq = 0u64;
        loop {
            match result_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(r) => {
                    pending.insert(r.seq, r);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while let Some(r) = pending.remove(&next_seq) {
                next_seq += 1;
                records_read += r.items;
                for rej in r.rejects {
                    summary.count += 1;
                    if let Some(w) = rejects_out.as_mut()
                        && write_error.is_none()
                        && let Err(e) = serde_json::to_writer(&mut *w, &rej)
                            .map_err(std::io::Error::from)
                            .and_then(|_| w.write_all(b"\n"))
                    {
                        write_error = Some(e);
                    }
                    if summary.first.len() < cfg.rejects_in_report {
                        summary.first.push(rej);
                    }
                }
            }
            progress.update(
                bytes_done.load(Ordering::Relaxed),
                records_done.load(Ordering::Relaxed),
            );
        }
        input_errors = reader.join().expect("reader thread");
    });
    if let (Some(w), None) = (rejects_out.as_mut(), &write_error)
        && let Err(e) = w.flush()
    {
        write_error = Some(e);
    }
    if let Some(e) = write_error {
        return Err(ScanError::RejectsOut {
            path: cfg
                .rejects_out
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            source: e,
        });
    }
    progress.detecting();
    let ingested = started.elapsed();
    let rss_after_read = memory::resident_bytes().unwrap_or(0);
    let clusters = engine.detect(&cfg.detect);
    progress.finish();
    // Where the time went, for scripts/scale.sh (shown with -v).
    tracing::info!(
        read_ms = ingested.as_millis() as u64,
        detect_ms = (started.elapsed() - ingested).as_millis() as u64,
        accounts = engine.accounts(),
        state_bytes = std::mem::size_of::<crate::features::AccountState>(),
        rss_after_read_mib = rss_after_read >> 20,
        "scan phases"
    );

    let elapsed = started.elapsed();
    let stats = Stats {
        inputs: inputs.len(),
        bytes_read: bytes_done.load(Ordering::Relaxed),
        records_read,
        rejected: summary.count,
        duration_ms: elapsed.as_millis() as u64,
        records_per_second: (records_read as f64 / elapsed.as_secs_f64().max(1e-9)).round(),
        ..engine.state_stats()
    };
    // Freeing every account's state is a few per cent of a scan's CPU; the report need not wait
    // for it (and a command that exits after printing it never does).
    std::thread::spawn(move || drop(engine));
    Ok(ScanOutcome {
        report: Report {
            clusters,
            stats,
            rejects: summary,
            generator: generator(),
        },
        input_errors,
    })
}

/// Parses one batch into the engine; returns its rejects.
fn process(
    seq: u64,
    batch: &Batch,
    shape: Shape,
    inputs: &[Input],
    engine: &Engine,
    cfg: &ScanConfig,
) -> BatchResult {
    let limit = cfg.read.max_record_bytes;
    let mut rejects = Vec::new();
    let mut items = 0u64;
    let mut scratch = Vec::new();
    for (item, rejected) in batch.entries() {
        items += 1;
        let reason = if let Some(reason) = rejected {
            reason.to_string()
        } else if let Some(len) = item.oversize {
            format!("record is {len} bytes, over the limit of {limit} bytes")
        } else {
            match cfg.convert.parse(item.bytes, shape, &mut scratch) {
                Ok(rec) => {
                    engine.ingest(&rec);
                    continue;
                }
                Err(e) => e.0,
            }
        };
        rejects.push(Reject {
            file: inputs[batch.input].name.to_string(),
            line: item.line,
            reason,
            // A reject's excerpt is raw input, which may hold prompt text.
            excerpt: if cfg.privacy_mode {
                String::new()
            } else {
                excerpt(item.bytes)
            },
        });
    }
    BatchResult {
        seq,
        rejects,
        items,
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(160)]);
    crate::features::text::excerpt(&text, 120)
}
