// Globals and Node core modules that most actions never touch, evaluated in a run's context
// only on first use (see the lazy globals of js/prelude.js): text encoding, base64, `Buffer`,
// `crypto`, `URL`, `AbortController` and events, `structuredClone`, `process`, and Node's
// `crypto`, `process` and `timers` (the other core modules are js/generated/node-builtins.js).
// `fetch` and its classes are js/fetch.js and Node's crypto functions js/node_crypto.js, each
// evaluated on its own first use. The prelude calls this function once, with what it captured
// at install time; user code never sees `host`.
(function web(shared) {
  'use strict';
  const { G, host, hostCall, unavailable, clearTimer, JSONparse, Uint8Array } = shared;
  const globals = {};
  const define = (_target, name, value) => { globals[name] = value; };

  // ---------- text, base64, bytes ----------
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s) {
      s = String(s === undefined ? '' : s);
      const out = [];
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
          else c = 0xfffd;
        } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return new Uint8Array(out);
    }
  }
  function utf8Decode(bytes) {
    let s = '';
    const parts = [];
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      let c = 0xfffd;
      let n = 1;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0 && i + 1 < bytes.length) { c = ((b & 31) << 6) | (bytes[i + 1] & 63); n = 2; }
      else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length) { c = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63); n = 3; }
      else if (b >= 0xf0 && b < 0xf5 && i + 3 < bytes.length) { c = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63); n = 4; }
      i += n;
      s += String.fromCodePoint(c);
      if (s.length > 8192) { parts.push(s); s = ''; }
    }
    parts.push(s);
    return parts.join('');
  }
  class TextDecoder {
    constructor(label) {
      const l = String(label || 'utf-8').toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8') throw new RangeError('TextDecoder: only utf-8 is supported');
    }
    get encoding() { return 'utf-8'; }
    decode(input) {
      if (input === undefined) return '';
      const bytes = input instanceof Uint8Array ? input : ArrayBuffer.isView(input)
        ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : new Uint8Array(input);
      return utf8Decode(bytes);
    }
  }
  define(G, 'TextEncoder', TextEncoder);
  define(G, 'TextDecoder', TextDecoder);
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function bytesToB64(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < bytes.length ? B64[n & 63] : '=');
    }
    return out;
  }
  const B64_INDEX = new Uint8Array(128).fill(255);
  for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
  B64_INDEX[45] = 62; // '-' (base64url)
  B64_INDEX[95] = 63; // '_'
  // Decodes into a buffer of the exact size (a JavaScript array of numbers would cost
  // sixteen times the body).
  function b64ToBytes(s) {
    s = String(s).replace(/[\s=]/g, '');
    if (s.length % 4 === 1) throw new Error('The string to be decoded is not correctly encoded.');
    const out = new Uint8Array(Math.floor((s.length * 3) / 4));
    let buf = 0;
    let bits = 0;
    let j = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const v = c < 128 ? B64_INDEX[c] : 255;
      if (v === 255) throw new Error('The string to be decoded is not correctly encoded.');
      buf = ((buf << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (buf >> bits) & 255; }
    }
    return j === out.length ? out : out.subarray(0, j);
  }
  define(G, 'btoa', (s) => {
    s = String(s);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw new Error('Invalid character');
      bytes[i] = c;
    }
    return bytesToB64(bytes);
  });
  define(G, 'atob', (s) => String.fromCharCode(...b64ToBytes(s)));

  // ---------- Buffer ----------
  // Node's Buffer (js/generated/node-builtins.js), loaded when first used.
  const bufferClass = () => shared.loadBuiltin('buffer').Buffer;
  Object.defineProperty(globals, 'Buffer', { get: bufferClass, enumerable: true, configurable: true });

  // ---------- crypto ----------
  function getRandomValues(arr) {
    if (!ArrayBuffer.isView(arr)) throw new TypeError('Argument must be a typed array');
    // Each property is read once: a subclass may answer differently on every read.
    const n = arr.byteLength;
    if (!(n <= 65536)) throw new Error('QuotaExceededError: at most 65536 bytes');
    const u8 = new Uint8Array(arr.buffer, arr.byteOffset, n);
    u8.set(new Uint8Array(host.random(n)));
    return arr;
  }
  const cryptoObj = { getRandomValues, randomUUID: () => host.uuid() };
  define(G, 'crypto', cryptoObj);

  // ---------- URL, URLSearchParams ----------
  class URLSearchParams {
    constructor(init) {
      this._list = [];
      if (typeof init === 'string') {
        init = init.replace(/^\?/, '');
        if (init) for (const part of init.split('&')) {
          if (!part) continue;
          const i = part.indexOf('=');
          const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
          this._list.push(i < 0 ? [dec(part), ''] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
        }
      } else if (Array.isArray(init)) {
        for (const [k, v] of init) this._list.push([String(k), String(v)]);
      } else if (init && typeof init === 'object') {
        const entries = typeof init.entries === 'function' && !(init.constructor === Object) ? init.entries() : Object.entries(init);
        for (const [k, v] of entries) this._list.push([String(k), String(v)]);
      }
    }
    append(k, v) { this._list.push([String(k), String(v)]); this._update(); }
    delete(k) { this._list = this._list.filter(([n]) => n !== k); this._update(); }
    get(k) { const e = this._list.find(([n]) => n === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([n]) => n === k).map(([, v]) => v); }
    has(k) { return this._list.some(([n]) => n === k); }
    set(k, v) {
      const i = this._list.findIndex(([n]) => n === k);
      if (i < 0) this._list.push([String(k), String(v)]);
      else { this._list[i][1] = String(v); this._list = this._list.filter(([n], j) => n !== k || j === i); }
      this._update();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._update(); }
    forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this._list.map((e) => [e[0], e[1]])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get size() { return this._list.length; }
    toString() {
      const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
      return this._list.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
    }
    _update() { if (this._url) { const s = this.toString(); this._url._search = s ? '?' + s : ''; } }
  }
  const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(?:\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  const DEFAULT_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21' };
  function normalizePath(p) {
    const out = [];
    for (const seg of p.split('/')) {
      if (seg === '..') { if (out.length > 1) out.pop(); }
      else if (seg !== '.') out.push(seg);
    }
    let s = out.join('/');
    if (!s.startsWith('/')) s = '/' + s;
    if (/\/\.\.?$/.test(p)) s += s.endsWith('/') ? '' : '/';
    return s;
  }
  class URL {
    constructor(url, base) {
      url = String(url).trim();
      let m = URL_RE.exec(url);
      if (!m) {
        if (base === undefined) throw new TypeError('Invalid URL: ' + url);
        const b = new URL(base);
        if (url.startsWith('//')) m = URL_RE.exec(b.protocol + url);
        else {
          let path = b.pathname;
          let search = b.search;
          let rest = url;
          const hashI = rest.indexOf('#');
          const hash = hashI >= 0 ? rest.slice(hashI) : '';
          if (hashI >= 0) rest = rest.slice(0, hashI);
          const qI = rest.indexOf('?');
          if (qI >= 0) { search = rest.slice(qI); rest = rest.slice(0, qI); } else if (rest) search = '';
          if (rest.startsWith('/')) path = rest;
          else if (rest) path = path.replace(/[^/]*$/, '') + rest;
          m = URL_RE.exec(b.protocol + '//' + (b.username ? b.username + (b.password ? ':' + b.password : '') + '@' : '') + b.host + normalizePath(path) + search + hash);
        }
        if (!m) throw new TypeError('Invalid URL: ' + url);
      }
      this._protocol = m[1].toLowerCase();
      this.username = m[2] || '';
      this.password = m[3] || '';
      this.hostname = (m[4] || '').toLowerCase();
      this.port = m[5] && m[5] !== DEFAULT_PORTS[this._protocol] ? m[5] : '';
      const special = this._protocol in DEFAULT_PORTS || this._protocol === 'file:';
      this.pathname = special ? normalizePath(m[6] || '/') : m[6] || '';
      this._search = m[7] && m[7] !== '?' ? m[7] : '';
      this.hash = m[8] && m[8] !== '#' ? m[8] : '';
      this._sp = null;
    }
    get protocol() { return this._protocol; }
    set protocol(p) { this._protocol = String(p).replace(/:?$/, ':').toLowerCase(); }
    get host() { return this.hostname + (this.port ? ':' + this.port : ''); }
    set host(h) { const [n, p] = String(h).split(':'); this.hostname = n; this.port = p || ''; }
    get origin() { return this._protocol + '//' + this.host; }
    get search() { return this._search; }
    set search(s) { s = String(s); this._search = s && s !== '?' ? (s.startsWith('?') ? s : '?' + s) : ''; this._sp = null; }
    get searchParams() {
      if (!this._sp) { this._sp = new URLSearchParams(this._search); this._sp._url = this; }
      return this._sp;
    }
    get href() {
      const auth = this.username ? this.username + (this.password ? ':' + this.password : '') + '@' : '';
      const authority = this.hostname || this._protocol === 'file:' ? '//' + auth + this.host : '';
      return this._protocol + authority + this.pathname + this._search + this.hash;
    }
    set href(v) { Object.assign(this, new URL(v)); }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  define(G, 'URL', URL);
  define(G, 'URLSearchParams', URLSearchParams);

  // ---------- Headers, Request, Response, fetch (js/fetch.js, evaluated on first use) ----------
  let fetchMod = null;
  const fetchApi = () => fetchMod || (fetchMod = host.loadScript('fetch')({
    hostCall, URL, URLSearchParams, TextEncoder, utf8Decode, bytesToB64, b64ToBytes, Uint8Array,
  }));
  for (const name of ['Headers', 'Request', 'Response', 'fetch']) {
    Object.defineProperty(globals, name, { get: () => fetchApi()[name], enumerable: true, configurable: true });
  }

  // ---------- events, AbortController ----------
  const listenersOf = new WeakMap();
  class Event {
    constructor(type, init) {
      if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
      this.type = String(type);
      this.bubbles = !!(init && init.bubbles);
      this.cancelable = !!(init && init.cancelable);
      this.defaultPrevented = false;
      this.timeStamp = host.now();
      this.target = null;
      this.currentTarget = null;
    }
    preventDefault() { if (this.cancelable) this.defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this._stopped = true; }
  }
  class EventTarget {
    addEventListener(type, listener, options) {
      if (!listener) return;
      let map = listenersOf.get(this);
      if (!map) { map = Object.create(null); listenersOf.set(this, map); }
      const list = map[type] || (map[type] = []);
      if (list.some((l) => l.listener === listener)) return;
      list.push({ listener, once: !!(options && typeof options === 'object' && options.once) });
    }
    removeEventListener(type, listener) {
      const map = listenersOf.get(this);
      if (!map || !map[type]) return;
      map[type] = map[type].filter((l) => l.listener !== listener);
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError('The "event" argument must be an instance of Event');
      event.target = this;
      event.currentTarget = this;
      const map = listenersOf.get(this);
      const list = map && map[event.type] ? map[event.type].slice() : [];
      for (const l of list) {
        if (l.once) this.removeEventListener(event.type, l.listener);
        if (typeof l.listener === 'function') l.listener.call(this, event);
        else if (l.listener && typeof l.listener.handleEvent === 'function') l.listener.handleEvent(event);
        if (event._stopped) break;
      }
      return !event.defaultPrevented;
    }
  }
  const domException = (message, name) => new G.DOMException(message, name);
  const abortSignal = (signal, reason) => {
    if (signal._aborted) return;
    signal._aborted = true;
    signal._reason = reason === undefined ? domException('This operation was aborted', 'AbortError') : reason;
    signal.dispatchEvent(new Event('abort'));
  };
  let constructing = false;
  class AbortSignal extends EventTarget {
    constructor() {
      if (!constructing) throw new TypeError('Illegal constructor');
      super();
      this._aborted = false;
      this._reason = undefined;
      this._onabort = null;
    }
    // An event handler attribute: a listener in the list from the first time it is set, as
    // in the DOM (its place among the other listeners is kept).
    get onabort() { return this._onabort; }
    set onabort(fn) {
      if (!this._onabortListener) {
        this._onabortListener = (e) => { if (typeof this._onabort === 'function') this._onabort.call(this, e); };
        this.addEventListener('abort', this._onabortListener);
      }
      this._onabort = typeof fn === 'function' ? fn : null;
    }
    get aborted() { return this._aborted; }
    get reason() { return this._reason; }
    throwIfAborted() { if (this._aborted) throw this._reason; }
    static abort(reason) { const s = newSignal(); abortSignal(s, reason); return s; }
    static timeout(ms) {
      const s = newSignal();
      G.setTimeout(() => abortSignal(s, domException('The operation was aborted due to timeout', 'TimeoutError')), Number(ms) || 0);
      return s;
    }
    static any(signals) {
      const s = newSignal();
      for (const other of signals) {
        if (other.aborted) { abortSignal(s, other.reason); return s; }
      }
      for (const other of signals) other.addEventListener('abort', () => abortSignal(s, other.reason), { once: true });
      return s;
    }
  }
  function newSignal() {
    constructing = true;
    try { return new AbortSignal(); } finally { constructing = false; }
  }
  class AbortController {
    constructor() { this._signal = newSignal(); }
    get signal() { return this._signal; }
    abort(reason) { abortSignal(this._signal, reason); }
  }
  define(G, 'Event', Event);
  define(G, 'EventTarget', EventTarget);
  define(G, 'AbortSignal', AbortSignal);
  define(G, 'AbortController', AbortController);

  // ---------- structuredClone (the HTML structured clone algorithm, as Node's) ----------
  function structuredClone(value) {
    if (arguments.length === 0) throw new TypeError('The "value" argument must be specified');
    const seen = new Map();
    const fail = (what) => domException(what + ' could not be cloned.', 'DataCloneError');
    const clone = (v) => {
      if (typeof v === 'symbol') throw fail(String(v));
      if (typeof v === 'function') throw fail(String(v).slice(0, 100));
      if (v === null || typeof v !== 'object') return v;
      if (seen.has(v)) return seen.get(v);
      const tag = Object.prototype.toString.call(v);
      let out;
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        for (const k of Object.keys(v)) out[k] = clone(v[k]);
        return out;
      }
      switch (tag) {
        case '[object Date]': out = new Date(v.getTime()); break;
        case '[object RegExp]': out = new RegExp(v.source, v.flags); break;
        case '[object Boolean]': out = Object(v.valueOf()); break;
        case '[object Number]': out = Object(v.valueOf()); break;
        case '[object String]': out = Object(v.valueOf()); break;
        case '[object BigInt]': out = Object(v.valueOf()); break;
        case '[object ArrayBuffer]': out = v.slice(0); break;
        case '[object Map]':
          out = new Map(); seen.set(v, out);
          for (const [k, x] of v) out.set(clone(k), clone(x));
          return out;
        case '[object Set]':
          out = new Set(); seen.set(v, out);
          for (const x of v) out.add(clone(x));
          return out;
        case '[object Error]': {
          const names = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
          const Ctor = names[v.name] || Error;
          out = new Ctor(v.message);
          seen.set(v, out);
          if (v.stack !== undefined) out.stack = String(v.stack);
          if ('cause' in v) out.cause = clone(v.cause);
          return out;
        }
        default:
          if (ArrayBuffer.isView(v)) {
            const buffer = clone(v.buffer);
            out = tag === '[object DataView]'
              ? new DataView(buffer, v.byteOffset, v.byteLength)
              : new v.constructor(buffer, v.byteOffset, v.length);
            break;
          }
          if (tag === '[object Promise]' || tag === '[object WeakMap]' || tag === '[object WeakSet]' || tag === '[object WeakRef]') throw fail('#<' + tag.slice(8, -1) + '>');
          out = {};
          seen.set(v, out);
          for (const k of Object.keys(v)) out[k] = clone(v[k]);
          return out;
      }
      seen.set(v, out);
      return out;
    };
    return clone(value);
  }
  define(G, 'structuredClone', structuredClone);

  // ---------- process ----------
  const env = JSONparse(host.env());
  const processObj = {
    env, argv: ['node', 'index.js'], platform: 'linux', version: 'v20.0.0', versions: { node: '20.0.0' },
    browser: false, pid: 1, arch: 'x64', title: 'node',
    nextTick: (fn, ...a) => { Promise.resolve().then(() => fn(...a)); },
    cwd: () => '/action', hrtime: Object.assign((p) => { const n = host.now() * 1e6; const s = [Math.floor(n / 1e9), Math.floor(n % 1e9)]; return p ? [s[0] - p[0], s[1] - p[1]] : s; }, { bigint: () => BigInt(Math.floor(host.now() * 1e6)) }),
    uptime: () => host.now() / 1000, emitWarning: (w) => host.log(2, String(w)), memoryUsage: () => ({ heapUsed: 0, heapTotal: 0, rss: 0 }),
    exit: () => { throw new Error('process.exit is not available in actions'); },
    // Deprecated in Node, still read at load by old packages (fs-minipass): nothing behind it.
    binding: (name) => {
      if (['fs', 'constants', 'buffer', 'util', 'natives', 'os'].includes(String(name))) return {};
      throw new Error('No such module: ' + String(name));
    },
    on: () => processObj, once: () => processObj, off: () => processObj, removeListener: () => processObj, emit: () => false,
    stdout: { write: (s) => { host.log(1, String(s).replace(/\n$/, '')); return true; } },
    stderr: { write: (s) => { host.log(3, String(s).replace(/\n$/, '')); return true; } },
  };
  // Libraries tell Node from browsers by this tag (axios picks its http adapter by it).
  Object.defineProperty(processObj, Symbol.toStringTag, { value: 'process', configurable: true });
  define(G, 'process', processObj);

  function randomBytes(n, cb) {
    const b = bufferClass().alloc(n);
    getRandomValues(b);
    if (cb) { Promise.resolve().then(() => cb(null, b)); return undefined; }
    return b;
  }
  // The node:crypto functions (js/node_crypto.js), made once (the global `crypto.subtle`
  // shares them).
  let nodeCryptoApi = null;
  const cryptoApi = () => nodeCryptoApi || (nodeCryptoApi = host.loadScript('node_crypto')({
    G, host, errors: shared.errors, Buffer: bufferClass(), Uint8Array, ArrayBuffer: shared.ArrayBuffer, DataView: shared.DataView,
  }));
  Object.defineProperty(cryptoObj, 'subtle', { get: () => cryptoApi().subtle, enumerable: true, configurable: true });
  const cryptoMod = Object.assign(unavailable('crypto'), {});
  const nodeCore = {
    crypto: () => new Proxy(Object.assign({ randomBytes, getRandomValues, randomUUID: cryptoObj.randomUUID, webcrypto: cryptoObj }, cryptoApi()), {
      get(t, p) { return p in t ? t[p] : cryptoMod[p]; },
    }),
    process: () => processObj,
    // Node's deprecated `constants` (Linux values): packages such as graceful-fs read it at load.
    constants: () => Object.freeze({
      O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_NOCTTY: 256, O_TRUNC: 512, O_APPEND: 1024,
      O_DIRECTORY: 65536, O_NOATIME: 262144, O_NOFOLLOW: 131072, O_SYNC: 1052672, O_DSYNC: 4096, O_DIRECT: 16384,
      O_NONBLOCK: 2048, S_IFMT: 61440, S_IFREG: 32768, S_IFDIR: 16384, S_IFCHR: 8192, S_IFBLK: 24576, S_IFIFO: 4096,
      S_IFLNK: 40960, S_IFSOCK: 49152, F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1, UV_FS_COPYFILE_EXCL: 1, COPYFILE_EXCL: 1,
      SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, ENOENT: 2, EACCES: 13, EEXIST: 17, EINVAL: 22,
    }),
    // An action has no terminal, as on Defender: libraries such as `debug` only ask.
    tty: () => ({ isatty: () => false, ReadStream: class ReadStream {}, WriteStream: class WriteStream {} }),
    timers: () => ({ setTimeout: G.setTimeout, clearTimeout, setInterval: G.setInterval, clearInterval: clearTimer, setImmediate: G.setImmediate }),
  };
  return { globals, nodeCore };
})
