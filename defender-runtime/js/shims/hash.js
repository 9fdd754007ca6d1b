// hash.js 1.1 (lib/hash.js), substituted (src/substitute/): SHA-1, SHA-224, SHA-256,
// SHA-384, SHA-512, RIPEMD-160 and their HMACs computed by the host (`host.shimDigest`,
// `host.shimHmac`), with hash.js's API: `sha256()` (with or without `new`) and its
// `blockSize`, `outSize`, `hmacStrength` and `padLength`, `update(msg, enc)` (chainable) and
// `digest(enc)` (an array of bytes, or hex); `hmac(hash, key, enc)`; `utils`, `common`, `sha`
// and `ripemd` as hash.js has them. Input that is not bytes (an array of other numbers) goes
// to hash.js's own implementation, and so does the HMAC of a hash that is not one of these.
(function (module, require, original, host) {
  'use strict';
  const utils = require('./hash/utils');
  const HEX = '0123456789abcdef';
  function toHex(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
    return s;
  }
  // The bytes hash.js hashes for `msg` in encoding `enc` (a copy: the caller may change its
  // buffer before the digest); `null` when they are not bytes.
  function input(msg, enc) {
    if (msg instanceof Uint8Array) return new Uint8Array(msg);
    const arr = utils.toArray(msg, enc);
    for (let i = 0; i < arr.length; i++) {
      const b = arr[i];
      if (typeof b !== 'number' || (b & 255) !== b) return null;
    }
    return Uint8Array.from(arr);
  }
  function concat(chunks) {
    if (chunks.length === 1) return chunks[0];
    let length = 0;
    for (const c of chunks) length += c.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  }
  function output(bytes, enc) {
    return enc === 'hex' ? toHex(bytes) : Array.from(bytes);
  }
  // hash.js's own constructor of each hash, loaded when first needed.
  const ORIGINAL = {
    sha1: () => require('./hash/sha/1'),
    sha224: () => require('./hash/sha/224'),
    sha256: () => require('./hash/sha/256'),
    sha384: () => require('./hash/sha/384'),
    sha512: () => require('./hash/sha/512'),
    ripemd160: () => require('./hash/ripemd').ripemd160,
  };

  function define(name, blockSize, outSize, hmacStrength, padLength, endian) {
    function Hash() {
      if (!(this instanceof Hash)) return new Hash();
      this.blockSize = blockSize;
      this.outSize = outSize;
      this.hmacStrength = hmacStrength;
      this.padLength = padLength / 8;
      this.endian = endian;
      this._chunks = [];
      this._fallback = null;
    }
    Hash.blockSize = blockSize;
    Hash.outSize = outSize;
    Hash.hmacStrength = hmacStrength;
    Hash.padLength = padLength;
    Hash.prototype.update = function update(msg, enc) {
      if (this._fallback === null) {
        const bytes = input(msg, enc);
        if (bytes !== null) { this._chunks.push(bytes); return this; }
        const Original = ORIGINAL[name]();
        this._fallback = new Original();
        for (const c of this._chunks) this._fallback.update(Array.from(c));
        this._chunks = null;
      }
      this._fallback.update(msg, enc);
      return this;
    };
    Hash.prototype.digest = function digest(enc) {
      if (this._fallback !== null) return this._fallback.digest(enc);
      const data = this._chunks.length === 0 ? new Uint8Array(0) : concat(this._chunks);
      this._chunks = [];
      return output(new Uint8Array(host.shimDigest(name, data)), enc);
    };
    Object.defineProperty(Hash, '_shimName', { value: name });
    return Hash;
  }
  const sha1 = define('sha1', 512, 160, 80, 64, 'big');
  const sha224 = define('sha224', 512, 224, 192, 64, 'big');
  const sha256 = define('sha256', 512, 256, 192, 64, 'big');
  const sha384 = define('sha384', 1024, 384, 192, 128, 'big');
  const sha512 = define('sha512', 1024, 512, 192, 128, 'big');
  const ripemd160 = define('ripemd160', 512, 160, 192, 64, 'little');

  function Hmac(hash, key, enc) {
    const name = hash && Object.prototype.hasOwnProperty.call(hash, '_shimName') ? hash._shimName : null;
    if (name === null || ORIGINAL[name] === undefined) return require('./hash/hmac')(hash, key, enc);
    if (!(this instanceof Hmac)) return new Hmac(hash, key, enc);
    this.Hash = hash;
    this.blockSize = hash.blockSize / 8;
    this.outSize = hash.outSize / 8;
    this._name = name;
    this._key = input(key, enc);
    this._chunks = [];
    this._fallback = null;
    if (this._key === null) this._fallback = require('./hash/hmac')(hash, key, enc);
  }
  Hmac.prototype.update = function update(msg, enc) {
    if (this._fallback === null) {
      const bytes = input(msg, enc);
      if (bytes !== null) { this._chunks.push(bytes); return this; }
      this._fallback = require('./hash/hmac')(this.Hash, Array.from(this._key));
      for (const c of this._chunks) this._fallback.update(Array.from(c));
      this._chunks = null;
    }
    this._fallback.update(msg, enc);
    return this;
  };
  Hmac.prototype.digest = function digest(enc) {
    if (this._fallback !== null) return this._fallback.digest(enc);
    const data = this._chunks.length === 0 ? new Uint8Array(0) : concat(this._chunks);
    this._chunks = [];
    return output(new Uint8Array(host.shimHmac(this._name, this._key, data)), enc);
  };

  const hash = module.exports;
  hash.utils = utils;
  hash.common = require('./hash/common');
  hash.sha = { sha1, sha224, sha256, sha384, sha512 };
  hash.ripemd = { ripemd160 };
  hash.hmac = Hmac;
  hash.sha1 = sha1;
  hash.sha256 = sha256;
  hash.sha224 = sha224;
  hash.sha384 = sha384;
  hash.sha512 = sha512;
  hash.ripemd160 = ripemd160;
})
