// elliptic 6 (lib/elliptic.js), substituted (src/substitute/): `new EC('secp256k1')` computed
// by the host (`host.secp256k1*`, on k256), with elliptic's API and return shapes, which
// ethers v5 (`SigningKey`) and web3 (eth-lib, secp256k1) use: `keyFromPrivate`,
// `keyFromPublic`, `keyPair`, `genKeyPair`, key pairs with `getPublic(compact, enc)`,
// `getPrivate(enc)`, `priv` and `pub`, `sign`, `verify` and `derive`; `ec.sign(msg, key,
// {canonical: true})` as an elliptic `Signature` (BN.js `r` and `s`, `recoveryParam`),
// `ec.verify`, `ec.recoverPubKey`, and points with `encode`, `encodeCompressed`, `getX`,
// `getY`, `add`, `mul` and `eq`. Anything else (other curves, signing options other than
// `canonical`, scalars or messages longer than 32 bytes, points elliptic accepts and k256
// refuses, the rarer methods of points and curves) is the original module's, loaded when
// first needed, so the whole API stays there.
(function (module, require, original, host) {
  'use strict';
  // bn.js (elliptic's own), loaded when a BN is first made.
  let BNclass = null;
  const BN = function (n, base) {
    if (BNclass === null) BNclass = require('bn.js');
    return new BNclass(n, base);
  };
  BN.isBN = (v) => v !== null && typeof v === 'object' && (BNclass !== null ? BNclass.isBN(v) : typeof v.toArray === 'function' && Array.isArray(v.words));
  // secp256k1's order n, big-endian.
  const N = hexBytes('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');
  const HEX = '0123456789abcdef';
  function toHex(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
    return s;
  }
  function hexBytes(hex) {
    const out = new Uint8Array(hex.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }
  const HEX_ONLY = /^[0-9a-fA-F]*$/;
  // 32 bytes, big-endian, of a number given as bytes, hex or a BN; `null` when it is none of
  // them or longer.
  function bytes32(v, enc) {
    let bytes = null;
    if (typeof v === 'string') {
      if ((enc !== undefined && enc !== null && enc !== 16 && enc !== 'hex') || !HEX_ONLY.test(v) || v.length > 64) return null;
      bytes = hexBytes(v.length % 2 ? '0' + v : v);
    } else if (BN.isBN(v)) {
      if (v.isNeg() || v.bitLength() > 256) return null;
      return Uint8Array.from(v.toArray('be', 32));
    } else if (v instanceof Uint8Array || Array.isArray(v)) {
      if (v.length > 32) return null;
      for (let i = 0; i < v.length; i++) {
        const b = v[i];
        if (typeof b !== 'number' || (b & 255) !== b) return null;
      }
      bytes = v;
    } else {
      return null;
    }
    const out = new Uint8Array(32);
    out.set(bytes, 32 - bytes.length);
    return out;
  }
  function belowN(b) {
    for (let i = 0; i < 32; i++) if (b[i] !== N[i]) return b[i] < N[i];
    return false;
  }
  const isZero = (b) => b.every((x) => x === 0);
  // The bytes of a public key (SEC 1), as elliptic's `decodePoint` reads them.
  function pointBytes(v, enc) {
    if (typeof v === 'string') {
      if (enc !== 'hex' || !HEX_ONLY.test(v) || v.length % 2) return null;
      return hexBytes(v);
    }
    if (v instanceof Uint8Array || Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const b = v[i];
        if (typeof b !== 'number' || (b & 255) !== b) return null;
      }
      return Uint8Array.from(v);
    }
    return null;
  }
  let Signature = null;
  function signatureClass() {
    if (Signature === null) Signature = require('./elliptic/ec/signature');
    return Signature;
  }

  // The original `EC('secp256k1')`, created when first needed (its precomputation is what
  // the host spares).
  let originalEc = null;
  function ecOriginal() {
    if (originalEc === null) originalEc = new (original().ec)('secp256k1');
    return originalEc;
  }

  // A point of secp256k1 other than infinity, as its 65-byte uncompressed encoding.
  function Point(bytes) {
    this._bytes = bytes;
    this._original = null;
  }
  Point.prototype._toOriginal = function () {
    if (this._original === null) this._original = ecOriginal().curve.decodePoint(Array.from(this._bytes));
    return this._original;
  };
  Point.prototype._encode = function (compact) {
    if (!compact) return Array.from(this._bytes);
    const out = Array.from(this._bytes.subarray(0, 33));
    out[0] = 2 + (this._bytes[64] & 1);
    return out;
  };
  Point.prototype.encode = function encode(enc, compact) {
    const arr = this._encode(compact);
    return enc === 'hex' ? toHex(arr) : arr;
  };
  Point.prototype.encodeCompressed = function encodeCompressed(enc) { return this.encode(enc, true); };
  Point.prototype.getX = function getX() { return new BN(toHex(this._bytes.subarray(1, 33)), 16); };
  Point.prototype.getY = function getY() { return new BN(toHex(this._bytes.subarray(33, 65)), 16); };
  Point.prototype.isInfinity = function isInfinity() { return false; };
  Point.prototype.validate = function validate() { return true; };
  Point.prototype.eq = function eq(p) {
    if (p instanceof Point) return toHex(this._bytes) === toHex(p._bytes);
    return this._toOriginal().eq(p);
  };
  Point.prototype.add = function add(p) {
    if (p instanceof Point) {
      const sum = host.secp256k1Add(this._bytes, p._bytes);
      if (sum !== null) return new Point(new Uint8Array(sum));
      return this._toOriginal().add(p._toOriginal());
    }
    return this._toOriginal().add(p);
  };
  Point.prototype.mul = function mul(k) {
    const kb = BN.isBN(k) ? bytes32(k) : null;
    if (kb !== null && belowN(kb) && !isZero(kb)) {
      const product = host.secp256k1Mul(this._bytes, kb);
      if (product !== null) return new Point(new Uint8Array(product));
    }
    return this._toOriginal().mul(k);
  };
  for (const name of ['x', 'y', 'z', 'curve', 'type', 'inf', 'precomputed']) {
    Object.defineProperty(Point.prototype, name, { configurable: true, get() { return this._toOriginal()[name]; } });
  }
  for (const name of ['neg', 'dbl', 'toJ', 'mulAdd', 'jmulAdd', 'precompute', 'dblp', 'toJSON', 'inspect', 'toString', 'eqXToP', '_hasDoubles', '_getDoubles', '_getNAFPoints', '_getBeta']) {
    Point.prototype[name] = function () { const o = this._toOriginal(); return o[name].apply(o, arguments); };
  }

  // A key pair with a private key from 1 to n - 1 (`_d`), or a public key only.
  function KeyPair(ec, d, pub) {
    this.ec = ec;
    this._d = d;
    this._pub = pub;
    this._priv = null;
  }
  Object.defineProperty(KeyPair.prototype, 'priv', {
    configurable: true,
    get() {
      if (this._d === null) return null;
      if (this._priv === null) this._priv = new BN(toHex(this._d), 16);
      return this._priv;
    },
  });
  Object.defineProperty(KeyPair.prototype, 'pub', {
    configurable: true,
    get() { return this._d === null ? this._pub : this.getPublic(); },
  });
  KeyPair.prototype._toOriginal = function () {
    const ec = ecOriginal();
    return this._d !== null ? ec.keyFromPrivate(Array.from(this._d)) : ec.keyFromPublic(Array.from(this._pub._bytes));
  };
  KeyPair.prototype.getPublic = function getPublic(compact, enc) {
    if (typeof compact === 'string') { enc = compact; compact = null; }
    if (this._pub === null) this._pub = new Point(new Uint8Array(host.secp256k1Public(this._d)));
    if (!enc) return this._pub;
    return this._pub.encode(enc, compact);
  };
  KeyPair.prototype.getPrivate = function getPrivate(enc) {
    if (enc === 'hex') {
      if (this._d === null) return this._toOriginal().getPrivate(enc);
      let i = 0;
      while (i < 31 && this._d[i] === 0) i++;
      return toHex(this._d.subarray(i));
    }
    return this.priv;
  };
  KeyPair.prototype.sign = function sign(msg, enc, options) { return this.ec.sign(msg, this, enc, options); };
  KeyPair.prototype.verify = function verify(msg, signature) { return this.ec.verify(msg, signature, this); };
  KeyPair.prototype.derive = function derive(pub) {
    if (this._d !== null && pub instanceof Point) {
      const shared = host.secp256k1Mul(pub._bytes, this._d);
      if (shared !== null) return new BN(toHex(new Uint8Array(shared).subarray(1, 33)), 16);
    }
    return this._toOriginal().derive(pub instanceof Point ? pub._toOriginal() : pub);
  };
  KeyPair.prototype.validate = function validate() { return this._toOriginal().validate(); };
  KeyPair.prototype.inspect = function inspect() { return this._toOriginal().inspect(); };

  function EC(options) {
    if (options !== 'secp256k1') return new (original().ec)(options);
    if (!(this instanceof EC)) return new EC(options);
  }
  for (const name of ['curve', 'n', 'nh', 'g', 'hash']) {
    Object.defineProperty(EC.prototype, name, { configurable: true, get() { return ecOriginal()[name]; } });
  }
  for (const name of ['_truncateToN', 'getKeyRecoveryParam']) {
    EC.prototype[name] = function () { const o = ecOriginal(); return o[name].apply(o, arguments); };
  }
  EC.prototype.keyPair = function keyPair(options) {
    if (options && options.priv) return this.keyFromPrivate(options.priv, options.privEnc);
    if (options && options.pub) return this.keyFromPublic(options.pub, options.pubEnc);
    return ecOriginal().keyPair(options);
  };
  EC.prototype.keyFromPrivate = function keyFromPrivate(priv, enc) {
    if (priv instanceof KeyPair) return priv;
    const d = bytes32(priv, enc);
    if (d === null || isZero(d) || !belowN(d)) return ecOriginal().keyFromPrivate(priv, enc);
    return new KeyPair(this, d, null);
  };
  EC.prototype.keyFromPublic = function keyFromPublic(pub, enc) {
    if (pub instanceof KeyPair) return pub;
    if (pub instanceof Point) return new KeyPair(this, null, pub);
    const bytes = pointBytes(pub, enc);
    const point = bytes !== null && (bytes.length === 33 || bytes.length === 65) && (bytes[0] === 2 || bytes[0] === 3 || bytes[0] === 4)
      ? host.secp256k1Point(bytes) : null;
    if (point === null) return ecOriginal().keyFromPublic(pub, enc);
    return new KeyPair(this, null, new Point(new Uint8Array(point)));
  };
  EC.prototype.genKeyPair = function genKeyPair(options) {
    if (options) return ecOriginal().genKeyPair(options);
    const d = new Uint8Array(32);
    do crypto.getRandomValues(d); while (isZero(d) || !belowN(d));
    return new KeyPair(this, d, null);
  };
  // The 32 bytes of a message given as bytes or hex (as `new BN(msg, 16)` reads it).
  const message = (msg) => (typeof msg === 'string' ? bytes32(msg, 16) : (msg instanceof Uint8Array || Array.isArray(msg) ? bytes32(msg) : null));
  // The private key for the original module (which does not know this KeyPair).
  const forOriginal = (key) => (key instanceof KeyPair ? key._toOriginal() : key);
  EC.prototype.sign = function sign(msg, key, enc, options) {
    if (typeof enc === 'object') { options = enc; enc = null; }
    if (!options) options = {};
    const pair = this.keyFromPrivate(key, enc);
    const m = message(msg);
    if (pair instanceof KeyPair && pair._d !== null && m !== null && options.canonical && options.k == null && options.pers == null && options.msgBitLength == null) {
      const sig = host.secp256k1Sign(pair._d, m);
      if (sig !== null) {
        const b = new Uint8Array(sig);
        const S = signatureClass();
        return new S({ r: toHex(b.subarray(0, 32)), s: toHex(b.subarray(32, 64)), recoveryParam: b[64] });
      }
    }
    return ecOriginal().sign(msg, forOriginal(pair), enc, options);
  };
  // `r || s` of a signature elliptic reads, if both are below n.
  function rs(signature, enc) {
    let sig;
    try { sig = new (signatureClass())(signature, enc); } catch (e) { return null; }
    const r = bytes32(sig.r);
    const s = bytes32(sig.s);
    if (r === null || s === null) return null;
    const out = new Uint8Array(64);
    out.set(r, 0);
    out.set(s, 32);
    return out;
  }
  EC.prototype.verify = function verify(msg, signature, key, enc) {
    const m = message(msg);
    const pair = this.keyFromPublic(key, enc);
    const sig = m !== null && pair instanceof KeyPair ? rs(signature, 'hex') : null;
    if (sig !== null) {
      const valid = host.secp256k1Verify(m, sig, pair.getPublic()._bytes);
      if (valid !== null) return valid;
    }
    return ecOriginal().verify(msg, signature, forOriginal(pair), enc);
  };
  EC.prototype.recoverPubKey = function recoverPubKey(msg, signature, j, enc) {
    // `new BN(msg)` reads a string as decimal: only bytes are taken here.
    const m = msg instanceof Uint8Array || Array.isArray(msg) ? bytes32(msg) : null;
    const sig = m !== null && (j === 0 || j === 1 || j === 2 || j === 3) ? rs(signature, enc) : null;
    if (sig !== null) {
      const key = host.secp256k1Recover(m, sig, j);
      if (key !== null) return new Point(new Uint8Array(key));
    }
    return ecOriginal().recoverPubKey(msg, signature, j, enc);
  };

  const elliptic = module.exports;
  elliptic.version = require('../package.json').version;
  for (const name of ['utils', 'rand', 'curve', 'curves', 'eddsa']) {
    Object.defineProperty(elliptic, name, { enumerable: true, configurable: true, get() { return original()[name]; } });
  }
  elliptic.ec = EC;
})
