//! Results and errors: the handler's value as JSON, `undefined` as `null`, thrown errors,
//! and code that cannot run.

use super::{action_id, event, messages, ok, run, script, thrown, VERSION};
use crate::runtime::{ActionCode, ActionRuntime, CodeSource, RunError};
use crate::wire::ErrorType;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// The handler's value comes back as JSON, exactly, whichever CommonJS form exports it.
pub async fn returns_json(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async (event) => ({ text: 'héllo 東京 🦀', int: 42, \
             float: 1.5, negative: -7, yes: true, no: false, nothing: null, \
             list: [1, 'two', [3]], nested: { deep: { key: 'value' } } });",
            json!({
                "text": "héllo 東京 🦀", "int": 42, "float": 1.5, "negative": -7, "yes": true,
                "no": false, "nothing": null, "list": [1, "two", [3]],
                "nested": { "deep": { "key": "value" } }
            }),
        ),
        (
            "exports.handler = async () => 'a string';",
            json!("a string"),
        ),
        ("exports.handler = async () => 7;", json!(7)),
        ("exports.handler = async () => false;", json!(false)),
        ("exports.handler = async () => [1, 'x'];", json!([1, "x"])),
        ("exports.handler = async () => null;", Value::Null),
        (
            "module.exports.handler = async function (event) { \
             return { form: 'module.exports' }; };",
            json!({ "form": "module.exports" }),
        ),
        (
            "exports.handler = async function (event) { \
             await new Promise((resolve) => setTimeout(resolve, 5)); return { awaited: true }; };",
            json!({ "awaited": true }),
        ),
    ];
    for (source, expected) in cases {
        let code = script("returns-json", source);
        let got = ok(
            run(rt, &code, event("returns-json")).await,
            &format!("returns_json: {source}"),
        );
        assert_eq!(got, expected, "the handler's value as JSON, for {source}");
    }
}

/// A handler that returns nothing, or `undefined`, gives `Value::Null`.
pub async fn undefined_is_null(rt: &dyn ActionRuntime) {
    for source in [
        "exports.handler = async () => {};",
        "exports.handler = async () => undefined;",
        "exports.handler = async (event) => { console.log('nothing to return'); return; };",
    ] {
        let code = script("undefined", source);
        let got = ok(
            run(rt, &code, event("undefined")).await,
            &format!("undefined_is_null: {source}"),
        );
        assert_eq!(got, Value::Null, "undefined is null, for {source}");
    }
}

/// A thrown `Error`, a rejected promise and a thrown string give [`RunError::Thrown`] with the
/// message, keeping the lines logged before; the next run works.
pub async fn thrown_errors(rt: &dyn ActionRuntime) {
    let cases = [
        (
            "exports.handler = async () => { console.log('before the throw'); \
             throw new Error('boom 42'); };",
            "boom 42",
        ),
        (
            "exports.handler = () => { console.log('before the throw'); \
             return Promise.reject(new Error('rejected 7')); };",
            "rejected 7",
        ),
        (
            "exports.handler = async () => { console.log('before the throw'); await null; \
             throw new TypeError('late type error'); };",
            "late type error",
        ),
        (
            "exports.handler = async () => { console.log('before the throw'); \
             throw 'plain text thrown'; };",
            "plain text thrown",
        ),
    ];
    for (source, expected) in cases {
        let code = script("throws", source);
        let outcome = run(rt, &code, event("throws")).await;
        let (message, _stack) = thrown(&outcome, source);
        assert_eq!(
            message, expected,
            "the thrown error's message, for {source}"
        );
        assert_eq!(
            messages(&outcome),
            ["before the throw"],
            "a failed run keeps what it logged, for {source}"
        );
    }
    let code = script("after-throw", "exports.handler = async () => 'still fine';");
    let got = ok(
        run(rt, &code, event("after-throw")).await,
        "a run after throws",
    );
    assert_eq!(got, json!("still fine"));
}

/// A syntax error, a missing handler, a handler that is not a function and a bundle without
/// `index.js` are [`RunError::InvalidCode`], a program error.
pub async fn invalid_code(rt: &dyn ActionRuntime) {
    let scripts = [
        "exports.handler = async (event) => { return 1;",
        "exports.somethingElse = async () => 1;",
        "exports.handler = 42;",
    ];
    let mut codes: Vec<(String, ActionCode)> = scripts
        .iter()
        .map(|s| ((*s).to_owned(), script("invalid", *s)))
        .collect();
    codes.push((
        "a bundle without index.js".to_owned(),
        ActionCode {
            action_id: action_id("invalid"),
            version: VERSION.fetch_add(1, Ordering::Relaxed),
            source: CodeSource::Bundle(BTreeMap::from([(
                "main.js".to_owned(),
                Bytes::from_static(b"exports.handler = async () => 1;"),
            )])),
        },
    ));
    for (what, code) in codes {
        let outcome = run(rt, &code, event("invalid")).await;
        match &outcome.result {
            Err(e @ RunError::InvalidCode(_)) => {
                assert_eq!(e.error_type(), ErrorType::Program, "{what}");
            }
            other => panic!("{what}: expected RunError::InvalidCode, got {other:?}"),
        }
    }
}
