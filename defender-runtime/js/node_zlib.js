// Node's `zlib` in the sandbox (gzip, deflate, raw, unzip: sync, callback and stream forms; no
// brotli), evaluated on the first require of it (see js/support.js). It is computed by the host
// (src/sandbox/zlib/), with bounded output. `shared` is `{ host, errors }` (`errors`: Node's
// error helpers of js/support.js); the result takes the built-in `require` (for `stream` and
// `buffer`).
(function nodeZlib(shared) {
  'use strict';
  const { host } = shared;
  const { codeError, argType, outOfRange } = shared.errors;
  const nextTick = (fn, ...args) => { Promise.resolve().then(() => fn(...args)); };

  // ---------- zlib ----------
  const ZLIB_CONSTANTS = {
    Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5, Z_OK: 0, Z_STREAM_END: 1,
    Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
    Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1, Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2,
    Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, ZLIB_VERNUM: 4880, DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5,
    INFLATERAW: 6, UNZIP: 7, BROTLI_DECODE: 8, BROTLI_ENCODE: 9, Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15,
    Z_DEFAULT_WINDOWBITS: 15, Z_MIN_CHUNK: 64, Z_MAX_CHUNK: Infinity, Z_DEFAULT_CHUNK: 16384, Z_MIN_MEMLEVEL: 1,
    Z_MAX_MEMLEVEL: 9, Z_DEFAULT_MEMLEVEL: 8, Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1,
    BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2, BROTLI_OPERATION_EMIT_METADATA: 3,
    BROTLI_PARAM_MODE: 0, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1, BROTLI_MODE_FONT: 2, BROTLI_DEFAULT_MODE: 0,
    BROTLI_PARAM_QUALITY: 1, BROTLI_MIN_QUALITY: 0, BROTLI_MAX_QUALITY: 11, BROTLI_DEFAULT_QUALITY: 11, BROTLI_PARAM_LGWIN: 2,
    BROTLI_MIN_WINDOW_BITS: 10, BROTLI_MAX_WINDOW_BITS: 24, BROTLI_LARGE_MAX_WINDOW_BITS: 30, BROTLI_DEFAULT_WINDOW: 22,
    BROTLI_PARAM_LGBLOCK: 3, BROTLI_MIN_INPUT_BLOCK_BITS: 16, BROTLI_MAX_INPUT_BLOCK_BITS: 24,
    BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING: 4, BROTLI_PARAM_SIZE_HINT: 5, BROTLI_PARAM_LARGE_WINDOW: 6,
    BROTLI_PARAM_NPOSTFIX: 7, BROTLI_PARAM_NDIRECT: 8, BROTLI_DECODER_RESULT_ERROR: 0, BROTLI_DECODER_RESULT_SUCCESS: 1,
    BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: 2, BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: 3,
    BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION: 0, BROTLI_DECODER_PARAM_LARGE_WINDOW: 1,
    BROTLI_DECODER_NO_ERROR: 0, BROTLI_DECODER_SUCCESS: 1, BROTLI_DECODER_NEEDS_MORE_INPUT: 2,
    BROTLI_DECODER_NEEDS_MORE_OUTPUT: 3, BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE: -1,
    BROTLI_DECODER_ERROR_FORMAT_RESERVED: -2, BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_META_NIBBLE: -3,
    BROTLI_DECODER_ERROR_FORMAT_SIMPLE_HUFFMAN_ALPHABET: -4, BROTLI_DECODER_ERROR_FORMAT_SIMPLE_HUFFMAN_SAME: -5,
    BROTLI_DECODER_ERROR_FORMAT_CL_SPACE: -6, BROTLI_DECODER_ERROR_FORMAT_HUFFMAN_SPACE: -7,
    BROTLI_DECODER_ERROR_FORMAT_CONTEXT_MAP_REPEAT: -8, BROTLI_DECODER_ERROR_FORMAT_BLOCK_LENGTH_1: -9,
    BROTLI_DECODER_ERROR_FORMAT_BLOCK_LENGTH_2: -10, BROTLI_DECODER_ERROR_FORMAT_TRANSFORM: -11,
    BROTLI_DECODER_ERROR_FORMAT_DICTIONARY: -12, BROTLI_DECODER_ERROR_FORMAT_WINDOW_BITS: -13,
    BROTLI_DECODER_ERROR_FORMAT_PADDING_1: -14, BROTLI_DECODER_ERROR_FORMAT_PADDING_2: -15,
    BROTLI_DECODER_ERROR_FORMAT_DISTANCE: -16, BROTLI_DECODER_ERROR_DICTIONARY_NOT_SET: -19,
    BROTLI_DECODER_ERROR_INVALID_ARGUMENTS: -20, BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES: -21,
    BROTLI_DECODER_ERROR_ALLOC_TREE_GROUPS: -22, BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MAP: -25,
    BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_1: -26, BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_2: -27,
    BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES: -30, BROTLI_DECODER_ERROR_UNREACHABLE: -31,
  };
  // Node's buffer.kMaxLength: the largest maxOutputLength.
  const K_MAX_LENGTH = 4294967296;

  function makeZlib(require) {
    const { Transform } = require('stream');
    const { Buffer } = require('buffer');
    const C = ZLIB_CONSTANTS;
    const codes = { Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6 };
    for (const k of Object.keys(codes)) codes[codes[k]] = k;

    // The failure the host answered, as Node's error.
    function zlibError(r) {
      if (r.code === 'ERR_BUFFER_TOO_LARGE') {
        return codeError(RangeError, 'ERR_BUFFER_TOO_LARGE', 'Cannot create a Buffer larger than ' + r.errno + ' bytes');
      }
      const e = new Error(r.message);
      e.errno = r.errno;
      e.code = r.code;
      return e;
    }
    const isArrayBuffer = (v) => Object.prototype.toString.call(v) === '[object ArrayBuffer]';
    // Bytes as the host reads them: a string (its UTF-8), an ArrayBuffer or a typed array.
    function input(v, name) {
      if (typeof v === 'string' || isArrayBuffer(v)) return v;
      if (ArrayBuffer.isView(v)) return v instanceof DataView ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
      throw argType(name, 'of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer', v);
    }
    function checkNumber(opts, key, min, max, dflt) {
      const v = opts[key];
      if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) return dflt;
      if (typeof v !== 'number') throw argType('options.' + key, 'of type number', v);
      if (!Number.isFinite(v)) throw outOfRange('options.' + key, 'a finite number', v);
      if (v < min || v > max) throw outOfRange('options.' + key, '>= ' + min + ' and <= ' + max, v);
      return v;
    }
    function options(opts) {
      if (opts === undefined || opts === null) opts = {};
      else if (typeof opts !== 'object') throw argType('options', 'of type object', opts);
      const flags = [C.Z_NO_FLUSH, C.Z_PARTIAL_FLUSH, C.Z_SYNC_FLUSH, C.Z_FULL_FLUSH, C.Z_FINISH, C.Z_BLOCK];
      const flag = (key, dflt) => {
        const v = checkNumber(opts, key, 0, 5, dflt);
        return flags.includes(v) ? v : dflt;
      };
      checkNumber(opts, 'chunkSize', C.Z_MIN_CHUNK, Infinity, C.Z_DEFAULT_CHUNK);
      checkNumber(opts, 'windowBits', 0, C.Z_MAX_WINDOWBITS, C.Z_DEFAULT_WINDOWBITS);
      checkNumber(opts, 'memLevel', C.Z_MIN_MEMLEVEL, C.Z_MAX_MEMLEVEL, C.Z_DEFAULT_MEMLEVEL);
      checkNumber(opts, 'strategy', C.Z_DEFAULT_STRATEGY, C.Z_FIXED, C.Z_DEFAULT_STRATEGY);
      return {
        level: checkNumber(opts, 'level', C.Z_MIN_LEVEL, C.Z_MAX_LEVEL, C.Z_DEFAULT_COMPRESSION),
        maxOutputLength: checkNumber(opts, 'maxOutputLength', 1, K_MAX_LENGTH, K_MAX_LENGTH),
        flush: flag('flush', C.Z_NO_FLUSH),
        finishFlush: flag('finishFlush', C.Z_FINISH),
      };
    }
    function sync(mode, buffer, opts) {
      const bytes = input(buffer, 'buffer');
      const o = options(opts);
      const r = host.zlibSync(mode, bytes, o.level, o.maxOutputLength);
      if (!isArrayBuffer(r)) throw zlibError(r);
      return Buffer.from(r);
    }
    // The callback form: computed at once (the input is the call's), delivered later.
    function callback(mode) {
      return function (buffer, opts, cb) {
        if (typeof opts === 'function') { cb = opts; opts = {}; }
        if (typeof cb !== 'function') throw argType('callback', 'of type function', cb);
        let out;
        let err = null;
        try { out = sync(mode, buffer, opts); } catch (e) { err = e; }
        nextTick(() => (err ? cb(err) : cb(null, out)));
      };
    }

    class Zlib extends Transform {
      constructor(mode, opts) {
        const o = options(opts);
        super(Object.assign({}, opts, { objectMode: false, readableObjectMode: false, writableObjectMode: false }));
        this._mode = mode;
        this._level = o.level;
        this._flushFlag = o.flush;
        this._finishFlushFlag = o.finishFlush;
        this._handle = 0;
        this.bytesWritten = 0;
        this._closed = false;
      }
      get _open() {
        if (this._handle === 0 && !this._closed) this._handle = host.zlibOpen(this._mode, this._level);
        return this._handle;
      }
      _run(chunk, flag) {
        const h = this._open;
        const r = host.zlibWrite(h, chunk, flag);
        if (flag === C.Z_FINISH) { this._handle = 0; this._closed = true; }
        if (!isArrayBuffer(r)) { this._handle = 0; this._closed = true; throw zlibError(r); }
        if (r.byteLength) this.push(Buffer.from(r));
      }
      _transform(chunk, _enc, cb) {
        try {
          this.bytesWritten += chunk.length;
          this._run(input(chunk, 'chunk'), this._flushFlag);
        } catch (e) { cb(e); return; }
        cb();
      }
      _flush(cb) {
        try {
          if (!this._closed) this._run(null, this._finishFlushFlag);
          this.close();
        } catch (e) { cb(e); return; }
        cb();
      }
      flush(kind, cb) {
        if (typeof kind === 'function') { cb = kind; kind = C.Z_FULL_FLUSH; }
        if (kind === undefined) kind = C.Z_FULL_FLUSH;
        try { if (!this._closed) this._run(null, kind === C.Z_FINISH ? C.Z_FULL_FLUSH : kind); } catch (e) { this.destroy(e); }
        if (typeof cb === 'function') nextTick(cb);
      }
      params(_level, _strategy, cb) { if (typeof cb === 'function') nextTick(cb); }
      reset() { this.close(); this._closed = false; }
      close(cb) {
        if (this._handle) host.zlibClose(this._handle);
        this._handle = 0;
        this._closed = true;
        if (typeof cb === 'function') nextTick(cb);
      }
      _destroy(err, cb) {
        this.close();
        cb(err);
      }
    }
    const zlibClass = (name, mode) => ({ [name]: class extends Zlib { constructor(opts) { super(mode, opts); } } })[name];
    const Deflate = zlibClass('Deflate', C.DEFLATE);
    const Inflate = zlibClass('Inflate', C.INFLATE);
    const Gzip = zlibClass('Gzip', C.GZIP);
    const Gunzip = zlibClass('Gunzip', C.GUNZIP);
    const DeflateRaw = zlibClass('DeflateRaw', C.DEFLATERAW);
    const InflateRaw = zlibClass('InflateRaw', C.INFLATERAW);
    const Unzip = zlibClass('Unzip', C.UNZIP);
    const noBrotli = () => { throw codeError(Error, 'ERR_NOT_AVAILABLE', 'brotli is not available in the action sandbox (zlib has gzip and deflate)'); };
    class BrotliCompress extends Transform { constructor() { super(); noBrotli(); } }
    class BrotliDecompress extends Transform { constructor() { super(); noBrotli(); } }

    const zlib = {
      Deflate, Inflate, Gzip, Gunzip, DeflateRaw, InflateRaw, Unzip, BrotliCompress, BrotliDecompress,
      deflate: callback(C.DEFLATE), deflateSync: (b, o) => sync(C.DEFLATE, b, o),
      gzip: callback(C.GZIP), gzipSync: (b, o) => sync(C.GZIP, b, o),
      deflateRaw: callback(C.DEFLATERAW), deflateRawSync: (b, o) => sync(C.DEFLATERAW, b, o),
      unzip: callback(C.UNZIP), unzipSync: (b, o) => sync(C.UNZIP, b, o),
      inflate: callback(C.INFLATE), inflateSync: (b, o) => sync(C.INFLATE, b, o),
      gunzip: callback(C.GUNZIP), gunzipSync: (b, o) => sync(C.GUNZIP, b, o),
      inflateRaw: callback(C.INFLATERAW), inflateRawSync: (b, o) => sync(C.INFLATERAW, b, o),
      brotliCompress: noBrotli, brotliCompressSync: noBrotli, brotliDecompress: noBrotli, brotliDecompressSync: noBrotli,
      createDeflate: (o) => new Deflate(o), createInflate: (o) => new Inflate(o),
      createDeflateRaw: (o) => new DeflateRaw(o), createInflateRaw: (o) => new InflateRaw(o),
      createGzip: (o) => new Gzip(o), createGunzip: (o) => new Gunzip(o), createUnzip: (o) => new Unzip(o),
      createBrotliCompress: noBrotli, createBrotliDecompress: noBrotli,
      constants: Object.freeze(Object.assign({}, C)), codes: Object.freeze(codes),
    };
    // Node's deprecated aliases of the zlib constants (`zlib.Z_SYNC_FLUSH`, used by node-fetch).
    for (const k of Object.keys(C)) {
      if (!k.startsWith('BROTLI')) Object.defineProperty(zlib, k, { value: C[k], enumerable: false, writable: false });
    }
    return zlib;
  }

  let io = null;

  let zlib = null;
  return { zlib: (require) => zlib || (zlib = makeZlib(require)) };
})
