// expect: OUT_OF_MEMORY | TIMEOUT
exports.handler = async () => { for (;;) setTimeout(() => {}, 1e9); };
