// eth-lib 0.1/0.2 (lib/hash.js, a port of js-sha3 that web3 1.x uses), substituted
// (src/substitute/): `keccak256`, `keccak512`, `keccak256s` and `keccak512s` of a `0x` hex
// string (its bytes) or of another string (its UTF-8), computed by the host
// (`host.shimDigest`), as `0x` and hex. Input eth-lib reads otherwise (odd or invalid hex, a
// string with a lone surrogate, anything but a string) goes to the original.
(function (module, require, original, host) {
  'use strict';
  const HEX = '0123456789abcdef';
  const HEX_ONLY = /^[0-9a-fA-F]*$/;
  const SURROGATE = /[\uD800-\uDFFF]/;
  function toHex(bytes) {
    let s = '0x';
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
    return s;
  }
  function input(str) {
    if (typeof str !== 'string') return null;
    if (str.slice(0, 2) === '0x') {
      const hex = str.slice(2);
      if (hex.length % 2 || !HEX_ONLY.test(hex)) return null;
      const out = new Uint8Array(hex.length >> 1);
      for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
      return out;
    }
    return SURROGATE.test(str) ? null : str;
  }
  function keccak(name, bits) {
    return function (str) {
      const data = input(str);
      if (data === null) return original()[name](str);
      return toHex(new Uint8Array(host.shimDigest('keccak' + bits, data)));
    };
  }
  module.exports = {
    keccak256: keccak('keccak256', 256),
    keccak512: keccak('keccak512', 512),
    keccak256s: keccak('keccak256s', 256),
    keccak512s: keccak('keccak512s', 512),
  };
})
