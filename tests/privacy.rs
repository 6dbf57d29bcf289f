//! Privacy mode: with `privacy_mode` (service) or `--privacy-mode` (scan), no prompt or system
//! prompt text is written to disk, kept, or answered, and detection finds the same clusters.

use std::io::Read;

use serde_json::{Value, json};

mod common;

use common::{Server, clusters_of, files_holding, fixture, get_json, post_json, scan_json};

const MARKER: &str = "qx7-private-marker";
const TOKEN: &str = "privacy-all-scopes";

/// Puts the marker in the middle of a text, where the template keys (its first and last words)
/// do not reach when it is long enough.
fn mark(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mid = words.len() / 2;
    format!(
        "{} {MARKER} {}",
        words[..mid].join(" "),
        words[mid..].join(" ")
    )
}

/// The bundled sample with the marker in every prompt, system prompt and chat message.
fn marked_sample() -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture("sample.ndjson.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            for key in ["prompt", "system_prompt"] {
                if let Some(t) = v[key].as_str() {
                    v[key] = json!(mark(t));
                }
            }
            if let Some(messages) = v["messages"].as_array_mut() {
                for m in messages {
                    if let Some(t) = m["content"].as_str() {
                        m["content"] = json!(mark(t));
                    }
                }
            }
            v.to_string()
        })
        .collect()
}

/// Every answer a reader can get about the current findings, as text.
async fn every_answer(c: &reqwest::Client, s: &Server) -> (Value, String) {
    let (st, page) = get_json(c, s, "/v1/clusters?status=all&limit=1000", Some(TOKEN)).await;
    assert_eq!(st, 200);
    let mut all = page.to_string();
    let mut paths = vec![
        "/v1/decisions".to_string(),
        "/v1/enforcement?format=csv".to_string(),
        "/v1/enforcement".to_string(),
        "/v1/stats".to_string(),
    ];
    for cl in page["clusters"].as_array().unwrap() {
        let id = cl["id"].as_str().unwrap();
        paths.push(format!("/v1/clusters/{id}"));
        paths.push(format!("/v1/clusters/{id}/activity"));
        for a in cl["accounts"].as_array().unwrap().iter().take(3) {
            paths.push(format!("/v1/accounts/{}", a.as_str().unwrap()));
        }
    }
    for p in paths {
        let (st, text) = common::answer(c.get(s.url(&p)), Some(TOKEN)).await;
        assert_eq!(st, 200, "{p}: {text}");
        all.push_str(&text);
    }
    (page, all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privacy_mode_keeps_no_prompt_text_and_finds_the_same_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let lines = marked_sample();
    let file = dir.path().join("marked.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    // Texts of the input that must not be stored: the marker, and stretches of real prompts.
    let mut secrets: Vec<String> = vec![MARKER.to_string()];
    for line in lines.iter().step_by(97) {
        let v: Value = serde_json::from_str(line).unwrap();
        let prompt = v["prompt"]
            .as_str()
            .or(v["messages"][0]["content"].as_str())
            .unwrap();
        if let Some(stretch) = prompt.split(MARKER).next().filter(|t| t.len() >= 24) {
            secrets.push(stretch.trim().to_string());
        }
    }
    assert!(secrets.len() > 10, "{secrets:?}");

    // scan: the same clusters with and without the option; text only without it.
    let plain = scan_json(&file, &[]);
    let private = scan_json(&file, &["--privacy-mode"]);
    assert!(
        plain.to_string().contains(MARKER),
        "the marker shows when text is kept"
    );
    assert!(!private.to_string().contains(MARKER), "{private:.2000}");
    let expected = clusters_of(&private);
    assert_eq!(expected, clusters_of(&plain));
    assert!(
        expected.values().any(|(_, a)| a.len() >= 20),
        "{expected:?}"
    );
    let campaign = &private["clusters"][0];
    assert_eq!(campaign["examples"], json!([]));
    let shared = campaign["shared"].as_array().unwrap();
    let template = shared
        .iter()
        .find(|s| s["attribute"] == "prompt_template")
        .expect("a shared template");
    assert!(
        template["value"].as_str().unwrap().contains("(key "),
        "a template reads as its key: {template}"
    );
    if let Some(system) = shared.iter().find(|s| s["attribute"] == "system_prompt") {
        assert!(
            system["value"].as_str().unwrap().starts_with('#'),
            "{system}"
        );
    }

    // The service in privacy mode, posted the same records in four batches.
    let data = dir.path().join("data");
    let env = [
        (
            "DISTILLGUARD_TOKENS",
            &*format!("{TOKEN}:ingest+read+review+admin"),
        ),
        ("DISTILLGUARD_PRIVACY_MODE", "true"),
    ];
    let s = Server::start(&data, &env);
    let c = reqwest::Client::new();
    let quarter = lines.len() / 4 + 1;
    for (i, part) in lines.chunks(quarter).enumerate() {
        let body = (part.join("\n") + "\n").into_bytes();
        if i == 3 {
            // A snapshot before the last batch: a restart loads it and replays the rest.
            let (st, _) = post_json(&c, &s, "/v1/admin/snapshot", Some(TOKEN), &json!({})).await;
            assert_eq!(st, 200);
        }
        common::post_and_detect(&c, &s, TOKEN, TOKEN, body).await;
    }
    let (page, answers) = every_answer(&c, &s).await;
    assert_eq!(
        clusters_of(&page),
        expected,
        "the service finds what scan finds"
    );
    let (_, stats) = get_json(&c, &s, "/v1/stats", Some(TOKEN)).await;
    assert_eq!(stats["privacy_mode"], true, "{stats}");
    let id = page["clusters"][0]["id"].as_str().unwrap().to_string();
    common::confirm(&c, &s, TOKEN, &id).await;
    let (_, after_decision) = every_answer(&c, &s).await;
    for secret in &secrets {
        assert!(
            !answers.contains(secret.as_str()) && !after_decision.contains(secret.as_str()),
            "{secret:?} answered by the API"
        );
    }
    assert!(
        after_decision.contains("(key "),
        "the export lists template keys"
    );

    // Killed, then restarted: the log after the snapshot is replayed, the state is the same.
    let s = s.restart();
    assert_eq!(common::detect(&c, &s, Some(TOKEN)).await, 200);
    let (page, answers) = every_answer(&c, &s).await;
    assert_eq!(clusters_of(&page), expected, "after a restart");
    assert!(!answers.contains(MARKER));
    // Stopped cleanly (a snapshot at the stop), then nothing on disk holds the text.
    let mut s = s;
    assert!(common::terminate(&mut s.child).success());
    for secret in &secrets {
        let found = files_holding(&data, secret.as_bytes());
        assert!(found.is_empty(), "{secret:?} stored in {found:?}");
    }
    let s = Server::start(&data, &env);
    assert_eq!(common::detect(&c, &s, Some(TOKEN)).await, 200);
    let (page, _) = every_answer(&c, &s).await;
    assert_eq!(clusters_of(&page), expected, "after a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_mode_set_later_shows_no_text_kept_before() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = format!("{TOKEN}:ingest+read+review+admin");
    let mut env = vec![("DISTILLGUARD_TOKENS", tokens.as_str())];
    let s = Server::start(&data, &env);
    let c = reqwest::Client::new();
    let body = marked_sample()[..1200].join("\n").into_bytes();
    common::post_and_detect(&c, &s, TOKEN, TOKEN, body).await;
    let (_, answers) = every_answer(&c, &s).await;
    assert!(
        answers.contains(MARKER),
        "text is shown without privacy mode"
    );
    let (_, stats) = get_json(&c, &s, "/v1/stats", Some(TOKEN)).await;
    assert_eq!(stats["privacy_mode"], false, "{stats}");
    let (st, _) = post_json(&c, &s, "/v1/admin/snapshot", Some(TOKEN), &json!({})).await;
    assert_eq!(st, 200);
    drop(s);
    // Both the snapshot and the log hold text; privacy mode keeps none of it in memory.
    env.push(("DISTILLGUARD_PRIVACY_MODE", "true"));
    let s = Server::start(&data, &env);
    assert_eq!(common::detect(&c, &s, Some(TOKEN)).await, 200);
    let (_, answers) = every_answer(&c, &s).await;
    assert!(!answers.contains(MARKER), "{answers:.2000}");
}

#[test]
fn scan_in_privacy_mode_keeps_no_excerpt_of_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let input = fixture("mixed.ndjson");
    let report = scan_json(
        &input,
        &["--privacy-mode", "--rejects", rejects.to_str().unwrap()],
    );
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert!(written.lines().count() >= 3, "{written}");
    for line in written.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["excerpt"], "", "{line}");
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{line}"
        );
    }
    for r in report["rejects"]["first"].as_array().unwrap() {
        assert_eq!(r["excerpt"], "", "{r}");
    }
    // Without the option the excerpts are there (so the test above can fail).
    let report = scan_json(&input, &[]);
    assert_ne!(report["rejects"]["first"][0]["excerpt"], "");
}
