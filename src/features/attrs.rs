//! Attributes that accounts can share: infrastructure, billing, harness.

use std::net::IpAddr;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::record::Record;

/// A kind of attribute the detector tracks per account and indexes across accounts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[repr(u8)]
pub enum Attr {
    Ip = 0,
    /// The /24 of an IPv4 address or the /48 of an IPv6 one.
    Net,
    Asn,
    UserAgent,
    Tls,
    Payment,
    EmailDomain,
    Country,
    Org,
    SystemPrompt,
    Model,
}

pub const ATTRS: [Attr; 11] = [
    Attr::Ip,
    Attr::Net,
    Attr::Asn,
    Attr::UserAgent,
    Attr::Tls,
    Attr::Payment,
    Attr::EmailDomain,
    Attr::Country,
    Attr::Org,
    Attr::SystemPrompt,
    Attr::Model,
];

impl Attr {
    /// Machine name, used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Attr::Ip => "ip",
            Attr::Net => "network",
            Attr::Asn => "asn",
            Attr::UserAgent => "user_agent",
            Attr::Tls => "tls_fingerprint",
            Attr::Payment => "payment_fingerprint",
            Attr::EmailDomain => "email_domain",
            Attr::Country => "country",
            Attr::Org => "org_id",
            Attr::SystemPrompt => "system_prompt",
            Attr::Model => "model",
        }
    }

    /// Words for a reviewer.
    pub fn noun(self) -> &'static str {
        match self {
            Attr::Ip => "IP address",
            Attr::Net => "network (/24 or /48)",
            Attr::Asn => "autonomous system",
            Attr::UserAgent => "user agent",
            Attr::Tls => "TLS fingerprint",
            Attr::Payment => "payment method",
            Attr::EmailDomain => "sign-up e-mail domain",
            Attr::Country => "country",
            Attr::Org => "organisation",
            Attr::SystemPrompt => "system prompt",
            Attr::Model => "model",
        }
    }
}

/// Hash of an attribute value; the kind seeds it so kinds never collide.
pub fn value_hash(attr: Attr, value: &[u8]) -> u64 {
    xxh3_64_with_seed(value, attr as u64 + 0x5eed)
}

/// The network an address belongs to, as text: `a.b.c.0/24` or `x:x:x::/48`.
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// The hash of each attribute a record carries but the system prompt's, which comes with the
/// text's other features (see [`super::TextFeatures`]).
pub fn hashes_of(rec: &Record<'_>) -> Vec<(Attr, u64)> {
    let mut out = Vec::with_capacity(ATTRS.len());
    if let Some(ip) = rec.ip {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                out.push((Attr::Ip, value_hash(Attr::Ip, &o)));
                out.push((Attr::Net, value_hash(Attr::Net, &o[..3])));
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                out.push((Attr::Ip, value_hash(Attr::Ip, &o)));
                out.push((Attr::Net, value_hash(Attr::Net, &o[..6])));
            }
        }
    }
    if let Some(asn) = rec.asn {
        out.push((Attr::Asn, value_hash(Attr::Asn, &asn.to_le_bytes())));
    }
    for attr in ATTRS {
        if attr == Attr::SystemPrompt {
            continue;
        }
        if let Some(text) = text_of(attr, rec) {
            out.push((attr, value_hash(attr, text.as_bytes())));
        }
    }
    out
}

/// The string-valued attributes, borrowed from the record.
fn text_of<'r>(attr: Attr, rec: &'r Record<'_>) -> Option<&'r str> {
    match attr {
        Attr::UserAgent => rec.user_agent.as_deref(),
        Attr::Tls => rec.tls_fingerprint.as_deref(),
        Attr::Payment => rec.payment_fingerprint.as_deref(),
        Attr::EmailDomain => rec.email_domain.as_deref(),
        Attr::Country => rec.country.as_deref(),
        Attr::Org => rec.org_id.as_deref(),
        Attr::SystemPrompt => rec.system_prompt.as_deref(),
        Attr::Model => rec.model.as_deref(),
        Attr::Ip | Attr::Net | Attr::Asn => None,
    }
}

/// The value of one attribute as a reviewer reads it (system prompts shortened).
pub fn display_of(attr: Attr, rec: &Record<'_>) -> Option<String> {
    match attr {
        Attr::Ip => rec.ip.map(|ip| ip.to_string()),
        Attr::Net => rec.ip.map(network_of),
        Attr::Asn => rec.asn.map(|a| format!("AS{a}")),
        Attr::SystemPrompt => rec
            .system_prompt
            .as_deref()
            .map(|s| super::text::excerpt(s, 160)),
        _ => text_of(attr, rec).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash24_and_slash48() {
        assert_eq!(
            network_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            network_of("2001:db8:aa:bb::1".parse().unwrap()),
            "2001:db8:aa::/48"
        );
    }

    #[test]
    fn kinds_do_not_collide() {
        assert_ne!(
            value_hash(Attr::Ip, b"x"),
            value_hash(Attr::UserAgent, b"x")
        );
    }
}
