'use strict';
// Node's internal errors (lib/internal/errors.js) for the checks our modules add: the same
// class, `code`, message and `toString()` as Node 20 throws.
const { inspect } = require('node-inspect-extracted');

function nodeError(Base, code, message) {
  const error = new Base(message);
  Object.defineProperty(error, 'toString', {
    value() { return `${this.name} [${code}]: ${this.message}`; },
    enumerable: false, writable: true, configurable: true,
  });
  error.code = code;
  return error;
}

function addNumericalSeparator(val) {
  let res = '';
  let i = val.length;
  const start = val[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) res = `_${val.slice(i - 3, i)}${res}`;
  return `${val.slice(0, i)}${res}`;
}

// How Node names a value it did not expect ("Received ...").
function determineSpecificType(value) {
  if (value == null) return '' + value;
  if (typeof value === 'function' && value.name) return `function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) return `an instance of ${value.constructor.name}`;
    return `${inspect(value, { depth: -1 })}`;
  }
  let inspected = inspect(value, { colors: false });
  if (inspected.length > 28) inspected = `${inspected.slice(0, 25)}...`;
  return `type ${typeof value} (${inspected})`;
}

const ERR_INVALID_ARG_TYPE = (name, expected, actual) => nodeError(TypeError, 'ERR_INVALID_ARG_TYPE',
  `The "${name}" argument must be of type ${expected}. Received ${determineSpecificType(actual)}`);

function ERR_OUT_OF_RANGE(str, range, input) {
  let received;
  if (Number.isInteger(input) && Math.abs(input) > 2 ** 32) {
    received = addNumericalSeparator(String(input));
  } else if (typeof input === 'bigint') {
    received = String(input);
    if (input > 2n ** 32n || input < -(2n ** 32n)) received = addNumericalSeparator(received);
    received += 'n';
  } else {
    received = inspect(input);
  }
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${str}" is out of range. It must be ${range}. Received ${received}`);
}

const ERR_BUFFER_OUT_OF_BOUNDS = () => nodeError(RangeError, 'ERR_BUFFER_OUT_OF_BOUNDS', 'Attempt to access memory outside buffer bounds');
const ERR_INVALID_ARG_VALUE = (name, value, reason = 'is invalid') => {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const type = name.includes('.') ? 'property' : 'argument';
  return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${type} '${name}' ${reason}. Received ${inspected}`);
};

function validateNumber(value, name) {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
}
function validateFunction(value, name) {
  if (typeof value !== 'function') throw ERR_INVALID_ARG_TYPE(name, 'function', value);
}

module.exports = {
  nodeError, ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ERR_BUFFER_OUT_OF_BOUNDS, ERR_INVALID_ARG_VALUE,
  validateNumber, validateFunction, determineSpecificType,
};
