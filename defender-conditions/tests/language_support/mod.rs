//! What the language tests (`language.rs`, `syntax.rs`) share: values and the typed
//! environment conditions are evaluated over.
#![allow(dead_code)]

use defender_conditions::{Address, EvalErrorKind, Program, Value, I256, U256};

/// `n` as a `uint256`.
pub(crate) fn u(n: u64) -> Value<'static> {
    Value::Uint(U256::from(n))
}

/// The address [`addr`] gives, in lower case.
pub(crate) const ADDR: &str = "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad";

/// [`ADDR`] as an address.
pub(crate) fn addr() -> Address {
    ADDR.parse().expect("address")
}

/// Evaluates `src` (no schema) over a fixed typed environment.
pub(crate) fn run(src: &str) -> Result<bool, EvalErrorKind> {
    let list: [Value<'static>; 3] = [u(5), u(6), u(7)];
    let inner: [(&str, Value<'_>); 2] = [("c", Value::Str("deep")), ("n", u(9))];
    let tuple: [Value<'_>; 3] = [u(1), Value::Bool(true), Value::List(&inner)];
    let bytes = [0xdeu8, 0xad, 0xbe, 0xef];
    let env: [(&str, Value<'_>); 14] = [
        ("value", u(2_000_000_000_000_000_000)),
        ("zero", u(0)),
        ("one", u(1)),
        ("neg", Value::Int(I256::try_from(-5i64).expect("i256"))),
        ("max", Value::Uint(U256::MAX)),
        ("from", Value::Address(addr())),
        ("status", Value::Str("failed")),
        ("name", Value::Str("hello world")),
        ("hexstr", Value::Str("0xABCDEF")),
        ("decstr", Value::Str("1000")),
        ("flag", Value::Bool(true)),
        ("vals", Value::List(&list)),
        ("t", Value::List(&tuple)),
        ("data", Value::Bytes(&bytes)),
    ];
    let program = Program::compile(src, None).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    program.eval(&env).map_err(|e| e.kind)
}
