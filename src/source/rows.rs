//! Batches built one row at a time, for tabular inputs (CSV, Parquet) whose rows are turned into
//! JSON objects so that every format goes through the same record parser.

use super::{Batch, ItemRef};

/// Collects rows as JSON items into batch buffers of about `batch_bytes`.
pub(crate) struct RowBatcher<'s> {
    input: usize,
    max: usize,
    batch_bytes: usize,
    data: Vec<u8>,
    items: Vec<ItemRef>,
    reasons: Vec<(u32, String)>,
    /// Rows handed out so far.
    pub(crate) rows: u64,
    sink: &'s mut dyn FnMut(Batch) -> bool,
    stopped: bool,
}

impl<'s> RowBatcher<'s> {
    pub(crate) fn new(
        input: usize,
        max_record_bytes: usize,
        batch_bytes: usize,
        sink: &'s mut dyn FnMut(Batch) -> bool,
    ) -> Self {
        RowBatcher {
            input,
            max: max_record_bytes,
            batch_bytes,
            data: Vec::with_capacity(batch_bytes + 4096),
            items: Vec::new(),
            reasons: Vec::new(),
            rows: 0,
            sink,
            stopped: false,
        }
    }

    /// Adds one row whose JSON `write` appends to the buffer; a row longer than the limit is
    /// kept as an oversize item. Returns false once the sink asked to stop.
    pub(crate) fn push(&mut self, line: u64, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        let start = self.data.len();
        write(&mut self.data);
        let len = self.data.len() - start;
        let item = if len > self.max {
            self.data.truncate(start);
            ItemRef {
                line,
                start: start as u32,
                end: start as u32,
                oversize: Some(len as u64),
            }
        } else {
            ItemRef {
                line,
                start: start as u32,
                end: self.data.len() as u32,
                oversize: None,
            }
        };
        self.items.push(item);
        self.after_push()
    }

    /// Adds a row that is rejected already (a CSV row with the wrong number of cells): `raw` is
    /// kept for the reject's excerpt.
    pub(crate) fn push_rejected(&mut self, line: u64, raw: &[u8], reason: String) -> bool {
        let raw = &raw[..raw.len().min(512)];
        let start = self.data.len();
        self.data.extend_from_slice(raw);
        self.reasons.push((self.items.len() as u32, reason));
        self.items.push(ItemRef {
            line,
            start: start as u32,
            end: self.data.len() as u32,
            oversize: None,
        });
        self.after_push()
    }

    fn after_push(&mut self) -> bool {
        self.rows += 1;
        if self.data.len() >= self.batch_bytes {
            self.flush();
        }
        !self.stopped
    }

    fn flush(&mut self) {
        if self.items.is_empty() || self.stopped {
            return;
        }
        let batch = Batch {
            input: self.input,
            data: std::mem::replace(&mut self.data, Vec::with_capacity(self.batch_bytes + 4096)),
            items: std::mem::take(&mut self.items),
            reasons: std::mem::take(&mut self.reasons),
        };
        self.stopped = !(self.sink)(batch);
    }

    /// Hands out the last batch; returns the number of rows.
    pub(crate) fn finish(mut self) -> u64 {
        self.flush();
        self.rows
    }
}
