// The part of the sandbox prelude that a hello-world handler does not need, evaluated in a
// run's context on first use (see the lazy globals of js/prelude.js): `console`, the timers,
// `queueMicrotask`, the promises of host operations, Node's error helpers, the Node core
// stand-ins and the loading of the scripts evaluated on first use (`host.loadScript`):
// Defender's client modules (js/clients.js), js/web.js, and Node's core modules
// (js/generated/node-builtins.js, js/node_http.js, js/node_zlib.js). The prelude calls this
// function once, with what it captured before any user code ran; user code never sees `host`.
(function support(shared) {
  'use strict';
  const { G, host, JSONparse, JSONstringify, intrinsics, builtinKind, api } = shared;
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

  // ---------- Node's errors (for js/node_crypto.js, js/node_http.js, js/node_zlib.js) ----------
  const codeError = (Ctor, code, message) => { const e = new Ctor(message); if (code) e.code = code; return e; };
  // What Node's ERR_INVALID_ARG_TYPE says of the value it received.
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
  // An integer's digits in groups of three, as Node writes a large one (`12_345_678_901`).
  function separated(s) {
    let out = '';
    let i = s.length;
    const start = s[0] === '-' ? 1 : 0;
    for (; i >= start + 4; i -= 3) out = '_' + s.slice(i - 3, i) + out;
    return s.slice(0, i) + out;
  }
  const outOfRange = (name, range, v) => codeError(RangeError, 'ERR_OUT_OF_RANGE', 'The value of "' + name + '" is out of range. It must be ' + range + '. Received ' + (Number.isInteger(v) && Math.abs(v) > 2 ** 32 ? separated(String(v)) : String(v)));
  const errors = { codeError, received, argType, outOfRange };

  // ---------- js/web.js ----------
  let webMod = null;
  function web() {
    if (webMod === null) {
      const typed = intrinsics(2);
      webMod = host.loadScript('web')({ G, host, hostCall, errors, unavailable, clearTimer, JSONparse,
        Uint8Array: typed.Uint8Array, ArrayBuffer: typed.ArrayBuffer, DataView: typed.DataView, loadBuiltin });
    }
    return webMod;
  }

  // ---------- built-in modules ----------
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
  // js/generated/node-builtins.js (Node's core modules from npm packages: buffer, events,
  // stream, util...), evaluated on the first require of one of them, with the sandbox's own
  // `process`, timers and URL classes.
  let nodeBuiltinsMod = null;
  function nodeBuiltins() {
    if (nodeBuiltinsMod === null) {
      const w = web();
      const t = supportGlobals;
      nodeBuiltinsMod = host.loadScript('node-builtins')({
        process: w.globals.process, URL: w.globals.URL, URLSearchParams: w.globals.URLSearchParams,
        TextEncoder: w.globals.TextEncoder, TextDecoder: w.globals.TextDecoder,
        setTimeout: t.setTimeout, clearTimeout: t.clearTimeout, setInterval: t.setInterval,
        clearInterval: t.clearInterval, setImmediate: t.setImmediate, clearImmediate: t.clearImmediate,
      });
    }
    return nodeBuiltinsMod;
  }
  // js/node_http.js (`http`, `https`) and js/node_zlib.js (`zlib`), each evaluated on the
  // first require of one of its modules.
  let nodeHttpMod = null;
  let nodeZlibMod = null;
  function nodeIo(name) {
    if (name === 'zlib') return nodeZlibMod || (nodeZlibMod = host.loadScript('node_zlib')({ host, errors }));
    return nodeHttpMod || (nodeHttpMod = host.loadScript('node_http')({ G, hostCall, errors }));
  }
  // What js/node_http.js and js/node_zlib.js require Node's core modules with.
  const builtinRequire = (name) => {
    const n = String(name).startsWith('node:') ? String(name).slice(5) : String(name);
    if (builtinKind(n) === 0) throw new Error("Cannot find module '" + name + "'");
    return loadBuiltin(n);
  };
  const builtinCache = Object.create(null);
  let builtins = null;
  function loadBuiltin(name) {
    if (name in builtinCache) return builtinCache[name];
    let exp;
    const kind = builtinKind(name);
    if (kind === 1) {
      const mod = { exports: {} };
      if (!builtins) builtins = host.loadScript('clients');
      builtins[name](mod, mod.exports, api);
      exp = mod.exports;
    } else if (kind === 2) {
      const core = web().nodeCore;
      exp = name in core ? core[name]() : nodeBuiltins()[name]();
    } else if (kind === 4) exp = nodeIo(name)[name](builtinRequire);
    else exp = unavailable(name);
    builtinCache[name] = exp;
    return exp;
  }

  const supportGlobals = {
    console,
    setTimeout: (fn, ms, ...args) => setTimer(fn, ms, args, false),
    setInterval: (fn, ms, ...args) => setTimer(fn, ms, args, true),
    setImmediate: (fn, ...args) => setTimer(fn, 0, args, false),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
    clearImmediate: clearTimer,
    queueMicrotask: (fn) => { Promise.resolve().then(() => fn()); },
  };
  return { globals: supportGlobals, hostCall, resolveOp, fire, web, loadBuiltin };
})
