// expect: ok
exports.handler = async () => { const g = Function('return this')(); return [typeof g.require, typeof g.process.exit, typeof g.__host]; };
