//! Every input format gives the same report as the NDJSON it was made from: CSV and Parquet
//! versions of the sample, written here with the same crates.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use distillguard::record::fields::{FIELDS, FieldKind};
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
    let rejects = dir.path().join("rejects.ndjson");
    let r = report(&[
        path.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert_eq!(r["stats"]["records_read"], 8);
    assert_eq!(r["stats"]["records_accepted"], 4);
    assert_eq!(r["stats"]["accounts"], 4);
    let got: Vec<(u64, String)> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
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
    let runs: [(&str, &Path, &[&str]); 3] = [
        ("ndjson", &ndjson, &[]),
        ("csv", &csv_path, &[]),
        ("parquet", &pq_path, &[]),
    ];
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
