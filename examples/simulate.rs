//! Writes a simulated, labelled log set.
//!
//! `cargo run --example simulate -- [sample|standard] [seed] [out_dir] [scale] [variation]`

use std::path::PathBuf;

use distillguard::sim::{SimConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = args.first().map(String::as_str).unwrap_or("sample");
    let seed: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let out = PathBuf::from(args.get(2).map(String::as_str).unwrap_or("sim-out"));
    let mut cfg = match preset {
        "standard" => SimConfig::standard(seed),
        "sample" => SimConfig::sample(seed),
        other => return Err(format!("unknown preset {other:?} (sample or standard)").into()),
    };
    if let Some(s) = args.get(3) {
        cfg.scale = s.parse()?;
    }
    if let Some(v) = args.get(4) {
        cfg.variation = v.parse()?;
    }
    let s = generate(&cfg, &out)?;
    println!(
        "{} records ({} duplicates), {} accounts ({} campaign accounts, {} campaign records)",
        s.records, s.duplicate_records, s.accounts, s.campaign_accounts, s.campaign_records
    );
    for c in &s.classes {
        println!(
            "  {:<14} {:<8} {:>6} accounts {:>7} records",
            c.class, c.kind, c.accounts, c.records
        );
    }
    println!(
        "wrote {}, {}, {}",
        s.logs_path.display(),
        s.labels_path.display(),
        s.campaigns_path.display()
    );
    Ok(())
}
