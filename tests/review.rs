//! Reviewers' decisions over HTTP against the real service: scopes, the activity behind the
//! timeline and the graph, confirmation and the enforcement export, the allowlist, dismissal
//! and its return when the cluster grows, all across a restart.

mod common;

use std::io::Read;

use common::{
    Server, answer, detect, fixture, get_json, post_and_detect, post_json, post_sample_and_detect,
};
use serde_json::{Value, json};

const INGEST: &str = "ingest-token-1";
const READ: &str = "read-token-22";
const ADMIN: &str = "admin-token-333";
const REVIEWER: &str = "reviewer-token-4444";

fn env() -> Vec<(&'static str, String)> {
    vec![(
        "DISTILLGUARD_TOKENS",
        format!("{INGEST}:ingest,{READ}:read,{ADMIN}:admin,{REVIEWER}:read+review"),
    )]
}

fn start(dir: &std::path::Path) -> Server {
    let env: Vec<(String, String)> = env().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Server::start_owned(dir, env)
}

/// The clusters listed for `query`, by id, with their review status.
async fn listed(c: &reqwest::Client, s: &Server, query: &str) -> Vec<(String, String, Value)> {
    let (st, page) = get_json(c, s, &format!("/v1/clusters?{query}"), Some(READ)).await;
    assert_eq!(st, 200, "{page}");
    page["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["review"]["status"].as_str().unwrap().to_string(),
                c.clone(),
            )
        })
        .collect()
}

/// The sample's records of one account, under another account id.
fn records_as(account: &str, new_id: &str) -> Vec<u8> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(fixture("sample.ndjson.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["account_id"] == account {
            v["account_id"] = json!(new_id);
            v["request_id"] = json!(format!("{new_id}-{}", v["request_id"].as_str().unwrap()));
            out.extend_from_slice(v.to_string().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decisions_persist_and_feed_back_into_detection() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let c = reqwest::Client::new();
    post_sample_and_detect(&c, &s, INGEST, ADMIN).await;

    // The page and its scripts are built in, and allow nothing from elsewhere.
    let page = c.get(s.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    assert_eq!(answer(c.get(s.url("/ui/app.js")), None).await.0, 200);
    assert_eq!(answer(c.get(s.url("/ui/nope.js")), None).await.0, 404);
    let (st, me) = get_json(&c, &s, "/v1/me", Some(REVIEWER)).await;
    assert_eq!(
        (st.as_u16(), me["scopes"].clone()),
        (200, json!(["read", "review"]))
    );
    assert_eq!(get_json(&c, &s, "/v1/me", None).await.0, 401);

    let clusters = listed(&c, &s, "").await;
    let (id, status, top) = clusters[0].clone();
    assert_eq!(status, "open");
    let members = top["accounts"].as_array().unwrap().len();
    assert!(members >= 20, "{top}");

    // The activity behind the timeline and the graph.
    let (st, act) = get_json(&c, &s, &format!("/v1/clusters/{id}/activity"), Some(ADMIN)).await;
    assert_eq!(st, 200, "{act}");
    let lanes = act["members"].as_array().unwrap();
    assert_eq!(lanes.len(), members);
    assert!(
        lanes
            .iter()
            .all(|m| !m["active_hours"].as_array().unwrap().is_empty())
    );
    let ties = act["ties"].as_array().unwrap();
    assert!(
        ties.iter()
            .any(|t| t["attribute"] == "network" && t["accounts"].as_array().unwrap().len() >= 2),
        "{act}"
    );

    let member = top["accounts"][0].as_str().unwrap();
    let (_, account) = get_json(&c, &s, &format!("/v1/accounts/{member}"), Some(READ)).await;
    assert_eq!(account["cluster"]["status"], "open");
    assert!(account["signals"][0]["label"].is_string(), "{account}");
    assert!(
        !account["activity"]["active_hours"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Deciding needs review or admin.
    let confirm =
        json!({"decision": "confirm", "cluster_id": id, "note": "harvesting reasoning traces"});
    let (st, _) = post_json(&c, &s, "/v1/decisions", Some(READ), &confirm).await;
    assert_eq!(st, 403);
    let (st, _) = post_json(&c, &s, "/v1/decisions", Some(INGEST), &confirm).await;
    assert_eq!(st, 403);
    let (st, d) = post_json(&c, &s, "/v1/decisions", Some(REVIEWER), &confirm).await;
    assert_eq!(st, 200, "{d}");
    assert!(d["by"].as_str().unwrap().starts_with("token-"), "{d}");
    assert_eq!(d["members"].as_array().unwrap().len(), members);
    let (st, _) = post_json(
        &c,
        &s,
        "/v1/decisions",
        Some(REVIEWER),
        &json!({"decision": "confirm", "cluster_id": "dg-nope"}),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = post_json(
        &c,
        &s,
        "/v1/decisions",
        Some(REVIEWER),
        &json!({"decision": "maybe"}),
    )
    .await;
    assert_eq!(st, 400);

    // The export: its accounts, and indicators; prompt templates only with read.
    let (st, export) = get_json(&c, &s, "/v1/enforcement", Some(READ)).await;
    assert_eq!(st, 200);
    assert_eq!(export["accounts"].as_array().unwrap().len(), members);
    let kinds = |e: &Value| -> Vec<String> {
        e["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap().to_string())
            .collect()
    };
    for kind in ["network", "payment_fingerprint", "prompt_template"] {
        assert!(kinds(&export).iter().any(|k| k == kind), "{kind}: {export}");
    }
    let (_, as_admin) = get_json(&c, &s, "/v1/enforcement", Some(ADMIN)).await;
    assert!(
        !kinds(&as_admin).iter().any(|k| k.starts_with("prompt")),
        "{as_admin}"
    );
    let (st, csv) = answer(c.get(s.url("/v1/enforcement?format=csv")), Some(READ)).await;
    assert_eq!(st, 200);
    assert!(csv.starts_with("kind,value,cluster_id,"));
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("account,")).count(),
        members
    );
    assert!(csv.contains("\nnetwork,45.32.247.0/24,"), "{csv}");

    // An allowlisted network stops being evidence (and ties nobody).
    let allow = json!({"decision": "allowlist", "attribute": "network", "value": "45.32.247.0/24"});
    let (st, _) = post_json(&c, &s, "/v1/decisions", Some(ADMIN), &allow).await;
    assert_eq!(st, 200);
    let bad = json!({"decision": "allowlist", "attribute": "network", "value": "45.32.0.0/16"});
    assert_eq!(
        post_json(&c, &s, "/v1/decisions", Some(ADMIN), &bad)
            .await
            .0,
        400
    );
    let (_, after) = get_json(&c, &s, &format!("/v1/clusters/{id}"), Some(READ)).await;
    let shared: Vec<&str> = after["shared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert!(!shared.contains(&"45.32.247.0/24"), "{shared:?}");
    assert_eq!(after["review"]["status"], "confirmed");
    let (_, export) = get_json(&c, &s, "/v1/enforcement", Some(READ)).await;
    assert!(!export.to_string().contains("45.32.247.0/24"));

    // Dismissed: out of the queue, across a restart.
    let dismiss = json!({"decision": "dismiss", "cluster_id": id});
    assert_eq!(
        post_json(&c, &s, "/v1/decisions", Some(REVIEWER), &dismiss)
            .await
            .0,
        200
    );
    assert!(!listed(&c, &s, "").await.iter().any(|(i, _, _)| *i == id));
    let s = s.restart();
    assert_eq!(detect(&c, &s, Some(ADMIN)).await, 200);
    assert!(!listed(&c, &s, "").await.iter().any(|(i, _, _)| *i == id));
    let dismissed = listed(&c, &s, "status=dismissed").await;
    assert_eq!(dismissed.len(), 1);
    assert_eq!(dismissed[0].2["review"]["decision"]["decision"], "dismiss");
    let (_, history) = get_json(&c, &s, "/v1/decisions", Some(READ)).await;
    assert_eq!(history["decisions"].as_array().unwrap().len(), 3);
    assert_eq!(
        history["allowlist"],
        json!([{"attribute": "network", "value": "45.32.247.0/24"}])
    );
    let (_, after) = get_json(&c, &s, "/v1/clusters?status=all", Some(READ)).await;
    assert!(
        !after.to_string().contains("45.32.247.0/24"),
        "the allowlist is lost at restart"
    );

    // New evidence: one more account with the campaign's traffic brings it back.
    let member = top["accounts"][0].as_str().unwrap();
    let body = records_as(member, "newcomer-1");
    post_and_detect(&c, &s, INGEST, ADMIN, body).await;
    let back = listed(&c, &s, "").await;
    let grown = back
        .iter()
        .find(|(_, _, c)| {
            c["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "newcomer-1")
        })
        .unwrap_or_else(|| panic!("the grown cluster is not listed: {back:?}"));
    assert_eq!(grown.1, "open");
    // Said either way: grown under its id, or named after another member now.
    let review = &grown.2["review"];
    assert!(
        review["grew_from"] == members || review["related"][0]["cluster_id"] == id,
        "{review}"
    );
}
