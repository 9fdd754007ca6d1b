// expect: TIMEOUT
exports.handler = () => new Promise(() => { setInterval(() => {}, 10); });
