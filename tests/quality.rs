//! Detection quality on labelled simulated traffic, against the targets in
//! docs/quality.md. The seed and the parameter variation asserted here were
//! not among those the detector was developed on (docs/quality.md lists those).
//! Prompts come from ../shared/corpora when it exists, from the built-in
//! generators otherwise; both must meet the targets.

use std::path::PathBuf;
use std::process::Command;

use distillguard::eval::{self, timeline};
use distillguard::scan::{self, ScanConfig};
use distillguard::sim::{self, SimConfig};

const SEED: u64 = 2026;
const VARIATION: f64 = 0.3;

#[test]
fn a_varied_week_meets_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::standard(SEED);
    cfg.variation = VARIATION;
    let corpora = cfg.corpora_dir.is_some();
    sim::generate(&cfg, dir.path()).unwrap();
    let logs = dir.path().join("logs.ndjson.gz");
    let labels = eval::read_labels(&dir.path().join("labels.csv")).unwrap();

    let outcome = scan::scan(&ScanConfig {
        paths: vec![logs.clone()],
        ..ScanConfig::default()
    })
    .unwrap();
    let e = eval::evaluate(&labels, &outcome.report);
    let context = format!("(corpora: {corpora})\n{}", e.render());
    assert!(e.campaign_accounts > 150, "{context}");
    assert!(e.precision >= 0.99, "precision {context}");
    assert!(e.recall >= 0.97, "recall {context}");
    assert!(e.false_positive_rate <= 0.001, "false positives {context}");
    for c in e.classes.iter().filter(|c| c.legit) {
        assert!(c.rate <= 0.01, "{} flagged {context}", c.class);
    }
    for c in &e.campaigns {
        assert!(c.clusters <= 2, "{} split {context}", c.campaign);
    }
    // Privacy mode keeps no prompt text but derives the same features from it: the same
    // clusters, so the same quality.
    let private = scan::scan(&ScanConfig {
        paths: vec![logs.clone()],
        privacy_mode: true,
        ..ScanConfig::default()
    })
    .unwrap();
    let p = eval::evaluate(&labels, &private.report);
    assert_eq!(
        (p.precision, p.recall, p.false_positive_rate),
        (e.precision, e.recall, e.false_positive_rate),
        "privacy mode {context}\n{}",
        p.render()
    );
    let shape = |r: &distillguard::report::Report| -> Vec<(String, f64, Vec<String>)> {
        r.clusters
            .iter()
            .map(|c| (c.id.clone(), c.score, c.accounts.clone()))
            .collect()
    };
    assert_eq!(shape(&private.report), shape(&outcome.report));
    assert!(
        private
            .report
            .clusters
            .iter()
            .all(|c| c.examples.is_empty())
    );
    // The timing signals explain the styles they were built for.
    let cluster_of = |class: &str| {
        let member = labels
            .iter()
            .find(|(_, l)| l.class == class)
            .map(|(a, _)| a.clone())
            .unwrap();
        outcome
            .report
            .clusters
            .iter()
            .find(|c| c.accounts.contains(&member))
            .unwrap_or_else(|| panic!("{class} not flagged"))
    };
    let counts = |class: &str, signal: &str, at_least: f64| {
        cluster_of(class)
            .signals
            .iter()
            .any(|s| s.name == signal && s.contribution >= at_least)
    };
    assert!(counts("ban_wave", "succession", 0.0));
    assert!(counts("hydra", "signup_burst", 0.0));
    // The sweep's script sends steadily, and its pacing counts in its score.
    assert!(
        counts("sweep", "steady_pacing", 0.5),
        "{:?}",
        cluster_of("sweep").signals
    );
    let styles: Vec<&str> = e.campaigns.iter().map(|c| c.campaign.as_str()).collect();
    assert_eq!(styles.len(), 5, "{styles:?}");

    // Replayed in time order, the round-robin hydra is flagged within its first hours.
    let t = timeline::replay(&[logs], &labels, &Default::default(), 30).unwrap();
    let hours_of = |class: &str| {
        let c = t.campaigns.iter().find(|c| c.class == class).unwrap();
        c.hours
            .unwrap_or_else(|| panic!("{class} not flagged in the replay: {}", t.render()))
    };
    let hours = hours_of("hydra");
    assert!(
        hours <= 2.0,
        "hydra flagged after {hours} h: {}",
        t.render()
    );
    // The plain sweep has no reasoning cues: its steady pacing is what shows it early
    // (10.9 h without that signal, 5.9 h with it, with corpora; docs/quality.md).
    let hours = hours_of("sweep");
    assert!(
        hours <= 8.0,
        "sweep flagged after {hours} h: {}",
        t.render()
    );
    assert!(
        t.campaigns.iter().all(|c| c.hours.is_some()),
        "every campaign is flagged at some point: {}",
        t.render()
    );
}

/// The stealth style hides its harvesting among real users' questions. On this development
/// seed (docs/quality.md) three quarters of its accounts were found while their wrappers were
/// crowded out of the phrase sketch by camouflage; the phrases of reasoning prompts tie 98 %
/// with corpora (100 % with the built-in text, whose other figures at this variation are a
/// weak spot of their own and not asserted here).
#[test]
fn camouflaged_stealth_accounts_are_tied_by_their_reasoning_wrappers() {
    let (e, _, corpora) = simulate_and_scan(62, 0.5);
    let context = format!("(corpora: {corpora})\n{}", e.render());
    assert!(class_rate(&e, "stealth") >= 0.95, "{context}");
    let campaign = e
        .campaigns
        .iter()
        .find(|c| c.campaign.starts_with("stealth"))
        .unwrap();
    assert!(campaign.clusters <= 2, "{context}");
    if corpora {
        assert!(
            e.precision >= 0.99 && e.false_positive_rate <= 0.001,
            "{context}"
        );
    }
}

/// A simulated week of `seed` at `variation`, scanned: its evaluation, report, and whether the
/// prompt corpora were used.
fn simulate_and_scan(
    seed: u64,
    variation: f64,
) -> (eval::Evaluation, distillguard::report::Report, bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::standard(seed);
    cfg.variation = variation;
    let corpora = cfg.corpora_dir.is_some();
    sim::generate(&cfg, dir.path()).unwrap();
    let labels = eval::read_labels(&dir.path().join("labels.csv")).unwrap();
    let outcome = scan::scan(&ScanConfig {
        paths: vec![dir.path().join("logs.ndjson.gz")],
        ..ScanConfig::default()
    })
    .unwrap();
    (
        eval::evaluate(&labels, &outcome.report),
        outcome.report,
        corpora,
    )
}

fn class_rate(e: &eval::Evaluation, class: &str) -> f64 {
    e.classes.iter().find(|c| c.class == class).unwrap().rate
}

/// Seed 82 at variation 0.5, a development log (docs/quality.md). With the corpora its stealth
/// accounts send three quarters camouflage and few reasoning cues; the wrappers the largest of
/// their groups share are what shows (none was found without `shared_reasoning_wrappers`).
/// With the built-in text, a client build many strangers run had kept ten developers in the
/// hydra's core and the sweep chained to a crowd (precision 0.968, sweep not found).
#[test]
fn wrappers_under_camouflage_and_a_popular_client_on_a_varied_week() {
    let (e, report, corpora) = simulate_and_scan(82, 0.5);
    let context = format!("(corpora: {corpora})\n{}", e.render());
    assert!(e.precision >= 0.99, "{context}");
    assert!(e.false_positive_rate <= 0.001, "{context}");
    if corpora {
        assert!(class_rate(&e, "stealth") >= 0.4, "{context}");
        assert!(
            report.clusters.iter().any(|c| c
                .signals
                .iter()
                .any(|s| s.name == "shared_reasoning_wrappers")),
            "{context}"
        );
    } else {
        assert!(class_rate(&e, "sweep") >= 0.99, "{context}");
        assert!(e.recall >= 0.97, "{context}");
    }
}

#[test]
fn eval_replays_the_sample_and_reports_time_to_detection() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args([
            "eval",
            "--format",
            "json",
            "--step-minutes",
            "30",
            "--labels",
        ])
        .arg(fixtures.join("sample-labels.csv"))
        .arg("--logs")
        .arg(fixtures.join("sample.ndjson.gz"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["time_to_detection"];
    assert_eq!(t["step_minutes"], 30);
    let c = &t["campaigns"][0];
    assert_eq!(c["campaign"], "hydra-larch");
    assert_eq!(c["first_request"], "2026-03-02T00:00:35Z");
    let hours = c["hours"].as_f64().unwrap();
    assert!(hours > 0.0 && hours <= 3.0, "{c}");
    assert!(c["flagged_accounts"].as_u64().unwrap() >= 2, "{c}");
    // Without a report there is no quality part.
    assert!(v.get("precision").is_none());
}
