use distillguard::source::csv::looks_like_csv;
use distillguard::source::{
    Batch, Compression, Format, Input, InputSummary, Layout, ReadOptions, SourceError, discover,
    read_input, read_reader,
};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

type Got = Vec<(u64, String, Option<u64>)>;

fn opts(max_record_bytes: usize, batch_bytes: usize) -> ReadOptions {
    ReadOptions {
        max_record_bytes,
        batch_bytes,
        ..ReadOptions::default()
    }
}

fn collect(batches: &[Batch]) -> Got {
    batches
        .iter()
        .flat_map(|b| b.iter())
        .map(|it| {
            (
                it.line,
                String::from_utf8_lossy(it.bytes).into_owned(),
                it.oversize,
            )
        })
        .collect()
}

fn read_path(path: &Path, o: ReadOptions) -> Result<(Got, InputSummary, Vec<Batch>), SourceError> {
    let inputs = discover(&[path.to_path_buf()])?;
    assert_eq!(inputs.len(), 1);
    let done = AtomicU64::new(0);
    let mut batches = Vec::new();
    let summary = read_input(&inputs, 0, &o, &done, &mut |b| {
        batches.push(b);
        true
    })?;
    assert_eq!(Some(done.load(Ordering::Relaxed)), inputs[0].size);
    Ok((collect(&batches), summary, batches))
}

fn read_bytes(name: &str, data: &[u8], o: ReadOptions) -> Result<Got, SourceError> {
    let mut batches = Vec::new();
    read_reader(
        data,
        0,
        &Arc::from(name),
        &o,
        &AtomicU64::new(0),
        &mut |b| {
            batches.push(b);
            true
        },
    )?;
    Ok(collect(&batches))
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, data).unwrap();
    path
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn plain(got: &Got) -> Vec<(u64, &str)> {
    got.iter()
        .map(|(l, s, o)| {
            assert!(o.is_none(), "unexpected oversize at line {l}");
            (*l, s.as_str())
        })
        .collect()
}

const NDJSON: &[u8] = b"{\"a\":1}\r\n\r\n{\"b\":2}\n   \n\n{\"c\":\"x\\ny\"}\r\n{\"d\":4}";

#[test]
fn ndjson_blank_lines_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let (got, summary, _) = read_path(
        &write(dir.path(), "a.ndjson", NDJSON),
        opts(1 << 20, 1 << 20),
    )
    .unwrap();
    assert_eq!(
        plain(&got),
        [
            (1, "{\"a\":1}"),
            (3, "{\"b\":2}"),
            (6, "{\"c\":\"x\\ny\"}"),
            (7, "{\"d\":4}")
        ]
    );
    assert_eq!(summary.items, 4);
    assert_eq!(summary.format, Format::Ndjson);
    assert_eq!(summary.compression, Compression::None);
    assert_eq!(summary.bytes_decompressed, NDJSON.len() as u64);
}

const PRETTY: &str = r#"
[
  {
    "account_id": "acct-1",
    "prompt": "brackets ] and } and \" quotes",
    "messages": [
      {"role": "user", "content": "multi\nline [ { \\"}
    ]
  },
  {"account_id": "acct-2", "tags": [[1, 2], [], [[3]]], "path": "C:\\dir\\"}
  ,
  {
    "account_id": "acct-3"
  }
]
"#;

#[test]
fn pretty_printed_array_item_lines() {
    let dir = tempfile::tempdir().unwrap();
    for batch_bytes in [1 << 20, 16, 1] {
        let (got, summary, _) = read_path(
            &write(dir.path(), "a.json", PRETTY.as_bytes()),
            opts(1 << 20, batch_bytes),
        )
        .unwrap();
        assert_eq!(summary.format, Format::JsonArray);
        let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(lines, [3, 10, 12], "batch_bytes {batch_bytes}");
        for (i, (_, text, _)) in got.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["account_id"], format!("acct-{}", i + 1));
        }
    }
}

#[test]
fn concatenated_gzip_members() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = gz(b"{\"a\":1}\n{\"b\":2}\n");
    data.extend(gz(b"{\"c\":3}\n"));
    let (got, summary, _) = read_path(
        &write(dir.path(), "a.ndjson.gz", &data),
        opts(1 << 20, 1 << 20),
    )
    .unwrap();
    assert_eq!(
        plain(&got),
        [(1, "{\"a\":1}"), (2, "{\"b\":2}"), (3, "{\"c\":3}")]
    );
    assert_eq!(summary.compression, Compression::Gzip);
}

#[test]
fn zstd_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = zst(PRETTY.as_bytes());
    // Several frames decode as one stream, like gzip members.
    data.extend(zst(b"\n{\"z\":1}\n"));
    let (got, summary, _) =
        read_path(&write(dir.path(), "a.json.zst", &data), opts(1 << 20, 64)).unwrap();
    assert_eq!(summary.compression, Compression::Zstd);
    assert_eq!(summary.format, Format::JsonArray);
    let lines: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(lines, [3, 10, 12, 17]);
}

#[test]
fn magic_beats_a_misleading_extension() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("gz-named-plain.ndjson", gz(NDJSON), Compression::Gzip),
        ("zst-named-gz.ndjson.gz", zst(NDJSON), Compression::Zstd),
        (
            "plain-named-gz.ndjson.gz",
            NDJSON.to_vec(),
            Compression::None,
        ),
        (
            "plain-named-zst.log.zst",
            NDJSON.to_vec(),
            Compression::None,
        ),
    ];
    for (name, data, compression) in cases {
        let (got, summary, _) =
            read_path(&write(dir.path(), name, &data), opts(1 << 20, 1 << 20)).unwrap();
        assert_eq!(summary.compression, compression, "{name}");
        assert_eq!(got.len(), 4, "{name}");
    }
}

fn assert_decompress_error(
    result: Result<(Got, InputSummary, Vec<Batch>), SourceError>,
    name: &str,
) {
    match result {
        Err(err @ SourceError::Decompress { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(name), "{msg}");
            assert!(msg.contains("truncated or corrupt"), "{msg}");
        }
        other => panic!(
            "{name}: expected a decompression error, got {:?}",
            other.map(|r| r.0)
        ),
    }
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{{\"account_id\":\"a{i}\",\"n\":{}}}\n", i * 7919).into_bytes())
        .collect();
    let full = gz(&body);
    for cut in [1, 5, 12, full.len() / 2, full.len() - 8, full.len() - 1] {
        let name = format!("cut{cut}.ndjson.gz");
        let path = write(dir.path(), &name, &full[..cut]);
        assert_decompress_error(read_path(&path, opts(1 << 20, 4096)), &name);
    }
    // A complete member followed by a truncated one.
    let mut two = gz(b"{\"a\":1}\n");
    two.extend_from_slice(&full[..full.len() / 2]);
    let path = write(dir.path(), "two.log.gz", &two);
    assert_decompress_error(read_path(&path, opts(1 << 20, 1 << 20)), "two.log.gz");
}

#[test]
fn truncated_zstd_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..2000)
        .flat_map(|i| format!("{{\"account_id\":\"a{i}\",\"n\":{}}}\n", i * 7919).into_bytes())
        .collect();
    let full = zst(&body);
    for cut in [2, 6, full.len() / 2, full.len() - 1] {
        let name = format!("cut{cut}.jsonl.zst");
        let path = write(dir.path(), &name, &full[..cut]);
        assert_decompress_error(read_path(&path, opts(1 << 20, 4096)), &name);
    }
}

#[test]
fn oversize_line_is_skipped_with_line_and_length() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{{\"p\":\"{}\"}}", "x".repeat(5000));
    let data = format!("{{\"a\":1}}\n\n{long}\r\n{{\"b\":2}}\n{long}");
    for batch_bytes in [1 << 20, 100, 7] {
        for (name, bytes) in [
            ("o.ndjson", data.clone().into_bytes()),
            ("o.ndjson.gz", gz(data.as_bytes())),
        ] {
            let (got, summary, batches) =
                read_path(&write(dir.path(), name, &bytes), opts(1000, batch_bytes)).unwrap();
            let len = long.len() as u64;
            assert_eq!(
                got,
                [
                    (1, "{\"a\":1}".to_string(), None),
                    (3, String::new(), Some(len)),
                    (4, "{\"b\":2}".to_string(), None),
                    (5, String::new(), Some(len)),
                ],
                "{name} batch_bytes {batch_bytes}"
            );
            assert_eq!(summary.items, 4);
            // The skipped lines never sat whole in a batch buffer.
            assert!(
                batches
                    .iter()
                    .all(|b| b.data.len() < 1000 + batch_bytes + 1024)
            );
        }
    }
}

/// One-byte reads into large batches: the same items as one read, in batches of the same bounded
/// size (the reader keeps its initialised buffer between reads instead of clearing a window).
#[test]
fn tiny_reads_give_the_same_items_as_whole_ones() {
    let long = format!("{{\"p\":\"{}\"}}", "x".repeat(3000));
    let mut data = String::new();
    for i in 0..400 {
        data.push_str(&format!("{{\"ts\":{i},\"account_id\":\"a{i}\"}}\n"));
        if i % 50 == 0 {
            data.push_str(&long);
            data.push('\n');
        }
    }
    let name: Arc<str> = Arc::from("t.ndjson");
    for batch_bytes in [1 << 20, 4096, 16] {
        let o = opts(1000, batch_bytes);
        let whole = read_bytes("t.ndjson", data.as_bytes(), o).unwrap();
        assert_eq!(whole.len(), 408);
        let mut batches = Vec::new();
        let summary = read_reader(
            Trickle(data.as_bytes()),
            0,
            &name,
            &o,
            &AtomicU64::new(0),
            &mut |b| {
                batches.push(b);
                true
            },
        )
        .unwrap();
        assert_eq!(collect(&batches), whole, "batch_bytes {batch_bytes}");
        assert_eq!(summary.bytes_decompressed, data.len() as u64);
        assert!(
            batches
                .iter()
                .all(|b| b.data.len() < 1000 + batch_bytes + 1024),
            "batch_bytes {batch_bytes}"
        );
    }
}

#[test]
fn oversize_array_element_is_skipped() {
    let long = format!("{{\"p\":\"{}\\\"]}}\"}}", "x".repeat(3000));
    let data = format!("[\n{{\"a\":1}},\n{long},\n{{\"b\":2}}\n]");
    for batch_bytes in [1 << 20, 10] {
        let got = read_bytes("a.json", data.as_bytes(), opts(100, batch_bytes)).unwrap();
        assert_eq!(
            got,
            [
                (2, "{\"a\":1}".to_string(), None),
                (3, String::new(), Some(long.len() as u64)),
                (4, "{\"b\":2}".to_string(), None),
            ]
        );
    }
}

#[test]
fn huge_line_does_not_grow_the_buffer() {
    let huge = io::repeat(b'x').take(20 << 20);
    let reader = b"{\"a\":1}\n".chain(huge).chain(&b"\n{\"b\":2}\n"[..]);
    let mut largest = 0;
    let mut got = Vec::new();
    read_reader(
        reader,
        0,
        &Arc::from("-"),
        &ReadOptions::default(),
        &AtomicU64::new(0),
        &mut |b| {
            largest = largest.max(b.data.capacity());
            got.extend(b.iter().map(|it| (it.line, it.bytes.to_vec(), it.oversize)));
            true
        },
    )
    .unwrap();
    assert_eq!(
        got,
        [
            (1, b"{\"a\":1}".to_vec(), None),
            (2, Vec::new(), Some(20 << 20)),
            (3, b"{\"b\":2}".to_vec(), None),
        ]
    );
    assert!(largest < 4 << 20, "batch buffer grew to {largest}");
}

#[test]
fn batches_never_split_items() {
    let body: String = (0..300)
        .map(|i| {
            if i % 10 == 0 {
                "\n".to_string()
            } else {
                format!(
                    "{{\"account_id\":\"a{i}\",\"prompt\":\"{}\"}}\r\n",
                    "p".repeat(i % 37)
                )
            }
        })
        .collect();
    let array = format!("[{}]", body.trim().replace("\r\n", ",\n"));
    for data in [body, array] {
        let reference = read_bytes("x", data.as_bytes(), opts(1 << 20, 1 << 20)).unwrap();
        assert_eq!(reference.len(), 270);
        for batch_bytes in [1, 7, 64, 1000] {
            let mut batches = Vec::new();
            read_reader(
                data.as_bytes(),
                3,
                &Arc::from("x"),
                &opts(1 << 20, batch_bytes),
                &AtomicU64::new(0),
                &mut |b| {
                    batches.push(b);
                    true
                },
            )
            .unwrap();
            assert!(batches.len() > 1);
            assert!(batches.iter().all(|b| b.input == 3 && !b.is_empty()));
            let got = collect(&batches);
            assert_eq!(got, reference, "batch_bytes {batch_bytes}");
            for (_, text, _) in &got {
                serde_json::from_str::<serde_json::Value>(text).unwrap();
            }
        }
    }
}

/// Hands out at most one byte per read, as a slow pipe might.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn slow_reader_like_stdin() {
    for data in [
        gz(NDJSON),
        zst(NDJSON),
        [b"\xEF\xBB\xBF".as_slice(), NDJSON].concat(),
    ] {
        let done = AtomicU64::new(0);
        let mut batches = Vec::new();
        let summary = read_reader(
            Trickle(&data),
            0,
            &Arc::from("-"),
            &ReadOptions::default(),
            &done,
            &mut |b| {
                batches.push(b);
                true
            },
        )
        .unwrap();
        assert_eq!(summary.items, 4);
        assert_eq!(collect(&batches)[0], (1, "{\"a\":1}".to_string(), None));
        assert_eq!(done.load(Ordering::Relaxed), data.len() as u64);
    }
}

#[test]
fn bom_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bom.ndjson",
        b"\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n",
    );
    let (got, _, _) = read_path(&path, opts(1 << 20, 1 << 20)).unwrap();
    assert_eq!(plain(&got), [(1, "{\"a\":1}"), (2, "{\"b\":2}")]);
    let path = write(dir.path(), "bom.json", b"\xEF\xBB\xBF [{\"a\":1}]");
    let (got, summary, _) = read_path(&path, opts(1 << 20, 1 << 20)).unwrap();
    assert_eq!(summary.format, Format::JsonArray);
    assert_eq!(plain(&got), [(1, "{\"a\":1}")]);
}

#[test]
fn unterminated_array_yields_partial_element() {
    let data = b"[\n  {\"a\": 1},\n  {\"b\": \"cut here";
    let got = read_bytes("t.json", data, opts(1 << 20, 4)).unwrap();
    assert_eq!(plain(&got), [(2, "{\"a\": 1}"), (3, "{\"b\": \"cut here")]);
}

#[test]
fn empty_input_has_no_items() {
    for data in [&b""[..], b"\n\r\n  ", b"[]", b" [ \n ] \n"] {
        assert!(
            read_bytes("e", data, opts(1 << 20, 1 << 20))
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn sink_can_stop_early() {
    let data: Vec<u8> = b"{\"a\":1}\n".repeat(100);
    let mut calls = 0;
    let summary = read_reader(
        &data[..],
        0,
        &Arc::from("x"),
        &opts(1 << 20, 16),
        &AtomicU64::new(0),
        &mut |_| {
            calls += 1;
            calls < 3
        },
    )
    .unwrap();
    assert_eq!(calls, 3);
    assert!(summary.items < 100);
}

/// Fails after handing out `ok` bytes.
struct Failing<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn io_error_mid_file_names_the_input() {
    let body = b"{\"a\":1}\n".repeat(5000);
    for data in [body.clone(), gz(&body)] {
        let reader = Failing {
            data: &data,
            ok: data.len() / 2,
        };
        let err = read_reader(
            reader,
            0,
            &Arc::from("logs/x.ndjson"),
            &opts(1 << 20, 1024),
            &AtomicU64::new(0),
            &mut |_| true,
        )
        .unwrap_err();
        assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("logs/x.ndjson") && msg.contains("disk on fire"),
            "{msg}"
        );
    }
}

fn names(inputs: &[Input], root: &Path) -> Vec<String> {
    inputs
        .iter()
        .map(|i| {
            let p = i.path.as_ref().unwrap();
            assert_eq!(&*i.name, p.to_string_lossy());
            assert_eq!(i.size, Some(std::fs::metadata(p).unwrap().len()));
            p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
        })
        .collect()
}

#[test]
fn directory_walk_picks_log_files_sorted_and_recursive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in [
        "b.log",
        "a.jsonl.gz",
        "notes.txt",
        "c.JSON.ZST",
        "d.ndjson.zstd",
        "e.json.bz2",
        ".hidden.ndjson",
        ".git/x.ndjson",
        "sub/z.ndjson",
        "sub/deeper/y.log.gz",
        "sub/readme.md",
        "aa/q.json",
        "f.csv.gz",
        "g.parquet",
        "h.parquet.gz",
        "sub/export.CSV",
    ] {
        write(root, name, b"{}\n");
    }
    let inputs = discover(&[root.to_path_buf()]).unwrap();
    assert_eq!(
        names(&inputs, root),
        [
            "a.jsonl.gz",
            "aa/q.json",
            "b.log",
            "c.JSON.ZST",
            "d.ndjson.zstd",
            "f.csv.gz",
            "g.parquet",
            "sub/deeper/y.log.gz",
            "sub/export.CSV",
            "sub/z.ndjson",
        ]
    );
    // Named explicitly, any file is read; stdin keeps its place among the arguments.
    let args = [root.join("notes.txt"), PathBuf::from("-"), root.join("sub")];
    let inputs = discover(&args).unwrap();
    assert_eq!(inputs.len(), 5);
    assert_eq!(
        inputs[0].path.as_deref(),
        Some(root.join("notes.txt").as_path())
    );
    assert!(inputs[1].is_stdin() && &*inputs[1].name == "-" && inputs[1].size.is_none());
    assert_eq!(
        inputs[2].path.as_deref(),
        Some(root.join("sub/deeper/y.log.gz").as_path())
    );
}

#[test]
fn discovery_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.ndjson");
    let err = discover(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(&err, SourceError::NotFound { path } if *path == missing));
    assert!(err.to_string().contains("nope.ndjson"));

    let empty = dir.path().join("empty");
    write(&empty, "readme.txt", b"hi");
    write(&empty, ".hidden.log", b"{}");
    let err = discover(std::slice::from_ref(&empty)).unwrap_err();
    assert!(matches!(&err, SourceError::NoLogFiles { dir } if *dir == empty));
    assert!(err.to_string().contains("empty"));

    let err = discover(&[PathBuf::from("-"), PathBuf::from("-")]).unwrap_err();
    assert!(matches!(err, SourceError::StdinRepeated));
}

#[test]
fn file_removed_after_discovery_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "gone.ndjson", b"{}\n");
    let inputs = discover(std::slice::from_ref(&path)).unwrap();
    std::fs::remove_file(&path).unwrap();
    let err = read_input(
        &inputs,
        0,
        &ReadOptions::default(),
        &AtomicU64::new(0),
        &mut |_| true,
    )
    .unwrap_err();
    assert!(err.to_string().contains("gone.ndjson"), "{err}");
}

#[test]
fn csv_rows_become_json_items_with_their_lines() {
    let csv = b"\xEF\xBB\xBFts,account_id,turn,note\n1,a,2.0,\"x\ny\"\n2,b\n\n3,c,,z\n";
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [
        ("t.csv", csv.to_vec()),
        ("t.csv.zst", zst(csv)),
        ("t.log", csv.to_vec()),
    ] {
        let path = write(dir.path(), name, &data);
        let (got, summary, batches) = read_path(&path, ReadOptions::default()).unwrap();
        assert_eq!(summary.format, Format::Csv, "{name}");
        assert_eq!(summary.items, 3);
        assert_eq!(summary.bytes_decompressed, csv.len() as u64);
        assert_eq!(
            plain(&got),
            [
                (2, r#"{"ts":1,"account_id":"a","turn":2,"note":"x\ny"}"#),
                (4, "2,b"),
                (6, r#"{"ts":3,"account_id":"c","note":"z"}"#),
            ],
            "{name}"
        );
        let reasons: Vec<_> = batches
            .iter()
            .flat_map(|b| b.entries())
            .filter_map(|(i, r)| r.map(|r| (i.line, r.to_string())))
            .collect();
        assert_eq!(
            reasons,
            [(4, "row has 2 cells, the header has 4 columns".to_string())]
        );
    }
    // Asked for JSON, a CSV is split into lines like any text.
    let o = ReadOptions {
        layout: Layout::Json,
        ..ReadOptions::default()
    };
    assert_eq!(read_bytes("t.csv", csv, o).unwrap().len(), 5);
    // CRLF line ends, blank lines, no final line end: the same lines.
    let crlf = String::from_utf8_lossy(csv).replace('\n', "\r\n");
    let crlf = crlf.trim_end().as_bytes();
    let lines: Vec<u64> = read_bytes("t.csv", crlf, ReadOptions::default())
        .unwrap()
        .iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(lines, [2, 4, 6]);
    assert!(!looks_like_csv(b"{\"a\": 1}\n"));
    assert!(!looks_like_csv(b"hello\n"));
    assert!(looks_like_csv(b"@timestamp,user.id\n"));
}

fn fuzz_fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/fuzz")
            .join(name),
    )
    .unwrap()
}

/// Found by fuzzing: a footer with a negative column chunk offset made the parquet crate panic,
/// which ended the whole scan; it is now an error for that input.
#[test]
fn corrupt_parquet_is_an_error_not_a_panic() {
    let data = fuzz_fixture("parquet-negative-offset.parquet");
    let o = ReadOptions {
        layout: Layout::Parquet,
        ..ReadOptions::default()
    };
    match read_bytes("bad.parquet", &data, o) {
        Err(e @ SourceError::Parquet { .. }) => {
            assert!(e.to_string().contains("corrupt file"), "{e}")
        }
        other => panic!("expected a Parquet error, got {other:?}"),
    }
}

/// Found by fuzzing, each a stall inside the parquet crate (vendor/parquet/PATCHED.md): skipping
/// an unknown field of a page header read past the end of the file without noticing and skipped
/// boolean list elements as no bytes, so it spun for hours on 1.5 KB; a dictionary page header
/// declaring 656 million values over a few bytes made it zero 5 GB first. The scan of each file
/// now ends at once, with little memory, in an error that names it.
#[test]
fn a_crafted_parquet_file_cannot_stall_the_scan() {
    for (file, why) in [
        ("parquet-thrift-skip-hang.parquet", "EOF"),
        ("parquet-huge-dictionary.parquet", "Not enough bytes"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/fuzz")
            .join(file);
        let (tx, rx) = std::sync::mpsc::channel();
        let arg = path.clone();
        // On its own thread, so that a regression fails the test instead of hanging it.
        std::thread::spawn(move || {
            let inputs = discover(&[arg]).unwrap();
            let read = read_input(
                &inputs,
                0,
                &ReadOptions::default(),
                &AtomicU64::new(0),
                &mut |_| true,
            );
            let _ = tx.send(read.map(|s| s.items));
        });
        let read = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the scan of {file} did not end within 20 s"));
        match read {
            Err(e @ SourceError::Parquet { .. }) => {
                let text = e.to_string();
                assert!(text.starts_with(&*path.to_string_lossy()), "{text}");
                assert!(text.contains(why), "{text}");
            }
            other => panic!("{file}: expected a Parquet error, got {other:?}"),
        }
    }
    // The peak of the whole test process: far below the gigabytes either file once cost.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(peak_kib < 1 << 20, "peak RSS {peak_kib} KiB");
}

/// Found by fuzzing: a row ended by a lone `\r` and a last row in an unterminated quote got a
/// line before the previous row's.
#[test]
fn csv_row_lines_never_go_back() {
    let data = fuzz_fixture("csv-lone-cr-unterminated-quote.csv");
    let o = ReadOptions {
        layout: Layout::Csv,
        ..ReadOptions::default()
    };
    let lines: Vec<u64> = read_bytes("bad.csv", &data, o)
        .unwrap()
        .iter()
        .map(|g| g.0)
        .collect();
    // The header's open quote runs it into line 2; both rows start on line 3 (the second after
    // the first's `\r`). It was [3, 2].
    assert_eq!(lines, [3, 3]);
}
