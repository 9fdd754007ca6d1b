// expect: OUT_OF_MEMORY
exports.handler = async () => { let s = 'x'; for (;;) s = s + s; };
