// expect: THROWN
exports.handler = async () => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { throw e; } }); Object.defineProperty(e, 'stack', { get() { throw e; } }); throw e; };
