// js-sha3 0.8 (src/sha3.js), substituted (src/substitute/): Keccak, SHA-3 and SHAKE computed
// by the host (`host.shimDigest`), with js-sha3's API: `keccak_256(msg)` (hex), its `hex`,
// `array`, `digest`, `arrayBuffer`, `buffer`, `create` and `update`, and hashers with
// `update(...)` then `hex()`, `toString()`, `array()`, `digest()`, `arrayBuffer()`,
// `buffer()`. Input js-sha3 reads differently from UTF-8 or bytes (a string with a lone
// surrogate, an array or typed array of values other than bytes), a SHAKE output length that
// is not whole bytes, and cSHAKE and KMAC go to the original module.
(function (module, require, original, host) {
  'use strict';
  const INPUT_ERROR = 'input is invalid type';
  const FINALIZE_ERROR = 'finalize already called';
  const SURROGATE = /[\uD800-\uDFFF]/;
  const HEX = '0123456789abcdef';
  function toHex(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
    return s;
  }
  // The bytes js-sha3 hashes for `message` (a string is kept as it is: the host takes its
  // UTF-8), `null` when only the original reads it right; throws js-sha3's error otherwise.
  function input(message) {
    const type = typeof message;
    if (type === 'string') return SURROGATE.test(message) ? null : message;
    if (type !== 'object' || message === null) throw new Error(INPUT_ERROR);
    if (message.constructor === ArrayBuffer) return new Uint8Array(message.slice(0));
    if (Array.isArray(message)) {
      for (let i = 0; i < message.length; i++) {
        const b = message[i];
        if (typeof b !== 'number' || (b & 255) !== b) return null;
      }
      return Uint8Array.from(message);
    }
    if (!ArrayBuffer.isView(message)) throw new Error(INPUT_ERROR);
    // A copy: the caller may change its buffer before the digest.
    return message instanceof Uint8Array ? new Uint8Array(message) : null;
  }
  const encoder = new TextEncoder();
  function concat(chunks) {
    if (chunks.length === 1) return chunks[0];
    const parts = chunks.map((c) => (typeof c === 'string' ? encoder.encode(c) : c));
    let length = 0;
    for (const p of parts) length += p.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function Keccak(method, name, outputBits) {
    this._method = method;
    this._name = name;
    this._outputBits = outputBits;
    this._chunks = [];
    this._fallback = null;
    this._result = null;
    this.finalized = false;
  }
  Keccak.prototype._switch = function () {
    const h = original()[this._method].create(this._outputBits);
    for (const c of this._chunks) h.update(c);
    this._chunks = null;
    this._fallback = h;
  };
  Keccak.prototype.update = function (message) {
    if (this.finalized) throw new Error(FINALIZE_ERROR);
    if (this._fallback) { this._fallback.update(message); return this; }
    const bytes = input(message);
    if (bytes === null) { this._switch(); this._fallback.update(message); return this; }
    this._chunks.push(bytes);
    return this;
  };
  Keccak.prototype._bytes = function () {
    this.finalized = true;
    if (this._result === null) {
      const data = this._chunks.length === 0 ? '' : concat(this._chunks);
      this._chunks = [];
      this._result = new Uint8Array(host.shimDigest(this._name, data, this._outputBits >> 3));
    }
    return this._result;
  };
  Keccak.prototype.toString = Keccak.prototype.hex = function () {
    return this._fallback ? this._fallback.hex() : toHex(this._bytes());
  };
  Keccak.prototype.arrayBuffer = function () {
    return this._fallback ? this._fallback.arrayBuffer() : this._bytes().slice().buffer;
  };
  Keccak.prototype.buffer = Keccak.prototype.arrayBuffer;
  Keccak.prototype.digest = Keccak.prototype.array = function () {
    return this._fallback ? this._fallback.array() : Array.from(this._bytes());
  };

  const OUTPUT_TYPES = ['hex', 'buffer', 'arrayBuffer', 'array', 'digest'];
  const exported = {};
  function define(methodName, name, bits, shake) {
    const create = shake
      ? function (outputBits) {
          // A length in bits that is not whole bytes: only the original computes it.
          if (typeof outputBits !== 'number' || outputBits < 0 || outputBits % 8 !== 0 || outputBits > 8388608) {
            return original()[methodName].create(outputBits);
          }
          return new Keccak(methodName, name, outputBits);
        }
      : function () { return new Keccak(methodName, name, bits); };
    const output = (type) => function (message, outputBits) { return create(outputBits).update(message)[type](); };
    const method = output('hex');
    method.create = create;
    method.update = function (message, outputBits) { return create(outputBits).update(message); };
    for (const type of OUTPUT_TYPES) method[type] = output(type);
    exported[methodName] = method;
    if (!methodName.startsWith('sha3')) exported[methodName.replace('_', '')] = method;
  }
  // In js-sha3's order of keys.
  for (const bits of [224, 256, 384, 512]) define('keccak_' + bits, 'keccak' + bits, bits, false);
  for (const bits of [224, 256, 384, 512]) define('sha3_' + bits, 'sha3-' + bits, bits, false);
  for (const bits of [128, 256]) define('shake_' + bits, 'shake' + bits, bits, true);
  // cSHAKE and KMAC: the original's, loaded when first read.
  for (const name of ['cshake_128', 'cshake128', 'cshake_256', 'cshake256', 'kmac_128', 'kmac128', 'kmac_256', 'kmac256']) {
    Object.defineProperty(exported, name, { enumerable: true, configurable: true, get() { return original()[name]; } });
  }
  module.exports = exported;
})
