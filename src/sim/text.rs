//! Prompt sources: real corpora when a corpus folder is given, the built-in grammar otherwise (and
//! mixed in, so small corpora do not repeat too often).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use serde_json::Value;

use super::SimError;
use super::grammar;

/// A task with an optional reference answer (used as the "candidate" in grading prompts).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub text: String,
    pub reference: Option<String>,
    /// MBPP-style assertion lines, for coding items.
    pub tests: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Math,
    Instruction,
    Code,
}

/// Position of one consumer in each item list: campaigns walk a dataset in their own order.
pub(crate) struct Cursor {
    order: [Vec<u32>; 3],
    pos: [usize; 3],
}

#[derive(Default)]
pub(crate) struct TextSource {
    chat: Vec<Vec<String>>,
    math: Vec<(String, String)>,
    code: Vec<(String, Vec<String>)>,
    instr: Vec<(String, Option<String>)>,
    chat_tokens: Vec<u32>,
}

fn kind_ix(k: ItemKind) -> usize {
    match k {
        ItemKind::Math => 0,
        ItemKind::Instruction => 1,
        ItemKind::Code => 2,
    }
}

impl TextSource {
    pub fn builtin() -> Self {
        Self::default()
    }

    /// Reads whichever corpus files exist in `dir`; a file that exists but cannot be read is an error.
    pub fn load(dir: &Path) -> Result<Self, SimError> {
        let mut t = Self::default();
        for name in [
            "oasst_en_100_text.jsonl",
            "oasst_prompt_lottery_en_250_text.jsonl",
        ] {
            each_json_line(&dir.join(name), |v| {
                if let Some(s) = v.as_str() {
                    t.chat.push(vec![s.to_string()]);
                }
            })?;
        }
        each_json_line(&dir.join("oasst_en_100_message.jsonl"), |v| {
            let mut path = Vec::new();
            oasst_threads(&v, &mut path, &mut t.chat);
        })?;
        let hh = dir.join("hhrlhf_harmless_base_test.jsonl.gz");
        if hh.exists() {
            let f = File::open(&hh).map_err(|e| io_err(&hh, e))?;
            let mut s = String::new();
            GzDecoder::new(f)
                .read_to_string(&mut s)
                .map_err(|e| io_err(&hh, e))?;
            for (i, line) in s.lines().enumerate() {
                let v = parse_line(&hh, i, line)?;
                if let Some(c) = v.get("chosen").and_then(Value::as_str) {
                    let turns = hh_human_turns(c);
                    if !turns.is_empty() {
                        t.chat.push(turns);
                    }
                }
            }
        }
        each_json_line(&dir.join("gsm8k_train.jsonl"), |v| {
            if let (Some(q), Some(a)) = (str_of(&v, "question"), str_of(&v, "answer")) {
                t.math.push((q, a));
            }
        })?;
        each_json_line(&dir.join("mbpp.jsonl"), |v| {
            if let Some(q) = str_of(&v, "text") {
                let tests = v
                    .get("test_list")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                t.code.push((q, tests));
            }
        })?;
        let alpaca = dir.join("alpaca_data_1k.json");
        if alpaca.exists() {
            let s = std::fs::read_to_string(&alpaca).map_err(|e| io_err(&alpaca, e))?;
            let v: Value = serde_json::from_str(&s).map_err(|e| SimError::CorpusParse {
                path: alpaca.clone(),
                line: e.line(),
                message: e.to_string(),
            })?;
            for x in v.as_array().into_iter().flatten() {
                if let Some(i) = str_of(x, "instruction") {
                    t.instr
                        .push((i, str_of(x, "input").filter(|s| !s.trim().is_empty())));
                }
            }
        }
        each_json_line(&dir.join("dolly_subset_alpacafmt.jsonl"), |v| {
            if let Some(p) = str_of(&v, "prompt") {
                t.instr.push(strip_alpaca(&p));
            }
        })?;
        for name in [
            "alpaca_seed_tasks.jsonl",
            "selfinstruct_user_oriented_instructions.jsonl",
        ] {
            each_json_line(&dir.join(name), |v| {
                if let Some(i) = str_of(&v, "instruction") {
                    let input = v
                        .get("instances")
                        .and_then(Value::as_array)
                        .and_then(|a| a.first())
                        .and_then(|x| str_of(x, "input"))
                        .filter(|s| !s.trim().is_empty());
                    t.instr.push((i, input));
                }
            })?;
        }
        let trace = dir.join("azure_llm_trace_2023_conv.csv");
        if trace.exists() {
            let f = File::open(&trace).map_err(|e| io_err(&trace, e))?;
            for line in BufReader::new(f).lines().skip(1) {
                let line = line.map_err(|e| io_err(&trace, e))?;
                if let Some(g) = line
                    .rsplit(',')
                    .next()
                    .and_then(|x| x.trim().parse::<u32>().ok())
                {
                    t.chat_tokens.push(g);
                }
            }
        }
        Ok(t)
    }

    /// The user turns of one ordinary conversation (at least one).
    pub fn chat_thread<R: Rng>(&self, rng: &mut R) -> Vec<String> {
        if !self.chat.is_empty()
            && rng.random_bool(0.55)
            && let Some(t) = self.chat.choose(rng)
        {
            return t.clone();
        }
        let mut v = vec![grammar::chat_question(rng)];
        while v.len() < 6 && rng.random_bool(0.45) {
            v.push(grammar::followup(rng));
        }
        v
    }

    pub fn followup<R: Rng>(&self, rng: &mut R) -> String {
        grammar::followup(rng)
    }

    pub fn coding_question<R: Rng>(&self, rng: &mut R) -> String {
        if !self.code.is_empty()
            && rng.random_bool(0.15)
            && let Some((q, _)) = self.code.choose(rng)
        {
            return format!("how would i {}", lower_first(q));
        }
        grammar::coding_question(rng)
    }

    pub fn cursor<R: Rng>(&self, rng: &mut R) -> Cursor {
        let mut order: [Vec<u32>; 3] = [
            (0..self.math.len() as u32).collect(),
            (0..self.instr.len() as u32).collect(),
            (0..self.code.len() as u32).collect(),
        ];
        for o in &mut order {
            o.shuffle(rng);
        }
        Cursor { order, pos: [0; 3] }
    }

    /// The next item of a dataset walk: corpus items in the cursor's order, else generated ones.
    pub fn next_item<R: Rng>(&self, cur: &mut Cursor, kind: ItemKind, rng: &mut R) -> Item {
        let k = kind_ix(kind);
        let len = cur.order[k].len();
        if len > 0 {
            let ix = cur.order[k][cur.pos[k] % len] as usize;
            cur.pos[k] += 1;
            return match kind {
                ItemKind::Math => {
                    let (q, a) = &self.math[ix];
                    Item {
                        text: q.clone(),
                        reference: Some(a.clone()),
                        tests: vec![],
                    }
                }
                ItemKind::Instruction => {
                    let (i, inp) = &self.instr[ix];
                    Item {
                        text: join_input(i, inp.as_deref()),
                        reference: None,
                        tests: vec![],
                    }
                }
                ItemKind::Code => {
                    let (q, tests) = &self.code[ix];
                    Item {
                        text: q.clone(),
                        reference: None,
                        tests: tests.clone(),
                    }
                }
            };
        }
        match kind {
            ItemKind::Math => {
                let (q, a) = grammar::math_problem(rng);
                Item {
                    text: q,
                    reference: Some(a),
                    tests: vec![],
                }
            }
            ItemKind::Instruction => {
                let (i, inp) = grammar::instruction(rng);
                Item {
                    text: join_input(&i, inp.as_deref()),
                    reference: None,
                    tests: vec![],
                }
            }
            ItemKind::Code => {
                let (q, tests) = grammar::code_task(rng);
                Item {
                    text: q,
                    reference: None,
                    tests,
                }
            }
        }
    }

    /// Completion length of a chat answer: real trace lengths when loaded.
    pub fn chat_completion_tokens<R: Rng>(&self, rng: &mut R) -> u32 {
        match self.chat_tokens.choose(rng) {
            Some(&g) => g.max(1),
            None => super::timing::lognormal(rng, 230.0, 0.8) as u32 + 5,
        }
    }
}

pub(crate) fn join_input(instruction: &str, input: Option<&str>) -> String {
    match input {
        Some(i) => format!("{instruction}\n\n{i}"),
        None => instruction.to_string(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(String::from)
}

fn io_err(path: &Path, source: std::io::Error) -> SimError {
    SimError::CorpusIo {
        path: path.to_path_buf(),
        source,
    }
}

fn parse_line(path: &Path, i: usize, line: &str) -> Result<Value, SimError> {
    serde_json::from_str(line).map_err(|e| SimError::CorpusParse {
        path: PathBuf::from(path),
        line: i + 1,
        message: e.to_string(),
    })
}

/// Calls `f` for every non-empty JSON line of `path`; a missing file is skipped.
fn each_json_line(path: &Path, mut f: impl FnMut(Value)) -> Result<(), SimError> {
    if !path.exists() {
        return Ok(());
    }
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io_err(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        f(parse_line(path, i, &line)?);
    }
    Ok(())
}

/// Every root-to-leaf path of an OpenAssistant tree, as the prompter's turns along it.
fn oasst_threads(node: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let pushed = if node.get("role").and_then(Value::as_str) == Some("prompter") {
        if let Some(t) = node.get("text").and_then(Value::as_str) {
            path.push(t.to_string());
            true
        } else {
            false
        }
    } else {
        false
    };
    let replies = node.get("replies").and_then(Value::as_array);
    match replies {
        Some(r) if !r.is_empty() => {
            for child in r {
                oasst_threads(child, path, out);
            }
        }
        _ => {
            if !path.is_empty() {
                out.push(path.clone());
            }
        }
    }
    if pushed {
        path.pop();
    }
}

/// Human turns of an hh-rlhf "\n\nHuman: … \n\nAssistant: …" dialogue.
fn hh_human_turns(s: &str) -> Vec<String> {
    s.split("\n\nHuman:")
        .skip(1)
        .filter_map(|seg| {
            let t = seg.split("\n\nAssistant:").next().unwrap_or("").trim();
            (!t.is_empty()).then(|| t.to_string())
        })
        .collect()
}

/// Dolly items arrive wrapped in the Alpaca template; keep only the instruction and input.
fn strip_alpaca(p: &str) -> (String, Option<String>) {
    let body = p.split("### Instruction:").nth(1).unwrap_or(p);
    let body = body.split("### Response:").next().unwrap_or(body);
    let mut parts = body.splitn(2, "### Input:");
    let instr = parts.next().unwrap_or("").trim().to_string();
    let input = parts
        .next()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    (instr, input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_alpaca_template() {
        let p =
            "Below is an instruction.\n\n### Instruction:\nWhy is the sky blue?\n\n### Response:";
        assert_eq!(strip_alpaca(p), ("Why is the sky blue?".to_string(), None));
        let p = "x\n\n### Instruction:\nSummarize.\n\n### Input:\nSome text.\n\n### Response:";
        assert_eq!(
            strip_alpaca(p),
            ("Summarize.".to_string(), Some("Some text.".to_string()))
        );
    }

    #[test]
    fn splits_human_turns() {
        let s = "\n\nHuman: hi there\n\nAssistant: hello\n\nHuman: and then?\n\nAssistant: ok";
        assert_eq!(hh_human_turns(s), vec!["hi there", "and then?"]);
    }
}
