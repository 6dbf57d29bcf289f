//! Distillation campaigns: many accounts, one operator. Each style hides a different subset of the
//! traits (shared infrastructure, synchronized timing, harvesting prompts, succession, new-model rush).

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::grammar;
use super::infra::{
    self, Addr, BROWSERS, Client, Subnet, free_email, hosting_pool, own_domain, payment,
    pick_client, pick_tz, residential,
};
use super::plan::{ClassOut, MODEL_LITE, MODEL_MAIN, MODEL_NEW, World};
use super::record::{Account, Body, Draft, Msg, TsFormat};
use super::text::{Item, ItemKind};
use super::timing::{
    DAY, HOUR, MIN, Rhythm, SEC, exp_gap, lognormal, poisson_times, sample_time, think_gap,
};

fn account(w: &World, label: &str, class: &'static str, campaign: &'static str) -> Account {
    Account {
        id: w.id("acct_", label, 16),
        class,
        campaign: Some(campaign),
        created_ms: 0,
        keys: vec![w.id("key_", &format!("{label}/key0"), 20)],
        org_id: None,
        payment: None,
        email_domain: String::new(),
        country: "US",
        ts_format: TsFormat::Rfc3339,
    }
}

fn wrap(tpl: &str, item: &str) -> String {
    tpl.replace("{item}", item)
}

fn pick_addr<R: Rng>(rng: &mut R, pool: &[Subnet]) -> Addr {
    pool.choose(rng).map(|s| s.host(rng)).unwrap_or(Addr {
        ip: "0.0.0.0".into(),
        asn: 0,
    })
}

static HYDRA_WRAPPERS: &[&str] = &[
    "Solve the following problem. Work through it step by step, explaining each part of your reasoning, and give the final answer on the last line.\n\n{item}",
    "{item}\n\nThink through this carefully and show your complete reasoning step by step before you state the answer.",
    "Answer the question below. Before answering, reason about it in detail, one step at a time.\n\nQuestion: {item}",
];
const HYDRA_SYSTEM: &str = "You are a knowledgeable assistant. Give thorough, well-structured answers and explain your reasoning.";

/// Proxy-pool hydra: a sign-up burst of accounts, load-balanced round-robin over one prompt stream.
pub(crate) fn hydra(w: &World) -> ClassOut {
    const NAME: &str = "hydra-larch";
    let p = w.plan;
    let mut rng = w.rng("hydra");
    let pool = hosting_pool(&mut rng, 3, p.hydra_subnets.max(1));
    let cards: Vec<String> = (0..p.hydra_cards.max(1))
        .map(|k| payment(w.seed, &format!("hydra/card/{k}")))
        .collect();
    let catch_all = own_domain(&mut rng, "net");
    let mut t_signup = w.start - rng.random_range(1..4) * DAY - rng.random_range(0..12) * HOUR;
    let mut accounts = Vec::new();
    for i in 0..p.hydra {
        let label = format!("hydra/{i}");
        let mut a = account(w, &label, "hydra", NAME);
        t_signup += rng.random_range(20 * SEC..150 * SEC);
        a.created_ms = t_signup;
        a.payment = cards.choose(&mut rng).cloned();
        a.email_domain = if rng.random_bool(0.5) {
            catch_all.clone()
        } else {
            "outlook.com".into()
        };
        accounts.push(a);
    }
    // The harness claims to be the Python SDK but runs on a Go HTTP stack.
    let client = Client {
        ua: "OpenAI/Python 1.54.4",
        stack: "go",
    };
    let mut lb: Vec<usize> = (0..accounts.len()).collect();
    lb.shuffle(&mut rng);
    let mut cur = w.text.cursor(&mut rng);
    let migrate_at = w.release + (p.migrate_delay_h * HOUR as f64) as i64;
    let times = poisson_times(&mut rng, w.start, w.end, p.hydra_per_hour, |_| 1.0);
    let mut drafts = Vec::with_capacity(times.len());
    for (k, t) in times.into_iter().enumerate() {
        let kind = if rng.random_bool(0.6) {
            ItemKind::Math
        } else {
            ItemKind::Instruction
        };
        let item = w.text.next_item(&mut cur, kind, &mut rng);
        let tpl = HYDRA_WRAPPERS
            .choose(&mut rng)
            .unwrap_or(&HYDRA_WRAPPERS[0]);
        let model = if t >= migrate_at && rng.random_bool(p.migrate_share) {
            MODEL_NEW
        } else {
            MODEL_MAIN
        };
        drafts.push(Draft {
            ts_ms: t,
            acct: lb[k % lb.len()],
            key: 0,
            addr: pick_addr(&mut rng, &pool),
            client,
            model,
            body: Body::Prompt {
                system: Some(HYDRA_SYSTEM.into()),
                prompt: wrap(tpl, &item.text),
            },
            conv: None,
            completion_tokens: lognormal(&mut rng, 1100.0, 0.45) as u32,
            max_tokens: Some(4096),
            temperature: Some(0.7),
            status: 200,
        });
    }
    ClassOut {
        class: "hydra",
        accounts,
        drafts,
        campaign: Some(NAME),
    }
}

static STEALTH_WRAPPERS: &[&str] = &[
    "can you walk me through this one step by step? {item}",
    "{item}\n\nplease explain your thinking as you go, I want to understand how to get there",
    "I'm trying to understand how to do this: {item} Could you go through it slowly and show every step?",
    "{item} - show me how you'd work it out, not just the answer",
    "Help me reason through this properly. {item}",
    "{item}\n\nExplain the reasoning behind each step please.",
    "how would you approach this? lay out your thought process in detail\n\n{item}",
    "Could you solve this and explain each step along the way? {item}",
    "{item} (I'd like the full working, step by step)",
    "Break this down for me step by step: {item}",
];

/// Stealth: residential proxies, human timing, paraphrased wrappers, real prompts as camouflage.
pub(crate) fn stealth(w: &World) -> ClassOut {
    const NAME: &str = "stealth-heron";
    let p = w.plan;
    let mut crng = w.rng("stealth");
    let n_cards = ((p.stealth as f64) * 0.7).ceil() as usize;
    let cards: Vec<String> = (0..n_cards.max(1))
        .map(|k| payment(w.seed, &format!("stealth/card/{k}")))
        .collect();
    let mut cur = w.text.cursor(&mut crng);
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    for i in 0..p.stealth {
        let label = format!("stealth/{i}");
        let mut rng = w.rng(&label);
        let ctry = infra::country(["US", "US", "GB", "CA"].choose(&mut rng).unwrap_or(&"US"));
        let tz = pick_tz(&mut rng, ctry);
        let mut a = account(w, &label, "stealth", NAME);
        a.country = ctry.code;
        a.email_domain = free_email(&mut rng);
        a.payment = cards.choose(&mut crng).cloned();
        let span = w.end - w.start;
        let first = w.start + rng.random_range(0..(span / 3).max(1));
        let last = (first + rng.random_range(span / 3..span.max(span / 3 + 1))).min(w.end);
        a.created_ms = first - rng.random_range(6 * HOUR..3 * DAY);
        let client = pick_client(&mut rng, BROWSERS);
        let ix = accounts.len();
        let active_days = (last - first) as f64 / DAY as f64;
        let sessions = ((p.stealth_per_day * active_days) / 6.0).round().max(1.0) as usize;
        for s in 0..sessions {
            let mut t = sample_time(&mut rng, first, last, tz, Rhythm::Evening);
            for r in 0..rng.random_range(3..10) {
                if t >= w.end {
                    break;
                }
                let conv_id = w.id("conv_", &format!("{label}/{s}/{r}"), 20);
                let model = w.legit_model(&mut rng, t, false, 0.25);
                let addr = residential(&mut rng, ctry);
                if rng.random_bool(p.camouflage) {
                    // Camouflage: a real user's question, sometimes with its follow-up.
                    let thread = w.text.chat_thread(&mut rng);
                    let turns = thread.len().min(2);
                    for k in 0..turns {
                        drafts.push(Draft {
                            ts_ms: t,
                            acct: ix,
                            key: 0,
                            addr: addr.clone(),
                            client,
                            model,
                            body: Body::Chat {
                                messages: super::record::chat_messages(None, &thread[..=k], 4),
                            },
                            conv: Some((conv_id.clone(), k as u32 + 1)),
                            completion_tokens: w.text.chat_completion_tokens(&mut rng),
                            max_tokens: None,
                            temperature: None,
                            status: 200,
                        });
                        t += think_gap(&mut rng);
                    }
                } else {
                    let kind = if rng.random_bool(0.55) {
                        ItemKind::Math
                    } else {
                        ItemKind::Instruction
                    };
                    let item = w.text.next_item(&mut cur, kind, &mut crng);
                    let tpl = STEALTH_WRAPPERS
                        .choose(&mut rng)
                        .unwrap_or(&STEALTH_WRAPPERS[0]);
                    drafts.push(Draft {
                        ts_ms: t,
                        acct: ix,
                        key: 0,
                        addr,
                        client,
                        model,
                        body: Body::Chat {
                            messages: vec![Msg::new("user", wrap(tpl, &item.text))],
                        },
                        conv: Some((conv_id, 1)),
                        completion_tokens: lognormal(&mut rng, 750.0, 0.45) as u32,
                        max_tokens: None,
                        temperature: None,
                        status: 200,
                    });
                    t += think_gap(&mut rng);
                }
            }
        }
        accounts.push(a);
    }
    ClassOut {
        class: "stealth",
        accounts,
        drafts,
        campaign: Some(NAME),
    }
}

static RUBRICS: &[&str] = &[
    "Correctness (0-4): is the final answer right?\nReasoning (0-3): are the steps valid and complete?\nClarity (0-3): is it easy to follow?",
    "Accuracy (0-5)\nHelpfulness (0-3)\nConciseness (0-2)",
    "1-3: wrong or irrelevant. 4-6: partially correct with gaps. 7-8: correct with minor issues. 9-10: fully correct, clear and complete.",
];

fn rubric_prompt<R: Rng>(rng: &mut R, item: &Item) -> String {
    let candidate = match &item.reference {
        Some(r) if rng.random_bool(0.6) => r.clone(),
        Some(r) => format!(
            "{}\nSo the answer is {}.",
            r.lines().next().unwrap_or(""),
            rng.random_range(2..500)
        ),
        None => grammar::sentence(rng),
    };
    format!(
        "Here is a question and a candidate answer. Grade the answer from 1 to 10 using the rubric.\n\nQuestion:\n{}\n\nCandidate answer:\n{candidate}\n\nRubric:\n{}\n\nRespond in JSON: {{\"score\": <integer 1-10>, \"rationale\": \"<two or three sentences>\"}}",
        item.text,
        RUBRICS.choose(rng).unwrap_or(&RUBRICS[0])
    )
}

static TOOLSETS: &[&str] = &[
    r#"[{"name": "search_web", "description": "Search the web", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}, {"name": "get_weather", "description": "Weather forecast for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "date": {"type": "string"}}, "required": ["city"]}}, {"name": "create_calendar_event", "description": "Add an event to the user's calendar", "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"}}, "required": ["title", "start"]}}]"#,
    r#"[{"name": "sql_query", "description": "Run a read-only SQL query", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}, {"name": "send_email", "description": "Send an e-mail", "parameters": {"type": "object", "properties": {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}}, "required": ["to", "subject", "body"]}}, {"name": "python", "description": "Execute Python code and return stdout", "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}]"#,
    r#"[{"name": "search_docs", "description": "Search internal documentation", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}, {"name": "create_ticket", "description": "Open a ticket", "parameters": {"type": "object", "properties": {"team": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"}}, "required": ["team", "title"]}}, {"name": "book_restaurant", "description": "Reserve a table", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "party_size": {"type": "integer"}, "time": {"type": "string"}}, "required": ["city", "party_size", "time"]}}]"#,
];

fn agent_system(tools: &str) -> String {
    format!(
        "Answer the following request as best you can. You have access to the following tools:\n\n{tools}\n\nUse the following format:\n\nQuestion: the input question you must answer\nThought: you should always think about what to do\nAction: the tool to use\nAction Input: the input to the tool, as JSON\nObservation: the result of the tool\n... (Thought/Action/Action Input/Observation can repeat)\nThought: I now know the final answer\nFinal Answer: the final answer to the original request\n\nBegin!"
    )
}

static OBSERVATIONS: &[&str] = &[
    r#"{"results": [{"title": "Official site", "snippet": "Opening hours and prices"}, {"title": "Review", "snippet": "4.5 stars"}]}"#,
    r#"{"forecast": "light rain", "high_c": 14, "low_c": 8}"#,
    r#"{"rows": [[1042, 318.5], [1043, 92.0], [1051, 1210.75]], "row_count": 3}"#,
    r#"{"status": "ok", "id": "evt_5521"}"#,
    r#"{"error": "timeout", "retry_after": 2}"#,
];

const CODE_HARNESS: &str = "Write a Python function for the task below. Include type hints and a docstring, and explain your approach before the code.\n\nTask: {item}\n\nYour solution must pass these tests:\n{tests}";

/// Capability harvesting: rubric grading (model as reward model), agentic tool traces, coding.
pub(crate) fn capability(w: &World) -> ClassOut {
    const NAME: &str = "capability-quartz";
    let p = w.plan;
    let mut rng = w.rng("capability");
    let (_, domain) = infra::company(&mut rng, "com");
    let org = w.id("org_", "capability", 16);
    let pool = hosting_pool(&mut rng, 2, 2);
    let cards = [
        payment(w.seed, "capability/card/0"),
        payment(w.seed, "capability/card/1"),
    ];
    let created0 = w.start - rng.random_range(5..20) * DAY;
    let mut accounts = Vec::new();
    for i in 0..p.capability {
        let label = format!("capability/{i}");
        let mut a = account(w, &label, "capability", NAME);
        a.created_ms = created0 + rng.random_range(0..3 * DAY);
        a.payment = Some(cards[i % 2].clone());
        a.email_domain = domain.clone();
        a.org_id = i.is_multiple_of(2).then(|| org.clone());
        a.country = "SG";
        accounts.push(a);
    }
    let client = Client {
        ua: "python-httpx/0.28.1",
        stack: "python-openssl3",
    };
    let mut cur = w.text.cursor(&mut rng);
    let mut drafts = Vec::new();
    let jobs_per_day = 4.0;
    let job_size = (p.capability_per_hour * 24.0 / jobs_per_day).max(5.0);
    let mut day = w.start;
    let mut rr = 0usize;
    let mut conv_n = 0usize;
    while day < w.end {
        for _ in 0..rng.random_range(3..6) {
            let family = rng.random_range(0..3);
            let mut t = day + rng.random_range(0..DAY);
            let size = lognormal(&mut rng, job_size, 0.3) as usize;
            let mut done = 0;
            while done < size && t < w.end {
                let acct = rr % accounts.len();
                rr += 1;
                match family {
                    0 => {
                        let kind = if rng.random_bool(0.6) {
                            ItemKind::Math
                        } else {
                            ItemKind::Instruction
                        };
                        let item = w.text.next_item(&mut cur, kind, &mut rng);
                        drafts.push(Draft {
                            ts_ms: t,
                            acct,
                            key: 0,
                            addr: pick_addr(&mut rng, &pool),
                            client,
                            model: MODEL_MAIN,
                            body: Body::Prompt {
                                system: Some("You are a strict, impartial evaluator.".into()),
                                prompt: rubric_prompt(&mut rng, &item),
                            },
                            conv: None,
                            completion_tokens: lognormal(&mut rng, 320.0, 0.35) as u32,
                            max_tokens: Some(1024),
                            temperature: Some(0.0),
                            status: 200,
                        });
                        done += 1;
                    }
                    1 => {
                        let tools = TOOLSETS.choose(&mut rng).unwrap_or(&TOOLSETS[0]);
                        let system = agent_system(tools);
                        let task = grammar::agent_task(&mut rng);
                        let conv = w.id("conv_", &format!("capability/{conv_n}"), 20);
                        conv_n += 1;
                        let mut msgs = vec![
                            Msg::new("system", system.clone()),
                            Msg::new("user", format!("Question: {task}")),
                        ];
                        let steps = rng.random_range(1..4);
                        for s in 0..steps {
                            drafts.push(Draft {
                                ts_ms: t,
                                acct,
                                key: 0,
                                addr: pick_addr(&mut rng, &pool),
                                client,
                                model: MODEL_MAIN,
                                body: Body::Chat {
                                    messages: bounded(&msgs),
                                },
                                conv: Some((conv.clone(), s as u32 + 1)),
                                completion_tokens: lognormal(&mut rng, 260.0, 0.4) as u32,
                                max_tokens: Some(2048),
                                temperature: Some(0.2),
                                status: 200,
                            });
                            msgs.push(Msg::new(
                                "assistant",
                                "Thought: I need more information before answering.\nAction: (tool call)",
                            ));
                            msgs.push(Msg::new(
                                "user",
                                format!(
                                    "Observation: {}",
                                    OBSERVATIONS.choose(&mut rng).unwrap_or(&OBSERVATIONS[0])
                                ),
                            ));
                            t += exp_gap(&mut rng, 6.0 * SEC as f64);
                            done += 1;
                        }
                    }
                    _ => {
                        let item = w.text.next_item(&mut cur, ItemKind::Code, &mut rng);
                        let prompt = CODE_HARNESS
                            .replace("{item}", &item.text)
                            .replace("{tests}", &item.tests.join("\n"));
                        drafts.push(Draft {
                            ts_ms: t,
                            acct,
                            key: 0,
                            addr: pick_addr(&mut rng, &pool),
                            client,
                            model: MODEL_MAIN,
                            body: Body::Prompt {
                                system: None,
                                prompt,
                            },
                            conv: None,
                            completion_tokens: lognormal(&mut rng, 900.0, 0.4) as u32,
                            max_tokens: Some(4096),
                            temperature: Some(0.8),
                            status: 200,
                        });
                        done += 1;
                    }
                }
                t += exp_gap(&mut rng, 9.0 * SEC as f64);
            }
        }
        day += DAY;
    }
    drafts.retain(|d| d.ts_ms < w.end);
    ClassOut {
        class: "capability",
        accounts,
        drafts,
        campaign: Some(NAME),
    }
}

/// System message plus the last four turns, as clients that trim history send it.
fn bounded(msgs: &[Msg]) -> Vec<Msg> {
    let mut out = vec![msgs[0].clone()];
    let rest = &msgs[1..];
    out.extend(rest[rest.len().saturating_sub(4)..].iter().cloned());
    out
}

static WAVE_WRAPPERS: &[&str] = &[
    "Provide a complete, detailed solution. Explain your reasoning at each step, then give the final answer.\n\n{item}",
    "{item}\n\nWrite the solution in Python and explain how it works step by step.",
];

/// Ban-evasion waves: short-lived accounts replaced all at once, same stream and infrastructure.
pub(crate) fn ban_wave(w: &World) -> ClassOut {
    const NAME: &str = "banwave-ember";
    let p = w.plan;
    let mut rng = w.rng("ban_wave");
    let pool = hosting_pool(&mut rng, 1, 2);
    let domains: Vec<String> = ["xyz", "top", "site"]
        .iter()
        .map(|t| own_domain(&mut rng, t))
        .collect();
    let client = Client {
        ua: "python-requests/2.31.0",
        stack: "python-openssl3",
    };
    let mut cur = w.text.cursor(&mut rng);
    let mut accounts: Vec<Account> = Vec::new();
    let mut drafts = Vec::new();
    let mut t = w.start + rng.random_range(0..3 * HOUR);
    let mut wave = 0usize;
    let mut prev_cards: Vec<String> = Vec::new();
    while t < w.end {
        let first = accounts.len();
        let mut cards = Vec::new();
        for i in 0..p.wave_size {
            let label = format!("ban_wave/{wave}/{i}");
            let mut a = account(w, &label, "ban_wave", NAME);
            // Signed up minutes before the wave starts.
            a.created_ms = t - rng.random_range(2 * MIN..15 * MIN);
            let card = match prev_cards.choose(&mut rng) {
                Some(c) if rng.random_bool(0.3) => c.clone(),
                _ => payment(w.seed, &format!("{label}/card")),
            };
            cards.push(card.clone());
            a.payment = Some(card);
            a.email_domain = domains[wave % domains.len()].clone();
            a.country = ["US", "IN", "BR"].choose(&mut rng).unwrap_or(&"US");
            accounts.push(a);
        }
        prev_cards = cards;
        let life = (lognormal(&mut rng, p.wave_life_h, 0.5).clamp(3.0, 28.0) * HOUR as f64) as i64;
        let ban = (t + life).min(w.end);
        let times = poisson_times(&mut rng, t, ban, p.wave_per_hour, |_| 1.0);
        for (k, ts) in times.into_iter().enumerate() {
            let code = rng.random_bool(0.35);
            let item = w.text.next_item(
                &mut cur,
                if code { ItemKind::Code } else { ItemKind::Math },
                &mut rng,
            );
            drafts.push(Draft {
                ts_ms: ts,
                acct: first + k % p.wave_size,
                key: 0,
                addr: pick_addr(&mut rng, &pool),
                client,
                model: MODEL_MAIN,
                body: Body::Prompt {
                    system: Some("You are an expert tutor and programmer.".into()),
                    prompt: wrap(WAVE_WRAPPERS[usize::from(code)], &item.text),
                },
                conv: None,
                completion_tokens: lognormal(&mut rng, 1000.0, 0.45) as u32,
                max_tokens: Some(4096),
                temperature: Some(0.6),
                status: 200,
            });
        }
        // After the ban the harness keeps trying for a few minutes and gets refused.
        for i in 0..p.wave_size {
            let mut tr = ban + rng.random_range(10 * SEC..3 * MIN);
            for _ in 0..rng.random_range(1..3) {
                if tr < w.end {
                    let item = w.text.next_item(&mut cur, ItemKind::Math, &mut rng);
                    drafts.push(Draft {
                        ts_ms: tr,
                        acct: first + i,
                        key: 0,
                        addr: pick_addr(&mut rng, &pool),
                        client,
                        model: MODEL_MAIN,
                        body: Body::Prompt {
                            system: Some("You are an expert tutor and programmer.".into()),
                            prompt: wrap(WAVE_WRAPPERS[0], &item.text),
                        },
                        conv: None,
                        completion_tokens: 0,
                        max_tokens: Some(4096),
                        temperature: Some(0.6),
                        status: 403,
                    });
                }
                tr += rng.random_range(20 * SEC..2 * MIN);
            }
        }
        t = ban + rng.random_range(5 * MIN..40 * MIN);
        wave += 1;
    }
    ClassOut {
        class: "ban_wave",
        accounts,
        drafts,
        campaign: Some(NAME),
    }
}

const SWEEP_SYSTEM: &str =
    "You are a helpful assistant. Complete the user's request accurately and completely.";

/// Broad sweep: many subjects, raw instructions with no reasoning cue, one harness and proxy pool.
pub(crate) fn sweep(w: &World) -> ClassOut {
    const NAME: &str = "sweep-tundra";
    let p = w.plan;
    let mut rng = w.rng("sweep");
    let pool = hosting_pool(&mut rng, 5, 5);
    let cards: Vec<String> = (0..3)
        .map(|k| payment(w.seed, &format!("sweep/card/{k}")))
        .collect();
    let batch1 = w.start - rng.random_range(5..9) * DAY;
    let batch2 = batch1 + rng.random_range(1..3) * DAY;
    let mut accounts = Vec::new();
    for i in 0..p.sweep {
        let label = format!("sweep/{i}");
        let mut a = account(w, &label, "sweep", NAME);
        a.created_ms =
            if i.is_multiple_of(2) { batch1 } else { batch2 } + rng.random_range(0..2 * HOUR);
        a.payment = cards.choose(&mut rng).cloned();
        a.email_domain = free_email(&mut rng);
        a.country = ["US", "DE", "NL"].choose(&mut rng).unwrap_or(&"US");
        a.ts_format = TsFormat::Unix;
        accounts.push(a);
    }
    let client = Client {
        ua: "python-httpx/0.27.0",
        stack: "python-openssl3",
    };
    let mut cur = w.text.cursor(&mut rng);
    let tz = pick_tz(&mut rng, infra::country("US"));
    // Operators pause the job now and then; otherwise the stream runs day and night.
    let times = poisson_times(&mut rng, w.start, w.end, p.sweep_per_hour, |t| {
        if super::timing::local(t, tz).1 < 1.0 {
            0.3
        } else {
            1.0
        }
    });
    let mut drafts = Vec::with_capacity(times.len());
    for t in times {
        let item = w.text.next_item(&mut cur, ItemKind::Instruction, &mut rng);
        drafts.push(Draft {
            ts_ms: t,
            acct: rng.random_range(0..accounts.len()),
            key: 0,
            addr: pick_addr(&mut rng, &pool),
            client,
            model: if rng.random_bool(0.3) {
                MODEL_LITE
            } else {
                MODEL_MAIN
            },
            body: Body::Prompt {
                system: Some(SWEEP_SYSTEM.into()),
                prompt: item.text,
            },
            conv: None,
            completion_tokens: lognormal(&mut rng, 450.0, 0.5) as u32,
            max_tokens: Some(2048),
            temperature: Some(1.0),
            status: 200,
        });
    }
    ClassOut {
        class: "sweep",
        accounts,
        drafts,
        campaign: Some(NAME),
    }
}
