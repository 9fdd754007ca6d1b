// expect: ok
exports.handler = async () => { const line = 'z'.repeat(1 << 16); for (let i = 0; i < 200; i++) console.log(line); return 'done'; };
