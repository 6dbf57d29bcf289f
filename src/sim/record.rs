//! Accounts, request drafts, and their rendering as contract records.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

use super::infra::{Addr, Client, tls_fingerprint};

/// Independent random stream for one labelled part of the simulation, so adding a class or an
/// account never reshuffles the others.
pub(crate) fn sub_rng(seed: u64, label: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(xxh3_64_with_seed(label.as_bytes(), seed))
}

/// Opaque identifier `prefix` + `len` hex digits, stable for (seed, label).
pub(crate) fn hex_id(seed: u64, prefix: &str, label: &str, len: usize) -> String {
    let h = format!("{:032x}", xxh3_128_with_seed(label.as_bytes(), seed));
    format!("{prefix}{}", &h[..len.min(32)])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsFormat {
    Rfc3339,
    Unix,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub class: &'static str,
    pub campaign: Option<&'static str>,
    pub created_ms: i64,
    pub keys: Vec<String>,
    pub org_id: Option<String>,
    pub payment: Option<String>,
    pub email_domain: String,
    pub country: &'static str,
    pub ts_format: TsFormat,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Msg {
    pub role: &'static str,
    pub content: String,
}

impl Msg {
    pub fn new(role: &'static str, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Prompt {
        system: Option<String>,
        prompt: String,
    },
    Chat {
        messages: Vec<Msg>,
    },
}

/// A request before it gets its id and status.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub ts_ms: i64,
    pub acct: usize,
    pub key: usize,
    pub addr: Addr,
    pub client: Client,
    pub model: &'static str,
    pub body: Body,
    pub conv: Option<(String, u32)>,
    pub completion_tokens: u32,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// 200 unless the platform already refuses the account (e.g. 403 after a ban).
    pub status: u16,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Ts {
    Text(String),
    Unix(f64),
}

fn ts(ms: i64, f: TsFormat) -> Ts {
    match f {
        TsFormat::Rfc3339 => Ts::Text(rfc3339(ms)),
        TsFormat::Unix => Ts::Unix(ms as f64 / 1000.0),
    }
}

pub(crate) fn rfc3339(ms: i64) -> String {
    use chrono::{Datelike, Timelike};
    let Some(d) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    if !(0..=9999).contains(&d.year()) {
        return d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Digits by hand: a strftime pattern is re-parsed on every call, and this runs per record.
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, d.year() as u32);
    put(5, 2, d.month());
    put(8, 2, d.day());
    put(11, 2, d.hour());
    put(14, 2, d.minute());
    put(17, 2, d.second());
    put(20, 3, d.timestamp_subsec_millis());
    b.iter().map(|&c| c as char).collect()
}

#[derive(Serialize)]
struct Out<'a> {
    ts: Ts,
    account_id: &'a str,
    request_id: &'a str,
    api_key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<&'a str>,
    ip: &'a str,
    user_agent: &'a str,
    tls_fingerprint: String,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<&'a [Msg]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<u32>,
    prompt_tokens: u32,
    completion_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    status: u16,
    account_created_at: Ts,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_fingerprint: Option<&'a str>,
    email_domain: &'a str,
    country: &'a str,
    asn: u32,
}

/// Roughly what a BPE tokenizer counts for English: 1.3 tokens a word, plus message framing.
fn input_tokens(body: &Body) -> u32 {
    let words = |s: &str| s.split_whitespace().count() as f64;
    match body {
        Body::Prompt { system, prompt } => {
            (words(prompt) * 1.3 + system.as_deref().map_or(0.0, |s| words(s) * 1.3 + 4.0)).round()
                as u32
                + 3
        }
        Body::Chat { messages } => {
            messages
                .iter()
                .map(|m| words(&m.content) * 1.3 + 4.0)
                .sum::<f64>()
                .round() as u32
                + 3
        }
    }
}

pub(crate) fn render(
    d: &Draft,
    a: &Account,
    request_id: &str,
    status: u16,
) -> serde_json::Result<String> {
    let (prompt, messages, system) = match &d.body {
        Body::Prompt { system, prompt } => (Some(prompt.as_str()), None, system.as_deref()),
        Body::Chat { messages } => (None, Some(messages.as_slice()), None),
    };
    let ok = status == 200;
    let out = Out {
        ts: ts(d.ts_ms, a.ts_format),
        account_id: &a.id,
        request_id,
        api_key_id: &a.keys[d.key.min(a.keys.len() - 1)],
        org_id: a.org_id.as_deref(),
        ip: &d.addr.ip,
        user_agent: d.client.ua,
        tls_fingerprint: tls_fingerprint(d.client.stack),
        model: d.model,
        prompt,
        messages,
        system_prompt: system,
        conversation_id: d.conv.as_ref().map(|c| c.0.as_str()),
        turn: d.conv.as_ref().map(|c| c.1),
        prompt_tokens: input_tokens(&d.body),
        completion_tokens: if ok {
            d.completion_tokens.min(d.max_tokens.unwrap_or(u32::MAX))
        } else {
            0
        },
        max_tokens: d.max_tokens,
        temperature: d.temperature,
        status,
        account_created_at: ts(a.created_ms, a.ts_format),
        payment_fingerprint: a.payment.as_deref(),
        email_domain: &a.email_domain,
        country: a.country,
        asn: d.addr.asn,
    };
    serde_json::to_string(&out)
}

/// Chat history as a client sends it: the system prompt and the last few turns, with short
/// stand-ins for earlier answers.
pub(crate) fn chat_messages(system: Option<&str>, user_turns: &[String], keep: usize) -> Vec<Msg> {
    let mut msgs = Vec::new();
    if let Some(s) = system {
        msgs.push(Msg::new("system", s));
    }
    let n = user_turns.len();
    let mut hist = Vec::new();
    for (i, u) in user_turns.iter().enumerate() {
        hist.push(Msg::new("user", u.clone()));
        if i + 1 < n {
            hist.push(Msg::new(
                "assistant",
                ASSISTANT_STUBS[i % ASSISTANT_STUBS.len()],
            ));
        }
    }
    let skip = hist.len().saturating_sub(keep);
    msgs.extend(hist.into_iter().skip(skip));
    msgs
}

static ASSISTANT_STUBS: &[&str] = &[
    "Sure, here is an overview with a few options you could consider.",
    "Good question. The short answer is that it depends on a couple of things.",
    "Here's a step-by-step version of that.",
    "Of course. Here are some suggestions.",
];

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_matches_chrono() {
        for ms in [
            0,
            1_772_409_600_060,
            1_772_409_600_000 + 86_399_999,
            946_684_799_999,
        ] {
            let want = chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(rfc3339(ms), want);
        }
    }
}
