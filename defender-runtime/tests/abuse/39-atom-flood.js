// expect: OUT_OF_MEMORY | TIMEOUT
exports.handler = async () => { const o = {}; for (let i = 0; ; i++) o['atom' + i] = i; };
