//! Detection quality against labelled traffic: precision, recall, false-positive
//! rate, the flagged rate of every class, and how many clusters each campaign
//! was split into; [`timeline`] adds how soon each campaign is flagged.

pub mod timeline;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::report::Report;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {why}")]
    Labels {
        path: String,
        line: usize,
        why: String,
    },
    #[error("{path}: not a distillguard report: {source}")]
    Report {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// One labelled account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub class: String,
    pub campaign: Option<String>,
}

impl Label {
    pub fn is_campaign(&self) -> bool {
        self.campaign.is_some()
    }
}

/// Reads `account_id,class,kind,campaign` (with a header line).
pub fn read_labels(path: &Path) -> Result<BTreeMap<String, Label>, EvalError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: p.clone(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            return Err(EvalError::Labels {
                path: p,
                line: i + 1,
                why: "expected account_id,class,kind,campaign".into(),
            });
        }
        let campaign = match f[2] {
            "campaign" => Some(if f[3].is_empty() { f[1] } else { f[3] }.to_string()),
            "legit" => None,
            other => {
                return Err(EvalError::Labels {
                    path: p,
                    line: i + 1,
                    why: format!("kind {other:?} is neither legit nor campaign"),
                });
            }
        };
        out.insert(
            f[0].to_string(),
            Label {
                class: f[1].to_string(),
                campaign,
            },
        );
    }
    Ok(out)
}

pub fn read_report(path: &Path) -> Result<Report, EvalError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
        path: p.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| EvalError::Report { path: p, source })
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassRate {
    pub class: String,
    pub legit: bool,
    pub accounts: usize,
    pub flagged: usize,
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CampaignResult {
    pub campaign: String,
    pub accounts: usize,
    pub flagged: usize,
    pub recall: f64,
    /// Clusters holding at least one of its accounts.
    pub clusters: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    pub precision: f64,
    pub recall: f64,
    pub false_positive_rate: f64,
    pub flagged: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub campaign_accounts: usize,
    pub legit_accounts: usize,
    /// Flagged accounts that are not in the labels (not counted above).
    pub unlabelled_flagged: usize,
    pub classes: Vec<ClassRate>,
    pub campaigns: Vec<CampaignResult>,
}

pub fn evaluate(labels: &BTreeMap<String, Label>, report: &Report) -> Evaluation {
    let mut cluster_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in report.clusters.iter().enumerate() {
        for a in &c.accounts {
            cluster_of.insert(a.as_str(), i);
        }
    }
    let flagged = cluster_of.len();
    let (mut tp, mut fp, mut camp, mut legit) = (0, 0, 0, 0);
    let mut classes: BTreeMap<(&str, bool), (usize, usize)> = BTreeMap::new();
    let mut campaigns: BTreeMap<&str, (usize, usize, BTreeSet<usize>)> = BTreeMap::new();
    for (account, label) in labels {
        let hit = cluster_of.get(account.as_str());
        let e = classes
            .entry((label.class.as_str(), !label.is_campaign()))
            .or_default();
        e.0 += 1;
        e.1 += usize::from(hit.is_some());
        match &label.campaign {
            Some(name) => {
                camp += 1;
                tp += usize::from(hit.is_some());
                let c = campaigns.entry(name.as_str()).or_default();
                c.0 += 1;
                if let Some(&i) = hit {
                    c.1 += 1;
                    c.2.insert(i);
                }
            }
            None => {
                legit += 1;
                fp += usize::from(hit.is_some());
            }
        }
    }
    let unlabelled = cluster_of
        .keys()
        .filter(|a| !labels.contains_key(**a))
        .count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Evaluation {
        precision: if tp + fp == 0 {
            1.0
        } else {
            ratio(tp, tp + fp)
        },
        recall: ratio(tp, camp),
        false_positive_rate: ratio(fp, legit),
        flagged,
        true_positives: tp,
        false_positives: fp,
        campaign_accounts: camp,
        legit_accounts: legit,
        unlabelled_flagged: unlabelled,
        classes: classes
            .into_iter()
            .map(|((class, legit), (n, f))| ClassRate {
                class: class.to_string(),
                legit,
                accounts: n,
                flagged: f,
                rate: ratio(f, n),
            })
            .collect(),
        campaigns: campaigns
            .into_iter()
            .map(|(name, (n, f, clusters))| CampaignResult {
                campaign: name.to_string(),
                accounts: n,
                flagged: f,
                recall: ratio(f, n),
                clusters: clusters.len(),
            })
            .collect(),
    }
}

impl Evaluation {
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "precision {:.4}   recall {:.4}   legitimate false-positive rate {:.4}%",
            self.precision,
            self.recall,
            self.false_positive_rate * 100.0
        );
        let _ = writeln!(
            out,
            "flagged {} accounts: {} campaign, {} legitimate ({} campaign and {} legitimate accounts in the labels)",
            self.flagged,
            self.true_positives,
            self.false_positives,
            self.campaign_accounts,
            self.legit_accounts
        );
        let _ = writeln!(
            out,
            "\n{:<22} {:<9} {:>8} {:>8} {:>8}",
            "CLASS", "KIND", "ACCOUNTS", "FLAGGED", "RATE"
        );
        for c in &self.classes {
            let _ = writeln!(
                out,
                "{:<22} {:<9} {:>8} {:>8} {:>7.1}%",
                c.class,
                if c.legit { "legit" } else { "campaign" },
                c.accounts,
                c.flagged,
                c.rate * 100.0
            );
        }
        let _ = writeln!(
            out,
            "\n{:<22} {:>8} {:>8} {:>8} {:>9}",
            "CAMPAIGN", "ACCOUNTS", "FLAGGED", "RECALL", "CLUSTERS"
        );
        for c in &self.campaigns {
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>8} {:>7.1}% {:>9}",
                c.campaign,
                c.accounts,
                c.flagged,
                c.recall * 100.0,
                c.clusters
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Cluster, Report};

    fn cluster(accounts: &[&str]) -> Cluster {
        Cluster {
            id: "dg-x".into(),
            score: 0.9,
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            signals: vec![],
            size: accounts.len(),
            requests: 0,
            first_seen: String::new(),
            last_seen: String::new(),
            shared: vec![],
            examples: vec![],
            members: vec![],
        }
    }

    #[test]
    fn metrics_count_accounts() {
        let mut labels = BTreeMap::new();
        for (a, class, camp) in [
            ("c1", "hydra", Some("h")),
            ("c2", "hydra", Some("h")),
            ("c3", "hydra", Some("h")),
            ("c4", "hydra", Some("h")),
            ("u1", "ordinary", None),
            ("u2", "ordinary", None),
            ("u3", "ordinary", None),
            ("u4", "ordinary", None),
        ] {
            labels.insert(
                a.to_string(),
                Label {
                    class: class.into(),
                    campaign: camp.map(str::to_string),
                },
            );
        }
        let report = Report {
            clusters: vec![cluster(&["c1", "c2"]), cluster(&["c3", "u1"])],
            stats: Default::default(),
            rejects: Default::default(),
            generator: String::new(),
        };
        let e = evaluate(&labels, &report);
        assert_eq!(e.precision, 0.75);
        assert_eq!(e.recall, 0.75);
        assert_eq!(e.false_positive_rate, 0.25);
        assert_eq!(e.campaigns[0].clusters, 2);
        assert_eq!(
            e.classes
                .iter()
                .find(|c| c.class == "ordinary")
                .unwrap()
                .flagged,
            1
        );
    }
}
