// expect: TIMEOUT
exports.handler = async () => { const spin = () => Promise.resolve().then(spin); spin(); await new Promise(() => {}); };
