'use strict';
// Node's `path`: POSIX from path-browserify (Node's own code), with `path.win32` from the `path`
// package (Node 0.12's implementation), which packages such as tar read at load.
const posix = require('path-browserify');
const { win32 } = require('path/path.js');

posix.win32 = win32;
win32.posix = posix;
win32.win32 = win32;
module.exports = posix;
