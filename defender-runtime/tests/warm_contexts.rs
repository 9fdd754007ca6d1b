//! The context policies (`ContextPolicy`): by default the runs of one action version share a
//! warm context (globals and modules kept), never across actions or versions, bounded in
//! number and in bytes with the least recently used evicted, and discarded after a run that
//! broke a limit; `FreshPerRun` keeps nothing.

mod common;

use common::{event, request};
use defender_core::{
    ActionCode, ActionRuntime, CodeSource, InMemoryKvStore, KvStore, RunError, RunRequest,
};
use defender_runtime::{ContextPolicy, QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A handler that counts its runs in module state and in a global, and optionally keeps
/// `event.request.body.keep` bytes in a global.
const COUNTER: &str = "let runs = 0;
exports.handler = async (event) => {
  globalThis.seen = (globalThis.seen || 0) + 1;
  const keep = event.request && event.request.body && event.request.body.keep;
  if (keep) globalThis.kept = 'x'.repeat(keep);
  return { runs: ++runs, seen: globalThis.seen, leaked: typeof globalThis.fromOther };
};";

fn action(id: &str, version: u64, src: &str) -> ActionCode {
    ActionCode {
        action_id: id.into(),
        version,
        source: CodeSource::Script(src.into()),
    }
}

async fn runs_of(rt: &QuickJsRuntime, code: &ActionCode) -> Value {
    let out = rt.run(code, request(event())).await;
    match out.result {
        Ok(v) => v["runs"].clone(),
        Err(e) => panic!("{e:?} {:?}", out.logs),
    }
}

/// A request whose handler keeps `bytes` in a global.
fn keeping(bytes: usize) -> RunRequest {
    let mut ev = event();
    ev.request = Some(serde_json::from_value(json!({ "body": { "keep": bytes } })).unwrap());
    request(ev)
}

#[test]
fn the_default_policy_is_warm_per_version() {
    let config = RuntimeConfig::default();
    assert_eq!(config.context_policy, ContextPolicy::WarmPerVersion);
    assert!(config.warm_contexts > 0 && config.warm_memory_bytes > 0);
    assert_eq!(
        RuntimeConfig::default()
            .with_fresh_contexts()
            .context_policy,
        ContextPolicy::FreshPerRun
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_one_action_version_share_its_context() {
    let rt = QuickJsRuntime::default();
    let code = action("a", 1, COUNTER);
    for i in 1..=3 {
        let out = rt.run(&code, request(event())).await;
        assert_eq!(
            out.result.unwrap(),
            json!({ "runs": i, "seen": i, "leaked": "undefined" })
        );
    }
    assert_eq!(rt.warm_contexts(), 1);
    assert!(rt.warm_bytes() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_context_is_shared_between_actions_or_versions() {
    let rt = QuickJsRuntime::default();
    let a1 = action("a", 1, COUNTER);
    assert_eq!(runs_of(&rt, &a1).await, json!(1));
    // A global set by action A...
    let setter = "exports.handler = async () => { globalThis.fromOther = 'a'; Array.prototype.leak = 1; return { runs: 1 }; };";
    let a_setter = action("a", 7, setter);
    assert_eq!(runs_of(&rt, &a_setter).await, json!(1));
    assert_eq!(runs_of(&rt, &a_setter).await, json!(1));
    // ...is never seen by action B, nor by A's other versions.
    let b1 = action("b", 7, COUNTER);
    let out = rt.run(&b1, request(event())).await.result.unwrap();
    assert_eq!(out, json!({ "runs": 1, "seen": 1, "leaked": "undefined" }));
    let a8 = action("a", 8, COUNTER);
    let out = rt.run(&a8, request(event())).await.result.unwrap();
    assert_eq!(out, json!({ "runs": 1, "seen": 1, "leaked": "undefined" }));
    let probe =
        "exports.handler = async () => ({ runs: [].leak === undefined && typeof fromOther })";
    assert_eq!(
        runs_of(&rt, &action("a", 9, probe)).await,
        json!("undefined")
    );
    // The same id and version with other code (an action removed and added again) is another
    // context too.
    let a7_again = action("a", 7, COUNTER);
    assert_eq!(runs_of(&rt, &a7_again).await, json!(1));
    // Each version kept its own context.
    assert_eq!(runs_of(&rt, &a1).await, json!(2));
    assert_eq!(runs_of(&rt, &b1).await, json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_least_recently_used_context_is_evicted_past_the_memory_budget() {
    // What one context keeping 1 MB costs, as the runtime counts it.
    let probe = QuickJsRuntime::default();
    let out = probe.run(&action("p", 1, COUNTER), keeping(1 << 20)).await;
    assert_eq!(out.result.unwrap()["runs"], json!(1));
    let one = probe.warm_bytes();
    assert!(one > 1 << 20, "{one}");
    // Room for two such contexts, not three.
    let budget = one * 5 / 2;
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_memory_bytes(budget));
    let (a, b, c) = (
        action("a", 1, COUNTER),
        action("b", 1, COUNTER),
        action("c", 1, COUNTER),
    );
    for code in [&a, &b] {
        let out = rt.run(code, keeping(1 << 20)).await;
        assert_eq!(out.result.unwrap()["runs"], json!(1));
    }
    assert_eq!(rt.warm_contexts(), 2);
    // b is used again: a is now the least recently used, and c's context evicts it.
    assert_eq!(runs_of(&rt, &b).await, json!(2));
    let out = rt.run(&c, keeping(1 << 20)).await;
    assert_eq!(out.result.unwrap()["runs"], json!(1));
    assert_eq!(rt.warm_contexts(), 2);
    assert!(rt.warm_bytes() <= budget, "{} > {budget}", rt.warm_bytes());
    assert_eq!(runs_of(&rt, &b).await, json!(3));
    assert_eq!(runs_of(&rt, &c).await, json!(2));
    // a starts over (and evicts b, now the least recently used).
    let out = rt.run(&a, keeping(1 << 20)).await;
    assert_eq!(out.result.unwrap()["runs"], json!(1));
    assert_eq!(runs_of(&rt, &c).await, json!(3));
    assert_eq!(runs_of(&rt, &b).await, json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_larger_than_the_whole_budget_is_not_kept() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_memory_bytes(1 << 20));
    let code = action("big", 1, COUNTER);
    let out = rt.run(&code, keeping(2 << 20)).await;
    assert_eq!(out.result.unwrap()["runs"], json!(1));
    assert_eq!(rt.warm_contexts(), 0);
    assert_eq!(runs_of(&rt, &code).await, json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_least_recently_used_context_is_evicted_past_the_count() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(2));
    let (a, b, c) = (
        action("a", 1, COUNTER),
        action("b", 1, COUNTER),
        action("c", 1, COUNTER),
    );
    assert_eq!(runs_of(&rt, &a).await, json!(1));
    assert_eq!(runs_of(&rt, &b).await, json!(1));
    assert_eq!(runs_of(&rt, &a).await, json!(2));
    // b is the least recently used.
    assert_eq!(runs_of(&rt, &c).await, json!(1));
    assert_eq!(rt.warm_contexts(), 2);
    assert_eq!(runs_of(&rt, &a).await, json!(3));
    assert_eq!(runs_of(&rt, &c).await, json!(2));
    assert_eq!(runs_of(&rt, &b).await, json!(1));
}

/// A handler that counts its runs and, told so by the request, breaks a limit.
const FRAGILE: &str = "let runs = 0;
exports.handler = async (event) => {
  runs++;
  const how = event.request && event.request.body && event.request.body.how;
  if (how === 'loop') for (;;) {}
  if (how === 'memory') { const a = []; for (;;) a.push('x'.repeat(1 << 16) + a.length); }
  if (how === 'stack') { const f = (n) => f(n + 1) + 1; f(0); }
  if (how === 'throw') throw new Error('boom');
  return { runs };
};";

fn breaking(how: &str) -> RunRequest {
    let mut ev = event();
    ev.request = Some(serde_json::from_value(json!({ "body": { "how": how } })).unwrap());
    let mut req = request(ev);
    req.limits.timeout = Duration::from_millis(500);
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_broke_a_limit_discards_its_context() {
    let rt = QuickJsRuntime::default();
    let code = action("fragile", 1, FRAGILE);
    assert_eq!(runs_of(&rt, &code).await, json!(1));
    assert_eq!(runs_of(&rt, &code).await, json!(2));
    let out = rt.run(&code, breaking("loop")).await;
    assert!(matches!(out.result, Err(RunError::Timeout(_))), "{out:?}");
    assert_eq!(runs_of(&rt, &code).await, json!(1));
    let out = rt.run(&code, breaking("memory")).await;
    assert!(
        matches!(out.result, Err(RunError::OutOfMemory(_))),
        "{:?}",
        out.result
    );
    assert_eq!(runs_of(&rt, &code).await, json!(1));
    let out = rt.run(&code, breaking("stack")).await;
    if defender_runtime::QUICKJS_PATCHED {
        // The patched engine tells a real stack overflow: the context goes.
        assert!(
            matches!(out.result, Err(RunError::StackOverflow)),
            "{:?}",
            out.result
        );
        assert_eq!(runs_of(&rt, &code).await, json!(1));
    } else {
        // Published QuickJS throws an ordinary RangeError, as Node does: like any error the
        // handler throws, it keeps the context (as a Lambda container outlived a throw).
        assert!(
            matches!(out.result, Err(RunError::Thrown { .. })),
            "{out:?}"
        );
        assert_eq!(runs_of(&rt, &code).await, json!(3));
    }
    let before = runs_of(&rt, &code).await;
    let out = rt.run(&code, breaking("throw")).await;
    assert!(
        matches!(out.result, Err(RunError::Thrown { .. })),
        "{out:?}"
    );
    assert_eq!(
        runs_of(&rt, &code).await,
        json!(before.as_u64().unwrap() + 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_meeting_a_busy_context_runs_fresh() {
    let rt = Arc::new(QuickJsRuntime::default());
    let kv = Arc::new(InMemoryKvStore::default());
    // The first run says it started, then waits until the second run says `go`.
    let src = "const { KeyValueStoreClient } = require('defender-kvstore-client');
let runs = 0;
exports.handler = async (event) => {
  runs++;
  const store = new KeyValueStoreClient(event);
  if (event.request) {
    await store.put('started', 'yes');
    while ((await store.get('go')) !== 'yes') await new Promise((r) => setTimeout(r, 5));
  } else {
    await store.put('go', 'yes');
  }
  return { runs };
};";
    let code = action("busy", 1, src);
    let with_kv = |ev| {
        let mut req = request(ev);
        req.services.kv = kv.clone();
        req.limits.timeout = Duration::from_secs(20);
        req
    };
    let mut waiting = event();
    waiting.request = Some(Default::default());
    let first = tokio::spawn({
        let (rt, code, req) = (rt.clone(), code.clone(), with_kv(waiting));
        async move { rt.run(&code, req).await }
    });
    while kv.get("started").await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The warm context is busy with the first run: the second gets a fresh one.
    let second = rt.run(&code, with_kv(event())).await;
    assert_eq!(second.result.unwrap(), json!({ "runs": 1 }));
    let first = first.await.unwrap();
    assert_eq!(first.result.unwrap(), json!({ "runs": 1 }));
    // The next run is the warm context's second.
    let third = rt.run(&code, with_kv(event())).await;
    assert_eq!(third.result.unwrap(), json!({ "runs": 2 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fresh_policy_keeps_nothing() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_fresh_contexts());
    let code = action("a", 1, COUNTER);
    for _ in 0..3 {
        let out = rt.run(&code, request(event())).await;
        assert_eq!(
            out.result.unwrap(),
            json!({ "runs": 1, "seen": 1, "leaked": "undefined" })
        );
    }
    assert_eq!(rt.warm_contexts(), 0);
    assert_eq!(rt.warm_bytes(), 0);
    let zero = QuickJsRuntime::new(RuntimeConfig::default().with_warm_contexts(0));
    assert_eq!(runs_of(&zero, &code).await, json!(1));
    assert_eq!(runs_of(&zero, &code).await, json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_context_redacts_every_secret_it_has_seen() {
    let rt = QuickJsRuntime::default();
    let code = action(
        "secrets",
        1,
        "let old; exports.handler = async (e) => { const s = e.secrets && e.secrets.key; console.log('old', old, 'new', s); old = old || s; return 1; };",
    );
    let with_secret = |value: &str| {
        let mut ev = event();
        ev.secrets = Some([("key".to_string(), value.to_string())].into());
        request(ev)
    };
    let out = rt.run(&code, with_secret("first-secret")).await;
    assert_eq!(out.logs[0].message, "old undefined new [REDACTED]");
    // Rotated: the context still holds the first one, which stays redacted.
    let out = rt.run(&code, with_secret("second-secret")).await;
    assert_eq!(out.logs[0].message, "old [REDACTED] new [REDACTED]");
    assert!(!out.logs[0].message.contains("secret"));
}
