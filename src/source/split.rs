//! Cutting a byte stream into items: NDJSON lines or the elements of a JSON array.
//!
//! The splitter is incremental: it is fed the growing buffer of one batch and keeps enough state
//! (line number, nesting depth, string/escape flags) to resume at any byte boundary. Positions are
//! absolute stream offsets so an item can be measured even after its bytes were dropped.

use memchr::{memchr, memchr3};

/// How the input is laid out, decided by its first non-whitespace byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON value per line.
    #[default]
    Ndjson,
    /// A JSON array whose top-level elements are the records.
    JsonArray,
    /// CSV with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::JsonArray => "json-array",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// One item of a batch: a range of the batch's buffer and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRef {
    /// 1-based line where the item starts.
    pub line: u64,
    pub start: u32,
    pub end: u32,
    /// `Some(length)` when the item exceeded the size limit and was skipped; the range is then empty.
    pub oversize: Option<u64>,
}

impl ItemRef {
    /// Resolves the range against the buffer the item was split from.
    pub fn get<'a>(&self, data: &'a [u8]) -> Item<'a> {
        Item {
            line: self.line,
            bytes: &data[self.start as usize..self.end as usize],
            oversize: self.oversize,
        }
    }
}

/// A resolved item: its bytes (empty when oversize) and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub line: u64,
    pub bytes: &'a [u8],
    pub oversize: Option<u64>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits an in-memory body (e.g. an HTTP request) with the same rules as files: NDJSON or a JSON
/// array, BOM skipped, items longer than `max_record_bytes` reported as oversize.
///
/// # Panics
/// If `data` is 4 GiB or longer, since item ranges are `u32`; callers bound bodies far below that.
pub fn split_items(data: &[u8], max_record_bytes: usize) -> Vec<ItemRef> {
    assert!(
        u32::try_from(data.len()).is_ok(),
        "split_items: body must be smaller than 4 GiB"
    );
    let mut splitter = Splitter::new(max_record_bytes);
    let mut items = Vec::new();
    splitter.scan(data, 0, 0, &mut items);
    splitter.finish(data, 0, &mut items);
    items
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Before the first value, or after a closing `]`: skipping whitespace, deciding the format.
    Top,
    Ndjson,
    Array,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(bytes: &[u8]) -> (usize, usize) {
    let mut s = 0;
    let mut e = bytes.len();
    while s < e && is_ws(bytes[s]) {
        s += 1;
    }
    while e > s && is_ws(bytes[e - 1]) {
        e -= 1;
    }
    (s, e)
}

/// Incremental item splitter. The caller owns the buffer `data`; `data[i]` is stream offset
/// `base + i` for every byte not yet scanned and for the pending item (unless it is being skipped).
#[derive(Debug)]
pub(crate) struct Splitter {
    max: u64,
    mode: Mode,
    format: Option<Format>,
    /// Line number of the next byte to scan.
    line: u64,
    at_start: bool,
    /// Stream offset where the pending item starts (NDJSON: the current line's start).
    item_start: u64,
    item_line: u64,
    /// Array mode: inside an element.
    in_elem: bool,
    depth: u32,
    in_str: bool,
    esc: bool,
    /// The pending item outgrew the limit; its bytes are no longer kept.
    skipping: bool,
    /// Last byte scanned, so a skipped line's trailing `\r` can be left out of its length.
    prev: u8,
}

impl Splitter {
    pub(crate) fn new(max_record_bytes: usize) -> Self {
        Splitter {
            max: max_record_bytes as u64,
            mode: Mode::Top,
            format: None,
            line: 1,
            at_start: true,
            item_start: 0,
            item_line: 1,
            in_elem: false,
            depth: 0,
            in_str: false,
            esc: false,
            skipping: false,
            prev: b'\n',
        }
    }

    pub(crate) fn format(&self) -> Format {
        self.format.unwrap_or_default()
    }

    pub(crate) fn skipping(&self) -> bool {
        self.skipping
    }

    /// Stream offset of the pending item whose bytes must be kept, if any.
    pub(crate) fn keep_from(&self) -> Option<u64> {
        if self.skipping {
            return None;
        }
        match self.mode {
            Mode::Top => None,
            Mode::Ndjson => Some(self.item_start),
            Mode::Array => self.in_elem.then_some(self.item_start),
        }
    }

    /// Stream offset where the item being skipped started.
    pub(crate) fn skip_start(&self) -> u64 {
        self.item_start
    }

    /// Scans `data[from..]` (stream offset of `data[0]` is `base`), pushing completed items with
    /// ranges relative to `data`. Afterwards, a pending item longer than the limit switches to
    /// skipping, so the caller may drop its bytes; returns true when that just happened.
    pub(crate) fn scan(
        &mut self,
        data: &[u8],
        from: usize,
        base: u64,
        out: &mut Vec<ItemRef>,
    ) -> bool {
        let end = data.len();
        let mut pos = from;
        if self.at_start && base + pos as u64 == 0 {
            self.at_start = false;
            if data[pos..].starts_with(BOM) {
                pos += BOM.len();
            }
        }
        while pos < end {
            pos = match self.mode {
                Mode::Top => self.scan_top(data, pos, base),
                Mode::Ndjson => self.scan_ndjson(data, pos, from, base, out),
                Mode::Array => self.scan_array(data, pos, base, out),
            };
        }
        if end > from {
            self.prev = data[end - 1];
        }
        if let Some(start) = self.keep_from() {
            // A trailing `\r` may turn out to be the line's CR, which is not counted.
            let cr = u64::from(self.mode == Mode::Ndjson && self.prev == b'\r');
            if base + end as u64 - start - cr > self.max {
                self.skipping = true;
                return true;
            }
        }
        false
    }

    /// Ends the stream: a last line without newline, or the partial last element of an
    /// unterminated array, becomes an item (the parser will then report what is wrong with it).
    pub(crate) fn finish(&mut self, data: &[u8], base: u64, out: &mut Vec<ItemRef>) {
        let end = base + data.len() as u64;
        match self.mode {
            Mode::Top => {}
            Mode::Ndjson => {
                let stop = if self.prev == b'\r' { end - 1 } else { end };
                self.complete(data, base, stop.max(self.item_start), out);
            }
            Mode::Array => {
                if self.in_elem {
                    self.complete(data, base, end, out);
                }
            }
        }
        self.mode = Mode::Top;
        self.in_elem = false;
    }

    fn scan_top(&mut self, data: &[u8], mut pos: usize, base: u64) -> usize {
        while pos < data.len() {
            match data[pos] {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                b'[' => {
                    self.mode = Mode::Array;
                    self.format.get_or_insert(Format::JsonArray);
                    self.in_elem = false;
                    self.depth = 0;
                    return pos + 1;
                }
                _ => {
                    self.mode = Mode::Ndjson;
                    self.format.get_or_insert(Format::Ndjson);
                    self.item_start = base + pos as u64;
                    self.item_line = self.line;
                    return pos;
                }
            }
            pos += 1;
        }
        pos
    }

    fn scan_ndjson(
        &mut self,
        data: &[u8],
        mut pos: usize,
        from: usize,
        base: u64,
        out: &mut Vec<ItemRef>,
    ) -> usize {
        while let Some(off) = memchr(b'\n', &data[pos..]) {
            let nl = pos + off;
            let before = if nl > from { data[nl - 1] } else { self.prev };
            let stop = base + nl as u64 - u64::from(before == b'\r');
            self.complete(data, base, stop.max(self.item_start), out);
            self.line += 1;
            pos = nl + 1;
            self.item_start = base + pos as u64;
            self.item_line = self.line;
        }
        data.len()
    }

    fn scan_array(
        &mut self,
        data: &[u8],
        mut pos: usize,
        base: u64,
        out: &mut Vec<ItemRef>,
    ) -> usize {
        let end = data.len();
        if self.esc && pos < end {
            self.esc = false;
            if data[pos] == b'\n' {
                self.line += 1;
            }
            pos += 1;
        }
        while pos < end {
            if self.in_str {
                // Strings hold most of a record's bytes (prompts), so jump between the bytes
                // that matter instead of stepping through each one.
                let Some(off) = memchr3(b'"', b'\\', b'\n', &data[pos..]) else {
                    return end;
                };
                let at = pos + off;
                match data[at] {
                    b'"' => {
                        self.in_str = false;
                        pos = at + 1;
                    }
                    b'\\' => {
                        if at + 1 < end {
                            if data[at + 1] == b'\n' {
                                self.line += 1;
                            }
                            pos = at + 2;
                        } else {
                            self.esc = true;
                            return end;
                        }
                    }
                    _ => {
                        self.line += 1;
                        pos = at + 1;
                    }
                }
                continue;
            }
            let b = data[pos];
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                b',' if self.depth == 0 => {
                    // An empty element (`[,` or `,,`) is not JSON, but holds no record to report.
                    if self.in_elem {
                        self.complete(data, base, base + pos as u64, out);
                        self.in_elem = false;
                    }
                }
                b']' if self.depth == 0 => {
                    if self.in_elem {
                        self.complete(data, base, base + pos as u64, out);
                        self.in_elem = false;
                    }
                    self.mode = Mode::Top;
                    return pos + 1;
                }
                _ => {
                    if !self.in_elem {
                        self.in_elem = true;
                        self.item_start = base + pos as u64;
                        self.item_line = self.line;
                    }
                    match b {
                        b'"' => self.in_str = true,
                        b'[' | b'{' => self.depth += 1,
                        // A stray `}` at depth 0 stays part of the element; the parser rejects it.
                        b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            pos += 1;
        }
        end
    }

    /// Emits the pending item ending at stream offset `stop`.
    ///
    /// The limit applies to the raw span (an NDJSON line without its line break; an array element
    /// up to its `,` or `]`), never to the trimmed bytes: a partial span is then a prefix of the
    /// final one, so the verdict does not depend on where reads happened to end.
    fn complete(&mut self, data: &[u8], base: u64, stop: u64, out: &mut Vec<ItemRef>) {
        let line = self.item_line;
        let raw = stop - self.item_start;
        if self.skipping || raw > self.max {
            self.skipping = false;
            out.push(ItemRef {
                line,
                start: 0,
                end: 0,
                oversize: Some(raw),
            });
            return;
        }
        let s = (self.item_start - base) as usize;
        let e = (stop - base) as usize;
        let (ts, te) = trim(&data[s..e]);
        if ts < te {
            out.push(ItemRef {
                line,
                start: (s + ts) as u32,
                end: (s + te) as u32,
                oversize: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> Vec<(u64, String)> {
        split_items(data, 1 << 20)
            .iter()
            .map(|r| {
                let it = r.get(data);
                (it.line, String::from_utf8_lossy(it.bytes).into_owned())
            })
            .collect()
    }

    /// Feeds the splitter `step` bytes at a time, dropping consumed bytes like the file reader
    /// does, to check that every resume point gives the same result as one pass.
    fn split_stepwise(data: &[u8], step: usize, max: usize) -> Vec<(u64, Vec<u8>, Option<u64>)> {
        let mut sp = Splitter::new(max);
        let mut buf: Vec<u8> = Vec::new();
        let mut base = 0u64;
        let mut got = Vec::new();
        let mut from = 0;
        for chunk in data.chunks(step) {
            buf.extend_from_slice(chunk);
            // The reader waits for three bytes before the first scan, so a BOM is seen whole.
            if base == 0 && from == 0 && buf.len() < BOM.len() {
                continue;
            }
            let mut items = Vec::new();
            let began = sp.scan(&buf, from, base, &mut items);
            for r in &items {
                let it = r.get(&buf);
                got.push((it.line, it.bytes.to_vec(), it.oversize));
            }
            let keep = if sp.skipping() {
                let cut = if began {
                    (sp.skip_start() - base) as usize
                } else {
                    from
                };
                let end = base + buf.len() as u64;
                buf.truncate(cut);
                base = end - cut as u64;
                cut
            } else {
                sp.keep_from().map_or(buf.len(), |s| (s - base) as usize)
            };
            buf.drain(..keep);
            base += keep as u64;
            from = buf.len();
        }
        let mut items = Vec::new();
        sp.scan(&buf, from, base, &mut items);
        sp.finish(&buf, base, &mut items);
        for r in &items {
            let it = r.get(&buf);
            got.push((it.line, it.bytes.to_vec(), it.oversize));
        }
        got
    }

    fn owned(v: &[(u64, &str)]) -> Vec<(u64, String)> {
        v.iter().map(|(l, s)| (*l, s.to_string())).collect()
    }

    #[test]
    fn ndjson_blank_lines_and_crlf() {
        let data = b"{\"a\":1}\r\n\r\n   \n{\"b\":2}\n\n{\"c\":3}";
        assert_eq!(
            split(data),
            owned(&[(1, "{\"a\":1}"), (4, "{\"b\":2}"), (6, "{\"c\":3}")])
        );
    }

    #[test]
    fn leading_whitespace_and_bom() {
        let data = b"\xEF\xBB\xBF\n\n  {\"a\":1}\n";
        assert_eq!(split(data), owned(&[(3, "{\"a\":1}")]));
        let data = b"\xEF\xBB\xBF[{\"a\":1}]";
        assert_eq!(split(data), owned(&[(1, "{\"a\":1}")]));
    }

    #[test]
    fn pretty_array_with_tricky_strings() {
        let data = br#"[
  {
    "prompt": "close ] and } and \" quote",
    "x": "a\\"
  },
  {"prompt": "line\nbreak \\\" [ {", "nested": [[1, 2], {"k": [3]}]},

  {"c": "\u005d"}
]"#;
        let items = split(data);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].0, 2);
        assert!(items[0].1.starts_with('{') && items[0].1.ends_with('}'));
        assert_eq!(items[1].0, 6);
        assert_eq!(
            items[1].1,
            r#"{"prompt": "line\nbreak \\\" [ {", "nested": [[1, 2], {"k": [3]}]}"#
        );
        assert_eq!(items[2], (8, r#"{"c": "\u005d"}"#.to_string()));
        for (_, s) in &items {
            serde_json::from_str::<serde_json::Value>(s).unwrap();
        }
    }

    #[test]
    fn empty_and_scalar_arrays() {
        assert!(split(b"[]").is_empty());
        assert!(split(b"  [ \n ]  ").is_empty());
        assert!(split(b"").is_empty());
        assert!(split(b"\n \n").is_empty());
        assert_eq!(split(b"[1, \"x\",]"), owned(&[(1, "1"), (1, "\"x\"")]));
    }

    #[test]
    fn unterminated_array_yields_partial_element() {
        let data = b"[\n{\"a\":1},\n{\"b\":\"cut";
        assert_eq!(split(data), owned(&[(2, "{\"a\":1}"), (3, "{\"b\":\"cut")]));
    }

    #[test]
    fn content_after_array_is_read_on() {
        let data = b"[{\"a\":1}]\n[{\"b\":2}]\n{\"c\":3}\n";
        assert_eq!(
            split(data),
            owned(&[(1, "{\"a\":1}"), (2, "{\"b\":2}"), (3, "{\"c\":3}")])
        );
    }

    #[test]
    fn oversize_items_report_line_and_length() {
        let long = "x".repeat(50);
        let data = format!("{{\"a\":1}}\n{long}\r\n{{\"b\":2}}\n");
        let items = split_items(data.as_bytes(), 20);
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].line, 2);
        assert_eq!(items[1].oversize, Some(50));
        assert_eq!(items[2].get(data.as_bytes()).bytes, b"{\"b\":2}");
    }

    #[test]
    fn any_chunking_gives_the_same_items() {
        let long = "y".repeat(40);
        let inputs: Vec<Vec<u8>> = vec![
            format!("\u{feff}{{\"a\":1}}\r\n\n{long}\r\n{{\"b\":\"\\\\\"}}\n{long}").into_bytes(),
            format!(
                "\u{feff}[\n {{\"p\": \"a]\\\"}}\\\\\"}},\n\"{long}\",\n {{\"q\":[[1],[2]]}}\n]\n{{\"z\":0}}"
            )
            .into_bytes(),
            b"[{\"a\":\"x\\".to_vec(),
            b"1\n2".to_vec(),
            // Exactly at the limit: a CR at the end of a read must not tip it over.
            format!("{}\r\n{}\r\n1", "z".repeat(30), "z".repeat(31)).into_bytes(),
            b"\xEF\xBB\xBF".to_vec(),
        ];
        for data in &inputs {
            let whole = split_stepwise(data, data.len(), 30);
            for step in 1..data.len() {
                assert_eq!(split_stepwise(data, step, 30), whole, "step {step}");
            }
        }
        let at_limit = split_stepwise(&inputs[4], 1, 30);
        assert_eq!(at_limit[0].2, None);
        assert_eq!(at_limit[1].2, Some(31));
        // The oversize items keep their line and length however they arrive.
        let whole = split_stepwise(&inputs[0], 1, 30);
        assert_eq!(whole[1], (3, Vec::new(), Some(40)));
        assert_eq!(whole[3], (5, Vec::new(), Some(40)));
        let whole = split_stepwise(&inputs[1], 1, 30);
        assert_eq!(whole[1], (3, Vec::new(), Some(42)));
        assert_eq!(whole[2].0, 4);
        assert_eq!(whole[3], (6, b"{\"z\":0}".to_vec(), None));
    }
}
