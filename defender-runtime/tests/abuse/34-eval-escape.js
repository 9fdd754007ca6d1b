// expect: ok
exports.handler = async () => { const r = (0, eval)('typeof __host + typeof host + typeof install'); return r; };
