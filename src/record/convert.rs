//! From an item's bytes to a record when the input is not in the contract's shape: a LiteLLM
//! payload, or another schema read through a [`FieldMap`].

use serde_json::{Map, Value};

use super::fields;
use super::litellm::{self, AccountKey};
use super::mapping::FieldMap;
use super::{Record, RecordError};

/// What the records of an input look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// Decided per input from its first records.
    #[default]
    Auto,
    /// The contract's record.
    Contract,
    /// LiteLLM's `StandardLoggingPayload`.
    Litellm,
}

/// Turns items into records, applying the LiteLLM reading and the field map.
#[derive(Debug, Clone, Default)]
pub struct Converter {
    pub map: FieldMap,
    pub litellm_account: AccountKey,
}

impl Converter {
    /// Decides `Auto` from the first items of an input.
    pub fn resolve<'b>(shape: Shape, first: impl IntoIterator<Item = &'b [u8]>) -> Shape {
        match shape {
            Shape::Auto => {
                if first.into_iter().take(4).any(litellm::looks_like) {
                    Shape::Litellm
                } else {
                    Shape::Contract
                }
            }
            s => s,
        }
    }

    /// Parses one item of an input of `shape` (resolved). Contract records without mappings
    /// are parsed in place; the others are rebuilt as contract JSON in `scratch` first.
    pub fn parse<'a>(
        &self,
        bytes: &'a [u8],
        shape: Shape,
        scratch: &'a mut Vec<u8>,
    ) -> Result<Record<'a>, RecordError> {
        let litellm = shape == Shape::Litellm;
        if !litellm && self.map.is_empty() {
            return Record::parse(bytes);
        }
        let mut input = match serde_json::from_slice::<Value>(bytes) {
            Ok(v @ Value::Object(_)) => v,
            // Bad JSON and non-objects get the same reasons as in any other input.
            _ => return Record::parse(bytes),
        };
        let mut out = if litellm {
            litellm::to_contract(&input, self.litellm_account)
        } else {
            Map::new()
        };
        self.map.apply(&mut input, &mut out)?;
        if litellm {
            litellm::check_account(&out, self.litellm_account)?;
        } else if let Value::Object(rest) = input {
            // Unmapped contract fields are read under their own names; the rest is ignored.
            for (k, v) in rest {
                if fields::kind_of(&k).is_some() {
                    out.entry(k).or_insert(v);
                }
            }
        }
        scratch.clear();
        serde_json::to_writer(&mut *scratch, &out).expect("a JSON map serialises");
        Record::parse(scratch).map_err(|e| self.map.explain(e))
    }
}
