//! What the fuzz targets share: reading bytes the way `scan` reads a file, and the invariants
//! every reader must keep whatever the input.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use distillguard::record::{Converter, Record, Shape};
use distillguard::source::{self, Batch, InputSummary, Layout, ReadOptions, SourceError};

/// A reader that hands out at most `chunk` bytes per call, so the incremental splitter and the
/// CSV reader are resumed at arbitrary byte boundaries.
pub struct Chunked<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(self.chunk).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// One item as read: its line, its bytes, whether it was oversize, the reader's reject reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read1 {
    pub line: u64,
    pub bytes: Vec<u8>,
    pub oversize: Option<u64>,
    pub reason: Option<String>,
}

/// Reads `data` through [`source::read_reader`] and collects every item of every batch.
pub fn read_all(
    data: &[u8],
    chunk: usize,
    opts: &ReadOptions,
) -> (Result<InputSummary, SourceError>, Vec<Read1>) {
    let name: Arc<str> = Arc::from("fuzz-input");
    let mut out = Vec::new();
    let mut sink = |b: Batch| {
        check_batch(&b);
        for (item, reason) in b.entries() {
            out.push(Read1 {
                line: item.line,
                bytes: item.bytes.to_vec(),
                oversize: item.oversize,
                reason: reason.map(str::to_string),
            });
        }
        true
    };
    let reader = Chunked {
        data,
        chunk: chunk.max(1),
    };
    let done = AtomicU64::new(0);
    let summary = source::read_reader(reader, 0, &name, opts, &done, &mut sink);
    (summary, out)
}

/// Splits an in-memory body as the service does, into the same shape as [`read_all`]'s items.
pub fn split_all(data: &[u8], max: usize) -> Vec<Read1> {
    source::split_items(data, max)
        .iter()
        .map(|r| {
            let i = r.get(data);
            Read1 {
                line: i.line,
                bytes: i.bytes.to_vec(),
                oversize: i.oversize,
                reason: None,
            }
        })
        .collect()
}

/// The option byte and the data of an input for an uncompressed reader; `None` when there is
/// no data or the reader would decompress it first (that is the body target's business).
pub fn plain_input(input: &[u8]) -> Option<(u8, &[u8])> {
    let (&b, data) = input.split_first()?;
    let compressed = source::detect(&data[..data.len().min(source::MAGIC_LEN)], None)
        != source::Compression::None;
    (!compressed).then_some((b, data))
}

/// Every range lies inside the batch buffer, and reasons point at items of the batch, in order.
fn check_batch(b: &Batch) {
    for r in &b.items {
        assert!(r.start <= r.end && r.end as usize <= b.data.len(), "{r:?}");
        if r.oversize.is_some() {
            assert_eq!(r.start, r.end, "an oversize item keeps no bytes");
        }
    }
    let mut last = None;
    for (at, _) in &b.reasons {
        assert!((*at as usize) < b.items.len());
        assert!(last < Some(*at), "reasons in item order");
        last = Some(*at);
    }
}

/// What holds for the items of any input: lines start at 1 and never go back nor past the
/// input's last line; an item is oversize exactly when it is longer than the limit.
pub fn check_items(data: &[u8], items: &[Read1], max: usize) {
    let lines = 1 + memchr_count(data) as u64;
    let mut prev = 1;
    for it in items {
        assert!(it.line >= prev, "lines go back: {} after {prev}", it.line);
        assert!(
            it.line <= lines,
            "line {} past the input's {lines} lines",
            it.line
        );
        prev = it.line;
        match it.oversize {
            Some(len) => {
                assert!(len as usize > max, "oversize item of {len} <= {max}");
                assert!(it.bytes.is_empty());
            }
            None if it.reason.is_none() => assert!(it.bytes.len() <= max),
            None => {}
        }
    }
}

fn memchr_count(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n').count()
}

/// Parses every item as `scan` does and checks that each is accepted or rejected, and that an
/// accepted record keeps the contract's guarantees. Returns (accepted, rejected).
pub fn parse_items(items: &[Read1], convert: &Converter) -> (u64, u64) {
    let shape = Converter::resolve(
        Shape::Auto,
        items
            .iter()
            .filter(|i| i.oversize.is_none() && i.reason.is_none())
            .map(|i| i.bytes.as_slice()),
    );
    let mut scratch = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for it in items {
        if it.reason.is_some() || it.oversize.is_some() {
            rejected += 1;
            continue;
        }
        match convert.parse(&it.bytes, shape, &mut scratch) {
            Ok(rec) => {
                check_record(&rec);
                accepted += 1;
            }
            Err(e) => {
                assert!(!e.0.is_empty(), "a reject says why");
                rejected += 1;
            }
        }
    }
    assert_eq!(accepted + rejected, items.len() as u64);
    (accepted, rejected)
}

/// What an accepted record promises downstream.
pub fn check_record(rec: &Record<'_>) {
    assert!(
        !rec.account_id.trim().is_empty(),
        "empty account_id accepted"
    );
    // 2000-01-01 .. 2100-01-01 for Unix seconds; RFC 3339 strings may be any year chrono reads.
    if let Some(t) = rec.turn {
        assert!(t >= 1);
    }
    if let Some(t) = rec.temperature {
        assert!((0.0..=100.0).contains(&t), "temperature {t}");
    }
    if let Some(s) = rec.status {
        assert!((100..=599).contains(&s), "status {s}");
    }
    for s in [
        &rec.request_id,
        &rec.model,
        &rec.prompt,
        &rec.system_prompt,
        &rec.conversation_id,
        &rec.user_agent,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!s.trim().is_empty(), "an empty string stands for absent");
    }
}

/// Options from the first byte of the input: a small or large record limit and batch size, so
/// both the oversize path and batch boundaries are reached.
pub fn options(b: u8, layout: Layout) -> ReadOptions {
    ReadOptions {
        max_record_bytes: [64, 300, 4096, 1 << 20][(b & 3) as usize],
        batch_bytes: [16, 200, 1 << 12, 1 << 20][((b >> 2) & 3) as usize],
        layout,
    }
}

/// The reader's chunk size from the same byte, independent of the batch size: one-byte reads
/// into a 1 MiB batch are as cheap as large ones (the reader zeroes its buffer only where it
/// grows), and they are what a slow pipe delivers.
pub fn chunk(b: u8) -> usize {
    [1, 7, 100, 1 << 16][usize::from(b >> 4) & 3]
}
