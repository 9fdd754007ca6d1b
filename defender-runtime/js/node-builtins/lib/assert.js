'use strict';
// Node's `assert` (the `assert` package, v2: Node's code of an earlier release) and
// `assert/strict`, with two messages as Node 20 words them: a loose `deepEqual` failure and a
// `throws`/`rejects` whose error does not match the expected RegExp (the package rethrows it).
const assert = require('assert/');
const { inspect } = require('node-inspect-extracted');

const { AssertionError } = assert;

function rewordLoose(fn) {
  return { [fn.name](...args) {
    try {
      return Reflect.apply(fn, this, args);
    } catch (e) {
      if (e instanceof AssertionError && e.generatedMessage) e.message = e.message.replace('\n\nshould equal\n\n', '\n\nshould loosely deep-equal\n\n');
      throw e;
    }
  } }[fn.name];
}

function regExpMismatch(actual, expected, message, operator, stackStartFn) {
  const err = new AssertionError({
    actual, expected, operator, stackStartFn,
    message: message || `The input did not match the regular expression ${inspect(expected)}. Input:\n\n${inspect(String(actual))}\n`,
  });
  err.generatedMessage = !message;
  return err;
}

function throws(fn, expected, ...rest) {
  if (!(expected instanceof RegExp) || typeof fn !== 'function') return Reflect.apply(originalThrows, this, [fn, expected, ...rest]);
  let actual;
  try { fn(); } catch (e) { actual = e; if (expected.exec(String(e)) !== null) return; throw regExpMismatch(e, expected, rest[0], 'throws', throws); }
  return Reflect.apply(originalThrows, this, [() => {}, expected, ...rest]) && actual;
}
async function rejects(promiseFn, expected, ...rest) {
  if (!(expected instanceof RegExp)) return Reflect.apply(originalRejects, this, [promiseFn, expected, ...rest]);
  let actual;
  let rejected = false;
  try { await (typeof promiseFn === 'function' ? promiseFn() : promiseFn); } catch (e) { rejected = true; actual = e; }
  if (!rejected) return Reflect.apply(originalRejects, this, [Promise.resolve(), expected, ...rest]);
  if (expected.exec(String(actual)) !== null) return undefined;
  throw regExpMismatch(actual, expected, rest[0], 'rejects', rejects);
}
const originalThrows = assert.throws;
const originalRejects = assert.rejects;
assert.throws = throws;
assert.rejects = rejects;
assert.deepEqual = rewordLoose(assert.deepEqual);
assert.strict.throws = throws;
assert.strict.rejects = rejects;
module.exports = assert;
