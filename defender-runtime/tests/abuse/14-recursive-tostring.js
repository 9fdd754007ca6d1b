// expect: STACK_OVERFLOW
exports.handler = async () => { const o = {}; o.toString = function () { return String(this); }; return String(o); };
