//! The simulator's promises: deterministic bytes, contract-valid records, complete labels, and the
//! class mix each preset advertises.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use distillguard::sim::{Preset, SimConfig, default_corpora_dir, generate};
use serde_json::Value;

fn read_logs(path: &Path) -> Vec<Value> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s.lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON line"))
        .collect()
}

fn read_labels(path: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("account_id,class,kind,campaign"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "label row {l:?}");
            (
                f[0].to_string(),
                (f[1].to_string(), f[2].to_string(), f[3].to_string()),
            )
        })
        .collect()
}

fn is_ts(v: &Value) -> bool {
    match v {
        Value::String(s) => s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        Value::Number(n) => n.as_f64().is_some_and(|x| x > 0.0),
        _ => false,
    }
}

/// Checks one record against the input contract.
fn check_record(r: &Value) {
    let o = r.as_object().expect("record is an object");
    assert!(is_ts(&o["ts"]), "ts {:?}", o["ts"]);
    assert!(o["account_id"].as_str().is_some_and(|s| !s.is_empty()));
    for k in [
        "request_id",
        "api_key_id",
        "org_id",
        "ip",
        "user_agent",
        "tls_fingerprint",
        "model",
        "prompt",
        "system_prompt",
        "conversation_id",
        "payment_fingerprint",
        "email_domain",
        "country",
    ] {
        if let Some(v) = o.get(k) {
            assert!(v.is_string(), "{k} must be a string: {v:?}");
        }
    }
    for k in [
        "turn",
        "prompt_tokens",
        "completion_tokens",
        "max_tokens",
        "status",
        "asn",
    ] {
        if let Some(v) = o.get(k) {
            assert!(v.is_u64(), "{k} must be a non-negative integer: {v:?}");
        }
    }
    if let Some(t) = o.get("turn") {
        assert!(t.as_u64().unwrap() >= 1);
    }
    if let Some(t) = o.get("temperature") {
        assert!(t.is_number());
    }
    if let Some(c) = o.get("account_created_at") {
        assert!(is_ts(c));
    }
    if let Some(ip) = o.get("ip").and_then(Value::as_str) {
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "ip {ip}");
    }
    match (o.get("prompt"), o.get("messages")) {
        (Some(_), None) => {}
        (None, Some(Value::Array(msgs))) => {
            assert!(!msgs.is_empty());
            for m in msgs {
                let role = m["role"].as_str().expect("role");
                assert!(["system", "user", "assistant"].contains(&role));
                assert!(m["content"].is_string());
            }
            assert_eq!(msgs.last().unwrap()["role"], "user");
        }
        other => panic!("record needs exactly one of prompt/messages: {other:?}"),
    }
}

fn ts_ms(v: &Value) -> i64 {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis(),
        Value::Number(n) => (n.as_f64().unwrap() * 1000.0).round() as i64,
        _ => unreachable!(),
    }
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    generate(&SimConfig::sample(7), &a).unwrap();
    generate(&SimConfig::sample(7), &b).unwrap();
    generate(&SimConfig::sample(8), &c).unwrap();
    for f in ["logs.ndjson.gz", "labels.csv", "campaigns.json"] {
        let x = std::fs::read(a.join(f)).unwrap();
        assert_eq!(
            x,
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs for the same seed"
        );
        assert_ne!(
            x,
            std::fs::read(c.join(f)).unwrap(),
            "{f} identical for different seeds"
        );
    }
}

#[test]
fn sample_is_valid_labelled_and_in_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&SimConfig::sample(1), dir.path()).unwrap();
    assert!((3000..=5000).contains(&s.records), "records {}", s.records);
    assert!((200..=300).contains(&s.accounts), "accounts {}", s.accounts);
    assert_eq!(s.campaigns.len(), 1);
    assert_eq!(s.campaigns[0].style, "hydra");

    let recs = read_logs(&s.logs_path);
    assert_eq!(recs.len() as u64, s.records);
    let labels = read_labels(&s.labels_path);
    assert_eq!(labels.len() as u64, s.accounts);
    let mut seen = BTreeSet::new();
    let mut ids = BTreeMap::<String, u32>::new();
    let (mut text_ts, mut num_ts, mut chat, mut plain) = (0, 0, 0, 0);
    let mut prev = i64::MIN;
    for r in &recs {
        check_record(r);
        let t = ts_ms(&r["ts"]);
        assert!(t >= prev, "records must be sorted by time");
        prev = t;
        let acct = r["account_id"].as_str().unwrap();
        assert!(labels.contains_key(acct), "unlabelled account {acct}");
        seen.insert(acct.to_string());
        *ids.entry(r["request_id"].as_str().unwrap().to_string())
            .or_default() += 1;
        if r["ts"].is_string() {
            text_ts += 1
        } else {
            num_ts += 1
        }
        if r.get("messages").is_some() {
            chat += 1
        } else {
            plain += 1
        }
    }
    assert_eq!(
        seen.len(),
        labels.len(),
        "every label belongs to an account in the logs"
    );
    let dups = ids.values().filter(|&&n| n > 1).count() as u64;
    assert_eq!(dups, s.duplicate_records);
    assert!(dups >= 3);
    assert!(text_ts > 0 && num_ts > 0, "both timestamp forms appear");
    assert!(chat > 0 && plain > 0);

    let campaign = &s.campaigns[0];
    for a in &campaign.accounts {
        assert_eq!(
            labels[a],
            ("hydra".into(), "campaign".into(), campaign.name.clone())
        );
    }
    let campaign_accounts = labels.values().filter(|l| l.1 == "campaign").count();
    assert_eq!(campaign_accounts, campaign.accounts.len());
}

#[test]
fn standard_contains_every_class() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::standard(3);
    cfg.scale = 0.3;
    cfg.corpora_dir = None;
    let s = generate(&cfg, dir.path()).unwrap();
    let classes: BTreeSet<&str> = s
        .classes
        .iter()
        .filter(|c| c.records > 0)
        .map(|c| c.class.as_str())
        .collect();
    for c in [
        "ordinary",
        "developer",
        "company",
        "product_bot",
        "benchmark_run",
        "classroom",
        "reseller",
        "hydra",
        "stealth",
        "capability",
        "ban_wave",
        "sweep",
    ] {
        assert!(classes.contains(c), "missing class {c}");
    }
    assert!(s.campaigns.len() >= 5);
    let share = s.campaign_records as f64 / s.records as f64;
    assert!((0.08..0.35).contains(&share), "campaign share {share}");
    let recs = read_logs(&s.logs_path);
    let statuses: BTreeSet<u64> = recs.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert!(statuses.contains(&429) && statuses.contains(&403));
    let models: BTreeSet<&str> = recs.iter().map(|r| r["model"].as_str().unwrap()).collect();
    assert_eq!(models.len(), 3);
    let labels = read_labels(&s.labels_path);
    for r in &recs {
        check_record(r);
        assert!(labels.contains_key(r["account_id"].as_str().unwrap()));
    }
}

#[test]
fn variation_changes_parameters_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::sample(5);
    cfg.variation = 0.4;
    let a = generate(&cfg, &dir.path().join("a")).unwrap();
    let b = generate(&cfg, &dir.path().join("b")).unwrap();
    assert_eq!(a.classes, b.classes);
    let plain = generate(&SimConfig::sample(5), &dir.path().join("c")).unwrap();
    assert_ne!(a.classes, plain.classes);
}

#[test]
fn rejects_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::sample(1);
    cfg.days = 0;
    assert!(generate(&cfg, dir.path()).is_err());
    let mut cfg = SimConfig::sample(1);
    cfg.scale = f64::NAN;
    assert!(generate(&cfg, dir.path()).is_err());
}

#[test]
fn corpora_feed_prompts_when_present() {
    let Some(corpora) = default_corpora_dir() else {
        eprintln!("note: ../shared/corpora not found, skipping corpus-backed simulation test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SimConfig::standard(11);
    cfg.scale = 0.1;
    cfg.corpora_dir = Some(corpora.clone());
    assert_eq!(cfg.preset, Preset::Standard);
    let s = generate(&cfg, dir.path()).unwrap();
    let gsm: Vec<String> = std::fs::read_to_string(corpora.join("gsm8k_train.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(String::from))
        .collect();
    let gsm: BTreeSet<&str> = gsm.iter().map(String::as_str).collect();
    let recs = read_logs(&s.logs_path);
    let from_corpus = recs
        .iter()
        .filter_map(|r| r.get("prompt").and_then(Value::as_str))
        .filter(|p| gsm.iter().any(|q| p.contains(q)))
        .take(1)
        .count();
    assert_eq!(from_corpus, 1, "campaign prompts should replay gsm8k items");
    recs.iter().for_each(check_record);
}

#[test]
fn missing_corpus_folder_is_skipped_but_bad_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let corp = dir.path().join("corp");
    std::fs::create_dir_all(&corp).unwrap();
    let mut cfg = SimConfig::sample(2);
    cfg.corpora_dir = Some(corp.clone());
    assert!(generate(&cfg, &dir.path().join("o1")).is_ok());
    std::fs::write(corp.join("gsm8k_train.jsonl"), "{not json\n").unwrap();
    let err = generate(&cfg, &dir.path().join("o2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("gsm8k_train.jsonl"), "{err}");
}

mod scale {
    use std::collections::BTreeSet;
    use std::io::Read;
    use std::path::Path;

    use distillguard::sim::{ScaleConfig, generate_scale};
    use serde_json::Value;

    use super::{check_record, read_labels};

    fn read_any(path: &Path) -> String {
        let mut s = String::new();
        if path.extension().is_some_and(|e| e == "gz") {
            // One gzip member per shard.
            flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
                .read_to_string(&mut s)
                .unwrap();
        } else {
            s = std::fs::read_to_string(path).unwrap();
        }
        s
    }

    /// Two shards, so the ordering of shards across threads is exercised.
    fn config(seed: u64) -> ScaleConfig {
        ScaleConfig::new(seed, 6000, 24_000)
    }

    #[test]
    fn exact_records_labelled_accounts_and_every_class() {
        let dir = tempfile::tempdir().unwrap();
        let s = generate_scale(&config(3), dir.path()).unwrap();
        assert_eq!(s.records, 24_000);
        let text = read_any(&s.logs_path);
        assert_eq!(text.lines().count(), 24_000);
        let mut seen = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let r: Value = serde_json::from_str(line).expect("valid JSON line");
            if i % 50 == 0 {
                check_record(&r);
            }
            seen.insert(r["account_id"].as_str().unwrap().to_string());
            assert!(ids.insert(r["request_id"].as_str().unwrap().to_string()));
        }
        let labels = read_labels(&s.labels_path);
        let labelled: BTreeSet<String> = labels.keys().cloned().collect();
        assert_eq!(
            seen, labelled,
            "labels cover exactly the accounts in the log"
        );
        assert_eq!(s.accounts as usize, labels.len());
        // Accounts near the ask: a few light users lose their only request to thinning.
        assert!(
            (5000..=6600).contains(&labels.len()),
            "{} accounts",
            labels.len()
        );
        let campaigns: BTreeSet<&str> = labels
            .values()
            .filter(|(_, kind, _)| kind == "campaign")
            .map(|(_, _, c)| c.as_str())
            .collect();
        assert!(campaigns.contains("hydra-larch-00000"));
        assert!(campaigns.contains("hydra-larch-00001"));
        let classes: BTreeSet<&str> = labels.values().map(|(c, _, _)| c.as_str()).collect();
        for class in [
            "ordinary",
            "developer",
            "company",
            "hydra",
            "stealth",
            "sweep",
        ] {
            assert!(classes.contains(class), "no {class} accounts");
        }
        let share = s.campaign_accounts as f64 / s.accounts as f64;
        assert!((0.02..0.15).contains(&share), "campaign share {share}");
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_threads() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let mut one = config(5);
        one.threads = 1;
        one.plain = true;
        let mut two = config(5);
        two.threads = 2;
        generate_scale(&one, &a).unwrap();
        generate_scale(&two, &b).unwrap();
        generate_scale(&config(6), &c).unwrap();
        assert_eq!(
            std::fs::read_to_string(a.join("logs.ndjson")).unwrap(),
            read_any(&b.join("logs.ndjson.gz")),
            "plain and gzip, one thread and two, hold the same records"
        );
        for f in ["labels.csv", "campaigns.json"] {
            let x = std::fs::read(a.join(f)).unwrap();
            assert_eq!(x, std::fs::read(b.join(f)).unwrap(), "{f} differs");
            assert_ne!(x, std::fs::read(c.join(f)).unwrap(), "{f} same for seeds");
        }
    }

    #[test]
    fn rejects_empty_scale() {
        let dir = tempfile::tempdir().unwrap();
        assert!(generate_scale(&ScaleConfig::new(1, 0, 10), dir.path()).is_err());
        assert!(generate_scale(&ScaleConfig::new(1, 10, 0), dir.path()).is_err());
    }
}
