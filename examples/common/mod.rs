//! What the service examples share: the real server started in this process on an ephemeral
//! port, and a client that posts batches the way a log shipper should (retrying on 503).

// Each example uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use distillguard::serve::{self, config::Config};
use serde_json::Value;
use tokio::sync::oneshot;

pub struct LocalServer {
    pub url: String,
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Result<(), serve::ServeError>>,
}

impl LocalServer {
    pub async fn start(cfg: Config) -> LocalServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve::run(cfg, listener, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{url}/readyz")).send().await
                && r.status() == 200
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        LocalServer { url, stop, handle }
    }

    /// Graceful stop: in-flight requests finish, the writer commits what it holds.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// Posts NDJSON and returns the answer; a 503 is retried after its `Retry-After`.
pub async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Value {
    loop {
        let r = client
            .post(format!("{url}/v1/logs"))
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let status = r.status();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        match (status.as_u16(), retry) {
            (200, _) => return v,
            (503, Some(secs)) => tokio::time::sleep(Duration::from_secs(secs)).await,
            _ => panic!("{status}: {v}"),
        }
    }
}

pub async fn detect(client: &reqwest::Client, url: &str) -> Value {
    let r = client
        .post(format!("{url}/v1/detect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

pub async fn get(client: &reqwest::Client, url: &str, path: &str) -> Value {
    let r = client.get(format!("{url}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// The lines of a simulator log (`logs.ndjson.gz`).
pub fn read_lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A quiet configuration on a fresh data directory; detection only on demand.
pub fn config(data_dir: &std::path::Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        detect_interval: Duration::from_secs(3600),
        ..Config::default()
    }
}
