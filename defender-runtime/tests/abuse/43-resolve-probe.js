// expect: ok
exports.handler = async () => { module.filename = '/node_modules//etc/x.js'; try { require.resolve('passwd'); return 'found'; } catch (e) { return e.message.includes('Cannot find module'); } };
