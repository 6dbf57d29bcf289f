//! LiteLLM payloads through the service: the fixture posted to `/v1/litellm` and recognised on
//! `/v1/logs`, the account setting and a `[map]` on posts, and the round trip with the real
//! client (scripts/litellm/roundtrip.py: litellm's own `generic_api` logger posting mocked
//! completions to a running `distillguard serve`).
//!
//! The round trip needs a Python with the pinned litellm: `target/litellm-venv/bin/python`
//! (made by `.ci/run`) or `DISTILLGUARD_LITELLM_PYTHON`. Without one it says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const TOKEN: &str = "litellm-ingest-read";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `distillguard serve` on an ephemeral port with one ingest+read token; killed when dropped.
struct Serve {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(env_more: &[(&str, &str)]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let auth = format!("{TOKEN}:ingest+read");
        let env = [("DISTILLGUARD_TOKENS", auth.as_str())].into_iter();
        let (child, url) =
            common::spawn_serve(dir.path(), "error", env.chain(env_more.iter().copied()));
        Serve {
            child,
            url,
            _dir: dir,
        }
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{}/readyz", self.url))
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < deadline, "server not ready in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = resp.status().as_u16();
        (status, json_of(resp).await)
    }

    async fn get(&self, path: &str) -> Value {
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("get");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        json_of(resp).await
    }

    async fn account(&self, id: &str) -> Value {
        self.get(&format!("/v1/accounts/{id}")).await
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null)
}

fn fixture() -> Vec<Value> {
    let text = std::fs::read_to_string(repo("fixtures/litellm.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn payloads_on_their_route_and_recognised_on_the_logs_route() {
    let s = Serve::start(&[]);
    s.ready().await;
    let payloads = fixture();
    let array = serde_json::to_vec(&payloads[..2]).unwrap();
    let (status, out) = s.post("/v1/litellm", array).await;
    assert_eq!((status, &out["accepted"]), (200, &json!(2)), "{out}");

    // NDJSON on /v1/logs: recognised by shape. The second item lacks every account key.
    let mut anonymous = payloads[3].clone();
    anonymous["metadata"] = json!({});
    let ndjson = format!("{}\n{}\n", payloads[2], anonymous);
    let (status, out) = s.post("/v1/logs", ndjson).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["accepted"], 1);
    assert_eq!(out["rejects"][0]["index"], 1);
    assert_eq!(out["rejects"][0]["line"], 2);
    let reason = out["rejects"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("metadata.user_api_key_user_id or metadata.user_api_key_hash"),
        "{reason}"
    );

    // One payload at a time, as the callback's `single` format posts; the same one again is a
    // duplicate by its id.
    let (status, out) = s.post("/v1/logs", payloads[3].to_string()).await;
    assert_eq!((status, &out["accepted"]), (200, &json!(1)), "{out}");
    let (_, out) = s.post("/v1/litellm", payloads[0].to_string()).await;
    assert_eq!(out["duplicates"], 1, "{out}");

    // A contract record on the LiteLLM route is not a payload.
    let (status, out) = s
        .post("/v1/litellm", r#"{"ts": 1772445600, "account_id": "a"}"#)
        .await;
    assert_eq!(status, 400, "{out}");

    let stats = s.get("/v1/stats").await;
    assert_eq!(stats["records_accepted"], 4);
    let ana = s.account("user-ana").await;
    assert_eq!(ana["requests"], 2);
    assert_eq!(strings(&ana["models"]), ["gpt-4o"]);
    let examples = strings(&ana["examples"]);
    assert!(
        examples.iter().any(|e| e.contains("step by step")),
        "{examples:?}"
    );
    // The key without a user is its own account, by its hash.
    let key = payloads[1]["metadata"]["user_api_key_hash"]
        .as_str()
        .unwrap();
    assert_eq!(s.account(key).await["requests"], 1);
    assert_eq!(s.account("user-bo").await["requests"], 1);
}

#[tokio::test]
async fn the_account_setting_and_a_map_apply_to_posts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("distillguard.toml");
    std::fs::write(
        &config,
        "[map]\naccount_id = \"user.id\"\nts = \"@timestamp\"\nprompt = \"request.text\"\n",
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let s = Serve::start(&[("DISTILLGUARD_CONFIG", &config)]);
    s.ready().await;
    let body = concat!(
        r#"{"@timestamp": "2026-03-02T10:00:00Z", "user": {"id": 17}, "request": {"text": "Solve step by step: 2 + 2"}}"#,
        "\n",
        r#"{"@timestamp": "2026-03-02T10:00:01Z", "usr": {"id": 18}}"#,
        "\n",
    );
    let (status, out) = s.post("/v1/logs", body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["accepted"], 1);
    assert_eq!(out["rejects"][0]["index"], 1);
    let reason = out["rejects"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("mapping account_id=user.id"), "{reason}");
    let acct = s.account("17").await;
    assert_eq!(strings(&acct["examples"]), ["Solve step by step: 2 + 2"]);
    drop(s);

    // Teams as the accounts: the payloads without a team are rejected, naming the path.
    let s = Serve::start(&[("DISTILLGUARD_LITELLM_ACCOUNT", "team")]);
    s.ready().await;
    let (status, out) = s
        .post("/v1/litellm", serde_json::to_vec(&fixture()).unwrap())
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["accepted"], 2, "{out}");
    let rejected: Vec<u64> = out["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [1, 3], "{out}");
    assert!(
        out["rejects"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("metadata.user_api_key_team_id"),
        "{out}"
    );
    assert_eq!(s.account("team-research").await["requests"], 2);
}

/// The Python with the pinned litellm, if there is one.
fn litellm_python() -> Option<PathBuf> {
    let python = match std::env::var_os("DISTILLGUARD_LITELLM_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => repo("target/litellm-venv/bin/python"),
    };
    let has_litellm = Command::new(&python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    has_litellm.then_some(python)
}

#[tokio::test]
async fn litellm_generic_api_logger_round_trip() {
    let Some(python) = litellm_python() else {
        println!(
            "skipped: no Python with litellm at target/litellm-venv/bin/python or \
             DISTILLGUARD_LITELLM_PYTHON (.ci/run makes it: python3 -m venv target/litellm-venv \
             && target/litellm-venv/bin/pip install -r scripts/litellm/requirements.txt)"
        );
        return;
    };
    let s = Serve::start(&[]);
    s.ready().await;
    let started = Instant::now();
    let out = Command::new(&python)
        .arg(repo("scripts/litellm/roundtrip.py"))
        .args(["--url", &s.url, "--token", TOKEN])
        .output()
        .expect("run roundtrip.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "roundtrip.py failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("roundtrip.py took {:.1} s", started.elapsed().as_secs_f64());

    // Every post was answered with no rejects: json_array in one post, ndjson in one, single
    // one by one.
    let posts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let phases: Vec<&str> = posts.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(
        phases,
        ["json_array", "ndjson", "single", "single"],
        "{stdout}"
    );
    for p in &posts {
        let answer: Value = serde_json::from_str(p["body"].as_str().unwrap()).unwrap();
        assert_eq!(answer["rejected"], 0, "{p}");
    }

    let stats = s.get("/v1/stats").await;
    assert_eq!(stats["records_accepted"], 10, "{stats}");
    assert_eq!(stats["accounts"], 5, "{stats}");
    assert_eq!(stats["since_start"]["rejected"], 0, "{stats}");

    // (account, requests, models in order of first use, prompts)
    let expected: [(&str, u64, &[&str], &[&str]); 5] = [
        (
            "user-alice",
            3,
            &["gpt-4o-mini", "gpt-4o"],
            &[
                "Solve step by step: 12 * 17",
                "Translate to French: good morning",
                "Write a haiku about rivers",
            ],
        ),
        (
            "user-bob",
            2,
            &["gpt-4o-mini"],
            &[
                "Summarise this changelog in one line",
                "List three prime numbers",
            ],
        ),
        (
            "user-carol",
            2,
            &["gpt-4o"],
            &[
                "Grade this answer: Paris is in France",
                "Grade this answer: 2 + 2 = 5",
            ],
        ),
        // A key with no user is counted by its hash.
        (
            &"d4".repeat(32),
            1,
            &["gpt-4o-mini"],
            &["Classify the sentiment: I love it"],
        ),
        // One success and one rate-limited failure: failures are logged too.
        (
            "user-dave",
            2,
            &["gpt-4o-mini"],
            &["Explain recursion briefly", "Explain recursion again"],
        ),
    ];
    for (id, requests, models, prompts) in expected {
        let acct = s.account(id).await;
        assert_eq!(acct["requests"], requests, "{id}: {acct}");
        assert_eq!(strings(&acct["models"]), models, "{id}: {acct}");
        let mut examples = strings(&acct["examples"]);
        let mut prompts = prompts.to_vec();
        examples.sort_unstable();
        prompts.sort_unstable();
        assert_eq!(examples, prompts, "{id}: {acct}");
    }
}
