// The sandbox prelude: installs the globals that actions and their libraries expect, the
// CommonJS `require`, and the event loop glue. It receives the host functions as `host` and
// keeps them in this closure: user code never sees them. The globals and Node core modules
// that a hello-world handler does not need live in js/web.js, evaluated on first use.
export default function install(host, loadBuiltins, loadWeb) {
  'use strict';
  const G = globalThis;
  // Intrinsics captured before user code can replace them.
  const JSONparse = JSON.parse;
  const JSONstringify = JSON.stringify;
  const promiseThen = Promise.prototype.then;
  const PromiseResolve = Promise.resolve.bind(Promise);
  const PromiseReject = Promise.reject.bind(Promise);
  const apply = Reflect.apply;
  const then = (p, ok, err) => apply(promiseThen, p, [ok, err]);
  const define = (obj, name, value) =>
    Object.defineProperty(obj, name, { value, writable: true, configurable: true, enumerable: false });

  // ---------- console ----------
  function inspect(v, depth) {
    depth = depth || 0;
    if (typeof v === 'string') return depth ? JSON.stringify(v) : v;
    if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v === 'bigint') return v.toString() + 'n';
    if (typeof v === 'symbol') return v.toString();
    if (typeof v === 'function') return '[Function: ' + (v.name || 'anonymous') + ']';
    if (v instanceof Error) return v.stack ? (String(v.name) + ': ' + v.message + '\n' + v.stack).trimEnd() : String(v);
    if (depth > 3) return Array.isArray(v) ? '[Array]' : '[Object]';
    try {
      if (Array.isArray(v)) return '[ ' + v.map((x) => inspect(x, depth + 1)).join(', ') + ' ]';
      if (v instanceof Uint8Array) return '<Buffer ' + Array.from(v.slice(0, 50), (b) => b.toString(16).padStart(2, '0')).join(' ') + '>';
      const keys = Object.keys(v);
      if (!keys.length) return '{}';
      return '{ ' + keys.map((k) => k + ': ' + inspect(v[k], depth + 1)).join(', ') + ' }';
    } catch (e) {
      return '[object]';
    }
  }
  function format(args) {
    let out = '';
    let i = 0;
    if (typeof args[0] === 'string' && args[0].includes('%')) {
      out = args[0].replace(/%[sdifjoO%]/g, (m) => {
        if (m === '%%') return '%';
        if (i + 1 >= args.length) return m;
        const a = args[++i];
        if (m === '%d' || m === '%i') return String(parseInt(a, 10));
        if (m === '%f') return String(parseFloat(a));
        if (m === '%j') { try { return JSON.stringify(a); } catch (e) { return '[Circular]'; } }
        return inspect(a, m === '%s' ? 0 : 1);
      });
      i++;
    } else if (args.length) {
      out = inspect(args[0]);
      i = 1;
    }
    for (; i < args.length; i++) out += ' ' + inspect(args[i]);
    return out;
  }
  const log = (level) => function (...args) { host.log(level, format(args)); };
  // Plain null-prototype records instead of Map: Map is a lazy intrinsic (see below).
  const timers = Object.create(null);
  const console = {
    log: log(1), info: log(1), warn: log(2), error: log(3), debug: log(0), trace: log(0),
    dir: (v) => host.log(1, inspect(v)),
    assert: (c, ...a) => { if (!c) host.log(3, 'Assertion failed' + (a.length ? ': ' + format(a) : '')); },
    time: (l) => { timers[l || 'default'] = host.now(); },
    timeEnd: (l) => { l = l || 'default'; const t = timers[l]; if (t !== undefined) { delete timers[l]; host.log(1, l + ': ' + Math.round(host.now() - t) + 'ms'); } },
  };
  define(G, 'console', console);

  // ---------- timers ----------
  const callbacks = Object.create(null);
  function setTimer(fn, ms, args, repeat) {
    if (typeof fn !== 'function') throw new TypeError('callback must be a function');
    ms = Math.max(0, Number(ms) || 0);
    const id = host.setTimer(ms);
    callbacks[id] = { fn, args, repeat: repeat ? ms : -1 };
    return id;
  }
  function clearTimer(id) {
    if (id && typeof id === 'object' && typeof id[Symbol.toPrimitive] === 'function') id = id[Symbol.toPrimitive]();
    if (typeof id === 'number' && id in callbacks) { delete callbacks[id]; host.clearTimer(id); }
  }
  define(G, 'setTimeout', (fn, ms, ...args) => setTimer(fn, ms, args, false));
  define(G, 'setInterval', (fn, ms, ...args) => setTimer(fn, ms, args, true));
  define(G, 'setImmediate', (fn, ...args) => setTimer(fn, 0, args, false));
  define(G, 'clearTimeout', clearTimer);
  define(G, 'clearInterval', clearTimer);
  define(G, 'clearImmediate', clearTimer);
  define(G, 'queueMicrotask', (fn) => { Promise.resolve().then(() => fn()); });
  function fireTimer(id) {
    const cb = callbacks[id];
    if (!cb) return;
    if (cb.repeat >= 0) {
      const next = host.setTimer(cb.repeat);
      // intervals keep the id the user holds: remap
      aliases[next] = id;
    } else {
      delete callbacks[id];
    }
    cb.fn(...(cb.args || []));
  }
  const aliases = Object.create(null);
  function fire(hostId) {
    const id = hostId in aliases ? aliases[hostId] : hostId;
    delete aliases[hostId];
    fireTimer(id);
  }

  // ---------- host operations (promises) ----------
  const pending = Object.create(null);
  function hostCall(op, arg) {
    return new Promise((resolve, reject) => {
      const id = host.op(op, JSONstringify(arg === undefined ? null : arg));
      pending[id] = { resolve, reject };
    });
  }
  function resolveOp(id, ok, payload) {
    const p = pending[id];
    if (!p) return;
    delete pending[id];
    const v = payload === undefined || payload === '' ? undefined : JSONparse(payload);
    if (ok) p.resolve(v === null ? undefined : v);
    else {
      const e = new Error(v && v.message ? v.message : 'host operation failed');
      if (v && v.code) e.code = v.code;
      if (v && v.data !== undefined) e.data = v.data;
      p.reject(e);
    }
  }

  // ---------- lazily installed globals ----------
  // Each is an accessor until first use, as if it had been defined eagerly: the first read
  // creates it and turns it (and its siblings that are still untouched) into a plain data
  // property; assigning one first just replaces it. Two kinds: the intrinsics that a context
  // starts without (the sandbox adds each group on first use, see `EagerIntrinsics` in
  // src/sandbox.rs), and the web globals of js/web.js.
  const LAZY_NAMES = [
    'Date',
    'Map', 'Set', 'WeakMap', 'WeakSet',
    'ArrayBuffer', 'SharedArrayBuffer', 'Uint8ClampedArray', 'Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array',
    'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'Float16Array', 'Float32Array', 'Float64Array',
    'DataView', 'Atomics',
    'Proxy',
    'WeakRef', 'FinalizationRegistry',
    'performance',
    'DOMException',
    'TextEncoder', 'TextDecoder', 'btoa', 'atob', 'Buffer', 'crypto', 'URL', 'URLSearchParams', 'Headers', 'Request',
    'Response', 'fetch', 'process',
  ];
  // Where each group starts in LAZY_NAMES: the intrinsic groups, numbered as in
  // `add_lazy_intrinsic` (src/sandbox.rs), then the web globals; the last entry is the end.
  const GROUP_START = [0, 1, 5, 21, 22, 24, 25, 26, 39];
  const WEB = 7;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const deleteProperty = Reflect.deleteProperty;
  const reflectDefine = Reflect.defineProperty;
  // Whether LAZY_NAMES[i] is still the accessor defined below.
  function untouched(i) {
    const d = getOwnPropertyDescriptor(G, LAZY_NAMES[i]);
    return d !== undefined && d.get === lazyGetters[i];
  }
  // The original values of a lazy intrinsic group, by name; added to the context on first use.
  const intrinsicValues = [];
  function intrinsics(group) {
    let values = intrinsicValues[group];
    if (values === undefined) {
      values = intrinsicValues[group] = Object.create(null);
      const from = GROUP_START[group];
      const to = GROUP_START[group + 1];
      // The engine defines the whole group on the global object, afresh: remove the names
      // first, and put back afterwards what the script made of those it replaced or deleted.
      const kept = [];
      for (let i = from; i < to; i++) {
        const d = getOwnPropertyDescriptor(G, LAZY_NAMES[i]);
        if (d === undefined || d.get !== lazyGetters[i]) kept.push(LAZY_NAMES[i], d);
        deleteProperty(G, LAZY_NAMES[i]);
      }
      host.intrinsic(group);
      for (let i = from; i < to; i++) {
        const d = getOwnPropertyDescriptor(G, LAZY_NAMES[i]);
        values[LAZY_NAMES[i]] = d && d.get === undefined ? d.value : undefined;
      }
      for (let i = 0; i < kept.length; i += 2) {
        if (kept[i + 1]) reflectDefine(G, kept[i], kept[i + 1]);
        else deleteProperty(G, kept[i]);
      }
    }
    return values;
  }
  let webMod = null;
  function web() {
    if (webMod === null) {
      webMod = loadWeb()({ G, host, hostCall, inspect, format, unavailable, clearTimer, JSONparse, JSONstringify,
        Uint8Array: intrinsics(2).Uint8Array });
      for (let i = GROUP_START[WEB]; i < GROUP_START[WEB + 1]; i++) {
        if (untouched(i)) {
          defineProperty(G, LAZY_NAMES[i], { value: webMod.globals[LAZY_NAMES[i]], writable: true, configurable: true, enumerable: false });
        }
      }
    }
    return webMod;
  }
  // The accessors' getter (`resolveLazy(i)`) and setter (`resolveLazy(i, this, value)`).
  function resolveLazy(i, target, value) {
    const name = LAZY_NAMES[i];
    if (arguments.length > 1) {
      const t = target === undefined || target === null ? G : target;
      defineProperty(t, name, { value, writable: true, configurable: true, enumerable: t !== G });
      return undefined;
    }
    let group = 0;
    while (GROUP_START[group + 1] <= i) group++;
    return group === WEB ? web().globals[name] : intrinsics(group)[name];
  }
  const lazyGetters = host.defineLazy(LAZY_NAMES, resolveLazy);
  define(G, 'global', G);
  define(G, 'self', G);

  // ---------- node core module stand-ins ----------
  const unavailable = (name) => new Proxy(function () {}, {
    get(_t, p) {
      if (p === '__esModule') return false;
      if (p === 'default') return unavailable(name);
      if (typeof p === 'symbol') return undefined;
      const f = function () { throw new Error("'" + name + "." + String(p) + "' is not available in the action sandbox"); };
      return f;
    },
    apply() { throw new Error("'" + name + "' is not available in the action sandbox"); },
    construct() { throw new Error("'" + name + "' is not available in the action sandbox"); },
  });
  const NODE_CORE = ['events', 'buffer', 'url', 'util', 'path', 'string_decoder', 'crypto', 'process', 'timers'];
  const UNAVAILABLE_CORE = ['fs', 'fs/promises', 'child_process', 'net', 'tls', 'http', 'https', 'http2', 'zlib', 'os', 'vm',
    'worker_threads', 'dgram', 'dns', 'cluster', 'module', 'readline', 'repl', 'inspector', 'v8', 'perf_hooks', 'async_hooks',
    'stream', 'assert', 'querystring', 'tty', 'constants', 'punycode'];

  // ---------- CommonJS require ----------
  const cache = Object.create(null);
  const builtinCache = Object.create(null);
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
  // Defender's client modules (js/clients.js), loaded on first use.
  const BUILTIN_NAMES = ['@openzeppelin/defender-sdk', 'defender-relay-client', 'defender-relay-client/lib/ethers',
    'defender-relay-client/lib/web3', 'defender-kvstore-client', '@openzeppelin/defender-relay-client',
    '@openzeppelin/defender-relay-client/lib/ethers', '@openzeppelin/defender-relay-client/lib/web3',
    '@openzeppelin/defender-kvstore-client'];
  let builtins = null;
  function loadBuiltin(name) {
    if (name in builtinCache) return builtinCache[name];
    let exp;
    if (BUILTIN_NAMES.includes(name)) {
      const mod = { exports: {} };
      if (!builtins) builtins = loadBuiltins();
      builtins[name](mod, mod.exports, api);
      exp = mod.exports;
    } else if (NODE_CORE.includes(name)) exp = web().nodeCore[name]();
    else exp = unavailable(name);
    builtinCache[name] = exp;
    return exp;
  }
  function isBuiltin(name) {
    const n = name.startsWith('node:') ? name.slice(5) : name;
    if (BUILTIN_NAMES.includes(n)) return n;
    if (NODE_CORE.includes(n) || UNAVAILABLE_CORE.includes(n)) return n;
    if (name.startsWith('node:')) return n;
    return null;
  }
  function loadFrom(parent, name) {
    const b = isBuiltin(name);
    if (b !== null) return loadBuiltin(b);
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
  function errorPayload(e) {
    if (e instanceof Error || (e && typeof e === 'object' && 'message' in e)) {
      return { message: String(e.message), stack: e.stack ? String(e.name || 'Error') + ': ' + String(e.message) + '\n' + String(e.stack) : undefined, code: typeof e.code === 'string' ? e.code : undefined, name: e.name ? String(e.name) : undefined };
    }
    let m;
    try { m = typeof e === 'string' ? e : JSONstringify(e); } catch (x) { m = String(e); }
    return { message: String(m) };
  }
  function serialize(v) {
    if (v === undefined) return 'null';
    const s = JSONstringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    return s === undefined ? 'null' : s;
  }
  function start(entry, eventJson) {
    const event = JSONparse(eventJson);
    const notificationClient = {
      send: (o) => hostCall('notify.send', { channelAlias: o && o.channelAlias, subject: o && o.subject, message: o && o.message }),
      sendMetric: (o) => hostCall('notify.sendMetric', { channelAlias: o && o.channelAlias, name: o && o.name, value: o && o.value, tags: o && o.tags }),
    };
    const context = { notificationClient };
    let p;
    try {
      mainModule = { id: '.', filename: entry, path: dirname(entry), exports: {}, loaded: false, parent: null, children: [] };
      const exp = loadFile(entry, null);
      let handler = exp && exp.handler;
      if (typeof handler !== 'function' && exp && exp.default) handler = typeof exp.default === 'function' && !exp.default.handler ? null : exp.default.handler;
      if (typeof handler !== 'function') { host.finish(2, JSONstringify({ message: 'the action does not export a `handler` function' })); return; }
      p = PromiseResolve(apply(handler, exp, [event, context]));
    } catch (e) {
      if (e instanceof SyntaxError && !mainModule.loaded && !Object.keys(cache).length) { host.finish(2, JSONstringify(errorPayload(e))); return; }
      p = PromiseReject(e);
    }
    then(p, (v) => {
      let s;
      try { s = serialize(v); } catch (e) { host.finish(0, JSONstringify(errorPayload(e))); return; }
      host.finish(1, s);
    }, (e) => host.finish(0, JSONstringify(errorPayload(e))));
  }
  const api = {
    hostCall, requireFrom, resolveOp, fire, start,
    get Buffer() { return web().Buffer; },
    get EventEmitter() { return web().EventEmitter; },
  };
  return api;
}
