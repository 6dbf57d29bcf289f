//! The HTTP routes. Each handler checks the caller's scopes first; `/healthz`, `/readyz` and
//! `/openapi.json` are public so probes and tools can reach them without a token.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::auth::{Caller, Scope};
use super::decisions::Review;
use super::detection::{self, Snapshot};
use super::error::ApiError;
use super::ingest;
use super::metrics::Gauges;
use crate::record::Shape;

use super::review::{self, shown_decision};
use super::ui;
use crate::report::table::{label, strongest};
use crate::report::{Cluster, Shared, rfc3339};

type AppState = Arc<App>;

/// The router with the list of what it serves, so the API description can be checked against it.
pub struct Routes {
    router: Router<AppState>,
    pub list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(mut self, method: &'static str, path: &'static str, mr: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, mr);
        self.list.push((method, path));
        self
    }
}

pub fn routes() -> Routes {
    Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .add("get", "/healthz", get(healthz))
    .add("get", "/readyz", get(readyz))
    .add("get", "/metrics", get(metrics))
    .add("get", "/openapi.json", get(openapi))
    .add("post", "/v1/logs", post(post_logs))
    .add("post", "/v1/litellm", post(post_litellm))
    .add("post", "/v1/detect", post(post_detect))
    .add("get", "/v1/report", get(latest_report))
    .add("get", "/v1/clusters", get(list_clusters))
    .add("get", "/v1/clusters/{id}", get(get_cluster))
    .add(
        "get",
        "/v1/clusters/{id}/activity",
        get(review::cluster_activity),
    )
    .add("get", "/v1/accounts/{id}", get(get_account))
    .add("get", "/v1/decisions", get(review::list_decisions))
    .add("post", "/v1/decisions", post(review::post_decision))
    .add("get", "/v1/enforcement", get(review::enforcement))
    .add("get", "/", get(ui::index))
    .add("get", "/ui/{file}", get(ui::asset))
    .add("get", "/v1/stats", get(stats))
    .add("get", "/v1/me", get(me))
    .add("post", "/v1/admin/compact", post(post_compact))
    .add("post", "/v1/admin/snapshot", post(post_snapshot))
}

pub fn router(app: AppState) -> Router {
    routes()
        .router
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .layer(middleware::from_fn_with_state(app.clone(), bounded_body))
        .layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}

/// Bodies of requests other than log posts (decisions, admin calls): small, and bound by
/// `body_timeout` like posts, so a client trickling one cannot hold its connection for ever.
const MAX_SMALL_BODY: usize = 1 << 20;

/// Reads the body of every request but a log post (which reads its own, under its own limits)
/// within `body_timeout`: 408 when it is too slow, 413 when it is over 1 MiB.
async fn bounded_body(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/v1/logs" || path == "/v1/litellm" {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, MAX_SMALL_BODY).collect();
    let bytes = match tokio::time::timeout(app.cfg.body_timeout, read).await {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return too_large(MAX_SMALL_BODY).into_response();
        }
        Ok(Err(e)) => {
            return ApiError::bad_request(format!("cannot read the body: {e}")).into_response();
        }
        Err(_) => return body_timed_out(&app).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn body_timed_out(app: &App) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        format!(
            "the body did not arrive within {} s",
            app.cfg.body_timeout.as_secs_f64()
        ),
    )
}

/// Request metrics and one log line per request.
async fn track(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let resp = next.run(req).await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    app.metrics.request(&method, &route, status, took);
    let ms = took.as_secs_f64() * 1e3;
    if resp.status().is_server_error() {
        tracing::warn!(%method, %route, status, ms, "request");
    } else {
        tracing::debug!(%method, %route, status, ms, "request");
    }
    resp
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    app.check_ready()?;
    Ok(Json(json!({ "ready": true })))
}

async fn metrics(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(&[Scope::Admin])?;
    let engine = app.engine();
    let snap = app.detection.latest();
    let mut bands = vec![("0.5", 0u64), ("0.7", 0), ("0.9", 0)];
    let mut below = 0u64;
    for c in &snap.report.clusters {
        match bands
            .iter_mut()
            .rev()
            .find(|(b, _)| c.score >= b.parse().unwrap_or(1.0))
        {
            Some((_, n)) => *n += 1,
            None => below += 1,
        }
    }
    bands.insert(0, ("0", below));
    let text = app.metrics.render(&Gauges {
        store_bytes: app.store.file_bytes(),
        log_commits: app.store.commits(),
        log_batches: app.store.batches() as u64,
        accounts: engine.accounts() as u64,
        records_in_window: engine.accepted(),
        ready: app.is_ready(),
        clusters_by_band: bands,
    });
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

async fn post_logs(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    post_records(app, caller, headers, body, Shape::Auto).await
}

/// LiteLLM's `generic_api` logging callback posts here: every item is a `StandardLoggingPayload`.
async fn post_litellm(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    post_records(app, caller, headers, body, Shape::Litellm).await
}

async fn post_records(
    app: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    shape: Shape,
) -> Result<Response, ApiError> {
    caller.require(&[Scope::Ingest, Scope::Admin])?;
    app.check_ready()?;
    ingest::check_content_type(&headers)?;
    let encoding = ingest::content_encoding(&headers)?;
    let limit = app.cfg.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    // Admission before the body is read, so memory is bounded by the in-flight limit.
    let Ok(permit) = app.inflight.clone().try_acquire_owned() else {
        app.metrics
            .batches_refused_busy
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Read and drop the body, so the client sees the answer rather than a reset connection.
        let mut body = Limited::new(body, limit);
        while let Some(Ok(_)) = body.frame().await {}
        return Err(ApiError::unavailable(
            "too many posts in flight; retry later",
            1,
        ));
    };
    // A slow sender must not hold its in-flight place for ever.
    let read = tokio::time::timeout(app.cfg.body_timeout, Limited::new(body, limit).collect());
    let raw = match read.await {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => return Err(too_large(limit)),
        Ok(Err(e)) => return Err(ApiError::bad_request(format!("cannot read the body: {e}"))),
        Err(_) => return Err(body_timed_out(&app)),
    };
    let Ok(gate) = app.gate.clone().try_read_owned() else {
        return Err(ApiError::unavailable(
            "compacting or snapshotting the state; retry shortly",
            1,
        ));
    };
    let worker = app.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let result = ingest::ingest(&worker, caller.name(), &raw, encoding, shape);
        drop((gate, permit));
        result
    })
    .await
    .map_err(|e| ApiError::internal(format!("ingest failed: {e}")))??;
    Ok(Json(outcome).into_response())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("the body is over the limit of {limit} bytes"))
}

async fn post_detect(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    app.check_ready()?;
    let snap = detection::detect_now(&app).await?;
    Ok(Json(json!({
        "clusters": snap.report.clusters.len(),
        "accounts": snap.report.stats.accounts,
        "records": snap.report.stats.records_accepted,
        "duration_ms": snap.duration.as_millis() as u64,
        "finished_at": snap.finished_ms.map(rfc3339),
    })))
}

/// The latest detection run's whole report, as `scan --out` writes it. In Kafka mode it is the
/// report the group's detecting instance last published.
async fn latest_report(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::report::Report>, ApiError> {
    caller.require(&[Scope::Read])?;
    Ok(Json(app.detection.latest().report.clone()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterQuery {
    min_score: Option<f64>,
    /// `open`, `confirmed`, `dismissed`, `all`; without it, every cluster but the dismissed.
    status: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

const MAX_PAGE: usize = 1000;

async fn list_clusters(
    State(app): State<AppState>,
    caller: Caller,
    Query(q): Query<ClusterQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let snap = app.detection.latest();
    let min = q.min_score.unwrap_or(0.0);
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let offset = q.offset.unwrap_or(0);
    let wanted = |status: &str| match q.status.as_deref() {
        None => status != "dismissed",
        Some("all") => true,
        Some(s) => s == status,
    };
    if let Some(s) = q.status.as_deref()
        && !["open", "confirmed", "dismissed", "all"].contains(&s)
    {
        return Err(ApiError::bad_request(format!(
            "status {s:?}: open, confirmed, dismissed or all"
        )));
    }
    let index = app.decisions.index();
    let matching: Vec<(&Cluster, Review)> = snap
        .report
        .clusters
        .iter()
        .filter(|c| c.score >= min)
        .map(|c| (c, index.review(c)))
        .filter(|(_, r)| wanted(r.status))
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(c, r)| reviewed(c, &caller, &r))
        .collect();
    let next = (offset + page.len() < total).then_some(offset + page.len());
    Ok(Json(json!({
        "clusters": page,
        "stats": snap.report.stats,
        "rejects": snap.report.rejects,
        "generator": snap.report.generator,
        "detected_at": snap.finished_ms.map(rfc3339),
        "page": {"offset": offset, "limit": limit, "total": total, "next_offset": next},
    })))
}

async fn get_cluster(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let snap = app.detection.latest();
    snap.report
        .clusters
        .iter()
        .find(|c| c.id == id)
        .map(|c| Json(reviewed(c, &caller, &app.decisions.index().review(c))))
        .ok_or_else(|| {
            ApiError::not_found(format!("no cluster {id:?} in the latest detection run"))
        })
}

async fn get_account(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    app.check_ready()?;
    let summary = app
        .engine()
        .account(&id)
        .ok_or_else(|| ApiError::not_found(format!("no account {id:?} in the time window")))?;
    let snap: Arc<Snapshot> = app.detection.latest();
    let index = app.decisions.index();
    let cluster = snap.cluster_of.get(&id).map(|&i| {
        let c = &snap.report.clusters[i];
        json!({"id": c.id, "score": c.score, "size": c.size, "status": index.review(c).status})
    });
    let activity = app.engine().activity(&id).map(|a| {
        json!({
            "active_hours": a.active_hours.iter().map(|h| rfc3339(h * 3_600_000)).collect::<Vec<_>>(),
            "hours_of_day": a.hours_of_day,
        })
    });
    let examples = if caller.sees_prompts() {
        summary.examples
    } else {
        Vec::new()
    };
    let mut signals = json!(summary.signals);
    add_labels(&mut signals);
    Ok(Json(json!({
        "account_id": id,
        "requests": summary.requests,
        "first_seen": rfc3339(summary.first_ms),
        "last_seen": rfc3339(summary.last_ms),
        "score": summary.score,
        "signals": signals,
        "examples": examples,
        "models": summary.models,
        "cluster": cluster,
        "activity": activity,
    })))
}

async fn stats(State(app): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Scope::Read, Scope::Admin])?;
    let engine = app.engine();
    let snap = app.detection.latest();
    let span = engine.time_span();
    let cutoff = app.store.cutoff();
    use std::sync::atomic::Ordering::Relaxed;
    let m = &app.metrics;
    Ok(Json(json!({
        "ready": app.is_ready(),
        "privacy_mode": app.cfg.privacy_mode,
        "records_accepted": engine.accepted(),
        "duplicates": engine.duplicates(),
        "accounts": engine.accounts(),
        "first_seen": span.map(|s| rfc3339(s.0)),
        "last_seen": span.map(|s| rfc3339(s.1)),
        "window": {
            "length_seconds": app.cfg.window.as_secs(),
            "starts_at": (cutoff > i64::MIN).then(|| rfc3339(cutoff)),
        },
        "log": {
            "batches": app.store.batches(),
            "bytes": app.store.file_bytes(),
            "commits_since_start": app.store.commits(),
        },
        "since_start": {
            "accepted": m.records_accepted.load(Relaxed),
            "duplicates": m.records_duplicate.load(Relaxed),
            "rejected": m.records_rejected.load(Relaxed),
            "batches": m.batches_accepted.load(Relaxed),
            "busy": m.batches_refused_busy.load(Relaxed),
            "storage_failed": m.batches_refused_storage.load(Relaxed),
            "rate_limited": m.batches_refused_rate.load(Relaxed),
        },
        "snapshot": {
            "last": app.last_snapshot.lock().expect("snapshot record").clone(),
            "restored_at_start": app.restored.lock().expect("restored").clone(),
        },
        "detection": {
            "runs": m.detection_runs.load(Relaxed),
            "finished_at": snap.finished_ms.map(rfc3339),
            "duration_ms": snap.duration.as_millis() as u64,
            "clusters": snap.report.clusters.len(),
            "pending_batches": app.generation().saturating_sub(snap.generation),
        },
        // The partition owner of this instance, in Kafka mode.
        "kafka": app.cfg.kafka.is_some().then(|| m.kafka.to_json()),
    })))
}

/// Who the token belongs to and what it may do, so a client can offer only what is allowed.
async fn me(caller: Caller) -> Result<Json<Value>, ApiError> {
    let scopes: Vec<&str> = [Scope::Ingest, Scope::Read, Scope::Review, Scope::Admin]
        .into_iter()
        .filter(|s| caller.has(*s))
        .map(|s| s.as_str())
        .collect();
    if scopes.is_empty() {
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    Ok(Json(json!({"name": caller.name(), "scopes": scopes})))
}

async fn post_compact(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<detection::Compaction>, ApiError> {
    caller.require(&[Scope::Admin])?;
    app.check_ready()?;
    Ok(Json(detection::compact(&app).await?))
}

async fn post_snapshot(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::serve::snapshot::Taken>, ApiError> {
    caller.require(&[Scope::Admin])?;
    app.check_ready()?;
    Ok(Json(crate::serve::snapshot::take(&app).await?))
}

pub const REDACTED: &str = "[prompt text: needs the read scope]";

/// Attributes whose values are prompt text.
pub fn is_prompt_text(attribute: &str) -> bool {
    matches!(
        attribute,
        "prompt_template" | "prompt_phrase" | "system_prompt"
    )
}

/// Replaces prompt text among shared values; returns the texts replaced.
pub fn redact_shared(shared: &mut [Shared]) -> Vec<String> {
    shared
        .iter_mut()
        .filter(|s| is_prompt_text(&s.attribute))
        .map(|s| std::mem::replace(&mut s.value, REDACTED.to_string()))
        .collect()
}

/// The cluster as this caller may see it: prompt text only with the read scope.
fn shown(c: &Cluster, caller: &Caller) -> Cluster {
    let mut c = c.clone();
    if caller.sees_prompts() {
        return c;
    }
    c.examples.clear();
    let texts = redact_shared(&mut c.shared);
    for sig in &mut c.signals {
        for t in &texts {
            if !t.is_empty() {
                sig.detail = sig.detail.replace(t.as_str(), REDACTED);
            }
        }
    }
    c
}

/// Gives each signal of a list its short words.
fn add_labels(signals: &mut Value) {
    for s in signals.as_array_mut().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default();
        s["label"] = json!(label(name).replace('_', " "));
    }
}

/// The cluster as shown, with where it stands with reviewers.
fn reviewed(c: &Cluster, caller: &Caller, review: &Review) -> Value {
    let mut v = serde_json::to_value(shown(c, caller)).expect("a cluster serialises");
    add_labels(&mut v["signals"]);
    v["strongest"] = json!(strongest(c, 4));
    let mut review = review.clone();
    review.decision = review.decision.map(|d| shown_decision(d, caller));
    v["review"] = json!(review);
    v
}
