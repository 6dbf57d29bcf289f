//! What each subcommand does once its arguments are parsed: the edge where
//! library errors become messages and exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::detect::DetectConfig;
use crate::report::table;
use crate::scan::{self, ScanConfig};
use crate::source::ReadOptions;

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // No colour codes in files and pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

pub struct ScanArgs {
    pub paths: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub format: OutputFormat,
    pub rejects: Option<PathBuf>,
    pub fail_on_findings: bool,
    pub min_score: f64,
    pub quiet: bool,
    pub threads: usize,
    pub max_record_bytes: usize,
}

/// Exit codes: 0 done (found or not), 1 findings with `--fail-on-findings`, 2 usage or I/O error.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let cfg = ScanConfig {
        paths: args.paths,
        read: ReadOptions {
            max_record_bytes: args.max_record_bytes,
            ..ReadOptions::default()
        },
        detect: DetectConfig {
            min_score: args.min_score,
            ..DetectConfig::default()
        },
        threads: args.threads,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        rejects_out: args.rejects,
        ..ScanConfig::default()
    };
    let outcome = scan::scan(&cfg)?;
    let report = &outcome.report;
    if let Some(path) = &args.out {
        let file = std::fs::File::create(path)
            .with_context(|| format!("{}: cannot create the report", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, report)
            .map_err(std::io::Error::from)
            .and_then(|_| w.write_all(b"\n"))
            .and_then(|_| w.flush())
            .with_context(|| format!("{}: cannot write the report", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        OutputFormat::Table => stdout.write_all(table::render(report).as_bytes()),
        OutputFormat::Json => serde_json::to_writer_pretty(&mut stdout, report)
            .map_err(std::io::Error::from)
            .and_then(|_| stdout.write_all(b"\n")),
    }
    .context("cannot write to standard output")?;
    stdout.flush().ok();
    if !outcome.input_errors.is_empty() {
        for e in &outcome.input_errors {
            eprintln!("error: {e}");
        }
        anyhow::bail!(
            "{} input(s) could not be read completely; the report covers the records read before the error",
            outcome.input_errors.len()
        );
    }
    if args.fail_on_findings && !report.clusters.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub struct EvalArgs {
    pub labels: PathBuf,
    pub report: Option<PathBuf>,
    /// Logs to replay for time to detection; none skips the replay.
    pub logs: Vec<PathBuf>,
    pub step_minutes: u32,
    pub format: OutputFormat,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let labels = crate::eval::read_labels(&args.labels)?;
    let quality = match &args.report {
        Some(path) => Some(crate::eval::evaluate(
            &labels,
            &crate::eval::read_report(path)?,
        )),
        None => None,
    };
    let timeline = if args.logs.is_empty() {
        None
    } else {
        Some(
            crate::eval::timeline::replay(
                &args.logs,
                &labels,
                &DetectConfig::default(),
                args.step_minutes,
            )
            .context("replaying the logs")?,
        )
    };
    match args.format {
        OutputFormat::Table => {
            if let Some(q) = &quality {
                print!("{}", q.render());
            }
            if let Some(t) = &timeline {
                print!("{}", t.render());
            }
        }
        OutputFormat::Json => {
            // The evaluation's own fields stay at the top level, as without a replay.
            let mut out = serde_json::to_value(&quality)?;
            if let Some(t) = &timeline {
                if !out.is_object() {
                    out = serde_json::json!({});
                }
                out["time_to_detection"] = serde_json::to_value(t)?;
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn simulate(cfg: &crate::sim::SimConfig, out: &Path) -> anyhow::Result<ExitCode> {
    print_summary(&crate::sim::generate(cfg, out)?);
    Ok(ExitCode::SUCCESS)
}

pub fn simulate_scale(cfg: &crate::sim::ScaleConfig, out: &Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let s = crate::sim::generate_scale(cfg, out)?;
    let secs = started.elapsed().as_secs_f64();
    print_summary(&s);
    println!(
        "{:.1} s, {:.0} records/s",
        secs,
        s.records as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &crate::sim::SimSummary) {
    println!(
        "{} records ({} duplicates), {} accounts ({} in campaigns, {} campaign records)",
        s.records, s.duplicate_records, s.accounts, s.campaign_accounts, s.campaign_records
    );
    for c in &s.classes {
        println!(
            "  {:<14} {:<8} {:>6} accounts {:>8} records",
            c.class, c.kind, c.accounts, c.records
        );
    }
    println!(
        "wrote {}, {} and {}",
        s.logs_path.display(),
        s.labels_path.display(),
        s.campaigns_path.display()
    );
}
