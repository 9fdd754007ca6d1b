// @ethersproject/hash 5.7 (lib/typed-data.js: EIP-712 hashing, what ethers v5's
// `_signTypedData` computes), substituted (src/substitute/): the original module, whose
// static helpers (`hash`, `encode`, `hashDomain`, `hashStruct`, `getPrimaryType`,
// `resolveNames`) reuse the encoders they build, by the JSON text of the types, and
// `hashDomain` remembers the hashes of plain domains. An encoder
// copies and freezes its types when built and answers from them alone, so one built from equal
// types answers the same; building it (parsing every type and field) was about a quarter of
// a `_signTypedData` in QuickJS. `TypedDataEncoder.from` called by the script still builds a
// new encoder each time, as do types that are not plain objects and arrays of plain fields
// with string `name` and `type`; types the original refuses are not remembered; at most 64
// are.
(function (module, require, original, host) {
  'use strict';
  const exported = original();
  const Encoder = exported.TypedDataEncoder;
  const from = Encoder.from;
  const apply = Reflect.apply;
  const stringify = JSON.stringify;
  const isArray = Array.isArray;
  const getPrototypeOf = Object.getPrototypeOf;
  const hasOwn = Object.prototype.hasOwnProperty;
  const ObjectProto = Object.prototype;
  const encoders = new Map();
  const MAX_ENCODERS = 64;
  // Inside one of the static helpers: `from` may answer a remembered encoder.
  let inside = 0;

  const plain = (v) => v !== null && typeof v === 'object' && getPrototypeOf(v) === ObjectProto;
  // The key of `types` when an encoder built from them can be reused, or null.
  function keyOf(types) {
    if (!plain(types)) return null;
    for (const name in types) {
      if (!apply(hasOwn, types, [name])) return null;
      const fields = types[name];
      if (!isArray(fields)) return null;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i];
        if (!plain(f) || typeof f.name !== 'string' || typeof f.type !== 'string') return null;
      }
    }
    try {
      return stringify(types);
    } catch (e) {
      return null;
    }
  }

  Encoder.from = function (types) {
    if (inside === 0) return apply(from, this, [types]);
    const key = keyOf(types);
    if (key === null) return apply(from, this, [types]);
    let encoder = encoders.get(key);
    if (encoder === undefined) {
      encoder = apply(from, this, [types]);
      if (encoders.size >= MAX_ENCODERS) encoders.clear();
      encoders.set(key, encoder);
    }
    return encoder;
  };
  // `hashDomain` answers from the domain's fields alone: its hash is remembered, by the JSON
  // text of a plain domain whose fields are strings, finite numbers or booleans (JSON tells
  // those apart; it writes NaN and null alike).
  const hashDomain = Encoder.hashDomain;
  const domainHashes = new Map();
  function domainKey(domain) {
    if (!plain(domain)) return null;
    for (const name in domain) {
      if (!apply(hasOwn, domain, [name])) return null;
      const v = domain[name];
      const t = typeof v;
      if (!(t === 'string' || t === 'boolean' || (t === 'number' && v - v === 0))) return null;
    }
    return stringify(domain);
  }
  Encoder.hashDomain = function (domain) {
    const key = domainKey(domain);
    if (key === null) return apply(hashDomain, this, [domain]);
    let hash = domainHashes.get(key);
    if (hash === undefined) {
      hash = apply(hashDomain, this, [domain]);
      if (domainHashes.size >= MAX_ENCODERS) domainHashes.clear();
      domainHashes.set(key, hash);
    }
    return hash;
  };
  for (const name of ['hash', 'encode', 'hashDomain', 'hashStruct', 'getPrimaryType', 'resolveNames']) {
    const helper = Encoder[name];
    if (typeof helper !== 'function') continue;
    // Anonymous, as the original's are (assigned to the class).
    const wrapped = [function () {
      inside++;
      try {
        return apply(helper, this, arguments);
      } finally {
        inside--;
      }
    }][0];
    Object.defineProperty(wrapped, 'length', { value: helper.length });
    Encoder[name] = wrapped;
  }
  module.exports = exported;
})
