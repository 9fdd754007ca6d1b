// The sandbox prelude: what every run needs before the action's code runs. It installs the
// lazily created globals, the CommonJS `require` and the run's entry point, and receives the
// host functions as `host`, kept in this closure: user code never sees them. Everything a
// hello-world handler does not need is evaluated on first use, each script by
// `host.loadScript(name)` (src/sandbox/bindings.rs): `console`, the timers and host
// operations (js/support.js), the web globals (js/web.js, js/fetch.js, js/node_crypto.js),
// Defender's client modules (js/clients.js), Node's core modules (js/generated/node-builtins.js,
// js/node_http.js, js/node_zlib.js), `Intl` (js/intl.js) and half of the engine's own
// intrinsics.
(function install(host) {
  'use strict';
  const G = globalThis;
  // Intrinsics captured before user code can replace them.
  const JSONparse = JSON.parse;
  const JSONstringify = JSON.stringify;
  const OriginalPromise = Promise;
  const promiseThen = Promise.prototype.then;
  const promiseResolve = Promise.resolve;
  const promiseReject = Promise.reject;
  const apply = Reflect.apply;
  const PromiseResolve = (v) => apply(promiseResolve, OriginalPromise, [v]);
  const PromiseReject = (e) => apply(promiseReject, OriginalPromise, [e]);
  const then = (p, ok, err) => apply(promiseThen, p, [ok, err]);
  const strIncludes = String.prototype.includes;

  // ---------- lazily created globals ----------
  // The engine creates each of these on first use, with `resolveLazy`; from then on it is a
  // plain data property, as if it had been defined eagerly. Until then it costs no object.
  // The groups are numbered as in LAZY_GLOBALS (src/sandbox/lazy.rs): 0 to 6 are the engine's
  // intrinsics without which a context starts, then these.
  const SUPPORT = 7;
  const WEB = 8;
  const SELF = 9;
  const INTL = 10;
  // The original values of lazy intrinsic group `group`, by name, added to the context on
  // first use without touching the global object (where the script may have replaced them).
  const intrinsicValues = [];
  function intrinsics(group) {
    let values = intrinsicValues[group];
    if (values === undefined) {
      values = intrinsicValues[group] = host.intrinsicGroups ? host.intrinsicGroups[group] : host.intrinsic(group);
      if (group === 0) localeDateMethods(values.Date);
    }
    return values;
  }
  let supportMod = null;
  function support() {
    if (supportMod === null) {
      supportMod = host.loadScript('support')({ G, host, JSONparse, JSONstringify, intrinsics, builtinKind, api });
    }
    return supportMod;
  }
  // The value of global `name` of group `group`, when the engine creates it.
  // Without the patched engine (src/sandbox/lazy.rs), each lazy global is an accessor that
  // turns itself into a data property on first use (or assignment), so a context still pays
  // only for the globals its script touches.
  // (Node defines `Buffer`, `process`, `TextDecoder`... as accessors too.) Once the script
  // froze the global object the accessor can no longer be replaced: it keeps the value.
  const defineProperty = Object.defineProperty;
  const tryDefine = Reflect.defineProperty;
  function defineLazy(group, name) {
    let resolved = false;
    let value;
    const settle = (v) => {
      resolved = true;
      value = v;
      tryDefine(G, name, { value: v, writable: true, configurable: true, enumerable: false });
    };
    defineProperty(G, name, {
      configurable: true,
      enumerable: false,
      get() {
        if (!resolved) settle(resolveLazy(group, name));
        return value;
      },
      set(v) {
        // As a frozen data property would, a frozen global ignores the assignment.
        if (tryDefine(G, name, { value: v, writable: true, configurable: true, enumerable: false })) {
          resolved = true;
          value = v;
        }
      },
    });
  }
  function resolveLazy(group, name) {
    if (group === SELF) return G;
    if (group === INTL) return intl().Intl;
    if (group === SUPPORT) return support().globals[name];
    if (group === WEB) return support().web().globals[name];
    return intrinsics(group)[name];
  }
  // ---------- Intl and the locale-aware methods (js/intl.js, evaluated on first use) ----------
  let intlMod = null;
  function intl() {
    if (intlMod === null) intlMod = host.loadScript('intl')({ host, intrinsics });
    return intlMod;
  }
  // Ordinary methods (as Node's, not constructors) that call into js/intl.js.
  const defineMethod = (proto, f) => Object.defineProperty(proto, f.name, { value: f, writable: true, configurable: true });
  defineMethod(Number.prototype, { toLocaleString() { return intl().locale.number(this, arguments[0], arguments[1]); } }.toLocaleString);
  defineMethod(BigInt.prototype, { toLocaleString() { return intl().locale.bigint(this, arguments[0], arguments[1]); } }.toLocaleString);
  defineMethod(String.prototype, { localeCompare(that) { return intl().locale.compare(this, that, arguments[1], arguments[2]); } }.localeCompare);
  function localeDateMethods(D) {
    const getTime = D.prototype.getTime;
    const m = {
      toLocaleString() { return intl().locale.date(this, getTime, arguments[0], arguments[1], 'any'); },
      toLocaleDateString() { return intl().locale.date(this, getTime, arguments[0], arguments[1], 'date'); },
      toLocaleTimeString() { return intl().locale.date(this, getTime, arguments[0], arguments[1], 'time'); },
    };
    defineMethod(D.prototype, m.toLocaleString);
    defineMethod(D.prototype, m.toLocaleDateString);
    defineMethod(D.prototype, m.toLocaleTimeString);
  }
  // Without the patches, Date is there from the start: its methods are replaced now.
  if (host.intrinsicGroups) intrinsics(0);
  // ---------- CommonJS require ----------
  // Built-in module names, `|`-separated: Defender's clients (kind 1), the Node core modules
  // the sandbox has (2), those that are not available (3) and those of js/node_http.js and
  // js/node_zlib.js (4).
  const BUILTIN_NAMES = '|@openzeppelin/defender-sdk|defender-relay-client|defender-relay-client/lib/relayer\
|@openzeppelin/defender-relay-client/lib/relayer|defender-relay-client/lib/ethers\
|defender-relay-client/lib/web3|defender-kvstore-client|@openzeppelin/defender-relay-client\
|@openzeppelin/defender-relay-client/lib/ethers|@openzeppelin/defender-relay-client/lib/web3\
|@openzeppelin/defender-kvstore-client|defender-autotask-client|@openzeppelin/defender-autotask-client\
|defender-sentinel-client|@openzeppelin/defender-sentinel-client|defender-admin-client\
|@openzeppelin/defender-admin-client|@openzeppelin/defender-sdk-action-client\
|@openzeppelin/defender-sdk-monitor-client|@openzeppelin/defender-sdk-notification-channel-client|module|';
  const NODE_CORE = '|events|buffer|url|util|util/types|path|path/posix|path/win32|string_decoder|crypto|process|timers\
|timers/promises|stream|stream/promises|assert|assert/strict|querystring|os|punycode|tty|constants|';
  const NODE_IO = '|http|https|zlib|';
  const UNAVAILABLE_CORE = '|fs|fs/promises|child_process|net|tls|http2|vm|worker_threads|dgram\
|dns|cluster|readline|repl|inspector|v8|perf_hooks|async_hooks|';
  const listed = (list, n) => apply(strIncludes, list, ['|' + n + '|']);
  function builtinKind(n) {
    if (apply(strIncludes, n, ['|'])) return 0;
    return listed(BUILTIN_NAMES, n) ? 1 : listed(NODE_CORE, n) ? 2 : listed(UNAVAILABLE_CORE, n) ? 3
      : listed(NODE_IO, n) ? 4 : 0;
  }
  function isBuiltin(name) {
    const node = name.startsWith('node:');
    const n = node ? name.slice(5) : name;
    return node || builtinKind(n) !== 0 ? n : null;
  }
  const cache = Object.create(null);
  function dirname(p) { const i = p.lastIndexOf('/'); return i <= 0 ? '/' : p.slice(0, i); }
  function makeRequire(parent) {
    const req = function require(name) {
      if (typeof name !== 'string') throw new TypeError('The "id" argument must be of type string');
      return loadFrom(parent, name);
    };
    req.resolve = (name) => host.resolve(parent.filename, name);
    req.cache = {};
    req.main = mainModule;
    return req;
  }
  let mainModule;
  function loadFrom(parent, name) {
    const b = isBuiltin(name);
    if (b !== null) return support().loadBuiltin(b);
    const filename = host.resolve(parent.filename, name);
    return loadFile(filename, parent);
  }
  // `original`: the file itself, where a shim replaces it (src/substitute/): the shim loads
  // it, as a second module of the same path, for what it does not compute on the host.
  function loadFile(filename, parent, original) {
    const key = original === true ? filename + '\0original' : filename;
    const cached = cache[key];
    if (cached) return cached.exports;
    const module = { id: filename, filename, path: dirname(filename), exports: {}, loaded: false, parent, children: [] };
    module.require = makeRequire(module);
    if (parent && parent.children) parent.children.push(module);
    cache[key] = module;
    try {
      const loaded = host.load(filename, esmHooks, original === true);
      if (loaded.kind === 'json') module.exports = JSONparse(loaded.text);
      else if (loaded.kind === 'esm') module.exports = loaded.ns;
      else if (loaded.kind === 'shim') apply(loaded.fn, undefined, [module, module.require, () => loadFile(filename, module, true), host]);
      else apply(loaded.fn, module.exports, [module.exports, module.require, module, filename, module.path]);
    } catch (e) {
      delete cache[key];
      throw e;
    }
    module.loaded = true;
    return module.exports;
  }
  // Loads `name` as seen from the file `from` (used by the ethers adapters to find the user's ethers).
  function requireFrom(from, name) { return loadFrom({ filename: from, children: null }, name); }
  // What the `import`s of an ES module need (src/sandbox/modules.rs): loading CommonJS and
  // built-in modules through this `require`, and telling built-in names apart.
  const esmHooks = { requireFrom, builtin: isBuiltin };
  // Node's `module.createRequire(filename)`: a path or a `file:` URL (string or URL object).
  function createRequire(from) {
    let f = from !== null && typeof from === 'object' && typeof from.href === 'string' ? from.href : from;
    if (typeof f === 'string' && f.startsWith('file://')) f = decodeURIComponent(f.slice(7));
    if (typeof f !== 'string' || !f.startsWith('/')) {
      const e = new TypeError('The argument \'filename\' must be a file URL object, file URL string, or absolute path string. Received ' + String(from));
      e.code = 'ERR_INVALID_ARG_VALUE';
      throw e;
    }
    return makeRequire({ filename: f, children: null });
  }
  // Node's `module.isBuiltin`: Node's core modules (Defender's clients are packages there).
  function isNodeBuiltin(name) {
    const n = name.startsWith('node:') ? name.slice(5) : name;
    const kind = builtinKind(n);
    return n === 'module' || kind === 2 || kind === 3;
  }

  // ---------- the run ----------
  // Reads one property of a thrown value; `undefined` when reading it throws (a getter the
  // script installed) or it is not there.
  function field(e, k) {
    try {
      const v = e[k];
      return v === undefined || v === null ? undefined : String(v);
    } catch (x) {
      return undefined;
    }
  }
  // What the host is told of a thrown value. It never throws: whatever the script made of
  // its error (throwing getters, proxies, a toString that throws), the run ends with it.
  function errorPayload(e) {
    try {
      if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
        const message = field(e, 'message');
        const name = field(e, 'name');
        const stack = field(e, 'stack');
        let code;
        try { code = typeof e.code === 'string' ? e.code : undefined; } catch (x) { code = undefined; }
        let isError = false;
        try { isError = e instanceof Error; } catch (x) { isError = false; }
        if (isError || message !== undefined) {
          const m = message === undefined ? '' : message;
          return { message: m, stack: stack ? (name || 'Error') + ': ' + m + '\n' + stack : undefined, code, name };
        }
      }
      let m;
      try { m = typeof e === 'string' ? e : JSONstringify(e); } catch (x) { m = undefined; }
      if (typeof m !== 'string') { try { m = String(e); } catch (x) { m = 'a value that cannot be read was thrown'; } }
      return { message: m };
    } catch (x) {
      return { message: 'a value that cannot be read was thrown' };
    }
  }
  const report = (f, payload) => { try { f(JSONstringify(payload)); } catch (x) { f('{"message":"the error could not be reported"}'); } };
  function serialize(v) {
    if (v === undefined) return 'null';
    const s = JSONstringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    return s === undefined ? 'null' : s;
  }
  function start(entry, eventJson) {
    const event = JSONparse(eventJson);
    const notificationClient = {
      send: (o) => api.hostCall('notify.send', { channelAlias: o && o.channelAlias, subject: o && o.subject, message: o && o.message }),
      sendMetric: (o) => api.hostCall('notify.sendMetric', { channelAlias: o && o.channelAlias, name: o && o.name, value: o && o.value, tags: o && o.tags }),
    };
    const context = { notificationClient };
    let p;
    try {
      mainModule = { id: '.', filename: entry, path: dirname(entry), exports: {}, loaded: false, parent: null, children: [] };
      const exp = loadFile(entry, null);
      let handler = exp && exp.handler;
      if (typeof handler !== 'function' && exp && exp.default) handler = typeof exp.default === 'function' && !exp.default.handler ? null : exp.default.handler;
      if (typeof handler !== 'function') { report(host.invalid, { message: 'the action does not export a `handler` function' }); return; }
      p = PromiseResolve(apply(handler, exp, [event, context]));
    } catch (e) {
      if (e instanceof SyntaxError && !mainModule.loaded && !Object.keys(cache).length) { report(host.invalid, errorPayload(e)); return; }
      p = PromiseReject(e);
    }
    then(p, (v) => {
      let s;
      try { s = serialize(v); } catch (e) { report(host.unserializable, errorPayload(e)); return; }
      host.returned(s);
    }, (e) => report(host.threw, errorPayload(e)));
  }
  const api = {
    requireFrom, createRequire, isBuiltin: isNodeBuiltin, start, resolveLazy, defineLazy,
    hostCall: (op, arg) => support().hostCall(op, arg),
    resolveOp: (id, ok, payload) => support().resolveOp(id, ok, payload),
    fire: (id) => support().fire(id),
    get Buffer() { return support().loadBuiltin('buffer').Buffer; },
    get EventEmitter() { return support().loadBuiltin('events'); },
  };
  return api;
})
