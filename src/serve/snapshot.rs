//! Snapshots of the engine's state, so a restart loads the latest one and replays only the log
//! written after it instead of the whole window.
//!
//! A snapshot is taken while posts are held at the gate, so it holds exactly the batches up to
//! the last one committed; copying the state is the only pause, encoding and writing happen after.
//! Compaction deletes the snapshot with the batches it drops, and snapshots and compactions never
//! run at the same time, so a stored snapshot never holds records that left the window.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::App;
use super::detection::catch_up;
use super::error::ApiError;
use super::store::{Store, StoreError};
use crate::engine::{Engine, Snapshot};
use crate::report::rfc3339;

/// How the state was rebuilt at start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Restored {
    /// The last batch the loaded snapshot held; `None` when the whole log was replayed.
    pub snapshot_batch: Option<u64>,
    pub from_snapshot: bool,
    /// Records folded in from the log after the snapshot (or all of them).
    pub records_replayed: u64,
    pub ms: u64,
}

/// What one snapshot took.
#[derive(Debug, Clone, Serialize)]
pub struct Taken {
    /// The last batch it holds.
    pub batch: Option<u64>,
    pub accounts: usize,
    pub bytes: usize,
    /// Time posts were held while the state was copied.
    pub pause_ms: u64,
    pub ms: u64,
    pub at: String,
}

/// The engine from the latest usable snapshot plus the log after it, or from the whole log.
/// A snapshot that cannot be read is skipped with a warning: the log alone is enough.
/// With `privacy`, no prompt text is kept, even if the snapshot or the log hold some.
pub fn restore(
    store: &Store,
    cutoff: i64,
    privacy: bool,
) -> Result<(Engine, Option<u64>, Restored), StoreError> {
    let started = Instant::now();
    let loaded = match store.read_snapshot()? {
        Some(s) if s.cutoff == cutoff => match Snapshot::decode(&s.bytes) {
            Ok(snap) => Some((Engine::from_snapshot(snap, privacy), s.seq)),
            Err(e) => {
                tracing::warn!("the stored snapshot cannot be read ({e}); replaying the whole log");
                None
            }
        },
        _ => None,
    };
    let from_snapshot = loaded.is_some();
    let (engine, after) = loaded.unwrap_or_else(|| (Engine::with_privacy(privacy), None));
    let before = engine.accepted() + engine.duplicates();
    let last = catch_up(store, &engine, after, cutoff)?.or(after);
    let restored = Restored {
        snapshot_batch: after.filter(|_| from_snapshot),
        from_snapshot,
        records_replayed: engine.accepted() + engine.duplicates() - before,
        ms: started.elapsed().as_millis() as u64,
    };
    Ok((engine, last, restored))
}

/// Takes a snapshot now and stores it.
pub async fn take(app: &Arc<App>) -> Result<Taken, ApiError> {
    let _maintenance = app.maintenance.lock().await;
    let started = Instant::now();
    let (batch, state, cutoff, pause, generation) = {
        // Every committed batch is folded while the gate is held: the copy matches `batch`.
        let _gate = app.gate.clone().write_owned().await;
        let paused = Instant::now();
        let generation = app.generation();
        let engine = app.engine();
        let worker = app.clone();
        let (batch, state) = tokio::task::spawn_blocking(move || {
            // The log may hold batches a failed commit left; `last_seq` counts them.
            worker.fold_landed()?;
            Ok::<_, StoreError>((worker.store.last_seq(), engine.snapshot()))
        })
        .await
        .map_err(|e| ApiError::internal(format!("snapshot failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("snapshot failed: {e}")))?;
        (
            batch,
            state,
            app.store.cutoff(),
            paused.elapsed(),
            generation,
        )
    };
    let accounts = state.accounts();
    let worker = app.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let bytes = state.encode();
        worker
            .store
            .write_snapshot(batch, cutoff, &bytes)
            .map(|_| bytes.len())
    })
    .await
    .map_err(|e| ApiError::internal(format!("snapshot failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("snapshot failed: {e}")))?;
    let taken = Taken {
        batch,
        accounts,
        bytes,
        pause_ms: pause.as_millis() as u64,
        ms: started.elapsed().as_millis() as u64,
        at: rfc3339(super::now_ms()),
    };
    tracing::info!(
        batch = ?taken.batch,
        accounts,
        bytes,
        pause_ms = taken.pause_ms,
        ms = taken.ms,
        "snapshot taken"
    );
    app.snapshot_generation
        .store(generation, std::sync::atomic::Ordering::SeqCst);
    *app.last_snapshot.lock().expect("snapshot record") = Some(taken.clone());
    Ok(taken)
}
