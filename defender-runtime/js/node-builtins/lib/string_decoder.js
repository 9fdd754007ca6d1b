'use strict';
// Node's `string_decoder` (the package is Node's code), with Node's error for an unknown
// encoding.
const Base = require('string_decoder/').StringDecoder;
const { nodeError } = require('./errors.js');

function StringDecoder(encoding) {
  try {
    return Reflect.construct(Base, [encoding], new.target || StringDecoder);
  } catch (e) {
    if (/^Unknown encoding/.test(e.message)) throw nodeError(TypeError, 'ERR_UNKNOWN_ENCODING', e.message);
    throw e;
  }
}
StringDecoder.prototype = Base.prototype;
module.exports = { StringDecoder };
