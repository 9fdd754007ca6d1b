// expect: STACK_OVERFLOW
exports.handler = async () => { const p = new Proxy({}, { get: (t, k, r) => r[k] }); return p.x; };
