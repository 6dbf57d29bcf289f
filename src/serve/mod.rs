//! The service door: logs arrive over HTTP, are made durable in a write-ahead log, folded into
//! the same [`Engine`] as `scan`'s, and detection runs on a timer and on demand.
//!
//! A post is acknowledged only after its batch is committed (fsync); the writer commits all
//! waiting batches together. On start the log is replayed into a fresh engine, so what was
//! acknowledged is back, counted once (request ids are de-duplicated in commit order).

pub mod auth;
pub mod config;
pub mod decisions;
pub mod detection;
pub mod error;
pub mod ingest;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod rate;
pub mod review;
pub mod routes;
pub mod snapshot;
pub mod store;
pub mod ui;
pub mod write_deadline;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::engine::Engine;
use auth::{HasTokens, Tokens};
use config::Config;
use decisions::Decisions;
use detection::Detection;
use error::ApiError;
use metrics::Metrics;
use store::{Append, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "no tokens are configured and {0} is not a loopback address: configure tokens, or set \
         insecure_no_auth = true to serve without authentication"
    )]
    OpenOnNetwork(std::net::SocketAddr),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot replay the log: {0}")]
    Replay(String),
    #[error("this build has no Kafka support: build with the `kafka` feature, or remove [kafka]")]
    NoKafka,
    #[cfg(feature = "kafka")]
    #[error(transparent)]
    Kafka(#[from] kafka::KafkaError),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything the routes share.
pub struct App {
    pub cfg: Config,
    pub tokens: Tokens,
    pub store: Arc<Store>,
    engine: RwLock<Arc<Engine>>,
    ready: AtomicBool,
    /// Taken at shutdown so the writer thread sees the end of its queue.
    writer: RwLock<Option<mpsc::Sender<Append>>>,
    /// Posts between reading their body and their answer.
    pub inflight: Arc<Semaphore>,
    /// Held shared by a post from its dedup check to its fold, exclusively by compaction.
    pub gate: Arc<tokio::sync::RwLock<()>>,
    /// Batches folded into the engine (and engine rebuilds): detection runs compare it.
    generation: AtomicU64,
    pub metrics: Metrics,
    pub detection: Detection,
    /// Held by compaction and by snapshots, which must not interleave.
    pub maintenance: tokio::sync::Mutex<()>,
    /// The generation of the last snapshot, to skip one when nothing arrived.
    snapshot_generation: AtomicU64,
    pub last_snapshot: std::sync::Mutex<Option<snapshot::Taken>>,
    /// How the state was rebuilt at start.
    pub restored: std::sync::Mutex<Option<snapshot::Restored>>,
    pub decisions: Decisions,
    pub rate: rate::RateLimits,
    /// Where posted records go instead of the local log (Kafka mode).
    forward: std::sync::OnceLock<Arc<dyn Forward>>,
}

/// Takes accepted records elsewhere, durably, before a post is answered.
pub trait Forward: Send + Sync {
    /// Sends (account id, contract record) pairs; returns once all are acknowledged.
    fn send(&self, records: &[(String, Vec<u8>)]) -> Result<(), String>;
}

impl HasTokens for Arc<App> {
    fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

impl App {
    /// The shared state over an opened store, not ready until the log is replayed.
    fn new(
        cfg: Config,
        tokens: Tokens,
        store: Arc<Store>,
        decisions: Decisions,
        writer: mpsc::Sender<Append>,
    ) -> App {
        App {
            tokens,
            inflight: Arc::new(Semaphore::new(cfg.max_inflight_batches)),
            store,
            engine: RwLock::new(Arc::new(Engine::with_privacy(cfg.privacy_mode))),
            ready: AtomicBool::new(false),
            writer: RwLock::new(Some(writer)),
            gate: Arc::new(tokio::sync::RwLock::new(())),
            generation: AtomicU64::new(0),
            metrics: Metrics::default(),
            detection: Detection::default(),
            maintenance: tokio::sync::Mutex::new(()),
            snapshot_generation: AtomicU64::new(0),
            last_snapshot: std::sync::Mutex::new(None),
            restored: std::sync::Mutex::new(None),
            decisions,
            rate: rate::RateLimits::new(cfg.ingest_rate_limit),
            forward: std::sync::OnceLock::new(),
            cfg,
        }
    }

    pub fn engine(&self) -> Arc<Engine> {
        self.engine.read().expect("engine").clone()
    }

    fn replace_engine(&self, engine: Engine) {
        *self.engine.write().expect("engine") = Arc::new(engine);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn set_forward(&self, forward: Arc<dyn Forward>) {
        let _ = self.forward.set(forward);
    }

    pub fn forward(&self) -> Option<&Arc<dyn Forward>> {
        self.forward.get()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// A batch was folded into the engine, or the allowlist changed: the next detection run
    /// must not reuse the latest one.
    fn folded(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether batches were folded since the last snapshot (or the state was rebuilt).
    pub fn changed_since_snapshot(&self) -> bool {
        self.generation() != self.snapshot_generation.load(Ordering::SeqCst)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// 503 until the log is replayed.
    pub fn check_ready(&self) -> Result<(), ApiError> {
        if self.is_ready() {
            Ok(())
        } else {
            Err(ApiError::unavailable(
                "starting: the log is being replayed",
                1,
            ))
        }
    }

    /// Folds into the state the batches whose commit reported a failure but reached the disk
    /// (found when the log is opened again): their posts were answered 503, so the shipper
    /// retries them, and the retry must find them stored rather than store them a second time.
    /// Called by a post before its duplicate check and by a snapshot before it copies the
    /// state, each holding the gate.
    fn fold_landed(&self) -> Result<(), StoreError> {
        let engine = self.engine();
        let cutoff = self.store.cutoff();
        let mut records = 0u64;
        let batches = self.store.fold_landed(|bytes| {
            records += u64::from(detection::fold_stored(&engine, bytes, cutoff));
        })?;
        if batches > 0 {
            tracing::info!(
                batches,
                records,
                "folded in batches whose commit reported failure"
            );
            self.folded();
        }
        Ok(())
    }

    fn send_to_writer(&self, append: Append) -> Result<(), ApiError> {
        let writer = self.writer.read().expect("writer").clone();
        let sent = match writer {
            // The in-flight limit keeps the queue from filling, so this rarely waits.
            Some(tx) => tx.blocking_send(append).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(ApiError::unavailable("shutting down", 5))
        }
    }
}

/// Refuses to serve without tokens on an address other than loopback, unless told to.
pub fn check_access(cfg: &Config, addr: std::net::SocketAddr) -> Result<(), ServeError> {
    if cfg.tokens.is_empty() && !addr.ip().is_loopback() && !cfg.insecure_no_auth {
        return Err(ServeError::OpenOnNetwork(addr));
    }
    Ok(())
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight, lets
/// the writer commit what it holds, and returns.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    check_access(&cfg, addr)?;
    #[cfg(not(feature = "kafka"))]
    if cfg.kafka.is_some() {
        return Err(ServeError::NoKafka);
    }
    let tokens = Tokens::new(&cfg.tokens);
    if tokens.is_open() {
        tracing::warn!(
            "no tokens configured: every caller may ingest, read and administer (fine on loopback for local use)"
        );
    }
    if cfg.privacy_mode {
        tracing::info!(
            "privacy mode: prompt and system prompt text is reduced to hashes and template keys before it is stored"
        );
    }
    let dir = cfg.data_dir.clone();
    let (store, decisions) = tokio::task::spawn_blocking(move || {
        let store = Store::open(&dir)?;
        let decisions = Decisions::load(&store)?;
        Ok::<_, StoreError>((Arc::new(store), decisions))
    })
    .await
    .expect("open the store")?;
    let (writer, writer_thread) = store::spawn_writer(store.clone(), cfg.max_inflight_batches);
    let app = Arc::new(App::new(cfg, tokens, store, decisions, writer));

    // A log that cannot be replayed stops the service: serving without its state would be wrong.
    let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel::<ServeError>();
    let starter = app.clone();
    let background = tokio::spawn(async move {
        let worker = starter.clone();
        let started = std::time::Instant::now();
        let cutoff = worker.store.cutoff();
        let privacy = worker.cfg.privacy_mode;
        let replayed =
            tokio::task::spawn_blocking(move || snapshot::restore(&worker.store, cutoff, privacy))
                .await;
        match replayed {
            Ok(Ok((engine, _, restored))) => {
                tracing::info!(
                    records = engine.accepted(),
                    accounts = engine.accounts(),
                    batches = starter.store.batches(),
                    from_snapshot = restored.from_snapshot,
                    records_replayed = restored.records_replayed,
                    ms = started.elapsed().as_millis() as u64,
                    "state rebuilt"
                );
                starter.replace_engine(engine);
                // What was just loaded or replayed is what the store holds: no snapshot needed yet
                // unless the log went past the snapshot.
                if restored.from_snapshot && restored.records_replayed == 0 {
                    starter
                        .snapshot_generation
                        .store(starter.generation(), Ordering::SeqCst);
                }
                *starter.restored.lock().expect("restored") = Some(restored);
                starter.ready.store(true, Ordering::Release);
                // In Kafka mode the detecting instance of the group makes the reports.
                if starter.cfg.kafka.is_none() {
                    detection::background(starter).await;
                }
            }
            Ok(Err(e)) => {
                let _ = fatal_tx.send(ServeError::Replay(e.to_string()));
            }
            Err(e) => {
                let _ = fatal_tx.send(ServeError::Replay(e.to_string()));
            }
        }
    });

    let fatal = Arc::new(std::sync::Mutex::new(None));
    let stop = {
        let fatal = fatal.clone();
        async move {
            tokio::select! {
                _ = shutdown => {}
                Ok(e) = fatal_rx => {
                    *fatal.lock().expect("fatal error") = Some(e);
                }
            }
        }
    };
    #[cfg(feature = "kafka")]
    let kafka = match app.cfg.kafka.clone() {
        Some(settings) => {
            let app = app.clone();
            let runtime = tokio::runtime::Handle::current();
            Some(
                tokio::task::spawn_blocking(move || kafka::start(app, settings, runtime))
                    .await
                    .expect("start the Kafka clients")?,
            )
        }
        None => None,
    };
    let router = routes::router(app.clone());
    let limits = listen::Limits {
        header_timeout: app.cfg.header_timeout,
        write_timeout: app.cfg.write_timeout,
        max_connections: app.cfg.max_connections,
    };
    listen::serve(listener, router, limits, stop).await?;

    tracing::info!("shutting down: stopped accepting, committing what is queued");
    background.abort();
    let _ = background.await;
    #[cfg(feature = "kafka")]
    if let Some(k) = kafka {
        tokio::task::spawn_blocking(move || k.stop()).await.ok();
    }
    app.writer.write().expect("writer").take();
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .ok();
    if let Some(e) = fatal.lock().expect("fatal error").take() {
        return Err(e);
    }
    // The next start then loads this instead of replaying the log.
    if app.is_ready()
        && app.changed_since_snapshot()
        && let Err(e) = snapshot::take(&app).await
    {
        tracing::warn!("no snapshot at shutdown: {}", e.message);
    }
    tracing::info!("stopped");
    Ok(())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
