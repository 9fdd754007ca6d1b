// expect: TIMEOUT
exports.handler = async () => { for (;;) {} };
