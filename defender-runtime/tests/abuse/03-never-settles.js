// expect: TIMEOUT
exports.handler = () => new Promise(() => {});
