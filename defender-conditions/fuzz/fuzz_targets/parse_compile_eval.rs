//! Fuzz target: parse, print and re-parse, compile (with and without a schema), evaluate.
//! Nothing may panic; printing a parsed program and parsing it again must give the same program.
#![no_main]

use std::sync::LazyLock;

use defender_conditions::{compile, parse, JsonEnv, Schema};
use libfuzzer_sys::fuzz_target;

static DATA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_json::json!({
        "params": {
            "from": "0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad",
            "to": "0xD5180D374B6D1961BA24D0A4DBF26D696FDA4CAD",
            "value": "5000000000000000000",
            "vals": [5, "6", 7],
            "s": { "c": true, "d": "hello", "e": [1, [2, 3]] },
            "neg": -5,
            "status": "failed",
            "n": null,
            "b": true
        },
        "args": ["0xd5180d374b6d1961ba24d0a4dbf26d696fda4cad", "hello", [1, 2, {"c": "x"}], 42]
    })
});

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::from_signature(
        "Ev(address from, string hello, (uint8 a, bool c)[] items, int256 neg, bytes32 h, uint256[3] vals, uint256 value)",
    )
    .unwrap_or_default()
});

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Schema::from_signature(src);
    let Ok(ast) = parse(src) else {
        return;
    };
    let printed = ast.to_string();
    let reparsed = parse(&printed).expect("printed program must parse");
    assert_eq!(reparsed.to_string(), printed, "print/parse round trip");
    let env = JsonEnv::match_reason(&DATA);
    if let Ok(program) = compile(&ast, None) {
        let _ = program.eval(&env);
    }
    if let Ok(program) = compile(&ast, Some(&SCHEMA)) {
        let _ = program.eval(&env);
    }
});
