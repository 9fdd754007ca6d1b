// The sandbox prelude: what every run needs before the action's code runs. It installs the
// lazily created globals, the CommonJS `require` and the run's entry point, and receives the
// host functions as `host`, kept in this closure: user code never sees them. Everything a
// hello-world handler does not need is evaluated on first use: `console`, the timers and
// host operations (js/support.js), the web globals (js/web.js), Defender's client modules
// (js/clients.js) and half of the engine's own intrinsics.
(function install(host, loadBuiltins, loadWeb, loadSupport) {
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
  // The groups are numbered as in LAZY_GLOBALS (src/sandbox.rs): 0 to 6 are the engine's
  // intrinsics without which a context starts, then these.
  const SUPPORT = 7;
  const WEB = 8;
  const SELF = 9;
  // The original values of lazy intrinsic group `group`, by name, added to the context on
  // first use without touching the global object (where the script may have replaced them).
  const intrinsicValues = [];
  function intrinsics(group) {
    let values = intrinsicValues[group];
    if (values === undefined) {
      values = intrinsicValues[group] = host.intrinsicGroups ? host.intrinsicGroups[group] : host.intrinsic(group);
    }
    return values;
  }
  let supportMod = null;
  function support() {
    if (supportMod === null) {
      supportMod = loadSupport()({ G, host, JSONparse, JSONstringify, loadBuiltins, loadWeb, intrinsics,
        builtinKind, api });
    }
    return supportMod;
  }
  // The value of global `name` of group `group`, when the engine creates it.
  function resolveLazy(group, name) {
    if (group === SELF) return G;
    if (group === SUPPORT) return support().globals[name];
    if (group === WEB) return support().web().globals[name];
    return intrinsics(group)[name];
  }
  // ---------- CommonJS require ----------
  // Built-in module names, `|`-separated: Defender's clients (kind 1), the Node core modules
  // with a stand-in (2) and those that are not available (3).
  const BUILTIN_NAMES = '|@openzeppelin/defender-sdk|defender-relay-client|defender-relay-client/lib/relayer\
|@openzeppelin/defender-relay-client/lib/relayer|defender-relay-client/lib/ethers\
|defender-relay-client/lib/web3|defender-kvstore-client|@openzeppelin/defender-relay-client\
|@openzeppelin/defender-relay-client/lib/ethers|@openzeppelin/defender-relay-client/lib/web3\
|@openzeppelin/defender-kvstore-client|';
  const NODE_CORE = '|events|buffer|url|util|path|string_decoder|crypto|process|timers|';
  const UNAVAILABLE_CORE = '|fs|fs/promises|child_process|net|tls|http|https|http2|zlib|os|vm|worker_threads|dgram\
|dns|cluster|module|readline|repl|inspector|v8|perf_hooks|async_hooks|stream|assert|querystring|tty|constants\
|punycode|';
  const listed = (list, n) => apply(strIncludes, list, ['|' + n + '|']);
  function builtinKind(n) {
    if (apply(strIncludes, n, ['|'])) return 0;
    return listed(BUILTIN_NAMES, n) ? 1 : listed(NODE_CORE, n) ? 2 : listed(UNAVAILABLE_CORE, n) ? 3 : 0;
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
  function loadFile(filename, parent) {
    const cached = cache[filename];
    if (cached) return cached.exports;
    const module = { id: filename, filename, path: dirname(filename), exports: {}, loaded: false, parent, children: [] };
    module.require = makeRequire(module);
    if (parent && parent.children) parent.children.push(module);
    cache[filename] = module;
    try {
      const loaded = host.load(filename);
      if (loaded.kind === 'json') module.exports = JSONparse(loaded.text);
      else if (loaded.kind === 'esm') module.exports = loaded.ns;
      else apply(loaded.fn, module.exports, [module.exports, module.require, module, filename, module.path]);
    } catch (e) {
      delete cache[filename];
      throw e;
    }
    module.loaded = true;
    return module.exports;
  }
  // Loads `name` as seen from the file `from` (used by the ethers adapters to find the user's ethers).
  function requireFrom(from, name) { return loadFrom({ filename: from, children: null }, name); }

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
    requireFrom, start, resolveLazy,
    hostCall: (op, arg) => support().hostCall(op, arg),
    resolveOp: (id, ok, payload) => support().resolveOp(id, ok, payload),
    fire: (id) => support().fire(id),
    get Buffer() { return support().web().Buffer; },
    get EventEmitter() { return support().web().EventEmitter; },
  };
  return api;
})
