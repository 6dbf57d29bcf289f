//! The report as a table for people at a terminal.

use std::fmt::Write;

use super::{Cluster, Report};

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Short words for a signal, for the table's last column and the web interface.
pub fn label(name: &str) -> &str {
    match name {
        "reasoning_elicitation" => "step-by-step reasoning",
        "rubric_grading" => "rubric grading",
        "agentic_tool_use" => "agentic tool use",
        "coding_tasks" => "coding tasks",
        "single_turn" => "single-turn",
        "long_outputs" => "long outputs",
        "fixed_harness" => "fixed harness",
        "around_the_clock" => "around the clock",
        "steady_pacing" => "steady pacing",
        "no_night" => "no quiet night",
        "topic_sweep" => "sweep across subjects",
        "fresh_accounts" => "fresh accounts",
        "rate_limited" => "rate limited",
        "shared_payment" => "shared payment method",
        "shared_network" => "shared network",
        "shared_client" => "same client",
        "shared_email_domain" => "shared e-mail domain",
        "shared_system_prompt" => "same system prompt",
        "shared_prompt_templates" => "shared prompt template",
        "shared_reasoning_wrappers" => "shared reasoning wrappers",
        "near_duplicate_prompts" => "near-duplicate prompts",
        "many_accounts" => "many accounts",
        "rotating_addresses" => "rotating addresses",
        "conversational" => "conversational",
        "acts_alone" => "acts alone",
        "single_organisation" => "one organisation",
        "own_email_domain" => "own e-mail domain",
        "taking_turns" => "taking turns",
        "signup_burst" => "sign-up burst",
        "succession" => "succession",
        "model_switch" => "synchronized model switch",
        other => other,
    }
}

/// `2026-03-02T00:02:00Z` → `03-02 00:02`.
fn short_time(t: &str) -> String {
    t.get(5..16).map_or(t.to_string(), |s| s.replace('T', " "))
}

/// The labels of the `n` strongest signals that point to a campaign.
pub fn strongest(c: &Cluster, n: usize) -> String {
    c.signals
        .iter()
        .filter(|s| s.contribution > 0.0)
        .take(n)
        .map(|s| label(&s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most `n` characters; the JSON report has the rest.
fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

pub fn render(report: &Report) -> String {
    let st = &report.stats;
    let mut out = String::new();
    let span = match (&st.first_seen, &st.last_seen) {
        (Some(a), Some(b)) => format!(
            "{} → {} UTC ({:.1} h)",
            a.replace('T', " ").trim_end_matches('Z'),
            b.get(11..).unwrap_or(b).trim_end_matches('Z'),
            st.span_hours
        ),
        _ => "no records".to_string(),
    };
    let _ = writeln!(
        out,
        "{} records from {} input{} ({} rejected, {} duplicates) · {} accounts · {} · {}",
        thousands(st.records_read),
        st.inputs,
        if st.inputs == 1 { "" } else { "s" },
        thousands(st.rejected),
        thousands(st.duplicates),
        thousands(st.accounts),
        span,
        if st.duration_ms < 1000 {
            format!("{} ms", st.duration_ms)
        } else {
            format!("{:.1} s", st.duration_ms as f64 / 1000.0)
        }
    );
    let n = report.clusters.len();
    let _ = writeln!(
        out,
        "\n{} cluster{} flagged{}",
        n,
        if n == 1 { "" } else { "s" },
        if n == 0 { "." } else { ":" }
    );
    if n > 0 {
        let _ = writeln!(
            out,
            "\n{:<16} {:>5} {:>8} {:>9}  {:<25}  STRONGEST SIGNALS",
            "ID", "SCORE", "ACCOUNTS", "REQUESTS", "ACTIVE (UTC)"
        );
        for c in &report.clusters {
            let _ = writeln!(
                out,
                "{:<16} {:>5.3} {:>8} {:>9}  {:<25}  {}",
                c.id,
                c.score,
                thousands(c.size as u64),
                thousands(c.requests),
                format!(
                    "{} → {}",
                    short_time(&c.first_seen),
                    short_time(&c.last_seen)
                ),
                strongest(c, 4)
            );
        }
        let _ = writeln!(out, "\nWhy:");
        for c in report.clusters.iter().take(5) {
            let _ = writeln!(out, "  {} ({} accounts)", c.id, c.size);
            for s in c.signals.iter().take(5) {
                let _ = writeln!(out, "    {:+.1}  {}", s.contribution, clip(&s.detail, 170));
            }
        }
        if n > 5 {
            let _ = writeln!(out, "  … and {} more clusters (see the JSON report)", n - 5);
        }
    }
    if report.rejects.count > 0 {
        let _ = writeln!(
            out,
            "\nRejected records (first {} of {}):",
            report.rejects.first.len(),
            thousands(report.rejects.count)
        );
        for r in &report.rejects.first {
            let _ = writeln!(out, "  {}:{}: {}", r.file, r.line, r.reason);
        }
    }
    out
}
