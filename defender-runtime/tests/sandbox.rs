//! The core sandbox: handler forms, require, globals, errors, logs, redaction, Node's core
//! modules (the contexts behind runs: `sandbox_contexts.rs`).

mod common;

use bytes::Bytes;
use common::*;
use defender_core::{
    encode_logs, ActionCode, ActionRuntime, CodeSource, ErrorType, LogLevel, RunError,
};
use defender_runtime::{load_bundle_dir, load_bundle_zip, QuickJsRuntime, RuntimeConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

fn bundle(files: &[(&str, &str)]) -> ActionCode {
    let mut code = script("");
    code.source = CodeSource::Bundle(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
            .collect::<BTreeMap<_, _>>(),
    );
    code
}

#[tokio::test]
async fn hello_world_commonjs_and_logs() {
    let rt = QuickJsRuntime::default();
    let out = run(
        &rt,
        "exports.handler = async function(event) { console.log('hi', 1, {a:[1,'x']}); console.warn('w %s=%d', 'n', 5); console.error(new Error('bad')); console.debug('d'); return { hello: 'world', id: event.actionId }; }",
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!({"hello": "world", "id": "test-action"})
    );
    let levels: Vec<LogLevel> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Debug
        ]
    );
    assert_eq!(out.logs[0].message, "hi 1 { a: [ 1, \"x\" ] }");
    assert_eq!(out.logs[1].message, "w n=5");
    assert!(out.logs[2].message.starts_with("Error: bad"));
    let encoded = encode_logs(&out.logs);
    assert!(!encoded.is_empty());
}

#[tokio::test]
async fn handler_forms() {
    let rt = QuickJsRuntime::default();
    for src in [
        "module.exports.handler = async () => 1;",
        "module.exports = { handler: () => 1 };",
        "exports.handler = function () { return Promise.resolve(1); };",
        "export async function handler(event, context) { return 1; }",
        "async function handler() { return 1; }\nexport { handler };",
        "\"use strict\";\nObject.defineProperty(exports, \"__esModule\", { value: true });\nexports.handler = void 0;\nasync function handler(event) { return 1; }\nexports.handler = handler;\n",
    ] {
        let out = run(&rt, src).await;
        assert_eq!(out.result.unwrap(), json!(1), "{src}");
    }
}

#[tokio::test]
async fn commonjs_is_sloppy_unless_it_says_use_strict() {
    // As in Node: an undeclared assignment makes a global, a plain call's `this` is the
    // global object, and 'use strict' (in a file or a function) turns both off.
    let rt = QuickJsRuntime::default();
    let out = run(
        &rt,
        "counter = 0;\nfunction whoAmI() { return this === globalThis; }\nexports.handler = async () => [++counter, whoAmI(), (function () { 'use strict'; return this; })() === undefined, 010];",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!([1, true, true, 8]));
    let out = run(
        &rt,
        "'use strict';\nexports.handler = async () => { undeclared = 1; };",
    )
    .await;
    match out.result {
        Err(RunError::Thrown { message, .. }) => {
            assert!(message.contains("undeclared"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn results_and_errors() {
    let rt = QuickJsRuntime::default();
    assert_eq!(
        run(&rt, "exports.handler = async () => undefined;")
            .await
            .result
            .unwrap(),
        json!(null)
    );
    assert_eq!(
        run(&rt, "exports.handler = async () => 10n;")
            .await
            .result
            .unwrap(),
        json!("10")
    );
    let out = run(
        &rt,
        "exports.handler = async () => { throw new Error('boom'); };",
    )
    .await;
    match out.result {
        Err(RunError::Thrown { message, stack }) => {
            assert_eq!(message, "boom");
            assert!(stack.unwrap().contains("index.js"));
        }
        other => panic!("{other:?}"),
    }
    let out = run(&rt, "exports.handler = () => Promise.reject('plain');").await;
    assert!(matches!(out.result, Err(RunError::Thrown { ref message, .. }) if message == "plain"));
    let out = run(
        &rt,
        "exports.handler = async () => { const o = {}; o.o = o; return o; };",
    )
    .await;
    // A value JSON cannot carry is an error of its own type, not a thrown error.
    assert!(
        matches!(out.result, Err(RunError::InvalidResult(ref m)) if m.contains("circular")),
        "{:?}",
        out.result
    );
    let out = run(&rt, "exports.handler = async ( => 1;").await;
    assert!(
        matches!(out.result, Err(RunError::InvalidCode(_))),
        "{:?}",
        out.result
    );
    let out = run(&rt, "exports.notAHandler = 1;").await;
    assert!(matches!(out.result, Err(RunError::InvalidCode(_))));
    assert_eq!(out.result.unwrap_err().error_type(), ErrorType::Program);
}

#[tokio::test]
async fn bundles_require_and_json() {
    let rt = QuickJsRuntime::default();
    let code = bundle(&[
        ("index.js", "const u = require('./lib/util'); const d = require('./data.json'); const p = require('pkg'); exports.handler = async () => ({ sum: u.add(1, 2), name: d.name, pkg: p.name, same: require('./lib/util.js') === u, main: require.main === module });"),
        ("lib/util.js", "exports.add = (a, b) => a + b;"),
        ("data.json", "{\"name\": \"data\"}"),
        ("node_modules/pkg/package.json", "{\"main\": \"main.js\"}"),
        ("node_modules/pkg/main.js", "module.exports = { name: 'pkg-' + require('./inner').x };"),
        ("node_modules/pkg/inner.js", "exports.x = 7;"),
    ]);
    let out = rt.run(&code, request(event())).await;
    assert_eq!(
        out.result.unwrap(),
        json!({"sum": 3, "name": "data", "pkg": "pkg-7", "same": true, "main": false})
    );
    let out = rt
        .run(
            &bundle(&[("index.js", "require('./missing');")]),
            request(event()),
        )
        .await;
    assert!(
        matches!(out.result, Err(RunError::Thrown { ref message, .. }) if message.contains("Cannot find module")),
        "{:?}",
        out.result
    );
    let out = rt.run(&bundle(&[("main.js", "")]), request(event())).await;
    assert!(matches!(out.result, Err(RunError::InvalidCode(_))));
}

#[tokio::test]
async fn require_resolutions_are_remembered_per_action_version() {
    // The same request from the same directory resolves to different files in two versions.
    let rt = QuickJsRuntime::default();
    let index = "exports.handler = async () => [require('./lib'), require.resolve('./lib')];";
    let v1 = bundle(&[("index.js", index), ("lib.js", "module.exports = 1;")]);
    let v2 = bundle(&[("index.js", index), ("lib/index.js", "module.exports = 2;")]);
    for _ in 0..2 {
        let one = rt.run(&v1, request(event())).await;
        assert_eq!(one.result.unwrap(), json!([1, "/action/lib.js"]));
        let two = rt.run(&v2, request(event())).await;
        assert_eq!(two.result.unwrap(), json!([2, "/action/lib/index.js"]));
    }
}

#[tokio::test]
async fn local_run_block_does_not_run() {
    let rt = QuickJsRuntime::default();
    let out = run(&rt, "exports.handler = async () => 'ok';\nif (require.main === module) { throw new Error('local block ran'); }").await;
    assert_eq!(out.result.unwrap(), json!("ok"));
}

#[tokio::test]
async fn bundle_loaders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    std::fs::write(
        dir.path().join("index.js"),
        "exports.handler = async () => require('./lib/x').x;",
    )
    .unwrap();
    std::fs::write(dir.path().join("lib/x.js"), "exports.x = 'dir';").unwrap();
    let src = load_bundle_dir(dir.path()).unwrap();
    let rt = QuickJsRuntime::default();
    let mut code = script("");
    code.source = src;
    assert_eq!(
        rt.run(&code, request(event())).await.result.unwrap(),
        json!("dir")
    );

    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("index.js", opts).unwrap();
        z.write_all(b"exports.handler = async () => require('./a/b.json').v;")
            .unwrap();
        z.start_file("a/b.json", opts).unwrap();
        z.write_all(b"{\"v\": \"zip\"}").unwrap();
        z.finish().unwrap();
    }
    // A new version of the code: the bytecode cache is per (action, version, file).
    let mut code = script("");
    code.source = load_bundle_zip(buf.get_ref()).unwrap();
    assert_eq!(
        rt.run(&code, request(event())).await.result.unwrap(),
        json!("zip")
    );

    // Too large: a zip bomb of spaces is refused without inflating it all.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("index.js", opts).unwrap();
        z.write_all(&vec![b' '; defender_core::MAX_UNCOMPRESSED_CODE_BYTES + 1])
            .unwrap();
        z.finish().unwrap();
    }
    assert!(matches!(
        load_bundle_zip(buf.get_ref()),
        Err(defender_runtime::BundleError::TooLarge { .. })
    ));
    assert!(load_bundle_zip(b"not a zip").is_err());

    // Too large script.
    let big = script(&"x".repeat(defender_core::MAX_UNCOMPRESSED_CODE_BYTES + 1));
    assert!(matches!(
        rt.run(&big, request(event())).await.result,
        Err(RunError::CodeTooLarge { .. })
    ));
}

#[tokio::test]
async fn globals() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_env("MODE", "test"));
    let out = run(&rt, r#"
exports.handler = async () => {
  const order = [];
  await new Promise((r) => setTimeout(() => { order.push('timeout'); r(); }, 5));
  queueMicrotask(() => order.push('micro'));
  await null;
  let n = 0;
  await new Promise((r) => { const id = setInterval(() => { if (++n === 3) { clearInterval(id); r(); } }, 1); });
  const cleared = setTimeout(() => order.push('never'), 1); clearTimeout(cleared);
  await new Promise((r) => setTimeout(r, 10));
  const enc = new TextEncoder().encode('héllo €');
  const url = new URL('https://user@example.com:8080/a/b/../c?x=1&y=two#h');
  url.searchParams.append('z', 'a b');
  const u8 = new Uint8Array(16); crypto.getRandomValues(u8);
  return {
    order, n,
    enc: Array.from(enc), dec: new TextDecoder().decode(enc),
    url: [url.hostname, url.port, url.pathname, url.searchParams.get('y'), url.hash, url.href],
    rel: new URL('../x?q', 'https://a.com/b/c/d').href,
    sp: new URLSearchParams({ a: '1', b: 'x y' }).toString(),
    b64: [btoa('hello'), atob('aGVsbG8=')],
    buf: [Buffer.from('hello').toString('hex'), Buffer.from('68656c6c6f', 'hex').toString(), Buffer.from('aGk=', 'base64').toString('utf8'), Buffer.concat([Buffer.from([1]), Buffer.from([2])]).length, Buffer.isBuffer(Buffer.alloc(2))],
    uuid: /^[0-9a-f-]{36}$/.test(crypto.randomUUID()),
    random: u8.some((b) => b !== 0),
    env: process.env, typeofFetch: typeof fetch, headers: new Headers({ 'X-A': '1' }).get('x-a'),
  };
};"#).await;
    let v = out.result.unwrap();
    assert_eq!(v["order"], json!(["timeout", "micro"]));
    assert_eq!(v["n"], json!(3));
    assert_eq!(
        v["enc"],
        json!([104, 195, 169, 108, 108, 111, 32, 226, 130, 172])
    );
    assert_eq!(v["dec"], json!("héllo €"));
    assert_eq!(
        v["url"],
        json!([
            "example.com",
            "8080",
            "/a/c",
            "two",
            "#h",
            "https://user@example.com:8080/a/c?x=1&y=two&z=a+b#h"
        ])
    );
    assert_eq!(v["rel"], json!("https://a.com/b/x?q"));
    assert_eq!(v["sp"], json!("a=1&b=x+y"));
    assert_eq!(v["b64"], json!(["aGVsbG8=", "hello"]));
    assert_eq!(v["buf"], json!(["68656c6c6f", "hello", "hi", 2, true]));
    assert_eq!(v["uuid"], json!(true));
    assert_eq!(v["random"], json!(true));
    assert_eq!(v["env"], json!({"MODE": "test"}));
    assert_eq!(v["typeofFetch"], json!("function"));
    assert_eq!(v["headers"], json!("1"));
    // process.env is empty unless configured.
    let rt = QuickJsRuntime::default();
    assert_eq!(
        run(&rt, "exports.handler = async () => process.env;")
            .await
            .result
            .unwrap(),
        json!({})
    );
}

#[tokio::test]
async fn secrets_are_redacted() {
    let rt = QuickJsRuntime::default();
    let mut ev = event();
    ev.secrets = Some([("apiKey".to_string(), "sk-live-123456".to_string())].into());
    let code = script("exports.handler = async (event) => { console.log('key is', event.secrets.apiKey); if (event.request) throw new Error('bad ' + event.secrets.apiKey); return { key: event.secrets.apiKey, nested: ['x-' + event.secrets.apiKey] }; };");
    let out = rt.run(&code, request(ev.clone())).await;
    // The returned value goes to the run's caller as the handler produced it (Defender
    // actions return values kept in secrets on purpose); only logs and errors are redacted.
    assert_eq!(
        out.result.unwrap(),
        json!({"key": "sk-live-123456", "nested": ["x-sk-live-123456"]})
    );
    assert_eq!(out.logs[0].message, "key is [REDACTED]");
    ev.request = Some(Default::default());
    let out = rt.run(&code, request(ev)).await;
    match out.result {
        Err(RunError::Thrown { message, stack }) => {
            assert_eq!(message, "bad [REDACTED]");
            assert!(!stack.unwrap_or_default().contains("sk-live"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn webhook_hello_world_and_secrets_examples() {
    // The webhook example of Defender's documentation.
    let rt = QuickJsRuntime::default();
    let mut ev = event();
    ev.request = Some(
        serde_json::from_value(
            json!({"body": {"a": 1}, "headers": {"X-Foo": "bar"}, "queryParameters": {"q": "1"}}),
        )
        .unwrap(),
    );
    let code = script("exports.handler = async function(event) {\n  const { body, headers, queryParameters } = event.request;\n  return { hello: 'world', body, headers, queryParameters };\n}");
    let out = rt.run(&code, request(ev)).await;
    assert_eq!(
        out.result.unwrap(),
        json!({"hello": "world", "body": {"a": 1}, "headers": {"X-Foo": "bar"}, "queryParameters": {"q": "1"}})
    );
    // The secrets example.
    let mut ev = event();
    ev.secrets = Some(
        [
            ("mySecret".to_string(), "m-value".to_string()),
            ("anApiKey".to_string(), "k-value".to_string()),
        ]
        .into(),
    );
    let code = script("exports.handler = async function(event) {\n  const { mySecret, anApiKey } = event.secrets;\n  return { ok: mySecret === 'm-value' && anApiKey === 'k-value' };\n}");
    assert_eq!(
        rt.run(&code, request(ev)).await.result.unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn node_core_modules() {
    let rt = QuickJsRuntime::default();
    let out = run(&rt, "const E = require('events'); const path = require('node:path'); const fs = require('fs'); const c = require('crypto');\nexports.handler = async () => { const e = new E(); let got; e.on('x', (v) => { got = v; }); e.emit('x', 5); let err; try { fs.readFileSync('/etc/passwd'); } catch (x) { err = x.message; } return [got, path.join('/a', 'b', '../c'), err, c.randomBytes(4).length]; };").await;
    assert_eq!(
        out.result.unwrap(),
        json!([
            5,
            "/a/c",
            "'fs.readFileSync' is not available in the action sandbox",
            4
        ])
    );
}

#[tokio::test]
async fn ethers_v5_and_v6_load_from_node_modules() {
    if !npm_fixture_ready() {
        return;
    }
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let out = run(&rt, "const { ethers } = require('ethers'); exports.handler = async () => [ethers.version, ethers.utils.keccak256('0x1234')];").await;
    assert_eq!(
        out.result.unwrap(),
        json!([
            "ethers/5.7.2",
            "0x56570de287d73cd1cb6092bb8fdee6173974955fdef345ae579ee9f475ea7432"
        ]),
        "{:?}",
        out.logs
    );
    let out = run(&rt, "const { ethers } = require('ethers6'); exports.handler = async () => [ethers.version, ethers.keccak256('0x1234')];").await;
    assert_eq!(
        out.result.unwrap(),
        json!([
            "6.13.4",
            "0x56570de287d73cd1cb6092bb8fdee6173974955fdef345ae579ee9f475ea7432"
        ]),
        "{:?}",
        out.logs
    );
}
