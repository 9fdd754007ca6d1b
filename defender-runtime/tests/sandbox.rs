//! The core sandbox: handler forms, require, globals, errors, logs, redaction, isolation.

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

    // Too large: a zip bomb of zeros is refused without inflating it all.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("index.js", opts).unwrap();
        z.write_all(&vec![b' '; 6 * 1024 * 1024]).unwrap();
        z.finish().unwrap();
    }
    assert!(matches!(
        load_bundle_zip(buf.get_ref()),
        Err(defender_runtime::BundleError::TooLarge { .. })
    ));
    assert!(load_bundle_zip(b"not a zip").is_err());

    // Too large script.
    let big = script(&"x".repeat(5 * 1024 * 1024 + 1));
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
async fn fresh_context_per_run_warm_policy() {
    // The fresh policy: no global or module state survives a run, even for the same action.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_fresh_contexts());
    let code = script("let count = 0; exports.handler = async () => { globalThis.seen = (globalThis.seen || 0) + 1; Array.prototype.leak = 1; return { count: ++count, seen: globalThis.seen }; };");
    for _ in 0..3 {
        let out = rt.run(&code, request(event())).await;
        assert_eq!(out.result.unwrap(), json!({"count": 1, "seen": 1}));
    }
    let other = run(
        &rt,
        "exports.handler = async () => [typeof globalThis.seen, [].leak === undefined];",
    )
    .await;
    assert_eq!(other.result.unwrap(), json!(["undefined", true]));
    // Bytecode is cached per code version and file.
    assert!(rt.cached_files() >= 1);
}

#[tokio::test]
async fn lazy_globals_are_fresh_per_run() {
    // Globals installed on first use: patched in one run, pristine in the next one.
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_fresh_contexts());
    let code = script("exports.handler = async () => { const before = [typeof URL, Buffer.leak === undefined, typeof fetch]; Buffer.leak = 1; globalThis.TextEncoder = 5; return [before, TextEncoder, Object.getOwnPropertyDescriptor(globalThis, 'URL').writable, new URL('https://a.b/c?d=1').searchParams.get('d')]; };");
    for _ in 0..3 {
        let out = rt.run(&code, request(event())).await;
        assert_eq!(
            out.result.unwrap(),
            json!([["function", true, "function"], 5, true, "1"])
        );
    }
    // Assigned before first use: the assignment wins.
    let out = run(
        &rt,
        "globalThis.fetch = 7;\nexports.handler = async () => [fetch, typeof URL, typeof fetch];",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!([7, "function", "number"]));

    // console, the timers and `global` are created on first use too, as data properties.
    let out = run(
        &rt,
        r#"exports.handler = async () => {
  const d = (n) => { const x = Object.getOwnPropertyDescriptor(globalThis, n); return [typeof x.value, x.writable, x.enumerable, x.configurable]; };
  console.log('hi');
  await new Promise((r) => setTimeout(r, 1));
  return [d('console'), d('setTimeout'), d('clearInterval'), global === globalThis, self === globalThis, d('global'),
    Object.keys(globalThis).includes('console')];
};"#,
    )
    .await;
    let f = json!(["function", true, false, true]);
    // Without the patches, a global not used yet is an accessor (as Node's `Buffer` is).
    let unused = if defender_runtime::QUICKJS_PATCHED {
        f.clone()
    } else {
        json!(["undefined", null, false, true])
    };
    assert_eq!(
        out.result.unwrap(),
        json!([
            ["object", true, false, true],
            f,
            unused,
            true,
            true,
            ["object", true, false, true],
            false
        ])
    );
    assert_eq!(out.logs.len(), 1);
    let out = run(
        &rt,
        "globalThis.console = { log: () => {} }; globalThis.setTimeout = 3;\nexports.handler = async () => { console.log('x'); return [setTimeout, typeof setInterval]; };",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!([3, "function"]));
    assert!(out.logs.is_empty());
}

#[tokio::test]
async fn lazy_globals_look_eager_before_first_use() {
    let rt = QuickJsRuntime::default();
    // Listed, described and deleted before first use, as eager globals would be; a creation
    // that fails (here: no stack left for loading console's module) is tried again later.
    let out = run(
        &rt,
        r#"exports.handler = async () => {
  const names = Object.getOwnPropertyNames(globalThis);
  const listed = ['console', 'fetch', 'Map', 'Buffer', 'global'].every((n) => names.includes(n));
  const d = Object.getOwnPropertyDescriptor(globalThis, 'TextDecoder');
  const described = [typeof d.value, d.writable, d.enumerable, d.configurable, 'get' in d];
  const deleted = [delete globalThis.Buffer, typeof Buffer, 'Buffer' in globalThis];
  let depth = 0;
  function deep() {
    depth++;
    try { return deep(); } catch (e) { return typeof console.log; }
  }
  const afterOverflow = deep();
  console.log('still here');
  return [listed, described, deleted, afterOverflow, depth > 100, typeof setTimeout];
};"#,
    )
    .await;
    let described = if defender_runtime::QUICKJS_PATCHED {
        json!(["function", true, false, true, false])
    } else {
        // An accessor until first use, as in Node.
        json!(["undefined", null, false, true, true])
    };
    assert_eq!(
        out.result.unwrap(),
        json!([
            true,
            described,
            [true, "undefined", false],
            "function",
            true,
            "function"
        ])
    );
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "still here");
}

#[tokio::test]
async fn lazy_intrinsics_behave_as_eager_ones() {
    // A context starts without Date, Map/Set, typed arrays, Proxy, WeakRef, performance and
    // DOMException; each group is added on first use. Every global of a full QuickJS context
    // must be there and work, and what a script does to one name of a group before the group
    // is added must survive its addition.
    let rt = QuickJsRuntime::default();
    let out = run(
        &rt,
        r#"exports.handler = async () => {
  const names = ['Date', 'Proxy', 'Map', 'Set', 'WeakMap', 'WeakSet', 'ArrayBuffer', 'SharedArrayBuffer',
    'Uint8ClampedArray', 'Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
    'BigInt64Array', 'BigUint64Array', 'Float16Array', 'Float32Array', 'Float64Array', 'DataView', 'Atomics',
    'WeakRef', 'FinalizationRegistry', 'DOMException', 'performance'];
  const types = names.map((n) => n + ':' + typeof globalThis[n]);
  const m = new Map([[1, 'a']]);
  const u = new Uint8Array([1, 2, 3]);
  const view = new DataView(u.buffer);
  const p = new Proxy({}, { get: (_t, k) => 'proxied ' + String(k) });
  return {
    types,
    map: m.get(1), set: new Set([1, 1, 2]).size, sub: Array.from(u.subarray(1)), view: view.getUint8(2),
    isView: ArrayBuffer.isView(u), date: new Date(0).toISOString(), now: typeof performance.now(),
    proxy: p.x, weak: typeof new WeakRef(m).deref(), dom: new DOMException('m', 'AbortError').name,
    atomics: Atomics.add(new Int32Array(new SharedArrayBuffer(8)), 0, 5),
    own: Object.getOwnPropertyNames(globalThis).filter((n) => names.includes(n)).length,
    proto: Object.getPrototypeOf(u) === Uint8Array.prototype && u instanceof Uint8Array,
    bufferIsU8: Buffer.from('ab') instanceof Uint8Array,
  };
};"#,
    )
    .await;
    let v = out.result.unwrap();
    let types: Vec<String> = serde_json::from_value(v["types"].clone()).unwrap();
    for t in &types {
        let object = t == "Atomics:object" || t == "performance:object";
        assert!(object || t.ends_with(":function"), "{t}");
    }
    assert_eq!(types.len(), 26);
    assert_eq!(
        v,
        json!({
            "types": types, "map": "a", "set": 2, "sub": [2, 3], "view": 3, "isView": true,
            "date": "1970-01-01T00:00:00.000Z", "now": "number", "proxy": "proxied x",
            "weak": "object", "dom": "AbortError", "atomics": 0, "own": 26, "proto": true,
            "bufferIsU8": true,
        })
    );

    // Replaced, deleted and redefined names of a group keep what the script made of them.
    let out = run(
        &rt,
        r#"globalThis.Set = 'mine';
delete globalThis.WeakMap;
Object.defineProperty(globalThis, 'Int8Array', { value: 8, writable: false, configurable: false });
exports.handler = async () => [new Map([[1, 2]]).size, Set, typeof WeakMap, 'WeakMap' in globalThis,
  Int8Array, new Uint8Array(2).length, typeof Atomics];"#,
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!([1, "mine", "undefined", false, 8, 2, "object"])
    );

    // A script that defines `Atomics` itself, or freezes the global object, before the typed
    // arrays are added: the group is still added (the engine defines it on a holder object,
    // not on the global object), what the script defined stays, the run ends normally.
    let out = run(
        &rt,
        r#"Object.defineProperty(globalThis, 'Atomics', { value: 'own', configurable: false });
exports.handler = async () => [Atomics, typeof Uint8Array, new Int32Array([7])[0]];"#,
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(["own", "function", 7]));
    // Freezing materializes every lazy global first, as it would read an eager one.
    let out = run(
        &rt,
        "Object.freeze(globalThis);\nexports.handler = async () => [typeof Map, typeof Date, typeof console.log, Object.isFrozen(globalThis)];",
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!(["function", "function", "function", true])
    );
    // And the next run on the same runtime is unaffected.
    let out = run(
        &rt,
        "exports.handler = async () => new Uint8Array(3).length;",
    )
    .await;
    assert_eq!(out.result.unwrap(), json!(3));
}

#[tokio::test]
async fn numeric_map_keys_are_hashed_well() {
    // QuickJS is built with a patched hash for numeric Map and Set keys (vendor/README.md).
    // Keys that SameValueZero calls equal must still meet: an int and the same float, -0 and
    // +0, NaN and NaN; and a large set of integers and fractions must find every member.
    let rt = QuickJsRuntime::default();
    let out = run(
        &rt,
        r#"exports.handler = async () => {
  const m = new Map([[1, 'one'], [0, 'zero'], [NaN, 'nan'], [2 ** 53, 'big'], [0.5, 'half'], [-7, 'neg']]);
  const same = [m.get(1.0), m.get(-0), m.get(0 / 0), m.get(9007199254740992), m.get(1 / 2), m.get(-7.0), m.get(2), m.size];
  const s = new Set();
  for (let i = 0; i < 200000; i++) s.add(i);
  for (let i = 0; i < 1000; i++) s.add(i + 0.25);
  let found = 0;
  for (let i = 0; i < 200000; i++) if (s.has(i * 1.0)) found++;
  for (let i = 0; i < 1000; i++) if (s.has(i + 0.25)) found++;
  const missing = [s.has(200000), s.has(0.5), s.has(-1)];
  return { same, size: s.size, found, missing };
};"#,
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!({
            "same": ["one", "zero", "nan", "big", "half", "neg", null, 6],
            "size": 201000, "found": 201000, "missing": [false, false, false],
        })
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

/// Bytecode is kept across contexts only with the patched QuickJS.
#[cfg(feature = "quickjs-patches")]
#[tokio::test]
async fn bytecode_kept_for_later_contexts_is_not_charged_to_a_run() {
    // One script thread, so every run uses the same QuickJS runtime, which keeps the
    // bytecode of ethers (several MB) for its later contexts. A later run with a small
    // memory limit is charged only for its own context; and ethers still loads afresh.
    if !npm_fixture_ready() {
        return;
    }
    let mut config = RuntimeConfig::default().with_node_modules(node_modules());
    config.max_threads = 1;
    let rt = QuickJsRuntime::new(config);
    let ethers = script("const { ethers } = require('ethers'); globalThis.tampered = ethers.utils.id('x'); exports.handler = async () => [typeof globalThis.before, ethers.utils.id('x')];");
    let small = |src: &str| {
        let mut req = request(event());
        req.limits.memory_bytes = 2 << 20;
        (script(src), req)
    };
    for _ in 0..2 {
        let out = rt.run(&ethers, request(event())).await;
        let v = out.result.unwrap();
        assert_eq!(v[0], json!("undefined"));
        let (code, req) = small(
            "globalThis.before = 1; exports.handler = async () => new Array(50000).fill(7).length;",
        );
        let out = rt.run(&code, req).await;
        assert_eq!(out.result.unwrap(), json!(50000));
        // The limit still holds for what the run allocates itself.
        let (code, req) = small("exports.handler = async () => new Array(1000000).fill(7).length;");
        let out = rt.run(&code, req).await;
        assert!(
            matches!(out.result, Err(RunError::OutOfMemory(_))),
            "{:?}",
            out.result
        );
    }
}

#[tokio::test]
async fn warm_contexts_keep_state_per_action_version_only() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(4));
    let src = "let count = 0; exports.handler = async () => { globalThis.seen = (globalThis.seen || 0) + 1; return { count: ++count, seen: globalThis.seen }; };";
    let code = script(src);
    for i in 1..=3 {
        let out = rt.run(&code, request(event())).await;
        assert_eq!(out.result.unwrap(), json!({"count": i, "seen": i}));
    }
    // Another action (and another version of the same action) never sees that state.
    let mut other = script(src);
    other.action_id = "other-action".into();
    assert_eq!(
        rt.run(&other, request(event())).await.result.unwrap(),
        json!({"count": 1, "seen": 1})
    );
    let next_version = script(src);
    assert_eq!(
        rt.run(&next_version, request(event()))
            .await
            .result
            .unwrap(),
        json!({"count": 1, "seen": 1})
    );
    // Logs and secrets are per run.
    let logger = script("let n = 0; exports.handler = async (e) => { console.log('run', ++n, e.secrets && e.secrets.k); return n; };");
    let mut ev = event();
    ev.secrets = Some([("k".to_string(), "secret-one".to_string())].into());
    let out = rt.run(&logger, request(ev)).await;
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "run 1 [REDACTED]");
    let out = rt.run(&logger, request(event())).await;
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "run 2 undefined");
    // A run that breaks a limit drops the warm context.
    let fragile = script(
        "let n = 0; exports.handler = async (e) => { n++; if (e.request) for (;;) {} return n; };",
    );
    assert_eq!(
        rt.run(&fragile, request(event())).await.result.unwrap(),
        json!(1)
    );
    let mut req = request(event());
    req.event.request = Some(Default::default());
    req.limits.timeout = std::time::Duration::from_millis(200);
    assert!(matches!(
        rt.run(&fragile, req).await.result,
        Err(RunError::Timeout(_))
    ));
    assert_eq!(
        rt.run(&fragile, request(event())).await.result.unwrap(),
        json!(1)
    );
}
