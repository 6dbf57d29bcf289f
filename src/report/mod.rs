//! The contract's output: clusters with their signals and evidence, plus the
//! run's statistics. `scan` writes it and the service serves the same shape.

pub mod table;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// Every cluster here is a finding, highest score first.
    pub clusters: Vec<Cluster>,
    pub stats: Stats,
    pub rejects: RejectSummary,
    /// The program and version that wrote the report.
    pub generator: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cluster {
    /// Stable: derived from the cluster's anchor account, so the same input gives the same id.
    pub id: String,
    /// In [0, 1]; higher is more certain.
    pub score: f64,
    /// Every flagged member, sorted.
    pub accounts: Vec<String>,
    /// Why, strongest contribution first.
    pub signals: Vec<Signal>,
    pub size: usize,
    pub requests: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Attribute values the members share, and how rare they are in the population.
    pub shared: Vec<Shared>,
    /// A few of the members' prompts, shortened.
    pub examples: Vec<String>,
    /// The busiest members with their activity (at most 100).
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Signal {
    /// Stable machine name, e.g. `shared_payment`.
    pub name: String,
    /// Strength of the signal itself, in [0, 1].
    pub score: f64,
    /// What it added to the cluster's log-odds (negative for signs of legitimate use).
    pub contribution: f64,
    /// In words a reviewer understands.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Shared {
    pub attribute: String,
    pub value: String,
    /// Members holding the value.
    pub members: usize,
    /// Accounts in the whole population holding it.
    pub population: usize,
    /// Chance that this many of the cluster's accounts would hold it if they
    /// were unrelated accounts drawn from the rest of the population.
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub account_id: String,
    pub requests: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub inputs: usize,
    pub bytes_read: u64,
    /// Records read, good or bad.
    pub records_read: u64,
    pub records_accepted: u64,
    pub rejected: u64,
    /// Records whose `request_id` was seen before; counted once.
    pub duplicates: u64,
    pub accounts: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub span_hours: f64,
    pub duration_ms: u64,
    pub records_per_second: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RejectSummary {
    pub count: u64,
    /// The first few, in input order.
    pub first: Vec<Reject>,
}

/// A record that could not be used: where it was and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub reason: String,
    /// The start of the offending text.
    pub excerpt: String,
}

/// RFC 3339 in UTC with second precision.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub fn generator() -> String {
    format!("distillguard {}", env!("CARGO_PKG_VERSION"))
}
