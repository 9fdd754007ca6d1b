// @noble/hashes 1.x (scrypt.js), substituted (src/substitute/): `scrypt(password, salt,
// {N, r, p, dkLen, maxmem, onProgress})` and `scryptAsync` derived by the host
// (`host.scrypt`: its memory charged to the run, given up at the run's deadline);
// `onProgress` is called with 1 when the key is derived. Parameters noble refuses (with its
// errors) or that it reads differently go to the original; costs beyond the sandbox's bounds
// (N * r * p above 2^24, or 256 MiB) throw.
(function (module, require, original, host) {
  'use strict';
  const DEFAULT_MAXMEM = 1024 ** 3 + 1024;
  const isInt = (n) => Number.isSafeInteger(n) && n >= 0;
  const bytesLike = (v) => typeof v === 'string' || v instanceof Uint8Array;
  // The key, or `null` when only the original derives it (or reports its error).
  function derive(password, salt, opts) {
    if (!bytesLike(password) || !bytesLike(salt) || opts === null || typeof opts !== 'object') return null;
    const { N, r, p } = opts;
    const dkLen = opts.dkLen === undefined ? 32 : opts.dkLen;
    const maxmem = opts.maxmem === undefined ? DEFAULT_MAXMEM : opts.maxmem;
    if (!isInt(N) || !isInt(r) || !isInt(p) || !isInt(dkLen) || !isInt(maxmem)) return null;
    if (opts.asyncTick !== undefined && !isInt(opts.asyncTick)) return null;
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') return null;
    if (N <= 1 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || N >= 2 ** (16 * r) || 128 * r * (N + p) > maxmem) return null;
    const key = host.scrypt(password, salt, dkLen, N, r, p, Number.MAX_SAFE_INTEGER);
    if (typeof key !== 'string') {
      if (opts.onProgress) opts.onProgress(1);
      return new Uint8Array(key);
    }
    if (key === 'invalid') return null;
    throw new RangeError('scrypt: N = ' + N + ', r = ' + r + ', p = ' + p + ' is more work or memory than the sandbox allows (N * r * p at most 2^24, 256 MiB)');
  }
  module.exports.scrypt = function scrypt(password, salt, opts) {
    const key = derive(password, salt, opts);
    return key === null ? original().scrypt(password, salt, opts) : key;
  };
  module.exports.scryptAsync = async function scryptAsync(password, salt, opts) {
    const key = derive(password, salt, opts);
    return key === null ? original().scryptAsync(password, salt, opts) : key;
  };
})
