//! Runs the real `distillguard` binary on fixtures and checks what a user sees:
//! the report's shape, reject positions, exit codes, and the sample's campaign.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_distillguard"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run distillguard")
}

fn json_report(args: &[&str]) -> Value {
    let mut all = vec!["scan", "--format", "json", "--quiet"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.code() == Some(0),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is the JSON report")
}

/// account -> (kind, class) from the sample's labels.
fn labels() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(fixture("sample-labels.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), (f[2].to_string(), f[1].to_string()))
        })
        .collect()
}

fn flagged(report: &Value) -> BTreeSet<String> {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["accounts"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn sample() -> String {
    fixture("sample.ndjson.gz").display().to_string()
}

#[test]
fn report_follows_the_contract() {
    let r = json_report(&[&sample()]);
    let clusters = r["clusters"].as_array().unwrap();
    assert!(!clusters.is_empty());
    let mut seen = BTreeSet::new();
    let mut last = f64::INFINITY;
    for c in clusters {
        assert!(c["id"].as_str().unwrap().starts_with("dg-"));
        let score = c["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(score <= last, "clusters sorted by score");
        last = score;
        let accounts = c["accounts"].as_array().unwrap();
        assert!(!accounts.is_empty());
        assert_eq!(c["size"].as_u64().unwrap() as usize, accounts.len());
        for a in accounts {
            assert!(
                seen.insert(a.as_str().unwrap().to_string()),
                "{a} in two clusters"
            );
        }
        let signals = c["signals"].as_array().unwrap();
        assert!(!signals.is_empty());
        for s in signals {
            assert!(s["name"].is_string());
            assert!((0.0..=1.0).contains(&s["score"].as_f64().unwrap()));
            assert!(s["detail"].as_str().unwrap().len() > 10);
        }
    }
    let st = &r["stats"];
    assert!(st["records_read"].as_u64().unwrap() >= 3000);
    assert_eq!(
        st["records_read"].as_u64().unwrap(),
        st["records_accepted"].as_u64().unwrap()
            + st["rejected"].as_u64().unwrap()
            + st["duplicates"].as_u64().unwrap()
    );
    assert!(st["accounts"].as_u64().unwrap() > 100);
    assert!(st["span_hours"].as_f64().unwrap() > 24.0);
    assert!(st["first_seen"].is_string() && st["duration_ms"].is_u64());
}

#[test]
fn the_sample_campaign_is_found_and_ordinary_users_are_not() {
    let r = json_report(&[&sample()]);
    let labels = labels();
    let found = flagged(&r);
    let campaign: BTreeSet<_> = labels
        .iter()
        .filter(|(_, (kind, _))| kind == "campaign")
        .map(|(a, _)| a.clone())
        .collect();
    assert!(!campaign.is_empty());
    let missed: Vec<_> = campaign.difference(&found).collect();
    assert!(
        missed.is_empty(),
        "campaign accounts not flagged: {missed:?}"
    );
    let false_pos: Vec<_> = found.difference(&campaign).collect();
    assert!(
        false_pos.is_empty(),
        "legitimate accounts flagged: {false_pos:?}"
    );
    // One campaign, one cluster.
    assert_eq!(r["clusters"].as_array().unwrap().len(), 1);
}

#[test]
fn the_same_input_gives_the_same_clusters_and_ids() {
    let a = json_report(&[&sample(), "--threads", "1"]);
    let b = json_report(&[&sample(), "--threads", "2"]);
    assert_eq!(a["clusters"], b["clusters"]);
}

#[test]
fn table_names_the_cluster_and_its_signals() {
    let out = run(&["scan", &sample()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 cluster flagged"), "{text}");
    assert!(text.contains("dg-"));
    assert!(text.contains("STRONGEST SIGNALS"));
    assert!(text.contains("Why:"));
}

#[test]
fn bad_records_are_named_by_file_and_line_and_good_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let mixed = fixture("mixed.ndjson");
    let r = json_report(&[
        mixed.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    let st = &r["stats"];
    assert_eq!(st["records_read"], 9);
    assert_eq!(st["records_accepted"], 4);
    assert_eq!(st["duplicates"], 1);
    assert_eq!(st["rejected"], 4);
    assert_eq!(st["accounts"], 3);
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(u64, String)> = lines
        .iter()
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: [(u64, &str); 4] = [
        (3, "prompt_tokens"),
        (6, "account_id"),
        (7, "invalid JSON"),
        (9, "ip"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((line, reason), (wl, wr)) in got.iter().zip(want) {
        assert_eq!(*line, wl);
        assert!(reason.contains(wr), "line {line}: {reason}");
    }
    for v in &lines {
        assert!(v["file"].as_str().unwrap().ends_with("mixed.ndjson"));
    }
    assert_eq!(r["rejects"]["count"], 4);
    assert_eq!(r["rejects"]["first"].as_array().unwrap().len(), 4);
}

#[test]
fn json_arrays_report_element_lines() {
    let r = json_report(&[fixture("array.json").to_str().unwrap()]);
    assert_eq!(r["stats"]["records_accepted"], 2);
    let first = &r["rejects"]["first"][0];
    assert_eq!(first["line"], 8);
    assert!(first["reason"].as_str().unwrap().contains("account_id"));
}

#[test]
fn standard_input_and_directories_are_read() {
    let data = std::fs::read(fixture("mixed.ndjson")).unwrap();
    let mut child = bin()
        .args(["scan", "--format", "json", "--quiet", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["stats"]["records_accepted"], 4);
    assert_eq!(r["rejects"]["first"][0]["file"], "-");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::copy(fixture("mixed.ndjson"), dir.path().join("nested/a.ndjson")).unwrap();
    std::fs::copy(fixture("array.json"), dir.path().join("b.json")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
    let r = json_report(&[dir.path().to_str().unwrap()]);
    assert_eq!(r["stats"]["inputs"], 2);
    assert_eq!(r["stats"]["records_accepted"], 6);
}

#[test]
fn zstd_and_gzip_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let plain = {
        use std::io::Read;
        let mut s = Vec::new();
        flate2::read::MultiGzDecoder::new(
            std::fs::File::open(fixture("sample.ndjson.gz")).unwrap(),
        )
        .read_to_end(&mut s)
        .unwrap();
        s
    };
    let zst = dir.path().join("sample.ndjson.zst");
    std::fs::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
    let a = json_report(&[&sample()]);
    let b = json_report(&[zst.to_str().unwrap()]);
    assert_eq!(a["clusters"], b["clusters"]);
}

#[test]
fn exit_codes() {
    // Findings with --fail-on-findings: 1.
    let out = run(&["scan", "--quiet", "--fail-on-findings", &sample()]);
    assert_eq!(out.status.code(), Some(1));
    // Nothing found with --fail-on-findings: 0.
    let mixed = fixture("mixed.ndjson");
    let out = run(&[
        "scan",
        "--quiet",
        "--fail-on-findings",
        mixed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    // Missing file: 2, named.
    let out = run(&["scan", "/no/such/file.ndjson"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.ndjson"));
    // Usage errors: 2.
    assert_eq!(run(&["scan"]).status.code(), Some(2));
    assert_eq!(
        run(&["scan", "--min-score", "7", &sample()]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["scan", "--no-such-flag"]).status.code(), Some(2));
}

#[test]
fn a_truncated_stream_is_an_error_that_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture("sample.ndjson.gz")).unwrap();
    let cut = dir.path().join("cut.ndjson.gz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = run(&["scan", "--quiet", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.ndjson.gz"), "{err}");
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn the_report_file_matches_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let printed = json_report(&[&sample(), "--out", path.to_str().unwrap()]);
    let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(printed["clusters"], written["clusters"]);
    assert_eq!(
        printed["stats"]["records_read"],
        written["stats"]["records_read"]
    );
}

#[test]
fn the_sample_is_what_the_simulator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "simulate",
        "--preset",
        "sample",
        "--seed",
        "7",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = std::fs::read(dir.path().join("logs.ndjson.gz")).unwrap();
    let labels = std::fs::read(dir.path().join("labels.csv")).unwrap();
    assert!(
        made == std::fs::read(fixture("sample.ndjson.gz")).unwrap()
            && labels == std::fs::read(fixture("sample-labels.csv")).unwrap(),
        "the simulator changed: regenerate the fixtures as fixtures/README.md says"
    );
}
