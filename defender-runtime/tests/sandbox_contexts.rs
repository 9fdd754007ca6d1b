//! The QuickJS contexts behind runs: a fresh context per run, or a warm one kept per action
//! version; globals and intrinsics set up lazily that behave as eager ones; bytecode kept
//! across contexts; and the patched hash of numeric Map and Set keys.

mod common;

use common::*;
use defender_core::{ActionRuntime, RunError};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::json;

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
