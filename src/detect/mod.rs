//! The cross-account stage: ties between accounts, groups, scores, evidence.
//!
//! 1. [`index`]: inverted indexes of who holds which value (the only source of candidate pairs).
//! 2. [`link`]: pair evidence weighted by how unlikely the sharing is; strong pairs tie.
//! 3. Tied accounts form groups (union-find); every other account stands alone.
//!    [`split`] separates what content alone chained onto an operator's group.
//! 4. [`score`]: each group is scored on its traffic and its ties, and explained.

pub mod aggregate;
pub mod index;
pub mod link;
pub mod near;
pub mod score;
pub mod split;
pub mod timing;
pub mod wrappers;

use statrs::distribution::{Binomial, DiscreteCDF};
use xxhash_rust::xxh3::xxh3_64;

use crate::features::text::TEMPLATE_KINDS;
use crate::features::{AccountState, Attr, Dictionary};
use crate::report::{Cluster, Member, Shared, rfc3339};
use aggregate::Aggregate;
use index::{EVIDENCE_ATTRS, Population, Tie};
use score::Scorecard;

/// One account as the detector sees it.
#[derive(Clone, Copy)]
pub struct AccountView<'a> {
    pub id: &'a str,
    pub state: &'a AccountState,
}

#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// Clusters scoring below this are not findings.
    pub min_score: f64,
    /// Members listed with their activity per cluster.
    pub max_members_listed: usize,
    /// Attribute values a reviewer declared legitimate (a company's egress, say): they tie no
    /// accounts and are not evidence.
    pub allow: Allowlist,
}

/// Attribute values, by kind and hash, that tie nobody.
pub type Allowlist = std::collections::HashSet<(Attr, u64)>;

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            min_score: 0.5,
            max_members_listed: 100,
            allow: Allowlist::new(),
        }
    }
}

/// Finds the clusters among `accounts`, which must be sorted by id.
pub fn detect(accounts: &[AccountView<'_>], dict: &Dictionary, cfg: &DetectConfig) -> Vec<Cluster> {
    debug_assert!(accounts.windows(2).all(|w| w[0].id < w[1].id));
    let started = std::time::Instant::now();
    let pop = Population::build(accounts, &cfg.allow);
    let indexed = started.elapsed();
    let pairs = link::tied_pairs(&pop);
    let paired = started.elapsed();
    let mut uf = link::UnionFind::new(accounts.len());
    for &(a, b) in &pairs {
        uf.union(a, b);
    }
    let groups = uf.groups();
    let splitter = split::Splitter::new(accounts, &pop, &pairs);
    let timelines = timing::Timelines::build(accounts);
    let grouped = started.elapsed();
    let mut clusters: Vec<Cluster> = groups
        .iter()
        .flat_map(|g| splitter.split(g))
        .filter_map(|g| score_group(&g, accounts, &pop, &timelines, dict, cfg))
        .collect();
    clusters.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    tracing::debug!(
        index_ms = indexed.as_millis() as u64,
        pairs_ms = (paired - indexed).as_millis() as u64,
        groups_ms = (grouped - paired).as_millis() as u64,
        score_ms = (started.elapsed() - grouped).as_millis() as u64,
        shared_values = pop.shared_values(),
        tied_pairs = pairs.len(),
        groups = groups.len(),
        "cross-account stage"
    );
    clusters
}

fn score_group(
    members: &[u32],
    accounts: &[AccountView<'_>],
    pop: &Population,
    timelines: &timing::Timelines,
    dict: &Dictionary,
    cfg: &DetectConfig,
) -> Option<Cluster> {
    let views: Vec<AccountView<'_>> = members.iter().map(|&i| accounts[i as usize]).collect();
    let agg = Aggregate::of(views.iter().map(|v| v.state));
    if agg.requests == 0 {
        return None;
    }
    let shared = shared_values(members, &views, &agg, pop, dict, &cfg.allow);
    let content = Content::of(&views, &shared, pop);
    let evidence = Evidence {
        agg: &agg,
        shared: &shared,
        content: &content,
        pop,
        timelines,
    };
    // Most groups, single accounts above all, score too low to be reported: they are scored
    // without writing why, and only the reported ones are scored again with their sentences.
    let mut card = Scorecard::scoring_only();
    fill_scorecard(&mut card, &views, &evidence);
    if card.finish().0 < cfg.min_score {
        return None;
    }
    let mut card = Scorecard::explaining();
    fill_scorecard(&mut card, &views, &evidence);
    let (score, signals) = card.finish();
    let m = members.len();

    let mut by_volume: Vec<&AccountView<'_>> = views.iter().collect();
    by_volume.sort_by(|a, b| b.state.requests.cmp(&a.state.requests).then(a.id.cmp(b.id)));
    let mut examples = Vec::new();
    for v in &by_volume {
        for e in v.state.examples() {
            if examples.len() < 5 && !examples.iter().any(|x: &String| x == e) {
                examples.push(e.to_string());
            }
        }
    }
    let anchor = views
        .iter()
        .map(|v| v.id)
        .min_by_key(|id| (xxh3_64(id.as_bytes()), *id))
        .unwrap_or_default();
    Some(Cluster {
        id: format!("dg-{:012x}", xxh3_64(anchor.as_bytes()) >> 16),
        score,
        accounts: views.iter().map(|v| v.id.to_string()).collect(),
        signals,
        size: m,
        requests: agg.requests,
        first_seen: rfc3339(agg.first_ms),
        last_seen: rfc3339(agg.last_ms),
        shared,
        examples,
        members: by_volume
            .iter()
            .take(cfg.max_members_listed)
            .map(|v| Member {
                account_id: v.id.to_string(),
                requests: u64::from(v.state.requests),
                first_seen: rfc3339(v.state.first_ms),
                last_seen: rfc3339(v.state.last_ms),
            })
            .collect(),
    })
}

/// What the members' prompts have in common beyond shared values, found once per group of two
/// or more: both scoring passes use it.
#[derive(Default)]
struct Content {
    near: near::NearDuplicates,
    wrappers: wrappers::SharedWrappers,
}

impl Content {
    fn of(views: &[AccountView<'_>], shared: &[Shared], pop: &Population) -> Self {
        let m = views.len();
        if m < 2 {
            return Content::default();
        }
        Content {
            near: near::among(near::judged(views)),
            // Only beside shared billing or network: strangers running one public harness
            // share its wrappers too.
            wrappers: if shares_infrastructure(shared, m) {
                wrappers::among(views, pop)
            } else {
                wrappers::SharedWrappers::default()
            },
        }
    }
}

/// Everything a group is scored on besides its members.
struct Evidence<'a> {
    agg: &'a Aggregate,
    shared: &'a [Shared],
    content: &'a Content,
    pop: &'a Population,
    timelines: &'a timing::Timelines,
}

/// The signals of a group: its traffic, its ties, its timing and signs of legitimate use.
fn fill_scorecard(card: &mut Scorecard, views: &[AccountView<'_>], evidence: &Evidence<'_>) {
    let Evidence {
        agg,
        shared,
        content,
        pop,
        timelines,
    } = *evidence;
    score::traffic_signals(card, agg);
    let m = views.len();
    if m == 1 {
        card.legitimacy(
            "acts_alone",
            1.0,
            3.0,
            || "a single account: no other account shares its billing, infrastructure or prompt templates"
                .into(),
        );
    } else {
        tie_signals(card, shared, m);
        near::signal(card, views, &content.near);
        wrappers::signal(card, views, &content.wrappers);
        timing::timing_signals(card, views, timelines);
    }
    if let Some((_, holders, _)) = agg.top_value(Attr::Org)
        && holders == m
    {
        card.legitimacy(
            "single_organisation",
            1.0,
            if m == 1 { 1.0 } else { 2.0 },
            || {
                let value = shared
                    .iter()
                    .find(|s| s.attribute == Attr::Org.name())
                    .map_or(String::new(), |s| format!(" {}", s.value));
                format!(
                    "all accounts belong to organisation{value}, a sign of legitimate shared use"
                )
            },
        );
        // A company signs its staff up with its own domain; only they hold it.
        if m > 1
            && let Some((h, holders, _)) = agg.top_value(Attr::EmailDomain)
            && holders == m
            && pop.holders(Tie::Attr(Attr::EmailDomain), h) == m
        {
            card.legitimacy(
                "own_email_domain",
                1.0,
                1.5,
                || format!(
                    "all {m} accounts of the organisation signed up with one e-mail domain that no other account uses"
                ),
            );
        }
    }
}

/// Chance that at least `x` of `m` unrelated accounts hold a value that
/// `outside` of the other `rest` accounts hold.
pub(crate) fn improbability(x: usize, m: usize, outside: usize, rest: usize) -> f64 {
    // Half an account when nobody outside holds it: "rare", not "impossible".
    let rate = (outside as f64).max(0.5) / (rest.max(1) as f64);
    let rate = rate.min(1.0);
    match Binomial::new(rate, m as u64) {
        Ok(b) if x > 0 => b.sf(x as u64 - 1),
        _ => 1.0,
    }
}

/// Values held by at least two members, most-held first, with their rarity.
fn shared_values(
    members: &[u32],
    views: &[AccountView<'_>],
    agg: &Aggregate,
    pop: &Population,
    dict: &Dictionary,
    allow: &Allowlist,
) -> Vec<Shared> {
    let m = members.len();
    let rest = pop.size.saturating_sub(m);
    let mut out = Vec::new();
    if m < 2 {
        return out;
    }
    for attr in EVIDENCE_ATTRS {
        let mut values: Vec<(u64, usize)> = agg
            .values(attr)
            .iter()
            .filter(|v| v.holders >= 2 && !allow.contains(&(attr, v.hash)))
            .map(|v| (v.hash, v.holders))
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (h, x) in values.into_iter().take(3) {
            let population = pop.holders(Tie::Attr(attr), h);
            out.push(Shared {
                attribute: attr.name().to_string(),
                value: dict.get(attr, h).unwrap_or_else(|| format!("#{h:016x}")),
                members: x,
                population,
                p_value: improbability(x, m, population.saturating_sub(x), rest),
            });
        }
    }
    // Phrases: keys of sampled prompts shared between members (paraphrased wrappers).
    let mut phrases: std::collections::HashMap<(u8, u64), usize> = Default::default();
    for v in views {
        for k in index::recurring_phrases(v.state) {
            *phrases.entry(k).or_default() += 1;
        }
    }
    let mut phrases: Vec<((u8, u64), usize)> =
        phrases.into_iter().filter(|(_, c)| *c >= 2).collect();
    phrases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((slot, key), x) in phrases.into_iter().take(5) {
        let population = pop.holders(Tie::Phrase(slot), key);
        out.push(Shared {
            attribute: "prompt_phrase".to_string(),
            value: template_display(slot, key, views),
            members: x,
            population,
            p_value: improbability(x, m, population.saturating_sub(x), rest),
        });
    }
    // Templates: counted from the members' dominant keys.
    let mut counts: std::collections::HashMap<(u8, u64), usize> = Default::default();
    for v in views {
        for k in index::dominant_templates(v.state) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let mut templates: Vec<((u8, u64), usize)> =
        counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    templates.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.0.0.cmp(&a.0.0))
            .then(a.0.1.cmp(&b.0.1))
    });
    for ((slot, key), x) in templates.into_iter().take(3) {
        let population = pop.holders(Tie::Template(slot), key);
        out.push(Shared {
            attribute: "prompt_template".to_string(),
            value: template_display(slot, key, views),
            members: x,
            population,
            p_value: improbability(x, m, population.saturating_sub(x), rest),
        });
    }
    out
}

/// Shows a template as the words it is made of, taken from an example prompt that has it.
pub(crate) fn template_display(slot: u8, key: u64, views: &[AccountView<'_>]) -> String {
    let n = if slot.is_multiple_of(2) { 4 } else { 8 };
    let prefix = slot < 2;
    for v in views {
        for s in v.state.sample.iter() {
            if s.keys[slot as usize] == key
                && let Some(text) = &s.example
            {
                let words: Vec<&str> = text.split_whitespace().collect();
                let picked = if prefix {
                    words[..n.min(words.len())].join(" ") + " …"
                } else {
                    "… ".to_string() + &words[words.len().saturating_sub(n)..].join(" ")
                };
                return format!(
                    "{}: «{}»",
                    TEMPLATE_KINDS[slot as usize],
                    picked.trim_end_matches('…').trim()
                );
            }
        }
    }
    format!("{} (key {key:016x})", TEMPLATE_KINDS[slot as usize])
}

/// Signals from what the members share. Several values of one kind add up
/// (three cards shared eight ways each tie 24 accounts as surely as one card).
fn tie_signals(card: &mut Scorecard, shared: &[Shared], m: usize) {
    // Public evaluation harnesses put the same words around their prompts for
    // unrelated users; templates weigh in full only beside shared billing or network.
    let infrastructure = shares_infrastructure(shared, m);
    let mut tie = |name: &str, attrs: &[&str], weight: f64, what: &str, whats: &str| {
        let note = if name == "shared_prompt_templates" && !infrastructure {
            " (counted lower: no shared billing or network behind it, and public harnesses share templates too)"
        } else {
            ""
        };
        let mut values: Vec<&Shared> = shared
            .iter()
            .filter(|s| attrs.contains(&s.attribute.as_str()) && strength(s, m) > 0.0)
            .collect();
        if values.is_empty() {
            return;
        }
        values.sort_by(|a, b| strength(b, m).total_cmp(&strength(a, m)));
        let total: f64 = values.iter().map(|s| strength(s, m)).sum();
        let covered = values.iter().map(|s| s.members).sum::<usize>().min(m);
        card.coordination(name, total, weight, || {
            let listed: Vec<String> = values
                .iter()
                .take(3)
                .map(|s| {
                    format!(
                        "{} ({} accounts; {} in all; chance among unrelated accounts {})",
                        s.value,
                        s.members,
                        s.population,
                        p_text(s.p_value)
                    )
                })
                .collect();
            if values.len() == 1 {
                format!(
                    "{covered} of {m} accounts share the {what} {}{note}",
                    listed[0]
                )
            } else {
                format!(
                    "{covered} of {m} accounts share {} {whats}: {}{note}",
                    values.len(),
                    listed.join("; ")
                )
            }
        });
    };
    tie(
        "shared_payment",
        &["payment_fingerprint"],
        2.5,
        "payment method",
        "payment methods",
    );
    tie(
        "shared_network",
        &["ip", "network"],
        2.0,
        "network address",
        "network addresses",
    );
    tie(
        "shared_client",
        &["tls_fingerprint", "user_agent"],
        0.8,
        "client",
        "clients",
    );
    tie(
        "shared_email_domain",
        &["email_domain"],
        0.6,
        "sign-up e-mail domain",
        "sign-up e-mail domains",
    );
    tie(
        "shared_system_prompt",
        &["system_prompt"],
        1.5,
        "system prompt",
        "system prompts",
    );
    // A template and the phrases it is made of are one piece of evidence.
    tie(
        "shared_prompt_templates",
        &["prompt_template", "prompt_phrase"],
        if infrastructure { 2.5 } else { 1.5 },
        "prompt template",
        "prompt templates or phrasings",
    );
    card.coordination("many_accounts", (m as f64).log10() / 2.0, 1.0, || {
        format!("{m} accounts are tied together by what they share")
    });
}

/// Whether the members share billing or network, beyond chance: what separates an operator's
/// accounts from unrelated users of one public harness.
fn shares_infrastructure(shared: &[Shared], m: usize) -> bool {
    let infra = ["payment_fingerprint", "ip", "network"];
    shared
        .iter()
        .filter(|s| infra.contains(&s.attribute.as_str()))
        .map(|s| strength(s, m))
        .sum::<f64>()
        >= 0.3
}

/// How telling a chance of `p` is, in [0, 1]: full at p <= 1e-12.
pub(crate) fn improbable(p: f64) -> f64 {
    (-p.max(1e-300).log10() / 12.0).clamp(0.0, 1.0)
}

/// How much a shared value says: the share of members holding it, times how
/// improbable that is by chance (full at p <= 1e-12).
fn strength(s: &Shared, m: usize) -> f64 {
    s.members as f64 / m as f64 * improbable(s.p_value)
}

fn p_text(p: f64) -> String {
    if p < 1e-300 {
        "< 1e-300".into()
    } else if p < 0.001 {
        format!("{p:.0e}")
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
pub(crate) mod test_views {
    use super::AccountView;
    use crate::features::AccountState;

    /// Ids `a00000`, `a00001`, … for `n` accounts: ascending, as `detect` needs them.
    pub fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("a{i:05}")).collect()
    }

    /// Each state as the detector sees it, under the id at its index.
    pub fn views<'a>(
        ids: &'a [impl AsRef<str>],
        states: &'a [AccountState],
    ) -> Vec<AccountView<'a>> {
        ids.iter()
            .zip(states)
            .map(|(id, state)| AccountView {
                id: id.as_ref(),
                state,
            })
            .collect()
    }
}
