//! What the tests that run the real service share: starting it on an ephemeral port, waiting
//! until it is ready, restarting it on the same data directory.
#![allow(dead_code)]

pub mod crash;
pub mod load;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A running `distillguard serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Server {
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start_owned(data_dir, env)
    }

    pub fn start_owned(data_dir: &Path, env: Vec<(String, String)>) -> Server {
        let (child, url) = spawn_serve(
            data_dir,
            "warn",
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let server = Server {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            env,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        wait_ready(&self.url);
    }

    pub fn restart(mut self) -> Server {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        Server::start_owned(&self.data_dir, std::mem::take(&mut self.env))
    }

    /// Sends SIGTERM and waits for the exit, at most `within`.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of a GET, over a plain connection (readiness is polled without a runtime).
pub fn status_of_get(url: &str) -> std::io::Result<u16> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    raw_request(
        host,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
        &[],
    )
}

/// Sends a request over a plain TCP connection and returns the status code; for what a
/// client library would not send (a chunked body with no length).
pub fn raw_request(host: &str, head: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    text[9..12]
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad status line {text:?}")))
}

pub async fn get_json(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let (status, text) = answer(c.get(s.url(path)), token).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends a request with the token, if any; returns the status and the body as text.
pub async fn answer(req: reqwest::RequestBuilder, token: Option<&str>) -> (StatusCode, String) {
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.expect("send");
    (resp.status(), resp.text().await.unwrap())
}

pub async fn detect(c: &reqwest::Client, s: &Server, token: Option<&str>) -> StatusCode {
    let mut req = c.post(s.url("/v1/detect"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status()
}

/// POSTs a JSON body; returns the status and the answer as JSON (null when it is not JSON).
pub async fn post_json(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let req = c
        .post(s.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    let (status, text) = answer(req, token).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Confirms a cluster as a campaign.
pub async fn confirm(c: &reqwest::Client, s: &Server, token: &str, cluster_id: &str) {
    let decision = serde_json::json!({"decision": "confirm", "cluster_id": cluster_id});
    let (status, answer) = post_json(c, s, "/v1/decisions", Some(token), &decision).await;
    assert_eq!(status, 200, "{answer}");
}

/// POSTs an NDJSON body to `url`, without a token.
pub async fn post_ndjson(
    c: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    c.post(url)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
}

/// Posts NDJSON (its magic bytes say whether it is compressed) and runs detection.
pub async fn post_and_detect(
    c: &reqwest::Client,
    s: &Server,
    ingest: &str,
    detector: &str,
    body: Vec<u8>,
) {
    let req = c
        .post(s.url("/v1/logs"))
        .header("content-type", "application/x-ndjson")
        .body(body);
    let (status, text) = answer(req, Some(ingest)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(detect(c, s, Some(detector)).await, 200);
}

/// Posts the bundled sample and runs detection.
pub async fn post_sample_and_detect(c: &reqwest::Client, s: &Server, ingest: &str, detector: &str) {
    let body = std::fs::read(fixture("sample.ndjson.gz")).unwrap();
    post_and_detect(c, s, ingest, detector, body).await;
}

/// Starts `distillguard serve` on a port the system picks, logging at `log` to standard error;
/// returns the process and the base URL its `listening on` line gives.
pub fn spawn_serve<'a>(
    data_dir: &Path,
    log: &str,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Child, String) {
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", log)
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start distillguard serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

/// Starts `distillguard serve` with `args` after the subcommand's own, writing its standard
/// output and standard error to `out` and `err` (files, so every line can be read afterwards);
/// returns the process and the base URL once its `listening on` line is written.
pub fn spawn_serve_to_files<'a>(
    data_dir: &Path,
    args: &[&str],
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
    out: &Path,
    err: &Path,
) -> (Child, String) {
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .envs(env)
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(err).unwrap())
        .spawn()
        .expect("start distillguard serve");
    match listening_url(out) {
        Some(url) => (child, url),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "no `listening on` line: {}",
                std::fs::read_to_string(err).unwrap_or_default()
            );
        }
    }
}

/// The URL of the `listening on` line once it is in `out`; `None` after 20 s.
fn listening_url(out: &Path) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if let Some(url) = text.lines().find_map(|l| l.strip_prefix("listening on ")) {
            return Some(url.trim().to_string());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Waits until `url`'s `/readyz` answers 200.
pub fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while status_of_get(&format!("{url}/readyz")).ok() != Some(200) {
        assert!(Instant::now() < deadline, "server not ready in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a server with SIGTERM, as a service manager does, and waits for it to exit.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    child.wait().unwrap()
}

/// `distillguard scan --format json` of `path` with `args`: the report.
pub fn scan_json(path: &Path, args: &[&str]) -> Value {
    let out = Command::new(binary())
        .args(["scan", "--format", "json", "--quiet"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A report's clusters: id -> (score, accounts).
pub type Clusters = BTreeMap<String, (f64, Vec<String>)>;

pub fn clusters_of(report: &Value) -> Clusters {
    report["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let accounts = c["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (
                c["id"].as_str().unwrap().to_string(),
                (c["score"].as_f64().unwrap(), accounts),
            )
        })
        .collect()
}

/// Every file below `dir` that holds `needle`.
pub fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// The `distillguard` binary: cargo names it for tests; an example finds it beside its own
/// directory (`target/PROFILE/examples/..`), so build the binary first.
pub fn binary() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_distillguard") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    dir.join("distillguard")
}
