//! Scan and serve give the same report: simulated traffic from random seeds, sizes and spans,
//! scanned from a file and posted to the running service in several bodies (some gzipped), gives
//! the same clusters (ids, members, scores) both ways. Each case starts the service on a fresh
//! data directory. `PROPTEST_CASES` raises the number of cases (default 3; each takes seconds).

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::{Clusters, Server, clusters_of, scan_json};
use distillguard::sim::{SimConfig, generate};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

fn scan(path: &Path) -> Clusters {
    clusters_of(&scan_json(path, &[]))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Posts the lines in `parts` bodies (line i to body i % parts) and asks for detection.
fn serve(lines: &[&[u8]], parts: usize, gzipped: bool) -> Clusters {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut accepted = 0;
        for p in 0..parts {
            let mut body = Vec::new();
            for line in lines.iter().skip(p).step_by(parts) {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            let mut req = c
                .post(server.url("/v1/logs"))
                .header("content-type", "application/x-ndjson");
            if gzipped && p % 2 == 0 {
                req = req.header("content-encoding", "gzip");
                body = gzip(&body);
            }
            let resp = req.body(body).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
            accepted += v["accepted"].as_u64().unwrap() + v["duplicates"].as_u64().unwrap();
        }
        assert_eq!(accepted, lines.len() as u64, "every line posted was taken");
        assert_eq!(common::detect(&c, &server, None).await, 200);
        let (status, page) = common::get_json(&c, &server, "/v1/clusters?limit=1000", None).await;
        assert_eq!(status, 200);
        clusters_of(&page)
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn scan_and_serve_give_the_same_clusters(
        seed in any::<u64>(),
        scale in 0.3f64..1.0,
        days in 1u32..=2,
        variation in 0.0f64..0.5,
        parts in 1usize..=4,
        gzipped in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig { scale, days, variation, ..SimConfig::sample(seed) };
        generate(&cfg, dir.path()).unwrap();
        let logs = dir.path().join("logs.ndjson.gz");
        let scanned = scan(&logs);

        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&logs).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let served = serve(&lines, parts, gzipped);
        prop_assert_eq!(served, scanned);
    }
}
