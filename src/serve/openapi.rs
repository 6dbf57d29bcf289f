//! The API description served at `/openapi.json` (OpenAPI 3.1), written by hand: the routes are
//! few, and a test checks that every route the router serves is described here.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn retry_response(description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// Responses every authenticated route may give.
fn auth_responses() -> Value {
    json!({
        "401": error_response("no token, or a token that is not configured"),
        "403": error_response("the token lacks the scope this route needs"),
    })
}

fn op(summary: &str, scopes: &[&str], ok: Value, more: Value) -> Value {
    let mut responses = json!({"200": ok});
    let obj = responses.as_object_mut().expect("object");
    if !scopes.is_empty() {
        obj.extend(auth_responses().as_object().expect("object").clone());
    }
    if let Value::Object(m) = more {
        obj.extend(m);
    }
    let security = if scopes.is_empty() {
        json!([])
    } else {
        json!([{"bearer": scopes}])
    };
    json!({
        "summary": summary,
        "description": if scopes.is_empty() {
            "Public: no token needed.".to_string()
        } else {
            format!("Needs a token with the {} scope.", scopes.join(" or "))
        },
        "security": security,
        "responses": responses,
    })
}

fn json_ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn id_param(description: &str) -> Value {
    json!([{"name": "id", "in": "path", "required": true, "description": description, "schema": {"type": "string"}}])
}

pub fn document() -> Value {
    let not_ready = retry_response("starting: the log is being replayed");
    let mut ingest = op(
        "Ingest request-log records",
        &["ingest", "admin"],
        json_ok(
            "the batch is durable (committed with fsync) and counted",
            json!({"$ref": "#/components/schemas/IngestOutcome"}),
        ),
        json!({
            "400": json_ok("nothing in the body is usable (no records, all rejected, or corrupt compressed data); the rejects are listed", json!({"$ref": "#/components/schemas/IngestOutcome"})),
            "408": error_response("the body did not arrive within body_timeout"),
            "413": error_response("the body, or the body once decompressed, is over its limit"),
            "415": error_response("Content-Type is not a body of records, or Content-Encoding is unknown"),
            "429": retry_response("this token is over ingest_rate_limit records a second: retry after Retry-After seconds"),
            "503": retry_response("too many posts in flight, compaction in progress, starting, shutting down, or the log cannot be written (disk full, read-only): retry after Retry-After seconds"),
        }),
    );
    ingest["requestBody"] = json!({
        "required": true,
        "description": "Records as in the contract (or, through the map setting, another schema): one JSON object per line (application/x-ndjson), a JSON array, or one object (application/json). LiteLLM logging payloads are recognised by their first items and converted. Content-Encoding gzip or zstd is accepted; without the header the body's magic bytes decide.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}}}
        }
    });
    let mut litellm = ingest.clone();
    litellm["summary"] = json!("Ingest LiteLLM logging payloads");
    litellm["requestBody"] = json!({
        "required": true,
        "description": "LiteLLM StandardLoggingPayload objects as its generic_api logging callback posts them: a JSON array (log_format json_array), one per line (ndjson), or one object (single). Each is read as a record; the account is the identifier named by the litellm_account setting. The same payloads are also recognised on /v1/logs.",
        "content": {
            "application/json": {"schema": {"oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/LitellmPayload"}},
                {"$ref": "#/components/schemas/LitellmPayload"}
            ]}},
            "application/x-ndjson": {"schema": {"type": "string"}}
        }
    });
    let mut list = op(
        "Clusters of the latest detection run, highest score first",
        &["read", "admin"],
        json_ok(
            "a page of the report (the contract's shape, with paging)",
            json!({"$ref": "#/components/schemas/ClusterPage"}),
        ),
        json!({"400": error_response("a query parameter is not valid")}),
    );
    list["parameters"] = json!([
        {"name": "min_score", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 1}, "description": "only clusters scoring at least this"},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "confirmed", "dismissed", "all"]}, "description": "review status; without it, every cluster but the dismissed"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}}
    ]);
    let mut cluster = op(
        "One cluster with all its evidence",
        &["read", "admin"],
        json_ok(
            "the cluster; prompt text only with the read scope",
            json!({"$ref": "#/components/schemas/Cluster"}),
        ),
        json!({"404": error_response("no such cluster in the latest run")}),
    );
    cluster["parameters"] = id_param("cluster id, e.g. dg-0f26e6a1cc3e");
    let mut account = op(
        "One account: its activity, its own signals and its cluster",
        &["read", "admin"],
        json_ok(
            "the account",
            json!({"$ref": "#/components/schemas/Account"}),
        ),
        json!({"404": error_response("no such account in the time window"), "503": not_ready.clone()}),
    );
    account["parameters"] = id_param("account id");
    let mut activity = op(
        "The listed members' hours with activity and the shared values that tie them",
        &["read", "admin"],
        json_ok(
            "hours are offsets from start; ties name the accounts holding each shared value",
            json!({"$ref": "#/components/schemas/Activity"}),
        ),
        json!({"404": error_response("no such cluster in the latest run"), "503": not_ready.clone()}),
    );
    activity["parameters"] = id_param("cluster id");
    let mut decide = op(
        "Record a decision: confirm, dismiss or reopen a cluster; allowlist or unallowlist an attribute value",
        &["review", "admin"],
        json_ok(
            "the decision as stored, with who and when",
            json!({"$ref": "#/components/schemas/Decision"}),
        ),
        json!({
            "400": error_response("not a valid decision, or a value that cannot be allowlisted"),
            "404": error_response("no such cluster in the latest run"),
            "503": not_ready.clone(),
        }),
    );
    decide["requestBody"] = json!({
        "required": true,
        "content": {"application/json": {"schema": {"type": "object", "required": ["decision"], "properties": {
            "decision": {"type": "string", "enum": ["confirm", "dismiss", "reopen", "allowlist", "unallowlist"]},
            "cluster_id": {"type": "string", "description": "for confirm, dismiss and reopen"},
            "attribute": {"type": "string", "enum": ["ip", "network", "asn", "user_agent", "tls_fingerprint", "payment_fingerprint", "email_domain", "org_id"]},
            "value": {"type": "string", "description": "as shown in evidence, e.g. 203.0.113.0/24 or AS64500"},
            "note": {"type": "string"}}}}}
    });
    let mut decisions = op(
        "Every decision made, oldest first, and the current allowlist",
        &["read", "admin"],
        json_ok(
            "decisions",
            json!({"type": "object", "properties": {
            "decisions": {"type": "array", "items": {"$ref": "#/components/schemas/Decision"}},
            "allowlist": {"type": "array", "items": {"type": "object"}}}}),
        ),
        json!({}),
    );
    decisions["parameters"] = json!([{"name": "cluster_id", "in": "query", "schema": {"type": "string"}, "description": "only this cluster's decisions"}]);
    let mut export = op(
        "Accounts of confirmed clusters and indicators (IPs, networks, payment and TLS fingerprints, prompt templates) from their evidence",
        &["read", "admin"],
        json!({"description": "the export; prompt templates only with the read scope", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "clusters": {"type": "integer"},
                "accounts": {"type": "array", "items": {"type": "object"}},
                "indicators": {"type": "array", "items": {"type": "object"}}}}},
            "text/csv": {"schema": {"type": "string", "description": "kind,value,cluster_id,members,population,confirmed_at,confirmed_by; kind is account or an indicator's attribute"}}}}),
        json!({"400": error_response("format is neither json nor csv")}),
    );
    export["parameters"] = json!([{"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}}]);
    let mut asset = op(
        "A file of the web interface",
        &[],
        json!({"description": "the file", "content": {"text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}}),
        json!({"404": error_response("no such file")}),
    );
    asset["parameters"] = json!([{"name": "file", "in": "path", "required": true, "description": "e.g. app.js", "schema": {"type": "string"}}]);

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "distillguard",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Finds distillation campaigns in LLM-API request logs. Post logs, read the clusters that detection flags."
        },
        "paths": {
            "/healthz": {"get": op("Liveness", &[], json!({"description": "the process is up", "content": {"text/plain": {"schema": {"type": "string"}}}}), json!({}))},
            "/readyz": {"get": op("Readiness", &[], json_ok("the log is replayed; posts are taken", json!({"type": "object"})), json!({"503": not_ready.clone()}))},
            "/metrics": {"get": op("Prometheus metrics", &["admin"], json!({"description": "text exposition format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}), json!({}))},
            "/openapi.json": {"get": op("This document", &[], json_ok("OpenAPI 3.1", json!({"type": "object"})), json!({}))},
            "/v1/logs": {"post": ingest},
            "/v1/litellm": {"post": litellm},
            "/v1/detect": {"post": op(
                "Run detection over every acknowledged record and wait for it",
                &["read", "admin"],
                json_ok("the run is done; read its clusters at /v1/clusters", json!({"$ref": "#/components/schemas/DetectOutcome"})),
                json!({"503": not_ready.clone()}),
            )},
            "/v1/report": {"get": op("The latest detection run's whole report (the contract's report, as scan writes it)", &["read"], json_ok("the report", json!({"type": "object"})), json!({}))},
            "/v1/clusters": {"get": list},
            "/v1/clusters/{id}": {"get": cluster},
            "/v1/clusters/{id}/activity": {"get": activity},
            "/v1/accounts/{id}": {"get": account},
            "/v1/decisions": {"get": decisions, "post": decide},
            "/v1/enforcement": {"get": export},
            "/v1/me": {"get": op("The token's name and scopes", &["ingest", "read", "review", "admin"], json_ok("who is calling", json!({"type": "object", "properties": {"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}}})), json!({}))},
            "/": {"get": op("The web interface for reviewers (sign in with a token)", &[], json!({"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}), json!({}))},
            "/ui/{file}": {"get": asset},
            "/v1/stats": {"get": op("State, log, ingest and detection figures", &["read", "admin"], json_ok("figures", json!({"type": "object"})), json!({}))},
            "/v1/admin/compact": {"post": op(
                "Move the time window to the newest record now: delete what left it, rebuild the state",
                &["admin"],
                json_ok("what was compacted", json!({"$ref": "#/components/schemas/Compaction"})),
                json!({"503": not_ready.clone()}),
            )},
            "/v1/admin/snapshot": {"post": op(
                "Store a snapshot of the state now, so a restart replays only the log after it",
                &["admin"],
                json_ok("the snapshot taken", json!({"$ref": "#/components/schemas/SnapshotTaken"})),
                json!({"503": not_ready}),
            )}
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Tokens have scopes: ingest (post logs), read (read findings with prompt text), review (record decisions), admin (read findings without prompt text, record decisions, run detection and compaction, metrics). With no tokens configured every caller has every scope."}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Reject": {"type": "object", "properties": {
                    "index": {"type": "integer", "description": "0-based position among the body's records"},
                    "line": {"type": "integer", "description": "1-based line where the record starts"},
                    "reason": {"type": "string"}}},
                "IngestOutcome": {"type": "object", "properties": {
                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
                    "rejects": {"type": "array", "items": {"$ref": "#/components/schemas/Reject"}},
                    "error": {"type": "string", "description": "only with 400"}}},
                "Record": {"type": "object", "required": ["ts", "account_id"], "description": "the contract's input record; see the README for every field",
                    "properties": {"ts": {"type": ["string", "number"]}, "account_id": {"type": "string"}, "request_id": {"type": "string"}}},
                "LitellmPayload": {"type": "object", "required": ["startTime"], "description": "LiteLLM's StandardLoggingPayload; see docs/formats.md for the fields read",
                    "properties": {"id": {"type": "string"}, "call_type": {"type": "string"}, "startTime": {"type": "number"}, "model": {"type": "string"},
                        "messages": {"type": ["array", "string"]}, "metadata": {"type": "object"}, "status": {"type": "string"}}},
                "Signal": {"type": "object", "required": ["name", "score", "detail"], "properties": {
                    "name": {"type": "string"}, "score": {"type": "number"}, "contribution": {"type": "number"}, "detail": {"type": "string"},
                    "label": {"type": "string", "description": "short words, in the served clusters"}}},
                "Cluster": {"type": "object", "required": ["id", "score", "accounts", "signals"], "properties": {
                    "id": {"type": "string"}, "score": {"type": "number"},
                    "accounts": {"type": "array", "items": {"type": "string"}},
                    "signals": {"type": "array", "items": {"$ref": "#/components/schemas/Signal"}},
                    "size": {"type": "integer"}, "requests": {"type": "integer"},
                    "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
                    "shared": {"type": "array", "items": {"type": "object"}},
                    "examples": {"type": "array", "items": {"type": "string"}, "description": "example prompts; empty without the read scope, and always in privacy mode"},
                    "members": {"type": "array", "items": {"type": "object"}},
                    "review": {"type": "object", "description": "status (open, confirmed, dismissed), the decision that set it, grew_from when a dismissed cluster grew, and related: the confirmed or dismissed clusters that held some of its accounts"},
                    "strongest": {"type": "string", "description": "the strongest signals in short words"}}},
                "ClusterPage": {"type": "object", "properties": {
                    "clusters": {"type": "array", "items": {"$ref": "#/components/schemas/Cluster"}},
                    "stats": {"type": "object"}, "rejects": {"type": "object"}, "generator": {"type": "string"},
                    "detected_at": {"type": ["string", "null"]},
                    "page": {"type": "object", "properties": {"offset": {"type": "integer"}, "limit": {"type": "integer"}, "total": {"type": "integer"}, "next_offset": {"type": ["integer", "null"]}}}}},
                "Account": {"type": "object", "properties": {
                    "account_id": {"type": "string"}, "requests": {"type": "integer"},
                    "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
                    "score": {"type": "number", "description": "the account's own traffic, without cross-account ties"},
                    "signals": {"type": "array", "items": {"$ref": "#/components/schemas/Signal"}},
                    "examples": {"type": "array", "items": {"type": "string"}},
                    "models": {"type": "array", "items": {"type": "string"}, "description": "the models it used, in the order it first used them (the first four)"},
                    "cluster": {"type": ["object", "null"], "properties": {"id": {"type": "string"}, "score": {"type": "number"}, "size": {"type": "integer"}, "status": {"type": "string"}}},
                    "activity": {"type": ["object", "null"], "properties": {"active_hours": {"type": "array", "items": {"type": "string"}}, "hours_of_day": {"type": "array", "items": {"type": "integer"}}}}}},
                "DetectOutcome": {"type": "object", "properties": {
                    "clusters": {"type": "integer"}, "accounts": {"type": "integer"}, "records": {"type": "integer"},
                    "duration_ms": {"type": "integer"}, "finished_at": {"type": "string"}}},
                "SnapshotTaken": {"type": "object", "properties": {
                    "batch": {"type": ["integer", "null"], "description": "the last log batch the snapshot holds"},
                    "accounts": {"type": "integer"}, "bytes": {"type": "integer"},
                    "pause_ms": {"type": "integer", "description": "time posts were held while the state was copied"},
                    "ms": {"type": "integer"}, "at": {"type": "string"}}},
                "Decision": {"type": "object", "required": ["seq", "decision", "by", "at"], "properties": {
                    "seq": {"type": "integer"},
                    "decision": {"type": "string", "enum": ["confirm", "dismiss", "reopen", "allowlist", "unallowlist"]},
                    "cluster_id": {"type": ["string", "null"]},
                    "members": {"type": "array", "items": {"type": "string"}, "description": "the cluster's accounts when decided"},
                    "score": {"type": ["number", "null"]},
                    "shared": {"type": "array", "items": {"type": "object"}, "description": "the cluster's shared evidence when decided"},
                    "attribute": {"type": ["string", "null"]}, "value": {"type": ["string", "null"]},
                    "by": {"type": "string", "description": "the token's name"}, "at": {"type": "string"}, "note": {"type": "string"}}},
                "Activity": {"type": "object", "properties": {
                    "cluster_id": {"type": "string"}, "start": {"type": "string", "description": "the first hour"}, "hours": {"type": "integer"},
                    "members": {"type": "array", "items": {"type": "object", "properties": {
                        "account_id": {"type": "string"}, "requests": {"type": "integer"},
                        "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
                        "active_hours": {"type": "array", "items": {"type": "integer"}, "description": "offsets from start of hours with requests"},
                        "hours_of_day": {"type": "array", "items": {"type": "integer"}, "description": "requests by hour of day, UTC"}}}},
                    "ties": {"type": "array", "items": {"type": "object", "properties": {
                        "attribute": {"type": "string"}, "value": {"type": "string"}, "accounts": {"type": "array", "items": {"type": "string"}}}}}}},
                "Compaction": {"type": "object", "properties": {
                    "cutoff": {"type": ["string", "null"]}, "batches_removed": {"type": "integer"}, "records_in_window": {"type": "integer"}}}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        let routes = super::super::routes::routes().list;
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not in the API description"
            );
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(
            described,
            routes.len(),
            "the description lists a route the router lacks"
        );
    }
}
