//! Detection runs, automatic and on demand, and compaction of data that left the time window.
//!
//! The engine's per-account state is updated as records arrive, so a run only does the
//! cross-account stage; runs are skipped when no batch arrived since the last one.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::detect::DetectConfig;
use crate::engine::Engine;
use crate::record::{Record, reduced};
use crate::report::{RejectSummary, Report, Stats, generator, rfc3339};

use super::error::ApiError;
use super::store::{Store, StoreError};
use super::{App, now_ms};

/// The result of one detection run.
#[derive(Debug)]
pub struct Snapshot {
    pub report: Report,
    /// Batches folded into the engine when the run started; the run covers at least those.
    pub generation: u64,
    pub finished_ms: Option<i64>,
    pub duration: Duration,
    /// Account id to its cluster's index in `report.clusters`.
    pub cluster_of: HashMap<String, usize>,
}

impl Snapshot {
    fn empty() -> Self {
        Snapshot {
            report: Report {
                clusters: Vec::new(),
                stats: Stats::default(),
                rejects: RejectSummary::default(),
                generator: generator(),
            },
            generation: 0,
            finished_ms: None,
            duration: Duration::ZERO,
            cluster_of: HashMap::new(),
        }
    }
}

pub struct Detection {
    latest: RwLock<Arc<Snapshot>>,
    /// One run at a time; callers that queue behind a run may use its result.
    run: tokio::sync::Mutex<()>,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            latest: RwLock::new(Arc::new(Snapshot::empty())),
            run: tokio::sync::Mutex::new(()),
        }
    }
}

impl Detection {
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.read().expect("latest detection").clone()
    }

    /// Serves a report made elsewhere (by the detecting instance, in Kafka mode).
    pub fn publish(&self, report: Report) {
        let generation = self.latest().generation + 1;
        let snap = Snapshot {
            cluster_of: cluster_index(&report.clusters),
            duration: Duration::from_millis(report.stats.duration_ms),
            report,
            generation,
            finished_ms: Some(now_ms()),
        };
        *self.latest.write().expect("latest detection") = Arc::new(snap);
    }
}

fn cluster_index(clusters: &[crate::report::Cluster]) -> HashMap<String, usize> {
    clusters
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.accounts.iter().map(move |a| (a.clone(), i)))
        .collect()
}

/// Runs detection again now, over the same records: the allowlist changed.
pub async fn redetect(app: &Arc<App>) -> Result<Arc<Snapshot>, ApiError> {
    app.folded();
    detect_now(app).await
}

/// Runs detection over every record acknowledged before the call, unless a run that started
/// after the call already covers them.
pub async fn detect_now(app: &Arc<App>) -> Result<Arc<Snapshot>, ApiError> {
    // The detecting instance of the group makes the reports; this one serves the latest.
    if app.cfg.kafka.is_some() {
        return Ok(app.detection.latest());
    }
    let wanted = app.generation();
    let _run = app.detection.run.lock().await;
    let latest = app.detection.latest();
    if latest.finished_ms.is_some() && latest.generation >= wanted {
        return Ok(latest);
    }
    let worker = app.clone();
    // The result is published from the blocking thread, so it is kept even if the caller leaves.
    tokio::task::spawn_blocking(move || {
        let snap = Arc::new(run(&worker));
        *worker.detection.latest.write().expect("latest detection") = snap.clone();
        snap
    })
    .await
    .map_err(|e| ApiError::internal(format!("detection failed: {e}")))
}

fn run(app: &App) -> Snapshot {
    run_over(app, &app.engine(), app.generation(), app.store.batches())
}

/// Detection over `engine`'s accounts with the service's settings and allowlist; `inputs` is
/// what the report counts as its inputs.
pub(crate) fn run_over(app: &App, engine: &Engine, generation: u64, inputs: usize) -> Snapshot {
    let started = Instant::now();
    let clusters = engine.detect(&DetectConfig {
        min_score: app.cfg.min_score,
        allow: app.decisions.allowlist(),
        ..DetectConfig::default()
    });
    let duration = started.elapsed();
    let m = &app.metrics;
    m.detection_runs.fetch_add(1, Ordering::Relaxed);
    m.detection_seconds.observe(duration);
    let rejected = m.records_rejected.load(Ordering::Relaxed);
    let stats = Stats {
        inputs,
        records_read: engine.accepted() + engine.duplicates(),
        rejected,
        duration_ms: duration.as_millis() as u64,
        ..engine.state_stats()
    };
    let cluster_of = cluster_index(&clusters);
    tracing::info!(
        clusters = clusters.len(),
        accounts = stats.accounts,
        records = stats.records_accepted,
        ms = stats.duration_ms,
        "detection run"
    );
    Snapshot {
        report: Report {
            clusters,
            stats,
            rejects: RejectSummary {
                count: rejected,
                first: Vec::new(),
            },
            generator: generator(),
        },
        generation,
        finished_ms: Some(now_ms()),
        duration,
        cluster_of,
    }
}

/// A fresh engine from the log: every record at or after `cutoff`, in commit order, so the
/// request ids counted first are the same as before. Returns it with the last batch read.
pub fn rebuild(
    store: &Store,
    cutoff: i64,
    privacy: bool,
) -> Result<(Engine, Option<u64>), StoreError> {
    let engine = Engine::with_privacy(privacy);
    let last = catch_up(store, &engine, None, cutoff)?;
    Ok((engine, last))
}

/// Folds the records of the batches after `after` into `engine`; returns the last batch read.
pub(super) fn catch_up(
    store: &Store,
    engine: &Engine,
    after: Option<u64>,
    cutoff: i64,
) -> Result<Option<u64>, StoreError> {
    let mut unreadable = 0u64;
    let last = store.replay(after, |bytes| {
        if !fold_stored(engine, bytes, cutoff) {
            unreadable += 1;
        }
    })?;
    if unreadable > 0 {
        // Only if the parser became stricter since the records were stored.
        tracing::warn!(
            unreadable,
            "stored records that no longer parse were skipped"
        );
    }
    Ok(last)
}

/// Folds one stored record into `engine` if it is not older than `cutoff`; false when it no
/// longer parses.
pub(super) fn fold_stored(engine: &Engine, bytes: &[u8], cutoff: i64) -> bool {
    // Privacy mode stores records reduced; the rest are contract JSON as posted.
    if let Some((rec, text)) = reduced::decode(bytes) {
        if rec.ts_ms >= cutoff {
            engine.ingest_with(&rec, text);
        }
        return true;
    }
    match Record::parse(bytes) {
        Ok(rec) => {
            if rec.ts_ms >= cutoff {
                engine.ingest(&rec);
            }
            true
        }
        Err(_) => false,
    }
}

/// What a compaction did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Compaction {
    /// Records older than this are gone and refused.
    pub cutoff: Option<String>,
    pub batches_removed: usize,
    pub records_in_window: u64,
}

/// Moves the time window up to the newest record: deletes batches that fell out of it and
/// rebuilds the engine from the rest. Posts are answered 503 only while the batches that arrived
/// during the rebuild are folded into the new engine.
pub async fn compact(app: &Arc<App>) -> Result<Compaction, ApiError> {
    let window = app.cfg.window.as_millis() as i64;
    let Some((oldest, newest)) = app.engine().time_span() else {
        return Ok(Compaction {
            cutoff: None,
            batches_removed: 0,
            records_in_window: 0,
        });
    };
    let cutoff = newest.saturating_sub(window);
    let current = app.store.cutoff();
    // Nothing in the state is older than the new cutoff: no work, and posts keep flowing.
    if cutoff <= current || oldest >= cutoff {
        return Ok(Compaction {
            cutoff: (current > i64::MIN).then(|| rfc3339(current)),
            batches_removed: 0,
            records_in_window: app.engine().accepted(),
        });
    }
    let _maintenance = app.maintenance.lock().await;
    let started = Instant::now();
    // From here on records older than the cutoff are refused. The new engine is built while
    // posts go on into the old one; they are in the log, and are caught up below.
    let worker = app.clone();
    let (removed, engine, last) = tokio::task::spawn_blocking(move || {
        let removed = worker.store.compact(cutoff)?;
        let (engine, last) = rebuild(&worker.store, cutoff, worker.cfg.privacy_mode)?;
        Ok::<_, StoreError>((removed, engine, last))
    })
    .await
    .map_err(|e| ApiError::internal(format!("compaction failed: {e}")))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    // Waits for posts between their commit and their fold, and keeps new ones out while the
    // batches committed during the rebuild are folded in.
    let _gate = app.gate.clone().write_owned().await;
    let worker = app.clone();
    let engine = tokio::task::spawn_blocking(move || {
        catch_up(&worker.store, &engine, last, cutoff)?;
        // Batches a failed commit left on disk are in the log just read.
        worker.store.forget_landed();
        Ok::<_, StoreError>(engine)
    })
    .await
    .map_err(|e| ApiError::internal(format!("compaction failed: {e}")))?
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let records = engine.accepted();
    app.replace_engine(engine);
    app.metrics.compactions.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        cutoff = %rfc3339(cutoff),
        batches_removed = removed,
        records_in_window = records,
        ms = started.elapsed().as_millis() as u64,
        "compacted"
    );
    Ok(Compaction {
        cutoff: Some(rfc3339(cutoff)),
        batches_removed: removed,
        records_in_window: records,
    })
}

/// Detection every `detect_interval` when something arrived; compaction every `compact_interval`;
/// a snapshot every `snapshot_interval` when something arrived.
pub async fn background(app: Arc<App>) {
    let mut detect_tick = tokio::time::interval(app.cfg.detect_interval);
    let every = app.cfg.compact_interval;
    let mut compact_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let every = app.cfg.snapshot_interval;
    let mut snapshot_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    for tick in [&mut detect_tick, &mut compact_tick, &mut snapshot_tick] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = detect_tick.tick() => {
                if app.detection.latest().generation < app.generation()
                    && let Err(e) = detect_now(&app).await
                {
                    tracing::error!("{}", e.message);
                }
            }
            _ = compact_tick.tick() => {
                if let Err(e) = compact(&app).await {
                    tracing::error!("{}", e.message);
                }
            }
            _ = snapshot_tick.tick() => {
                if app.changed_since_snapshot()
                    && let Err(e) = super::snapshot::take(&app).await
                {
                    tracing::error!("{}", e.message);
                }
            }
        }
    }
}
