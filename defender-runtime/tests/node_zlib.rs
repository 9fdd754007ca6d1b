//! Node's `zlib` in the sandbox, checked against Node itself (`node` runs the same code, and
//! decodes what the sandbox encodes and the other way round), and bounded: a zip bomb ends
//! with a clear error or the run's memory limit, never the host's memory.

mod common;

use common::*;
use defender_core::{ActionRuntime, RunError};
use defender_runtime::QuickJsRuntime;
use serde_json::{json, Value as Json};
use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

/// What `node` prints for `body`, an async function's body returning a JSON value, with
/// `zlib` and `util` required.
fn node(body: &str) -> Json {
    let src = format!(
        "const zlib = require('zlib'); const util = require('util');
         (async () => {{ {body} }})().then((v) => process.stdout.write(JSON.stringify(v)), (e) => {{ console.error(e); process.exit(1); }});"
    );
    common::node_json(Command::new("node").arg("-e").arg(&src))
}

/// What the sandbox answers for the same `body`.
async fn sandbox(rt: &QuickJsRuntime, body: &str) -> Json {
    let src = format!(
        "const zlib = require('zlib'); const util = require('util');
         exports.handler = async () => {{ {body} }};"
    );
    returned(rt, &src, body).await
}

/// Sync, callback, promisified and stream forms, options and errors, as Node answers them.
const SAME_AS_NODE: &str = r#"
  const text = 'hello zlib, '.repeat(700) + 'é😀';
  const failure = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.code, e.errno === undefined ? null : e.errno, e.message]; } };
  const out = {};
  for (const [c, d] of [['gzipSync', 'gunzipSync'], ['deflateSync', 'inflateSync'], ['deflateRawSync', 'inflateRawSync'], ['gzipSync', 'unzipSync'], ['deflateSync', 'unzipSync']]) {
    out[c + '/' + d] = zlib[d](zlib[c](text, { level: 9 })).toString() === text;
  }
  out.levels = [0, 1, 6, 9, -1].map((level) => zlib.inflateSync(zlib.deflateSync(Buffer.from(text), { level })).toString() === text);
  out.stored = zlib.deflateRawSync('abc', { level: 0 }).length;
  out.typed = zlib.gunzipSync(new Uint8Array(zlib.gzipSync('typed'))).toString();
  out.arrayBuffer = (() => { const g = zlib.gzipSync('ab'); return zlib.gunzipSync(g.buffer.slice(g.byteOffset, g.byteOffset + g.length)).toString(); })();
  out.members = zlib.gunzipSync(Buffer.concat([zlib.gzipSync('ab'), zlib.gzipSync('cd'), Buffer.from([0, 0])])).toString();
  out.errors = {
    header: failure(() => zlib.gunzipSync(Buffer.from('hello world'))),
    inflateHeader: failure(() => zlib.inflateSync(Buffer.from('hello world'))),
    unzip: failure(() => zlib.unzipSync(Buffer.from('xx'))),
    truncated: failure(() => zlib.gunzipSync(zlib.gzipSync(text).subarray(0, 30))),
    empty: failure(() => zlib.gunzipSync(Buffer.alloc(0))),
    block: failure(() => zlib.inflateRawSync(Buffer.from([0xff, 0xff, 0xff]))),
    garbage: failure(() => zlib.gunzipSync(Buffer.concat([zlib.gzipSync('ab'), Buffer.from('garbage')]))),
    tooLarge: failure(() => zlib.gunzipSync(zlib.gzipSync(Buffer.alloc(100000)), { maxOutputLength: 1000 })),
    level: failure(() => zlib.gzipSync('a', { level: 10 })),
    type: failure(() => zlib.gunzipSync(123)),
  };
  out.callback = await new Promise((resolve) => zlib.gzip(text, (e, packed) => zlib.gunzip(packed, (e2, plain) => resolve([e, e2, plain.toString() === text]))));
  out.callbackError = await new Promise((resolve) => zlib.gunzip(Buffer.from('xx'), (e) => resolve([e.code, e.errno, e.message])));
  out.promisified = (await util.promisify(zlib.inflate)(await util.promisify(zlib.deflate)(text))).toString() === text;
  out.stream = await new Promise((resolve, reject) => {
    const gzip = zlib.createGzip();
    const gunzip = zlib.createGunzip();
    const chunks = [];
    gzip.pipe(gunzip);
    gunzip.on('data', (c) => chunks.push(c));
    gunzip.on('end', () => resolve(Buffer.concat(chunks).toString() === text + text));
    gunzip.on('error', reject);
    gzip.write(text.slice(0, 100));
    gzip.write(Buffer.from(text.slice(100)));
    gzip.end(text);
  });
  out.byteByByte = await new Promise((resolve, reject) => {
    const packed = zlib.deflateSync(text);
    const s = zlib.createUnzip();
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString() === text));
    s.on('error', reject);
    for (let i = 0; i < packed.length; i++) s.write(packed.subarray(i, i + 1));
    s.end();
  });
  out.streamError = await new Promise((resolve) => {
    const s = zlib.createGunzip();
    s.on('error', (e) => resolve([e.code, e.errno, e.message]));
    s.on('data', () => {});
    s.end(Buffer.from('not gzip at all'));
  });
  // node-fetch's and axios's options: a cut body ends without an error.
  out.syncFlush = await new Promise((resolve, reject) => {
    const s = zlib.createGunzip({ flush: zlib.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString() === text.slice(0, 10)));
    s.on('error', reject);
    const packed = zlib.gzipSync(text.slice(0, 10));
    s.end(packed.subarray(0, packed.length - 8));
  });
  out.constants = [zlib.constants.Z_BEST_COMPRESSION, zlib.constants.GUNZIP, zlib.Z_SYNC_FLUSH, zlib.codes.Z_DATA_ERROR, zlib.codes['-3']];
  out.classes = [zlib.createGzip() instanceof zlib.Gzip, typeof zlib.createUnzip().pipe];
  return out;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zlib_answers_as_node_does() {
    let expected = node(SAME_AS_NODE);
    let got = sandbox(&QuickJsRuntime::default(), SAME_AS_NODE).await;
    assert_eq!(got, expected);
}

/// Bytes compressed by Node are decoded by the sandbox, and the other way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_and_node_read_each_others_output() {
    let text = "Defender actions send gzip around. ".repeat(300);
    let from_node = node(&format!(
        "const t = {text:?};
         return ['gzipSync', 'deflateSync', 'deflateRawSync'].map((f) => zlib[f](t).toString('base64'));"
    ));
    let got = sandbox(
        &QuickJsRuntime::default(),
        &format!(
            "const t = {text:?};
             const [g, d, r] = {from_node}.map((b) => Buffer.from(b, 'base64'));
             return {{
               decoded: [zlib.gunzipSync(g).toString() === t, zlib.inflateSync(d).toString() === t, zlib.inflateRawSync(r).toString() === t, zlib.unzipSync(g).toString() === t],
               ours: ['gzipSync', 'deflateSync', 'deflateRawSync'].map((f) => zlib[f](t).toString('base64')),
             }};"
        ),
    )
    .await;
    assert_eq!(got["decoded"], json!([true, true, true, true]));
    let ours = &got["ours"];
    let decoded = node(&format!(
        "const t = {text:?};
         const [g, d, r] = {ours}.map((b) => Buffer.from(b, 'base64'));
         return [zlib.gunzipSync(g).toString() === t, zlib.inflateSync(d).toString() === t, zlib.inflateRawSync(r).toString() === t];"
    ));
    assert_eq!(decoded, json!([true, true, true]));
}

/// 1 GiB of zeros, gzipped (about 1 MB).
fn bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_ends_with_a_bounded_error_and_the_next_run_is_fine() {
    use base64::Engine as _;
    let packed = base64::engine::general_purpose::STANDARD.encode(bomb());
    let rt = QuickJsRuntime::default();
    // The caller's bound: Node's RangeError, caught by the script.
    let got = sandbox(
        &rt,
        &format!(
            "const bomb = Buffer.from('{packed}', 'base64');
             try {{ zlib.gunzipSync(bomb, {{ maxOutputLength: 1e6 }}); return 'decoded'; }} catch (e) {{ return [e.name, e.code, e.message]; }}"
        ),
    )
    .await;
    assert_eq!(
        got,
        json!([
            "RangeError",
            "ERR_BUFFER_TOO_LARGE",
            "Cannot create a Buffer larger than 1000000 bytes"
        ])
    );
    // Without one, the run's memory limit (64 MB here) ends the run, one-shot or streamed,
    // even when the script catches the error.
    for call in [
        "try { zlib.gunzipSync(bomb); } catch (e) { return 'caught ' + e.message; } return 'decoded';",
        "return await new Promise((resolve) => { const s = zlib.createGunzip(); let n = 0; s.on('data', (c) => { n += c.length; }); s.on('end', () => resolve(n)); s.on('error', (e) => resolve('caught ' + e.message)); s.end(bomb); });",
    ] {
        let src = format!(
            "const zlib = require('zlib');
             exports.handler = async () => {{ const bomb = Buffer.from('{packed}', 'base64'); {call} }};"
        );
        let mut req = request(event());
        req.limits.timeout = Duration::from_secs(20);
        let out = rt.run(&script(&src), req).await;
        assert!(
            matches!(out.result, Err(RunError::OutOfMemory(_))),
            "{call}: {:?}",
            out.result
        );
    }
    // The host is fine, and so is the next run.
    assert_eq!(
        sandbox(
            &rt,
            "return zlib.gunzipSync(zlib.gzipSync('after')).toString();"
        )
        .await,
        json!("after")
    );
}
