// @noble/curves 1.x (secp256k1.js), substituted (src/substitute/): `secp256k1.getPublicKey`,
// `sign` (RFC 6979, low s, with its recovery bit), `verify`, `getSharedSecret` and the
// `Signature` class (`fromCompact`, `addRecoveryBit`, `recoverPublicKey`, `hasHighS`,
// `normalizeS`, `toCompactRawBytes`, `toCompactHex`) computed by the host
// (`host.secp256k1*`, on k256), as ethers v6 uses them, with noble's return types (bigint
// `r` and `s`, Uint8Array keys, the original `ProjectivePoint` for recovered keys).
// `ProjectivePoint`, `CURVE`, `utils`, `schnorr`, `hashToCurve` and `encodeToCurve`, options
// other than `lowS`, and input outside the common case (noble's errors included) are the
// original module's, loaded when first needed.
(function (module, require, original, host) {
  'use strict';
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const HEX = '0123456789abcdef';
  const HEX_ONLY = /^[0-9a-fA-F]*$/;
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
  const toBig = (bytes) => BigInt('0x' + (toHex(bytes) || '0'));
  function bigBytes(n) {
    return hexBytes(n.toString(16).padStart(64, '0'));
  }
  // The bytes of a hex string or Uint8Array of one of the lengths `lengths`; `null` otherwise.
  function bytesOf(v, lengths) {
    let b = null;
    if (v instanceof Uint8Array) b = v;
    else if (typeof v === 'string' && v.length % 2 === 0 && HEX_ONLY.test(v)) b = hexBytes(v);
    return b !== null && lengths.includes(b.length) ? b : null;
  }
  // A private key as 32 bytes (bigint, hex or bytes, as noble takes it); `null` when out of
  // range or of another form (noble then throws its error).
  function privateKey(v) {
    if (typeof v === 'bigint') return v > 0n && v < N ? bigBytes(v) : null;
    return bytesOf(v, [32]);
  }
  const curve = () => original().secp256k1;
  function compress(point, compressed) {
    if (!compressed) return point;
    const out = point.slice(0, 33);
    out[0] = 2 + (point[64] & 1);
    return out;
  }

  class Signature {
    constructor(r, s, recovery) {
      if (typeof r !== 'bigint' || typeof s !== 'bigint' || r <= 0n || r >= N || s <= 0n || s >= N) {
        // noble's error.
        new (curve().Signature)(r, s, recovery).assertValidity();
      }
      this.r = r;
      this.s = s;
      this.recovery = recovery;
    }
    static fromCompact(hex) {
      const b = bytesOf(hex, [64]);
      if (b === null) {
        const o = curve().Signature.fromCompact(hex);
        return new Signature(o.r, o.s);
      }
      return new Signature(toBig(b.subarray(0, 32)), toBig(b.subarray(32)));
    }
    static fromDER(hex) {
      const o = curve().Signature.fromDER(hex);
      return new Signature(o.r, o.s);
    }
    _original() { return new (curve().Signature)(this.r, this.s, this.recovery); }
    assertValidity() {}
    addRecoveryBit(recovery) { return new Signature(this.r, this.s, recovery); }
    recoverPublicKey(msgHash) {
      const m = bytesOf(msgHash, [32]);
      const rec = this.recovery;
      if (m !== null && (rec === 0 || rec === 1 || rec === 2 || rec === 3)) {
        const rs = new Uint8Array(64);
        rs.set(bigBytes(this.r), 0);
        rs.set(bigBytes(this.s), 32);
        const key = host.secp256k1Recover(m, rs, rec);
        if (key !== null) {
          const k = new Uint8Array(key);
          return curve().ProjectivePoint.fromAffine({ x: toBig(k.subarray(1, 33)), y: toBig(k.subarray(33)) });
        }
      }
      return this._original().recoverPublicKey(msgHash);
    }
    hasHighS() { return this.s > N >> 1n; }
    normalizeS() { return this.hasHighS() ? new Signature(this.r, N - this.s, this.recovery) : this; }
    toDERRawBytes() { return this._original().toDERRawBytes(); }
    toDERHex() { return this._original().toDERHex(); }
    toCompactRawBytes() {
      const out = new Uint8Array(64);
      out.set(bigBytes(this.r), 0);
      out.set(bigBytes(this.s), 32);
      return out;
    }
    toCompactHex() { return toHex(this.toCompactRawBytes()); }
  }

  const secp256k1 = {
    getPublicKey(priv, isCompressed = true) {
      const d = privateKey(priv);
      const key = d === null ? null : host.secp256k1Public(d);
      if (key === null) return curve().getPublicKey(priv, isCompressed);
      return compress(new Uint8Array(key), isCompressed);
    },
    getSharedSecret(privA, pubB, isCompressed = true) {
      const d = privateKey(privA);
      const pub = bytesOf(pubB, [33, 65]);
      const shared = d !== null && pub !== null ? host.secp256k1Mul(pub, d) : null;
      if (shared === null) return curve().getSharedSecret(privA, pubB, isCompressed);
      return compress(new Uint8Array(shared), isCompressed);
    },
    sign(msgHash, privKey, opts) {
      const plain = opts === undefined || (opts !== null && typeof opts === 'object' && Object.keys(opts).every((k) => k === 'lowS' && opts.lowS !== false));
      const m = plain ? bytesOf(msgHash, [32]) : null;
      const d = m !== null ? privateKey(privKey) : null;
      const sig = d !== null ? host.secp256k1Sign(d, m) : null;
      if (sig === null) {
        const o = curve().sign(msgHash, privKey, opts);
        return new Signature(o.r, o.s, o.recovery);
      }
      const b = new Uint8Array(sig);
      return new Signature(toBig(b.subarray(0, 32)), toBig(b.subarray(32, 64)), b[64]);
    },
    verify(signature, msgHash, publicKey, opts) {
      const lowS = opts === undefined || (opts !== null && typeof opts === 'object' && Object.keys(opts).every((k) => k === 'lowS')) ? !(opts && opts.lowS === false) : null;
      const m = bytesOf(msgHash, [32]);
      const pub = bytesOf(publicKey, [33, 65]);
      if (signature instanceof Signature && lowS !== null && m !== null && pub !== null) {
        if (lowS && signature.hasHighS()) return false;
        const valid = host.secp256k1Verify(m, signature.toCompactRawBytes(), pub);
        if (valid !== null) return valid;
      }
      const sig = signature instanceof Signature ? signature._original() : signature;
      return curve().verify(sig, msgHash, publicKey, opts);
    },
    Signature,
  };
  for (const name of ['CURVE', 'ProjectivePoint', 'utils']) {
    Object.defineProperty(secp256k1, name, { enumerable: true, configurable: true, get() { return curve()[name]; } });
  }
  const exported = module.exports;
  Object.defineProperty(exported, '__esModule', { value: true });
  exported.secp256k1 = secp256k1;
  for (const name of ['schnorr', 'hashToCurve', 'encodeToCurve']) {
    Object.defineProperty(exported, name, { enumerable: true, configurable: true, get() { return original()[name]; } });
  }
})
