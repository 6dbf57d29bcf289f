//! Field mapping: reading another schema's records as the contract's, by naming where each
//! contract field is found (`account_id=user.id`, `ts=@timestamp`, `prompt=request.messages.-1.content`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::RecordError;
use super::fields::{self, FieldKind};

/// One `FIELD=PATH` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The contract field it fills.
    pub target: &'static str,
    /// Where the value is: object keys separated by dots, array indexes as numbers (`-1` is the
    /// last element). A key that itself holds dots is matched whole first.
    pub source: String,
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.target, self.source)
    }
}

/// Why a mapping could not be used: a usage error, reported before any input is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("mapping {0:?}: expected FIELD=PATH, e.g. account_id=user.id")]
    Malformed(String),
    #[error(
        "mapping {spec:?}: `{field}` is not a field of the record (one of: {})",
        fields::FIELDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    )]
    UnknownField { spec: String, field: String },
    #[error("mappings {first} and {second} both fill `{field}`")]
    Duplicate {
        field: &'static str,
        first: String,
        second: String,
    },
}

impl Mapping {
    pub fn new(target: &str, source: &str) -> Result<Mapping, MapError> {
        let spec = format!("{target}={source}");
        let (target, source) = (target.trim(), source.trim());
        if target.is_empty() || source.is_empty() || source.contains("..") {
            return Err(MapError::Malformed(spec));
        }
        let target = fields::canonical(target).ok_or_else(|| MapError::UnknownField {
            spec: spec.clone(),
            field: target.to_string(),
        })?;
        Ok(Mapping {
            target,
            source: source.to_string(),
        })
    }
}

impl FromStr for Mapping {
    type Err = MapError;
    fn from_str(spec: &str) -> Result<Self, MapError> {
        let (target, source) = spec
            .split_once('=')
            .ok_or_else(|| MapError::Malformed(spec.to_string()))?;
        Mapping::new(target, source)
    }
}

/// A set of mappings, applied before a record is parsed.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    mappings: Vec<Mapping>,
    /// Per mapping: another mapping reaches the same value (the same path, or one inside it),
    /// so it is copied rather than moved out of the record.
    shared: Vec<bool>,
    /// Per mapping: it found a value in some record. A mapping that never does is most likely
    /// a wrong path; set once, so threads only read it afterwards.
    found: Arc<[AtomicBool]>,
}

impl FieldMap {
    pub fn new(mappings: Vec<Mapping>) -> Result<FieldMap, MapError> {
        for (i, m) in mappings.iter().enumerate() {
            if let Some(first) = mappings[..i].iter().find(|o| o.target == m.target) {
                return Err(MapError::Duplicate {
                    field: m.target,
                    first: first.to_string(),
                    second: m.to_string(),
                });
            }
        }
        let shared = mappings
            .iter()
            .enumerate()
            .map(|(i, m)| {
                mappings.iter().enumerate().any(|(j, o)| {
                    j != i && (nested(&o.source, &m.source) || nested(&m.source, &o.source))
                })
            })
            .collect();
        let found = mappings.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(FieldMap {
            mappings,
            shared,
            found,
        })
    }

    /// Parses `FIELD=PATH` strings, as given on the command line.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<FieldMap, MapError> {
        FieldMap::new(
            specs
                .iter()
                .map(|s| s.as_ref().parse())
                .collect::<Result<_, _>>()?,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Adds `other`'s mappings for the fields this map does not fill yet (command-line mappings
    /// take precedence over a config file's).
    pub fn merge(&mut self, other: FieldMap) {
        let mut all = std::mem::take(&mut self.mappings);
        for m in other.mappings {
            if !all.iter().any(|o| o.target == m.target) {
                all.push(m);
            }
        }
        *self = FieldMap::new(all).expect("one mapping per field");
    }

    /// Fills `out` from `input` by the mappings, moving the values out of `input`. A required
    /// field (`ts`, `account_id`) whose path finds nothing rejects the record, naming the
    /// mapping; an optional one is set to null (absent).
    pub fn apply(
        &self,
        input: &mut Value,
        out: &mut Map<String, Value>,
    ) -> Result<(), RecordError> {
        // Checked before anything is moved, so the reason shows the record as it came.
        for m in &self.mappings {
            if matches!(m.target, "ts" | "account_id")
                && lookup(input, &m.source).is_none_or(Value::is_null)
            {
                return Err(RecordError(format!(
                    "mapping {m}: no field `{}` in the record {}",
                    m.source,
                    sample(input)
                )));
            }
        }
        for ((m, &shared), found) in self
            .mappings
            .iter()
            .zip(&self.shared)
            .zip(self.found.iter())
        {
            let value = if shared {
                lookup(input, &m.source).cloned()
            } else {
                lookup_mut(input, &m.source).map(std::mem::take)
            };
            match value.filter(|v| !v.is_null()) {
                Some(v) => {
                    if !found.load(Ordering::Relaxed) {
                        found.store(true, Ordering::Relaxed);
                    }
                    let kind = fields::kind_of(m.target).unwrap_or(FieldKind::Text);
                    out.insert(m.target.to_string(), fields::typed_value(kind, v));
                }
                // Null, not removal: a same-named field of the input must not stand in for it.
                None => {
                    out.insert(m.target.to_string(), Value::Null);
                }
            }
        }
        Ok(())
    }

    /// The mappings that have found nothing in any record so far.
    pub fn unmatched(&self) -> impl Iterator<Item = &Mapping> {
        self.mappings
            .iter()
            .zip(self.found.iter())
            .filter(|(_, f)| !f.load(Ordering::Relaxed))
            .map(|(m, _)| m)
    }

    /// Names the mapping behind a reason about a mapped field (`field `status`: …`), so a
    /// wrong path or type is traced to the mapping that caused it.
    pub fn explain(&self, err: RecordError) -> RecordError {
        let field = err
            .0
            .strip_prefix("field `")
            .and_then(|r| r.split(['`', '.', '[']).next());
        match field.and_then(|f| self.mappings.iter().find(|m| m.target == f)) {
            Some(m) => RecordError(format!("mapping {m}: {}", err.0)),
            None => err,
        }
    }
}

/// The start of a record, so that a reason shows what the records look like.
fn sample(input: &Value) -> String {
    const MAX: usize = 100;
    let text = input.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Whether path `inner` is `outer` or lies inside it.
fn nested(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// An array index (`-1` counts from the end) and the rest of the path.
fn index(len: usize, path: &str) -> Option<(usize, Option<&str>)> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let i: i64 = head.parse().ok()?;
    let i = if i < 0 {
        len.checked_sub(i.unsigned_abs() as usize)?
    } else {
        i as usize
    };
    Some((i, rest))
}

/// Finds the value at a dotted path. At each level the longest key that matches wins, so keys
/// holding dots (`user.id` as one flat column) are found as well as nested ones.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get(path) {
                return Some(v);
            }
            path.rmatch_indices('.').find_map(|(i, _)| {
                map.get(&path[..i])
                    .and_then(|child| lookup(child, &path[i + 1..]))
            })
        }
        Value::Array(items) => {
            let (i, rest) = index(items.len(), path)?;
            let item = items.get(i)?;
            rest.map_or(Some(item), |r| lookup(item, r))
        }
        _ => None,
    }
}

/// [`lookup`] for changing the value found.
fn lookup_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(path) {
                return map.get_mut(path);
            }
            let (split, _) = path.rmatch_indices('.').find(|(i, _)| {
                map.get(&path[..*i])
                    .is_some_and(|child| lookup(child, &path[i + 1..]).is_some())
            })?;
            lookup_mut(map.get_mut(&path[..split])?, &path[split + 1..])
        }
        Value::Array(items) => {
            let (i, rest) = index(items.len(), path)?;
            let item = items.get_mut(i)?;
            match rest {
                Some(r) => lookup_mut(item, r),
                None => Some(item),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_parse_and_bad_ones_are_named() {
        let m: Mapping = "account_id=user.id".parse().unwrap();
        assert_eq!((m.target, m.source.as_str()), ("account_id", "user.id"));
        assert!(matches!(
            "account_id".parse::<Mapping>(),
            Err(MapError::Malformed(_))
        ));
        assert!(matches!(
            "=x".parse::<Mapping>(),
            Err(MapError::Malformed(_))
        ));
        let e = "acount=user.id".parse::<Mapping>().unwrap_err();
        assert!(e.to_string().contains("`acount` is not a field"), "{e}");
        let e = FieldMap::parse(&["ts=a", "ts=b"]).unwrap_err();
        assert!(matches!(e, MapError::Duplicate { field: "ts", .. }));
    }

    #[test]
    fn paths_reach_nested_keys_arrays_and_dotted_keys() {
        let v = json!({"user": {"id": 7}, "a.b": 1, "msgs": [{"c": "x"}, {"c": "y"}]});
        assert_eq!(lookup(&v, "user.id"), Some(&json!(7)));
        assert_eq!(lookup(&v, "a.b"), Some(&json!(1)));
        assert_eq!(lookup(&v, "msgs.0.c"), Some(&json!("x")));
        assert_eq!(lookup(&v, "msgs.-1.c"), Some(&json!("y")));
        assert_eq!(lookup(&v, "msgs.5.c"), None);
        assert_eq!(lookup(&v, "user.name"), None);
        let mut w = v.clone();
        assert_eq!(
            lookup_mut(&mut w, "msgs.-1.c").map(std::mem::take),
            Some(json!("y"))
        );
        assert_eq!(lookup(&w, "msgs.1.c"), Some(&Value::Null));
        assert!(nested("a.b", "a") && nested("a", "a") && !nested("ab", "a"));
        // Overlapping paths: both mappings get their value.
        let map = FieldMap::parse(&["messages=m", "prompt=m.-1.content", "account_id=u", "ts=t"])
            .unwrap();
        let mut out = Map::new();
        map.apply(
            &mut json!({"t": 1, "u": "a", "m": [{"content": "hi"}]}),
            &mut out,
        )
        .unwrap();
        assert_eq!(out["prompt"], json!("hi"));
        assert_eq!(out["messages"], json!([{"content": "hi"}]));
        let map = FieldMap::parse(&["account_id=u", "ts=t", "ip=client.addr"]).unwrap();
        assert_eq!(map.unmatched().count(), 3);
        map.apply(&mut json!({"t": 1, "u": "a"}), &mut Map::new())
            .unwrap();
        let left: Vec<String> = map.unmatched().map(|m| m.to_string()).collect();
        assert_eq!(left, ["ip=client.addr"]);
    }

    #[test]
    fn apply_fills_types_and_rejects_missing_required() {
        let map =
            FieldMap::parse(&["account_id=user.id", "ts=@timestamp", "status=resp.code"]).unwrap();
        let v = json!({"user": {"id": 7}, "@timestamp": "2026-03-02T00:00:00Z", "resp": {"code": "429"}});
        let mut out = Map::new();
        map.apply(&mut v.clone(), &mut out).unwrap();
        assert_eq!(out["account_id"], json!("7"));
        assert_eq!(out["status"], json!(429));
        let e = map
            .apply(&mut json!({"@timestamp": 1}), &mut Map::new())
            .unwrap_err();
        assert_eq!(
            e.0,
            r#"mapping account_id=user.id: no field `user.id` in the record {"@timestamp":1}"#
        );
        let e = map.explain(RecordError(
            "field `status`: 1000 is not an HTTP status".into(),
        ));
        assert!(e.0.starts_with("mapping status=resp.code: field `status`"));
    }
}
