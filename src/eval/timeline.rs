//! Time to detection: a log replayed in time order, with detection run at
//! every step, tells how long after each campaign's first request one of its
//! accounts is first flagged. It is what a live deployment would see.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use serde::Serialize;

use super::Label;
use crate::detect::DetectConfig;
use crate::engine::Engine;
use crate::record::Record;
use crate::report::rfc3339;
use crate::source::{self, Batch, ReadOptions, SourceError};

const HOUR_MS: i64 = 3_600_000;

/// When one campaign was first flagged in a replay.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Detection {
    pub campaign: String,
    /// The campaign's style (its class in the labels).
    pub class: String,
    pub first_request: String,
    /// The detection run that first flagged one of its accounts.
    pub first_flagged: Option<String>,
    /// Hours from its first request to that run; `None` when never flagged.
    pub hours: Option<f64>,
    /// Its accounts that the run flagged, and its accounts seen by then.
    pub flagged_accounts: usize,
    pub seen_accounts: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Timeline {
    pub step_minutes: u32,
    pub detection_runs: usize,
    /// The most legitimate accounts flagged by any one run: early false alarms show here.
    pub peak_legit_flagged: usize,
    /// When that run was, and the classes of those accounts.
    pub peak_legit_at: Option<String>,
    pub peak_legit_classes: BTreeMap<String, usize>,
    pub campaigns: Vec<Detection>,
}

/// Replays `paths` in time order, running detection every `step_minutes` of
/// log time, until every labelled campaign is flagged or the log ends.
/// Records that do not parse are skipped (a scan reports them).
pub fn replay(
    paths: &[PathBuf],
    labels: &BTreeMap<String, Label>,
    detect: &DetectConfig,
    step_minutes: u32,
) -> Result<Timeline, SourceError> {
    let batches = read_all(paths)?;
    // (time, batch, item): parsed once to order, again to ingest, to keep memory to the raw bytes.
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        for (i, item) in batch.iter().enumerate() {
            if item.oversize.is_none()
                && let Ok(rec) = Record::parse(item.bytes)
            {
                order.push((rec.ts_ms, b as u32, i as u32));
            }
        }
    }
    order.sort_unstable();

    let mut first_request: BTreeMap<&str, i64> = BTreeMap::new();
    let mut found: BTreeMap<&str, (i64, usize, usize)> = BTreeMap::new();
    let campaigns: BTreeMap<&str, &str> = labels
        .values()
        .filter_map(|l| Some((l.campaign.as_deref()?, l.class.as_str())))
        .collect();
    let step = i64::from(step_minutes.max(1)) * 60_000;
    let engine = Engine::new();
    let mut runs = 0;
    let mut peak_legit = 0;
    let mut peak_at = None;
    let mut peak_classes = BTreeMap::new();
    let mut next_run = order
        .first()
        .map_or(0, |o| o.0 - o.0.rem_euclid(step) + step);
    let mut k = 0;
    while k < order.len() && found.len() < campaigns.len() {
        while k < order.len() && order[k].0 < next_run {
            let (ts, b, i) = order[k];
            let batch = &batches[b as usize];
            let item = batch.items[i as usize].get(&batch.data);
            let rec = Record::parse(item.bytes).expect("parsed before");
            if let Some(name) = labels
                .get(rec.account_id.as_ref())
                .and_then(|l| l.campaign.as_deref())
            {
                first_request.entry(name).or_insert(ts);
            }
            engine.ingest(&rec);
            k += 1;
        }
        runs += 1;
        let clusters = engine.detect(detect);
        let mut flagged: BTreeMap<&str, usize> = BTreeMap::new();
        let mut legit: BTreeMap<String, usize> = BTreeMap::new();
        for a in clusters.iter().flat_map(|c| &c.accounts) {
            match labels.get(a) {
                Some(Label {
                    campaign: Some(name),
                    ..
                }) => *flagged.entry(name.as_str()).or_default() += 1,
                Some(l) => *legit.entry(l.class.clone()).or_default() += 1,
                None => {}
            }
        }
        let legit_total: usize = legit.values().sum();
        if legit_total > peak_legit {
            peak_legit = legit_total;
            peak_at = Some(rfc3339(next_run));
            peak_classes = legit;
        }
        for (name, n) in flagged {
            found.entry(name).or_insert_with(|| {
                let seen = labels
                    .iter()
                    .filter(|(a, l)| l.campaign.as_deref() == Some(name) && engine.has_account(a))
                    .count();
                (next_run, n, seen)
            });
        }
        next_run += step;
    }
    let campaigns = campaigns
        .into_iter()
        .map(|(name, class)| {
            let start = first_request.get(name).copied();
            let hit = found.get(name);
            Detection {
                campaign: name.to_string(),
                class: class.to_string(),
                first_request: start.map(rfc3339).unwrap_or_default(),
                first_flagged: hit.map(|h| rfc3339(h.0)),
                hours: hit
                    .zip(start)
                    .map(|(h, s)| (h.0 - s) as f64 / HOUR_MS as f64),
                flagged_accounts: hit.map_or(0, |h| h.1),
                seen_accounts: hit.map_or(0, |h| h.2),
            }
        })
        .collect();
    Ok(Timeline {
        step_minutes,
        detection_runs: runs,
        peak_legit_flagged: peak_legit,
        peak_legit_at: peak_at,
        peak_legit_classes: peak_classes,
        campaigns,
    })
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<Batch>, SourceError> {
    let inputs = source::discover(paths)?;
    let opts = ReadOptions::default();
    let done = AtomicU64::new(0);
    let mut batches = Vec::new();
    for index in 0..inputs.len() {
        source::read_input(&inputs, index, &opts, &done, &mut |b| {
            batches.push(b);
            true
        })?;
    }
    Ok(batches)
}

impl Timeline {
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "\ntime to detection (replayed in time order, detection every {} min, {} runs; at most {} legitimate accounts flagged by any run)\n",
            self.step_minutes, self.detection_runs, self.peak_legit_flagged,
        );
        if let Some(at) = &self.peak_legit_at {
            let classes: Vec<String> = self
                .peak_legit_classes
                .iter()
                .map(|(c, n)| format!("{n} {c}"))
                .collect();
            let _ = writeln!(out, "(the most at {at}: {})", classes.join(", "));
        }
        let _ = writeln!(
            out,
            "{:<22} {:<12} {:<20} {:>8} {:>10}",
            "CAMPAIGN", "STYLE", "FIRST REQUEST", "HOURS", "FLAGGED"
        );
        for c in &self.campaigns {
            let hours = c.hours.map_or("never".to_string(), |h| format!("{h:.1}"));
            let _ = writeln!(
                out,
                "{:<22} {:<12} {:<20} {:>8} {:>4} of {:<4}",
                c.campaign, c.class, c.first_request, hours, c.flagged_accounts, c.seen_accounts
            );
        }
        out
    }
}
