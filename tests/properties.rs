//! Properties of the readers and parsers over generated inputs: records written as NDJSON, a
//! JSON array or CSV read back as the same records; arbitrary bytes never panic and every item
//! is accepted or rejected at a line of the input; timestamps round-trip; a field map finds
//! values wherever they are nested. `PROPTEST_CASES` raises the number of cases.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{SecondsFormat, TimeZone, Utc};
use distillguard::record::fields::{self, FIELDS};
use distillguard::record::{Converter, FieldMap, Record, Shape, parse_rfc3339_ms};
use distillguard::source::{self, Batch, Layout, ReadOptions};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// 2000-01-01 .. 2100-01-01, the range of times the parser accepts as Unix seconds.
const MS_RANGE: std::ops::Range<i64> = 946_684_800_000..4_102_444_800_000;

fn text() -> impl Strategy<Value = String> {
    // Any characters, with the ones that matter to the writers (quotes, commas, newlines,
    // brackets, backslashes) made common.
    let ch = prop_oneof![
        3 => any::<char>(),
        2 => prop::sample::select(vec!['"', ',', '\n', '\r', '[', ']', '{', '}', '\\', ' ']),
        4 => prop::char::range('a', 'z'),
    ];
    prop::collection::vec(ch, 0..24).prop_map(String::from_iter)
}

/// Text that stays itself: not blank (blank means absent) and without surrounding whitespace.
fn word() -> impl Strategy<Value = String> {
    text()
        .prop_map(|s| s.trim().to_string())
        .prop_filter("blank", |s| !s.is_empty())
}

fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A contract record as a JSON object with every value in its valid range.
fn record() -> impl Strategy<Value = Map<String, Value>> {
    (
        MS_RANGE,
        word(),
        prop::option::of(word()),
        prop::option::of(word()),
        prop::option::of(text()),
        prop::option::of(100u16..600),
        prop::option::of(0u64..1 << 40),
        prop::option::of((0u32..=100_000).prop_map(|t| f64::from(t) / 1000.0)),
        prop::option::of(any::<[u8; 4]>()),
        prop::option::of(1u32..50),
    )
        .prop_map(
            |(ts, account, request, model, prompt, status, tokens, temp, ip, turn)| {
                let mut m = Map::new();
                m.insert("ts".into(), json!(rfc3339(ts)));
                m.insert("account_id".into(), json!(account));
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                };
                put("request_id", request.map(Value::from));
                put("model", model.map(Value::from));
                put("prompt", prompt.map(Value::from));
                put("status", status.map(Value::from));
                put("prompt_tokens", tokens.map(Value::from));
                put("temperature", temp.map(Value::from));
                put(
                    "ip",
                    ip.map(|b| Value::from(std::net::Ipv4Addr::from(b).to_string())),
                );
                put("turn", turn.map(Value::from));
                m
            },
        )
}

/// Reads `data` as `scan` reads a file, with small batches; returns (line, bytes, reason) per item.
fn read(data: &[u8], layout: Layout) -> Vec<(u64, Vec<u8>, Option<String>)> {
    let opts = ReadOptions {
        max_record_bytes: 1 << 16,
        batch_bytes: 256,
        layout,
    };
    let name: Arc<str> = Arc::from("input");
    let mut out = Vec::new();
    let mut sink = |b: Batch| {
        for (item, reason) in b.entries() {
            let reason = reason
                .map(str::to_string)
                .or(item.oversize.map(|n| format!("oversize {n}")));
            out.push((item.line, item.bytes.to_vec(), reason));
        }
        true
    };
    source::read_reader(data, 0, &name, &opts, &AtomicU64::new(0), &mut sink)
        .expect("reading memory");
    out
}

fn parsed(bytes: &[u8]) -> Record<'static> {
    Record::parse(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
        .into_owned()
}

fn expected(records: &[Map<String, Value>]) -> Vec<Record<'static>> {
    records
        .iter()
        .map(|r| parsed(&serde_json::to_vec(r).unwrap()))
        .collect()
}

fn csv_of(records: &[Map<String, Value>]) -> Vec<u8> {
    let cols: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&cols).unwrap();
    for r in records {
        w.write_record(cols.iter().map(|c| match r.get(*c) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }))
        .unwrap();
    }
    w.into_inner().unwrap()
}

proptest! {
    #[test]
    fn records_written_as_ndjson_array_or_csv_read_back_equal(
        records in prop::collection::vec(record(), 1..12),
        pretty in any::<bool>(),
    ) {
        let want = expected(&records);
        let mut ndjson = Vec::new();
        for r in &records {
            serde_json::to_writer(&mut ndjson, r).unwrap();
            ndjson.extend_from_slice(b"\n");
        }
        let array = if pretty {
            serde_json::to_vec_pretty(&records).unwrap()
        } else {
            serde_json::to_vec(&records).unwrap()
        };
        for (what, data, layout) in [
            ("ndjson", ndjson, Layout::Auto),
            ("array", array, Layout::Auto),
            ("csv", csv_of(&records), Layout::Csv),
        ] {
            let items = read(&data, layout);
            let got: Vec<Record<'static>> = items
                .iter()
                .map(|(_, b, reason)| {
                    assert_eq!(reason, &None, "{what}");
                    parsed(b)
                })
                .collect();
            prop_assert_eq!(&got, &want, "{}", what);
            if what == "ndjson" {
                let lines: Vec<u64> = items.iter().map(|i| i.0).collect();
                prop_assert_eq!(lines, (1..=records.len() as u64).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_are_accepted_or_rejected_at_a_line(
        data in prop::collection::vec(
            prop_oneof![
                4 => any::<u8>(),
                3 => prop::sample::select(b"{}[]\",:\n\r \\0123456789tsaccount_id".to_vec()),
            ],
            0..400,
        ),
        layout in prop::sample::select(vec![Layout::Auto, Layout::Json, Layout::Csv]),
    ) {
        let lines = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
        let items = read(&data, layout);
        let convert = Converter::default();
        let shape = Converter::resolve(Shape::Auto, items.iter().map(|i| i.1.as_slice()));
        let (mut accepted, mut rejected) = (0, 0);
        let mut scratch = Vec::new();
        let mut prev = 1;
        for (line, bytes, reason) in &items {
            prop_assert!(*line >= prev && *line <= lines, "line {} of {}", line, lines);
            prev = *line;
            match reason {
                Some(_) => rejected += 1,
                None => match convert.parse(bytes, shape, &mut scratch) {
                    Ok(_) => accepted += 1,
                    Err(e) => {
                        prop_assert!(!e.0.is_empty());
                        rejected += 1;
                    }
                },
            }
        }
        prop_assert_eq!(accepted + rejected, items.len());
    }

    #[test]
    fn timestamps_round_trip(ms in MS_RANGE, offset_min in -(14 * 60)..=(14 * 60i32)) {
        prop_assert_eq!(parse_rfc3339_ms(&rfc3339(ms)), Some(ms));
        let zone = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
        let local = zone
            .timestamp_millis_opt(ms)
            .unwrap()
            .to_rfc3339_opts(SecondsFormat::Millis, false);
        prop_assert_eq!(parse_rfc3339_ms(&local), Some(ms), "{}", local);
        // Unix seconds, as a number and as quoted text.
        let secs = ms as f64 / 1000.0;
        for ts in [json!(secs), json!(secs.to_string())] {
            let line = json!({"ts": ts, "account_id": "a"}).to_string();
            prop_assert_eq!(parsed(line.as_bytes()).ts_ms, ms, "{}", line);
        }
    }

    #[test]
    fn a_text_cell_is_typed_the_same_both_ways(
        s in prop_oneof![text(), (-1e6f64..1e6).prop_map(|f| format!(" {f} ")), Just("[{\"a\": 1}] ".into())],
        field in prop::sample::select(FIELDS.to_vec()),
    ) {
        let mut out = Vec::new();
        fields::write_text(Some(field.1), &s, &mut out);
        let written: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(written, fields::typed_text(field.1, &s), "{:?} as {:?}", s, field);
    }

    #[test]
    fn a_map_finds_values_wherever_they_are_nested(
        rec in record(),
        path in prop::collection::vec(
            prop::collection::vec(prop::char::range('a', 'z'), 1..6)
                .prop_map(|c| format!("x{}", String::from_iter(c))),
            1..4,
        ),
        flat in any::<bool>(),
    ) {
        // account_id moved under `path`, nested objects or one flat key holding dots.
        let mut input = rec.clone();
        let account = input.remove("account_id").unwrap();
        let dotted = path.join(".");
        if flat {
            input.insert(dotted.clone(), account);
        } else {
            let mut v = account;
            for key in path.iter().rev() {
                v = json!({ key.as_str(): v });
            }
            let Value::Object(o) = v else { unreachable!() };
            for (k, v) in o {
                input.insert(k, v);
            }
        }
        let convert = Converter {
            map: FieldMap::parse(&[format!("account_id={dotted}")]).unwrap(),
            ..Converter::default()
        };
        let bytes = serde_json::to_vec(&input).unwrap();
        let mut scratch = Vec::new();
        let got = convert.parse(&bytes, Shape::Contract, &mut scratch);
        let want = parsed(&serde_json::to_vec(&rec).unwrap());
        prop_assert_eq!(got.map(Record::into_owned), Ok(want));
    }
}
