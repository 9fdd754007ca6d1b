//! Web globals that real actions use, checked against what Node 20 answers for the same
//! handler (the expected values below are Node's output for this exact script).

mod common;

use common::*;
use defender_runtime::QuickJsRuntime;

const HANDLER: &str = r#"exports.handler = async () => {
  const out = {};
  const c = new AbortController();
  const seen = [];
  c.signal.addEventListener('abort', (e) => seen.push(e.type));
  c.signal.onabort = () => seen.push('onabort');
  out.before = c.signal.aborted;
  c.abort();
  c.abort('again');
  out.after = [c.signal.aborted, c.signal.reason.name, c.signal.reason.message, c.signal.reason instanceof DOMException, seen];
  try { c.signal.throwIfAborted(); } catch (e) { out.thrown = e.name; }
  const r = AbortSignal.abort('why');
  out.abortStatic = [r.aborted, r.reason];
  const t = AbortSignal.timeout(10);
  await new Promise((res) => t.addEventListener('abort', res));
  out.timeout = [t.aborted, t.reason.name];
  try { new AbortSignal(); } catch (e) { out.illegal = e instanceof TypeError; }
  try { await fetch('http://127.0.0.1:1/', { signal: AbortSignal.abort() }); } catch (e) { out.fetchAborted = e.name; }
  const src = { d: new Date(0), r: /a+/gi, m: new Map([[1, { x: 1 }]]), s: new Set([1, 2]), u: new Uint8Array([1, 2, 3]).subarray(1), n: null, big: 10n, nested: { arr: [1, , 3] }, err: new RangeError('bad') };
  src.self = src;
  const c2 = structuredClone(src);
  out.clone = [c2 !== src, c2.self === c2, c2.d instanceof Date, c2.d.getTime(), c2.r.source, c2.r.flags, c2.m.get(1).x, c2.m.get(1) !== src.m.get(1), [...c2.s], Array.from(c2.u), c2.u.byteOffset, c2.u.buffer.byteLength, c2.n, typeof c2.big, 1 in c2.nested.arr, c2.nested.arr.length, c2.err instanceof RangeError, c2.err.message];
  class K { constructor() { this.a = 1; } m() {} }
  const k = structuredClone(new K());
  out.classLost = [k instanceof K, k.a];
  for (const bad of [() => 1, Symbol('s'), { f() {} }]) {
    try { structuredClone(bad); out.bad = (out.bad || []).concat('cloned'); } catch (e) { out.bad = (out.bad || []).concat(e.name); }
  }
  return out;
};
"#;

/// `node -e` of HANDLER printed this (Node 20).
const NODE_ANSWER: &str = r#"{"before":false,"after":[true,"AbortError","This operation was aborted",true,["abort","onabort"]],"thrown":"AbortError","abortStatic":[true,"why"],"timeout":[true,"TimeoutError"],"illegal":true,"fetchAborted":"AbortError","clone":[true,true,true,0,"a+","gi",1,true,[1,2],[2,3],1,3,null,"bigint",false,3,true,"bad"],"classLost":[false,1],"bad":["DataCloneError","DataCloneError","DataCloneError"]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_controller_and_structured_clone_answer_as_node_does() {
    let rt = QuickJsRuntime::default();
    let out = run(&rt, HANDLER).await;
    let got = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    let node: serde_json::Value = serde_json::from_str(NODE_ANSWER).unwrap();
    assert_eq!(got, node);
}
