//! The web interface in a real browser: headless Chromium driven over the WebDriver protocol
//! (chromedriver), against the real service holding a simulator log. Opens the queue, opens the
//! top cluster, checks that the timeline and the graph are drawn, confirms the cluster,
//! restarts the service and checks that the decision is still there, and that a token without
//! the read scope sees no prompt text.
//!
//! Skipped, with the reason printed, when Chromium or chromedriver is not installed (`.ci/run`
//! installs both). Screenshots go to the target directory; with
//! `DISTILLGUARD_UPDATE_SCREENSHOTS=1` they also replace `docs/ui-queue.png`,
//! `docs/ui-cluster.png`, `docs/ui-timeline.png` and `docs/ui-graph.png`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, answer, post_and_detect};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";
const INGEST: &str = "ingest-token-1";
const ADMIN: &str = "admin-token-333";
const REVIEWER: &str = "reviewer-token-4444";
/// The WebDriver protocol's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it; both end when dropped.
struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let ready =
            |r: Result<reqwest::Response, reqwest::Error>| r.is_ok_and(|r| r.status() == 200);
        while !ready(http.get(format!("{base}/status")).send().await) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        // This machine refuses outside connections: nothing may try to reach them.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1200,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Browser {
            http,
            session: format!("{base}/session"),
            driver,
            _profile: profile,
        };
        let created = browser.call("POST", "", Some(caps)).await;
        let id = created["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        browser.session = format!("{base}/session/{id}");
        browser
    }

    /// One WebDriver command; returns its `value`.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or(json!({})).to_string()),
        };
        let (status, text) = answer(req, None).await;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("{e}"))
                    .to_string()
            })
            .collect()
    }

    /// Waits until at least `n` elements match.
    async fn wait_for(&self, css: &str, n: usize) -> Vec<String> {
        self.wait_until(css, |found| found >= n).await
    }

    /// Waits until the number of elements matching `css` satisfies `ok`.
    async fn wait_until(&self, css: &str, ok: impl Fn(usize) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.find_all(css).await;
            if ok(found.len()) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{css}: {} found, not what was wanted; the page says: {}",
                found.len(),
                self.text("body").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let e = self.wait_for(css, 1).await.remove(0);
        self.call("POST", &format!("/element/{e}/click"), None)
            .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css, 1).await.remove(0);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let Some(e) = self.find_all(css).await.into_iter().next() else {
            return String::new();
        };
        let v = self.call("GET", &format!("/element/{e}/text"), None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    async fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    async fn sign_in(&self, url: &str, token: &str) {
        self.goto(url).await;
        self.type_into("#token", token).await;
        self.click("#sign-in-button").await;
        self.wait_for("#sign-out", 1).await;
    }

    /// Saves a screenshot of the window, or of the first element matching `css`.
    async fn screenshot(&self, name: &str, css: Option<&str>) -> PathBuf {
        let path = match css {
            Some(css) => {
                let js = format!("document.querySelector({css:?}).scrollIntoView();");
                self.script(&js).await;
                format!("/element/{}/screenshot", self.wait_for(css, 1).await[0])
            }
            None => "/screenshot".to_string(),
        };
        let png = self.call("GET", &path, None).await;
        let bytes = base64_decode(png.as_str().unwrap());
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&out, &bytes).unwrap();
        if std::env::var_os("DISTILLGUARD_UPDATE_SCREENSHOTS").is_some() {
            let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("docs")
                .join(name);
            std::fs::write(doc, &bytes).unwrap();
        }
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A simulator log with a few campaigns of different styles among ordinary traffic.
fn simulator_log(dir: &Path) -> Vec<u8> {
    let status = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["simulate", "--preset", "standard", "--scale", "0.25"])
        .args(["--days", "3", "--no-corpora", "--seed", "1", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(dir.join("logs.ndjson.gz")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn review_a_cluster_in_the_browser() {
    for needed in [CHROMIUM, DRIVER] {
        if !Path::new(needed).exists() {
            println!(
                "skipped: {needed} is not installed (apt-get install chromium chromium-driver)"
            );
            return;
        }
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = vec![(
        "DISTILLGUARD_TOKENS".to_string(),
        format!("{INGEST}:ingest,{ADMIN}:admin,{REVIEWER}:read+review"),
    )];
    let s = Server::start_owned(&data, env);
    let c = reqwest::Client::new();
    let log = simulator_log(&dir.path().join("sim"));
    post_and_detect(&c, &s, INGEST, ADMIN, log).await;

    let browser = Browser::start().await;
    browser.sign_in(&s.url("/#/queue"), REVIEWER).await;
    let rows = browser.wait_for("table.queue tbody tr", 2).await;
    assert!(rows.len() >= 3, "{} clusters in the queue", rows.len());
    browser.screenshot("ui-queue.png", None).await;

    // Filters and search, which live in the address so a view can be shared.
    let (_, page) = common::get_json(&c, &s, "/v1/clusters", Some(REVIEWER)).await;
    let all = page["clusters"].as_array().unwrap();
    let above = all
        .iter()
        .filter(|c| c["score"].as_f64().unwrap() >= 0.95)
        .count();
    assert!(above < rows.len(), "every cluster scores 0.95 or more");
    browser.goto(&s.url("/#/queue?min=0.95")).await;
    browser.wait_for("#min-score", 1).await;
    assert_eq!(browser.find_all("table.queue tbody tr").await.len(), above);
    let member = all[1]["accounts"][0].as_str().unwrap();
    browser.goto(&s.url(&format!("/#/queue?q={member}"))).await;
    browser.wait_for("#search", 1).await;
    let found = browser.text("table.queue tbody").await;
    assert!(
        found.contains(all[1]["id"].as_str().unwrap())
            && !found.contains(all[0]["id"].as_str().unwrap()),
        "{found}"
    );
    browser.goto(&s.url("/#/queue")).await;
    browser.wait_for("table.queue tbody tr", rows.len()).await;

    // The top cluster: its timeline and its graph are drawn.
    let top = browser.text("table.queue tbody tr a.cluster-link").await;
    assert_eq!(top, all[0]["id"].as_str().unwrap());
    browser.click("table.queue tbody tr a.cluster-link").await;
    browser.wait_for("#cluster h1", 1).await;
    assert!(browser.text("#cluster h1").await.contains(&top));
    let cells = browser.wait_for("svg#timeline rect.cell", 20).await;
    let lanes = browser.find_all("svg#timeline g.lane").await;
    assert!(lanes.len() >= 3, "{} lanes", lanes.len());
    assert!(cells.len() >= lanes.len());
    let accounts = browser.wait_for("svg#graph circle.account", 3).await;
    let values = browser.find_all("svg#graph g.value").await;
    let edges = browser.find_all("svg#graph .edges line").await;
    assert!(!values.is_empty() && edges.len() >= accounts.len());
    // Drawn where they can be seen, not merely present.
    let drawn = browser
        .script("const b = document.querySelector('svg#graph').getBBox(); return b.width > 100 && b.height > 100;")
        .await;
    assert_eq!(drawn, json!(true));
    assert!(browser.text(".examples").await.contains('«'));
    browser
        .script("document.querySelector('#timeline').scrollIntoView(); window.scrollBy(0, -40);")
        .await;
    browser
        .screenshot("ui-timeline.png", Some("svg#timeline"))
        .await;
    browser.screenshot("ui-graph.png", Some("svg#graph")).await;
    browser.script("window.scrollTo(0, 0);").await;
    browser.screenshot("ui-cluster.png", None).await;
    browser.script("window.scrollTo(0, 0);").await;

    browser
        .type_into("#note", "reasoning traces harvested through proxies")
        .await;
    browser.click("#confirm").await;
    browser.wait_for("#cluster h1 .badge.confirmed", 1).await;
    assert!(
        browser
            .text("#decision")
            .await
            .contains("Confirmed as a campaign")
    );

    // After a restart (a new port, so a new sign-in): still confirmed. This token may decide
    // but not read prompts, so it sees none.
    let s = s.restart();
    assert_eq!(common::detect(&c, &s, Some(ADMIN)).await, 200);
    browser.sign_in(&s.url("/#/queue?status=all"), ADMIN).await;
    browser
        .wait_for("table.queue tbody tr .badge.confirmed", 1)
        .await;
    browser.goto(&s.url(&format!("/#/cluster/{top}"))).await;
    browser.wait_for("#cluster h1 .badge.confirmed", 1).await;
    let decision = browser.text("#decision").await;
    assert!(
        decision.contains("Confirmed as a campaign by token-")
            && decision.contains("reasoning traces harvested"),
        "{decision}"
    );
    browser.wait_for(".redacted", 1).await;
    let page = browser.text("body").await;
    assert!(
        !page.contains('«'),
        "prompt text shown without the read scope"
    );
    println!("browser test took {:?}", started.elapsed());
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
