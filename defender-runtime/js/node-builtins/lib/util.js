'use strict';
// Node's `util`: the `util` package (0.12) for what it does as Node does (inherits, deprecate,
// debuglog, callbackify, types, the old is* helpers), Node's own `inspect`/`format` code
// (node-inspect-extracted), and `promisify`, `isDeepStrictEqual` and the text codecs as
// Node 20 has them.
const base = require('util/util.js');
const extracted = require('node-inspect-extracted');
const { ERR_INVALID_ARG_TYPE, validateFunction } = require('./errors.js');
const sandbox = require('./sandbox.js');

const kCustomPromisifiedSymbol = Symbol.for('nodejs.util.promisify.custom');
const kCustomPromisifyArgsSymbol = Symbol('customPromisifyArgs');

function promisify(original) {
  validateFunction(original, 'original');
  const known = sandbox.promisified(original);
  if (known) return known;
  if (original[kCustomPromisifiedSymbol]) {
    const fn = original[kCustomPromisifiedSymbol];
    validateFunction(fn, 'util.promisify.custom');
    return Object.defineProperty(fn, kCustomPromisifiedSymbol, { value: fn, enumerable: false, writable: false, configurable: true });
  }
  const argumentNames = original[kCustomPromisifyArgsSymbol];
  function fn(...args) {
    return new Promise((resolve, reject) => {
      args.push((err, ...values) => {
        if (err) return reject(err);
        if (argumentNames !== undefined && values.length > 1) {
          const obj = {};
          for (let i = 0; i < argumentNames.length; i++) obj[argumentNames[i]] = values[i];
          resolve(obj);
        } else {
          resolve(values[0]);
        }
      });
      Reflect.apply(original, this, args);
    });
  }
  Object.setPrototypeOf(fn, Object.getPrototypeOf(original));
  Object.defineProperty(fn, kCustomPromisifiedSymbol, { value: fn, enumerable: false, writable: false, configurable: true });
  const descriptors = Object.getOwnPropertyDescriptors(original);
  for (const d of Object.values(descriptors)) Object.setPrototypeOf(d, null);
  return Object.defineProperties(fn, descriptors);
}
promisify.custom = kCustomPromisifiedSymbol;

function callbackify(original) {
  validateFunction(original, 'original');
  function callbackified(...args) {
    const maybeCb = args.pop();
    validateFunction(maybeCb, 'last argument');
    const cb = maybeCb.bind(this);
    Reflect.apply(original, this, args).then(
      (ret) => process.nextTick(cb, null, ret),
      (rej) => {
        if (!rej) {
          const e = new Error('Promise was rejected with falsy value');
          e.code = 'ERR_FALSY_VALUE_REJECTION';
          e.reason = rej;
          rej = e;
        }
        process.nextTick(cb, rej);
      });
  }
  const descriptors = Object.getOwnPropertyDescriptors(original);
  if (typeof descriptors.length.value === 'number') descriptors.length.value++;
  if (typeof descriptors.name.value === 'string') descriptors.name.value += 'Callbackified';
  Object.defineProperties(callbackified, descriptors);
  return callbackified;
}

// Node warns once per code; the sandbox logs the warning as Node writes it to stderr.
const warned = new Set();
function deprecate(fn, msg, code) {
  validateFunction(fn, 'fn');
  if (process.noDeprecation === true) return fn;
  let warnedHere = false;
  function deprecated(...args) {
    if (!warnedHere && !(code !== undefined && warned.has(code))) {
      warnedHere = true;
      if (code !== undefined) warned.add(code);
      process.emitWarning(msg, 'DeprecationWarning', code);
    }
    return new.target ? Reflect.construct(fn, args, new.target) : Reflect.apply(fn, this, args);
  }
  Object.setPrototypeOf(deprecated, fn);
  if (fn.prototype) deprecated.prototype = fn.prototype;
  return deprecated;
}

function inherits(ctor, superCtor) {
  if (ctor === undefined || ctor === null) throw ERR_INVALID_ARG_TYPE('ctor', 'function', ctor);
  if (superCtor === undefined || superCtor === null) throw ERR_INVALID_ARG_TYPE('superCtor', 'function', superCtor);
  if (superCtor.prototype === undefined) throw ERR_INVALID_ARG_TYPE('superCtor.prototype', 'object', superCtor.prototype);
  Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}

const types = Object.assign({}, base.types, {
  isNativeError: (v) => v instanceof Error || Object.prototype.toString.call(v) === '[object Error]',
  isProxy: () => false,
  isExternal: () => false,
  isModuleNamespaceObject: (v) => v !== null && typeof v === 'object' && v[Symbol.toStringTag] === 'Module',
  isKeyObject: () => false,
  isCryptoKey: () => false,
});
delete types.isWebAssemblyCompiledModule;

// assert's comparisons require `util` themselves: loaded on first use.
function isDeepStrictEqual(a, b) {
  return require('assert/build/internal/util/comparisons.js').isDeepStrictEqual(a, b);
}

function toUSVString(s) {
  return String(s).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function getSystemErrorName(err) {
  if (typeof err !== 'number') throw ERR_INVALID_ARG_TYPE('err', 'number', err);
  return `Unknown system error ${err}`;
}

module.exports = {
  // Node 20's list, in its order, where the sandbox has the thing.
  _extend: base._extend,
  callbackify,
  debug: base.debuglog,
  debuglog: base.debuglog,
  deprecate,
  format: extracted.format,
  formatWithOptions: extracted.formatWithOptions,
  getSystemErrorName,
  inherits,
  inspect: extracted.inspect,
  isArray: Array.isArray,
  isBoolean: base.isBoolean,
  isBuffer: (b) => sandbox.Buffer().isBuffer(b),
  isDeepStrictEqual,
  isNull: base.isNull,
  isNullOrUndefined: base.isNullOrUndefined,
  isNumber: base.isNumber,
  isString: base.isString,
  isSymbol: base.isSymbol,
  isUndefined: base.isUndefined,
  isRegExp: base.isRegExp,
  isObject: base.isObject,
  isDate: base.isDate,
  isError: base.isError,
  isFunction: base.isFunction,
  isPrimitive: base.isPrimitive,
  log: base.log,
  promisify,
  stripVTControlCharacters: extracted.stripVTControlCharacters,
  toUSVString,
  TextDecoder: sandbox.TextDecoder,
  TextEncoder: sandbox.TextEncoder,
  types,
};
