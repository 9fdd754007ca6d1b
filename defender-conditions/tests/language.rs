//! Table-driven tests of the language: every operator, precedence, associativity, literals,
//! value kinds, and every error kind.

use defender_conditions::{
    compile, parse, Address, ErrorKind, EvalErrorKind, Program, Schema, Value, I256, U256,
};

fn u(n: u64) -> Value<'static> {
    Value::Uint(U256::from(n))
}

const ADDR: &str = "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad";

fn addr() -> Address {
    ADDR.parse().expect("address")
}

/// Evaluates `src` (no schema) over a fixed typed environment.
fn run(src: &str) -> Result<bool, EvalErrorKind> {
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
fn printed_shapes_show_precedence_and_associativity() {
    let table: &[(&str, &str)] = &[
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("not a and b", "((not a) and b)"),
        ("not a == b", "(not (a == b))"),
        ("!a == b", "(not (a == b))"),
        ("a == b + c", "(a == (b + c))"),
        ("a + b * c", "(a + (b * c))"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b * c % d", "(((a / b) * c) % d)"),
        ("a * b ^ c", "(a * (b ^ c))"),
        ("a ^ b ^ c", "(a ^ (b ^ c))"),
        ("-a ^ b", "(-(a ^ b))"),
        ("-a * b", "((-a) * b)"),
        ("a < b == c", "((a < b) == c)"),
        ("a in [1, b + 1] or c", "((a in [1, (b + 1)]) or c)"),
        ("x contains 'y' and z", "((x contains \"y\") and z)"),
        ("$1[2].c", "$1[2].c"),
        ("a.b[0].c", "a.b[0].c"),
        ("a || b && !c", "(a or (b and (not c)))"),
        ("0x10 + 1e2", "(16 + 100)"),
        ("orders > 1 and android", "((orders > 1) and android)"),
        ("inx in [1]", "(inx in [1])"),
    ];
    for (src, printed) in table {
        let ast = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        assert_eq!(ast.to_string(), *printed, "{src}");
    }
}

#[test]
fn parse_errors_have_kinds_and_spans() {
    let table: &[(&str, ErrorKind, std::ops::Range<usize>)] = &[
        ("value >", ErrorKind::Syntax, 7..7),
        ("value 5", ErrorKind::Syntax, 6..7),
        ("(value > 5", ErrorKind::Syntax, 0..1),
        ("value > 5)", ErrorKind::Syntax, 9..10),
        ("value = 5", ErrorKind::Syntax, 6..7),
        ("status == \"failed", ErrorKind::Syntax, 10..17),
        ("", ErrorKind::Syntax, 0..0),
        ("123abc > 1", ErrorKind::Syntax, 0..1),
        ("value > 1e99", ErrorKind::InvalidNumber, 8..12),
        (
            "value > 0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            ErrorKind::InvalidNumber,
            8..75,
        ),
        ("value > 1.5", ErrorKind::InvalidNumber, 8..11),
        (
            "$99999999999999999999999 == 1",
            ErrorKind::InvalidNumber,
            0..24,
        ),
        ("s == 'a\\qb'", ErrorKind::InvalidString, 7..9),
        ("s == '\\u{110000}'", ErrorKind::InvalidString, 6..16),
        ("s == '\\xff'", ErrorKind::InvalidString, 6..10),
    ];
    for (src, kind, span) in table {
        let errors = parse(src).expect_err(src);
        assert_eq!(errors[0].kind, *kind, "{src}: {errors:?}");
        assert_eq!(errors[0].span, *span, "{src}: {errors:?}");
        assert!(!errors[0].message.is_empty());
    }
}

#[test]
fn parse_reports_every_syntax_error_of_an_and_or_chain() {
    let src = "value > and to == 5 or nonce <  && (gas";
    let errors = parse(src).expect_err("errors");
    let spans: Vec<_> = errors.iter().map(|e| e.span.clone()).collect();
    assert!(
        errors.iter().all(|e| e.kind == ErrorKind::Syntax),
        "{errors:?}"
    );
    // `value >` misses its right side, `nonce <` too, and `(gas` is never closed.
    assert_eq!(spans.len(), 3, "{errors:?}");
    assert_eq!(&src[spans[0].start..], "and to == 5 or nonce <  && (gas");
    assert!(spans[1].start > src.find("nonce").unwrap(), "{errors:?}");
    assert_eq!(&src[spans[2].clone()], "(");

    // An empty operand is reported where it is.
    let errors = parse("a == 1 and and b == 2").expect_err("errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].span, 11..11);

    // Errors inside one operand are reported once; valid chains still parse.
    assert_eq!(parse("value > > 1").expect_err("errors").len(), 1);
    assert!(parse("a == 'x and y' or b == 1").is_ok());
}

#[test]
fn parse_reports_every_bad_literal() {
    let errors = parse("a == 1e99 or b == 'x\\q' or c == 0.5").expect_err("errors");
    let kinds: Vec<ErrorKind> = errors.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::InvalidNumber,
            ErrorKind::InvalidString,
            ErrorKind::InvalidNumber
        ]
    );
}

#[test]
fn nesting_and_size_limits_are_errors_not_crashes() {
    let deep = format!("{}1{} == 1", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(parse(&deep).expect_err("deep")[0].kind, ErrorKind::Syntax);
    let nots = format!("{}true", "!".repeat(100_000));
    assert_eq!(parse(&nots).expect_err("nots")[0].kind, ErrorKind::Syntax);
    let chain = format!("1{} == 1", " + 1".repeat(5_000));
    assert_eq!(parse(&chain).expect_err("chain")[0].kind, ErrorKind::Syntax);
    let ok = format!("{}1{} == 1", "(".repeat(300), ")".repeat(300));
    assert!(Program::compile(&ok, None).is_ok());
    // The worst accepted case: the deepest nesting around the longest right-associative chain.
    let worst = format!(
        "{}2{}{} == 2",
        "(".repeat(60),
        " ^ 1".repeat(255),
        ")".repeat(60)
    );
    assert_eq!(run(&worst), Ok(true));
    let parens = format!("{}2{} == 2", "(".repeat(400), ")".repeat(400));
    assert!(parse(&parens).is_ok());
    let too_deep = format!("x in {}1{}", "[".repeat(330), "]".repeat(330));
    assert!(matches!(parse(&too_deep), Err(e) if e[0].kind == ErrorKind::Syntax));
    let negs = format!("{}1 == 1", "- ".repeat(255));
    assert_eq!(run(&negs), Ok(false));
    let too_many = format!("2{} == 2", " ^ 1".repeat(256));
    assert_eq!(
        parse(&too_many).expect_err("too many")[0].kind,
        ErrorKind::Syntax
    );
}

fn schema() -> Schema {
    Schema::from_signature(
        "Ev(address from, string status, uint256 value, int8 small, bool flag, uint256[3] vals, \
         (uint8 a, string c) t, bytes32 h, (uint256 x)[] items)",
    )
    .expect("schema")
}

#[test]
fn compile_errors_against_a_schema() {
    let s = schema();
    let table: &[(&str, ErrorKind)] = &[
        ("valu > 1", ErrorKind::UnknownVariable),
        ("$9 == 1", ErrorKind::UnknownPosition),
        ("t.d == 1", ErrorKind::UnknownMember),
        ("value.x == 1", ErrorKind::UnknownMember),
        ("vals[3] == 1", ErrorKind::IndexOutOfBounds),
        ("t[5] == 1", ErrorKind::IndexOutOfBounds),
        ("value > \"x\"", ErrorKind::TypeMismatch),
        ("value == \"x\"", ErrorKind::TypeMismatch),
        ("status > 'a'", ErrorKind::TypeMismatch),
        ("status < 1", ErrorKind::TypeMismatch),
        ("'a' < 'b'", ErrorKind::TypeMismatch),
        ("from == 'bob'", ErrorKind::TypeMismatch),
        ("flag > 1", ErrorKind::TypeMismatch),
        ("value + flag > 1", ErrorKind::TypeMismatch),
        ("value", ErrorKind::TypeMismatch),
        ("1 + 1", ErrorKind::TypeMismatch),
        ("not value", ErrorKind::TypeMismatch),
        ("value and flag", ErrorKind::TypeMismatch),
        ("value == flag", ErrorKind::TypeMismatch),
        ("value contains 'a'", ErrorKind::TypeMismatch),
        ("value in 5", ErrorKind::TypeMismatch),
        ("[1, 2] == vals", ErrorKind::TypeMismatch),
        ("value[0] == 1", ErrorKind::TypeMismatch),
        ("vals['a'] == 1", ErrorKind::TypeMismatch),
        ("-status == 1", ErrorKind::TypeMismatch),
        ("h == 'zz'", ErrorKind::TypeMismatch),
    ];
    for (src, kind) in table {
        let ast = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        let errors = compile(&ast, Some(&s)).expect_err(src);
        assert_eq!(errors[0].kind, *kind, "{src}: {errors:?}");
        assert!(errors[0].span.end <= src.len(), "{src}");
    }
    // and the same conditions that are fine
    for src in [
        "value > 1 and from == '0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD'",
        "status == 'failed' and status contains 'fail'",
        "vals[2] == 1 and t.a == 1 and t.c == 'x' and t[1] == 'y' and $0 == from",
        "small < -1 and h == 0x01 and items[0].x == 3 and flag",
        "value == '1000' and 5 in vals and vals contains 5",
    ] {
        assert!(Program::compile(src, Some(&s)).is_ok(), "{src}");
    }
}

#[test]
fn compile_reports_every_error_with_its_span() {
    let src = "valu > 1 or status > 'a' or $12 == 1";
    let errors = compile(&parse(src).expect("parse"), Some(&schema())).expect_err("errors");
    let got: Vec<(ErrorKind, &str)> = errors
        .iter()
        .map(|e| (e.kind, &src[e.span.clone()]))
        .collect();
    assert_eq!(
        got,
        [
            (ErrorKind::UnknownVariable, "valu"),
            (ErrorKind::TypeMismatch, "status"),
            (ErrorKind::TypeMismatch, "'a'"),
            (ErrorKind::UnknownPosition, "$12"),
        ]
    );
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
fn signatures_build_schemas() {
    use defender_conditions::AbiType;
    let s =
        Schema::from_signature("Transfer(address indexed from, address indexed to, uint256 value)")
            .expect("transfer");
    let names: Vec<_> = s.params().iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        names,
        [Some("from".into()), Some("to".into()), Some("value".into())]
    );
    let s = Schema::from_signature("ValsEvent(uint256[3] vals)").expect("vals");
    assert_eq!(
        s.params()[0].ty,
        AbiType::Array(Box::new(AbiType::Uint(256)), Some(3))
    );
    let s = Schema::from_signature("greet(address,string)").expect("greet");
    assert_eq!(s.params().len(), 2);
    assert!(s.params()[1].name.is_none());
    let s = Schema::from_signature(
        "function f(tuple(uint a, bytes32[] b)[2] calldata xs, int) external returns (bool)",
    )
    .expect("tuple");
    assert_eq!(s.params()[0].ty.to_string(), "(uint256 a,bytes32[] b)[2]");
    assert_eq!(s.params()[1].ty, AbiType::Int(256));
    for bad in [
        "",
        "f(",
        "f(uint7 a)",
        "f(foo a)",
        "f(uint256 a b)",
        "(uint256)",
        "f(uint256[x])",
    ] {
        let err = Schema::from_signature(bad).expect_err(bad);
        assert_eq!(err.kind, ErrorKind::InvalidSignature, "{bad}");
    }
    let tx = Schema::transaction();
    assert_eq!(tx.params().len(), 10);
    assert_eq!(tx.position_of("status"), Some(9));
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

#[test]
fn error_recovery_is_safe_on_any_text() {
    for src in [
        "é and ü or",
        "ä > and 'ö' or (ß",
        "\u{1F600} && || \u{1F600}",
        "a == '\\' and b",
        "and",
        "or or or",
        "((a and) or b",
    ] {
        let _ = parse(src);
    }
    let errors = parse("välue > and x <").expect_err("errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
}
