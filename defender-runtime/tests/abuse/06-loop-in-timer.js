// expect: TIMEOUT
exports.handler = () => new Promise(() => setTimeout(() => { for (;;) {} }, 1));
