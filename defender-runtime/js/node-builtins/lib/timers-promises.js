'use strict';
// Node's `timers/promises` over the sandbox's timers.
const sandbox = require('./sandbox.js');
const { ERR_INVALID_ARG_TYPE } = require('./errors.js');

class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, options);
    this.code = 'ABORT_ERR';
    this.name = 'AbortError';
  }
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw ERR_INVALID_ARG_TYPE('options', 'object', options);
  const { signal } = options;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw ERR_INVALID_ARG_TYPE('options.signal', 'AbortSignal', signal);
  }
  return signal;
}

function later(schedule, clear, value, options) {
  let signal;
  try { signal = checkOptions(options); } catch (e) { return Promise.reject(e); }
  if (signal && signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  return new Promise((resolve, reject) => {
    let onAbort;
    const id = schedule(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
    if (signal) {
      onAbort = () => { clear(id); reject(new AbortError(undefined, { cause: signal.reason })); };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

function setTimeout(delay, value, options = {}) {
  return later((fn) => sandbox.setTimeout(fn, delay), sandbox.clearTimeout, value, options);
}
function setImmediate(value, options = {}) {
  return later((fn) => sandbox.setImmediate(fn), sandbox.clearImmediate, value, options);
}
async function* setInterval(delay, value, options = {}) {
  const signal = checkOptions(options);
  if (signal && signal.aborted) throw new AbortError(undefined, { cause: signal.reason });
  let notYielded = 0;
  let wake = null;
  const id = sandbox.setInterval(() => { notYielded++; if (wake) { wake(); wake = null; } }, delay);
  let onAbort;
  const aborted = signal ? new Promise((_, reject) => {
    onAbort = () => reject(new AbortError(undefined, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
  }) : null;
  if (aborted) aborted.catch(() => {});
  try {
    while (true) {
      if (notYielded === 0) {
        const tick = new Promise((resolve) => { wake = resolve; });
        await (aborted ? Promise.race([tick, aborted]) : tick);
      }
      for (; notYielded > 0; notYielded--) yield value;
    }
  } finally {
    sandbox.clearInterval(id);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}

module.exports = {
  setTimeout,
  setImmediate,
  setInterval,
  scheduler: {
    wait: (delay, options) => setTimeout(delay, undefined, options),
    yield: () => setImmediate(),
  },
};
