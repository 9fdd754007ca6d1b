//! The call a proposal makes: its function from `functionInterface` (or the contract's ABI),
//! its `functionInputs` checked against the parameter types and ABI-encoded (alloy's
//! dyn-abi), and its value.

use super::error::ProposalError;
use super::model::{FunctionParam, ProposalRequest};
use alloy_dyn_abi::{DynSolType, DynSolValue, JsonAbiExt, Specifier};
use alloy_json_abi::{Function, JsonAbi, Param, StateMutability};
use alloy_primitives::U256;
use serde_json::Value;

/// Deepest nesting of arrays and tuples in inputs, so hostile inputs cannot recurse without
/// bound.
const MAX_DEPTH: usize = 16;

/// The function a request calls.
pub(crate) fn function(req: &ProposalRequest) -> Result<Function, ProposalError> {
    let iface = req
        .function_interface
        .as_ref()
        .ok_or_else(|| ProposalError::Invalid("`functionInterface` is required".into()))?;
    let name = iface
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ProposalError::Invalid("`functionInterface.name` is required".into()))?;
    // Only a name: the function is the one of that name in the ABI.
    if iface.inputs.is_empty() && !req.function_inputs.is_empty() {
        let abi_text = req.contract.abi.as_deref().ok_or_else(|| {
            ProposalError::Invalid(format!(
                "`functionInterface` gives no inputs for `{name}` and the contract has no ABI"
            ))
        })?;
        let abi: JsonAbi = serde_json::from_str(abi_text)
            .map_err(|e| ProposalError::Invalid(format!("the contract's ABI: {e}")))?;
        let found = abi.function(&name).map(Vec::as_slice).unwrap_or_default();
        return match found {
            [f] => Ok(f.clone()),
            [] => Err(ProposalError::Invalid(format!(
                "the contract's ABI has no function `{name}`"
            ))),
            _ => Err(ProposalError::Invalid(format!(
                "`{name}` is overloaded in the ABI: give its inputs in `functionInterface`"
            ))),
        };
    }
    let inputs = iface
        .inputs
        .iter()
        .map(param)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Function {
        name,
        inputs,
        outputs: Vec::new(),
        state_mutability: StateMutability::NonPayable,
    })
}

fn param(p: &FunctionParam) -> Result<Param, ProposalError> {
    let json = serde_json::to_value(p).map_err(|e| ProposalError::Invalid(e.to_string()))?;
    serde_json::from_value(json)
        .map_err(|e| ProposalError::Invalid(format!("parameter `{}`: {e}", p.name)))
}

/// The calldata of `function` called with `inputs`.
pub(crate) fn calldata(function: &Function, inputs: &[Value]) -> Result<Vec<u8>, ProposalError> {
    if inputs.len() != function.inputs.len() {
        return Err(ProposalError::Inputs(format!(
            "`{}` takes {} inputs, {} given",
            function.name,
            function.inputs.len(),
            inputs.len()
        )));
    }
    let values = function
        .inputs
        .iter()
        .zip(inputs)
        .map(|(p, v)| {
            let ty = p
                .resolve()
                .map_err(|e| ProposalError::Inputs(format!("type of `{}`: {e}", p.name)))?;
            value(&ty, v, 0).map_err(|e| ProposalError::Inputs(format!("`{}`: {e}", p.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    function
        .abi_encode_input(&values)
        .map_err(|e| ProposalError::Inputs(e.to_string()))
}

/// One input as a value of `ty`: strings are parsed as the type says, booleans and numbers
/// taken as they are, arrays give arrays and tuples (or a string such as `[1,2]`).
fn value(ty: &DynSolType, v: &Value, depth: usize) -> Result<DynSolValue, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH}"));
    }
    let items = |tys: &mut dyn Iterator<Item = &DynSolType>, vs: &[Value]| {
        tys.zip(vs)
            .map(|(t, v)| value(t, v, depth + 1))
            .collect::<Result<Vec<_>, String>>()
    };
    match (ty, v) {
        (DynSolType::Array(inner), Value::Array(vs)) => Ok(DynSolValue::Array(items(
            &mut std::iter::repeat(inner.as_ref()),
            vs,
        )?)),
        (DynSolType::FixedArray(inner, n), Value::Array(vs)) => {
            if vs.len() != *n {
                return Err(format!("{n} items expected, {} given", vs.len()));
            }
            Ok(DynSolValue::FixedArray(items(
                &mut std::iter::repeat(inner.as_ref()),
                vs,
            )?))
        }
        (DynSolType::Tuple(tys), Value::Array(vs)) => {
            if vs.len() != tys.len() {
                return Err(format!(
                    "{} members expected, {} given",
                    tys.len(),
                    vs.len()
                ));
            }
            Ok(DynSolValue::Tuple(items(&mut tys.iter(), vs)?))
        }
        (DynSolType::Bool, Value::Bool(b)) => Ok(DynSolValue::Bool(*b)),
        (_, Value::String(s)) => ty.coerce_str(s).map_err(|e| e.to_string()),
        (_, Value::Number(n)) => ty.coerce_str(&n.to_string()).map_err(|e| e.to_string()),
        (_, other) => Err(format!("{} is not a {ty}", json_kind(other))),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The wei sent with the call (`metadata.sendValue`; none is 0).
pub(crate) fn send_value(req: &ProposalRequest) -> Result<U256, ProposalError> {
    let Some(v) = req.metadata.as_ref().and_then(|m| m.send_value.as_ref()) else {
        return Ok(U256::ZERO);
    };
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(ProposalError::Invalid(
                "`metadata.sendValue` is a decimal string or number".into(),
            ))
        }
    };
    text.parse::<U256>()
        .map_err(|e| ProposalError::Invalid(format!("`metadata.sendValue` `{text}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposals::model::{ProposalContract, TargetFunction, ViaType};
    use serde_json::json;

    fn request(inputs: Value, args: Value) -> ProposalRequest {
        ProposalRequest {
            contract: ProposalContract {
                network: "anvil".into(),
                address: "0x0000000000000000000000000000000000000001".into(),
                name: None,
                abi: None,
            },
            title: "t".into(),
            description: String::new(),
            kind: "custom".into(),
            metadata: None,
            via: None,
            via_type: ViaType::Relayer,
            function_interface: Some(TargetFunction {
                name: Some("f".into()),
                inputs: serde_json::from_value(inputs).unwrap(),
            }),
            function_inputs: serde_json::from_value(args).unwrap(),
            relayer_id: None,
            executor: None,
        }
    }

    fn encode(inputs: Value, args: Value) -> Result<String, String> {
        let req = request(inputs, args);
        let f = function(&req).map_err(|e| e.to_string())?;
        calldata(&f, &req.function_inputs)
            .map(hex::encode)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn inputs_encode_as_the_abi_says() {
        let addr = "0x00000000000000000000000000000000000000aa";
        // (inputs, args, expected calldata hex or error fragment)
        let table: Vec<(Value, Value, Result<&str, &str>)> = vec![
            (
                json!([{"name": "to", "type": "address"}, {"name": "v", "type": "uint256"}]),
                json!([addr, "5"]),
                // f(address,uint256): selector then the two words.
                Ok("0x"),
            ),
            (
                json!([{"name": "v", "type": "uint256"}]),
                json!([7]),
                Ok("0x"),
            ),
            (
                json!([{"name": "b", "type": "bool"}]),
                json!([true]),
                Ok("0x"),
            ),
            (
                json!([{"name": "xs", "type": "uint8[]"}]),
                json!([["1", 2]]),
                Ok("0x"),
            ),
            (
                json!([{"name": "t", "type": "tuple", "components": [
                    {"name": "a", "type": "address"}, {"name": "n", "type": "uint16"}]}]),
                json!([[addr, "3"]]),
                Ok("0x"),
            ),
            (
                json!([{"name": "v", "type": "uint8"}]),
                json!(["256"]),
                Err("`v`"),
            ),
            (
                json!([{"name": "to", "type": "address"}]),
                json!(["0x12"]),
                Err("`to`"),
            ),
            (
                json!([{"name": "v", "type": "uint256"}]),
                json!([]),
                Err("takes 1 inputs, 0 given"),
            ),
            (
                json!([{"name": "xs", "type": "uint8[2]"}]),
                json!([["1"]]),
                Err("2 items expected"),
            ),
            (
                json!([{"name": "o", "type": "uint256"}]),
                json!([{"x": 1}]),
                Err("an object is not"),
            ),
            (
                json!([{"name": "x", "type": "notatype"}]),
                json!(["1"]),
                Err("type of `x`"),
            ),
        ];
        for (inputs, args, want) in table {
            let got = encode(inputs.clone(), args.clone());
            match (want, got) {
                (Ok(_), Ok(_)) => {}
                (Err(fragment), Err(e)) => {
                    assert!(e.contains(fragment), "{inputs} {args}: {e}")
                }
                (want, got) => panic!("{inputs} {args}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn calldata_is_the_selector_then_the_words() {
        let got = encode(
            json!([{"name": "to", "type": "address"}, {"name": "v", "type": "uint256"}]),
            json!(["0x00000000000000000000000000000000000000aa", "5"]),
        )
        .unwrap();
        // keccak("f(address,uint256)")[..4]
        let selector = hex::encode(&alloy_primitives::keccak256("f(address,uint256)")[..4]);
        assert_eq!(
            got,
            format!(
                "{selector}{:0>64}{:0>64}",
                "00000000000000000000000000000000000000aa", "5"
            )
        );
    }

    #[test]
    fn a_name_alone_is_looked_up_in_the_abi() {
        let mut req = request(json!([]), json!(["9"]));
        req.contract.abi = Some(
            json!([{"type": "function", "name": "f", "inputs": [{"name": "v", "type": "uint256"}],
                     "outputs": [], "stateMutability": "nonpayable"}])
            .to_string(),
        );
        let f = function(&req).unwrap();
        assert_eq!(f.signature(), "f(uint256)");
        req.contract.abi = Some("[]".into());
        assert!(matches!(function(&req), Err(ProposalError::Invalid(_))));
    }

    #[test]
    fn send_value_parses_strings_and_numbers() {
        let mut req = request(json!([]), json!([]));
        assert_eq!(send_value(&req).unwrap(), U256::ZERO);
        for (v, want) in [
            (json!("1000"), Some(1000u64)),
            (json!(12), Some(12)),
            (json!("-1"), None),
            (json!(true), None),
        ] {
            req.metadata = Some(crate::proposals::model::ProposalMetadata {
                operation_type: None,
                send_value: Some(v.clone()),
            });
            match want {
                Some(n) => assert_eq!(send_value(&req).unwrap(), U256::from(n), "{v}"),
                None => assert!(send_value(&req).is_err(), "{v}"),
            }
        }
    }
}
