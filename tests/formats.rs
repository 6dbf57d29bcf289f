//! Every input format gives the same report as the NDJSON it was made from: CSV and Parquet
//! versions of the sample (written here, with the same crates), another schema read through
//! field mappings, and LiteLLM payloads.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use distillguard::record::fields::{FIELDS, FieldKind};
use distillguard::record::litellm::{self, AccountKey};
use distillguard::record::parse_rfc3339_ms;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::{Map, Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(args)
        .output()
        .expect("run distillguard")
}

fn report(args: &[&str]) -> Value {
    let mut all = vec!["scan", "--format", "json", "--quiet"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the JSON report")
}

/// The report of a scan of `path` with `args`, and every reject it wrote.
fn report_and_rejects(path: &Path, args: &[&str]) -> (Value, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rejects.ndjson");
    let mut all = vec![path.to_str().unwrap(), "--rejects", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let r = report(&all);
    let rejects = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (r, rejects)
}

/// What must not change with the format: the clusters (ids, members, scores, signals) and what
/// was read.
fn essence(r: &Value) -> Value {
    let st = &r["stats"];
    json!({
        "clusters": r["clusters"],
        "stats": [st["records_read"], st["records_accepted"], st["rejected"], st["duplicates"],
                  st["accounts"], st["first_seen"], st["last_seen"]],
    })
}

fn sample_records() -> Vec<Map<String, Value>> {
    read_records(&fixture("sample.ndjson.gz"))
}

fn read_records(path: &Path) -> Vec<Map<String, Value>> {
    let file = File::open(path).unwrap();
    let text = std::io::read_to_string(flate2::read::MultiGzDecoder::new(file)).unwrap();
    text.lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        })
        .collect()
}

fn columns(records: &[Map<String, Value>]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for r in records {
        for k in r.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

/// A cell as a spreadsheet export writes it: text as is, numbers as digits, arrays as JSON.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn write_csv(records: &[Map<String, Value>], path: &Path) {
    let cols = columns(records);
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(&cols).unwrap();
    for r in records {
        w.write_record(cols.iter().map(|c| cell(r.get(c)))).unwrap();
    }
    w.flush().unwrap();
}

fn ms(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => Some(parse_rfc3339_ms(s).expect("RFC 3339")),
        Value::Number(n) => Some((n.as_f64().unwrap() * 1000.0).round() as i64),
        _ => None,
    }
}

/// The contract's fields of one kind, in the contract's order.
fn names(kind: FieldKind) -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|(_, k)| *k == kind)
        .map(|(n, _)| *n)
        .collect()
}

/// Definition levels of an optional column: 1 present, 0 null; and the present values.
fn optional<T>(
    records: &[Map<String, Value>],
    get: impl Fn(&Value) -> Option<T>,
    field: &str,
) -> (Vec<T>, Vec<i16>) {
    let mut values = Vec::new();
    let defs = records
        .iter()
        .map(|r| match r.get(field).and_then(&get) {
            Some(v) => {
                values.push(v);
                1
            }
            None => 0,
        })
        .collect();
    (values, defs)
}

/// The sample as Parquet the way data tools write it: typed columns, timestamps as
/// TIMESTAMP(MILLIS), `messages` as a list of (role, content) structs.
fn write_parquet(records: &[Map<String, Value>], path: &Path) {
    let (text, ints) = (names(FieldKind::Text), names(FieldKind::Integer));
    let mut schema = String::from("message log {\n");
    schema += "  OPTIONAL INT64 ts (TIMESTAMP(MILLIS,true));\n";
    schema += "  OPTIONAL INT64 account_created_at (TIMESTAMP(MILLIS,true));\n";
    for c in &text {
        schema += &format!("  OPTIONAL BYTE_ARRAY {c} (UTF8);\n");
    }
    for c in &ints {
        schema += &format!("  OPTIONAL INT64 {c};\n");
    }
    schema += "  OPTIONAL DOUBLE temperature;\n";
    schema += "  OPTIONAL group messages (LIST) { REPEATED group list { OPTIONAL group element {
        OPTIONAL BYTE_ARRAY role (UTF8); OPTIONAL BYTE_ARRAY content (UTF8); } } }\n}";
    let schema = Arc::new(parse_message_type(&schema).unwrap());
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    // Two row groups, so row numbers must carry across them.
    for part in records.chunks(records.len() / 2 + 1) {
        let mut rg = writer.next_row_group().unwrap();
        let mut index = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            match index {
                0 | 1 => {
                    let name = ["ts", "account_created_at"][index];
                    let (v, d) = optional(part, ms, name);
                    col.typed::<Int64Type>()
                        .write_batch(&v, Some(&d), None)
                        .unwrap();
                }
                i if i < 2 + text.len() => {
                    let utf8 = |v: &Value| v.as_str().map(ByteArray::from);
                    let (v, d) = optional(part, utf8, text[i - 2]);
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&d), None)
                        .unwrap();
                }
                i if i < 2 + text.len() + ints.len() => {
                    let (v, d) = optional(part, Value::as_i64, ints[i - 2 - text.len()]);
                    col.typed::<Int64Type>()
                        .write_batch(&v, Some(&d), None)
                        .unwrap();
                }
                i if i == 2 + text.len() + ints.len() => {
                    let (v, d) = optional(part, Value::as_f64, "temperature");
                    col.typed::<DoubleType>()
                        .write_batch(&v, Some(&d), None)
                        .unwrap();
                }
                i => {
                    // messages.list.element.{role,content}: 0 no list, 1 empty list,
                    // 4 a present leaf; repetition 1 continues the row's list.
                    let key = if i == 2 + text.len() + ints.len() + 1 {
                        "role"
                    } else {
                        "content"
                    };
                    let (mut v, mut d, mut rep) = (Vec::new(), Vec::new(), Vec::new());
                    for r in part {
                        match r.get("messages").and_then(Value::as_array) {
                            None => {
                                d.push(0);
                                rep.push(0);
                            }
                            Some(list) if list.is_empty() => {
                                d.push(1);
                                rep.push(0);
                            }
                            Some(list) => {
                                for (j, m) in list.iter().enumerate() {
                                    rep.push(i16::from(j > 0));
                                    match m[key].as_str() {
                                        Some(s) => {
                                            v.push(ByteArray::from(s));
                                            d.push(4);
                                        }
                                        None => d.push(3),
                                    }
                                }
                            }
                        }
                    }
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&d), Some(&rep))
                        .unwrap();
                }
            }
            col.close().unwrap();
            index += 1;
        }
        rg.close().unwrap();
    }
    writer.close().unwrap();
}

#[test]
fn csv_and_parquet_give_the_ndjson_report() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample_records();
    let csv_path = dir.path().join("sample.csv");
    write_csv(&records, &csv_path);
    let pq_path = dir.path().join("sample.parquet");
    write_parquet(&records, &pq_path);
    // Detection by content: a CSV under another name, Parquet by its magic number.
    let csv_renamed = dir.path().join("sample-csv.log");
    std::fs::copy(&csv_path, &csv_renamed).unwrap();
    let pq_renamed = dir.path().join("sample.bin");
    std::fs::copy(&pq_path, &pq_renamed).unwrap();

    let want = essence(&report(&[fixture("sample.ndjson.gz").to_str().unwrap()]));
    assert_eq!(want["clusters"].as_array().unwrap().len(), 1);
    for path in [&csv_path, &pq_path, &csv_renamed, &pq_renamed] {
        let got = essence(&report(&[path.to_str().unwrap()]));
        assert!(got == want, "{}: {}", path.display(), got["stats"]);
    }
    // Compressed CSV.
    let gz = dir.path().join("sample.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
    enc.write_all(&std::fs::read(&csv_path).unwrap()).unwrap();
    enc.finish().unwrap();
    assert!(essence(&report(&[gz.to_str().unwrap()])) == want);
}

#[test]
fn bad_csv_rows_are_rejected_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.csv");
    std::fs::write(
        &path,
        "ts,account_id,status,prompt,messages\n\
         2026-03-02T10:00:00Z,a1,200,hello,\n\
         2026-03-02T10:00:01Z,a1,abc,hello,\n\
         2026-03-02T10:00:02Z,a2,200,\"two\nlines\",\n\
         2026-03-02T10:00:03Z,a2\n\
         1772445600,a3,200,,\"[{\"\"role\"\":\"\"user\"\",\"\"content\"\":\"\"hi\"\"}]\"\n\
         2026-03-02T10:00:05Z,,200,x,\n\
         2026-03-02T10:00:06Z,a4,200,x,[oops\n\
         2026-03-02T10:00:07Z,a5,200,x,\n",
    )
    .unwrap();
    let (r, rejects) = report_and_rejects(&path, &[]);
    assert_eq!(r["stats"]["records_read"], 8);
    assert_eq!(r["stats"]["records_accepted"], 4);
    assert_eq!(r["stats"]["accounts"], 4);
    let got: Vec<(u64, String)> = rejects
        .iter()
        .map(|v| {
            assert!(v["file"].as_str().unwrap().ends_with("logs.csv"));
            (
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(lines, [3, 6, 8, 9], "{got:?}");
    assert!(got[0].1.starts_with("field `status`"), "{got:?}");
    assert_eq!(got[1].1, "row has 2 cells, the header has 5 columns");
    assert_eq!(got[2].1, "missing field `account_id`");
    assert!(got[3].1.starts_with("field `messages`"), "{got:?}");
}

/// The sample rewritten in another, nested schema, as a logging pipeline might ship it.
fn custom_schema(r: &Map<String, Value>) -> Value {
    let g = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "@timestamp": g("ts"),
        "user": {"id": g("account_id"), "created": g("account_created_at"), "org": g("org_id"),
                 "billing": {"card": g("payment_fingerprint"), "email_domain": g("email_domain"),
                             "country": g("country")}},
        "request": {"id": g("request_id"), "key": g("api_key_id"), "model": g("model"),
                    "body": {"messages": g("messages"), "prompt": g("prompt"), "system": g("system_prompt"),
                             "params": {"max_tokens": g("max_tokens"), "temperature": g("temperature")}},
                    "conversation": {"id": g("conversation_id"), "turn": g("turn")}},
        "client": {"ip": g("ip"), "ua": g("user_agent"), "tls": g("tls_fingerprint"), "asn": g("asn")},
        "usage": {"in": g("prompt_tokens"), "out": g("completion_tokens")},
        "http": {"status": g("status").as_i64().map(|s| s.to_string())},
    })
}

const CUSTOM_MAP: &str = r#"
[map]
ts = "@timestamp"
account_id = "user.id"
account_created_at = "user.created"
org_id = "user.org"
payment_fingerprint = "user.billing.card"
email_domain = "user.billing.email_domain"
country = "user.billing.country"
request_id = "request.id"
api_key_id = "request.key"
model = "request.model"
messages = "request.body.messages"
prompt = "request.body.prompt"
system_prompt = "request.body.system"
max_tokens = "request.body.params.max_tokens"
temperature = "request.body.params.temperature"
conversation_id = "request.conversation.id"
turn = "request.conversation.turn"
ip = "client.ip"
user_agent = "client.ua"
tls_fingerprint = "client.tls"
asn = "client.asn"
prompt_tokens = "usage.in"
completion_tokens = "usage.out"
status = "http.status"
"#;

#[test]
fn a_custom_schema_through_a_map_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.ndjson");
    let mut text = String::new();
    for r in sample_records() {
        text += &custom_schema(&r).to_string();
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let config = dir.path().join("map.toml");
    std::fs::write(&config, CUSTOM_MAP).unwrap();
    let want = essence(&report(&[fixture("sample.ndjson.gz").to_str().unwrap()]));
    let got = essence(&report(&[
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(got == want, "{}", got["stats"]);
}

#[test]
fn map_on_the_command_line_with_reasons_that_name_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.ndjson");
    std::fs::write(
        &path,
        concat!(
            r#"{"@timestamp":"2026-03-02T10:00:00Z","user":{"id":17},"req":{"messages":[{"role":"user","content":"hi"}]},"http":{"code":"200"}}"#,
            "\n",
            r#"{"@timestamp":"2026-03-02T10:00:01Z","usr":{"id":18}}"#,
            "\n",
            r#"{"@timestamp":"2026-03-02T10:00:02Z","user":{"id":"u-19"},"http":{"code":"9999"}}"#,
            "\n",
            r#"{"@timestamp":"2026-03-02T10:00:03Z","user":{"id":"u-20"}}"#,
            "\n",
        ),
    )
    .unwrap();
    let (r, rejects) = report_and_rejects(
        &path,
        &[
            "--map",
            "account_id=user.id",
            "--map",
            "ts=@timestamp",
            "--map",
            "status=http.code",
            "--map",
            "prompt=req.messages.-1.content",
        ],
    );
    assert_eq!(r["stats"]["records_accepted"], 2);
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["line"], 2);
    assert_eq!(
        rejects[0]["reason"],
        r#"mapping account_id=user.id: no field `user.id` in the record {"@timestamp":"2026-03-02T10:00:01Z","usr":{"id":18}}"#
    );
    assert!(rejects[0]["excerpt"].as_str().unwrap().contains("usr"));
    assert_eq!(rejects[1]["line"], 3);
    assert!(
        rejects[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("mapping status=http.code: field `status`"),
        "{}",
        rejects[1]["reason"]
    );

    for (bad, says) in [
        ("account_id", "expected FIELD=PATH"),
        ("acount_id=user.id", "`acount_id` is not a field"),
    ] {
        let out = run(&["scan", "-q", path.to_str().unwrap(), "--map", bad]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
}

fn litellm_payloads() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixture("litellm.json")).unwrap()).unwrap()
}

#[test]
fn litellm_payloads_map_field_by_field() {
    let p = litellm_payloads();
    let bytes = |v: &Value| serde_json::to_vec(v).unwrap();
    assert!(p.iter().all(|v| litellm::looks_like(&bytes(v))));

    let r = litellm::parse(&bytes(&p[0]), AccountKey::default()).unwrap();
    assert_eq!(r.account_id, "user-ana");
    assert_eq!(r.request_id.as_deref(), Some("chatcmpl-0001-5f1c2a"));
    assert_eq!(r.ts_ms, 1_772_445_600_125);
    assert_eq!(
        r.api_key_id.as_deref(),
        p[0]["metadata"]["user_api_key_hash"].as_str()
    );
    assert_eq!(r.org_id.as_deref(), Some("org-acme"));
    assert_eq!(r.ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(r.user_agent.as_deref(), Some("OpenAI/Python 1.61.1"));
    assert_eq!(r.model.as_deref(), Some("gpt-4o"));
    assert_eq!(r.prompt.as_deref(), Some("Solve step by step: 12 * 17"));
    assert_eq!(
        r.system_prompt.as_deref(),
        Some("You are a careful math tutor.")
    );
    assert_eq!(r.turn, Some(1));
    assert_eq!(r.conversation_id.as_deref(), Some("sess-ana-1"));
    assert_eq!(
        (r.prompt_tokens, r.completion_tokens),
        (Some(31), Some(120))
    );
    assert_eq!((r.max_tokens, r.temperature), (Some(1024), Some(0.2)));
    assert_eq!(r.status, Some(200));
    assert_eq!(r.email_domain.as_deref(), Some("acme.example"));

    // No user behind the key: the key hash is the account. Content parts are joined.
    let r = litellm::parse(&bytes(&p[1]), AccountKey::default()).unwrap();
    assert!(r.account_id.starts_with("0d9e8f7a"));
    assert_eq!(r.ip, Some("198.51.100.23".parse().unwrap()));
    assert_eq!(
        r.prompt.as_deref(),
        Some("Grade this answer on a 1-10 rubric.\nAnswer: 42")
    );
    assert_eq!(r.max_tokens, Some(256));
    assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));

    // Failures: the provider's status when it is one, else 500.
    let r = litellm::parse(&bytes(&p[2]), AccountKey::default()).unwrap();
    assert_eq!(r.status, Some(429));
    let r = litellm::parse(&bytes(&p[3]), AccountKey::default()).unwrap();
    assert_eq!(r.status, Some(500));
    assert_eq!(r.model.as_deref(), Some("claude-3-5-sonnet-20241022"));
    assert_eq!(
        r.prompt.as_deref(),
        Some("Explain the difference between TCP and UDP.")
    );
    assert_eq!(r.ip, None);

    // The other account keys.
    let acct = |i: usize, k: AccountKey| {
        litellm::parse(&bytes(&p[i]), k).map(|r| r.account_id.into_owned())
    };
    assert_eq!(acct(0, AccountKey::KeyAlias).unwrap(), "ana-laptop");
    assert_eq!(acct(0, AccountKey::Team).unwrap(), "team-research");
    assert_eq!(acct(0, AccountKey::Org).unwrap(), "org-acme");
    assert_eq!(acct(3, AccountKey::EndUser).unwrap(), "customer-991");
    assert!(
        acct(0, AccountKey::KeyHash)
            .unwrap()
            .starts_with("88f1a2b3")
    );
    let e = acct(1, AccountKey::Team).unwrap_err();
    assert!(e.0.contains("metadata.user_api_key_team_id"), "{e}");
}

#[test]
fn scan_reads_litellm_payloads_without_flags() {
    let r = report(&[fixture("litellm.json").to_str().unwrap()]);
    assert_eq!(r["stats"]["records_accepted"], 4);
    assert_eq!(r["stats"]["accounts"], 3);
    assert_eq!(r["stats"]["first_seen"], "2026-03-02T10:00:00Z");

    // NDJSON, as the callback's `ndjson` log format sends it, with another account key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("litellm.ndjson");
    let lines: Vec<String> = litellm_payloads().iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    let (r, rejects) = report_and_rejects(
        &path,
        &["--input-format", "litellm", "--litellm-account", "team"],
    );
    assert_eq!(r["stats"]["records_accepted"], 2);
    assert_eq!(r["stats"]["accounts"], 1);
    assert_eq!(rejects.len(), 2);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap()
            .contains("account key `team`"),
        "{}",
        rejects[0]
    );
}

/// Records per second of `scan` on one log written in every layout. Run with the release binary:
/// `DG_BENCH_LOG=/tmp/s11/logs.ndjson.gz cargo test --release --test formats -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput_by_layout() {
    let log = PathBuf::from(std::env::var("DG_BENCH_LOG").expect("DG_BENCH_LOG=a .ndjson.gz log"));
    let dir = tempfile::tempdir().unwrap();
    let records = read_records(&log);
    let ndjson = dir.path().join("logs.ndjson");
    let lines: Vec<String> = records
        .iter()
        .map(|r| Value::Object(r.clone()).to_string())
        .collect();
    std::fs::write(&ndjson, lines.join("\n")).unwrap();
    let csv_path = dir.path().join("logs.csv");
    write_csv(&records, &csv_path);
    let pq_path = dir.path().join("logs.parquet");
    write_parquet(&records, &pq_path);
    let custom = dir.path().join("custom.ndjson");
    let lines: Vec<String> = records
        .iter()
        .map(|r| custom_schema(r).to_string())
        .collect();
    std::fs::write(&custom, lines.join("\n")).unwrap();
    let config = dir.path().join("map.toml");
    std::fs::write(&config, CUSTOM_MAP).unwrap();
    let config = config.to_str().unwrap();
    let runs: [(&str, &Path, &[&str]); 4] = [
        ("ndjson", &ndjson, &[]),
        ("csv", &csv_path, &[]),
        ("parquet", &pq_path, &[]),
        ("custom schema, 24 mappings", &custom, &["--config", config]),
    ];
    // DG_BENCH_KEEP=DIR keeps the files, for profiling one layout.
    if let Ok(keep) = std::env::var("DG_BENCH_KEEP") {
        for (_, path, _) in &runs {
            std::fs::copy(path, Path::new(&keep).join(path.file_name().unwrap())).unwrap();
        }
    }
    for (name, path, extra) in runs {
        let mut args = vec![path.to_str().unwrap(), "--threads", "2"];
        args.extend_from_slice(extra);
        let best = (0..3)
            .map(|_| {
                report(&args)["stats"]["records_per_second"]
                    .as_f64()
                    .unwrap()
            })
            .fold(0.0, f64::max);
        let size = std::fs::metadata(path).unwrap().len();
        println!(
            "{name:<40} {:>9} records  {:>6.1} MiB  {best:>9.0} records/s",
            records.len(),
            size as f64 / 1048576.0
        );
    }
}
