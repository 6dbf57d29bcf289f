//! Routes for reviewing clusters: decisions, the members' activity and ties (for the timeline
//! and the graph), and the export of confirmed campaigns for enforcement.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::auth::{Caller, Scope};
use super::decisions::{Decision, Proposal, Verdict, allow_key};
use super::detection;
use super::error::ApiError;
use super::now_ms;
use super::routes::{REDACTED, is_prompt_text, redact_shared};
use crate::report::{Cluster, rfc3339};

type AppState = Arc<App>;

const HOUR_MS: i64 = 3_600_000;
/// The longest timeline served, in hours (the newest part is kept).
const MAX_TIMELINE_HOURS: i64 = 24 * 31;

/// Shared evidence that other providers can match on.
const INDICATOR_KINDS: [&str; 6] = [
    "ip",
    "network",
    "payment_fingerprint",
    "tls_fingerprint",
    "prompt_template",
    "prompt_phrase",
];

fn cluster_in_latest(app: &App, id: &str) -> Result<Cluster, ApiError> {
    app.detection
        .latest()
        .report
        .clusters
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!("no cluster {id:?} in the latest detection run"))
        })
}

/// A decision as this caller may see it: the evidence snapshot without prompt text unless read.
pub fn shown_decision(mut d: Decision, caller: &Caller) -> Decision {
    if !caller.sees_prompts() {
        redact_shared(&mut d.shared);
    }
    d
}

pub async fn post_decision(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Decision>, ApiError> {
    caller.require(&[Scope::Review, Scope::Admin])?;
    app.check_ready()?;
    let p: Proposal = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a decision: {e}")))?;
    let mut d = Decision {
        seq: 0,
        decision: p.decision,
        cluster_id: p.cluster_id.clone(),
        members: Vec::new(),
        score: None,
        shared: Vec::new(),
        attribute: None,
        value: None,
        by: caller.name().to_string(),
        at: rfc3339(now_ms()),
        note: p.note.unwrap_or_default(),
    };
    let allowlisting = matches!(p.decision, Verdict::Allowlist | Verdict::Unallowlist);
    if allowlisting {
        let (Some(attribute), Some(value)) = (p.attribute, p.value) else {
            return Err(ApiError::bad_request(
                "an allowlist decision needs attribute and value",
            ));
        };
        allow_key(&attribute, &value).map_err(ApiError::bad_request)?;
        d.attribute = Some(attribute);
        d.value = Some(value.trim().to_string());
    } else {
        let id = p
            .cluster_id
            .ok_or_else(|| ApiError::bad_request("a decision on a cluster needs cluster_id"))?;
        let c = cluster_in_latest(&app, &id)?;
        d.members = c.accounts;
        d.score = Some(c.score);
        d.shared = c.shared;
    }
    let worker = app.clone();
    let d = tokio::task::spawn_blocking(move || worker.decisions.record(&worker.store, d))
        .await
        .map_err(|e| ApiError::internal(format!("recording the decision failed: {e}")))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    tracing::info!(decision = ?d.decision, by = %d.by, cluster = ?d.cluster_id, "decision recorded");
    if allowlisting {
        detection::redetect(&app).await?;
    }
    Ok(Json(shown_decision(d, &caller)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    cluster_id: Option<String>,
}

pub async fn list_decisions(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<DecisionQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let decisions: Vec<Decision> = app
        .decisions
        .all()
        .into_iter()
        .filter(|d| q.cluster_id.is_none() || d.cluster_id == q.cluster_id)
        .map(|d| shown_decision(d, &caller))
        .collect();
    let allowlist: Vec<Value> = app
        .decisions
        .allowlisted()
        .into_iter()
        .map(|(attribute, value)| json!({"attribute": attribute, "value": value}))
        .collect();
    Ok(Json(
        json!({"decisions": decisions, "allowlist": allowlist}),
    ))
}

/// Hours with activity of each listed member, and which shared values each holds.
pub async fn cluster_activity(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    app.check_ready()?;
    let c = cluster_in_latest(&app, &id)?;
    let engine = app.engine();
    let shared: HashSet<(&str, &str)> = c
        .shared
        .iter()
        .map(|s| (s.attribute.as_str(), s.value.as_str()))
        .collect();
    let acts: Vec<_> = c
        .members
        .iter()
        .filter_map(|m| engine.activity(&m.account_id).map(|a| (m, a)))
        .collect();
    let end = acts
        .iter()
        .map(|(_, a)| a.last_ms.div_euclid(HOUR_MS))
        .max()
        .unwrap_or(0);
    let start = acts
        .iter()
        .map(|(_, a)| a.first_ms.div_euclid(HOUR_MS))
        .min()
        .unwrap_or(0)
        .max(end - MAX_TIMELINE_HOURS + 1);
    let mut ties: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    let mut members = Vec::new();
    for (m, a) in &acts {
        for (attr, value) in &a.values {
            if shared.contains(&(*attr, value.as_str())) {
                let value = if is_prompt_text(attr) && !caller.sees_prompts() {
                    REDACTED.to_string()
                } else {
                    value.clone()
                };
                ties.entry((attr, value)).or_default().push(&m.account_id);
            }
        }
        let hours: Vec<i64> = a
            .active_hours
            .iter()
            .filter(|&&h| h >= start)
            .map(|h| h - start)
            .collect();
        members.push(json!({
            "account_id": m.account_id,
            "requests": a.requests,
            "first_seen": rfc3339(a.first_ms),
            "last_seen": rfc3339(a.last_ms),
            "active_hours": hours,
            "hours_of_day": a.hours_of_day,
        }));
    }
    let ties: Vec<Value> = ties
        .into_iter()
        .filter(|(_, holders)| holders.len() >= 2)
        .map(|((attribute, value), holders)| {
            json!({"attribute": attribute, "value": value, "accounts": holders})
        })
        .collect();
    Ok(Json(json!({
        "cluster_id": c.id,
        "start": rfc3339(start * HOUR_MS),
        "hours": (end - start + 1).max(0),
        "members": members,
        "ties": ties,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
}

/// One row of the export: an account or an indicator of a confirmed cluster.
struct Row<'a> {
    kind: &'a str,
    value: &'a str,
    decision: &'a Decision,
    members: Option<usize>,
    population: Option<usize>,
}

/// Accounts of confirmed clusters, and indicators from their shared evidence (allowlisted
/// values left out; prompt text only with the read scope).
pub async fn enforcement(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => return Err(ApiError::bad_request(format!("format {f:?}: json or csv"))),
    };
    let index = app.decisions.index();
    let allowed: HashSet<(String, String)> = app.decisions.allowlisted().into_iter().collect();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let confirmed = index.confirmed();
    for d in &confirmed {
        for a in &d.members {
            rows.push(Row {
                kind: "account",
                value: a,
                decision: d,
                members: None,
                population: None,
            });
        }
    }
    for d in &confirmed {
        for s in &d.shared {
            let key = (s.attribute.clone(), s.value.clone());
            if !INDICATOR_KINDS.contains(&s.attribute.as_str())
                || (is_prompt_text(&s.attribute) && !caller.sees_prompts())
                || allowed.contains(&key)
                || !seen.insert(key)
            {
                continue;
            }
            rows.push(Row {
                kind: &s.attribute,
                value: &s.value,
                decision: d,
                members: Some(s.members),
                population: Some(s.population),
            });
        }
    }
    if csv {
        let mut out =
            String::from("kind,value,cluster_id,members,population,confirmed_at,confirmed_by\n");
        for r in &rows {
            let opt = |n: Option<usize>| n.map_or(String::new(), |n| n.to_string());
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                r.kind,
                csv_field(r.value),
                csv_field(r.decision.cluster_id.as_deref().unwrap_or("")),
                opt(r.members),
                opt(r.population),
                r.decision.at,
                csv_field(&r.decision.by)
            );
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"enforcement.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let entry = |r: &Row<'_>| {
        json!({
            "cluster_id": r.decision.cluster_id,
            "confirmed_at": r.decision.at,
            "confirmed_by": r.decision.by,
        })
    };
    let (accounts, indicators): (Vec<&Row<'_>>, Vec<&Row<'_>>) =
        rows.iter().partition(|r| r.kind == "account");
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|r| {
            let mut v = entry(r);
            v["account_id"] = json!(r.value);
            v
        })
        .collect();
    let indicators: Vec<Value> = indicators
        .iter()
        .map(|r| {
            let mut v = entry(r);
            v["kind"] = json!(r.kind);
            v["value"] = json!(r.value);
            v["members"] = json!(r.members);
            v["population"] = json!(r.population);
            v
        })
        .collect();
    Ok(Json(json!({
        "clusters": confirmed.len(),
        "accounts": accounts,
        "indicators": indicators,
    }))
    .into_response())
}

/// A CSV field, quoted when it holds a separator, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("203.0.113.0/24"), "203.0.113.0/24");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
