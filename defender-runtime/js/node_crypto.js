// Node's `crypto` functions computed by the host (src/sandbox/crypto/): hashes, HMAC, PBKDF2,
// `timingSafeEqual`, scrypt, `randomInt` and Web Crypto's `crypto.subtle` (digest and HMAC
// keys), evaluated on the first `require('crypto')` or read of `crypto.subtle` (see js/web.js).
// Arguments are checked here, with Node's errors (class, message and code), and again by the
// host, which reads strings (as UTF-8), ArrayBuffers and typed arrays where the engine keeps
// them (never through a getter). `shared` is `{ G, host, errors, Buffer, Uint8Array,
// ArrayBuffer, DataView }` (`errors`: Node's error helpers of js/support.js; the classes are
// the engine's own, captured before user code ran).
(function nodeCrypto(shared) {
  'use strict';
  const { G, host, Buffer, Uint8Array, ArrayBuffer: AB, DataView: DV } = shared;
  const { codeError, received, argType, outOfRange } = shared.errors;
  const MAX_PBKDF2_ITERATIONS = 10000000; // as the host's MAX_PBKDF2_ITERATIONS
  const MAX_PBKDF2_KEYLEN = 1048576; // as the host's MAX_PBKDF2_KEYLEN
  const apply = Reflect.apply;
  const isView = AB.isView;
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const abLength = getter(AB.prototype, 'byteLength');
  const dvBuffer = getter(DV.prototype, 'buffer');
  const dvOffset = getter(DV.prototype, 'byteOffset');
  const dvLength = getter(DV.prototype, 'byteLength');
  const taTag = getter(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag);
  const isArrayBuffer = (v) => { try { apply(abLength, v, []); return true; } catch (e) { return false; } };
  // A view as the host reads it: a typed array as it is, a DataView as a Uint8Array over the
  // same bytes (read with the engine's own getters).
  const bytesOf = (v) => (apply(taTag, v, []) === undefined
    ? new Uint8Array(apply(dvBuffer, v, []), apply(dvOffset, v, []), apply(dvLength, v, [])) : v);

  // ---- Node's errors of crypto ----
  const finalized = () => codeError(Error, 'ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
  const invalidDigest = (name) => codeError(TypeError, 'ERR_CRYPTO_INVALID_DIGEST', 'Invalid digest: ' + name);
  const VIEWS = 'an instance of Buffer, TypedArray, or DataView';
  const SOURCES = 'of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView';
  function int32(v, name, min, max) {
    if (typeof v !== 'number') throw argType(name, 'of type number', v);
    if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v);
    if (v < min || v > max) throw outOfRange(name, '>= ' + min + ' && <= ' + max, v);
    return v;
  }

  // ---- encodings ----
  function inputEncoding(enc) {
    if (enc === undefined || enc === null) return 'utf8';
    switch (String(enc).toLowerCase()) {
      case 'hex': return 'hex';
      case 'base64': return 'base64';
      case 'base64url': return 'base64url';
      case 'latin1': case 'binary': case 'ascii': return 'latin1';
      case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
      default: return 'utf8';
    }
  }
  const hexDigit = (c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);
  // A string's bytes in `enc`, for the host: the string itself for UTF-8 (the host encodes it).
  function stringBytes(s, enc) {
    if (enc === 'utf8') return s;
    if (enc === 'base64' || enc === 'base64url') return Buffer.from(s, enc);
    if (enc === 'hex') {
      const out = new Uint8Array(s.length >>> 1);
      let n = 0;
      for (; n < out.length; n++) {
        const hi = hexDigit(s.charCodeAt(2 * n));
        const lo = hexDigit(s.charCodeAt(2 * n + 1));
        if (hi < 0 || lo < 0) break;
        out[n] = (hi << 4) | lo;
      }
      return out.subarray(0, n);
    }
    const wide = enc === 'utf16le';
    const out = new Uint8Array(wide ? s.length * 2 : s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (wide) { out[2 * i] = c & 255; out[2 * i + 1] = c >>> 8; } else out[i] = c & 255;
    }
    return out;
  }
  const HEX = [];
  for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));
  // A digest in the encoding asked for; a Buffer without one (or for one Node does not know).
  function encodeOut(bytes, enc) {
    if (!enc) return bytes;
    let s = '';
    switch (String(enc).toLowerCase()) {
      case 'hex': for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]]; return s;
      case 'base64': return bytes.toString('base64');
      case 'base64url': return bytes.toString('base64url');
      case 'utf8': case 'utf-8': return bytes.toString('utf8');
      case 'latin1': case 'binary': for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]); return s;
      case 'ascii': for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] & 127); return s;
      case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le':
        for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
        return s;
      default: return bytes;
    }
  }

  // ---- Hash, Hmac ----
  function update(id, data, encoding) {
    if (typeof data === 'string') {
      const enc = inputEncoding(encoding);
      if (enc === 'hex' && data.length % 2 !== 0) {
        throw codeError(TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'encoding' is invalid for data of length " + data.length + ". Received '" + String(encoding) + "'");
      }
      host.hashUpdate(id, stringBytes(data, enc));
    } else if (isView(data)) host.hashUpdate(id, bytesOf(data));
    else throw argType('data', 'of type string or ' + VIEWS, data);
  }
  const COPY = Symbol('copy');
  class Hash {
    #id;
    #done = false;
    constructor(algorithm, options) {
      if (algorithm === COPY) { this.#id = options; return; }
      if (typeof algorithm !== 'string') throw argType('algorithm', 'of type string', algorithm);
      const id = host.hashNew(algorithm);
      if (id === 0) throw new Error('Digest method not supported');
      this.#id = id;
    }
    copy() {
      if (this.#done) throw finalized();
      return new Hash(COPY, host.hashCopy(this.#id));
    }
    update(data, encoding) {
      if (this.#done) throw finalized();
      update(this.#id, data, encoding);
      return this;
    }
    digest(encoding) {
      if (this.#done) throw finalized();
      this.#done = true;
      return encodeOut(new Buffer(host.hashDigest(this.#id)), encoding);
    }
  }
  class Hmac {
    #id;
    #done = false;
    constructor(hmac, key, options) {
      if (typeof hmac !== 'string') throw argType('hmac', 'of type string', hmac);
      const enc = options !== undefined && options !== null ? options.encoding : undefined;
      let k;
      if (typeof key === 'string') k = stringBytes(key, enc === undefined || enc === null || enc === 'buffer' ? 'utf8' : inputEncoding(enc));
      else if (isView(key)) k = bytesOf(key);
      else if (isArrayBuffer(key)) k = key;
      else throw argType('key', 'of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey', key);
      const id = host.hashNew(hmac, k);
      if (id === 0) throw invalidDigest(hmac);
      this.#id = id;
    }
    update(data, encoding) {
      if (this.#done) throw finalized();
      update(this.#id, data, encoding);
      return this;
    }
    digest(encoding) {
      // A second digest is empty, as in Node (where it is deprecated).
      if (this.#done) return encodeOut(Buffer.alloc(0), encoding);
      this.#done = true;
      return encodeOut(new Buffer(host.hashDigest(this.#id)), encoding);
    }
  }
  function hash(algorithm, data, outputEncoding) {
    if (typeof algorithm !== 'string') throw argType('algorithm', 'of type string', algorithm);
    if (typeof data !== 'string' && !isView(data)) throw argType('input', 'of type string or ' + VIEWS, data);
    const enc = outputEncoding === undefined ? 'hex' : outputEncoding;
    if (typeof enc !== 'string') throw argType('outputEncoding', 'of type string', enc);
    if (!/^(hex|base64|base64url|latin1|binary|ascii|utf-?8|ucs-?2|utf-?16le|buffer)$/i.test(enc)) {
      throw codeError(TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'outputEncoding' is invalid. Received '" + enc + "'");
    }
    const id = host.hashNew(algorithm);
    if (id === 0) throw new Error('Digest method ' + algorithm + ' is not supported');
    update(id, data);
    return encodeOut(new Buffer(host.hashDigest(id)), enc.toLowerCase() === 'buffer' ? undefined : enc);
  }

  // ---- PBKDF2, timingSafeEqual ----
  function source(v, name) {
    if (typeof v === 'string') return v;
    if (isView(v)) return bytesOf(v);
    if (isArrayBuffer(v)) return v;
    throw argType(name, SOURCES, v);
  }
  function pbkdf2Args(password, salt, iterations, keylen, digest) {
    if (typeof digest !== 'string') throw argType('digest', 'of type string', digest);
    return [source(password, 'password'), source(salt, 'salt'),
      int32(iterations, 'iterations', 1, MAX_PBKDF2_ITERATIONS), int32(keylen, 'keylen', 0, MAX_PBKDF2_KEYLEN), digest];
  }
  function derive(args) {
    const out = apply(host.pbkdf2, host, args);
    if (out === null) throw invalidDigest(args[4]);
    return new Buffer(out);
  }
  function pbkdf2Sync(password, salt, iterations, keylen, digest) {
    return derive(pbkdf2Args(password, salt, iterations, keylen, digest));
  }
  // Derived at once (the bytes are those of the call, as Node copies them), delivered later.
  function pbkdf2(password, salt, iterations, keylen, digest, callback) {
    if (typeof digest === 'function') { callback = digest; digest = undefined; }
    const args = pbkdf2Args(password, salt, iterations, keylen, digest);
    if (typeof callback !== 'function') throw argType('callback', 'of type function', callback);
    const key = derive(args);
    Promise.resolve().then(() => callback(null, key));
  }
  function timingSafeEqual(buf1, buf2) {
    const bytes = (v, name) => {
      if (isView(v)) return bytesOf(v);
      if (isArrayBuffer(v)) return v;
      throw codeError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "' + name + '" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView.');
    };
    const r = host.timingSafeEqual(bytes(buf1, 'buf1'), bytes(buf2, 'buf2'));
    if (r < 0) throw codeError(RangeError, 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH', 'Input buffers must have the same byte length');
    return r === 1;
  }

  // ---- scrypt (src/sandbox/crypto/scrypt.rs), randomInt ----
  const scryptInvalid = (detail) => codeError(RangeError, 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS', 'Invalid scrypt params' + (detail ? ': ' + detail : ''));
  function scryptArgs(password, salt, keylen, options) {
    const o = options === undefined || options === null ? {} : options;
    const pick = (a, b, dflt) => {
      if (o[a] !== undefined && o[b] !== undefined) throw codeError(Error, 'ERR_CRYPTO_SCRYPT_INVALID_PARAMETER', 'Invalid scrypt parameter');
      const v = o[a] !== undefined ? o[a] : o[b];
      if (v === undefined) return dflt;
      if (typeof v !== 'number') throw argType('options.' + (o[a] !== undefined ? a : b), 'of type number', v);
      // 0 is the default, as for OpenSSL.
      return v === 0 ? dflt : v;
    };
    const args = [source(password, 'password'), source(salt, 'salt'), int32(keylen, 'keylen', 0, 2147483647)];
    const N = pick('N', 'cost', 16384);
    const r = pick('r', 'blockSize', 8);
    const p = pick('p', 'parallelization', 1);
    const maxmem = o.maxmem === undefined ? 32 << 20 : o.maxmem;
    if (typeof maxmem !== 'number' || !(maxmem >= 0)) throw argType('options.maxmem', 'of type number', maxmem);
    return args.concat([N, r, p, maxmem]);
  }
  function scryptSync(password, salt, keylen, options) {
    const args = scryptArgs(password, salt, keylen, options);
    if (args[2] > MAX_PBKDF2_KEYLEN) throw outOfRange('keylen', '>= 0 && <= ' + MAX_PBKDF2_KEYLEN + ' in the action sandbox', args[2]);
    const out = apply(host.scrypt, host, args);
    if (out === 'invalid') throw scryptInvalid();
    if (out === 'memory') throw scryptInvalid('error:030000AC:digital envelope routines::memory limit exceeded');
    if (out === 'costly') throw scryptInvalid('N * r * p is over 2^24 or the memory over 256 MiB, the most the action sandbox computes');
    return new Buffer(out);
  }
  // Derived at once, delivered later (as pbkdf2).
  function scrypt(password, salt, keylen, options, callback) {
    if (typeof options === 'function') { callback = options; options = undefined; }
    if (typeof callback !== 'function') throw argType('callback', 'of type function', callback);
    const key = scryptSync(password, salt, keylen, options);
    Promise.resolve().then(() => callback(null, key));
  }
  const MAX_RANGE = 2 ** 48 - 1;
  function randomInt(min, max, callback) {
    const minGiven = !(max === undefined || typeof max === 'function');
    if (!minGiven) { callback = max; max = min; min = 0; }
    const safe = (v, name) => { if (!Number.isSafeInteger(v)) throw argType(name, 'a safe integer', v); };
    safe(min, 'min');
    safe(max, 'max');
    if (callback !== undefined && typeof callback !== 'function') throw argType('callback', 'of type function', callback);
    if (max <= min) throw outOfRange('max', 'greater than the value of "min" (' + min + ')', max);
    const range = max - min;
    if (range > MAX_RANGE) throw outOfRange(minGiven ? 'max - min' : 'max', '<= ' + MAX_RANGE, range);
    // Rejection sampling over 48 random bits, as Node does.
    const limit = 2 ** 48 - (2 ** 48 % range);
    let n;
    do {
      const b = new Uint8Array(host.random(6));
      n = b[0] * 2 ** 40 + b[1] * 2 ** 32 + b[2] * 2 ** 24 + b[3] * 2 ** 16 + b[4] * 2 ** 8 + b[5];
    } while (n >= limit);
    const v = min + (n % range);
    if (callback) { Promise.resolve().then(() => callback(null, v)); return undefined; }
    return v;
  }

  // ---- Web Crypto: digest and HMAC keys, on the same host hashes ----
  const domError = (message, name) => new G.DOMException(message, name);
  const SUBTLE_HASHES = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
  const BLOCK_BITS = { 'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024 };
  const algName = (a) => String(a !== null && typeof a === 'object' ? a.name : a).toUpperCase();
  function hashName(a) {
    const n = algName(a);
    if (!(n in SUBTLE_HASHES)) throw domError('Unrecognized algorithm name', 'NotSupportedError');
    return n;
  }
  function bufferSource(v, method, nth) {
    if (isView(v)) return bytesOf(v);
    if (isArrayBuffer(v)) return v;
    throw codeError(TypeError, 'ERR_INVALID_ARG_TYPE', "Failed to execute '" + method + "' on 'SubtleCrypto': " + nth + ' argument is not instance of ArrayBuffer, Buffer, TypedArray, or DataView.');
  }
  const copyOf = (bytes) => { const u = new Uint8Array(bytes.byteLength); u.set(new Uint8Array(isArrayBuffer(bytes) ? bytes : bytes.buffer, isArrayBuffer(bytes) ? 0 : bytes.byteOffset, bytes.byteLength)); return u; };
  const toArrayBuffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  function mac(hash, key, data) {
    const id = host.hashNew(SUBTLE_HASHES[hash], key);
    host.hashUpdate(id, data);
    return new Uint8Array(host.hashDigest(id));
  }
  const keyBytes = new WeakMap();
  let constructingKey = false;
  class CryptoKey {
    constructor() { if (!constructingKey) throw new TypeError('Illegal constructor'); }
    get [Symbol.toStringTag]() { return 'CryptoKey'; }
  }
  function hmacKey(bytes, algorithm, extractable, usages) {
    if (!Array.isArray(usages)) usages = Array.from(usages || []);
    if (usages.some((u) => u !== 'sign' && u !== 'verify')) throw domError('Unsupported key usage for an HMAC key', 'SyntaxError');
    if (!usages.length) throw domError('Usages cannot be empty when importing a secret key.', 'SyntaxError');
    constructingKey = true;
    let key;
    try { key = new CryptoKey(); } finally { constructingKey = false; }
    Object.defineProperties(key, {
      type: { value: 'secret', enumerable: true }, extractable: { value: !!extractable, enumerable: true },
      algorithm: { value: algorithm, enumerable: true }, usages: { value: usages.slice(), enumerable: true },
    });
    keyBytes.set(key, bytes);
    return key;
  }
  function hmacParams(algorithm, what) {
    if (algName(algorithm) !== 'HMAC') throw domError('Unrecognized algorithm name', 'NotSupportedError');
    if (algorithm.hash === undefined) {
      throw codeError(TypeError, 'ERR_MISSING_OPTION', "Failed to normalize algorithm: passed algorithm can not be converted to '" + what + "' because 'hash' is required in '" + what + "'.");
    }
    return hashName(algorithm.hash);
  }
  function secretOf(key, usage) {
    const bytes = keyBytes.get(key);
    if (!bytes) throw codeError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "key" argument must be an instance of CryptoKey.' + received(key));
    if (!key.usages.includes(usage) || key.algorithm.name !== 'HMAC') throw domError('Unable to use this key to ' + usage, 'InvalidAccessError');
    return bytes;
  }
  const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
  const subtleOps = {
    digest(algorithm, data) {
      const id = host.hashNew(SUBTLE_HASHES[hashName(algorithm)]);
      host.hashUpdate(id, bufferSource(data, 'digest', '2nd'));
      return host.hashDigest(id);
    },
    importKey(format, keyData, algorithm, extractable, usages) {
      const hash = hmacParams(algorithm, 'HmacImportParams');
      let bytes;
      if (format === 'raw') bytes = copyOf(bufferSource(keyData, 'importKey', '2nd'));
      else if (format === 'jwk') {
        if (!keyData || keyData.kty !== 'oct' || typeof keyData.k !== 'string') throw domError('Invalid keyData', 'DataError');
        bytes = new Uint8Array(Buffer.from(keyData.k, 'base64url'));
      } else throw domError('Unable to import HMAC key with format ' + format, 'NotSupportedError');
      if (!bytes.length) throw domError('Zero-length key is not supported', 'DataError');
      return hmacKey(bytes, { name: 'HMAC', hash: { name: hash }, length: bytes.length * 8 }, extractable, usages);
    },
    exportKey(format, key) {
      const bytes = keyBytes.get(key);
      if (!bytes) throw codeError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "key" argument must be an instance of CryptoKey.' + received(key));
      if (!key.extractable) throw domError('key is not extractable', 'InvalidAccessException');
      if (format === 'raw') return toArrayBuffer(copyOf(bytes));
      if (format === 'jwk') {
        return { key_ops: key.usages.slice(), ext: true, kty: 'oct', k: b64url(bytes), alg: 'HS' + key.algorithm.hash.name.slice(4) };
      }
      throw domError('Unable to export HMAC key with format ' + format, 'NotSupportedError');
    },
    generateKey(algorithm, extractable, usages) {
      const hash = hmacParams(algorithm, 'HmacKeyGenParams');
      const length = algorithm.length === undefined ? BLOCK_BITS[hash] : algorithm.length;
      if (!Number.isInteger(length) || length <= 0 || length > 65536 * 8) throw domError('Invalid key length', 'OperationError');
      const bytes = new Uint8Array(host.random(Math.ceil(length / 8)));
      return hmacKey(bytes, { name: 'HMAC', length, hash: { name: hash } }, extractable, usages);
    },
    sign(algorithm, key, data) {
      if (algName(algorithm) !== 'HMAC') throw domError('Unrecognized algorithm name', 'NotSupportedError');
      const secret = secretOf(key, 'sign');
      return toArrayBuffer(mac(key.algorithm.hash.name, secret, bufferSource(data, 'sign', '3rd')));
    },
    verify(algorithm, key, signature, data) {
      if (algName(algorithm) !== 'HMAC') throw domError('Unrecognized algorithm name', 'NotSupportedError');
      const secret = secretOf(key, 'verify');
      const expected = mac(key.algorithm.hash.name, secret, bufferSource(data, 'verify', '4th'));
      const got = copyOf(bufferSource(signature, 'verify', '3rd'));
      return got.length === expected.length && host.timingSafeEqual(got, expected) === 1;
    },
  };
  // Each method answers with a promise, rejected with what the operation throws.
  class SubtleCrypto {}
  for (const name of Object.keys(subtleOps)) {
    Object.defineProperty(SubtleCrypto.prototype, name, {
      value: function (...args) { try { return Promise.resolve(apply(subtleOps[name], undefined, args)); } catch (e) { return Promise.reject(e); } },
      writable: true, configurable: true,
    });
  }
  const subtle = new SubtleCrypto();

  return {
    createHash: (algorithm, options) => new Hash(algorithm, options),
    createHmac: (hmac, key, options) => new Hmac(hmac, key, options),
    Hash, Hmac, hash, getHashes: () => host.hashNames(), pbkdf2, pbkdf2Sync, timingSafeEqual,
    scrypt, scryptSync, randomInt, subtle, CryptoKey, SubtleCrypto,
  };
})
