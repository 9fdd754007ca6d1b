//! Node's `crypto` module in the sandbox: `createHash`, `createHmac`, `hash`, `getHashes`,
//! `pbkdf2`/`pbkdf2Sync` and `timingSafeEqual`, computed by the host; `scrypt`, `randomInt`
//! and `crypto.subtle` against Node. Their deadlines and memory: `node_crypto_limits.rs`.
//!
//! Expected values are published test vectors (FIPS 180 and the RIPEMD-160 and MD5 papers'
//! "abc", RFC 4231 and RFC 2202/2286 for HMAC, RFC 6070 and RFC 7914 for PBKDF2, Binance's
//! documented request signature) or computed outside the sandbox (Python's `hashlib`/`hmac`);
//! error classes, codes and messages are Node 20's.
mod common;
mod node_crypto_support;

use defender_runtime::QuickJsRuntime;
use node_crypto_support::{eval, node};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_of_abc_are_the_published_ones() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        "const out = {};
         for (const a of ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160', 'sha512-224', 'sha512-256'])
           out[a] = crypto.createHash(a).update('abc').digest('hex');
         return out;",
    )
    .await;
    assert_eq!(
        got,
        json!({
            "md5": "900150983cd24fb0d6963f7d28e17f72",
            "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
            "sha224": "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "ripemd160": "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
            "sha512-224": "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa",
            "sha512-256": "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_take_nodes_inputs_names_and_encodings() {
    let rt = QuickJsRuntime::default();
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let got = eval(
        &rt,
        r#"const h = (a, ...u) => { const x = crypto.createHash(a); for (const [d, e] of u) x.update(d, e); return x.digest('hex'); };
         const bytes = new Uint8Array([0, 97, 98, 99, 0]);
         const chained = crypto.createHash('sha256').update('a').update(Buffer.from('b')).update(new Uint8Array([99]));
         const base = crypto.createHash('sha256').update('ab');
         const copy = base.copy();
         base.update('c');
         copy.update('x');
         const million = crypto.createHash('sha256');
         const chunk = 'a'.repeat(1000);
         for (let i = 0; i < 1000; i++) million.update(chunk);
         return {
           names: ['SHA256', 'Sha256', 'RSA-SHA256', 'sha-256', 'sha2-256', 'sha256WithRSAEncryption'].map((n) => h(n, ['abc'])),
           chained: chained.digest('hex'),
           copied: [base.digest('hex'), copy.digest('hex')],
           buffer: h('sha256', [Buffer.from('abc')]),
           view: h('sha256', [bytes.subarray(1, 4)]),
           offsetView: h('sha256', [new Uint8Array(bytes.buffer, 1, 3)]),
           uint16: h('sha256', [new Uint16Array(new Uint8Array([97, 98, 99, 0]).buffer).subarray(0, 1), undefined], [new Uint8Array([99])]),
           dataView: h('sha256', [new DataView(bytes.buffer, 1, 3)]),
           hex: h('sha256', ['616263', 'hex']),
           base64: h('sha256', ['YWJj', 'base64']),
           latin1: h('sha256', ['abc', 'latin1']),
           utf16le: h('sha256', ['ab', 'utf16le']),
           unknownEncodingIsUtf8: h('sha256', ['abc', 'no-such-encoding']),
           nist2: h('sha256', ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq']),
           nist2sha1: h('sha1', ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq']),
           million: million.digest('hex'),
           loneSurrogate: h('sha1', ['\ud800']),
           replacement: h('sha1', ['\ufffd']),
           b64: crypto.createHash('sha256').update('abc').digest('base64'),
           b64url: crypto.createHash('sha256').update('abc').digest('base64url'),
           latin1Out: crypto.createHash('sha256').update('abc').digest('latin1').length,
           buf: (() => { const d = crypto.createHash('sha256').update('abc').digest(); return [Buffer.isBuffer(d), d.length, d[0]]; })(),
           unknownOutIsBuffer: Buffer.isBuffer(crypto.createHash('sha256').update('abc').digest('no-such-encoding')),
           oneShot: [crypto.hash('sha1', 'abc'), crypto.hash('sha256', 'abc', 'base64'), Buffer.isBuffer(crypto.hash('md5', 'abc', 'buffer'))],
           nodePrefix: require('node:crypto').createHash('md5').update('abc').digest('hex'),
           hashes: ['sha256', 'RSA-SHA256', 'md5', 'sha1', 'sha512', 'ripemd160'].every((n) => crypto.getHashes().includes(n)),
         };"#,
    )
    .await;
    assert_eq!(got["names"], json!(vec![abc; 6]));
    assert_eq!(got["chained"], json!(abc));
    assert_eq!(
        got["copied"],
        json!([
            abc,
            "b2bdab4230154046ad0b7dfa830a9260caa5bd6ae230e582a2244ab4bf0b4ca5"
        ]),
        "{got}"
    );
    for k in [
        "buffer",
        "view",
        "offsetView",
        "uint16",
        "dataView",
        "hex",
        "base64",
        "latin1",
        "unknownEncodingIsUtf8",
    ] {
        assert_eq!(got[k], json!(abc), "{k}: {got}");
    }
    assert_eq!(
        got["utf16le"],
        json!("8fb20ef63ced4145fc2e983ffe597d1dcff39154c3bf21f0fa9dde6a0c50fdc9")
    );
    assert_eq!(
        got["nist2"],
        json!("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    );
    assert_eq!(
        got["nist2sha1"],
        json!("84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    );
    assert_eq!(
        got["million"],
        json!("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    );
    // A lone surrogate is hashed as U+FFFD, as Node encodes it.
    assert_eq!(got["loneSurrogate"], got["replacement"]);
    assert_eq!(
        got["loneSurrogate"],
        json!("9bdb77276c1852e1fb067820472812fcf6084024")
    );
    assert_eq!(
        got["b64"],
        json!("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
    );
    assert_eq!(
        got["b64url"],
        json!("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
    );
    assert_eq!(got["latin1Out"], json!(32));
    assert_eq!(got["buf"], json!([true, 32, 0xba]));
    assert_eq!(got["unknownOutIsBuffer"], json!(true));
    assert_eq!(
        got["oneShot"],
        json!([
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            true
        ])
    );
    assert_eq!(got["nodePrefix"], json!("900150983cd24fb0d6963f7d28e17f72"));
    assert_eq!(got["hashes"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_matches_rfc_4231_2202_and_2286() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        r#"const mac = (a, key, data) => crypto.createHmac(a, key).update(data).digest('hex');
         const jefe = ['Jefe', 'what do ya want for nothing?'];
         const big = Buffer.alloc(131, 0xaa);
         return {
           case1: ['sha224', 'sha256', 'sha384', 'sha512'].map((a) => mac(a, Buffer.alloc(20, 0x0b), 'Hi There')),
           case2: ['sha256', 'sha512', 'md5', 'sha1', 'ripemd160'].map((a) => mac(a, ...jefe)),
           case3: mac('sha256', new Uint8Array(20).fill(0xaa), Buffer.alloc(50, 0xdd)),
           case4: mac('sha256', Uint8Array.from({ length: 25 }, (_, i) => i + 1), Buffer.alloc(50, 0xcd)),
           case6: ['sha256', 'sha512'].map((a) => mac(a, big, 'Test Using Larger Than Block-Size Key - Hash Key First')),
           case7: mac('sha256', big.buffer.slice(big.byteOffset, big.byteOffset + 131), 'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
           keyAsDataView: mac('sha256', new DataView(new TextEncoder().encode('xJefex').buffer, 1, 4), jefe[1]),
           keyAsHex: crypto.createHmac('sha256', '4a656665', { encoding: 'hex' }).update(jefe[1]).digest('hex'),
           utf8: mac('sha256', 'clé-€', 'héllo 😀'),
         };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "case1": [
                "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ],
            "case2": [
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                "750c783e6ab0b503eaa86e310a5db738",
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
                "dda6c0213a485a9e24f4742064a7f033b43c4069",
            ],
            "case3": "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            "case4": "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            "case6": [
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
            "case7": "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            "keyAsDataView": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "keyAsHex": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "utf8": "926e9716db6c456d636acd29c737dbb9ffe048adc8c29a83c524fa91978517b9",
        })
    );
}

/// Request signatures as actions write them for exchanges' and custom REST APIs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmac_signed_requests_as_actions_write_them() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        r#"const secret = 'test-secret';
         const timestamp = '1700000000000';
         const method = 'POST';
         const path = '/v1/relayers/txs';
         const body = JSON.stringify({ to: '0x0000000000000000000000000000000000000001', value: '1' });
         const signature = crypto.createHmac('sha256', secret).update(timestamp + method + path + body).digest('hex');
         const headers = { 'X-Timestamp': timestamp, 'X-Signature': signature };
         // Coinbase-style: a base64 secret, a base64 signature.
         const cb = crypto.createHmac('sha256', Buffer.from('c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm', 'base64'))
           .update(timestamp + method + path + body).digest('base64');
         // Binance's documented example (query string signed with the API secret).
         const query = 'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559';
         const binance = crypto.createHmac('sha256', 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j').update(query).digest('hex');
         // A webhook check: the expected signature compared in constant time.
         const given = Buffer.from(signature, 'hex');
         const ok = crypto.timingSafeEqual(given, crypto.createHmac('sha256', secret).update(timestamp + method + path + body).digest());
         const forged = crypto.timingSafeEqual(Buffer.alloc(32), crypto.createHmac('sha256', secret).update(body).digest());
         return { headers, cb, binance, ok, forged };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "headers": {
                "X-Timestamp": "1700000000000",
                "X-Signature": "eae35ea06ec7d50319fb88c5459cf95d175aa7e664016fae214627ee52c287c7",
            },
            "cb": "XwSRvTlZwQsc1iFHj9LiRRU2t47HaKi8yayGsu/8kmE=",
            "binance": "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
            "ok": true,
            "forged": false,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbkdf2_matches_rfc_6070_and_rfc_7914() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        r#"const k = (p, s, c, n, d) => crypto.pbkdf2Sync(p, s, c, n, d || 'sha1').toString('hex');
         const viaCallback = await new Promise((resolve, reject) => {
           let sync = true;
           crypto.pbkdf2('password', 'salt', 2, 20, 'sha1', (e, key) => (e ? reject(e) : resolve([sync, Buffer.isBuffer(key), key.toString('hex')])));
           sync = false;
         });
         return {
           c1: k('password', 'salt', 1, 20),
           c2: k('password', 'salt', 2, 20),
           c4096: k('password', 'salt', 4096, 20),
           long: k('passwordPASSWORDpassword', 'saltSALTsaltSALTsaltSALTsaltSALTsalt', 4096, 25),
           nul: k(Buffer.from('pass\0word'), new TextEncoder().encode('sa\0lt'), 4096, 16),
           sha256: k('passwd', 'salt', 1, 64, 'sha256'),
           upperCase: k('password', 'salt', 1, 20, 'SHA1'),
           empty: crypto.pbkdf2Sync('password', 'salt', 1, 0, 'sha256').length,
           viaCallback,
         };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "c1": "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            "c2": "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957",
            "c4096": "4b007901b765489abead49d926f721d065a429c1",
            "long": "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038",
            "nul": "56fa6aa75548099dcc37d7f03425e0c3",
            "sha256": "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
            "upperCase": "0c60c80f961f0e71f3a9b524af6012062fe037a6",
            "empty": 0,
            "viaCallback": [false, true, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"],
        })
    );
}

/// Each error as Node 20 throws it: class, code and message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_nodes() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        r#"const h = crypto.createHash('sha256');
         const first = h.update('abc').digest('hex');
         const m = crypto.createHmac('sha256', 'k');
         const mac = m.digest('hex');
         return {
           unknownHash: err(() => crypto.createHash('sha3-999')),
           unknownHmac: err(() => crypto.createHmac('foo', 'k')),
           unknownPbkdf2: err(() => crypto.pbkdf2Sync('a', 'b', 1, 2, 'foo')),
           unknownOneShot: err(() => crypto.hash('foo', 'abc')),
           notAString: err(() => crypto.createHash(5)),
           digestTwice: err(() => h.digest('hex')),
           updateAfterDigest: err(() => h.update('x')),
           copyAfterDigest: err(() => h.copy()),
           first,
           // Node returns an empty digest (deprecated) for an HMAC digested twice.
           hmacTwice: [mac.length, m.digest('hex'), m.digest().length],
           hmacUpdateAfterDigest: err(() => m.update('x')),
           lengths: err(() => crypto.timingSafeEqual(Buffer.alloc(1), Buffer.alloc(2))),
           notBuffers: err(() => crypto.timingSafeEqual('a', Buffer.alloc(1))),
           notBuffers2: err(() => crypto.timingSafeEqual(Buffer.alloc(1), 'a')),
           arrayBuffers: crypto.timingSafeEqual(new Uint8Array([1, 2]).buffer, new Uint16Array([0x0201])),
           dataView: err(() => crypto.createHash('sha1').update({ byteLength: 4 })),
           arrayBufferData: err(() => crypto.createHash('sha1').update(new ArrayBuffer(2))),
           oddHex: err(() => crypto.createHash('sha1').update('abc', 'hex')),
           badKey: err(() => crypto.createHmac('sha256', {})),
           noDigest: err(() => crypto.pbkdf2Sync('a', 'b', 1, 2)),
           badPassword: err(() => crypto.pbkdf2Sync({}, 'b', 1, 2, 'sha1')),
           negativeIterations: err(() => crypto.pbkdf2Sync('a', 'b', -1, 2, 'sha1')),
           fractionalIterations: err(() => crypto.pbkdf2Sync('a', 'b', 1.5, 2, 'sha1')),
           stringIterations: err(() => crypto.pbkdf2Sync('a', 'b', '1', 2, 'sha1')),
           nanKeylen: err(() => crypto.pbkdf2Sync('a', 'b', 1, NaN, 'sha1')),
           noCallback: err(() => crypto.pbkdf2('a', 'b', 1, 2, 'sha1')),
         };"#,
    )
    .await;
    let e = |name: &str, code: Option<&str>, message: &str| json!([name, code, message]);
    let data_type = "The \"data\" argument must be of type string or an instance of Buffer, TypedArray, or DataView.";
    assert_eq!(
        got,
        json!({
            "unknownHash": e("Error", None, "Digest method not supported"),
            "unknownHmac": e("TypeError", Some("ERR_CRYPTO_INVALID_DIGEST"), "Invalid digest: foo"),
            "unknownPbkdf2": e("TypeError", Some("ERR_CRYPTO_INVALID_DIGEST"), "Invalid digest: foo"),
            "unknownOneShot": e("Error", None, "Digest method foo is not supported"),
            "notAString": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"algorithm\" argument must be of type string. Received type number (5)"),
            "digestTwice": e("Error", Some("ERR_CRYPTO_HASH_FINALIZED"), "Digest already called"),
            "updateAfterDigest": e("Error", Some("ERR_CRYPTO_HASH_FINALIZED"), "Digest already called"),
            "copyAfterDigest": e("Error", Some("ERR_CRYPTO_HASH_FINALIZED"), "Digest already called"),
            "first": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "hmacTwice": [64, "", 0],
            "hmacUpdateAfterDigest": e("Error", Some("ERR_CRYPTO_HASH_FINALIZED"), "Digest already called"),
            "lengths": e("RangeError", Some("ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH"), "Input buffers must have the same byte length"),
            "notBuffers": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"buf1\" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView."),
            "notBuffers2": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"buf2\" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView."),
            "arrayBuffers": true,
            "dataView": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), &format!("{data_type} Received an instance of Object")),
            "arrayBufferData": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), &format!("{data_type} Received an instance of ArrayBuffer")),
            "oddHex": e("TypeError", Some("ERR_INVALID_ARG_VALUE"), "The argument 'encoding' is invalid for data of length 3. Received 'hex'"),
            "badKey": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"key\" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey. Received an instance of Object"),
            "noDigest": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"digest\" argument must be of type string. Received undefined"),
            "badPassword": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"password\" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView. Received an instance of Object"),
            "negativeIterations": e("RangeError", Some("ERR_OUT_OF_RANGE"), "The value of \"iterations\" is out of range. It must be >= 1 && <= 10000000. Received -1"),
            "fractionalIterations": e("RangeError", Some("ERR_OUT_OF_RANGE"), "The value of \"iterations\" is out of range. It must be an integer. Received 1.5"),
            "stringIterations": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"iterations\" argument must be of type number. Received type string ('1')"),
            "nanKeylen": e("RangeError", Some("ERR_OUT_OF_RANGE"), "The value of \"keylen\" is out of range. It must be an integer. Received NaN"),
            "noCallback": e("TypeError", Some("ERR_INVALID_ARG_TYPE"), "The \"callback\" argument must be of type function. Received undefined"),
        })
    );
}

/// Values a hostile script passes: the host reads each once, bounds it, and is not fooled by
/// getters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_are_refused_or_read_as_the_engine_keeps_them() {
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        r#"const liar = { get byteLength() { return 2 ** 40; }, byteOffset: 0, buffer: new ArrayBuffer(8), length: 2 ** 40 };
         const fakeView = Object.setPrototypeOf({ get byteLength() { return 2 ** 40; } }, Uint8Array.prototype);
         const fakeBuffer = Object.setPrototypeOf({ get byteLength() { return 2 ** 40; } }, ArrayBuffer.prototype);
         class Lying extends Uint8Array {
           get byteLength() { return 2 ** 40; }
           get length() { return 2 ** 40; }
           get byteOffset() { return -5; }
           get buffer() { return new ArrayBuffer(2 ** 20); }
         }
         class LyingView extends DataView {
           get byteLength() { return 2 ** 40; }
           get byteOffset() { return 2 ** 33; }
         }
         const abc = new TextEncoder().encode('abc');
         const lying = new Lying(3); lying.set(abc);
         const lyingView = new LyingView(abc.buffer);
         return {
           hugeKeylen: err(() => crypto.pbkdf2Sync('a', 'b', 1, 2 ** 31 - 1, 'sha1')),
           keylenOverTheHostsLimit: err(() => crypto.pbkdf2Sync('a', 'b', 1, 1048577, 'sha1')),
           keylenAtTheLimit: crypto.pbkdf2Sync('a', 'b', 1, 1048576, 'sha1').length,
           rfc6070c16777216: err(() => crypto.pbkdf2Sync('password', 'salt', 16777216, 20, 'sha1')),
           hugeIterations: err(() => crypto.pbkdf2Sync('a', 'b', 2 ** 53, 2, 'sha1')),
           infinite: err(() => crypto.pbkdf2Sync('a', 'b', Infinity, 2, 'sha1')),
           numberObject: err(() => crypto.pbkdf2Sync('a', 'b', { valueOf() { return 1; } }, 2, 'sha1')),
           liarData: err(() => crypto.createHash('sha256').update(liar)),
           liarKey: err(() => crypto.createHmac('sha256', liar)),
           liarSalt: err(() => crypto.pbkdf2Sync('a', liar, 1, 2, 'sha1')),
           liarCompare: err(() => crypto.timingSafeEqual(liar, liar)),
           fakeView: err(() => crypto.createHash('sha256').update(fakeView)),
           fakeBufferKey: err(() => crypto.createHmac('sha256', fakeBuffer)),
           lyingSubclass: crypto.createHash('sha256').update(lying).digest('hex'),
           lyingDataView: crypto.createHash('sha256').update(lyingView).digest('hex'),
           lyingCompare: crypto.timingSafeEqual(lying, abc),
           longName: err(() => crypto.createHash('sha256'.repeat(100000))).slice(0, 2),
           symbolName: err(() => crypto.createHash(Symbol('x'))),
         };"#,
    )
    .await;
    let range = |name: &str, range: &str, received: &str| {
        json!([
            "RangeError",
            "ERR_OUT_OF_RANGE",
            format!(
                "The value of \"{name}\" is out of range. It must be {range}. Received {received}"
            )
        ])
    };
    let abc = json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(
        got["hugeKeylen"],
        range("keylen", ">= 0 && <= 1048576", "2147483647")
    );
    assert_eq!(
        got["keylenOverTheHostsLimit"],
        range("keylen", ">= 0 && <= 1048576", "1048577")
    );
    assert_eq!(got["keylenAtTheLimit"], json!(1_048_576));
    assert_eq!(
        got["rfc6070c16777216"],
        range("iterations", ">= 1 && <= 10000000", "16777216")
    );
    assert_eq!(
        got["hugeIterations"],
        range("iterations", ">= 1 && <= 10000000", "9_007_199_254_740_992")
    );
    assert_eq!(
        got["infinite"],
        range("iterations", "an integer", "Infinity")
    );
    assert_eq!(got["numberObject"][1], json!("ERR_INVALID_ARG_TYPE"));
    for k in [
        "liarData",
        "liarKey",
        "liarSalt",
        "liarCompare",
        "fakeView",
        "fakeBufferKey",
    ] {
        assert_eq!(got[k][0], json!("TypeError"), "{k}: {got}");
        assert_eq!(got[k][1], json!("ERR_INVALID_ARG_TYPE"), "{k}: {got}");
    }
    assert!(
        got["fakeBufferKey"][2]
            .as_str()
            .is_some_and(|m| m.contains("an instance of ArrayBuffer")),
        "{got}"
    );
    // The bytes hashed are the view's, as the engine keeps it, whatever its getters say.
    assert_eq!(got["lyingSubclass"], abc);
    assert_eq!(got["lyingDataView"], abc);
    assert_eq!(got["lyingCompare"], json!(true));
    assert_eq!(got["longName"], json!(["Error", null]));
    assert_eq!(got["symbolName"][1], json!("ERR_INVALID_ARG_TYPE"));
}

/// `scrypt`/`scryptSync`: RFC 7914's vectors, Node's option names, defaults and errors.
const SCRYPT: &str = r#"
  const hex = (b) => b.toString('hex');
  return {
    rfc1: hex(crypto.scryptSync('', '', 64, { N: 16, r: 1, p: 1 })),
    rfc2: hex(crypto.scryptSync('password', 'NaCl', 64, { N: 1024, r: 8, p: 16 })),
    defaults: hex(crypto.scryptSync('password', 'salt', 32)),
    aliases: hex(crypto.scryptSync(Buffer.from('password'), new Uint8Array([115, 97, 108, 116]), 16, { cost: 1024, blockSize: 4, parallelization: 2 })),
    zeroIsDefault: hex(crypto.scryptSync('p', 'salt', 4, { r: 0, p: 0 })),
    callback: await new Promise((resolve) => crypto.scrypt('password', 'salt', 16, { N: 1024 }, (e, k) => resolve([e, hex(k)]))),
    noOptions: await new Promise((resolve) => crypto.scrypt('password', 'salt', 8, (e, k) => resolve(hex(k)))),
    promisified: hex(await require('util').promisify(crypto.scrypt)('a', 'b', 8)),
    errors: [
      err(() => crypto.scryptSync('p', 's', 64, { N: 1000 })),
      err(() => crypto.scryptSync('p', 's', 64, { N: 1 })),
      err(() => crypto.scryptSync('p', 's', 64, { N: 65536 })),
      err(() => crypto.scryptSync('p', 's', 64, { N: 16384, maxmem: 16e6 })),
      err(() => crypto.scryptSync('p', 's', 64, { N: 1024, cost: 1024 })),
      err(() => crypto.scryptSync('p', 's', -1)),
      err(() => crypto.scryptSync('p', 's', 'a')),
      err(() => crypto.scryptSync(1, 's', 1)),
      err(() => crypto.scrypt('p', 's', 1)),
    ],
  };
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrypt_answers_as_node_does() {
    let expected = node(SCRYPT);
    assert_eq!(
        expected["rfc2"].as_str().map(|s| &s[..16]),
        Some("fdbabe1c9d347200")
    );
    let got = eval(&QuickJsRuntime::default(), SCRYPT).await;
    assert_eq!(got, expected);
}

/// `randomInt`'s ranges and errors, and the Web Crypto API (`crypto.subtle`, global and
/// `webcrypto.subtle`): SHA digests and HMAC keys, signatures and errors.
const RANDOM_AND_SUBTLE: &str = r#"
  const { subtle } = globalThis.crypto;
  const enc = new TextEncoder();
  const hex = (ab) => Buffer.from(ab).toString('hex');
  const t = async (f) => { try { const r = await f(); return r instanceof ArrayBuffer ? hex(r) : r; } catch (e) { return [e.name, e.code, e.message]; } };
  const ints = Array.from({ length: 200 }, () => crypto.randomInt(3, 7));
  const out = {};
  out.randomInt = [ints.every((n) => Number.isInteger(n) && n >= 3 && n < 7), new Set(ints).size, typeof crypto.randomInt(10),
    crypto.randomInt(-5, -4), err(() => crypto.randomInt(0)), err(() => crypto.randomInt(1.5)), err(() => crypto.randomInt(2 ** 48 + 5)),
    err(() => crypto.randomInt(5, 2)), err(() => crypto.randomInt('a')), err(() => crypto.randomInt(0, 2 ** 48)),
    await new Promise((resolve) => crypto.randomInt(1, 2, (e, n) => resolve([e, n])))];
  out.d1 = await t(() => subtle.digest('SHA-256', enc.encode('abc')));
  out.d2 = await t(() => subtle.digest({ name: 'sha-1' }, enc.encode('abc')));
  out.d384 = await t(() => subtle.digest('SHA-384', new DataView(enc.encode('abc').buffer)));
  out.d512 = await t(() => subtle.digest('SHA-512', enc.encode('abc').buffer));
  out.d3 = await t(() => subtle.digest('MD5', enc.encode('abc')));
  out.d4 = await t(() => subtle.digest('SHA-256', 'abc'));
  const key = await subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);
  out.key = [key.type, key.extractable, key.algorithm, key.usages, Object.prototype.toString.call(key)];
  out.sig = await t(() => subtle.sign('HMAC', key, enc.encode('The quick brown fox jumps over the lazy dog')));
  out.ver = await t(async () => subtle.verify('HMAC', key, await subtle.sign('HMAC', key, enc.encode('x')), enc.encode('x')));
  out.verBad = await t(async () => subtle.verify({ name: 'HMAC' }, key, new Uint8Array(32), enc.encode('x')));
  out.raw = await t(() => subtle.exportKey('raw', key));
  out.jwk = await t(() => subtle.exportKey('jwk', key));
  const ne = await subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: { name: 'SHA-512' } }, false, ['sign']);
  out.ne = [ne.algorithm, ne.usages];
  out.sig512 = await t(() => subtle.sign('HMAC', ne, enc.encode('data')));
  out.neExport = await t(() => subtle.exportKey('raw', ne));
  out.neVerify = await t(() => subtle.verify('HMAC', ne, new Uint8Array(64), enc.encode('x')));
  out.badUsage = await t(() => subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: 'SHA-256' }, true, ['encrypt']));
  out.noUsage = await t(() => subtle.importKey('raw', enc.encode('key'), { name: 'HMAC', hash: 'SHA-256' }, true, []));
  out.noHash = await t(() => subtle.importKey('raw', enc.encode('key'), { name: 'HMAC' }, true, ['sign']));
  out.emptyKey = await t(() => subtle.importKey('raw', new Uint8Array(0), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']));
  out.badAlg = await t(() => subtle.importKey('raw', enc.encode('key'), { name: 'FOO' }, true, ['sign']));
  const g = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-384' }, true, ['sign']);
  out.gen = [g.algorithm, g.usages, (await subtle.exportKey('raw', g)).byteLength];
  const g2 = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 128 }, true, ['sign', 'verify']);
  out.gen2 = [g2.algorithm, (await subtle.exportKey('raw', g2)).byteLength];
  out.sameSubtle = crypto.webcrypto.subtle === subtle && crypto.subtle === subtle;
  out.jwkImport = await t(async () => { const k = await subtle.importKey('jwk', { kty: 'oct', k: 'a2V5', alg: 'HS256' }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']); return hex(await subtle.exportKey('raw', k)); });
  out.copy = (() => { const h = crypto.createHash('sha256').update('a'); const c = h.copy(); return [h.update('b').digest('hex'), c.digest('hex')]; })();
  return out;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_int_and_subtle_answer_as_node_does() {
    let expected = node(RANDOM_AND_SUBTLE);
    let got = eval(&QuickJsRuntime::default(), RANDOM_AND_SUBTLE).await;
    assert_eq!(got, expected);
}
