//! Labelled traffic simulator: writes request logs in the input contract's format together with the
//! ground truth (which accounts are legitimate, which belong to which campaign), so detection can be
//! measured. Every class is a behaviour a careful reviewer would expect to see, including the
//! legitimate look-alikes that make the problem hard.

mod campaigns;
mod grammar;
mod infra;
mod legit;
mod plan;
mod record;
mod scale;
mod text;
mod timing;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::Rng;
use serde::Serialize;

pub use scale::{ScaleConfig, generate_scale};

use plan::{ClassOut, Plan, World};
use record::{hex_id, render, rfc3339, sub_rng};
use text::TextSource;
use timing::{HOUR, MIN};

/// 2026-03-02T00:00:00Z, a Monday.
pub const DEFAULT_START_UNIX: i64 = 1_772_409_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Small bundled fixture: ordinary traffic plus one obvious hydra campaign.
    Sample,
    /// Every legitimate and campaign class over a week.
    Standard,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub preset: Preset,
    /// Multiplies account counts (and with them campaign stream rates).
    pub scale: f64,
    pub days: u32,
    pub start_unix: i64,
    /// Real prompt corpora; `None` uses the built-in text generators only.
    pub corpora_dir: Option<PathBuf>,
    /// 0.0 keeps default class parameters; larger values jitter them deterministically from the
    /// seed so detectors are not tuned to a single parameter set.
    pub variation: f64,
}

impl SimConfig {
    pub fn sample(seed: u64) -> Self {
        Self {
            seed,
            preset: Preset::Sample,
            scale: 1.0,
            days: 2,
            start_unix: DEFAULT_START_UNIX,
            corpora_dir: None,
            variation: 0.0,
        }
    }

    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            preset: Preset::Standard,
            scale: 1.0,
            days: 7,
            start_unix: DEFAULT_START_UNIX,
            corpora_dir: default_corpora_dir(),
            variation: 0.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation config: {0}")]
    Config(String),
    #[error("reading corpus file {path}: {source}")]
    CorpusIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing corpus file {path}, line {line}: {message}")]
    CorpusParse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding output for {path}: {source}")]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Accounts and records of one class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCount {
    pub class: String,
    /// `legit` or `campaign`.
    pub kind: String,
    pub accounts: u64,
    pub records: u64,
}

/// One campaign as written to `campaigns.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignInfo {
    pub name: String,
    pub style: String,
    pub account_count: u64,
    pub accounts: Vec<String>,
    pub first_ts: String,
    pub last_ts: String,
    pub records: u64,
}

#[derive(Debug, Clone)]
pub struct SimSummary {
    /// Lines in the log, including retried duplicates.
    pub records: u64,
    /// Lines that repeat an earlier record exactly (same request_id).
    pub duplicate_records: u64,
    /// Accounts that made at least one request.
    pub accounts: u64,
    pub campaign_accounts: u64,
    pub campaign_records: u64,
    pub logs_path: PathBuf,
    pub labels_path: PathBuf,
    pub campaigns_path: PathBuf,
    pub classes: Vec<ClassCount>,
    pub campaigns: Vec<CampaignInfo>,
}

/// `../shared/corpora` relative to the current directory or to the crate's parent, if present.
pub fn default_corpora_dir() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("../shared/corpora")];
    if let Some(parent) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        candidates.push(parent.join("shared/corpora"));
    }
    candidates.into_iter().find(|p| p.is_dir())
}

type Generator = fn(&World) -> ClassOut;

fn generators(preset: Preset) -> Vec<Generator> {
    let mut g: Vec<Generator> = vec![
        legit::ordinary,
        legit::developer,
        legit::company,
        legit::product_bot,
        campaigns::hydra,
    ];
    if preset == Preset::Standard {
        g.extend([
            legit::benchmark_run as Generator,
            legit::classroom,
            legit::reseller,
            campaigns::stealth,
            campaigns::capability,
            campaigns::ban_wave,
            campaigns::sweep,
        ]);
    }
    g
}

/// Above this many requests in a minute an account gets 429s.
const RATE_LIMIT_PER_MIN: usize = 40;

struct Line {
    ts_ms: i64,
    request_id: String,
    text: String,
}

struct Label {
    account_id: String,
    class: &'static str,
    campaign: Option<&'static str>,
}

/// Runs the simulation and writes `logs.ndjson.gz`, `labels.csv` and `campaigns.json` to `out_dir`.
pub fn generate(cfg: &SimConfig, out_dir: &Path) -> Result<SimSummary, SimError> {
    if cfg.days == 0 || cfg.days > 366 {
        return Err(SimError::Config(format!(
            "days must be 1..=366, got {}",
            cfg.days
        )));
    }
    if !(cfg.scale.is_finite() && cfg.scale > 0.0 && cfg.scale <= 20.0) {
        return Err(SimError::Config(format!(
            "scale must be in (0, 20], got {}",
            cfg.scale
        )));
    }
    if !(cfg.variation.is_finite() && cfg.variation >= 0.0) {
        return Err(SimError::Config(format!(
            "variation must be >= 0, got {}",
            cfg.variation
        )));
    }
    let text = match &cfg.corpora_dir {
        Some(d) => TextSource::load(d)?,
        None => TextSource::builtin(),
    };
    let plan = Plan::new(cfg);
    let start = cfg.start_unix * 1000;
    let end = start + i64::from(cfg.days) * 24 * HOUR;
    let release_after = match cfg.preset {
        Preset::Sample => 30 * HOUR,
        Preset::Standard => 48 * HOUR,
    };
    let world = World {
        seed: cfg.seed,
        start,
        end,
        release: start + release_after.min((end - start) * 5 / 8),
        text: &text,
        plan: &plan,
    };

    let mut lines = Vec::new();
    let mut labels = Vec::new();
    let mut classes = Vec::new();
    let mut campaigns_out = Vec::new();
    for gen_fn in generators(cfg.preset) {
        let out = gen_fn(&world);
        let stats = finalize(cfg.seed, &out, &mut lines, &mut labels).map_err(|source| {
            SimError::Encode {
                path: out_dir.join("logs.ndjson.gz"),
                source,
            }
        })?;
        classes.push(ClassCount {
            class: out.class.to_string(),
            kind: if out.campaign.is_some() {
                "campaign"
            } else {
                "legit"
            }
            .to_string(),
            accounts: stats.accounts.len() as u64,
            records: stats.records,
        });
        if let Some(name) = out.campaign {
            campaigns_out.push(CampaignInfo {
                name: name.to_string(),
                style: out.class.to_string(),
                account_count: stats.accounts.len() as u64,
                accounts: stats.accounts,
                first_ts: rfc3339(stats.first),
                last_ts: rfc3339(stats.last),
                records: stats.records,
            });
        }
    }

    // Log shippers retry: a handful of records arrive twice.
    let mut rng = sub_rng(cfg.seed, "duplicates");
    let n_dup = if lines.is_empty() {
        0
    } else {
        4 + lines.len() / 8000
    };
    for _ in 0..n_dup {
        let i = rng.random_range(0..lines.len());
        let l = &lines[i];
        lines.push(Line {
            ts_ms: l.ts_ms,
            request_id: l.request_id.clone(),
            text: l.text.clone(),
        });
    }
    lines.sort_by(|a, b| (a.ts_ms, &a.request_id).cmp(&(b.ts_ms, &b.request_id)));
    labels.sort_by(|a, b| a.account_id.cmp(&b.account_id));

    std::fs::create_dir_all(out_dir).map_err(|source| SimError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let logs_path = out_dir.join("logs.ndjson.gz");
    let labels_path = out_dir.join("labels.csv");
    let campaigns_path = out_dir.join("campaigns.json");
    write_logs(&logs_path, &lines)?;
    write_labels(&labels_path, &labels)?;
    let json = serde_json::to_string_pretty(&campaigns_out).map_err(|source| SimError::Encode {
        path: campaigns_path.clone(),
        source,
    })?;
    std::fs::write(&campaigns_path, json + "\n").map_err(|source| SimError::Write {
        path: campaigns_path.clone(),
        source,
    })?;

    let campaign_accounts = labels.iter().filter(|l| l.campaign.is_some()).count() as u64;
    let campaign_records = campaigns_out.iter().map(|c| c.records).sum();
    Ok(SimSummary {
        records: lines.len() as u64,
        duplicate_records: n_dup as u64,
        accounts: labels.len() as u64,
        campaign_accounts,
        campaign_records,
        logs_path,
        labels_path,
        campaigns_path,
        classes,
        campaigns: campaigns_out,
    })
}

struct Stats {
    accounts: Vec<String>,
    records: u64,
    first: i64,
    last: i64,
}

/// Orders a class's drafts in time, assigns request ids, applies the rate limit, renders lines.
fn finalize(
    seed: u64,
    out: &ClassOut,
    lines: &mut Vec<Line>,
    labels: &mut Vec<Label>,
) -> serde_json::Result<Stats> {
    let mut order: Vec<usize> = (0..out.drafts.len()).collect();
    order.sort_by_key(|&i| (out.drafts[i].ts_ms, out.drafts[i].acct, i));
    let n = out.accounts.len();
    let mut seq = vec![0u64; n];
    let mut recent: Vec<VecDeque<i64>> = vec![VecDeque::new(); n];
    let mut stats = Stats {
        accounts: Vec::new(),
        records: 0,
        first: i64::MAX,
        last: i64::MIN,
    };
    for i in order {
        let d = &out.drafts[i];
        let a = &out.accounts[d.acct];
        seq[d.acct] += 1;
        let request_id = hex_id(seed, "req_", &format!("{}/{}", a.id, seq[d.acct]), 24);
        let window = &mut recent[d.acct];
        while window.front().is_some_and(|&t| t <= d.ts_ms - MIN) {
            window.pop_front();
        }
        window.push_back(d.ts_ms);
        let status = if d.status != 200 {
            d.status
        } else if window.len() > RATE_LIMIT_PER_MIN {
            429
        } else {
            200
        };
        let text = render(d, a, &request_id, status)?;
        lines.push(Line {
            ts_ms: d.ts_ms,
            request_id,
            text,
        });
        stats.records += 1;
        stats.first = stats.first.min(d.ts_ms);
        stats.last = stats.last.max(d.ts_ms);
    }
    for (ix, a) in out.accounts.iter().enumerate() {
        if seq[ix] > 0 {
            stats.accounts.push(a.id.clone());
            labels.push(Label {
                account_id: a.id.clone(),
                class: a.class,
                campaign: a.campaign,
            });
        }
    }
    if stats.records == 0 {
        stats.first = 0;
        stats.last = 0;
    }
    Ok(stats)
}

fn write_logs(path: &Path, lines: &[Line]) -> Result<(), SimError> {
    let werr = |source| SimError::Write {
        path: path.to_path_buf(),
        source,
    };
    let f = File::create(path).map_err(werr)?;
    // GzEncoder writes a zero mtime, which keeps the bytes identical across runs.
    let mut gz = GzEncoder::new(BufWriter::new(f), Compression::default());
    for l in lines {
        gz.write_all(l.text.as_bytes()).map_err(werr)?;
        gz.write_all(b"\n").map_err(werr)?;
    }
    gz.finish().map_err(werr)?.flush().map_err(werr)?;
    Ok(())
}

fn write_labels(path: &Path, labels: &[Label]) -> Result<(), SimError> {
    let werr = |source| SimError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut w = BufWriter::new(File::create(path).map_err(werr)?);
    writeln!(w, "account_id,class,kind,campaign").map_err(werr)?;
    for l in labels {
        label_row(&mut w, &l.account_id, l.class, l.campaign).map_err(werr)?;
    }
    w.flush().map_err(werr)
}

/// One `labels.csv` row: `account_id,class,kind,campaign`.
fn label_row(
    w: &mut impl Write,
    account_id: &str,
    class: &str,
    campaign: Option<&str>,
) -> std::io::Result<()> {
    let kind = if campaign.is_some() {
        "campaign"
    } else {
        "legit"
    };
    writeln!(w, "{account_id},{class},{kind},{}", campaign.unwrap_or(""))
}
