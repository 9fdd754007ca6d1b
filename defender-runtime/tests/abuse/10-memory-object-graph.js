// expect: OUT_OF_MEMORY | TIMEOUT
exports.handler = async () => { let head = null; for (;;) head = { next: head, payload: { a: 1, b: 2, c: [1, 2, 3] } }; };
