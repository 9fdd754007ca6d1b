// expect: STACK_OVERFLOW
function a(n) { return b(n) + 1; } function b(n) { return a(n) + 1; }
exports.handler = async () => a(0);
