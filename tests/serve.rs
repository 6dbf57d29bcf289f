//! Runs the real `distillguard serve` on an ephemeral port and talks to it over HTTP: every
//! status the ingest route gives, scopes, parity with `scan`, the time window, and a crash
//! (SIGKILL) during concurrent ingest followed by a restart.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

mod common;

use common::{Server, clusters_of, detect, fixture, get_json, post_ndjson, raw_request, scan_json};

const INGEST: &str = "ingest-token-1";
const READ: &str = "read-token-22";
const ADMIN: &str = "admin-token-333";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_logs(
    c: &reqwest::Client,
    s: &Server,
    token: Option<&str>,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = c
        .post(s.url("/v1/logs"))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.expect("post");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `n` valid records with ids `{prefix}-{i}`, each about `pad` bytes of prompt.
fn records(prefix: &str, n: usize, pad: usize, ts: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        writeln!(
            out,
            r#"{{"ts":{},"account_id":"acct-{}","request_id":"{prefix}-{i}","prompt":"please explain step by step {}"}}"#,
            ts + i as i64,
            i % 7,
            "x".repeat(pad)
        )
        .unwrap();
    }
    out
}

/// The `index` of every reject in an answer of `POST /v1/logs`.
fn reject_indices(out: &Value) -> Vec<u64> {
    out["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect()
}

fn auth_env() -> Vec<(&'static str, String)> {
    vec![(
        "DISTILLGUARD_TOKENS",
        format!("{INGEST}:ingest,{READ}:read,{ADMIN}:admin"),
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_status_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = auth_env();
    env.push(("DISTILLGUARD_MAX_BODY_BYTES", "64KiB".into()));
    env.push(("DISTILLGUARD_MAX_DECOMPRESSED_BYTES", "256KiB".into()));
    env.push(("DISTILLGUARD_MAX_INFLIGHT_BATCHES", "1".into()));
    env.push(("DISTILLGUARD_BODY_TIMEOUT", "500ms".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(dir.path(), &env);
    let c = client();
    let nd = "application/x-ndjson";

    // Public routes, and the description of every route.
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    let (st, doc) = get_json(&c, &s, "/openapi.json", None).await;
    assert_eq!(st, 200);
    for p in [
        "/v1/logs",
        "/v1/clusters",
        "/v1/clusters/{id}",
        "/v1/accounts/{id}",
        "/v1/stats",
        "/metrics",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from /openapi.json"
        );
    }
    assert_eq!(get_json(&c, &s, "/nowhere", None).await.0, 404);

    let mixed = std::fs::read(fixture("mixed.ndjson")).unwrap();
    // 401 without a token or with an unknown one; 403 with the wrong scope.
    let (st, h, _) = post_logs(&c, &s, None, nd, None, mixed.clone()).await;
    assert_eq!(st, 401);
    assert!(h.get("www-authenticate").is_some());
    assert_eq!(
        post_logs(&c, &s, Some("not-a-token"), nd, None, mixed.clone())
            .await
            .0,
        401
    );
    assert_eq!(
        post_logs(&c, &s, Some(READ), nd, None, mixed.clone())
            .await
            .0,
        403
    );

    // 415: not a body of records, or an unknown encoding.
    assert_eq!(
        post_logs(&c, &s, Some(INGEST), "text/plain", None, mixed.clone())
            .await
            .0,
        415
    );
    assert_eq!(
        post_logs(&c, &s, Some(INGEST), nd, Some("br"), mixed.clone())
            .await
            .0,
        415
    );

    // 200: the good records are kept beside the bad ones, each reject with its index and reason.
    let (st, _, out) = post_logs(&c, &s, Some(INGEST), nd, None, mixed.clone()).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(
        (
            out["accepted"].as_u64(),
            out["duplicates"].as_u64(),
            out["rejected"].as_u64()
        ),
        (Some(4), Some(1), Some(4))
    );
    assert_eq!(reject_indices(&out), [2, 4, 5, 7]);
    assert!(
        out["rejects"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("prompt_tokens")
    );
    // The same body again: every record is a duplicate (the bad ones are still rejected).
    let (st, _, out) = post_logs(&c, &s, Some(INGEST), nd, None, mixed.clone()).await;
    assert_eq!(
        (
            st.as_u16(),
            out["accepted"].as_u64(),
            out["duplicates"].as_u64()
        ),
        (200, Some(0), Some(5))
    );
    // A JSON array, gzip-compressed, through the admin scope.
    let array = gzip(&std::fs::read(fixture("array.json")).unwrap());
    let (st, _, out) =
        post_logs(&c, &s, Some(ADMIN), "application/json", Some("gzip"), array).await;
    assert_eq!(st, 200, "{out}");
    assert!(
        out["accepted"].as_u64().unwrap() > 0 && out["rejected"].as_u64() == Some(1),
        "{out}"
    );
    let zst = zstd::encode_all(&records("z", 10, 10, 1_772_500_000)[..], 3).unwrap();
    let (st, _, out) = post_logs(&c, &s, Some(INGEST), nd, Some("zstd"), zst).await;
    assert_eq!((st.as_u16(), out["accepted"].as_u64()), (200, Some(10)));

    // 400: nothing usable.
    let (st, _, out) = post_logs(
        &c,
        &s,
        Some(INGEST),
        nd,
        None,
        b"not json\n{\"ts\":1}\n".to_vec(),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(out["rejects"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(
        post_logs(&c, &s, Some(INGEST), nd, None, Vec::new())
            .await
            .0,
        400
    );
    let mut broken = gzip(&mixed);
    broken.truncate(broken.len() - 8);
    assert_eq!(
        post_logs(&c, &s, Some(INGEST), nd, Some("gzip"), broken)
            .await
            .0,
        400
    );

    // 413: the body over its limit (declared, and chunked with no length), and a small body
    // that decompresses over its own limit.
    let big = records("big", 400, 200, 1_772_500_000);
    assert!(big.len() > 64 << 10);
    assert_eq!(
        post_logs(&c, &s, Some(INGEST), nd, None, big.clone())
            .await
            .0,
        413
    );
    let host = s.url.strip_prefix("http://").unwrap().to_string();
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST}\r\nContent-Type: {nd}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut chunked = Vec::new();
    for part in big.chunks(8192) {
        write!(chunked, "{:x}\r\n", part.len()).unwrap();
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let status = tokio::task::spawn_blocking(move || raw_request(&host, &head, &chunked))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 413);
    // 408: a body that stops arriving.
    let host = s.url.strip_prefix("http://").unwrap().to_string();
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST}\r\nContent-Type: {nd}\r\nContent-Length: 1000\r\n\r\n"
    );
    let status = tokio::task::spawn_blocking(move || raw_request(&host, &head, b"{\"ts\":"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 408);
    // Compression bombs, gzip and zstd, declared or recognised by their magic bytes.
    let bombs = [
        ("gzip", gzip(&vec![b' '; 64 << 20])),
        (
            "zstd",
            zstd::encode_all(&vec![b' '; 64 << 20][..], 19).unwrap(),
        ),
    ];
    for (encoding, bomb) in bombs {
        assert!(bomb.len() < 64 << 10, "{encoding}: {}", bomb.len());
        for declared in [Some(encoding), None] {
            let (st, _, out) = post_logs(&c, &s, Some(INGEST), nd, declared, bomb.clone()).await;
            assert_eq!(st, 413, "{encoding} {declared:?}");
            assert!(
                out["error"].as_str().unwrap().contains("decompressed"),
                "{out}"
            );
        }
    }

    // 503 with Retry-After when more posts arrive than may be in flight (one, here).
    let mut saw_busy = false;
    for round in 0..10 {
        let posts: Vec<_> = (0..16)
            .map(|i| {
                let (c, url) = (c.clone(), s.url("/v1/logs"));
                let body = records(&format!("busy{round}-{i}"), 120, 300, 1_772_500_000);
                tokio::spawn(async move {
                    let r = c
                        .post(url)
                        .bearer_auth(INGEST)
                        .header("content-type", "application/x-ndjson")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    (r.status(), r.headers().get("retry-after").is_some())
                })
            })
            .collect();
        for p in posts {
            let (st, retry_after) = p.await.unwrap();
            assert!(st == 200 || st == 503, "{st}");
            if st == 503 {
                assert!(retry_after, "503 without Retry-After");
                saw_busy = true;
            }
        }
        if saw_busy {
            break;
        }
    }
    assert!(saw_busy, "no post was refused with one allowed in flight");

    // Reading: scopes, and prompt text only with the read scope.
    assert_eq!(detect(&c, &s, Some(INGEST)).await, 403);
    assert_eq!(detect(&c, &s, Some(READ)).await, 200);
    assert_eq!(get_json(&c, &s, "/v1/clusters", None).await.0, 401);
    assert_eq!(get_json(&c, &s, "/v1/clusters", Some(INGEST)).await.0, 403);
    let (st, page) = get_json(&c, &s, "/v1/clusters?min_score=0&limit=1", Some(READ)).await;
    assert_eq!(st, 200);
    assert!(
        page["page"]["total"].is_u64() && page["stats"]["records_accepted"].as_u64() > Some(0),
        "{page}"
    );
    assert_eq!(
        get_json(&c, &s, "/v1/clusters?limit=x", Some(READ)).await.0,
        400
    );
    assert_eq!(
        get_json(&c, &s, "/v1/clusters/dg-nothing", Some(READ))
            .await
            .0,
        404
    );
    let (st, acct) = get_json(&c, &s, "/v1/accounts/alice", Some(READ)).await;
    assert_eq!(st, 200);
    assert!(acct["requests"].as_u64() >= Some(2), "{acct}");
    assert!(!acct["examples"].as_array().unwrap().is_empty(), "{acct}");
    let (st, acct) = get_json(&c, &s, "/v1/accounts/alice", Some(ADMIN)).await;
    assert_eq!(st, 200);
    assert!(
        acct["examples"].as_array().unwrap().is_empty(),
        "admin sees no prompt text: {acct}"
    );
    assert_eq!(
        get_json(&c, &s, "/v1/accounts/nobody", Some(READ)).await.0,
        404
    );
    let (st, stats) = get_json(&c, &s, "/v1/stats", Some(READ)).await;
    assert_eq!(st, 200);
    assert!(stats["since_start"]["busy"].as_u64() > Some(0), "{stats}");

    let m = c
        .get(s.url("/metrics"))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), 403);
    let m = c
        .get(s.url("/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), 200);
    let text = m.text().await.unwrap();
    for name in [
        "distillguard_records_ingested_total",
        "distillguard_records_rejected_total",
        "distillguard_records_duplicate_total",
        "distillguard_store_bytes",
        "distillguard_detection_runs_total",
        "distillguard_detection_duration_seconds_bucket",
        "distillguard_clusters{score_band=",
        "distillguard_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/logs\"",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

/// Runs `serve` expecting it to stop with status 2; returns its output and standard error.
fn serve_fails(data_dir: &Path, listen: &str) -> (std::process::Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, err)
}

#[test]
fn refuses_to_serve_the_network_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = serve_fails(dir.path(), "0.0.0.0:0");
    assert!(err.contains("insecure_no_auth"), "{err}");
    assert!(out.stdout.is_empty(), "it never listened");
}

#[test]
fn a_log_that_cannot_be_replayed_stops_the_service() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A batch whose record length points past its end.
        let db = redb::Database::create(dir.path().join("log.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut log = txn
                .open_table(redb::TableDefinition::<u64, &[u8]>::new("log"))
                .unwrap();
            let mut bad = 0i64.to_le_bytes().to_vec();
            bad.extend_from_slice(&100u32.to_le_bytes());
            bad.extend_from_slice(b"{}");
            log.insert(0, bad.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let (_, err) = serve_fails(dir.path(), "127.0.0.1:0");
    assert!(
        err.contains("cannot replay the log") && err.contains("corrupt"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posting_gives_the_clusters_of_scan() {
    let sample = fixture("sample.ndjson.gz");
    let expected = clusters_of(&scan_json(&sample, &[]));
    assert!(!expected.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("DISTILLGUARD_DETECT_INTERVAL", "200ms")]);
    let c = client();
    // In four concurrent posts of interleaved lines: order must not matter.
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&sample).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let mut parts = vec![Vec::new(); 4];
    for (i, line) in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        parts[i % 4].extend_from_slice(line);
        parts[i % 4].push(b'\n');
    }
    let posts: Vec<_> = parts
        .into_iter()
        .map(|body| {
            let (c, url) = (c.clone(), s.url("/v1/logs"));
            tokio::spawn(async move {
                let r = c
                    .post(url)
                    .header("content-type", "application/x-ndjson")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json_value().await;
                v["accepted"].as_u64().unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for p in posts {
        accepted += p.await.unwrap();
    }
    assert_eq!(accepted, 3592);

    // Detection runs by itself on its interval.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, page) = get_json(&c, &s, "/v1/clusters?limit=1000", None).await;
        if clusters_of(&page) == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the timer did not find the clusters: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And on demand, after a restart (the state comes back from the log).
    let s = s.restart();
    assert_eq!(detect(&c, &s, None).await, 200);
    let (_, page) = get_json(&c, &s, "/v1/clusters?limit=1000&min_score=0.5", None).await;
    assert_eq!(clusters_of(&page), expected);
    let id = expected.keys().next().unwrap();
    let (st, cluster) = get_json(&c, &s, &format!("/v1/clusters/{id}"), None).await;
    assert_eq!(st, 200);
    assert!(!cluster["examples"].as_array().unwrap().is_empty());
    let member = cluster["accounts"][0].as_str().unwrap();
    let (_, acct) = get_json(&c, &s, &format!("/v1/accounts/{member}"), None).await;
    assert_eq!(acct["cluster"]["id"].as_str(), Some(id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_loads_the_snapshot_and_replays_only_the_log_after_it() {
    let sample = fixture("sample.ndjson.gz");
    let expected = clusters_of(&scan_json(&sample, &[]));
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&sample).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let (first, second) = lines.split_at(2000);
    let body = |part: &[&[u8]]| {
        part.iter()
            .flat_map(|l| [*l, b"\n"])
            .flatten()
            .copied()
            .collect::<Vec<u8>>()
    };

    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let c = client();
    let (st, _, _) = post_logs(&c, &s, None, "application/x-ndjson", None, body(first)).await;
    assert_eq!(st, 200);
    let r = c.post(s.url("/v1/admin/snapshot")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let taken: Value = r.json_value().await;
    assert_eq!(taken["batch"], 0, "{taken}");
    assert!(taken["bytes"].as_u64().unwrap() > 1000, "{taken}");
    let (st, _, out) = post_logs(&c, &s, None, "application/x-ndjson", None, body(second)).await;
    assert_eq!(st, 200);
    // Duplicates are not written to the log: only the accepted records come back.
    let after = out["accepted"].as_u64().unwrap();

    // Killed: no snapshot at exit. The start loads the one taken and replays the second post.
    let s = s.restart();
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    let restored = &stats["snapshot"]["restored_at_start"];
    assert_eq!(restored["from_snapshot"], true, "{stats}");
    assert_eq!(restored["snapshot_batch"], 0, "{stats}");
    assert_eq!(
        restored["records_replayed"].as_u64(),
        Some(after),
        "{stats}"
    );
    assert_eq!(stats["records_accepted"], 3592, "{stats}");
    assert_eq!(detect(&c, &s, None).await, 200);
    let (_, page) = get_json(&c, &s, "/v1/clusters?limit=1000", None).await;
    assert_eq!(clusters_of(&page), expected);
    // Request ids from before the snapshot are still known.
    let (_, _, again) = post_logs(
        &c,
        &s,
        None,
        "application/x-ndjson",
        None,
        body(&first[..10]),
    )
    .await;
    assert_eq!(again["duplicates"], 10, "{again}");
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_window_bounds_what_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("DISTILLGUARD_WINDOW", "6h")]);
    let c = client();
    let day = 86_400;
    let t0 = 1_772_409_600; // 2026-03-02T00:00:00Z
    let nd = "application/x-ndjson";
    for (prefix, t) in [("d1", t0), ("d2", t0 + day), ("d3", t0 + 3 * day)] {
        let (st, _, _) = post_logs(&c, &s, None, nd, None, records(prefix, 50, 10, t)).await;
        assert_eq!(st, 200);
    }
    let r = c.post(s.url("/v1/admin/compact")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let out = r.json_value().await;
    assert_eq!(out["batches_removed"].as_u64(), Some(2), "{out}");
    assert_eq!(out["records_in_window"].as_u64(), Some(50));
    // Older than the window: refused, with the reason.
    let (st, _, out) = post_logs(&c, &s, None, nd, None, records("old", 1, 10, t0)).await;
    assert_eq!(st, 400);
    assert!(
        out["rejects"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("window"),
        "{out}"
    );
    let s = s.restart();
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(stats["records_accepted"].as_u64(), Some(50), "{stats}");
    assert_eq!(stats["log"]["batches"].as_u64(), Some(1), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_during_concurrent_posts_loses_nothing_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    // A window of 6 of the 30 simulated hours: compactions have batches to remove from the
    // seventh hour on, through most of the posting (with a day, only its last five hours).
    let s = Server::start(dir.path(), &[("DISTILLGUARD_WINDOW", "6h")]);
    let c = client();
    let t0: i64 = 1_772_409_600;
    const BATCHES: i64 = 30;
    // Each client posts one batch per simulated hour, so the window keeps moving.
    let clients: Vec<_> = (0..4)
        .map(|k| {
            let (c, url) = (c.clone(), s.url("/v1/logs"));
            tokio::spawn(async move {
                let mut kept: Vec<i64> = Vec::new();
                for b in 0..BATCHES {
                    let ts = t0 + b * 3600 + k;
                    let body = records(&format!("w{k}-{b}"), 40, 10, ts);
                    let out = loop {
                        let r = post_ndjson(&c, &url, body.clone()).await.unwrap();
                        match r.status().as_u16() {
                            200 | 400 => break r.json_value().await,
                            503 => tokio::time::sleep(Duration::from_millis(5)).await,
                            st => panic!("{st}"),
                        }
                    };
                    let rejected = reject_indices(&out);
                    kept.extend(
                        (0..40)
                            .filter(|i| !rejected.contains(i))
                            .map(|i| ts + i as i64),
                    );
                    // Paced, so that posting lasts long enough for compactions to overlap it
                    // once the window has moved (unpaced, the posts could all be done first).
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                kept
            })
        })
        .collect();
    let mut compactions = 0;
    while !clients.iter().all(|c| c.is_finished()) {
        let r = c.post(s.url("/v1/admin/compact")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        if r.json_value().await["batches_removed"].as_u64() > Some(0) {
            compactions += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut kept = Vec::new();
    for cl in clients {
        kept.extend(cl.await.unwrap());
    }
    let r = c.post(s.url("/v1/admin/compact")).send().await.unwrap();
    let out = r.json_value().await;
    let cutoff =
        distillguard::record::parse_rfc3339_ms(out["cutoff"].as_str().unwrap()).unwrap() / 1000;
    let expected = kept.iter().filter(|&&ts| ts >= cutoff).count() as u64;
    assert!(compactions > 0, "no compaction ran during the posts");
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(
        stats["records_accepted"].as_u64(),
        Some(expected),
        "{stats}"
    );
    let s = s.restart();
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(
        stats["records_accepted"].as_u64(),
        Some(expected),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_a_crash_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let c = client();
    const BATCH: usize = 100;
    // Every batch sent, and whether it was acknowledged.
    type Sent = Vec<(Vec<u8>, bool)>;
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..6)
        .map(|k| {
            let (c, url, sent, stop) = (c.clone(), s.url("/v1/logs"), sent.clone(), stop.clone());
            tokio::spawn(async move {
                let mut b = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = records(&format!("c{k}-b{b}"), BATCH, 50, 1_772_409_600 + b);
                    b += 1;
                    let r = post_ndjson(&c, &url, body.clone()).await;
                    let acked = matches!(&r, Ok(r) if r.status() == 200);
                    if let Ok(r) = &r {
                        assert!(r.status() == 200 || r.status() == 503, "{}", r.status());
                    }
                    sent.lock().unwrap().push((body, acked));
                    if r.is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    // Kill while posts are in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent.lock().unwrap().iter().filter(|(_, a)| *a).count() < 40 {
        assert!(Instant::now() < deadline, "too few posts acknowledged");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s = s.restart(); // SIGKILL, then start on the same data directory.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for cl in clients {
        cl.await.unwrap();
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let acked = sent.iter().filter(|(_, a)| *a).count();
    assert!(acked >= 40);

    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    let recovered = stats["records_accepted"].as_u64().unwrap() as usize;
    assert!(
        recovered >= acked * BATCH,
        "{recovered} records back, {acked} batches acknowledged"
    );
    assert!(recovered <= sent.len() * BATCH);
    // Every acknowledged record is there: posted again, all are duplicates.
    for (body, _) in sent.iter().filter(|(_, a)| *a) {
        let (st, _, out) =
            post_logs(&c, &s, None, "application/x-ndjson", None, body.clone()).await;
        assert_eq!(st, 200, "{out}");
        assert_eq!(out["duplicates"].as_u64(), Some(BATCH as u64), "{out}");
    }
    // And none is counted twice: with everything posted again, each record counts once.
    for (body, _) in sent.iter().filter(|(_, a)| !*a) {
        assert_eq!(
            post_logs(&c, &s, None, "application/x-ndjson", None, body.clone())
                .await
                .0,
            200
        );
    }
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(
        stats["records_accepted"].as_u64(),
        Some((sent.len() * BATCH) as u64),
        "{stats}"
    );

    // SIGTERM: the server stops cleanly, and the state is the same after it.
    let mut s = s;
    let status = s.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let s = Server::start(&s.data_dir.clone(), &[]);
    let (_, again) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(again["records_accepted"], stats["records_accepted"]);
    // A clean stop leaves a snapshot of everything: nothing is replayed.
    let restored = &again["snapshot"]["restored_at_start"];
    assert_eq!(restored["from_snapshot"], true, "{again}");
    assert_eq!(restored["records_replayed"], 0, "{again}");
}
