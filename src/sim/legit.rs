//! Legitimate traffic, including the look-alikes that share one or two traits with campaigns:
//! scripted batches, corporate gateways, template bots, benchmark runs, classrooms, resellers.

use rand::Rng;
use rand::seq::IndexedRandom;

use super::grammar;
use super::infra::{
    self, Addr, BROWSERS, Client, GATEWAY_GO, GATEWAY_LITELLM, SDKS, Subnet, consumer_email,
    hosting_pool, isp_subnet, payment, pick_client, pick_country, pick_tz, residential,
};
use super::plan::{ClassOut, MODEL_LITE, MODEL_MAIN, MODEL_NEW, World};
use super::record::{Account, Body, Draft, TsFormat, chat_messages};
use super::text::ItemKind;
use super::timing::{
    DAY, HOUR, MIN, Rhythm, SEC, exp_gap, lognormal, poisson_times, sample_time, think_gap, weight,
};

fn account(w: &World, label: &str, class: &'static str) -> Account {
    Account {
        id: w.id("acct_", label, 16),
        class,
        campaign: None,
        created_ms: 0,
        keys: vec![w.id("key_", &format!("{label}/key0"), 20)],
        org_id: None,
        payment: None,
        email_domain: String::new(),
        country: "US",
        ts_format: TsFormat::Rfc3339,
    }
}

fn add_keys(w: &World, a: &mut Account, label: &str, n: usize) {
    for k in 1..n {
        a.keys.push(w.id("key_", &format!("{label}/key{k}"), 20));
    }
}

/// An account that existed long before the window: median half a year.
fn old_created<R: Rng>(rng: &mut R, w: &World) -> i64 {
    w.start
        - (lognormal(rng, 180.0, 1.0).min(1500.0) * DAY as f64) as i64
        - rng.random_range(0..DAY)
}

/// How many conversations a person has: heavy-tailed, most have few.
fn conversation_count<R: Rng>(rng: &mut R, mean: f64) -> usize {
    let sigma = 1.25;
    let median = mean / (sigma * sigma / 2.0f64).exp();
    (lognormal(rng, median, sigma).round() as usize).clamp(1, 300)
}

/// Requests of a chat conversation: turns spaced by reading/typing time.
struct Chat<'a> {
    acct: usize,
    conv_id: String,
    turns: Vec<String>,
    system: Option<&'a str>,
    as_messages: bool,
    client: Client,
    model: &'static str,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
}

fn push_chat<R: Rng>(
    rng: &mut R,
    w: &World,
    c: Chat,
    t0: i64,
    mut addr: impl FnMut(&mut R) -> Addr,
    drafts: &mut Vec<super::record::Draft>,
) {
    let mut t = t0;
    let n = if c.as_messages { c.turns.len() } else { 1 };
    for k in 0..n {
        if t >= w.end {
            break;
        }
        let body = if c.as_messages {
            Body::Chat {
                messages: chat_messages(c.system, &c.turns[..=k], 4),
            }
        } else {
            Body::Prompt {
                system: c.system.map(String::from),
                prompt: c.turns[0].clone(),
            }
        };
        drafts.push(Draft {
            ts_ms: t,
            acct: c.acct,
            key: 0,
            addr: addr(rng),
            client: c.client,
            model: c.model,
            body,
            conv: c.as_messages.then(|| (c.conv_id.clone(), k as u32 + 1)),
            completion_tokens: w.text.chat_completion_tokens(rng),
            max_tokens: c.max_tokens,
            temperature: c.temperature,
            status: 200,
        });
        t += think_gap(rng);
    }
}

static SDK_SYSTEMS: &[&str] = &[
    "You are a helpful assistant.",
    "You are a helpful assistant. Answer concisely.",
    "You are a friendly assistant that helps with everyday questions.",
];

pub(crate) fn ordinary(w: &World) -> ClassOut {
    let p = w.plan;
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    // Carrier-grade NAT and shared flats: a few addresses that unrelated users share.
    let mut nat_rng = w.rng("ordinary/nat");
    let nat: Vec<Addr> = (0..12)
        .map(|_| {
            let c = pick_country(&mut nat_rng);
            residential(&mut nat_rng, c)
        })
        .collect();
    let days = (w.end - w.start) as f64 / DAY as f64;
    for i in 0..p.ordinary {
        let label = format!("ordinary/{i}");
        let mut rng = w.rng(&label);
        let ctry = pick_country(&mut rng);
        let tz = pick_tz(&mut rng, ctry);
        let mut a = account(w, &label, "ordinary");
        a.country = ctry.code;
        a.email_domain = consumer_email(&mut rng, ctry);
        a.payment = rng.random_bool(0.85).then(|| payment(w.seed, &label));
        if rng.random_bool(0.15) {
            add_keys(w, &mut a, &label, 2);
        }
        let home = if rng.random_bool(0.03) {
            nat.choose(&mut rng)
                .cloned()
                .unwrap_or_else(|| residential(&mut rng, ctry))
        } else {
            residential(&mut rng, ctry)
        };
        let mobile = residential(&mut rng, ctry);
        let browser = rng.random_bool(0.7);
        let client = if browser {
            pick_client(&mut rng, BROWSERS)
        } else {
            pick_client(&mut rng, SDKS)
        };
        let as_messages = browser || rng.random_bool(0.5);
        let system = (!browser && rng.random_bool(0.6))
            .then(|| *SDK_SYSTEMS.choose(&mut rng).unwrap_or(&""));
        let (max_tokens, temperature) = if browser {
            (None, None)
        } else {
            (
                *[None, Some(512), Some(1024), Some(2048), Some(4096)]
                    .choose(&mut rng)
                    .unwrap_or(&None),
                *[None, Some(0.7), Some(1.0), Some(0.5), Some(0.2)]
                    .choose(&mut rng)
                    .unwrap_or(&None),
            )
        };
        let lite = rng.random_bool(0.3);
        let n_conv = conversation_count(&mut rng, p.ordinary_conv_per_day * days);
        let ix = accounts.len();
        let mut first = i64::MAX;
        for c in 0..n_conv {
            let t0 = sample_time(&mut rng, w.start, w.end, tz, Rhythm::Evening);
            first = first.min(t0);
            let chat = Chat {
                acct: ix,
                conv_id: w.id("conv_", &format!("{label}/{c}"), 20),
                turns: w.text.chat_thread(&mut rng),
                system,
                as_messages,
                client,
                model: w.legit_model(&mut rng, t0, lite, 0.08),
                max_tokens,
                temperature,
            };
            let (h, m) = (home.clone(), mobile.clone());
            push_chat(
                &mut rng,
                w,
                chat,
                t0,
                |r| {
                    if r.random_bool(0.8) {
                        h.clone()
                    } else {
                        m.clone()
                    }
                },
                &mut drafts,
            );
        }
        a.created_ms = if rng.random_bool(0.08) && first < i64::MAX {
            first - rng.random_range(2 * MIN..3 * HOUR)
        } else {
            old_created(&mut rng, w)
        };
        accounts.push(a);
    }
    ClassOut {
        class: "ordinary",
        accounts,
        drafts,
        campaign: None,
    }
}

static DEV_FOLLOWUPS: &[&str] = &[
    "that throws an error on the second line",
    "can you add type hints?",
    "How would I test this?",
    "what's the time complexity?",
    "Can you make it async?",
    "thanks, and without external libraries?",
];

/// Templates developers run over their own data while building a feature.
static DEV_BATCH: &[&str] = &[
    "Classify the sentiment of this review as positive, negative or neutral. Reply with one word.\n\nReview: {x}",
    "Extract the product name and price from the text below as JSON with keys name and price.\n\n{x}",
    "Write a one-line commit message for this change:\n\n{x}",
    "Tag this support message with one of: billing, bug, feature_request, other.\n\n{x}",
];

pub(crate) fn developer(w: &World) -> ClassOut {
    let p = w.plan;
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    let days = (w.end - w.start) as f64 / DAY as f64;
    for i in 0..p.developers {
        let label = format!("developer/{i}");
        let mut rng = w.rng(&label);
        let ctry = pick_country(&mut rng);
        let tz = pick_tz(&mut rng, ctry);
        let mut a = account(w, &label, "developer");
        a.country = ctry.code;
        a.email_domain = consumer_email(&mut rng, ctry);
        a.payment = Some(payment(w.seed, &label));
        a.created_ms = old_created(&mut rng, w);
        let n_keys = rng.random_range(1..4);
        add_keys(w, &mut a, &label, n_keys);
        let home = if rng.random_bool(0.7) {
            residential(&mut rng, ctry)
        } else {
            let provider = rng.random_range(0..4);
            hosting_pool(&mut rng, provider, 1)[0].host(&mut rng)
        };
        let client = pick_client(&mut rng, SDKS);
        let lite = rng.random_bool(0.4);
        let as_messages = rng.random_bool(0.6);
        let ix = accounts.len();
        let n_conv = conversation_count(&mut rng, 0.9 * days);
        for c in 0..n_conv {
            let t0 = sample_time(&mut rng, w.start, w.end, tz, Rhythm::Daytime);
            let mut turns = vec![w.text.coding_question(&mut rng)];
            while turns.len() < 4 && rng.random_bool(0.4) {
                turns.push(
                    DEV_FOLLOWUPS
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or("why?")
                        .to_string(),
                );
            }
            let chat = Chat {
                acct: ix,
                conv_id: w.id("conv_", &format!("{label}/{c}"), 20),
                turns,
                system: as_messages.then_some("You are an expert software engineer."),
                as_messages,
                client,
                model: w.legit_model(&mut rng, t0, lite, 0.2),
                max_tokens: Some(*[1024u32, 2048, 4096].choose(&mut rng).unwrap_or(&2048)),
                temperature: Some(*[0.0, 0.2, 0.7].choose(&mut rng).unwrap_or(&0.2)),
            };
            let h = home.clone();
            push_chat(&mut rng, w, chat, t0, |_| h.clone(), &mut drafts);
        }
        if rng.random_bool(p.dev_batch_share) {
            for _ in 0..rng.random_range(1..4) {
                let tpl = *DEV_BATCH.choose(&mut rng).unwrap_or(&DEV_BATCH[0]);
                let mut t = sample_time(&mut rng, w.start, w.end, tz, Rhythm::Daytime);
                // Some scripts fire requests concurrently and run into the rate limit.
                let gap_median = if rng.random_bool(0.35) { 0.7 } else { 2.2 };
                for _ in 0..rng.random_range(20..100) {
                    if t >= w.end {
                        break;
                    }
                    let x = match rng.random_range(0..3) {
                        0 => grammar::sentence(&mut rng),
                        1 => grammar::product_listing(&mut rng),
                        _ => grammar::inbox_email(&mut rng),
                    };
                    drafts.push(Draft {
                        ts_ms: t,
                        acct: ix,
                        key: 1,
                        addr: home.clone(),
                        client,
                        model: if lite { MODEL_LITE } else { MODEL_MAIN },
                        body: Body::Prompt {
                            system: None,
                            prompt: tpl.replace("{x}", &x),
                        },
                        conv: None,
                        completion_tokens: rng.random_range(2..40),
                        max_tokens: Some(256),
                        temperature: Some(0.0),
                        status: 200,
                    });
                    t += (lognormal(&mut rng, gap_median, 0.7) * SEC as f64) as i64;
                }
            }
        }
        accounts.push(a);
    }
    ClassOut {
        class: "developer",
        accounts,
        drafts,
        campaign: None,
    }
}

static OFFICE_COUNTRIES: &[&str] = &["US", "DE", "GB", "FR", "JP", "IN", "CA"];

pub(crate) fn company(w: &World) -> ClassOut {
    let p = w.plan;
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    let days = (w.end - w.start) as f64 / DAY as f64;
    for (o, &size) in p.companies.iter().enumerate() {
        let olabel = format!("company/{o}");
        let mut orng = w.rng(&olabel);
        let ctry = infra::country(OFFICE_COUNTRIES.choose(&mut orng).unwrap_or(&"US"));
        let tz = pick_tz(&mut orng, ctry);
        let (name, domain) = infra::company(&mut orng, ctry.tld);
        let org_id = w.id("org_", &olabel, 16);
        let card = payment(w.seed, &olabel);
        let isp = &ctry.isps[0];
        let egress = isp_subnet(&mut orng, isp.asn, isp.v4[0]);
        let single = orng.random_bool(0.7);
        let system = format!(
            "You are the internal assistant of {name}. Answer concisely and do not share confidential information outside the company."
        );
        let onboard = old_created(&mut orng, w);
        for e in 0..size {
            let label = format!("{olabel}/{e}");
            let mut rng = w.rng(&label);
            let mut a = account(w, &label, "company");
            a.country = ctry.code;
            a.email_domain = domain.clone();
            a.payment = Some(card.clone());
            a.org_id = Some(org_id.clone());
            a.ts_format = TsFormat::Unix;
            a.created_ms = onboard + rng.random_range(0..20 * DAY);
            let ix = accounts.len();
            let n_conv = conversation_count(&mut rng, 1.1 * days);
            for c in 0..n_conv {
                let t0 = sample_time(&mut rng, w.start, w.end, tz, Rhythm::Business);
                let first = match rng.random_range(0..10) {
                    0..=3 => w.text.chat_thread(&mut rng).remove(0),
                    4..=6 => w.text.coding_question(&mut rng),
                    _ => grammar::explain_request(&mut rng),
                };
                let mut turns = vec![first];
                while turns.len() < 4 && rng.random_bool(0.4) {
                    turns.push(w.text.followup(&mut rng));
                }
                let chat = Chat {
                    acct: ix,
                    conv_id: w.id("conv_", &format!("{label}/{c}"), 20),
                    turns,
                    system: Some(&system),
                    as_messages: true,
                    client: GATEWAY_LITELLM,
                    model: w.legit_model(&mut rng, t0, false, 0.05),
                    max_tokens: Some(2048),
                    temperature: Some(0.3),
                };
                let eg = egress.clone();
                push_chat(
                    &mut rng,
                    w,
                    chat,
                    t0,
                    |r| if single { eg.fixed(10) } else { eg.host(r) },
                    &mut drafts,
                );
            }
            accounts.push(a);
        }
    }
    ClassOut {
        class: "company",
        accounts,
        drafts,
        campaign: None,
    }
}

struct Bot {
    system: &'static str,
    temperature: f64,
    max_tokens: u32,
    per_day: f64,
    completion_median: f64,
    lite: bool,
}

static BOTS: &[Bot] = &[
    Bot {
        system: "You summarize customer support tickets for agents. Reply with a two-sentence summary and a priority (low, medium or high).",
        temperature: 0.2,
        max_tokens: 300,
        per_day: 220.0,
        completion_median: 70.0,
        lite: true,
    },
    Bot {
        system: "You are a professional translator. Translate the user's text into French. Output only the translation.",
        temperature: 0.3,
        max_tokens: 400,
        per_day: 180.0,
        completion_median: 40.0,
        lite: true,
    },
    Bot {
        system: "You are a friendly maths tutor for students aged 11 to 14. Explain every step clearly and check the answer at the end.",
        temperature: 0.4,
        max_tokens: 1200,
        per_day: 200.0,
        completion_median: 420.0,
        lite: false,
    },
    Bot {
        system: "You write product copy for an online shop. Be vivid but factual.",
        temperature: 0.9,
        max_tokens: 350,
        per_day: 150.0,
        completion_median: 140.0,
        lite: false,
    },
    Bot {
        system: "You route incoming e-mails. Reply with exactly one label.",
        temperature: 0.0,
        max_tokens: 5,
        per_day: 260.0,
        completion_median: 2.0,
        lite: true,
    },
    Bot {
        system: "You translate business questions into PostgreSQL. Reply with SQL only.",
        temperature: 0.0,
        max_tokens: 500,
        per_day: 120.0,
        completion_median: 90.0,
        lite: false,
    },
];

fn bot_prompt<R: Rng>(
    w: &World,
    rng: &mut R,
    kind: usize,
    cur: &mut super::text::Cursor,
) -> String {
    match kind {
        0 => format!(
            "Summarize this support ticket:\n\n{}",
            grammar::support_ticket(rng)
        ),
        1 => format!(
            "Translate to French:\n\n{} {}",
            grammar::sentence(rng),
            grammar::sentence(rng)
        ),
        2 => format!(
            "Explain step by step how to solve this problem so a student can follow along.\n\nProblem: {}",
            w.text.next_item(cur, ItemKind::Math, rng).text
        ),
        3 => format!(
            "Write a product description for:\n\n{}",
            grammar::product_listing(rng)
        ),
        4 => format!(
            "Labels: billing, technical, sales, spam, other.\n\nE-mail:\n{}",
            grammar::inbox_email(rng)
        ),
        _ => format!(
            "Tables: orders(id, customer_id, total, created_at), customers(id, name, country, signup_date).\n\nQuestion: {}",
            grammar::sql_question(rng)
        ),
    }
}

pub(crate) fn product_bot(w: &World) -> ClassOut {
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    for (b, spec) in BOTS.iter().enumerate().take(w.plan.bots) {
        let label = format!("product_bot/{b}");
        let mut rng = w.rng(&label);
        let ctry = infra::country(OFFICE_COUNTRIES.choose(&mut rng).unwrap_or(&"US"));
        let mut a = account(w, &label, "product_bot");
        a.country = ctry.code;
        a.email_domain = infra::company(&mut rng, ctry.tld).1;
        a.payment = Some(payment(w.seed, &label));
        a.created_ms = old_created(&mut rng, w);
        let two_keys = rng.random_bool(0.5);
        if two_keys {
            add_keys(w, &mut a, &label, 2);
        }
        let provider = rng.random_range(0..3);
        let servers = hosting_pool(&mut rng, provider, 1).remove(0);
        let hosts: Vec<Addr> = (0..rng.random_range(2..4))
            .map(|k| servers.fixed(11 + k as u8))
            .collect();
        let client = pick_client(&mut rng, &SDKS[..3]);
        let mut cur = w.text.cursor(&mut rng);
        // Flat rhythm averages about 0.8 of its peak.
        let times = poisson_times(&mut rng, w.start, w.end, spec.per_day / 24.0 / 0.8, |t| {
            weight(Rhythm::Flat, t, 0)
        });
        for t in times {
            let prompt = bot_prompt(w, &mut rng, b, &mut cur);
            drafts.push(Draft {
                ts_ms: t,
                acct: accounts.len(),
                key: if two_keys { rng.random_range(0..2) } else { 0 },
                addr: hosts
                    .choose(&mut rng)
                    .cloned()
                    .unwrap_or_else(|| servers.fixed(11)),
                client,
                model: if spec.lite { MODEL_LITE } else { MODEL_MAIN },
                body: Body::Prompt {
                    system: Some(spec.system.to_string()),
                    prompt,
                },
                conv: None,
                completion_tokens: lognormal(&mut rng, spec.completion_median, 0.35) as u32 + 1,
                max_tokens: Some(spec.max_tokens),
                temperature: Some(spec.temperature),
                status: 200,
            });
        }
        accounts.push(a);
    }
    ClassOut {
        class: "product_bot",
        accounts,
        drafts,
        campaign: None,
    }
}

pub(crate) fn benchmark_run(w: &World) -> ClassOut {
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    for r in 0..w.plan.benchmarks {
        let label = format!("benchmark_run/{r}");
        let mut rng = w.rng(&label);
        let ctry = infra::country(OFFICE_COUNTRIES.choose(&mut rng).unwrap_or(&"US"));
        let mut a = account(w, &label, "benchmark_run");
        a.country = ctry.code;
        a.email_domain = if rng.random_bool(0.5) {
            format!("cs.{}", infra::own_domain(&mut rng, "edu"))
        } else {
            infra::company(&mut rng, ctry.tld).1
        };
        a.payment = Some(payment(w.seed, &label));
        a.created_ms = old_created(&mut rng, w);
        let vm = hosting_pool(&mut rng, 0, 1)
            .remove(0)
            .fixed(rng.random_range(20..200));
        let client = *[
            Client {
                ua: "python-requests/2.32.3",
                stack: "python-openssl3",
            },
            Client {
                ua: "OpenAI/Python 1.61.1",
                stack: "python-openssl3",
            },
        ]
        .choose(&mut rng)
        .unwrap_or(&SDKS[0].0);
        let math = r.is_multiple_of(2);
        // Half the runs evaluate the new model right after its release, as labs do.
        let (t_start, model) = if r % 4 >= 2 && w.release + DAY < w.end {
            (w.release + rng.random_range(2 * HOUR..20 * HOUR), MODEL_NEW)
        } else {
            (
                sample_time(&mut rng, w.start, w.end - 6 * HOUR, 0, Rhythm::Daytime),
                MODEL_MAIN,
            )
        };
        let n = rng.random_range(250..600);
        let mut cur = w.text.cursor(&mut rng);
        let mut t = t_start;
        let mean_gap = rng.random_range(8..25) as f64 * SEC as f64;
        for _ in 0..n {
            if t >= w.end {
                break;
            }
            let (prompt, completion) = if math {
                let it = w.text.next_item(&mut cur, ItemKind::Math, &mut rng);
                (
                    format!("Question: {}\nAnswer: Let's think step by step.", it.text),
                    lognormal(&mut rng, 160.0, 0.4),
                )
            } else {
                let it = w.text.next_item(&mut cur, ItemKind::Code, &mut rng);
                (
                    format!(
                        "You are an expert Python programmer, and here is your task: {} Your code should pass these tests:\n\n{}",
                        it.text,
                        it.tests.join("\n")
                    ),
                    lognormal(&mut rng, 120.0, 0.4),
                )
            };
            drafts.push(Draft {
                ts_ms: t,
                acct: accounts.len(),
                key: 0,
                addr: vm.clone(),
                client,
                model,
                body: Body::Prompt {
                    system: None,
                    prompt,
                },
                conv: None,
                completion_tokens: completion as u32 + 1,
                max_tokens: Some(512),
                temperature: Some(0.0),
                status: 200,
            });
            t += exp_gap(&mut rng, mean_gap);
        }
        accounts.push(a);
    }
    ClassOut {
        class: "benchmark_run",
        accounts,
        drafts,
        campaign: None,
    }
}

static UNIS: &[(&str, &str, u32, u8, &str)] = &[
    ("DE", "stud.uni-lindenau.de", 680, 141, "DE"),
    ("US", "students.westbrook.edu", 46, 128, "US"),
    ("GB", "student.kingsford.ac.uk", 786, 146, "GB"),
];

pub(crate) fn classroom(w: &World) -> ClassOut {
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    for (c, &size) in w.plan.classrooms.iter().enumerate() {
        let clabel = format!("classroom/{c}");
        let mut crng = w.rng(&clabel);
        let (code, domain, asn, first, _) = UNIS[c % UNIS.len()];
        let ctry = infra::country(code);
        let tz = pick_tz(&mut crng, ctry);
        let campus: Subnet = isp_subnet(&mut crng, asn, first);
        let problems: Vec<String> = (0..4)
            .map(|j| {
                let body = match j % 3 {
                    0 => grammar::math_problem(&mut crng).0,
                    1 => grammar::code_task(&mut crng).0,
                    _ => grammar::instruction(&mut crng).0,
                };
                format!("Assignment {}, Problem {}: {body}", c + 3, j + 1)
            })
            .collect();
        // Lab sessions: weekday mornings or afternoons, 90 minutes.
        let mut sessions = Vec::new();
        let n_days = ((w.end - w.start) / DAY).max(1);
        for d in 0..n_days {
            let day = w.start + d * DAY;
            let (dow, _) = super::timing::local(day + 12 * HOUR, tz);
            if dow < 5 && (d as usize + c).is_multiple_of(2) {
                let hour = if c.is_multiple_of(2) { 10 } else { 14 };
                sessions.push(day + hour * HOUR - i64::from(tz) * MIN);
            }
        }
        let semester = w.start - crng.random_range(30..45) * DAY;
        for s in 0..size {
            let label = format!("{clabel}/{s}");
            let mut rng = w.rng(&label);
            let mut a = account(w, &label, "classroom");
            a.country = ctry.code;
            a.email_domain = domain.to_string();
            a.payment = rng.random_bool(0.3).then(|| payment(w.seed, &label));
            // Everyone signs up in the first week of term.
            a.created_ms = semester + rng.random_range(0..6 * DAY);
            let client = pick_client(&mut rng, BROWSERS);
            let home = residential(&mut rng, ctry);
            let ix = accounts.len();
            let mut conv = 0;
            for &s0 in &sessions {
                if !rng.random_bool(0.75) {
                    continue;
                }
                // Some finish the work at home that evening.
                let at_home = rng.random_bool(0.25);
                let t0 = if at_home {
                    s0 + rng.random_range(7 * HOUR..11 * HOUR)
                } else {
                    s0 + rng.random_range(0..80 * MIN)
                };
                let prob = problems.choose(&mut rng).cloned().unwrap_or_default();
                let opener = match rng.random_range(0..4) {
                    0 => prob,
                    1 => format!("help me with this: {prob}"),
                    2 => format!("{prob}\n\nhow do I start?"),
                    _ => format!("can you explain this question, I don't get it. {prob}"),
                };
                let mut turns = vec![opener];
                while turns.len() < 5 && rng.random_bool(0.55) {
                    turns.push(w.text.followup(&mut rng));
                }
                let chat = Chat {
                    acct: ix,
                    conv_id: w.id("conv_", &format!("{label}/{conv}"), 20),
                    turns,
                    system: None,
                    as_messages: true,
                    client,
                    model: MODEL_MAIN,
                    max_tokens: None,
                    temperature: None,
                };
                conv += 1;
                let (h, cp) = (home.clone(), campus.clone());
                push_chat(
                    &mut rng,
                    w,
                    chat,
                    t0,
                    |r| if at_home { h.clone() } else { cp.host(r) },
                    &mut drafts,
                );
            }
            accounts.push(a);
        }
    }
    ClassOut {
        class: "classroom",
        accounts,
        drafts,
        campaign: None,
    }
}

static RESELLER_MARKETS: &[&str] = &["ID", "BR", "IN", "SG", "KR", "NG", "US"];

/// A legitimate API reseller: its own customers' accounts behind one egress, one card, one client.
pub(crate) fn reseller(w: &World) -> ClassOut {
    let mut accounts = Vec::new();
    let mut drafts = Vec::new();
    let mut rrng = w.rng("reseller");
    let org_id = w.id("org_", "reseller", 16);
    let card = payment(w.seed, "reseller/card");
    let (_, domain) = infra::company(&mut rrng, "io");
    let egress = hosting_pool(&mut rrng, 6, 1).remove(0);
    let days = (w.end - w.start) as f64 / DAY as f64;
    for i in 0..w.plan.reseller {
        let label = format!("reseller/{i}");
        let mut rng = w.rng(&label);
        let ctry = infra::country(RESELLER_MARKETS.choose(&mut rng).unwrap_or(&"ID"));
        let tz = pick_tz(&mut rng, ctry);
        let mut a = account(w, &label, "reseller");
        a.country = ctry.code;
        a.org_id = Some(org_id.clone());
        a.payment = Some(card.clone());
        a.email_domain = if rng.random_bool(0.7) {
            domain.clone()
        } else {
            consumer_email(&mut rng, ctry)
        };
        a.created_ms = w.start - rng.random_range(1..365) * DAY;
        let ix = accounts.len();
        let coder = rng.random_bool(0.3);
        let n_conv = conversation_count(&mut rng, 0.8 * days);
        for c in 0..n_conv {
            let t0 = sample_time(&mut rng, w.start, w.end, tz, Rhythm::Evening);
            let mut turns = w.text.chat_thread(&mut rng);
            if coder && rng.random_bool(0.6) {
                turns = vec![w.text.coding_question(&mut rng)];
            }
            let chat = Chat {
                acct: ix,
                conv_id: w.id("conv_", &format!("{label}/{c}"), 20),
                turns,
                system: None,
                as_messages: true,
                client: GATEWAY_GO,
                model: w.legit_model(&mut rng, t0, false, 0.15),
                max_tokens: Some(4096),
                temperature: Some(0.7),
            };
            let eg = egress.clone();
            push_chat(
                &mut rng,
                w,
                chat,
                t0,
                |r| eg.fixed(if r.random_bool(0.5) { 21 } else { 22 }),
                &mut drafts,
            );
        }
        accounts.push(a);
    }
    ClassOut {
        class: "reseller",
        accounts,
        drafts,
        campaign: None,
    }
}
