//! Field mapping: reading another schema's records as the contract's, by naming where each
//! contract field is found (`account_id=user.id`, `ts=@timestamp`, `prompt=request.messages.-1.content`).

use std::fmt;
use std::str::FromStr;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    mappings: Vec<Mapping>,
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
        Ok(FieldMap { mappings })
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
        for m in other.mappings {
            if !self.mappings.iter().any(|o| o.target == m.target) {
                self.mappings.push(m);
            }
        }
    }

    /// Fills `out` from `input` by the mappings. A required field (`ts`, `account_id`) whose path
    /// finds nothing rejects the record, naming the mapping; an optional one is set to null (absent).
    pub fn apply(&self, input: &Value, out: &mut Map<String, Value>) -> Result<(), RecordError> {
        for m in &self.mappings {
            match lookup(input, &m.source).filter(|v| !v.is_null()) {
                Some(v) => {
                    let kind = fields::kind_of(m.target).unwrap_or(FieldKind::Text);
                    out.insert(m.target.to_string(), fields::typed_value(kind, v.clone()));
                }
                None if matches!(m.target, "ts" | "account_id") => {
                    return Err(RecordError(format!(
                        "mapping {m}: no field `{}` in the record",
                        m.source
                    )));
                }
                // Null, not removal: a same-named field of the input must not stand in for it.
                None => {
                    out.insert(m.target.to_string(), Value::Null);
                }
            }
        }
        Ok(())
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
            let (head, rest) = match path.split_once('.') {
                Some((h, r)) => (h, Some(r)),
                None => (path, None),
            };
            let index: i64 = head.parse().ok()?;
            let index = if index < 0 {
                items.len().checked_sub(index.unsigned_abs() as usize)?
            } else {
                index as usize
            };
            let item = items.get(index)?;
            match rest {
                Some(r) => lookup(item, r),
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
    }

    #[test]
    fn apply_fills_types_and_rejects_missing_required() {
        let map =
            FieldMap::parse(&["account_id=user.id", "ts=@timestamp", "status=resp.code"]).unwrap();
        let v = json!({"user": {"id": 7}, "@timestamp": "2026-03-02T00:00:00Z", "resp": {"code": "429"}});
        let mut out = Map::new();
        map.apply(&v, &mut out).unwrap();
        assert_eq!(out["account_id"], json!("7"));
        assert_eq!(out["status"], json!(429));
        let e = map
            .apply(&json!({"@timestamp": 1}), &mut Map::new())
            .unwrap_err();
        assert_eq!(
            e.0,
            "mapping account_id=user.id: no field `user.id` in the record"
        );
        let e = map.explain(RecordError(
            "field `status`: 1000 is not an HTTP status".into(),
        ));
        assert!(e.0.starts_with("mapping status=resp.code: field `status`"));
    }
}
