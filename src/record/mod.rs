//! The contract's input record: one API request as a log shipper sees it.
//!
//! Parsing is strict about the fields the contract names (a wrong type is a
//! reject with the field and the reason) and silent about everything else
//! (unknown fields are ignored). Strings borrow from the input buffer where
//! they can, so the hot path allocates little.

mod convert;
pub mod fields;
pub mod litellm;
pub mod mapping;
mod raw;
pub mod reduced;
mod scanner;
mod timestamp;

use std::borrow::Cow;
use std::net::IpAddr;

pub use convert::{Converter, Shape};
pub use mapping::{FieldMap, MapError, Mapping};
pub use timestamp::parse_rfc3339_ms;

/// One validated request-log record. Timestamps are Unix milliseconds. The serde form is the
/// stored one of privacy mode ([`reduced`]), not the contract's JSON, which [`Record::parse`] reads.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Record<'a> {
    pub ts_ms: i64,
    pub account_id: Cow<'a, str>,
    pub request_id: Option<Cow<'a, str>>,
    pub api_key_id: Option<Cow<'a, str>>,
    pub org_id: Option<Cow<'a, str>>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<Cow<'a, str>>,
    pub tls_fingerprint: Option<Cow<'a, str>>,
    pub model: Option<Cow<'a, str>>,
    /// The user's request: `prompt`, or the last `user` message of `messages`.
    pub prompt: Option<Cow<'a, str>>,
    pub system_prompt: Option<Cow<'a, str>>,
    pub conversation_id: Option<Cow<'a, str>>,
    /// Turn within the conversation: `turn`, or the number of `user` messages.
    pub turn: Option<u32>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub status: Option<u16>,
    pub account_created_ms: Option<i64>,
    pub payment_fingerprint: Option<Cow<'a, str>>,
    pub email_domain: Option<Cow<'a, str>>,
    pub country: Option<Cow<'a, str>>,
    pub asn: Option<u32>,
}

/// Why a record was rejected. The message names the field and says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

impl RecordError {
    fn field(name: &str, why: impl std::fmt::Display) -> Self {
        RecordError(format!("field `{name}`: {why}"))
    }
}

impl<'a> Record<'a> {
    /// Parses and validates one JSON object.
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        raw::parse(bytes)
    }

    /// A copy that owns its strings, for keeping beyond the input buffer.
    pub fn into_owned(self) -> Record<'static> {
        fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(|s| Cow::Owned(s.into_owned()))
        }
        Record {
            ts_ms: self.ts_ms,
            account_id: Cow::Owned(self.account_id.into_owned()),
            request_id: own(self.request_id),
            api_key_id: own(self.api_key_id),
            org_id: own(self.org_id),
            ip: self.ip,
            user_agent: own(self.user_agent),
            tls_fingerprint: own(self.tls_fingerprint),
            model: own(self.model),
            prompt: own(self.prompt),
            system_prompt: own(self.system_prompt),
            conversation_id: own(self.conversation_id),
            turn: self.turn,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            status: self.status,
            account_created_ms: self.account_created_ms,
            payment_fingerprint: own(self.payment_fingerprint),
            email_domain: own(self.email_domain),
            country: own(self.country),
            asn: self.asn,
        }
    }
}

#[cfg(test)]
mod tests;
