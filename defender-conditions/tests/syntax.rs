//! Table-driven tests of parsing and compiling: precedence and associativity as printed,
//! every syntax error with its span, nesting and size limits, compile errors against a
//! schema, and schemas built from signatures. `language.rs` holds evaluation.

mod language_support;

use defender_conditions::{compile, parse, ErrorKind, Program, Schema};
use language_support::run;

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
