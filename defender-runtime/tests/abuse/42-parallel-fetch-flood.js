// expect: THROWN not allowed
exports.handler = async () => { await Promise.all(Array.from({ length: 1000 }, () => fetch('http://127.0.0.1:1/'))); };
