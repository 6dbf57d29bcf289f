//! The `distillguard` command line: parses arguments and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use distillguard::commands::{self, OutputFormat, ScanArgs, ServeArgs};
use distillguard::sim::{ScaleConfig, SimConfig};

#[derive(Parser)]
#[command(
    name = "distillguard",
    version,
    about = "Finds distillation campaigns in LLM-API request logs",
    long_about = "Finds distillation campaigns in LLM-API request logs: groups of accounts that \
                  harvest a model's answers to train another model, with the evidence a reviewer needs."
)]
struct Cli {
    /// More log output on standard error (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan log files and report the account clusters that look like distillation campaigns.
    Scan(Scan),
    /// Measure a report against the simulator's labels: precision, recall, false positives.
    Eval(Eval),
    /// Write labelled simulated traffic: logs.ndjson.gz, labels.csv and campaigns.json.
    Simulate(Simulate),
    /// Run the service: ingest logs over HTTP (durably), detect on a timer and on demand, serve
    /// the findings.
    Serve(Serve),
    /// Write every record the service's log holds (the time window), one JSON object per line,
    /// in commit order. Reads the data directory of a stopped service.
    Export(Export),
}

#[derive(clap::Args)]
struct Export {
    /// The service's data directory.
    #[arg(long, value_name = "DIR", env = "DISTILLGUARD_DATA_DIR")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct Serve {
    /// TOML configuration; every setting can also come from DISTILLGUARD_<SETTING> variables.
    #[arg(long, value_name = "FILE", env = "DISTILLGUARD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one); overrides the config.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Where the log is kept; overrides the config.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log lines as JSON objects.
    #[arg(long)]
    log_json: bool,
}

#[derive(clap::Args)]
struct Simulate {
    /// Random seed; the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// `sample`: ~250 accounts, one campaign, two days; `standard`: ~4,000 accounts, every class, a week.
    #[arg(long, value_enum, default_value_t = SimPreset::Standard)]
    preset: SimPreset,
    /// Multiplies the number of accounts.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Days of traffic (default: 2 for sample, 7 for standard).
    #[arg(long)]
    days: Option<u32>,
    /// Prompt corpora to replay (default: ../shared/corpora when it exists, for standard).
    #[arg(long, value_name = "DIR", conflicts_with = "no_corpora")]
    corpora: Option<PathBuf>,
    /// Use only the built-in text generators.
    #[arg(long)]
    no_corpora: bool,
    /// Jitter class parameters (0 = defaults), to test detection away from one parameter set.
    #[arg(long, default_value_t = 0.0)]
    variation: f64,
    /// Scale mode: about this many accounts, streamed to disk shard by shard (needs --records).
    /// Each shard of up to 4,100 accounts holds the standard mix, so the mix is right from a few
    /// thousand accounts up.
    #[arg(long, requires = "records", conflicts_with_all = ["preset", "scale", "days", "corpora", "variation"])]
    accounts: Option<u64>,
    /// Scale mode: exactly this many records (needs --accounts; at most a year of traffic).
    #[arg(long, requires = "accounts")]
    records: Option<u64>,
    /// Scale mode: write plain logs.ndjson instead of logs.ndjson.gz.
    #[arg(long, requires = "accounts")]
    plain: bool,
    /// Scale mode: generator threads (default: one per core).
    #[arg(long, default_value_t = 0, requires = "accounts")]
    threads: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum SimPreset {
    Sample,
    Standard,
}

#[derive(clap::Args)]
struct Eval {
    /// The labels file (account_id,class,kind,campaign), as `simulate` writes it.
    #[arg(long, value_name = "FILE")]
    labels: PathBuf,
    /// A JSON report written by `scan --out`.
    #[arg(long, value_name = "FILE", required_unless_present = "logs")]
    report: Option<PathBuf>,
    /// Replay these logs in time order and report how soon each campaign is first flagged.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    logs: Vec<PathBuf>,
    /// Log time between detection runs in the replay.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    step_minutes: u32,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(clap::Args)]
struct Scan {
    /// Log files or directories (NDJSON, JSON arrays or CSV, plain, .gz or .zst; Parquet); - for standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Write the full JSON report (clusters, evidence, statistics) to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write every rejected record (file, line, reason) to this file as NDJSON.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Exit with status 1 when any cluster is flagged.
    #[arg(long)]
    fail_on_findings: bool,
    /// Report clusters scoring at least this (0 to 1).
    #[arg(long, default_value_t = 0.5, value_parser = score_in_range)]
    min_score: f64,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Parser threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Records longer than this many bytes are rejected.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    max_record_bytes: usize,
    /// How to read the inputs: auto (by name and content), json (NDJSON or a JSON array), csv,
    /// parquet, or litellm (LiteLLM StandardLoggingPayload objects).
    #[arg(long, value_name = "FORMAT")]
    input_format: Option<String>,
    /// Where a record field is found in another schema, e.g. account_id=user.id (repeatable).
    #[arg(long = "map", value_name = "FIELD=PATH")]
    map: Vec<String>,
    /// A TOML file with a [map] table of FIELD = "PATH" (and optionally input_format, litellm_account).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which LiteLLM identifier is the account: user (default; the key hash when the key has no
    /// user), key-hash, key-alias, team, org or end-user.
    #[arg(long, value_name = "KEY")]
    litellm_account: Option<String>,
    /// Keep no prompt or system prompt text: the report shows template keys and hashes instead
    /// of example prompts, as the service does with privacy_mode.
    #[arg(long)]
    privacy_mode: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A readable table of the clusters.
    Table,
    /// The JSON report.
    Json,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => OutputFormat::Table,
            Format::Json => OutputFormat::Json,
        }
    }
}

fn score_in_range(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a score between 0 and 1")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        // A service reports what it does by default; the commands stay quiet.
        Command::Serve(a) => commands::init_service_logging(cli.verbose, a.log_json),
        _ => commands::init_logging(cli.verbose),
    }
    let result = match cli.command {
        Command::Scan(a) => commands::scan(ScanArgs {
            paths: a.paths,
            out: a.out,
            format: a.format.into(),
            rejects: a.rejects,
            fail_on_findings: a.fail_on_findings,
            min_score: a.min_score,
            quiet: a.quiet,
            threads: a.threads,
            max_record_bytes: a.max_record_bytes,
            input_format: a.input_format,
            map: a.map,
            config: a.config,
            litellm_account: a.litellm_account,
            privacy_mode: a.privacy_mode,
        }),
        Command::Eval(a) => commands::eval(commands::EvalArgs {
            labels: a.labels,
            report: a.report,
            logs: a.logs,
            step_minutes: a.step_minutes,
            format: a.format.into(),
        }),
        Command::Serve(a) => commands::serve(ServeArgs {
            config: a.config,
            listen: a.listen,
            data_dir: a.data_dir,
        }),
        Command::Export(a) => commands::export(&a.data_dir),
        Command::Simulate(a) if a.accounts.is_some() => {
            let mut cfg = ScaleConfig::new(
                a.seed,
                a.accounts.unwrap_or_default(),
                a.records.unwrap_or_default(),
            );
            cfg.plain = a.plain;
            cfg.threads = a.threads;
            commands::simulate_scale(&cfg, &a.out)
        }
        Command::Simulate(a) => {
            let mut cfg = match a.preset {
                SimPreset::Sample => SimConfig::sample(a.seed),
                SimPreset::Standard => SimConfig::standard(a.seed),
            };
            cfg.scale = a.scale;
            cfg.variation = a.variation;
            if let Some(d) = a.days {
                cfg.days = d;
            }
            if a.no_corpora {
                cfg.corpora_dir = None;
            } else if a.corpora.is_some() {
                cfg.corpora_dir = a.corpora;
            }
            commands::simulate(&cfg, &a.out)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
