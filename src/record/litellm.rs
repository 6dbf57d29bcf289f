//! LiteLLM's `StandardLoggingPayload` (what its `generic_api` logging callback posts, as a JSON
//! array or NDJSON) read as the contract's record.
//!
//! | payload | record |
//! |---|---|
//! | the account key (see [`AccountKey`]) | `account_id` |
//! | `id` | `request_id` |
//! | `startTime` (Unix seconds) | `ts` |
//! | `metadata.user_api_key_hash` | `api_key_id` |
//! | `metadata.user_api_key_org_id` | `org_id` |
//! | `requester_ip_address` (or `metadata.requester_ip_address`) | `ip` |
//! | `user_agent` (or `metadata.user_agent`) | `user_agent` |
//! | `model_group` (the name the client asked for), else `model` | `model` |
//! | `messages`: a list of chat messages, or a plain prompt string | `messages` / `prompt` |
//! | `session_id` | `conversation_id` |
//! | `prompt_tokens`, `completion_tokens` | the same |
//! | `model_parameters.max_tokens` (or `max_completion_tokens`), `.temperature` | `max_tokens`, `temperature` |
//! | `status`: `success` → 200; `failure` → `error_information.error_code` when it is an HTTP status, else 500 | `status` |
//! | the domain of `metadata.user_api_key_user_email` | `email_domain` |

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::mapping::lookup;
use super::{Record, RecordError};

/// Which identifier in the payload is the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountKey {
    /// `metadata.user_api_key_user_id`, or the key hash when the key belongs to no user: the
    /// proxy's own notion of a customer, and present whenever keys are required.
    #[default]
    User,
    /// `metadata.user_api_key_hash`: every virtual key is an account.
    KeyHash,
    /// `metadata.user_api_key_alias`, or the key hash when the key has no alias.
    KeyAlias,
    /// `metadata.user_api_key_team_id`.
    Team,
    /// `metadata.user_api_key_org_id`.
    Org,
    /// `end_user` (the `user` parameter the client sent), or `metadata.user_api_key_end_user_id`.
    /// The client chooses it, so it suits proxies that front their own end users.
    EndUser,
}

impl AccountKey {
    pub const NAMES: &'static [&'static str] =
        &["user", "key-hash", "key-alias", "team", "org", "end-user"];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKey::User => "user",
            AccountKey::KeyHash => "key-hash",
            AccountKey::KeyAlias => "key-alias",
            AccountKey::Team => "team",
            AccountKey::Org => "org",
            AccountKey::EndUser => "end-user",
        }
    }

    /// The payload paths tried in order.
    pub fn paths(self) -> &'static [&'static str] {
        match self {
            AccountKey::User => &[
                "metadata.user_api_key_user_id",
                "metadata.user_api_key_hash",
            ],
            AccountKey::KeyHash => &["metadata.user_api_key_hash"],
            AccountKey::KeyAlias => &["metadata.user_api_key_alias", "metadata.user_api_key_hash"],
            AccountKey::Team => &["metadata.user_api_key_team_id"],
            AccountKey::Org => &["metadata.user_api_key_org_id"],
            AccountKey::EndUser => &["end_user", "metadata.user_api_key_end_user_id"],
        }
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown LiteLLM account key {0:?} (one of: user, key-hash, key-alias, team, org, end-user)"
)]
pub struct UnknownAccountKey(pub String);

impl FromStr for AccountKey {
    type Err = UnknownAccountKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "user" => AccountKey::User,
                "key-hash" => AccountKey::KeyHash,
                "key-alias" => AccountKey::KeyAlias,
                "team" => AccountKey::Team,
                "org" => AccountKey::Org,
                "end-user" => AccountKey::EndUser,
                _ => return Err(UnknownAccountKey(s.to_string())),
            },
        )
    }
}

/// Whether one item looks like a `StandardLoggingPayload`: an object with `call_type`,
/// `startTime` and `messages`, fields the contract's record does not have.
pub fn looks_like(bytes: &[u8]) -> bool {
    let finder = |k: &str| memchr::memmem::find(bytes, k.as_bytes()).is_some();
    if !(finder("\"call_type\"") && finder("\"startTime\"") && finder("\"messages\"")) {
        return false;
    }
    matches!(
        serde_json::from_slice::<Value>(bytes),
        Ok(Value::Object(m)) if ["call_type", "startTime", "messages"].iter().all(|k| m.contains_key(*k))
    )
}

/// What LiteLLM logs in place of the text when message logging is turned off.
const REDACTED: &str = "redacted-by-litellm";

/// Redacted messages would read as one prompt shared by every account.
fn redacted(messages: &Value) -> bool {
    messages.as_array().is_some_and(|ms| {
        ms.iter()
            .all(|m| m.get("content").and_then(Value::as_str) == Some(REDACTED))
    })
}

fn text<'v>(payload: &'v Value, path: &str) -> Option<&'v str> {
    lookup(payload, path)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The first non-empty value among `paths`, as a JSON value.
fn first(payload: &Value, paths: &[&str]) -> Option<Value> {
    paths
        .iter()
        .filter_map(|p| lookup(payload, p))
        .find(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
        .cloned()
}

fn status(payload: &Value) -> Option<u16> {
    match text(payload, "status")? {
        "success" => Some(200),
        "failure" => {
            let code = lookup(payload, "error_information.error_code");
            let code = code.and_then(|c| match c {
                Value::String(s) => s.trim().parse::<u16>().ok(),
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                _ => None,
            });
            Some(code.filter(|c| (100..=599).contains(c)).unwrap_or(500))
        }
        _ => None,
    }
}

/// The contract-shaped object for one payload. Nothing is validated here: the result goes
/// through [`Record::parse`] like any record, so reasons name the contract's fields.
pub fn to_contract(payload: &Value, account: AccountKey) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |field: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(field.to_string(), v);
        }
    };
    put("account_id", first(payload, account.paths()));
    put("request_id", first(payload, &["id"]));
    put("ts", first(payload, &["startTime"]));
    put(
        "api_key_id",
        first(payload, &["metadata.user_api_key_hash"]),
    );
    put("org_id", first(payload, &["metadata.user_api_key_org_id"]));
    put(
        "ip",
        first(
            payload,
            &["requester_ip_address", "metadata.requester_ip_address"],
        ),
    );
    put(
        "user_agent",
        first(payload, &["user_agent", "metadata.user_agent"]),
    );
    put("model", first(payload, &["model_group", "model"]));
    match lookup(payload, "messages") {
        Some(m @ Value::Array(_)) if !redacted(m) => put("messages", Some(m.clone())),
        Some(Value::String(s)) if s != REDACTED => put("prompt", Some(Value::String(s.clone()))),
        _ => {}
    }
    put("conversation_id", first(payload, &["session_id"]));
    put("prompt_tokens", first(payload, &["prompt_tokens"]));
    put("completion_tokens", first(payload, &["completion_tokens"]));
    put(
        "max_tokens",
        first(
            payload,
            &[
                "model_parameters.max_tokens",
                "model_parameters.max_completion_tokens",
            ],
        ),
    );
    put(
        "temperature",
        first(payload, &["model_parameters.temperature"]),
    );
    put("status", status(payload).map(Value::from));
    put(
        "email_domain",
        text(payload, "metadata.user_api_key_user_email")
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| Value::String(d.to_ascii_lowercase())),
    );
    out
}

/// Reads one `StandardLoggingPayload` (the bytes of one JSON object) as a record.
pub fn parse(bytes: &[u8], account: AccountKey) -> Result<Record<'static>, RecordError> {
    let payload: Value = match serde_json::from_slice(bytes) {
        Ok(v @ Value::Object(_)) => v,
        // The contract parser explains bad JSON and non-objects the same way for every format.
        _ => return Record::parse(bytes).map(Record::into_owned),
    };
    let contract = to_contract(&payload, account);
    check_account(&contract, account)?;
    let json = serde_json::to_vec(&contract).expect("a JSON map serialises");
    Record::parse(&json).map(Record::into_owned)
}

/// A payload without the chosen identifier is rejected with the paths that were tried.
pub(crate) fn check_account(
    contract: &Map<String, Value>,
    account: AccountKey,
) -> Result<(), RecordError> {
    if contract.contains_key("account_id") {
        return Ok(());
    }
    Err(RecordError(format!(
        "missing field `account_id`: the LiteLLM payload has no {} (account key `{account}`)",
        account.paths().join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_fields_fall_back_and_redacted_text_is_dropped() {
        let payload = json!({
            "id": "c-1", "call_type": "acompletion", "startTime": 1766000068.28466,
            "status": "success", "model": "gpt-4o", "model_group": "", "end_user": "",
            "metadata": {"user_api_key_hash": "h-1", "user_api_key_user_id": null},
            "messages": [{"role": "user", "content": "redacted-by-litellm"}],
            "model_parameters": {}
        });
        let bytes = serde_json::to_vec(&payload).unwrap();
        assert!(looks_like(&bytes));
        let r = parse(&bytes, AccountKey::User).unwrap();
        assert_eq!(r.account_id, "h-1");
        assert_eq!(r.model.as_deref(), Some("gpt-4o"));
        assert_eq!(r.ts_ms, 1_766_000_068_285);
        assert_eq!((r.prompt, r.turn), (None, None));
        assert!(parse(&bytes, AccountKey::EndUser).is_err());
        assert!(!looks_like(
            br#"{"ts": 1, "account_id": "a", "messages": []}"#
        ));
    }
}
