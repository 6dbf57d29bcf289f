//! Reviewers' decisions: confirm a cluster as a campaign, dismiss it as legitimate, reopen it,
//! and allowlist (or stop allowlisting) an attribute value such as a company's egress network.
//!
//! Every decision is kept, with who made it and when, in the log's database, so it survives
//! restarts and compaction. What a decision does:
//! - **dismiss**: the cluster leaves the queue while every one of its accounts was a member of a
//!   dismissed cluster when it was dismissed. An account it had not then (new evidence grew it)
//!   brings it back as open, saying how many accounts it had when dismissed.
//! - **confirm**: its accounts at that moment, and the indicators in its shared evidence, are
//!   listed by `GET /v1/enforcement`.
//! - A cluster with no decision of its own whose accounts were all in clusters decided the same
//!   way takes their status; any cluster says which decided clusters held some of its accounts.
//! - **allowlist**: the value ties no accounts and is not evidence from the next detection run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::store::{Store, StoreError};
use crate::detect::Allowlist;
use crate::detect::index::EVIDENCE_ATTRS;
use crate::features::attrs::value_hash;
use crate::features::{ATTRS, Attr};
use crate::report::{Cluster, Shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Confirm,
    Dismiss,
    Reopen,
    Allowlist,
    Unallowlist,
}

impl Verdict {
    fn on_cluster(self) -> bool {
        matches!(self, Verdict::Confirm | Verdict::Dismiss | Verdict::Reopen)
    }
}

/// One decision as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub seq: u64,
    pub decision: Verdict,
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// The cluster's accounts when the decision was made.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub score: Option<f64>,
    /// The cluster's shared evidence when the decision was made: the source of indicators.
    #[serde(default)]
    pub shared: Vec<Shared>,
    #[serde(default)]
    pub attribute: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// The name of the token that made it.
    pub by: String,
    pub at: String,
    #[serde(default)]
    pub note: String,
}

/// A decision as a reviewer asks for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    pub decision: Verdict,
    pub cluster_id: Option<String>,
    pub attribute: Option<String>,
    pub value: Option<String>,
    pub note: Option<String>,
}

/// Where a cluster stands with reviewers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    /// `open`, `confirmed` or `dismissed`.
    pub status: &'static str,
    /// The decision that set the status, if any.
    pub decision: Option<Decision>,
    /// Accounts the cluster had when it was dismissed, when it has grown since.
    pub grew_from: Option<usize>,
    /// Other clusters, confirmed or dismissed, that held some of its accounts (a cluster's id
    /// changes when the member it is named after leaves).
    pub related: Vec<Related>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    pub cluster_id: String,
    /// `confirmed` or `dismissed`.
    pub status: &'static str,
    /// How many of this cluster's accounts it held.
    pub accounts: usize,
}

/// Whether an attribute may be allowlisted: one that is evidence, and whose value as a
/// reviewer reads it gives back the hash the detector keeps (a system prompt is shown shortened).
fn allowable(attr: Attr) -> bool {
    EVIDENCE_ATTRS.contains(&attr) && attr != Attr::SystemPrompt
}

/// The detector's key for an allowlisted value: `203.0.113.0/24` for a network, `AS64500` for
/// an autonomous system, the text as written for the rest.
pub fn allow_key(attribute: &str, value: &str) -> Result<(Attr, u64), String> {
    let attr = ATTRS
        .into_iter()
        .find(|a| a.name() == attribute && allowable(*a))
        .ok_or_else(|| {
            let names: Vec<&str> = ATTRS
                .iter()
                .filter(|a| allowable(**a))
                .map(|a| a.name())
                .collect();
            format!(
                "attribute {attribute:?} cannot be allowlisted; one of {}",
                names.join(", ")
            )
        })?;
    let value = value.trim();
    let bad = || format!("{value:?} is not a valid {}", attr.noun());
    let hash = match attr {
        Attr::Ip => match value.parse::<IpAddr>().map_err(|_| bad())? {
            IpAddr::V4(v4) => value_hash(attr, &v4.octets()),
            IpAddr::V6(v6) => value_hash(attr, &v6.octets()),
        },
        Attr::Net => {
            let (addr, bits) = value.split_once('/').ok_or_else(bad)?;
            match (addr.parse::<IpAddr>().map_err(|_| bad())?, bits) {
                (IpAddr::V4(v4), "24") => value_hash(attr, &v4.octets()[..3]),
                (IpAddr::V6(v6), "48") => value_hash(attr, &v6.octets()[..6]),
                _ => return Err(format!("{value:?}: networks are /24 (IPv4) or /48 (IPv6)")),
            }
        }
        Attr::Asn => {
            let n: u32 = value.trim_start_matches("AS").parse().map_err(|_| bad())?;
            value_hash(attr, &n.to_le_bytes())
        }
        _ if value.is_empty() => return Err(bad()),
        _ => value_hash(attr, value.as_bytes()),
    };
    Ok((attr, hash))
}

/// Every decision made, in order.
pub struct Decisions {
    all: RwLock<Vec<Decision>>,
}

impl Decisions {
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let mut all = Vec::new();
        for bytes in store.decisions()? {
            match serde_json::from_slice::<Decision>(&bytes) {
                Ok(d) => all.push(d),
                Err(e) => tracing::warn!("a stored decision cannot be read and is skipped: {e}"),
            }
        }
        Ok(Decisions {
            all: RwLock::new(all),
        })
    }

    /// Stores a decision durably (it gets the next sequence number) and returns it as stored.
    pub fn record(&self, store: &Store, mut d: Decision) -> Result<Decision, StoreError> {
        let mut all = self.all.write().expect("decisions");
        store.add_decision(|seq| {
            d.seq = seq;
            serde_json::to_vec(&d).expect("a decision serialises")
        })?;
        all.push(d.clone());
        Ok(d)
    }

    pub fn all(&self) -> Vec<Decision> {
        self.all.read().expect("decisions").clone()
    }

    /// The allowlisted (attribute, value) pairs: allowlisted and not taken off since.
    pub fn allowlisted(&self) -> Vec<(String, String)> {
        let mut on: Vec<(String, String)> = Vec::new();
        for d in self.all.read().expect("decisions").iter() {
            let (Some(a), Some(v)) = (&d.attribute, &d.value) else {
                continue;
            };
            let key = (a.clone(), v.clone());
            match d.decision {
                Verdict::Allowlist if !on.contains(&key) => on.push(key),
                Verdict::Unallowlist => on.retain(|k| *k != key),
                _ => {}
            }
        }
        on
    }

    /// The allowlist as the detector takes it.
    pub fn allowlist(&self) -> Allowlist {
        self.allowlisted()
            .iter()
            .filter_map(|(a, v)| allow_key(a, v).ok())
            .collect()
    }

    /// The latest decision on each cluster, for looking up many clusters' reviews.
    pub fn index(&self) -> ReviewIndex {
        let mut latest: HashMap<String, Decision> = HashMap::new();
        for d in self.all.read().expect("decisions").iter() {
            if let (true, Some(id)) = (d.decision.on_cluster(), &d.cluster_id) {
                latest.insert(id.clone(), d.clone());
            }
        }
        // The latest decision wins for an account that was in several decided clusters.
        let mut in_order: Vec<&Decision> = latest.values().collect();
        in_order.sort_by_key(|d| d.seq);
        let mut decided = HashMap::new();
        for d in in_order {
            let status = match d.decision {
                Verdict::Confirm => "confirmed",
                Verdict::Dismiss => "dismissed",
                _ => continue,
            };
            let id = d.cluster_id.clone().unwrap_or_default();
            for a in &d.members {
                decided.insert(a.clone(), (id.clone(), status));
            }
        }
        ReviewIndex { latest, decided }
    }
}

pub struct ReviewIndex {
    latest: HashMap<String, Decision>,
    /// Accounts of clusters whose latest decision is a confirmation or a dismissal, as they were
    /// then: the cluster's id and its status.
    decided: HashMap<String, (String, &'static str)>,
}

impl ReviewIndex {
    pub fn review(&self, c: &Cluster) -> Review {
        let mut review = self.own_review(c);
        let mut related: BTreeMap<(&str, &'static str), usize> = BTreeMap::new();
        for a in &c.accounts {
            if let Some((id, status)) = self.decided.get(a)
                && *id != c.id
            {
                *related.entry((id, status)).or_default() += 1;
            }
        }
        review.related = related
            .into_iter()
            .map(|((id, status), accounts)| Related {
                cluster_id: id.to_string(),
                status,
                accounts,
            })
            .collect();
        review
    }

    fn own_review(&self, c: &Cluster) -> Review {
        let review = |status, decision: Option<&Decision>, grew_from| Review {
            status,
            decision: decision.cloned(),
            grew_from,
            related: Vec::new(),
        };
        // With no decision of its own, a cluster whose accounts were all in clusters decided
        // the same way (a dismissed cluster that lost the member it was named after has a new
        // id) takes their status.
        let inherited = || {
            let mut statuses = c.accounts.iter().map(|a| self.decided.get(a).map(|d| d.1));
            let first = statuses.next().flatten()?;
            statuses.all(|s| s == Some(first)).then_some(first)
        };
        match self.latest.get(&c.id) {
            Some(d) if d.decision == Verdict::Confirm => review("confirmed", Some(d), None),
            Some(d) if d.decision == Verdict::Dismiss => {
                let then: HashSet<&String> = d.members.iter().collect();
                if c.accounts.iter().all(|a| then.contains(a)) {
                    review("dismissed", Some(d), None)
                } else {
                    review("open", Some(d), Some(d.members.len()))
                }
            }
            Some(d) => review("open", Some(d), None),
            None => review(inherited().unwrap_or("open"), None, None),
        }
    }

    /// Clusters whose latest decision is a confirmation, as they were confirmed.
    pub fn confirmed(&self) -> Vec<&Decision> {
        let mut out: Vec<&Decision> = self
            .latest
            .values()
            .filter(|d| d.decision == Verdict::Confirm)
            .collect();
        out.sort_by_key(|d| d.seq);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(id: &str, accounts: &[&str]) -> Cluster {
        Cluster {
            id: id.into(),
            score: 0.9,
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            signals: Vec::new(),
            size: accounts.len(),
            requests: 10,
            first_seen: String::new(),
            last_seen: String::new(),
            shared: Vec::new(),
            examples: Vec::new(),
            members: Vec::new(),
        }
    }

    fn decision(verdict: Verdict, c: Option<&Cluster>, attr: Option<(&str, &str)>) -> Decision {
        Decision {
            seq: 0,
            decision: verdict,
            cluster_id: c.map(|c| c.id.clone()),
            members: c.map_or(Vec::new(), |c| c.accounts.clone()),
            score: c.map(|c| c.score),
            shared: Vec::new(),
            attribute: attr.map(|a| a.0.to_string()),
            value: attr.map(|a| a.1.to_string()),
            by: "alice".into(),
            at: "2026-03-04T00:00:00Z".into(),
            note: String::new(),
        }
    }

    #[test]
    fn dismissed_stays_dismissed_until_it_grows_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Decisions::load(&store).unwrap();
        let c = cluster("dg-1", &["a", "b", "c"]);
        d.record(&store, decision(Verdict::Dismiss, Some(&c), None))
            .unwrap();
        let confirmed = cluster("dg-2", &["x", "y"]);
        d.record(&store, decision(Verdict::Confirm, Some(&confirmed), None))
            .unwrap();
        drop((d, store));

        let store = Store::open(dir.path()).unwrap();
        let d = Decisions::load(&store).unwrap();
        assert_eq!(d.all().len(), 2);
        assert_eq!(d.all()[1].seq, 1);
        let idx = d.index();
        assert_eq!(idx.review(&c).status, "dismissed");
        // Fewer accounts (and so perhaps another id): still dismissed.
        assert_eq!(
            idx.review(&cluster("dg-9", &["a", "b"])).status,
            "dismissed"
        );
        let grown = idx.review(&cluster("dg-1", &["a", "b", "c", "d"]));
        assert_eq!((grown.status, grown.grew_from), ("open", Some(3)));
        assert_eq!(idx.review(&confirmed).status, "confirmed");
        assert_eq!(idx.review(&cluster("dg-8", &["y"])).status, "confirmed");
        assert_eq!(idx.confirmed().len(), 1);
        // Accounts from both, and a new one: open, saying where its accounts were.
        let mixed = idx.review(&cluster("dg-7", &["a", "x", "z"]));
        assert_eq!(mixed.status, "open");
        let related: Vec<(&str, &str, usize)> = mixed
            .related
            .iter()
            .map(|r| (r.cluster_id.as_str(), r.status, r.accounts))
            .collect();
        assert_eq!(
            related,
            [("dg-1", "dismissed", 1), ("dg-2", "confirmed", 1)]
        );

        d.record(&store, decision(Verdict::Reopen, Some(&c), None))
            .unwrap();
        assert_eq!(d.index().review(&c).status, "open");
    }

    #[test]
    fn allowlist_on_and_off() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = Decisions::load(&store).unwrap();
        let net = ("network", "203.0.113.0/24");
        d.record(&store, decision(Verdict::Allowlist, None, Some(net)))
            .unwrap();
        d.record(
            &store,
            decision(Verdict::Allowlist, None, Some(("org_id", "acme"))),
        )
        .unwrap();
        assert_eq!(d.allowlist().len(), 2);
        d.record(&store, decision(Verdict::Unallowlist, None, Some(net)))
            .unwrap();
        assert_eq!(d.allowlisted(), [("org_id".into(), "acme".into())]);
    }

    #[test]
    fn allow_keys_match_the_detector_hashes() {
        use crate::features::attrs::hashes_of;
        let rec = crate::record::Record::parse(
            br#"{"ts":1767225600,"account_id":"a","ip":"203.0.113.9","asn":64500,"payment_fingerprint":"pf-1"}"#,
        )
        .unwrap();
        let held = hashes_of(&rec);
        for (a, v) in [
            ("ip", "203.0.113.9"),
            ("network", "203.0.113.0/24"),
            ("asn", "AS64500"),
            ("payment_fingerprint", "pf-1"),
        ] {
            let key = allow_key(a, v).unwrap();
            assert!(held.contains(&key), "{a} {v}");
        }
        assert!(allow_key("network", "203.0.113.0/16").is_err());
        assert!(allow_key("system_prompt", "You are").is_err());
        assert!(allow_key("ip", "nope").is_err());
    }
}
