//! `POST /v1/logs` and `POST /v1/litellm` once the body is read: decompress, split, parse (a
//! LiteLLM payload or a mapped schema is converted to the contract's record first), drop what is
//! already stored, make the rest durable (in privacy mode, reduced to what the detector derives
//! from its text), then fold it into the engine. Runs on a blocking thread:
//! it is CPU work and it waits for the commit.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;

use axum::http::{HeaderMap, header};
use serde::Serialize;
use serde_json::json;
use tokio::sync::oneshot;
use xxhash_rust::xxh3::xxh3_64;

use super::App;
use super::error::ApiError;
use super::store::{Append, BatchBytes};
use crate::engine::Ingested;
use crate::features::TextFeatures;
use crate::record::{Converter, Record, Shape, reduced};
use crate::source::{self, Compression, DecompressError};

/// Media types of a body of records; `application/json` is an array (or one object), the others
/// one record per line. The layout itself is recognised from the data, as for files.
const MEDIA_TYPES: &[&str] = &[
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json",
];

/// Checks `Content-Type` (415 when it is not a body of records).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if MEDIA_TYPES.iter().any(|m| media.eq_ignore_ascii_case(m)) {
        Ok(())
    } else {
        Err(ApiError::unsupported(format!(
            "Content-Type {ct:?} is not supported: send application/x-ndjson or application/json"
        )))
    }
}

/// Reads `Content-Encoding` (415 for an unknown one). `None`: no header, so the body's magic
/// bytes decide, as they do for files.
pub fn content_encoding(headers: &HeaderMap) -> Result<Option<Compression>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(Some(Compression::None)),
        "gzip" | "x-gzip" => Ok(Some(Compression::Gzip)),
        "zstd" => Ok(Some(Compression::Zstd)),
        _ => Err(ApiError::unsupported(format!(
            "Content-Encoding {v:?} is not supported: send gzip, zstd or none"
        ))),
    }
}

/// Seconds a client waits before posting again after the log could not be written.
const STORAGE_RETRY_AFTER: u64 = 5;

/// A record that was not taken, by its position in the body.
#[derive(Debug, Clone, Serialize)]
pub struct RejectEntry {
    /// 0-based position of the record among the body's records.
    pub index: usize,
    /// 1-based line where it starts.
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestOutcome {
    /// New records, now durable and counted.
    pub accepted: u64,
    /// Records whose `request_id` was already stored (counted once).
    pub duplicates: u64,
    pub rejected: u64,
    pub rejects: Vec<RejectEntry>,
}

/// Everything a post does after its body is read. `shape` is `Auto` on `/v1/logs` (a body of
/// LiteLLM payloads is recognised by its first items) and `Litellm` on `/v1/litellm`.
pub fn ingest(
    app: &App,
    caller: &str,
    raw: &[u8],
    encoding: Option<Compression>,
    shape: Shape,
) -> Result<IngestOutcome, ApiError> {
    let cfg = &app.cfg;
    let compression =
        encoding.unwrap_or_else(|| source::detect(&raw[..raw.len().min(source::MAGIC_LEN)], None));
    let decompressed;
    let body: &[u8] = if compression == Compression::None && raw.len() <= cfg.max_decompressed_bytes
    {
        raw
    } else {
        decompressed =
            match source::decompress_bounded(raw, compression, cfg.max_decompressed_bytes) {
                Ok(b) => b,
                Err(DecompressError::TooLarge { limit }) => {
                    return Err(ApiError::too_large(format!(
                        "the decompressed body is over the limit of {limit} bytes"
                    )));
                }
                Err(e @ DecompressError::Corrupt(_)) => {
                    return Err(ApiError::bad_request(e.to_string()));
                }
            };
        &decompressed
    };

    // A commit reported as failed may have reached the disk: such batches are folded in first,
    // so that a retry of them is answered as duplicates instead of being stored twice.
    if app.forward().is_none() {
        app.fold_landed().map_err(|e| storage_refused(app, e))?;
    }
    let engine = app.engine();
    let cutoff = app.store.cutoff();
    let mut rejects = Vec::new();
    // In privacy mode each record comes with its text features and is stored without its text.
    let mut records: Vec<(Record<'_>, Option<TextFeatures>)> = Vec::new();
    let mut batch = BatchBytes::new();
    // Hashes, as the engine keeps them: no allocation per id.
    let mut in_body = HashSet::new();
    let mut duplicates = 0u64;
    let items = source::split_items(body, cfg.max_record_bytes);
    let convert = cfg.converter();
    let shape = Converter::resolve(
        shape,
        items
            .iter()
            .filter(|i| i.oversize.is_none())
            .map(|i| i.get(body).bytes),
    );
    // Contract records are parsed in place and stored as posted; converted ones are stored as
    // the contract records they became, so replay needs neither the payload reader nor the map.
    let in_place = shape == Shape::Contract && convert.map.is_empty();
    let mut scratch = Vec::new();
    let forward = app.forward();
    let mut outgoing = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item = item.get(body);
        let reject = |reason: String| RejectEntry {
            index,
            line: item.line,
            reason,
        };
        if let Some(len) = item.oversize {
            rejects.push(reject(format!(
                "record is {len} bytes, over the limit of {} bytes",
                cfg.max_record_bytes
            )));
            continue;
        }
        let parsed = if in_place {
            Record::parse(item.bytes)
        } else {
            convert
                .parse(item.bytes, shape, &mut scratch)
                .map(Record::into_owned)
        };
        let rec = match parsed {
            Ok(r) => r,
            Err(e) => {
                rejects.push(reject(e.0));
                continue;
            }
        };
        if rec.ts_ms < cutoff {
            rejects.push(reject(format!(
                "field `ts`: older than the time window, which starts at {}",
                crate::report::rfc3339(cutoff)
            )));
            continue;
        }
        // In Kafka mode every record goes on: the partition owners drop and count duplicates,
        // so that the report counts them as a scan of the same records would.
        if let Some(id) = rec.request_id.as_deref()
            && forward.is_none()
            && (engine.has_request(id) || !in_body.insert(xxh3_64(id.as_bytes())))
        {
            duplicates += 1;
            continue;
        }
        let stored = if in_place { item.bytes } else { &scratch };
        if forward.is_some() {
            // Privacy mode holds for the logs topic too: what is produced has no prompt text.
            let value = if cfg.privacy_mode {
                reduced::encode(&rec, &engine.text_features(&rec))
            } else {
                stored.to_vec()
            };
            outgoing.push((rec.account_id.to_string(), value));
        } else if cfg.privacy_mode {
            let text = engine.text_features(&rec);
            batch.push(&reduced::encode(&rec, &text), rec.ts_ms);
            records.push((rec, Some(text)));
        } else {
            batch.push(stored, rec.ts_ms);
            records.push((rec, None));
        }
    }
    let rejected = rejects.len() as u64;
    app.metrics.records_rejected.fetch_add(rejected, Relaxed);
    if records.is_empty() && outgoing.is_empty() && duplicates == 0 {
        let why = if items.is_empty() {
            "the body holds no records"
        } else {
            "no record in the body is usable"
        };
        return Err(ApiError::bad_request(why).with(json!({
            "accepted": 0, "duplicates": 0, "rejected": rejected, "rejects": rejects,
        })));
    }

    let m = &app.metrics;
    let taken = if forward.is_some() {
        outgoing.len() as u64
    } else {
        u64::from(batch.records())
    };
    if taken > 0
        && let Err(secs) = app.rate.take(caller, taken)
    {
        m.batches_refused_rate.fetch_add(1, Relaxed);
        return Err(ApiError::too_many(
            format!(
                "this token may ingest {} records a second",
                app.cfg.ingest_rate_limit
            ),
            secs,
        ));
    }
    let accepted = match forward {
        // The partition owners count them; duplicates of earlier posts are dropped there.
        Some(forward) => {
            forward.send(&outgoing).map_err(|e| {
                ApiError::unavailable(format!("the records were not stored: {e}"), 1)
            })?;
            outgoing.len() as u64
        }
        None => {
            if batch.records() > 0 {
                commit(app, batch)?;
            }
            // Durable now; a concurrent post may have stored the same request_id meanwhile,
            // and the engine counts it once.
            let mut accepted = 0u64;
            for (rec, text) in &records {
                let ingested = match text {
                    Some(text) => engine.ingest_with(rec, *text),
                    None => engine.ingest(rec),
                };
                match ingested {
                    Ingested::New => accepted += 1,
                    Ingested::Duplicate => duplicates += 1,
                }
            }
            app.folded();
            accepted
        }
    };
    m.records_accepted.fetch_add(accepted, Relaxed);
    m.records_duplicate.fetch_add(duplicates, Relaxed);
    m.batches_accepted.fetch_add(1, Relaxed);
    Ok(IngestOutcome {
        accepted,
        duplicates,
        rejected,
        rejects,
    })
}

/// Makes `batch` durable: returns once the log writer has committed it.
fn commit(app: &App, batch: BatchBytes) -> Result<(), ApiError> {
    let (done, wait) = oneshot::channel();
    app.send_to_writer(Append { batch, done })?;
    match wait.blocking_recv() {
        Ok(Ok(())) => Ok(()),
        // Disk full, read-only or failing: nothing was acknowledged, and the log is opened
        // again on the next batch, so a later retry can succeed.
        Ok(Err(e)) => Err(storage_refused(app, e)),
        Err(_) => Err(ApiError::internal("the log writer stopped")),
    }
}

/// The answer to a post when the log cannot be written: 503, to be retried.
fn storage_refused(app: &App, e: impl std::fmt::Display) -> ApiError {
    app.metrics.batches_refused_storage.fetch_add(1, Relaxed);
    ApiError::unavailable(
        format!("the batch was not stored: {e}"),
        STORAGE_RETRY_AFTER,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::serve::auth::Tokens;
    use crate::serve::config::Config;
    use crate::serve::decisions::Decisions;
    use crate::serve::store::{Store, spawn_writer};

    fn body(ids: &[&str]) -> Vec<u8> {
        ids.iter()
            .map(|id| {
                format!("{{\"ts\":1772409600,\"account_id\":\"a\",\"request_id\":\"{id}\"}}\n")
            })
            .collect::<String>()
            .into_bytes()
    }

    /// Every record the log holds, by request_id.
    fn stored(store: &Store) -> Vec<String> {
        let mut ids = Vec::new();
        store
            .replay(None, |r| {
                ids.push(Record::parse(r).unwrap().request_id.unwrap().to_string())
            })
            .unwrap();
        ids
    }

    #[test]
    fn a_retry_of_a_batch_whose_failed_commit_reached_the_disk_is_not_stored_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let decisions = Decisions::load(&store).unwrap();
        let (writer, _thread) = spawn_writer(store.clone(), 4);
        let app = App::new(
            Config::default(),
            Tokens::new(&[]),
            store.clone(),
            decisions,
            writer,
        );
        let post = |ids: &[&str]| ingest(&app, "shipper", &body(ids), None, Shape::Auto);

        assert_eq!(post(&["r1", "r2"]).unwrap().accepted, 2);
        // The commit reaches the disk and reports failure: 503, nothing in the state.
        store.fail_after_commit.store(true, Ordering::Release);
        let refused = post(&["r3", "r4"]).unwrap_err();
        assert_eq!(refused.status, 503);
        assert_eq!(refused.retry_after, Some(STORAGE_RETRY_AFTER));
        assert!(!app.engine().has_request("r3"));

        // The shipper retries: the records are found stored, counted once, not stored again.
        let retried = post(&["r3", "r4"]).unwrap();
        assert_eq!((retried.accepted, retried.duplicates), (0, 2));
        assert!(app.engine().has_request("r4"));
        assert_eq!(app.engine().accepted(), 4);
        let r5 = post(&["r4", "r5"]).unwrap();
        assert_eq!((r5.accepted, r5.duplicates), (1, 1));
        assert_eq!(stored(&store), ["r1", "r2", "r3", "r4", "r5"]);
    }
}
