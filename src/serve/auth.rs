//! Bearer tokens with scopes. `ingest` may post logs; `read` may read findings with their prompt
//! text; `review` may record decisions on clusters; `admin` may read findings without prompt
//! text, record decisions, trigger detection and compaction, and scrape metrics. A token may
//! hold several scopes, and has a name that decisions record as who made them.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::Deserialize;

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Ingest,
    Read,
    Admin,
    Review,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Review => "review",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            "review" => Ok(Scope::Review),
            _ => Err(format!("unknown scope {s:?} (ingest, read, review, admin)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub token: String,
    pub scopes: Vec<Scope>,
    /// Who holds the token, as decisions record it; without one, `token-` and a hash of it.
    #[serde(default)]
    pub name: Option<String>,
}

/// The configured tokens; with none, every caller holds every scope.
#[derive(Debug, Clone)]
pub struct Tokens {
    entries: Vec<(Vec<u8>, u8, Arc<str>)>,
}

impl Tokens {
    pub fn new(entries: &[TokenEntry]) -> Self {
        Tokens {
            entries: entries
                .iter()
                .map(|e| {
                    let bits = e.scopes.iter().fold(0, |acc, s| acc | s.bit());
                    // A hash names the token without revealing any of it.
                    let name = e.name.clone().unwrap_or_else(|| {
                        let h = xxhash_rust::xxh3::xxh3_64(e.token.as_bytes());
                        format!("token-{:08x}", h >> 32)
                    });
                    (e.token.as_bytes().to_vec(), bits, name.into())
                })
                .collect(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// The scopes and name of a presented token, or `None` when it is not one of ours.
    fn scopes_of(&self, presented: &[u8]) -> Option<(u8, Arc<str>)> {
        // Every entry is compared in full so timing does not reveal a matching prefix.
        let mut found = None;
        for (token, bits, name) in &self.entries {
            if constant_time_eq(token, presented) {
                found = Some((*bits, name.clone()));
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is calling: the scopes their token grants. Every route that is not public takes one and
/// checks it with [`Caller::require`].
#[derive(Debug, Clone)]
pub struct Caller {
    scopes: u8,
    name: Arc<str>,
}

impl Caller {
    /// Passes when the caller holds any of `scopes`: 401 without a valid token, else 403.
    pub fn require(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.scopes & s.bit() != 0) {
            return Ok(());
        }
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "this route needs a token with the {} scope",
            names.join(" or ")
        )))
    }

    /// Prompt text in evidence is shown only to holders of the read scope.
    pub fn sees_prompts(&self) -> bool {
        self.scopes & Scope::Read.bit() != 0
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes & scope.bit() != 0
    }

    /// The token's name, recorded with decisions.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Application state that knows the tokens.
pub trait HasTokens {
    fn tokens(&self) -> &Tokens;
}

impl<S: HasTokens + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = state.tokens();
        if tokens.is_open() {
            return Ok(Caller {
                scopes: u8::MAX,
                name: "local".into(),
            });
        }
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer TOKEN"))?;
        let (scopes, name) = tokens
            .scopes_of(presented.trim_ascii())
            .ok_or_else(|| ApiError::unauthorized("the token is not valid"))?;
        Ok(Caller { scopes, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let t = Tokens::new(&[TokenEntry {
            token: "abcdefgh".into(),
            scopes: vec![Scope::Ingest, Scope::Admin],
            name: None,
        }]);
        let (scopes, name) = t.scopes_of(b"abcdefgh").unwrap();
        assert!(name.starts_with("token-") && !name.contains("abcd"));
        let c = Caller { scopes, name };
        assert!(c.require(&[Scope::Ingest]).is_ok());
        assert!(c.require(&[Scope::Read]).is_err());
        assert!(c.require(&[Scope::Read, Scope::Admin]).is_ok());
        assert!(!c.sees_prompts());
        assert!(t.scopes_of(b"abcdefgX").is_none());
        assert!(t.scopes_of(b"abc").is_none());
    }
}
