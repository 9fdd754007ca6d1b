// expect: ok | TIMEOUT
exports.handler = async () => { for (let i = 0; i < 5e6; i++) console.log(); return 'done'; };
