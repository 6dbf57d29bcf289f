//! CSV with a header row: each row becomes a JSON object keyed by the header, with cells typed by
//! the contract field they fill (`status` a number, `messages` the JSON it holds); other columns
//! are kept as text for field mappings.

use std::collections::VecDeque;
use std::io::{self, Read};

use crate::record::fields::{self, FieldKind};

use super::rows::RowBatcher;

/// Whether the start of a (decompressed) input looks like a CSV header rather than JSON: a first
/// line of at least two short comma-separated names and no JSON punctuation.
pub fn looks_like_csv(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(first) = head.iter().find(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    if matches!(first, b'{' | b'[') {
        return false;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    let names: Vec<&[u8]> = line.split(|&b| b == b',').collect();
    names.len() >= 2
        && !line.contains(&b'{')
        && names.iter().all(|n| !n.is_empty() && n.len() <= 100)
}

struct Column {
    /// `"name":`, ready to write.
    key: Vec<u8>,
    kind: Option<FieldKind>,
}

/// Offsets of the newlines read through it, so that a row's line can be worked out from where
/// it ends. (The csv crate's own line count is taken before the blank lines it skips.)
struct Newlines<R> {
    inner: R,
    offset: u64,
    pending: VecDeque<u64>,
    /// Newlines before every offset already asked about.
    passed: u64,
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let base = self.offset;
        self.pending
            .extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| base + i as u64));
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> Newlines<R> {
    /// The 1-based line of the byte at `offset`; offsets must not decrease between calls.
    fn line_of(&mut self, offset: u64) -> u64 {
        while self.pending.front().is_some_and(|&nl| nl < offset) {
            self.pending.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// Reads CSV rows into `out`. Line numbers are the lines rows start on (a quoted cell may span
/// lines). A row whose cell count differs from the header's is rejected; the others are kept.
pub(crate) fn read_csv<R: Read>(reader: R, out: &mut RowBatcher<'_>) -> io::Result<()> {
    let reader = Newlines {
        inner: reader,
        offset: 0,
        pending: VecDeque::new(),
        passed: 0,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(reader);
    let columns: Vec<Column> = rdr
        .byte_headers()
        .map_err(into_io)?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
            } else {
                h
            };
            let name = String::from_utf8_lossy(h).trim().to_string();
            let mut key = serde_json::to_vec(&name).expect("a string serialises");
            key.push(b':');
            Column {
                kind: fields::kind_of(&name),
                key,
            }
        })
        .collect();
    let mut row = csv::ByteRecord::new();
    let mut floor = 1;
    while rdr.read_byte_record(&mut row).map_err(into_io)? {
        // The row's last byte (its terminator, or the end of the input) is just before where the
        // reader now stands; its line less the newlines inside quoted cells is the first line.
        let end = rdr.position().byte().saturating_sub(1);
        let inside: usize = row
            .iter()
            .map(|c| memchr::memchr_iter(b'\n', c).count())
            .sum();
        // A row starts no earlier than the line the previous one ended on: the reader's
        // position can stop short of the input's end (an unterminated quote), and a lone `\r`
        // ends a row without starting a line.
        let end_line = rdr.get_mut().line_of(end);
        let line = end_line.saturating_sub(inside as u64).max(floor);
        floor = end_line;
        let more = if row.len() != columns.len() {
            let raw = row.iter().collect::<Vec<_>>().join(&b","[..]);
            let reason = format!(
                "row has {} cells, the header has {} columns",
                row.len(),
                columns.len()
            );
            out.push_rejected(line, &raw, reason)
        } else {
            out.push(line, |buf| write_row(&columns, &row, buf))
        };
        if !more {
            break;
        }
    }
    Ok(())
}

fn write_row(columns: &[Column], row: &csv::ByteRecord, buf: &mut Vec<u8>) {
    buf.push(b'{');
    let mut first = true;
    for (col, cell) in columns.iter().zip(row.iter()) {
        let text = String::from_utf8_lossy(cell);
        // An empty cell is an absent field, as an empty string is in JSON records.
        if text.trim().is_empty() {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(&col.key);
        fields::write_text(col.kind, &text, buf);
    }
    buf.push(b'}');
}

fn into_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}
