// expect: TIMEOUT | OUT_OF_MEMORY
exports.handler = async () => { const spin = () => Promise.resolve().then(spin); spin(); await new Promise(() => {}); };
