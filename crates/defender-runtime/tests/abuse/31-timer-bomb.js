// expect: TIMEOUT
exports.handler = () => new Promise(() => { const f = () => { setTimeout(f, 0); setTimeout(f, 0); }; f(); });
