// `fetch` and its classes (`Headers`, `Request`, `Response`) in the sandbox, evaluated on
// the first use of one of them (see js/web.js). Requests go through the host's `fetch`
// operation (src/host/fetch.rs), with its outbound policy and bounds. `shared` holds the
// text, base64 and URL helpers of js/web.js and the prelude's `hostCall`.
(function fetchApi(shared) {
  'use strict';
  const { hostCall, URL, URLSearchParams, TextEncoder, utf8Decode, bytesToB64, b64ToBytes, Uint8Array } = shared;

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

  function fetch(input, init) {
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
  }

  return { Headers, Request, Response, fetch };
})
