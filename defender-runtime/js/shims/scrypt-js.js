// scrypt-js 3.0 (scrypt.js), substituted (src/substitute/): `scrypt(password, salt, N, r, p,
// dkLen, progressCallback)` (a Promise of a Uint8Array) and `syncScrypt(...)` derived by the
// host (`host.scrypt`: its memory charged to the run, given up at the run's deadline), with
// scrypt-js's argument checks and errors. The progress callback is called with 0, then 1
// when the key is derived. Costs the host refuses as invalid (such as N = 1) go to the
// original; those beyond the sandbox's bounds (N * r * p above 2^24, or 256 MiB) throw.
(function (module, require, original, host) {
  'use strict';
  const MAX_VALUE = 0x7fffffff;
  function checkBufferish(o) {
    if (!o || typeof o.length !== 'number') return false;
    for (let i = 0; i < o.length; i++) {
      const v = o[i];
      if (typeof v !== 'number' || v % 1 || v < 0 || v >= 256) return false;
    }
    return true;
  }
  function ensureInteger(value, name) {
    if (typeof value !== 'number' || value % 1) throw new Error('invalid ' + name);
    return value;
  }
  // The key, or `null` when only the original derives it.
  function derive(password, salt, N, r, p, dkLen) {
    ensureInteger(N, 'N');
    ensureInteger(r, 'r');
    ensureInteger(p, 'p');
    ensureInteger(dkLen, 'dkLen');
    if (N === 0 || (N & (N - 1)) !== 0) throw new Error('N must be power of 2');
    if (N > MAX_VALUE / 128 / r) throw new Error('N too large');
    if (r > MAX_VALUE / 128 / p) throw new Error('r too large');
    if (!checkBufferish(password)) throw new Error('password must be an array or buffer');
    if (!checkBufferish(salt)) throw new Error('salt must be an array or buffer');
    const key = host.scrypt(Uint8Array.from(password), Uint8Array.from(salt), dkLen, N, r, p, Number.MAX_SAFE_INTEGER);
    if (typeof key !== 'string') return new Uint8Array(key);
    if (key === 'invalid') return null;
    throw new RangeError('scrypt: N = ' + N + ', r = ' + r + ', p = ' + p + ' is more work or memory than the sandbox allows (N * r * p at most 2^24, 256 MiB)');
  }
  module.exports = {
    scrypt(password, salt, N, r, p, dkLen, progressCallback) {
      return new Promise((resolve, reject) => {
        if (progressCallback) progressCallback(0);
        Promise.resolve().then(() => {
          const key = derive(password, salt, N, r, p, dkLen);
          if (key === null) return original().scrypt(password, salt, N, r, p, dkLen, progressCallback);
          if (progressCallback) progressCallback(1);
          return key;
        }).then(resolve, reject);
      });
    },
    syncScrypt(password, salt, N, r, p, dkLen) {
      const key = derive(password, salt, N, r, p, dkLen);
      return key === null ? original().syncScrypt(password, salt, N, r, p, dkLen) : key;
    },
  };
})
