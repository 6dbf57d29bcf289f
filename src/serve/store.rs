//! The write-ahead log: every accepted batch, durable before it is acknowledged.
//!
//! One redb table maps a sequence number to a batch: the newest record time of the batch, then
//! each record's JSON bytes with a length prefix. A single writer thread commits every batch that
//! is waiting in one transaction (group commit: one fsync for many posts), then answers each
//! poster. The state is rebuilt by replaying the log in sequence order; compaction deletes the
//! batches that fell out of the time window.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
/// The latest snapshot of the engine, under [`SNAPSHOT_KEY`].
const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");
const SNAPSHOT_KEY: &str = "engine";
/// The last batch the snapshot holds (-1: none), and the cutoff it was taken under.
const SNAPSHOT_SEQ: &str = "snapshot_seq";
const SNAPSHOT_CUTOFF: &str = "snapshot_cutoff_ms";
/// Reviewers' decisions, JSON, by sequence number; compaction never touches them.
const DECISIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("decisions");
/// Records older than this (Unix ms) were compacted away and are refused.
const CUTOFF: &str = "cutoff_ms";
/// Batches committed in one transaction at most, to bound its size and the wait of the first.
const MAX_GROUP: usize = 256;
pub const FILE_NAME: &str = "log.redb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot create the data directory: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("log store: {0}")]
    Db(#[from] redb::Error),
    #[error("log store: batch {seq} is corrupt")]
    Corrupt { seq: u64 },
    /// An earlier write failed (disk full, read-only, I/O error) and the log could not be
    /// opened again yet.
    #[error("log store: cannot be written ({0})")]
    Unavailable(String),
}

impl StoreError {
    /// A failure of the disk under the log rather than of its content: the same write may work
    /// once space returns or the device recovers.
    pub fn is_storage(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Dir { .. } => true,
            StoreError::Db(e) => matches!(
                e,
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
            ),
            StoreError::Corrupt { .. } => false,
        }
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

/// A batch being encoded for the log.
#[derive(Debug, Default)]
pub struct BatchBytes {
    buf: Vec<u8>,
    max_ts: i64,
    records: u32,
}

impl BatchBytes {
    pub fn new() -> Self {
        BatchBytes {
            buf: vec![0; 8],
            max_ts: i64::MIN,
            records: 0,
        }
    }

    pub fn push(&mut self, record: &[u8], ts_ms: i64) {
        self.buf
            .extend_from_slice(&(record.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(record);
        self.max_ts = self.max_ts.max(ts_ms);
        self.records += 1;
    }

    pub fn records(&self) -> u32 {
        self.records
    }

    fn finish(mut self) -> (Vec<u8>, i64) {
        self.buf[..8].copy_from_slice(&self.max_ts.to_le_bytes());
        (self.buf, self.max_ts)
    }
}

/// Walks one stored batch: its newest time and each record.
fn decode(bytes: &[u8], mut f: impl FnMut(&[u8])) -> Option<i64> {
    let max_ts = i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let mut rest = &bytes[8..];
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        f(rest.get(4..4 + len)?);
        rest = &rest[4 + len..];
    }
    Some(max_ts)
}

pub struct Store {
    /// `None` after a failed reopen; redb refuses every operation after an I/O error until the
    /// database is closed and opened again.
    db: RwLock<Option<Database>>,
    /// An operation failed on I/O: the next one reopens the database first.
    broken: AtomicBool,
    path: PathBuf,
    /// Newest record time of every batch in the log, so compaction knows what to delete without
    /// reading the log.
    batches: Mutex<BTreeMap<u64, i64>>,
    next_seq: AtomicU64,
    cutoff: std::sync::atomic::AtomicI64,
    /// Transactions committed by the writer (each one fsync), to see how well posts group.
    commits: AtomicU64,
    /// Batches whose commit reported a failure although it reached the disk, found when the
    /// database was opened again; their posts were answered 503 and their records are not in
    /// the state until [`Store::fold_landed`] hands them out.
    landed: Mutex<Vec<u64>>,
    /// Held while landed batches are handed out, so that a caller that finds none waits for
    /// one that is still folding them.
    folding: Mutex<()>,
    /// Makes the next commit report a failure after it reached the disk, as a failing fsync or
    /// device can.
    #[cfg(test)]
    pub(crate) fail_after_commit: AtomicBool,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let (db, index) = open_db(&path)?;
        Ok(Store {
            db: RwLock::new(Some(db)),
            broken: AtomicBool::new(false),
            path,
            next_seq: AtomicU64::new(index.next_seq()),
            cutoff: std::sync::atomic::AtomicI64::new(index.cutoff),
            batches: Mutex::new(index.batches),
            commits: AtomicU64::new(0),
            landed: Mutex::new(Vec::new()),
            folding: Mutex::new(()),
            #[cfg(test)]
            fail_after_commit: AtomicBool::new(false),
        })
    }

    /// Runs `f` on the database, reopening it first when an earlier operation failed on I/O,
    /// and marking it for reopening when `f` does.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let guard = self.db.read().expect("database");
        let db = guard
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("not open".into()))?;
        let result = f(db);
        drop(guard);
        if let Err(e) = &result
            && e.is_storage()
        {
            self.broken.store(true, Ordering::Release);
            // Close the file now rather than at the next write, so an operator can unmount,
            // repair and mount the filesystem again while the service runs.
            drop(self.db.write().expect("database").take());
        }
        result
    }

    /// Closes and opens the database again, then reloads the index from what is committed: a
    /// commit that failed may still have reached the disk, and the next sequence number must
    /// follow it.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().expect("database");
        if !self.broken.load(Ordering::Acquire) {
            return Ok(()); // another thread did it
        }
        // redb refuses a second handle on a file this process has open.
        drop(guard.take());
        let (db, index) =
            open_db(&self.path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Only a failed commit can have left batches past the next sequence number.
        let before = self.next_seq.load(Ordering::Acquire);
        let landed: Vec<u64> = index.batches.range(before..).map(|(k, _)| *k).collect();
        if !landed.is_empty() {
            tracing::warn!(
                batches = landed.len(),
                "commits reported as failed had reached the disk; their records join the state, \
                 and a retry of them is answered as duplicates"
            );
            self.landed.lock().expect("landed batches").extend(landed);
        }
        self.next_seq.store(index.next_seq(), Ordering::Release);
        self.cutoff.store(index.cutoff, Ordering::Release);
        *self.batches.lock().expect("batch index") = index.batches;
        *guard = Some(db);
        self.broken.store(false, Ordering::Release);
        tracing::info!("the log store is writable again");
        Ok(())
    }

    /// Opens the database again if an earlier operation failed on I/O (and so finds the batches
    /// a failed commit may still have written).
    pub fn ensure_open(&self) -> Result<(), StoreError> {
        if self.broken.load(Ordering::Acquire) {
            self.reopen()?;
        }
        Ok(())
    }

    /// Calls `f` with every record of the batches whose commit reported a failure but reached
    /// the disk, found since the last call; returns how many batches. Their posts were answered
    /// 503, so the records are not in the state: folded in now, a retry finds them stored.
    pub fn fold_landed(&self, mut f: impl FnMut(&[u8])) -> Result<usize, StoreError> {
        let _folding = self.folding.lock().expect("folding");
        self.ensure_open()?;
        let seqs = std::mem::take(&mut *self.landed.lock().expect("landed batches"));
        if seqs.is_empty() {
            return Ok(0);
        }
        let read = self.with_db(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(LOG).map_err(db_err)?;
            for &seq in &seqs {
                // Compaction may have deleted it since.
                if let Some(bytes) = table.get(seq).map_err(db_err)? {
                    decode(bytes.value(), &mut f).ok_or(StoreError::Corrupt { seq })?;
                }
            }
            Ok(())
        });
        if let Err(e) = read {
            // Tried again next time; records already handed out are counted once by their
            // request_id.
            self.landed.lock().expect("landed batches").extend(seqs);
            return Err(e);
        }
        Ok(seqs.len())
    }

    /// Forgets the landed batches: the state was rebuilt from the whole log, which holds them.
    pub fn forget_landed(&self) {
        self.landed.lock().expect("landed batches").clear();
    }

    /// Records older than this were compacted away (`i64::MIN` when nothing was).
    pub fn cutoff(&self) -> i64 {
        self.cutoff.load(Ordering::Acquire)
    }

    /// Batches in the log.
    pub fn batches(&self) -> usize {
        self.batches.lock().expect("batch index").len()
    }

    /// Group commits since the store was opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Space the log file takes on disk. redb grows its file ahead of use and leaves the new
    /// part sparse, so the allocated blocks say more than the length.
    pub fn file_bytes(&self) -> u64 {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return 0;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            meta.blocks() * 512
        }
        #[cfg(not(unix))]
        meta.len()
    }

    /// Commits batches in one durable transaction.
    fn append(&self, group: &[(Vec<u8>, i64)]) -> Result<(), StoreError> {
        let first = self.with_db(|db| {
            // Read inside: a reopen before this call may have moved it.
            let first = self.next_seq.load(Ordering::Acquire);
            let mut txn = db.begin_write().map_err(db_err)?;
            // Immediate is redb's default; said here because acknowledgements rely on it.
            txn.set_durability(Durability::Immediate).map_err(db_err)?;
            {
                let mut table = txn.open_table(LOG).map_err(db_err)?;
                for (i, (bytes, _)) in group.iter().enumerate() {
                    table
                        .insert(first + i as u64, bytes.as_slice())
                        .map_err(db_err)?;
                }
            }
            txn.commit().map_err(db_err)?;
            #[cfg(test)]
            if self.fail_after_commit.swap(false, Ordering::AcqRel) {
                return Err(StoreError::Db(redb::Error::Io(std::io::Error::other(
                    "failed after the commit reached the disk",
                ))));
            }
            Ok(first)
        })?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.next_seq
            .store(first + group.len() as u64, Ordering::Release);
        let mut index = self.batches.lock().expect("batch index");
        for (i, (_, max_ts)) in group.iter().enumerate() {
            index.insert(first + i as u64, *max_ts);
        }
        Ok(())
    }

    /// Calls `f` with every record committed after batch `after` (all when `None`), in commit
    /// order. Returns the last batch read, to continue from later.
    pub fn replay(
        &self,
        after: Option<u64>,
        mut f: impl FnMut(&[u8]),
    ) -> Result<Option<u64>, StoreError> {
        let mut last = after;
        self.with_db(|db| {
            each_batch(db, after.map_or(0, |a| a + 1), |seq, bytes| {
                last = Some(seq);
                decode(bytes, &mut f).map(drop)
            })
        })?;
        Ok(last)
    }

    /// The last batch committed, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.next_seq.load(Ordering::Acquire).checked_sub(1)
    }

    /// Stores `bytes` as the snapshot of the state after batch `seq` under `cutoff`, replacing
    /// the previous one, durably.
    pub fn write_snapshot(
        &self,
        seq: Option<u64>,
        cutoff: i64,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.with_db(|db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                txn.open_table(SNAPSHOTS)
                    .map_err(db_err)?
                    .insert(SNAPSHOT_KEY, bytes)
                    .map_err(db_err)?;
                let mut meta = txn.open_table(META).map_err(db_err)?;
                let seq = seq.map_or(-1, |s| s as i64);
                meta.insert(SNAPSHOT_SEQ, seq).map_err(db_err)?;
                meta.insert(SNAPSHOT_CUTOFF, cutoff).map_err(db_err)?;
            }
            txn.commit().map_err(db_err)
        })
    }

    /// The stored snapshot: the last batch it holds, the cutoff it was taken under, its bytes.
    pub fn read_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        self.with_db(read_snapshot)
    }

    /// Whether some batch holds only records older than `cutoff`.
    pub fn has_older_than(&self, cutoff: i64) -> bool {
        self.batches
            .lock()
            .expect("batch index")
            .values()
            .any(|&t| t < cutoff)
    }

    /// Deletes the batches whose newest record is older than `cutoff` and remembers the cutoff.
    /// Returns the number of batches deleted.
    pub fn compact(&self, cutoff: i64) -> Result<usize, StoreError> {
        let doomed: Vec<u64> = self
            .batches
            .lock()
            .expect("batch index")
            .iter()
            .filter(|(_, t)| **t < cutoff)
            .map(|(k, _)| *k)
            .collect();
        self.with_db(|db| {
            let txn = db.begin_write().map_err(db_err)?;
            {
                let mut log = txn.open_table(LOG).map_err(db_err)?;
                for k in &doomed {
                    log.remove(k).map_err(db_err)?;
                }
                let mut meta = txn.open_table(META).map_err(db_err)?;
                meta.insert(CUTOFF, cutoff).map_err(db_err)?;
                // The snapshot holds records that are now gone: it goes with them.
                meta.remove(SNAPSHOT_SEQ).map_err(db_err)?;
                meta.remove(SNAPSHOT_CUTOFF).map_err(db_err)?;
                txn.open_table(SNAPSHOTS)
                    .map_err(db_err)?
                    .remove(SNAPSHOT_KEY)
                    .map_err(db_err)?;
            }
            txn.commit().map_err(db_err)
        })?;
        self.cutoff.store(cutoff, Ordering::Release);
        let mut index = self.batches.lock().expect("batch index");
        for k in &doomed {
            index.remove(k);
        }
        Ok(doomed.len())
    }
}

impl Store {
    /// Every stored decision, in the order they were made.
    pub fn decisions(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(DECISIONS).map_err(db_err)?;
            let mut out = Vec::new();
            for entry in table.iter().map_err(db_err)? {
                out.push(entry.map_err(db_err)?.1.value().to_vec());
            }
            Ok(out)
        })
    }

    /// Stores a decision durably under the next sequence number, which it returns. `make`
    /// encodes the decision given that number.
    pub fn add_decision(&self, make: impl FnOnce(u64) -> Vec<u8>) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let mut txn = db.begin_write().map_err(db_err)?;
            txn.set_durability(Durability::Immediate).map_err(db_err)?;
            let seq;
            {
                let mut table = txn.open_table(DECISIONS).map_err(db_err)?;
                seq = table
                    .last()
                    .map_err(db_err)?
                    .map_or(0, |(k, _)| k.value() + 1);
                table.insert(seq, make(seq).as_slice()).map_err(db_err)?;
            }
            txn.commit().map_err(db_err)?;
            Ok(seq)
        })
    }
}

/// The stored snapshot, if there is one.
fn read_snapshot(db: &Database) -> Result<Option<StoredSnapshot>, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    let (Some(seq), Some(cutoff)) = (
        meta.get(SNAPSHOT_SEQ).map_err(db_err)?.map(|v| v.value()),
        meta.get(SNAPSHOT_CUTOFF)
            .map_err(db_err)?
            .map(|v| v.value()),
    ) else {
        return Ok(None);
    };
    let table = txn.open_table(SNAPSHOTS).map_err(db_err)?;
    let Some(bytes) = table.get(SNAPSHOT_KEY).map_err(db_err)? else {
        return Ok(None);
    };
    Ok(Some(StoredSnapshot {
        seq: u64::try_from(seq).ok(),
        cutoff,
        bytes: bytes.value().to_vec(),
    }))
}

/// What the store keeps in memory about the log, read from the file at open.
struct Index {
    batches: BTreeMap<u64, i64>,
    cutoff: i64,
}

impl Index {
    fn next_seq(&self) -> u64 {
        self.batches.last_key_value().map_or(0, |(k, _)| k + 1)
    }
}

/// Opens (or creates) the database with every table, and reads its index.
fn open_db(path: &Path) -> Result<(Database, Index), StoreError> {
    let db = Database::create(path).map_err(db_err)?;
    let txn = db.begin_write().map_err(db_err)?;
    txn.open_table(LOG).map_err(db_err)?;
    txn.open_table(META).map_err(db_err)?;
    txn.open_table(SNAPSHOTS).map_err(db_err)?;
    txn.open_table(DECISIONS).map_err(db_err)?;
    txn.commit().map_err(db_err)?;

    let txn = db.begin_read().map_err(db_err)?;
    let cutoff = txn
        .open_table(META)
        .map_err(db_err)?
        .get(CUTOFF)
        .map_err(db_err)?
        .map_or(i64::MIN, |v| v.value());
    drop(txn);
    let mut batches = BTreeMap::new();
    each_batch(&db, 0, |seq, bytes| {
        let max_ts = i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        batches.insert(seq, max_ts);
        Some(())
    })?;
    Ok((db, Index { batches, cutoff }))
}

/// Calls `f` with every stored batch from sequence number `from` on, in order; `None` from `f` means the batch is corrupt.
fn each_batch(
    db: &Database,
    from: u64,
    mut f: impl FnMut(u64, &[u8]) -> Option<()>,
) -> Result<(), StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    for entry in txn
        .open_table(LOG)
        .map_err(db_err)?
        .range(from..)
        .map_err(db_err)?
    {
        let (k, v) = entry.map_err(db_err)?;
        f(k.value(), v.value()).ok_or(StoreError::Corrupt { seq: k.value() })?;
    }
    Ok(())
}

/// A snapshot as stored.
pub struct StoredSnapshot {
    /// The last batch folded into it; `None` when the log was empty.
    pub seq: Option<u64>,
    pub cutoff: i64,
    pub bytes: Vec<u8>,
}

/// A batch waiting for the writer, and where to say it is durable.
pub struct Append {
    pub batch: BatchBytes,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Starts the writer thread. It ends, after committing what was queued, once every sender is
/// dropped.
pub fn spawn_writer(
    store: std::sync::Arc<Store>,
    capacity: usize,
) -> (mpsc::Sender<Append>, std::thread::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Append>(capacity);
    let handle = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(a) => group.push(a),
                        Err(_) => break,
                    }
                }
                let (encoded, waiters): (Vec<_>, Vec<_>) = group
                    .into_iter()
                    .map(|a| (a.batch.finish(), a.done))
                    .unzip();
                let result = store.append(&encoded).map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(batches = encoded.len(), "commit failed: {e}");
                } else {
                    tracing::trace!(batches = encoded.len(), "group committed");
                }
                for w in waiters {
                    // A poster that went away still had its batch committed; nothing to undo.
                    let _ = w.send(result.clone());
                }
            }
        })
        .expect("spawn the log writer thread");
    (tx, handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[(&str, i64)]) -> BatchBytes {
        let mut b = BatchBytes::new();
        for (r, ts) in records {
            b.push(r.as_bytes(), *ts);
        }
        b
    }

    fn all(store: &Store) -> Vec<String> {
        after(store, None).0
    }

    fn after(store: &Store, seq: Option<u64>) -> (Vec<String>, Option<u64>) {
        let mut out = Vec::new();
        let last = store
            .replay(seq, |r| out.push(String::from_utf8(r.to_vec()).unwrap()))
            .unwrap();
        (out, last)
    }

    #[test]
    fn append_replay_compact_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .append(&[
                batch(&[("a", 10), ("b", 20)]).finish(),
                batch(&[("c", 30)]).finish(),
            ])
            .unwrap();
        store.append(&[batch(&[("", 40)]).finish()]).unwrap();
        assert_eq!(all(&store), ["a", "b", "c", ""]);
        assert!(store.has_older_than(25));
        assert_eq!(store.compact(25).unwrap(), 1);
        assert!(!store.has_older_than(25));
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.cutoff(), 25);
        assert_eq!(all(&store), ["c", ""]);
        let (_, last) = after(&store, None);
        store.append(&[batch(&[("d", 50)]).finish()]).unwrap();
        assert_eq!(all(&store), ["c", "", "d"]);
        assert_eq!(after(&store, last), (vec!["d".to_string()], Some(3)));
        assert_eq!(after(&store, Some(3)), (vec![], Some(3)));
        assert_eq!(store.batches(), 3);
    }

    #[test]
    fn snapshots_are_replaced_and_compaction_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.read_snapshot().unwrap().is_none());
        assert_eq!(store.last_seq(), None);
        store.write_snapshot(None, i64::MIN, b"empty").unwrap();
        store.append(&[batch(&[("a", 10)]).finish()]).unwrap();
        store.write_snapshot(store.last_seq(), 5, b"one").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let s = store.read_snapshot().unwrap().unwrap();
        assert_eq!(
            (s.seq, s.cutoff, s.bytes.as_slice()),
            (Some(0), 5, &b"one"[..])
        );
        store.compact(20).unwrap();
        assert!(store.read_snapshot().unwrap().is_none());
    }

    /// Opens a copy of the log made of `bytes` in a fresh directory.
    fn open_copy(bytes: &[u8]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), bytes).unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    /// redb commits in one phase: it writes the new pages and the header that makes them the
    /// primary, then fsyncs once, and at open after a crash checks the primary's checksums and
    /// falls back to the previous commit when they fail. Built here: the header of the last
    /// commit reached the disk and its pages did not (they hold what was there before), and
    /// garbage past the end of the file, as a torn extension would leave. The commit before is
    /// whole either way, and a later commit works.
    #[test]
    fn a_torn_last_commit_falls_back_to_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = Store::open(dir.path()).unwrap();
        store
            .append(&[batch(&[("acknowledged", 10)]).finish()])
            .unwrap();
        // What the disk holds after the first commit's fsync; the service is still running.
        let before = std::fs::read(&path).unwrap();
        let big = "x".repeat(20_000);
        store
            .append(&[batch(&[(&big, 20), ("lost", 30)]).finish()])
            .unwrap();
        let after = std::fs::read(&path).unwrap();
        drop(store);

        // As a check of the copy: the file as it was holds both commits.
        let (_d, whole) = open_copy(&after);
        assert_eq!(all(&whole).len(), 3);

        assert_ne!(
            before[..HEADER_BYTES],
            after[..HEADER_BYTES],
            "the header moved on"
        );
        let mut torn = before.clone();
        torn.resize(after.len().max(before.len()), 0);
        torn[..HEADER_BYTES].copy_from_slice(&after[..HEADER_BYTES]);
        let (_d, store) = open_copy(&torn);
        assert_eq!(all(&store), ["acknowledged"]);
        store.append(&[batch(&[("next", 40)]).finish()]).unwrap();
        assert_eq!(all(&store), ["acknowledged", "next"]);

        let mut tail = before;
        tail.extend((0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        let (_d, store) = open_copy(&tail);
        assert_eq!(all(&store), ["acknowledged"]);
        store.append(&[batch(&[("next", 40)]).finish()]).unwrap();
        assert_eq!(all(&store), ["acknowledged", "next"]);
    }

    /// The size of redb's database header (its god byte and both commit slots), from its
    /// design document.
    const HEADER_BYTES: usize = 320;

    /// Commits a batch that reports failure although it reached the disk.
    fn append_failing(store: &Store, records: &[(&str, i64)]) {
        store.fail_after_commit.store(true, Ordering::Release);
        let e = store.append(&[batch(records).finish()]).unwrap_err();
        assert!(e.is_storage(), "{e}");
    }

    #[test]
    fn a_failed_commit_that_reached_the_disk_is_handed_out_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.append(&[batch(&[("a", 10)]).finish()]).unwrap();
        append_failing(&store, &[("b", 20), ("c", 30)]);
        assert_eq!(store.last_seq(), Some(0));

        let mut folded = Vec::new();
        let n = store
            .fold_landed(|r| folded.push(String::from_utf8(r.to_vec()).unwrap()))
            .unwrap();
        assert_eq!((n, folded), (1, vec!["b".to_string(), "c".to_string()]));
        // The next batch follows the one that landed, and nothing is handed out twice.
        assert_eq!(store.last_seq(), Some(1));
        assert_eq!(store.batches(), 2);
        assert_eq!(
            store.fold_landed(|_| panic!("handed out twice")).unwrap(),
            0
        );
        store.append(&[batch(&[("d", 40)]).finish()]).unwrap();
        assert_eq!(all(&store), ["a", "b", "c", "d"]);

        // Found when the next commit opens the log again, too; compaction's rebuild from the
        // whole log may forget them.
        append_failing(&store, &[("e", 50)]);
        store.append(&[batch(&[("f", 60)]).finish()]).unwrap();
        assert_eq!(all(&store), ["a", "b", "c", "d", "e", "f"]);
        store.forget_landed();
        assert_eq!(store.fold_landed(|_| panic!("forgotten")).unwrap(), 0);
    }

    #[test]
    fn writer_acknowledges_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let (tx, handle) = spawn_writer(store.clone(), 8);
        let mut waits = Vec::new();
        for i in 0..20 {
            let (done, wait) = oneshot::channel();
            let record = format!("r{i}");
            tx.blocking_send(Append {
                batch: batch(&[(&record, i)]),
                done,
            })
            .unwrap();
            waits.push(wait);
        }
        for w in waits {
            w.blocking_recv().unwrap().unwrap();
        }
        drop(tx);
        handle.join().unwrap();
        assert_eq!(all(&store).len(), 20);
    }
}
