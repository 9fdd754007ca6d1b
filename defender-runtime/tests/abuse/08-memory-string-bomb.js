// expect: OUT_OF_MEMORY | THROWN string too long
exports.handler = async () => { let s = 'x'; for (;;) s = s + s; };
