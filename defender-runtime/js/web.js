// Globals and Node core modules that most actions never touch, evaluated in a run's context
// only on first use (see the lazy globals of js/prelude.js): text encoding, base64, `Buffer`,
// `crypto`, `URL`, `fetch` and its classes, `process`, and the `path`, `util`, `events`...
// stand-ins. The prelude calls this function once, with what it captured at install
// time; user code never sees `host`.
(function web(shared) {
  'use strict';
  const { G, host, hostCall, inspect, format, unavailable, clearTimer, JSONparse, JSONstringify, Uint8Array } = shared;
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

  // ---------- Buffer (minimal) ----------
  class Buffer extends Uint8Array {
    static from(value, enc, len) {
      if (typeof value === 'string') {
        enc = String(enc || 'utf8').toLowerCase();
        let bytes;
        if (enc === 'hex') {
          const h = value.length % 2 ? value.slice(0, -1) : value;
          bytes = new Uint8Array(h.length / 2);
          for (let i = 0; i < bytes.length; i++) {
            const b = parseInt(h.substr(i * 2, 2), 16);
            if (Number.isNaN(b)) { bytes = bytes.slice(0, i); break; }
            bytes[i] = b;
          }
        } else if (enc === 'base64' || enc === 'base64url') bytes = b64ToBytes(value);
        else if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') bytes = Uint8Array.from(value, (c) => c.charCodeAt(0) & 255);
        else bytes = new TextEncoder().encode(value);
        const b = new Buffer(bytes.length);
        b.set(bytes);
        return b;
      }
      if (value instanceof ArrayBuffer) return new Buffer(value, enc || 0, len === undefined ? value.byteLength - (enc || 0) : len);
      if (ArrayBuffer.isView(value)) {
        const b = new Buffer(value.byteLength);
        b.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        return b;
      }
      if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data);
      if (Array.isArray(value) || (value && typeof value.length === 'number')) {
        const b = new Buffer(value.length);
        for (let i = 0; i < value.length; i++) b[i] = value[i];
        return b;
      }
      throw new TypeError('The first argument must be a string, Buffer, ArrayBuffer, Array, or array-like object');
    }
    static alloc(n, fill) { const b = new Buffer(n); if (fill !== undefined) b.fill(typeof fill === 'string' ? fill.charCodeAt(0) : fill); return b; }
    static allocUnsafe(n) { return new Buffer(n); }
    static isBuffer(b) { return b instanceof Buffer; }
    static isEncoding(e) { return ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii'].includes(String(e).toLowerCase()); }
    static byteLength(s, enc) { return typeof s === 'string' ? Buffer.from(s, enc).length : s.byteLength; }
    static concat(list, total) {
      if (total === undefined) total = list.reduce((n, b) => n + b.length, 0);
      const out = Buffer.alloc(total);
      let off = 0;
      for (const b of list) { if (off >= total) break; out.set(b.subarray(0, total - off), off); off += b.length; }
      return out;
    }
    static compare(a, b) { return a.compare(b); }
    toString(enc, start, end) {
      const v = this.subarray(start || 0, end === undefined ? this.length : end);
      enc = String(enc || 'utf8').toLowerCase();
      if (enc === 'hex') return Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('');
      if (enc === 'base64') return bytesToB64(v);
      if (enc === 'base64url') return bytesToB64(v).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      if (enc === 'latin1' || enc === 'binary' || enc === 'ascii') { let s = ''; for (const b of v) s += String.fromCharCode(b); return s; }
      return utf8Decode(v);
    }
    toJSON() { return { type: 'Buffer', data: Array.from(this) }; }
    equals(o) { return this.compare(o) === 0; }
    compare(o) {
      const n = Math.min(this.length, o.length);
      for (let i = 0; i < n; i++) if (this[i] !== o[i]) return this[i] < o[i] ? -1 : 1;
      return this.length === o.length ? 0 : this.length < o.length ? -1 : 1;
    }
    slice(s, e) { return this.subarray(s, e); }
    subarray(s, e) { const u = Uint8Array.prototype.subarray.call(this, s, e); return new Buffer(u.buffer, u.byteOffset, u.length); }
    write(str, offset, len, enc) { const b = Buffer.from(str, enc); const n = Math.min(b.length, len === undefined ? this.length - (offset || 0) : len); this.set(b.subarray(0, n), offset || 0); return n; }
    copy(target, ts, ss, se) { const src = this.subarray(ss || 0, se === undefined ? this.length : se); target.set(src.subarray(0, target.length - (ts || 0)), ts || 0); return Math.min(src.length, target.length - (ts || 0)); }
    readUInt8(o) { return this[o || 0]; }
    readUInt32BE(o) { o = o || 0; return ((this[o] << 24) >>> 0) + (this[o + 1] << 16) + (this[o + 2] << 8) + this[o + 3]; }
    writeUInt32BE(v, o) { o = o || 0; this[o] = v >>> 24; this[o + 1] = v >>> 16; this[o + 2] = v >>> 8; this[o + 3] = v; return o + 4; }
  }
  define(G, 'Buffer', Buffer);

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

  // ---------- events (for libraries and the node `events` stub) ----------
  class EventEmitter {
    on(e, fn) { (this._ev || (this._ev = {}))[e] = (this._ev[e] || []).concat(fn); return this; }
    addListener(e, fn) { return this.on(e, fn); }
    once(e, fn) { const w = (...a) => { this.off(e, w); fn.apply(this, a); }; w.listener = fn; return this.on(e, w); }
    off(e, fn) { if (this._ev && this._ev[e]) this._ev[e] = this._ev[e].filter((f) => f !== fn && f.listener !== fn); return this; }
    removeListener(e, fn) { return this.off(e, fn); }
    removeAllListeners(e) { if (!this._ev) return this; if (e === undefined) this._ev = {}; else delete this._ev[e]; return this; }
    emit(e, ...a) { const l = this._ev && this._ev[e]; if (!l || !l.length) { if (e === 'error') throw a[0]; return false; } for (const f of l.slice()) f.apply(this, a); return true; }
    listeners(e) { return ((this._ev && this._ev[e]) || []).map((f) => f.listener || f); }
    listenerCount(e) { return this.listeners(e).length; }
    setMaxListeners() { return this; }
    getMaxListeners() { return 10; }
  }
  EventEmitter.EventEmitter = EventEmitter;
  EventEmitter.default = EventEmitter;

  // ---------- Headers, Request, Response, fetch ----------
  class Headers {
    constructor(init) {
      this._m = new Map();
      if (init instanceof Headers) init.forEach((v, k) => this.append(k, v));
      else if (Array.isArray(init)) for (const [k, v] of init) this.append(k, v);
      else if (init && typeof init === 'object') for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    append(k, v) { k = String(k).toLowerCase(); v = String(v); this._m.set(k, this._m.has(k) ? this._m.get(k) + ', ' + v : v); }
    set(k, v) { this._m.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this._m.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this._m.has(String(k).toLowerCase()); }
    delete(k) { this._m.delete(String(k).toLowerCase()); }
    forEach(fn, self) { for (const [k, v] of [...this._m].sort()) fn.call(self, v, k, this); }
    keys() { return [...this._m.keys()].sort()[Symbol.iterator](); }
    values() { return [...this._m].sort().map((e) => e[1])[Symbol.iterator](); }
    entries() { return [...this._m].sort()[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }
  function bodyToString(body) {
    if (body === undefined || body === null) return { text: null };
    if (typeof body === 'string') return { text: body };
    if (body instanceof URLSearchParams) return { text: body.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    if (body instanceof ArrayBuffer) return { b64: bytesToB64(new Uint8Array(body)) };
    if (ArrayBuffer.isView(body)) return { b64: bytesToB64(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
    return { text: String(body) };
  }
  class Body {
    _consume() {
      if (this.bodyUsed) return Promise.reject(new TypeError('Body is unusable: Body has already been read'));
      this.bodyUsed = true;
      return Promise.resolve(this._bytes || new Uint8Array(0));
    }
    text() { return this._consume().then(utf8Decode); }
    json() { return this.text().then((t) => JSON.parse(t)); }
    arrayBuffer() { return this._consume().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); }
    bytes() { return this._consume(); }
  }
  class Request extends Body {
    constructor(input, init) {
      super();
      init = init || {};
      const src = input instanceof Request ? input : null;
      this.url = src ? src.url : new URL(String(input)).href;
      this.method = String(init.method || (src && src.method) || 'GET').toUpperCase();
      this.headers = new Headers(init.headers || (src && src.headers));
      const b = bodyToString(init.body !== undefined ? init.body : src ? src._raw : undefined);
      this._raw = init.body !== undefined ? init.body : src ? src._raw : undefined;
      this._body = b;
      if (b.type && !this.headers.has('content-type')) this.headers.set('content-type', b.type);
      if (typeof this._raw === 'string' && !this.headers.has('content-type')) this.headers.set('content-type', 'text/plain;charset=UTF-8');
      this._bytes = b.text !== null && b.text !== undefined ? new TextEncoder().encode(b.text) : b.b64 ? b64ToBytes(b.b64) : null;
      this.bodyUsed = false;
      this.signal = init.signal || null;
    }
    clone() { return new Request(this); }
  }
  class Response extends Body {
    constructor(body, init) {
      super();
      init = init || {};
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || '';
      this.headers = new Headers(init.headers);
      const b = bodyToString(body);
      this._bytes = b.text !== null && b.text !== undefined ? new TextEncoder().encode(b.text) : b.b64 ? b64ToBytes(b.b64) : null;
      this.url = init.url || '';
      this.redirected = false;
      this.type = 'default';
      this.bodyUsed = false;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() { const r = new Response(null, this); r._bytes = this._bytes; r.url = this.url; return r; }
    static json(data, init) { const h = new Headers((init && init.headers) || {}); h.set('content-type', 'application/json'); return new Response(JSON.stringify(data), Object.assign({}, init, { headers: h })); }
    static error() { return new Response(null, { status: 0 }); }
  }
  define(G, 'Headers', Headers);
  define(G, 'Request', Request);
  define(G, 'Response', Response);

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

  define(G, 'fetch', function fetch(input, init) {
    let req;
    try { req = new Request(input, init); } catch (e) { return Promise.reject(e); }
    const headers = {};
    req.headers.forEach((v, k) => { headers[k] = v; });
    const body = req._bytes ? bytesToB64(req._bytes) : null;
    const signal = init && init.signal;
    if (signal && signal.aborted) return Promise.reject(signal.reason);
    const sent = hostCall('fetch', { url: req.url, method: req.method, headers, body }).then((r) => {
      const res = new Response(null, { status: r.status, statusText: r.statusText, headers: r.headers, url: r.url });
      res._bytes = b64ToBytes(r.body || '');
      return res;
    }, (e) => { const t = new TypeError('fetch failed: ' + e.message); t.cause = e; throw t; });
    if (!signal || typeof signal.addEventListener !== 'function') return sent;
    // An abort rejects at once with the signal's reason (the host request's answer is dropped).
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      sent.then((r) => { signal.removeEventListener('abort', onAbort); resolve(r); },
        (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
    });
  });

  // ---------- process ----------
  const env = JSONparse(host.env());
  const processObj = {
    env, argv: ['node', 'index.js'], platform: 'linux', version: 'v20.0.0', versions: { node: '20.0.0' },
    browser: false, pid: 1, arch: 'x64', title: 'node',
    nextTick: (fn, ...a) => { Promise.resolve().then(() => fn(...a)); },
    cwd: () => '/action', hrtime: Object.assign((p) => { const n = host.now() * 1e6; const s = [Math.floor(n / 1e9), Math.floor(n % 1e9)]; return p ? [s[0] - p[0], s[1] - p[1]] : s; }, { bigint: () => BigInt(Math.floor(host.now() * 1e6)) }),
    uptime: () => host.now() / 1000, emitWarning: (w) => host.log(2, String(w)), memoryUsage: () => ({ heapUsed: 0, heapTotal: 0, rss: 0 }),
    exit: () => { throw new Error('process.exit is not available in actions'); },
    on: () => processObj, once: () => processObj, off: () => processObj, removeListener: () => processObj, emit: () => false,
    stdout: { write: (s) => { host.log(1, String(s).replace(/\n$/, '')); return true; } },
    stderr: { write: (s) => { host.log(3, String(s).replace(/\n$/, '')); return true; } },
  };
  define(G, 'process', processObj);

  const pathMod = {
    sep: '/', delimiter: ':',
    join: (...p) => pathMod.normalize(p.filter((x) => x !== '').join('/')),
    normalize: (p) => { const abs = p.startsWith('/'); const out = []; for (const s of p.split('/')) { if (s === '..') { if (out.length && out[out.length - 1] !== '..') out.pop(); else if (!abs) out.push('..'); } else if (s && s !== '.') out.push(s); } return (abs ? '/' : '') + out.join('/') || (abs ? '/' : '.'); },
    dirname: (p) => { const i = p.replace(/\/+$/, '').lastIndexOf('/'); return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i); },
    basename: (p, ext) => { let b = p.replace(/\/+$/, '').split('/').pop(); if (ext && b.endsWith(ext)) b = b.slice(0, -ext.length); return b; },
    extname: (p) => { const b = pathMod.basename(p); const i = b.lastIndexOf('.'); return i <= 0 ? '' : b.slice(i); },
    resolve: (...p) => { let r = ''; for (let i = p.length - 1; i >= 0 && !r.startsWith('/'); i--) r = p[i] + (r ? '/' + r : ''); if (!r.startsWith('/')) r = '/action/' + r; return pathMod.normalize(r); },
    isAbsolute: (p) => p.startsWith('/'),
    relative: (a, b) => { const x = pathMod.resolve(a).split('/').filter(Boolean); const y = pathMod.resolve(b).split('/').filter(Boolean); let i = 0; while (i < x.length && x[i] === y[i]) i++; return [...x.slice(i).map(() => '..'), ...y.slice(i)].join('/'); },
  };
  pathMod.posix = pathMod;
  const utilMod = {
    inherits(ctor, superCtor) { Object.setPrototypeOf(ctor.prototype, superCtor.prototype); Object.setPrototypeOf(ctor, superCtor); ctor.super_ = superCtor; },
    inspect, format: (...a) => format(a), TextEncoder, TextDecoder,
    promisify: (fn) => (...a) => new Promise((res, rej) => fn(...a, (e, v) => (e ? rej(e) : res(v)))),
    deprecate: (fn) => fn, isDeepStrictEqual: (a, b) => JSONstringify(a) === JSONstringify(b),
    types: { isUint8Array: (v) => v instanceof Uint8Array, isPromise: (v) => v instanceof Promise },
  };
  function randomBytes(n, cb) {
    const b = Buffer.alloc(n);
    getRandomValues(b);
    if (cb) { Promise.resolve().then(() => cb(null, b)); return undefined; }
    return b;
  }
  // ---------- node:crypto hashes, HMAC, PBKDF2 (computed by the host: src/sandbox/crypto.rs) ----------
  // Created on the first require('crypto'). Arguments are checked here, with Node's errors
  // (class, message and code), and again by the host, which reads strings (as UTF-8),
  // ArrayBuffers and typed arrays where the engine keeps them (never through a getter).
  const MAX_PBKDF2_ITERATIONS = 10000000; // as the host's MAX_PBKDF2_ITERATIONS
  const MAX_PBKDF2_KEYLEN = 1048576; // as the host's MAX_PBKDF2_KEYLEN
  function nodeCrypto() {
    const { ArrayBuffer: AB, DataView: DV } = shared;
    const apply = Reflect.apply;
    const isView = AB.isView;
    const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
    const abLength = getter(AB.prototype, 'byteLength');
    const dvBuffer = getter(DV.prototype, 'buffer');
    const dvOffset = getter(DV.prototype, 'byteOffset');
    const dvLength = getter(DV.prototype, 'byteLength');
    const taTag = getter(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag);
    const isArrayBuffer = (v) => { try { apply(abLength, v, []); return true; } catch (e) { return false; } };
    // A view as the host reads it: a typed array as it is, a DataView as a Uint8Array over the
    // same bytes (read with the engine's own getters).
    const bytesOf = (v) => (apply(taTag, v, []) === undefined
      ? new Uint8Array(apply(dvBuffer, v, []), apply(dvOffset, v, []), apply(dvLength, v, [])) : v);

    // ---- Node's errors ----
    const codeError = (Ctor, code, message) => { const e = new Ctor(message); if (code) e.code = code; return e; };
    function received(v) {
      if (v === null || v === undefined) return ' Received ' + v;
      if (typeof v === 'function') return ' Received function ' + v.name;
      if (typeof v === 'object') {
        let name;
        try { name = v.constructor && v.constructor.name; } catch (e) { name = undefined; }
        return ' Received ' + (typeof name === 'string' && name ? 'an instance of ' + name : inspect(v, 1));
      }
      let s = typeof v === 'string' ? "'" + v + "'" : typeof v === 'bigint' ? v + 'n' : String(v);
      if (s.length > 28) s = s.slice(0, 25) + '...';
      return ' Received type ' + typeof v + ' (' + s + ')';
    }
    const argType = (name, expected, v) => codeError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "' + name + '" argument must be ' + expected + '.' + received(v));
    function separated(s) {
      let out = '';
      let i = s.length;
      const start = s[0] === '-' ? 1 : 0;
      for (; i >= start + 4; i -= 3) out = '_' + s.slice(i - 3, i) + out;
      return s.slice(0, i) + out;
    }
    const outOfRange = (name, range, v) => codeError(RangeError, 'ERR_OUT_OF_RANGE', 'The value of "' + name + '" is out of range. It must be ' + range + '. Received ' + (Number.isInteger(v) && Math.abs(v) > 2 ** 32 ? separated(String(v)) : String(v)));
    const finalized = () => codeError(Error, 'ERR_CRYPTO_HASH_FINALIZED', 'Digest already called');
    const invalidDigest = (name) => codeError(TypeError, 'ERR_CRYPTO_INVALID_DIGEST', 'Invalid digest: ' + name);
    const VIEWS = 'an instance of Buffer, TypedArray, or DataView';
    const SOURCES = 'of type string or an instance of ArrayBuffer, Buffer, TypedArray, or DataView';
    function int32(v, name, min, max) {
      if (typeof v !== 'number') throw argType(name, 'of type number', v);
      if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v);
      if (v < min || v > max) throw outOfRange(name, '>= ' + min + ' && <= ' + max, v);
      return v;
    }

    // ---- encodings ----
    function inputEncoding(enc) {
      if (enc === undefined || enc === null) return 'utf8';
      switch (String(enc).toLowerCase()) {
        case 'hex': return 'hex';
        case 'base64': return 'base64';
        case 'base64url': return 'base64url';
        case 'latin1': case 'binary': case 'ascii': return 'latin1';
        case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
        default: return 'utf8';
      }
    }
    const hexDigit = (c) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);
    // A string's bytes in `enc`, for the host: the string itself for UTF-8 (the host encodes it).
    function stringBytes(s, enc) {
      if (enc === 'utf8') return s;
      if (enc === 'base64' || enc === 'base64url') return Buffer.from(s, enc);
      if (enc === 'hex') {
        const out = new Uint8Array(s.length >>> 1);
        let n = 0;
        for (; n < out.length; n++) {
          const hi = hexDigit(s.charCodeAt(2 * n));
          const lo = hexDigit(s.charCodeAt(2 * n + 1));
          if (hi < 0 || lo < 0) break;
          out[n] = (hi << 4) | lo;
        }
        return out.subarray(0, n);
      }
      const wide = enc === 'utf16le';
      const out = new Uint8Array(wide ? s.length * 2 : s.length);
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (wide) { out[2 * i] = c & 255; out[2 * i + 1] = c >>> 8; } else out[i] = c & 255;
      }
      return out;
    }
    const HEX = [];
    for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));
    // A digest in the encoding asked for; a Buffer without one (or for one Node does not know).
    function encodeOut(bytes, enc) {
      if (!enc) return bytes;
      let s = '';
      switch (String(enc).toLowerCase()) {
        case 'hex': for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]]; return s;
        case 'base64': return bytes.toString('base64');
        case 'base64url': return bytes.toString('base64url');
        case 'utf8': case 'utf-8': return bytes.toString('utf8');
        case 'latin1': case 'binary': for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]); return s;
        case 'ascii': for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] & 127); return s;
        case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le':
          for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
          return s;
        default: return bytes;
      }
    }

    // ---- Hash, Hmac ----
    function update(id, data, encoding) {
      if (typeof data === 'string') {
        const enc = inputEncoding(encoding);
        if (enc === 'hex' && data.length % 2 !== 0) {
          throw codeError(TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'encoding' is invalid for data of length " + data.length + ". Received '" + String(encoding) + "'");
        }
        host.hashUpdate(id, stringBytes(data, enc));
      } else if (isView(data)) host.hashUpdate(id, bytesOf(data));
      else throw argType('data', 'of type string or ' + VIEWS, data);
    }
    const COPY = Symbol('copy');
    class Hash {
      #id;
      #done = false;
      constructor(algorithm, options) {
        if (algorithm === COPY) { this.#id = options; return; }
        if (typeof algorithm !== 'string') throw argType('algorithm', 'of type string', algorithm);
        const id = host.hashNew(algorithm);
        if (id === 0) throw new Error('Digest method not supported');
        this.#id = id;
      }
      copy() {
        if (this.#done) throw finalized();
        return new Hash(COPY, host.hashCopy(this.#id));
      }
      update(data, encoding) {
        if (this.#done) throw finalized();
        update(this.#id, data, encoding);
        return this;
      }
      digest(encoding) {
        if (this.#done) throw finalized();
        this.#done = true;
        return encodeOut(new Buffer(host.hashDigest(this.#id)), encoding);
      }
    }
    class Hmac {
      #id;
      #done = false;
      constructor(hmac, key, options) {
        if (typeof hmac !== 'string') throw argType('hmac', 'of type string', hmac);
        const enc = options !== undefined && options !== null ? options.encoding : undefined;
        let k;
        if (typeof key === 'string') k = stringBytes(key, enc === undefined || enc === null || enc === 'buffer' ? 'utf8' : inputEncoding(enc));
        else if (isView(key)) k = bytesOf(key);
        else if (isArrayBuffer(key)) k = key;
        else throw argType('key', 'of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey', key);
        const id = host.hashNew(hmac, k);
        if (id === 0) throw invalidDigest(hmac);
        this.#id = id;
      }
      update(data, encoding) {
        if (this.#done) throw finalized();
        update(this.#id, data, encoding);
        return this;
      }
      digest(encoding) {
        // A second digest is empty, as in Node (where it is deprecated).
        if (this.#done) return encodeOut(Buffer.alloc(0), encoding);
        this.#done = true;
        return encodeOut(new Buffer(host.hashDigest(this.#id)), encoding);
      }
    }
    function hash(algorithm, data, outputEncoding) {
      if (typeof algorithm !== 'string') throw argType('algorithm', 'of type string', algorithm);
      if (typeof data !== 'string' && !isView(data)) throw argType('input', 'of type string or ' + VIEWS, data);
      const enc = outputEncoding === undefined ? 'hex' : outputEncoding;
      if (typeof enc !== 'string') throw argType('outputEncoding', 'of type string', enc);
      if (!/^(hex|base64|base64url|latin1|binary|ascii|utf-?8|ucs-?2|utf-?16le|buffer)$/i.test(enc)) {
        throw codeError(TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'outputEncoding' is invalid. Received '" + enc + "'");
      }
      const id = host.hashNew(algorithm);
      if (id === 0) throw new Error('Digest method ' + algorithm + ' is not supported');
      update(id, data);
      return encodeOut(new Buffer(host.hashDigest(id)), enc.toLowerCase() === 'buffer' ? undefined : enc);
    }

    // ---- PBKDF2, timingSafeEqual ----
    function source(v, name) {
      if (typeof v === 'string') return v;
      if (isView(v)) return bytesOf(v);
      if (isArrayBuffer(v)) return v;
      throw argType(name, SOURCES, v);
    }
    function pbkdf2Args(password, salt, iterations, keylen, digest) {
      if (typeof digest !== 'string') throw argType('digest', 'of type string', digest);
      return [source(password, 'password'), source(salt, 'salt'),
        int32(iterations, 'iterations', 1, MAX_PBKDF2_ITERATIONS), int32(keylen, 'keylen', 0, MAX_PBKDF2_KEYLEN), digest];
    }
    function derive(args) {
      const out = apply(host.pbkdf2, host, args);
      if (out === null) throw invalidDigest(args[4]);
      return new Buffer(out);
    }
    function pbkdf2Sync(password, salt, iterations, keylen, digest) {
      return derive(pbkdf2Args(password, salt, iterations, keylen, digest));
    }
    // Derived at once (the bytes are those of the call, as Node copies them), delivered later.
    function pbkdf2(password, salt, iterations, keylen, digest, callback) {
      if (typeof digest === 'function') { callback = digest; digest = undefined; }
      const args = pbkdf2Args(password, salt, iterations, keylen, digest);
      if (typeof callback !== 'function') throw argType('callback', 'of type function', callback);
      const key = derive(args);
      Promise.resolve().then(() => callback(null, key));
    }
    function timingSafeEqual(buf1, buf2) {
      const bytes = (v, name) => {
        if (isView(v)) return bytesOf(v);
        if (isArrayBuffer(v)) return v;
        throw codeError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "' + name + '" argument must be an instance of ArrayBuffer, Buffer, TypedArray, or DataView.');
      };
      const r = host.timingSafeEqual(bytes(buf1, 'buf1'), bytes(buf2, 'buf2'));
      if (r < 0) throw codeError(RangeError, 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH', 'Input buffers must have the same byte length');
      return r === 1;
    }
    return {
      createHash: (algorithm, options) => new Hash(algorithm, options),
      createHmac: (hmac, key, options) => new Hmac(hmac, key, options),
      Hash, Hmac, hash, getHashes: () => host.hashNames(), pbkdf2, pbkdf2Sync, timingSafeEqual,
    };
  }
  const cryptoMod = Object.assign(unavailable('crypto'), {});
  const nodeCore = {
    events: () => EventEmitter,
    buffer: () => ({ Buffer, constants: { MAX_LENGTH: 2 ** 31 - 1 } }),
    url: () => ({ URL, URLSearchParams, parse: (u) => { const x = new URL(u); return { protocol: x.protocol, hostname: x.hostname, host: x.host, port: x.port || null, pathname: x.pathname, path: x.pathname + x.search, search: x.search || null, hash: x.hash || null, href: x.href }; } }),
    util: () => utilMod,
    path: () => pathMod,
    string_decoder: () => ({ StringDecoder: class { constructor() { this.d = new TextDecoder(); } write(b) { return this.d.decode(b); } end(b) { return b ? this.d.decode(b) : ''; } } }),
    crypto: () => new Proxy(Object.assign({ randomBytes, getRandomValues, randomUUID: cryptoObj.randomUUID, webcrypto: cryptoObj }, nodeCrypto()), {
      get(t, p) { return p in t ? t[p] : cryptoMod[p]; },
    }),
    process: () => processObj,
    timers: () => ({ setTimeout: G.setTimeout, clearTimeout, setInterval: G.setInterval, clearInterval: clearTimer, setImmediate: G.setImmediate }),
  };
  return { globals, nodeCore, Buffer, EventEmitter };
})
