// expect: TIMEOUT
exports.handler = async () => /^(a+)+$/.test('a'.repeat(40) + 'b');
