// expect: ok
globalThis.setTimeout = undefined;
exports.handler = async () => 'ok';
