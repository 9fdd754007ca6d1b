//! Property tests: printing and re-parsing, exact arithmetic, no panics.

use proptest::prelude::*;

use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::{compile, parse, Program, Value, U256};

fn strip(e: &mut Expr) {
    e.span = 0..0;
    match &mut e.kind {
        ExprKind::List(items) => items.iter_mut().for_each(strip),
        ExprKind::Unary(_, x) | ExprKind::Member(x, _) => strip(x),
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
            strip(a);
            strip(b);
        }
        _ => {}
    }
}

const KEYWORDS: [&str; 9] = [
    "and",
    "or",
    "not",
    "true",
    "false",
    "in",
    "contains",
    "starts_with",
    "ends_with",
];

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("not a keyword", |s| {
        !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
    })
}

fn e(kind: ExprKind) -> Expr {
    Expr { kind, span: 0..0 }
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Contains,
        BinaryOp::StartsWith,
        BinaryOp::EndsWith,
        BinaryOp::In,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
        BinaryOp::Pow,
    ])
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        any::<[u64; 4]>().prop_map(|l| e(ExprKind::Number(U256::from_limbs(l)))),
        (0u64..1000).prop_map(|n| e(ExprKind::Number(U256::from(n)))),
        any::<String>().prop_map(|s| e(ExprKind::Str(s))),
        ident().prop_map(|s| e(ExprKind::Var(s))),
        (0usize..20).prop_map(|i| e(ExprKind::Position(i))),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            (prop::bool::ANY, inner.clone()).prop_map(|(not, x)| e(ExprKind::Unary(
                if not { UnaryOp::Not } else { UnaryOp::Neg },
                Box::new(x)
            ))),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, a, b)| e(ExprKind::Binary(
                op,
                Box::new(a),
                Box::new(b)
            ))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| e(ExprKind::Index(Box::new(a), Box::new(b)))),
            (
                inner.clone(),
                prop_oneof![ident(), "[a-z]{1,4}", "[0-9]{1,3}"]
            )
                .prop_map(|(a, n)| e(ExprKind::Member(Box::new(a), n))),
            prop::collection::vec(inner, 0..4).prop_map(|v| e(ExprKind::List(v))),
        ]
    })
}

fn env_json() -> serde_json::Value {
    serde_json::json!({
        "params": { "value": "5000000000000000000", "a": true, "b": [1, 2, "x"], "s": "hello",
                    "o": { "c": 1 } },
        "args": ["0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad", 3, [1, [2]]]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Printing a syntax tree and parsing the text gives the same tree back.
    #[test]
    fn print_then_parse_is_identity(tree in expr()) {
        let text = tree.to_string();
        let mut parsed = parse(&text).map_err(|errs| TestCaseError::fail(format!("{text}: {errs:?}")))?.expr;
        strip(&mut parsed);
        prop_assert_eq!(parsed, tree, "{}", text);
    }

    /// Parsing, printing and parsing again is stable, and compiling and evaluating never panic.
    #[test]
    fn parse_print_parse_is_stable_and_nothing_panics(tree in expr()) {
        let text = tree.to_string();
        let ast = parse(&text).map_err(|errs| TestCaseError::fail(format!("{text}: {errs:?}")))?;
        let again = parse(&ast.to_string()).map_err(|errs| TestCaseError::fail(format!("{errs:?}")))?;
        prop_assert_eq!(again.to_string(), text);
        let json = env_json();
        let env = crate::JsonEnv::match_reason(&json);
        if let Ok(p) = compile(&ast, None) {
            let _ = p.eval(&env);
        }
        let schema = crate::Schema::from_signature("E(uint256 value, bool a, string s, uint8[] b)").map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Ok(p) = compile(&ast, Some(&schema)) {
            let _ = p.eval(&env);
        }
    }

    /// Arbitrary text never panics the parser, and what parses prints to text that parses the same.
    #[test]
    fn arbitrary_text_never_panics(text in "[ -~]{0,60}|[()\\[\\]!$.0-9a-fx+*^%<>=&|'\" -]{0,40}") {
        if let Ok(ast) = parse(&text) {
            let printed = ast.to_string();
            let again = parse(&printed).map_err(|errs| TestCaseError::fail(format!("{printed}: {errs:?}")))?;
            prop_assert_eq!(again.to_string(), printed);
            let json = env_json();
            if let Ok(p) = compile(&ast, None) {
                let _ = p.eval(&crate::JsonEnv::match_reason(&json));
            }
        }
    }

    /// Integer semantics are exact: hex and decimal agree, results match 128-bit arithmetic.
    #[test]
    fn exact_integer_arithmetic(a in any::<u64>(), b in any::<u64>()) {
        let (a128, b128) = (u128::from(a), u128::from(b));
        let env: [(&str, Value<'_>); 2] = [("a", Value::from(a)), ("b", Value::from(b))];
        let check = |src: String, expected: bool| -> Result<(), TestCaseError> {
            let p = Program::compile(&src, None).map_err(|e| TestCaseError::fail(format!("{src}: {e:?}")))?;
            prop_assert_eq!(p.eval(&env), Ok(expected), "{}", src);
            Ok(())
        };
        check(format!("a * b == {}", a128 * b128), true)?;
        check(format!("a + b == 0x{:x}", a128 + b128), true)?;
        check("a < b".to_string(), a < b)?;
        check(format!("0x{a:x} == {a}"), true)?;
        check(format!("a - b == {}", i128::from(a) - i128::from(b)), true).or_else(|_| {
            // unsigned subtraction below zero is an underflow error
            let p = Program::compile("a - b == 0", None).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert!(a < b);
            prop_assert_eq!(p.eval(&env).map_err(|e| e.kind), Err(crate::EvalErrorKind::Underflow));
            Ok(())
        })?;
        check(format!("-a - b == -{}", a128 + b128), true)?;
        if let (Some(q), Some(r)) = (a.checked_div(b), a.checked_rem(b)) {
            check(format!("a / b == {q} and a % b == {r}"), true)?;
        }
    }
}
