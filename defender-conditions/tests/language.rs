//! Table-driven tests of evaluation: every operator, precedence, associativity, literals and
//! value kinds, every evaluation error, schemas over names and positions, the fast comparison
//! path, and sharing across threads. `syntax.rs` holds parsing and compiling.

mod language_support;

use defender_conditions::{EvalErrorKind, Program, Schema, Value, I256, U256};
use language_support::*;

#[test]
fn operators_true_and_false() {
    let table: &[(&str, bool)] = &[
        // logic, any case, symbols
        ("true and true", true),
        ("true AND false", false),
        ("false Or true", true),
        ("false or false", false),
        ("not false", true),
        ("NOT true", false),
        ("true && false", false),
        ("false || true", true),
        ("!false", true),
        ("!!true", true),
        ("TRUE == True", true),
        // comparisons on numbers
        ("1 == 1", true),
        ("1 != 1", false),
        ("1 < 2", true),
        ("2 < 1", false),
        ("2 <= 2", true),
        ("3 <= 2", false),
        ("3 > 2", true),
        ("2 > 3", false),
        ("2 >= 2", true),
        ("1 >= 2", false),
        ("1 === 1 and 1 !== 2", true),
        // arithmetic
        ("1 + 2 == 3", true),
        ("5 - 2 == 3", true),
        ("4 * 5 == 20", true),
        ("7 / 2 == 3", true),
        ("7 % 4 == 3", true),
        ("2 ^ 10 == 1024", true),
        ("2 ** 10 == 1024", true),
        ("-3 + 1 == -2", true),
        ("-7 / 2 == -3", true),
        ("-7 % 4 == -3", true),
        ("(-2) ^ 3 == -8", true),
        ("neg * neg == 25", true),
        ("neg < 0 and neg < zero", true),
        ("max > neg", true),
        ("max == (2^255 - 1) * 2 + 1", true),
        ("0 - 0 == 0", true),
        // precedence: ^ tightest, right-assoc; then unary -, * / %, + -, comparisons, not, and, or
        ("2 + 3 * 4 == 14", true),
        ("(2 + 3) * 4 == 20", true),
        ("2 * 3 ^ 2 == 18", true),
        ("2 ^ 3 ^ 2 == 512", true),
        ("(2 ^ 3) ^ 2 == 64", true),
        ("-2 ^ 2 == -4", true),
        ("10 - 4 - 3 == 3", true),
        ("100 / 10 / 5 == 2", true),
        ("17 % 5 * 2 == 4", true),
        ("2 * 7 % 5 == 4", true),
        ("1 + 2 < 4", true),
        ("not 1 == 2", true),
        ("not true and false", false),
        ("not (true and false)", true),
        ("true or true and false", true),
        ("(true or true) and false", false),
        ("false and true or true", true),
        ("1 == 1 == true", true),
        ("not false == false", false),
        // number literals
        ("0xabc123 == 11256099", true),
        ("0XFF == 255", true),
        ("1_000_000 == 1000000", true),
        ("1e18 == 1000000000000000000", true),
        ("1.5e3 == 1500", true),
        ("1E3 == 0x3e8", true),
        ("0x1_0 == 16", true),
        ("value == 2e18", true),
        ("value == 0x1bc16d674ec80000", true),
        // strings
        ("'a' == \"a\"", true),
        ("\"a\\\"b\" == 'a\"b'", true),
        ("'\\x41\\u{42}\\n' == \"AB\\n\"", true),
        ("status == \"failed\"", true),
        ("status != 'success'", true),
        ("status == 'FAILED'", false),
        ("name contains 'lo w'", true),
        ("name contains 'xyz'", false),
        ("name starts_with 'hello'", true),
        ("name STARTS_WITH 'world'", false),
        ("name ends_with 'world'", true),
        ("name ends_with 'hello'", false),
        ("name contains ''", true),
        ("hexstr == '0xabcdef'", true),
        ("hexstr starts_with '0xab'", true),
        (
            "decstr == 1000 and decstr > 999 and decstr + 1 == 1001",
            true,
        ),
        ("hexstr == 0xabcdef", true),
        // addresses, case-insensitive
        ("from == '0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad'", true),
        ("from == '0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD'", true),
        ("from == '0xD5180d374b6D1961ba24d0a4dbf26d696fda4cAD'", true),
        (
            "from != '0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad'",
            false,
        ),
        (
            "from == '0x0000000000000000000000000000000000000001'",
            false,
        ),
        ("from == 0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad", true),
        ("from == 'nonsense'", false),
        (
            "from in ['0x01', '0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD']",
            true,
        ),
        // membership, arrays, tuples, bytes
        ("2 in [1, 2, 3]", true),
        ("4 in [1, 2, 3]", false),
        ("status in ['failed', 'reverted']", true),
        ("6 in vals", true),
        ("8 in vals", false),
        ("vals contains 7", true),
        ("vals[0] == 5", true),
        ("vals[1 + 1] == 7", true),
        ("vals.length == 3", true),
        ("vals == vals", true),
        ("t[0] == 1 and t.1 == true", true),
        ("t[2].c == 'deep' and t.2.n == 9", true),
        ("data == '0xDEADBEEF'", true),
        ("data == 0xdeadbeef", true),
        ("data[0] == 0xde", true),
        ("data.length == 4", true),
        ("flag", true),
        ("flag and not !flag", true),
        ("flag == true", true),
        // positions in a slice env
        ("$0 == value", true),
        ("$11[2] == 7", true),
        // short-circuit skips errors
        ("false and 1 / 0 == 1", false),
        ("true or 1 / 0 == 1", true),
    ];
    let mut failures = Vec::new();
    for (src, expected) in table {
        match run(src) {
            Ok(got) if got == *expected => {}
            other => failures.push(format!("{src}: expected {expected}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn eval_errors() {
    let table: &[(&str, EvalErrorKind)] = &[
        ("max + 1 > 0", EvalErrorKind::Overflow),
        ("max * 2 > 0", EvalErrorKind::Overflow),
        ("2 ^ 256 > 0", EvalErrorKind::Overflow),
        ("zero - 1 > 0", EvalErrorKind::Underflow),
        ("1 - 2 < 0", EvalErrorKind::Underflow),
        ("neg - max < 0", EvalErrorKind::Overflow),
        ("-(2^255) - 1 < 0", EvalErrorKind::Underflow),
        ("(-2) ^ 255 * 2 < 0", EvalErrorKind::Underflow),
        ("1 / zero == 0", EvalErrorKind::DivisionByZero),
        ("1 % zero == 0", EvalErrorKind::DivisionByZero),
        ("neg / zero == 0", EvalErrorKind::DivisionByZero),
        ("missing == 1", EvalErrorKind::UnknownVariable),
        ("$99 == 1", EvalErrorKind::UnknownPosition),
        ("t.nope == 1", EvalErrorKind::UnknownMember),
        ("vals[3] == 1", EvalErrorKind::IndexOutOfBounds),
        ("data[4] == 1", EvalErrorKind::IndexOutOfBounds),
        ("status > 1", EvalErrorKind::TypeMismatch),
        ("status + 1 == 1", EvalErrorKind::TypeMismatch),
        ("flag == 1", EvalErrorKind::TypeMismatch),
        ("value", EvalErrorKind::TypeMismatch),
        ("flag and value", EvalErrorKind::TypeMismatch),
        ("value contains 'a'", EvalErrorKind::TypeMismatch),
        ("1 in value", EvalErrorKind::TypeMismatch),
        ("value[0] == 1", EvalErrorKind::TypeMismatch),
        ("2 ^ neg == 0", EvalErrorKind::TypeMismatch),
    ];
    for (src, kind) in table {
        assert_eq!(run(src), Err(*kind), "{src}");
    }
}

#[test]
fn eval_error_spans_point_at_the_failing_part() {
    let src = "value > 1 and missing == 2";
    let p = Program::compile(src, None).expect("compile");
    let env = [("value", u(5))];
    let err = p.eval(&env).expect_err("error");
    assert_eq!(&src[err.span.clone()], "missing");
    let src = "value / (value - 5) > 0";
    let err = Program::compile(src, None)
        .expect("c")
        .eval(&env)
        .expect_err("e");
    assert_eq!(err.kind, EvalErrorKind::DivisionByZero);
    assert_eq!(&src[err.span.clone()], src.split(" >").next().expect("lhs"));
}

#[test]
fn schema_falls_back_between_names_and_positions() {
    let s = Schema::from_signature("greet(address who, string)").expect("schema");
    // The env only knows positions; `who` is found at position 0.
    let who = [Value::Address(addr()), Value::Str("hello")];
    let p = Program::compile(
        "who == '0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD' and $1 == 'hello'",
        Some(&s),
    )
    .expect("compile");
    assert!(p.eval(&who[..]).expect("eval"));
    // The env only knows names; `$0` is found as `who`.
    let named = [("who", Value::Address(addr()))];
    let p = Program::compile("$0 == from_hex_never_used or true", None);
    assert!(p.is_ok());
    let p = Program::compile(&format!("$0 == {ADDR}"), Some(&s)).expect("compile");
    assert!(p.eval(&named).expect("eval"));
}

#[test]
fn programs_and_errors_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Program>();
    assert_send_sync::<Schema>();
    assert_send_sync::<defender_conditions::Error>();
    assert_send_sync::<defender_conditions::EvalError>();
    let p = std::sync::Arc::new(Program::compile("value > 1", None).expect("compile"));
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || p.eval(&[("value", Value::from(i))]))
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("join"))
        .collect();
    assert_eq!(results, [Ok(false), Ok(false), Ok(true), Ok(true)]);
}

/// `variable <op> constant` takes a fast path; it must agree with the general one
/// (reached here through `w[zero]`, a non-constant index to the same value).
#[test]
fn fast_comparisons_agree_with_the_general_path() {
    let bytes = [0xabu8, 0xcd];
    let values: Vec<Value<'_>> = vec![
        u(0),
        u(5),
        Value::Uint(U256::MAX),
        Value::Int(I256::try_from(-5i64).expect("i256")),
        Value::Str("5"),
        Value::Str("-5"),
        Value::Str("0x5"),
        Value::Str("failed"),
        Value::Str("0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD"),
        Value::Str("0xabc"),
        Value::Address(addr()),
        Value::Bool(true),
        Value::Null,
        Value::Bytes(&bytes),
    ];
    let constants = [
        "0",
        "5",
        "-5",
        "6",
        "0xabcd",
        "1e77",
        "'failed'",
        "'FAILED'",
        "'0xABC'",
        "'5'",
        "'0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad'",
        "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad",
        "'0xabcd'",
        "''",
    ];
    let ops = ["==", "!=", "<", "<=", ">", ">="];
    let mut checked = 0;
    for v in &values {
        let w = [*v];
        let s = [("m", *v)];
        let env: [(&str, Value<'_>); 4] = [
            ("x", *v),
            ("w", Value::List(&w)),
            ("zero", u(0)),
            ("s", Value::List(&s)),
        ];
        for k in constants {
            for op in ops {
                for (fast, general) in [
                    (format!("x {op} {k}"), format!("w[zero] {op} {k}")),
                    (format!("{k} {op} x"), format!("{k} {op} w[zero]")),
                    (format!("$0 {op} {k}"), format!("w[zero] {op} {k}")),
                    (format!("w[0] {op} {k}"), format!("w[zero] {op} {k}")),
                    (format!("s.m {op} {k}"), format!("w[zero] {op} {k}")),
                    (format!("$3.m {op} {k}"), format!("w[zero] {op} {k}")),
                    (format!("$3[0] {op} {k}"), format!("w[zero] {op} {k}")),
                ] {
                    let (Ok(f), Ok(g)) = (
                        Program::compile(&fast, None),
                        Program::compile(&general, None),
                    ) else {
                        continue;
                    };
                    let a = f.eval(&env).map_err(|e| e.kind);
                    let b = g.eval(&env).map_err(|e| e.kind);
                    assert_eq!(a, b, "{fast} vs {general} with {v:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
