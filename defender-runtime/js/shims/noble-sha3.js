// @noble/hashes 1.x (sha3.js), substituted (src/substitute/): `keccak_224` to `keccak_512`,
// `sha3_224` to `sha3_512`, `shake128` and `shake256` of a string (its UTF-8) or a
// Uint8Array computed by the host (`host.shimDigest`), returning a Uint8Array, with their
// `outputLen`, `blockLen` and `create` (an incremental hash of the original module). Other
// input (noble's errors), SHAKE options other than a `dkLen` of at most 1 MiB, `Keccak` and
// `keccakP` are the original's.
(function (module, require, original, host) {
  'use strict';
  function wrap(exportName, hostName, blockLen, outputLen, xof) {
    const hash = function (msg, opts) {
      const plain = typeof msg === 'string' || msg instanceof Uint8Array;
      let dkLen = outputLen;
      if (xof && opts !== undefined) {
        dkLen = opts !== null && typeof opts === 'object' ? opts.dkLen : NaN;
        if (dkLen === undefined) dkLen = outputLen;
      }
      if (!plain || !Number.isSafeInteger(dkLen) || dkLen < 0 || dkLen > 1048576) {
        return original()[exportName](msg, opts);
      }
      return new Uint8Array(host.shimDigest(hostName, msg, dkLen));
    };
    hash.outputLen = outputLen;
    hash.blockLen = blockLen;
    hash.create = (opts) => original()[exportName].create(opts);
    exported[exportName] = hash;
  }
  const exported = module.exports;
  for (const name of ['keccakP', 'Keccak']) {
    Object.defineProperty(exported, name, { enumerable: true, configurable: true, get() { return original()[name]; } });
  }
  wrap('sha3_224', 'sha3-224', 144, 28, false);
  wrap('sha3_256', 'sha3-256', 136, 32, false);
  wrap('sha3_384', 'sha3-384', 104, 48, false);
  wrap('sha3_512', 'sha3-512', 72, 64, false);
  wrap('keccak_224', 'keccak224', 144, 28, false);
  wrap('keccak_256', 'keccak256', 136, 32, false);
  wrap('keccak_384', 'keccak384', 104, 48, false);
  wrap('keccak_512', 'keccak512', 72, 64, false);
  wrap('shake128', 'shake128', 168, 16, true);
  wrap('shake256', 'shake256', 136, 32, true);
})
