'use strict';
// The `process` package (bundlers' stand-in): the sandbox's own `process` (see build.mjs).
module.exports = process;
