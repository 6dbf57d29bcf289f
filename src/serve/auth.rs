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
///
/// Tokens are kept and compared as keyed digests of a fixed size: the comparison then takes the
/// same time whatever the presented token's length or content, and the key, drawn at start,
/// keeps an attacker from computing the digests being compared.
#[derive(Debug, Clone)]
pub struct Tokens {
    key: [u8; DIGEST_KEY_BYTES],
    entries: Vec<([u8; 16], u8, Arc<str>)>,
}

/// xxh3 takes its key as a "secret" of at least 136 bytes.
const DIGEST_KEY_BYTES: usize = 192;

impl Tokens {
    pub fn new(entries: &[TokenEntry]) -> Self {
        let mut key = [0u8; DIGEST_KEY_BYTES];
        rand::Rng::fill(&mut rand::rng(), &mut key[..]);
        let mut tokens = Tokens {
            key,
            entries: Vec::new(),
        };
        tokens.entries = entries
            .iter()
            .map(|e| {
                let bits = e.scopes.iter().fold(0, |acc, s| acc | s.bit());
                // A hash names the token without revealing any of it.
                let name = e.name.clone().unwrap_or_else(|| {
                    let h = xxhash_rust::xxh3::xxh3_64(e.token.as_bytes());
                    format!("token-{:08x}", h >> 32)
                });
                (tokens.digest(e.token.as_bytes()), bits, name.into())
            })
            .collect();
        tokens
    }

    fn digest(&self, token: &[u8]) -> [u8; 16] {
        xxhash_rust::xxh3::xxh3_128_with_secret(token, &self.key).to_le_bytes()
    }

    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// The scopes and name of a presented token, or `None` when it is not one of ours.
    fn scopes_of(&self, presented: &[u8]) -> Option<(u8, Arc<str>)> {
        let presented = self.digest(presented);
        // Every entry is compared in full so timing does not reveal which one matched.
        let mut found = None;
        for (token, bits, name) in &self.entries {
            if constant_time_eq(token, &presented) {
                found = Some((*bits, name.clone()));
            }
        }
        found
    }
}

/// Compares two digests in time that depends on neither's content.
fn constant_time_eq(a: &[u8; 16], b: &[u8; 16]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the compiler from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
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

/// The token of an `Authorization: Bearer TOKEN` header (the scheme's case does not matter).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(rest)
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
            .and_then(|v| bearer(v.as_bytes()))
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
        assert!(t.scopes_of(b"abcdefghi").is_none());
        assert!(t.scopes_of(b"").is_none());
    }

    #[test]
    fn bearer_scheme() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
    }

    #[test]
    fn digests_are_fixed_size_and_keyed() {
        let entry = |token: &str| TokenEntry {
            token: token.into(),
            scopes: vec![Scope::Read],
            name: None,
        };
        let a = Tokens::new(&[entry("abcdefgh")]);
        let b = Tokens::new(&[entry("abcdefgh")]);
        // Each start draws its own key, so a digest says nothing outside the process.
        assert_ne!(a.entries[0].0, b.entries[0].0);
        // Tokens of every length reach the comparison as 16 bytes.
        let long = "x".repeat(10_000);
        assert_eq!(a.digest(long.as_bytes()).len(), a.digest(b"").len());
        assert!(a.scopes_of(long.as_bytes()).is_none());
        assert!(constant_time_eq(&[7; 16], &[7; 16]));
        assert!(!constant_time_eq(&[7; 16], &{
            let mut d = [7; 16];
            d[15] = 8;
            d
        }));
    }
}
