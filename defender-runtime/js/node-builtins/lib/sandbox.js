'use strict';
// What the sandbox gives the bundled modules (js/support.js passes it once, before any of them
// is created): its `process`, timers, `URL` and text codecs, captured before user code ran.
exports.init = function init(shared) {
  Object.assign(exports, shared);
};
exports.Buffer = () => require('./buffer.js').Buffer;
// `util.promisify` of the sandbox's timers is `timers/promises`, as Node's `promisify.custom`
// on its own timers makes it.
exports.promisified = function promisified(fn) {
  if (fn === exports.setTimeout) return require('./timers-promises.js').setTimeout;
  if (fn === exports.setImmediate) return require('./timers-promises.js').setImmediate;
  return null;
};
