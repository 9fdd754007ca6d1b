'use strict';
// Entry of the bundle js/generated/node-builtins.js: given what the sandbox shares (see
// lib/sandbox.js), the table of Node core modules, `name -> () => exports`. Each module's
// code runs on its first require (esbuild keeps CommonJS modules lazy); js/support.js keeps
// each result, so a module object is created once per context.
const sandbox = require('./lib/sandbox.js');

module.exports = function nodeBuiltins(shared) {
  sandbox.init(shared);
  const stream = () => require('readable-stream/lib/stream.js');
  return {
    assert: () => require('./lib/assert.js'),
    'assert/strict': () => require('./lib/assert.js').strict,
    buffer: () => require('./lib/buffer.js'),
    events: () => require('./lib/events.js'),
    os: () => require('./lib/os.js'),
    path: () => require('./lib/path.js'),
    'path/posix': () => require('./lib/path.js'),
    'path/win32': () => require('./lib/path.js').win32,
    punycode: () => require('punycode/'),
    querystring: () => require('./lib/querystring.js'),
    stream,
    'stream/promises': () => stream().promises,
    string_decoder: () => require('./lib/string_decoder.js'),
    'timers/promises': () => require('./lib/timers-promises.js'),
    url: () => require('./lib/url.js'),
    util: () => require('./lib/util.js'),
    'util/types': () => require('./lib/util.js').types,
  };
};
