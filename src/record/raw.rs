//! The record as it arrives on the wire, and its validation into [`Record`].

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::timestamp::TsMs;
use super::{Record, RecordError};

#[derive(Deserialize, Default)]
#[serde(expecting = "a JSON object (one request-log record)")]
pub(super) struct Raw<'a> {
    pub(super) ts: Option<TsMs>,
    #[serde(borrow)]
    pub(super) account_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) request_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) api_key_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) org_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) ip: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) user_agent: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) tls_fingerprint: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) model: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) prompt: Option<Text<'a>>,
    #[serde(borrow)]
    messages: Option<Vec<Message<'a>>>,
    /// What the record keeps of `messages`, when the field scanner read it (serde reads
    /// `messages` above instead).
    #[serde(skip)]
    pub(super) chat: Option<Chat<'a>>,
    #[serde(borrow)]
    pub(super) system_prompt: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) conversation_id: Option<Text<'a>>,
    pub(super) turn: Option<u32>,
    pub(super) prompt_tokens: Option<u64>,
    pub(super) completion_tokens: Option<u64>,
    pub(super) max_tokens: Option<u64>,
    pub(super) temperature: Option<f64>,
    pub(super) status: Option<u16>,
    pub(super) account_created_at: Option<TsMs>,
    #[serde(borrow)]
    pub(super) payment_fingerprint: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) email_domain: Option<Text<'a>>,
    #[serde(borrow)]
    pub(super) country: Option<Text<'a>>,
    pub(super) asn: Option<u32>,
}

/// A string that borrows from the input when it has no escapes. (serde only
/// borrows a bare `Cow<str>` field, not one inside an `Option`.)
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// One chat message; only `role` and the text of `content` matter here.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    role: Option<Text<'a>>,
    #[serde(borrow, default)]
    content: Content<'a>,
}

/// Message content: a string, or OpenAI-style parts whose `text` fields are joined.
#[derive(Default)]
struct Content<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Content(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Content(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Content(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                struct Part<'a> {
                    #[serde(borrow, default)]
                    text: Option<Text<'a>>,
                }
                let mut joined: Option<String> = None;
                while let Some(part) = seq.next_element::<Part>()? {
                    if let Some(Text(text)) = part.text {
                        match &mut joined {
                            Some(s) => {
                                s.push('\n');
                                s.push_str(&text);
                            }
                            None => joined = Some(text.into_owned()),
                        }
                    }
                }
                Ok(Content(joined.map(Cow::Owned)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// What a record keeps of its chat history: the last `user` message, the first `system` (or
/// `developer`) message with content, and how many `user` messages there were.
#[derive(Default)]
pub(super) struct Chat<'a> {
    users: u32,
    last_user: Option<Cow<'a, str>>,
    first_system: Option<Cow<'a, str>>,
}

impl<'a> Chat<'a> {
    /// Whether [`Chat::note`] keeps the content of a message with this role (so a reader can
    /// skip reading the others).
    pub(super) fn wants(&self, role: Option<&str>) -> bool {
        match role {
            Some("user") => true,
            Some("system" | "developer") => self.first_system.is_none(),
            _ => false,
        }
    }

    /// Takes the next message, in order.
    pub(super) fn note(&mut self, role: Option<&str>, content: Option<Cow<'a, str>>) {
        match role {
            Some("user") => {
                self.users += 1;
                self.last_user = content;
            }
            Some("system" | "developer") if self.first_system.is_none() => {
                self.first_system = content;
            }
            _ => {}
        }
    }

    fn of(messages: Vec<Message<'a>>) -> Self {
        let mut chat = Chat::default();
        for m in messages {
            chat.note(m.role.as_ref().map(|r| r.0.as_ref()), m.content.0);
        }
        chat
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Record<'_>, RecordError> {
    // Checking the whole line as UTF-8 once is cheaper than checking it string by string.
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Some(raw) = super::scanner::scan(text)
    {
        return validate(raw);
    }
    // Anything the scanner does not read, serde reads, or rejects with the reason.
    by_serde(bytes)
}

/// The record as serde reads it: every line the scanner does not read, and the reference the
/// scanner is tested against.
pub(super) fn by_serde(bytes: &[u8]) -> Result<Record<'_>, RecordError> {
    // serde would also read a struct from an array (by position); a record is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<de::IgnoredAny>(bytes) {
            Err(e) => explain(bytes, e),
            Ok(_) => RecordError("expected a JSON object (one request-log record)".into()),
        });
    }
    // A line that is not UTF-8 is parsed from bytes for serde's error message.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(bad) => match serde_json::from_slice::<Raw>(bytes) {
            // serde_json skips the strings of unknown fields unchecked, so the bytes parse when
            // the bad UTF-8 is there; JSON is UTF-8, and every other reading of the line (a map,
            // a LiteLLM payload) refuses it.
            Ok(_) => {
                return Err(RecordError(format!(
                    "invalid JSON: not UTF-8 at byte {}",
                    bad.valid_up_to()
                )));
            }
            Err(e) => Err(e),
        },
    };
    let raw: Raw = match parsed {
        Ok(raw) => raw,
        Err(e) => return Err(explain(bytes, e)),
    };
    validate(raw)
}

/// Turns a serde error into a reason that names the field. The field path is
/// only worked out on this (rare) path, so good records pay nothing for it.
fn explain(bytes: &[u8], e: serde_json::Error) -> RecordError {
    if e.is_syntax() || e.is_eof() || e.is_io() {
        let msg = strip_position(&e.to_string());
        return RecordError(format!("invalid JSON: {msg} (column {})", e.column()));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, Raw>(&mut de) {
        Err(pe) => {
            let path = pe.path().to_string();
            let msg = strip_position(&pe.inner().to_string());
            if path == "." || path.is_empty() {
                RecordError(msg)
            } else {
                RecordError::field(&path, msg)
            }
        }
        Ok(_) => RecordError(strip_position(&e.to_string())),
    }
}

/// serde_json appends "at line 1 column 17"; the caller reports its own line.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Empty strings mean "not given" in most log pipelines.
fn non_empty<'a>(s: Option<impl Into<Cow<'a, str>>>) -> Option<Cow<'a, str>> {
    s.map(Into::into).filter(|s| !s.trim().is_empty())
}

impl<'a> From<Text<'a>> for Cow<'a, str> {
    fn from(t: Text<'a>) -> Self {
        t.0
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

fn validate(raw: Raw<'_>) -> Result<Record<'_>, RecordError> {
    let ts_ms = raw
        .ts
        .ok_or_else(|| RecordError("missing field `ts`".into()))?
        .0;
    let account_id = match raw.account_id {
        None => return Err(RecordError("missing field `account_id`".into())),
        Some(a) if a.0.trim().is_empty() => {
            return Err(RecordError::field("account_id", "is empty"));
        }
        Some(a) => a.0,
    };
    let ip = match non_empty(raw.ip) {
        None => None,
        Some(s) => Some(parse_ip(&s).ok_or_else(|| {
            RecordError::field("ip", format!("not an IPv4 or IPv6 address: {s:?}"))
        })?),
    };
    if let Some(turn) = raw.turn
        && turn == 0
    {
        return Err(RecordError::field("turn", "must be 1 or more"));
    }
    if let Some(t) = raw.temperature
        && !(0.0..=100.0).contains(&t)
    {
        return Err(RecordError::field(
            "temperature",
            format!("{t} is not a sampling temperature"),
        ));
    }
    if let Some(s) = raw.status
        && !(100..=599).contains(&s)
    {
        return Err(RecordError::field(
            "status",
            format!("{s} is not an HTTP status"),
        ));
    }

    let mut prompt = non_empty(raw.prompt);
    let mut system_prompt = non_empty(raw.system_prompt);
    let mut turn = raw.turn;
    if let Some(chat) = raw.chat.or_else(|| raw.messages.map(Chat::of)) {
        if prompt.is_none() {
            prompt = non_empty(chat.last_user);
        }
        if system_prompt.is_none() {
            system_prompt = non_empty(chat.first_system);
        }
        if turn.is_none() && chat.users > 0 {
            turn = Some(chat.users);
        }
    }

    Ok(Record {
        ts_ms,
        account_id,
        request_id: non_empty(raw.request_id),
        api_key_id: non_empty(raw.api_key_id),
        org_id: non_empty(raw.org_id),
        ip,
        user_agent: non_empty(raw.user_agent),
        tls_fingerprint: non_empty(raw.tls_fingerprint),
        model: non_empty(raw.model),
        prompt,
        system_prompt,
        conversation_id: non_empty(raw.conversation_id),
        turn,
        prompt_tokens: raw.prompt_tokens,
        completion_tokens: raw.completion_tokens,
        max_tokens: raw.max_tokens,
        temperature: raw.temperature,
        status: raw.status,
        account_created_ms: raw.account_created_at.map(|t| t.0),
        payment_fingerprint: non_empty(raw.payment_fingerprint),
        email_domain: non_empty(raw.email_domain),
        country: non_empty(raw.country),
        asn: raw.asn,
    })
}
