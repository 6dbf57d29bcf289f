//! Access control against the real service: every route the OpenAPI document lists, against no
//! token, tokens that are not valid, and every scope and the combinations that matter; where
//! tokens may come from; and that the service's own logs never hold prompt text or tokens, even
//! at trace level.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::{Server, fixture, spawn_serve_to_files, terminate, wait_ready};

/// Tokens given in `DISTILLGUARD_TOKENS`.
const ENV_TOKENS: &[(&str, &str)] = &[
    ("tok-ingest-0001", "ingest"),
    ("tok-read-000002", "read"),
    ("tok-review-0003", "review"),
    ("tok-admin-00004", "admin"),
    ("tok-readrev-005", "read+review"),
    ("tok-adminrd-006", "admin+read"),
];

/// Tokens given in the tokens file, with names.
const FILE_TOKENS: &[(&str, &[&str], &str)] = &[
    ("tok-ingrd-00007", &["ingest", "read"], "shipper-reader"),
    (
        "tok-all-0000008",
        &["ingest", "read", "review", "admin"],
        "everyone",
    ),
];
const ALL: &str = "tok-all-0000008";

/// What a route needs.
#[derive(Clone, Copy, Debug)]
enum Need {
    Public,
    /// Any valid token.
    Token,
    /// A token with one of these scopes.
    Scopes(&'static [&'static str]),
}

use Need::{Public, Scopes, Token};

const READ_OR_ADMIN: Need = Scopes(&["read", "admin"]);

/// Every route: what it needs, and whether its answer carries prompt text (for the read scope
/// only). A route the service serves but this table lacks fails the test.
const ROUTES: &[(&str, &str, Need, bool)] = &[
    ("get", "/", Public, false),
    ("get", "/ui/{file}", Public, false),
    ("get", "/healthz", Public, false),
    ("get", "/readyz", Public, false),
    ("get", "/openapi.json", Public, false),
    ("get", "/metrics", Scopes(&["admin"]), false),
    ("post", "/v1/logs", Scopes(&["ingest", "admin"]), false),
    ("post", "/v1/litellm", Scopes(&["ingest", "admin"]), false),
    ("post", "/v1/detect", READ_OR_ADMIN, false),
    ("get", "/v1/report", Scopes(&["read"]), true),
    ("get", "/v1/clusters", READ_OR_ADMIN, true),
    ("get", "/v1/clusters/{id}", READ_OR_ADMIN, true),
    ("get", "/v1/clusters/{id}/activity", READ_OR_ADMIN, true),
    ("get", "/v1/accounts/{id}", READ_OR_ADMIN, true),
    ("get", "/v1/decisions", READ_OR_ADMIN, true),
    ("post", "/v1/decisions", Scopes(&["review", "admin"]), true),
    ("get", "/v1/enforcement", READ_OR_ADMIN, true),
    ("get", "/v1/me", Token, false),
    ("get", "/v1/stats", READ_OR_ADMIN, false),
    ("post", "/v1/admin/compact", Scopes(&["admin"]), false),
    ("post", "/v1/admin/snapshot", Scopes(&["admin"]), false),
];

/// Who calls: the Authorization header sent, and the scopes it holds when it is valid.
struct Caller {
    label: String,
    header: Option<String>,
    scopes: Option<Vec<&'static str>>,
}

fn callers() -> Vec<Caller> {
    let mut out = vec![
        Caller {
            label: "no token".into(),
            header: None,
            scopes: None,
        },
        Caller {
            label: "unknown token".into(),
            header: Some("Bearer not-a-configured-token".into()),
            scopes: None,
        },
        Caller {
            label: "valid token, Basic scheme".into(),
            header: Some(format!("Basic {ALL}")),
            scopes: None,
        },
        Caller {
            label: "prefix of a valid token".into(),
            header: Some(format!("Bearer {}", &ALL[..ALL.len() - 1])),
            scopes: None,
        },
        Caller {
            label: "valid token and more".into(),
            header: Some(format!("Bearer {ALL}0")),
            scopes: None,
        },
        Caller {
            label: "empty token".into(),
            header: Some("Bearer ".into()),
            scopes: None,
        },
    ];
    for (token, scopes) in ENV_TOKENS {
        out.push(Caller {
            label: format!("scopes {scopes} (environment)"),
            header: Some(format!("Bearer {token}")),
            scopes: Some(scopes.split('+').collect()),
        });
    }
    out.push(Caller {
        label: "scheme in lower case".into(),
        header: Some(format!("bearer {ALL}")),
        scopes: Some(FILE_TOKENS[1].1.to_vec()),
    });
    for (token, scopes, _) in FILE_TOKENS {
        out.push(Caller {
            label: format!("scopes {} (tokens file)", scopes.join("+")),
            header: Some(format!("Bearer {token}")),
            scopes: Some(scopes.to_vec()),
        });
    }
    out
}

fn write_tokens_file(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    for (token, scopes, name) in FILE_TOKENS {
        writeln!(
            f,
            "[[tokens]]\ntoken = {token:?}\nscopes = {scopes:?}\nname = {name:?}\n"
        )
        .unwrap();
    }
    drop(f);
    set_mode(path, 0o600);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn env_tokens() -> String {
    ENV_TOKENS
        .iter()
        .map(|(t, s)| format!("{t}:{s}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A request to `path` (a route with its parameters filled in), with its body.
fn request(
    c: &reqwest::Client,
    s: &Server,
    method: &str,
    path: &str,
    cluster: &str,
    account: &str,
) -> reqwest::RequestBuilder {
    let url = s.url(
        &path
            .replace("/clusters/{id}", &format!("/clusters/{cluster}"))
            .replace("/accounts/{id}", &format!("/accounts/{account}"))
            .replace("{file}", "app.js"),
    );
    match (method, path) {
        ("get", _) => c.get(url),
        ("post", "/v1/logs") => c
            .post(url)
            .header("content-type", "application/x-ndjson")
            .body(
                r#"{"ts":"2026-03-03T12:00:00Z","account_id":"matrix","request_id":"matrix-1","prompt":"hello"}"#,
            ),
        ("post", "/v1/litellm") => c
            .post(url)
            .header("content-type", "application/json")
            .body(std::fs::read(fixture("litellm.json")).unwrap()),
        ("post", "/v1/decisions") => c
            .post(url)
            .header("content-type", "application/json")
            .body(json!({"decision": "confirm", "cluster_id": cluster, "note": "matrix"}).to_string()),
        ("post", _) => c.post(url),
        _ => panic!("no request for {method} {path}"),
    }
}

/// Prompt text as it appears inside a JSON answer.
fn json_text(t: &str) -> String {
    let s = serde_json::to_string(t).unwrap();
    s[1..s.len() - 1].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_against_every_scope() {
    let dir = tempfile::tempdir().unwrap();
    let tokens_file = dir.path().join("tokens.toml");
    write_tokens_file(&tokens_file);
    let env_tokens = env_tokens();
    let s = Server::start(
        &dir.path().join("data"),
        &[
            ("DISTILLGUARD_TOKENS", env_tokens.as_str()),
            ("DISTILLGUARD_TOKENS_FILE", tokens_file.to_str().unwrap()),
        ],
    );
    let c = reqwest::Client::new();

    // Tokens from both places are in force, with the file's names.
    let (st, me) = common::get_json(&c, &s, "/v1/me", Some(ALL)).await;
    assert_eq!(st, 200);
    assert_eq!(me["name"], "everyone");
    assert_eq!(me["scopes"], json!(["ingest", "read", "review", "admin"]));
    let (_, me) = common::get_json(&c, &s, "/v1/me", Some("tok-readrev-005")).await;
    assert_eq!(me["scopes"], json!(["read", "review"]));
    assert!(me["name"].as_str().unwrap().starts_with("token-"), "{me}");

    // Something to read: the sample's campaign, and its prompt text as the read scope sees it.
    common::post_sample_and_detect(&c, &s, ALL, ALL).await;
    let (_, page) = common::get_json(&c, &s, "/v1/clusters", Some(ALL)).await;
    let cluster = page["clusters"][0].clone();
    let id = cluster["id"].as_str().expect("a cluster").to_string();
    let account = cluster["accounts"][0].as_str().unwrap().to_string();
    let mut texts: Vec<String> = cluster["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    for sh in cluster["shared"].as_array().unwrap() {
        if ["prompt_template", "prompt_phrase", "system_prompt"]
            .contains(&sh["attribute"].as_str().unwrap())
        {
            texts.push(sh["value"].as_str().unwrap().to_string());
        }
    }
    assert!(texts.len() >= 3, "{cluster}");
    let texts: Vec<String> = texts.iter().map(|t| json_text(t)).collect();
    common::confirm(&c, &s, ALL, &id).await;

    // The table covers exactly the routes the service describes, with the scopes it states.
    let (_, doc) = common::get_json(&c, &s, "/openapi.json", None).await;
    let mut described = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            described.push((method.clone(), path.clone()));
            let row = ROUTES
                .iter()
                .find(|r| r.0 == method && r.1 == path)
                .unwrap_or_else(|| panic!("{method} {path} has no row in the access matrix"));
            let stated: Vec<&str> = op["security"][0]["bearer"]
                .as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
                .unwrap_or_default();
            let expected: Vec<&str> = match row.2 {
                Public => vec![],
                Token => vec!["ingest", "read", "review", "admin"],
                Scopes(s) => s.to_vec(),
            };
            assert_eq!(stated, expected, "{method} {path}: scopes in /openapi.json");
        }
    }
    for (method, path, ..) in ROUTES {
        assert!(
            described.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is in the matrix but not in /openapi.json"
        );
    }

    let mut checked = 0;
    for &(method, path, need, prompts) in ROUTES {
        for caller in callers() {
            let mut req = request(&c, &s, method, path, &id, &account);
            if let Some(h) = &caller.header {
                req = req.header("authorization", h);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let challenge = resp.headers().get("www-authenticate").is_some();
            let body = resp.text().await.unwrap();
            let what = format!(
                "{method} {path} with {}: {status} {body:.300}",
                caller.label
            );
            let allowed = match (need, &caller.scopes) {
                (Public, _) => true,
                (_, None) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    assert!(challenge, "401 without WWW-Authenticate: {what}");
                    false
                }
                (Token, Some(_)) => true,
                (Scopes(need), Some(held)) => need.iter().any(|n| held.contains(n)),
            };
            if allowed {
                assert_eq!(status, StatusCode::OK, "{what}");
            } else if caller.scopes.is_some() {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
            }
            let reads = caller.scopes.as_ref().is_some_and(|s| s.contains(&"read"));
            let shown: Vec<&String> = texts.iter().filter(|t| body.contains(*t)).collect();
            if !reads {
                assert!(shown.is_empty(), "prompt text {shown:?} shown to {what}");
            } else if allowed && prompts {
                assert!(
                    !shown.is_empty(),
                    "no prompt text for the read scope: {what}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * callers().len());
}

#[test]
fn no_command_line_flag_takes_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--listen"), "{help}");
    for word in ["token", "secret", "password", "auth"] {
        assert!(
            !help.to_lowercase().contains(word),
            "`serve --help` mentions {word:?}:\n{help}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--token", "abcdefgh12"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a token flag was accepted");
}

#[test]
fn a_file_of_tokens_other_users_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tokens_file = dir.path().join("tokens.toml");
    write_tokens_file(&tokens_file);
    set_mode(&tokens_file, 0o644);
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("DISTILLGUARD_TOKENS_FILE", &tokens_file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("can be read by other users") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains(ALL), "the error shows a token: {err}");

    // So is a configuration file that holds tokens; one without tokens may be world-readable.
    let config = dir.path().join("distillguard.toml");
    std::fs::copy(&tokens_file, &config).unwrap();
    set_mode(&config, 0o644);
    let out = Command::new(env!("CARGO_BIN_EXE_distillguard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds tokens"), "{err}");
}

const MARKER: &str = "qx7-leak-marker";

/// Records whose text holds the marker: good ones (prompt and system prompt, and chat
/// messages), and bad ones whose reject reasons might quote it.
fn marked_records() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..24 {
        writeln!(
            out,
            "{}",
            json!({
                "ts": 1_772_445_600 + i * 60,
                "account_id": format!("leak-{}", i % 4),
                "request_id": format!("leak-{i}"),
                "ip": "203.0.113.5",
                "payment_fingerprint": "pf-leak",
                "prompt": format!("Solve {MARKER} step by step: problem {i}, then answer on the last line please"),
                "system_prompt": format!("You are {MARKER}, a tutor."),
            })
        )
        .unwrap();
    }
    writeln!(
        out,
        "{}",
        json!({"ts": 1_772_446_000, "account_id": "leak-chat", "request_id": "leak-chat",
               "messages": [{"role": "system", "content": format!("system {MARKER}")},
                            {"role": "user", "content": format!("user {MARKER}")}]})
    )
    .unwrap();
    for bad in [
        format!(r#"{{"ts":"{MARKER}","account_id":"leak-bad","prompt":"{MARKER}"}}"#),
        format!(r#"{{"ts":1772446000,"account_id":"leak-bad","turn":"{MARKER}"}}"#),
        format!(r#"{{"ts":1772446000,"account_id":"leak-bad","prompt":{{"{MARKER}":1}}}}"#),
        format!(r#"{{"ts":1772446000,"account_id":"leak-bad","prompt":"{MARKER}"#),
        format!("{MARKER} is not JSON"),
        format!(
            r#"{{"ts":1772446000,"account_id":"leak-big","prompt":"{}"}}"#,
            MARKER.repeat(400)
        ),
    ] {
        writeln!(out, "{bad}").unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The LiteLLM fixture with the marker in every prompt and system prompt.
fn marked_litellm() -> String {
    std::fs::read_to_string(fixture("litellm.json"))
        .unwrap()
        .replace("careful math tutor", &format!("careful {MARKER} tutor"))
        .replace(
            "Solve step by step",
            &format!("Solve {MARKER} step by step"),
        )
        .replace("Write a haiku", &format!("Write a {MARKER} haiku"))
        .replace(
            "Explain the difference",
            &format!("Explain {MARKER} the difference"),
        )
}

/// Everything a shipper and a reviewer would send, with the marker in the prompt text.
async fn exercise(c: &reqwest::Client, url: &str) {
    let post = |path: &str, ct: &str, token: &str, body: Vec<u8>| {
        c.post(format!("{url}{path}"))
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let nd = "application/x-ndjson";
    let records = marked_records();
    let r = post("/v1/logs", nd, ALL, records.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let answer = r.text().await.unwrap();
    // The answer goes to the shipper that sent the records; the logs must not.
    assert!(answer.contains("rejects"), "{answer}");
    let r = post("/v1/logs", nd, ALL, gzip(&records)).await.unwrap();
    assert_eq!(r.status(), 200);
    let mut truncated = gzip(&records);
    truncated.truncate(truncated.len() / 2);
    let r = post("/v1/logs", nd, ALL, truncated).await.unwrap();
    assert_eq!(r.status(), 400);
    let bad_only = format!("{MARKER}\n{{\"ts\":\"{MARKER}\"}}\n");
    let r = post("/v1/logs", nd, ALL, bad_only.into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post("/v1/logs", "text/plain", ALL, records.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = post("/v1/logs", nd, "tok-read-000002", records.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let big: Vec<u8> = records.iter().copied().cycle().take(300 << 10).collect();
    let r = post("/v1/logs", nd, ALL, big).await.unwrap();
    assert_eq!(r.status(), 413);
    let litellm = marked_litellm();
    assert!(litellm.matches(MARKER).count() >= 4, "every prompt marked");
    for path in ["/v1/litellm", "/v1/logs"] {
        let r = post(path, "application/json", ALL, litellm.clone().into())
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }

    let get = |path: String| c.get(format!("{url}{path}")).bearer_auth(ALL).send();
    let r = post("/v1/detect", nd, ALL, Vec::new()).await.unwrap();
    assert_eq!(r.status(), 200);
    let page = get("/v1/clusters?min_score=0".into()).await.unwrap();
    let page: Value = serde_json::from_str(&page.text().await.unwrap()).unwrap();
    let ids: Vec<String> = page["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.is_empty(), "{page}");
    for id in &ids {
        for path in [
            format!("/v1/clusters/{id}"),
            format!("/v1/clusters/{id}/activity"),
        ] {
            assert_eq!(get(path).await.unwrap().status(), 200);
        }
        let r = post(
            "/v1/decisions",
            "application/json",
            ALL,
            json!({"decision": "confirm", "cluster_id": id})
                .to_string()
                .into(),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    for path in [
        "/v1/accounts/leak-0",
        "/v1/accounts/leak-chat",
        "/v1/decisions",
        "/v1/enforcement?format=csv",
        "/v1/stats",
        "/metrics",
    ] {
        assert_eq!(get(path.into()).await.unwrap().status(), 200, "{path}");
    }
    for path in ["/v1/admin/snapshot", "/v1/admin/compact"] {
        let r = post(path, nd, ALL, Vec::new()).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_prompt_text_or_token_in_the_service_logs() {
    // Text logs with prompt text kept; JSON logs in privacy mode.
    for json_logs in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let tokens_file = dir.path().join("tokens.toml");
        write_tokens_file(&tokens_file);
        let env_tokens = env_tokens();
        let (out, err) = (dir.path().join("out.log"), dir.path().join("err.log"));
        let args: &[&str] = if json_logs { &["--log-json"] } else { &[] };
        let data = dir.path().join("data");
        let (mut child, url) = spawn_serve_to_files(
            &data,
            args,
            [
                ("RUST_LOG", "trace"),
                ("DISTILLGUARD_TOKENS", env_tokens.as_str()),
                ("DISTILLGUARD_TOKENS_FILE", tokens_file.to_str().unwrap()),
                ("DISTILLGUARD_MAX_RECORD_BYTES", "4KiB"),
                ("DISTILLGUARD_MAX_BODY_BYTES", "256KiB"),
                // Every account is a finding, so every read route has something to show.
                ("DISTILLGUARD_MIN_SCORE", "0"),
                (
                    "DISTILLGUARD_PRIVACY_MODE",
                    if json_logs { "true" } else { "false" },
                ),
            ],
            &out,
            &err,
        );
        wait_ready(&url);
        exercise(&reqwest::Client::new(), &url).await;
        assert!(terminate(&mut child).success());

        let logs = std::fs::read_to_string(&out).unwrap() + &std::fs::read_to_string(&err).unwrap();
        // The level was the most verbose: every request is logged, with its route.
        assert!(logs.matches("/v1/logs").count() >= 8, "{logs:.2000}");
        assert!(logs.contains("TRACE"), "no trace-level line:\n{logs:.2000}");
        if json_logs {
            for line in std::fs::read_to_string(&err).unwrap().lines() {
                assert!(
                    serde_json::from_str::<Value>(line).is_ok(),
                    "not JSON: {line}"
                );
            }
        }
        assert!(!logs.contains(MARKER), "prompt text in the logs:\n{logs}");
        if json_logs {
            // Privacy mode: LiteLLM payloads and mapped records are reduced like the rest.
            let found = common::files_holding(&data, MARKER.as_bytes());
            assert!(found.is_empty(), "prompt text stored in {found:?}");
        }
        for (token, ..) in FILE_TOKENS {
            assert!(!logs.contains(token), "a token in the logs");
        }
        for (token, _) in ENV_TOKENS {
            assert!(!logs.contains(token), "a token in the logs");
        }
    }
}
