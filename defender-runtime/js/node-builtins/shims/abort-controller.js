'use strict';
// readable-stream's fallback for engines without AbortController: the sandbox has one.
module.exports = { AbortController: globalThis.AbortController, AbortSignal: globalThis.AbortSignal };
