//! Scale-out over Kafka: the instances of one consumer group share the partitions of the logs
//! topic; each keeps the accounts of the partitions it owns ([`worker`]) and writes their
//! changes to a compacted changelog ([`changelog`]); the owner of the one-partition control
//! topic runs the cross-account stage over every account's changelog entry and publishes the
//! report ([`detector`]); every instance serves the latest published report ([`reports`]).
//! See docs/scale-out.md.

pub mod changelog;
pub mod detector;
pub mod forward;
pub mod rekey;
pub mod reports;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;

use super::App;
use super::config::KafkaSettings;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("unreadable data: {0}")]
    Corrupt(String),
    #[error("timed out {0}")]
    Timeout(String),
    #[error("a changelog write was not acknowledged")]
    Changelog,
    #[error("topic {0} does not exist")]
    NoTopic(String),
}

/// The `[kafka]` settings with the clients' configurations derived from them.
#[derive(Clone)]
pub struct Settings {
    pub kafka: KafkaSettings,
    /// Bound on one blocking call to the cluster.
    pub timeout: Duration,
    /// Privacy mode: the partition owners' and the detector's engines keep no prompt text, so
    /// neither the changelog nor the reports carry any.
    pub privacy: bool,
}

impl Settings {
    pub fn new(kafka: KafkaSettings) -> Settings {
        Settings {
            kafka,
            timeout: Duration::from_secs(30),
            privacy: false,
        }
    }

    /// The topic the partition owners consume: the logs topic, or the re-keyed copy of it.
    pub fn input_topic(&self) -> String {
        if self.kafka.rekey {
            format!("{}-accounts", self.kafka.group)
        } else {
            self.kafka.topic.clone()
        }
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.kafka.brokers);
        for (k, v) in &self.kafka.properties {
            c.set(k, v);
        }
        c
    }

    /// A member of `group` that commits offsets itself.
    pub fn group_consumer(&self, group: &str) -> ClientConfig {
        let session = self.kafka.session_timeout.as_millis().max(1_000);
        let mut c = self.base();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", session.to_string())
            .set("heartbeat.interval.ms", (session / 5).to_string());
        c
    }

    /// A consumer outside any group, for reading partitions it assigns itself.
    pub fn reader(&self) -> ClientConfig {
        let mut c = self.base();
        c.set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("group.id", format!("{}-readers", self.kafka.group));
        c
    }

    /// Writes are acknowledged by every in-sync replica, in order, once.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.base();
        c.set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4");
        c
    }
}

/// How many partitions `topic` has.
pub fn partitions_of(
    client: &rdkafka::consumer::BaseConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<u32, KafkaError> {
    use rdkafka::consumer::Consumer;
    let meta = client.fetch_metadata(Some(topic), timeout)?;
    match meta
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len() as u32)
    {
        0 => Err(KafkaError::NoTopic(topic.to_string())),
        n => Ok(n),
    }
}

/// The threads of the Kafka mode; [`Running::stop`] ends them.
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Asks every thread to finish (the worker writes what it holds and leaves the group) and
    /// waits for them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A thread's body: runs until the flag is set.
type Loop = Box<dyn FnOnce(&AtomicBool) + Send>;

/// Starts the partition worker, the detector election and the report follower.
pub fn start(
    app: Arc<App>,
    kafka: KafkaSettings,
    runtime: tokio::runtime::Handle,
) -> Result<Running, KafkaError> {
    let settings = Settings {
        privacy: app.cfg.privacy_mode,
        ..Settings::new(kafka)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let worker = worker::Worker::new(settings.clone(), app.metrics.kafka.clone())?;
    let detector = detector::Detector::new(settings.clone(), app.clone())?;
    let follower = reports::Follower::new(&settings, app.clone())?;
    let forwarder = forward::Forwarder::new(&settings, runtime)?;
    app.set_forward(Arc::new(forwarder));
    let rekey = match settings.kafka.rekey {
        true => Some(rekey::Rekey::new(settings.clone())?),
        false => None,
    };
    let runs: [(&str, Option<Loop>); 4] = [
        (
            "kafka-rekey",
            rekey.map(|r| Box::new(move |s: &AtomicBool| r.run(s)) as Loop),
        ),
        (
            "kafka-worker",
            Some(Box::new(move |s: &AtomicBool| worker.run(s))),
        ),
        (
            "kafka-detector",
            Some(Box::new(move |s: &AtomicBool| detector.run(s))),
        ),
        (
            "kafka-reports",
            Some(Box::new(move |s: &AtomicBool| follower.run(s))),
        ),
    ];
    let mut threads = Vec::new();
    for (name, run) in runs.into_iter().filter_map(|(n, r)| Some((n, r?))) {
        let stop = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || run(&stop))
                .expect("spawn a thread"),
        );
    }
    Ok(Running { stop, threads })
}
