//! Node's core modules in the sandbox (js/generated/node-builtins.js, built from npm packages
//! by scripts/build-node-builtins.sh): each script runs in `node` and in the sandbox, and both
//! must return the same JSON.

mod common;

use common::*;
use defender_runtime::QuickJsRuntime;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Helpers every script may use: `err(f)` is what `f` throws, as `[name, code, message]`.
const PRELUDE: &str = r#"
const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.code === undefined ? null : e.code, e.message]; } };
const rejection = async (p) => { try { await p; return 'no error'; } catch (e) { return [e.name, e.code === undefined ? null : e.code, e.message]; } };
"#;

static SCRIPTS: AtomicU32 = AtomicU32::new(0);

/// What Node 20 returns for the handler whose body is `body` (it fills `out`).
fn node_answer(script: &str) -> serde_json::Value {
    let n = SCRIPTS.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "defender-node-builtins-{}-{n}.js",
        std::process::id()
    ));
    let runner = format!(
        "{script}\nexports.handler().then((v) => process.stdout.write(JSON.stringify(v === undefined ? null : v, (k, x) => (typeof x === 'bigint' ? x.toString() : x))), (e) => {{ console.error(e); process.exit(1); }});\n"
    );
    std::fs::write(&path, runner).unwrap();
    let answer = common::node_json(Command::new("node").arg(&path));
    let _ = std::fs::remove_file(&path);
    answer
}

/// Runs `body` (an async handler's body that fills `out`) in Node and in the sandbox.
async fn same_as_node(body: &str) {
    let script = format!("{PRELUDE}\nexports.handler = async () => {{\n  const out = {{}};\n{body}\n  return out;\n}};\n");
    let expected = node_answer(&script);
    let rt = QuickJsRuntime::default();
    let got = run(&rt, &script).await;
    let got = got
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", got.logs));
    if got != expected {
        let (g, e) = (got.as_object(), expected.as_object());
        if let (Some(g), Some(e)) = (g, e) {
            for (k, v) in e {
                if g.get(k) != Some(v) {
                    eprintln!(
                        "`{k}` differs:\n  node:    {v}\n  sandbox: {}",
                        g.get(k).unwrap_or(&serde_json::Value::Null)
                    );
                }
            }
        }
        panic!("the sandbox's answer differs from Node's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_reads_writes_and_encodings() {
    same_as_node(r#"
  const { Buffer: B, constants, kMaxLength } = require('buffer');
  out.same = [B === Buffer, require('node:buffer') === require('buffer'), typeof constants.MAX_LENGTH, kMaxLength === constants.MAX_LENGTH];
  const b = Buffer.alloc(8);
  const widths = ['UInt8', 'Int8', 'UInt16LE', 'UInt16BE', 'Int16LE', 'Int16BE', 'UInt32LE', 'UInt32BE', 'Int32LE', 'Int32BE',
    'FloatLE', 'FloatBE', 'DoubleLE', 'DoubleBE', 'BigUInt64LE', 'BigInt64BE', 'Uint16LE', 'BigUint64BE'];
  out.reads = {};
  for (const w of widths) {
    out.reads[w] = [-1, 1.5, 7, 8, '1', NaN, Infinity, undefined].map((o) => err(() => b['read' + w](o)));
  }
  out.writes = {};
  for (const w of widths) {
    const v = w.startsWith('Big') ? 1n : 1;
    out.writes[w] = [-1, 1.5, 7, '1', undefined].map((o) => err(() => b['write' + w](v, o)));
  }
  out.ranges = [
    err(() => b.writeUInt8(256)), err(() => b.writeInt8(-129)), err(() => b.writeUInt16LE(65536)), err(() => b.writeInt32BE(2 ** 31)),
    err(() => b.writeUInt32LE(-1)), err(() => b.writeBigUInt64LE(-1n)), err(() => b.writeBigInt64LE(2n ** 63n)),
    err(() => b.writeUIntLE(2 ** 48, 0, 6)), err(() => b.writeIntBE(-(2 ** 40), 0, 5)), err(() => b.writeUInt8(300, 'x')),
  ];
  out.variable = [
    err(() => b.readUIntLE(0, 7)), err(() => b.readIntBE(0, 0)), err(() => b.readUIntBE(undefined, 2)), err(() => b.readIntLE(0, 1.5)),
    err(() => b.readUIntLE(4, 6)), err(() => b.writeUIntBE(1, 0, '2')), b.writeUIntLE(0x123456789a, 1, 5), b.readUIntLE(1, 5), b.readIntBE(1, 3),
  ];
  const c = Buffer.alloc(16);
  out.values = [c.writeUInt16BE(0xbeef, 1), c.writeInt32LE(-123456, 3), c.writeDoubleBE(1.5, 7), c.writeBigInt64LE(-5n, 8),
    c.readUInt16BE(1), c.readInt32LE(3), c.readBigInt64LE(8), c.toString('hex'), c.readFloatLE(0)];
  const s = 'héllo wörld €𝄞 \u0000';
  out.roundTrips = ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii', 'utf16le', 'ucs2', 'ucs-2']
    .map((e) => { const x = Buffer.from(s, e); return [e, x.length, x.toString(e), Buffer.byteLength(s, e), Buffer.isEncoding(e)]; });
  out.decode = [Buffer.from('aGVsbG8gd29ybGQ', 'base64').toString(), Buffer.from('_-8', 'base64url').toString('hex'), Buffer.from('abz1', 'hex').length,
    Buffer.from([0xe2, 0x82]).toString(), Buffer.from('ff00', 'hex').toString('latin1'), Buffer.isEncoding('nope')];
  const x = Buffer.from('abcabc');
  out.search = [x.indexOf('c'), x.indexOf('c', 3), x.lastIndexOf('a'), x.includes('bca'), x.indexOf(Buffer.from('ca')), x.indexOf(98), x.indexOf('z')];
  out.compare = [Buffer.compare(Buffer.from('a'), Buffer.from('b')), x.equals(Buffer.from('abcabc')), x.compare(Buffer.from('abd')), Buffer.from('b').compare(Buffer.from('a'))];
  const sl = x.slice(1, 3);
  sl[0] = 0x7a;
  const sub = x.subarray(-2);
  out.views = [x.toString(), sub.toString(), sl instanceof Buffer, sub instanceof Buffer, Buffer.isBuffer(sub), Buffer.isBuffer(new Uint8Array(1))];
  out.fill = [Buffer.alloc(5, 'ab').toString(), Buffer.alloc(4).fill(1, 1, 3).toJSON(), Buffer.alloc(3, 0x101).toJSON().data, Buffer.alloc(4, 'aGk=', 'base64').toString()];
  out.swap = [Buffer.from([1, 2, 3, 4]).swap16().toJSON().data, Buffer.from([1, 2, 3, 4]).swap32().toJSON().data, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).swap64().toJSON().data,
    err(() => Buffer.from([1, 2, 3]).swap16())];
  out.concat = [Buffer.concat([Buffer.from('ab'), Buffer.from('cd')]).toString(), Buffer.concat([Buffer.from('ab'), Buffer.from('cd')], 3).toString(), Buffer.concat([]).length];
  out.json = JSON.parse(JSON.stringify(Buffer.from('hi')));
  out.fromJson = Buffer.from(out.json).toString();
  out.copy = (() => { const t = Buffer.alloc(4); const n = Buffer.from('xyz').copy(t, 1); return [n, t.toString('hex')]; })();
  out.write = (() => { const t = Buffer.alloc(4); return [t.write('héllo'), t.toString('hex'), t.write('ff', 1, 'hex'), t.toString('hex')]; })();
  out.fromArrayBuffer = (() => { const ab = new Uint8Array([1, 2, 3, 4]).buffer; const v = Buffer.from(ab, 1, 2); v[0] = 9; return [v.length, new Uint8Array(ab)[1]]; })();
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_as_node_emits_them() {
    same_as_node(r#"
  const EventEmitter = require('events');
  const { once, on, errorMonitor } = EventEmitter;
  out.same = [EventEmitter === require('node:events'), EventEmitter.EventEmitter === EventEmitter, typeof errorMonitor, EventEmitter.defaultMaxListeners, EventEmitter.captureRejections];
  const e = new EventEmitter();
  const seen = [];
  e.on('x', (v) => seen.push('on' + v));
  e.prependListener('x', (v) => seen.push('first' + v));
  e.once('x', (v) => seen.push('once' + v));
  e.prependOnceListener('x', (v) => seen.push('firstOnce' + v));
  e.emit('x', 1);
  e.emit('x', 2);
  out.order = seen;
  out.counts = [e.listenerCount('x'), e.eventNames(), e.rawListeners('x').length, e.getMaxListeners()];
  out.unhandled = [err(() => e.emit('error', new TypeError('boom'))), err(() => e.emit('error', 'text')), err(() => e.emit('error', { a: 1 })), err(() => e.emit('error'))];
  const monitored = [];
  e.on(errorMonitor, (er) => monitored.push(er.message));
  out.monitor = [err(() => e.emit('error', new Error('watched'))), monitored];
  e.on('error', (er) => monitored.push('handled ' + er.message));
  out.handled = [e.emit('error', new Error('late')), monitored, e.emit('nothing')];
  setTimeout(() => e.emit('ready', 1, 2), 1);
  out.once = await once(e, 'ready');
  setTimeout(() => e.emit('error', new Error('failed')), 1);
  const f = new EventEmitter();
  setTimeout(() => f.emit('error', new Error('failed')), 1);
  out.onceError = await rejection(once(f, 'ready'));
  const g = new EventEmitter();
  setTimeout(() => { g.emit('tick', 1); g.emit('tick', 2); g.emit('tick', 3); }, 1);
  const ticks = [];
  for await (const [v] of on(g, 'tick')) { ticks.push(v); if (v === 3) break; }
  out.on = [ticks, g.listenerCount('tick'), g.listenerCount('error')];
  const h = new EventEmitter();
  h.setMaxListeners(1);
  h.on('a', () => {}); h.on('a', () => {});
  out.max = [h.getMaxListeners(), h.listenerCount('a')];
  const removed = [];
  const k = new EventEmitter();
  k.on('removeListener', (n) => removed.push(n));
  const fn = () => {};
  k.on('q', fn); k.off('q', fn); k.on('r', fn); k.removeAllListeners('r');
  out.removed = removed;
  class Sub extends EventEmitter {}
  out.subclass = new Sub().emit('x') === false;
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pipe_transform_and_iterate() {
    same_as_node(r#"
  const stream = require('stream');
  const { Readable, Writable, Transform, PassThrough, Duplex, pipeline, finished } = stream;
  out.same = [stream === require('node:stream'), stream.Stream === stream, require('stream/promises') === stream.promises, typeof Duplex.from];
  // Backpressure: a slow writer with a small highWaterMark makes the source wait.
  const log = [];
  let n = 0;
  const src = new Readable({ highWaterMark: 2, objectMode: true, read() { n++; log.push('read' + n); this.push(n <= 5 ? n : null); } });
  const sink = new Writable({ highWaterMark: 1, objectMode: true, write(chunk, _enc, cb) { log.push('write' + chunk); setTimeout(cb, 1); } });
  await new Promise((res) => src.pipe(sink).on('finish', res));
  out.backpressure = log;
  const w = new Writable({ highWaterMark: 4, write(_c, _e, cb) { setTimeout(cb, 1); } });
  out.writeReturns = [w.write('ab'), w.write('cd'), w.writableLength, w.writableNeedDrain];
  await new Promise((res) => w.once('drain', res));
  out.drained = w.writableLength;
  const upper = new Transform({ transform(chunk, enc, cb) { cb(null, chunk.toString().toUpperCase()); }, flush(cb) { this.push('!'); cb(); } });
  const chunks = [];
  for await (const c of Readable.from(['a', 'b', 'c']).pipe(upper)) chunks.push(c.toString());
  out.transform = chunks;
  out.fromIter = [];
  for await (const x of Readable.from((function* () { yield 1; yield 2; })())) out.fromIter.push(x);
  const failing = new Transform({ transform(chunk, enc, cb) { cb(new Error('bad chunk ' + chunk)); } });
  out.pipelineError = await new Promise((res) => pipeline(Readable.from(['x']), failing, new PassThrough(), (e) => res(e ? e.message : 'ok')));
  out.pipelinePromise = await rejection(stream.promises.pipeline(Readable.from(['q']), new Writable({ write(c, e, cb) { cb(new Error('no room')); } })));
  const collected = [];
  await stream.promises.pipeline(Readable.from(['1', '2']), async function* (source) { for await (const c of source) yield c + c; }, new Writable({ objectMode: true, write(c, e, cb) { collected.push(c); cb(); } }));
  out.asyncGenerator = collected;
  const r = new Readable({ read() {} });
  r.push('one');
  r.push(null);
  out.finished = await new Promise((res) => { finished(r, (e) => res(e ? e.message : 'done')); r.resume(); });
  const destroyed = new PassThrough();
  const fin = new Promise((res) => finished(destroyed, (e) => res(e && [e.code, e.message])));
  destroyed.destroy();
  out.premature = await fin;
  const d = new Duplex({ read() { this.push('from duplex'); this.push(null); }, write(c, e, cb) { out.duplexGot = c.toString(); cb(); } });
  d.end('to duplex');
  out.duplexRead = (await d.toArray()).map(String);
  const pt = new PassThrough();
  pt.end(Buffer.from('bytes'));
  out.readAll = Buffer.concat(await pt.toArray()).toString();
  const enc = new Readable({ read() {} });
  enc.setEncoding('utf8');
  const e = Buffer.from('€');
  enc.push(e.subarray(0, 1)); enc.push(e.subarray(1)); enc.push(null);
  out.encoding = (await enc.toArray()).join('|');
  out.mapFilter = await Readable.from([1, 2, 3, 4]).map((x) => x * 2).filter((x) => x > 2).toArray();
  const er = new Readable({ read() { this.destroy(new Error('read failed')); } });
  out.iterError = await rejection((async () => { for await (const _ of er) {} })());
  out.states = [src.readableEnded, sink.writableFinished, src.destroyed, Readable.prototype instanceof stream.Stream];
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn util_inspect_format_promisify() {
    same_as_node(r#"
  const util = require('util');
  out.same = [util === require('node:util'), util.types === require('util/types'), util.TextEncoder === TextEncoder];
  const nested = { a: 1, s: 'str', arr: [1, 'two', [3, [4, [5]]]], deep: { l1: { l2: { l3: { l4: 1 } } } }, m: new Map([['k', { v: 1 }]]), set: new Set([1, 'x']),
    buf: Buffer.from('hello'), big: 12n, sym: Symbol('s'), fn: function named() {}, arrow: () => 1, nul: null, und: undefined, date: new Date(0), re: /x/g, err: null };
  out.inspect = util.inspect(nested);
  out.inspectDepth = util.inspect(nested, { depth: 0 });
  out.inspectCompact = util.inspect({ list: Array.from({ length: 120 }, (_, i) => i) }, { breakLength: 80 });
  out.inspectMisc = [util.inspect('str'), util.inspect([1, , 3]), util.inspect(new Map()), util.inspect(Object.create(null)), util.inspect(Buffer.alloc(60)),
    util.inspect({ 'a-b': 1 }), util.inspect(new (class Foo { constructor() { this.x = 1; } })()), util.inspect([new Error('e').message]), util.inspect(-0),
    util.inspect({ get g() { return 1; } }), util.inspect(new Uint8Array(3)), util.inspect(new Promise(() => {})), util.inspect(new WeakMap()), util.inspect('a'.repeat(5), { colors: false })];
  const circular = { name: 'c' };
  circular.self = circular;
  out.circular = util.inspect(circular);
  out.custom = util.inspect({ [util.inspect.custom]() { return 'CUSTOM'; } });
  out.format = [util.format('%s is %d years and %i, %f', 'Bob', 42.5, 42.5, '1.5'), util.format('%j', { a: [1] }), util.format('%o', [1]), util.format('%O', { b: { c: {} } }),
    util.format('%s', { a: { b: { c: 1 } } }), util.format('%%s %s', 'x'), util.format('a', 'b', 3, { c: 1 }), util.format('%d', '0x10'), util.format('%s', 2n), util.format('%d', 5n),
    util.format('%c styled', 'color: red'), util.format('%s', null), util.format('%s', Symbol('q')), util.format(1, 2), util.format('%s:%s', 'one'), util.format('%i', 'nope')];
  const cbStyle = (a, b, cb) => setTimeout(() => (a < 0 ? cb(new Error('negative')) : cb(null, a + b)), 1);
  const p = util.promisify(cbStyle);
  out.promisify = [await p(1, 2), await rejection(p(-1, 2)), util.promisify(p) === p, typeof util.promisify.custom];
  function withCustom() {}
  withCustom[util.promisify.custom] = () => Promise.resolve('custom!');
  out.promisifyCustom = [await util.promisify(withCustom)(), util.promisify(withCustom) === withCustom[util.promisify.custom]];
  out.promisifyTimeout = await util.promisify(setTimeout)(1, 'slept');
  out.promisifyBad = err(() => util.promisify(5));
  const cbified = util.callbackify(async (x) => { if (x) throw new Error('cb failed'); return 'cb ok'; });
  out.callbackify = await Promise.all([new Promise((res) => cbified(false, (e, v) => res([e, v]))), new Promise((res) => cbified(true, (e) => res(e.message)))]);
  out.callbackifyNull = await new Promise((res) => util.callbackify(() => Promise.reject(null))((e) => res([e.code, e.message])));
  function Animal() {}
  Animal.prototype.kind = function () { return 'animal'; };
  function Dog() {}
  util.inherits(Dog, Animal);
  out.inherits = [new Dog().kind(), Dog.super_ === Animal, new Dog() instanceof Animal];
  const t = util.types;
  out.types = [t.isPromise(Promise.resolve()), t.isUint8Array(Buffer.alloc(1)), t.isTypedArray(new Float32Array(1)), t.isDate(new Date()), t.isRegExp(/x/), t.isMap(new Map()),
    t.isSet(new Set()), t.isAsyncFunction(async () => {}), t.isGeneratorFunction(function* () {}), t.isArrayBuffer(new ArrayBuffer(1)), t.isNativeError(new TypeError()), t.isBoxedPrimitive(Object(1)),
    t.isAnyArrayBuffer(new ArrayBuffer(1)), t.isDataView(new DataView(new ArrayBuffer(1))), t.isProxy({})];
  out.deepEqual = [util.isDeepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), util.isDeepStrictEqual([1], ['1']), util.isDeepStrictEqual(new Map([[1, 2]]), new Map([[1, 2]])),
    util.isDeepStrictEqual({ a: 1 }, { a: 1, b: undefined }), util.isDeepStrictEqual(NaN, NaN), util.isDeepStrictEqual(Buffer.from('a'), Buffer.from('a'))];
  const dep = util.deprecate(() => 'still works', 'old api', 'DEP_TEST');
  out.deprecate = [dep(), dep()];
  out.legacy = [util.isArray([]), util.isString('x'), util.isPrimitive({}), util.isFunction(() => 1)];
  out.strip = util.stripVTControlCharacters('\u001b[31mred\u001b[0m');
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assert_messages_as_node() {
    same_as_node(r#"
  const assert = require('assert');
  out.same = [assert === require('node:assert'), assert.strict === require('assert/strict'), assert.strict.strict === assert.strict];
  out.deepStrict = err(() => assert.deepStrictEqual({ a: 1, b: [1, 2], c: 'same' }, { a: 2, b: [1, 3], c: 'same' }));
  out.strictEqual = err(() => assert.strictEqual(1, 2));
  out.strictEqualStrings = err(() => assert.strictEqual('hello world', 'hello there'));
  out.equal = err(() => assert.equal(1, '2'));
  // Node words `assert.ok(0)` from the caller's source text, which the sandbox does not read.
  out.ok = [err(() => assert.ok(0)).slice(0, 2), err(() => assert(false, 'custom message')), err(() => assert.ok(true))];
  out.notDeep = err(() => assert.notDeepStrictEqual([1], [1]));
  out.throws = [err(() => assert.throws(() => { throw new TypeError('x'); }, TypeError)), err(() => assert.throws(() => {})), err(() => assert.throws(() => { throw new Error('abc'); }, /xyz/)),
    err(() => assert.throws(() => { throw new Error('m'); }, { message: 'm' }))];
  out.doesNotThrow = err(() => assert.doesNotThrow(() => { throw new Error('oops'); }));
  out.rejects = [await rejection(assert.rejects(Promise.resolve(1))), await rejection(assert.rejects(Promise.reject(new Error('r')), Error))];
  out.fail = err(() => assert.fail('failed here'));
  out.match = err(() => assert.match('abc', /x/));
  out.ifError = [err(() => assert.ifError(null)), err(() => assert.ifError(new Error('if error')))[2]];
  const e = (() => { try { assert.strictEqual(1, 2, 'with message'); } catch (x) { return x; } })();
  out.error = [e instanceof assert.AssertionError, e.actual, e.expected, e.operator, e.generatedMessage, e.code, e.name];
  out.strictMode = err(() => assert.strict.equal(1, '1'));
  out.deepLoose = [err(() => assert.deepEqual({ a: 1 }, { a: '1' })), err(() => assert.deepEqual({ a: 1 }, { a: 2 }))];
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_querystring_path_string_decoder_os_and_more() {
    same_as_node(r#"
  const url = require('url');
  out.same = [url === require('node:url'), url.URL === URL, url.URLSearchParams === URLSearchParams];
  const odd = ['http://user:pa%20ss@Example.COM:8080/p/a/t/h?query=string&a=1&a=2#hash', '//host/path?x', 'mailto:someone@example.com', '/relative/path?q=1',
    'HTTP://EXAMPLE.com', 'http://x.com/a b', 'javascript:alert(1)', 'http://[::1]:3000/x', 'http://a.com:/p', 'file:///etc/passwd', '?only=query', 'http://ex.com/%zz'];
  out.parse = odd.map((u) => { const p = url.parse(u); return [p.protocol, p.auth, p.host, p.port, p.hostname, p.hash, p.search, p.query, p.pathname, p.path, p.href, p.slashes]; });
  out.parseQuery = [url.parse('http://x/?a=1&b=2&a=3', true).query, url.parse('//h/p', false, true).host];
  out.format = [url.format({ protocol: 'https', hostname: 'ex.com', pathname: '/a', query: { x: 1, y: 'z z' } }), url.format(url.parse('http://a.com/b?c#d')),
    url.format(new URL('https://u:p@ex.com/x?y#z'), { auth: false, fragment: false })];
  out.resolve = [url.resolve('http://a.com/b/c', '../d'), url.resolve('http://a.com/b/c', '/e'), url.resolve('/one/two', 'three'), url.resolve('http://a.com/', 'http://b.com/')];
  out.files = [url.fileURLToPath('file:///tmp/a%20b.txt'), url.pathToFileURL('/tmp/a b#c.txt').href, err(() => url.fileURLToPath('http://x/')), err(() => url.fileURLToPath('file:///a%2fb'))];
  const qs = require('querystring');
  out.qs = [qs.stringify({ a: [1, 2], b: 'x y', c: '', d: null, e: true, f: 3n, g: { h: 1 } }), qs.stringify({ w: 'é&=' }, ';', ':'), Object.assign({}, qs.parse('a=1&a=2&b=%20c+d&&e')),
    qs.escape('a b&c/é'), qs.unescape('%41%zz+'), Object.assign({}, qs.parse('x:1;y:2', ';', ':')), Object.assign({}, qs.parse('bad=%E0%A4%A')), qs.decode === qs.parse];
  const path = require('path');
  out.path = [path.resolve('/a/b', './c', '../d'), path.resolve('/x', '/y', 'z'), path.relative('/data/orandea/test/aaa', '/data/orandea/impl/bbb'), path.relative('/a', '/a'),
    path.join('a', '', '../b', 'c/'), path.normalize('/a//b/../c/.'), path.dirname('/a/b/c'), path.basename('/a/b.txt', '.txt'), path.extname('x.tar.gz'),
    path.parse('/home/u/file.txt'), path.format({ dir: '/d', name: 'n', ext: '.e' }), path.isAbsolute('./x'), path.sep, path.delimiter, path.posix === path,
    require('path/posix') === path.posix];
  const { StringDecoder } = require('string_decoder');
  const d = new StringDecoder('utf8');
  const euro = Buffer.from('€𝄞');
  out.decoder = [d.write(euro.subarray(0, 1)), d.write(euro.subarray(1, 4)), d.write(euro.subarray(4, 6)), d.end(euro.subarray(6)), d.end(Buffer.from([0xe2])),
    new StringDecoder('hex').write(Buffer.from('hi')), new StringDecoder('base64').end(Buffer.from('abcd')), new StringDecoder('utf16le').write(Buffer.from([0x61, 0])),
    err(() => new StringDecoder('nope'))[0]];
  const os = require('os');
  out.os = [os.EOL, os.platform(), os.type(), os.endianness(), os.tmpdir(), typeof os.totalmem(), typeof os.freemem(), Array.isArray(os.cpus()), typeof os.networkInterfaces(), typeof os.hostname()];
  const punycode = require('punycode');
  out.punycode = [punycode.encode('mañana'), punycode.decode('maana-pta'), punycode.toASCII('mañana.com'), punycode.toUnicode('xn--maana-pta.com')];
  const tp = require('timers/promises');
  out.timers = [await tp.setTimeout(1, 'value'), await tp.setImmediate('imm'), tp === require('node:timers/promises')];
  const ac = new AbortController();
  const aborted = tp.setTimeout(1000, 'never', { signal: ac.signal });
  ac.abort();
  out.timersAbort = await rejection(aborted);
  const ticks = [];
  for await (const v of tp.setInterval(1, 'tick')) { ticks.push(v); if (ticks.length === 3) break; }
  out.interval = ticks;
"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_objects_are_created_once_and_missing_ones_name_themselves() {
    let rt = QuickJsRuntime::default();
    let out = run(&rt, r#"exports.handler = async () => {
      const names = ['events', 'buffer', 'stream', 'util', 'assert', 'url', 'querystring', 'path', 'string_decoder', 'os', 'punycode', 'timers/promises', 'util/types', 'stream/promises', 'assert/strict', 'path/posix'];
      const same = names.filter((n) => require(n) === require('node:' + n) && require(n) === require(n));
      const missing = [];
      for (const n of ['fs', 'node:child_process']) {
        const m = require(n);
        try { m.readFileSync('/etc/passwd'); } catch (e) { missing.push(e.message); }
        try { m.exec('ls'); } catch (e) { missing.push(e.message); }
      }
      return { same: same.length === names.length ? true : same, buffer: require('buffer').Buffer === Buffer, missing };
    };"#).await;
    let got = out
        .result
        .unwrap_or_else(|e| panic!("{e:?} {:?}", out.logs));
    assert_eq!(got["same"], true, "{got}");
    assert_eq!(got["buffer"], true);
    let missing = got["missing"].as_array().unwrap();
    assert!(
        missing[0]
            .as_str()
            .unwrap()
            .contains("'fs.readFileSync' is not available"),
        "{got}"
    );
    assert!(
        missing[3]
            .as_str()
            .unwrap()
            .contains("'child_process.exec' is not available"),
        "{got}"
    );
}

/// A hello-world run never evaluates the bundle: building it is what the first `require` of
/// one of its modules costs, and a run that touches none of them must not pay it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_evaluated_only_when_required() {
    let rt = QuickJsRuntime::default();
    // `Buffer` on first use comes from the bundle, with the crypto module built on it.
    let out = run(&rt, "exports.handler = async () => [Buffer.from('hi').toString('hex'), require('crypto').createHash('sha256').update(Buffer.from('abc')).digest('hex').slice(0, 8), Buffer.from('x').readUInt8(0)];").await;
    assert_eq!(
        out.result.unwrap(),
        serde_json::json!(["6869", "ba7816bf", 120])
    );
}
