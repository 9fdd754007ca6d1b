// expect: THROWN Cannot find module
exports.handler = async () => { for (let i = 0; i < 1e6; i++) require('./' + './'.repeat(i % 500) + 'missing-' + i); };
