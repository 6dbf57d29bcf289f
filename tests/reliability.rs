//! The service under crashes and failing disks: cycles of SIGKILL during concurrent ingest; a
//! real full filesystem (a small tmpfs) and an ext4 the kernel turns read-only under the data
//! directory. The disk tests need root to mount; without it they say why and pass without
//! running.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{Server, get_json};

/// A filesystem mounted on a fresh directory, unmounted when dropped.
struct Mounted {
    dir: tempfile::TempDir,
}

/// Runs a command; `Err` with its output when it fails or cannot start.
fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(cmd).args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{cmd}: {e}")),
    }
}

impl Mounted {
    /// A tmpfs of `size`; `None`, with the reason printed, when mounting is not allowed here.
    fn tmpfs(size: &str) -> Option<Mounted> {
        let dir = tempfile::tempdir().unwrap();
        let point = dir.path().join("mnt");
        std::fs::create_dir(&point).unwrap();
        let opts = format!("size={size}");
        let p = point.to_str().unwrap();
        skip_unless(run("mount", &["-t", "tmpfs", "-o", &opts, "tmpfs", p]))?;
        Some(Mounted { dir })
    }

    /// A small ext4 image on a loop device that turns read-only on its first error, as
    /// production filesystems are usually mounted.
    fn ext4() -> Option<Mounted> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("mnt")).unwrap();
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        skip_unless(run("mkfs.ext4", &["-q", img.to_str().unwrap()]))?;
        let m = Mounted { dir };
        skip_unless(m.mount_image())?;
        Some(m)
    }

    fn mount_image(&self) -> Result<(), String> {
        let img = self.dir.path().join("disk.img");
        let opts = "loop,errors=remount-ro";
        run(
            "mount",
            &[
                "-o",
                opts,
                img.to_str().unwrap(),
                self.path().to_str().unwrap(),
            ],
        )
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    /// What an administrator does to a filesystem that went read-only: unmount, check, mount.
    /// The service must have closed its log for the unmount to succeed.
    fn repair(&self) {
        let p = self.path();
        let mut tries = 0;
        while let Err(e) = run("umount", &[p.to_str().unwrap()]) {
            tries += 1;
            assert!(tries < 50, "the service keeps the filesystem busy: {e}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let img = self.dir.path().join("disk.img");
        // e2fsck exits 1 when it fixed something, which is the expected case here.
        let _ = Command::new("e2fsck").args(["-fy"]).arg(&img).output();
        self.mount_image().unwrap();
    }

    /// Forces an ext4 error, after which the kernel remounts the filesystem read-only.
    fn fail_read_only(&self) {
        let out = Command::new("findmnt")
            .args(["-no", "SOURCE"])
            .arg(self.path())
            .output()
            .unwrap();
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = dev.rsplit('/').next().unwrap();
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "1").unwrap();
        assert!(std::fs::write(self.path().join("probe"), "x").is_err());
    }
}

fn skip_unless(r: Result<(), String>) -> Option<()> {
    r.map_err(|e| eprintln!("skipped: {e} (needs root and mount)"))
        .ok()
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    // The last partial chunk too, byte by byte would be slow; what is left is below 64 KiB.
    let _ = f.sync_all();
}

fn batch(prefix: &str, n: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&format!(
            "{{\"ts\":{},\"account_id\":\"a{}\",\"request_id\":\"{prefix}-{i}\",\"prompt\":\"{}\"}}\n",
            1_772_409_600 + i,
            i % 5,
            "p".repeat(400)
        ));
    }
    out.into_bytes()
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    duplicates: Option<u64>,
}

async fn post(c: &reqwest::Client, s: &Server, body: Vec<u8>) -> Answer {
    let r = c
        .post(s.url("/v1/logs"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let v: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    Answer {
        status,
        retry_after,
        duplicates: v["duplicates"].as_u64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_503_and_ingest_recovers_when_space_returns() {
    let Some(fs) = Mounted::tmpfs("16m") else {
        return;
    };
    let data: PathBuf = fs.path().join("data");
    let s = Server::start(&data, &[]);
    let c = reqwest::Client::new();
    const N: usize = 50;
    let mut acked = Vec::new();
    let first = batch("before", N);
    assert_eq!(post(&c, &s, first.clone()).await.status, 200);

    acked.push(first);

    // Leave the log no room to grow.
    let filler = fs.path().join("filler");
    fill(&filler);
    let mut refused = 0;
    for b in 0..400 {
        let body = batch(&format!("full{b}"), N);
        let a = post(&c, &s, body.clone()).await;
        match a.status {
            200 => acked.push(body),
            503 => {
                assert_eq!(a.retry_after.as_deref(), Some("5"));
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            st => panic!("status {st}"),
        }
    }
    assert_eq!(refused, 3, "the disk never filled");
    // Still serving, and saying why.
    let (st, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(st, 200);
    assert_eq!(stats["since_start"]["storage_failed"].as_u64(), Some(3));

    // Space returns: the same service takes posts again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let after = batch("after", N);
    let a = post(&c, &s, after.clone()).await;
    assert_eq!(a.status, 200, "ingest did not recover");
    acked.push(after);

    // Every acknowledged batch is durable: after a crash each is there, once.
    let s = s.restart();
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(
        stats["records_accepted"].as_u64(),
        Some((acked.len() * N) as u64),
        "{stats}"
    );
    for body in acked {
        let a = post(&c, &s, body).await;
        assert_eq!((a.status, a.duplicates), (200, Some(N as u64)));
    }
    drop(s);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filesystem_gone_read_only_is_answered_503_and_ingest_recovers_after_repair() {
    let Some(fs) = Mounted::ext4() else {
        return;
    };
    let s = Server::start(&fs.path().join("data"), &[]);
    let c = reqwest::Client::new();
    const N: usize = 50;
    let before = batch("before", N);
    assert_eq!(post(&c, &s, before.clone()).await.status, 200);

    fs.fail_read_only();
    for b in 0..2 {
        let a = post(&c, &s, batch(&format!("ro{b}"), N)).await;
        assert_eq!((a.status, a.retry_after.as_deref()), (503, Some("5")));
    }
    // The service let go of the file, so the filesystem can be repaired under it.
    fs.repair();
    let after = batch("after", N);
    assert_eq!(post(&c, &s, after.clone()).await.status, 200);

    let s = s.restart();
    let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
    assert_eq!(
        stats["records_accepted"].as_u64(),
        Some(2 * N as u64),
        "{stats}"
    );
    for body in [before, after] {
        let a = post(&c, &s, body).await;
        assert_eq!((a.status, a.duplicates), (200, Some(N as u64)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_cycles_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = common::crash::Options {
        cycles: 3,
        posters: 4,
        records_per_batch: 50,
        seed: 7,
        kill_after_ms: 100..300,
    };
    let cycles = common::crash::run(dir.path(), &opts, |_, _| {}).await;
    for (i, c) in cycles.iter().enumerate() {
        assert_eq!((c.lost, c.doubled), (0, 0), "cycle {i}: {c:?}");
        assert!(
            c.acked_batches > 0,
            "cycle {i}: nothing acknowledged before the kill"
        );
    }
    // The log holds at least what was acknowledged, and no more than was posted.
    let acked: usize = cycles.iter().map(|c| c.acked_batches).sum();
    assert!(cycles[2].stored >= acked * 50, "{cycles:?}");
}

/// Seconds until the server closes a connection on which `send` wrote what it wanted (and then
/// stalls); `None` if it was still open after `limit`.
fn closed_after(host: &str, send: impl FnOnce(&mut TcpStream), limit: Duration) -> Option<f64> {
    let mut s = TcpStream::connect(host).unwrap();
    let started = Instant::now();
    send(&mut s);
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed().as_secs_f64()),
            Ok(_) => continue, // an answer before the close
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed().as_secs_f64());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            ("DISTILLGUARD_HEADER_TIMEOUT", "1s"),
            ("DISTILLGUARD_BODY_TIMEOUT", "1s"),
            ("DISTILLGUARD_MAX_CONNECTIONS", "8"),
        ],
    );
    let host = s.url.strip_prefix("http://").unwrap().to_string();
    let limit = Duration::from_secs(5);

    // Connects and sends nothing.
    let t = closed_after(&host, |_| {}, limit).expect("an idle connection stayed open");
    assert!(t < 2.5, "{t}");
    // Slowloris: a header line every 300 ms, never the end of the headers.
    let t = closed_after(
        &host,
        |s| {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            for i in 0..6 {
                std::thread::sleep(Duration::from_millis(300));
                if s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .is_err()
                {
                    break;
                }
            }
        },
        limit,
    )
    .expect("a slowloris connection stayed open");
    assert!(t < 3.0, "{t}");
    // A keep-alive connection left idle after its answer.
    let t = closed_after(
        &host,
        |s| {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap()
        },
        limit,
    )
    .expect("an idle keep-alive connection stayed open");
    assert!(t < 2.5, "{t}");
    // A body that stops arriving, on a log post and on a decision: 408, then the connection goes.
    for (path, ct) in [
        ("/v1/logs", "application/x-ndjson"),
        ("/v1/decisions", "application/json"),
    ] {
        let mut c = TcpStream::connect(&host).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: 1000\r\n\r\n{{"
        );
        c.write_all(head.as_bytes()).unwrap();
        c.set_read_timeout(Some(limit)).unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }

    // More stalled connections than allowed at once: the service still answers once they are
    // timed out, and it never crashed.
    let stalled: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(&host).unwrap())
        .collect();
    let started = Instant::now();
    assert_eq!(common::status_of_get(&s.url("/healthz")).unwrap(), 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(stalled);
}

/// Whether the kernel still has the connection from `local` to `peer` (IPv4) established.
fn established(local: std::net::SocketAddr, peer: std::net::SocketAddr) -> bool {
    let hex = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        std::net::SocketAddr::V6(_) => panic!("the test server listens on IPv4"),
    };
    let (local, peer) = (hex(local), hex(peer));
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // st 01: ESTABLISHED
            f[1] == local && f[2] == peer && f[3] == "01"
        })
}

/// Opens a connection and pipelines `n` GETs of `path` on it from a thread of its own (the
/// writes block once the server stops reading).
fn pipeline(host: &str, path: &str, n: usize) -> TcpStream {
    let s = TcpStream::connect(host).unwrap();
    let mut w = s.try_clone().unwrap();
    let one = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::spawn(move || {
        let _ = w.write_all(one.repeat(n).as_bytes());
    });
    s
}

#[test]
fn a_client_that_never_reads_its_answer_is_closed_after_the_write_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("DISTILLGUARD_WRITE_TIMEOUT", "1s")]);
    let host = s.url.strip_prefix("http://").unwrap().to_string();
    // The length of one answer on a kept-alive connection: where the next one starts.
    let one = {
        let mut c = TcpStream::connect(&host).unwrap();
        c.write_all(
            b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut answers = String::new();
        c.read_to_string(&mut answers).unwrap();
        answers.rfind("HTTP/1.1 200").unwrap()
    };
    // Answers worth 64 MiB: far more than the sockets' buffers on both sides hold.
    let n = (64 << 20) / one + 1;

    let started = Instant::now();
    let stalled = pipeline(&host, "/openapi.json", n);
    let (local, peer) = (stalled.local_addr().unwrap(), stalled.peer_addr().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert!(established(local, peer), "closed before the write timeout");
    // Other clients are served meanwhile.
    assert_eq!(common::status_of_get(&s.url("/healthz")).unwrap(), 200);
    while established(local, peer) {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "a client that never reads still held its connection after 6 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed = started.elapsed().as_secs_f64();
    eprintln!("closed after {closed:.2} s");
    assert!(
        closed >= 1.0,
        "closed after {closed} s, before the write timeout"
    );
    // Only what the buffers held had been written: the rest of the answers never were.
    let mut got = 0;
    let mut r = &stalled;
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(k @ 1..) = r.read(&mut buf) {
        got += k;
    }
    assert!(got < n * one / 2, "{got} of {} bytes arrived", n * one);

    // A client that reads steadily but slowly takes longer than the timeout over all, and
    // gets every answer: the clock runs only while nothing is taken.
    let n = (16 << 20) / one + 1;
    let slow = pipeline(&host, "/openapi.json", n);
    let mut r = &slow;
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut got = 0;
    while got < n * one {
        std::thread::sleep(Duration::from_millis(50));
        let mut chunk = (&mut r).take((n * one - got).min(512 << 10) as u64);
        let mut into = Vec::new();
        match chunk.read_to_end(&mut into) {
            Ok(0) | Err(_) => break,
            Ok(k) => got += k,
        }
    }
    assert_eq!(got, n * one, "a steady reader was cut off");
    assert!(started.elapsed() > Duration::from_millis(1500));
    assert_eq!(common::status_of_get(&s.url("/healthz")).unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_data_and_the_store_stops_growing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("DISTILLGUARD_WINDOW", "1h")]);
    let c = reqwest::Client::new();
    const STEP_S: i64 = 300; // a batch every five minutes of log time: 12 per window
    const PER_WINDOW: i64 = 3600 / STEP_S;
    const N: usize = 200;
    let t0: i64 = 1_772_409_600;
    let mut sizes = Vec::new();
    for step in 0..PER_WINDOW * 8 {
        let ts = t0 + step * STEP_S;
        let mut body = String::new();
        for i in 0..N {
            body.push_str(&format!(
                "{{\"ts\":{},\"account_id\":\"a{}\",\"request_id\":\"s{step}-{i}\",\"prompt\":\"{}\"}}\n",
                ts + i as i64 % STEP_S,
                i % 40,
                "q".repeat(300)
            ));
        }
        let r = common::post_ndjson(&c, &s.url("/v1/logs"), body.into_bytes())
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = c.post(s.url("/v1/admin/compact")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        if (step + 1) % PER_WINDOW == 0 {
            let (_, stats) = get_json(&c, &s, "/v1/stats", None).await;
            let bytes = stats["log"]["bytes"].as_u64().unwrap();
            let batches = stats["log"]["batches"].as_u64().unwrap();
            let records = stats["records_accepted"].as_u64().unwrap();
            eprintln!(
                "window {}: {batches} batches, {records} records, {bytes} bytes",
                sizes.len() + 1
            );
            // Only the last hour (and the batch straddling its start) is kept.
            assert!(batches <= PER_WINDOW as u64 + 1, "{stats}");
            assert!(records <= (PER_WINDOW as u64 + 1) * N as u64, "{stats}");
            let ms = |k: &str| {
                distillguard::record::parse_rfc3339_ms(stats[k].as_str().unwrap()).unwrap()
            };
            assert!(
                ms("last_seen") - ms("first_seen") < (3600 + STEP_S) * 1000,
                "{stats}"
            );
            sizes.push(bytes);
        }
    }
    // Once the first windows have passed, the file stops growing: freed pages are reused.
    let settled = *sizes[..3].iter().max().unwrap();
    let last = *sizes.last().unwrap();
    assert!(
        sizes[3..].iter().all(|&b| b <= settled * 5 / 4),
        "the store kept growing: {sizes:?}"
    );
    assert!(last > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_twice_its_capacity_the_service_refuses_with_retry_after_and_recovers() {
    use common::load;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[("DISTILLGUARD_MAX_INFLIGHT_BATCHES", "4")]);
    let url = s.url("/v1/logs");
    let pid = s.child.id();
    const BATCH: usize = 500;
    let phase = Duration::from_secs(2);
    let capacity = load::closed_loop(&url, 4, BATCH, phase).await;
    let per_s = capacity.records_per_s() / BATCH as f64;
    let over = load::open_loop(&url, 2.0 * per_s, BATCH, phase, 1024).await;
    let after = load::open_loop(&url, 0.5 * per_s, BATCH, phase, 1024).await;
    let (peak_kib, _) = load::rss_kib(pid).unwrap();
    eprintln!("capacity {capacity:?}\n2x {over:?}\n0.5x {after:?}\npeak {peak_kib} KiB");

    assert!(over.refused_with_retry_after > 0, "{over:?}");
    for t in [&capacity, &over, &after] {
        assert_eq!(t.refused_without_retry_after, 0, "{t:?}");
        assert!(t.other.is_empty(), "{t:?}");
        assert_eq!(t.failed, 0, "{t:?}");
    }
    // Load back to half: (nearly) every post taken again; a slow moment on a shared machine
    // may still refuse one.
    assert!(after.ok > 0);
    assert!(after.refused_with_retry_after * 10 <= after.ok, "{after:?}");
    // Posts in flight are bounded (4 × (16 + 64) MiB at the very worst); these are small.
    assert!(peak_kib < 512 << 10, "peak RSS {peak_kib} KiB");
    assert_eq!(common::status_of_get(&s.url("/healthz")).unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_is_answered_429_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            (
                "DISTILLGUARD_TOKENS",
                "shipper-a1:ingest,shipper-b2:ingest,reader-c3:read",
            ),
            ("DISTILLGUARD_INGEST_RATE_LIMIT", "100"),
        ],
    );
    let c = reqwest::Client::new();
    let post_as = |token: &'static str, body: Vec<u8>| {
        let req = c
            .post(s.url("/v1/logs"))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            (r.status().as_u16(), retry)
        }
    };
    assert_eq!(post_as("shipper-a1", batch("a0", 250)).await, (200, None));
    // 150 records owed at 100 a second.
    assert_eq!(post_as("shipper-a1", batch("a1", 10)).await, (429, Some(2)));
    assert_eq!(post_as("shipper-b2", batch("b0", 50)).await, (200, None));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(post_as("shipper-a1", batch("a1", 10)).await, (200, None));
    let (_, stats) = get_json(&c, &s, "/v1/stats", Some("reader-c3")).await;
    assert_eq!(stats["since_start"]["rate_limited"], 1, "{stats}");
}
