// expect: INVALID_RESULT
exports.handler = async () => { let v = {}; for (let i = 0; i < 10000; i++) v = { v }; return v; };
