//! What the tests that run the real service share: starting it on an ephemeral port, waiting
//! until it is ready, restarting it on the same data directory.
#![allow(dead_code)]

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
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = status_of_get(&format!("{}/readyz", self.url))
                && r == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "server not ready in time");
            std::thread::sleep(Duration::from_millis(20));
        }
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_distillguard"))
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
