// The part of the sandbox prelude that a hello-world handler does not need, evaluated in a
// run's context on first use (see the lazy globals of js/prelude.js): `console`, the timers,
// `queueMicrotask`, the promises of host operations, the Node core stand-ins and the loading
// of Defender's client modules and of js/web.js. The prelude calls this function once,
// with what it captured before any user code ran; user code never sees `host`.
(function support(shared) {
  'use strict';
  const { G, host, JSONparse, JSONstringify, loadBuiltins, loadWeb, intrinsics, builtinKind, api } = shared;
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

  // ---------- js/web.js ----------
  let webMod = null;
  function web() {
    if (webMod === null) {
      const typed = intrinsics(2);
      webMod = loadWeb()({ G, host, hostCall, inspect, format, unavailable, clearTimer, JSONparse, JSONstringify,
        Uint8Array: typed.Uint8Array, ArrayBuffer: typed.ArrayBuffer, DataView: typed.DataView });
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
  const builtinCache = Object.create(null);
  let builtins = null;
  function loadBuiltin(name) {
    if (name in builtinCache) return builtinCache[name];
    let exp;
    const kind = builtinKind(name);
    if (kind === 1) {
      const mod = { exports: {} };
      if (!builtins) builtins = loadBuiltins();
      builtins[name](mod, mod.exports, api);
      exp = mod.exports;
    } else if (kind === 2) exp = web().nodeCore[name]();
    else exp = unavailable(name);
    builtinCache[name] = exp;
    return exp;
  }

  return {
    globals: {
      console,
      setTimeout: (fn, ms, ...args) => setTimer(fn, ms, args, false),
      setInterval: (fn, ms, ...args) => setTimer(fn, ms, args, true),
      setImmediate: (fn, ...args) => setTimer(fn, 0, args, false),
      clearTimeout: clearTimer,
      clearInterval: clearTimer,
      clearImmediate: clearTimer,
      queueMicrotask: (fn) => { Promise.resolve().then(() => fn()); },
    },
    hostCall, resolveOp, fire, web, loadBuiltin,
  };
})
