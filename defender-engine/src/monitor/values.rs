//! Decoded ABI values: as condition variables (no JSON, no copies) and as match-payload JSON.

use super::payload::Checksums;
use alloy_dyn_abi::{DynSolType, DynSolValue};
use alloy_primitives::hex;
use defender_conditions::{AbiType, Env, List, Param, Value};
use serde_json::Value as Json;
use std::sync::Arc;

/// The shape of a parameter: where tuples are, and their component names.
#[derive(Clone, Debug)]
pub(crate) enum Shape {
    /// A value without components, or an array/tuple whose components are plain values.
    Leaf,
    /// An array (dynamic or fixed) of `Shape`.
    Array(Box<Shape>),
    /// A tuple or struct with optionally named components.
    Tuple(Arc<[Option<String>]>, Vec<Shape>),
}

impl Shape {
    /// The shape and the condition-language type of a resolved type with its JSON ABI
    /// components (which carry the tuple component names).
    pub(crate) fn of(ty: &DynSolType, components: &[alloy_json_abi::Param]) -> (Shape, AbiType) {
        match ty {
            DynSolType::Bool => (Shape::Leaf, AbiType::Bool),
            DynSolType::Int(n) => (Shape::Leaf, AbiType::Int(bits(*n))),
            DynSolType::Uint(n) => (Shape::Leaf, AbiType::Uint(bits(*n))),
            DynSolType::FixedBytes(n) => (Shape::Leaf, AbiType::Bytes(Some(small(*n)))),
            DynSolType::Address => (Shape::Leaf, AbiType::Address),
            DynSolType::Function => (Shape::Leaf, AbiType::Bytes(Some(24))),
            DynSolType::Bytes => (Shape::Leaf, AbiType::Bytes(None)),
            DynSolType::String => (Shape::Leaf, AbiType::String),
            DynSolType::Array(inner) => {
                let (s, t) = Shape::of(inner, components);
                (Shape::Array(Box::new(s)), AbiType::Array(Box::new(t), None))
            }
            DynSolType::FixedArray(inner, n) => {
                let (s, t) = Shape::of(inner, components);
                (
                    Shape::Array(Box::new(s)),
                    AbiType::Array(Box::new(t), Some(*n)),
                )
            }
            DynSolType::Tuple(types) => {
                let mut names = Vec::with_capacity(types.len());
                let mut shapes = Vec::with_capacity(types.len());
                let mut params = Vec::with_capacity(types.len());
                for (i, t) in types.iter().enumerate() {
                    let comp = components.get(i);
                    let name = comp.map(|c| c.name.clone()).filter(|n| !n.is_empty());
                    let sub = comp.map(|c| c.components.as_slice()).unwrap_or(&[]);
                    let (s, at) = Shape::of(t, sub);
                    params.push(Param::new(name.as_deref(), at));
                    names.push(name);
                    shapes.push(s);
                }
                (Shape::Tuple(names.into(), shapes), AbiType::Tuple(params))
            }
            // Types only present with optional alloy features (custom structs): plain bytes.
            #[allow(unreachable_patterns)]
            _ => (Shape::Leaf, AbiType::Bytes(None)),
        }
    }
}

fn bits(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(256)
}

fn small(n: usize) -> u8 {
    u8::try_from(n).unwrap_or(32)
}

/// A decoded argument, in a form conditions can read without copying.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// A value without components (or whose components need no names).
    Plain(DynSolValue),
    /// An array or tuple.
    Seq(ArgSeq),
}

/// The components of an array or tuple.
#[derive(Clone, Debug)]
pub(crate) struct ArgSeq {
    items: Vec<Arg>,
    names: Option<Arc<[Option<String>]>>,
}

impl Arg {
    /// Wraps a decoded value according to its shape.
    pub(crate) fn new(v: DynSolValue, shape: &Shape) -> Arg {
        match shape {
            Shape::Leaf if !is_seq(&v) => Arg::Plain(v),
            Shape::Leaf => Arg::Seq(ArgSeq {
                items: into_seq(v)
                    .into_iter()
                    .map(|x| Arg::new(x, &Shape::Leaf))
                    .collect(),
                names: None,
            }),
            Shape::Array(inner) => Arg::Seq(ArgSeq {
                items: into_seq(v)
                    .into_iter()
                    .map(|x| Arg::new(x, inner))
                    .collect(),
                names: None,
            }),
            Shape::Tuple(names, shapes) => {
                let items = into_seq(v)
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Arg::new(x, shapes.get(i).unwrap_or(&Shape::Leaf)))
                    .collect();
                Arg::Seq(ArgSeq {
                    items,
                    names: Some(names.clone()),
                })
            }
        }
    }

    /// The value as a condition variable.
    pub(crate) fn value(&self) -> Value<'_> {
        match self {
            Arg::Seq(s) => Value::List(s),
            Arg::Plain(v) => plain_value(v),
        }
    }

    /// The value as match-payload JSON: numbers as decimal strings, addresses checksummed,
    /// bytes as `0x` hex, arrays and tuples as arrays.
    pub(crate) fn json(&self, checksums: &mut Checksums) -> Json {
        match self {
            Arg::Seq(s) => Json::Array(s.items.iter().map(|a| a.json(checksums)).collect()),
            Arg::Plain(v) => dyn_json(v, checksums),
        }
    }
}

fn is_seq(v: &DynSolValue) -> bool {
    v.as_fixed_seq().is_some() || v.as_array().is_some()
}

fn into_seq(v: DynSolValue) -> Vec<DynSolValue> {
    match v {
        DynSolValue::Array(a) | DynSolValue::FixedArray(a) | DynSolValue::Tuple(a) => a,
        other => match other.as_fixed_seq() {
            Some(s) => s.to_vec(),
            None => vec![other],
        },
    }
}

fn plain_value(v: &DynSolValue) -> Value<'_> {
    match v {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Int(i, _) => Value::Int(*i),
        DynSolValue::Uint(u, _) => Value::Uint(*u),
        DynSolValue::FixedBytes(w, n) => Value::Bytes(&w[..(*n).min(32)]),
        DynSolValue::Address(a) => Value::Address(*a),
        DynSolValue::Function(f) => Value::Bytes(f.as_slice()),
        DynSolValue::Bytes(b) => Value::Bytes(b),
        DynSolValue::String(s) => Value::Str(s),
        // Sequences are wrapped in `Arg::Seq` by `Arg::new`; anything else is unknown.
        _ => Value::Null,
    }
}

fn dyn_json(v: &DynSolValue, checksums: &mut Checksums) -> Json {
    match v {
        DynSolValue::Bool(b) => Json::Bool(*b),
        DynSolValue::Int(i, _) => Json::String(i.to_string()),
        DynSolValue::Uint(u, _) => Json::String(u.to_string()),
        DynSolValue::FixedBytes(w, n) => Json::String(hex::encode_prefixed(&w[..(*n).min(32)])),
        DynSolValue::Address(a) => Json::String(checksums.get(a)),
        DynSolValue::Function(f) => Json::String(hex::encode_prefixed(f.as_slice())),
        DynSolValue::Bytes(b) => Json::String(hex::encode_prefixed(b)),
        DynSolValue::String(s) => Json::String(s.clone()),
        other => match other.as_fixed_seq().or_else(|| other.as_array()) {
            Some(items) => Json::Array(items.iter().map(|i| dyn_json(i, checksums)).collect()),
            None => Json::Null,
        },
    }
}

impl List for ArgSeq {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn get(&self, index: usize) -> Option<Value<'_>> {
        self.items.get(index).map(Arg::value)
    }
    fn member(&self, name: &str) -> Option<Value<'_>> {
        let names = self.names.as_ref()?;
        let i = names.iter().position(|n| n.as_deref() == Some(name))?;
        self.items.get(i).map(Arg::value)
    }
}

/// The arguments of one event or call, as a condition environment: names and `$0..`.
pub(crate) struct ArgsEnv<'a> {
    pub(crate) names: &'a [Option<String>],
    pub(crate) args: &'a [Arg],
}

impl Env for ArgsEnv<'_> {
    fn lookup(&self, name: &str) -> Option<Value<'_>> {
        let i = self.names.iter().position(|n| n.as_deref() == Some(name))?;
        self.args.get(i).map(Arg::value)
    }
    fn position(&self, index: usize) -> Option<Value<'_>> {
        self.args.get(index).map(Arg::value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, U256};
    use defender_conditions::Program;

    #[test]
    fn tuples_reach_members_by_name_and_index() {
        let comps: Vec<alloy_json_abi::Param> = serde_json::from_value(serde_json::json!([
            {"name": "who", "type": "address"},
            {"name": "amounts", "type": "uint256[]"}
        ]))
        .unwrap();
        let ty = DynSolType::Tuple(vec![
            DynSolType::Address,
            DynSolType::Array(Box::new(DynSolType::Uint(256))),
        ]);
        let (shape, at) = Shape::of(&ty, &comps);
        assert!(matches!(at, AbiType::Tuple(ref p) if p.len() == 2));
        let v = DynSolValue::Tuple(vec![
            DynSolValue::Address(address!("0x5FbDB2315678afecb367f032d93F642f64180aa3")),
            DynSolValue::Array(vec![
                DynSolValue::Uint(U256::from(5u64), 256),
                DynSolValue::Uint(U256::from(7u64), 256),
            ]),
        ]);
        let args = [Arg::new(v, &shape)];
        let names = [Some("order".to_string())];
        let env = ArgsEnv {
            names: &names,
            args: &args,
        };
        for cond in [
            "order.amounts[1] == 7",
            "$0.who == '0x5fbdb2315678afecb367f032d93f642f64180aa3'",
            "order.1[0] == 5",
            "order.amounts.length == 2",
        ] {
            let p = Program::compile(cond, None).unwrap();
            assert!(p.eval(&env).unwrap(), "{cond}");
        }
        assert_eq!(
            args[0].json(&mut Checksums::default()),
            serde_json::json!(["0x5FbDB2315678afecb367f032d93F642f64180aa3", ["5", "7"]])
        );
    }
}
