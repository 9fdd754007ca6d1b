//! Decoding of JSON-RPC hex values.

use alloy_primitives::U256;
use serde_json::Value;

pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|x| !x.is_null())
}

pub(crate) fn u64_of(v: &Value) -> Option<u64> {
    let s = v.as_str()?;
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

pub(crate) fn u128_of(v: &Value) -> Option<u128> {
    let s = v.as_str()?;
    u128::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

pub(crate) fn u256_of(v: &Value) -> Option<U256> {
    let s = v.as_str()?;
    U256::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

pub(crate) fn quantity(n: impl Into<u128>) -> Value {
    Value::String(format!("{:#x}", n.into()))
}
