'use strict';
// Node's `events`: the `events` package (v3), with what Node 20 adds to it: `errorMonitor`,
// Node's error for an unhandled non-Error 'error', `captureRejections` (off), `events.on`,
// `setMaxListeners` and `getEventListeners`.
const EventEmitter = require('events/');
const { inspect } = require('node-inspect-extracted');
const { nodeError, ERR_INVALID_ARG_TYPE } = require('./errors.js');

const kErrorMonitor = Symbol('events.errorMonitor');
const kCapture = Symbol.for('nodejs.rejection');
const emit = EventEmitter.prototype.emit;

EventEmitter.prototype.emit = function emit_(type, ...args) {
  if (type === 'error') {
    const events = this._events;
    if (events !== undefined && events[kErrorMonitor] !== undefined) emit.call(this, kErrorMonitor, ...args);
    if (events === undefined || events.error === undefined) {
      const er = args[0];
      if (er instanceof Error) throw er;
      let stringified;
      try { stringified = inspect(er); } catch (e) { stringified = er; }
      const err = nodeError(Error, 'ERR_UNHANDLED_ERROR', `Unhandled error. (${stringified})`);
      err.context = er;
      throw err;
    }
  }
  return emit.call(this, type, ...args);
};
Object.defineProperty(EventEmitter.prototype.emit, 'name', { value: 'emit' });

EventEmitter.errorMonitor = kErrorMonitor;
EventEmitter.captureRejectionSymbol = kCapture;
EventEmitter.captureRejections = false;
EventEmitter.usingDomains = false;

function getEventListeners(emitterOrTarget, type) {
  if (typeof emitterOrTarget.listeners === 'function') return emitterOrTarget.listeners(type);
  throw ERR_INVALID_ARG_TYPE('emitter', 'an instance of EventEmitter or EventTarget', emitterOrTarget);
}
EventEmitter.getEventListeners = getEventListeners;
EventEmitter.setMaxListeners = function setMaxListeners(n = EventEmitter.defaultMaxListeners, ...eventTargets) {
  if (eventTargets.length === 0) EventEmitter.defaultMaxListeners = n;
  else for (const target of eventTargets) if (typeof target.setMaxListeners === 'function') target.setMaxListeners(n);
};
EventEmitter.getMaxListeners = (emitter) => (typeof emitter.getMaxListeners === 'function' ? emitter.getMaxListeners() : EventEmitter.defaultMaxListeners);

class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, options);
    this.code = 'ABORT_ERR';
    this.name = 'AbortError';
  }
}

// An async iterator of the events `event` of `emitter`; an 'error' event throws from it.
function on(emitter, event, options = {}) {
  const signal = options && options.signal;
  if (signal && signal.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const unconsumedEvents = [];
  const unconsumedPromises = [];
  let error = null;
  let finished = false;
  const eventHandler = (...args) => {
    const p = unconsumedPromises.shift();
    if (p) p.resolve({ value: args, done: false });
    else unconsumedEvents.push(args);
  };
  const errorHandler = (err) => {
    finished = true;
    const p = unconsumedPromises.shift();
    if (p) p.reject(err);
    else error = err;
    iterator.return();
  };
  const abortListener = () => errorHandler(new AbortError(undefined, { cause: signal && signal.reason }));
  const iterator = Object.setPrototypeOf({
    next() {
      const value = unconsumedEvents.shift();
      if (value) return Promise.resolve({ value, done: false });
      if (error) {
        const p = Promise.reject(error);
        error = null;
        return p;
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => unconsumedPromises.push({ resolve, reject }));
    },
    return() {
      emitter.removeListener(event, eventHandler);
      if (event !== 'error') emitter.removeListener('error', errorHandler);
      if (signal) signal.removeEventListener('abort', abortListener);
      finished = true;
      for (const p of unconsumedPromises) p.resolve({ value: undefined, done: true });
      unconsumedPromises.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err) {
      if (!err || !(err instanceof Error)) throw ERR_INVALID_ARG_TYPE('EventEmitter.AsyncIterator', 'Error', err);
      error = err;
      emitter.removeListener(event, eventHandler);
      emitter.removeListener('error', errorHandler);
    },
    [Symbol.asyncIterator]() { return this; },
  }, Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype));
  emitter.on(event, eventHandler);
  if (event !== 'error') emitter.on('error', errorHandler);
  if (signal) signal.addEventListener('abort', abortListener, { once: true });
  return iterator;
}
EventEmitter.on = on;

module.exports = EventEmitter;
