// expect: OUT_OF_MEMORY
exports.handler = async () => { const a = []; for (;;) a.push(new Array(100000).fill(1)); };
