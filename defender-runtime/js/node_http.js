// Node's `http` and `https` in the sandbox, evaluated on the first require of one of them
// (see js/support.js). All traffic goes through the host's `fetch` operation (src/host/fetch.rs)
// in its `redirect: 'manual'` mode: the same outbound policy (internal addresses refused,
// after DNS too), the same body bound and memory charge, no redirect followed, the body as
// sent (a gzip body stays gzip: the caller decodes it with `zlib`, as in Node), and Node's
// error codes. The request body is sent when the request ends, and the response body is
// delivered once the host has it whole (at most 10 MB). `shared` is `{ G, hostCall, errors }`
// (`errors`: Node's error helpers of js/support.js); each entry of the result takes the
// built-in `require` (for `stream`, `events`, `buffer`).
(function nodeHttp(shared) {
  'use strict';
  const { G, hostCall } = shared;
  const { codeError, argType } = shared.errors;
  const setTimer = G.setTimeout;
  const clearTimer = G.clearTimeout;
  const nextTick = (fn, ...args) => { Promise.resolve().then(() => fn(...args)); };

  // ---------- http, https ----------
  const METHODS = ['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
    'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT',
    'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE'];
  const STATUS_CODES = {
    100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints', 200: 'OK', 201: 'Created',
    202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
    207: 'Multi-Status', 208: 'Already Reported', 226: 'IM Used', 300: 'Multiple Choices', 301: 'Moved Permanently',
    302: 'Found', 303: 'See Other', 304: 'Not Modified', 305: 'Use Proxy', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
    400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
    409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large',
    414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
    418: "I'm a Teapot", 421: 'Misdirected Request', 422: 'Unprocessable Entity', 423: 'Locked', 424: 'Failed Dependency',
    425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
    431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons', 500: 'Internal Server Error',
    501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
    505: 'HTTP Version Not Supported', 506: 'Variant Also Negotiates', 507: 'Insufficient Storage', 508: 'Loop Detected',
    509: 'Bandwidth Limit Exceeded', 510: 'Not Extended', 511: 'Network Authentication Required',
  };
  // Most bytes of request body one request sends (the host charges it to the run too).
  const MAX_REQUEST_BODY = 10 * 1024 * 1024;
  // Response bodies are delivered in chunks of this size (Node's default highWaterMark).
  const CHUNK = 16384;
  const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
  const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
  // Headers the host's client writes itself (from the body it sends): a script's own would
  // contradict it.
  const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te',
    'trailer', 'proxy-connection', 'expect']);
  // Response headers of which Node keeps the first only.
  const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
    'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization',
    'referer', 'retry-after', 'server', 'user-agent']);

  function validateHeaderName(name) {
    if (typeof name !== 'string' || !name || !TOKEN.test(name)) {
      throw codeError(TypeError, 'ERR_INVALID_HTTP_TOKEN', 'Header name must be a valid HTTP token ["' + name + '"]');
    }
  }
  function validateHeaderValue(name, value) {
    if (value === undefined) throw codeError(TypeError, 'ERR_HTTP_INVALID_HEADER_VALUE', 'Invalid value "' + value + '" for header "' + name + '"');
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (INVALID_VALUE.test(String(v))) throw codeError(TypeError, 'ERR_INVALID_CHAR', 'Invalid character in header content ["' + name + '"]');
    }
  }

  // Node's `headers` of a response: lower-case names; `set-cookie` an array; a repeated
  // header joined with ', ' (`cookie` with '; '), or its first value for those that Node
  // keeps once.
  function parseHeaders(raw) {
    const headers = {};
    const distinct = {};
    for (const [name, value] of raw) {
      const k = name.toLowerCase();
      (distinct[k] || (distinct[k] = [])).push(value);
      if (k === 'set-cookie') (headers[k] || (headers[k] = [])).push(value);
      else if (!(k in headers)) headers[k] = value;
      else if (SINGLE.has(k)) continue;
      else headers[k] += (k === 'cookie' ? '; ' : ', ') + value;
    }
    return { headers, distinct };
  }

  function makeHttp(require) {
    const { Writable, Readable } = require('stream');
    const EventEmitter = require('events');
    const { Buffer } = require('buffer');

    class Agent extends EventEmitter {
      constructor(options) {
        super();
        this.options = Object.assign({ path: null }, options);
        this.defaultPort = 80;
        this.protocol = 'http:';
        this.keepAlive = !!(options && options.keepAlive);
        this.keepAliveMsecs = (options && options.keepAliveMsecs) || 1000;
        this.maxSockets = (options && options.maxSockets) || Infinity;
        this.maxFreeSockets = (options && options.maxFreeSockets) || 256;
        this.maxTotalSockets = (options && options.maxTotalSockets) || Infinity;
        this.scheduling = (options && options.scheduling) || 'lifo';
        this.requests = Object.create(null);
        this.sockets = Object.create(null);
        this.freeSockets = Object.create(null);
        this.totalSocketCount = 0;
      }
      getName(options) {
        options = options || {};
        return (options.host || 'localhost') + ':' + (options.port || '') + ':' + (options.localAddress || '');
      }
      destroy() {}
    }

    // What libraries see of the connection: an emitter with the socket methods they call.
    class FakeSocket extends EventEmitter {
      constructor(req, secure) {
        super();
        this._httpMessage = req;
        this.remoteAddress = req.host;
        this.remotePort = req._port;
        this.remoteFamily = /:/.test(req.host) ? 'IPv6' : 'IPv4';
        this.localAddress = undefined;
        this.localPort = undefined;
        this.encrypted = secure || undefined;
        this.authorized = secure ? true : undefined;
        this.connecting = false;
        this.destroyed = false;
        this.readable = true;
        this.writable = true;
        this.bytesRead = 0;
        this.bytesWritten = 0;
        this.timeout = 0;
      }
      setTimeout(ms, cb) { this.timeout = ms; if (typeof cb === 'function') this.once('timeout', cb); return this; }
      setNoDelay() { return this; }
      setKeepAlive() { return this; }
      ref() { return this; }
      unref() { return this; }
      address() { return {}; }
      getPeerCertificate() { return {}; }
      getProtocol() { return this.encrypted ? 'TLSv1.3' : null; }
      write() { return true; }
      end() { return this; }
      destroy() {
        if (!this.destroyed) {
          this.destroyed = true;
          const req = this._httpMessage;
          if (req && !req.destroyed) req.destroy();
          nextTick(() => this.emit('close', false));
        }
        return this;
      }
    }

    class IncomingMessage extends Readable {
      constructor(req, answer) {
        super();
        const { headers, distinct } = parseHeaders(answer.rawHeaders || []);
        this.req = req;
        this.socket = req.socket;
        this.connection = req.socket;
        this.statusCode = answer.status;
        this.statusMessage = answer.statusText || STATUS_CODES[answer.status] || '';
        this.httpVersion = answer.httpVersion || '1.1';
        const [major, minor] = this.httpVersion.split('.');
        this.httpVersionMajor = Number(major);
        this.httpVersionMinor = Number(minor || 0);
        this.headers = headers;
        this.headersDistinct = distinct;
        this.rawHeaders = [].concat(...(answer.rawHeaders || []));
        this.trailers = {};
        this.trailersDistinct = {};
        this.rawTrailers = [];
        this.url = '';
        this.method = null;
        this.aborted = false;
        this.complete = false;
        this.responseUrl = answer.url;
        this._body = Buffer.from(answer.body || '', 'base64');
        this._offset = 0;
        this.once('end', () => { this.complete = true; });
      }
      _read() {
        if (this._offset >= this._body.length) {
          this._body = null;
          this.push(null);
          return;
        }
        const end = Math.min(this._offset + CHUNK, this._body.length);
        const chunk = this._body.subarray(this._offset, end);
        this._offset = end;
        this.push(chunk);
      }
      setTimeout(ms, cb) { if (this.req) this.req.setTimeout(ms, cb); return this; }
      _destroy(err, cb) {
        if (!this.complete && !this.readableEnded) this.aborted = true;
        cb(err);
      }
    }

    const hangUp = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    function nodeError(e, req) {
      const code = e && e.code;
      let err;
      switch (code) {
        case 'ECONNREFUSED': case 'ETIMEDOUT': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'EADDRNOTAVAIL':
          err = new Error('connect ' + code + ' ' + req.host + ':' + req._port);
          Object.assign(err, { errno: { ECONNREFUSED: -111, ETIMEDOUT: -110, EHOSTUNREACH: -113, ENETUNREACH: -101, EADDRNOTAVAIL: -99 }[code], code, syscall: 'connect', address: req.host, port: req._port });
          return err;
        case 'ENOTFOUND':
          err = new Error('getaddrinfo ENOTFOUND ' + req.host);
          return Object.assign(err, { errno: -3008, code, syscall: 'getaddrinfo', hostname: req.host });
        case 'ECONNRESET': case 'ECONNABORTED':
          err = new Error('socket hang up');
          err.code = 'ECONNRESET';
          err.cause = e.message;
          return err;
        case 'ERR_ADDRESS_NOT_ALLOWED': case 'ERR_RESPONSE_TOO_LARGE':
          return codeError(Error, code, e.message);
        default:
          err = new Error(e && e.message ? e.message : 'request failed');
          if (code) err.code = code;
          return err;
      }
    }

    function hostHeader(host, port, defaultPort) {
      const h = /:/.test(host) && host[0] !== '[' ? '[' + host + ']' : host;
      return port && Number(port) !== defaultPort ? h + ':' + port : h;
    }

    // The options of `request(url, options, cb)`, as Node merges them.
    function requestOptions(input, options, cb) {
      let opts = {};
      if (typeof input === 'string' || (input && typeof input === 'object' && typeof input.href === 'string' && typeof input.searchParams === 'object')) {
        let u;
        try { u = new G.URL(String(typeof input === 'string' ? input : input.href)); } catch (e) {
          throw codeError(TypeError, 'ERR_INVALID_URL', 'Invalid URL');
        }
        opts = {
          protocol: u.protocol, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : undefined,
          path: (u.pathname || '/') + (u.search || ''), hash: u.hash, href: u.href,
        };
        if (u.username || u.password) opts.auth = decodeURIComponent(u.username) + ':' + decodeURIComponent(u.password);
      } else if (typeof input === 'function') {
        cb = input;
        input = undefined;
      } else if (input && typeof input === 'object') {
        opts = Object.assign({}, input);
        input = undefined;
      } else if (input !== undefined && input !== null) {
        throw argType('options', 'of type object', input);
      }
      if (typeof options === 'function') { cb = options; options = undefined; }
      if (options && typeof options === 'object') opts = Object.assign(opts, options);
      return { opts, cb };
    }

    class ClientRequest extends Writable {
      constructor(input, options, cb, defaults) {
        // Not destroyed at 'finish': the request lives until its response ends.
        super({ decodeStrings: true, autoDestroy: false });
        const parsed = requestOptions(input, options, cb);
        const opts = parsed.opts;
        cb = parsed.cb;
        defaults = defaults || HTTP_DEFAULTS;
        const agent = opts.agent === undefined || opts.agent === null || opts.agent === true ? defaults.agent() : opts.agent || defaults.agent();
        const expected = (agent && agent.protocol) || defaults.protocol;
        const protocol = opts.protocol || expected;
        if (protocol !== expected) {
          throw codeError(TypeError, 'ERR_INVALID_PROTOCOL', 'Protocol "' + protocol + '" not supported. Expected "' + expected + '"');
        }
        if (opts.socketPath) throw codeError(Error, 'ERR_NOT_AVAILABLE', 'requests over a unix socket (socketPath) are not available in the action sandbox');
        if (typeof opts.createConnection === 'function') throw codeError(Error, 'ERR_NOT_AVAILABLE', 'createConnection is not available in the action sandbox');
        const method = opts.method === undefined || opts.method === null ? 'GET' : opts.method;
        if (typeof method !== 'string') throw argType('options.method', 'of type string', method);
        if (!TOKEN.test(method)) throw codeError(TypeError, 'ERR_INVALID_HTTP_TOKEN', 'Method must be a valid HTTP token ["' + method + '"]');
        const path = opts.path === undefined || opts.path === null ? '/' : String(opts.path);
        if (/[\u0000-\u0020\u007f-\uffff]/.test(path)) throw codeError(TypeError, 'ERR_UNESCAPED_CHARACTERS', 'Request path contains unescaped characters');
        const defaultPort = opts.defaultPort || (agent && agent.defaultPort) || defaults.port;
        this.agent = agent;
        this.method = method.toUpperCase();
        this.path = path;
        this.host = String(opts.hostname || opts.host || 'localhost').replace(/^\[|\]$/g, '');
        this.protocol = protocol;
        this._port = Number(opts.port) || defaultPort;
        this._defaultPort = defaultPort;
        this._secure = protocol === 'https:';
        this._headers = new Map();
        this._body = [];
        this._bodyBytes = 0;
        this._timer = null;
        this._timeoutMs = 0;
        this.aborted = false;
        this.reusedSocket = false;
        this.maxHeadersCount = null;
        this.timeoutCb = null;
        this.res = null;
        this.socket = null;
        this.connection = null;
        this._sent = false;
        const headers = opts.headers;
        if (Array.isArray(headers)) {
          // Node's raw form: [name, value, name, value...].
          for (let i = 0; i + 1 < headers.length; i += 2) this._append(headers[i], headers[i + 1]);
        } else if (headers && typeof headers === 'object') {
          for (const k of Object.keys(headers)) if (headers[k] !== undefined) this.setHeader(k, headers[k]);
        }
        if (opts.setHost !== false && !this.hasHeader('host')) this.setHeader('Host', hostHeader(this.host, this._port, defaultPort));
        if (opts.auth && !this.hasHeader('authorization')) this.setHeader('Authorization', 'Basic ' + Buffer.from(String(opts.auth)).toString('base64'));
        if (typeof cb === 'function') this.once('response', cb);
        if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
        const signal = opts.signal;
        if (signal && typeof signal.addEventListener === 'function') {
          const onAbort = () => {
            const e = new Error('The operation was aborted');
            e.name = 'AbortError';
            e.code = 'ABORT_ERR';
            e.cause = signal.reason;
            this.destroy(e);
          };
          if (signal.aborted) nextTick(onAbort);
          else {
            signal.addEventListener('abort', onAbort, { once: true });
            this.once('close', () => signal.removeEventListener('abort', onAbort));
          }
        }
        // The "connection": at once, as from an agent's free socket.
        nextTick(() => {
          if (this.destroyed) return;
          this.socket = this.connection = new FakeSocket(this, this._secure);
          this.emit('socket', this.socket);
        });
      }
      get headersSent() { return this._sent; }
      get finished() { return this.writableEnded; }
      _append(name, value) {
        validateHeaderName(name);
        validateHeaderValue(name, value);
        const k = name.toLowerCase();
        const prev = this._headers.get(k);
        const values = Array.isArray(value) ? value.map(String) : [String(value)];
        if (prev) prev[1] = [].concat(prev[1], values);
        else this._headers.set(k, [name, Array.isArray(value) ? values : values[0]]);
      }
      _checkSent() {
        if (this._sent) throw codeError(Error, 'ERR_HTTP_HEADERS_SENT', 'Cannot set headers after they are sent to the client');
      }
      setHeader(name, value) {
        this._checkSent();
        validateHeaderName(name);
        validateHeaderValue(name, value);
        this._headers.set(name.toLowerCase(), [name, Array.isArray(value) ? value.map(String) : value]);
        return this;
      }
      appendHeader(name, value) { this._checkSent(); this._append(name, value); return this; }
      getHeader(name) {
        if (typeof name !== 'string') throw argType('name', 'of type string', name);
        const e = this._headers.get(name.toLowerCase());
        return e ? e[1] : undefined;
      }
      hasHeader(name) { return this._headers.has(String(name).toLowerCase()); }
      removeHeader(name) { this._checkSent(); this._headers.delete(String(name).toLowerCase()); }
      getHeaders() { const o = Object.create(null); for (const [k, [, v]] of this._headers) o[k] = v; return o; }
      getHeaderNames() { return [...this._headers.keys()]; }
      getRawHeaderNames() { return [...this._headers.values()].map((e) => e[0]); }
      flushHeaders() {}
      setNoDelay() {}
      setSocketKeepAlive() {}
      setTimeout(ms, cb) {
        if (typeof cb === 'function') this.once('timeout', cb);
        ms = Number(ms) || 0;
        this._timeoutMs = ms;
        if (this._timer !== null) { clearTimer(this._timer); this._timer = null; }
        if (ms > 0 && !this.destroyed && !this.res) {
          this._timer = setTimer(() => {
            this._timer = null;
            if (!this.destroyed && !this.res) {
              this.emit('timeout');
              if (this.socket) this.socket.emit('timeout');
            }
          }, ms);
        }
        return this;
      }
      _clearTimer() { if (this._timer !== null) { clearTimer(this._timer); this._timer = null; } }
      _write(chunk, _enc, cb) {
        this._bodyBytes += chunk.length;
        if (this._bodyBytes > MAX_REQUEST_BODY) {
          cb(codeError(RangeError, 'ERR_REQUEST_TOO_LARGE', 'request body over ' + MAX_REQUEST_BODY + ' bytes'));
          return;
        }
        this._body.push(chunk);
        cb();
      }
      _final(cb) {
        this._send();
        cb();
      }
      _send() {
        this._sent = true;
        const host = /:/.test(this.host) ? '[' + this.host + ']' : this.host;
        const url = this.protocol + '//' + host + ':' + this._port + (this.path[0] === '/' ? '' : '/') + this.path;
        const headers = [];
        for (const [k, [name, value]] of this._headers) {
          if (HOP_BY_HOP.has(k)) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.push([name, String(v)]);
        }
        const body = this._body.length ? Buffer.concat(this._body).toString('base64') : null;
        this._body = [];
        hostCall('fetch', { url, method: this.method, headers, body, redirect: 'manual' }).then(
          (answer) => this._respond(answer),
          (e) => { if (!this.destroyed) this.destroy(nodeError(e, this)); },
        );
      }
      _respond(answer) {
        if (this.destroyed || this.aborted) return;
        this._clearTimer();
        const res = new IncomingMessage(this, answer);
        this.res = res;
        res.once('end', () => nextTick(() => { if (!this.destroyed) Writable.prototype.destroy.call(this); }));
        if (!this.emit('response', res)) res.resume();
      }
      // Node's order: 'abort', then (once connected) 'error' with 'socket hang up', then
      // 'close'; before the connection, 'close' then 'abort'.
      abort() {
        if (this.aborted) return;
        this.aborted = true;
        if (!this.socket || this.res) {
          this.destroy();
          nextTick(() => this.emit('abort'));
          return;
        }
        nextTick(() => {
          this.emit('abort');
          this.destroy(hangUp());
        });
      }
      _destroy(err, cb) {
        this._clearTimer();
        const res = this.res;
        if (res && !res.complete && !res.destroyed) {
          res.aborted = true;
          res.emit('aborted');
          res.destroy(err && !this.aborted ? err : undefined);
          cb(null);
          return;
        }
        // Destroyed before its response: Node's 'socket hang up' (none after `abort()`).
        if (!err && !res && !this.aborted) err = hangUp();
        if (this.socket && !this.socket.destroyed) { this.socket.destroyed = true; nextTick(() => this.socket.emit('close', !!err)); }
        cb(err || null);
      }
    }

    class OutgoingMessage extends Writable {}
    const notAvailable = (what) => () => { throw codeError(Error, 'ERR_NOT_AVAILABLE', what + ' is not available in the action sandbox: actions cannot accept connections'); };
    class Server extends EventEmitter { constructor() { super(); notAvailable('http.Server')(); } }
    class ServerResponse extends Writable { constructor() { super(); notAvailable('http.ServerResponse')(); } }

    const httpAgent = new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
    const HTTP_DEFAULTS = { protocol: 'http:', port: 80, agent: () => httpAgent };
    class HttpsAgent extends Agent {
      constructor(options) { super(options); this.defaultPort = 443; this.protocol = 'https:'; }
    }
    const httpsAgent = new HttpsAgent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 });
    const HTTPS_DEFAULTS = { protocol: 'https:', port: 443, agent: () => httpsAgent };
    const module = (defaults) => {
      const request = (input, options, cb) => new ClientRequest(input, options, cb, defaults);
      const get = (input, options, cb) => { const req = request(input, options, cb); req.end(); return req; };
      return { request, get };
    };
    const http = Object.assign(module(HTTP_DEFAULTS), {
      METHODS: METHODS.slice(), STATUS_CODES: Object.assign({}, STATUS_CODES), Agent, globalAgent: httpAgent, ClientRequest,
      IncomingMessage, OutgoingMessage, Server, ServerResponse, createServer: notAvailable('http.createServer'),
      validateHeaderName, validateHeaderValue: (name, value) => validateHeaderValue(name, value),
      setMaxIdleHTTPParsers() {}, maxHeaderSize: 16384,
    });
    const https = Object.assign(module(HTTPS_DEFAULTS), {
      Agent: HttpsAgent, globalAgent: httpsAgent, Server, createServer: notAvailable('https.createServer'),
    });
    return { http, https };
  }

  let modules = null;
  const modulesOf = (require) => modules || (modules = makeHttp(require));
  return {
    http: (require) => modulesOf(require).http,
    https: (require) => modulesOf(require).https,
  };
})
