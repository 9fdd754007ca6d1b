// expect: OUT_OF_MEMORY
exports.handler = async () => { const keep = []; for (;;) keep.push(new Uint8Array(16 * 1024 * 1024)); };
