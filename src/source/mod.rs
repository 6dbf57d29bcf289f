//! Input sources: from the paths on the command line to batches of raw items (one record's bytes
//! each, with the line it starts on).
//!
//! NDJSON and JSON arrays are split as they are; CSV rows and Parquet rows are turned into JSON
//! objects ([`csv`], [`parquet`]), so every format meets the same record parser.
//!
//! [`discover`] expands the arguments into [`Input`]s; [`read_input`] decompresses one of them and
//! splits it into [`Batch`]es. Memory stays bounded however large a file or a line is: a batch owns
//! one buffer of about [`ReadOptions::batch_bytes`], and an item longer than
//! [`ReadOptions::max_record_bytes`] is skipped and reported as oversize instead of buffered.

mod compression;
pub mod csv;
pub mod parquet;
mod rows;
mod split;

pub use compression::{Compression, DecompressError, MAGIC_LEN, decompress_bounded, detect};
pub use split::{Format, Item, ItemRef, split_items};

use rows::RowBatcher;
use split::Splitter;
use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One input to scan: a file, or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The path as given (or as found under a given directory), or `-` for standard input.
    pub name: Arc<str>,
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    /// Size on disk, when known, for progress against raw bytes read.
    pub size: Option<u64>,
}

impl Input {
    pub fn stdin() -> Input {
        Input {
            name: Arc::from("-"),
            path: None,
            size: None,
        }
    }

    pub fn is_stdin(&self) -> bool {
        self.path.is_none()
    }
}

/// Why an input could not be found or read. Every variant names the input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    #[error(
        "{}: directory holds no log files (.ndjson, .jsonl, .json, .log or .csv, optionally .gz, .zst or .zstd; or .parquet)",
        dir.display()
    )]
    NoLogFiles { dir: PathBuf },
    #[error("-: standard input can be read only once")]
    StdinRepeated,
    #[error("{name}: {source}")]
    Io {
        name: Arc<str>,
        #[source]
        source: io::Error,
    },
    #[error("{name}: {} data is truncated or corrupt: {source}", compression.as_str())]
    Decompress {
        name: Arc<str>,
        compression: Compression,
        #[source]
        source: io::Error,
    },
    #[error("{name}: not a readable Parquet file: {source}")]
    Parquet {
        name: Arc<str>,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
}

impl SourceError {
    /// The input the error is about, as the user named it.
    pub fn input_name(&self) -> String {
        match self {
            SourceError::NotFound { path } => path.display().to_string(),
            SourceError::NoLogFiles { dir } => dir.display().to_string(),
            SourceError::StdinRepeated => "-".to_string(),
            SourceError::Io { name, .. }
            | SourceError::Decompress { name, .. }
            | SourceError::Parquet { name, .. } => name.to_string(),
        }
    }
}

fn path_name(path: &Path) -> Arc<str> {
    Arc::from(path.to_string_lossy().as_ref())
}

fn io_error(name: &Arc<str>, source: io::Error) -> SourceError {
    SourceError::Io {
        name: name.clone(),
        source,
    }
}

/// The name without a compression suffix (`.gz`, `.zst`, `.zstd`), lower-cased.
fn stem_of(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    [".gz", ".zst", ".zstd"]
        .iter()
        .find_map(|ext| lower.strip_suffix(ext))
        .map_or_else(|| lower.clone(), str::to_string)
}

fn has_ext(stem: &str, ext: &str) -> bool {
    stem.len() > ext.len() && stem.ends_with(ext)
}

/// Whether a file found in a directory is a log by its name: `.ndjson`, `.jsonl`, `.json`,
/// `.log` or `.csv`, optionally followed by `.gz`, `.zst` or `.zstd` (any case), or `.parquet`.
/// Hidden files are not.
pub fn is_log_file_name(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let stem = stem_of(name);
    [".ndjson", ".jsonl", ".json", ".log", ".csv"]
        .iter()
        .any(|ext| has_ext(&stem, ext))
        || has_ext(&name.to_ascii_lowercase(), ".parquet")
}

/// How an input's records are laid out, when it is not left to detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// By the name (`.csv`, `.parquet`), then by the content (the Parquet magic, a CSV header
    /// line); otherwise NDJSON or a JSON array.
    #[default]
    Auto,
    /// NDJSON or a JSON array.
    Json,
    Csv,
    Parquet,
}

impl Layout {
    /// The layout a file name claims, if any.
    pub fn from_name(name: &str) -> Layout {
        if has_ext(&name.to_ascii_lowercase(), ".parquet") {
            Layout::Parquet
        } else if has_ext(&stem_of(name), ".csv") {
            Layout::Csv
        } else {
            Layout::Auto
        }
    }
}

/// Expands command-line arguments into inputs, in order. Directories are walked recursively in
/// sorted order (hidden entries skipped, symlinked directories not followed, to rule out loops),
/// keeping files named like logs; a file named explicitly is always kept. `-` is standard input.
/// No arguments give no inputs: the caller decides whether that means standard input.
pub fn discover(args: &[PathBuf]) -> Result<Vec<Input>, SourceError> {
    let mut inputs = Vec::new();
    let mut seen_stdin = false;
    for arg in args {
        if arg.as_os_str() == "-" {
            if seen_stdin {
                return Err(SourceError::StdinRepeated);
            }
            seen_stdin = true;
            inputs.push(Input::stdin());
            continue;
        }
        let meta = fs::metadata(arg).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SourceError::NotFound { path: arg.clone() },
            _ => io_error(&path_name(arg), e),
        })?;
        if meta.is_dir() {
            let before = inputs.len();
            walk(arg, &mut inputs)?;
            if inputs.len() == before {
                return Err(SourceError::NoLogFiles { dir: arg.clone() });
            }
        } else {
            inputs.push(Input {
                name: path_name(arg),
                path: Some(arg.clone()),
                // Pipes and devices have no meaningful length.
                size: meta.is_file().then_some(meta.len()),
            });
        }
    }
    Ok(inputs)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>) -> Result<(), SourceError> {
    let dir_err = |e| io_error(&path_name(dir), e);
    let mut entries = fs::read_dir(dir)
        .map_err(dir_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(dir_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| io_error(&path_name(&path), e))?;
        if file_type.is_dir() {
            walk(&path, inputs)?;
            continue;
        }
        if !is_log_file_name(&file_name) {
            continue;
        }
        // Follows symlinks to files; a dangling link is reported when read, like any other file.
        let meta = fs::metadata(&path).ok();
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            continue;
        }
        let size = meta.filter(|m| m.is_file()).map(|m| m.len());
        inputs.push(Input {
            name: path_name(&path),
            path: Some(path),
            size,
        });
    }
    Ok(())
}

/// Limits for reading one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// An item longer than this is skipped and reported as oversize, never buffered whole.
    pub max_record_bytes: usize,
    /// Batches are handed out once their buffer holds about this many bytes.
    pub batch_bytes: usize,
    pub layout: Layout,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_record_bytes: 1 << 20,
            batch_bytes: 1 << 20,
            layout: Layout::Auto,
        }
    }
}

impl ReadOptions {
    /// The layout for the input called `name`: the one asked for, else the one its name claims.
    fn layout_for(&self, name: &str) -> Layout {
        match self.layout {
            Layout::Auto => Layout::from_name(name),
            l => l,
        }
    }
}

/// Caps both limits so every offset in a batch buffer fits the `u32` ranges of [`ItemRef`].
const MAX_LIMIT: usize = 1 << 30;
/// Largest single read into a batch buffer; big enough to amortise calls, small enough to stay
/// in cache while it is split.
const READ_CHUNK: usize = 256 << 10;
/// The first read's size; reads grow to [`READ_CHUNK`] while they come back full.
const FIRST_READ: usize = 16 << 10;
/// Bytes read ahead to tell a CSV header from JSON.
const SNIFF_BYTES: u64 = 4 << 10;

/// Items of one input, sharing one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Index of the input in the slice given to [`read_input`].
    pub input: usize,
    pub data: Vec<u8>,
    pub items: Vec<ItemRef>,
    /// Items rejected while reading (a CSV row with too few cells), by index into `items`, in
    /// order; their bytes are the raw row.
    pub reasons: Vec<(u32, String)>,
}

impl Batch {
    pub fn iter(&self) -> impl Iterator<Item = Item<'_>> {
        self.items.iter().map(|r| r.get(&self.data))
    }

    /// Every item with the reason it was rejected while reading, if it was.
    pub fn entries(&self) -> impl Iterator<Item = (Item<'_>, Option<&str>)> {
        let mut reasons = self.reasons.iter().peekable();
        self.iter().enumerate().map(move |(i, item)| {
            let reason = reasons
                .next_if(|(at, _)| *at as usize == i)
                .map(|(_, r)| r.as_str());
            (item, reason)
        })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What reading one input found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputSummary {
    /// Items handed out, oversize ones included.
    pub items: u64,
    pub bytes_decompressed: u64,
    pub format: Format,
    pub compression: Compression,
}

/// Reads `inputs[index]` to the end, handing out batches to `sink`; `sink` returning false stops
/// early (cancellation) with the summary so far. Raw (on-disk) bytes are added to `bytes_done` as
/// they are consumed.
pub fn read_input(
    inputs: &[Input],
    index: usize,
    opts: &ReadOptions,
    bytes_done: &AtomicU64,
    sink: &mut dyn FnMut(Batch) -> bool,
) -> Result<InputSummary, SourceError> {
    let input = &inputs[index];
    match &input.path {
        None => read_reader(
            io::stdin().lock(),
            index,
            &input.name,
            opts,
            bytes_done,
            sink,
        ),
        Some(path) => {
            let file = File::open(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => SourceError::NotFound { path: path.clone() },
                _ => io_error(&input.name, e),
            })?;
            if opts.layout_for(&input.name) == Layout::Parquet {
                // Parquet is read from its footer backwards, straight from the file.
                let summary = read_parquet(file, index, &input.name, opts, sink)?;
                bytes_done.fetch_add(input.size.unwrap_or(0), Ordering::Relaxed);
                return Ok(summary);
            }
            read_reader(file, index, &input.name, opts, bytes_done, sink)
        }
    }
}

/// Counts raw bytes for progress, and remembers whether the underlying reader failed so that an
/// I/O error is not mistaken for corrupt compressed data.
struct Counting<'a, R> {
    inner: R,
    done: &'a AtomicU64,
    failed: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.done.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed.set(true);
                }
                Err(e)
            }
        }
    }
}

/// Counts the bytes read through it.
struct Tally<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// [`read_input`] over any reader; `name` is used in errors and, when the data is too short for a
/// magic number, its extension decides the compression.
pub fn read_reader<R: Read>(
    reader: R,
    input: usize,
    name: &Arc<str>,
    opts: &ReadOptions,
    bytes_done: &AtomicU64,
    sink: &mut dyn FnMut(Batch) -> bool,
) -> Result<InputSummary, SourceError> {
    let failed = Rc::new(Cell::new(false));
    let mut raw = Counting {
        inner: reader,
        done: bytes_done,
        failed: failed.clone(),
    };
    let mut head = [0u8; MAGIC_LEN];
    let mut head_len = 0;
    while head_len < MAGIC_LEN {
        match raw.read(&mut head[head_len..]) {
            Ok(0) => break,
            Ok(n) => head_len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(name, e)),
        }
    }
    let compression = detect(&head[..head_len], Some(name));
    let classify = |source: io::Error| {
        if compression == Compression::None || failed.get() {
            io_error(name, source)
        } else {
            SourceError::Decompress {
                name: name.clone(),
                compression,
                source,
            }
        }
    };
    let mut src = io::Cursor::new(head).take(head_len as u64).chain(raw);
    let layout = opts.layout_for(name);
    if layout == Layout::Parquet
        || (layout == Layout::Auto && head[..head_len] == parquet::MAGIC[..])
    {
        // Not a file (standard input, or a file named otherwise): Parquet needs random access.
        let mut all = Vec::new();
        src.read_to_end(&mut all).map_err(|e| io_error(name, e))?;
        return read_parquet(::bytes::Bytes::from(all), input, name, opts, sink);
    }
    let mut dec = compression::decoder(src, compression).map_err(classify)?;
    // The first line decides between CSV and JSON; it is read ahead and handed back.
    let mut peek = Vec::new();
    if layout == Layout::Auto {
        (&mut dec)
            .take(SNIFF_BYTES)
            .read_to_end(&mut peek)
            .map_err(classify)?;
    }
    let is_csv = match layout {
        Layout::Csv => true,
        Layout::Auto => csv::looks_like_csv(&peek),
        _ => false,
    };
    let mut dec = io::Cursor::new(peek).chain(dec);
    if is_csv {
        let mut rows = RowBatcher::new(
            input,
            clamp(opts.max_record_bytes),
            clamp(opts.batch_bytes),
            sink,
        );
        let mut tally = Tally { inner: dec, n: 0 };
        let read = csv::read_csv(&mut tally, &mut rows);
        let items = rows.finish();
        read.map_err(classify)?;
        return Ok(InputSummary {
            items,
            bytes_decompressed: tally.n,
            format: Format::Csv,
            compression,
        });
    }

    let max = clamp(opts.max_record_bytes);
    let batch_bytes = clamp(opts.batch_bytes);
    let chunk = batch_bytes.min(READ_CHUNK);
    let capacity = batch_bytes + chunk;

    let mut summary = InputSummary {
        compression,
        ..InputSummary::default()
    };
    let mut splitter = Splitter::new(max);
    let mut data: Vec<u8> = Vec::with_capacity(capacity);
    // `data[..filled]` holds stream bytes; the rest of `data` is scratch, initialised once, that
    // the next read lands in. Zeroing only where the buffer grows keeps small reads cheap (a pipe
    // or a decoder delivering a few bytes a call): clearing a whole read window before every
    // read would cost up to 256 KiB of memset per call.
    let mut filled = 0usize;
    // Doubles up to `chunk` while reads fill it, so a small input never zeroes a large window.
    let mut window = chunk.min(FIRST_READ);
    // Invariant: `data[i]` is stream offset `base + i` for every unscanned byte and for the bytes
    // of a pending item that is kept.
    let mut base = 0u64;
    let mut scanned = 0usize;
    let mut items: Vec<ItemRef> = Vec::new();
    loop {
        if data.len() < filled + window {
            data.resize(filled + window, 0);
        }
        let n = loop {
            match dec.read(&mut data[filled..filled + window]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e)),
            }
        };
        if n == window {
            window = (window * 2).min(chunk);
        }
        filled += n;
        summary.bytes_decompressed += n as u64;
        let eof = n == 0;
        // A BOM can only be recognised once its three bytes are in.
        if !eof && base == 0 && scanned == 0 && filled < 3 {
            continue;
        }
        let from = scanned;
        let began_skip = splitter.scan(&data[..filled], from, base, &mut items);
        scanned = filled;
        if eof {
            splitter.finish(&data[..filled], base, &mut items);
            summary.format = splitter.format();
            if !items.is_empty() {
                summary.items += items.len() as u64;
                data.truncate(filled);
                sink(Batch {
                    input,
                    data,
                    items,
                    reasons: Vec::new(),
                });
            }
            return Ok(summary);
        }
        if splitter.skipping() {
            // Drop the skipped item's bytes; later reads land right after the kept ones, so
            // `base` moves to keep the invariant for what comes next.
            let cut = if began_skip {
                (splitter.skip_start() - base) as usize
            } else {
                from
            };
            let end = base + filled as u64;
            filled = cut;
            base = end - cut as u64;
            scanned = cut;
        }
        if filled >= batch_bytes {
            let keep = splitter
                .keep_from()
                .map_or(filled, |start| (start - base) as usize);
            if items.is_empty() {
                data.copy_within(keep..filled, 0);
                filled -= keep;
            } else {
                let mut next = Vec::with_capacity(capacity.max(filled - keep + chunk));
                next.extend_from_slice(&data[keep..filled]);
                data.truncate(keep);
                let full = std::mem::replace(&mut data, next);
                filled = data.len();
                summary.items += items.len() as u64;
                let batch = Batch {
                    input,
                    data: full,
                    items: std::mem::take(&mut items),
                    reasons: Vec::new(),
                };
                if !sink(batch) {
                    summary.format = splitter.format();
                    return Ok(summary);
                }
            }
            base += keep as u64;
            scanned = filled;
        }
    }
}

fn clamp(limit: usize) -> usize {
    limit.clamp(1, MAX_LIMIT)
}

fn read_parquet<R: ::parquet::file::reader::ChunkReader + 'static>(
    reader: R,
    input: usize,
    name: &Arc<str>,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Batch) -> bool,
) -> Result<InputSummary, SourceError> {
    let mut rows = RowBatcher::new(
        input,
        clamp(opts.max_record_bytes),
        clamp(opts.batch_bytes),
        sink,
    );
    let read = parquet::read_parquet(reader, &mut rows);
    let items = rows.finish();
    read.map_err(|source| SourceError::Parquet {
        name: name.clone(),
        source,
    })?;
    Ok(InputSummary {
        items,
        bytes_decompressed: 0,
        format: Format::Parquet,
        compression: Compression::None,
    })
}
