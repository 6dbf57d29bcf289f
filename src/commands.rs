//! What each subcommand does once its arguments are parsed: the edge where
//! library errors become messages and exit codes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::detect::DetectConfig;
use crate::record::litellm::AccountKey;
use crate::record::{Converter, FieldMap, Mapping, Shape};
use crate::report::table;
use crate::scan::{self, ScanConfig};
use crate::source::{Layout, ReadOptions};

pub fn init_logging(verbose: u8) {
    init_logging_from(["warn", "info", "debug"], verbose, false);
}

/// Logging for `serve`: info by default, optionally one JSON object per line.
pub fn init_service_logging(verbose: u8, json: bool) {
    init_logging_from(["info", "debug", "trace"], verbose, json);
}

/// Logs to standard error at `levels[verbose]`; `RUST_LOG` overrides.
fn init_logging_from(levels: [&str; 3], verbose: u8, json: bool) {
    let level = levels[usize::from(verbose).min(2)];
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // No colour codes in files and pipes.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
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
    /// `auto`, `json`, `csv`, `parquet` or `litellm`; `None` leaves it to the config file.
    pub input_format: Option<String>,
    /// `FIELD=PATH` mappings; they take precedence over the config file's.
    pub map: Vec<String>,
    /// A TOML file with a `[map]` table (and optionally `input_format`, `litellm_account`).
    pub config: Option<PathBuf>,
    pub litellm_account: Option<String>,
    /// Keep no prompt text (see [`ScanConfig::privacy_mode`]).
    pub privacy_mode: bool,
}

/// The `--config` file: how to read inputs that are not in the contract's shape.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputConfig {
    input_format: Option<String>,
    litellm_account: Option<String>,
    #[serde(default)]
    map: std::collections::BTreeMap<String, String>,
}

fn read_input_config(path: &Path) -> anyhow::Result<InputConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))
}

/// The input format's layout and record shape.
fn input_format(name: &str) -> anyhow::Result<(Layout, Shape)> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "auto" => (Layout::Auto, Shape::Auto),
        "json" | "ndjson" => (Layout::Json, Shape::Contract),
        "csv" => (Layout::Csv, Shape::Contract),
        "parquet" => (Layout::Parquet, Shape::Contract),
        "litellm" => (Layout::Json, Shape::Litellm),
        other => anyhow::bail!(
            "unknown input format {other:?} (one of: auto, json, csv, parquet, litellm)"
        ),
    })
}

/// Combines the command line and the config file into the layout, shape and converter.
fn input_reading(args: &ScanArgs) -> anyhow::Result<(Layout, Shape, Converter)> {
    let config = match &args.config {
        Some(path) => read_input_config(path)?,
        None => InputConfig::default(),
    };
    let mut map = FieldMap::parse(&args.map)?;
    let from_file = config
        .map
        .iter()
        .map(|(field, path)| Mapping::new(field, path))
        .collect::<Result<Vec<_>, _>>()
        .and_then(FieldMap::new)
        .with_context(|| {
            format!(
                "{}: [map]",
                args.config.as_deref().unwrap_or(Path::new("")).display()
            )
        })?;
    map.merge(from_file);
    let format = args.input_format.as_ref().or(config.input_format.as_ref());
    let (layout, shape) = input_format(format.map_or("auto", String::as_str))?;
    let account = args
        .litellm_account
        .as_ref()
        .or(config.litellm_account.as_ref());
    let litellm_account = match account {
        Some(a) => a.parse::<AccountKey>()?,
        None => AccountKey::default(),
    };
    Ok((
        layout,
        shape,
        Converter {
            map,
            litellm_account,
        },
    ))
}

/// Exit codes: 0 done (found or not), 1 findings with `--fail-on-findings`, 2 usage or I/O error.
pub fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let (layout, shape, convert) = input_reading(&args)?;
    let cfg = ScanConfig {
        paths: args.paths,
        read: ReadOptions {
            max_record_bytes: args.max_record_bytes,
            layout,
            ..ReadOptions::default()
        },
        shape,
        convert,
        detect: DetectConfig {
            min_score: args.min_score,
            ..DetectConfig::default()
        },
        threads: args.threads,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        rejects_out: args.rejects,
        privacy_mode: args.privacy_mode,
        ..ScanConfig::default()
    };
    let outcome = scan::scan(&cfg)?;
    let report = &outcome.report;
    if report.stats.records_read > 0 {
        for m in cfg.convert.map.unmatched() {
            tracing::warn!("mapping {m} found nothing in any record: is the path right?");
        }
    }
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

pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub listen: Option<std::net::SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

/// Runs the service until SIGTERM or Ctrl-C. Prints `listening on http://ADDR` on standard
/// output once the port is bound (the address is the real one when port 0 was asked for).
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = crate::serve::config::Config::load(args.config.as_deref())?;
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(d) = args.data_dir {
        cfg.data_dir = d;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Before binding, so a refused start never claims to be listening.
    crate::serve::check_access(&cfg, cfg.listen)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %cfg.data_dir.display(), "listening");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}")
            .and_then(|_| stdout.flush())
            .context("cannot write to standard output")?;
        drop(stdout);
        crate::serve::run(cfg, listener, crate::serve::shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Writes every record of a stopped service's log to standard output, one per line.
pub fn export(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let file = data_dir.join(crate::serve::store::FILE_NAME);
    if !file.exists() {
        anyhow::bail!("{}: no log here (is it a data directory?)", file.display());
    }
    // The service holds the file locked while it runs; redb says so, and the context says why.
    let store = crate::serve::store::Store::open(data_dir).with_context(|| {
        format!(
            "cannot open {} (is the service still running?)",
            file.display()
        )
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    store.replay(None, |record| {
        if failed.is_none()
            && let Err(e) = out.write_all(record).and_then(|_| out.write_all(b"\n"))
        {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e).context("cannot write to standard output");
    }
    out.flush().context("cannot write to standard output")?;
    Ok(ExitCode::SUCCESS)
}
