//! Host-backed crypto substituted for the pure-JavaScript libraries actions load
//! (src/substitute/, js/shims/): each library's published vectors and, for the rest, the same
//! script run through the substituted modules here and through the original modules in Node
//! (the reference), compared as JSON; ethers v5, ethers v6 and web3 end to end; a version the
//! shim was not written for loads the original; and the memory and time bounds.

mod common;

use bytes::Bytes;
use common::*;
use defender_core::{ActionCode, ActionRuntime, CodeSource, RunError};
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn preinstalled() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("preinstalled/node_modules");
    if dir.join("web3").is_dir() {
        return Some(dir);
    }
    if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("pre-installed set missing; skipped (DEFENDER_SKIP_EXTERNAL=1)");
        return None;
    }
    panic!("run scripts/install-preinstalled.sh first (or set DEFENDER_SKIP_EXTERNAL=1)");
}

/// `body`, the body of an async function of `require` whose value is JSON, run with
/// `node_modules` in Node (from that directory's parent).
fn in_node(node_modules: &Path, body: &str) -> Value {
    let script = format!(
        "(async (require) => {{ {body} \n}})(require).then((v) => process.stdout.write(JSON.stringify(v)), (e) => {{ console.error(e); process.exit(1); }});"
    );
    node_json(
        std::process::Command::new("node")
            .arg("-e")
            .arg(script)
            .current_dir(node_modules.parent().expect("a parent directory")),
    )
}

/// `body` run in the sandbox with `node_modules`, given `timeout` and `memory` bytes.
async fn in_sandbox(node_modules: &Path, body: &str, timeout: u64, memory: usize) -> Value {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules));
    let src =
        format!("exports.handler = async () => (async (require) => {{ {body} \n}})(require);");
    let mut req = request(event());
    req.limits.timeout = Duration::from_secs(timeout);
    req.limits.memory_bytes = memory;
    let out = rt.run(&script(&src), req).await;
    match out.result {
        Ok(v) => v,
        Err(e) => panic!("{e:?} {:?}", out.logs),
    }
}

/// The value of `body` here, checked equal to Node's.
async fn same_as_node(node_modules: &Path, body: &str) -> Value {
    let ours = in_sandbox(node_modules, body, 60, 256 << 20).await;
    let node = in_node(node_modules, body);
    assert_eq!(ours, node, "the sandbox and Node differ");
    ours
}

/// A deterministic stream of pseudo-random bytes for the scripts (the same in both engines).
const RANDOM: &str = r#"
    let seed = 0x2545f491;
    const rand = (n) => { const out = new Uint8Array(n); for (let i = 0; i < n; i++) { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; out[i] = seed & 255; } return out; };
    const hex = (b) => Buffer.from(b).toString('hex');
"#;

#[tokio::test(flavor = "multi_thread")]
async fn js_sha3_vectors_and_node() {
    if !npm_fixture_ready() {
        return;
    }
    let v = same_as_node(
        &node_modules(),
        &format!(
            r#"{RANDOM}
            const sha3 = require('js-sha3');
            const fox = 'The quick brown fox jumps over the lazy dog';
            const out = {{
              // Published vectors (js-sha3's tests, FIPS 202).
              k256empty: sha3.keccak_256(''), k256fox: sha3.keccak256(fox), s256fox: sha3.sha3_256(fox),
              k512fox: sha3.keccak_512(fox), shake128empty: sha3.shake_128('', 256), shake256: sha3.shake256(fox, 512),
              arr: sha3.keccak_256.array([1, 2, 3]), buf: hex(new Uint8Array(sha3.keccak_256.arrayBuffer(new Uint8Array([1, 2])))),
              chained: sha3.keccak_256.create().update('a').update(new Uint8Array([98])).update([99]).hex(),
              unicode: sha3.keccak_256('中文 😀'), lone: sha3.keccak_256('\ud800x'), odd: sha3.shake_128('x', 12),
              cshake: sha3.cshake128('', 256, 'Email Signature', ''), wide: sha3.keccak_256(new Uint16Array([300, 2])),
              digest: sha3.sha3_224.digest('abc'), toString: String(sha3.keccak_384.update('abc')),
            }};
            try {{ sha3.keccak_256(null); }} catch (e) {{ out.nullError = e.message; }}
            const h = sha3.keccak_256.create(); h.hex();
            try {{ h.update('x'); }} catch (e) {{ out.finalized = e.message; }}
            out.random = [];
            for (let i = 0; i < 64; i++) {{ const d = rand(i * 37); out.random.push([sha3.keccak_256(d), sha3.sha3_512(d), sha3.shake_256(d, 8 * i)]); }}
            return out;"#
        ),
    )
    .await;
    assert_eq!(
        v["k256empty"],
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    assert_eq!(
        v["k256fox"],
        "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"
    );
    assert_eq!(
        v["s256fox"],
        "69070dda01975c8c120c3aada1b282394e7f032fa9cf32f4cb2259a0897dfc04"
    );
    assert_eq!(
        v["shake128empty"],
        "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26"
    );
    assert_eq!(v["finalized"], "finalize already called");
}

#[tokio::test(flavor = "multi_thread")]
async fn hash_js_vectors_and_node() {
    if !npm_fixture_ready() {
        return;
    }
    let v = same_as_node(
        &node_modules(),
        &format!(
            r#"{RANDOM}
            const hash = require('hash.js');
            const out = {{
              sha256abc: hash.sha256().update('abc').digest('hex'),
              sha512abc: hash.sha512().update('abc').digest('hex'),
              sha1abc: hash.sha1().update('abc').digest('hex'), sha224abc: hash.sha224().update('abc').digest('hex'),
              sha384abc: hash.sha384().update('abc').digest('hex'), ripemd: hash.ripemd160().update('abc').digest('hex'),
              hexInput: hash.sha256().update('0a0b', 'hex').digest(), arr: hash.sha256().update([1, 2, 3]).digest(),
              // RFC 4231 test case 1.
              hmac: hash.hmac(hash.sha256, new Uint8Array(20).fill(0x0b)).update('Hi There').digest('hex'),
              hmacHex: hash.hmac(hash.sha512, '0b0b', 'hex').update([1, 2]).digest('hex'),
              notBytes: hash.sha256().update([300, 1]).digest('hex'),
              meta: [hash.sha256.blockSize, hash.sha256.outSize, hash.sha512.hmacStrength, hash.sha1.padLength, hash.sha256().padLength],
              sha: Object.keys(hash.sha), keys: Object.keys(hash),
            }};
            out.random = [];
            for (let i = 0; i < 40; i++) {{ const d = rand(i * 53), k = rand(i * 7); out.random.push([hash.sha256().update(d).digest('hex'), hash.ripemd160().update(d).digest('hex'), hash.hmac(hash.sha512, k).update(d).digest('hex')]); }}
            return out;"#
        ),
    )
    .await;
    assert_eq!(
        v["sha256abc"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        v["hmac"],
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

/// elliptic's secp256k1 through the shim, compared with the original in Node on random keys
/// and messages: public keys, canonical signatures (and the non-canonical ones the original
/// computes), recovery, verification, ECDH, point addition and encodings.
#[tokio::test(flavor = "multi_thread")]
async fn elliptic_secp256k1_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    same_as_node(
        &node_modules(),
        &format!(
            r#"{RANDOM}
            const EC = require('elliptic').ec;
            const ec = new EC('secp256k1');
            const out = [];
            for (let i = 0; i < 24; i++) {{
              const d = rand(32), m = rand(32), other = ec.keyFromPrivate(rand(32));
              const key = ec.keyFromPrivate(hex(d), 'hex');
              const sig = key.sign(m, {{ canonical: true }});
              const r = {{ r: sig.r.toString(16), s: sig.s.toString(16), v: sig.recoveryParam }};
              const pub = key.getPublic(false, 'hex');
              out.push({{
                pub, cpub: key.getPublic(true, 'hex'), arr: key.getPublic('array').length, priv: key.getPrivate('hex'),
                sig: r, der: sig.toDER('hex'), plain: (() => {{ const s = ec.sign(m, d); return [s.r.toString(16), s.s.toString(16), s.recoveryParam]; }})(),
                recovered: ec.recoverPubKey(m, {{ r: sig.r.toArray(), s: sig.s.toArray() }}, sig.recoveryParam).encode('hex', false),
                ok: ec.verify(m, sig, pub, 'hex'), okKey: key.verify(m, sig.toDER()), bad: ec.verify(rand(32), sig, key),
                derive: key.derive(other.getPublic()).toString(16),
                added: ec.keyFromPublic(pub, 'hex').pub.add(other.getPublic()).encodeCompressed('hex'),
                decompressed: ec.keyFromPublic(key.getPublic(true, 'hex'), 'hex').getPublic(false, 'hex'),
                x: key.getPublic().getX().toString(16), eq: key.getPublic().eq(ec.keyFromPublic(pub, 'hex').getPublic()),
                mul: key.getPublic().mul(other.priv).encode('hex'), short: ec.keyFromPrivate(d.subarray(0, 5)).getPublic('hex'),
              }});
            }}
            let err;
            try {{ ec.recoverPubKey(rand(32), {{ r: '00', s: '01' }}, 5); }} catch (e) {{ err = e.message; }}
            return {{ out, err, version: require('elliptic').version, p256: new EC('p256').keyFromPrivate('01').getPublic('hex') }};"#
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scrypt_js_vectors_and_node() {
    if !npm_fixture_ready() {
        return;
    }
    let v = same_as_node(
        &node_modules(),
        r#"
        const { scrypt, syncScrypt } = require('scrypt-js');
        const enc = (s) => Array.from(Buffer.from(s));
        const hex = (b) => Buffer.from(b).toString('hex');
        const progress = [];
        const out = {
          // RFC 7914, section 12.
          empty: hex(syncScrypt([], [], 16, 1, 1, 64)),
          nacl: hex(await scrypt(enc('password'), enc('NaCl'), 1024, 8, 16, 64, (p) => { progress.push(p); })),
          n1: hex(syncScrypt([1], [2], 1, 1, 1, 16)),
        };
        out.progress = [progress[0], progress[progress.length - 1]];
        for (const bad of [[[1], [2], 3, 1, 1, 16], ['x', [2], 2, 1, 1, 16], [[1], [2], 2.5, 1, 1, 16]]) {
          try { syncScrypt(...bad); } catch (e) { out[String(bad[2]) + typeof bad[0]] = e.message; }
        }
        try { await scrypt([1], [256], 2, 1, 1, 16); } catch (e) { out.rejected = e.message; }
        return out;"#,
    )
    .await;
    assert_eq!(v["empty"], "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
    assert_eq!(v["nacl"], "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

#[tokio::test(flavor = "multi_thread")]
async fn noble_hashes_and_curves_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    let v = same_as_node(
        &node_modules(),
        &format!(
            r#"{RANDOM}
            const {{ keccak_256, sha3_256, shake128, keccak_512 }} = require('@noble/hashes/sha3');
            const {{ scrypt, scryptAsync }} = require('@noble/hashes/scrypt');
            const {{ secp256k1 }} = require('@noble/curves/secp256k1');
            const out = {{
              k: hex(keccak_256('')), s: hex(sha3_256('abc')), x: hex(shake128('abc', {{ dkLen: 40 }})), lens: [keccak_512.outputLen, keccak_512.blockLen],
              inc: hex(keccak_256.create().update('a').update('b').digest()),
              scrypt: hex(scrypt('password', 'NaCl', {{ N: 1024, r: 8, p: 16, dkLen: 64 }})),
              scryptAsync: hex(await scryptAsync('pleaseletmein', 'SodiumChloride', {{ N: 16384, r: 8, p: 1, dkLen: 64 }})),
            }};
            try {{ keccak_256(12); }} catch (e) {{ out.typeError = e.message; }}
            try {{ scrypt('a', 'b', {{ N: 3, r: 1, p: 1 }}); }} catch (e) {{ out.scryptError = e.message; }}
            out.curve = [];
            for (let i = 0; i < 16; i++) {{
              const d = rand(32), m = rand(32), d2 = rand(32);
              const sig = secp256k1.sign(m, d);
              const pub = secp256k1.getPublicKey(d, false);
              const sig2 = secp256k1.Signature.fromCompact(sig.toCompactHex()).addRecoveryBit(sig.recovery);
              out.curve.push({{
                pub: hex(pub), cpub: hex(secp256k1.getPublicKey(hex(d))), r: sig.r.toString(16), s: sig.s.toString(16), v: sig.recovery,
                hi: sig.hasHighS(), der: sig.toDERHex(), rec: sig2.recoverPublicKey(m).toHex(false),
                ok: secp256k1.verify(sig, m, pub), bad: secp256k1.verify(sig, rand(32), pub),
                shared: hex(secp256k1.getSharedSecret(d, secp256k1.getPublicKey(d2), false)),
                big: hex(secp256k1.getPublicKey(BigInt('0x' + hex(d)))),
              }});
            }}
            try {{ secp256k1.getPublicKey(new Uint8Array(32)); }} catch (e) {{ out.zeroKey = e.message; }}
            return out;"#
        ),
    )
    .await;
    assert_eq!(
        v["k"],
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    assert_eq!(v["scryptAsync"], "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

/// ethers v5 and v6 end to end: a wallet from a private key, a signed message and typed data,
/// an encrypted JSON wallet (scrypt), keccak256 of 1 MB and recovery, all as in Node.
#[tokio::test(flavor = "multi_thread")]
async fn ethers_v5_and_v6_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    let pk = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    // A keystore encrypted by Node (scrypt N = 2^14).
    let keystore = in_node(
        &node_modules(),
        &format!(
            "const {{ ethers }} = require('ethers5'); return await new ethers.Wallet('{pk}').encrypt('pass', {{ scrypt: {{ N: 16384 }} }});"
        ),
    );
    let keystore = keystore.as_str().expect("a keystore");
    let typed = r#"const domain = { name: 'Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' };
        const types = { Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }], Mail: [{ name: 'from', type: 'Person' }, { name: 'contents', type: 'string' }] };
        const value = { from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' }, contents: 'Hello, Bob!' };
        const mb = new Uint8Array(1 << 20).map((_, i) => i & 255);"#;
    let v5 = same_as_node(
        &node_modules(),
        &format!(
            r#"{typed}
            const {{ ethers }} = require('ethers5');
            const w = new ethers.Wallet('{pk}');
            const sig = await w.signMessage('hello');
            const decrypted = await ethers.Wallet.fromEncryptedJson({keystore:?}, 'pass');
            return {{ address: w.address, publicKey: w.publicKey, sig, typed: await w._signTypedData(domain, types, value),
              recovered: ethers.utils.verifyMessage('hello', sig), keccak: ethers.utils.keccak256(mb), decrypted: decrypted.address,
              shared: w._signingKey().computeSharedSecret(ethers.Wallet.createRandom().publicKey).length,
              compressed: ethers.utils.computePublicKey(w.publicKey, true), sha: ethers.utils.sha256(mb), ripemd: ethers.utils.ripemd160('0x12'),
              hmac: ethers.utils.computeHmac('sha512', '0x01', '0x02') }};"#
        ),
    )
    .await;
    let v6 = same_as_node(
        &node_modules(),
        &format!(
            r#"{typed}
            const {{ ethers }} = require('ethers6');
            const w = new ethers.Wallet('{pk}');
            const sig = await w.signMessage('hello');
            const decrypted = await ethers.Wallet.fromEncryptedJson({keystore:?}, 'pass');
            return {{ address: w.address, publicKey: w.signingKey.publicKey, sig, typed: await w.signTypedData(domain, types, value),
              recovered: ethers.verifyMessage('hello', sig), keccak: ethers.keccak256(mb), decrypted: decrypted.address,
              compressed: ethers.SigningKey.computePublicKey(w.signingKey.publicKey, true) }};"#
        ),
    )
    .await;
    assert_eq!(v5["address"], "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
    assert_eq!(v6["address"], v5["address"]);
    assert_eq!(v5["sig"], v6["sig"]);
    assert_eq!(v5["decrypted"], v5["address"]);
    assert_eq!(v5["typed"], v6["typed"]);
}

/// web3 1.x (the pre-installed set): `privateKeyToAccount`, `sign` and `recover`, as in Node.
#[tokio::test(flavor = "multi_thread")]
async fn web3_accounts_as_in_node() {
    let Some(dir) = preinstalled() else { return };
    let v = same_as_node(
        &dir,
        r#"
        const Web3 = require('web3');
        const web3 = new Web3();
        const a = web3.eth.accounts.privateKeyToAccount('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');
        const s = a.sign('hello');
        return { address: a.address, signature: s.signature, recovered: web3.eth.accounts.recover('hello', s.signature),
          sha3: web3.utils.sha3('hello'), keccak: web3.utils.keccak256('0x1234') };"#,
    )
    .await;
    assert_eq!(v["address"], "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
    assert_eq!(v["recovered"], v["address"]);
}

fn bundle(files: &[(&str, &str)]) -> ActionCode {
    ActionCode {
        action_id: "substitution".into(),
        version: 1,
        source: CodeSource::Bundle(
            files
                .iter()
                .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
                .collect(),
        ),
    }
}

/// A package of a version the shim was not written for, or of another name, loads as it is;
/// one in the range gets the shim, whose `original()` is the file itself.
#[tokio::test(flavor = "multi_thread")]
async fn only_supported_versions_are_substituted() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().without_preinstalled());
    let code = bundle(&[
        (
            "index.js",
            r#"exports.handler = async () => ({
              old: require('old/node_modules/elliptic').marker, other: require('other').marker,
              shimmed: typeof require('elliptic').ec, version: require('elliptic').version,
              curves: require('elliptic').curves, path: require.resolve('elliptic') });"#,
        ),
        ("node_modules/old/package.json", r#"{"name": "old"}"#),
        (
            "node_modules/old/node_modules/elliptic/package.json",
            r#"{"name": "elliptic", "version": "5.2.1", "main": "lib/elliptic.js"}"#,
        ),
        (
            "node_modules/old/node_modules/elliptic/lib/elliptic.js",
            "exports.marker = 'original 5.2.1';",
        ),
        (
            "node_modules/other/package.json",
            r#"{"name": "not-elliptic", "version": "6.5.4", "main": "lib/elliptic.js"}"#,
        ),
        (
            "node_modules/other/lib/elliptic.js",
            "exports.marker = 'other';",
        ),
        (
            "node_modules/elliptic/package.json",
            r#"{"name": "elliptic", "version": "6.5.4", "main": "lib/elliptic.js"}"#,
        ),
        (
            "node_modules/elliptic/lib/elliptic.js",
            "exports.curves = 'the original, loaded by the shim';",
        ),
    ]);
    let out = rt.run(&code, request(event())).await;
    assert_eq!(
        out.result.expect("runs"),
        json!({"old": "original 5.2.1", "other": "other", "shimmed": "function", "version": "6.5.4",
               "curves": "the original, loaded by the shim", "path": "/action/node_modules/elliptic/lib/elliptic.js"})
    );
}

/// ethers v5's ENS normalisation builds its tables on the first call, not when ethers loads:
/// the original module's top level runs once, at the first `ens_normalize`, and the
/// functions answer as the original's; @ethersproject/hash before 5.7 loads as it is.
#[tokio::test(flavor = "multi_thread")]
async fn ens_tables_are_built_on_first_use() {
    let rt = QuickJsRuntime::new(RuntimeConfig::default().without_preinstalled());
    let lib = r#"globalThis.tablesBuilt = (globalThis.tablesBuilt || 0) + 1;
        Object.defineProperty(exports, "__esModule", { value: true });
        exports.ens_normalize = (name) => 'normalized ' + name;
        exports.ens_normalize_post_check = (name) => 'checked ' + name;"#;
    let code = bundle(&[
        (
            "index.js",
            r#"exports.handler = async () => {
              const ens = require('@ethersproject/hash/lib/ens-normalize/lib.js');
              const before = globalThis.tablesBuilt;
              const keys = Object.keys(ens).sort();
              const esModule = ens.__esModule;
              const first = ens.ens_normalize('a.eth');
              const second = ens.ens_normalize_post_check('b.eth');
              const after = globalThis.tablesBuilt;
              const old = require('old/node_modules/@ethersproject/hash/lib/ens-normalize/lib.js');
              return { before: before ?? null, keys, esModule, first, second, after,
                       old: old.ens_normalize('c.eth'), afterOld: globalThis.tablesBuilt };
            };"#,
        ),
        (
            "node_modules/@ethersproject/hash/package.json",
            r#"{"name": "@ethersproject/hash", "version": "5.7.0"}"#,
        ),
        (
            "node_modules/@ethersproject/hash/lib/ens-normalize/lib.js",
            lib,
        ),
        ("node_modules/old/package.json", r#"{"name": "old"}"#),
        (
            "node_modules/old/node_modules/@ethersproject/hash/package.json",
            r#"{"name": "@ethersproject/hash", "version": "5.6.1"}"#,
        ),
        (
            "node_modules/old/node_modules/@ethersproject/hash/lib/ens-normalize/lib.js",
            lib,
        ),
    ]);
    let out = rt.run(&code, request(event())).await;
    assert_eq!(
        out.result.expect("runs"),
        json!({"before": null, "keys": ["ens_normalize", "ens_normalize_post_check"], "esModule": true,
               "first": "normalized a.eth", "second": "checked b.eth", "after": 1,
               "old": "normalized c.eth", "afterOld": 2})
    );
}

/// ethers v5's EIP-712 helpers (through the substituted `typed-data.js`, whose helpers reuse
/// encoders) as in Node: signatures and hashes of several types, the same types again after the
/// script changed them, errors, and a fresh encoder for each `from` the script calls.
#[tokio::test(flavor = "multi_thread")]
async fn typed_data_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    let body = r#"const { ethers } = require('ethers');
        const T = ethers.utils._TypedDataEncoder;
        const w = new ethers.Wallet('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318');
        const domain = { name: 'Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' };
        const types = { Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
                        Mail: [{ name: 'from', type: 'Person' }, { name: 'contents', type: 'string' }] };
        const mail = { from: { name: 'Cow', wallet: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826' }, contents: 'Hello, Bob!' };
        const permit = { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' },
                         { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] };
        const permitValue = { owner: w.address, spender: '0x0000000000000000000000000000000000000001',
                              value: ethers.BigNumber.from('1000000000000000000000'), nonce: 0, deadline: 2000000000 };
        const out = [];
        for (let i = 0; i < 3; i++) {
          out.push(await w._signTypedData(domain, types, mail));
          out.push(await w._signTypedData({ name: 'Token', chainId: 5 }, permit, permitValue));
        }
        out.push(T.hash(domain, types, mail), T.hashDomain(domain), T.getPrimaryType(types),
                 T.encode(domain, types, mail), T.hashStruct('Person', types, mail.from));
        // The same object, changed: a new encoder, not the remembered one.
        types.Person[1].type = 'bytes32';
        const changed = { from: { name: 'Cow', wallet: ethers.utils.hexZeroPad('0x01', 32) }, contents: 'x' };
        out.push(T.hash(domain, types, changed));
        types.Person[1].type = 'address';
        out.push(T.hash(domain, types, mail));
        const errors = [
          () => T.hash({ nope: 1 }, types, mail),
          () => T.hash(domain, { A: [{ name: 'a', type: 'uint256' }], B: [{ name: 'b', type: 'uint256' }] }, { a: 1 }),
          () => T.hash(domain, { A: [{ name: 'a', type: 'Missing' }] }, { a: 1 }),
          () => T.hash(domain, permit, { ...permitValue, value: -1 }),
          () => T.hash(domain, permit, { ...permitValue, owner: '0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827' }),
        ];
        for (const f of errors) { try { out.push(f()); } catch (e) { out.push('error: ' + e.message); } }
        // A domain changed between two calls is hashed again.
        const d2 = { ...domain };
        out.push(T.hashDomain(d2));
        d2.chainId = 5;
        out.push(T.hashDomain(d2), T.hashDomain({ name: NaN }), T.hashDomain({ name: Infinity }));
        // (The engines word a TypeError differently.)
        try { out.push(T.hashDomain({ name: null })); } catch (e) { out.push('error: ' + e.name); }
        out.push(T.from(types) !== T.from(types), T.from(types) instanceof T);
        return out;"#;
    let v = same_as_node(&node_modules(), body).await;
    let out = v.as_array().expect("an array");
    // Signing again gives the same signatures; the changed types hash differently.
    assert_eq!(out[0], out[2]);
    assert_eq!(out[1], out[3]);
    assert_ne!(out[11], out[12]);
    assert_eq!(out[12], out[6]);
    assert_eq!(out[18], out[7]);
    assert_ne!(out[19], out[18]);
    assert_eq!(
        out.iter()
            .filter(|a| a.as_str().is_some_and(|s| s.starts_with("error: ")))
            .count(),
        6,
        "{v}"
    );
    assert_eq!(out[out.len() - 2], json!(true));
}

/// ethers v5's ENS names (through the substituted normalisation) as in Node: namehashes of
/// names that normalise (case, emoji, compatibility forms) and the errors of names that do
/// not.
#[tokio::test(flavor = "multi_thread")]
async fn ens_names_as_in_node() {
    if !npm_fixture_ready() {
        return;
    }
    let body = r#"const { ethers } = require('ethers');
        const names = ['vitalik.eth', 'Vitalik.ETH', 'ricmoo.firefly.eth', '\u{1F4A9}.eth', '\uFB01x.eth',
          '_a.eth', 'a_b.eth', 'ab--cd.eth', 'xn--ls8h.eth', 'a..b', '', 'a\u0000b.eth', '\u{1F468}\u200D\u{1F4BB}.eth'];
        return names.map((n) => {
          try { return [ethers.utils.namehash(n), ethers.utils.dnsEncode(n)]; }
          catch (e) { return 'error: ' + e.message; }
        });"#;
    let v = same_as_node(&node_modules(), body).await;
    let answers = v.as_array().expect("an array");
    assert_eq!(answers.len(), 13);
    // Both kinds are covered: names that normalise and names refused.
    assert!(answers[1].is_array() && answers[1] == answers[0], "{v}");
    assert!(
        answers
            .iter()
            .any(|a| a.as_str().is_some_and(|s| s.starts_with("error: "))),
        "{v}"
    );
}

/// The host's bounds hold through the shims: a keccak input beyond the run's memory ends it
/// as `OutOfMemory`, hashing in a loop stops at the deadline, and an scrypt cost beyond the
/// sandbox's bounds is a RangeError the script can catch.
#[tokio::test(flavor = "multi_thread")]
async fn bounds_hold_through_the_shims() {
    if !npm_fixture_ready() {
        return;
    }
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let out = run(
        &rt,
        "const { keccak_256 } = require('js-sha3');
         exports.handler = async () => keccak_256(new Uint8Array(200 * 1024 * 1024));",
    )
    .await;
    assert!(
        matches!(out.result, Err(RunError::OutOfMemory(_))),
        "{:?}",
        out.result
    );
    let out = run(
        &rt,
        "const { keccak_256 } = require('@noble/hashes/sha3');
         exports.handler = async () => { const d = new Uint8Array(4 << 20); for (;;) keccak_256(d); };",
    )
    .await;
    assert!(
        matches!(out.result, Err(RunError::Timeout(_))),
        "{:?}",
        out.result
    );
    let v = returned(
        &rt,
        "const { syncScrypt } = require('scrypt-js');
         exports.handler = async () => { try { syncScrypt([1], [2], 1 << 20, 8, 1, 32); } catch (e) { return [e.name, e.message]; } };",
        "scrypt bound",
    )
    .await;
    assert_eq!(v[0], "RangeError");
    assert!(
        v[1].as_str()
            .unwrap_or_default()
            .contains("more work or memory than the sandbox allows"),
        "{v}"
    );
}

/// An ES module's `import` of a substituted file gets the shim too.
#[tokio::test(flavor = "multi_thread")]
async fn imports_are_substituted() {
    if !npm_fixture_ready() {
        return;
    }
    let rt = QuickJsRuntime::new(RuntimeConfig::default().with_node_modules(node_modules()));
    let v = returned(
        &rt,
        "import { keccak_256 } from '@noble/hashes/sha3';
         import sha3 from 'js-sha3';
         export async function handler() { return [Buffer.from(keccak_256('')).toString('hex'), sha3.keccak_256('')]; }",
        "esm",
    )
    .await;
    let empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";
    assert_eq!(v, json!([empty, empty]));
}

/// Times the operations of the issue in the sandbox (each in a run of its own, after a warm-up
/// run that loads ethers), and in Node. Not a benchmark (the `runtime` bench is); run by hand:
/// `cargo test -p defender-runtime --all-features --test crypto_substitution -- --ignored
/// --nocapture timings`, with `DEFENDER_UNSUBSTITUTED_MODULES` naming a copy of
/// tests/node/node_modules whose crypto packages have versions outside the shims' ranges to
/// time the original JavaScript too.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn timings() {
    if !npm_fixture_ready() {
        return;
    }
    // ethers' default scrypt cost (N = 2^17), encrypted by Node.
    let keystore = in_node(
        &node_modules(),
        "const { ethers } = require('ethers5'); return await new ethers.Wallet('0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318').encrypt('pass');",
    );
    let keystore = keystore.as_str().expect("a keystore").to_owned();
    let body = |ethers: &str, op: &str| {
        format!(
            r#"const {{ ethers }} = require('{ethers}');
            const v6 = !ethers.utils;
            const pk = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
            const mb = new Uint8Array(1 << 20);
            const ks = {keystore:?};
            const ops = {{
              wallet: () => new ethers.Wallet(pk).address,
              sign: () => new ethers.Wallet(pk).signMessage('hello'),
              keccak: () => (v6 ? ethers.keccak256 : ethers.utils.keccak256)(mb),
              decrypt: () => ethers.Wallet.fromEncryptedJson(ks, 'pass'),
            }};
            const t0 = Date.now();
            await ops['{op}']();
            return Date.now() - t0;"#
        )
    };
    let mut dirs = vec![("substituted", node_modules())];
    if let Ok(d) = std::env::var("DEFENDER_UNSUBSTITUTED_MODULES") {
        dirs.push(("original", PathBuf::from(d)));
    }
    for ethers in ["ethers5", "ethers6"] {
        for op in ["wallet", "sign", "keccak", "decrypt"] {
            let node = in_node(&node_modules(), &body(ethers, op));
            let mut line = format!("{ethers} {op}: node {node} ms");
            for (label, dir) in &dirs {
                let ms = in_sandbox(dir, &body(ethers, op), 600, 512 << 20).await;
                line.push_str(&format!(", {label} {ms} ms"));
            }
            eprintln!("{line}");
        }
    }
}
