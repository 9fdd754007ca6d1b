//! An [`Env`] over `serde_json` values (feature `json`, on by default).

use alloy_primitives::{I256, U256};
use serde_json::{Map, Value as Json};

use crate::value::{Env, List, Value};

/// Variables read from JSON without copying: named ones from an object, positional ones
/// from an array.
///
/// Numbers may be JSON numbers or (as Defender sends ABI numbers) decimal or hex strings;
/// addresses are `0x` strings. `serde_json` reads integers beyond 64 bits as lossy floats, so
/// pass big numbers as strings; a non-integer or imprecise JSON float reads as [`Value::Null`].
///
/// ```
/// use defender_conditions::{JsonEnv, Program, Schema};
/// let reason = serde_json::json!({
///     "type": "event",
///     "signature": "Transfer(address,address,uint256)",
///     "args": ["0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222", "5000000000000000000"],
///     "params": { "from": "0x1111111111111111111111111111111111111111", "to": "0x2222222222222222222222222222222222222222", "value": "5000000000000000000" }
/// });
/// let schema = Schema::from_signature("Transfer(address from, address to, uint256 value)").unwrap();
/// let p = Program::compile("value > 0xde0b6b3a7640000 and value < 0x56bc75e2d63100000", Some(&schema)).unwrap();
/// assert!(p.eval(&JsonEnv::match_reason(&reason)).unwrap());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonEnv<'a> {
    named: Option<&'a Map<String, Json>>,
    positional: Option<&'a [Json]>,
}

impl<'a> JsonEnv<'a> {
    /// Named variables from an object, or positional ones from an array.
    pub fn new(value: &'a Json) -> Self {
        match value {
            Json::Object(map) => Self {
                named: Some(map),
                positional: None,
            },
            Json::Array(items) => Self {
                named: None,
                positional: Some(items),
            },
            _ => Self::default(),
        }
    }

    /// Named variables from `params` and positional ones from `args`: the shape of a monitor
    /// match reason (`matchReasons[i]`).
    pub fn match_reason(reason: &'a Json) -> Self {
        Self {
            named: reason.get("params").and_then(Json::as_object),
            positional: reason
                .get("args")
                .and_then(Json::as_array)
                .map(Vec::as_slice),
        }
    }

    /// Uses the elements of the array `args` as positional variables.
    #[must_use]
    pub fn with_args(mut self, args: &'a Json) -> Self {
        self.positional = args.as_array().map(Vec::as_slice);
        self
    }
}

impl Env for JsonEnv<'_> {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        self.named?.get(name).map(json_value)
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.positional?.get(index).map(json_value)
    }
}

/// A JSON value as a condition value, borrowed.
pub fn json_value(v: &Json) -> Value<'_> {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::Uint(U256::from(u))
            } else if let Some(i) = n.as_i64() {
                Value::Int(I256::try_from(i).unwrap_or(I256::ZERO))
            } else {
                Value::Null
            }
        }
        Json::String(s) => Value::Str(s),
        Json::Array(items) => Value::List(items),
        Json::Object(map) => Value::List(map),
    }
}

impl List for Vec<Json> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.as_slice().get(index).map(json_value)
    }
}

/// Objects: members by name, and by index in the map's order.
impl List for Map<String, Json> {
    fn len(&self) -> usize {
        Map::len(self)
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.values().nth(index).map(json_value)
    }
    fn member(&self, name: &str) -> Option<Value<'_>> {
        Map::get(self, name).map(json_value)
    }
}
